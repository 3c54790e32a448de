"""Test setup: Airflow's home and the data root in temporary folders, one Spark session; the
dashboard's tiny center, its server and one headless Chromium for the browser tests.

Browser tests (marker `browser`) drive Debian's chromium (CHROMIUM) through Playwright for Python.
Where either is missing they are skipped with one reason, repeated in the terminal summary so
that `make test` says so; with CI=true they fail instead (.ci/run installs chromium first)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers import TEAM_WEEK, TEST_CHECKPOINT_KEY, TEST_KEY, approve, lake_settings, write_lake_day
from tests.helpers import write_policy_file as _write_policy_file

# Before anything imports airflow: never create ~/airflow, never load the examples. The session's
# Airflow home is a temporary folder, removed when the session ends (pytest_unconfigure).
_AIRFLOW_HOME: str | None = None
if "AIRFLOW_HOME" not in os.environ:
    _AIRFLOW_HOME = tempfile.mkdtemp(prefix="teamlens-test-airflow-")
    os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).resolve().parent.parent / "dags"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("TEAMLENS_SHUFFLE_PARTITIONS", "2")
os.environ.setdefault("TEAMLENS_SPARK_DRIVER_MEMORY", "2g")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


# The tests' frames hold a few rows: compiling each query's generated Java code (whole-stage and
# expression code generation, Janino) costs more than running it, so the test session runs Spark's
# interpreted operators and expressions, which compute the same results (Spark's own test suites
# run both modes). Subprocesses (`teamlens run`, the Airflow UI's tasks, the Spark Connect server)
# keep the production configuration (foundation.spark.spark_conf).
SMALL_DATA_SQL_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from foundation.settings import load_settings
    from foundation.spark import spark_session

    session = spark_session(load_settings({"TEAMLENS_SPARK_MASTER": "local[2]"}), app_name="teamlens-tests")
    for key, value in SMALL_DATA_SQL_CONF.items():
        session.conf.set(key, value)
    yield session
    session.stop()
    # py4j logs from __del__ at interpreter exit, after pytest closed the streams.
    logging.getLogger("py4j").setLevel(logging.WARNING)


# --- Airflow's metadata database -------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The session's Airflow home (AIRFLOW_HOME) with its metadata database migrated, once per
    session (teamlens.airflow_local.ensure_airflow_db: `teamlens run` in the tests then skips it),
    for dag.test() and `teamlens run` in the test process. A home whose Airflow components start
    together (the UI test's) has its own: its migration also writes the airflow.cfg, with the JWT
    secret, that they share."""
    from teamlens.airflow_local import ensure_airflow_db

    ensure_airflow_db(dict(os.environ))
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture
def settings(tmp_path):
    """Settings whose data root is a fresh temporary folder."""
    from foundation.settings import load_settings

    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(tmp_path / "data"),
            "TEAMLENS_PSEUDONYM_KEY": TEST_KEY,
            "TEAMLENS_CHECKPOINT_KEY": TEST_CHECKPOINT_KEY,
            "TEAMLENS_RUN_BY": "test",
        }
    )


@pytest.fixture(scope="session")
def policy():
    from foundation.policy import load_policy
    from foundation.settings import REPO_ROOT

    return load_policy(REPO_ROOT / "foundation" / "policy.yaml")


# --- the dashboard's tiny center ---------------------------------------------------------------------

# Two teams of 10 agents (released) and one of 4 (below min_group_size: suppressed), all in Berlin.
DASHBOARD_TEAMS = {"Team Nord": 10, "Team Sued": 10, "Team Klein": 4}
DASHBOARD_NAMES = [
    f"{first} {last}"
    for last in ("Weber", "Okafor", "Lindqvist")
    for first in "Maria Jonas Aylin Pieter Ines Tomasz Greta Malik".split()
]
# A day per team, rho 1 over two sums (cap rho 100 a month): sigma = the bound.
DASHBOARD_TEAM_DAY: dict[str, Any] = {
    "name": "team_day",
    "purpose": "daily workload per team",
    "group_by": "team",
    "window": "day",
    "rho": "1",
    "sums": {"contacts_handled": 60, "handle_seconds": 23400},
    "ratios": TEAM_WEEK["ratios"],
}


