"""`teamlens staffing`: required agents per queue and interval of the week, from published figures.

Reads only the warehouse's published planning figures (teamlens.staffing_data) and prints, for each
queue and interval, the contacts per interval, the AHT and the agents to schedule with their range
(docs/staffing.md); `--json` prints the rows, `--export DIR` writes the WFM forecast file and the
staffing CSV (teamlens.staffing_export).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from teamlens.user_errors import UserError


def _figure(value: float | None, low: float | None, high: float | None, digits: int) -> str:
    if value is None or low is None or high is None:
        return "-"
    return f"{value:,.{digits}f} [{low:,.{digits}f} - {high:,.{digits}f}]"


def cmd_staffing(
    queue: Annotated[str | None, typer.Option(help="Only this queue (as the policy's planning block names it).")] = (
        None
    ),
    site: Annotated[str | None, typer.Option(help="Only the queues of this site.")] = None,
    window: Annotated[
        str | None,
        typer.Option(
            metavar="YYYY-MM|YYYY-Www",
            help="The planning window, a month or an ISO week (default: the latest published of either).",
        ),
    ] = None,
    service_level: Annotated[
        str, typer.Option(metavar="PERCENT/SECONDS", help="Target: PERCENT of contacts answered within SECONDS.")
    ] = "80/20",
    shrinkage: Annotated[str, typer.Option(help="Share of paid time not on the phones (breaks, training).")] = "0.3",
    max_occupancy: Annotated[str, typer.Option(help="Highest share of time agents may spend on contacts.")] = "0.85",
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as a JSON list.")] = False,
    export: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Write the WFM forecast file (Calabrio format) and the staffing CSV here."),
    ] = None,
    week: Annotated[
        str | None,
        typer.Option(metavar="YYYY-Www", help="The week the WFM file's dates fall in (default: the week after)."),
    ] = None,
) -> int:
    """Required agents per queue and half-hour of the week (Erlang C) with ranges, from published figures only."""
    from foundation.settings import load_settings
    from teamlens.labels import window_label
    from teamlens.staffing import StaffingTarget, aht_sources, required_cell, row_json, staffing_rows
    from teamlens.staffing_data import NOTHING_PUBLISHED, NoPlanningError, load_planning
    from teamlens.staffing_export import parse_week, week_after, write_exports
    from teamlens.tables import console, table
    from warehouse.store import connect

    try:
        target = StaffingTarget.parse(service_level, shrinkage, max_occupancy)
        monday = parse_week(week) if week is not None else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    settings = load_settings()
    if not settings.lake.warehouse_path.exists():
        raise UserError(NOTHING_PUBLISHED)
    con = connect(settings.lake.warehouse_path, read_only=True)
    try:
        chosen, queues = load_planning(con, window, queue, site)
    except NoPlanningError as exc:
        raise UserError(str(exc)) from None
    finally:
        con.close()
    rows = [row for planning in queues for row in staffing_rows(planning, target)]
    if export is not None:
        target_week = monday or week_after(chosen.window_end)
        try:
            files = write_exports(rows, export, chosen.name, target_week)
        except (ValueError, OSError) as exc:
            raise UserError(f"not exported: {exc}") from None
    if as_json:
        print(json.dumps([row_json(r) for r in rows], indent=2))
    else:
        offered = queues[0].offered_mode
        mode = {"exact": "counted exactly", "noisy": "with DP noise"}.get(offered, offered)
        when = window_label(chosen.window_start, chosen.window_end)
        print(
            f"Staffing from published figures: {chosen.release_name}, {when}"
            f" (offered contacts {mode}, as the policy decides); targets {target.label}."
        )
        print("Required: agents to schedule (after shrinkage), with the range the published 95% intervals allow.")
        lines = [
            (
                r.queue,
                r.span_label,
                _figure(r.volume, r.volume_low, r.volume_high, 1),
                _figure(r.aht_seconds, r.aht_low, r.aht_high, 0),
                required_cell(r),
                r.note,
            )
            for r in rows
        ]
        headers = ("queue", "interval", "contacts per interval [95%]", "AHT s [95%]", "required (low-high)", "note")
        console().print(table(headers, lines, right=headers[2:5]))
        for source, names in aht_sources(rows).items():
            print(f"AHT from {source or 'no published figure'}: {', '.join(names)}")
    if export is not None:  # beside --json on stderr, so that stdout stays one JSON document
        out = sys.stderr if as_json else sys.stdout
        skipped = f"; {files.left_out} intervals without a number left out" if files.left_out else ""
        print(f"WFM forecast (Calabrio import format): {files.forecast}{skipped}", file=out, flush=True)
        print(f"Staffing rows (CSV): {files.staffing}", file=out, flush=True)
    return 0
