"""Synthetic contact center: writes the landing zone (docs/landing.md) from a seed.

Why: the pipeline needs realistic, reproducible raw data to run on without touching real
employees. The files carry what real exports carry and ingestion must handle: personal fields
(names, phone numbers, window titles, free-text notes), duplicate deliveries, transfers,
abandoned calls, late logins and early logouts, and daylight-saving changes.

Determinism: every random draw comes from `random.Random` instances seeded from `seed` (the
roster from the seed, each week's days off and each site-day from the seed plus the date), and
nothing reads the wall clock, so one seed gives byte-identical files, and a given day's files
do not depend on how many days were generated.

A site-day is simulated as a discrete-event system: agents log in, go Available, take inbound
calls (exponential idle gaps sized so that a shift sees about `calls_per_agent_day` calls),
never take a call before the previous call's after-contact work ends, start breaks when the
current call is finished, and transferred calls queue for an idle agent of another team at the
same site (or are abandoned when nobody picks them up in time).
"""

from __future__ import annotations

import bisect
import csv
import datetime
import functools
import heapq
import io
import itertools
import json
import math
import random
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")

ACCOUNT_ID = "123456789012"
INSTANCE_ID = "5f3a1c2e-9b7d-4e61-8a2f-0c4d6e8b1a37"
INSTANCE_ARN = f"arn:aws:connect:eu-central-1:{ACCOUNT_ID}:instance/{INSTANCE_ID}"
EVENT_VERSION = "2019-05-25"
_NS = uuid.UUID(INSTANCE_ID)

# (name, IANA zone, host code, dialling prefix of customer numbers); more sites cycle through these.
SITE_BASES: tuple[tuple[str, str, str, str], ...] = (
    ("Berlin", "Europe/Berlin", "BER", "+4930"),
    ("Toronto", "America/Toronto", "TOR", "+1416"),
    ("Lisbon", "Europe/Lisbon", "LIS", "+35121"),
    ("Manila", "Asia/Manila", "MNL", "+632"),
    ("Sydney", "Australia/Sydney", "SYD", "+612"),
)
TEAM_FUNCTIONS = ("Billing", "Sales", "Support", "Retention", "Tech", "Claims", "Orders", "Returns", "Loyalty")
PILOT_FUNCTION = "Pilot"

CUSTOM_STATUSES = ("Break", "Lunch", "Meeting", "Training")
DESKTOP_APPS: tuple[tuple[str, int], ...] = (
    ("Salesforce", 30),
    ("Amazon Connect CCP", 20),
    ("Confluence", 12),
    ("Outlook", 12),
    ("Teams", 12),
    ("Google Chrome", 10),
    ("Notepad", 4),
)
CTR_KEYS = (
    "ContactId",
    "InitialContactId",
    "PreviousContactId",
    "NextContactId",
    "Channel",
    "InitiationMethod",
    "InitiationTimestamp",
    "ConnectedToSystemTimestamp",
    "DisconnectTimestamp",
    "LastUpdateTimestamp",
    "DisconnectReason",
    "Attributes",
    "CustomerEndpoint",
    "SystemEndpoint",
    "Queue",
    "Agent",
)

_FIRST = (
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannah", "Ibrahim", "Jonas",
    "Katarzyna", "Lukas", "Maria", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Stefan", "Tanja",
    "Umut", "Vera", "Wei", "Xenia", "Yusuf", "Zoe", "Chloé", "Jürgen", "Émilie", "Liam",
    "Olivia", "Ethan", "Ava", "Raj", "Priya", "Mateo", "Sofia", "Kwame", "Aiko", "Lars",
)  # fmt: skip
_LAST = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann",
    "Koch", "Smith", "Brown", "Tremblay", "Roy", "Gagnon", "Lee", "Wilson", "Martin", "Nguyen",
    "Patel", "Kowalski", "Yilmaz", "Rossi", "Silva", "Santos", "Kim", "O'Brien", "Dubois",
    "Novak", "Andersen",
)  # fmt: skip
_NOTES = (
    "asked about invoice {n}",
    "wants to cancel the contract, offered 10% discount",
    "address change, confirmation sent by mail",
    "complaint about delivery of order {n}",
    "callback requested after 4 pm",
    "{first} is upset about roaming charges",
    "password reset, identity verified by date of birth",
    "payment plan agreed for {n}",
    "router replacement shipped",
    "asked to speak to a supervisor",
)
_KB_PAGES = (
    "Refund policy",
    "Troubleshooting: no dial tone",
    "Contract cancellation checklist",
    "Roaming tariffs 2026",
    "Escalation matrix",
    "How to verify a caller",
)

_LOGNORMAL_SIGMA = 0.7
_TALK_MEDIAN_S = 240
_MAX_TALK_S = 7200
# Expected seconds an agent is busy per call (ring + talk + hold + after-contact work), used to
# size the idle gaps so that a shift sees about calls_per_agent_day calls.
_MEAN_BUSY_S = 6 + _TALK_MEDIAN_S * math.exp(_LOGNORMAL_SIGMA**2 / 2) + 0.25 * 1.5 * 100 + 55
_TRANSFER_SHARE = 0.06
_ABANDON_SHARE = 0.05
_OUTBOUND_SHARE = 0.03
_HOLD_SHARE = 0.25

