"""`make test-cluster`: the production topology on this machine, without Docker.

In a temporary folder, on 127.0.0.1 only, it starts (teamlens.local_cluster)
- PostgreSQL (initdb + postgres from PATH or Debian's /usr/lib/postgresql/<version>/bin; as root it
  runs as the `postgres` user in a folder that user owns),
- a Spark standalone master and two workers (1 core, 1 GiB each) from the pip-installed pyspark,
- Airflow's api-server, scheduler and dag-processor on PostgreSQL with the LocalExecutor
  (teamlens.airflow_ui's launcher), with TEAMLENS_SPARK_MASTER pointing at the Spark master;

generates a small center (20 agents, 2 teams, 1 site, 3 days) with throw-away keys, approves the
check's own policy (teamlens/cluster_check_policy.yaml: short windows, so that 3 days release
something), and triggers the daily DAG over the 3 days through the REST API as an operator would.
Then it runs the same days in local mode (`airflow dags test`, SQLite, local[2]) on a copy of the
same landing data with the same keys, and checks that the staged tables and agent_day are equal row
for row, that the cluster run published the same windows, that its ledger verifies, and that the
Spark master saw completed applications (the Spark tasks ran on the cluster). Published values
differ: noise is never seeded.

Every process it starts is in its own process group and is stopped by that group's id (and its
descendants by theirs), also on failure, on the total timeout (--timeout, default 40 minutes),
Ctrl-C or SIGTERM. A failure names the step it happened in. Exit code 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from foundation.settings import REPO_ROOT
from teamlens.local_cluster import (
    LOOPBACK,
    Processes,
    answers,
    as_user,
    completed_apps,
    free_port,
    http_json,
    is_listening,
    postgres_program,
    start_spark_cluster,
    wait_for,
)

DAG_ID = "teamlens_daily"
FIRST_DAY = dt.date(2026, 10, 5)
DAYS = 3
POLICY = Path(__file__).resolve().parent / "cluster_check_policy.yaml"
AGENT_DAY = "agent_day"
T = TypeVar("T")
DAG_RUN_TIMEOUT_SECONDS = 1500.0
# The whole check passed in about 7 minutes on a shared 2-core machine, and in 21 minutes with the
# machine loaded ten times over (the DAG run alone 14.5 minutes); CI may be slower.
TOTAL_TIMEOUT_SECONDS = 2400


class StepFailed(RuntimeError):
    """A step of the check failed; the message names the step and what went wrong."""


class CheckTimedOut(Exception):
    """The whole check ran past its total timeout (raised by the SIGALRM handler)."""


def postgres_user() -> str | None:
    """PostgreSQL refuses to run as root: as root it runs as `postgres`; otherwise as the invoking user."""
    return "postgres" if os.geteuid() == 0 else None


def initdb_command(initdb: str, data_dir: Path, user: str | None) -> list[str]:
    """initdb of a throw-away cluster: superuser `postgres`, trust on loopback (the port is local only)."""
    return as_user(
        [initdb, "-D", str(data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"], user
    )


def postgres_command(postgres: str, data_dir: Path, port: int, socket_dir: Path, user: str | None) -> list[str]:
    """The postgres server on 127.0.0.1:port, its Unix socket in socket_dir (not /var/run)."""
    return as_user(
        [postgres, "-D", str(data_dir), "-p", str(port), "-h", LOOPBACK, "-k", str(socket_dir), "-c", "fsync=off"],
        user,
    )


def postgres_url(port: int, database: str = "airflow") -> str:
    """Airflow's SQLAlchemy URL for the throw-away cluster (user postgres, trust on loopback)."""
    return f"postgresql+psycopg2://postgres@{LOOPBACK}:{port}/{database}"


