"""The managers' page data: pure functions from published snapshot rows to what a page shows.

Nothing here reads files: the handlers in teamlens/dashboard/managers.py pass rows of
`current_aggregates` (the latest release of each window) and of `releases`. Every figure is of a
group (a team or a site) at or above the policy's minimum size; groups are listed alphabetically,
never ranked.

Comparisons (docs/privacy.md, Comparing published figures): a reader cannot combine two intervals
alone, so the page does it.

- Two sums (noise_scale known): the difference of two independent noisy sums carries both noises.
  Gaussian noise (zCDP): their variances add, so the difference's noise has the scale
  sqrt(a^2 + b^2), and its 95% half-width is the one OpenDP gives integer Gaussian noise of that
  scale (about 1.96 x scale, rounded up), the same rule as the published intervals.
  Laplace noise (pure DP): the two 97.5% half-widths add (union bound: at least 95%).
- Ratios (averages and shares: no noise_scale): the range runs from the lowest (low of the first
  minus high of the second) to the highest difference the two 95% intervals allow; both hold
  together with at least 90% probability.
- A sum published as 0 may have been clamped (noise below 0 is cut off), so its comparison uses
  the interval rule of ratios.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from privacy.mechanisms import ALPHA_SUM, half_width
from teamlens.labels import window_label
from teamlens.report import is_over_bound, likely_understated

# Under pure DP a difference's interval joins two Laplace intervals of 97.5% each (union bound: 95%).
ALPHA_EACH_OF_TWO = ALPHA_SUM / 2

# How a statistic is named and shown: (label, unit); unit one of count, hours, duration, share, number.
STATISTICS: dict[str, tuple[str, str]] = {
    "contacts_handled": ("Contacts handled", "count"),
    "handle_seconds": ("Handle time", "hours"),
    "aht_seconds": ("Average handle time", "duration"),
    "occupancy": ("Occupancy (handling / available)", "share"),
    "adherence": ("Schedule adherence", "share"),
    "conformance": ("Schedule conformance (worked / scheduled)", "share"),
    "transfer_rate": ("Transfer rate", "share"),
    "average_hold_seconds": ("Average hold", "duration"),
    "available_idle_seconds": ("Available, waiting for a contact", "hours"),
    "transfers_out": ("Contacts transferred", "count"),
    "contacts_held": ("Contacts put on hold", "count"),
    "hold_seconds": ("Hold time", "hours"),
    "scheduled_seconds": ("Scheduled time", "hours"),
    "in_adherence_seconds": ("Time in adherence", "hours"),
    "scheduled_work_seconds": ("Scheduled working time", "hours"),
    "worked_seconds": ("Worked time", "hours"),
}
SHARE_WORDS = ("share", "rate", "pct", "percent", "occupancy", "adherence", "conformance", "service_level", "abandon")
UNIT_WORDS = {"count": "", "hours": "hours", "duration": "m:ss", "share": "%", "number": ""}

TOO_NOISY = "too noisy to publish: the added noise would be larger than the figure itself"
UNDERSTATED = (
    "likely understated: some agents' totals went over the policy's limit for this figure and count only up to it"
)
FROM_UNDERSTATED = "likely understated: computed from a figure that is likely understated"


# A pulse survey's statistics (privacy.surveys): '<question id>_<figure>', and the noisy response count.
SURVEY_FIGURES = {
    "enps": "eNPS, promoters minus detractors (points)",
    "mean": "average answer",
    "answers": "answers",
    "promoters": "promoters (9-10)",
    "passives": "passives (7-8)",
    "detractors": "detractors (0-6)",
}


def statistic_label(statistic: str) -> str:
    """The statistic as people say it, e.g. 'Average handle time'; a survey's 'recommend_enps' as
    'Recommend: eNPS, promoters minus detractors (points)'."""
    if statistic in STATISTICS:
        return STATISTICS[statistic][0]
    if statistic == "responses":
        return "Survey responses"
    question, _, figure = statistic.rpartition("_")
    if question and figure in SURVEY_FIGURES:
        return f"{question.replace('_', ' ').capitalize()}: {SURVEY_FIGURES[figure]}"
    return statistic.removesuffix("_seconds").replace("_", " ").capitalize()


def statistic_unit(statistic: str, is_ratio: bool) -> str:
    """count, hours (a sum of seconds), duration (an average of seconds), share or number."""
    if statistic in STATISTICS:
        return STATISTICS[statistic][1]
    if statistic.endswith("_seconds"):
        return "duration" if is_ratio else "hours"
    if is_ratio and any(word in statistic for word in SHARE_WORDS):
        return "share"
    return "count" if not is_ratio else "number"


def display_scale(unit: str) -> float:
    """What a stored value is multiplied by for charts: hours from seconds, minutes, percent."""
    return {"hours": 1 / 3600, "duration": 1 / 60, "share": 100.0}.get(unit, 1.0)


def axis_title(statistic: str, unit: str) -> str:
    words = {"hours": "hours", "duration": "minutes", "share": "%"}
    return f"{statistic_label(statistic)} ({words[unit]})" if unit in words else statistic_label(statistic)


def _magnitude(size: float, unit: str) -> str:
    if unit == "hours":
        return f"{size / 3600:,.1f} h"
    if unit == "duration":
        seconds = round(size)
        return f"{seconds // 60}:{seconds % 60:02d}"
    if unit == "share":
        return f"{size * 100:.1f} %"
    if unit == "count":
        return f"{size:,.0f}"
    return f"{size:,.2f}"


def format_number(value: float | None, unit: str, signed: bool = False) -> str:
    """A value in its unit: 1,234 / 12.5 h / 5:07 (m:ss) / 85.3 %; '-' when there is none.

    signed: a difference, '+' before a positive one."""
    if value is None:
        return "-"
    text = _magnitude(abs(value), unit)
    if text == _magnitude(0.0, unit):
        return text
    if value < 0:
        return "-" + text
    return "+" + text if signed else text


def format_interval(low: float | None, high: float | None, unit: str, signed: bool = False) -> str:
    """'[1,100, 1,370]': the 95% interval in the figure's unit."""
    if low is None or high is None:
        return "-"
    return f"[{format_number(low, unit, signed)}, {format_number(high, unit, signed)}]"


