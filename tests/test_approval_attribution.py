"""Who approved the policy: verify warns on legacy unattributed entries, fails on later ones; the report names it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from foundation.policy import Policy
from privacy.approval import approval_of
from privacy.ledger import append_entry, policy_payload
from privacy.verify import verify_ledger
from teamlens.report import format_policy_approval
from tests.helpers import TEAM_WEEK, approve, make_test_policy
from warehouse.store import connect, transaction

RECORDED_AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
APPROVED_AT = dt.datetime(2026, 4, 2, 14, 5, tzinfo=dt.UTC)


def record_unattributed(wh: Path, policy: Policy) -> None:
    """A 'policy_approved' entry as the first release wrote it before approvals named who approved."""
    con = connect(wh)
    try:
        with transaction(con):
            append_entry(con, "policy_approved", policy_payload(policy, "os-user"), None, RECORDED_AT)
    finally:
        con.close()


def test_a_legacy_unattributed_entry_is_a_warning_line(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    old = make_test_policy([TEAM_WEEK], version=1)
    record_unattributed(wh, old)
    approve(wh, make_test_policy([TEAM_WEEK], version=2))
    check = verify_ledger(wh)
    assert check.ok
    assert check.message.splitlines()[1:] == [
        f"warning: ledger entry seq 1: policy version 1 ({old.sha256}) approved without attribution (no "
        "approved_by; written before approvals were attributed, at 2026-03-01T09:30:00.000000Z; it approves "
        "nothing now)"
    ]


def test_an_unattributed_entry_after_an_attributed_one_fails(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    approve(wh, make_test_policy([TEAM_WEEK], version=1))
    assert "warning" not in verify_ledger(wh).message
    forged = make_test_policy([TEAM_WEEK], version=2)
    record_unattributed(wh, forged)
    check = verify_ledger(wh)
    assert not check.ok and check.first_bad_seq == 2
    assert check.message == (
        f"ledger entry seq 2: policy version 2 ({forged.sha256}) is recorded as approved without attribution "
        "(no approved_by) after approvals were attributed (seq 1): `teamlens policy approve` did not write it"
    )


def test_the_report_line_names_the_policy_its_approver_and_the_day(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([TEAM_WEEK])
    assert format_policy_approval(policy, approval_of(wh, policy)) == (
        f"Policy version 1 ({policy.sha256[:12]}): not approved; nothing is released under it until "
        "`teamlens policy approve` records it"
    )
    approve(wh, policy, "works council", "Betriebsvereinbarung 2026/04", at=APPROVED_AT)
    assert format_policy_approval(policy, approval_of(wh, policy)) == (
        f"Policy version 1 ({policy.sha256[:12]}), approved by works council 'Betriebsvereinbarung 2026/04' "
        "on 2026-04-02"
    )
