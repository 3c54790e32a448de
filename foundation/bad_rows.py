"""The bad-row limit over a whole run, per source, and the source-days an operator accepted.

settings.max_bad_row_share (TEAMLENS_MAX_BAD_ROW_SHARE) bounds each source's share of quarantined
records over all days of a run together, not each day alone: one bad Saturday does not fail a
month whose other days are clean, and a source whose every record is quarantined fails even when
the table's other sources are clean. A run over the limit still writes and reconciles everything;
then it fails naming the source, its worst days, the counts and the top reasons. Both limits use
this one judgement: the ingest job's (jobs.writing.summarize, records quarantined at ingest) and
validation's (expectations.validate.validate_days, rows failing the Great Expectations checks).

An operator who has looked at a day's quarantine can accept it (`teamlens accept-bad-rows
--source S --day D --reason TEXT`): recorded with who, when and why in the lake
(reports/accepted-bad-rows.json), the source-day is left out of the limit from then on and still
reported. Messages carry counts and reasons, never a value of a record.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from foundation import lake

TOP_REASONS = 3
WORST_DAYS = 3


def accepted_file(data_lake: lake.Lake) -> Path:
    """Where the accepted source-days are recorded (never deleted by retention: not a day file)."""
    return data_lake.reports / "accepted-bad-rows.json"


def accepted_days(data_lake: lake.Lake) -> list[dict[str, str]]:
    """Every acceptance recorded: {source, day, reason, by, at}, oldest first."""
    path = accepted_file(data_lake)
    if not path.is_file():
        return []
    entries = json.loads(path.read_text(encoding="utf-8"))
    return list(entries.get("accepted", []))


def accepted_pairs(data_lake: lake.Lake) -> set[tuple[str, str]]:
    """The accepted (source, ISO day) pairs, which over_limit leaves out."""
    return {(a["source"], a["day"]) for a in accepted_days(data_lake)}


def accept(data_lake: lake.Lake, source: str, day: dt.date, reason: str, by: str) -> dict[str, str]:
    """Record that `by` accepts the quarantined records of source on day, and why. Run it under the
    run lock (the command does), so that two acceptances never overwrite each other."""
    if not reason.strip():
        raise ValueError("say why the day's quarantined records are acceptable (--reason)")
    entry = {
        "source": source,
        "day": day.isoformat(),
        "reason": reason.strip(),
        "by": by,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    lake.write_json_atomic(accepted_file(data_lake), {"accepted": [*accepted_days(data_lake), entry]})
    return entry


def over_limit(
    table: str, reports: Sequence[Mapping[str, Any]], limit: float, accepted: set[tuple[str, str]]
) -> list[str]:
    """One sentence per source of the table whose quarantined share over the run's days (accepted
    source-days left out) is above limit; empty when every source is within it."""
    per_source: dict[str, dict[str, Any]] = {}
    for report in reports:
        sections = report.get("sources") or {table: report}
        for source, section in sections.items():
            agg = per_source.setdefault(source, {"read": 0, "quarantined": 0, "days": [], "reasons": {}, "ok": []})
            if (source, report["day"]) in accepted:
                agg["ok"].append(report["day"])
                continue
            read, quarantined = int(section["read"]), int(section["quarantined"])
            agg["read"] += read
            agg["quarantined"] += quarantined
            agg["days"].append((report["day"], quarantined, read))
            for reason, n in (section.get("quarantine_reasons") or {}).items():
                agg["reasons"][reason] = agg["reasons"].get(reason, 0) + int(n)
    sentences = []
    for source, agg in sorted(per_source.items()):
        read, quarantined = agg["read"], agg["quarantined"]
        if not read or quarantined / read <= limit:
            continue
        worst = sorted((d for d in agg["days"] if d[1]), key=lambda d: (-d[1] / max(d[2], 1), d[0]))[:WORST_DAYS]
        reasons = sorted(agg["reasons"].items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
        accepted_note = f"; accepted days left out: {', '.join(agg['ok'])}" if agg["ok"] else ""
        sentences.append(
            f"{table} source {source}: {quarantined} of {read} records quarantined over {len(agg['days'])} day(s) "
            f"({quarantined / read:.1%}), above {limit:.1%}; worst days: "
            + ", ".join(f"{d} ({q} of {n})" for d, q, n in worst)
            + "; top reasons: "
            + ", ".join(f"{r} ({n})" for r, n in reasons)
            + accepted_note
        )
    return sentences