# Event kinds of the site-day simulation.
_LOGIN, _DECIDE, _ARRIVE, _RETURN, _LEG, _EXPIRE = range(6)


@dataclass(frozen=True)
class Site:
    name: str
    timezone: str
    code: str
    phone_prefix: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Team:
    name: str
    site: Site
    queue: str

    @property
    def queue_arn(self) -> str:
        return _arn("queue", self.queue)


@dataclass
class Agent:
    employee_id: str
    first_name: str
    last_name: str
    username: str
    host: str
    team: Team
    arn: str
    hierarchy: bool
    configuration: dict[str, Any] = field(default_factory=dict)
    ctr_hierarchy: dict[str, Any] | None = None

    @property
    def site(self) -> Site:
        return self.team.site

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class _Run:
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


@dataclass
class _Leg:
    """A transferred call waiting in another team's queue."""

    contact_id: str
    previous_id: str
    initial_id: str
    team: Team
    enqueued: int
    patience: int
    from_run: int
    attributes: dict[str, str]
    customer: dict[str, str]
    system: dict[str, str]
    waiting: bool = True


@functools.cache
def _arn(kind: str, name: str) -> str:
    return f"{INSTANCE_ARN}/{kind}/{uuid.uuid5(_NS, kind + ':' + name)}"


_STATUS_ARN = {name: _arn("agent-state", name) for name in ("Available", "Offline", *CUSTOM_STATUSES)}
_STATUS_TYPE = {"Available": "ROUTABLE", "Offline": "OFFLINE", **{s: "CUSTOM" for s in CUSTOM_STATUSES}}


@functools.cache
def _day_prefix(day_number: int) -> str:
    return time.strftime("%Y-%m-%dT", time.gmtime(day_number * 86400))


@functools.cache
def _clock() -> tuple[str, ...]:
    """ "HH:MM:SS" for every second of a day, built once: formatting is the hottest path."""
    return tuple(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))


def _iso_s(sec: int) -> str:
    """Epoch seconds as Amazon Connect CTRs write them: 2026-10-05T07:00:00Z."""
    day, rest = divmod(sec, 86400)
    return f"{_day_prefix(day)}{_clock()[rest]}Z"


def _iso_ms(ms: int) -> str:
    """Epoch milliseconds as the agent event stream writes them: 2026-10-05T07:00:00.123Z."""
    day, rest = divmod(ms, 86_400_000)
    return f"{_day_prefix(day)}{_clock()[rest // 1000]}.{rest % 1000:03d}Z"


def _iso_aw(ms: int) -> str:
    """Epoch milliseconds as ActivityWatch writes them: 2026-10-05T07:00:00.123000+00:00."""
    day, rest = divmod(ms, 86_400_000)
    return f"{_day_prefix(day)}{_clock()[rest // 1000]}.{rest % 1000:03d}000+00:00"


