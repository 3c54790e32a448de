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
