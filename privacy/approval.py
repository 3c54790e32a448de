"""Policy approval: a policy takes effect only once approved, and the approval says by whom and when.

`teamlens policy approve --by ROLE --name NAME` appends a 'policy_approved' ledger entry (the
whole policy, approved_by {role, name}, approved_at; privacy/ledger.py) for the policy's identity
(foundation.policy.policy_identity: a hash of its parsed content). Releases and retention
deletions run only under an approved identity: a changed policy is recorded in the ledger, by its
approval, before anything happens under it (docs/privacy.md, Policy approval). Nothing approves a
policy by itself, except `teamlens demo`, which approves its own policy as the demo, saying so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.policy import Policy
from privacy.ledger import append_entry, approval_entries, approval_payload
from warehouse import store

DEMO_ROLE = "demo"
DEMO_NAME = "teamlens demo (not a works agreement)"


class PolicyNotApproved(RuntimeError):
    """The current policy has no approval in the ledger: nothing may run under it yet."""


@dataclass(frozen=True)
class Approval:
    """One approval as the ledger records it: the policy's identity, by whom, when, and its entry's seq."""

    seq: int
    policy_version: int
    policy_sha256: str
    role: str
    name: str
    approved_at: str
    run_by: str

    @classmethod
    def of_entry(cls, entry: dict[str, Any]) -> Approval:
        return cls(
            seq=entry["seq"],
            policy_version=entry["policy_version"],
            policy_sha256=entry["policy_sha256"],
            role=entry["approved_by"]["role"],
            name=entry["approved_by"]["name"],
            approved_at=entry["approved_at"],
            run_by=entry["run_by"],
        )

    def describe(self) -> str:
        return (
            f"policy version {self.policy_version} ({self.policy_sha256}) approved by {self.role} "
            f"({self.name}) at {self.approved_at}, recorded as ledger entry {self.seq} by {self.run_by}"
        )


def not_approved_message(policy: Policy) -> str:
    """Why nothing runs under an unapproved policy, and the command that approves it."""
    return (
        f"policy version {policy.version} ({policy.sha256}) is not approved: a policy takes effect only once "
        'approved. After its approval, record it with `teamlens policy approve --by "works council" --name '
        '"<agreement or minutes reference>"` (docs/privacy.md, Policy approval)'
    )


def approval_of(path: Path, policy: Policy) -> Approval | None:
    """The first approval of the policy's identity in the warehouse at `path`, or None (also without a warehouse)."""
    approvals = history(path, policy.sha256)
    return approvals[0] if approvals else None


def history(path: Path, policy_sha256: str | None = None) -> list[Approval]:
    """Every approval in the ledger (of one identity, or all), oldest first."""
    if not Path(path).exists():
        return []
    con = store.connect(path, read_only=True)
    try:
        if not store.has_table(con, "ledger"):
            return []
        return [Approval.of_entry(e) for e in approval_entries(con, policy_sha256)]
    finally:
        con.close()


def require_approval(path: Path, policy: Policy) -> Approval:
    """The policy's approval; raises PolicyNotApproved (with the command to run) when it has none."""
    approval = approval_of(path, policy)
    if approval is None:
        raise PolicyNotApproved(not_approved_message(policy))
    return approval


def approve_policy(
    path: Path,
    policy: Policy,
    role: str,
    name: str,
    run_by: str,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> tuple[Approval, bool]:
    """Record the policy's approval (one transaction); (the approval, True if appended now).

    An identity already approved is left as it is: its first approval is returned with False.
    A blank role or name is refused (ValueError) either way.
    """
    approved_at = now()
    payload = approval_payload(policy, role, name, approved_at, run_by)
    con = store.connect(path)
    try:
        with store.transaction(con):
            existing = approval_entries(con, policy.sha256)
            if existing:
                return Approval.of_entry(existing[0]), False
            append_entry(con, "policy_approved", payload, None, approved_at)
            [entry] = approval_entries(con, policy.sha256)
        return Approval.of_entry(entry), True
    finally:
        con.close()