@dataclass(frozen=True)
class Figure:
    """One published figure of a group in a window, as a page shows it."""

    release_name: str
    group_by: str
    group: str
    window_start: dt.date
    window_end: dt.date
    statistic: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    noise_scale: float | None
    roster_size: int
    correction: int
    unit: str
    note: str = ""  # why the figure is greyed, in plain words ('' when it reads as it is)

    @property
    def window(self) -> str:
        return window_label(self.window_start, self.window_end)

    @property
    def greyed(self) -> bool:
        return bool(self.note)

    @property
    def is_ratio(self) -> bool:
        return self.noise_scale is None


def figures(rows: list[dict[str, Any]]) -> list[Figure]:
    """The figures of current_aggregates rows: flags in plain words, over-bound counts left out
    (they show only as the 'likely understated' flag). Ordered by window, group, statistic."""
    flagged = likely_understated(rows)
    ratio_names = {str(r["statistic"]) for r in rows if r["noise_scale"] is None and not is_over_bound(r)}
    out = []
    for r in rows:
        if is_over_bound(r):
            continue
        statistic = str(r["statistic"])
        where = (r["window_start"], r["group_value"])
        note = ""
        if r["status"] == "too_noisy":
            note = TOO_NOISY
        elif (*where, statistic) in flagged:
            note = UNDERSTATED
        elif statistic in ratio_names and any(k[:2] == where for k in flagged):
            note = FROM_UNDERSTATED
        out.append(
            Figure(
                release_name=str(r["release_name"]),
                group_by=str(r["group_by"]),
                group=str(r["group_value"]),
                window_start=r["window_start"],
                window_end=r["window_end"],
                statistic=statistic,
                value=r["value"],
                ci_low=r["ci_low"],
                ci_high=r["ci_high"],
                noise_scale=r["noise_scale"],
                roster_size=int(r["roster_group_size"]),
                correction=int(r.get("correction") or 0),
                unit=statistic_unit(statistic, statistic in ratio_names),
                note=note,
            )
        )
    return sorted(out, key=lambda f: (f.window_start, f.group, f.statistic))


def statistics_of(figs: list[Figure]) -> list[str]:
    """The statistics in a page's order: the known ones as STATISTICS lists them, then by name."""
    present = {f.statistic for f in figs}
    known = [s for s in STATISTICS if s in present]
    return known + sorted(present - set(known))


def last_windows(figs: list[Figure], count: int) -> list[Figure]:
    """The figures of the latest `count` windows."""
    starts = sorted({f.window_start for f in figs})[-count:]
    return [f for f in figs if f.window_start in starts]


