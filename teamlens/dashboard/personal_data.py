"""What a personal page shows: one agent's agent-day rows (restricted) beside their groups'
published figures of the same month.

The deliberate exception to "the dashboard reads only the published snapshot" (docs/architecture.md,
docs/privacy.md): for the holder of an agent's token, and only for that agent's pseudonym, the
restricted metrics table agent_day is read. Nothing here reads or returns another agent's row:
`known_pseudonyms` reads only the pseudonym column (to find whose token it is), `agent_rows` keeps
only the rows of the one pseudonym, and the published figures are those managers see.

The agent's own figures are computed as the releases compute theirs: sums over the days, and
ratios as a sum over a sum (average handle time = handle time / contacts handled, occupancy =
handle / (handle + available without a contact), adherence = time in adherence / scheduled time;
the formulas of docs/metrics.md), so a month of theirs reads like a month of their team's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from foundation import lake, schema
from foundation.settings import Settings
from teamlens.dashboard import figures as fg
from warehouse.store import fetch_dicts, has_table

# The figures of the agent's own table: statistic -> (numerator, denominator parts) or None for a sum.
OWN_FIGURES: dict[str, tuple[str, tuple[str, ...]] | None] = {
    "contacts_handled": None,
    "handle_seconds": None,
    "aht_seconds": ("handle_seconds", ("contacts_handled",)),
    "occupancy": ("handle_seconds", ("handle_seconds", "available_idle_seconds")),
    "adherence": ("in_adherence_seconds", ("scheduled_seconds",)),
}
# Ratios a release may publish, beyond those above (the schema's formulas).
OTHER_RATIOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "conformance": ("worked_seconds", ("scheduled_work_seconds",)),
    "transfer_rate": ("transfers_out", ("contacts_handled",)),
    "average_hold_seconds": ("hold_seconds", ("contacts_held",)),
}
# Columns of a day's row on the page: the sums and the row's own ratios as agent_day holds them.
DAY_COLUMNS = ("contacts_handled", "handle_seconds", "aht_seconds", "occupancy", "adherence")


def _partition_frames(settings: Settings) -> list[pl.LazyFrame]:
    root = settings.lake.table_root(schema.AGENT_DAY)
    frames = []
    for day in lake.partition_days(root):
        files = lake.data_files(lake.partition(root, day))
        if files:
            frames.append(pl.scan_parquet(files).with_columns(pl.lit(day).alias("day")))
    return frames


def known_pseudonyms(settings: Settings) -> list[str]:
    """Every pseudonym agent_day holds (only that column is read), to find whose token a link is."""
    frames = [f.select("agent_pseudonym") for f in _partition_frames(settings)]
    if not frames:
        return []
    found = pl.concat(frames).unique().collect()
    return sorted(str(p) for p in found["agent_pseudonym"].to_list())


def agent_rows(settings: Settings, pseudonym: str) -> pl.DataFrame:
    """The agent's agent_day rows (day first), and nobody else's."""
    frames = [f.filter(pl.col("agent_pseudonym") == pseudonym) for f in _partition_frames(settings)]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed").collect().sort("day")


def months_of(rows: pl.DataFrame) -> list[str]:
    """The months (YYYY-MM) the rows fall in, oldest first."""
    if rows.is_empty():
        return []
    return sorted({d.strftime("%Y-%m") for d in rows["day"].to_list()})


def month_days(month: str) -> tuple[dt.date, dt.date]:
    """[first day, first day of the next month) of a YYYY-MM month (ValueError when it is not one)."""
    first = dt.datetime.strptime(month, "%Y-%m").date()
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, following


def between(rows: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """The rows of the days [start, end)."""
    if rows.is_empty():
        return rows
    return rows.filter((pl.col("day") >= start) & (pl.col("day") < end))


def _sum(rows: pl.DataFrame, column: str) -> float | None:
    if rows.is_empty() or column not in rows.columns:
        return None
    return float(rows[column].fill_null(0).sum())


def own_value(rows: pl.DataFrame, statistic: str) -> float | None:
    """The agent's figure over the rows: a sum, or a ratio of sums; None when it cannot be computed."""
    ratio = OWN_FIGURES.get(statistic) or OTHER_RATIOS.get(statistic)
    if ratio is None:
        return _sum(rows, statistic)
    numerator = _sum(rows, ratio[0])
    parts = [_sum(rows, part) for part in ratio[1]]
    if numerator is None or any(p is None for p in parts):
        return None
    denominator = sum(p for p in parts if p is not None)
    return numerator / denominator if denominator > 0 else None


