"""What the pipeline's steps say in their task logs: readable lines built from their outcomes.

Every line holds counts per day, per source or per table, or a release's group-level outcome
(published, stored, refused, pending): never a pseudonym, never a value of one agent. The step
functions in teamlens.pipeline log these lines with the logger "teamlens.pipeline", which
Airflow routes into the task's log.

Missing input: a kind of input (telephony, desktop, workforce) is missing on a day when none of
the sources of its tables delivered a landing file (or a record) for that day; a day with all
three missing had no input at all. The days' ingest reports (reports/ingest/<table>/day=D.json)
say so, so the check reads only what the ingest steps wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from foundation import schema
from foundation.settings import Settings
from jobs.ingest import UNLISTED_STATUS_NAMES

log = logging.getLogger("teamlens.pipeline")

# The kinds of input a day needs, and the canonical tables their sources feed.
INPUT_KINDS: dict[str, tuple[schema.Table, ...]] = {
    "telephony": (schema.CONTACTS, schema.AGENT_EVENTS),
    "desktop": (schema.DESKTOP_ACTIVITY,),
    "workforce": (schema.SCHEDULES,),
}
NO_INPUT_AT_ALL = "no input at all"

# What the accountant's message of a stored release says when late data arrived after it.
LATE_DATA_TEXT = "the window's metrics were recomputed"


class MissingInputError(RuntimeError):
    """A day lacks a kind of input and TEAMLENS_FAIL_ON_MISSING_INPUT is set."""


def emit(lines: Iterable[tuple[int, str]]) -> None:
    """Log (level, message) lines with the pipeline's logger."""
    for level, message in lines:
        log.log(level, "%s", message)


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def delivered(section: Mapping[str, Any]) -> bool:
    """Whether a source's section of an ingest report saw any input: a landing file or a record."""
    return int(section.get("files", 0) or 0) > 0 or int(section.get("read", 0) or 0) > 0