DASHBOARD_SITE_DAY: dict[str, Any] = {
    **DASHBOARD_TEAM_DAY,
    "name": "site_day",
    "purpose": "daily workload per site",
    "group_by": "site",
}


def write_dashboard_center(
    root: Path, days: list[dt.date], releases: list[dict[str, Any]] | None = None, cap: str = "100"
) -> Any:
    """Settings over a data root holding a landing roster with names, user names and hosts
    (DASHBOARD_TEAMS), each day's roster snapshot and agent_day partition (write_dashboard_days),
    and an approved policy file of `releases` (default DASHBOARD_TEAM_DAY) with the monthly cap
    rho `cap`."""
    from foundation.policy import load_policy

    members = [team for team, n in DASHBOARD_TEAMS.items() for _ in range(n)]
    lines = ["employee_id,display_name,connect_username,desktop_host,team,site,site_timezone"]
    lines += [
        f"EMP-{70001 + k},{name},{name.split()[0].lower()}.q{k},WS-BER-{k:04d},{team},Berlin,Europe/Berlin"
        for k, (team, name) in enumerate(zip(members, DASHBOARD_NAMES, strict=True))
    ]
    (root / "landing" / "roster").mkdir(parents=True)
    (root / "landing" / "roster" / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    policy_file = _write_policy_file(root.parent / "policy.yaml", releases or [DASHBOARD_TEAM_DAY], cap=cap)
    settings = lake_settings(root, policy_file)
    write_dashboard_days(settings, days)
    approve(settings.lake.warehouse_path, load_policy(policy_file))
    return settings


def write_dashboard_days(settings: Any, days: list[dt.date]) -> None:
    """Each day's roster snapshot and agent_day partition of the dashboard's center, under the
    roster's real pseudonyms (marked complete): agent k handles 20 + (7k + day's ordinal) mod 21
    contacts of 300 seconds a day."""
    import polars as pl

    from foundation.roster import read_roster

    agents = read_roster(settings)
    for day in days:
        contacts = [20 + (k * 7 + day.toordinal()) % 21 for k in range(len(agents))]
        frame = pl.DataFrame(
            {
                "day": [day] * len(agents),
                "agent_pseudonym": [a.agent_pseudonym for a in agents],
                "team": [a.team for a in agents],
                "site": [a.site for a in agents],
                "contacts_handled": contacts,
                "handle_seconds": [c * 300 for c in contacts],
            }
        )
        roster_frame = frame.select("agent_pseudonym", "team", "site", site_timezone=pl.lit("Europe/Berlin"))
        write_lake_day(settings, day, roster_frame, frame)


@pytest.fixture
def dashboard_center(tmp_path: Path) -> Callable[..., Any]:
    """write_dashboard_center over tmp_path/data: call it with the days (and releases); publish
    with teamlens.pipeline.publish_releases, which also writes the published snapshot."""

    def build(days: list[dt.date], releases: list[dict[str, Any]] | None = None) -> Any:
        return write_dashboard_center(tmp_path / "data", days, releases)

    return build


# --- published planning figures (staffing reads only these) ------------------------------------------

# queue -> statistic -> (value, ci_low, ci_high), or None for a statistic too noisy to publish
PlanningFigures = dict[str, dict[str, tuple[float, float, float] | None]]


def publish_planning_rows(
    warehouse: Path,
    window: tuple[dt.date, dt.date],
    figures: PlanningFigures,
    queue_sites: dict[str, str],
    *,
    interval_minutes: int = 30,
    offered: str = "exact",
    release_name: str = "queue_month_planning",
    group_by: str = "queue",
    extra_parameters: dict[str, Any] | None = None,
) -> None:
    """Store a planning release's rows as the publish step does (warehouse.store.insert_release),
    with the parameters the planning release records (queue_sites, interval_minutes, offered).
    group_by 'site': a site release's figures instead (`figures` keyed by site)."""
    from foundation.budget import Budget
    from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey
    from warehouse.store import connect, insert_release, transaction

    values = tuple(
        PublishedValue(queue, statistic, *numbers, None, "published")
        if numbers is not None
        else PublishedValue(queue, statistic, None, None, None, None, "too_noisy")
        for queue, stats in figures.items()
        for statistic, numbers in stats.items()
    )
    groups = tuple(GroupDecision(queue, 12, "released") for queue in figures)
    parameters = {"queue_sites": queue_sites, "interval_minutes": interval_minutes, "offered": offered}
    parameters |= extra_parameters or {}
    noisy = NoisyRelease(values, groups, "gaussian (zCDP), test double", parameters)
    con = connect(warehouse)
    try:
        with transaction(con):
            insert_release(
                con,
                key=ReleaseKey(release_name, window[0], window[1], "test-policy"),
                purpose="staffing: offered contacts per interval, handle time per queue",
                group_by=group_by,
                policy_version=1,
                budget=Budget.parse("rho", "1/4"),
                periods=[f"{window[0]:%Y-%m}"],
                cap=Budget.parse("rho", "2"),
                noisy=noisy,
                released_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
                run_by="tester",
            )
    finally:
        con.close()


@pytest.fixture
def publish_planning() -> Callable[..., None]:
    """publish_planning_rows: store hand-made planning figures in a warehouse."""
    return publish_planning_rows


# --- the dashboard's server and the browser -----------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
SERVER_START_SECONDS = 60.0
_browser_tests: list[str] = []


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here ('what is missing: how to install it'), or None."""
    if not CHROMIUM.is_file():
        return "chromium not installed: apt-get install chromium"
    if importlib.util.find_spec("playwright") is None:
        return "playwright (Python) not installed: make setup installs it"
    return None


def _skip_reason(missing: str) -> str:
    what, how = missing.split(": ", 1)
    return f"{what}: browser tests skipped; {how}"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the browser tests, with one reason, where chromium is missing (not under CI=true: there
    the `browser` fixture fails them)."""
    browser_items = [item for item in items if item.get_closest_marker("browser")]
    _browser_tests[:] = [item.nodeid for item in browser_items]
    reason = chromium_missing()
    if reason and not _in_ci():
        for item in browser_items:
            item.add_marker(pytest.mark.skip(reason=_skip_reason(reason)))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say in the summary when the browser tests were skipped, and why."""
    reason = chromium_missing()
    if _browser_tests and reason:
        verdict = "FAILED (CI=true)" if _in_ci() else "skipped"
        terminalreporter.write_sep("-", f"{len(_browser_tests)} browser test(s) {verdict}")
        terminalreporter.write_line(f"{reason} (CI=true: they must run)" if _in_ci() else _skip_reason(reason))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's temporary Airflow home (created at import, above)."""
    if _AIRFLOW_HOME is not None:
        shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's, through Playwright) for the whole session."""
    reason = chromium_missing()
    if reason and _in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run)")
    if reason:
        pytest.skip(_skip_reason(reason))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"teamlens dashboard exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:  # it answers (e.g. 503: nothing published yet)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"teamlens dashboard did not answer {url} within {SERVER_START_SECONDS:.0f} s")


