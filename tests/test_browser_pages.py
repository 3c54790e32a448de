"""Every page of the dashboard, and the monthly statement, in a real browser (headless Chromium).

One tiny center for the module (tests/conftest.py write_dashboard_center: Team Nord and Team
Sued of 10 agents, Team Klein of 4, all in Berlin), published through the real publish path
under a policy of team_day and site_day (rho 1 a window each, monthly cap rho 7): four March
days, so team_day publishes 4 windows, site_day 3 and its fourth is refused (rho 8 > 7); Team
Klein is under the minimum of 10 and never published. The statement of March 2026 is written
(and recorded in the ledger) before the server starts.

Each page must answer 200, show its main figures with their intervals (the exact text the
stored values format to) and charts with marks, log no console error, request nothing from any
other host (every request is routed; others are aborted and fail the test), and name no agent
(assert_no_identities over its text and markup); a full-page screenshot goes to
var/screenshots/. The last test publishes April days while a loop requests pages: every answer
is 200 and afterwards the footer names the new ledger head.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from teamlens import pipeline
from teamlens.dashboard import figures as fg
from teamlens.labels import window_label
from teamlens.statement import write_statement
from tests.conftest import (
    DASHBOARD_SITE_DAY,
    DASHBOARD_TEAM_DAY,
    start_dashboard,
    stop_dashboard,
    write_dashboard_center,
    write_dashboard_days,
)
from tests.helpers import assert_no_identities
from warehouse.snapshot import open_snapshot

pytestmark = pytest.mark.browser

MARCH = [dt.date(2026, 3, 9) + dt.timedelta(days=d) for d in range(4)]
APRIL = [dt.date(2026, 4, 6) + dt.timedelta(days=d) for d in range(3)]
CAP = "7"
FOOTER = re.compile(r"ledger (\d+) entries, head ([0-9a-f]{12})")
# Marks drawn inside a chart: vl-convert writes each mark group as <g class="mark-... role-mark">.
CHART_MARKS = "svg g.role-mark > *"


@dataclass
class Center:
    """The module's center: its settings, the server's base URL and the March statement's HTML."""

    settings: Any
    base: str
    statement_html: Path


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    root = tmp_path_factory.mktemp("browser-center") / "data"
    settings = write_dashboard_center(root, MARCH, [DASHBOARD_TEAM_DAY, DASHBOARD_SITE_DAY], cap=CAP)
    assert pipeline.publish_releases([d.isoformat() for d in MARCH], settings) == {
        "windows": 8,
        "released": 7,
        "refused": 1,
    }
    statement = write_statement(settings, "2026-03", today=dt.date(2026, 4, 1))
    base, process = start_dashboard(settings, root.parent)
    try:
        yield Center(settings, base, statement.html)
    finally:
        stop_dashboard(process)


def stored_figure(settings: Any, release: str, group: str, statistic: str) -> fg.Figure:
    """The latest window's figure of `group` as the snapshot stores it."""
    with open_snapshot(settings.lake.published_snapshot_path) as (con, _):
        rows = con.execute(
            "SELECT * FROM current_aggregates WHERE release_name = ? ORDER BY window_start, group_value, statistic",
            [release],
        )
        names = [d[0] for d in rows.description]
        found = [dict(zip(names, r, strict=True)) for r in rows.fetchall()]
    figs = [f for f in fg.figures(found) if f.group == group and f.statistic == statistic]
    return max(figs, key=lambda f: f.window_start)


def snapshot_head(settings: Any) -> tuple[int, str]:
    with open_snapshot(settings.lake.published_snapshot_path) as (_, info):
        return info.ledger_entries, info.ledger_head


def figure_row(f: fg.Figure) -> list[str]:
    """A figure's row as the release page's table shows it (no note: it reads as it is)."""
    return [
        f.window,
        f.group,
        str(f.roster_size),
        fg.format_number(f.value, f.unit),
        fg.format_interval(f.ci_low, f.ci_high, f.unit),
        "",
    ]


def table_rows(page: Any, selector: str) -> list[list[str]]:
    """The body rows of the table at `selector`, as the browser shows their cells."""
    rows: list[list[str]] = page.eval_on_selector_all(
        f"{selector} tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))"
    )
    return rows


def chart_marks(page: Any, selector: str = "body") -> int:
    return int(page.locator(f"{selector} {CHART_MARKS}").count())


# --- what each page must show -----------------------------------------------------------------


