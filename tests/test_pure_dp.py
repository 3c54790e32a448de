"""Pure DP as a policy option: Laplace noise, budgets in epsilon composed by addition, exactly."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from foundation.budget import Budget
from foundation.policy import Policy, PolicyError, parse_policy
from privacy import mechanisms
from privacy.accountant import budget_summary, publish_release
from privacy.groups import decide_groups
from privacy.mechanisms import (
    MECHANISM_PURE,
    NoiseScaleMismatch,
    analytic_laplace_scale,
    calibrate,
    expected_noise_scale,
    half_width,
    published_values,
)
from privacy.planner import budget_per_period, plan_json, plan_policy, predict_accuracy
from privacy.release import draw_noisy_release
from privacy.verify import verify_ledger
from tests.helpers import (
    SITE_DAY,
    FakeDraw,
    approve,
    interval_coverage,
    make_test_policy,
    pure_doc,
    pure_policy,
    rows,
)
from warehouse.records import ReleaseKey

NOW = dt.datetime(2026, 4, 2, 6, 0, tzinfo=dt.UTC)

# --- policy ------------------------------------------------------------------------------------


def test_pure_policy_parses_epsilon_budgets_exactly() -> None:
    policy = pure_policy(cap="2.5", epsilon="0.1")
    spec = policy.release("site_day")
    assert policy.privacy_model == "pure" and policy.budget_unit == "epsilon"
    assert policy.budget_cap == Budget("epsilon", Fraction(5, 2))
    assert policy.budget_cap.unit == "epsilon"  # a zCDP-only path adding rho to it would raise, never spend
    assert policy.report_delta == 0
    assert spec.privacy_model == "pure" and spec.budget_unit == "epsilon"
    assert spec.budget == Budget("epsilon", spec.epsilon) == Budget("epsilon", Fraction(1, 10))
    assert spec.rho == Fraction(1, 200)  # the zCDP equivalent epsilon^2 / 2, for information


def test_default_model_is_zcdp() -> None:
    policy = make_test_policy([{**{k: v for k, v in SITE_DAY.items() if k != "epsilon"}, "rho": "0.1"}])
    assert policy.privacy_model == "zcdp" and policy.budget_unit == "rho"
    assert policy.budget_cap == Budget("rho", Fraction(1))
    assert policy.release("site_day").budget == Budget("rho", Fraction(1, 10))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(privacy_model="approx"), "privacy_model must be 'zcdp' or 'pure'"),
        (lambda d: d.update(budget_cap_rho="1"), "budget_cap_rho does not apply under privacy_model 'pure'"),
        (lambda d: d.pop("budget_cap_epsilon"), "missing key(s) budget_cap_epsilon"),
        (lambda d: d.update(budget_cap_epsilon=1), "budget_cap_epsilon must be a quoted decimal string"),
        (lambda d: d.update(budget_cap_epsilon="0"), "budget_cap_epsilon must be positive"),
        (lambda d: d["releases"][0].update(rho="0.1"), "rho does not apply under privacy_model 'pure'"),
        (lambda d: d["releases"][0].pop("epsilon"), "missing key(s) epsilon"),
        (lambda d: d["releases"][0].update(epsilon="-1"), "site_day): epsilon must be positive"),
        (lambda d: d["releases"][0].update(epsilon=0.5), "epsilon must be a quoted decimal string"),
    ],
)
def test_pure_policy_errors_name_the_key(change: Callable[[dict[str, Any]], Any], message: str) -> None:
    doc = pure_doc()
    change(doc)
    with pytest.raises(PolicyError) as err:
        parse_policy(doc, sha256="0" * 64)
    assert message in str(err.value)


def test_zcdp_policy_refuses_epsilon_keys() -> None:
    with pytest.raises(PolicyError, match="budget_cap_epsilon does not apply under privacy_model 'zcdp'"):
        make_test_policy([{**SITE_DAY, "rho": "0.1"}], budget_cap_epsilon="1")
    with pytest.raises(PolicyError, match="epsilon does not apply under privacy_model 'zcdp'; use rho"):
        make_test_policy([{**SITE_DAY, "rho": "0.1"}])


# --- noise scales and intervals -----------------------------------------------------------------


def _totals(n: int = 12) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "agent_pseudonym": [f"a{i}" for i in range(n)],
            "site": ["S1"] * n,
            "contacts_handled": [30 + i for i in range(n)],
            "handle_seconds": [9000 + 100 * i for i in range(n)],
        },
        schema_overrides={"contacts_handled": pl.Int64, "handle_seconds": pl.Int64},
    )


@pytest.mark.parametrize(("epsilon", "contacts", "handle"), [("1", 120.0, 46800.0), ("0.25", 480.0, 187200.0)])
def test_laplace_scale_is_bound_times_sums_over_epsilon(epsilon: str, contacts: float, handle: float) -> None:
    spec = pure_policy(epsilon=epsilon).release("site_day")
    calibrated = calibrate(_totals(), ["S1"], spec)
    # L1 sensitivity of a group sum = the bound; 2 sums share epsilon evenly: b = bound * 2 / epsilon.
    assert calibrated.scales == {"contacts_handled": contacts, "handle_seconds": handle}
    assert expected_noise_scale(spec, "contacts_handled") == contacts
    assert expected_noise_scale(spec, "handle_seconds") == handle
    assert analytic_laplace_scale(60, Fraction(1, 3), 3) == 540.0


def test_laplace_scale_mismatch_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = pure_policy(epsilon="0.5").release("site_day")
    mechanisms.calibrated_measurement.cache_clear()
    monkeypatch.setattr(mechanisms, "analytic_laplace_scale", lambda bound, eps, parts: bound * parts / eps / 2)
    try:
        with pytest.raises(NoiseScaleMismatch, match="analytic sensitivity implies"):
            calibrate(_totals(), ["S1"], spec)
    finally:
        mechanisms.calibrated_measurement.cache_clear()


def test_laplace_half_width_is_opendp_discrete_laplace_accuracy() -> None:
    import opendp.prelude as dp
    from opendp.accuracy import summarize_polars_measurement

    spec = pure_policy().release("site_day")
    calibrated = calibrate(_totals(), ["S1"], spec)
    summary = {r["column"]: r for r in summarize_polars_measurement(calibrated.measurement, 0.05).iter_rows(named=True)}
    for metric, scale in calibrated.scales.items():
        assert summary[metric]["distribution"] == "Integer Laplace"
        assert half_width(scale, 0.05, "discrete_laplace") == pytest.approx(summary[metric]["accuracy"], rel=1e-12)
        assert half_width(scale, 0.05, "discrete_laplace") == dp.discrete_laplacian_scale_to_accuracy(scale, 0.05)
        # about b ln(20) = 3.0 b (docs/privacy.md, Intervals)
        assert half_width(scale, 0.05, "discrete_laplace") == pytest.approx(scale * math.log(20), rel=0.01)
    with pytest.raises(ValueError, match="unknown noise distribution"):
        half_width(1.0, 0.05, "cauchy")


def test_pure_release_draws_laplace_and_records_parameters() -> None:
    policy = pure_policy(epsilon="1000000")  # huge epsilon: b < 1 contact
    spec = policy.release("site_day")
    roster = pl.DataFrame({"agent_pseudonym": [f"a{i}" for i in range(12)], "team": ["T"] * 12, "site": ["S1"] * 12})
    noisy = draw_noisy_release(_totals(), decide_groups(roster, spec, policy), spec)
    assert noisy.mechanism == MECHANISM_PURE
    assert noisy.parameters["epsilon_per_sum"] == "500000"
    assert noisy.parameters["privacy_model"] == "pure"
    assert noisy.parameters["noise_distribution"] == "discrete_laplace"
    assert "rho_per_sum" not in noisy.parameters
    values = {v.statistic: v for v in noisy.values}
    assert values["contacts_handled"].value == pytest.approx(sum(30 + i for i in range(12)), abs=2)
    assert values["contacts_handled"].noise_scale == pytest.approx(60 * 2 / 1_000_000)


def test_pure_intervals_use_laplace_half_width() -> None:
    spec = pure_policy().release("site_day")
    scales = {"contacts_handled": 120.0, "handle_seconds": 46800.0}
    noisy = pl.DataFrame({"site": ["S1"], "contacts_handled": [2000], "handle_seconds": [600_000]})
    values = {v.statistic: v for v in published_values(noisy, spec, scales)}
    half = half_width(120.0, 0.05, "discrete_laplace")
    assert values["contacts_handled"].ci_low == 2000 - half and values["contacts_handled"].ci_high == 2000 + half
    assert half > half_width(120.0, 0.05)  # wider than a Gaussian of the same scale


# --- planner --------------------------------------------------------------------------------------


def test_planner_predicts_laplace_scales_and_sums_epsilon() -> None:
    policy = pure_policy(cap="31", epsilon="1")
    spec = policy.release("site_day")
    roster = pl.DataFrame({"agent_pseudonym": [f"a{i}" for i in range(50)], "team": ["T"] * 50, "site": ["S"] * 50})
    plan = predict_accuracy(spec, policy, decide_groups(roster, spec, policy))
    contacts = next(r for r in plan.rows if r.statistic == "contacts_handled")
    assert contacts.noise_scale == 120.0
    assert contacts.half_width == half_width(120.0, 0.05, "discrete_laplace")
    assert contacts.relative_half_width == pytest.approx(contacts.half_width / (30 * 50))
    budget = budget_per_period(spec, policy)
    assert (budget.unit, budget.per_window, budget.per_sum, budget.per_period) == (
        "epsilon",
        Budget("epsilon", Fraction(1)),
        Budget("epsilon", Fraction(1, 2)),
        Budget("epsilon", Fraction(31)),
    )
    assert budget.delta == 0 and budget.epsilon == 31.0
    whole = plan_policy(policy, roster)
    assert whole.unit == "epsilon" and whole.total_per_period == Budget("epsilon", Fraction(31)) and whole.within_cap
    doc = plan_json(whole)
    assert doc["budget_unit"] == "epsilon" and doc["total_epsilon_per_period"] == "31" and doc["cap_epsilon"] == "31"
    assert doc["releases"][0]["epsilon_per_window"] == "1" and "rho_per_window" not in doc["releases"][0]
    assert not plan_policy(pure_policy(cap="30.9", epsilon="1"), roster).within_cap


# --- accountant and ledger -------------------------------------------------------------------------


def _publish(path: Path, policy: Policy, day: dt.date, draw: FakeDraw) -> Any:
    """Publish a site_day under the policy, approved first as an operator would (a no-op once approved)."""
    approve(path, policy)
    key = ReleaseKey("site_day", day, day + dt.timedelta(days=1), policy.sha256)
    return publish_release(path, key, policy.release("site_day"), policy, "tester", draw, now=lambda: NOW)


def test_budget_boundary_exact_in_epsilon(tmp_path: Path) -> None:
    """Ten releases of epsilon 0.1 reach the cap 1 exactly (floats would not); the eleventh is refused."""
    wh = tmp_path / "warehouse.duckdb"
    policy = pure_policy(cap="1", epsilon="0.1")
    draw = FakeDraw()
    for i in range(10):
        assert _publish(wh, policy, dt.date(2026, 3, 1 + i), draw).status == "released"
    refused = _publish(wh, policy, dt.date(2026, 3, 11), draw)
    assert refused.status == "refused" and draw.calls == 10
    assert "spent epsilon 1 + requested 0.1 = 1.1 > cap 1" in refused.message
    assert _publish(wh, policy, dt.date(2026, 4, 1), draw).status == "released"  # a new month
    summary = {s["period"]: s for s in budget_summary(wh, policy)}
    assert summary["2026-03"]["spent_epsilon"] == "1" and summary["2026-03"]["remaining_epsilon"] == "0"
    assert summary["2026-03"]["within_cap"] is True and summary["2026-04"]["spent_epsilon"] == "0.1"
    assert verify_ledger(wh).ok


def test_pure_ledger_entry_records_model_and_unit(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = pure_policy(cap="2", epsilon="0.5")
    out = _publish(wh, policy, dt.date(2026, 3, 31), FakeDraw())
    assert out.status == "released" and out.budget == Budget("epsilon", Fraction(1, 2))
    assert "epsilon 0.5 charged to 2026-03" in out.message
    [(payload,)] = rows(wh, "SELECT payload FROM ledger WHERE entry_type = 'release'")
    entry = json.loads(payload)
    assert entry["privacy_model"] == "pure" and entry["budget_unit"] == "epsilon"
    assert entry["epsilon"] == "0.5" and entry["rho"] is None and entry["delta"] == "0"
    assert entry["rho_equivalent"] == "0.125"
    assert entry["spend_after"]["2026-03"] == {"cap_epsilon": "2", "remaining_epsilon": "1.5", "spent_epsilon": "0.5"}
    [(policy_payload,)] = rows(wh, "SELECT payload FROM ledger WHERE entry_type = 'policy_approved'")
    approved = json.loads(policy_payload)
    assert approved["privacy_model"] == "pure" and approved["budget_cap_epsilon"] == "2"
    assert approved["releases"][0]["epsilon"] == "0.5"
    assert rows(wh, "SELECT period, spent_exact FROM budget_spend") == [("2026-03", "0.5")]
    assert verify_ledger(wh).ok


def test_zcdp_spend_blocks_a_pure_policy_and_pure_spend_counts_as_rho(tmp_path: Path) -> None:
    """Spend in the other unit: epsilon-DP is (epsilon^2/2)-zCDP; zCDP spend has no epsilon bound."""
    wh = tmp_path / "warehouse.duckdb"
    pure = pure_policy(cap="10", epsilon="1")
    assert _publish(wh, pure, dt.date(2026, 3, 2), FakeDraw()).status == "released"
    zcdp = make_test_policy([{**{k: v for k, v in SITE_DAY.items() if k != "epsilon"}, "rho": "0.5"}], cap="1")
    # spent: epsilon 1 = rho 1/2; + 0.5 = 1 <= 1: allowed; one more is refused
    assert _publish(wh, zcdp, dt.date(2026, 3, 3), FakeDraw()).status == "released"
    assert _publish(wh, zcdp, dt.date(2026, 3, 4), FakeDraw()).status == "refused"
    refused = _publish(wh, pure, dt.date(2026, 3, 5), FakeDraw())
    assert refused.status == "refused" and "no pure DP (epsilon) bound" in refused.message
    assert _publish(wh, pure, dt.date(2026, 4, 1), FakeDraw()).status == "released"
    assert verify_ledger(wh).ok


# --- empirical coverage -----------------------------------------------------------------------------


@pytest.mark.slow
def test_empirical_coverage_of_laplace_95_percent_intervals() -> None:
    """Over 1,000 Laplace draws the sum intervals cover the truth about 95% of the time, ratios at least 95%."""
    spec = pure_policy(epsilon="1").release("site_day")
    totals = _totals(40)
    true_contacts = int(totals["contacts_handled"].sum())
    true_handle = int(totals["handle_seconds"].sum())
    calibrated = calibrate(totals, ["S1"], spec)
    truth = {
        "contacts_handled": true_contacts,
        "handle_seconds": true_handle,
        "aht_seconds": true_handle / true_contacts,
    }
    covered = interval_coverage(calibrated, spec, truth, draws=1000)
    # Binomial(1000, 0.95) has sd 6.9: +-4.5 sd is 0.919 .. 0.981 (a false failure about 1 in
    # 150,000). (The discrete Laplace interval is conservative by at most the mass of one integer,
    # well inside that tolerance at b = 120.)
    assert 0.919 <= covered["contacts_handled"] <= 0.981
    assert 0.919 <= covered["handle_seconds"] <= 0.981
    assert covered["aht_seconds"] >= 0.94
