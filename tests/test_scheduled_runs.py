"""The real daily DAG, run as the scheduler, a backfill and `teamlens run` would run it, on a tiny
generated center: each run processes exactly its days (their metrics completion markers appear,
no other day's), and `teamlens run` over January 1999 runs every task and exits 0.

A backfill's runs are made by Airflow's scheduler, which a test cannot afford to start; the test
takes the runs `airflow backfill create` would create (the timetable's iter_dagrun_infos_between,
the call the backfill makes) and runs each with `dag.test`, whose data interval, inferred from the
run's end, is checked to be the backfill run's own.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from foundation.settings import REPO_ROOT
from tests.helpers import TEST_CHECKPOINT_KEY, TEST_KEY

pytestmark = pytest.mark.slow

START = dt.date(2026, 10, 5)
HISTORY = dt.date(1999, 1, 1)


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory, airflow_home: Path):
    """A tiny generated center (two days of January 1999, three from START) in the session's Airflow
    home, whose metadata database tests/conftest.py migrated."""
    from foundation.settings import load_settings
    from teamlens import cli
    from teamlens.generator import generate_center

    env = {
        "TEAMLENS_DATA_ROOT": str(tmp_path_factory.mktemp("scheduled") / "data"),
        "TEAMLENS_PSEUDONYM_KEY": TEST_KEY,
        "TEAMLENS_CHECKPOINT_KEY": TEST_CHECKPOINT_KEY,
        "TEAMLENS_RUN_BY": "scheduling-test",
        "TEAMLENS_POLICY": str(REPO_ROOT / "tests" / "fixtures" / "policy-week-day.yaml"),
        "TEAMLENS_TASK_RETRIES": "0",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = load_settings()
        for start, days in ((HISTORY, 2), (START, 3)):
            generate_center(
                settings.lake.landing, agents=12, teams=1, sites=1, days=days, start=start, seed=5, tiny_team_size=None
            )
        assert cli.main(["policy", "approve", "--by", "works council", "--name", "scheduling test"]) == 0
        yield settings
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _marked_days(settings) -> set[dt.date]:
    folder = settings.lake.metrics_marker(START).parent
    return {dt.date.fromisoformat(p.stem.removeprefix("day=")) for p in folder.glob("day=*.json")}


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags")).dags["teamlens_daily"]


def test_teamlens_run_processes_history_and_exits_zero(center, capsys) -> None:
    """January 1999 is before any start date the DAG ever had: every task runs, the days are processed."""
    from teamlens import cli

    assert cli.run_dag(center, HISTORY, HISTORY + dt.timedelta(days=1)) == 0
    assert "The DAG run succeeded: all 10 tasks ran." in capsys.readouterr().out
    assert _marked_days(center) == {HISTORY, HISTORY + dt.timedelta(days=1)}


def test_a_scheduled_run_processes_the_day_its_interval_closes(center) -> None:
    """`airflow dags test teamlens_daily 2026-10-06T06:00`, no conf: the interval is the timetable's
    [10-05 06:00, 10-06 06:00), and only 2026-10-05 is processed."""
    before = _marked_days(center)
    run = _dag().test(logical_date=dt.datetime(2026, 10, 6, 6, tzinfo=dt.UTC))
    assert str(run.state) == "success"
    assert (run.data_interval_start, run.data_interval_end) == (
        dt.datetime(2026, 10, 5, 6, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 6, 6, tzinfo=dt.UTC),
    )
    assert _marked_days(center) - before == {START}


def test_backfill_runs_process_one_day_each(center) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    dag = _dag()
    serialized = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    # airflow backfill create --dag-id teamlens_daily --from-date 2026-10-06 --to-date 2026-10-07T06:00
    infos = list(
        serialized.iter_dagrun_infos_between(
            dt.datetime(2026, 10, 6, tzinfo=dt.UTC), dt.datetime(2026, 10, 7, 6, tzinfo=dt.UTC)
        )
    )
    assert [i.logical_date.date() for i in infos] == [dt.date(2026, 10, 6), dt.date(2026, 10, 7)]
    for info in infos[:1]:  # running one of them is enough to show a backfill run is an ordinary day's run
        before = _marked_days(center)
        run = dag.test(logical_date=info.data_interval.end)
        assert str(run.state) == "success"
        assert (run.data_interval_start, run.data_interval_end) == (info.data_interval.start, info.data_interval.end)
        assert _marked_days(center) - before == {info.logical_date.date()}