# --- comparisons -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """first - second, with a range that holds the true difference with the stated probability."""

    first: Figure
    second: Figure
    difference: float | None
    low: float | None
    high: float | None
    method: str  # 'noise' (the two noises combined: 95%) or 'intervals' (from the two intervals: 90%)
    verdict: str = field(default="")

    @property
    def unit(self) -> str:
        return self.first.unit


def difference_interval(first: Figure, second: Figure, distribution: str) -> Comparison:
    """first - second with its interval (module docstring); no figure when either is not published."""
    if first.value is None or second.value is None:
        return Comparison(first, second, None, None, None, "none", "cannot compare: a figure is too noisy")
    difference = first.value - second.value
    sums = first.noise_scale is not None and second.noise_scale is not None
    if sums and first.value > 0 and second.value > 0:
        assert first.noise_scale is not None and second.noise_scale is not None
        if distribution == "discrete_laplace":
            half = half_width(first.noise_scale, ALPHA_EACH_OF_TWO, distribution) + half_width(
                second.noise_scale, ALPHA_EACH_OF_TWO, distribution
            )
        else:
            half = half_width(math.hypot(first.noise_scale, second.noise_scale), ALPHA_SUM, distribution)
        low, high, method = difference - half, difference + half, "noise"
    else:
        assert first.ci_low is not None and first.ci_high is not None
        assert second.ci_low is not None and second.ci_high is not None
        low, high, method = first.ci_low - second.ci_high, first.ci_high - second.ci_low, "intervals"
    verdict = "higher" if low > 0 else "lower" if high < 0 else "no clear difference"
    return Comparison(first, second, difference, low, high, method, verdict)


def window_changes(figs: list[Figure], distribution: str) -> list[Comparison]:
    """The latest window against the one before it, per group and statistic (alphabetical)."""
    starts = sorted({f.window_start for f in figs})
    if len(starts) < 2:
        return []
    latest = {(f.group, f.statistic): f for f in figs if f.window_start == starts[-1]}
    previous = {(f.group, f.statistic): f for f in figs if f.window_start == starts[-2]}
    return [difference_interval(latest[k], previous[k], distribution) for k in sorted(latest) if k in previous]


def team_vs_site(
    team_figs: list[Figure], site_figs: list[Figure], team_sites: dict[str, str], distribution: str
) -> list[Comparison]:
    """Each team's averages and shares against its site's in the same window (sums are parts of
    their site's and are not compared). team_sites: team -> site; a team without one is left out."""
    sites = {(f.group, f.window_start, f.window_end, f.statistic): f for f in site_figs if f.is_ratio}
    out = []
    for f in team_figs:
        site = team_sites.get(f.group)
        match = sites.get((site, f.window_start, f.window_end, f.statistic)) if site else None
        if f.is_ratio and match is not None:
            out.append(difference_interval(f, match, distribution))
    return sorted(out, key=lambda c: (c.first.window_start, c.first.group, c.first.statistic))


def comparison_words(c: Comparison) -> str:
    """The comparison in plain words, e.g. 'higher by 1:05 [0:12, 1:58]'."""
    if c.difference is None:
        return c.verdict
    span = format_interval(c.low, c.high, c.unit, signed=True)
    if c.verdict == "no clear difference":
        return f"no clear difference ({format_number(c.difference, c.unit, signed=True)}, range {span})"
    return f"{c.verdict} by {format_number(abs(c.difference), c.unit)} (range {span})"


METHOD_WORDS = {
    "noise": "95% range from the two figures' noise combined",
    "intervals": "range from the two 95% intervals (holds with at least 90% probability)",
    "none": "",
}


# --- releases ---------------------------------------------------------------------------------


def grain(group_by: str, window_start: dt.date, window_end: dt.date) -> str:
    """'per team and calendar month', from the group and a window's length."""
    days = (window_end - window_start).days
    window = (
        "day"
        if days == 1
        else "week"
        if days == 7
        else "calendar month"
        if window_start.day == 1 and window_end.day == 1 and 28 <= days <= 31
        else f"{days} days"
    )
    return f"per {group_by} and {window}"


def budget_words(unit: str, amount: str) -> str:
    """'rho 0.5 per agent (zCDP)' or 'epsilon 1 per agent (pure DP)': what each window costs."""
    model = "zCDP" if unit == "rho" else "pure DP"
    return f"{unit} {amount} per agent and window ({model})"


def noise_distribution(unit: str) -> str:
    """The noise family of a budget unit: Gaussian for rho (zCDP), Laplace for epsilon (pure DP)."""
    return "discrete_laplace" if unit == "epsilon" else "discrete_gaussian"
