"""The interval-of-week grid planning figures are published on (foundation.intervals)."""

from __future__ import annotations

import datetime as dt

import pytest

from foundation.intervals import (
    WeekInterval,
    interval_of,
    interval_statistic,
    parse_interval_statistic,
    week_intervals,
)


def test_week_has_336_half_hours_monday_first() -> None:
    grid = week_intervals(30)
    assert len(grid) == 336
    assert grid[0].label == "mon-00:00"
    assert grid[19].label == "mon-09:30"
    assert grid[-1].label == "sun-23:30"
    assert len(week_intervals(15)) == 672


def test_interval_of_a_local_moment() -> None:
    # 2026-11-05 is a Thursday.
    assert interval_of(dt.datetime(2026, 11, 5, 9, 44, 59), 30) == WeekInterval(3, 570)
    assert interval_of(dt.datetime(2026, 11, 5, 9, 29, 59), 15) == WeekInterval(3, 555)
    assert interval_of(dt.datetime(2026, 11, 8, 23, 59), 60).label == "sun-23:00"


def test_statistic_names_round_trip() -> None:
    interval = WeekInterval(0, 570)
    name = interval_statistic("offered_contacts", interval)
    assert name == "offered_contacts@mon-09:30"
    assert parse_interval_statistic(name) == ("offered_contacts", interval)
    assert parse_interval_statistic("aht_seconds") is None
    for other in week_intervals(30):
        assert parse_interval_statistic(interval_statistic("x", other)) == ("x", other)


def test_start_on_a_week() -> None:
    assert WeekInterval(4, 1410).start_on(dt.date(2026, 11, 2)) == dt.datetime(2026, 11, 6, 23, 30)
    with pytest.raises(ValueError, match="not a Monday"):
        WeekInterval(0, 0).start_on(dt.date(2026, 11, 3))


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="one of"):
        week_intervals(20)
    with pytest.raises(ValueError, match="weekday"):
        WeekInterval(7, 0)
    with pytest.raises(ValueError, match="expected metric@mon-09:30"):
        parse_interval_statistic("offered@monday-9")
    with pytest.raises(ValueError, match="must not contain"):
        interval_statistic("a@b", WeekInterval(0, 0))
