"""`make bench --only release`: seconds per DP release and relative error against the exact values.

The standard release workload: 200 agents in 20 teams of 10 (two sites of 100), 30 days from
START, about 40 calls per agent-day. The agent-day rows are synthetic (a seeded numpy generator:
test data, not noise) with the columns of foundation.schema.AGENT_DAY that the releases read
(day, agent_pseudonym, team, site, contacts_handled, handle_seconds). The noise is OpenDP's,
never seeded.

Releases, defined by in-memory policies (foundation.policy.parse_policy), bounds per agent per
window in the style of foundation/policy.yaml:
- team_day_pure_eps1: contacts and handle time per team-day under pure DP (Laplace), epsilon 1
  per release (its own policy; a month of daily releases spends epsilon 31 at most);
- team_week_default, site_day_default: the same sums per team-week and per site-day under the
  default model (zCDP, Gaussian), with rho chosen so that a month fits the default cap of 1
  (6 weeks x 0.08 + 31 days x 0.016 = 0.976).

Every release goes through privacy.accountant.publish_release into a temporary warehouse (budget
check, draw, one DuckDB transaction with the ledger entry): seconds per release are wall seconds
of that call. The first release of each spec pays its calibration (`first_seconds` per release in
`release_details`); `release_seconds` is the median over all later (warm) releases, target 0.2 s.
`release_first_seconds` is one release in a fresh Python process (each scheduler task is one),
which pays OpenDP's import and the first calibration, target 1 s; see first_release_in_fresh_process.
A spec's measurement is calibrated once per process (privacy.mechanisms.calibrated_measurement is
cached on public facts: spec, bounds and group keys); the noise is drawn fresh every time.
Each scenario is labelled with its total budget per agent over the 30 days (sequential
composition of its releases); teamlens.bench_peer runs the peer libraries' workload (total pure
epsilon 1 per agent) beside their measured figures. Speed targets are reported, never enforced.

Relative error, per release: the median over groups and windows of |noisy - exact| / exact, for
the count (contacts_handled, the published sum, clamped at 0) and the mean (handle seconds per
contact: the ratio of the published sums, clamped to [0, 3600] as published, computed also
where the published ratio is marked too noisy; that share is reported as `too_noisy_share`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from foundation import schema
from foundation.budget import Budget
from foundation.policy import Policy, ReleaseSpec, parse_policy
from warehouse.records import ReleaseKey, ReleaseOutcome

START = dt.date(2026, 10, 5)  # a Monday
AGENTS, TEAMS, SITES, DAYS, CALLS_PER_AGENT_DAY = 200, 20, 2, 30, 40
TARGET_SECONDS = 0.2  # a warm release (median)
FIRST_TARGET_SECONDS = 1.0  # the first release of a fresh process
AHT_MAX = 3600.0

_AHT = {"aht_seconds": {"numerator": "handle_seconds", "denominator": "contacts_handled", "max": AHT_MAX}}
# Bounds per agent per window: a day at most 80 contacts and 8 h handle time; a week 5 such days.
_DAY_SUMS = {"contacts_handled": 80, "handle_seconds": 28800}
_WEEK_SUMS = {"contacts_handled": 400, "handle_seconds": 144000}

# release key in the JSON -> (policy name, release name)
SCENARIOS: dict[str, tuple[str, str]] = {
    "team_day_pure_eps1": ("pure", "team_day_contacts_aht"),
    "team_week_default": ("default", "team_week_contacts_aht"),
    "site_day_default": ("default", "site_day_contacts_aht"),
}


# What every benchmark policy holds besides its privacy model, cap and releases.
BASE_POLICY_DOC: dict[str, Any] = {
    "policy_version": 1,
    "privacy_unit": "agent",
    "accounting_period": "month",
    "min_group_size": 10,
    "group_assignment": "first_day",
    "retention_days": {"landing": 14},
    "desktop_app_categories": {},
}


def _policy_doc(model: str) -> dict[str, Any]:
    base = dict(BASE_POLICY_DOC)
    if model == "pure":
        return base | {
            "privacy_model": "pure",
            "budget_cap_epsilon": "31",  # 31 daily releases of epsilon 1 in a month
            "releases": [
                {
                    "name": "team_day_contacts_aht",
                    "purpose": "Daily workload per team (benchmark, pure DP).",
                    "group_by": "team",
                    "window": "day",
                    "epsilon": "1",
                    "sums": _DAY_SUMS,
                    "ratios": _AHT,
                }
            ],
        }
    return base | {
        "budget_cap_rho": "1.0",
        "report_delta": "1e-9",
        "releases": [
            {
                "name": "team_week_contacts_aht",
                "purpose": "Weekly workload per team (benchmark).",
                "group_by": "team",
                "window": "week",
                "rho": "0.08",
                "sums": _WEEK_SUMS,
                "ratios": _AHT,
            },
            {
                "name": "site_day_contacts_aht",
                "purpose": "Daily workload per site (benchmark).",
                "group_by": "site",
                "window": "day",
                "rho": "0.016",
                "sums": _DAY_SUMS,
                "ratios": _AHT,
            },
        ],
    }


def bench_policies() -> dict[str, Policy]:
    out = {}
    for model in ("pure", "default"):
        doc = _policy_doc(model)
        out[model] = parse_policy(doc, sha256=hashlib.sha256(repr(doc).encode()).hexdigest(), where=f"bench {model}")
    return out


def synthetic_agent_day(seed: int = 20261005) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(agent_day, roster): the standard workload, with AGENT_DAY's column names and types."""
    rng = np.random.default_rng(seed)
    agents = [f"agent-{i:04d}" for i in range(AGENTS)]
    teams = [f"team-{i // (AGENTS // TEAMS):02d}" for i in range(AGENTS)]
    sites = [f"site-{i // (AGENTS // SITES)}" for i in range(AGENTS)]
    roster = pl.DataFrame({"agent_pseudonym": agents, "team": teams, "site": sites})
    n = AGENTS * DAYS
    contacts = rng.poisson(CALLS_PER_AGENT_DAY, n)
    # handle time per contact: gamma with mean about 300 s; an agent-day total is the sum over its contacts
    per_contact_mean = rng.gamma(20.0, 15.0, n)
    handle = np.rint(contacts * per_contact_mean).astype(np.int64)
    columns = {c.name: c for c in schema.AGENT_DAY.columns}
    assert {"day", "agent_pseudonym", "team", "site", "contacts_handled", "handle_seconds"} <= set(columns)
    agent_day = pl.DataFrame(
        {
            "day": [START + dt.timedelta(days=d) for d in range(DAYS) for _ in range(AGENTS)],
            "agent_pseudonym": agents * DAYS,
            "team": teams * DAYS,
            "site": sites * DAYS,
            "contacts_handled": contacts.astype(np.int64),
            "handle_seconds": handle,
        },
        schema={
            "day": pl.Date,
            "agent_pseudonym": pl.String,
            "team": pl.String,
            "site": pl.String,
            "contacts_handled": pl.Int64,
            "handle_seconds": pl.Int64,
        },
    )
    return agent_day, roster