def is_ratio(statistic: str) -> bool:
    return OWN_FIGURES.get(statistic) is not None or statistic in OTHER_RATIOS


def own_figures(rows: pl.DataFrame) -> list[dict[str, str]]:
    """The agent's month as the page shows it: figure and value."""
    return [
        {
            "label": fg.statistic_label(s),
            "value": fg.format_number(own_value(rows, s), fg.statistic_unit(s, is_ratio(s))),
        }
        for s in OWN_FIGURES
    ]


def own_days(rows: pl.DataFrame) -> list[list[str]]:
    """One line per day: day, team, and DAY_COLUMNS ('-' where agent_day has no value)."""
    lines = []
    for row in rows.to_dicts():
        cells = [row["day"].isoformat(), str(row.get("team") or "-")]
        for column in DAY_COLUMNS:
            unit = fg.statistic_unit(column, is_ratio(column))
            value = own_value(pl.DataFrame([row]), column) if column == "aht_seconds" else row.get(column)
            cells.append(fg.format_number(None if value is None else float(value), unit))
        lines.append(cells)
    return lines


@dataclass(frozen=True)
class Beside:
    """A published figure of the agent's team or site, with the agent's own value of the same days."""

    figure: fg.Figure
    yours: str


def _merged_into(con: Any, release_name: str, window_start: dt.date, teams: set[str]) -> set[str]:
    if not teams or not has_table(con, "merged_groups"):
        return set()
    rows = fetch_dicts(
        con,
        "SELECT DISTINCT merged_into FROM merged_groups WHERE release_name = ? AND window_start = ? "
        "AND list_contains(?, group_value)",
        [release_name, window_start, sorted(teams)],
    )
    return {str(r["merged_into"]) for r in rows}


def published_beside(con: Any, rows: pl.DataFrame, month: str) -> list[Beside]:
    """The published figures (current_aggregates, as managers see them) of every team or site
    release whose window starts in the month, for the groups the agent was in on those days (a
    team merged into a pool: the pool), each with the agent's own value over the same days; the
    team's first, each window's figures in the managers' order."""
    from teamlens.dashboard.managers import current_rows

    first, following = month_days(month)
    names = fetch_dicts(
        con,
        "SELECT DISTINCT release_name, group_by FROM releases WHERE status = 'released' "
        "AND group_by IN ('team', 'site') AND window_start >= ? AND window_start < ? ORDER BY release_name",
        [first, following],
    )
    out = []
    for release in names:
        name, group_by = str(release["release_name"]), str(release["group_by"])
        for figure in fg.figures(current_rows(con, name)):
            if not first <= figure.window_start < following:
                continue
            days = between(rows, figure.window_start, figure.window_end)
            if days.is_empty():
                continue
            groups = {str(g) for g in days[group_by].to_list()}
            if group_by == "team":
                groups |= _merged_into(con, name, figure.window_start, groups)
            if figure.group in groups:
                yours = fg.format_number(own_value(days, figure.statistic), figure.unit)
                out.append(Beside(figure, yours))
    order = list(fg.STATISTICS)

    def place(b: Beside) -> tuple[bool, str, dt.date, int, str]:  # the team first, then the site
        f = b.figure
        known = order.index(f.statistic) if f.statistic in order else len(order)
        return (f.group_by != "team", f.release_name, f.window_start, known, f.statistic)

    return sorted(out, key=place)
