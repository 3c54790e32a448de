"""DAG integrity: the DAGs import without errors and do no work at parse time."""

from __future__ import annotations

import subprocess
import sys

import pytest

from foundation.settings import REPO_ROOT
from teamlens import pipeline
from tests.helpers import HEAVY


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def test_dags_import_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert "teamlens_daily" in dagbag.dags


def test_daily_dag_shape(dagbag) -> None:
    dag = dagbag.dags["teamlens_daily"]
    assert {t.task_id for t in dag.tasks} == {
        "check_ready",
        "plan_days",
        "ingest_workforce",
        "ingest_telephony",
        "ingest_desktop",
        "validate_staged",
        "agent_day_metrics",
        "publish_releases",
        "start_spark",
        "stop_spark",
    }
    assert dag.get_task("publish_releases").upstream_task_ids == {"agent_day_metrics", "plan_days"}
    assert dag.get_task("agent_day_metrics").upstream_task_ids == {"validate_staged", "plan_days"}
    assert dag.get_task("validate_staged").upstream_task_ids == {"ingest_telephony", "ingest_desktop", "plan_days"}
    # The roster and the schedules come first: every other source resolves its agents through the roster.
    assert dag.get_task("ingest_telephony").upstream_task_ids == {"ingest_workforce", "plan_days"}
    assert dag.get_task("ingest_desktop").upstream_task_ids == {"ingest_workforce", "plan_days"}
    assert dag.max_active_runs == 1


def test_one_spark_server_per_run_is_set_up_and_torn_down(dagbag) -> None:
    """start_spark (setup) runs after check_ready and before the Spark tasks; stop_spark (teardown)
    runs after the last Spark task, also when tasks failed; publish_releases needs no Spark."""
    dag = dagbag.dags["teamlens_daily"]
    start, stop = dag.get_task("start_spark"), dag.get_task("stop_spark")
    assert start.is_setup and not start.is_teardown
    assert stop.is_teardown and not stop.is_setup
    assert start.upstream_task_ids == {"check_ready"}
    assert stop.upstream_task_ids == {"start_spark", "agent_day_metrics"}
    assert stop.trigger_rule == "all_done_setup_success"
    spark_tasks = {"ingest_workforce", "ingest_telephony", "ingest_desktop", "agent_day_metrics"}
    assert spark_tasks <= start.get_flat_relative_ids(upstream=False)
    assert spark_tasks <= stop.get_flat_relative_ids(upstream=True)
    assert "publish_releases" not in stop.get_flat_relative_ids(upstream=True)


def test_parsing_the_dag_imports_no_engine() -> None:
    """Heavy engines are imported inside tasks only, so the scheduler parses DAGs fast."""
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT / "dags" / "teamlens_daily.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")] == ["HEAVY="]


def test_days_between() -> None:
    assert pipeline.days_between("2026-10-30", "2026-11-02") == ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]
    with pytest.raises(ValueError, match="before first_day"):
        pipeline.days_between("2026-11-02", "2026-11-01")


def test_the_daily_dag_has_an_explicit_data_interval_and_allows_history(dagbag) -> None:
    """Scheduled and backfilled runs get a whole day's interval whatever Airflow's default for a
    cron string is (Airflow 3: create_cron_data_intervals = False, a zero-length interval)."""
    import datetime as dt

    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags["teamlens_daily"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 6 * * *", "UTC")
    assert dag.start_date <= dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
    assert dag.catchup is False
    for task_id in ("ingest_workforce", "agent_day_metrics", "publish_releases"):
        assert dag.get_task(task_id).start_date <= dt.datetime(1999, 1, 1, tzinfo=dt.UTC)


def test_tasks_declare_the_lake_zones_as_assets(dagbag) -> None:
    """The UI's lineage: landing -> staged -> metrics -> published."""
    dag = dagbag.dags["teamlens_daily"]

    def names(assets) -> set[str]:
        return {a.name for a in assets}

    for task_id in ("ingest_workforce", "ingest_telephony", "ingest_desktop"):
        task = dag.get_task(task_id)
        assert (names(task.inlets), names(task.outlets)) == ({"teamlens_landing"}, {"teamlens_staged"})
    metrics, publish = dag.get_task("agent_day_metrics"), dag.get_task("publish_releases")
    assert (names(metrics.inlets), names(metrics.outlets)) == ({"teamlens_staged"}, {"teamlens_metrics"})
    assert (names(publish.inlets), names(publish.outlets)) == ({"teamlens_metrics"}, {"teamlens_published"})


def test_retries_and_the_failure_notifier(dagbag) -> None:
    from teamlens.scheduling import LogFailureNotifier

    dag = dagbag.dags["teamlens_daily"]
    assert dag.get_task("check_ready").retries == 0  # a missing key or an unapproved policy is not transient
    for task_id in ("ingest_telephony", "agent_day_metrics", "publish_releases"):
        task = dag.get_task(task_id)
        assert task.retries == 2 and task.retry_delay.total_seconds() == 300
        assert any(isinstance(c, LogFailureNotifier) for c in task.on_failure_callback)
    assert isinstance(dag.on_failure_callback, LogFailureNotifier)


def test_a_backfill_creates_one_run_per_day_that_processes_that_day(dagbag) -> None:
    """The runs `airflow backfill create --from-date 2026-10-05 --to-date 2026-10-07T06:00` creates
    (the timetable call Airflow's backfill makes), and the days each of them plans. A run's logical
    date is the start of its interval, 06:00: a --to-date of 2026-10-07 (midnight) stops a day short."""
    import datetime as dt

    from airflow.serialization.serialized_objects import DagSerialization

    dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dagbag.dags["teamlens_daily"]))

    def planned(to_date: dt.datetime) -> list[list[str]]:
        infos = dag.iter_dagrun_infos_between(dt.datetime(2026, 10, 5, tzinfo=dt.UTC), to_date)
        return [pipeline.plan_days_for_run({}, i.data_interval.start, i.data_interval.end, None) for i in infos]

    assert planned(dt.datetime(2026, 10, 7, 6, tzinfo=dt.UTC)) == [["2026-10-05"], ["2026-10-06"], ["2026-10-07"]]
    assert planned(dt.datetime(2026, 10, 7, tzinfo=dt.UTC)) == [["2026-10-05"], ["2026-10-06"]]


def test_statement_dag_states_the_month_just_over(dagbag) -> None:
    """The monthly statement DAG: plan_month, then write_statement, once a month."""
    dag = dagbag.dags["teamlens_statement"]
    assert {t.task_id for t in dag.tasks} == {"plan_month", "write_statement"}
    assert dag.get_task("write_statement").upstream_task_ids == {"plan_month"}
    assert dag.max_active_runs == 1
    assert dag.timetable.expression in ("@monthly", "0 0 1 * *")  # the first of each month, 00:00 UTC
