"""The works council's monthly statement: once a month, the statement of the month just over.

The run for month M (its data interval [first of M, first of M+1), closed at midnight UTC on the
first of M+1) writes statements/M/statement-M-vN.{html,pdf} from the published snapshot and
records its SHA-256 in the privacy ledger (teamlens.statement). A rerun with nothing new changes
nothing; a correction published later for a window of M makes the next run for M (or a manual
one) write version N+1. Params: {"month": "YYYY-MM"} to state another month. The same from a
shell: `teamlens statement --month YYYY-MM`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from teamlens import scheduling

NOTIFIER = scheduling.failure_notifier()


@dag(
    dag_id="teamlens_statement",
    schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
    start_date=scheduling.EARLIEST_DAY,
    catchup=False,
    max_active_runs=1,
    tags=["teamlens", "privacy", "works council"],
    params={"month": Param(None, type=["null", "string"], description="Month to state (YYYY-MM)")},
    default_args={"retries": 1, "on_failure_callback": NOTIFIER},
    on_failure_callback=NOTIFIER,
    doc_md=__doc__,
)
def teamlens_statement() -> None:
    @task
    def plan_month() -> str:
        context = get_current_context()
        if context["params"].get("month"):
            return str(context["params"]["month"])
        start = context.get("data_interval_start")
        if start is not None:
            return f"{start:%Y-%m}"
        from teamlens.statement import previous_month

        moment = context.get("logical_date") or dt.datetime.now(dt.UTC)
        return previous_month(moment.date())

    @task
    def write_statement(month: str) -> dict:
        from teamlens.statement import statement_task

        return statement_task(month)

    month: Any = plan_month()
    write_statement(month)


teamlens_statement()