def unlisted_status_names_text(counts: Mapping[str, int]) -> str:
    """The status names that contain none of the policy's words, most events first (status names
    are not personal: they are shown, so that the policy's table can be completed)."""
    named = ", ".join(f"{name!r} ({n:,} events)" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return (
        f"status names not in the policy's table: {named}; counted as other "
        "(list their words under status_name_keywords in the policy)"
    )


def notes_text(notes: Mapping[str, int]) -> str:
    """A source's notes of an ingest report (counts of records read in a noteworthy way)."""
    return ", ".join(f"{note}: {n:,}" for note, n in sorted(notes.items()))


def _sections(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The per-source sections of an ingest report (the roster's report is one section of its own)."""
    sources = report.get("sources")
    if isinstance(sources, dict):
        return sources
    return {str(report.get("source", report.get("table", "?"))): report}


def ingest_lines(summary: Mapping[str, Any]) -> list[tuple[int, str]]:
    """One line per day of an ingest summary (jobs.writing.summarize): per source that delivered,
    its files and records read, staged, quarantined (with the reasons) and duplicates, and a
    warning per landing entry not read (jobs.reading.landing_day) and per day written again because
    a later delivery replaced a record staged on it (jobs.ingest.run_table); then the totals."""
    table = summary["table"]
    lines: list[tuple[int, str]] = []
    for day, report in sorted(summary.get("days", {}).items()):
        parts = []
        for source, sec in _sections(report).items():
            if not delivered(sec):
                continue
            files = f"{_n(sec['files'])} file(s), " if "files" in sec else ""
            text = (
                f"{source}: {files}read {_n(sec.get('read'))}, staged {_n(sec.get('staged'))}, "
                f"quarantined {_n(sec.get('quarantined'))}, duplicates {_n(sec.get('duplicates'))}"
            )
            reasons = sec.get("quarantine_reasons") or {}
            if reasons:
                text += " (" + ", ".join(f"{reason}: {_n(k)}" for reason, k in sorted(reasons.items())) + ")"
            if sec.get("notes"):
                text += f" [{notes_text(sec['notes'])}]"
            parts.append(text)
        lines.append((logging.INFO, f"{table} {day}: " + ("; ".join(parts) if parts else "no input from any source")))
        for source, sec in _sections(report).items():
            for entry in sec.get("not_read") or []:
                text = f"{table} {day}: {source}: not read: {entry['file']} ({entry['reason']})"
                lines.append((logging.WARNING, text))
            if sec.get(UNLISTED_STATUS_NAMES):
                text = f"{table} {day}: {source}: {unlisted_status_names_text(sec[UNLISTED_STATUS_NAMES])}"
                lines.append((logging.WARNING, text))
    for message in (summary.get("reingested") or {}).values():
        lines.append((logging.WARNING, f"{table}: {message}"))
    days = len(summary.get("days", {}))
    lines.append(
        (
            logging.INFO,
            f"{table}: {days} day(s), read {_n(summary.get('read'))}, staged {_n(summary.get('staged'))}, "
            f"quarantined {_n(summary.get('quarantined'))}, duplicates {_n(summary.get('duplicates'))}",
        )
    )
    return lines


def days_without_input(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The days on which no source of any of the summaries' tables delivered anything."""
    days = sorted({d for s in summaries for d in s.get("days", {})})
    return [
        d
        for d in days
        if not any(delivered(sec) for s in summaries for sec in _sections(s.get("days", {}).get(d, {})).values())
    ]


def missing_kind_lines(kind: str, summaries: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """A WARNING per day on which a kind of input (telephony, desktop, workforce) delivered nothing."""
    tables = ", ".join(str(s["table"]) for s in summaries)
    return [
        (logging.WARNING, f"missing input: no {kind} on {day} (no landing file for {tables} from any source)")
        for day in days_without_input(summaries)
    ]


def read_report(path: Path) -> dict[str, Any] | None:
    """A JSON report file, or None when it is missing or unreadable."""
    try:
        doc = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def missing_input(settings: Settings, day: dt.date) -> list[str]:
    """The kinds of input that delivered nothing on the day, from its ingest reports (a kind whose
    reports are missing counts as missing); all of them means the day had no input at all."""
    missing = []
    for kind, tables in INPUT_KINDS.items():
        reports = [read_report(settings.lake.ingest_report(t, day)) for t in tables]
        if not any(delivered(sec) for r in reports if r is not None for sec in _sections(r).values()):
            missing.append(kind)
    return missing


def missing_input_lines(missing_by_day: Mapping[str, Sequence[str]]) -> list[tuple[int, str]]:
    """A WARNING per day with missing input: the kinds missing, or that the day had no input at all."""
    lines = []
    for day, kinds in sorted(missing_by_day.items()):
        if not kinds:
            continue
        what = NO_INPUT_AT_ALL if set(kinds) == set(INPUT_KINDS) else "no " + ", no ".join(kinds)
        lines.append((logging.WARNING, f"missing input on {day}: {what}"))
    return lines


def validation_lines(out: Mapping[str, Mapping[str, int]], days: Sequence[str]) -> list[tuple[int, str]]:
    """The quality result per table: rows checked, passed and quarantined by the expectations."""
    lines = [
        (
            logging.WARNING if t["rows_quarantined"] else logging.INFO,
            f"validation {table} over {len(days)} day(s): {_n(t['rows_in'])} row(s) checked, "
            f"{_n(t['rows_passed'])} passed, {_n(t['rows_quarantined'])} quarantined",
        )
        for table, t in sorted(out.items())
    ]
    return lines or [(logging.INFO, f"validation over {len(days)} day(s): no staged table to check")]


def metrics_lines(summary: Mapping[str, Any]) -> list[tuple[int, str]]:
    """agent_day and queue_day: rows per day (counts only) and the totals."""
    parts = (
        ("agent_day", "agent-day", summary, "agent_days", "agents"),
        ("queue_day", "queue-day", summary.get("queue_day", {}), "queue_days", "queues"),
    )
    lines = []
    for table, unit, part, total, per_day_key in parts:
        per_day = part.get("days", {})
        counts = ", ".join(f"{day}: {_n(v.get(per_day_key))}" for day, v in sorted(per_day.items()))
        level = logging.WARNING if per_day and not part.get(total) else logging.INFO
        lines.append((level, f"{table}: {_n(part.get(total))} {unit} row(s) over {len(per_day)} day(s) ({counts})"))
    return lines


def compact_days(days: Iterable[dt.date | str]) -> str:
    """Days as text, consecutive runs shortened: '2026-10-01 .. 2026-10-03, 2026-10-05'."""
    dates = sorted({d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in days})
    runs: list[list[dt.date]] = []
    for d in dates:
        if runs and d - runs[-1][-1] == dt.timedelta(days=1):
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(r[0].isoformat() if len(r) == 1 else f"{r[0]} .. {r[-1]}" for r in runs)


def window_text(name: str, start: dt.date | str, end: dt.date | str) -> str:
    """A release window as people say it: 'name October 2026', 'name week 41 of 2026 (5 Oct - 11 Oct
    2026)' (teamlens.labels.window_label; end given exclusive)."""
    from teamlens.labels import window_label

    return f"{name} {window_label(dt.date.fromisoformat(str(start)), dt.date.fromisoformat(str(end)))}"


# --- releases ----------------------------------------------------------------------------------


def outcome_record(outcome: Any) -> dict[str, Any]:
    """One window's outcome of publish_releases as a JSON-able record (group-level only): a
    privacy.release.PendingWindow or a warehouse.records.ReleaseOutcome."""
    from privacy.release import PendingWindow

    if isinstance(outcome, PendingWindow):
        return {
            "release": outcome.release_name,
            "window_start": outcome.window_start.isoformat(),
            "window_end": outcome.window_end.isoformat(),
            "status": "pending",
            "missing_days": [d.isoformat() for d in outcome.missing_days],
        }
    key = outcome.key
    groups = [g.status for g in outcome.groups]
    record: dict[str, Any] = {
        "release": key.release_name,
        "window_start": key.window_start.isoformat(),
        "window_end": key.window_end.isoformat(),
        "status": outcome.status,
        "release_id": key.release_id if outcome.status != "refused" else None,
        "correction": key.correction,
        "budget": str(outcome.budget),
        "periods": list(outcome.periods),
        "groups_released": groups.count("released"),
        "groups_suppressed": groups.count("suppressed_small_group"),
        "groups_merged": groups.count("merged_into_parent"),
    }
    if outcome.status == "refused":
        record["reason"] = outcome.message
    if outcome.status == "stored" and LATE_DATA_TEXT in outcome.message:
        record["late_data"] = outcome.message[outcome.message.index(LATE_DATA_TEXT) :]
    return record


def release_lines(records: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """One line per window (published, correction, stored, refused, pending, late data), then the counts."""
    lines: list[tuple[int, str]] = []
    for r in records:
        window = window_text(r["release"], r["window_start"], r["window_end"])
        status = r["status"]
        if status == "pending":
            lines.append(
                (
                    logging.INFO,
                    f"pending {window}: metrics not complete for {len(r['missing_days'])} day(s) "
                    f"({compact_days(r['missing_days'])}); nothing drawn, a later run releases it",
                )
            )
        elif status == "refused":
            lines.append((logging.WARNING, f"refused {window}: {r['reason']}"))
        elif status == "released":
            what = f"correction {r['correction']} of" if r["correction"] else "published"
            lines.append(
                (
                    logging.WARNING if r["correction"] else logging.INFO,
                    f"{what} {window} as {r['release_id']}: {r['groups_released']} group(s) released, "
                    f"{r['groups_suppressed']} suppressed, {r['groups_merged']} merged; spent {r['budget']} "
                    f"per agent in {', '.join(r['periods'])}",
                )
            )
        else:
            text = f"stored {window} ({r['release_id']}): returned as stored, no noise drawn, nothing spent"
            lines.append((logging.INFO, text))
        if r.get("late_data"):
            lines.append((logging.WARNING, f"late data for {window}: {r['late_data']}"))
    not_planned = not_planned_text(records)
    if not_planned:
        lines.append((logging.WARNING, not_planned))
    lines.append((logging.INFO, "releases: " + release_counts_text(records)))
    return lines


def not_planned_text(records: Sequence[Mapping[str, Any]]) -> str:
    """One line for a run's planning releases whose windows had contacts of queues the policy does not
    plan: 'contacts of 2 queue(s) not in the policy's planning.queues: A, B, in 3 planning window(s)
    (at most 41 contacts, in queue_week week 41 of 2026 (...))'; '' when there are none. One line,
    not one per window: the same queues usually miss from every window of a run. Queue names are
    public keys, not personal data."""
    missing = [(r, dict(r.get("queues_not_planned") or {})) for r in records]
    missing = [(r, queues) for r, queues in missing if queues]
    if not missing:
        return ""
    names = sorted({name for _, queues in missing for name in queues})
    largest, queues = max(missing, key=lambda pair: sum(pair[1].values()))
    where = window_text(largest["release"], largest["window_start"], largest["window_end"])
    return (
        f"contacts of {len(names)} queue(s) not in the policy's planning.queues: {', '.join(names)}, in "
        f"{len(missing)} planning window(s) (at most {sum(queues.values())} contacts, in {where}); "
        "list them under planning.queues to plan them"
    )


def release_counts_text(records: Sequence[Mapping[str, Any]]) -> str:
    """'7 window(s): 2 published (1 correction), 4 stored (nothing spent), 1 refused, 0 pending'."""
    statuses = [r["status"] for r in records]
    corrections = sum(1 for r in records if r["status"] == "released" and r.get("correction"))
    return (
        f"{len(records)} window(s): {statuses.count('released')} published ({corrections} correction(s)), "
        f"{statuses.count('stored')} returned the stored figures (nothing spent), "
        f"{statuses.count('refused')} refused, {statuses.count('pending')} pending"
    )


def publish_record_path(settings: Settings, first_day: dt.date, last_day: dt.date) -> Path:
    """Where publish_releases writes the outcomes of a run over [first_day, last_day] (counts-only
    run reports: no pseudonym, no value)."""
    return settings.lake.reports / "runs" / f"publish_{first_day.isoformat()}_{last_day.isoformat()}.json"
