"""Windows as people say them: "October 2026", "week 40 of 2026 (28 Sep - 4 Oct)", "Mon 5 Oct 2026".

A window is [start, end) in days (foundation.policy: day, ISO week starting Monday, calendar
month); the label names it from its dates alone, so a window that is none of these (a
correction's odd span, a legacy row) still gets an honest "5 Oct - 11 Oct 2026".
"""

from __future__ import annotations

import datetime as dt

ONE_DAY = dt.timedelta(days=1)


def _day(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _span(start: dt.date, last: dt.date) -> str:
    if start.year != last.year:
        return f"{start.day} {start:%b %Y} - {last.day} {last:%b %Y}"
    return f"{start.day} {start:%b} - {last.day} {last:%b %Y}"


def window_label(start: dt.date, end: dt.date) -> str:
    """The window [start, end) as people say it."""
    last = end - ONE_DAY
    if end - start == ONE_DAY:
        return _day(start)
    if start.day == 1 and end.day == 1 and (end.year * 12 + end.month) - (start.year * 12 + start.month) == 1:
        return f"{start:%B %Y}"
    if end - start == dt.timedelta(days=7) and start.isoweekday() == 1:
        year, week, _ = start.isocalendar()
        return f"week {week} of {year} ({_span(start, last)})"
    return _span(start, last)
