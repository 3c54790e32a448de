"""Export a staffing forecast: a WFM import file (Calabrio's forecast format) and a plain CSV.

Calabrio's forecast import (docs/staffing.md, The WFM export): no header, UTF-8, comma-separated,
sorted by skill, one line per interval:

    skill,start (yyyyMMdd HH:mm),end (yyyyMMdd HH:mm),volume,average task seconds,after task work seconds

The skill is the queue; the dates are those of one target week in the queue's site-local time;
the volume is the published offered contacts per occurrence of the interval; average task time is
the AHT less the average after-call work, which goes in the last column. Intervals without a
number (an AHT too noisy to publish) are left out and counted. The staffing CSV holds every row
of `teamlens staffing --json`, with a header.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from foundation.lake import replace_file_atomic
from teamlens.staffing import StaffingRow, row_json

CALABRIO_TIME = "%Y%m%d %H:%M"
CALABRIO_SKILL_MAX = 50  # Calabrio's skill name is a string of at most 50 characters


@dataclass(frozen=True)
class ExportedFiles:
    """What an export wrote, and how many intervals the WFM file left out (no number)."""

    forecast: Path
    staffing: Path
    left_out: int


def parse_week(text: str) -> dt.date:
    """The Monday of an ISO week written YYYY-Www (e.g. 2026-W45); ValueError says the format."""
    try:
        year, _, week = text.strip().upper().partition("-W")
        return dt.date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO week: write YYYY-Www, e.g. 2026-W45") from None


def week_after(window_end: dt.date) -> dt.date:
    """The Monday of the first whole week after a window ending (exclusively) on `window_end`."""
    return window_end + dt.timedelta(days=(7 - window_end.weekday()) % 7)


def week_name(monday: dt.date) -> str:
    """'2026-W45'."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _decimal(value: float) -> str:
    return f"{value:.2f}"


def calabrio_lines(rows: list[StaffingRow], week_monday: dt.date) -> tuple[list[str], int]:
    """The forecast file's lines (sorted by skill, then interval) and the count of rows left out."""
    lines: list[tuple[str, dt.datetime, str]] = []
    left_out = 0
    for row in rows:
        if row.volume is None or row.aht_seconds is None:
            left_out += 1
            continue
        if len(row.queue) > CALABRIO_SKILL_MAX or any(c in row.queue for c in ',;"\r\n'):
            raise ValueError(
                f"queue {row.queue!r} cannot be a Calabrio skill name (at most {CALABRIO_SKILL_MAX} characters, "
                "no comma, semicolon, quote or line break): rename it in the policy's planning block"
            )
        start = row.interval.start_on(week_monday)
        end = start + dt.timedelta(minutes=row.interval_minutes)
        after_work = row.acw_seconds if row.acw_seconds is not None else 0.0
        task = max(0.0, row.aht_seconds - after_work)
        text = ",".join(
            (
                row.queue,
                start.strftime(CALABRIO_TIME),
                end.strftime(CALABRIO_TIME),
                _decimal(row.volume),
                _decimal(task),
                _decimal(after_work),
            )
        )
        lines.append((row.queue, start, text))
    return [text for _, _, text in sorted(lines)], left_out


def staffing_csv(rows: list[StaffingRow]) -> str:
    """Every staffing row as CSV with a header: the columns of `teamlens staffing --json`."""
    out = io.StringIO()
    records = [row_json(r) for r in rows]
    columns = list(row_json(rows[0])) if rows else []
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in record.items()} for record in records)
    return out.getvalue()


def _write_text(path: Path, text: str) -> None:
    """Write UTF-8 text as is (no newline translation), atomically: a reader never sees half a file."""

    def write(temporary: Path) -> None:
        temporary.write_text(text, encoding="utf-8", newline="")

    replace_file_atomic(path, write)


def write_exports(rows: list[StaffingRow], folder: Path, window_name: str, week_monday: dt.date) -> ExportedFiles:
    """Write `forecast-calabrio-<week>.csv` and `staffing-<window>.csv` into `folder` (atomically)."""
    lines, left_out = calabrio_lines(rows, week_monday)
    folder.mkdir(parents=True, exist_ok=True)
    forecast = folder / f"forecast-calabrio-{week_name(week_monday)}.csv"
    staffing = folder / f"staffing-{window_name}.csv"
    _write_text(forecast, "".join(line + "\n" for line in lines))
    _write_text(staffing, staffing_csv(rows))
    return ExportedFiles(forecast, staffing, left_out)
