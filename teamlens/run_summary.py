"""The summary printed after `teamlens run` and `teamlens demo`: what the run wrote, in a few lines.

Built only from files the run's tasks wrote: the days' ingest reports (reports/ingest), the
metrics completion markers (which name missing input), the release outcomes the publish
step recorded (teamlens.step_log.publish_record_path), the source-days an operator accepted
(foundation.bad_rows) with their counts from the ingest and validation reports, and the record
of the killed-run leftovers the run's first step removed (leftovers_record_path). Counts per day
and source, zone-level folders and group-level release outcomes only: no pseudonym, no value of
an agent.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from foundation import bad_rows, lake, schema
from foundation.settings import Settings
from jobs.ingest import UNLISTED_STATUS_NAMES
from teamlens import step_log

# The staged tables whose records the summary counts (the roster is a snapshot, not records).
COUNTED_TABLES = (schema.CONTACTS, schema.AGENT_EVENTS, schema.DESKTOP_ACTIVITY, schema.SCHEDULES)


def _days(first_day: dt.date, last_day: dt.date) -> list[dt.date]:
    return [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]


def summary_lines(
    settings: Settings, first_day: dt.date, last_day: dt.date, started_at: dt.datetime | None = None
) -> list[str]:
    """The run summary over [first_day, last_day]. started_at: when the run started; a publish record
    written before it is from an earlier run (so the publish step did not run this time)."""
    days = _days(first_day, last_day)
    lines = [_ingest_line(settings, days), *_names_lines(settings, days)]
    missing = _missing_line(settings, days)
    if missing:
        lines.append(missing)
    not_complete = [d for d in days if not settings.lake.metrics_marker(d).exists()]
    if not_complete:
        lines.append(f"metrics not complete (no completion marker) for {step_log.compact_days(not_complete)}")
    lines.extend(accepted_lines(settings, days))
    leftovers = leftovers_line(settings, started_at)
    if leftovers:
        lines.append(leftovers)
    lines.extend(_release_lines(settings, first_day, last_day, started_at))
    return lines


def _source_day_counts(settings: Settings, source: str, day: dt.date) -> str:
    """'Q of N record(s) quarantined at ingest, V by validation' for a source-day (counts only)."""
    read = quarantined = by_validation = 0
    for table in COUNTED_TABLES:
        ingest = (step_log.read_report(settings.lake.ingest_report(table, day)) or {}).get("sources") or {}
        section = ingest.get(source) or {}
        read += int(section.get("read", 0))
        quarantined += int(section.get("quarantined", 0))
        validation = (step_log.read_report(settings.lake.validation_report(table, day)) or {}).get("sources") or {}
        by_validation += int((validation.get(source) or {}).get("quarantined", 0))
    return f"{quarantined:,} of {read:,} record(s) quarantined at ingest, {by_validation:,} by validation"


def accepted_lines(settings: Settings, days: list[dt.date] | None = None) -> list[str]:
    """One line per accepted source-day (of `days`, or all): source, day, who, when, why, counts."""
    wanted = {d.isoformat() for d in days} if days is not None else None
    lines = []
    for a in bad_rows.accepted_days(settings.lake):
        if wanted is None or a["day"] in wanted:
            counts = _source_day_counts(settings, a["source"], dt.date.fromisoformat(a["day"]))
            lines.append(
                f"accepted bad rows {a['source']} {a['day']} (by {a['by']} at {a['at'][:16]}, {a['reason']}): "
                f"{counts}; left out of the bad-row limit"
            )
    return lines


def leftovers_record_path(settings: Settings) -> Path:
    """Where the run's first step records the killed-run leftovers it removed (the latest removal)."""
    return settings.lake.reports / "runs" / "killed-run-leftovers.json"


def record_leftovers(settings: Settings, cleared: dict[str, Any]) -> None:
    """Record a removal of killed-run leftovers (foundation.lake.remove_leftovers' result): when, how
    many, and where by zone-level folder (zone/table: no file name, no pseudonym). Nothing removed,
    nothing recorded."""
    paths = list(cleared.get("leftovers") or [])
    if not paths:
        return
    where = Counter("/".join(Path(p).parts[:2]) for p in paths)
    lake.write_json_atomic(
        leftovers_record_path(settings),
        {
            "removed_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "leftovers": len(paths),
            "restored_partitions": int(cleared.get("restored_partitions", 0)),
            "where": dict(sorted(where.items())),
        },
    )


def leftovers_line(settings: Settings, started_at: dt.datetime | None = None) -> str:
    """'removed N leftover(s) of killed runs: zone/table (n), ...' for a removal at or after started_at
    (any, without it); empty when there is none."""
    record = step_log.read_report(leftovers_record_path(settings))
    if record is None:
        return ""
    removed_at = dt.datetime.fromisoformat(str(record["removed_at"]))
    if started_at is not None and removed_at < started_at:
        return ""
    where = ", ".join(f"{folder} ({n})" for folder, n in record["where"].items())
    restored = int(record.get("restored_partitions", 0))
    put_back = f", {restored} interrupted swap(s) put back" if restored else ""
    when = "" if started_at is not None else f" at {removed_at:%Y-%m-%d %H:%M} UTC"
    return f"removed {record['leftovers']} leftover(s) of killed runs{when}{put_back}: {where}"