def check_overview(page: Any, text: str, c: Center) -> None:
    rows = table_rows(page, "table.figures")
    assert [r[0] for r in rows] == ["site_day", "team_day"]  # alphabetical, never ranked
    assert rows[1][1:] == [
        "daily workload per team",
        "per team and day",
        "rho 1 per agent and window (zCDP)",
        "4",
        "Mon 9 Mar 2026",
        "Thu 12 Mar 2026",
    ]
    assert rows[0][4:] == ["3", "Mon 9 Mar 2026", "Wed 11 Mar 2026"]


def check_team_release(page: Any, text: str, c: Center) -> None:
    contacts = stored_figure(c.settings, "team_day", "Team Nord", "contacts_handled")
    assert contacts.window == "Thu 12 Mar 2026" and contacts.roster_size == 10
    assert figure_row(contacts) in table_rows(page, "#contacts_handled table")
    aht = stored_figure(c.settings, "team_day", "Team Sued", "aht_seconds")
    assert figure_row(aht) in table_rows(page, "#aht_seconds table")
    assert re.search(r"\[\d+:\d\d, \d+:\d\d\]", fg.format_interval(aht.ci_low, aht.ci_high, aht.unit))
    # Each figure: the latest window with its intervals, and the trend with its bands.
    assert chart_marks(page, "#contacts_handled") >= 4
    assert page.locator("#contacts_handled svg").count() == 2
    # The comparisons come precomputed: the latest window against the previous, teams against Berlin.
    changes = table_rows(page, "#changes table")
    assert ["Team Nord", "Contacts handled", "Thu 12 Mar 2026"] == changes[1][:3]
    assert {r[2] for r in table_rows(page, "#team-vs-site table")} == {"Berlin"}
    assert "Team Klein (4 agents in the roster, 4 windows)" in page.inner_text("#groups")
    assert "Team Klein" not in page.inner_text("#contacts_handled")  # suppressed: no figure, no chart


def check_site_release(page: Any, text: str, c: Center) -> None:
    contacts = stored_figure(c.settings, "site_day", "Berlin", "contacts_handled")
    assert contacts.window == "Wed 11 Mar 2026" and contacts.roster_size == 24
    assert figure_row(contacts) in table_rows(page, "#contacts_handled table")
    assert chart_marks(page, "#contacts_handled") >= 2
    assert "Every group of this release was published." in text


def check_council(page: Any, text: str, c: Center) -> None:
    assert "Version 1, approved by works council (test agreement)" in text
    assert "2026-03: rho 7 of the monthly cap 7 (7 releases)." in text
    assert "Verified now: intact (10 entries)." in text
    assert "Refusal" in text and "site_day, Thu 12 Mar 2026" in text


def check_policy(page: Any, text: str, c: Center) -> None:
    rows = table_rows(page, "table.rules")
    assert [r[0] for r in rows] == ["team_day", "site_day"]
    assert "contacts_handled (at most 60)" in rows[0][4] and rows[0][5] == "rho 1"
    assert "Monthly cap per agent" in text and "rho 7" in text


def check_budget(page: Any, text: str, c: Center) -> None:
    assert table_rows(page, "main table") == [["2026-03", "rho 7", "7", "100%", "7", "within the cap"]]
    assert chart_marks(page) >= 2  # the month's bar and the cap's mark


def check_ledger(page: Any, text: str, c: Center) -> None:
    assert "Release (7)" in text and "Refusal (1)" in text and "Monthly statement (1)" in text
    assert "it would exceed the privacy budget (period 2026-03: spent rho 7 + requested 1 = 8 > cap 7)" in text
    assert "not published, too few agents: Team Klein (4 agents)" in text


def check_verify(page: Any, text: str, c: Center) -> None:
    entries, head = snapshot_head(c.settings)
    assert "Verified now: the ledger is intact." in text
    assert f"ledger ok: {entries} entries chained from genesis to head {head}" in text


def check_statement(page: Any, text: str, c: Center) -> None:
    words = " ".join(text.split())
    assert "Privacy statement for March 2026" in words
    for day in MARCH:  # the release register: team_day's four windows, site_day's three
        window = window_label(day, day + dt.timedelta(days=1))
        assert f"team_day {window} 2 0 / 1 rho 1" in words
        assert (f"site_day {window} 1 0 / 0 rho 1" in words) == (day != MARCH[-1])
    assert "each agent's budget spent rho 7 of the monthly cap 7 (7 releases): within the cap" in words
    assert f"site_day, {window_label(MARCH[-1], MARCH[-1] + dt.timedelta(days=1))} not released" in words
    assert chart_marks(page) >= 2  # the budget per month against the cap


