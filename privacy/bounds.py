"""Suggesting clipping bounds: a differentially private quantile of agents' window totals.

Every release clips each agent's window total of a sum to the bound its policy declares
(`sums: {metric: bound}`); an agent above the bound is counted at the bound, so bounds set too low
understate the published figures. `teamlens plan --suggest-bounds` proposes bounds from the data
without anyone seeing an exact total (docs/privacy.md, Suggesting bounds):

1. The window: the latest complete window of the release (every day's metrics marked complete).
2. One row per agent: its window totals (privacy.release.agent_window_totals), so the privacy unit
   is the agent, as in the release. Refused, before anything is drawn or spent, when the window's
   roster has fewer agents than the policy's min_group_size.
3. For each sum, OpenDP's quantile (the polars plugin's `dp.quantile`, an exponential mechanism
   over candidates) chooses one candidate of a public grid: geometric, about 2% apart, from 1 to
   the policy's max_factor times the current bound, with the current bound itself among them. The
   grid depends only on the policy, never on the data. The policy's `bounds_suggestion` budget is
   split evenly over the sums; OpenDP calibrates the mechanism to it, and its privacy map must
   report that budget (never more; asserted before anything is drawn).
4. The draw goes through the accountant (privacy.accountant.publish_release) like a release, under
   the name `bounds_suggestion:<release>` and the window's key: approval, key continuity, budget
   check before noise, one transaction with the ledger, and a rerun returns the stored suggestion
   without drawing again. The suggested bounds are its published values (statistic
   `suggested_bound_<metric>`, group 'all'); as a selection carries no noise interval, their
   interval is the candidate grid's range.

A bound is a policy value: the suggestion changes nothing until the policy is edited and approved.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import polars as pl

from foundation import lake, schema
from foundation.budget import Budget
from foundation.exact import fraction_text
from foundation.policy import Policy, ReleaseSpec
from foundation.settings import Settings
from foundation.windows import window_of
from privacy.accountant import publish_release
from privacy.mechanisms import MAX_AGENTS_PER_GROUP
from privacy.release import (
    agent_window_totals,
    metrics_complete,
    read_partitions,
    window_days,
    window_key_fingerprints,
    window_roster,
)
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey

# The candidate grid: each candidate about GRID_STEP above the previous one (integers, distinct).
GRID_STEP = 1.02
ALL_AGENTS = "all"
STATISTIC_PREFIX = "suggested_bound_"
MECHANISM = (
    "exponential mechanism (OpenDP 0.16 polars dp.quantile) over a public geometric grid, "
    "agent-level, one row per agent"
)


class BoundsBudgetMismatch(RuntimeError):
    """OpenDP's privacy map of the quantile measurement does not report the declared budget."""


@dataclass(frozen=True)
class SuggestedBound:
    metric: str
    current: int  # the bound the policy declares now
    suggested: int | None  # the DP quantile; None when nothing was suggested


@dataclass(frozen=True)
class BoundsOutcome:
    """What one release's suggestion did: drawn now, returned from storage, refused, or no window yet."""

    release_name: str
    status: Literal["suggested", "stored", "refused", "no_window"]
    bounds: tuple[SuggestedBound, ...]
    budget: Budget | None  # what the suggestion costs each agent (None: no window)
    periods: tuple[str, ...]
    release_id: str | None
    message: str


def candidate_grid(bound: int, max_factor: int) -> list[int]:
    """The public candidates of one sum: 1, then about 2% apart, up to max_factor x bound, with the bound."""
    top = bound * max_factor
    grid = {bound, top}
    x = 1.0
    while x < top:
        grid.add(round(x))
        x *= GRID_STEP
    return sorted(grid)


def _float_at_most(amount: Fraction) -> float:
    """The largest float not above the exact amount (the budget OpenDP may spend)."""
    f = float(amount)
    return math.nextafter(f, 0.0) if Fraction(f) > amount else f