def _ri(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in [low, high]; cheaper than Random.randint, which dominates the run time."""
    return low + int(rng.random() * (high - low + 1))


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from the seeded generator."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _ascii_letters(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalpha())


def _sites(n: int) -> list[Site]:
    sites = []
    for i in range(n):
        name, tz, code, prefix = SITE_BASES[i % len(SITE_BASES)]
        rnd = i // len(SITE_BASES)
        if rnd:
            name, code = f"{name}{rnd + 1}", f"{code}{rnd + 1}"
        sites.append(Site(name, tz, code, prefix))
    return sites


def _teams(sites: list[Site], n: int, tiny: bool) -> list[Team]:
    teams = []
    for i in range(n):
        site = sites[i % len(sites)]
        k = i // len(sites)
        func = TEAM_FUNCTIONS[k % len(TEAM_FUNCTIONS)]
        if k >= len(TEAM_FUNCTIONS):
            func = f"{func}{k // len(TEAM_FUNCTIONS) + 1}"
        teams.append(Team(f"{site.name}-{func}", site, f"{func} {site.name}"))
    if tiny:
        teams.append(Team(f"{sites[0].name}-{PILOT_FUNCTION}", sites[0], f"{PILOT_FUNCTION} {sites[0].name}"))
    return teams


def build_roster(
    seed: int, agents: int, teams: int, sites: int, tiny_team_size: int | None
) -> tuple[list[Agent], list[Team]]:
    """The roster: agents round robin over the teams, plus the tiny pilot team (deterministic in seed)."""
    if sites < 1 or teams < sites:
        raise ValueError(f"need at least one site and one team per site (sites={sites}, teams={teams})")
    if tiny_team_size is not None and tiny_team_size < 1:
        raise ValueError("tiny_team_size must be positive or None")
    tiny = tiny_team_size or 0
    regular = agents - tiny
    if regular < teams:
        raise ValueError(f"{agents} agents cannot fill {teams} teams plus a pilot team of {tiny}")
    rng = random.Random(seed)
    site_list = _sites(sites)
    team_list = _teams(site_list, teams, tiny_team_size is not None)
    hosts_per_site: dict[str, int] = {}
    usernames: set[str] = set()
    roster = []
    for i in range(agents):
        team = team_list[i % teams] if i < regular else team_list[-1]
        first, last = _pick(rng, _FIRST), _pick(rng, _LAST)
        base = _ascii_letters(first)[:1] + _ascii_letters(last)
        username = f"{base}{_ri(rng, 1, 99)}"
        while username in usernames:
            username = f"{base}{_ri(rng, 1, 999)}"
        usernames.add(username)
        site = team.site
        hosts_per_site[site.name] = hosts_per_site.get(site.name, 0) + 1
        agent = Agent(
            employee_id=f"E{10001 + i}",
            first_name=first,
            last_name=last,
            username=username,
            host=f"WS-{site.code}-{hosts_per_site[site.name]:04d}",
            team=team,
            arn=f"{INSTANCE_ARN}/agent/{_uuid(rng)}",
            hierarchy=rng.random() < 0.8,
        )
        agent.configuration = _configuration(agent)
        agent.ctr_hierarchy = _ctr_hierarchy(agent)
        roster.append(agent)
    return roster, team_list


def _configuration(agent: Agent) -> dict[str, Any]:
    """The agent event stream's Configuration block, keys in the order Amazon Connect writes them."""
    team, site = agent.team, agent.team.site
    hierarchy = {"Level1": {"ARN": _arn("agent-group", site.name), "Name": site.name}} if agent.hierarchy else None
    outbound = f"Outbound {site.name}"
    return {
        "AgentHierarchyGroups": hierarchy,
        "FirstName": agent.first_name,
        "LastName": agent.last_name,
        "RoutingProfile": {
            "ARN": _arn("routing-profile", team.name),
            "Concurrency": [{"AvailableSlots": 1, "Channel": "VOICE", "MaximumSlots": 1}],
            "DefaultOutboundQueue": {"ARN": _arn("queue", outbound), "Channels": ["VOICE"], "Name": outbound},
            "InboundQueues": [{"ARN": team.queue_arn, "Channels": ["VOICE"], "Name": team.queue}],
            "Name": f"{team.name} Profile",
        },
        "Username": agent.username,
    }


def _ctr_hierarchy(agent: Agent) -> dict[str, Any] | None:
    """The CTR's Agent.HierarchyGroups: the site as level 1, or null where no hierarchy is set up."""
    if not agent.hierarchy:
        return None
    return {"Level1": {"ARN": _arn("agent-group", agent.site.name), "GroupName": agent.site.name}}


def _days_off(seed: int, monday: datetime.date, n_agents: int) -> list[set[int]]:
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


def _plan_shift(
    rng: random.Random, agent: Agent, day: datetime.date, calls_per_agent_day: float
) -> tuple[list[tuple[str, int, int]], _Run]:
    """Scheduled activities (UTC epoch seconds) and the actual behaviour for one shift."""
    local_start = datetime.datetime.combine(day, datetime.time(7, 0), tzinfo=agent.site.zone)
    local_start += datetime.timedelta(minutes=15 * _ri(rng, 0, 16))  # 07:00 .. 11:00 local
    start = int(local_start.timestamp())  # DST-correct: zoneinfo gives the offset of that local day
    length = 60 * _pick(rng, (480, 480, 480, 510))
    acts = [("break", start + 60 * _pick(rng, (105, 120, 135, 150)), 900)]
    acts.append(("lunch", start + 60 * _pick(rng, (225, 240, 255, 270, 285)), 1800))
    extra = rng.random()
    if extra < 0.10:
        acts.append(("meeting", start + 60 * _pick(rng, (330, 345, 360, 375, 390)), 60 * _pick(rng, (30, 45, 60))))
    elif extra < 0.15:
        acts.append(("training", start + 60 * _pick(rng, (330, 345, 360)), 3600))
    schedule = [("shift", start, start + length)] + [(a, s, s + d) for a, s, d in acts]

    login = start - _ri(rng, 0, 300) if rng.random() > 0.08 else start + _ri(rng, 180, 900)
    end = start + length
    logout_target = end + _ri(rng, 0, 180) if rng.random() > 0.05 else end - _ri(rng, 600, 2400)
    actual = []
    for activity, s, d in acts:
        if activity in ("break", "lunch"):
            d += _ri(rng, -60, 90) if rng.random() > 0.2 else _ri(rng, 120, 480)
        else:
            d += _ri(rng, -60, 120)
        actual.append((activity.capitalize(), s, d))
    lam = calls_per_agent_day * length / 28800
    available = length - sum(d for _, _, d in acts)
    gap = max(15.0, (available - lam * _MEAN_BUSY_S) / lam) if lam > 0 else math.inf
    return schedule, _Run(agent, login, logout_target, actual, gap)


class _SiteDay:
    """Discrete-event simulation of one site's shifts that start on one site-local day."""

    def __init__(self, rng: random.Random, runs: list[_Run], teams: list[Team]) -> None:
        self.rng = rng
        self.runs = runs
        self.teams = teams
        self.heap: list[tuple[int, int, int, int, int, int]] = []
        self.seq = 0
        self.idle: dict[str, set[int]] = {t.name: set() for t in teams}
        self.waiting: dict[str, deque[int]] = {t.name: deque() for t in teams}
        self.legs: list[_Leg] = []
        self.contacts: list[dict[str, Any]] = []

    def _push(self, t: int, kind: int, run: int = -1, token: int = 0, leg: int = -1) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, run, token, leg))

    def _stamp(self, run: _Run, t: int, event_type: str, status: str) -> None:
        ms = max(t * 1000 + _ri(self.rng, 0, 999), run.last_ms + 1)
        run.last_ms = ms
        run.transitions.append((ms, event_type, status))

    def simulate(self) -> None:
        for i, run in enumerate(self.runs):
            self._push(run.login, _LOGIN, i)
        while self.heap:
            t, _, kind, i, token, leg = heapq.heappop(self.heap)
            if kind == _LEG:
                self._leg_arrives(t, leg)
                continue
            if kind == _EXPIRE:
                self._leg_expires(t, leg)
                continue
            run = self.runs[i]
            if token != run.token:
                continue  # interrupted by a transferred call
            if kind == _LOGIN:
                self._stamp(run, t, "LOGIN", "Offline")
                available = t + _ri(self.rng, 5, 40)
                self._stamp(run, available, "STATE_CHANGE", "Available")
                self._push(available, _DECIDE, i, run.token)
            elif kind == _RETURN:
                self._stamp(run, t, "STATE_CHANGE", "Available")
                self._decide(i, t)
            elif kind == _ARRIVE:
                self.idle[run.agent.team.name].discard(i)
                self._call(i, t, "OUTBOUND" if self.rng.random() < _OUTBOUND_SHARE else "INBOUND")
            else:
                self.idle[run.agent.team.name].discard(i)
                self._decide(i, t)

    def _decide(self, i: int, t: int) -> None:
        """The agent is free and Available at t: custom status, logout, a waiting transfer, or idle."""
        run = self.runs[i]
        if run.next_act < len(run.acts) and t >= run.acts[run.next_act][1]:
            status, _, duration = run.acts[run.next_act]
            run.next_act += 1
            self._stamp(run, t, "STATE_CHANGE", status)
            run.custom.append((status, t, t + duration))
            self._push(t + duration, _RETURN, i, run.token)
            return
        if t >= run.logout_target:
            self._stamp(run, t, "LOGOUT", "Offline")
            run.logout = t
            return
        queue = self.waiting[run.agent.team.name]
        for index in list(queue):
            leg = self.legs[index]
            if not leg.waiting or t >= leg.enqueued + leg.patience:
                queue.remove(index)
            elif leg.from_run != i:
                queue.remove(index)
                self._call(i, t + _ri(self.rng, 2, 8), "TRANSFER", leg)
                return
        boundary = run.logout_target
        if run.next_act < len(run.acts):
            boundary = min(boundary, run.acts[run.next_act][1])
        arrival = t + max(1, int(self.rng.expovariate(1 / run.gap_mean))) if run.gap_mean < math.inf else boundary
        if arrival < boundary:
            self._push(arrival, _ARRIVE, i, run.token)
        else:
            self._push(boundary, _DECIDE, i, run.token)
        self.idle[run.agent.team.name].add(i)

    def _leg_arrives(self, t: int, index: int) -> None:
        leg = self.legs[index]
        idle = sorted(self.idle[leg.team.name] - {leg.from_run})
        if idle:
            i = _pick(self.rng, idle)
            self.idle[leg.team.name].discard(i)
            self.runs[i].token += 1
            self._call(i, t + _ri(self.rng, 3, 15), "TRANSFER", leg)
        else:
            self.waiting[leg.team.name].append(index)
            self._push(t + leg.patience, _EXPIRE, leg=index)

    def _leg_expires(self, t: int, index: int) -> None:
        leg = self.legs[index]
        if not leg.waiting:
            return
        leg.waiting = False
        queue = self._queue(leg.team, leg.enqueued, t)
        self.contacts.append(
            _ctr(
                contact_id=leg.contact_id,
                initial_id=leg.initial_id,
                previous_id=leg.previous_id,
                method="TRANSFER",
                initiated=leg.enqueued,
                connected_to_system=leg.enqueued,
                disconnected=t,
                last_update=t + _ri(self.rng, 60, 300),
                reason="CUSTOMER_DISCONNECT",
                attributes=leg.attributes,
                customer=leg.customer,
                system=leg.system,
                queue=queue,
                agent=None,
            )
        )

    @staticmethod
    def _queue(team: Team, enqueued: int, dequeued: int) -> dict[str, Any]:
        return {
            "ARN": team.queue_arn,
            "Name": team.queue,
            "EnqueueTimestamp": _iso_s(enqueued),
            "DequeueTimestamp": _iso_s(dequeued),
            "Duration": dequeued - enqueued,
        }

    def _call(self, i: int, connected: int, method: str, leg: _Leg | None = None) -> None:
        """One call handled by run i from `connected`; the agent is free again when ACW ends."""
        rng, run = self.rng, self.runs[i]
        agent, team, site = run.agent, run.agent.team, run.agent.site
        talk = min(_MAX_TALK_S, max(10, int(_TALK_MEDIAN_S * math.exp(rng.gauss(0.0, _LOGNORMAL_SIGMA)))))
        holds: list[int] = []
        if rng.random() < _HOLD_SHARE:
            holds = [_ri(rng, 20, 180) for _ in range(_pick(rng, (1, 1, 1, 1, 1, 1, 2, 2, 2, 3)))]
        hold = sum(holds)
        acw = int(rng.triangular(10, 120, 35))
        disconnect = connected + talk + hold
        acw_end = disconnect + acw
        contact_id = leg.contact_id if leg else _uuid(rng)
        if leg:
            leg.waiting = False
            attributes, customer, system = leg.attributes, leg.customer, leg.system
        else:
            customer_name = f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)}"
            note = _pick(rng, _NOTES).format(n=_ri(rng, 100_000, 999_999), first=customer_name.split()[0])
            attributes = {"customer_name": customer_name, "note": note}
            customer = {"Address": f"{site.phone_prefix}{_ri(rng, 0, 9_999_999):07d}", "Type": "TELEPHONE_NUMBER"}
            system = {"Address": f"{site.phone_prefix}5550100", "Type": "TELEPHONE_NUMBER"}
        next_id = None
        reason = "CUSTOMER_DISCONNECT" if rng.random() < 0.7 else "AGENT_DISCONNECT"
        if method == "INBOUND" and rng.random() < _TRANSFER_SHARE:
            next_id = _uuid(rng)
            reason = "AGENT_DISCONNECT"
            target = _pick(rng, self.teams)
            patience = _ri(rng, 30, 300)
            self.legs.append(
                _Leg(next_id, contact_id, contact_id, target, disconnect, patience, i, attributes, customer, system)
            )
            self._push(disconnect, _LEG, leg=len(self.legs) - 1)
        queue: dict[str, Any] | None = None
        if method == "INBOUND":
            enqueued = connected - min(300, 5 + int(rng.expovariate(1 / 45)))
            initiated = enqueued - _ri(rng, 8, 45)
            queue = self._queue(team, enqueued, connected)
            if rng.random() < _ABANDON_SHARE / (1 - _ABANDON_SHARE):
                self._abandoned(team, connected)
        elif method == "TRANSFER":
            assert leg is not None
            initiated = leg.enqueued
            queue = self._queue(team, leg.enqueued, connected)
        else:
            initiated = connected
        agent_block = {
            "ARN": agent.arn,
            "Username": agent.username,
            "ConnectedToAgentTimestamp": _iso_s(connected),
            "AgentInteractionDuration": talk,
            "CustomerHoldDuration": hold,
            "NumberOfHolds": len(holds),
            "LongestHoldDuration": max(holds, default=0),
            "AfterContactWorkStartTimestamp": _iso_s(disconnect),
            "AfterContactWorkEndTimestamp": _iso_s(acw_end),
            "AfterContactWorkDuration": acw,
            "HierarchyGroups": agent.ctr_hierarchy,
            "RoutingProfile": {"Name": f"{team.name} Profile"},
        }
        self.contacts.append(
            _ctr(
                contact_id=contact_id,
                initial_id=leg.initial_id if leg else None,
                previous_id=leg.previous_id if leg else None,
                next_id=next_id,
                method=method,
                initiated=initiated,
                connected_to_system=initiated if method != "OUTBOUND" else connected + _ri(rng, 5, 25),
                disconnected=disconnect,
                last_update=acw_end + _ri(rng, 60, 300),
                reason=reason,
                attributes=attributes,
                customer=customer,
                system=system,
                queue=queue,
                agent=agent_block,
            )
        )
        self._push(acw_end, _DECIDE, i, run.token)

    def _abandoned(self, team: Team, near: int) -> None:
        rng, site = self.rng, team.site
        enqueued = near - _ri(rng, 0, 900)
        dequeued = enqueued + min(900, 5 + int(rng.expovariate(1 / 60)))
        initiated = enqueued - _ri(rng, 8, 45)
        customer_name = f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)}"
        self.contacts.append(
            _ctr(
                contact_id=_uuid(rng),
                method="INBOUND",
                initiated=initiated,
                connected_to_system=initiated,
                disconnected=dequeued,
                last_update=dequeued + _ri(rng, 60, 300),
                reason="CUSTOMER_DISCONNECT",
                attributes={"customer_name": customer_name},
                customer={"Address": f"{site.phone_prefix}{_ri(rng, 0, 9_999_999):07d}", "Type": "TELEPHONE_NUMBER"},
                system={"Address": f"{site.phone_prefix}5550100", "Type": "TELEPHONE_NUMBER"},
                queue=self._queue(team, enqueued, dequeued),
                agent=None,
            )
        )


