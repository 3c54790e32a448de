"""Loss adds up over the months: the rolling-year total (report, planner) and the optional yearly cap.

The privacy unit is one agent's records within one calendar month, so a year of releases costs
the sum of its months (zCDP rho adds; under pure DP epsilon adds). Hand-worked numbers: the test
release team_month costs rho 0.98 per month, so 12 months cost exactly rho 11.76.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.budget import Budget
from foundation.policy import PolicyError, load_policy, parse_policy
from foundation.settings import REPO_ROOT
from foundation.windows import rolling_year, shift_period
from privacy import budgets
from privacy.accountant import publish_release
from privacy.budgets import budget_summary, year_summary
from privacy.ledger import policy_payload
from privacy.mechanisms import rho_to_epsilon_opendp
from privacy.planner import format_plan, plan_json, plan_policy
from privacy.verify import verify_ledger
from teamlens import cli
from teamlens.report import format_year
from tests.helpers import (
    TEAM_MONTH,
    FakeDraw,
    approve,
    make_test_policy,
    policy_document,
    publish_month,
    pure_doc,
    pure_policy,
    rows,
    write_roster_center,
)
from warehouse.records import ReleaseKey


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "warehouse.duckdb"


def refusals(path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(p) for (p,) in rows(path, "SELECT payload FROM ledger WHERE entry_type = 'refusal' ORDER BY seq")
    ]


def test_rolling_year_is_the_twelve_calendar_months_ending_with_a_period() -> None:
    assert shift_period("2025-01", -1) == "2024-12" and shift_period("2025-12", 1) == "2026-01"
    assert shift_period("2025-03", 23) == "2027-02" and shift_period("2025-03", 0) == "2025-03"
    year = rolling_year("2026-02")
    assert year[0] == "2025-03" and year[-1] == "2026-02" and len(year) == len(set(year)) == 12
    assert year == sorted(year)


# --- the yearly total -----------------------------------------------------------------------------


def test_twelve_months_of_rho_098_compose_to_exactly_1176(wh: Path) -> None:
    policy = make_test_policy([TEAM_MONTH])
    draw = FakeDraw()
    for month in range(1, 13):
        assert publish_month(wh, policy, 2025, month, draw).status == "released"
    assert draw.calls == 12
    assert [p["spent_rho"] for p in budget_summary(wh, policy)] == ["0.98"] * 12  # each agent-period unchanged

    year = year_summary(wh, policy)
    assert year is not None
    assert (year["first_period"], year["last_period"], year["periods_with_spend"]) == ("2025-01", "2025-12", 12)
    assert year["spent_rho"] == "11.76" and Fraction(year["spent_rho"]) == 12 * Fraction("0.98")
    assert year["epsilon"] == rho_to_epsilon_opendp(Fraction("11.76"), Fraction("1e-9"))
    assert year["epsilon"] == pytest.approx(41.78, abs=0.01)
    assert (year["cap_year_rho"], year["within_year_cap"], year["delta"]) == (None, None, "0.000000001")
    assert "OpenDP" in year["epsilon_conversion"]

    # A 13th month: the rolling year is the 12 months ending with it, still 11.76, not 12.74.
    assert publish_month(wh, policy, 2026, 1, draw).status == "released"
    year = year_summary(wh, policy)
    assert year is not None
    assert (year["first_period"], year["last_period"], year["spent_rho"]) == ("2025-02", "2026-01", "11.76")


def test_year_summary_counts_epsilon_spend_as_its_rho_and_never_adds_epsilon_to_rho(wh: Path) -> None:
    pure = pure_policy(cap="10", epsilon="1")
    draw = FakeDraw()
    for day in (dt.date(2025, 3, 2), dt.date(2025, 3, 3), dt.date(2025, 5, 9)):
        key = ReleaseKey("site_day", day, day + dt.timedelta(days=1), pure.sha256)
        approve(wh, pure)
        publish_release(wh, key, pure.release("site_day"), pure, "tester", draw)
    year = year_summary(wh, pure)
    assert year is not None
    assert (year["budget_unit"], year["spent_epsilon"], year["epsilon"], year["delta"]) == ("epsilon", "3", 3.0, "0")
    assert (year["first_period"], year["last_period"], year["periods_with_spend"]) == ("2024-06", "2025-05", 2)

    zcdp = make_test_policy([TEAM_MONTH])  # the same spend under a zCDP policy: epsilon 1 counts as rho 1/2
    year = year_summary(wh, zcdp)
    assert year is not None and year["spent_rho"] == "1.5"
    assert year["epsilon"] == rho_to_epsilon_opendp(Fraction(3, 2), Fraction("1e-9"))

    publish_month(wh, zcdp, 2025, 4, FakeDraw())  # rho spend: no pure DP bound for the year
    year = year_summary(wh, pure)
    assert year is not None and (year["spent_epsilon"], year["epsilon"]) == (None, None)
    assert "unbounded" in format_year(year)


def test_the_report_prints_the_rolling_year(wh: Path) -> None:
    policy = make_test_policy([TEAM_MONTH], budget_cap_year_rho="12")
    for month in range(1, 13):
        publish_month(wh, policy, 2025, month, FakeDraw())
    year = year_summary(wh, policy)
    assert year is not None
    line = format_year(year)
    assert line.startswith("rolling year 2025-01 to 2025-12 (the months add up): rho 11.76; as (epsilon, delta): (")
    assert f"({year['epsilon']:.2f}, 1e-09)" in line and line.endswith("within the yearly cap 12")
    no_cap = year_summary(wh, make_test_policy([TEAM_MONTH]))
    assert no_cap is not None and format_year(no_cap).endswith("no yearly cap set (budget_cap_year_rho)")
    assert year_summary(wh.parent / "none.duckdb", policy) is None


# --- the yearly cap: refused before the draw -----------------------------------------------------


def test_a_release_over_the_yearly_cap_is_refused_before_the_draw_though_the_month_has_room(wh: Path) -> None:
    policy = make_test_policy([TEAM_MONTH], budget_cap_year_rho="5")
    assert policy.budget_cap_year == Budget("rho", Fraction(5))
    draw = FakeDraw()
    for month in range(1, 6):  # 5 x 0.98 = 4.9 of the yearly 5
        assert publish_month(wh, policy, 2025, month, draw).status == "released"
    assert draw.calls == 5

    refused = publish_month(wh, policy, 2025, 6, draw)  # June is empty: 0 + 0.98 <= 1, but the year 5.88 > 5
    assert refused.status == "refused" and draw.calls == 5 and refused.values == ()
    assert "year 2024-07 to 2025-06: spent rho 4.9 + requested 0.98 = 5.88 > yearly cap 5" in refused.message
    assert "period 2025-06" not in refused.message  # the monthly cap alone would allow it
    [entry] = refusals(wh)
    assert (entry["reason"], entry["over_periods"]) == ("budget", [])
    # Every rolling year holding June and January to May: those ending June to December 2025.
    assert entry["over_years"] == [f"{rolling_year(f'2025-{m:02d}')[0]} to 2025-{m:02d}" for m in range(6, 13)]
    assert entry["over_years"][-1] == "2025-01 to 2025-12"
    assert len(entry["budget"]["years"]) == 12  # the years ending June 2025 to May 2026 were all checked
    assert entry["budget"]["years"]["2025-06 to 2026-05"] == {"spent_rho": "0", "would_be_rho": "0.98"}
    assert entry["budget"]["cap_year_rho"] == "5"
    assert entry["budget"]["years"]["2024-07 to 2025-06"] == {"spent_rho": "4.9", "would_be_rho": "5.88"}
    assert rows(wh, "SELECT count(*) FROM budget_spend") == [(5,)]
    assert verify_ledger(wh).ok

    assert publish_month(wh, policy, 2025, 6, draw).status == "refused"  # same facts: not recorded again
    assert len(refusals(wh)) == 1 and draw.calls == 5

    # Without the yearly cap the same release is allowed: the monthly cap alone has room.
    monthly_only = make_test_policy([TEAM_MONTH])
    other = wh.parent / "monthly_only.duckdb"
    for month in range(1, 7):
        assert publish_month(other, monthly_only, 2025, month, FakeDraw()).status == "released"


def test_a_year_later_the_old_months_fall_out_of_the_rolling_year(wh: Path) -> None:
    policy = make_test_policy([TEAM_MONTH], budget_cap_year_rho="5")
    for month in range(1, 6):
        publish_month(wh, policy, 2025, month, FakeDraw())
    assert publish_month(wh, policy, 2025, 12, FakeDraw()).status == "refused"  # Jan to May are in its year
    # 2026-05: its year (2025-06 to 2026-05) holds none of them; the years ending 2026-06 to 2027-04 neither.
    assert publish_month(wh, policy, 2026, 5, FakeDraw()).status == "released"


def test_a_backfilled_month_may_not_push_a_later_rolling_year_over_the_cap(wh: Path) -> None:
    policy = make_test_policy([TEAM_MONTH], budget_cap_year_rho="5")
    for month in range(2, 7):  # February to June: 4.9
        publish_month(wh, policy, 2025, month, FakeDraw())
    draw = FakeDraw()
    refused = publish_month(wh, policy, 2025, 1, draw)  # the year ending January holds 0.98 only ...
    assert refused.status == "refused" and draw.calls == 0
    assert "year 2024-07 to 2025-06: spent rho 4.9 + requested 0.98 = 5.88" in refused.message  # ... June's does not
    assert verify_ledger(wh).ok


def test_the_yearly_cap_is_checked_again_inside_the_transaction(wh: Path) -> None:
    policy = make_test_policy([TEAM_MONTH], budget_cap_year_rho="5")
    for month in range(1, 5):  # 3.92: June still fits before the draw
        publish_month(wh, policy, 2025, month, FakeDraw())

    class RacingDraw(FakeDraw):
        """Another run publishes May while June's noise is drawn."""

        def __call__(self) -> Any:
            assert publish_month(wh, policy, 2025, 5, FakeDraw()).status == "released"
            return super().__call__()

    draw = RacingDraw()
    outcome = publish_month(wh, policy, 2025, 6, draw)
    assert outcome.status == "refused" and draw.calls == 1  # drawn, never stored
    assert "> yearly cap 5" in outcome.message
    assert rows(wh, "SELECT count(*) FROM releases WHERE release_name = 'team_month'") == [(5,)]
    assert [r["over_years"][0] for r in refusals(wh)] == ["2024-07 to 2025-06"]
    assert verify_ledger(wh).ok


