"""The clipping check: a declared share of a release's budget counts, with noise, the agents whose
window total exceeded each sum's bound (docs/privacy.md, The clipping check).

Exact values on tiny hand-made data: the policy key, the split of the budget (exact Fractions),
the counts drawn on the publishing path (with a budget so large that the noise is far below one
agent, so the counts are the exact ones), the planner's prediction of the drawn scales, and the
report's flag on hand-made published rows.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from foundation import schema
from foundation.budget import Budget
from foundation.policy import PolicyError, load_policy
from foundation.settings import Settings, load_settings
from privacy import mechanisms
from privacy import release as release_module
from privacy.groups import decide_groups
from privacy.mechanisms import NoiseScaleMismatch, calibrate, expected_over_bound_scale
from privacy.planner import format_plan, plan_policy
from privacy.release import draw_noisy_release
from privacy.verify import verify_ledger
from teamlens import pipeline
from teamlens.report import likely_understated, print_report, understated_footnote
from tests.helpers import (
    SITE_DAY,
    TEAM_WEEK,
    TEST_CHECKPOINT_KEY,
    TEST_KEY,
    approve,
    make_test_policy,
    pure_doc,
    write_policy_file,
    write_table_partition,
)
from warehouse.store import read_published

MONDAY = dt.date(2026, 3, 9)
COUNTS = ("agents_over_bound_contacts_handled", "agents_over_bound_handle_seconds")

# One day of team-a, 10 agents, against the bounds 60 contacts and 23,400 handle seconds: agents
# 0 and 1 exceed the contacts bound (61, 90), agent 2 sits exactly on it (60: not over); agent 3
# exceeds the handle-time bound (23,401), agent 4 sits on it. So 2 agents over the contacts bound,
# 1 over the handle-time bound.
CONTACTS = [61, 90, 60, 10, 10, 10, 10, 10, 10, 10]
HANDLE = [3000, 3000, 3000, 23401, 23400, 3000, 3000, 3000, 3000, 3000]
TEAM_DAY: dict[str, Any] = {
    "name": "team_day",
    "purpose": "daily workload per team (clipping check test)",
    "group_by": "team",
    "window": "day",
    "rho": "5000",  # count sigma 1/sqrt(2 x 5000 / 20 / 2) = 0.063 agents: the counts come out exact
    "sums": {"contacts_handled": 60, "handle_seconds": 23400},
}


def totals() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "agent_pseudonym": [f"a{i}" for i in range(10)],
            "team": ["team-a"] * 10,
            "contacts_handled": CONTACTS,
            "handle_seconds": HANDLE,
        }
    )


def roster() -> pl.DataFrame:
    return pl.DataFrame({"agent_pseudonym": [f"a{i}" for i in range(10)], "team": ["team-a"] * 10, "site": ["S"] * 10})


# --- the policy key ------------------------------------------------------------------------------


def test_the_share_splits_the_release_budget_exactly() -> None:
    policy = make_test_policy([TEAM_WEEK], clipping_check_share="1/20")
    spec = policy.release("team_week")
    assert spec.clipping_check_share == Fraction(1, 20)
    assert spec.budget == Budget("rho", Fraction(1, 4))  # the release still costs what it declares
    assert spec.sums_budget == Budget("rho", Fraction(19, 80))
    assert spec.clipping_check_budget == Budget("rho", Fraction(1, 80))
    own = make_test_policy([{**TEAM_WEEK, "clipping_check_share": "0.1"}], clipping_check_share="1/20")
    assert own.release("team_week").clipping_check_share == Fraction(1, 10)  # the release's own wins


def test_a_policy_without_the_share_has_no_check_and_its_old_scales() -> None:
    spec = make_test_policy([TEAM_WEEK]).release("team_week")
    assert spec.clipping_check_share is None and spec.clipping_check_budget is None
    assert spec.sums_budget == spec.budget
    calibrated = calibrate(totals(), ["team-a"], spec)
    # rho 1/4 over 2 sums: sigma = 400 / sqrt(1/4) = 800, as before the clipping check existed
    assert calibrated.scales == pytest.approx({"contacts_handled": 800.0, "handle_seconds": 288000.0}, rel=1e-12)
    assert expected_over_bound_scale(spec) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.05, "must be a quoted decimal"),
        ("0", "must be positive"),
        ("1/2", "must be below 1/2"),
        ("0.7", "must be below 1/2"),
        ("a twentieth", "is not a number"),
    ],
)
def test_an_invalid_share_is_refused(value: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=f"clipping_check_share {message}"):
        make_test_policy([TEAM_WEEK], clipping_check_share=value)
    with pytest.raises(PolicyError, match=r"releases\[0\] \(team_week\): clipping_check_share"):
        make_test_policy([{**TEAM_WEEK, "clipping_check_share": value}])


def test_the_shipped_policy_enables_the_check() -> None:
    from foundation.settings import REPO_ROOT

    policy = load_policy(REPO_ROOT / "foundation" / "policy.yaml")
    assert {r.clipping_check_share for r in policy.releases} == {Fraction(1, 40)}


# --- the draw --------------------------------------------------------------------------------------


def test_scales_follow_the_share_under_zcdp() -> None:
    """rho 1, share 1/4: the sums share rho 3/4 (3/8 each), the counts rho 1/4 (1/8 each)."""
    spec = make_test_policy([{**TEAM_DAY, "rho": "1"}], clipping_check_share="1/4").release("team_day")
    calibrated = calibrate(totals(), ["team-a"], spec)
    assert calibrated.scales == pytest.approx(
        {
            "contacts_handled": 60 / math.sqrt(3 / 4),  # bound / sqrt(2 x 3/8)
            "handle_seconds": 23400 / math.sqrt(3 / 4),
            COUNTS[0]: 2.0,  # 1 / sqrt(2 x 1/8)
            COUNTS[1]: 2.0,
        },
        rel=1e-9,
    )
    assert calibrated.measurement.map(1) == pytest.approx(1.0, rel=1e-9)  # the whole budget, no more
    release = draw_noisy_release(totals(), decide_groups(roster(), spec, make_test_policy([TEAM_DAY])), spec)
    assert release.parameters["rho_per_sum"] == "3/8"
    assert release.parameters["rho_per_over_bound_count"] == "1/8"
    assert release.parameters["clipping_check_share"] == "1/4"


def test_scales_follow_the_share_under_pure_dp() -> None:
    """epsilon 1, share 1/4: each sum epsilon 3/8 (b = bound x 8/3), each count epsilon 1/8 (b = 8)."""
    doc = pure_doc(epsilon="1") | {"clipping_check_share": "1/4"}
    from foundation.policy import parse_policy

    spec = parse_policy(doc, sha256="e" * 64).release("site_day")
    data = totals().rename({"team": "site"}).with_columns(pl.lit("S1").alias("site"))
    calibrated = calibrate(data, ["S1"], spec)
    assert calibrated.scales == pytest.approx(
        {"contacts_handled": 160.0, "handle_seconds": 62400.0, COUNTS[0]: 8.0, COUNTS[1]: 8.0}, rel=1e-9
    )
    assert SITE_DAY["sums"] == {"contacts_handled": 60, "handle_seconds": 23400}


def test_the_scale_check_covers_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenDP's own calibration splits the budget evenly over all four columns: not the declared
    split, so the scale check refuses; and a wrong analytic count scale is refused too."""
    spec = make_test_policy([{**TEAM_DAY, "rho": "1"}], clipping_check_share="1/4").release("team_day")
    mechanisms.calibrated_measurement.cache_clear()
    try:
        monkeypatch.setattr(mechanisms, "PINNED_SCALE_WIDENING", ())
        with pytest.raises(NoiseScaleMismatch, match="analytic sensitivity implies"):
            calibrate(totals(), ["team-a"], spec)
    finally:
        mechanisms.calibrated_measurement.cache_clear()


