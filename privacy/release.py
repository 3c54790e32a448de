"""Differentially private releases with OpenDP, the agent as the privacy unit.

One release, as privacy-design.md states it:
1. Reduce the agent-day table to one row per agent per window (sums over the window's days).
   Each agent lands in exactly one group: the roster group of the window's first day
   (policy `group_assignment: first_day`); an agent missing from that roster snapshot is
   assigned by the earliest day it appears in the window.
2. Decide which groups are published from public facts only: roster group sizes against the
   policy's minimum group size. Smaller groups are suppressed and their agents left out.
3. OpenDP clips every agent's window total to [0, bound] and adds Gaussian noise calibrated
   for zCDP: sigma = bound / sqrt(2 * rho_part), rho_part = rho / number of sums. Under the
   policy's `privacy_model: pure` it adds Laplace noise instead (integer data: OpenDP's discrete
   Laplace) calibrated for pure DP: b = bound / eps_part = bound * sums / epsilon. The group
   keys are public (the roster), so no private partition selection is needed.
4. Every sum gets its 95% interval from the mechanism; ratios (AHT) are computed from the
   noisy sums with a conservative union-bound interval, clamped to their meaningful range,
   or marked too noisy when the denominator's interval reaches zero.

Nothing here decides from the private data what to release: only the roster and the policy do.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from foundation.policy import PARENT_GROUP, Policy, PrivacyModel, ReleaseSpec, window_of
from foundation.settings import Settings
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseOutcome

# An upper bound on the agents in one group, required by OpenDP for overflow checks only.
MAX_AGENTS_PER_GROUP = 100_000
# 95% intervals for sums; ratios combine two 97.5% intervals (union bound).
ALPHA_SUM = 0.05
ALPHA_RATIO_PART = 0.025


class NoiseScaleMismatch(RuntimeError):
    """OpenDP calibrated a different noise scale than the analytic sensitivity implies."""


def read_partitions(root: Path, days: Iterable[dt.date]) -> pl.DataFrame:
    """Read Spark-written `root/day=YYYY-MM-DD/*.parquet` partitions, adding the day column."""
    frames = []
    for day in days:
        files = sorted((root / f"day={day.isoformat()}").glob("*.parquet"))
        if files:
            frames.append(pl.read_parquet(files).with_columns(pl.lit(day).alias("day")))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def window_days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


def agent_window_totals(agent_day: pl.DataFrame, roster: pl.DataFrame, spec: ReleaseSpec) -> pl.DataFrame:
    """One row per agent per window: the group key and the window sums of the release's metrics.

    roster: the roster snapshot of the window's first day (agent_pseudonym, team, site).
    agent_day: the window's agent-day rows. Agents in the roster without activity get zeros,
    so that every roster agent contributes exactly one row.
    """
    group = spec.group_by
    metrics = list(spec.sums)
    if agent_day.is_empty():
        totals = pl.DataFrame(
            schema={"agent_pseudonym": pl.String, "_first_group": pl.String, **{m: pl.Int64 for m in metrics}}
        )
    else:
        totals = (
            agent_day.sort("day")
            .group_by("agent_pseudonym")
            .agg(pl.col(group).first().alias("_first_group"), *[pl.col(m).sum().cast(pl.Int64) for m in metrics])
        )
    rostered = roster.select("agent_pseudonym", pl.col(group).alias("_roster_group"))
    joined = rostered.join(totals, on="agent_pseudonym", how="full", coalesce=True)
    return joined.select(
        "agent_pseudonym",
        pl.coalesce("_roster_group", "_first_group").alias(group),
        *[pl.col(m).fill_null(0).cast(pl.Int64) for m in metrics],
    )


def decide_groups(roster: pl.DataFrame, spec: ReleaseSpec, policy: Policy) -> tuple[GroupDecision, ...]:
    """Which roster groups may be published: roster size >= the policy's minimum (public facts only).

    Under `small_groups: merge_into_parent`, the small teams of a site are pooled into one group
    named by `merged_group_value`, released if the pool reaches the minimum (else suppressed);
    a team's site is the site of most of its roster agents (ties: the first by name). Sites
    have no parent: a small site is suppressed.
    """
    sizes = roster.group_by(spec.group_by).agg(pl.len().alias("n")).sort(spec.group_by)
    parent = PARENT_GROUP[spec.group_by] if policy.small_groups == "merge_into_parent" else None
    parents: dict[str, str] = {}
    if parent is not None:
        counts = roster.group_by(spec.group_by, parent).agg(pl.len().alias("n"))
        for row in counts.sort([spec.group_by, "n", parent], descending=[False, True, False]).iter_rows(named=True):
            parents.setdefault(str(row[spec.group_by]), str(row[parent]))
    decisions: list[GroupDecision] = []
    pools: dict[str, int] = {}
    for row in sizes.iter_rows(named=True):
        value, n = str(row[spec.group_by]), int(row["n"])
        if n >= policy.min_group_size:
            decisions.append(GroupDecision(value, n, "released"))
        elif value in parents:
            pool = merged_group_value(parents[value])
            pools[pool] = pools.get(pool, 0) + n
            decisions.append(GroupDecision(value, n, "merged_into_parent", merged_into=pool))
        else:
            decisions.append(GroupDecision(value, n, "suppressed_small_group"))
    for pool, n in pools.items():
        if pool in {d.group_value for d in decisions}:
            raise ValueError(f"a roster group is named {pool!r}, the name of a merged group; rename it")
        decisions.append(GroupDecision(pool, n, "released" if n >= policy.min_group_size else "suppressed_small_group"))
    return tuple(sorted(decisions, key=lambda d: d.group_value))


def merged_group_value(parent_value: str) -> str:
    """The name of the pooled small groups of one parent, as published (e.g. 'Berlin: small teams merged')."""
    return f"{parent_value}: small teams merged"


def assign_merged_groups(totals: pl.DataFrame, decisions: tuple[GroupDecision, ...], group: str) -> pl.DataFrame:
    """Move the agents of merged groups into their pooled group (each agent still in exactly one group)."""
    moves = {d.group_value: d.merged_into for d in decisions if d.merged_into is not None}
    if not moves:
        return totals
    return totals.with_columns(pl.col(group).replace(moves))


def analytic_sigma(bound: int, rho: Fraction, parts: int) -> float:
    """Gaussian sigma of one of `parts` sums sharing rho: sensitivity (the bound) / sqrt(2 rho / parts)."""
    return bound / math.sqrt(2 * float(rho) / parts)


def analytic_laplace_scale(bound: int, epsilon: Fraction, parts: int) -> float:
    """Laplace scale of one of `parts` sums sharing epsilon: L1 sensitivity (the bound) / (epsilon / parts)."""
    return float(bound * parts / Fraction(epsilon))


def expected_noise_scale(spec: ReleaseSpec, metric: str) -> float:
    """The analytic noise scale of one sum of the release: Gaussian sigma (zcdp) or Laplace b (pure)."""
    if spec.privacy_model == "pure":
        return analytic_laplace_scale(spec.sums[metric], spec.budget, len(spec.sums))
    return analytic_sigma(spec.sums[metric], spec.rho, len(spec.sums))


# The noise distribution of each privacy model on integer sums, as OpenDP draws it.
NOISE_DISTRIBUTION: dict[str, str] = {"zcdp": "discrete_gaussian", "pure": "discrete_laplace"}


@dataclass(frozen=True)
class CalibratedRelease:
    """An OpenDP measurement for one release, calibrated once, with its checked noise scales."""

    measurement: Any  # opendp.mod.Measurement
    data: pl.LazyFrame
    scales: dict[str, float]


MECHANISM = "Gaussian (zCDP), OpenDP 0.16 integer Gaussian, agent-level, public group keys from the roster"
MECHANISM_PURE = "Laplace (pure DP), OpenDP 0.16 integer Laplace, agent-level, public group keys from the roster"
MECHANISMS: dict[str, str] = {"zcdp": MECHANISM, "pure": MECHANISM_PURE}


def calibrate(totals: pl.DataFrame, released: list[str], spec: ReleaseSpec) -> CalibratedRelease:
    """The measurement for the released groups, with the window's data to apply it to.

    The measurement depends only on public facts (the spec and the released group keys), so it
    is calibrated once per process and reused for every window with the same groups.
    """
    group = spec.group_by
    data = totals.filter(pl.col(group).is_in(released)).select(group, *spec.sums).lazy()
    measurement, scales = _measurement(
        spec.name,
        spec.budget,
        tuple(spec.sums.items()),
        group,
        tuple(released),
        tuple(data.collect_schema().items()),
        spec.privacy_model,
    )
    return CalibratedRelease(measurement=measurement, data=data, scales=dict(scales))


@functools.lru_cache(maxsize=64)
def _measurement(
    name: str,
    rho: Fraction,
    sums: tuple[tuple[str, int], ...],
    group: str,
    released: tuple[str, ...],
    data_schema: tuple[tuple[str, pl.DataType], ...],
    model: PrivacyModel = "zcdp",
) -> tuple[Any, tuple[tuple[str, float], ...]]:
    """Build the measurement and pin its noise scales to the analytic ones.

    `rho` is the release's budget in its model's unit: zCDP rho, or epsilon under pure DP.
    OpenDP computes the sensitivity itself; if it ever differs from bound / sqrt(2 rho_part)
    (zcdp) or bound / eps_part (pure) (a silent sensitivity blow-up, see stack.md), nothing is
    published.
    """
    import opendp.prelude as dp
    from opendp.accuracy import summarize_polars_measurement

    dp.enable_features("contrib")
    context = dp.Context.compositor(
        data=pl.LazyFrame(schema=dict(data_schema)),  # the schema only: the measurement takes any window's data
        privacy_unit=dp.unit_of(contributions=1),
        privacy_loss=dp.loss_of(epsilon=float(rho)) if model == "pure" else dp.loss_of(rho=float(rho)),
        split_evenly_over=1,
        margins=[dp.polars.Margin(by=[group], invariant="keys", max_length=MAX_AGENTS_PER_GROUP)],
    )
    query = (
        context.query()
        .group_by(group)
        .agg(*[pl.col(m).dp.sum((0, bound)) for m, bound in sums])  # type: ignore[attr-defined]
        .with_keys(pl.LazyFrame({group: list(released)}))
    )
    measurement = query.resolve()
    scales: dict[str, float] = {}
    for row in summarize_polars_measurement(measurement, ALPHA_SUM).iter_rows(named=True):
        metric, scale = row["column"], float(row["scale"])
        expected = (
            analytic_laplace_scale(dict(sums)[metric], rho, len(sums))
            if model == "pure"
            else analytic_sigma(dict(sums)[metric], rho, len(sums))
        )
        if not math.isclose(scale, expected, rel_tol=1e-6):
            raise NoiseScaleMismatch(
                f"{name}: OpenDP noise scale for {metric} is {scale}, the analytic sensitivity implies "
                f"{expected}; refusing to publish"
            )
        scales[metric] = scale
    if set(scales) != {m for m, _ in sums}:
        raise NoiseScaleMismatch(f"{name}: OpenDP released {sorted(scales)}, expected {sorted(m for m, _ in sums)}")
    spent = measurement.map(1)  # one agent = one row (unit_of(contributions=1))
    if spent > float(rho) * (1 + 1e-9):
        unit = "epsilon" if model == "pure" else "rho"
        raise NoiseScaleMismatch(f"{name}: the measurement spends {unit}={spent}, more than {rho}")
    return measurement, tuple(scales.items())


def published_values(noisy: pl.DataFrame, spec: ReleaseSpec, scales: dict[str, float]) -> tuple[PublishedValue, ...]:
    """Post-processing of the noisy sums: clamped values, 95% intervals, ratios (costs no budget)."""
    values: list[PublishedValue] = []
    distribution = NOISE_DISTRIBUTION[spec.privacy_model]
    for row in noisy.sort(spec.group_by).iter_rows(named=True):
        key = str(row[spec.group_by])
        for metric in spec.sums:
            values.append(_sum_value(key, metric, float(row[metric]), scales[metric], distribution))
        for ratio in spec.ratios:
            values.append(
                _ratio_value(
                    key,
                    ratio.name,
                    float(row[ratio.numerator]),
                    scales[ratio.numerator],
                    float(row[ratio.denominator]),
                    scales[ratio.denominator],
                    ratio.max,
                    distribution,
                )
            )
    return tuple(values)


def draw_noisy_release(totals: pl.DataFrame, decisions: tuple[GroupDecision, ...], spec: ReleaseSpec) -> NoisyRelease:
    """Release the spec's sums for the released groups with OpenDP and derive ratios and intervals.

    This draws fresh noise: call it only through the accountant, after the budget check and
    the idempotency check (privacy.accountant.publish_release).
    """
    released = [d.group_value for d in decisions if d.status == "released"]
    if "agent_pseudonym" in totals.columns and totals["agent_pseudonym"].is_duplicated().any():
        # OpenDP's privacy unit is one row (unit_of(contributions=1)): a second row of an agent
        # would double its influence without raising the noise.
        raise ValueError(f"{spec.name}: an agent has more than one row in the window totals; nothing drawn")
    parameters: dict[str, object] = {
        "bounds": {m: [0, b] for m, b in spec.sums.items()},
        f"{spec.budget_unit}_per_sum": str(spec.budget / len(spec.sums)),
        "group_by": spec.group_by,
        "public_keys": released,
        "alpha": ALPHA_SUM,
        "max_agents_per_group": MAX_AGENTS_PER_GROUP,
    }
    if spec.privacy_model != "zcdp":
        parameters["privacy_model"] = spec.privacy_model
        parameters["noise_distribution"] = NOISE_DISTRIBUTION[spec.privacy_model]
    mechanism = MECHANISMS[spec.privacy_model]
    if not released:
        return NoisyRelease(values=(), groups=decisions, mechanism=mechanism, parameters=parameters)
    calibrated = calibrate(assign_merged_groups(totals, decisions, spec.group_by), released, spec)
    parameters["noise_scales"] = calibrated.scales
    noisy = calibrated.measurement(calibrated.data).collect()
    return NoisyRelease(
        values=published_values(noisy, spec, calibrated.scales),
        groups=decisions,
        mechanism=mechanism,
        parameters=parameters,
    )


@functools.lru_cache(maxsize=256)
def half_width(scale: float, alpha: float, distribution: str = "discrete_gaussian") -> float:
    """Half-width of the (1 - alpha) interval of OpenDP's integer noise of this scale.

    discrete_gaussian (zcdp): about ceil(z * scale + 1/2) with z the normal quantile (1.959964 for
    alpha 0.05). discrete_laplace (pure): about scale * ln(1 / alpha) (3.0 scale at 95%). The
    noise is integer-valued. The published intervals and the accuracy planner both use it.
    """
    import opendp.prelude as dp

    if distribution == "discrete_laplace":
        return float(dp.discrete_laplacian_scale_to_accuracy(scale, alpha))
    if distribution != "discrete_gaussian":
        raise ValueError(f"unknown noise distribution {distribution!r}")
    return float(dp.discrete_gaussian_scale_to_accuracy(scale, alpha))


def _sum_value(
    group_value: str, metric: str, noisy: float, scale: float, distribution: str = "discrete_gaussian"
) -> PublishedValue:
    """A noisy sum, clamped at 0 (post-processing), with its 95% interval."""
    half = half_width(scale, ALPHA_SUM, distribution)
    return PublishedValue(
        group_value=group_value,
        statistic=metric,
        value=max(0.0, noisy),
        ci_low=max(0.0, noisy - half),
        ci_high=max(0.0, noisy + half),
        noise_scale=scale,
        status="published",
    )


def _ratio_value(
    group_value: str,
    name: str,
    numerator: float,
    numerator_scale: float,
    denominator: float,
    denominator_scale: float,
    maximum: float,
    distribution: str = "discrete_gaussian",
) -> PublishedValue:
    """S/N from noisy sums with a union-bound 95% interval; too noisy when N's interval reaches 0."""
    a_s = half_width(numerator_scale, ALPHA_RATIO_PART, distribution)
    a_n = half_width(denominator_scale, ALPHA_RATIO_PART, distribution)
    if denominator - a_n <= 0:
        return PublishedValue(group_value, name, None, None, None, None, "too_noisy")

    def clamp(x: float) -> float:
        return min(maximum, max(0.0, x))

    return PublishedValue(
        group_value=group_value,
        statistic=name,
        value=clamp(numerator / denominator),
        ci_low=clamp((numerator - a_s) / (denominator + a_n)),
        ci_high=clamp((numerator + a_s) / (denominator - a_n)),
        noise_scale=None,
        status="published",
    )


