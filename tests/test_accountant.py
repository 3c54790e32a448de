"""The accountant's guarantees: budget before noise, exact budgets, idempotent reruns, atomicity."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest

from foundation.budget import Budget
from foundation.policy import Policy
from privacy import accountant
from privacy.accountant import budget_summary, publish_release
from privacy.mechanisms import rho_to_epsilon, rho_to_epsilon_opendp
from privacy.verify import verify_ledger
from tests.helpers import TEAM_WEEK, FakeDraw, approve, make_test_policy, noisy_release, rows
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey

TABLES = ("releases", "published_aggregates", "release_groups", "budget_spend", "ledger")
NOW = dt.datetime(2026, 4, 2, 6, 0, tzinfo=dt.UTC)


def make_policy(cap: str = "1.0", day_rho: str = "0.1") -> Policy:
    return make_test_policy(
        [
            TEAM_WEEK,
            {
                "name": "site_day",
                "purpose": "daily",
                "group_by": "site",
                "window": "day",
                "rho": day_rho,
                "sums": {"contacts_handled": 80},
            },
        ],
        cap=cap,
    )


def day_key(policy: Policy, day: dt.date) -> ReleaseKey:
    return ReleaseKey("site_day", day, day + dt.timedelta(days=1), policy.sha256)


def week_key(policy: Policy, monday: dt.date) -> ReleaseKey:
    return ReleaseKey("team_week", monday, monday + dt.timedelta(days=7), policy.sha256)


def publish(path: Path, policy: Policy, key: ReleaseKey, draw: FakeDraw) -> Any:
    """Publish under the policy, approved first as an operator would (a no-op once approved)."""
    approve(path, policy)
    return publish_release(path, key, policy.release(key.release_name), policy, "tester", draw, now=lambda: NOW)


def counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in TABLES:
            row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert row is not None
            out[table] = int(row[0])
        return out
    finally:
        con.close()


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "warehouse.duckdb"


def test_first_publish_stores_rows_and_spends(wh: Path) -> None:
    policy = make_policy()
    draw = FakeDraw()
    key = week_key(policy, dt.date(2026, 3, 9))
    out = publish(wh, policy, key, draw)
    assert out.status == "released" and draw.calls == 1
    assert out.budget == Budget("rho", Fraction(1, 4)) and out.periods == ("2026-03",)
    assert {(v.group_value, v.statistic) for v in out.values} == {
        ("team-a", "contacts_handled"),
        ("team-a", "aht_seconds"),
        ("team-b", "contacts_handled"),
    }
    assert [g.group_value for g in out.groups] == ["team-a", "team-b", "team-c"]
    assert counts(wh) == {"releases": 1, "published_aggregates": 3, "release_groups": 3, "budget_spend": 1, "ledger": 2}
    assert rows(wh, "SELECT period, spent_exact, spent FROM budget_spend") == [("2026-03", "0.25", Fraction(1, 4))]
    assert rows(wh, "SELECT entry_type FROM ledger ORDER BY seq") == [("policy_approved",), ("release",)]
    assert rows(wh, "SELECT group_value, roster_size, reason FROM suppressed_groups") == [
        ("team-c", 4, "suppressed_small_group")
    ]
    assert rows(wh, "SELECT DISTINCT roster_group_size FROM published_aggregates WHERE group_value = 'team-a'") == [
        (12,)
    ]
    assert verify_ledger(wh).ok


def test_rerun_returns_stored_values_without_drawing_or_spending(wh: Path) -> None:
    policy = make_policy()
    draw = FakeDraw()
    key = week_key(policy, dt.date(2026, 3, 9))
    first = publish(wh, policy, key, draw)
    before = budget_summary(wh, policy)
    other = FakeDraw(NoisyRelease((), (GroupDecision("team-a", 12, "released"),), "other", {}))
    second = publish(wh, policy, key, other)
    assert second.status == "stored"
    assert (second.values, second.groups, second.budget, second.periods) == (
        first.values,
        first.groups,
        first.budget,
        first.periods,
    )
    assert draw.calls == 1 and other.calls == 0
    assert budget_summary(wh, policy) == before
    assert counts(wh)["ledger"] == 2 and counts(wh)["budget_spend"] == 1


def test_spend_exactly_up_to_the_cap_is_allowed_one_more_is_refused(wh: Path) -> None:
    policy = make_policy(cap="1.0", day_rho="0.1")
    draw = FakeDraw()
    for i in range(10):
        assert publish(wh, policy, day_key(policy, dt.date(2026, 3, 1 + i)), draw).status == "released"
    assert draw.calls == 10
    [march] = budget_summary(wh, policy)
    assert (march["spent_rho"], march["remaining_rho"], march["within_cap"]) == ("1", "0", True)

    refused = publish(wh, policy, day_key(policy, dt.date(2026, 3, 11)), draw)
    assert refused.status == "refused" and draw.calls == 10
    assert refused.values == () and refused.budget == Budget("rho", Fraction(1, 10))
    for part in ("2026-03", "spent rho 1", "requested 0.1", "cap 1"):
        assert part in refused.message
    assert counts(wh)["releases"] == 10 and counts(wh)["budget_spend"] == 10
    refusals = rows(wh, "SELECT release_id, payload FROM ledger WHERE entry_type = 'refusal'")
    assert len(refusals) == 1 and refusals[0][0] == refused.key.release_id
    assert '"spent_rho":"1"' in refusals[0][1]

    # the same refusal again (same spend) is not recorded twice; April still has budget
    assert publish(wh, policy, day_key(policy, dt.date(2026, 3, 11)), draw).status == "refused"
    assert len(rows(wh, "SELECT seq FROM ledger WHERE entry_type = 'refusal'")) == 1
    assert publish(wh, policy, day_key(policy, dt.date(2026, 4, 1)), draw).status == "released"
    assert verify_ledger(wh).ok


def test_budgets_are_exact_not_floats(wh: Path) -> None:
    # 0.1 + 0.1 + 0.1 > 0.3 in floats; exactly equal in Fractions, so the third release is allowed
    assert 0.1 + 0.1 + 0.1 > 0.3
    policy = make_policy(cap="0.3", day_rho="0.1")
    draw = FakeDraw()
    statuses = [publish(wh, policy, day_key(policy, dt.date(2026, 5, d)), draw).status for d in (1, 2, 3, 4)]
    assert statuses == ["released", "released", "released", "refused"]
    assert budget_summary(wh, policy)[0]["spent_rho"] == "0.3"


def test_window_spanning_two_months_charges_both(wh: Path) -> None:
    policy = make_policy()
    key = week_key(policy, dt.date(2026, 3, 30))  # Monday 30 March to Sunday 5 April
    out = publish(wh, policy, key, FakeDraw())
    assert out.periods == ("2026-03", "2026-04")
    assert rows(wh, "SELECT period, spent_exact FROM budget_spend ORDER BY period") == [
        ("2026-03", "0.25"),
        ("2026-04", "0.25"),
    ]
    assert rows(wh, "SELECT periods FROM releases") == [(["2026-03", "2026-04"],)]


def test_refused_when_any_touched_period_is_full(wh: Path) -> None:
    policy = make_policy(cap="0.3", day_rho="0.1")
    draw = FakeDraw()
    for d in (1, 2, 3):
        publish(wh, policy, day_key(policy, dt.date(2026, 4, d)), draw)
    calls = draw.calls
    out = publish(wh, policy, week_key(policy, dt.date(2026, 3, 30)), draw)  # 0.25 on top of April's 0.3
    assert out.status == "refused" and draw.calls == calls
    assert "period 2026-04" in out.message and "2026-03" not in out.message.split("(")[1]
    assert rows(wh, "SELECT count(*) FROM budget_spend WHERE period = '2026-03'") == [(0,)]


def test_a_draw_that_raises_leaves_no_rows(wh: Path) -> None:
    policy = make_policy()
    draw = FakeDraw(error=RuntimeError("noise failed"))
    with pytest.raises(RuntimeError, match="noise failed"):
        publish(wh, policy, week_key(policy, dt.date(2026, 3, 9)), draw)
    assert counts(wh) == dict.fromkeys(TABLES, 0) | {"ledger": 1}  # only the approval made before
    ok = publish(wh, policy, week_key(policy, dt.date(2026, 3, 9)), FakeDraw())
    assert ok.status == "released"


def test_a_failure_inside_the_transaction_rolls_everything_back(wh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = make_policy()
    real = accountant.append_entry

    def failing_append(con: Any, entry_type: str, *args: Any, **kwargs: Any) -> str:
        if entry_type == "release":
            raise OSError("disk full")
        return real(con, entry_type, *args, **kwargs)

    monkeypatch.setattr(accountant, "append_entry", failing_append)
    with pytest.raises(OSError, match="disk full"):
        publish(wh, policy, week_key(policy, dt.date(2026, 3, 9)), FakeDraw())
    assert counts(wh) == dict.fromkeys(TABLES, 0) | {"ledger": 1}  # only the approval made before the publish


def test_a_value_for_a_suppressed_group_is_never_stored(wh: Path) -> None:
    policy = make_policy()
    bad = noisy_release()
    bad = NoisyRelease(
        (*bad.values, PublishedValue("team-c", "contacts_handled", 5.0, 1.0, 9.0, 2.0, "published")),
        bad.groups,
        bad.mechanism,
        bad.parameters,
    )
    with pytest.raises(ValueError, match="team-c"):
        publish(wh, policy, week_key(policy, dt.date(2026, 3, 9)), FakeDraw(bad))
    small = NoisyRelease((), (GroupDecision("team-c", 4, "released"),), "m", {})
    with pytest.raises(ValueError, match="min_group_size"):
        publish(wh, policy, week_key(policy, dt.date(2026, 3, 9)), FakeDraw(small))
    assert counts(wh) == dict.fromkeys(TABLES, 0) | {"ledger": 1}  # only the approval


def test_budget_is_rechecked_after_the_draw(wh: Path) -> None:
    """Another release committed while noise was being drawn: the re-check inside the transaction refuses."""
    policy = make_policy(cap="0.3", day_rho="0.1")
    d1, d2 = FakeDraw(), FakeDraw()
    publish(wh, policy, day_key(policy, dt.date(2026, 6, 1)), d1)
    publish(wh, policy, day_key(policy, dt.date(2026, 6, 2)), d1)

    def racing_draw() -> NoisyRelease:
        publish(wh, policy, day_key(policy, dt.date(2026, 6, 3)), d2)
        return noisy_release()

    out = publish_release(
        wh, day_key(policy, dt.date(2026, 6, 4)), policy.release("site_day"), policy, "t", racing_draw, lambda: NOW
    )
    assert out.status == "refused" and d2.calls == 1
    assert budget_summary(wh, policy)[0]["spent_rho"] == "0.3"
    assert verify_ledger(wh).ok


def test_release_stored_meanwhile_returns_the_stored_values(wh: Path) -> None:
    policy = make_policy()
    key = week_key(policy, dt.date(2026, 3, 9))
    inner = FakeDraw()
    approve(wh, policy)

    def racing_draw() -> NoisyRelease:
        publish(wh, policy, key, inner)
        return NoisyRelease((), (GroupDecision("team-x", 50, "released"),), "other noise", {})

    out = publish_release(wh, key, policy.release("team_week"), policy, "t", racing_draw, lambda: NOW)
    assert out.status == "stored" and len(out.values) == 3
    assert counts(wh)["budget_spend"] == 1


def test_inputs_are_checked(wh: Path) -> None:
    policy = make_policy()
    other = make_policy(cap="2.0")
    draw = FakeDraw()
    week = week_key(policy, dt.date(2026, 3, 9))
    with pytest.raises(ValueError, match="policy hash"):
        publish_release(wh, week_key(other, dt.date(2026, 3, 9)), policy.release("team_week"), policy, "t", draw)
    with pytest.raises(ValueError, match="spec is"):
        publish_release(wh, week, policy.release("site_day"), policy, "t", draw)
    with pytest.raises(ValueError, match="not a week window"):
        publish(wh, policy, ReleaseKey("team_week", dt.date(2026, 3, 10), dt.date(2026, 3, 17), policy.sha256), draw)
    with pytest.raises(ValueError, match="timezone-aware"):
        publish_release(wh, week, policy.release("team_week"), policy, "t", draw, now=lambda: dt.datetime(2026, 1, 1))
    assert draw.calls == 1  # only the naive-clock call got as far as drawing
    assert counts(wh) == dict.fromkeys(TABLES, 0) | {"ledger": 1}  # only the approval


def test_budget_summary_numbers_are_exact(wh: Path) -> None:
    policy = make_policy(cap="1.0", day_rho="0.1")
    assert budget_summary(wh, policy) == []
    draw = FakeDraw()
    publish(wh, policy, week_key(policy, dt.date(2026, 3, 30)), draw)  # 0.25 to March and April
    publish(wh, policy, day_key(policy, dt.date(2026, 3, 31)), draw)  # 0.1 to March
    summary = {row["period"]: row for row in budget_summary(wh, policy)}
    march, april = summary["2026-03"], summary["2026-04"]
    assert (march["spent_rho"], march["remaining_rho"], march["releases"]) == ("0.35", "0.65", 2)
    assert (april["spent_rho"], april["remaining_rho"], april["releases"]) == ("0.25", "0.75", 1)
    assert march["cap_rho"] == "1" and march["delta"] == "0.000000001"
    assert march["spent_rho_float"] == 0.35 and april["remaining_rho_float"] == 0.75
    assert march["epsilon_bun_steinke"] == pytest.approx(rho_to_epsilon(Fraction(35, 100), Fraction(1, 10**9)))
    assert march["epsilon"] == rho_to_epsilon_opendp(Fraction(35, 100), Fraction(1, 10**9))
    assert Fraction(35, 100) < march["epsilon"] < march["epsilon_bun_steinke"]
    assert "OpenDP" in march["epsilon_conversion"]


def test_release_ledger_entry_records_the_decision(wh: Path) -> None:
    import json

    policy = make_policy()
    publish(wh, policy, week_key(policy, dt.date(2026, 3, 30)), FakeDraw())
    [(payload,)] = rows(wh, "SELECT payload FROM ledger WHERE entry_type = 'release'")
    entry = json.loads(payload)
    assert entry["rho"] == "0.25" and entry["periods"] == ["2026-03", "2026-04"]
    assert entry["spend_after"]["2026-04"] == {"cap_rho": "1", "remaining_rho": "0.75", "spent_rho": "0.25"}
    assert entry["suppressed_groups"] == ["team-c"]
    assert entry["groups"][0] == {"group_value": "team-a", "roster_size": 12, "status": "released"}
    assert entry["parameters"]["rho_per_sum"] == "0.125"
    assert entry["policy_sha256"] == policy.sha256 and entry["run_by"] == "tester"
    assert entry["window_start"] == "2026-03-30" and entry["window_end"] == "2026-04-06"
    assert entry["delta"] == "0.000000001" and entry["epsilon"] < entry["epsilon_bun_steinke"]