def test_the_planner_predicts_the_drawn_scales() -> None:
    policy = make_test_policy([{**TEAM_DAY, "rho": "1"}], clipping_check_share="1/4", min_group_size=2)
    spec = policy.release("team_day")
    calibrated = calibrate(totals(), ["team-a"], spec)
    plan = plan_policy(policy, roster())
    predicted = {r.statistic: r.noise_scale for r in plan.releases[0].accuracy.rows if r.kind == "sum"}
    assert predicted == {m: calibrated.scales[m] for m in spec.sums}
    assert expected_over_bound_scale(spec) == calibrated.scales[COUNTS[0]] == calibrated.scales[COUNTS[1]]
    assert plan.releases[0].budget.per_sum == Budget("rho", Fraction(3, 8))
    assert plan.releases[0].budget.clipping_check == Budget("rho", Fraction(1, 4))
    text = format_plan(plan)
    assert "clipping check: rho 0.25 per window for the over-bound counts, each +-5.0 agents (95%)" in text
    without = format_plan(plan_policy(make_test_policy([{**TEAM_DAY, "rho": "1"}], min_group_size=2), roster()))
    assert "clipping check: none (no clipping_check_share" in without


# --- the publishing path -----------------------------------------------------------------------------


def publish_one_day(tmp_path: Path, **policy_keys: Any) -> Settings:
    """A lake holding MONDAY's roster (team-a, 10 agents) and agent_day rows, released through the
    pipeline's publish step under an approved policy with TEAM_DAY."""
    policy_file = write_policy_file(tmp_path / "policy.yaml", [TEAM_DAY], cap="100000", **policy_keys)
    settings = load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(tmp_path / "data"),
            "TEAMLENS_PSEUDONYM_KEY": TEST_KEY,
            "TEAMLENS_CHECKPOINT_KEY": TEST_CHECKPOINT_KEY,
            "TEAMLENS_POLICY": str(policy_file),
            "TEAMLENS_RUN_BY": "test",
        }
    )
    rows = totals().with_columns(pl.lit(MONDAY).alias("day"), pl.lit("Berlin").alias("site"))
    rows = rows.select("day", "agent_pseudonym", "team", "site", "contacts_handled", "handle_seconds")
    roster_rows = rows.select("agent_pseudonym", "team", "site", pl.lit("Europe/Berlin").alias("site_timezone"))
    write_table_partition(settings, schema.ROSTER, MONDAY, roster_rows)
    write_table_partition(settings, schema.AGENT_DAY, MONDAY, rows)
    release_module.mark_metrics_complete(settings, MONDAY)
    approve(settings.lake.warehouse_path, load_policy(settings.policy_path))
    assert pipeline.publish_releases([MONDAY.isoformat()], settings) == {"windows": 1, "released": 1}
    return settings