def release_windows(
    settings: Settings, policy: Policy, first_day: dt.date, end_day: dt.date
) -> list[ReleaseOutcome | PendingWindow]:
    """Publish every permitted release whose window ends in [first_day, end_day).

    A window is released only when the metrics of all its days are complete; otherwise it is
    reported as pending and released by a later run. Stored releases are returned unchanged,
    unless the window's metrics were recomputed after its release (late data): then it is
    released again as a correction where the policy allows one (privacy.accountant). So a
    rerun of days inside an already published window (a backfill) also looks at that window.
    """
    from privacy.accountant import publish_release
    from warehouse.records import ReleaseKey
    from warehouse.store import published_windows

    published = published_windows(settings.lake.warehouse_path)
    outcomes: list[ReleaseOutcome | PendingWindow] = []
    for spec in policy.releases:
        windows = spec.windows_ending_in(first_day, end_day)
        for day in window_days(first_day, end_day):
            window = window_of(spec.window, day)
            if window not in windows and (spec.name, *window, policy.sha256) in published:
                windows.append(window)
        for start, end in sorted(windows):
            days = window_days(start, end)
            missing = [d for d in days if not metrics_complete(settings, d)]
            if missing:
                outcomes.append(PendingWindow(spec.name, start, end, tuple(missing)))
                continue
            key = ReleaseKey(spec.name, start, end, policy.sha256)
            outcomes.append(
                publish_release(
                    settings.lake.warehouse_path,
                    key,
                    spec,
                    policy,
                    settings.run_by,
                    draw=functools.partial(_draw_from_zones, settings, policy, spec, days),
                    groups=functools.partial(_groups_from_zones, settings, policy, spec, days),
                    inputs_as_of=metrics_computed_at(settings, days),
                )
            )
    return outcomes


