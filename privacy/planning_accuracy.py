"""Planning releases before any noise: which queues are published and how precise they will be.

Pure functions of public facts (the policy and the roster's site sizes), like privacy.planner,
which calls them for a planning release (group_by 'queue'):

- A queue is published when its roster group has at least min_group_size agents; else it is
  suppressed (queues are not merged). The group is the roster agents of the teams the policy's
  `planning.queues` declares for the queue, at its site; the whole site where no teams are declared.
- Precision: the noisy sums share the release's rho evenly with the offered counts when those are
  noisy (`PlanningRelease.noisy_parts`); a sum's sigma is its per-agent bound / sqrt(2 rho_part)
  (the bound is its L2 sensitivity over the queue vector). A queue's agents are taken as its group
  shared evenly over the planned queues that share its agents (PlanningPolicy.queues_sharing_agents);
  the typical total is that many times the typical value per agent (the release's `typical`, else
  half the bound). Exact figures have no noise. Noisy offered counts are predicted
  for an interval holding an even share of the week's contacts (peaks are larger, so more precise).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from foundation.intervals import MINUTES_PER_DAY
from foundation.planning_policy import ANSWERED_STATISTIC, OFFERED_METRIC, PlanningRelease
from foundation.policy import Policy, ReleaseSpec
from privacy.mechanisms import ALPHA_SUM, half_width, ratio_interval, ratio_part_alpha
from warehouse.records import GroupDecision

if TYPE_CHECKING:
    from privacy.planner import AccuracyPlan


def planned_release(policy: Policy, spec: ReleaseSpec) -> PlanningRelease | None:
    """The planning release of a spec, or None for any other release."""
    return None if policy.planning is None else policy.planning.release(spec.name)


def planning_groups(roster: pl.DataFrame, policy: Policy) -> tuple[GroupDecision, ...]:
    """Each planned queue with the roster size of its group (its declared teams at its site, else the
    whole site): released at min_group_size or more, else suppressed."""
    planning = policy.planning
    assert planning is not None
    decisions = []
    for queue, site in sorted(planning.queues.items()):
        members = roster.filter(pl.col("site") == site)
        if planning.teams_of(queue):
            members = members.filter(pl.col("team").is_in(list(planning.teams_of(queue))))
        n = members.height
        decisions.append(
            GroupDecision(queue, n, "released" if n >= policy.min_group_size else "suppressed_small_group")
        )
    return tuple(decisions)


def sum_scale(planned: PlanningRelease, metric: str) -> float:
    """The Gaussian sigma of a noisy sum: its bound (L2 sensitivity) / sqrt(2 rho_part)."""
    return planned.bounds[metric] / math.sqrt(2 * float(planned.rho_per_part))


def offered_scale(planned: PlanningRelease) -> float:
    """The Gaussian sigma of the noisy offered counts: their L2 sensitivity / sqrt(2 rho_part)."""
    assert planned.offered_bounds is not None
    return planned.offered_bounds.l2_sensitivity / math.sqrt(2 * float(planned.rho_per_part))


def part_scales(planned: PlanningRelease) -> dict[str, float]:
    """The sigma of every part a ratio may use: 0 for the exact answered count."""
    return {m: sum_scale(planned, m) if m in planned.noisy_sums else 0.0 for m in planned.published_sums}


def ratio_half_widths(ratio_parts: tuple[str, ...], scales: dict[str, float]) -> dict[str, float]:
    """Each part's half-width for a ratio's union-bound interval: the 5% split over its noisy parts
    only (an exact part has none), as the release computes it (mechanisms.ratio_value)."""
    noisy = [p for p in ratio_parts if scales[p] > 0]
    alpha = ratio_part_alpha(max(1, len(noisy)))
    return {p: half_width(scales[p], alpha) if scales[p] > 0 else 0.0 for p in ratio_parts}


def predict_planning_accuracy(
    planned: PlanningRelease, policy: Policy, groups: tuple[GroupDecision, ...]
) -> AccuracyPlan:
    """The planner's AccuracyPlan of a planning release (module docstring)."""
    from privacy.planner import AccuracyPlan, StatisticPlan, planned_row

    assert policy.planning is not None
    spec, limit = planned.spec, policy.relative_limit(planned.spec)
    scales = part_scales(planned)
    rows: list[StatisticPlan] = []
    names = [*planned.published_sums, *(r.name for r in spec.ratios)]
    if planned.offered == "noisy":
        names.append(f"{OFFERED_METRIC}@<interval>")
    for g in sorted(groups, key=lambda d: d.group_value):
        if g.status != "released":
            rows.extend(
                StatisticPlan(g.group_value, g.roster_size, n, "sum", None, None, None, None, "suppressed")
                for n in names
            )
            continue
        agents = g.roster_size / max(1, len(policy.planning.queues_sharing_agents(g.group_value)))
        typical = {m: spec.typical.get(m, planned.bounds.get(m, 0) / 2) * agents for m in planned.published_sums}
        for metric in planned.published_sums:
            half = half_width(scales[metric], ALPHA_SUM) if scales[metric] > 0 else 0.0
            rows.append(planned_row(g, metric, "sum", scales[metric], half, typical[metric], limit))
        for ratio in spec.ratios:
            quotient = typical[ratio.numerator] / typical[ratio.denominator]
            interval = ratio_interval(ratio, typical, ratio_half_widths(ratio.parts, scales))
            spread = None if interval is None else max(interval[2] - quotient, quotient - interval[1])
            rows.append(planned_row(g, ratio.name, "ratio", None, spread, quotient, limit))
        if planned.offered == "noisy":
            cells = 7 * MINUTES_PER_DAY // policy.planning.interval_minutes
            scale = offered_scale(planned)
            rows.append(
                planned_row(
                    g, names[-1], "sum", scale, half_width(scale, ALPHA_SUM), typical[ANSWERED_STATISTIC] / cells, limit
                )
            )
    return AccuracyPlan(spec.name, limit, tuple(groups), tuple(rows))
