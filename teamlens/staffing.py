"""Staffing from published figures: Erlang C per queue and interval of the week, with ranges.

Pure arithmetic over what a planning release published (docs/staffing.md): offered contacts per
interval of the week, summed over the window, and the queue's average handle time (AHT) and
after-call work (ACW) over the window. Nothing here reads files or data about agents.

- Volume per interval = the published offered contacts of that interval divided by how often its
  weekday occurs in the window (a public calendar fact: October 2026 has 4 Mondays, 5 Fridays).
- Traffic in Erlang = volume x AHT / interval length.
- Erlang C: the probability that a contact waits, from the Erlang B recursion (numerically stable:
  no factorials, no powers); the service level for N agents is 1 - C x exp(-(N - A) t / AHT).
- Agents needed: the smallest N > A meeting the service-level target (e.g. 80/20: 80% answered
  within 20 s) whose occupancy A / N is at most the maximum occupancy.
- Required (to schedule): agents needed / (1 - shrinkage), rounded up; exact (fractions).

Ranges: the agents needed grow with the volume and with the handle time (more traffic raises the
probability of waiting; a longer AHT also lowers exp(-(N - A) t / AHT)); so the published
intervals' ends bound the staffing: required_low from (volume ci_low, AHT ci_low), required_high
from (volume ci_high, AHT ci_high). The range carries the DP noise (and nothing else) into the
staffing; tests/test_staffing.py checks the monotonicity over a grid.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from fractions import Fraction

from foundation.intervals import MINUTES_PER_DAY, WEEKDAYS, WeekInterval, week_intervals

OFFERED = "offered_contacts"
AHT = "aht_seconds"
ACW = "average_acw_seconds"
# The targets a staffing uses unless told otherwise (the report and the dashboard use these).
DEFAULT_SERVICE_LEVEL = "80/20"
DEFAULT_SHRINKAGE = "0.3"
DEFAULT_MAX_OCCUPANCY = "0.85"
DAY_NAMES = tuple(day.capitalize() for day in WEEKDAYS)


# --- Erlang C ----------------------------------------------------------------------------------


def erlang_b(traffic: float, agents: int) -> float:
    """Blocking probability of Erlang B, by the recursion B(n) = A B(n-1) / (n + A B(n-1))."""
    if traffic < 0 or agents < 0:
        raise ValueError(f"traffic and agents must not be negative, got {traffic} and {agents}")
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a contact waits (Erlang C); 1 when the agents cannot carry the traffic."""
    if agents <= traffic:
        return 1.0
    blocking = erlang_b(traffic, agents)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(traffic: float, agents: int, aht_seconds: float, answer_seconds: float) -> float:
    """Share of contacts answered within `answer_seconds` with `agents` agents (Erlang C)."""
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    waiting = erlang_c(traffic, agents)
    return 1.0 - waiting * math.exp(-(agents - traffic) * answer_seconds / aht_seconds)


@dataclass(frozen=True)
class StaffingTarget:
    """What staffing aims at: the service level (share within seconds), shrinkage and occupancy cap."""

    service_share: Fraction
    answer_seconds: int
    shrinkage: Fraction
    max_occupancy: Fraction

    @classmethod
    def parse(
        cls,
        service: str = DEFAULT_SERVICE_LEVEL,
        shrinkage: str = DEFAULT_SHRINKAGE,
        max_occupancy: str = DEFAULT_MAX_OCCUPANCY,
    ) -> StaffingTarget:
        """From '80/20' (80% answered within 20 s), '0.3' and '0.85'; ValueError says what is wrong."""
        share_text, slash, seconds_text = service.partition("/")
        if not slash:
            raise ValueError(f"service level {service!r}: write PERCENT/SECONDS, e.g. 80/20 (80% within 20 s)")
        try:
            share = Fraction(share_text.strip()) / 100
            seconds = int(seconds_text)
            shrink = Fraction(shrinkage.strip())
            occupancy = Fraction(max_occupancy.strip())
        except ValueError:
            raise ValueError(
                f"targets not understood (service level {service!r}, shrinkage {shrinkage!r}, maximum occupancy "
                f"{max_occupancy!r}): write e.g. --service-level 80/20 --shrinkage 0.3 --max-occupancy 0.85"
            ) from None
        if not 0 < share < 1 or seconds < 0:
            raise ValueError(f"service level {service!r}: write PERCENT/SECONDS with 0 < PERCENT < 100, e.g. 80/20")
        if not 0 <= shrink < 1:
            raise ValueError(f"shrinkage {shrinkage!r} must lie in [0, 1), e.g. 0.3")
        if not 0 < occupancy <= 1:
            raise ValueError(f"maximum occupancy {max_occupancy!r} must lie in (0, 1], e.g. 0.85")
        return cls(share, seconds, shrink, occupancy)

    @property
    def service_label(self) -> str:
        """'80/20': the service-level target alone."""
        return f"{float(self.service_share * 100):g}/{self.answer_seconds}"

    @property
    def label(self) -> str:
        """'80/20, shrinkage 0.3, maximum occupancy 0.85'."""
        return (
            f"{self.service_label}, shrinkage {float(self.shrinkage):g}, "
            f"maximum occupancy {float(self.max_occupancy):g}"
        )


