"""Read a planning release's published figures for staffing (the warehouse or its snapshot).

A planning release publishes, per queue (group_by 'queue') and window, `offered_contacts@<interval>`
for every interval of the week, and `aht_seconds` and `average_acw_seconds` of the window
(docs/staffing.md). Its recorded parameters name each queue's site (`queue_sites`), the interval
length (`interval_minutes`) and whether offered contacts were counted exactly or with noise
(`offered`). Only `current_aggregates` (the latest release of each window) and `releases` are read:
published figures of groups, never anything per agent.

A window is a month (YYYY-MM) or an ISO week (YYYY-Www); the default is the latest published
planning window of any length (the one ending last; a month before a week ending the same day).
The average handle time (and after-call work) of a queue is the best published figure, in this
order (docs/staffing.md, Where the handle time comes from), and `aht_source` names it:
1. the queue's own `aht_seconds` in the window's planning release;
2. else the queue's in the latest monthly planning release whose window ends at or before the
   window's end (a weekly counts-only release publishes no handle time);
3. else the site's `aht_seconds` of the same window (site_week_contacts_aht for a week,
   site_month_service for a month; the narrowest interval when several releases publish it),
   which has no after-call work.
A figure too noisy to publish does not count; the required agents' range uses the chosen
figure's interval.
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
    def name(self) -> str:
        """'2026-10' for a month, '2026-W42' for an ISO week: how --window names it."""
        return window_name(self.window_start, self.window_end)


def window_name(start: dt.date, end: dt.date) -> str:
    """A window [start, end) as --window writes it: 'YYYY-MM', 'YYYY-Www', else 'start..last day'."""
    if end - start == dt.timedelta(days=7) and start.isoweekday() == 1:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if is_month(start, end):
        return f"{start:%Y-%m}"
    return f"{start}..{end - dt.timedelta(days=1)}"


def is_month(start: dt.date, end: dt.date) -> bool:
    """Whether [start, end) is a calendar month."""
    return start.day == 1 and end.day == 1 and (end.year * 12 + end.month) - (start.year * 12 + start.month) == 1


def planning_windows(con: duckdb.DuckDBPyConnection) -> list[PlanningWindow]:
    """The windows of planning releases (per queue, with offered contacts per interval), oldest first:
    by the end, a week before a month ending the same day (the month holds more of each interval)."""
    if not has_table(con, "current_aggregates"):
        return []
    rows = con.execute(
        "SELECT DISTINCT release_name, window_start, window_end FROM current_aggregates "
        "WHERE group_by = 'queue' AND starts_with(statistic, ?) "
        "ORDER BY window_end, window_start DESC, release_name",
        [OFFERED + SEPARATOR],
    ).fetchall()
    return [PlanningWindow(str(name), start, end) for name, start, end in rows]


def choose_window(windows: list[PlanningWindow], name: str | None) -> PlanningWindow:
    """The window named YYYY-MM or YYYY-Www, or the latest one; NoPlanningError says what exists."""
    if not windows:
        raise NoPlanningError(NOTHING_PUBLISHED)
    if name is None:
        return windows[-1]
    found = [w for w in windows if w.name == name.strip().upper()]
    if not found:
        published = ", ".join(dict.fromkeys(w.name for w in windows))
        raise NoPlanningError(
            f"no planning release for the window {name} (write YYYY-MM or YYYY-Www): published windows are {published}"
        )
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


def _usable(figure: Published | None) -> bool:
    return figure is not None and figure.usable


def handle_time(
    con: duckdb.DuckDBPyConnection, window: PlanningWindow, queue: str, site: str, own: dict[str, Published]
) -> tuple[Published | None, Published | None, str]:
    """A queue's (AHT, ACW, where they come from) for the window, in the order of the module docstring.
    When no usable figure is published: the own AHT if it was too noisy (its note says so), and ''."""
    if _usable(own.get(AHT)):
        return own[AHT], own.get(ACW), f"{window.release_name} {window.name} (queue)"
    monthly = fetch_dicts(
        con,
        "SELECT release_name, window_start, window_end, statistic, value, ci_low, ci_high FROM current_aggregates "
        "WHERE group_by = 'queue' AND group_value = ? AND statistic IN (?, ?) AND window_end <= ? "
        "ORDER BY window_end DESC, release_name",
        [queue, AHT, ACW, window.window_end],
    )
    by_window: dict[tuple[str, dt.date, dt.date], dict[str, Published]] = {}
    for r in monthly:
        if is_month(r["window_start"], r["window_end"]):
            key = (r["release_name"], r["window_start"], r["window_end"])
            by_window.setdefault(key, {})[r["statistic"]] = Published(r["value"], r["ci_low"], r["ci_high"])
    for (release, start, end), stats in by_window.items():  # latest first
        if _usable(stats.get(AHT)):
            return stats[AHT], stats.get(ACW), f"{release} {window_name(start, end)} (queue)"
    site_rows = fetch_dicts(
        con,
        "SELECT release_name, value, ci_low, ci_high FROM current_aggregates WHERE group_by = 'site' "
        "AND group_value = ? AND statistic = ? AND window_start = ? AND window_end = ? AND value IS NOT NULL "
        "AND ci_low IS NOT NULL AND ci_high IS NOT NULL ORDER BY ci_high - ci_low, release_name LIMIT 1",
        [site, AHT, window.window_start, window.window_end],
    )
    if site_rows:
        r = site_rows[0]
        return (
            Published(r["value"], r["ci_low"], r["ci_high"]),
            None,
            f"{r['release_name']} {window.name} (site {site})",
        )
    return own.get(AHT), None, ""


def load_planning(
    con: duckdb.DuckDBPyConnection, window_asked: str | None = None, queue: str | None = None, site: str | None = None
) -> tuple[PlanningWindow, list[QueuePlanning]]:
    """The chosen window and its queues' planning figures (alphabetical), filtered by queue or site."""
    window = choose_window(planning_windows(con), window_asked)
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
        aht, acw, source = handle_time(con, window, name, queue_site, stats)
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
                aht=aht,
                acw=acw,
                aht_source=source,
            )
        )
    if not queues:
        asked = " and ".join(f"{k} {v!r}" for k, v in (("queue", queue), ("site", site)) if v is not None)
        known = ", ".join(f"{q} ({queue_sites.get(q, '?')})" for q in sorted(figures))
        raise NoPlanningError(f"no planning figures for {asked} in {window.name}: published queues are {known}")
    return window, queues


