"""Daily pipeline: landing -> staged -> validated -> agent-day metrics -> DP releases + ledger.

Orchestration only: every task calls one function of teamlens.pipeline, which calls jobs/,
expectations/ and privacy/. Heavy imports happen inside the tasks, never at parse time.

Which days a run processes (teamlens.pipeline.plan_days_for_run), whatever started it:
- the scheduler: an explicit CronDataIntervalTimetable (TEAMLENS_SCHEDULE_CRON, default
  "0 6 * * *", in TEAMLENS_SCHEDULE_TIMEZONE, default UTC) gives the run for day D the interval
  [D 06:00, D+1 06:00); it starts at its end and processes D, the day that closed in it;
- a backfill (`airflow backfill create --dag-id teamlens_daily --from-date A --to-date B`): one
  such run per day from A to B, in order (the default; --run-backwards would process a window's
  last day before its other days, leaving that window pending);
- a manual run (the UI's "Trigger" with first_day/last_day, `teamlens run`, `airflow dags test`
  with a conf): {"first_day": "YYYY-MM-DD", "last_day": "YYYY-MM-DD"}, all those days in one run
  with one Spark session.
The start date is far in the past so that history can be processed; catchup=False keeps the
scheduler from creating a run per past day when the DAG is first enabled.

Publishing releases every permitted window ending in the processed days whose days are all
complete, so the daily run releases the weekly and monthly windows on their last day. The tasks
declare the lake's zones as Assets (inlets and outlets), so the UI draws the lineage
landing -> staged -> metrics -> published.

Failed tasks are retried (TEAMLENS_TASK_RETRIES, default 2, 5 minutes apart), except check_ready
(a missing key or an unapproved policy is not transient); a failed task or run calls the failure
notifier (TEAMLENS_FAILURE_NOTIFIER; teamlens.scheduling).

With TEAMLENS_SPARK_CONNECT=per_run the setup task start_spark starts one Spark Connect server for
the run, which the Spark tasks share, and the teardown task stop_spark stops it, also when a task
failed; with the default (off) both do nothing and every Spark task builds its own session.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, setup, task, teardown

from teamlens import scheduling

# The lake's zones as Airflow Assets: what the UI's lineage graph shows. Names, not paths: the
# data root is a setting of the tasks' environment, not of the parser's.
LANDING = Asset(name="teamlens_landing", uri="teamlens://lake/landing")
STAGED = Asset(name="teamlens_staged", uri="teamlens://lake/staged")
METRICS = Asset(name="teamlens_metrics", uri="teamlens://lake/metrics")
PUBLISHED = Asset(name="teamlens_published", uri="teamlens://warehouse/published")

NOTIFIER = scheduling.failure_notifier()
TIMEZONE = scheduling.schedule_timezone()


@dag(
    dag_id="teamlens_daily",
    schedule=CronDataIntervalTimetable(scheduling.schedule_cron(), timezone=TIMEZONE),
    start_date=scheduling.EARLIEST_DAY,
    catchup=False,
    max_active_runs=1,
    tags=["teamlens"],
    params={
        "first_day": Param(
            None, type=["null", "string"], format="date", description="First site-local day (YYYY-MM-DD)"
        ),
        "last_day": Param(None, type=["null", "string"], format="date", description="Last site-local day, inclusive"),
    },
    default_args={
        # Transient failures (a Spark executor lost, a locked file) are retried. Retrying
        # publish_releases is safe too: privacy.accountant.publish_release is idempotent, so a
        # release stored by the failed try is returned as stored and never drawn again.
        "retries": scheduling.task_retries(),
        "retry_delay": scheduling.RETRY_DELAY,
        "on_failure_callback": NOTIFIER,
    },
    on_failure_callback=NOTIFIER,
    doc_md=__doc__,
)
def teamlens_daily() -> None:
    @task(retries=0)
    def check_ready() -> dict:
        from teamlens import pipeline

        return pipeline.check_ready()

    @task
    def plan_days() -> list[str]:
        from teamlens import pipeline

        context = get_current_context()
        return pipeline.plan_days_for_run(
            context["params"],
            context.get("data_interval_start"),
            context.get("data_interval_end"),
            context.get("logical_date"),
            TIMEZONE,
        )

    @setup
    def start_spark() -> dict:
        from teamlens import pipeline

        return pipeline.start_spark()

    @teardown
    def stop_spark() -> dict:
        from teamlens import pipeline

        return pipeline.stop_spark()

    @task(inlets=[LANDING], outlets=[STAGED])
    def ingest_workforce(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.ingest_workforce(days)

    @task(inlets=[LANDING], outlets=[STAGED])
    def ingest_telephony(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.ingest_telephony(days)

    @task(inlets=[LANDING], outlets=[STAGED])
    def ingest_desktop(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.ingest_desktop(days)

    @task(inlets=[STAGED])
    def validate_staged(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.validate_staged(days)

    @task(inlets=[STAGED], outlets=[METRICS])
    def agent_day_metrics(days: list[str]) -> dict:
        from teamlens import pipeline

        return pipeline.compute_agent_day(days)

    @task(inlets=[METRICS], outlets=[PUBLISHED])
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
