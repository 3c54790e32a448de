"""Helpers shared by tests: small policies built in code, test doubles of a release draw."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb

from foundation.policy import Policy, parse_policy
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue


def policy_document(
    releases: list[dict[str, Any]], *, cap: str = "1.0", version: int = 1, **overrides: Any
) -> dict[str, Any]:
    """A valid policy document (as policy.yaml holds it) with the given releases."""
    return {
        "policy_version": version,
        "privacy_unit": "agent",
        "accounting_period": "month",
        "budget_cap_rho": cap,
        "report_delta": "1e-9",
        "min_group_size": 10,
        "group_assignment": "first_day",
        "retention_days": {"landing": 14},
        "desktop_app_categories": {},
        "releases": releases,
        **overrides,
    }


def make_test_policy(releases: list[dict[str, Any]], *, cap: str = "1.0", version: int = 1, **overrides: Any) -> Policy:
    """A valid policy with the given releases; its sha256 is a hash of the document."""
    doc = policy_document(releases, cap=cap, version=version, **overrides)
    return parse_policy(doc, sha256=hashlib.sha256(repr(doc).encode()).hexdigest())


def interval_coverage(calibrated: Any, spec: Any, truth: dict[str, float], draws: int) -> dict[str, float]:
    """Share of `draws` fresh releases whose 95% interval holds the true value, per statistic."""
    from privacy.mechanisms import published_values

    covered = dict.fromkeys(truth, 0)
    for _ in range(draws):
        noisy = calibrated.measurement(calibrated.data).collect()
        for v in published_values(noisy, spec, calibrated.scales):
            if v.ci_low is not None and v.ci_high is not None and v.ci_low <= truth[v.statistic] <= v.ci_high:
                covered[v.statistic] += 1
    return {k: n / draws for k, n in covered.items()}


# --- releases and draws shared by the accountant, pure DP and correction tests ------------------

TEAM_WEEK: dict[str, Any] = {
    "name": "team_week",
    "purpose": "weekly",
    "group_by": "team",
    "window": "week",
    "rho": "0.25",
    "sums": {"contacts_handled": 400, "handle_seconds": 144000},
    "ratios": {"aht_seconds": {"numerator": "handle_seconds", "denominator": "contacts_handled", "max": 3600}},
}

SITE_DAY: dict[str, Any] = {
    "name": "site_day",
    "purpose": "daily workload per site",
    "group_by": "site",
    "window": "day",
    "epsilon": "1",
    "sums": {"contacts_handled": 60, "handle_seconds": 23400},
    "ratios": {"aht_seconds": {"numerator": "handle_seconds", "denominator": "contacts_handled", "max": 3600}},
}


def pure_doc(cap: str = "10", epsilon: str = "1") -> dict[str, Any]:
    """A pure DP policy document with SITE_DAY (no report_delta: pure DP has delta 0)."""
    return {
        "policy_version": 1,
        "privacy_model": "pure",
        "privacy_unit": "agent",
        "accounting_period": "month",
        "budget_cap_epsilon": cap,
        "min_group_size": 10,
        "group_assignment": "first_day",
        "retention_days": {"landing": 14},
        "desktop_app_categories": {},
        "releases": [{**SITE_DAY, "epsilon": epsilon}],
    }


def pure_policy(cap: str = "10", epsilon: str = "1") -> Policy:
    doc = pure_doc(cap, epsilon)
    return parse_policy(doc, sha256=hashlib.sha256(repr(doc).encode()).hexdigest())


def noisy_release() -> NoisyRelease:
    """A fixed release: two released teams (one value too noisy) and a suppressed one."""
    return NoisyRelease(
        values=(
            PublishedValue("team-a", "contacts_handled", 812.25, 790.5, 834.0, 11.1, "published"),
            PublishedValue("team-a", "aht_seconds", 301.5, 280.0, 325.75, None, "published"),
            PublishedValue("team-b", "contacts_handled", None, None, None, 11.1, "too_noisy"),
        ),
        groups=(
            GroupDecision("team-b", 15, "released"),
            GroupDecision("team-a", 12, "released"),
            GroupDecision("team-c", 4, "suppressed_small_group"),
        ),
        mechanism="gaussian (zCDP), test double",
        parameters={"bounds": {"contacts_handled": 400}, "rho_per_sum": Fraction(1, 8), "scales": [11.1, 2.5]},
    )


class FakeDraw:
    """A draw that returns a fixed release and counts its calls."""

    def __init__(self, release: NoisyRelease | None = None, error: Exception | None = None) -> None:
        self.calls = 0
        self.release = release or noisy_release()
        self.error = error

    def __call__(self) -> NoisyRelease:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.release


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query on the warehouse file, read-only."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# Engines a DAG file must not import at parse time (the scheduler parses DAGs often).
HEAVY = ("pyspark", "great_expectations", "opendp", "duckdb", "polars")

# The pseudonymisation key of the test settings (not a secret).
TEST_KEY = "test-key-not-secret-0123456789abcdef"
