"""The peer libraries' release workload, run through the pipeline's own release path.

The peers (OpenDP, Tumult Analytics, PipelineDP) were measured on this workload: the standard
agents (200 agents in 20 teams of 10, 30 days, about 40 calls per agent-day; the same synthetic
agent-day rows as teamlens.bench_release), the count of contacts and the mean handle time per
team-day over all 600 cells (20 teams x 30 days), agent-level privacy, at most 60 calls per
agent-day with each call's handle time clipped to [0, 3600] s, and a TOTAL pure epsilon of 1 for
each agent over the 30 days.

The honest equivalent here: 30 daily team-day releases of pure epsilon 1/30 each (discrete
Laplace, each agent-day's totals bounded by 60 contacts and 60 x 3600 handle seconds), whose
sequential composition is epsilon 1 per agent over the 30 days. Its noise scales equal those of
one release over the month with per-day cells (each agent in 30 cells with the month's
sensitivity 30 x the day's bound, epsilon 1): b = bound x 2 sums x 30. The policy is in memory
(pure DP, cap epsilon 1 a month) and every release goes through privacy.accountant.publish_release
like the other benchmark releases.

Errors as in teamlens.bench_release: the median over the 600 cells of |published - exact| / exact,
for the count and for the mean (ratio of the published sums, clamped to [0, 3600]; 3600 where the
published count is 0). The published count is clamped at 0 (post-processing): with a Laplace scale
of 3600 against about 400 contacts per cell, nearly half the cells publish 0 (error exactly 1), so
the median is about 1.0, where the peers' unclamped counts give about ln 2 x 3600 / 400 = 6.2;
and a count of 0 makes the mean 3600 (error about 11), where the peers' clamped ratio of raw sums
is often 0 (error 1). The noise is the same: the difference is the post-processing. Seconds: a warm
daily release's median, and the 30 releases together (the peers' seconds are one release over the
month, including their own setup).
"""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path
from typing import Any

import polars as pl

from foundation.policy import Policy, parse_policy

MAX_CALLS_PER_AGENT_DAY = 60
MAX_CALL_SECONDS = 3600
TOTAL_EPSILON = 1
RELEASE_NAME = "team_day_contacts_aht_peer"

# Measured on this workload: library -> (count median rel. error, mean median rel. error, seconds per release).
PEER_RESULTS: dict[str, tuple[float, float, float]] = {
    "OpenDP 0.16 count+sum": (6.43, 2.76, 6.0),
    "Tumult 0.21": (6.50, 3.27, 61.0),
    "PipelineDP 0.3.1 local": (6.64, 52.3, 0.61),
}


def peer_policy() -> Policy:
    """Pure DP, epsilon 1/30 per team-day release, cap epsilon 1 a month; the peers' bounds per agent-day."""
    from teamlens.bench_release import AHT_MAX, BASE_POLICY_DOC, DAYS

    doc: dict[str, Any] = {
        **BASE_POLICY_DOC,
        "privacy_model": "pure",
        "budget_cap_epsilon": str(TOTAL_EPSILON),
        "releases": [
            {
                "name": RELEASE_NAME,
                "purpose": "Daily workload per team on the peers' workload (benchmark, pure DP).",
                "group_by": "team",
                "window": "day",
                "epsilon": f"{TOTAL_EPSILON}/{DAYS}",
                "sums": {
                    "contacts_handled": MAX_CALLS_PER_AGENT_DAY,
                    "handle_seconds": MAX_CALLS_PER_AGENT_DAY * MAX_CALL_SECONDS,
                },
                "ratios": {
                    "aht_seconds": {"numerator": "handle_seconds", "denominator": "contacts_handled", "max": AHT_MAX}
                },
            }
        ],
    }
    return parse_policy(doc, sha256=hashlib.sha256(repr(doc).encode()).hexdigest(), where="bench peer workload")


def bench_peer_workload(warehouse: Path, agent_day: pl.DataFrame, roster: pl.DataFrame) -> dict[str, Any]:
    """The 30 daily releases of the peers' workload: errors, seconds and the total budget spent."""
    from teamlens.bench_release import run_series, total_budget_label

    policy = peer_policy()
    result = run_series(warehouse, policy, policy.release(RELEASE_NAME), agent_day, roster)
    assert result.budget is not None
    total = result.budget.amount * result.releases
    warm = result.seconds[1:]
    return {
        "releases": result.releases,
        "cells": len(result.count_errors),
        "budget": f"{result.budget} per daily release",
        "total_budget": total_budget_label(result.budget, result.releases),
        "total_epsilon": float(total),
        "count_median_rel_error": round(statistics.median(result.count_errors), 3),
        "mean_median_rel_error": round(statistics.median(result.mean_errors), 3),
        "too_noisy_share": round(sum(result.too_noisy) / len(result.too_noisy), 3),
        "seconds_per_release": round(statistics.median(warm), 4),
        "seconds_all_releases": round(sum(result.seconds), 3),
        "peers": {
            name: {"count_median_rel_error": c, "mean_median_rel_error": m, "seconds_per_release": s}
            for name, (c, m, s) in PEER_RESULTS.items()
        },
    }


def print_peer_table(peer: dict[str, Any]) -> None:
    """Ours beside the peers on their workload (total pure epsilon 1 per agent over the 30 days)."""
    print(
        f"  peers' workload ({peer['cells']} team-day cells, {peer['budget']}, {peer['total_budget']} per agent "
        f"over the 30 days; median relative error count / mean, seconds per release):"
    )
    rows: list[tuple[str, float, float, str]] = [
        (
            "teamlens (30 daily releases)",
            peer["count_median_rel_error"],
            peer["mean_median_rel_error"],
            f"{peer['seconds_per_release']:.3f} s ({peer['seconds_all_releases']:.1f} s for all 30)",
        )
    ]
    for name, (count, mean, peer_seconds) in PEER_RESULTS.items():
        rows.append((name, count, mean, f"{peer_seconds:g} s (one release over the month)"))
    width = max(len(r[0]) for r in rows)
    for name, count, mean, took in rows:
        print(f"    {name.ljust(width)}  {count:6.2f} / {mean:6.2f}  {took}")