def start_dashboard(settings: Any, log_dir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `teamlens dashboard` over `settings` on a free port; its base URL and process. The
    server runs in its own process group, without the pseudonymisation or checkpoint key; its
    output goes to log_dir/dashboard-PORT.log."""
    port = _free_port()
    secrets = ("TEAMLENS_PSEUDONYM_KEY", "TEAMLENS_CHECKPOINT_KEY", "TEAMLENS_DEMO")
    env = {k: v for k, v in os.environ.items() if not k.startswith(secrets)}
    repo = str(Path(__file__).resolve().parent.parent)
    env |= {"TEAMLENS_DATA_ROOT": str(settings.data_root), "TEAMLENS_POLICY": str(settings.policy_path)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH", "")) if p)
    log = log_dir / f"dashboard-{port}.log"
    command = [sys.executable, "-m", "teamlens.cli", "dashboard", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(url + "/", process, log)
    except BaseException:
        stop_dashboard(process)
        raise
    return url, process


def stop_dashboard(process: subprocess.Popen[bytes]) -> None:
    """Stop a server start_dashboard started: its whole process group, by the group's id."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # its own group: the server and anything it started
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def dashboard_server(tmp_path: Path) -> Iterator[Callable[[Any], str]]:
    """Start `teamlens dashboard` over a test's settings (start_dashboard): call it with the
    settings, get the base URL (http://127.0.0.1:PORT); stopped by its group at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(settings: Any) -> str:
        url, process = start_dashboard(settings, tmp_path)
        started.append(process)
        return url

    yield start
    for process in started:
        stop_dashboard(process)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where browser tests write their screenshots (var/screenshots, git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