def agents_needed(volume: float, aht_seconds: float, interval_seconds: int, target: StaffingTarget) -> int:
    """The fewest agents on the phones meeting the service level, with occupancy at most the cap."""
    if volume <= 0 or aht_seconds <= 0:
        return 0
    traffic = Fraction(volume) * Fraction(aht_seconds) / interval_seconds  # exact from the two floats
    agents = max(math.floor(traffic) + 1, math.ceil(traffic / target.max_occupancy))
    share = float(target.service_share)
    while service_level(float(traffic), agents, aht_seconds, target.answer_seconds) < share:
        agents += 1
    return agents


def with_shrinkage(agents: int, shrinkage: Fraction) -> int:
    """Agents to schedule so that `agents` are on the phones after shrinkage: agents / (1 - s), rounded up."""
    return math.ceil(Fraction(agents) / (1 - shrinkage))


def required_agents(volume: float, aht_seconds: float, interval_seconds: int, target: StaffingTarget) -> int:
    """Agents to schedule for one interval: Erlang C, the occupancy cap, then shrinkage."""
    return with_shrinkage(agents_needed(volume, aht_seconds, interval_seconds, target), target.shrinkage)


# --- per queue and interval ----------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """A published figure with its 95% interval; value None when it was too noisy to publish."""

    value: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def usable(self) -> bool:
        return self.value is not None and self.ci_low is not None and self.ci_high is not None


@dataclass(frozen=True)
class QueuePlanning:
    """One queue's planning figures of one window, as a planning release published them."""

    queue: str
    site: str
    release_name: str
    window_start: dt.date
    window_end: dt.date  # exclusive
    interval_minutes: int
    offered_mode: str  # 'exact' or 'noisy', as the policy decided
    offered: dict[WeekInterval, Published]  # the window's total per interval of the week
    aht: Published | None
    acw: Published | None
    # Where aht and acw come from, e.g. 'queue_month_intervals 2026-10 (queue)' or
    # 'site_week_contacts_aht 2026-W42 (site Berlin)' (teamlens.staffing_data); '' when none is published.
    aht_source: str = ""


@dataclass(frozen=True)
class StaffingRow:
    """Staffing of one queue in one interval of the week; `note` says why a row has no number."""

    queue: str
    site: str
    interval: WeekInterval
    interval_minutes: int
    volume: float | None
    volume_low: float | None
    volume_high: float | None
    aht_seconds: float | None
    aht_low: float | None
    aht_high: float | None
    acw_seconds: float | None
    aht_source: str
    agents_needed: int | None
    required: int | None
    required_low: int | None
    required_high: int | None
    note: str = ""

    @property
    def start_label(self) -> str:
        """'Mon 09:30'."""
        return f"{DAY_NAMES[self.interval.weekday]} {clock(self.interval.start_minute)}"

    @property
    def end_label(self) -> str:
        """'Mon 10:00' ('Mon 24:00' for the day's last interval: the interval stays on its day)."""
        return f"{DAY_NAMES[self.interval.weekday]} {clock(self.interval.start_minute + self.interval_minutes)}"

    @property
    def span_label(self) -> str:
        """'Mon 09:30-10:00'."""
        return f"{self.start_label}-{clock(self.interval.start_minute + self.interval_minutes)}"


def clock(minute: int) -> str:
    """'09:30' for minute 570 after midnight; '24:00' for the end of the day."""
    if not 0 <= minute <= MINUTES_PER_DAY:
        raise ValueError(f"minute {minute} is not within a day")
    hours, minutes = divmod(minute, 60)
    return f"{hours:02d}:{minutes:02d}"


def weekday_occurrences(window_start: dt.date, window_end: dt.date) -> list[int]:
    """How often each weekday (Monday first) occurs in [window_start, window_end)."""
    counts = [0] * 7
    day = window_start
    while day < window_end:
        counts[day.weekday()] += 1
        day += dt.timedelta(days=1)
    return counts


def _per_occurrence(value: float | None, occurrences: int) -> float | None:
    return None if value is None else max(0.0, value) / occurrences


