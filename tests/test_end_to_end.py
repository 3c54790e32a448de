"""End to end through Airflow's `dag.test()`: a tiny generated center, one week, the real engines.

Asserts what the product promises: every eligible group is published, small groups are not,
nothing per agent reaches the warehouse, the ledger verifies, a rerun of the same days
changes nothing and spends nothing, and `teamlens staffing` staffs every half-hour of the week
from the weekly planning release.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import os
from pathlib import Path

import pytest

from foundation.settings import REPO_ROOT
from tests.helpers import TEST_CHECKPOINT_KEY, TEST_KEY

START = dt.date(2026, 10, 5)  # a Monday: one whole week
DAYS = 7


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory, airflow_home: Path):
    """Generate the center and run the DAG over the week twice (in the session's Airflow home, whose
    metadata database tests/conftest.py migrated)."""
    from foundation.settings import load_settings
    from teamlens.generator import generate_center

    root = tmp_path_factory.mktemp("e2e") / "data"
    env = {
        "TEAMLENS_DATA_ROOT": str(root),
        "TEAMLENS_PSEUDONYM_KEY": TEST_KEY,
        "TEAMLENS_CHECKPOINT_KEY": TEST_CHECKPOINT_KEY,
        "TEAMLENS_RUN_BY": "e2e-test",
        # Short windows, so that one week exercises weekly and daily releases and the weekly planning release.
        "TEAMLENS_POLICY": str(REPO_ROOT / "tests" / "fixtures" / "policy-week-planning.yaml"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = load_settings()
        generate_center(
            settings.lake.landing, agents=30, teams=2, sites=2, days=DAYS, start=START, seed=3, tiny_team_size=6
        )
        # The operator records the works council's approval before the first run (the policy takes
        # effect only once approved).
        from teamlens import cli

        assert cli.main(["policy", "approve", "--by", "works council", "--name", "end-to-end test agreement"]) == 0
        first = _run_dag()
        snapshot_1 = _warehouse_snapshot(settings.lake.warehouse_path)
        second = _run_dag()
        snapshot_2 = _warehouse_snapshot(settings.lake.warehouse_path)
        yield {
            "settings": settings,
            "runs": (first, second),
            "snapshots": (snapshot_1, snapshot_2),
        }
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_dag() -> str:
    from airflow.dag_processing.dagbag import DagBag

    from foundation.settings import REPO_ROOT

    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags["teamlens_daily"]
    last = START + dt.timedelta(days=DAYS - 1)
    run = dag.test(
        logical_date=dt.datetime.combine(last, dt.time(), tzinfo=dt.UTC) + dt.timedelta(seconds=len(_RUNS)),
        run_conf={"first_day": START.isoformat(), "last_day": last.isoformat()},
    )
    _RUNS.append(run)
    return str(run.state)


_RUNS: list[object] = []


def _warehouse_snapshot(path: Path) -> dict[str, list[tuple]]:
    from warehouse.store import connect

    con = connect(path, read_only=True)
    try:
        return {
            "published": con.execute(
                "SELECT release_id, group_value, statistic, value, ci_low, ci_high "
                "FROM published_aggregates ORDER BY ALL"
            ).fetchall(),
            "spend": con.execute("SELECT period, release_id, spent_exact FROM budget_spend ORDER BY ALL").fetchall(),
            "ledger": con.execute("SELECT seq, entry_hash FROM ledger ORDER BY seq").fetchall(),
        }
    finally:
        con.close()


def _roster(settings) -> list[dict[str, str]]:
    with (settings.lake.landing / "roster" / "roster.csv").open() as f:
        return list(csv.DictReader(f))


def test_both_runs_succeed(center) -> None:
    assert center["runs"] == ("success", "success")


def test_every_eligible_group_is_published_and_small_ones_are_not(center) -> None:
    from warehouse.store import read_published

    settings = center["settings"]
    roster = _roster(settings)
    team_sizes: dict[str, int] = {}
    site_sizes: dict[str, int] = {}
    for agent in roster:
        team_sizes[agent["team"]] = team_sizes.get(agent["team"], 0) + 1
        site_sizes[agent["site"]] = site_sizes.get(agent["site"], 0) + 1
    eligible_teams = {t for t, n in team_sizes.items() if n >= 10}
    small_teams = {t for t, n in team_sizes.items() if n < 10}
    assert eligible_teams and small_teams  # the generator made both kinds

    published = read_published(settings.lake.warehouse_path)
    weekly = {r["group_value"] for r in published if r["release_name"] == "team_week_contacts_aht"}
    assert weekly == eligible_teams
    daily = {(r["window_start"], r["group_value"]) for r in published if r["release_name"] == "site_day_contacts_aht"}
    assert daily == {(START + dt.timedelta(days=i), site) for i in range(DAYS) for site in site_sizes}
    assert all(r["roster_group_size"] >= 10 for r in published)
    assert all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in published if r["status"] == "published")


def test_nothing_per_agent_reaches_the_warehouse(center) -> None:
    from warehouse.store import connect

    settings = center["settings"]
    roster = _roster(settings)
    secrets_of_agents = set()
    for agent in roster:
        secrets_of_agents |= {agent["employee_id"], agent["display_name"], agent["connect_username"]}
        secrets_of_agents.add(hmac.new(TEST_KEY.encode(), agent["employee_id"].encode(), hashlib.sha256).hexdigest())
    con = connect(settings.lake.warehouse_path, read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        for table in tables:
            columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            assert not [c for c in columns if "agent" in c.lower() or "pseudonym" in c.lower()], table
            text = "\n".join(str(row) for row in con.execute(f"SELECT * FROM {table}").fetchall())
            leaked = [s for s in secrets_of_agents if s in text]
            assert leaked == [], f"{table} contains agent identifiers"
    finally:
        con.close()


def test_ledger_verifies(center) -> None:
    from privacy.verify import verify_ledger

    result = verify_ledger(center["settings"].lake.warehouse_path)
    assert result.ok, result.message
    # policy approval, the team-week, site-week and weekly planning releases, seven daily releases
    assert result.entries == 1 + 3 + DAYS


def test_rerun_changes_nothing_and_spends_nothing(center) -> None:
    first, second = center["snapshots"]
    assert first["published"] and first["published"] == second["published"]
    assert first["spend"] == second["spend"]
    assert first["ledger"] == second["ledger"]


def test_every_input_row_is_accounted_for(center) -> None:
    """Reconciliation: read = staged + quarantined + duplicates, for every table and day."""
    import json

    settings = center["settings"]
    reports = sorted((settings.lake.reports / "ingest").rglob("*.json"))
    assert reports
    for path in reports:
        r = json.loads(path.read_text())
        assert r["read"] == r["staged"] + r["quarantined"] + r["duplicates"], path


def test_duckdb_reference_agrees_with_the_spark_metrics(center) -> None:
    """The independent SQL implementation gives exactly the rows the DAG's Spark job wrote, for the
    tables it implements (agent_day and queue_day; the planning tables have no reference)."""
    from foundation import schema
    from jobs import metrics_duckdb

    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    reference = metrics_duckdb.compute(center["settings"], days)
    assert set(reference) == {schema.AGENT_DAY.name, schema.QUEUE_DAY.name}
    for table in (schema.METRIC_TABLES[name] for name in reference):
        written = metrics_duckdb.read_spark_output(center["settings"], table, days)
        assert metrics_duckdb.differences(reference[table.name], written) == [], table.name
        assert written.num_rows > 0


def test_the_week_is_staffed_per_queue_and_half_hour_from_published_figures(center, capsys) -> None:
    """The weekly planning release (exact counts, no budget) is published, and `teamlens staffing
    --json` gives every queue 336 rows whose range holds the point value, the AHT from the site's week."""
    import json

    from teamlens import cli
    from warehouse.store import connect

    con = connect(center["settings"].lake.warehouse_path, read_only=True)
    try:
        (planning,) = con.execute(
            "SELECT release_name, window_start, window_end, mechanism, budget_amount_exact, parameters FROM releases "
            "WHERE release_name = 'queue_week_intervals'"
        ).fetchall()
        spent = con.execute(
            "SELECT DISTINCT s.spent_exact FROM budget_spend s JOIN releases r USING (release_id) "
            "WHERE r.release_name = 'queue_week_intervals'"
        ).fetchall()
    finally:
        con.close()
    assert planning[:3] == ("queue_week_intervals", START, START + dt.timedelta(days=7))
    assert planning[3].startswith("offered and answered contacts: exact count") and planning[4] == "0"
    assert spent in ([], [("0",)])
    not_planned = json.loads(planning[5])["queues_not_planned"]
    assert list(not_planned) == ["Pilot Berlin"] and not_planned["Pilot Berlin"] > 0  # the pilot team's queue
    capsys.readouterr()
    assert cli.main(["staffing", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_queue: dict[str, list[dict]] = {}
    for row in rows:
        by_queue.setdefault(row["queue"], []).append(row)
    assert sorted(by_queue) == ["Billing Berlin", "Billing Toronto"]
    for queue, queue_rows in by_queue.items():
        site = queue.split()[-1]
        assert len(queue_rows) == 336 and len({r["interval"] for r in queue_rows}) == 336
        assert {r["aht_source"] for r in queue_rows} == {f"site_week_contacts_aht 2026-W41 (site {site})"}
        assert all(r["required_low"] <= r["required"] <= r["required_high"] for r in queue_rows), queue
        assert any(r["required"] > 0 for r in queue_rows), queue
