"""Daily pipeline: landing -> staged -> validated -> agent-day metrics -> DP releases + ledger.

Orchestration only: every task calls one function of teamlens.pipeline, which calls jobs/,
expectations/ and privacy/. Heavy imports happen inside the tasks, never at parse time.

A scheduled run processes the site-local day of its data interval. A manual run (or
`airflow dags test`) can process a span of days in one run, with one Spark session, by
passing {"first_day": "YYYY-MM-DD", "last_day": "YYYY-MM-DD"} as the run's conf.

With TEAMLENS_SPARK_CONNECT=per_run the setup task start_spark starts one Spark Connect server for
the run, which the Spark tasks share, and the teardown task stop_spark stops it, also when a task
failed; with the default (off) both do nothing and every Spark task builds its own session.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Param, dag, get_current_context, setup, task, teardown


@dag(
    dag_id="teamlens_daily",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["teamlens"],
    params={
        "first_day": Param(None, type=["null", "string"], description="First site-local day (YYYY-MM-DD)"),
        "last_day": Param(None, type=["null", "string"], description="Last site-local day, inclusive"),
    },
    default_args={"retries": 0},
    doc_md=__doc__,
)
def teamlens_daily() -> None:
    @task
    def check_ready() -> dict:
        from teamlens import pipeline

        return pipeline.check_ready()

    @task
    def plan_days() -> list[str]:
        from teamlens import pipeline

        context = get_current_context()
        params = context["params"]
        if params.get("first_day"):
            return pipeline.days_between(params["first_day"], params.get("last_day") or params["first_day"])
        start = context["data_interval_start"]
        end = context["data_interval_end"]
        assert start is not None and end is not None
        last = (end - dt.timedelta(seconds=1)).date()
        return pipeline.days_between(start.date().isoformat(), last.isoformat())

    @setup
    def start_spark() -> dict:
        from teamlens import pipeline

        return pipeline.start_spark()

    @teardown
    def stop_spark() -> dict:
        from teamlens import pipeline

        return pipeline.stop_spark()

    @task
    def ingest_workforce(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.ingest_workforce(days)

    @task
    def ingest_telephony(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.ingest_telephony(days)

    @task
    def ingest_desktop(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.ingest_desktop(days)

    @task
    def validate_staged(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.validate_staged(days)

    @task
    def agent_day_metrics(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.compute_agent_day(days)

    @task
    def publish_releases(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.publish_releases(days)

    ready = check_ready()
    days: Any = plan_days()  # an XComArg, resolved to list[str] when the tasks run
    spark_up = start_spark()
    spark_down = stop_spark()
    workforce = ingest_workforce(days)
    telephony = ingest_telephony(days)
    desktop = ingest_desktop(days)
    validated = validate_staged(days)
    metrics = agent_day_metrics(days)
    released = publish_releases(days)

    ready >> [days, spark_up]
    spark_up >> workforce
    workforce >> [telephony, desktop]
    [telephony, desktop] >> validated >> metrics >> released
    # The teardown's scope is every task between the two: the Spark tasks, not publish_releases.
    metrics >> spark_down
    spark_up >> spark_down


teamlens_daily()