@functools.lru_cache(maxsize=32)
def quantile_measurement(
    sums: tuple[tuple[str, int], ...], quantile: Fraction, budget: Budget, max_factor: int
) -> tuple[Any, float]:
    """OpenDP's measurement of the sums' quantiles (one row per agent, any number of agents) and
    the privacy loss its map reports for one agent, checked to be the budget and never above it."""
    from opendp.context import Context, loss_of, unit_of
    from opendp.extras.polars import Margin
    from opendp.mod import enable_features

    enable_features("contrib")
    amount = _float_at_most(budget.amount)
    context = Context.compositor(
        data=pl.LazyFrame(schema={m: pl.Int64 for m, _ in sums}),  # the schema only: public
        privacy_unit=unit_of(contributions=1),
        privacy_loss=loss_of(epsilon=amount) if budget.unit == "epsilon" else loss_of(rho=amount),
        split_evenly_over=1,
        margins=[Margin(max_length=MAX_AGENTS_PER_GROUP)],
    )
    query = context.query().select(
        *[pl.col(m).dp.quantile(float(quantile), candidate_grid(b, max_factor)) for m, b in sums]  # type: ignore[attr-defined]
    )
    measurement = query.resolve()
    spent = float(measurement.map(1))  # one agent = one row (unit_of(contributions=1))
    if Fraction(spent) > budget.amount or not math.isclose(spent, float(budget.amount), rel_tol=1e-6):
        raise BoundsBudgetMismatch(f"OpenDP's quantile measurement spends {budget.unit}={spent}, declared {budget}")
    return measurement, spent


def draw_suggestion(totals: pl.DataFrame, roster_size: int, spec: ReleaseSpec, policy: Policy) -> NoisyRelease:
    """Choose each sum's suggested bound with OpenDP from one row per agent.

    This draws: call it only through the accountant (publish_release), after its checks.
    """
    suggestion = policy.bounds_suggestion
    assert suggestion is not None and spec.bounds_suggestion_for is not None
    if roster_size < policy.min_group_size:
        raise ValueError(f"{spec.name}: {roster_size} agents < min_group_size {policy.min_group_size}; nothing drawn")
    if totals["agent_pseudonym"].is_duplicated().any():
        raise ValueError(f"{spec.name}: an agent has more than one row in the window totals; nothing drawn")
    sums = tuple(spec.sums.items())
    measurement, spent = quantile_measurement(sums, suggestion.quantile, spec.budget, suggestion.max_factor)
    chosen = measurement(totals.select(*[pl.col(m).cast(pl.Int64) for m in spec.sums]).lazy()).collect()
    values = []
    grids = {}
    for metric, bound in sums:
        grid = candidate_grid(bound, suggestion.max_factor)
        grids[metric] = {"first": grid[0], "last": grid[-1], "candidates": len(grid), "current_bound": bound}
        value = float(chosen[metric][0])
        values.append(
            PublishedValue(
                ALL_AGENTS, STATISTIC_PREFIX + metric, value, float(grid[0]), float(grid[-1]), None, "published"
            )
        )
    parameters: dict[str, object] = {
        "bounds_suggestion_for": spec.bounds_suggestion_for,
        "quantile": fraction_text(suggestion.quantile),
        f"{spec.budget.unit}_per_sum": fraction_text(spec.budget.amount / len(sums)),
        "opendp_privacy_map": spent,
        "grid": {"kind": "geometric", "step": GRID_STEP, "max_factor": suggestion.max_factor, "sums": grids},
        "interval": "the candidate grid's range (a selection has no noise interval)",
    }
    return NoisyRelease(
        values=tuple(values),
        groups=(GroupDecision(ALL_AGENTS, roster_size, "released"),),
        mechanism=MECHANISM,
        parameters=parameters,
    )


def latest_complete_window(settings: Settings, spec: ReleaseSpec) -> tuple[dt.date, dt.date] | None:
    """The latest window of the release whose days' metrics are all marked complete, or None."""
    folder = settings.lake.metrics_marker(dt.date(2000, 1, 1)).parent
    marked = sorted(d for p in folder.glob("*.json") if (d := lake.day_file_day(p.name)) is not None)
    day = marked[-1] if marked else None
    while day is not None and day >= marked[0]:
        start, end = window_of(spec.window, day)
        if all(metrics_complete(settings, d) for d in window_days(start, end)):
            return start, end
        day = start - dt.timedelta(days=1)
    return None