@dataclass(frozen=True)
class PendingWindow:
    """A window whose metrics are not complete yet: nothing drawn, nothing spent."""

    release_name: str
    window_start: dt.date
    window_end: dt.date
    missing_days: tuple[dt.date, ...]


def metrics_marker(settings: Settings, day: dt.date) -> Path:
    """Written when the agent-day metrics of a day are complete (even if the day had no activity)."""
    return settings.lake.reports / "metrics" / "agent_day" / f"day={day.isoformat()}.json"


def metrics_complete(settings: Settings, day: dt.date) -> bool:
    return metrics_marker(settings, day).exists()


def mark_metrics_complete(settings: Settings, day: dt.date) -> None:
    """Write the day's completion marker, with when the metrics were computed (the trigger of corrections)."""
    marker = metrics_marker(settings, day)
    marker.parent.mkdir(parents=True, exist_ok=True)
    computed_at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    doc = {"table": "agent_day", "day": day.isoformat(), "complete": True, "computed_at": computed_at}
    marker.write_text(json.dumps(doc) + "\n")


def metrics_computed_at(settings: Settings, days: list[dt.date]) -> dt.datetime | None:
    """When the latest of the days' agent-day metrics were computed (from their markers), or None.

    A marker written before markers carried `computed_at` counts by its file's modification time.
    """
    latest: dt.datetime | None = None
    for day in days:
        marker = metrics_marker(settings, day)
        if not marker.exists():
            continue
        try:
            text = json.loads(marker.read_text()).get("computed_at")
        except (ValueError, AttributeError):
            text = None
        when = (
            dt.datetime.fromisoformat(text)
            if isinstance(text, str)
            else dt.datetime.fromtimestamp(marker.stat().st_mtime, dt.UTC)
        )
        latest = when if latest is None or when > latest else latest
    return latest