def print_run_summary(
    settings: Settings, first_day: dt.date, last_day: dt.date, started_at: dt.datetime | None = None
) -> None:
    """Print the run summary (cli: after the DAG run of `teamlens run` and `teamlens demo`)."""
    print("Run summary:")
    for line in summary_lines(settings, first_day, last_day, started_at):
        print(f"  {line}")


def _ingest_line(settings: Settings, days: list[dt.date]) -> str:
    totals = {"staged": 0, "quarantined": 0, "duplicates": 0}
    without_report: set[dt.date] = set()
    for table in COUNTED_TABLES:
        for day in days:
            report = step_log.read_report(settings.lake.ingest_report(table, day))
            if report is None:
                without_report.add(day)
                continue
            for k in totals:
                totals[k] += int(report.get(k, 0))
    text = (
        f"{len(days)} day(s) ({step_log.compact_days(days)}): {totals['staged']:,} record(s) staged, "
        f"{totals['quarantined']:,} quarantined"
    )
    if totals["quarantined"]:
        text += f" (see {settings.lake.quarantine} and {settings.lake.reports / 'ingest'})"
    text += f", {totals['duplicates']:,} duplicate(s)"
    if without_report:
        text += f"; no ingest report for {step_log.compact_days(without_report)} (ingest did not run)"
    return text


def _names_lines(settings: Settings, days: list[dt.date]) -> list[str]:
    """The status names not in the policy's table (named, with their events) and the sources' notes
    (counts), summed over the days' ingest reports."""
    unlisted: dict[str, int] = {}
    notes: dict[str, dict[str, int]] = {}
    for table in COUNTED_TABLES:
        for day in days:
            report = step_log.read_report(settings.lake.ingest_report(table, day)) or {}
            for source, section in (report.get("sources") or {}).items():
                for name, n in (section.get(UNLISTED_STATUS_NAMES) or {}).items():
                    unlisted[name] = unlisted.get(name, 0) + int(n)
                for note, n in (section.get("notes") or {}).items():
                    of_source = notes.setdefault(source, {})
                    of_source[note] = of_source.get(note, 0) + int(n)
    lines = [f"WARNING {step_log.unlisted_status_names_text(unlisted)}"] if unlisted else []
    if notes:
        lines.append("notes: " + "; ".join(f"{s}: {step_log.notes_text(n)}" for s, n in sorted(notes.items())))
    return lines


def _missing_line(settings: Settings, days: list[dt.date]) -> str:
    """Missing input per day, from the completion markers (or, without one, the ingest reports)."""
    parts = []
    for day in days:
        marker = step_log.read_report(settings.lake.metrics_marker(day))
        if marker is not None and isinstance(marker.get("missing_sources"), list):
            kinds = [str(k) for k in marker["missing_sources"]]
        else:
            kinds = step_log.missing_input(settings, day)
        if set(kinds) == set(step_log.INPUT_KINDS):
            parts.append(f"{step_log.NO_INPUT_AT_ALL} on {day}")
        elif kinds:
            parts.append(f"{', '.join(kinds)} on {day}")
    return "WARNING missing input: " + "; ".join(parts) if parts else ""


def _release_lines(
    settings: Settings, first_day: dt.date, last_day: dt.date, started_at: dt.datetime | None
) -> list[str]:
    record = step_log.read_report(step_log.publish_record_path(settings, first_day, last_day))
    if record is None:
        return ["releases: the publish step did not run (see the task log)"]
    written = dt.datetime.fromisoformat(str(record.get("written_at")))
    if started_at is not None and written < started_at:
        return [f"releases: the publish step did not run this time (its last record: {written:%Y-%m-%d %H:%M} UTC)"]
    windows: list[dict[str, Any]] = list(record.get("windows", []))
    lines = ["releases: " + step_log.release_counts_text(windows)]
    statuses = [w["status"] for w in windows]
    if windows and statuses.count("stored") == len(windows):
        lines.append("every release returned the stored figures: no new noise drawn, no budget spent")
    elif "stored" in statuses and not {"released", "correction"} & set(statuses):
        lines.append("nothing new released: the stored figures were returned, no new noise drawn, no budget spent")
    for w in windows:
        window = step_log.window_text(w["release"], w["window_start"], w["window_end"])
        if w["status"] == "refused":
            lines.append(f"WARNING refused {window}: {w['reason']}")
        if w.get("late_data"):
            lines.append(f"late data for {window}: {w['late_data']}")
    if step_log.not_planned_text(windows):
        lines.append(step_log.not_planned_text(windows))
    pending = [w for w in windows if w["status"] == "pending"]
    if pending:
        waiting = sorted({d for w in pending for d in w["missing_days"]})
        lines.append(f"{len(pending)} window(s) pending until the metrics of {step_log.compact_days(waiting)} exist")
    return lines
