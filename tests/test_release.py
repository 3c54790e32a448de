"""DP releases: contribution bounding, public group decisions, pinned noise scales, intervals."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
import yaml

from foundation.policy import Policy, parse_policy
from foundation.settings import REPO_ROOT
from privacy.groups import decide_groups
from privacy.mechanisms import calibrate, expected_noise_scale, published_values
from privacy.release import agent_window_totals, draw_noisy_release
from tests.helpers import interval_coverage

D1, D2 = dt.date(2026, 10, 5), dt.date(2026, 10, 6)


def _policy(min_group_size: int = 2, rho: str = "0.1") -> Policy:
    doc = yaml.safe_load((REPO_ROOT / "tests" / "fixtures" / "policy-week-day.yaml").read_text())
    doc["min_group_size"] = min_group_size
    doc["releases"][0]["rho"] = rho
    return parse_policy(doc, sha256="f" * 64)


ROSTER = pl.DataFrame(
    {
        "agent_pseudonym": ["a1", "a2", "a3"],
        "team": ["T1", "T1", "T2"],
        "site": ["S", "S", "S"],
    }
)

AGENT_DAY = pl.DataFrame(
    {
        "day": [D1, D2, D1, D2, D2],
        "agent_pseudonym": ["a1", "a1", "a3", "a4", "a3"],
        "team": ["T1", "T1", "T2", "T1", "T1"],  # a3 moved to T1 on D2: stays in T2 (first day)
        "site": ["S"] * 5,
        "contacts_handled": [10, 5, 7, 3, 2],
        "handle_seconds": [3000, 1000, 2100, 900, 600],
    },
    schema_overrides={"contacts_handled": pl.Int64, "handle_seconds": pl.Int64},
)


def test_one_row_per_agent_in_exactly_one_group() -> None:
    spec = _policy().release("team_week_contacts_aht")
    totals = agent_window_totals(AGENT_DAY, ROSTER, spec).sort("agent_pseudonym")
    assert totals.to_dicts() == [
        {"agent_pseudonym": "a1", "team": "T1", "contacts_handled": 15, "handle_seconds": 4000},
        {"agent_pseudonym": "a2", "team": "T1", "contacts_handled": 0, "handle_seconds": 0},  # no activity: zeros
        {"agent_pseudonym": "a3", "team": "T2", "contacts_handled": 9, "handle_seconds": 2700},  # first-day team
        {"agent_pseudonym": "a4", "team": "T1", "contacts_handled": 3, "handle_seconds": 900},  # not in roster
    ]


def test_small_groups_are_suppressed_by_roster_size() -> None:
    spec = _policy(min_group_size=2).release("team_week_contacts_aht")
    decisions = decide_groups(ROSTER, spec, _policy(min_group_size=2))
    assert [(d.group_value, d.roster_size, d.status) for d in decisions] == [
        ("T1", 2, "released"),
        ("T2", 1, "suppressed_small_group"),
    ]


def test_noise_scale_equals_bound_over_sqrt_two_rho_part() -> None:
    spec = _policy(rho="0.1").release("team_week_contacts_aht")
    totals = agent_window_totals(AGENT_DAY, ROSTER, spec)
    calibrated = calibrate(totals, ["T1"], spec)
    # rho 0.1 split over 2 sums: rho_part 0.05, sigma = B / sqrt(0.1)
    assert calibrated.scales["contacts_handled"] == pytest.approx(300 / math.sqrt(0.1), rel=1e-9)
    assert calibrated.scales["handle_seconds"] == pytest.approx(117000 / math.sqrt(0.1), rel=1e-9)
    assert expected_noise_scale(spec, "handle_seconds") == pytest.approx(369986.5, rel=1e-6)


def test_release_publishes_only_eligible_groups_with_intervals() -> None:
    policy = _policy(min_group_size=2, rho="100000000")  # huge budget: sigma < 1 contact
    spec = policy.release("team_week_contacts_aht")
    totals = agent_window_totals(AGENT_DAY, ROSTER, spec)
    release = draw_noisy_release(totals, decide_groups(ROSTER, spec, policy), spec)
    assert {v.group_value for v in release.values} == {"T1"}
    by_stat = {v.statistic: v for v in release.values}
    assert set(by_stat) == {"contacts_handled", "handle_seconds", "aht_seconds"}
    contacts = by_stat["contacts_handled"]
    assert contacts.value == pytest.approx(18, abs=3)
    assert contacts.ci_low is not None and contacts.ci_high is not None
    assert contacts.ci_low <= contacts.value <= contacts.ci_high
    aht = by_stat["aht_seconds"]
    assert aht.value == pytest.approx(4900 / 18, rel=0.1)
    assert aht.noise_scale is None
    assert release.parameters["public_keys"] == ["T1"]


def test_ratio_is_too_noisy_when_the_denominator_interval_reaches_zero() -> None:
    spec = _policy().release("team_week_contacts_aht")
    scales = {"contacts_handled": 100.0, "handle_seconds": 1000.0}
    noisy = pl.DataFrame({"team": ["T1", "T2"], "contacts_handled": [50, 5000], "handle_seconds": [900, 1_500_000]})
    values = {(v.group_value, v.statistic): v for v in published_values(noisy, spec, scales)}
    assert values[("T1", "aht_seconds")].status == "too_noisy"
    assert values[("T1", "aht_seconds")].value is None
    aht = values[("T2", "aht_seconds")]
    assert aht.status == "published"
    assert aht.value == pytest.approx(300.0)
    assert aht.ci_low is not None and aht.ci_high is not None
    assert aht.ci_low < 300.0 < aht.ci_high
    # Sums are clamped at zero with their interval: 50 +- about 196 contacts.
    contacts = values[("T1", "contacts_handled")]
    assert contacts.value == 50 and contacts.ci_low == 0.0
    assert contacts.ci_high == pytest.approx(50 + 196, abs=2)


@pytest.mark.slow
def test_empirical_coverage_of_95_percent_intervals() -> None:
    """Over 1,000 draws the sum intervals cover the truth about 95% of the time, ratios at least 95%."""
    spec = _policy(rho="0.5").release("team_week_contacts_aht")
    rows = 40
    totals = pl.DataFrame(
        {
            "agent_pseudonym": [f"a{i}" for i in range(rows)],
            "team": ["T1"] * rows,
            "contacts_handled": [150 + i for i in range(rows)],
            "handle_seconds": [45000 + 300 * i for i in range(rows)],
        }
    )
    true_contacts = sum(150 + i for i in range(rows))
    true_handle = sum(45000 + 300 * i for i in range(rows))
    calibrated = calibrate(totals, ["T1"], spec)
    truth = {
        "contacts_handled": true_contacts,
        "handle_seconds": true_handle,
        "aht_seconds": true_handle / true_contacts,
    }
    covered = interval_coverage(calibrated, spec, truth, draws=1000)
    # Binomial(1000, 0.95) has sd 6.9: +-4.5 sd is 0.919 .. 0.981 (a false failure about 1 in 150,000).
    assert 0.919 <= covered["contacts_handled"] <= 0.981
    assert 0.919 <= covered["handle_seconds"] <= 0.981
    assert covered["aht_seconds"] >= 0.94


def test_an_agent_with_two_rows_is_refused_before_any_draw() -> None:
    """The privacy unit is one row per agent: a duplicated agent would double its influence."""
    policy = _policy(min_group_size=2)
    spec = policy.release("team_week_contacts_aht")
    totals = agent_window_totals(AGENT_DAY, ROSTER, spec)
    doubled = pl.concat([totals, totals.filter(pl.col("agent_pseudonym") == "a1")])
    with pytest.raises(ValueError, match="more than one row"):
        draw_noisy_release(doubled, decide_groups(ROSTER, spec, policy), spec)