def _windows(spec: ReleaseSpec) -> list[tuple[dt.date, dt.date]]:
    """The windows of the spec that lie wholly inside the 30 days."""
    end = START + dt.timedelta(days=DAYS)
    return [(s, e) for s, e in spec.windows_ending_in(START, end) if s >= START]


def _exact(agent_day: pl.DataFrame, roster: pl.DataFrame, spec: ReleaseSpec, start: dt.date) -> dict[str, dict]:
    """Exact group sums of the window (no clipping: the truth the noisy figures are compared with)."""
    from privacy.release import agent_window_totals

    rows = agent_day.filter((pl.col("day") >= start) & (pl.col("day") < start + _length(spec)))
    totals = agent_window_totals(rows, roster, spec)
    sums = totals.group_by(spec.group_by).agg(pl.col("contacts_handled").sum(), pl.col("handle_seconds").sum())
    return {str(r[spec.group_by]): r for r in sums.iter_rows(named=True)}


def _length(spec: ReleaseSpec) -> dt.timedelta:
    return dt.timedelta(days={"day": 1, "week": 7, "month": 31}[spec.window])


def _release_once(
    warehouse: Path,
    policy: Policy,
    spec: ReleaseSpec,
    agent_day: pl.DataFrame,
    roster: pl.DataFrame,
    start: dt.date,
    end: dt.date,
) -> tuple[ReleaseOutcome, float]:
    """One release through the accountant; the seconds include reading the window, totals, noise and commit."""
    import functools

    from privacy.accountant import publish_release
    from privacy.groups import decide_groups
    from privacy.release import agent_window_totals, draw_noisy_release

    def draw() -> Any:
        rows = agent_day.filter((pl.col("day") >= start) & (pl.col("day") < end))
        totals = agent_window_totals(rows, roster, spec)
        return draw_noisy_release(totals, decide_groups(roster, spec, policy), spec)

    began = time.perf_counter()
    outcome = publish_release(
        warehouse,
        ReleaseKey(spec.name, start, end, policy.sha256),
        spec,
        policy,
        "bench",
        draw=draw,
        groups=functools.partial(decide_groups, roster, spec, policy),
    )
    return outcome, time.perf_counter() - began


