"""Staffing from published figures: Erlang C by hand, monotonicity, ranges, exact arithmetic, the
command's rows and the WFM export's exact lines.

The center of the command tests (published with the publish step's own writer, window October
2026: 4 Mondays, 5 Thursdays): queue Support (Berlin) with 400 contacts offered on Mondays
09:00-09:30 (100 per Monday), 250 on Thursdays 14:30-15:00 (50 per Thursday), none otherwise; AHT
180 s [170, 190], ACW 30 s [25, 35]. Worked by hand at 80/20, shrinkage 0.3, occupancy 0.85:
Monday 09:00 carries 100 x 180 / 1800 = 10 Erlang: 13 agents answer 79.6% within 20 s, 14 answer
88.8%, so 14 on the phones, 14 / 0.7 = 20 to schedule; at AHT 170 (9.44 Erlang) 13 suffice
(86.3%): 13 / 0.7 = 18.57 -> 19; at AHT 190 (10.56 Erlang) 14 (83.3%) -> 20. Queue Sales
(Toronto) has an AHT too noisy to publish: its rows say so and carry no number.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from foundation.intervals import WeekInterval, interval_statistic, week_intervals
from teamlens.cli import main
from teamlens.staffing import (
    Published,
    QueuePlanning,
    StaffingTarget,
    agents_needed,
    erlang_c,
    required_agents,
    service_level,
    staffing_rows,
    week_grid,
    weekday_occurrences,
    with_shrinkage,
)
from teamlens.staffing_export import calabrio_lines, parse_week, staffing_csv, week_after
from tests.conftest import publish_planning_rows

OCTOBER = (__import__("datetime").date(2026, 10, 1), __import__("datetime").date(2026, 11, 1))
MON_0900, THU_1430 = WeekInterval(0, 9 * 60), WeekInterval(3, 14 * 60 + 30)
TARGET = StaffingTarget.parse("80/20", "0.3", "0.85")


def textbook_erlang_c(traffic: float, agents: int) -> float:
    """Erlang C from its factorial formula, to check the recursion against."""
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    return top / (sum(traffic**k / math.factorial(k) for k in range(agents)) + top)


def test_erlang_c_matches_the_hand_computed_values() -> None:
    assert round(erlang_c(10, 11), 4) == 0.6821
    assert round(erlang_c(10, 14), 4) == 0.1741
    for traffic in (0.5, 3.0, 9.7, 25.0):
        for agents in range(math.floor(traffic) + 1, math.floor(traffic) + 12):
            assert erlang_c(traffic, agents) == pytest.approx(textbook_erlang_c(traffic, agents), rel=1e-9)
    assert erlang_c(10, 10) == 1.0  # the agents cannot carry the traffic: every contact waits
    assert 0 < erlang_c(800.0, 830) < 1  # large centers: no overflow (the recursion uses no factorials)


def test_the_agents_needed_meet_the_service_level_and_one_fewer_does_not() -> None:
    assert round(service_level(10, 13, 180, 20), 4) == 0.7956
    assert round(service_level(10, 14, 180, 20), 4) == 0.8884
    assert agents_needed(100, 180, 1800, TARGET) == 14
    assert required_agents(100, 180, 1800, TARGET) == 20
    assert agents_needed(0, 180, 1800, TARGET) == 0 and agents_needed(12, 0, 1800, TARGET) == 0


def test_the_occupancy_cap_and_shrinkage_are_exact() -> None:
    # 100 Erlang: 108 agents already answer 86.5% within 20 s, but 100 / 0.85 = 117.6 -> 118.
    assert service_level(100, 108, 180, 20) > 0.8
    assert agents_needed(1000, 180, 1800, TARGET) == 118
    # 17 Erlang at 50/60: 20 agents meet it (85.8%) and 17 / 0.85 = 20 exactly (no float 20.000...04).
    assert agents_needed(170, 180, 1800, StaffingTarget.parse("50/60", "0", "0.85")) == 20
    # 21 / (1 - 0.3) = 30 exactly; in floats 21 / 0.7 = 30.000000000000004 would round up to 31.
    assert math.ceil(21 / (1 - 0.3)) == 31
    assert with_shrinkage(21, Fraction(3, 10)) == 30
    assert with_shrinkage(14, Fraction(3, 10)) == 20
    assert with_shrinkage(13, Fraction(3, 10)) == 19


def test_required_agents_grow_with_volume_and_with_handle_time_over_a_grid() -> None:
    volumes = [0, 1, 5, 12.5, 30, 60, 100, 180, 400]
    handle_times = [30, 90, 170, 180, 190, 300, 600]
    for target in (TARGET, StaffingTarget.parse("90/10", "0", "0.95"), StaffingTarget.parse("70/60", "0.4", "1")):
        grid = [[agents_needed(v, a, 1800, target) for a in handle_times] for v in volumes]
        for i, row in enumerate(grid):
            assert row == sorted(row), (target, volumes[i])
        for j in range(len(handle_times)):
            column = [row[j] for row in grid]
            assert column == sorted(column), (target, handle_times[j])
        # the service level itself falls as the traffic rises for a fixed number of agents
        levels = [service_level(v * 180 / 1800, 60, 180, target.answer_seconds) for v in volumes]
        assert levels == sorted(levels, reverse=True)


def planning(offered: dict[WeekInterval, Published], aht: Published | None, minutes: int = 30) -> QueuePlanning:
    return QueuePlanning(
        queue="Support",
        site="Berlin",
        release_name="queue_month_planning",
        window_start=OCTOBER[0],
        window_end=OCTOBER[1],
        interval_minutes=minutes,
        offered_mode="noisy",
        offered=offered,
        aht=aht,
        acw=Published(30.0, 25.0, 35.0),
    )


def test_each_range_contains_its_point_value_and_noise_below_zero_counts_as_none() -> None:
    offered = {
        interval: Published(40.0 * (k % 9), 40.0 * (k % 9) - 60, 40.0 * (k % 9) + 60)
        for k, interval in enumerate(week_intervals(30))
    }
    rows = staffing_rows(planning(offered, Published(180.0, 150.0, 230.0)), TARGET)
    assert len(rows) == 336
    for row in rows:
        assert row.required_low is not None and row.required is not None and row.required_high is not None
        assert row.required_low <= row.required <= row.required_high
        assert row.volume_low is not None and row.volume_low >= 0  # a noisy count below 0 counts as no contact
    monday = rows[1]  # Monday 00:30: 40 offered [-20, 100] over 4 Mondays
    assert (monday.volume, monday.volume_low, monday.volume_high) == (10.0, 0.0, 25.0)
    assert monday.required_low == 0


def full_week(**published: Published) -> dict[WeekInterval, Published]:
    """Offered contacts of every interval: 0, except those named by label ('mon_09_00')."""
    offered = {i: Published(0.0, 0.0, 0.0) for i in week_intervals(30)}
    return offered | {
        i: published[i.label.replace("-", "_").replace(":", "_")]
        for i in offered
        if i.label.replace("-", "_").replace(":", "_") in published
    }


def test_an_aht_too_noisy_to_publish_gives_rows_that_say_why_without_a_number() -> None:
    offered = full_week(mon_09_00=Published(400.0, 400.0, 400.0))
    rows = staffing_rows(planning(offered, Published(None, None, None)), TARGET)
    assert {r.note for r in rows} == {"the average handle time was too noisy to publish"}
    assert {r.required for r in rows} == {None}
    assert staffing_rows(planning(offered, None), TARGET)[0].note == (
        "no published average handle time for this queue and window"
    )
    noisy = staffing_rows(
        planning(full_week(mon_09_00=Published(None, None, None)), Published(180.0, 170.0, 190.0)), TARGET
    )
    assert [r.note for r in noisy if r.note] == ["the offered contacts were too noisy to publish"]


def test_weekdays_are_counted_from_the_public_calendar() -> None:
    assert weekday_occurrences(*OCTOBER) == [4, 4, 4, 5, 5, 5, 4]


# --- the export ----------------------------------------------------------------------------------


def test_the_calabrio_file_has_exactly_these_lines() -> None:
    """Hourly intervals: Monday 09:00 carries 100 x 180 / 3600 = 5 Erlang: 8 agents (88.0% within 20 s;
    7 give 74.0%), 8 / 0.7 -> 12; Thursday 14:00 2.5 Erlang: 5 (90.1%; 4 give 72.9%) -> 8; Sunday 23:00
    0.1 Erlang: 1 (91.0%) -> 2. Task time is AHT less ACW: 180 - 30 = 150 s."""
    offered = {MON_0900: Published(400.0, 400.0, 400.0), WeekInterval(3, 14 * 60): Published(250.0, 250.0, 250.0)}
    offered[WeekInterval(6, 23 * 60)] = Published(8.0, 8.0, 8.0)  # Sunday 23:00-24:00: ends next Monday
    rows = staffing_rows(planning(offered, Published(180.0, 170.0, 190.0), minutes=60), TARGET)
    monday = week_after(OCTOBER[1])
    assert monday.isoformat() == "2026-11-02" and parse_week("2026-W45") == monday
    lines, left_out = calabrio_lines(rows, monday)
    assert lines == [
        "Support,20261102 09:00,20261102 10:00,100.00,150.00,30.00",
        "Support,20261105 14:00,20261105 15:00,50.00,150.00,30.00",
        "Support,20261108 23:00,20261109 00:00,2.00,150.00,30.00",
    ]
    assert left_out == 168 - 3  # intervals without published offered contacts are left out
    text = staffing_csv([r for r in rows if r.required is not None])
    assert text.splitlines() == [
        "queue,site,interval,interval_start,interval_end,volume,volume_low,volume_high,aht_seconds,aht_low,"
        "aht_high,acw_seconds,aht_source,agents_needed,required,required_low,required_high,note",
        "Support,Berlin,mon-09:00,Mon 09:00,Mon 10:00,100.0,100.0,100.0,180.0,170.0,190.0,30.0,,8,12,12,12,",
        "Support,Berlin,thu-14:00,Thu 14:00,Thu 15:00,50.0,50.0,50.0,180.0,170.0,190.0,30.0,,5,8,8,8,",
        "Support,Berlin,sun-23:00,Sun 23:00,Sun 24:00,2.0,2.0,2.0,180.0,170.0,190.0,30.0,,1,2,2,2,",
    ]
    with pytest.raises(ValueError, match="Calabrio skill name"):
        calabrio_lines([r.__class__(**{**r.__dict__, "queue": "a,b"}) for r in rows if r.volume], monday)


def test_a_week_not_written_yyyy_www_says_the_format() -> None:
    with pytest.raises(ValueError, match="YYYY-Www"):
        parse_week("2026-45")


# --- the command ---------------------------------------------------------------------------------


def october_figures() -> dict[str, dict[str, tuple[float, float, float] | None]]:
    support: dict[str, tuple[float, float, float] | None] = {
        interval_statistic("offered_contacts", i): (0.0, 0.0, 0.0) for i in week_intervals(30)
    }
    support[interval_statistic("offered_contacts", MON_0900)] = (400.0, 400.0, 400.0)
    support[interval_statistic("offered_contacts", THU_1430)] = (250.0, 250.0, 250.0)
    support |= {"aht_seconds": (180.0, 170.0, 190.0), "average_acw_seconds": (30.0, 25.0, 35.0)}
    support |= {"contacts_handled": (640.0, 600.0, 680.0), "handle_seconds": (115200.0, 110000.0, 120400.0)}
    sales = {interval_statistic("offered_contacts", MON_0900): (40.0, 40.0, 40.0), "aht_seconds": None}
    return {"Support": support, "Sales": sales}


@pytest.fixture
def center(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(root))
    from foundation.settings import load_settings

    warehouse = load_settings().lake.warehouse_path
    publish_planning_rows(warehouse, OCTOBER, october_figures(), {"Support": "Berlin", "Sales": "Toronto"})
    return root


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert main(["staffing", "--json", *argv]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return rows


def test_the_command_prints_a_row_per_queue_and_interval_from_published_figures(
    center: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = run_json(capsys)
    assert len(rows) == 2 * 336
    by_key = {(r["queue"], r["interval"]): r for r in rows}
    assert by_key[("Support", "mon-09:00")] == {
        "queue": "Support",
        "site": "Berlin",
        "interval": "mon-09:00",
        "interval_start": "Mon 09:00",
        "interval_end": "Mon 09:30",
        "volume": 100.0,
        "volume_low": 100.0,
        "volume_high": 100.0,
        "aht_seconds": 180.0,
        "aht_low": 170.0,
        "aht_high": 190.0,
        "acw_seconds": 30.0,
        "aht_source": "queue_month_planning 2026-10 (queue)",
        "agents_needed": 14,
        "required": 20,
        "required_low": 19,
        "required_high": 20,
        "note": "",
    }
    thursday = by_key[("Support", "thu-14:30")]
    assert (thursday["volume"], thursday["required"], thursday["required_low"], thursday["required_high"]) == (
        50.0,
        12,
        12,
        12,
    )
    assert by_key[("Support", "tue-03:00")]["required"] == 0
    sales = by_key[("Sales", "mon-09:00")]
    assert sales["required"] is None and sales["note"] == "the average handle time was too noisy to publish"
    assert [r["queue"] for r in run_json(capsys, "--site", "Toronto")] == ["Sales"] * 336
    assert {r["required"] for r in run_json(capsys, "--queue", "Support", "--shrinkage", "0")} == {0, 14, 8}


def test_the_table_and_the_export_of_the_command(center: Path, tmp_path: Path, capsys: Any) -> None:
    assert main(["staffing", "--queue", "Support", "--export", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "Staffing from published figures: queue_month_planning, October 2026 (offered contacts counted" in out
    assert "targets 80/20, shrinkage 0.3, maximum occupancy 0.85" in out
    line = next(x for x in out.splitlines() if "Mon 09:00-09:30" in x)
    assert line.split() == [
        *("Support", "Mon", "09:00-09:30", "100.0", "[100.0", "-", "100.0]", "180", "[170", "-", "190]"),
        *("20", "(19-20)"),
    ]
    forecast = (tmp_path / "out" / "forecast-calabrio-2026-W45.csv").read_text(encoding="utf-8").splitlines()
    assert len(forecast) == 336
    assert "Support,20261102 09:00,20261102 09:30,100.00,150.00,30.00" in forecast
    assert (tmp_path / "out" / "staffing-2026-10.csv").read_text(encoding="utf-8").count("\n") == 337


def test_clear_errors_when_nothing_or_not_that_is_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(tmp_path / "empty"))
    assert main(["staffing"]) == 2
    assert capsys.readouterr().err.strip() == (
        "teamlens: no planning release published yet: run the pipeline for a complete month"
    )
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(tmp_path / "data"))
    from foundation.settings import load_settings

    publish_planning_rows(load_settings().lake.warehouse_path, OCTOBER, october_figures(), {"Support": "Berlin"})
    assert main(["staffing", "--window", "2026-09"]) == 2
    assert "published windows are 2026-10" in capsys.readouterr().err
    assert main(["staffing", "--queue", "Billing"]) == 2
    assert "no planning figures for queue 'Billing' in 2026-10" in capsys.readouterr().err
    assert main(["staffing", "--service-level", "80"]) == 2
    assert "PERCENT/SECONDS" in capsys.readouterr().err


def test_the_week_grid_shows_opening_hours_with_ranges() -> None:
    offered = full_week(mon_09_00=Published(400.0, 400.0, 400.0), thu_14_30=Published(250.0, 250.0, 250.0))
    columns, grid = week_grid(staffing_rows(planning(offered, Published(180.0, 170.0, 190.0)), TARGET))
    assert columns == ["time", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert grid == [
        ["09:00-09:30", "20 (19-20)", "0 (0-0)", "0 (0-0)", "0 (0-0)", "0 (0-0)", "0 (0-0)", "0 (0-0)"],
        ["14:30-15:00", "0 (0-0)", "0 (0-0)", "0 (0-0)", "12 (12-12)", "0 (0-0)", "0 (0-0)", "0 (0-0)"],
    ]


# --- where the handle time comes from --------------------------------------------------------------

WEEK_42 = (dt.date(2026, 10, 12), dt.date(2026, 10, 19))
AUGUST, SEPTEMBER = (dt.date(2026, 8, 1), dt.date(2026, 9, 1)), (dt.date(2026, 9, 1), dt.date(2026, 10, 1))


@pytest.fixture
def weeks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A counts-only week (2026-W42) of three queues; monthly queue figures of August and September
    for Support; a site's week figures for Toronto (two releases, the narrower wins); none for Lisbon."""
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(tmp_path / "data"))
    from foundation.settings import load_settings

    warehouse = load_settings().lake.warehouse_path
    sites = {"Support": "Berlin", "Sales": "Toronto", "Tech": "Lisbon"}
    monday = {interval_statistic("offered_contacts", MON_0900): (400.0, 400.0, 400.0)}
    counts = {q: monday | {"contacts_handled": (380.0, 380.0, 380.0)} for q in sites}
    publish_planning_rows(warehouse, WEEK_42, counts, sites, release_name="queue_week_intervals")  # type: ignore[arg-type]
    for month, aht in ((AUGUST, 100.0), (SEPTEMBER, 200.0)):
        figures = {"aht_seconds": (aht, aht - 10, aht + 10), "average_acw_seconds": (40.0, 35.0, 45.0)}
        publish_planning_rows(
            warehouse, month, {"Support": monday | figures}, sites, release_name="queue_month_intervals"
        )  # type: ignore[arg-type]
    for name, low, high in (("site_week_wide", 100.0, 500.0), ("site_week_contacts_aht", 250.0, 350.0)):
        toronto = {"Toronto": {"aht_seconds": (300.0, low, high)}}
        publish_planning_rows(warehouse, WEEK_42, toronto, {}, release_name=name, group_by="site")  # type: ignore[arg-type]
    return tmp_path