class Check:
    """The check's steps with their timings, in a temporary folder that is removed afterwards."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.processes = Processes()
        self.timings: list[tuple[str, float]] = []
        self.keys = {
            "TEAMLENS_PSEUDONYM_KEY": secrets.token_urlsafe(32),
            "TEAMLENS_CHECKPOINT_KEY": secrets.token_hex(32),
        }

    def step(self, name: str, action: Callable[[], T]) -> T:
        """Run one step, timed; a failure inside it becomes StepFailed naming the step."""
        print(f"- {name} ...", flush=True)
        started = time.monotonic()
        try:
            result = action()
        except (Exception, KeyboardInterrupt, CheckTimedOut) as exc:
            seconds = time.monotonic() - started
            raise StepFailed(f"step '{name}' failed after {seconds:.0f} s: {type(exc).__name__}: {exc}") from exc
        self.timings.append((name, time.monotonic() - started))
        print(f"  done in {self.timings[-1][1]:.1f} s", flush=True)
        return result

    def teamlens_env(self, data_root: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEAMLENS_", "AIRFLOW_", "AIRFLOW__"))}
        env.update(self.keys)
        env.update(
            {
                "TEAMLENS_DATA_ROOT": str(data_root),
                "TEAMLENS_POLICY": str(POLICY),
                "TEAMLENS_RUN_BY": "cluster-check",
                "TEAMLENS_SPARK_DRIVER_MEMORY": "1g",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
                "SPARK_LOCAL_IP": LOOPBACK,
            }
        )
        return env

    def python(self, code: str, env: dict[str, str], log_file: Path) -> None:
        """Run code in this interpreter with env, in a process group of its own (stopped with all it
        started when the check is interrupted); its output in log_file; fail with the log's tail."""
        rc = self.processes.run("python", [sys.executable, "-c", code], env, log_file)
        if rc != 0:
            raise RuntimeError(f"exit code {rc}; the end of {log_file}:\n{_tail(log_file)}")

    # --- PostgreSQL ---------------------------------------------------------------------------
    def start_postgres(self) -> int:
        user = postgres_user()
        base = self.work / "postgres"
        data_dir, socket_dir = base / "data", base / "socket"
        socket_dir.mkdir(parents=True)
        if user:
            os.chmod(self.work, 0o755)  # the postgres user must reach its folder
            shutil.chown(base, user)
            shutil.chown(socket_dir, user)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        initdb, postgres = postgres_program("initdb"), postgres_program("postgres")
        rc = self.processes.run("initdb", initdb_command(initdb, data_dir, user), env, base / "initdb.log")
        if rc != 0:
            raise RuntimeError(f"initdb failed (exit code {rc}):\n{_tail(base / 'initdb.log')}")
        port = free_port()
        # SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave).
        command = postgres_command(postgres, data_dir, port, socket_dir, user)
        self.processes.start("postgres", command, env, base / "postgres.log", signal.SIGINT)
        wait_for("PostgreSQL", lambda: is_listening(port), 60)
        import psycopg2

        connection = psycopg2.connect(host=LOOPBACK, port=port, user="postgres", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE airflow")
        connection.close()
        return port

    # --- Spark --------------------------------------------------------------------------------
    def start_spark(self) -> tuple[str, int]:
        cluster = start_spark_cluster(self.processes, self.work / "spark", workers=2, cores=1, memory="1g")
        return cluster.master_url, cluster.webui_port

    # --- the center ---------------------------------------------------------------------------
    def prepare_center(self, data_root: Path, landing_from: Path | None) -> None:
        """The generated center (or a copy of landing_from) and the policy's approval, in data_root."""
        env = self.teamlens_env(data_root)
        if landing_from is None:
            code = (
                "import datetime as dt; from foundation.settings import load_settings; "
                "from teamlens.generator import generate_center; s = load_settings(); "
                f"generate_center(s.lake.landing, agents=20, teams=2, sites=1, days={DAYS}, "
                f"start=dt.date({FIRST_DAY.year}, {FIRST_DAY.month}, {FIRST_DAY.day}), seed=7, tiny_team_size=None)"
            )
            self.python(code, env, self.work / "generate.log")
        else:
            shutil.copytree(landing_from, data_root / "landing")
        self.python(
            "from teamlens import cli; raise SystemExit(cli.main(['policy', 'approve', '--by', 'works council', "
            "'--name', 'cluster check']))",
            env,
            self.work / "approve.log",
        )

    # --- Airflow on PostgreSQL ----------------------------------------------------------------
    def airflow_on_cluster(self, data_root: Path, postgres_port: int, master_url: str) -> str:
        """Migrate Airflow's metadata on PostgreSQL, start its components; the API server's URL."""
        from foundation.settings import load_settings
        from teamlens.airflow_local import airflow_env, ensure_airflow_db
        from teamlens.airflow_ui import start_ui

        base = self.teamlens_env(data_root)
        base["TEAMLENS_SPARK_MASTER"] = master_url
        base["PYSPARK_PYTHON"] = sys.executable  # the executors' Python: the project's interpreter
        port = free_port()
        base.update(
            {
                "AIRFLOW_HOME": str(self.work / "airflow"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_url(postgres_port),
                # Airflow derives an asyncpg URL for its async sessions; asyncpg is not installed here
                # (psycopg2 is), and an empty value turns the async engine off.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": "",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{LOOPBACK}:{port}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__CORE__FERNET_KEY": "",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "TEAMLENS_TASK_RETRIES": "0",
                # Only the operator's run: no scheduled run for yesterday when the DAG is unpaused.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            }
        )
        env = airflow_env(load_settings(base), base)
        ensure_airflow_db(env)
        ui = start_ui(env, port, log_file=self.work / "airflow" / "components.log")
        self.processes.adopt("airflow", ui.processes[0])
        ui.wait_until_healthy(timeout_seconds=300)
        return ui.url

    def trigger_and_wait(self, api: str) -> str:
        """Unpause the daily DAG and trigger one run over the days, as an operator would; its final state."""
        dag = f"{api}/api/v2/dags/{DAG_ID}"
        wait_for("the daily DAG in Airflow", lambda: answers(dag), 300, interval=2.0)
        last_day = FIRST_DAY + dt.timedelta(days=DAYS - 1)
        logical = dt.datetime.combine(last_day, dt.time(), tzinfo=dt.UTC).isoformat()
        conf = {"first_day": FIRST_DAY.isoformat(), "last_day": last_day.isoformat()}
        run = http_json(f"{dag}/dagRuns", "POST", {"logical_date": logical, "conf": conf})
        run_id = str(run["dag_run_id"]) if isinstance(run, dict) else ""
        http_json(dag, "PATCH", {"is_paused": False})
        url = f"{dag}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        state = ""
        deadline = time.monotonic() + DAG_RUN_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            doc = http_json(url)
            state = str(doc.get("state")) if isinstance(doc, dict) else ""
            if state in ("success", "failed"):
                return state
            time.sleep(5.0)
        raise TimeoutError(f"the DAG run was {state!r} after {DAG_RUN_TIMEOUT_SECONDS:.0f} s")

    def local_run(self, data_root: Path, landing_from: Path) -> None:
        """A second data root with a copy of the landing data, approved, run in local mode."""
        self.prepare_center(data_root, landing_from)
        self.run_locally(data_root)

    def run_locally(self, data_root: Path) -> None:
        """The same days through `airflow dags test` in local mode (SQLite metadata, local[2])."""
        env = self.teamlens_env(data_root)
        env["AIRFLOW_HOME"] = str(self.work / "airflow-local")
        last_day = FIRST_DAY + dt.timedelta(days=DAYS - 1)
        code = (
            "import datetime as dt; from pathlib import Path; from foundation.settings import load_settings; "
            "from teamlens.airflow_local import run_dag; "
            f"raise SystemExit(run_dag(load_settings(), dt.date.fromisoformat('{FIRST_DAY}'), "
            f"dt.date.fromisoformat('{last_day}'), log_file=Path({str(self.work / 'local-run.log')!r})))"
        )
        self.python(code, env, self.work / "local-run-summary.log")


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path})"


def table_rows(root: Path, data_root: Path) -> list[tuple[object, ...]]:
    """Every row of a partitioned parquet table (hive day=D folders), sorted, for an exact comparison.

    Lineage columns name the landing file (source_file), whose path starts with the run's data
    root: that prefix is written as <data root>, so that two data roots can be compared.
    """
    import duckdb

    files = sorted(str(p) for p in root.rglob("*.parquet") if not any(part.startswith((".", "_")) for part in p.parts))
    if not files:
        return []
    with duckdb.connect() as con:
        rows = con.execute("SELECT * FROM read_parquet(?, hive_partitioning = true)", [files]).fetchall()
    prefix = str(data_root.resolve())
    return sorted(
        (tuple(cell.replace(prefix, "<data root>") if isinstance(cell, str) else cell for cell in row) for row in rows),
        key=repr,
    )


# Staged tables the check's 3 generated days hold no input for: the generator exports its monthly
# pulse survey on the 23rd, after 12 days of answers (teamlens/generator/surveys.py). Equal (empty)
# in both runs is then the expected outcome, not a vacuous comparison.
EMPTY_IN_THE_CHECK = {"survey_answers"}


def compare_zones(cluster_root: Path, local_root: Path) -> list[str]:
    """The staged tables and agent_day of both runs, table by table: the differences (empty: equal)."""
    problems: list[str] = []
    tables = sorted(p.name for p in (cluster_root / "staged").iterdir() if p.is_dir())
    for zone, name in [("staged", t) for t in tables] + [("metrics", AGENT_DAY)]:
        cluster_rows = table_rows(cluster_root / zone / name, cluster_root)
        local_rows = table_rows(local_root / zone / name, local_root)
        if cluster_rows != local_rows:
            problems.append(f"{zone}/{name}: {len(cluster_rows)} rows on the cluster, {len(local_rows)} locally")
        elif not cluster_rows and name not in EMPTY_IN_THE_CHECK:
            problems.append(f"{zone}/{name}: no rows in either run")
        else:
            print(f"  {zone}/{name}: {len(cluster_rows)} rows, equal", flush=True)
    return problems


def released_windows(warehouse: Path) -> list[tuple[object, ...]]:
    """(release name, window start, window end) of every release in a warehouse, sorted."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("SELECT release_name, window_start, window_end FROM releases").fetchall()
    return sorted(rows, key=repr)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """--keep and --timeout (seconds for the whole check)."""
    parser = argparse.ArgumentParser(prog="python -m teamlens.cluster_check", description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder after a pass too")
    parser.add_argument(
        "--timeout",
        type=int,
        default=TOTAL_TIMEOUT_SECONDS,
        help=f"seconds for the whole check before it stops everything and fails (default {TOTAL_TIMEOUT_SECONDS})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the whole check; 0 when every check passed."""
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="teamlens-cluster-"))
    check = Check(work)
    atexit.register(check.processes.stop_all)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    previous_alarm = signal.signal(signal.SIGALRM, _timed_out(args.timeout))
    signal.alarm(args.timeout)
    started = time.monotonic()
    problems: list[str] = []
    cluster_root, local_root = work / "cluster-data", work / "local-data"
    try:
        postgres_port = check.step("PostgreSQL: initdb, start, create the airflow database", check.start_postgres)
        master_url, webui = check.step("Spark: a standalone master and two workers", check.start_spark)
        check.step(
            "Generate a center (20 agents, 2 teams, 1 site, 3 days); approve the policy",
            lambda: check.prepare_center(cluster_root, None),
        )
        api = check.step(
            "Airflow on PostgreSQL: migrate, start api-server, scheduler, dag-processor",
            lambda: check.airflow_on_cluster(cluster_root, postgres_port, master_url),
        )
        state = check.step("Trigger the daily DAG over 3 days (REST API) and wait", lambda: check.trigger_and_wait(api))
        if state != "success":
            problems.append(f"the DAG run on the cluster ended {state}; task logs under {work / 'airflow' / 'logs'}")
        apps = check.step("Ask the Spark master for its completed applications", lambda: completed_apps(webui))
        print(f"  the Spark master saw {len(apps)} completed applications", flush=True)
        if not apps:
            problems.append("the Spark master saw no completed application: the tasks did not run on the cluster")
        check.step("Stop the cluster", check.processes.stop_all)
        check.step(
            "The same days in local mode",
            lambda: check.local_run(local_root, cluster_root / "landing"),
        )
        problems += check.step(
            "Compare with local mode: staged tables, agent_day, releases, ledger",
            lambda: compare_zones(cluster_root, local_root) + check_releases(cluster_root, local_root),
        )
    except (Exception, KeyboardInterrupt, CheckTimedOut) as exc:
        problems.append(str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}")
    finally:
        signal.alarm(0)
        check.processes.stop_all()
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGALRM, previous_alarm)
    print("\nTimings:")
    for name, seconds in check.timings:
        print(f"  {seconds:7.1f} s  {name}")
    print(f"  {time.monotonic() - started:7.1f} s  in all")
    if problems:
        print(f"\nThe cluster check FAILED (files kept in {work}):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(
        "\nThe cluster check passed: same staged data and agent_day as local mode; releases published; ledger verified."
    )
    return 0