def _ctr(
    *,
    contact_id: str,
    method: str,
    initiated: int,
    connected_to_system: int,
    disconnected: int,
    last_update: int,
    reason: str,
    attributes: dict[str, str],
    customer: dict[str, str],
    system: dict[str, str],
    queue: dict[str, Any] | None,
    agent: dict[str, Any] | None,
    initial_id: str | None = None,
    previous_id: str | None = None,
    next_id: str | None = None,
) -> dict[str, Any]:
    """One contact trace record, keys in the order of docs/landing.md."""
    return {
        "ContactId": contact_id,
        "InitialContactId": initial_id,
        "PreviousContactId": previous_id,
        "NextContactId": next_id,
        "Channel": "VOICE",
        "InitiationMethod": method,
        "InitiationTimestamp": _iso_s(initiated),
        "ConnectedToSystemTimestamp": _iso_s(connected_to_system),
        "DisconnectTimestamp": _iso_s(disconnected),
        "LastUpdateTimestamp": _iso_s(last_update),
        "DisconnectReason": reason,
        "Attributes": attributes,
        "CustomerEndpoint": customer,
        "SystemEndpoint": system,
        "Queue": queue,
        "Agent": agent,
    }


def _agent_events(rng: random.Random, run: _Run, heartbeats: bool) -> list[tuple[int, str]]:
    """The agent event stream records of one shift, as (epoch ms, JSON line)."""
    config = run.agent.configuration

    def snapshot(status: str, since_ms: int) -> dict[str, Any]:
        return {
            "AgentStatus": {
                "ARN": _STATUS_ARN[status],
                "Name": status,
                "StartTimestamp": _iso_ms(since_ms),
                "Type": _STATUS_TYPE[status],
            },
            "Configuration": config,
            "Contacts": [],
        }

    def event(ms: int, event_type: str, current: dict[str, Any], previous: dict[str, Any] | None) -> tuple[int, str]:
        record = {
            "AWSAccountId": ACCOUNT_ID,
            "AgentARN": run.agent.arn,
            "CurrentAgentSnapshot": current,
            "EventId": _uuid(rng),
            "EventTimestamp": _iso_ms(ms),
            "EventType": event_type,
            "InstanceARN": INSTANCE_ARN,
            "PreviousAgentSnapshot": previous,
            "Version": EVENT_VERSION,
        }
        return ms, _dumps(record)

    snaps = [snapshot(status, ms) for ms, _, status in run.transitions]
    out = []
    for j, (ms, event_type, _) in enumerate(run.transitions):
        out.append(event(ms, event_type, snaps[j], snaps[j - 1] if j else None))
    if heartbeats:
        login_ms, logout_ms = run.transitions[0][0], run.transitions[-1][0]
        j = 0
        for ms in range(login_ms + 120_000, logout_ms, 120_000):
            while j + 1 < len(run.transitions) and run.transitions[j + 1][0] <= ms:
                j += 1
            out.append(event(ms, "HEART_BEAT", snaps[j], snaps[j - 1] if j else None))
    return out