def test_break_the_yearly_check_and_the_release_goes_through(wh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal above comes from the yearly check: with it disabled, June is released."""
    policy = make_test_policy([TEAM_MONTH], budget_cap_year_rho="5")
    for month in range(1, 6):
        publish_month(wh, policy, 2025, month, FakeDraw())
    monkeypatch.setattr(budgets.PeriodBudgets, "over_years", property(lambda self: []))
    assert publish_month(wh, policy, 2025, 6, FakeDraw()).status == "released"


def test_pure_dp_yearly_cap_adds_epsilons(wh: Path) -> None:
    doc = pure_doc(cap="2", epsilon="1") | {"budget_cap_year_epsilon": "3"}
    pure = parse_policy(doc)
    assert pure.budget_cap_year == Budget("epsilon", Fraction(3))
    draw = FakeDraw()
    outcomes = []
    for day in (dt.date(2025, 1, 5), dt.date(2025, 2, 5), dt.date(2025, 3, 5), dt.date(2025, 4, 5)):
        key = ReleaseKey("site_day", day, day + dt.timedelta(days=1), pure.sha256)
        approve(wh, pure)
        outcomes.append(publish_release(wh, key, pure.release("site_day"), pure, "tester", draw))
    assert [o.status for o in outcomes] == ["released"] * 3 + ["refused"] and draw.calls == 3
    assert "spent epsilon 3 + requested 1 = 4 > yearly cap 3" in outcomes[-1].message
    [entry] = refusals(wh)
    assert entry["budget"]["cap_year_epsilon"] == "3" and "requested_epsilon" in entry["budget"]


# --- the planner ----------------------------------------------------------------------------------


def planner_roster() -> Any:
    import polars as pl

    return pl.DataFrame(
        [(f"a{i}", "T1", "S1") for i in range(20)], schema=["agent_pseudonym", "team", "site"], orient="row"
    )


def test_the_planner_shows_a_full_year_and_checks_the_yearly_cap() -> None:
    fits = plan_policy(make_test_policy([TEAM_MONTH], budget_cap_year_rho="11.76"), planner_roster())
    assert fits.total_per_year == Budget("rho", Fraction("11.76")) and fits.within_year_cap and fits.ok
    assert fits.epsilon_year == rho_to_epsilon_opendp(Fraction("11.76"), Fraction("1e-9"))
    text = format_plan(fits)
    assert "A full year of these releases (the months add up): 12 x 0.98 = rho 11.76 (epsilon 41.8 at delta" in text
    assert text.endswith("within the yearly cap 11.76")
    doc = plan_json(fits)
    assert (doc["total_rho_per_year"], doc["cap_year_rho"], doc["within_year_cap"], doc["ok"]) == (
        "11.76",
        "11.76",
        True,
        True,
    )
    assert doc["epsilon_year"] == fits.epsilon_year

    over = plan_policy(make_test_policy([TEAM_MONTH], budget_cap_year_rho="11"), planner_roster())
    assert over.within_cap and not over.within_year_cap and not over.ok
    assert "OVER THE YEARLY CAP 11: some releases would be refused for budget" in format_plan(over)
    assert plan_json(over)["within_year_cap"] is False

    none = plan_policy(make_test_policy([TEAM_MONTH]), planner_roster())
    assert none.year_cap is None and none.within_year_cap and none.ok
    assert "no yearly cap set (budget_cap_year_rho; the monthly cap bounds a year at 12)" in format_plan(none)
    assert plan_json(none)["cap_year_rho"] is None

    pure = plan_policy(
        parse_policy(pure_doc(cap="31", epsilon="1") | {"budget_cap_year_epsilon": "300"}), planner_roster()
    )
    assert pure.total_per_year == Budget("epsilon", Fraction(372)) and pure.epsilon_year == 372.0
    assert not pure.within_year_cap and plan_json(pure)["total_epsilon_per_year"] == "372"
    assert "12 x 31 = epsilon 372 (delta 0): OVER THE YEARLY CAP 300" in format_plan(pure)


def test_the_plan_command_exits_1_when_a_year_would_be_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_file = tmp_path / "policy.yaml"
    write_roster_center(tmp_path / "data", policy_file, {"T1": 20}, monkeypatch)
    policy_file.write_text(yaml.safe_dump(policy_document([TEAM_MONTH], budget_cap_year_rho="11"), sort_keys=False))
    assert cli.main(["plan"]) == 1
    assert "OVER THE YEARLY CAP 11" in capsys.readouterr().out
    assert cli.main(["plan", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["within_year_cap"] is False

    policy_file.write_text(yaml.safe_dump(policy_document([TEAM_MONTH], budget_cap_year_rho="12"), sort_keys=False))
    assert cli.main(["plan"]) == 0
    assert "rho 11.76 (epsilon 41.8 at delta 1e-09, OpenDP): within the yearly cap 12" in capsys.readouterr().out


def test_the_shipped_policy_sets_no_yearly_cap_and_plans_a_year_at_1176() -> None:
    policy = load_policy(REPO_ROOT / "foundation" / "policy.yaml")
    assert policy.budget_cap_year is None
    plan = plan_policy(policy, planner_roster())
    assert plan.total_per_year == Budget("rho", Fraction("11.76")) and plan.within_year_cap
    assert plan.epsilon_year == pytest.approx(41.8, abs=0.05)


# --- the policy key and the ledger ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"budget_cap_year_rho": 12}, 'budget_cap_year_rho must be a quoted decimal string such as "0.1"'),
        ({"budget_cap_year_rho": "0"}, "budget_cap_year_rho must be positive"),
        ({"budget_cap_year_rho": "a lot"}, "budget_cap_year_rho is not a number"),
        ({"budget_cap_year_rho": "0.5"}, "budget_cap_year_rho must be at least budget_cap_rho"),
        (
            {"budget_cap_year_epsilon": "5"},
            "budget_cap_year_epsilon does not apply under privacy_model 'zcdp'; use budget_cap_year_rho",
        ),
        ({"budget_cap_year": "5"}, "unknown key(s) budget_cap_year"),
    ],
)
def test_yearly_cap_key_errors_name_the_key(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        parse_policy(policy_document([TEAM_MONTH], **overrides))


def test_pure_policy_refuses_the_rho_yearly_cap_key() -> None:
    with pytest.raises(PolicyError, match="budget_cap_year_rho does not apply under privacy_model 'pure'"):
        parse_policy(pure_doc() | {"budget_cap_year_rho": "12"})
    with pytest.raises(PolicyError, match="budget_cap_year_epsilon must be at least budget_cap_epsilon"):
        parse_policy(pure_doc(cap="10") | {"budget_cap_year_epsilon": "9"})


def test_policy_approved_records_the_yearly_cap_only_when_set() -> None:
    without = make_test_policy([TEAM_MONTH])
    assert not any(k.startswith("budget_cap_year") for k in policy_payload(without, "tester"))
    with_cap = make_test_policy([TEAM_MONTH], budget_cap_year_rho="6")
    payload = policy_payload(with_cap, "tester")
    assert payload["budget_cap_year_rho"] == "6" and "budget_cap_year_epsilon" not in payload
    assert {k: v for k, v in payload.items() if k not in ("budget_cap_year_rho", "policy_sha256")} == {
        k: v for k, v in policy_payload(without, "tester").items() if k != "policy_sha256"
    }
    pure = parse_policy(pure_doc() | {"budget_cap_year_epsilon": "40"})
    assert policy_payload(pure, "tester")["budget_cap_year_epsilon"] == "40"