def window_roster(settings: Settings, days: list[dt.date]) -> pl.DataFrame:
    """The roster snapshot of the window's first day; if missing, the earliest one in the window."""
    roster = pl.DataFrame()
    for day in days:
        roster = read_partitions(settings.lake.staged / "roster", [day])
        if not roster.is_empty():
            break
    return roster


def _groups_from_zones(
    settings: Settings, policy: Policy, spec: ReleaseSpec, days: list[dt.date]
) -> tuple[GroupDecision, ...]:
    """The window's group decisions from its roster snapshot alone (the accuracy check before noise)."""
    roster = window_roster(settings, days)
    return () if roster.is_empty() else decide_groups(roster, spec, policy)


def _draw_from_zones(settings: Settings, policy: Policy, spec: ReleaseSpec, days: list[dt.date]) -> NoisyRelease:
    """Read the restricted zone for the window and draw the release (called after the budget check)."""
    roster = window_roster(settings, days)
    if roster.is_empty():
        return NoisyRelease(
            values=(), groups=(), mechanism=MECHANISMS[spec.privacy_model], parameters={"note": "no roster snapshot"}
        )
    agent_day = read_partitions(settings.lake.metrics / "agent_day", days)
    decisions = decide_groups(roster, spec, policy)
    totals = agent_window_totals(agent_day, roster.select("agent_pseudonym", "team", "site"), spec)
    return draw_noisy_release(totals, decisions, spec)
