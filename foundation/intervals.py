"""Intervals of the week: the time grid planning figures are published on.

Workforce management tools forecast contacts and handle time per 15 or 30-minute interval of the
week (Monday 09:00-09:30, ...), in the local time of the site that answers them. A planning figure
for one interval is stored as a statistic named `<metric>@<weekday>-<HH:MM>`, for example
`offered_contacts@mon-09:30`: the interval's start, site-local, Monday first. One name per
interval keeps the published table's grain (release x group x statistic) and its ledger digest as
they are for every other release.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
ALLOWED_INTERVAL_MINUTES = (15, 30, 60)
SEPARATOR = "@"


@dataclass(frozen=True, order=True)
class WeekInterval:
    """One interval of the week: weekday 0 = Monday, start minute after site-local midnight."""

    weekday: int
    start_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday < len(WEEKDAYS):
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if not 0 <= self.start_minute < MINUTES_PER_DAY:
            raise ValueError(f"start_minute must lie in [0, {MINUTES_PER_DAY}), got {self.start_minute}")

    @property
    def label(self) -> str:
        """'mon-09:30'."""
        hours, minutes = divmod(self.start_minute, 60)
        return f"{WEEKDAYS[self.weekday]}-{hours:02d}:{minutes:02d}"

    def start_on(self, week_monday: dt.date) -> dt.datetime:
        """The interval's start (naive, site-local) in the week starting on `week_monday`."""
        if week_monday.weekday() != 0:
            raise ValueError(f"{week_monday} is not a Monday")
        day = week_monday + dt.timedelta(days=self.weekday)
        return dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=self.start_minute)


def check_interval_minutes(minutes: int) -> int:
    """The interval length, if it is one workforce management tools use (15, 30 or 60 minutes)."""
    if minutes not in ALLOWED_INTERVAL_MINUTES:
        raise ValueError(f"interval_minutes must be one of {ALLOWED_INTERVAL_MINUTES}, got {minutes}")
    return minutes


def week_intervals(interval_minutes: int) -> list[WeekInterval]:
    """Every interval of the week, Monday 00:00 first (336 of 30 minutes)."""
    check_interval_minutes(interval_minutes)
    return [WeekInterval(day, minute) for day in range(7) for minute in range(0, MINUTES_PER_DAY, interval_minutes)]


def interval_of(local_moment: dt.datetime, interval_minutes: int) -> WeekInterval:
    """The interval of the week a site-local moment falls in."""
    check_interval_minutes(interval_minutes)
    minute = local_moment.hour * 60 + local_moment.minute
    return WeekInterval(local_moment.weekday(), minute - minute % interval_minutes)


def interval_statistic(metric: str, interval: WeekInterval) -> str:
    """The published statistic name of a metric in one interval: 'offered_contacts@mon-09:30'."""
    if SEPARATOR in metric:
        raise ValueError(f"a metric name must not contain {SEPARATOR!r}: {metric!r}")
    return f"{metric}{SEPARATOR}{interval.label}"


def parse_interval_statistic(statistic: str) -> tuple[str, WeekInterval] | None:
    """(metric, interval) of an interval statistic; None for a statistic without an interval."""
    metric, separator, label = statistic.partition(SEPARATOR)
    if not separator:
        return None
    day, _, clock = label.partition("-")
    if day not in WEEKDAYS or len(clock) != 5 or clock[2] != ":":
        raise ValueError(f"not an interval statistic: {statistic!r} (expected metric@mon-09:30)")
    hours, minutes = int(clock[:2]), int(clock[3:])
    return metric, WeekInterval(WEEKDAYS.index(day), hours * 60 + minutes)
