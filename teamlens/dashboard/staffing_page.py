"""The managers' staffing page: required agents per queue and interval of the week, with ranges.

`/staffing` computes Erlang C (teamlens.staffing) from the published planning figures of the
snapshot's latest planning window, with the default targets or those of the query string
(`?service_level=80/20&shrinkage=0.3&max_occupancy=0.85`): per queue a heat map of the agents to
schedule by weekday and time of day, a table of 'required (low-high)', where its AHT comes from,
and what the queue achieved in its latest published service week. `/staffing.csv` is the
staffing CSV of every row (teamlens.staffing_export). Figures of queues only, nothing per agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from teamlens.dashboard.charts import to_svg
from teamlens.dashboard.pages import reader, render
from teamlens.labels import window_label
from teamlens.staffing import (
    DAY_NAMES,
    DEFAULT_MAX_OCCUPANCY,
    DEFAULT_SERVICE_LEVEL,
    DEFAULT_SHRINKAGE,
    QueuePlanning,
    StaffingRow,
    StaffingTarget,
    clock,
    staffing_rows,
    week_grid,
)
from teamlens.staffing_data import NoPlanningError, PlanningWindow, QueueService, load_planning, load_service
from teamlens.staffing_export import staffing_csv
from teamlens.staffing_view import service_text

router = APIRouter()


def heat_map(rows: list[StaffingRow]) -> Any:
    """Agents to schedule by weekday (columns) and time of day (rows); the tooltip gives the range."""
    import altair as alt

    opening = {r.interval.start_minute for r in rows if r.required}
    points = [
        {
            "day": DAY_NAMES[r.interval.weekday],
            "time": clock(r.interval.start_minute),
            "required": r.required,
            "range": f"{r.required_low}-{r.required_high}",
        }
        for r in rows
        if r.required is not None and r.interval.start_minute in opening
    ]
    times = sorted({clock(r.interval.start_minute) for r in rows if r.interval.start_minute in opening})
    return (
        alt.Chart(alt.Data(values=points))
        .mark_rect()
        .encode(
            x=alt.X("day:O", sort=list(DAY_NAMES), title=None),
            y=alt.Y("time:O", sort=times, title="interval start (site-local)"),
            color=alt.Color("required:Q", title="agents", scale=alt.Scale(scheme="blues")),
            tooltip=["day:O", "time:O", "required:Q", "range:N"],
        )
        .properties(width=7 * 46, height=max(60, 12 * len(times)))
    )


def _target(request: Request) -> StaffingTarget:
    query = request.query_params
    try:
        return StaffingTarget.parse(
            query.get("service_level", DEFAULT_SERVICE_LEVEL),
            query.get("shrinkage", DEFAULT_SHRINKAGE),
            query.get("max_occupancy", DEFAULT_MAX_OCCUPANCY),
        )
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


@dataclass
class Staffing:
    """What the page shows: the snapshot, the window (None with `missing` saying why) and each queue's rows."""

    snapshot: Any
    target: StaffingTarget
    window: PlanningWindow | None = None
    missing: str = ""
    queues: list[tuple[QueuePlanning, list[StaffingRow]]] = field(default_factory=list)
    achieved: dict[str, QueueService] = field(default_factory=dict)  # each queue's latest service figures


def _staffing(request: Request) -> Staffing:
    target = _target(request)
    with reader(request).snapshot() as (con, info):
        try:
            window, queues = load_planning(con)
        except NoPlanningError as exc:
            return Staffing(info, target, missing=str(exc))
        achieved = load_service(con, window)
    return Staffing(info, target, window, queues=[(q, staffing_rows(q, target)) for q in queues], achieved=achieved)


@router.get("/staffing", response_class=HTMLResponse)
def staffing(request: Request) -> HTMLResponse:
    """Required agents per queue and interval of the week, from published figures only."""
    found = _staffing(request)
    if found.window is None:
        return render(request, "staffing.html", {"snapshot": found.snapshot, "missing": found.missing})
    queues = []
    for planning, rows in found.queues:
        columns, grid = week_grid(rows)
        queues.append(
            {
                "name": planning.queue,
                "site": planning.site,
                "svg": to_svg(heat_map(rows)) if grid else "",
                "columns": columns,
                "grid": grid,
                "notes": sorted({r.note for r in rows if r.note}),
                "offered": planning.offered_mode,
                "aht_source": planning.aht_source,
                "achieved": service_text(found.achieved.get(planning.queue)),
            }
        )
    context = {
        "snapshot": found.snapshot,
        "missing": "",
        "window": window_label(found.window.window_start, found.window.window_end),
        "release_name": found.window.release_name,
        "target": found.target.label,
        "service_target": found.target.service_label,
        "queues": queues,
    }
    return render(request, "staffing.html", context)


@router.get("/staffing.csv")
def staffing_table(request: Request) -> Response:
    """Every staffing row as CSV (the columns of `teamlens staffing --json`)."""
    found = _staffing(request)
    if found.window is None:
        raise HTTPException(status_code=404, detail=found.missing)
    text = staffing_csv([row for _, rows in found.queues for row in rows])
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="staffing-{found.window.name}.csv"'},
    )