@dataclass
class SeriesResult:
    """One release spec run over every window of the workload: seconds and errors per release."""

    seconds: list[float] = field(default_factory=list)  # per release, in order (the first pays calibration)
    count_errors: list[float] = field(default_factory=list)  # per group and window
    mean_errors: list[float] = field(default_factory=list)
    too_noisy: list[bool] = field(default_factory=list)
    budget: Budget | None = None  # per release
    releases: int = 0


def run_series(
    warehouse: Path, policy: Policy, spec: ReleaseSpec, agent_day: pl.DataFrame, roster: pl.DataFrame
) -> SeriesResult:
    """Release every window of the spec inside the 30 days; compare each with the exact values.

    The warehouse approves the bench policy first: a release runs only under an approved policy
    (privacy/approval.py).
    """
    _approve_bench_policy(warehouse, policy)
    result = SeriesResult()
    for start, end in _windows(spec):
        outcome, took = _release_once(warehouse, policy, spec, agent_day, roster, start, end)
        if outcome.status != "released":
            raise RuntimeError(f"bench release {spec.name} {start} was {outcome.status}: {outcome.message}")
        result.seconds.append(took)
        result.budget = outcome.budget
        result.releases += 1
        published = {(v.group_value, v.statistic): v for v in outcome.values}
        ratio = spec.ratios[0].name
        for group, truth in _exact(agent_day, roster, spec, start).items():
            n_hat = published[(group, "contacts_handled")].value or 0.0
            s_hat = published[(group, "handle_seconds")].value or 0.0
            mean_hat = min(AHT_MAX, s_hat / n_hat) if n_hat > 0 else AHT_MAX
            mean = truth["handle_seconds"] / truth["contacts_handled"]
            result.count_errors.append(abs(n_hat - truth["contacts_handled"]) / truth["contacts_handled"])
            result.mean_errors.append(abs(mean_hat - mean) / mean)
            result.too_noisy.append(published[(group, ratio)].status == "too_noisy")
    return result


def total_budget_label(per_release: Budget, releases: int, delta: Fraction | None = None) -> str:
    """What the releases cost each agent over the 30 days, e.g. "total epsilon 30" or "total rho 0.48
    (epsilon 6.8 at delta 1e-09)": the sum of the per-release budgets (sequential composition)."""
    total = per_release.amount * releases
    label = f"total {per_release.unit} {float(total):.4g}"
    if per_release.unit == "rho" and delta:
        from privacy.mechanisms import rho_to_epsilon_opendp

        label += f" (epsilon {rho_to_epsilon_opendp(total, delta):.2g} at delta {float(delta):.0e})"
    return label


