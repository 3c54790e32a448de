"""The staffing view where managers read figures: the report's section and the dashboard's /staffing.

Hand-made planning figures (tests/test_staffing.py explains the numbers): queue Support (Berlin)
needs 20 agents (19-20) on Mondays 09:00-09:30 and 12 (12-12) on Thursdays 14:30-15:00; queue
Sales (Toronto) has an AHT too noisy to publish.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest

from foundation.intervals import WeekInterval, interval_statistic, week_intervals
from foundation.settings import Settings
from teamlens.staffing_view import print_staffing_section
from tests.conftest import publish_planning_rows
from warehouse.snapshot import write_snapshot

OCTOBER = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
SITES = {"Support": "Berlin", "Sales": "Toronto"}


def figures() -> dict[str, dict[str, tuple[float, float, float] | None]]:
    support: dict[str, tuple[float, float, float] | None] = {
        interval_statistic("offered_contacts", i): (0.0, 0.0, 0.0) for i in week_intervals(30)
    }
    support[interval_statistic("offered_contacts", WeekInterval(0, 540))] = (400.0, 400.0, 400.0)
    support[interval_statistic("offered_contacts", WeekInterval(3, 870))] = (250.0, 250.0, 250.0)
    support |= {"aht_seconds": (180.0, 170.0, 190.0), "average_acw_seconds": (30.0, 25.0, 35.0)}
    support |= {"contacts_handled": (640.0, 600.0, 680.0)}
    sales = {interval_statistic("offered_contacts", WeekInterval(0, 540)): (40.0, 40.0, 40.0), "aht_seconds": None}
    return {"Support": support, "Sales": sales}


def test_the_report_shows_each_queue_as_a_week_of_required_agents(settings: Settings, capsys: Any) -> None:
    print_staffing_section(settings.lake.warehouse_path)
    assert capsys.readouterr().out == ""  # nothing published: no section
    publish_planning_rows(settings.lake.warehouse_path, OCTOBER, figures(), SITES)
    print_staffing_section(settings.lake.warehouse_path)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "Staffing from published figures (queue_month_planning, October 2026):"
    assert "Erlang C at 80/20, shrinkage 0.3, maximum occupancy 0.85" in lines[2]
    assert [line.split() for line in lines if line.startswith(("09:00", "14:30"))] == [
        ["09:00-09:30", "20", "(19-20)", *["0", "(0-0)"] * 6],
        ["14:30-15:00", *["0", "(0-0)"] * 3, "12", "(12-12)", *["0", "(0-0)"] * 3],
    ]
    assert "  Sales: no number where the average handle time was too noisy to publish" in lines
    assert "  Support: AHT from queue_month_planning 2026-10 (queue)" in lines
    assert "  Sales: AHT from no published figure" in lines
    assert not any("Sales" in line and "09:00-09:30" in line for line in lines)


# A queue's service figures of the last week of October (privacy/queue_service.py), exact.
SERVICE_WEEK = (dt.date(2026, 10, 19), dt.date(2026, 10, 26))
ACHIEVED = {"offered": 1234.0, "abandon_rate": 0.041, "service_level": 0.78, "asa_seconds": 18.2}


def publish_service(settings: Settings) -> None:
    figures = {"Support": {k: (v, v, v) for k, v in ACHIEVED.items()}}
    publish_planning_rows(
        settings.lake.warehouse_path,
        SERVICE_WEEK,
        figures,  # type: ignore[arg-type]
        SITES,
        release_name="queue_week_service",
        extra_parameters={"service_level_seconds": 20},
    )


ACHIEVED_TEXT = (
    "achieved in week 43 of 2026 (19 Oct - 25 Oct 2026): service level 78.0% within 20 s, abandoned 4.1%, "
    "ASA 18 s, 1,234 offered"
)


def test_the_report_shows_what_each_queue_achieved_against_the_target(settings: Settings, capsys: Any) -> None:
    publish_planning_rows(settings.lake.warehouse_path, OCTOBER, figures(), SITES)
    publish_service(settings)
    print_staffing_section(settings.lake.warehouse_path)
    lines = capsys.readouterr().out.splitlines()
    assert f"  Support: {ACHIEVED_TEXT} (target 80/20)" in lines
    assert not any(line.startswith("  Sales: achieved") for line in lines)  # no service figures for Sales


@pytest.fixture
def client(settings: Settings) -> Any:
    from fastapi.testclient import TestClient

    from teamlens.dashboard.app import create_app

    publish_planning_rows(settings.lake.warehouse_path, OCTOBER, figures(), SITES)
    publish_service(settings)
    write_snapshot(settings.lake.warehouse_path, settings.lake.published_snapshot_path)
    return TestClient(create_app(settings))


def test_the_staffing_page_shows_required_agents_with_ranges_per_queue(client: Any) -> None:
    overview = client.get("/")
    assert overview.status_code == 200 and 'href="/staffing"' in overview.text
    page = client.get("/staffing")
    assert page.status_code == 200
    text = page.text
    assert "Agents to schedule per queue and half-hour of the week in October 2026" in text
    assert "targets 80/20, shrinkage 0.3, maximum occupancy 0.85" in text
    assert 'Support <span class="unit">(Berlin, site-local time)</span>' in text
    assert '<td>09:00-09:30</td><td class="num">20 (19-20)</td>' in text
    assert '<td class="num">12 (12-12)</td>' in text
    assert "No number where the average handle time was too noisy to publish." in text
    assert "<svg" in text  # the heat map
    assert "counted exactly" in text
    assert "Average handle time from queue_month_planning 2026-10 (queue)" in text
    assert "Average handle time from no published figure" in text  # Sales: its AHT too noisy
    assert f"Against the target 80/20: {ACHIEVED_TEXT}." in text
    other = client.get("/staffing?service_level=90/10&shrinkage=0&max_occupancy=0.9").text
    assert "targets 90/10, shrinkage 0, maximum occupancy 0.9" in other
    assert client.get("/staffing?shrinkage=1.5").status_code == 400


def test_the_staffing_csv_and_the_release_page_leave_intervals_to_the_staffing_page(client: Any) -> None:
    response = client.get("/staffing.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2 * 336
    monday = next(r for r in rows if r["queue"] == "Support" and r["interval"] == "mon-09:00")
    assert (monday["required"], monday["required_low"], monday["required_high"]) == ("20", "19", "20")
    assert monday["aht_source"] == "queue_month_planning 2026-10 (queue)"
    release = client.get("/release/queue_month_planning")
    assert release.status_code == 200
    assert "offered_contacts@" not in release.text and "Contacts handled" in release.text


def test_the_staffing_page_says_when_nothing_is_planned(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from teamlens.dashboard.app import create_app
    from warehouse.store import connect

    connect(settings.lake.warehouse_path).close()  # a warehouse without a planning release
    write_snapshot(settings.lake.warehouse_path, settings.lake.published_snapshot_path)
    client = TestClient(create_app(settings))
    page = client.get("/staffing")
    assert page.status_code == 200
    assert "no planning release published yet: run the pipeline for a complete month" in page.text
    assert client.get("/staffing.csv").status_code == 404
