"""The pipeline's steps as plain functions: what each Airflow task calls, one call per task.

Each step takes the list of site-local days of its run, does one transaction-like unit of work
(every day's partitions replaced, nothing else touched) and returns a small summary of counts
for the task log and XCom. No step returns or logs anything per agent.

Each step also logs its outcome in a few readable lines (teamlens.step_log, logger
"teamlens.pipeline", which Airflow routes into the task's log): rows per source and day, the
quality result, the metric rows, every release window's outcome, and missing input as a WARNING.

Every step that reads or writes the lake holds the data root's run lock for its duration
(teamlens.run_lock: shared for the daily DAG's steps, exclusive for retention), so a scheduled
DAG run never interleaves with a `teamlens run` on the same data root.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from foundation import lake
from foundation.settings import Settings, load_settings
from teamlens import step_log
from teamlens.run_lock import holding_run_lock


def days_between(first_day: str, last_day: str) -> list[str]:
    """ISO days from first_day to last_day, inclusive."""
    start, end = dt.date.fromisoformat(first_day), dt.date.fromisoformat(last_day)
    if end < start:
        raise ValueError(f"last_day {last_day} is before first_day {first_day}")
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def plan_days_for_run(
    params: Mapping[str, Any],
    data_interval_start: dt.datetime | None,
    data_interval_end: dt.datetime | None,
    logical_date: dt.datetime | None,
    timezone: str = "UTC",
) -> list[str]:
    """The site-local days (ISO) one run of the daily DAG processes; the same answer for every trigger.

    - params first_day/last_day (a manual run, `teamlens run`, the UI's date range): those days,
      inclusive (last_day alone or first_day alone: that one day). A reversed range is refused.
    - a data interval (a scheduled or backfilled run): the days whose end, the following midnight
      in `timezone` (the schedule's), falls in (start, end]. The run for day D has the interval
      [D 06:00, D+1 06:00) under the default schedule, so it processes D; a wider interval
      processes every day it closes. An interval that closes no day is refused.
    - a zero-length interval (Airflow's trigger timetables, create_cron_data_intervals = False) or
      none: a point in time T, the end or else the logical date. Its run processes the last day
      that was over at T, the day before T's date: the run fired at D+1 00:00 means D, never D+1,
      which has only begun.
    """
    first, last = params.get("first_day"), params.get("last_day")
    if first or last:
        first_day, last_day = _iso_day("first_day", first or last), _iso_day("last_day", last or first)
        if last_day < first_day:
            raise ValueError(
                f"last_day {last_day} is before first_day {first_day}: a run covers first_day through "
                "last_day, inclusive; swap them"
            )
        return days_between(first_day.isoformat(), last_day.isoformat())
    zone = ZoneInfo(timezone)
    if data_interval_start is not None and data_interval_end is not None and data_interval_end > data_interval_start:
        first_day = data_interval_start.astimezone(zone).date()
        last_day = data_interval_end.astimezone(zone).date() - dt.timedelta(days=1)
        if last_day < first_day:
            raise ValueError(
                f"the data interval {data_interval_start.isoformat()} .. {data_interval_end.isoformat()} "
                f"closes no day (no midnight in {timezone} inside it): the daily DAG needs an interval of whole days"
            )
        return days_between(first_day.isoformat(), last_day.isoformat())
    moment = data_interval_end or logical_date
    if moment is None:
        raise ValueError("the run has no data interval, no logical date and no first_day/last_day: no day to process")
    return [(moment.astimezone(zone).date() - dt.timedelta(days=1)).isoformat()]


def _iso_day(name: str, value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a day in the form YYYY-MM-DD") from None


def _dates(days: list[str]) -> list[dt.date]:
    return [dt.date.fromisoformat(d) for d in days]


@holding_run_lock()
def check_ready(settings: Settings | None = None) -> dict[str, Any]:
    """Fail fast: the key is present, the policy is valid, the landing zone exists; then remove the
    leftovers of killed runs (clear_killed_runs), under the run lock like every step."""
    from foundation.policy import load_policy

    settings = settings or load_settings()
    settings.pseudonym_key()
    from privacy.checkpoint import load_private_key

    load_private_key(settings.checkpoint_key_text())  # publishing signs a checkpoint of the ledger
    policy = load_policy(settings.policy_path)
    if not settings.lake.roster_file.exists():
        raise FileNotFoundError(f"no roster at {settings.lake.roster_file}; nothing can be ingested")
    from jobs.source_flat import flat_sources

    exports = flat_sources(settings.lake.landing)  # a broken mapping file fails the run here, naming it
    require_writable_zones(settings)
    cleared = clear_killed_runs(settings)
    return {
        "killed_run_leftovers": cleared,
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "data_root": str(settings.data_root),
        "flat_exports": [s.name for s in exports],
    }


def require_writable_zones(settings: Settings) -> None:
    """Fail before any work when a folder the run writes is read-only, naming the folders."""
    from foundation import lake

    folders = lake.unwritable_folders(settings.lake)
    if folders:
        raise PermissionError(
            f"this run cannot write {', '.join(str(f) for f in folders)} (read-only for this process's user); "
            "give the pipeline's user write access to the data root's zones and run again"
        )


def clear_killed_runs(settings: Settings) -> dict[str, Any]:
    """Remove what killed runs left in the lake (Spark's `_temporary` and `.spark-staging-*`
    folders, swap siblings, temporary files: foundation.lake.remove_leftovers) and say so in a
    WARNING naming the folders (no record, no pseudonym). Call it only under the run lock."""
    from foundation import lake
    from teamlens.run_summary import record_leftovers

    cleared = lake.remove_leftovers(settings.lake)
    record_leftovers(settings, cleared)  # for the run summary and the report
    if cleared["leftovers"]:
        restored = cleared["restored_partitions"]
        step_log.log.warning(
            "removed %d leftover(s) of killed runs (%d folder(s), %d file(s)%s): %s",
            len(cleared["leftovers"]),
            cleared["folders"],
            cleared["files"],
            f", {restored} interrupted swap(s) put back" if restored else "",
            ", ".join(cleared["leftovers"]),
        )
    return cleared


def start_spark(settings: Settings | None = None) -> dict[str, Any]:
    """The DAG run's setup: start its Spark Connect server when TEAMLENS_SPARK_CONNECT=per_run (a
    no-op otherwise). Returns no secret: the mode, and port, pid and seconds to ready."""
    settings = settings or load_settings()
    if settings.spark_connect == "off":
        return {"mode": "off"}
    from foundation import spark_connect

    return {"mode": settings.spark_connect, **spark_connect.start_server(settings)}


def stop_spark(settings: Settings | None = None) -> dict[str, Any]:
    """The DAG run's teardown: stop its Spark Connect server (a no-op when TEAMLENS_SPARK_CONNECT=off)."""
    settings = settings or load_settings()
    if settings.spark_connect == "off":
        return {"mode": "off"}
    from foundation import spark_connect

    return {"mode": settings.spark_connect, **spark_connect.stop_server(settings)}


@holding_run_lock()
def ingest_workforce(days: list[str], settings: Settings | None = None) -> dict[str, Any]:
    """The roster snapshot of the days, then the workforce schedules and the pulse survey answers
    (resolved through that roster), in one Spark session."""
    from foundation import schema
    from foundation.spark import spark_session
    from jobs import ingest, staged_roster

    settings = settings or load_settings()
    spark = spark_session(settings)
    out = {
        "roster": staged_roster.run(spark, settings, _dates(days)),
        "schedules": ingest.run_table(spark, settings, schema.SCHEDULES, _dates(days)),
        # Pulse survey exports, where a survey landing folder exists (jobs.source_surveys).
        "survey_answers": ingest.run_table(spark, settings, schema.SURVEY_ANSWERS, _dates(days)),
    }
    _log_ingest("workforce", [out["roster"], out["survey_answers"]], [out["schedules"]])
    owe_reingested_days(settings, [out["schedules"], out["survey_answers"]])
    return out


def _log_ingest(kind: str, others: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> None:
    """Log an ingest step's counts per table, day and source, and a WARNING per day its kind of input
    (the summaries' tables) delivered nothing."""
    for summary in [*others, *summaries]:
        step_log.emit(step_log.ingest_lines(summary))
    step_log.emit(step_log.missing_kind_lines(kind, summaries))


def owe_reingested_days(settings: Settings, summaries: list[dict[str, Any]]) -> None:
    """Note each day an ingest re-wrote outside its run (jobs.ingest.run_table's `reingested`), so
    that the run's later steps take it along (with_reingested) until it is published again."""
    for summary in summaries:
        for day, message in (summary.get("reingested") or {}).items():
            marker = settings.lake.reingested_days / f"{lake.partition_name(dt.date.fromisoformat(day))}.json"
            lake.write_json_atomic(marker, {"day": day, "reason": message})


def with_reingested(days: list[str], settings: Settings) -> list[str]:
    """The run's days and the days an ingest re-wrote that are not yet published again (a later
    delivery replaced a record staged on them: jobs.ingest.run_table): validation, metrics and
    publishing take them along, so the re-written partition never stays unvalidated or stale."""
    folder = settings.lake.reingested_days
    owed = {d.isoformat() for p in folder.glob("day=*.json") if (d := lake.day_file_day(p.name)) is not None}
    return sorted(set(days) | owed)


def _published_reingested(days: list[str], settings: Settings) -> None:
    """The re-written days among the days just published are settled."""
    for day in days:
        (settings.lake.reingested_days / f"{lake.partition_name(dt.date.fromisoformat(day))}.json").unlink(
            missing_ok=True
        )


@holding_run_lock()
def ingest_telephony(days: list[str], settings: Settings | None = None) -> dict[str, Any]:
    from foundation import schema
    from foundation.spark import spark_session
    from jobs import ingest

    settings = settings or load_settings()
    spark = spark_session(settings)
    out = {
        "contacts": ingest.run_table(spark, settings, schema.CONTACTS, _dates(days)),
        "agent_events": ingest.run_table(spark, settings, schema.AGENT_EVENTS, _dates(days)),
    }
    _log_ingest("telephony", [], [out["contacts"], out["agent_events"]])
    owe_reingested_days(settings, [out["contacts"], out["agent_events"]])
    return out


@holding_run_lock()
def ingest_desktop(days: list[str], settings: Settings | None = None) -> dict[str, Any]:
    """Desktop activity; the jobs get the policy's desktop category rules, not the policy."""
    from foundation import schema
    from foundation.policy import load_policy
    from foundation.spark import spark_session
    from jobs import ingest

    settings = settings or load_settings()
    rules = load_policy(settings.policy_path).desktop_rules()
    out = ingest.run_table(spark_session(settings), settings, schema.DESKTOP_ACTIVITY, _dates(days), rules)
    _log_ingest("desktop", [], [out])
    owe_reingested_days(settings, [out])
    return out


@holding_run_lock()
def validate_staged(days: list[str], settings: Settings | None = None) -> dict[str, Any]:
    """Validate every staged partition of the days; the bad-row limit is judged per source over all
    of them together (expectations.validate.validate_days), after everything is validated."""
    from expectations.validate import validate_days

    settings = settings or load_settings()
    days = with_reingested(days, settings)
    out: dict[str, Any] = {}
    for report in validate_days(settings, _dates(days)):
        table = report.get("table", "?")
        totals = out.setdefault(table, {"rows_in": 0, "rows_passed": 0, "rows_quarantined": 0})
        for k in totals:
            totals[k] += int(report.get(k, 0))
    step_log.emit(step_log.validation_lines(out, days))
    return out


@holding_run_lock()
def compute_agent_day(days: list[str], settings: Settings | None = None) -> dict[str, Any]:
    """The restricted metric tables of the days: agent_day, queue_day, then the planning tables
    queue_interval and agent_queue_day (jobs.planning_metrics; one Spark session); then
    each day's completion marker, which names the kinds of input the day lacked.

    Missing input (step_log.missing_input, from the ingest reports) is a WARNING, or with
    TEAMLENS_FAIL_ON_MISSING_INPUT=1 a failure (step_log.MissingInputError) before any metric or
    marker is written, so that the days' windows stay pending.
    """
    from foundation.spark import spark_session
    from jobs import agent_day, planning_metrics, queue_day
    from privacy.release import mark_metrics_complete

    settings = settings or load_settings()
    days = with_reingested(days, settings)
    missing = {day: step_log.missing_input(settings, dt.date.fromisoformat(day)) for day in days}
    warnings = step_log.missing_input_lines(missing)
    step_log.emit(warnings)
    if warnings and settings.fail_on_missing_input:
        raise step_log.MissingInputError(
            "TEAMLENS_FAIL_ON_MISSING_INPUT is set and input is missing: "
            + "; ".join(text.removeprefix("missing input ") for _, text in warnings)
            + ". Deliver the landing files and rerun the days (or unset the setting to go on with a warning)."
        )
    spark = spark_session(settings)
    summary = agent_day.run(spark, settings, _dates(days))
    summary["queue_day"] = queue_day.run(spark, settings, _dates(days))
    summary["planning"] = planning_metrics.run(spark, settings, _dates(days))
    for day in _dates(days):
        mark_metrics_complete(settings, day, missing[day.isoformat()])
    step_log.emit(step_log.metrics_lines(summary))
    summary["missing_input"] = {day: kinds for day, kinds in missing.items() if kinds}
    return summary


@holding_run_lock()
def publish_releases(days: list[str], settings: Settings | None = None) -> dict[str, Any]:
    """Release every permitted window that ends on one of the days (stored ones are returned as stored),
    then sign a checkpoint of the ledger (reports/checkpoints: latest.txt and one per tree size),
    then replace the published snapshot readers open (teamlens.publishing; also when a window
    failed after others were committed).

    Fails (privacy.approval.PolicyNotApproved, naming the command that approves it) when the
    policy is not approved, so that a scheduled run does not silently publish nothing.
    """
    from teamlens.publishing import refresh_snapshot

    settings = settings or load_settings()
    days = with_reingested(days, settings)
    try:
        published = _publish(days, settings)
    finally:
        refresh_snapshot(settings)
    _published_reingested(days, settings)
    return published


def _publish(days: list[str], settings: Settings) -> dict[str, Any]:
    from foundation.policy import load_policy
    from privacy.approval import require_approval
    from privacy.release import PendingWindow, release_windows
    from privacy.verify import write_signed_checkpoint

    policy = load_policy(settings.policy_path)
    require_approval(settings.lake.warehouse_path, policy)
    dates = _dates(days)
    outcomes = release_windows(settings, policy, min(dates), max(dates) + dt.timedelta(days=1))
    outcomes += _publish_surveys(settings, policy, min(dates), max(dates) + dt.timedelta(days=1))
    counts: dict[str, int] = {}
    for o in outcomes:
        status = "pending" if isinstance(o, PendingWindow) else o.status
        counts[status] = counts.get(status, 0) + 1
    records = [step_log.outcome_record(o) for o in outcomes]
    _add_queues_not_planned(settings, records)
    _write_publish_record(settings, min(dates), max(dates), records)
    step_log.emit(step_log.release_lines(records))
    if settings.lake.warehouse_path.exists():
        lake = settings.lake
        checkpoint = write_signed_checkpoint(
            lake.warehouse_path, settings.checkpoint_key_text(), lake.latest_checkpoint, lake.checkpoint_of_size
        )
        step_log.log.info("signed a checkpoint of the ledger's %d entries: %s", checkpoint.size, lake.latest_checkpoint)
    return {"windows": len(outcomes), **counts}


def _publish_surveys(settings: Settings, policy: Any, first_day: dt.date, end_day: dt.date) -> list[Any]:
    """The policy's pulse survey releases of the days (privacy.surveys), charged to the same budget."""
    from privacy.surveys import release_survey_windows

    return list(release_survey_windows(settings, policy, first_day, end_day))


def _add_queues_not_planned(settings: Settings, records: list[dict[str, Any]]) -> None:
    """Each stored planning release's `queues_not_planned` (queue names with their offered contacts,
    recorded in its parameters by privacy.planning) onto its record, for the log and the run summary."""
    from warehouse.store import connect

    ids = [r["release_id"] for r in records if r.get("release_id")]
    if not ids or not settings.lake.warehouse_path.exists():
        return
    con = connect(settings.lake.warehouse_path, read_only=True)
    try:
        rows = con.execute(
            "SELECT release_id, parameters FROM releases WHERE list_contains(?, release_id)", [ids]
        ).fetchall()
    finally:
        con.close()
    not_planned = {str(i): json.loads(p or "{}").get("queues_not_planned") for i, p in rows}
    for record in records:
        if not_planned.get(str(record.get("release_id"))):
            record["queues_not_planned"] = not_planned[str(record["release_id"])]


def _write_publish_record(
    settings: Settings, first_day: dt.date, last_day: dt.date, records: list[dict[str, Any]]
) -> None:
    """The run's release outcomes (group-level, no value) for the run summary (teamlens.run_summary)."""
    from foundation import lake

    written_at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    doc = {"first_day": first_day.isoformat(), "last_day": last_day.isoformat(), "written_at": written_at}
    lake.write_json_atomic(step_log.publish_record_path(settings, first_day, last_day), {**doc, "windows": records})


class RetentionIncomplete(RuntimeError):
    """Some partitions could not be reached without following a symlink out of the data root."""


@holding_run_lock(shared=False)
def apply_retention(as_of: str, settings: Settings | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Delete the day partitions older than the policy's retention periods as of `as_of` (ISO day),
    recording the run in the privacy ledger first (privacy.retention). Returns counts per zone and
    the days deleted; no file names, no agent. Fails, after deleting everything else, when a
    symlink leading out of the data root hid partitions from it."""
    from foundation.policy import load_policy
    from privacy.retention import apply_retention as apply
    from teamlens.publishing import refresh_snapshot

    settings = settings or load_settings()
    policy = load_policy(settings.policy_path)
    try:
        result = apply(settings, policy, dt.date.fromisoformat(as_of), settings.run_by, dry_run=dry_run)
    finally:
        if not dry_run:  # the run's ledger entry, committed before the deletions, reaches the readers
            refresh_snapshot(settings)
    summary = {
        "as_of": result["as_of"],
        "dry_run": result["dry_run"],
        "partitions": result["partitions"],
        "deleted": result["deleted"],
        "entry_hash": result["entry_hash"],
        "killed_run_leftovers": result["leftovers"],
        "zones": {
            zone: {k: z[k] for k in ("retention_days", "oldest_kept_day", "days", "folders", "files", "bytes")}
            for zone, z in result["zones"].items()
        },
    }
    if result["refused_symlinks"]:
        raise RetentionIncomplete(
            f"retention as of {as_of} done except behind symlinks that lead out of the data root "
            f"{settings.data_root}, which are never followed: {', '.join(result['refused_symlinks'])}. "
            f"Point TEAMLENS_DATA_ROOT at the real location of the zones. Done: {json.dumps(summary)}"
        )
    return summary
