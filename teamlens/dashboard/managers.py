"""The managers' pages: published figures of groups with their 95% intervals, trends and comparisons.

- `/`: the releases: purpose, grain (group and window), budget, windows published.
- `/release/{name}`: per statistic, the latest window's figures as a chart with their intervals, the
  trend over windows (a line per group with its interval band) and a table; the latest window
  against the previous one and, for teams, against their site (teamlens.dashboard.figures);
  merged, suppressed and corrected groups and windows explained.
- Every table has a CSV download of exactly its rows and cells (`.../csv` routes).

Nothing per agent, no ranking (groups alphabetical), nothing live: only the published snapshot.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from foundation.intervals import SEPARATOR
from foundation.policy import BOUNDS_SUGGESTION_PREFIX
from teamlens import published
from teamlens.dashboard import figures as fg
from teamlens.dashboard.charts import to_svg
from teamlens.dashboard.manager_charts import trend_chart, window_chart
from teamlens.dashboard.pages import reader, render
from teamlens.labels import window_label
from warehouse.store import fetch_dicts

router = APIRouter()

# The windows a release page shows (tables, charts and CSV alike): the latest ones.
SHOWN_WINDOWS = 12


@dataclass
class Table:
    """A table as shown: column names, rows of display cells, and each row's note (greyed when set)."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    greyed: list[bool] = field(default_factory=list)

    def add(self, cells: list[str], greyed: bool = False) -> None:
        self.rows.append(cells)
        self.greyed.append(greyed)

    def csv(self, filename: str) -> Response:
        """The table as CSV: the same columns and cells as the page shows."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


# --- reads -----------------------------------------------------------------------------------


def release_overview(con: Any) -> list[dict[str, Any]]:
    """One row per release name (bounds suggestions left out): its latest release's purpose, grain,
    budget and policy version; the windows published and the corrections."""
    rows = fetch_dicts(
        con,
        "SELECT release_name, arg_max(purpose, released_at) AS purpose, arg_max(group_by, released_at) AS group_by, "
        "arg_max(budget_unit, released_at) AS budget_unit, "
        "arg_max(budget_amount_exact, released_at) AS budget_amount, "
        "arg_max(policy_version, released_at) AS policy_version, "
        "arg_max(window_start, released_at) AS some_start, arg_max(window_end, released_at) AS some_end, "
        "count(DISTINCT window_start) AS windows, min(window_start) AS first_start, "
        "arg_min(window_end, window_start) AS first_end, max(window_start) AS last_start, "
        "arg_max(window_end, window_start) AS last_end, count(*) FILTER (WHERE correction > 0) AS corrections "
        "FROM releases WHERE status = 'released' GROUP BY release_name ORDER BY release_name",
    )
    return [r for r in rows if not str(r["release_name"]).startswith(BOUNDS_SUGGESTION_PREFIX)]


def overview_table(releases: list[dict[str, Any]]) -> Table:
    table = Table(["Release", "Purpose", "Grain", "Budget", "Windows published", "First window", "Latest window"])
    for r in releases:
        corrected = f" ({r['corrections']} corrected)" if r["corrections"] else ""
        table.add(
            [
                r["release_name"],
                r["purpose"],
                fg.grain(r["group_by"], r["some_start"], r["some_end"]),
                fg.budget_words(r["budget_unit"], r["budget_amount"]),
                f"{r['windows']}{corrected}",
                window_label(r["first_start"], r["first_end"]),
                window_label(r["last_start"], r["last_end"]),
            ]
        )
    return table


def current_rows(con: Any, release_name: str) -> list[dict[str, Any]]:
    """A release's current figures; those per interval of the week (name@mon-09:30) are on /staffing."""
    return fetch_dicts(
        con,
        "SELECT * FROM current_aggregates WHERE release_name = ? AND NOT contains(statistic, ?) "
        "ORDER BY window_start, group_value, statistic",
        [release_name, SEPARATOR],
    )


def team_sites(con: Any, release_name: str) -> dict[str, str]:
    """team -> site, as the release's parameters record it (group_parents); {} when they do not."""
    found: dict[str, str] = {}
    for (parameters,) in con.execute(
        "SELECT parameters FROM releases WHERE release_name = ? ORDER BY released_at", [release_name]
    ).fetchall():
        found |= json.loads(parameters).get("group_parents", {})
    return found


def site_figures(con: Any) -> list[fg.Figure]:
    """The figures of every release per site (what a team is compared with)."""
    names = [r[0] for r in con.execute("SELECT DISTINCT release_name FROM releases WHERE group_by = 'site'").fetchall()]
    return [f for name in names for f in fg.figures(current_rows(con, name))]


# --- tables ----------------------------------------------------------------------------------


def figure_table(figs: list[fg.Figure]) -> Table:
    table = Table(["Window", "Group", "Agents in roster", "Value", "95% interval", "Note"])
    for f in sorted(figs, key=lambda f: (f.window_start, f.group)):
        notes = [f.note] if f.note else []
        if f.correction:
            notes.append(f"correction {f.correction}: published again after late data")
        table.add(
            [
                f.window,
                f.group,
                str(f.roster_size),
                fg.format_number(f.value, f.unit),
                fg.format_interval(f.ci_low, f.ci_high, f.unit),
                "; ".join(notes),
            ],
            greyed=f.greyed,
        )
    return table


