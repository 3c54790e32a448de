"""Schedules and shifts: the weekly days off, each shift's scheduled activities and the agent's
actual behaviour (late logins, early logouts, long breaks), which the site-day simulation plays out.
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass, field

from teamlens.generator.common import pick, uniform_int
from teamlens.generator.roster import Agent

# Talk time of a call (drawn in calls.py): lognormal around a median of 4 minutes, at most 2 hours.
TALK_LOGNORMAL_SIGMA = 0.7
TALK_MEDIAN_S = 240
MAX_TALK_S = 7200
# Expected seconds an agent is busy per call (ring + talk + hold + after-contact work), used to
# size the idle gaps so that a shift sees about calls_per_agent_day calls.
_MEAN_BUSY_S = 6 + TALK_MEDIAN_S * math.exp(TALK_LOGNORMAL_SIGMA**2 / 2) + 0.25 * 1.5 * 100 + 55


@dataclass
class ShiftRun:
    """One agent's shift on one day: the plan and the simulation state."""

    agent: Agent
    login: int
    logout_target: int
    acts: list[tuple[str, int, int]]  # (status, planned start, actual duration), epoch seconds
    gap_mean: float
    token: int = 0
    next_act: int = 0
    last_ms: int = 0
    logout: int = 0
    transitions: list[tuple[int, str, str]] = field(default_factory=list)  # (ms, EventType, status)
    custom: list[tuple[str, int, int]] = field(default_factory=list)  # actual custom statuses


def days_off(seed: int, monday: datetime.date, n_agents: int) -> list[set[int]]:
    """Two days off per agent per week (weekday numbers), weekends more likely: a 5-of-7 rota."""
    rng = random.Random(f"{seed}/week/{monday.isoformat()}")
    weights = (1, 1, 1, 1, 1, 4, 4)
    result = []
    for _ in range(n_agents):
        off: set[int] = set()
        while len(off) < 2:
            off.add(rng.choices(range(7), weights)[0])
        result.append(off)
    return result


def plan_shift(
    rng: random.Random, agent: Agent, day: datetime.date, calls_per_agent_day: float
) -> tuple[list[tuple[str, int, int]], ShiftRun]:
    """Scheduled activities (UTC epoch seconds) and the actual behaviour for one shift."""
    local_start = datetime.datetime.combine(day, datetime.time(7, 0), tzinfo=agent.site.zone)
    local_start += datetime.timedelta(minutes=15 * uniform_int(rng, 0, 16))  # 07:00 .. 11:00 local
    start = int(local_start.timestamp())  # DST-correct: zoneinfo gives the offset of that local day
    length = 60 * pick(rng, (480, 480, 480, 510))
    acts = [("break", start + 60 * pick(rng, (105, 120, 135, 150)), 900)]
    acts.append(("lunch", start + 60 * pick(rng, (225, 240, 255, 270, 285)), 1800))
    extra = rng.random()
    if extra < 0.10:
        acts.append(("meeting", start + 60 * pick(rng, (330, 345, 360, 375, 390)), 60 * pick(rng, (30, 45, 60))))
    elif extra < 0.15:
        acts.append(("training", start + 60 * pick(rng, (330, 345, 360)), 3600))
    schedule = [("shift", start, start + length)] + [(a, s, s + d) for a, s, d in acts]

    login = start - uniform_int(rng, 0, 300) if rng.random() > 0.08 else start + uniform_int(rng, 180, 900)
    end = start + length
    logout_target = end + uniform_int(rng, 0, 180) if rng.random() > 0.05 else end - uniform_int(rng, 600, 2400)
    actual = []
    for activity, s, d in acts:
        if activity in ("break", "lunch"):
            d += uniform_int(rng, -60, 90) if rng.random() > 0.2 else uniform_int(rng, 120, 480)
        else:
            d += uniform_int(rng, -60, 120)
        actual.append((activity.capitalize(), s, d))
    lam = calls_per_agent_day * length / 28800
    available = length - sum(d for _, _, d in acts)
    gap = max(15.0, (available - lam * _MEAN_BUSY_S) / lam) if lam > 0 else math.inf
    return schedule, ShiftRun(agent, login, logout_target, actual, gap)
