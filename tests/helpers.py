"""Helpers shared by tests: small policies built in code, test doubles of a release draw."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck as _HealthCheck
from hypothesis import settings as _hypothesis_settings

from foundation.policy import Policy, load_policy, parse_policy
from foundation.status_names import StatusNameKeywords
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue


def shipped_status_name_keywords() -> StatusNameKeywords:
    """The status name keywords of the shipped policy (foundation/policy.yaml)."""
    return load_policy(Path(__file__).resolve().parents[1] / "foundation" / "policy.yaml").status_name_keywords


def policy_document(
    releases: list[dict[str, Any]], *, cap: str = "1.0", version: int = 1, **overrides: Any
) -> dict[str, Any]:
    """A valid policy document (as policy.yaml holds it) with the given releases."""
    return {
        "policy_version": version,
        "privacy_unit": "agent",
        "accounting_period": "month",
        "budget_cap_rho": cap,
        "report_delta": "1e-9",
        "min_group_size": 10,
        "group_assignment": "first_day",
        "retention_days": {"landing": 14},
        "desktop_app_categories": {},
        "releases": releases,
        **overrides,
    }


def make_test_policy(releases: list[dict[str, Any]], *, cap: str = "1.0", version: int = 1, **overrides: Any) -> Policy:
    """A valid policy with the given releases; its sha256 is a hash of the document."""
    doc = policy_document(releases, cap=cap, version=version, **overrides)
    return parse_policy(doc, sha256=hashlib.sha256(repr(doc).encode()).hexdigest())


def interval_coverage(calibrated: Any, spec: Any, truth: dict[str, float], draws: int) -> dict[str, float]:
    """Share of `draws` fresh releases whose 95% interval holds the true value, per statistic."""
    from privacy.mechanisms import published_values

    covered = dict.fromkeys(truth, 0)
    for _ in range(draws):
        noisy = calibrated.measurement(calibrated.data).collect()
        for v in published_values(noisy, spec, calibrated.scales):
            if v.ci_low is not None and v.ci_high is not None and v.ci_low <= truth[v.statistic] <= v.ci_high:
                covered[v.statistic] += 1
    return {k: n / draws for k, n in covered.items()}


# --- releases and draws shared by the accountant, pure DP and correction tests ------------------

TEAM_WEEK: dict[str, Any] = {
    "name": "team_week",
    "purpose": "weekly",
    "group_by": "team",
    "window": "week",
    "rho": "0.25",
    "sums": {"contacts_handled": 400, "handle_seconds": 144000},
    "ratios": {"aht_seconds": {"numerator": "handle_seconds", "denominator": "contacts_handled", "max": 3600}},
}

SITE_DAY: dict[str, Any] = {
    "name": "site_day",
    "purpose": "daily workload per site",
    "group_by": "site",
    "window": "day",
    "epsilon": "1",
    "sums": {"contacts_handled": 60, "handle_seconds": 23400},
    "ratios": {"aht_seconds": {"numerator": "handle_seconds", "denominator": "contacts_handled", "max": 3600}},
}


def pure_doc(cap: str = "10", epsilon: str = "1") -> dict[str, Any]:
    """A pure DP policy document with SITE_DAY (no report_delta: pure DP has delta 0)."""
    return {
        "policy_version": 1,
        "privacy_model": "pure",
        "privacy_unit": "agent",
        "accounting_period": "month",
        "budget_cap_epsilon": cap,
        "min_group_size": 10,
        "group_assignment": "first_day",
        "retention_days": {"landing": 14},
        "desktop_app_categories": {},
        "releases": [{**SITE_DAY, "epsilon": epsilon}],
    }


def pure_policy(cap: str = "10", epsilon: str = "1") -> Policy:
    doc = pure_doc(cap, epsilon)
    return parse_policy(doc, sha256=hashlib.sha256(repr(doc).encode()).hexdigest())


def noisy_release() -> NoisyRelease:
    """A fixed release: two released teams (one value too noisy) and a suppressed one."""
    return NoisyRelease(
        values=(
            PublishedValue("team-a", "contacts_handled", 812.25, 790.5, 834.0, 11.1, "published"),
            PublishedValue("team-a", "aht_seconds", 301.5, 280.0, 325.75, None, "published"),
            PublishedValue("team-b", "contacts_handled", None, None, None, 11.1, "too_noisy"),
        ),
        groups=(
            GroupDecision("team-b", 15, "released"),
            GroupDecision("team-a", 12, "released"),
            GroupDecision("team-c", 4, "suppressed_small_group"),
        ),
        mechanism="gaussian (zCDP), test double",
        parameters={"bounds": {"contacts_handled": 400}, "rho_per_sum": Fraction(1, 8), "scales": [11.1, 2.5]},
    )


class FakeDraw:
    """A draw that returns a fixed release and counts its calls."""

    def __init__(self, release: NoisyRelease | None = None, error: Exception | None = None) -> None:
        self.calls = 0
        self.release = release or noisy_release()
        self.error = error

    def __call__(self) -> NoisyRelease:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.release


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query on the warehouse file, read-only."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# Engines a DAG file must not import at parse time (the scheduler parses DAGs often).
HEAVY = ("pyspark", "great_expectations", "opendp", "duckdb", "polars")

# The pseudonymisation key of the test settings (not a secret).
TEST_KEY = "test-key-not-secret-0123456789abcdef"


# --- jobs tests: hand-made staged frames (test_jobs_transforms.py, test_agent_day_transforms.py) ---

TRANSFORM_FILE = "file:/landing/x.jsonl"
SOURCE_OF_TABLE = {
    "contacts": "connect_ctr",
    "agent_events": "connect_agent_events",
    "desktop_activity": "activitywatch",
    "schedules": "schedules",
}


def utc_at(hh: int, mm: int = 0, ss: int = 0, us: int = 0, day: int = 5) -> Any:
    """An instant of October 2026 in UTC (the jobs tests' landing days)."""
    import datetime as dt

    return dt.datetime(2026, 10, day, hh, mm, ss, us, tzinfo=dt.UTC)


def table_frame(spark: Any, table: Any, *rows: dict[str, Any]) -> Any:
    """A DataFrame of the table's schema; columns a row leaves out are null, source_file is
    TRANSFORM_FILE and source the table's usual source."""
    defaults = (
        {c: None for c in table.column_names}
        | ({"source_file": TRANSFORM_FILE} if "source_file" in table.column_names else {})
        | ({"source": SOURCE_OF_TABLE[table.name]} if "source" in table.column_names else {})
    )
    return spark.createDataFrame(
        [tuple({**defaults, **r}[c] for c in table.column_names) for r in rows], table.spark_schema()
    )


# --- ingest tests: one source's parsed rows through jobs.ingest ---------------------------------


def ingest_source_rows(source: Any, rows: Any, identities: Any, day: Any = None) -> tuple[Any, Any]:
    """(staged, quarantined) frames of a source's parsed rows, resolved and ranked by jobs.ingest.

    day: the landing day of every row; None: each row's day from its source_file folder.
    """
    from jobs import ingest

    classified = ingest.resolve(rows, identities, source, day)
    return ingest.staged_rows(classified, source), ingest.quarantined_rows(classified, source)


def collect_dicts(df: Any) -> list[dict[str, Any]]:
    return [r.asDict() for r in df.collect()]


# --- ingest property tests (test_ingest_properties.py, test_ingest_properties_desktop.py) ---------
# Shared test data, prefixed PROP_ so that no other helper's names collide with them.

PROP_KEY = b"ingest-properties-test-key-0123456789"
PROP_MARKER = "QZX-MARKER-7F3A"  # put into every free-text field (phone number, names, titles, URLs)
PROP_UNKNOWN = "zed-unknown"
PROP_IDENTIFIERS = ("anna", "bert", "cleo", "pc-anna", "pc-bert", "pc-cleo", PROP_UNKNOWN)
_prop_identities: dict[str, Any] = {}


def prop_pseudonym(employee_id: str) -> str:
    import hmac

    return hmac.new(PROP_KEY, employee_id.encode(), hashlib.sha256).hexdigest()


PROP_DAY = _dt.date(2026, 10, 5)  # the landing day of every property example
PROP_ANNA, PROP_BERT, PROP_CLEO = prop_pseudonym("E-1"), prop_pseudonym("E-2"), prop_pseudonym("E-3")
PROP_TIMEZONES = {PROP_ANNA: "Europe/Berlin", PROP_BERT: "Europe/Lisbon", PROP_CLEO: "America/New_York"}
# Connect user names as records spell them (matched trimmed and case-insensitively).
PROP_USERS = {"anna": PROP_ANNA, " Anna ": PROP_ANNA, "BERT": PROP_BERT, "cleo": PROP_CLEO}
# ActivityWatch host names as bucket ids and hostname fields spell them.
PROP_HOSTS = {"pc-anna": PROP_ANNA, "PC-Anna": PROP_ANNA, "pc-bert": PROP_BERT, "pc-cleo": PROP_CLEO}
# Few examples per property (each runs Spark jobs, whose start costs more than the rows); every run
# draws new ones. Fixtures are function-scoped on purpose.
PROP_SETTINGS = _hypothesis_settings(
    max_examples=6, deadline=None, suppress_health_check=[_HealthCheck.function_scoped_fixture]
)


def prop_identities(spark: Any) -> Any:
    """The property tests' roster (Anna in Berlin, Bert in Lisbon, Cleo in New York) as
    jobs.ingest's identity map, built once per session."""
    if "map" not in _prop_identities:
        from foundation import roster
        from jobs import ingest

        agents = [
            roster.RosterAgent(prop_pseudonym("E-1"), "anna", "pc-anna", "Team Nord", "Berlin", "Europe/Berlin"),
            roster.RosterAgent(prop_pseudonym("E-2"), "bert", "pc-bert", "Team Sued", "Lisbon", "Europe/Lisbon"),
            roster.RosterAgent(prop_pseudonym("E-3"), "cleo", "pc-cleo", "Team East", "New York", "America/New_York"),
        ]
        _prop_identities["map"] = ingest.roster_identities(spark, agents).cache()
    return _prop_identities["map"]


def prop_naive(t: Any) -> Any:
    """An aware instant as a collected Spark timestamp: naive, in the Python process's local time."""
    return None if t is None else t.astimezone().replace(tzinfo=None)


def prop_iso(t: Any) -> str:
    return str(t.strftime("%Y-%m-%dT%H:%M:%SZ"))


def prop_far_from_day(t: Any, tz: str, day: Any = PROP_DAY) -> bool:
    """The day rule: the instant's site-local day lies more than one day from the landing day."""
    from zoneinfo import ZoneInfo

    return abs((t.astimezone(ZoneInfo(tz)).date() - day).days) > 1


def prop_instants(tz: str, step: Any = None, day: Any = PROP_DAY) -> Any:
    """Instants from a day and a half before the landing day to two and a half after it, half of
    them within 90 minutes of the edges of the day rule's window in the given time zone (local
    midnight starting the day before, and ending the day after, the landing day)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from hypothesis import strategies as st

    step = step or dt.timedelta(seconds=1)
    midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
    span = st.integers(int(-36 * 3600 / step.total_seconds()), int(60 * 3600 / step.total_seconds()))
    anywhere = span.map(lambda k: midnight + k * step)
    edges = [
        dt.datetime.combine(day + dt.timedelta(days=d), dt.time(), ZoneInfo(tz)).astimezone(dt.UTC) for d in (-1, 2)
    ]
    near = int(5400 / step.total_seconds())
    edge = st.tuples(st.sampled_from(edges), st.integers(-near, near)).map(lambda e: e[0] + e[1] * step)
    return st.one_of(anywhere, edge)


def prop_garbage() -> Any:
    """Non-blank text that is (almost always) not a JSON record."""
    from hypothesis import strategies as st

    return st.text(max_size=30).filter(lambda s: s.strip() != "")


def assert_table_constraints(table: Any, rows: list[dict[str, Any]]) -> None:
    """Staged rows satisfy the declared schema: non-null columns, allowed values, bounds, unique key."""
    for row in rows:
        assert set(row) == set(table.column_names)
        for column in table.columns:
            value = row[column.name]
            if not column.nullable:
                assert value is not None, (column.name, row)
            if value is None:
                continue
            if column.allowed_values is not None:
                assert value in column.allowed_values, (column.name, value)
            if column.min_value is not None:
                assert value >= column.min_value, (column.name, value)
            if column.max_value is not None:
                assert value <= column.max_value, (column.name, value)
    keys = [(*(r[k] for k in table.key), r["day"]) for r in rows]
    assert len(keys) == len(set(keys)), "staged key not unique"


def assert_no_personal_text(rows: list[dict[str, Any]]) -> None:
    import json

    text = json.dumps(rows, default=str).lower()
    assert PROP_MARKER.lower() not in text
    for identifier in PROP_IDENTIFIERS:
        assert identifier not in text, identifier


def prop_dedup_model(
    deliveries: list[tuple[Any, Any, Any, dict[str, Any] | None]], collision_reason: str
) -> tuple[dict[Any, dict[str, Any]], dict[Any, str], list[Any]]:
    """The expected outcome of the deliveries that count for duplicates (docs/landing.md,
    "Duplicates and redeliveries"), for sources whose ids are unique.

    deliveries: (where: file and position, in delivery order), key, version (a constant when the
    source has none), values (the staged values without lineage; None for an invalid delivery
    whose key and version were read: it can be the latest version, which then hides the older).
    Returns (staged values by where, id collisions: reason by where, duplicates' wheres): per key
    the latest version decides; identical values at it are one record (the first delivery);
    different values at it are an id collision (each one's first delivery), the rest duplicates.
    """
    groups: dict[Any, list[tuple[Any, Any, dict[str, Any] | None]]] = {}
    for where, key, version, values in sorted(deliveries, key=lambda d: d[0]):
        groups.setdefault(key, []).append((where, version, values))
    staged: dict[Any, dict[str, Any]] = {}
    collided: dict[Any, str] = {}
    duplicates: list[Any] = []
    for rows in groups.values():
        top = max(version for _, version, _ in rows)
        firsts: dict[str, tuple[Any, dict[str, Any]]] = {}
        for where, version, values in rows:
            if values is None:
                continue
            content = json.dumps(values, sort_keys=True, default=str)
            if version != top or content in firsts:
                duplicates.append(where)
            else:
                firsts[content] = (where, values)
        if len(firsts) == 1:
            [(where, values)] = firsts.values()
            staged[where] = values
        else:
            collided.update({where: collision_reason for where, _ in firsts.values()})
    return staged, collided, sorted(duplicates)


def assert_accounted(records: list[Any], staged: list[Any], quarantined: list[Any], duplicates: list[Any]) -> None:
    """Every record read exactly once: staged + quarantined + duplicates == records read.

    Each argument lists record identities (file and position); the duplicates are the valid
    deliveries that lost to another delivery of the same key, as worked out from the inputs.
    """
    assert len(staged) + len(quarantined) + len(duplicates) == len(records)
    assert sorted(staged + quarantined + duplicates) == sorted(records)


# --- the publishing path on a hand-made lake (test_publish_path.py) -------------------------------


def write_table_partition(settings: Any, table: Any, day: Any, frame: Any) -> Path:
    """Write one day's partition of a canonical table as the jobs leave it: one Parquet file in
    <zone>/<table>/day=D, swapped in whole (foundation.lake.swap_in), with the schema's Arrow types
    and without the day column (the folder names the day). Columns the frame leaves out are 0
    when the schema declares them non-null numbers, else null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from foundation import lake, schema

    arrays = []
    fields = [pa.field(c.name, schema.arrow_type(c.dtype), c.nullable) for c in table.columns if c.name != "day"]
    for field, column in zip(fields, (c for c in table.columns if c.name != "day"), strict=True):
        if column.name in frame.columns:  # Arrow's own conversion: fast for large frames
            arrays.append(frame[column.name].to_arrow().cast(field.type))
        elif not column.nullable and column.dtype in ("int", "long", "double"):
            arrays.append(pa.repeat(pa.scalar(0, type=field.type), frame.height))
        else:
            arrays.append(pa.nulls(frame.height, type=field.type))
    data = pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def build(folder: Path) -> None:
        folder.mkdir()
        pq.write_table(data, folder / "part-00000.parquet")

    return lake.swap_in(lake.partition(settings.lake.table_root(table), day), build)


def write_policy_file(path: Path, releases: list[dict[str, Any]], **overrides: Any) -> Path:
    """A policy YAML file (as foundation/policy.yaml is written) with the given releases."""
    import yaml

    path.write_text(yaml.safe_dump(policy_document(releases, **overrides), sort_keys=False))
    return path


def write_pure_policy_file(path: Path, releases: list[dict[str, Any]], cap: str) -> Path:
    """A pure DP policy YAML file (pure_doc's settings, budget_cap_epsilon `cap`) with the given releases."""
    import yaml

    path.write_text(yaml.safe_dump({**pure_doc(cap), "releases": releases}, sort_keys=False))
    return path


def lake_settings(root: Path, policy_file: Path) -> Any:
    """Settings over the data root `root` (created on first write) with the policy file and the
    test keys, as the DAGs' tasks load them from their environment."""
    from foundation.settings import load_settings

    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(root),
            "TEAMLENS_PSEUDONYM_KEY": TEST_KEY,
            "TEAMLENS_CHECKPOINT_KEY": TEST_CHECKPOINT_KEY,
            "TEAMLENS_POLICY": str(policy_file),
            "TEAMLENS_RUN_BY": "test",
        }
    )


def write_lake_day(settings: Any, day: Any, roster: Any, agent_day: Any) -> None:
    """One day of the restricted zones as the jobs leave it: the roster snapshot (agent_pseudonym,
    team, site, site_timezone), the agent_day partition (without the day column) and the metrics
    completion marker (privacy.release.mark_metrics_complete), so the day's windows can be released."""
    from foundation import schema
    from privacy.release import mark_metrics_complete

    write_table_partition(settings, schema.ROSTER, day, roster)
    write_table_partition(settings, schema.AGENT_DAY, day, agent_day)
    mark_metrics_complete(settings, day)


# --- yearly budget tests (test_yearly_budget.py) ----------------------------------------------------

# A monthly team release of rho 0.98: twelve months of it compose to rho 11.76 exactly.
TEAM_MONTH: dict[str, Any] = {
    "name": "team_month",
    "purpose": "monthly workload per team",
    "group_by": "team",
    "window": "month",
    "rho": "0.98",
    "sums": {"contacts_handled": 1300, "handle_seconds": 520000},
}


def month_key(policy: Policy, year: int, month: int) -> Any:
    """The key of the calendar month window of TEAM_MONTH."""
    import datetime as dt

    from foundation.windows import window_of
    from warehouse.records import ReleaseKey

    start, end = window_of("month", dt.date(year, month, 1))
    return ReleaseKey("team_month", start, end, policy.sha256)


def publish_month(path: Path, policy: Policy, year: int, month: int, draw: Any) -> Any:
    """Publish (or be refused) one month of TEAM_MONTH with `draw`; the outcome."""
    import datetime as dt

    from privacy.accountant import publish_release

    approve(path, policy)
    return publish_release(
        path,
        month_key(policy, year, month),
        policy.release("team_month"),
        policy,
        "tester",
        draw,
        now=lambda: dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )


def write_roster_center(root: Path, policy_file: Path, teams: dict[str, int], monkeypatch: Any) -> None:
    """A data root whose landing roster holds `teams` (team -> agents, all at site S1), and the
    environment that points `teamlens` at it and at `policy_file`."""
    (root / "landing" / "roster").mkdir(parents=True)
    lines = ["employee_id,team,site,site_timezone"]
    lines += [f"E{team}{i},{team},S1,Europe/Berlin" for team, n in teams.items() for i in range(n)]
    (root / "landing" / "roster" / "roster.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(root))
    monkeypatch.setenv("TEAMLENS_POLICY", str(policy_file))
    monkeypatch.setenv("TEAMLENS_PSEUDONYM_KEY", TEST_KEY)


# --- policy approval (test_policy_approval.py and every test that publishes) ----------------------


def approve(
    path: Path, policy: Policy, role: str = "works council", name: str = "test agreement", at: Any = None
) -> None:
    """Record the policy's approval in the warehouse at `path`, as `teamlens policy approve` does
    (a no-op when it is approved already): releases and retention run only under an approved policy.
    at: the approval's time (an aware datetime; default now)."""
    from privacy.approval import approve_policy

    if at is None:
        approve_policy(path, policy, role, name, "test")
    else:
        approve_policy(path, policy, role, name, "test", now=lambda: at)


# --- signed checkpoints of the ledger (test_checkpoint.py, test_tamper.py) -----------------------

# The checkpoint signing key of the test settings: an Ed25519 seed in hex (not a secret).
TEST_CHECKPOINT_KEY = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"


def two_week_warehouse(path: Path) -> list[Any]:
    """A warehouse of two TEAM_WEEK releases (March 2026) and a correction of the first, written by
    privacy.accountant.publish_release with FakeDraw; returns the outcomes."""
    import datetime as dt

    from privacy.accountant import publish_release
    from warehouse.records import ReleaseKey

    policy = make_test_policy([TEAM_WEEK], max_corrections_per_window=1)
    approve(path, policy)
    monday = dt.date(2026, 3, 2)
    outcomes = []
    for weeks, inputs_hour in ((0, 1), (1, 1), (0, 5)):  # the third: late data for the first week
        start = monday + dt.timedelta(days=7 * weeks)
        key = ReleaseKey("team_week", start, start + dt.timedelta(days=7), policy.sha256)
        at = dt.datetime(2026, 3, 20, inputs_hour, tzinfo=dt.UTC)
        outcomes.append(
            publish_release(
                path,
                key,
                policy.release("team_week"),
                policy,
                "tester",
                FakeDraw(),
                now=lambda at=at: at,
                inputs_as_of=at,
            )
        )
    return outcomes


# --- the readers' pages (the dashboard's tests, the statement's) ------------------------------------


def assert_no_identities(text: str, settings: Any) -> None:
    """No agent of the landing roster is named in `text` (a page's text, a log, a statement): no
    pseudonym nor its first 8 characters, no identifier (employee id, user name, host) and no
    display name, compared in any case."""
    import csv

    from foundation.roster import read_roster

    lowered = text.lower()
    agents = read_roster(settings)
    with settings.lake.roster_file.open(newline="", encoding="utf-8") as fh:
        names = [(row.get("display_name") or "").strip().lower() for row in csv.DictReader(fh)]
    found = [p for a in agents for p in (a.agent_pseudonym, a.agent_pseudonym[:8]) if p in lowered]
    found += [v for a in agents for vs in a.all_identifiers().values() for v in vs if v.lower() in lowered]
    found += [n for n in names if n and n in lowered]
    assert not found, f"the text names agents: {found}"


def write_survey_month(settings: Any, roster: Any, answers: list[dict[str, Any]], month: tuple[Any, Any]) -> None:
    """The pulse survey's staged answers (answered 2026-10-20, delivered 2026-10-21), the roster of
    every day of `month` and those days' metrics marked complete, as the pipeline leaves them."""
    import datetime as dt

    import polars as pl

    from foundation import schema
    from privacy.release import mark_metrics_complete

    frame = pl.DataFrame(answers).with_columns(
        pl.lit("surveys").alias("source"),
        pl.lit("pulse").alias("survey_id"),
        pl.lit(dt.date(2026, 10, 20)).alias("answered_on"),
        pl.lit("f.csv").alias("source_file"),
        pl.int_range(1, len(answers) + 1, dtype=pl.Int64).alias("source_line"),
    )
    day = month[0]
    while day < month[1]:
        write_table_partition(settings, schema.ROSTER, day, roster)
        mark_metrics_complete(settings, day)
        day += dt.timedelta(days=1)
    write_table_partition(settings, schema.SURVEY_ANSWERS, dt.date(2026, 10, 21), frame)
