"""Calls: the discrete-event simulation of a site-day and the contact trace records (CTRs) it
produces, and the day's CTR file with its duplicate and stale deliveries.
"""

from __future__ import annotations

import datetime
import heapq
import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from teamlens.generator.common import (
    FIRST_NAMES,
    LAST_NAMES,
    dumps_compact,
    iso_seconds,
    pick,
    random_uuid,
    uniform_int,
)
from teamlens.generator.roster import Team
from teamlens.generator.schedules import MAX_TALK_S, TALK_LOGNORMAL_SIGMA, TALK_MEDIAN_S, ShiftRun

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

_TRANSFER_SHARE = 0.06
_ABANDON_SHARE = 0.05
_OUTBOUND_SHARE = 0.03
_HOLD_SHARE = 0.25

# Event kinds of the site-day simulation.
_LOGIN, _DECIDE, _ARRIVE, _RETURN, _LEG, _EXPIRE = range(6)


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


class SiteDay:
    """Discrete-event simulation of one site's shifts that start on one site-local day."""

    def __init__(self, rng: random.Random, runs: list[ShiftRun], teams: list[Team]) -> None:
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

    def _stamp(self, run: ShiftRun, t: int, event_type: str, status: str) -> None:
        ms = max(t * 1000 + uniform_int(self.rng, 0, 999), run.last_ms + 1)
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
                available = t + uniform_int(self.rng, 5, 40)
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
                self._call(i, t + uniform_int(self.rng, 2, 8), "TRANSFER", leg)
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
            i = pick(self.rng, idle)
            self.idle[leg.team.name].discard(i)
            self.runs[i].token += 1
            self._call(i, t + uniform_int(self.rng, 3, 15), "TRANSFER", leg)
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
                last_update=t + uniform_int(self.rng, 60, 300),
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
            "EnqueueTimestamp": iso_seconds(enqueued),
            "DequeueTimestamp": iso_seconds(dequeued),
            "Duration": dequeued - enqueued,
        }

    def _call(self, i: int, connected: int, method: str, leg: _Leg | None = None) -> None:
        """One call handled by run i from `connected`; the agent is free again when ACW ends."""
        rng, run = self.rng, self.runs[i]
        agent, team, site = run.agent, run.agent.team, run.agent.site
        talk = min(MAX_TALK_S, max(10, int(TALK_MEDIAN_S * math.exp(rng.gauss(0.0, TALK_LOGNORMAL_SIGMA)))))
        holds: list[int] = []
        if rng.random() < _HOLD_SHARE:
            holds = [uniform_int(rng, 20, 180) for _ in range(pick(rng, (1, 1, 1, 1, 1, 1, 2, 2, 2, 3)))]
        hold = sum(holds)
        acw = int(rng.triangular(10, 120, 35))
        disconnect = connected + talk + hold
        acw_end = disconnect + acw
        contact_id = leg.contact_id if leg else random_uuid(rng)
        if leg:
            leg.waiting = False
            attributes, customer, system = leg.attributes, leg.customer, leg.system
        else:
            customer_name = f"{pick(rng, FIRST_NAMES)} {pick(rng, LAST_NAMES)}"
            note = pick(rng, _NOTES).format(n=uniform_int(rng, 100_000, 999_999), first=customer_name.split()[0])
            attributes = {"customer_name": customer_name, "note": note}
            customer = {
                "Address": f"{site.phone_prefix}{uniform_int(rng, 0, 9_999_999):07d}",
                "Type": "TELEPHONE_NUMBER",
            }
            system = {"Address": f"{site.phone_prefix}5550100", "Type": "TELEPHONE_NUMBER"}
        next_id = None
        reason = "CUSTOMER_DISCONNECT" if rng.random() < 0.7 else "AGENT_DISCONNECT"
        if method == "INBOUND" and rng.random() < _TRANSFER_SHARE:
            next_id = random_uuid(rng)
            reason = "AGENT_DISCONNECT"
            target = pick(rng, self.teams)
            patience = uniform_int(rng, 30, 300)
            self.legs.append(
                _Leg(next_id, contact_id, contact_id, target, disconnect, patience, i, attributes, customer, system)
            )
            self._push(disconnect, _LEG, leg=len(self.legs) - 1)
        queue: dict[str, Any] | None = None
        if method == "INBOUND":
            enqueued = connected - min(300, 5 + int(rng.expovariate(1 / 45)))
            initiated = enqueued - uniform_int(rng, 8, 45)
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
            "ConnectedToAgentTimestamp": iso_seconds(connected),
            "AgentInteractionDuration": talk,
            "CustomerHoldDuration": hold,
            "NumberOfHolds": len(holds),
            "LongestHoldDuration": max(holds, default=0),
            "AfterContactWorkStartTimestamp": iso_seconds(disconnect),
            "AfterContactWorkEndTimestamp": iso_seconds(acw_end),
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
                connected_to_system=initiated if method != "OUTBOUND" else connected + uniform_int(rng, 5, 25),
                disconnected=disconnect,
                last_update=acw_end + uniform_int(rng, 60, 300),
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
        enqueued = near - uniform_int(rng, 0, 900)
        dequeued = enqueued + min(900, 5 + int(rng.expovariate(1 / 60)))
        initiated = enqueued - uniform_int(rng, 8, 45)
        customer_name = f"{pick(rng, FIRST_NAMES)} {pick(rng, LAST_NAMES)}"
        self.contacts.append(
            _ctr(
                contact_id=random_uuid(rng),
                method="INBOUND",
                initiated=initiated,
                connected_to_system=initiated,
                disconnected=dequeued,
                last_update=dequeued + uniform_int(rng, 60, 300),
                reason="CUSTOMER_DISCONNECT",
                attributes={"customer_name": customer_name},
                customer={
                    "Address": f"{site.phone_prefix}{uniform_int(rng, 0, 9_999_999):07d}",
                    "Type": "TELEPHONE_NUMBER",
                },
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
        "InitiationTimestamp": iso_seconds(initiated),
        "ConnectedToSystemTimestamp": iso_seconds(connected_to_system),
        "DisconnectTimestamp": iso_seconds(disconnected),
        "LastUpdateTimestamp": iso_seconds(last_update),
        "DisconnectReason": reason,
        "Attributes": attributes,
        "CustomerEndpoint": customer,
        "SystemEndpoint": system,
        "Queue": queue,
        "Agent": agent,
    }


def deliver_ctr_lines(rng: random.Random, contacts: list[dict[str, Any]], share: float) -> tuple[list[str], int]:
    """JSON lines of one day's CTR file: sorted by LastUpdateTimestamp, `share` of them delivered twice.

    Half of the second deliveries are identical; for the other half the first delivery is an
    earlier version (shorter after-contact work, earlier LastUpdateTimestamp) and the second,
    inserted at a random position, is the final one: latest LastUpdateTimestamp wins, not last line.
    """
    contacts = sorted(contacts, key=lambda c: (c["LastUpdateTimestamp"], c["ContactId"]))
    lines = [dumps_compact(c) for c in contacts]
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
            acw = final_acw - uniform_int(rng, 1, max(1, final_acw // 2))
            acw_start = _parse_s(agent["AfterContactWorkStartTimestamp"])
            stale["Agent"] = {
                **agent,
                "AfterContactWorkDuration": acw,
                "AfterContactWorkEndTimestamp": iso_seconds(acw_start + acw),
            }
            stale["LastUpdateTimestamp"] = iso_seconds(acw_start + acw + uniform_int(rng, 5, 59))
        else:
            stale["LastUpdateTimestamp"] = iso_seconds(_parse_s(final["DisconnectTimestamp"]) + uniform_int(rng, 5, 59))
        lines[index] = dumps_compact(stale)
        extra.append(dumps_compact(final))
    for line in extra:
        lines.insert(uniform_int(rng, 0, len(lines)), line)
    return lines, k


def _parse_s(text: str) -> int:
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp())
