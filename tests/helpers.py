"""Helpers shared by tests: small policies built in code."""

from __future__ import annotations

import hashlib
from typing import Any

from foundation.policy import Policy, parse_policy


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
    from privacy.release import published_values

    covered = dict.fromkeys(truth, 0)
    for _ in range(draws):
        noisy = calibrated.measurement(calibrated.data).collect()
        for v in published_values(noisy, spec, calibrated.scales):
            if v.ci_low is not None and v.ci_high is not None and v.ci_low <= truth[v.statistic] <= v.ci_high:
                covered[v.statistic] += 1
    return {k: n / draws for k, n in covered.items()}


# Engines a DAG file must not import at parse time (the scheduler parses DAGs often).
HEAVY = ("pyspark", "great_expectations", "opendp", "duckdb", "polars")

# The pseudonymisation key of the test settings (not a secret).
TEST_KEY = "test-key-not-secret-0123456789abcdef"