def changes_table(changes: list[fg.Comparison]) -> Table:
    table = Table(["Group", "Figure", "Latest window", "Value", "Previous window", "Value", "Change", "How"])
    for c in changes:
        table.add(
            [
                c.first.group,
                fg.statistic_label(c.first.statistic),
                c.first.window,
                fg.format_number(c.first.value, c.unit),
                c.second.window,
                fg.format_number(c.second.value, c.unit),
                fg.comparison_words(c),
                fg.METHOD_WORDS[c.method],
            ],
            greyed=c.first.greyed or c.second.greyed,
        )
    return table


def site_table(comparisons: list[fg.Comparison]) -> Table:
    table = Table(["Window", "Team", "Site", "Figure", "Team value", "Site value", "Team against site", "How"])
    for c in comparisons:
        table.add(
            [
                c.first.window,
                c.first.group,
                c.second.group,
                fg.statistic_label(c.first.statistic),
                fg.format_number(c.first.value, c.unit),
                fg.format_number(c.second.value, c.unit),
                fg.comparison_words(c),
                fg.METHOD_WORDS[c.method],
            ],
            greyed=c.first.greyed or c.second.greyed,
        )
    return table


@dataclass
class ReleasePage:
    """Everything a release page shows, read in one short snapshot connection."""

    info: dict[str, Any]
    figures: list[fg.Figure]
    tables: dict[str, Table]  # statistic (or 'changes', 'team-vs-site') -> its table
    merged: list[dict[str, Any]]
    suppressed: list[dict[str, Any]]
    corrections: list[dict[str, Any]]
    has_team_sites: bool


def release_page(con: Any, name: str) -> ReleasePage:
    """The page data of one release name (HTTP 404 when it has published nothing)."""
    info = next((r for r in release_overview(con) if r["release_name"] == name), None)
    rows = current_rows(con, name)
    if info is None or not rows:
        raise HTTPException(status_code=404, detail="no such release")
    figs = fg.last_windows(fg.figures(rows), SHOWN_WINDOWS)
    distribution = fg.noise_distribution(info["budget_unit"])
    tables = {s: figure_table([f for f in figs if f.statistic == s]) for s in fg.statistics_of(figs)}
    tables["changes"] = changes_table(fg.window_changes(figs, distribution))
    sites = team_sites(con, name) if info["group_by"] == "team" else {}
    if sites:
        tables["team-vs-site"] = site_table(fg.team_vs_site(figs, site_figures(con), sites, distribution))
    return ReleasePage(
        info=info,
        figures=figs,
        tables=tables,
        merged=published.merged_groups(con, name),
        suppressed=published.suppressed_groups(con, name),
        corrections=[
            c | {"window": window_label(c["window_start"], c["window_end"])} for c in published.corrections(con, name)
        ],
        has_team_sites=bool(sites),
    )


def min_group_size(request: Request) -> int | None:
    """The policy's minimum group size, to explain suppressed and merged groups (None if unreadable)."""
    from foundation.policy import PolicyError, load_policy

    try:
        return load_policy(reader(request).settings.policy_path).min_group_size
    except (OSError, PolicyError):  # the explanation then names no number
        return None


# --- routes ----------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """The releases managers can read: purpose, grain, budget and the windows published."""
    with reader(request).snapshot() as (con, info):
        releases = release_overview(con)
    return render(request, "index.html", {"snapshot": info, "releases": releases, "table": overview_table(releases)})


@router.get("/releases.csv")
def index_csv(request: Request) -> Response:
    with reader(request).snapshot() as (con, _):
        return overview_table(release_overview(con)).csv("releases.csv")


@router.get("/release/{name}", response_class=HTMLResponse)
def release(request: Request, name: str) -> HTMLResponse:
    """One release: charts, tables and comparisons of its figures."""
    with reader(request).snapshot() as (con, info):
        page = release_page(con, name)
    sections = []
    for statistic in fg.statistics_of(page.figures):
        figs = [f for f in page.figures if f.statistic == statistic]
        latest = max(f.window_start for f in figs)
        latest_figs = [f for f in figs if f.window_start == latest]
        sections.append(
            {
                "statistic": statistic,
                "label": fg.statistic_label(statistic),
                "unit": fg.UNIT_WORDS[figs[0].unit],
                "latest": latest_figs[0].window,
                "window_svg": to_svg(window_chart(latest_figs, statistic)),
                "trend_svg": to_svg(trend_chart(figs, statistic)) if len({f.window_start for f in figs}) > 1 else "",
                "table": page.tables[statistic],
            }
        )
    context = {
        "snapshot": info,
        "page": page,
        "info": page.info,
        "grain": fg.grain(page.info["group_by"], page.info["some_start"], page.info["some_end"]),
        "budget": fg.budget_words(page.info["budget_unit"], page.info["budget_amount"]),
        "sections": sections,
        "changes": page.tables["changes"],
        "team_vs_site": page.tables.get("team-vs-site"),
        "shown_windows": SHOWN_WINDOWS,
        "windows_shown": len({f.window_start for f in page.figures}),
        "min_group_size": min_group_size(request),
    }
    return render(request, "release.html", context)


@router.get("/release/{name}/{table}.csv")
def release_csv(request: Request, name: str, table: str) -> Response:
    """A table of a release page as CSV: a statistic's figures, 'changes' or 'team-vs-site'."""
    with reader(request).snapshot() as (con, _):
        page = release_page(con, name)
    if table not in page.tables:
        raise HTTPException(status_code=404, detail="no such table")
    return page.tables[table].csv(f"{name}-{table}.csv")