def bench_release(root: Path | None = None) -> dict[str, Any]:
    """Run every scenario's releases over the 30 days, the peers' workload, and the first release
    of a fresh process; print tables; return the JSON keys."""
    from teamlens.bench_peer import bench_peer_workload

    agent_day, roster = synthetic_agent_day()
    policies = bench_policies()
    results: dict[str, SeriesResult] = {}
    with tempfile.TemporaryDirectory(prefix="teamlens-bench-release-") as tmp:
        base = Path(root) if root is not None else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        for key, (policy_name, release_name) in SCENARIOS.items():
            policy = policies[policy_name]
            results[key] = run_series(
                base / f"{policy_name}.duckdb", policy, policy.release(release_name), agent_day, roster
            )
        peer = bench_peer_workload(base / "peer.duckdb", agent_day, roster)

    warm = [s for r in results.values() for s in r.seconds[1:]]  # the first of each spec pays its calibration
    rel: dict[str, float] = {}
    details: dict[str, Any] = {}
    for key, (policy_name, release_name) in SCENARIOS.items():
        policy, result = policies[policy_name], results[key]
        assert result.budget is not None
        count_key = key.replace("_pure_eps1", "_count_pure_eps1").replace("_default", "_count_default")
        mean_key = key.replace("_pure_eps1", "_mean_pure_eps1").replace("_default", "_mean_default")
        rel[count_key] = round(statistics.median(result.count_errors), 4)
        rel[mean_key] = round(statistics.median(result.mean_errors), 4)
        later = result.seconds[1:]
        details[key] = {
            "model": policy.release(release_name).privacy_model,
            "budget": f"{result.budget} per release",
            "total_budget": total_budget_label(result.budget, result.releases, policy.report_delta),
            "releases": result.releases,
            "groups_per_release": len(result.count_errors) // max(1, result.releases),
            "first_seconds": round(result.seconds[0], 3),
            "warm_seconds_median": round(statistics.median(later), 4) if later else None,
            "warm_seconds_max": round(max(later), 4) if later else None,
            "too_noisy_share": round(sum(result.too_noisy) / len(result.too_noisy), 3),
        }
    first = first_release_in_fresh_process()
    out = {
        "release_seconds": round(statistics.median(warm), 4),
        "release_seconds_max": round(max(warm), 4),
        "release_target_met": statistics.median(warm) <= TARGET_SECONDS,
        "release_first_seconds": first["release_seconds"],
        "release_first_import_seconds": first["import_seconds"],
        "release_first_seconds_uncompiled": first["release_seconds_uncompiled"],
        "release_first_target_met": first["release_seconds"] <= FIRST_TARGET_SECONDS,
        "release_median_rel_error": rel,
        "release_details": details,
        "release_peer_workload": peer,
    }
    _print_table(out)
    return out


def _approve_bench_policy(warehouse: Path, policy: Policy) -> None:
    """A release runs only under an approved policy (privacy/approval.py): the bench approves its own."""
    from privacy.approval import approve_policy

    approve_policy(warehouse, policy, "bench", "teamlens bench (not a works agreement)", "bench")