def test_the_aht_is_the_best_published_figure_and_every_row_says_which(
    weeks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = {(r["queue"], r["interval"]): r for r in run_json(capsys)}  # default: the latest window, the week
    support, sales, tech = (rows[(q, "mon-09:00")] for q in ("Support", "Sales", "Tech"))
    assert support["aht_source"] == "queue_month_intervals 2026-09 (queue)"  # the latest month before the week
    assert (support["aht_seconds"], support["aht_low"], support["aht_high"], support["acw_seconds"]) == (
        200.0,
        190.0,
        210.0,
        40.0,
    )
    assert support["volume"] == 400.0  # one Monday in a week
    assert sales["aht_source"] == "site_week_contacts_aht 2026-W42 (site Toronto)"  # the narrower of two
    assert (sales["aht_low"], sales["aht_high"], sales["acw_seconds"]) == (250.0, 350.0, None)
    assert sales["required_low"] <= sales["required"] <= sales["required_high"]
    assert (tech["aht_source"], tech["required"]) == ("", None)
    assert tech["note"] == "no published average handle time for this queue and window"
    august = run_json(capsys, "--window", "2026-08", "--queue", "Support")[0]
    assert august["aht_source"] == "queue_month_intervals 2026-08 (queue)" and august["aht_seconds"] == 100.0
    assert main(["staffing", "--window", "2026-W42"]) == 0
    out = capsys.readouterr().out
    assert "AHT from queue_month_intervals 2026-09 (queue): Support" in out
    assert "AHT from site_week_contacts_aht 2026-W42 (site Toronto): Sales" in out
    assert "AHT from no published figure: Tech" in out
    assert main(["staffing", "--window", "2026-W43"]) == 2
    assert "published windows are 2026-08, 2026-09, 2026-W42" in capsys.readouterr().err