def staffing_rows(planning: QueuePlanning, target: StaffingTarget) -> list[StaffingRow]:
    """Every interval of the week of one queue: volume, AHT and required agents with their ranges."""
    occurrences = weekday_occurrences(planning.window_start, planning.window_end)
    seconds = planning.interval_minutes * 60
    aht, acw = planning.aht, planning.acw
    aht_note = ""
    if aht is None:
        aht_note = "no published average handle time for this queue and window"
    elif not aht.usable:
        aht_note = "the average handle time was too noisy to publish"
    rows = []
    for interval in week_intervals(planning.interval_minutes):
        offered = planning.offered.get(interval)
        count = occurrences[interval.weekday]
        note = aht_note
        if count == 0:
            note = f"the window has no {DAY_NAMES[interval.weekday]}"
        elif offered is None:
            note = "no published offered contacts for this interval"
        elif not offered.usable:
            note = "the offered contacts were too noisy to publish"
        volume = low = high = None
        if offered is not None and offered.usable and count:
            volume, low, high = (_per_occurrence(v, count) for v in (offered.value, offered.ci_low, offered.ci_high))
        aht_values = (aht.value, aht.ci_low, aht.ci_high) if aht is not None and aht.usable else (None, None, None)
        needed = required = required_low = required_high = None
        if not note:
            assert volume is not None and low is not None and high is not None and aht is not None
            assert aht.value is not None and aht.ci_low is not None and aht.ci_high is not None
            needed = agents_needed(volume, aht.value, seconds, target)
            required = with_shrinkage(needed, target.shrinkage)
            required_low = required_agents(low, max(0.0, aht.ci_low), seconds, target)
            required_high = required_agents(high, aht.ci_high, seconds, target)
        rows.append(
            StaffingRow(
                queue=planning.queue,
                site=planning.site,
                interval=interval,
                interval_minutes=planning.interval_minutes,
                volume=volume,
                volume_low=low,
                volume_high=high,
                aht_seconds=aht_values[0],
                aht_low=aht_values[1],
                aht_high=aht_values[2],
                acw_seconds=acw.value if acw is not None and acw.usable else None,
                aht_source=planning.aht_source,
                agents_needed=needed,
                required=required,
                required_low=required_low,
                required_high=required_high,
                note=note,
            )
        )
    return rows


def row_json(row: StaffingRow) -> dict[str, object]:
    """A row as `teamlens staffing --json` prints it (numbers rounded as shown: 2 decimals)."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "queue": row.queue,
        "site": row.site,
        "interval": row.interval.label,
        "interval_start": row.start_label,
        "interval_end": row.end_label,
        "volume": rounded(row.volume),
        "volume_low": rounded(row.volume_low),
        "volume_high": rounded(row.volume_high),
        "aht_seconds": rounded(row.aht_seconds),
        "aht_low": rounded(row.aht_low),
        "aht_high": rounded(row.aht_high),
        "acw_seconds": rounded(row.acw_seconds),
        "aht_source": row.aht_source,
        "agents_needed": row.agents_needed,
        "required": row.required,
        "required_low": row.required_low,
        "required_high": row.required_high,
        "note": row.note,
    }


def aht_sources(rows: list[StaffingRow]) -> dict[str, list[str]]:
    """Each AHT source (the footnote under a staffing table) with the queues whose AHT it gave."""
    out: dict[str, list[str]] = {}
    for row in rows:
        queues = out.setdefault(row.aht_source, [])
        if row.queue not in queues:
            queues.append(row.queue)
    return out


def required_cell(row: StaffingRow) -> str:
    """'9 (8-10)', or '-' when the row has no number."""
    if row.required is None:
        return "-"
    return f"{row.required} ({row.required_low}-{row.required_high})"


def week_grid(rows: list[StaffingRow]) -> tuple[list[str], list[list[str]]]:
    """One queue's required agents as a week: a row per time of day, a column per weekday.

    Only the times of day at which some weekday needs an agent (or lacks a number, in a queue with
    numbers) are kept, so a queue closed at night shows its opening hours; a queue without any
    number (its AHT too noisy to publish) has no grid, and its rows' notes say why.
    Columns: 'time', then Mon ... Sun.
    """
    by_cell = {(r.interval.weekday, r.interval.start_minute): r for r in rows}
    starts = sorted({r.interval.start_minute for r in rows})
    if all(r.required is None for r in rows):
        starts = []
    kept = [s for s in starts if any(by_cell[(d, s)].required != 0 for d in range(7) if (d, s) in by_cell)]
    grid = []
    for start in kept:
        first = next(by_cell[(d, start)] for d in range(7) if (d, start) in by_cell)
        time = f"{clock(start)}-{clock(start + first.interval_minutes)}"
        grid.append([time, *(required_cell(by_cell[(d, start)]) if (d, start) in by_cell else "-" for d in range(7))])
    return ["time", *DAY_NAMES], grid
