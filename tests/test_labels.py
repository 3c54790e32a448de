"""Window labels as people say them."""

from __future__ import annotations

import datetime as dt

import pytest

from teamlens.labels import window_label

D = dt.date


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        (D(2026, 10, 1), D(2026, 11, 1), "October 2026"),
        (D(2026, 12, 1), D(2027, 1, 1), "December 2026"),
        (D(2026, 9, 28), D(2026, 10, 5), "week 40 of 2026 (28 Sep - 4 Oct 2026)"),
        (D(2026, 12, 28), D(2027, 1, 4), "week 53 of 2026 (28 Dec 2026 - 3 Jan 2027)"),
        (D(2024, 12, 30), D(2025, 1, 6), "week 1 of 2025 (30 Dec 2024 - 5 Jan 2025)"),
        (D(2026, 10, 5), D(2026, 10, 6), "Mon 5 Oct 2026"),
        (D(2026, 10, 6), D(2026, 10, 13), "6 Oct - 12 Oct 2026"),  # seven days not starting on Monday
        (D(2026, 10, 1), D(2026, 10, 31), "1 Oct - 30 Oct 2026"),  # not a whole month
    ],
)
def test_window_label(start: dt.date, end: dt.date, label: str) -> None:
    assert window_label(start, end) == label
