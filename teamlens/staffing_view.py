"""The staffing view of the report: required agents per queue as a week (times of day x weekdays).

Computed from the published planning figures with the default targets (teamlens.staffing:
80/20, shrinkage 0.3, maximum occupancy 0.85); `teamlens staffing` takes other targets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from teamlens.labels import window_label
from teamlens.staffing import StaffingTarget, staffing_rows, week_grid
from teamlens.tables import console, table

if TYPE_CHECKING:
    from teamlens.staffing_data import QueueService

TITLE = "Staffing from published figures"


def service_text(service: QueueService | None) -> str:
    """'achieved in week 42 of 2026 (12 Oct - 18 Oct 2026): service level 78.0% within 20 s, abandoned
    4.1%, ASA 18 s, 1,234 offered' from a queue's published service figures; '' without any."""
    if service is None:
        return ""
    f = service.figures
    parts = []
    if "service_level" in f:
        within = f" within {service.threshold_seconds} s" if service.threshold_seconds is not None else ""
        parts.append(f"service level {100 * f['service_level']:.1f}%{within}")
    if "abandon_rate" in f:
        parts.append(f"abandoned {100 * f['abandon_rate']:.1f}%")
    if "asa_seconds" in f:
        parts.append(f"ASA {f['asa_seconds']:.0f} s")
    if "offered" in f:
        parts.append(f"{f['offered']:,.0f} offered")
    return f"achieved in {window_label(service.window_start, service.window_end)}: {', '.join(parts)}"


def print_staffing_section(warehouse_path: Path) -> None:
    """The report's staffing section; nothing when no planning release has been published."""
    from teamlens.staffing_data import load_planning, load_service, planning_windows
    from warehouse.store import connect

    if not warehouse_path.exists():
        return
    con = connect(warehouse_path, read_only=True)
    try:
        if not planning_windows(con):
            return
        window, queues = load_planning(con)
        achieved = load_service(con, window)
    finally:
        con.close()
    target = StaffingTarget.parse()
    print()
    print(f"{TITLE} ({window.release_name}, {window_label(window.window_start, window.window_end)}):")
    print(
        f"  agents to schedule per interval, Erlang C at {target.label}; (low-high): the range the published "
        "95% intervals of volume and AHT allow"
    )
    print("  (`teamlens staffing` for other targets, every interval's volume and AHT, and the WFM export)")
    for planning in queues:
        rows = staffing_rows(planning, target)
        notes = sorted({r.note for r in rows if r.note})
        columns, grid = week_grid(rows)
        site = f" ({planning.site})" if planning.site else ""
        if grid:
            console().print(table(columns, grid, right=columns[1:], title=f"{planning.queue}{site}"))
        elif not notes:
            print(f"  {planning.queue}{site}: no contacts offered in the window")
        for note in notes:
            print(f"  {planning.queue}: no number where {note}")
        print(f"  {planning.queue}: AHT from {planning.aht_source or 'no published figure'}")
        if planning.queue in achieved:
            print(f"  {planning.queue}: {service_text(achieved[planning.queue])} (target {target.label.split(',')[0]})")
