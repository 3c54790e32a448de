"""Checks of a flat export's sample under its mapping, before the first run (`teamlens check-mapping`).

Why: a mapping can parse every row and still be wrong. An export that writes 0:00:00 for "did not
happen" gives midnight times and waits of hours; call ids that repeat for different calls look like
duplicates. These checks look at the whole sample file, as the ingest will read it, and say what
to add to the mapping (docs/flat-exports.md, Checking a mapping). Pure Python: no Spark.

Output discipline: findings name export columns, counts, line numbers and the source's own ids
(call ids, agent ids as the export writes them), never a pseudonym.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs import reading
from jobs.flat_mapping import KEY_SEPARATOR, FlatMapping, load_mapping
from jobs.source_flat import PARSED_COLUMNS, TIME_FIELDS, parse_bytes, time_texts

DAY_SECONDS = 24 * 3600
MIDNIGHT_MIN_ROWS = 2  # a field exactly at midnight this often ...
MIDNIGHT_MIN_SHARE = 0.01  # ... and in this share of the rows is likely an undeclared no_time value
_LINEAGE = ("source_file", "source_line", "raw_record", "reason")


@dataclass(frozen=True)
class Finding:
    """One check's result: its name, the rows it concerns (0: passed) and what it found / what to do."""

    check: str
    rows: int
    detail: str

    @property
    def ok(self) -> bool:
        return self.rows == 0


@dataclass(frozen=True)
class SampleCheck:
    """What check-mapping reports about one sample file."""

    mapping: FlatMapping
    rows: list[dict[str, Any]]  # every parsed row (PARSED_COLUMNS names, without raw_record)
    quarantined: Counter[str] = field(default_factory=Counter)  # reason -> rows
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return sum(1 for f in self.findings if not f.ok)


def check_sample(
    mapping_path: str | Path, sample_file: str | Path, roster_ids: Collection[str] | None = None
) -> SampleCheck:
    """Parse the whole sample with its mapping and run every check. roster_ids: the roster's values
    of the mapping's agent_identity column, lower case (None: the roster could not be read).
    Raises MappingError / ValueError / OSError like the ingest."""
    mapping = load_mapping(mapping_path)
    data = reading.read_landing_bytes(sample_file)
    parsed, _ = parse_bytes(mapping, str(sample_file), data)
    rows = [{c: r[i] for i, c in enumerate(PARSED_COLUMNS) if c != "raw_record"} for r in parsed]
    good = [r for r in rows if not r["reason"]]
    findings = [
        repeated_ids(mapping, good),
        *midnight_times(mapping, time_texts(mapping, str(sample_file), data)),
        longer_than_a_day(good),
        ends_before_start(rows),
    ]
    if roster_ids is not None:
        findings.append(not_in_roster(mapping, good, roster_ids))
    return SampleCheck(mapping, rows, Counter(r["reason"] for r in rows if r["reason"]), findings)


def key_description(mapping: FlatMapping) -> tuple[str, str, str]:
    """(export columns composing the call key, how they are joined, the uniqueness declared)."""
    joined = f"{KEY_SEPARATOR} (a {KEY_SEPARATOR} or \\ inside a part is escaped with \\)"
    unique = "true: a repeated key is one call" if mapping.call_ids_unique else "false: ids may repeat"
    return " + ".join(mapping.key_columns), joined if len(mapping.key_columns) > 1 else "-", unique