def test_agents_over_the_bound_are_counted_and_published(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = publish_one_day(tmp_path, clipping_check_share="1/20")
    published = {r["statistic"]: r for r in read_published(settings.lake.warehouse_path, "team_day")}
    assert set(published) == {"contacts_handled", "handle_seconds", *COUNTS}
    contacts, handle = published[COUNTS[0]], published[COUNTS[1]]
    # sigma 0.063 agents: the noisy counts are the exact ones; OpenDP's 95% half-width is 1.
    assert (contacts["value"], contacts["ci_low"], contacts["ci_high"]) == (2.0, 1.0, 3.0)
    assert (handle["value"], handle["ci_low"], handle["ci_high"]) == (1.0, 0.0, 2.0)
    assert contacts["roster_group_size"] == 10 and contacts["status"] == "published"
    assert contacts["noise_scale"] == pytest.approx(1 / math.sqrt(2 * 5000 / 20 / 2), rel=1e-9)
    # the sums are clipped: 60 + 60 + 60 + 7 x 10 contacts, not the true 281. Their noise: sigma =
    # 60 / sqrt(2 x 5000 x 19/20 / 2) = 0.87 contacts, so +-5 (5.7 sigma) holds but for 1 run in 10^8
    # (+-1 failed about 1 run in 12), and still tells 250 from the unclipped 281.
    assert published["contacts_handled"]["value"] == pytest.approx(250, abs=5)
    assert verify_ledger(settings.lake.warehouse_path).ok  # the new rows are covered by the ledger

    print_report(settings)
    out = capsys.readouterr().out
    # the contacts count's interval [1, 3] lies above 0: flagged; the handle count's [0, 2] does not
    assert "(!)" in out and "likely understated" in out
    assert "team-a: contacts handled: 2 [1 - 3] of 10" in out
    assert "handle time (h): 1" not in out
    assert "agents_over_bound" not in out  # the counts are shown only through the flag's footnote


def test_a_policy_without_the_share_publishes_no_counts(tmp_path: Path) -> None:
    settings = publish_one_day(tmp_path)
    published = read_published(settings.lake.warehouse_path, "team_day")
    assert {r["statistic"] for r in published} == {"contacts_handled", "handle_seconds"}
    scale = {r["statistic"]: r["noise_scale"] for r in published}["contacts_handled"]
    assert scale == pytest.approx(60 / math.sqrt(5000), rel=1e-9)  # the whole rho on the sums


# --- the report's flag -------------------------------------------------------------------------------


def published_row(statistic: str, value: float, low: float, high: float, group: str = "team-a") -> dict[str, Any]:
    return {
        "window_start": MONDAY,
        "group_value": group,
        "statistic": statistic,
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "noise_scale": 6.3,
        "roster_group_size": 14,
        "status": "published",
    }


def test_the_flag_needs_the_count_interval_above_zero() -> None:
    rows = [
        published_row("contacts_handled", 900, 700, 1100),
        published_row("handle_seconds", 360000, 200000, 520000),
        published_row(COUNTS[0], 9.0, 0.0, 22.0),  # could be noise alone: no flag
        published_row(COUNTS[1], 14.0, 1.0, 14.0),  # interval above 0: flagged
        published_row(COUNTS[0], 13.0, 2.0, 14.0, group="team-b"),  # flagged
    ]
    flagged = likely_understated(rows)
    assert set(flagged) == {(MONDAY, "team-a", "handle_seconds"), (MONDAY, "team-b", "contacts_handled")}
    footnote = understated_footnote(flagged)
    assert footnote[0].startswith("(!) likely understated")
    assert any("Raise the sum's bound in the policy" in line for line in footnote)
    assert footnote[-2:] == [
        "    2026-03-09 team-a: handle time (h): 14 [1 - 14] of 14",
        "    2026-03-09 team-b: contacts handled: 13 [2 - 14] of 14",
    ]
    assert understated_footnote(likely_understated(rows[:3])) == []
