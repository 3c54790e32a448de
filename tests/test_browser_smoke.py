"""The dashboard in a real browser: headless Chromium loads every page of a running `teamlens dashboard`.

The tiny center (tests/conftest.py write_dashboard_center) is published through the real publish
step, which writes the snapshot the server reads. Each page must load (HTTP 200), say which
snapshot it shows, request nothing from another host (the app works offline), and name no agent
(tests/helpers.py assert_no_identities); a screenshot of each goes to var/screenshots/.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from teamlens import pipeline
from tests.helpers import assert_no_identities
from warehouse.snapshot import open_snapshot

DAY = dt.date(2026, 3, 9)
PAGES = {"figures": "/", "council": "/council/"}


@pytest.mark.browser
def test_every_page_loads_in_chromium_and_names_no_agent(
    dashboard_center, dashboard_server, browser: Any, screenshots: Path
) -> None:
    settings = dashboard_center([DAY])
    pipeline.publish_releases([DAY.isoformat()], settings)
    with open_snapshot(settings.lake.published_snapshot_path) as (_, info):
        head = info.ledger_head[:12]
    base = dashboard_server(settings)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else elsewhere.append(r.url))
    try:
        for name, path in PAGES.items():
            response = page.goto(base + path, wait_until="networkidle")
            assert response is not None and response.status == 200, name
            text = page.inner_text("body")
            assert f"head {head}" in text, name  # the footer says which snapshot the page shows
            assert_no_identities(text, settings)
            assert_no_identities(page.content(), settings)  # the markup too: attributes, hidden text
            page.screenshot(path=str(screenshots / f"smoke-{name}.png"), full_page=True)
    finally:
        page.close()
    assert elsewhere == []  # nothing loaded from a CDN or any other host


def test_the_identity_check_finds_every_kind_of_name(dashboard_center) -> None:
    """assert_no_identities, which the page tests rely on, catches each way a page could name an agent."""
    from foundation.roster import read_roster

    settings = dashboard_center([])
    agent = read_roster(settings)[3]
    assert_no_identities("Team Nord, Berlin: 812 contacts (790 to 834)", settings)
    for leak in (
        agent.agent_pseudonym,
        agent.agent_pseudonym[:8],
        "EMP-70004",
        "Pieter Weber",
        "PIETER.Q3",
        "ws-ber-0003",
    ):
        with pytest.raises(AssertionError, match="the text names agents"):
            assert_no_identities(f"figures ... {leak} ...", settings)