def _window_title(rng: random.Random, app: str) -> str:
    customer = f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)}"
    case = f"{_ri(rng, 10_000, 9_999_999):08d}"
    if app == "Salesforce":
        return f"Case {case} - {customer} | Salesforce"
    if app == "Amazon Connect CCP":
        return _pick(rng, ("Amazon Connect Contact Control Panel", f"CCP - Case {case} - {customer}"))
    if app == "Confluence":
        return f"{_pick(rng, _KB_PAGES)} - Customer Service - Confluence"
    if app == "Outlook":
        return f"RE: Case {case} - {customer} - Outlook"
    if app == "Teams":
        return f"Chat | {_pick(rng, _FIRST)} {_pick(rng, _LAST)} | Microsoft Teams"
    if app == "Google Chrome":
        return f"Order {case[2:]} - {customer} - Shop Admin - Google Chrome"
    return f"notes {customer}.txt - Notepad"


def _desktop(rng: random.Random, run: _Run) -> tuple[dict[str, Any], int]:
    """One host's ActivityWatch export for a shift, and its number of events."""
    host = run.agent.host
    begin = (run.login - _ri(rng, 60, 420)) * 1000 + _ri(rng, 0, 999)
    end = (run.logout + _ri(rng, 20, 240)) * 1000 + _ri(rng, 0, 999)
    apps = [a for a, _ in DESKTOP_APPS]
    cumulative = list(itertools.accumulate(w for _, w in DESKTOP_APPS))
    window: list[dict[str, Any]] = []
    t, app = begin, "Outlook"
    while t < end:
        duration = min(_ri(rng, 60_000, 480_000), end - t)
        window.append(
            {
                "id": len(window) + 1,
                "timestamp": _iso_aw(t),
                "duration": duration / 1000,
                "data": {"app": app, "title": _window_title(rng, app)},
            }
        )
        t += duration
        nxt = app
        while nxt == app:
            nxt = apps[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
        app = nxt

    away: list[tuple[int, int]] = []
    for status, s, e in run.custom:
        if status in ("Break", "Lunch") or (status == "Meeting" and rng.random() < 0.5):
            away.append((s * 1000 + _ri(rng, 0, 60_000), e * 1000 - _ri(rng, 0, 30_000)))
    for _ in range(_pick(rng, (0, 1, 1, 2, 3))):
        s = _ri(rng, begin, max(begin, end - 420_000))
        away.append((s, s + _ri(rng, 120_000, 420_000)))
    merged: list[list[int]] = []
    for s, e in sorted(away):
        s, e = max(s, begin), min(e, end)
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    afk: list[dict[str, Any]] = []
    cursor = begin
    for s, e in [*merged, [end, end]]:
        for status, a, b in (("not-afk", cursor, s), ("afk", s, e)):
            if b > a:
                afk.append(
                    {
                        "id": len(afk) + 1,
                        "timestamp": _iso_aw(a),
                        "duration": (b - a) / 1000,
                        "data": {"status": status},
                    }
                )
        cursor = e

    # The browser watcher's active tab while the browser has focus: a CRM case or the shop admin,
    # with the customer in URL and title (the policy maps the host to a category; neither passes).
    tabs: list[dict[str, Any]] = []
    for w in window:
        if w["data"]["app"] != "Google Chrome":
            continue
        order = w["data"]["title"].split(" ")[1]
        customer = w["data"]["title"].split(" - ")[1]
        if len(tabs) % 3 == 0:
            url = f"https://acme.lightning.force.com/lightning/r/Case/5003{order}/view"
            title = f"Case 5003{order} | {customer} | Salesforce"
        else:
            url = f"https://shop-admin.example.com/orders/{order}?customer={customer.replace(' ', '+')}"
            title = w["data"]["title"].removesuffix(" - Google Chrome")
        data = {"url": url, "title": title, "audible": False, "incognito": False, "tabCount": 3}
        tabs.append({"id": len(tabs) + 1, "timestamp": w["timestamp"], "duration": w["duration"], "data": data})

    created = "2026-01-05T08:00:00.000000+00:00"
    window_id, afk_id = f"aw-watcher-window_{host}", f"aw-watcher-afk_{host}"
    web_id = f"aw-watcher-web-chrome_{host}"
    doc = {
        "buckets": {
            window_id: {
                "id": window_id,
                "created": created,
                "type": "currentwindow",
                "client": "aw-watcher-window",
                "hostname": host,
                "events": window,
            },
            afk_id: {
                "id": afk_id,
                "created": created,
                "type": "afkstatus",
                "client": "aw-watcher-afk",
                "hostname": host,
                "events": afk,
            },
            web_id: {
                "id": web_id,
                "created": created,
                "type": "web.tab.current",
                "client": "aw-client-web",
                "hostname": host,
                "events": tabs,
            },
        }
    }
    return doc, len(window) + len(afk) + len(tabs)


def _deliver(rng: random.Random, contacts: list[dict[str, Any]], share: float) -> tuple[list[str], int]:
    """JSON lines of one day's CTR file: sorted by LastUpdateTimestamp, `share` of them delivered twice.

    Half of the second deliveries are identical; for the other half the first delivery is an
    earlier version (shorter after-contact work, earlier LastUpdateTimestamp) and the second,
    inserted at a random position, is the final one: latest LastUpdateTimestamp wins, not last line.
    """
    contacts = sorted(contacts, key=lambda c: (c["LastUpdateTimestamp"], c["ContactId"]))
    lines = [_dumps(c) for c in contacts]
    k = round(len(contacts) * share)
    chosen = sorted(rng.sample(range(len(contacts)), k)) if k else []
    extra = []
    for n, index in enumerate(chosen):
        if n % 2 == 0:
            extra.append(lines[index])
            continue
        final = contacts[index]
        stale = dict(final)
        agent = final["Agent"]
        if agent is not None:
            final_acw = agent["AfterContactWorkDuration"]
            acw = final_acw - _ri(rng, 1, max(1, final_acw // 2))
            acw_start = _parse_s(agent["AfterContactWorkStartTimestamp"])
            stale["Agent"] = {
                **agent,
                "AfterContactWorkDuration": acw,
                "AfterContactWorkEndTimestamp": _iso_s(acw_start + acw),
            }
            stale["LastUpdateTimestamp"] = _iso_s(acw_start + acw + _ri(rng, 5, 59))
        else:
            stale["LastUpdateTimestamp"] = _iso_s(_parse_s(final["DisconnectTimestamp"]) + _ri(rng, 5, 59))
        lines[index] = _dumps(stale)
        extra.append(_dumps(final))
    for line in extra:
        lines.insert(_ri(rng, 0, len(lines)), line)
    return lines, k


def _parse_s(text: str) -> int:
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp())


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")


def generate_center(
    landing: Path,
    *,
    agents: int = 200,
    teams: int = 14,
    sites: int = 2,
    days: int = 28,
    start: datetime.date = datetime.date(2026, 10, 5),
    seed: int = 0,
    calls_per_agent_day: float = 40.0,
    tiny_team_size: int | None = 6,
    duplicate_share: float = 0.01,
    heartbeats: bool = False,
) -> dict[str, int]:
    """Write a synthetic center's landing zone under `landing` and return what was written.

    The roster is rewritten; for each of the `days` days from `start` the day's files are
    overwritten (stale ActivityWatch host files of that day are removed). Same arguments, same bytes.
    """
    landing = Path(landing)
    roster, team_list = build_roster(seed, agents, teams, sites, tiny_team_size)
    _write_csv(
        landing / "roster" / "roster.csv",
        ["employee_id", "display_name", "connect_username", "desktop_host", "team", "site", "site_timezone"],
        [
            [a.employee_id, a.display_name, a.username, a.host, a.team.name, a.site.name, a.site.timezone]
            for a in roster
        ],
    )
    counts = dict.fromkeys(
        (
            "shifts",
            "schedule_rows",
            "contacts",
            "ctr_records",
            "duplicate_ctr_records",
            "handled_contacts",
            "abandoned_contacts",
            "outbound_contacts",
            "transferred_contacts",
            "transfer_legs",
            "agent_events",
            "heartbeat_events",
            "desktop_files",
            "desktop_events",
        ),
        0,
    )
    site_names = list(dict.fromkeys(a.site.name for a in roster))
    week_cache: dict[datetime.date, list[set[int]]] = {}
    for offset in range(days):
        day = start + datetime.timedelta(days=offset)
        monday = day - datetime.timedelta(days=day.weekday())
        if monday not in week_cache:
            week_cache[monday] = _days_off(seed, monday, len(roster))
        off = week_cache[monday]
        part = f"day={day.isoformat()}"
        schedule_rows: list[list[str]] = []
        contacts: list[dict[str, Any]] = []
        events: list[tuple[int, str]] = []
        desktop_dir = landing / "activitywatch" / part
        desktop_dir.mkdir(parents=True, exist_ok=True)
        for stale in desktop_dir.glob("*.json"):
            stale.unlink()
        for site_name in site_names:
            rng = random.Random(f"{seed}/{site_name}/{day.isoformat()}")
            runs = []
            for index, agent in enumerate(roster):
                if agent.site.name != site_name or day.weekday() in off[index]:
                    continue
                schedule, run = _plan_shift(rng, agent, day, calls_per_agent_day)
                schedule_rows += [[agent.employee_id, a, _iso_s(s), _iso_s(e)] for a, s, e in schedule]
                if rng.random() >= 0.02:  # about 2% of scheduled shifts are missed (sick, no show)
                    runs.append(run)
            site_teams = [t for t in team_list if t.site.name == site_name]
            sim = _SiteDay(rng, runs, site_teams)
            sim.simulate()
            contacts += sim.contacts
            for run in runs:
                run_events = _agent_events(rng, run, heartbeats)
                counts["heartbeat_events"] += len(run_events) - len(run.transitions)
                events += run_events
                doc, n_desktop = _desktop(rng, run)
                (desktop_dir / f"{run.agent.host}.json").write_text(_dumps(doc), encoding="utf-8")
                counts["desktop_files"] += 1
                counts["desktop_events"] += n_desktop
            counts["shifts"] += len(runs)
        schedule_rows.sort(key=lambda r: (r[0], r[2]))
        _write_csv(
            landing / "schedules" / part / "schedules.csv",
            ["employee_id", "activity", "start_utc", "end_utc"],
            schedule_rows,
        )
        events.sort(key=lambda e: e[0])
        _write_lines(landing / "connect_agent_events" / part / "part-0000.jsonl", [line for _, line in events])
        lines, duplicates = _deliver(random.Random(f"{seed}/deliver/{day.isoformat()}"), contacts, duplicate_share)
        _write_lines(landing / "connect_ctr" / part / "part-0000.jsonl", lines)

        counts["schedule_rows"] += len(schedule_rows)
        counts["agent_events"] += len(events)
        counts["contacts"] += len(contacts)
        counts["ctr_records"] += len(lines)
        counts["duplicate_ctr_records"] += duplicates
        for c in contacts:
            if c["Agent"] is None:
                counts["abandoned_contacts"] += 1
            else:
                counts["handled_contacts"] += 1
            counts["outbound_contacts"] += c["InitiationMethod"] == "OUTBOUND"
            counts["transferred_contacts"] += c["NextContactId"] is not None
            counts["transfer_legs"] += c["InitiationMethod"] == "TRANSFER"
    return {"agents": len(roster), "teams": len(team_list), "sites": sites, "days": days, **counts}
