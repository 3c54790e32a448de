"""The figures workforce management dashboards lead with, published as ratios of noisy sums.

Occupancy is a share: handle_seconds / (handle_seconds + available_idle_seconds), a ratio whose
denominator is a total of sums that holds the numerator (docs/privacy.md, Intervals). The shipped
policy publishes it, adherence, conformance, transfer rate and average hold per site and month
(release site_month_service), and the planner accepts it for the demo's center.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

from foundation.budget import Budget
from foundation.policy import PolicyError, Ratio, load_policy
from privacy.groups import decide_groups
from privacy.mechanisms import calibrate, half_width, published_values, ratio_interval, ratio_part_alpha
from privacy.planner import plan_policy, predict_accuracy
from tests.helpers import interval_coverage, make_test_policy

POLICY_FILE = Path(__file__).resolve().parents[1] / "foundation" / "policy.yaml"
OCCUPANCY = Ratio("occupancy", "handle_seconds", "handle_seconds + available_idle_seconds", 1.0)
AHT = Ratio("aht_seconds", "handle_seconds", "contacts_handled", 3600.0)

SITE_MONTH: dict = {
    "name": "site_month_occupancy",
    "purpose": "monthly occupancy per site",
    "group_by": "site",
    "window": "month",
    "rho": "0.2",
    "sums": {"handle_seconds": 400000, "available_idle_seconds": 200000},
    "ratios": {
        "occupancy": {
            "numerator": "handle_seconds",
            "denominator": "handle_seconds + available_idle_seconds",
            "max": 1,
        }
    },
}


def test_a_denominator_of_several_sums_is_parsed_into_its_parts() -> None:
    spec = make_test_policy([SITE_MONTH]).release("site_month_occupancy")
    [occupancy] = spec.ratios
    assert occupancy.denominator == "handle_seconds + available_idle_seconds"
    assert occupancy.denominator_parts == ("handle_seconds", "available_idle_seconds")
    assert occupancy.parts == ("handle_seconds", "available_idle_seconds")
    assert AHT.parts == ("handle_seconds", "contacts_handled")


@pytest.mark.parametrize(
    ("denominator", "message"),
    [
        ("handle_seconds + talk_seconds", "denominator 'talk_seconds' is not one of this release's sums"),
        ("available_idle_seconds + available_idle_seconds", "must name each sum once"),
        ("handle_seconds", "more than the numerator alone"),
        (["handle_seconds"], "denominator must name sums of this release"),
    ],
)
def test_a_bad_denominator_is_refused_by_name(denominator: object, message: str) -> None:
    release = {**SITE_MONTH, "ratios": {"occupancy": {**SITE_MONTH["ratios"]["occupancy"], "denominator": denominator}}}
    with pytest.raises(PolicyError, match=message):
        make_test_policy([release])


def test_the_interval_of_a_share_takes_its_extremes_at_the_corners() -> None:
    """S / (S + R) rises with S and falls with R: [S_lo / (S_lo + R_hi), S_hi / (S_hi + R_lo)]."""
    values = {"handle_seconds": 600.0, "available_idle_seconds": 400.0}
    halves = {"handle_seconds": 60.0, "available_idle_seconds": 40.0}
    assert ratio_interval(OCCUPANCY, values, halves) == (0.6, 540 / 980, 660 / 1020)
    # A plain ratio S / N: [(S - a_S) / (N + a_N), (S + a_S) / (N - a_N)].
    plain = {"handle_seconds": 600.0, "contacts_handled": 1000.0}
    assert ratio_interval(AHT, plain, {"handle_seconds": 60.0, "contacts_handled": 100.0}) == (
        0.6,
        540 / 1100,
        660 / 900,
    )
    # The parts are kept at 0 or above (true sums are): R's interval reaching below 0 counts as R = 0.
    low_idle = {"handle_seconds": 600.0, "available_idle_seconds": 30.0}
    assert ratio_interval(OCCUPANCY, low_idle, halves) == (600 / 630, 540 / 610, 1.0)
    # The denominator's interval reaching 0: too noisy, no number.
    assert ratio_interval(OCCUPANCY, {"handle_seconds": 50.0, "available_idle_seconds": 10.0}, halves) is None


def test_occupancy_is_published_with_the_union_bound_of_its_two_sums() -> None:
    """Each of the two sums gets a 97.5% half-width; the value and interval are clamped to [0, 1]."""
    spec = make_test_policy([SITE_MONTH]).release("site_month_occupancy")
    scales = {"handle_seconds": 1000.0, "available_idle_seconds": 500.0}
    noisy = pl.DataFrame(
        {"site": ["Berlin", "Lisbon"], "handle_seconds": [60_000, 1_000], "available_idle_seconds": [40_000, 200]}
    )
    values = {(v.group_value, v.statistic): v for v in published_values(noisy, spec, scales)}
    assert ratio_part_alpha(2) == 0.025
    a_s, a_r = half_width(1000.0, 0.025), half_width(500.0, 0.025)
    assert (a_s, a_r) == (2242.0, 1122.0)  # OpenDP's discrete Gaussian accuracy at 97.5%
    berlin = values[("Berlin", "occupancy")]
    assert berlin.status == "published" and berlin.noise_scale is None
    assert berlin.value == 0.6
    assert berlin.ci_low == (60_000 - a_s) / (60_000 - a_s + 40_000 + a_r)
    assert berlin.ci_high == (60_000 + a_s) / (60_000 + a_s + 40_000 - a_r)
    lisbon = values[("Lisbon", "occupancy")]  # 1,000 + 200 seconds against +-3,364: too noisy
    assert (lisbon.status, lisbon.value, lisbon.ci_low) == ("too_noisy", None, None)


def test_the_planner_predicts_the_interval_the_release_publishes() -> None:
    """At typical values (half of each bound x 30 agents) the planner's wider side is the release's."""
    policy = make_test_policy([SITE_MONTH])
    spec = policy.release("site_month_occupancy")
    roster = pl.DataFrame({"agent_pseudonym": [f"a{i}" for i in range(30)], "team": ["T"] * 30, "site": ["S"] * 30})
    plan = predict_accuracy(spec, policy, decide_groups(roster, spec, policy))
    [row] = [r for r in plan.rows if r.statistic == "occupancy"]
    scale = {m: r.noise_scale for r in plan.rows if r.kind == "sum" for m in [r.statistic]}
    typical = {"handle_seconds": 200_000.0 * 30, "available_idle_seconds": 100_000.0 * 30}
    halves = {m: half_width(s, 0.025) for m, s in scale.items() if s is not None}
    value, low, high = ratio_interval(OCCUPANCY, typical, halves) or (math.nan, math.nan, math.nan)
    assert row.typical == pytest.approx(2 / 3) and value == pytest.approx(2 / 3)
    assert row.relative_half_width == pytest.approx(max(high - value, value - low) / value)
    assert row.verdict == "ok"


def _demo_roster() -> pl.DataFrame:
    """The demo's center (teamlens demo: 200 agents, 14 teams, 2 sites): 7 teams of 13-14 per site
    and Berlin's pilot of 6 as the generator deals them: sites of 103 and 97 agents."""
    teams = {"Berlin": [14, 14, 13, 14, 14, 14, 14, 6], "Toronto": [14, 14, 13, 14, 14, 14, 14]}
    rows = []
    for site, sizes in teams.items():
        for t, size in enumerate(sizes):
            rows += [(f"{site}-{t}-{i}", f"{site}-team{t}", site) for i in range(size)]
    return pl.DataFrame(rows, schema=["agent_pseudonym", "team", "site"], orient="row")


