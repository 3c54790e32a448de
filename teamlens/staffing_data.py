"""Read a planning release's published figures for staffing (the warehouse or its snapshot).

A planning release publishes, per queue (group_by 'queue') and window, `offered_contacts@<interval>`
for every interval of the week, and `aht_seconds` and `average_acw_seconds` of the window
(docs/staffing.md). Its recorded parameters name each queue's site (`queue_sites`), the interval
length (`interval_minutes`) and whether offered contacts were counted exactly or with noise
(`offered`). Only `current_aggregates` (the latest release of each window) and `releases` are read:
published figures of groups, never anything per agent.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from foundation.intervals import SEPARATOR, parse_interval_statistic
from teamlens.staffing import ACW, AHT, OFFERED, Published, QueuePlanning
from warehouse.store import fetch_dicts, has_table

if TYPE_CHECKING:
    import duckdb

NOTHING_PUBLISHED = "no planning release published yet: run the pipeline for a complete month"


class NoPlanningError(LookupError):
    """No planning figures to staff from (none published, or none for the window, queue or site asked)."""


@dataclass(frozen=True)
class PlanningWindow:
    """A published window of a planning release."""

    release_name: str
    window_start: dt.date
    window_end: dt.date

    @property
    def month(self) -> str:
        """'2026-10': how --window names it."""
        return f"{self.window_start:%Y-%m}"


def planning_windows(con: duckdb.DuckDBPyConnection) -> list[PlanningWindow]:
    """The windows of planning releases (per queue, with offered contacts per interval), oldest first."""
    if not has_table(con, "current_aggregates"):
        return []
    rows = con.execute(
        "SELECT DISTINCT release_name, window_start, window_end FROM current_aggregates "
        "WHERE group_by = 'queue' AND starts_with(statistic, ?) ORDER BY window_start, release_name",
        [OFFERED + SEPARATOR],
    ).fetchall()
    return [PlanningWindow(str(name), start, end) for name, start, end in rows]


def choose_window(windows: list[PlanningWindow], month: str | None) -> PlanningWindow:
    """The window of `month` (YYYY-MM), or the latest one; NoPlanningError says what exists."""
    if not windows:
        raise NoPlanningError(NOTHING_PUBLISHED)
    if month is None:
        return windows[-1]
    found = [w for w in windows if w.month == month]
    if not found:
        published = ", ".join(dict.fromkeys(w.month for w in windows))
        raise NoPlanningError(f"no planning release for the window {month}: published windows are {published}")
    return found[-1]


def _parameters(con: duckdb.DuckDBPyConnection, window: PlanningWindow) -> dict[str, Any]:
    row = con.execute(
        "SELECT r.parameters FROM releases r WHERE r.release_id = ("
        "SELECT any_value(release_id) FROM current_aggregates WHERE release_name = ? AND window_start = ? "
        "AND window_end = ?)",
        [window.release_name, window.window_start, window.window_end],
    ).fetchone()
    parameters: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
    return parameters


def load_planning(
    con: duckdb.DuckDBPyConnection, month: str | None = None, queue: str | None = None, site: str | None = None
) -> tuple[PlanningWindow, list[QueuePlanning]]:
    """The chosen window and its queues' planning figures (alphabetical), filtered by queue or site."""
    window = choose_window(planning_windows(con), month)
    parameters = _parameters(con, window)
    queue_sites: dict[str, str] = parameters.get("queue_sites", {})
    minutes = int(parameters.get("interval_minutes", 30))
    offered_mode = str(parameters.get("offered", "exact"))
    rows = fetch_dicts(
        con,
        "SELECT group_value, statistic, value, ci_low, ci_high FROM current_aggregates "
        "WHERE release_name = ? AND window_start = ? AND window_end = ? AND group_by = 'queue' "
        "ORDER BY group_value, statistic",
        [window.release_name, window.window_start, window.window_end],
    )
    figures: dict[str, dict[str, Published]] = {}
    for r in rows:
        figures.setdefault(r["group_value"], {})[r["statistic"]] = Published(r["value"], r["ci_low"], r["ci_high"])
    queues = []
    for name, stats in sorted(figures.items()):
        queue_site = queue_sites.get(name, "")
        if (queue is not None and name != queue) or (site is not None and queue_site != site):
            continue
        offered = {}
        for statistic, figure in stats.items():
            parsed = parse_interval_statistic(statistic)
            if parsed is not None and parsed[0] == OFFERED:
                offered[parsed[1]] = figure
        queues.append(
            QueuePlanning(
                queue=name,
                site=queue_site,
                release_name=window.release_name,
                window_start=window.window_start,
                window_end=window.window_end,
                interval_minutes=minutes,
                offered_mode=offered_mode,
                offered=offered,
                aht=stats.get(AHT),
                acw=stats.get(ACW),
            )
        )
    if not queues:
        asked = " and ".join(f"{k} {v!r}" for k, v in (("queue", queue), ("site", site)) if v is not None)
        known = ", ".join(f"{q} ({queue_sites.get(q, '?')})" for q in sorted(figures))
        raise NoPlanningError(f"no planning figures for {asked} in {window.month}: published queues are {known}")
    return window, queues
