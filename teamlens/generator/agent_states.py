"""Agent states: the Amazon Connect agent event stream of one shift (logins, status changes,
logouts and optional heartbeats), from the transitions the site-day simulation recorded.
"""

from __future__ import annotations

import random
from typing import Any

from teamlens.generator.common import (
    ACCOUNT_ID,
    EVENT_VERSION,
    INSTANCE_ARN,
    arn_of,
    dumps_compact,
    iso_millis,
    random_uuid,
)
from teamlens.generator.schedules import ShiftRun

CUSTOM_STATUSES = ("Break", "Lunch", "Meeting", "Training")

_STATUS_ARN = {name: arn_of("agent-state", name) for name in ("Available", "Offline", *CUSTOM_STATUSES)}
_STATUS_TYPE = {"Available": "ROUTABLE", "Offline": "OFFLINE", **{s: "CUSTOM" for s in CUSTOM_STATUSES}}


def agent_event_lines(rng: random.Random, run: ShiftRun, heartbeats: bool) -> list[tuple[int, str]]:
    """The agent event stream records of one shift, as (epoch ms, JSON line)."""
    config = run.agent.configuration

    def snapshot(status: str, since_ms: int) -> dict[str, Any]:
        return {
            "AgentStatus": {
                "ARN": _STATUS_ARN[status],
                "Name": status,
                "StartTimestamp": iso_millis(since_ms),
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
            "EventId": random_uuid(rng),
            "EventTimestamp": iso_millis(ms),
            "EventType": event_type,
            "InstanceARN": INSTANCE_ARN,
            "PreviousAgentSnapshot": previous,
            "Version": EVENT_VERSION,
        }
        return ms, dumps_compact(record)

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