def check_releases(cluster_root: Path, local_root: Path) -> list[str]:
    """The cluster run published the same windows as the local run, and its ledger verifies."""
    from foundation.lake import Lake
    from privacy.verify import verify_ledger

    problems: list[str] = []
    cluster_wh, local_wh = Lake(cluster_root).warehouse_path, Lake(local_root).warehouse_path
    cluster_windows, local_windows = released_windows(cluster_wh), released_windows(local_wh)
    if not cluster_windows:
        problems.append("the cluster run published no release")
    elif cluster_windows != local_windows:
        problems.append(f"released windows differ: {len(cluster_windows)} on the cluster, {len(local_windows)} locally")
    else:
        print(f"  {len(cluster_windows)} releases, the same windows in both runs", flush=True)
    verification = verify_ledger(cluster_wh)
    print(f"  ledger: {verification.entries} entries, {verification.message}", flush=True)
    if not verification.ok:
        problems.append(f"the cluster run's ledger does not verify: {verification.message}")
    return problems


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _timed_out(seconds: int) -> Callable[[int, object], None]:
    """The SIGALRM handler of the total timeout: raises CheckTimedOut in the step that is running."""

    def handler(signum: int, frame: object) -> None:
        raise CheckTimedOut(f"the check ran past its total timeout of {seconds} s (--timeout)")

    return handler


if __name__ == "__main__":
    raise SystemExit(main())