def suggest_bounds(settings: Settings, policy: Policy, release_name: str | None = None) -> list[BoundsOutcome]:
    """Suggest bounds for every release of the policy (or the one named) from its latest complete window.

    Raises PolicyError when the policy declares no bounds_suggestion or does not list the release.
    """
    specs = [policy.release(release_name)] if release_name else list(policy.releases)
    return [_suggest(settings, policy, spec) for spec in specs]


def _suggest(settings: Settings, policy: Policy, release: ReleaseSpec) -> BoundsOutcome:
    spec = policy.bounds_suggestion_spec(release.name)
    window = latest_complete_window(settings, release)
    unsuggested = tuple(SuggestedBound(m, b, None) for m, b in release.sums.items())
    if window is None:
        message = f"{release.name}: no complete {release.window} window yet; nothing drawn, nothing spent"
        return BoundsOutcome(release.name, "no_window", unsuggested, None, (), None, message)
    start, end = window
    days = window_days(start, end)
    key = ReleaseKey(spec.name, start, end, policy.sha256)
    roster = window_roster(settings, days)
    if roster.height < policy.min_group_size:
        message = (
            f"refused {spec.name} [{start}, {end}): the window's roster has {roster.height} agents, fewer than "
            f"min_group_size {policy.min_group_size}; nothing drawn, nothing spent"
        )
        return BoundsOutcome(release.name, "refused", unsuggested, spec.budget, (), key.release_id, message)
    outcome = publish_release(
        settings.lake.warehouse_path,
        key,
        spec,
        policy,
        settings.run_by,
        draw=functools.partial(_draw_from_zones, settings, policy, release, spec, days),
        key_fingerprints=window_key_fingerprints(settings, days),
    )
    chosen = {v.statistic: v.value for v in outcome.values}
    bounds = tuple(SuggestedBound(m, b, _whole(chosen.get(STATISTIC_PREFIX + m))) for m, b in release.sums.items())
    status: Literal["suggested", "stored", "refused"] = "suggested" if outcome.status == "released" else outcome.status
    return BoundsOutcome(
        release.name, status, bounds, outcome.budget, outcome.periods, outcome.key.release_id, outcome.message
    )


def _whole(value: float | None) -> int | None:
    """A chosen grid candidate (an integer stored as a float), or None."""
    return None if value is None else int(value)


def _draw_from_zones(
    settings: Settings, policy: Policy, release: ReleaseSpec, spec: ReleaseSpec, days: Sequence[dt.date]
) -> NoisyRelease:
    """Read the window's roster and agent-day rows and draw (called by the accountant after its checks)."""
    roster = window_roster(settings, list(days))
    agent_day = read_partitions(settings.lake.table_root(schema.AGENT_DAY), days)
    totals = agent_window_totals(agent_day, roster.select("agent_pseudonym", "team", "site"), release)
    return draw_suggestion(totals, roster.height, spec, policy)


def format_suggestions(outcomes: Sequence[BoundsOutcome], warehouse: Path) -> str:
    """Per release and sum: the current bound, the suggested one, the budget spent and where it is recorded.

    Only the policy's bounds and the DP suggestions are shown: never an agent's total.
    """
    lines = []
    for o in outcomes:
        lines.append(f"{o.release_name}:")
        for b in o.bounds:
            suggested = "-" if b.suggested is None else f"{b.suggested:,}"
            change = "" if b.suggested is None else f" ({b.suggested / b.current:.2f} x the current bound)"
            lines.append(f"  {b.metric:<20} current bound {b.current:>12,}   suggested {suggested:>12}{change}")
        if o.status == "suggested":
            spent = f"  spent {o.budget} per agent, charged to {', '.join(o.periods)}"
            lines.append(f"{spent}; recorded in {warehouse} as release {o.release_id} and its ledger entry")
        elif o.status == "stored":
            lines.append(f"  stored suggestion {o.release_id} in {warehouse}: nothing drawn, nothing spent now")
        lines.append(f"  {o.message}")
    lines.append(
        "A suggestion changes nothing by itself: to use it, edit the bounds in the policy and have the new "
        "version approved (docs/privacy.md, Suggesting bounds)."
    )
    return "\n".join(lines)
