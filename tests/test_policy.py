"""The policy file: strict loading, exact budgets, windows and accounting periods."""

from __future__ import annotations

import copy
import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from foundation.budget import Budget
from foundation.policy import PolicyError, load_policy, parse_policy
from foundation.settings import REPO_ROOT
from foundation.windows import periods_touched, window_of

POLICY_FILE = REPO_ROOT / "foundation" / "policy.yaml"


def _doc() -> dict:
    return yaml.safe_load(POLICY_FILE.read_text())


def test_shipped_policy_loads_with_exact_budgets() -> None:
    policy = load_policy(POLICY_FILE)
    assert policy.privacy_unit == "agent"
    assert policy.budget_cap == Budget("rho", Fraction(1))
    assert policy.min_group_size == 10
    assert [r.name for r in policy.releases] == [
        "team_month_contacts_aht",
        "site_week_contacts_aht",
        "site_month_service",
    ]
    assert policy.release("site_week_contacts_aht").rho == Fraction(3, 100)
    assert policy.release("site_month_service").rho == Fraction(12, 100)
    assert policy.planning is not None and policy.planning.offered == "exact"
    assert [(r.spec.name, r.spec.rho) for r in policy.planning.releases] == [
        ("queue_month_intervals", Fraction(12, 100)),
        ("queue_week_intervals", Fraction(0)),  # exact counts only
        ("queue_week_service", Fraction(0)),  # a queue's service figures, exact
    ]
    assert [s.release_name(g) for s in policy.surveys for g in s.group_by] == ["survey:pulse:site"]
    assert policy.survey("pulse").budget == Budget("rho", Fraction(6, 100))
    assert len(policy.sha256) == 64


def test_shipped_policy_fits_the_cap_in_the_worst_month() -> None:
    """The monthly team, site and planning releases plus the 6 weeks that can touch one month stay within the cap."""
    policy = load_policy(POLICY_FILE)
    monthly = policy.release("team_month_contacts_aht").rho + policy.release("site_month_service").rho
    monthly += policy.budgeted_spec("queue_month_intervals").rho
    monthly += sum(s.budget.amount for s in policy.surveys)  # the pulse survey: one month, same budget
    worst = monthly + 6 * policy.release("site_week_contacts_aht").rho
    assert worst == Fraction(98, 100)
    assert worst <= policy.budget_cap.amount


def test_unlisted_release_is_refused() -> None:
    policy = load_policy(POLICY_FILE)
    with pytest.raises(PolicyError, match="'agent_day_handle_time' is not permitted"):
        policy.release("agent_day_handle_time")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(surveillance=True), "unknown key\\(s\\) surveillance"),
        (lambda d: d.update(privacy_unit="contact"), "privacy_unit must be 'agent'"),
        (lambda d: d.update(budget_cap_rho=1.0), "budget_cap_rho must be a quoted decimal string"),
        (lambda d: d.update(budget_cap_rho="-1"), "budget_cap_rho must be positive"),
        (lambda d: d.update(min_group_size=1), "min_group_size must be an integer of at least 2"),
        (
            lambda d: d["releases"][0].update(group_by="agent"),
            "releases\\[0\\] \\(team_month_contacts_aht\\): group_by",
        ),
        (lambda d: d["releases"][1]["sums"].update(salary=10), "sums.salary is not a metric of agent_day"),
        (lambda d: d["releases"][1]["sums"].update(handle_seconds=0), "sums.handle_seconds bound must be a positive"),
        (lambda d: d["releases"][0]["ratios"]["aht_seconds"].update(numerator="talk_seconds"), "numerator"),
        (lambda d: d["desktop_app_categories"].update(gossip=["x"]), "desktop_app_categories.gossip"),
        (lambda d: d["retention_days"].update(forever=1), "retention_days: unknown key\\(s\\) forever"),
        (lambda d: d["releases"].append(copy.deepcopy(d["releases"][0])), "release names must be unique"),
    ],
)
def test_bad_policy_names_the_key(mutate, message: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(PolicyError, match=message):
        parse_policy(doc, sha256="0" * 64)


def test_policy_hash_changes_with_the_file(tmp_path: Path) -> None:
    changed = tmp_path / "policy.yaml"
    changed.write_text(POLICY_FILE.read_text().replace('budget_cap_rho: "1.0"', 'budget_cap_rho: "0.9"'))
    assert load_policy(changed).sha256 != load_policy(POLICY_FILE).sha256


def test_app_categories_are_case_insensitive_and_default_to_other() -> None:
    policy = load_policy(POLICY_FILE)
    assert policy.app_category("Salesforce") == "crm"
    assert policy.app_category("CONFLUENCE") == "knowledge_base"
    assert policy.app_category("Solitaire") == "other"
    assert policy.app_category(None) == "other"


def test_windows_and_periods() -> None:
    assert window_of("day", dt.date(2026, 10, 7)) == (dt.date(2026, 10, 7), dt.date(2026, 10, 8))
    assert window_of("week", dt.date(2026, 10, 7)) == (dt.date(2026, 10, 5), dt.date(2026, 10, 12))
    assert window_of("month", dt.date(2026, 12, 31)) == (dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    assert periods_touched(dt.date(2026, 9, 28), dt.date(2026, 10, 5)) == ["2026-09", "2026-10"]
    assert periods_touched(dt.date(2026, 10, 5), dt.date(2026, 10, 12)) == ["2026-10"]


def test_windows_ending_in_a_span() -> None:
    week = load_policy(POLICY_FILE).release("site_week_contacts_aht")
    # Wednesday 2026-10-07 .. Tuesday 2026-10-20: the weeks ending Sunday 10-11 and 10-18.
    assert week.windows_ending_in(dt.date(2026, 10, 7), dt.date(2026, 10, 21)) == [
        (dt.date(2026, 10, 5), dt.date(2026, 10, 12)),
        (dt.date(2026, 10, 12), dt.date(2026, 10, 19)),
    ]
    assert week.windows_ending_in(dt.date(2026, 10, 12), dt.date(2026, 10, 18)) == []