# --- what the queues achieved: the service figures (privacy/queue_service.py) ------------------------

SERVICE_STATISTICS = ("offered", "abandon_rate", "service_level", "asa_seconds")


@dataclass(frozen=True)
class QueueService:
    """A queue's published service figures of one window (exact counts and their ratios)."""

    release_name: str
    window_start: dt.date
    window_end: dt.date
    figures: dict[str, float]
    threshold_seconds: int | None  # the service-level threshold the counts used (the settings')


def load_service(con: duckdb.DuckDBPyConnection, window: PlanningWindow) -> dict[str, QueueService]:
    """Per queue, the latest service figures of a window ending at or before the planning window's end
    (the week staffed, or the last week of a month); none before the first service release."""
    if not has_table(con, "current_aggregates"):
        return {}
    rows = fetch_dicts(
        con,
        "SELECT c.release_name, c.window_start, c.window_end, c.group_value, c.statistic, c.value, r.parameters "
        "FROM current_aggregates c JOIN releases r USING (release_id) WHERE c.group_by = 'queue' "
        "AND c.window_end <= ? AND c.value IS NOT NULL AND list_contains(?, c.statistic) AND c.release_name IN "
        "(SELECT release_name FROM current_aggregates WHERE group_by = 'queue' AND statistic = 'service_level') "
        "ORDER BY c.window_end DESC, c.release_name",
        [window.window_end, list(SERVICE_STATISTICS)],
    )
    out: dict[str, QueueService] = {}
    for r in rows:
        found = out.get(r["group_value"])
        if found is None:
            threshold = json.loads(r["parameters"] or "{}").get("service_level_seconds")
            found = QueueService(r["release_name"], r["window_start"], r["window_end"], {}, threshold)
            out[r["group_value"]] = found
        if (found.release_name, found.window_start) == (r["release_name"], r["window_start"]):
            found.figures[r["statistic"]] = float(r["value"])
    return out
