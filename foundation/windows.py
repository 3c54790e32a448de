"""Release windows and accounting periods: the calendar arithmetic the policy's budgets rely on.

A window is [start, end) in site-local days: a day, an ISO week (Monday to Sunday) or a
calendar month. An accounting period is a calendar month, written 'YYYY-MM'; a release is
charged to every period its window touches, and a rolling year is 12 consecutive periods.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

WindowKind = Literal["day", "week", "month"]
MONTHS_PER_YEAR = 12


def window_of(kind: WindowKind, day: dt.date) -> tuple[dt.date, dt.date]:
    """The window [start, end) of the given kind that contains the day."""
    if kind == "day":
        return day, day + dt.timedelta(days=1)
    if kind == "week":
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=7)
    start = day.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def shift_period(period: str, months: int) -> str:
    """The accounting period (a calendar month, 'YYYY-MM') `months` after `period` (before, if negative)."""
    index = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def rolling_year(last: str) -> list[str]:
    """The 12 accounting periods ending with `last`, oldest first: one rolling year."""
    return [shift_period(last, k) for k in range(-(MONTHS_PER_YEAR - 1), 1)]


def periods_touched(start: dt.date, end: dt.date) -> list[str]:
    """Accounting periods (calendar months, 'YYYY-MM') that the window [start, end) overlaps."""
    months = []
    day = start
    while day < end:
        label = f"{day.year:04d}-{day.month:02d}"
        if label not in months:
            months.append(label)
        day = window_of("month", day)[1]
    return months


def windows_ending_in(kind: WindowKind, first_day: dt.date, end_day: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The windows [start, end) of a kind whose last day lies in [first_day, end_day)."""
    out = []
    day = first_day
    while day < end_day:
        start, end = window_of(kind, day)
        if end - dt.timedelta(days=1) == day:
            out.append((start, end))
        day += dt.timedelta(days=1)
    return out
