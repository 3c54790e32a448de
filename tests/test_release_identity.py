"""A release is (release name, window): a changed policy never re-releases a published window.

The policy's identity is the hash of its parsed content, so a comment or a new layout is the same
policy; a policy whose values changed is another policy, but a window it finds published is
returned as stored (no draw, no spend, no ledger entry). Only late data releases a window again,
as a correction counted per window whatever policy made the earlier releases.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from foundation.policy import Policy, load_policy
from foundation.settings import REPO_ROOT
from privacy.accountant import publish_release
from privacy.verify import verify_ledger
from tests.helpers import TEAM_WEEK, FakeDraw, approve, make_test_policy, rows
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey, ReleaseOutcome

POLICY_FILE = REPO_ROOT / "foundation" / "policy.yaml"
MONDAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 9, 3, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 3, 9, 1, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 3, 9, 2, 0, tzinfo=dt.UTC)
T3 = dt.datetime(2026, 3, 9, 2, 30, tzinfo=dt.UTC)


def test_policy_identity_ignores_comments_key_order_and_layout(tmp_path: Path) -> None:
    shipped = load_policy(POLICY_FILE)
    commented = tmp_path / "commented.yaml"
    commented.write_text("# approved by the works council, 2026-10-01\n" + POLICY_FILE.read_text())
    reordered = tmp_path / "reordered.yaml"
    doc = yaml.safe_load(POLICY_FILE.read_text())
    reordered.write_text(yaml.safe_dump(dict(reversed(list(doc.items()))), sort_keys=False, width=60))
    assert load_policy(commented).sha256 == shipped.sha256
    assert load_policy(reordered).sha256 == shipped.sha256
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({**doc, "min_group_size": doc["min_group_size"] + 1}))
    assert load_policy(changed).sha256 != shipped.sha256


def test_release_ids_name_the_window_not_the_policy() -> None:
    end = MONDAY + dt.timedelta(days=7)
    first, other = ReleaseKey("team_week", MONDAY, end, "a" * 64), ReleaseKey("team_week", MONDAY, end, "b" * 64)
    assert first.release_id == other.release_id
    assert first.corrected(1).release_id != first.release_id
    stored = ReleaseKey.of_stored(
        {
            "release_id": "0123456789abcdef0123",
            "release_name": "team_week",
            "window_start": MONDAY,
            "window_end": end,
            "policy_sha256": "a" * 64,
            "correction": 0,
        }
    )
    assert stored.release_id == "0123456789abcdef0123" and stored == first
    assert stored.corrected(1).release_id == first.corrected(1).release_id


def _policy(version: int, corrections: int = 0) -> Policy:
    return make_test_policy([TEAM_WEEK], version=version, max_corrections_per_window=corrections)


def _release(value: float) -> NoisyRelease:
    return NoisyRelease(
        values=(PublishedValue("T1", "contacts_handled", value, value - 10, value + 10, 5.0, "published"),),
        groups=(GroupDecision("T1", 12, "released"),),
        mechanism="test double",
        parameters={},
    )


def _publish(wh: Path, policy: Policy, draw: FakeDraw, inputs_as_of: dt.datetime) -> ReleaseOutcome:
    key = ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)
    return publish_release(
        wh, key, policy.release("team_week"), policy, "tester", draw, now=lambda: NOW, inputs_as_of=inputs_as_of
    )


def test_a_changed_policy_returns_the_published_window_as_stored(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    before, after = _policy(version=1), _policy(version=2)
    assert before.sha256 != after.sha256
    approve(wh, before)
    original = _publish(wh, before, FakeDraw(_release(100.0)), T1)
    ledger_entries = rows(wh, "SELECT count(*) FROM ledger")[0][0]

    redraw = FakeDraw(_release(999.0))
    assert _publish(wh, after, redraw, T1).status == "refused"  # the changed policy is not approved yet
    approve(wh, after)  # recorded in the ledger before it takes effect
    again = _publish(wh, after, redraw, T1)
    assert again.status == "stored" and redraw.calls == 0
    assert again.key == original.key and again.key.policy_sha256 == before.sha256
    assert again.values == original.values
    assert rows(wh, "SELECT count(*) FROM budget_spend")[0][0] == 1
    assert rows(wh, "SELECT count(*) FROM ledger")[0][0] == ledger_entries + 1  # only the new approval
    assert rows(wh, "SELECT release_id, value FROM current_aggregates") == [(original.key.release_id, 100.0)]
    assert verify_ledger(wh).ok


def test_corrections_are_counted_per_window_across_policies(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    for version in (1, 2, 3):
        approve(wh, _policy(version=version, corrections=1))
    original = _publish(wh, _policy(version=1, corrections=1), FakeDraw(_release(100.0)), T1)
    late = FakeDraw(_release(120.0))
    corrected = _publish(wh, _policy(version=2, corrections=1), late, T2)
    assert corrected.status == "released" and late.calls == 1
    assert corrected.key.correction == 1 and corrected.key.policy_sha256 == _policy(2, 1).sha256
    assert f"superseding {original.key.release_id}" in corrected.message

    later = FakeDraw(_release(1.0))
    again = _publish(wh, _policy(version=3, corrections=1), later, T3)
    assert again.status == "stored" and later.calls == 0 and again.key == corrected.key
    assert "allows 1 correction(s) per window (1 correction(s) so far)" in again.message
    assert rows(wh, "SELECT count(*) FROM budget_spend")[0][0] == 2
    assert rows(wh, "SELECT release_id, value, correction FROM current_aggregates") == [
        (corrected.key.release_id, 120.0, 1)
    ]
    assert verify_ledger(wh).ok
