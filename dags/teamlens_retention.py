"""Retention: delete the day partitions older than the privacy policy's retention periods.

Every day, the partitions of the landing, staged, quarantine and metrics zones (and the metrics'
completion markers, and the run reports under reports/ingest and reports/validation: exact per-day
counts, restricted) whose day is older than the zone's `retention_days` in foundation/policy.yaml
are deleted. A day D is kept while as_of - D <= retention_days and deleted once it is older
(landing 14 days, as_of 2026-11-23: 2026-11-09 kept, 2026-11-08 deleted). Each run that deletes
something first appends one 'retention_deletion' entry to the privacy ledger (per zone: the days,
the day folders, counts of folders, files and bytes; no file names, no agent), then deletes; a
rerun after a crash records and deletes what is left, a run with nothing due records nothing.
The roster, the mapping files, the signed checkpoints under reports/checkpoints, the warehouse
and the ledger are never deleted. Details: privacy/retention.py.

as_of is the end of the run's data interval (its logical date for a manual run, today in UTC
when it has none). Params: {"as_of": "YYYY-MM-DD"} to choose another day, {"dry_run": true} to
list what would be deleted without deleting or recording anything. The same from a shell:
`teamlens retention --as-of YYYY-MM-DD [--dry-run]`.

Not part of `teamlens demo`: the demo's generated data would be older than the periods.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from teamlens import scheduling

NOTIFIER = scheduling.failure_notifier()


@dag(
    dag_id="teamlens_retention",
    # An explicit data interval [D, D+1) whatever Airflow's default for "@daily" is: as_of is its end.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=scheduling.EARLIEST_DAY,  # a manual run as of any past day has its tasks
    catchup=False,
    max_active_runs=1,
    tags=["teamlens", "privacy"],
    params={
        "as_of": Param(None, type=["null", "string"], description="Day retention is computed from (YYYY-MM-DD)"),
        "dry_run": Param(False, type="boolean", description="Only list what would be deleted"),
    },
    # No retries: a run that failed half-way is finished by the next one (see above).
    default_args={"retries": 0, "on_failure_callback": NOTIFIER},
    on_failure_callback=NOTIFIER,
    doc_md=__doc__,
)
def teamlens_retention() -> None:
    @task
    def plan_as_of() -> str:
        context = get_current_context()
        if context["params"].get("as_of"):
            return dt.date.fromisoformat(context["params"]["as_of"]).isoformat()
        moment = context.get("data_interval_end") or context.get("logical_date")
        return (moment or dt.datetime.now(dt.UTC)).date().isoformat()

    @task
    def apply_retention(as_of: str) -> dict:
        from teamlens import pipeline

        dry_run = bool(get_current_context()["params"].get("dry_run"))
        return pipeline.apply_retention(as_of, dry_run=dry_run)

    as_of: Any = plan_as_of()  # an XComArg, resolved to the ISO day when the task runs
    apply_retention(as_of)


teamlens_retention()
