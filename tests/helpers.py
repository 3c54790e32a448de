"""Helpers shared by tests: small policies built in code."""

from __future__ import annotations

import hashlib
from typing import Any

from privacy.policy import Policy, parse_policy


def make_test_policy(releases: list[dict[str, Any]], *, cap: str = "1.0", version: int = 1, **overrides: Any) -> Policy:
    """A valid policy with the given releases; its sha256 is a hash of the document."""
    doc: dict[str, Any] = {
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
    return parse_policy(doc, sha256=hashlib.sha256(repr(doc).encode()).hexdigest())