def repeated_ids(mapping: FlatMapping, good: list[dict[str, Any]]) -> Finding:
    """Keys that occur in more than one parsed row, and whether those rows' contents differ."""
    contents: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in good:
        contents[r["contact_id"]].append(tuple(v for c, v in r.items() if c not in _LINEAGE))
    repeated = {k: v for k, v in contents.items() if len(v) > 1}
    if not repeated:
        return Finding("repeated ids", 0, f"every key ({mapping.column('call_id')}) occurs once")
    example, copies = max(repeated.items(), key=lambda kv: (len(kv[1]), kv[0]))
    differ = sum(1 for v in repeated.values() if len(set(v)) > 1)
    detail = (
        f"{len(repeated)} ids occur more than once (e.g. {example!r} {len(copies)} times); "
        f"contents differ for {differ} of them"
    )
    if differ:
        detail += (
            ": different calls under one id. Compose the key from the columns that make it unique "
            "(columns.call_id: [LINE_COLUMN, ID_COLUMN])"
            + (", or set call_ids_unique: false" if mapping.call_ids_unique else "")
        )
    return Finding("repeated ids", sum(len(v) for v in repeated.values()), detail)


def midnight_times(mapping: FlatMapping, texts: list[tuple[int, dict[str, str]]]) -> list[Finding]:
    """Per time column: rows whose time is exactly midnight, flagged when there are many (likely a
    "did not happen" value the mapping does not declare in no_time)."""
    fmt = mapping.time_format
    findings = []
    for name in TIME_FIELDS:
        column = mapping.column(name)
        if column is None:
            continue
        at_midnight: Counter[str] = Counter()
        for _, fields in texts:
            text = fields.get(name, "")
            if mapping.did_not_happen(text):
                continue
            try:
                parsed = dt.datetime.strptime(text, fmt)
            except ValueError:
                continue
            if parsed.time() == dt.time(0, 0):
                at_midnight[text] += 1
        count = sum(at_midnight.values())
        many = count >= MIDNIGHT_MIN_ROWS and count >= MIDNIGHT_MIN_SHARE * max(len(texts), 1)
        check = f"midnight {name}"
        if not many:
            findings.append(Finding(check, 0, f"column {column}: {count} rows exactly at midnight"))
            continue
        token = at_midnight.most_common(1)[0][0]
        tokens = sorted({*mapping.no_time, token.strip().upper()})
        findings.append(
            Finding(
                check,
                count,
                f"column {column}: {count} of {len(texts)} rows are exactly midnight ({token!r}); if the "
                f"export writes it for 'did not happen', add to the mapping: no_time: {tokens}",
            )
        )
    return findings


def longer_than_a_day(good: list[dict[str, Any]]) -> Finding:
    """Rows whose wait or talk exceeds a day: a time read wrongly (format, no_time, date column)."""
    long = [r for r in good if any((r[c] or 0) > DAY_SECONDS for c in ("queue_seconds", "talk_seconds"))]
    if not long:
        return Finding("longer than a day", 0, "no wait or talk is longer than a day")
    return Finding(
        "longer than a day",
        len(long),
        f"a wait or talk longer than a day (first at line {long[0]['source_line']}): check formats and no_time",
    )


def ends_before_start(rows: list[dict[str, Any]]) -> Finding:
    """Rows quarantined because a later time of the call is before an earlier one."""
    back = [r for r in rows if r["reason"] and " is before " in r["reason"]]
    if not back:
        return Finding("end before start", 0, "no time goes backwards")
    return Finding(
        "end before start",
        len(back),
        f"{back[0]['reason']} (first at line {back[0]['source_line']}): check formats, no_time and "
        "whether the times need columns.date",
    )


def not_in_roster(mapping: FlatMapping, good: list[dict[str, Any]], roster_ids: Collection[str]) -> Finding:
    """Answered rows whose agent (as the export writes it) is not in the roster's agent_identity column."""
    missing = [r["agent_key"] for r in good if r["agent_key"] and r["agent_key"].strip().lower() not in roster_ids]
    check = "agents in roster"
    if not missing:
        return Finding(check, 0, f"every agent of the sample is in the roster (column {mapping.agent_identity})")
    names = sorted(set(missing))
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return Finding(
        check,
        len(missing),
        f"{len(names)} export agent ids are not in roster column {mapping.agent_identity} ({shown}): "
        "these calls would be quarantined; check agent_identity or the roster",
    )