def test_the_shipped_policy_publishes_the_service_figures_within_its_limits() -> None:
    policy = load_policy(POLICY_FILE)
    spec = policy.release("site_month_service")
    assert (spec.group_by, spec.window, spec.budget) == ("site", "month", Budget("rho", Fraction("0.12")))
    assert {r.name: (r.numerator, r.denominator_parts) for r in spec.ratios} == {
        "aht_seconds": ("handle_seconds", ("contacts_handled",)),
        "occupancy": ("handle_seconds", ("handle_seconds", "available_idle_seconds")),
        "adherence": ("in_adherence_seconds", ("scheduled_seconds",)),
        "conformance": ("worked_seconds", ("scheduled_work_seconds",)),
        "transfer_rate": ("transfers_out", ("contacts_handled",)),
        "average_hold_seconds": ("hold_seconds", ("contacts_held",)),
    }
    roster = _demo_roster()
    assert roster.group_by("site").len().sort("site")["len"].to_list() == [103, 97]
    plan = plan_policy(policy, roster)
    assert plan.ok and plan.total_per_period == Budget("rho", Fraction("0.98"))
    [service] = [r for r in plan.releases if r.name == "site_month_service"]
    relative = {r.statistic: r.relative_half_width for r in service.accuracy.rows if r.group_value == "Toronto"}
    assert all(v is not None and v <= 2 for v in relative.values())
    # The widest figure is the transfer rate (few transfers against their bound); occupancy is the sharpest ratio.
    assert service.accuracy.worst is not None and service.accuracy.worst.statistic == "transfer_rate"
    assert relative["occupancy"] == pytest.approx(0.220, abs=0.001)  # 0.177 at its former rho 0.18
    assert relative["adherence"] == pytest.approx(0.536, abs=0.001)  # 0.418 at rho 0.18


@pytest.mark.slow
def test_occupancy_intervals_cover_the_truth_at_least_95_percent() -> None:
    """1,000 draws through the release's OpenDP measurement (noise about 10% of each sum): each sum's
    own 95% interval covers 0.919 .. 0.981 of the time (Binomial(1000, 0.95) has sd 0.0069: +-4.5 sd,
    a false failure about 1 in 150,000), and the union bound at least 0.919 (it guarantees 95%)."""
    spec = make_test_policy([SITE_MONTH]).release("site_month_occupancy")
    agents = 40
    handle = [150_000 + 1000 * i for i in range(agents)]
    idle = [60_000 + 500 * i for i in range(agents)]
    totals = pl.DataFrame(
        {
            "agent_pseudonym": [f"a{i}" for i in range(agents)],
            "site": ["S"] * agents,
            "handle_seconds": handle,
            "available_idle_seconds": idle,
        }
    )
    calibrated = calibrate(totals, ["S"], spec)
    truth = {
        "handle_seconds": sum(handle),
        "available_idle_seconds": sum(idle),
        "occupancy": sum(handle) / (sum(handle) + sum(idle)),
    }
    covered = interval_coverage(calibrated, spec, truth, draws=1000)
    assert 0.919 <= covered["handle_seconds"] <= 0.981 and 0.919 <= covered["available_idle_seconds"] <= 0.981
    assert covered["occupancy"] >= 0.919
