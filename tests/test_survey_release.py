"""Pulse survey releases: exact eNPS arithmetic and bucket boundaries, the intervals, suppression below
the group minimum and below min_responses, the budget charged through the accountant, a retry that
draws nothing, and the noise present at the scale the budget implies."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from fractions import Fraction

import polars as pl
import pytest

from foundation.budget import Budget
from foundation.policy import load_policy
from foundation.survey_policy import enps_bucket
from privacy import surveys
from tests.helpers import approve, lake_settings, rows, write_policy_file, write_survey_month
from warehouse.records import GroupDecision

MONTH = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
RELEASES = [
    {
        "name": "team_month",
        "purpose": "monthly workload",
        "group_by": "team",
        "window": "month",
        "rho": "0.5",
        "sums": {"contacts_handled": 1300},
    }
]


def _survey(rho: str, min_responses: int = 5) -> dict:
    return {
        "id": "pulse",
        "purpose": "monthly pulse",
        "measure": "team_month.contacts_handled",
        "window": "month",
        "group_by": ["team"],
        "rho": rho,
        "min_responses": min_responses,
        "questions": [
            {"id": "recommend", "scale": "enps_0_10", "text": "Recommend us?"},
            {"id": "workload", "scale": "likert_1_5", "text": "Workload manageable?"},
        ],
    }


def test_enps_arithmetic_and_bucket_boundaries() -> None:
    assert [enps_bucket(a) for a in (0, 6, 7, 8, 9, 10)] == [
        "detractors",
        "detractors",
        "passives",
        "passives",
        "promoters",
        "promoters",
    ]
    with pytest.raises(ValueError):
        enps_bucket(11)
    assert surveys.enps(2, 3, 5) == pytest.approx(30.0)  # 100 x (5 - 2) / 10
    assert surveys.enps(4, 0, 0) == -100.0 and surveys.enps(0, 0, 0) is None
    # Each count +-1: the box [1,3] x [2,4] x [4,6]; the extremes lie at its corners.
    value, low, high = surveys.enps_interval([2, 3, 5], 1.0)
    assert (value, low, high) == pytest.approx((30.0, 100 * 1 / 11, 100 * 5 / 9))
    assert surveys.enps_interval([1, 0, 1], 2.0) is None  # every bucket's interval reaches 0: too noisy
    # Likert: 1 + 12 / 6 = 3; union bound [1 + 10 / 7, 1 + 14 / 5], clamped to 1..5.
    assert surveys.mean_interval(6, 12, 1, 2, 1, 5) == pytest.approx((3.0, 1 + 10 / 7, 1 + 14 / 5))
    assert surveys.mean_interval(2, 4, 2, 1, 1, 5) is None


def test_exact_counts_per_group_and_bucket(tmp_path) -> None:
    policy = load_policy(write_policy_file(tmp_path / "p.yaml", RELEASES, surveys=[_survey("0.1")]))
    survey = policy.survey("pulse")
    frame = pl.DataFrame(
        {
            "agent_pseudonym": ["a", "b", "c", "d", "e"],
            "team": ["T1", "T1", "T1", "T2", "T2"],
            "recommend": [6, 7, 9, 10, None],
            "workload": [5, None, 1, 3, 2],
        }
    )
    counts = surveys.exact_counts(frame, survey, "team", ["T1", "T2"])
    assert counts == {
        "responses": [3, 2],
        "recommend": [1, 1, 1, 0, 0, 1],  # T1: 6 detractor, 7 passive, 9 promoter; T2: 10 promoter
        "workload.answers": [2, 2],
        "workload.sum_above_low": [4 + 0, 2 + 1],
    }


def _center(tmp_path, rho: str, teams: dict[str, int], answers: dict[str, list[tuple[int, int]]]):
    """A lake with the month's roster (teams of the given sizes), the given answers per team (one
    (recommend, workload) per respondent) and every day's metrics marked complete."""
    policy_file = write_policy_file(tmp_path / "p.yaml", RELEASES, cap="1000", surveys=[_survey(rho)])
    settings = lake_settings(tmp_path / "data", policy_file)
    roster = pl.DataFrame(
        [
            {"agent_pseudonym": f"{team}-{i}", "team": team, "site": "S", "site_timezone": "Europe/Berlin"}
            for team, n in teams.items()
            for i in range(n)
        ]
    )
    answered = [
        {"agent_pseudonym": f"{team}-{i}", "question_id": q, "answer": a}
        for team, given in answers.items()
        for i, pair in enumerate(given)
        for q, a in zip(("recommend", "workload"), pair, strict=True)
    ]
    write_survey_month(settings, roster, answered, MONTH)
    policy = load_policy(policy_file)
    approve(settings.lake.warehouse_path, policy)
    return settings, policy


# T1: 12 agents, 8 respondents: 2 detractors, 2 passives, 4 promoters -> eNPS 25; workload mean 3.5.
T1 = [(0, 3), (6, 4), (7, 3), (8, 4), (9, 3), (9, 4), (10, 3), (10, 4)]
T2 = [(10, 5), (9, 5), (1, 1)]  # 11 agents, 3 respondents: under min_responses 5
T3 = [(9, 5), (9, 5)]  # 4 agents: under min_group_size 10


