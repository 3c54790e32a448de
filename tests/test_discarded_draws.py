"""Every way out of publish_release after noise was drawn says so truthfully.

The paths (privacy/accountant.py, step 4): the drawn release fails its checks; another run stored
the window meanwhile; the accuracy re-check on the drawn groups refuses; the budget re-check
refuses (another release was charged meanwhile); an error inside the transaction. Each one says
that the noise drawn was discarded, nothing was published and nothing was charged, and the code
does exactly that (no rows, no spend). The refusals' ledger entries say it too.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from foundation.policy import Policy
from privacy import accountant
from privacy.accountant import NOISE_DISCARDED, budget_summary, publish_release
from privacy.verify import verify_ledger
from tests.helpers import SITE_DAY, TEAM_WEEK, FakeDraw, approve, make_test_policy, noisy_release, rows
from warehouse.records import GroupDecision, NoisyRelease, ReleaseKey

NOW = dt.datetime(2026, 4, 2, 6, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2026, 3, 9)
# SITE_DAY of the pure DP tests, budgeted in rho.
SITE_DAY_RHO = {k: v for k, v in SITE_DAY.items() if k != "epsilon"} | {"rho": "0.1"}
DISCARDED = "the noise drawn was discarded: nothing was published and no budget was charged"


def week_key(policy: Policy) -> ReleaseKey:
    return ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)


def day_key(policy: Policy, day: dt.date) -> ReleaseKey:
    return ReleaseKey("site_day", day, day + dt.timedelta(days=1), policy.sha256)


def publish(path: Path, policy: Policy, key: ReleaseKey, draw: Any) -> Any:
    approve(path, policy)
    return publish_release(path, key, policy.release(key.release_name), policy, "tester", draw, now=lambda: NOW)


def spend_rows(path: Path) -> int:
    return int(rows(path, "SELECT count(*) FROM budget_spend")[0][0])


def refusal_payloads(path: Path) -> list[dict[str, Any]]:
    found = rows(path, "SELECT payload FROM ledger WHERE entry_type = 'refusal' ORDER BY seq")
    return [json.loads(p) for (p,) in found]


def test_the_discard_phrase_is_the_accountants() -> None:
    assert accountant.DISCARDED == DISCARDED
    assert NOISE_DISCARDED == {"drawn": True, "discarded": True, "published": False, "charged": False}


def test_a_drawn_release_failing_its_checks_says_the_draw_was_discarded(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([TEAM_WEEK])
    small = NoisyRelease((), (GroupDecision("team-c", 4, "released"),), "m", {})
    with pytest.raises(ValueError) as raised:
        publish(wh, policy, week_key(policy), FakeDraw(small))
    assert str(raised.value) == (
        "team_week [2026-03-09, 2026-03-16) not published: the drawn release failed its checks (group 'team-c' "
        f"has roster size 4 < min_group_size 10 but is marked released); {DISCARDED}"
    )
    assert rows(wh, "SELECT count(*) FROM releases") == [(0,)] and spend_rows(wh) == 0


def test_a_window_stored_meanwhile_says_this_runs_draw_was_discarded(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([TEAM_WEEK])
    key = week_key(policy)
    approve(wh, policy)

    def racing_draw() -> NoisyRelease:
        publish(wh, policy, key, FakeDraw())
        return NoisyRelease((), (GroupDecision("team-x", 50, "released"),), "other noise", {})

    out = publish_release(wh, key, policy.release("team_week"), policy, "t", racing_draw, lambda: NOW)
    assert out.status == "stored"
    assert out.message == (
        "team_week [2026-03-09, 2026-03-16) was released at 2026-04-02 06:00:00+00:00 as "
        f"{key.release_id}; returning the stored values: another run stored them while this one drew noise; "
        f"{DISCARDED}"
    )
    assert spend_rows(wh) == 1  # the other run's release only


def test_the_budget_recheck_after_the_draw_says_so_in_message_and_entry(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([TEAM_WEEK, SITE_DAY_RHO], cap="0.3")
    for day in (1, 2):
        publish(wh, policy, day_key(policy, dt.date(2026, 6, day)), FakeDraw())

    def racing_draw() -> NoisyRelease:
        publish(wh, policy, day_key(policy, dt.date(2026, 6, 3)), FakeDraw())
        return noisy_release()

    out = publish(wh, policy, day_key(policy, dt.date(2026, 6, 4)), racing_draw)
    expected = (
        "refused site_day [2026-06-04, 2026-06-05) after drawing noise: it would exceed the privacy budget "
        "(period 2026-06: spent rho 0.3 + requested 0.1 = 0.4 > cap 0.3); another release was charged to its "
        f"periods while the noise was drawn; {DISCARDED}"
    )
    assert out.status == "refused" and out.message == expected and out.values == ()
    [entry] = refusal_payloads(wh)
    assert entry["reason"] == "budget" and entry["message"] == expected and entry["noise"] == NOISE_DISCARDED
    assert budget_summary(wh, policy)[0]["spent_rho"] == "0.3" and spend_rows(wh) == 3
    # the retry is refused before drawing: a new entry (its noise was not drawn), the draw never called
    retry = FakeDraw()
    again = publish(wh, policy, day_key(policy, dt.date(2026, 6, 4)), retry)
    assert retry.calls == 0 and again.message.startswith("refused site_day [2026-06-04, 2026-06-05) before drawing")
    assert [("noise" in e) for e in refusal_payloads(wh)] == [True, False]
    assert verify_ledger(wh).ok


def test_the_accuracy_recheck_on_the_drawn_groups_says_so_in_message_and_entry(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([TEAM_WEEK], max_relative_half_width="0.01")
    drawn = NoisyRelease((), (GroupDecision("team-a", 10, "released"),), "m", {})
    out = publish(wh, policy, week_key(policy), FakeDraw(drawn))
    assert out.status == "refused"
    prefix = "refused team_week [2026-03-09, 2026-03-16) after drawing noise: too imprecise to publish: "
    suffix = (
        f" (max_relative_half_width); the drawn release's groups differ from those checked before the draw; {DISCARDED}"
    )
    assert out.message.startswith(prefix) and out.message.endswith(suffix)
    [entry] = refusal_payloads(wh)
    assert entry["reason"] == "accuracy" and entry["message"] == out.message and entry["noise"] == NOISE_DISCARDED
    assert rows(wh, "SELECT count(*) FROM releases") == [(0,)] and spend_rows(wh) == 0


def test_an_error_inside_the_transaction_keeps_its_type_and_notes_the_discard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_test_policy([TEAM_WEEK])
    real = accountant.append_entry

    def failing_append(con: duckdb.DuckDBPyConnection, entry_type: str, *args: Any, **kwargs: Any) -> str:
        if entry_type == "release":
            raise OSError("disk full")
        return real(con, entry_type, *args, **kwargs)

    monkeypatch.setattr(accountant, "append_entry", failing_append)
    with pytest.raises(OSError, match="disk full") as raised:
        publish(wh, policy, week_key(policy), FakeDraw())
    assert raised.value.__notes__ == [f"team_week [2026-03-09, 2026-03-16): {DISCARDED}"]
    assert spend_rows(wh) == 0
