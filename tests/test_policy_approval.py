"""A policy takes effect only once approved: the approval says by whom and when, and nothing runs before it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from foundation.policy import Policy, load_policy
from foundation.settings import REPO_ROOT
from privacy.accountant import publish_release
from privacy.approval import DEMO_NAME, DEMO_ROLE, PolicyNotApproved, approval_of, approve_policy, history
from privacy.ledger import append_entry, policy_payload
from privacy.retention import apply_retention
from privacy.verify import verify_ledger
from teamlens import cli, pipeline
from tests.helpers import TEAM_WEEK, FakeDraw, approve, make_test_policy, rows, write_policy_file
from warehouse.records import GroupDecision, ReleaseKey
from warehouse.store import connect, transaction

APPROVED_AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 16, 6, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2026, 3, 2)
TABLES = ("releases", "published_aggregates", "release_groups", "budget_spend", "ledger")
APPROVE = ["policy", "approve", "--by", "works council", "--name", "Betriebsvereinbarung 2026-02, minutes 4"]


def week_key(policy: Policy, monday: dt.date = MONDAY) -> ReleaseKey:
    return ReleaseKey("team_week", monday, monday + dt.timedelta(days=7), policy.sha256)


def publish(wh: Path, policy: Policy, draw: Any, monday: dt.date = MONDAY, **kwargs: Any) -> Any:
    key = week_key(policy, monday)
    return publish_release(wh, key, policy.release("team_week"), policy, "ops", draw, now=lambda: NOW, **kwargs)


def counts(path: Path) -> dict[str, int]:
    return {t: rows(path, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def approvals_in(path: Path) -> list[tuple[int, str, str | None, dict[str, Any]]]:
    found = rows(path, "SELECT seq, recorded_at, release_id, payload FROM ledger WHERE entry_type = 'policy_approved'")
    return [(seq, at, rid, json.loads(payload)) for seq, at, rid, payload in found]


def test_the_approval_entry_records_the_whole_policy_by_whom_and_when(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([TEAM_WEEK])
    approval, new = approve_policy(wh, policy, "works council", "agreement of 2026-02-27", "ops", lambda: APPROVED_AT)
    assert new is True
    [(seq, recorded_at, release_id, payload)] = approvals_in(wh)
    assert (seq, recorded_at, release_id) == (1, "2026-03-01T09:30:00.000000Z", None)
    assert payload == policy_payload(policy, "ops") | {
        "approved_by": {"role": "works council", "name": "agreement of 2026-02-27"},
        "approved_at": "2026-03-01T09:30:00.000000Z",
    }
    assert payload["policy_sha256"] == policy.sha256 and payload["policy_version"] == policy.version
    assert (approval.seq, approval.role, approval.name, approval.approved_at, approval.run_by) == (
        1,
        "works council",
        "agreement of 2026-02-27",
        "2026-03-01T09:30:00.000000Z",
        "ops",
    )
    assert approval_of(wh, policy) == approval
    assert verify_ledger(wh).ok


def test_an_approval_names_a_role_and_a_name(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    with pytest.raises(ValueError, match="names a role"):
        approve_policy(wh, make_test_policy([TEAM_WEEK]), " ", "someone", "ops")
    assert not wh.exists()  # refused before the warehouse is opened


def test_an_unapproved_policy_is_refused_before_anything_else(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([dict(TEAM_WEEK, max_relative_half_width="0.5")])
    draw = FakeDraw()

    def groups() -> tuple[GroupDecision, ...]:
        raise AssertionError("no decision is taken under an unapproved policy")

    out = publish(wh, policy, draw, groups=groups)
    assert out.status == "refused" and draw.calls == 0
    assert out.values == () and out.groups == ()
    assert f"policy version 1 ({policy.sha256}) is not approved" in out.message
    assert '`teamlens policy approve --by "works council" --name' in out.message
    assert counts(wh) == dict.fromkeys(TABLES, 0)  # no spend, no refusal entry: nothing happened
    assert verify_ledger(wh).ok


def test_approving_twice_is_a_no_op(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([TEAM_WEEK])
    first, new = approve_policy(wh, policy, "works council", "minutes 1", "ops", lambda: APPROVED_AT)
    again, new_again = approve_policy(wh, policy, "works council", "minutes 2", "someone else")
    assert (new, new_again) == (True, False) and again == first
    assert counts(wh)["ledger"] == 1


def test_a_changed_policy_needs_its_own_approval_and_published_windows_stay(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    before, after = make_test_policy([TEAM_WEEK], version=1), make_test_policy([TEAM_WEEK], version=2)
    approve(wh, before)
    original = publish(wh, before, FakeDraw())
    assert original.status == "released"
    stored = counts(wh)

    draw = FakeDraw()
    refused = publish(wh, after, draw, MONDAY + dt.timedelta(days=7))
    assert refused.status == "refused" and draw.calls == 0 and "policy version 2" in refused.message
    assert counts(wh) == stored  # the published window stays; nothing recorded
    assert rows(wh, "SELECT release_id FROM releases") == [(original.key.release_id,)]

    approve(wh, after, name="amended agreement")
    assert publish(wh, after, draw, MONDAY + dt.timedelta(days=7)).status == "released" and draw.calls == 1
    assert publish(wh, after, FakeDraw(), MONDAY).status == "stored"  # the window published under v1
    assert [(a.policy_version, a.name) for a in history(wh)] == [(1, "test agreement"), (2, "amended agreement")]
    types = [t for (t,) in rows(wh, "SELECT entry_type FROM ledger ORDER BY seq")]
    assert types == ["policy_approved", "release", "policy_approved", "release"]
    assert verify_ledger(wh).ok


def test_a_policy_recorded_before_approvals_existed_is_not_approved(tmp_path: Path) -> None:
    """An entry the first release wrote by itself (no approved_by) does not count as an approval."""
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([TEAM_WEEK])
    con = connect(wh)
    try:
        with transaction(con):
            append_entry(con, "policy_approved", policy_payload(policy, "os-user"), None, APPROVED_AT)
    finally:
        con.close()
    assert approval_of(wh, policy) is None
    assert publish(wh, policy, FakeDraw()).status == "refused"
    approve(wh, policy)
    assert [a.seq for a in history(wh)] == [2]
    assert publish(wh, policy, FakeDraw()).status == "released"
    assert verify_ledger(wh).ok


def test_retention_deletes_nothing_under_an_unapproved_policy(settings, policy) -> None:
    old_day = settings.lake.landing / "connect_ctr" / "day=2026-01-05"
    old_day.mkdir(parents=True)
    (old_day / "export.jsonl").write_text("{}\n")
    as_of = dt.date(2026, 11, 23)
    assert apply_retention(settings, policy, as_of, "ops", dry_run=True)["partitions"] == 1  # a dry run may look
    with pytest.raises(PolicyNotApproved, match="retention as of 2026-11-23 not applied: policy version"):
        apply_retention(settings, policy, as_of, "ops")
    assert old_day.exists() and counts(settings.lake.warehouse_path)["ledger"] == 0
    approve(settings.lake.warehouse_path, policy)
    assert apply_retention(settings, policy, as_of, "ops")["deleted"] == 1 and not old_day.exists()


def test_the_publish_task_fails_under_an_unapproved_policy(settings) -> None:
    with pytest.raises(PolicyNotApproved, match="teamlens policy approve --by"):
        pipeline.publish_releases(["2026-10-05"], settings)


def test_the_cli_approves_shows_and_lists(settings, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(settings.data_root))
    monkeypatch.setenv("TEAMLENS_RUN_BY", "cli-test")
    monkeypatch.delenv("TEAMLENS_POLICY", raising=False)
    shipped = load_policy(REPO_ROOT / "foundation" / "policy.yaml")
    assert cli.main(["policy", "show"]) == 1
    out = capsys.readouterr().out
    assert shipped.sha256 in out and "not approved" in out and "teamlens policy approve" in out

    assert cli.main(APPROVE) == 0
    assert "Recorded in the privacy ledger" in capsys.readouterr().out
    [(seq, _, _, payload)] = approvals_in(settings.lake.warehouse_path)
    assert seq == 1 and payload["policy_sha256"] == shipped.sha256 and payload["run_by"] == "cli-test"
    assert payload["approved_by"] == {"role": "works council", "name": "Betriebsvereinbarung 2026-02, minutes 4"}
    assert cli.main(APPROVE) == 0
    assert "Already approved, nothing recorded" in capsys.readouterr().out
    assert cli.main(["policy", "show"]) == 0
    assert "approved by works council (Betriebsvereinbarung 2026-02, minutes 4)" in capsys.readouterr().out

    amended = write_policy_file(settings.data_root.parent / "amended.yaml", [TEAM_WEEK], version=2)
    assert cli.main([*APPROVE[:-1], "amendment 1", "--policy", str(amended)]) == 0
    capsys.readouterr()
    assert cli.main(["policy", "history"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and listed[0].startswith("* policy version") and "amendment 1" in listed[1]
    assert approval_of(settings.lake.warehouse_path, load_policy(amended)) is not None
    assert cli.main(["verify"]) == 0
    assert "ledger ok: 2 entries" in capsys.readouterr().out
    assert cli.main(["policy", "approve", "--by", "", "--name", "x"]) == 2


def test_the_demo_approves_its_own_policy_saying_so(settings, capsys) -> None:
    cli._demo_approval(settings)
    [line] = capsys.readouterr().out.splitlines()
    assert "The demo approves its own policy" in line and DEMO_NAME in line
    [(_, _, _, payload)] = approvals_in(settings.lake.warehouse_path)
    assert payload["approved_by"] == {"role": DEMO_ROLE, "name": "teamlens demo (not a works agreement)"}
    cli._demo_approval(settings)  # a second demo run finds it approved
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("The demo's policy is already approved")
    assert len(approvals_in(settings.lake.warehouse_path)) == 1


def test_the_ledger_of_approvals_verifies(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    for version in (1, 2):
        approve(wh, make_test_policy([TEAM_WEEK], version=version))
    assert verify_ledger(wh).ok and verify_ledger(wh).entries == 2
    con = duckdb.connect(str(wh))
    con.execute("UPDATE ledger SET payload = replace(payload, 'works council', 'management') WHERE seq = 1")
    con.close()
    check = verify_ledger(wh)
    assert not check.ok and check.first_bad_seq == 1