def test_release_publishes_suppresses_and_charges_the_budget(tmp_path) -> None:
    # rho 1000: a noise scale of about 0.06, so the noisy counts equal the exact ones.
    settings, policy = _center(tmp_path, "1000", {"T1": 12, "T2": 11, "T3": 4}, {"T1": T1, "T2": T2, "T3": T3})
    (outcome,) = surveys.release_survey_windows(settings, policy, MONTH[0], MONTH[1])
    assert outcome.status == "released" and outcome.key.release_name == "survey:pulse:team"
    assert outcome.budget == Budget("rho", Fraction(1000)) and outcome.periods == ("2026-10",)
    decisions = {g.group_value: g.status for g in outcome.groups}
    assert decisions == {"T1": "released", "T2": "released", "T3": "suppressed_small_group"}
    values = {(v.group_value, v.statistic): v for v in outcome.values}
    assert values["T1", "responses"].value == 8
    assert values["T1", "recommend_enps"].value == pytest.approx(25.0)
    assert values["T1", "recommend_promoters"].value == 4 and values["T1", "recommend_detractors"].value == 2
    assert values["T1", "workload_mean"].value == pytest.approx(3.5)
    assert values["T1", "recommend_enps"].ci_low < 25.0 < values["T1", "recommend_enps"].ci_high
    assert {v.status for (g, _), v in values.items() if g == "T2"} == {"too_noisy"}  # 3 responses < 5
    assert not any(g == "T3" for g, _ in values)
    path = settings.lake.warehouse_path
    assert rows(path, "SELECT period, spent_exact FROM budget_spend") == [("2026-10", "1000")]
    (payload,) = rows(path, "SELECT payload FROM ledger WHERE entry_type = 'release'")
    parameters = json.loads(payload[0])["parameters"]
    assert parameters["below_min_responses"] == ["T2"] and parameters["sensitivities"]["workload.sum_above_low"] == 4


def test_a_retry_draws_nothing_new(tmp_path, monkeypatch) -> None:
    settings, policy = _center(tmp_path, "0.5", {"T1": 12}, {"T1": T1})
    (first,) = surveys.release_survey_windows(settings, policy, MONTH[0], MONTH[1])

    def no_draw(*args, **kwargs):
        raise AssertionError("a retry drew noise")

    monkeypatch.setattr(surveys, "_draw_from_zones", no_draw)
    (again,) = surveys.release_survey_windows(settings, policy, MONTH[0], MONTH[1])
    assert first.status == "released" and again.status == "stored"
    assert again.values == first.values
    assert rows(settings.lake.warehouse_path, "SELECT count(*) FROM budget_spend") == [(1,)]


def test_the_noise_has_the_scale_the_budget_implies(tmp_path) -> None:
    """Many draws through the production draw: the response count's spread matches sigma = 1 / sqrt(2 rho / parts)."""
    policy = load_policy(write_policy_file(tmp_path / "p.yaml", RELEASES, surveys=[_survey("0.08")]))
    spec = policy.survey_release_spec(policy.survey("pulse"), "team")
    n = 200  # far from 0 and from min_responses: the published count is the noisy count itself
    frame = pl.DataFrame(
        {"agent_pseudonym": [f"a{i}" for i in range(n)], "team": ["T1"] * n, "recommend": [9] * n, "workload": [3] * n}
    )
    decisions = (GroupDecision("T1", n, "released"),)
    sigma = 1 / (2 * 0.08 / 4) ** 0.5  # 4 parts: responses, the histogram, the workload count and sum
    assert spec.budget == Budget("rho", Fraction(8, 100))
    draws = []
    for _ in range(400):
        noisy = surveys.draw_survey_release(frame, decisions, spec, policy.survey("pulse"))
        assert noisy.parameters["noise_scales"]["responses"] == pytest.approx(sigma)
        (responses,) = [v for v in noisy.values if v.statistic == "responses"]
        draws.append(responses.value)
    spread = statistics.pstdev(draws)
    assert 0.85 * sigma < spread < 1.15 * sigma, (spread, sigma)


def test_the_plan_names_a_surveys_noisy_parts_and_needs_no_clipping_check(tmp_path) -> None:
    from privacy.planner import format_plan, plan_policy

    policy = load_policy(write_policy_file(tmp_path / "p.yaml", RELEASES, cap="1000", surveys=[_survey("0.06")]))
    roster = pl.DataFrame({"agent_pseudonym": [f"a{i}" for i in range(12)], "team": ["T1"] * 12, "site": ["S"] * 12})
    text = format_plan(plan_policy(policy, roster))
    survey_part = text[text.index("survey:pulse:team") :]
    survey_part = survey_part[: survey_part.index("\n\n")]
    assert "(0.015 per noisy part)" in survey_part  # 0.06 over responses, the eNPS histogram, a count, a sum
    assert "clipping check: not needed" in survey_part and "per sum" not in survey_part
    team_part = text[text.index("team_month") :]
    assert "per sum)" in team_part[: team_part.index("\n\n")]
