"""The demo center's organisation: sites, teams and agents (the roster), deterministic in the seed."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from teamlens.generator.common import (
    FIRST_NAMES,
    INSTANCE_ARN,
    LAST_NAMES,
    arn_of,
    pick,
    random_uuid,
    uniform_int,
)

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
        return arn_of("queue", self.queue)


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
        first, last = pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)
        base = _ascii_letters(first)[:1] + _ascii_letters(last)
        username = f"{base}{uniform_int(rng, 1, 99)}"
        while username in usernames:
            username = f"{base}{uniform_int(rng, 1, 999)}"
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
            arn=f"{INSTANCE_ARN}/agent/{random_uuid(rng)}",
            hierarchy=rng.random() < 0.8,
        )
        agent.configuration = _configuration(agent)
        agent.ctr_hierarchy = _ctr_hierarchy(agent)
        roster.append(agent)
    return roster, team_list


def _configuration(agent: Agent) -> dict[str, Any]:
    """The agent event stream's Configuration block, keys in the order Amazon Connect writes them."""
    team, site = agent.team, agent.team.site
    hierarchy = {"Level1": {"ARN": arn_of("agent-group", site.name), "Name": site.name}} if agent.hierarchy else None
    outbound = f"Outbound {site.name}"
    return {
        "AgentHierarchyGroups": hierarchy,
        "FirstName": agent.first_name,
        "LastName": agent.last_name,
        "RoutingProfile": {
            "ARN": arn_of("routing-profile", team.name),
            "Concurrency": [{"AvailableSlots": 1, "Channel": "VOICE", "MaximumSlots": 1}],
            "DefaultOutboundQueue": {"ARN": arn_of("queue", outbound), "Channels": ["VOICE"], "Name": outbound},
            "InboundQueues": [{"ARN": team.queue_arn, "Channels": ["VOICE"], "Name": team.queue}],
            "Name": f"{team.name} Profile",
        },
        "Username": agent.username,
    }


def _ctr_hierarchy(agent: Agent) -> dict[str, Any] | None:
    """The CTR's Agent.HierarchyGroups: the site as level 1, or null where no hierarchy is set up."""
    if not agent.hierarchy:
        return None
    return {"Level1": {"ARN": arn_of("agent-group", agent.site.name), "GroupName": agent.site.name}}