PAGES: dict[str, tuple[str, Callable[[Any, str, Center], None]]] = {
    "figures": ("/", check_overview),
    "release-team_day": ("/release/team_day", check_team_release),
    "release-site_day": ("/release/site_day", check_site_release),
    "council": ("/council/", check_council),
    "council-policy": ("/council/policy", check_policy),
    "council-budget": ("/council/budget", check_budget),
    "council-ledger": ("/council/ledger", check_ledger),
    "council-verify": ("/council/verify", check_verify),
    "statement": ("", check_statement),  # a file: opened as file://
}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_its_figures_offline_and_names_no_agent(
    name: str, center: Center, browser: Any, screenshots: Path
) -> None:
    path, check = PAGES[name]
    url = center.statement_html.as_uri() if name == "statement" else center.base + path
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def only_the_page_itself(route: Any) -> None:
        request_url = route.request.url
        if request_url.startswith(center.base + "/") or request_url == url:
            route.continue_()
        else:
            elsewhere.append(request_url)
            route.abort()

    page.route("**/*", only_the_page_itself)
    try:
        response = page.goto(url, wait_until="networkidle")
        assert response is not None and response.status in ((200,) if name != "statement" else (0, 200)), name
        text = page.inner_text("body")
        check(page, text, center)
        if name != "statement":
            entries, head = snapshot_head(center.settings)
            assert f"ledger {entries} entries, head {head[:12]}" in text  # which snapshot it shows
        assert_no_identities(text, center.settings)
        assert_no_identities(page.content(), center.settings)  # the markup too: attributes, hidden text
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    finally:
        page.close()
    assert elsewhere == []  # nothing from a CDN or any other host: the pages work offline
    assert errors == []


def test_a_csv_download_holds_exactly_the_table_shown(center: Center, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto(center.base + "/release/team_day", wait_until="networkidle")
        shown = table_rows(page, "#contacts_handled table")
        columns = page.eval_on_selector_all(
            "#contacts_handled table thead th", "ths => ths.map(t => t.innerText.trim())"
        )
        link = page.get_attribute("#contacts_handled p.download a", "href")
        assert link == "/release/team_day/contacts_handled.csv"
        response = page.request.get(center.base + link)
        assert response.status == 200
        downloaded = list(csv.reader(io.StringIO(response.text())))
    finally:
        page.close()
    assert len(shown) == 8  # two teams, four days
    assert downloaded == [columns, *shown]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return int(answer.status), answer.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_pages_keep_answering_while_the_pipeline_publishes(center: Center, browser: Any) -> None:
    """April's days published one at a time (each commit then a new snapshot) while a loop reads
    pages: every answer is 200, the ledger they show never goes back, and the footer ends at the
    new head. Runs last in the module: it adds to the module's center."""
    settings = center.settings
    entries_before, _ = snapshot_head(settings)
    write_dashboard_days(settings, APRIL)
    answers: list[tuple[str, int, int]] = []
    done = threading.Event()
    paths = ["/", "/release/team_day", "/council/", "/council/budget", "/council/verify"]

    def read_in_a_loop() -> None:
        k = 0
        while not done.is_set():
            path = paths[k % len(paths)]
            status, body = fetch(center.base + path)
            found = FOOTER.search(body)
            answers.append((path, status, int(found[1]) if found else -1))
            k += 1

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    try:
        for day in APRIL:
            assert pipeline.publish_releases([day.isoformat()], settings) == {"windows": 2, "released": 2}
        entries_after, head_after = snapshot_head(settings)
        deadline = time.monotonic() + 20
        while not any(seen == entries_after for _, _, seen in answers[-3:]) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        done.set()
        reader.join(timeout=60)
    assert [a for a in answers if a[1] != 200] == []
    seen = [entries for _, _, entries in answers]
    assert entries_after == entries_before + 2 * len(APRIL)
    assert len(answers) >= 3 and seen == sorted(seen) and seen[-1] == entries_after
    assert len(set(seen)) >= 2  # the loop read during the publishing, not only before or after it
    page = browser.new_page()
    try:
        page.goto(center.base + "/", wait_until="networkidle")
        assert f"ledger {entries_after} entries, head {head_after[:12]}" in page.inner_text("footer")
        [team_day] = [r for r in table_rows(page, "table.figures") if r[0] == "team_day"]
        assert (team_day[4], team_day[6]) == (str(len(MARCH) + len(APRIL)), "Wed 8 Apr 2026")
    finally:
        page.close()