def first_release_in_fresh_process() -> dict[str, float]:
    """Seconds of one release of the standard workload in a fresh Python process, as each scheduler
    task is: the process imports the pipeline's modules, then the release pays OpenDP's import and
    calibration. Run twice with a bytecode cache of its own (PYTHONPYCACHEPREFIX): the first run
    compiles every module (`release_seconds_uncompiled`), the second finds the bytecode, as an
    installed package does (`release_seconds`, `import_seconds`)."""
    import json
    import os
    import subprocess
    import sys

    with tempfile.TemporaryDirectory(prefix="teamlens-bench-first-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        runs = []
        for _ in range(2):
            # approved here, as an operator approves a policy before a scheduled run: the fresh
            # process pays every import and check of a publish task, the approval excepted
            _approve_bench_policy(Path(tmp) / "first.duckdb", bench_policies()[next(iter(SCENARIOS.values()))[0]])
            done = subprocess.run(
                [sys.executable, "-m", "teamlens.bench_release", "--first-release", str(Path(tmp) / "first.duckdb")],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            (Path(tmp) / "first.duckdb").unlink(missing_ok=True)
    return {
        "release_seconds": round(runs[1]["release_seconds"], 3),
        "import_seconds": round(runs[1]["import_seconds"], 3),
        "release_seconds_uncompiled": round(runs[0]["release_seconds"], 3),
    }


def _print_table(out: dict[str, Any]) -> None:
    rel = out["release_median_rel_error"]
    print(
        f"  workload: {AGENTS} agents, {TEAMS} teams of {AGENTS // TEAMS}, {SITES} sites, {DAYS} days from {START}, "
        f"about {CALLS_PER_AGENT_DAY} calls per agent-day"
    )
    header = (
        "release",
        "budget",
        "per agent over the 30 days",
        "releases",
        "groups",
        "warm s (median)",
        "count rel.err",
        "mean rel.err",
        "too noisy",
    )
    table = [header]
    for key, d in out["release_details"].items():
        suffix = "_pure_eps1" if key.endswith("_pure_eps1") else "_default"
        stem = key.removesuffix(suffix)
        table.append(
            (
                key,
                d["budget"],
                d["total_budget"],
                str(d["releases"]),
                str(d["groups_per_release"]),
                f"{d['warm_seconds_median']:.3f}",
                f"{100 * rel[f'{stem}_count{suffix}']:.1f}%",
                f"{100 * rel[f'{stem}_mean{suffix}']:.1f}%",
                f"{100 * d['too_noisy_share']:.0f}%",
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print(
            "  "
            + "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    from teamlens.bench_peer import print_peer_table

    print_peer_table(out["release_peer_workload"])
    warm = "met" if out["release_target_met"] else "MISSED"
    first = "met" if out["release_first_target_met"] else "MISSED"
    print(
        f"  seconds per release: warm median {out['release_seconds']:.3f} s, max {out['release_seconds_max']:.3f} s "
        f"(target <= {TARGET_SECONDS} s: {warm}); first in a fresh process {out['release_first_seconds']:.2f} s "
        f"after {out['release_first_import_seconds']:.2f} s of imports (target <= {FIRST_TARGET_SECONDS} s: {first}; "
        f"{out['release_first_seconds_uncompiled']:.2f} s without bytecode)"
    )


def _first_release(warehouse: Path) -> dict[str, float]:
    """In a fresh process (`--first-release`): import the pipeline's modules, then time one release
    of the standard workload's first scenario."""
    began = time.perf_counter()
    import privacy.accountant
    import privacy.release  # noqa: F401

    imported = time.perf_counter()
    agent_day, roster = synthetic_agent_day()
    policy_name, release_name = next(iter(SCENARIOS.values()))
    policy = bench_policies()[policy_name]
    spec = policy.release(release_name)
    outcome, took = _release_once(warehouse, policy, spec, agent_day, roster, *_windows(spec)[0])
    if outcome.status != "released":  # a refusal or a stored result would time nothing of the release
        raise RuntimeError(f"first release was {outcome.status}: {outcome.message}")
    return {"import_seconds": imported - began, "release_seconds": took}


if __name__ == "__main__":
    import json
    import sys

    if sys.argv[1:2] == ["--first-release"]:
        print(json.dumps(_first_release(Path(sys.argv[2]))))
    else:
        print(json.dumps(bench_release(), sort_keys=True))
