"""Which roster groups a release publishes, from public facts only (roster sizes and the policy).

Groups below the policy's minimum size are suppressed, or pooled per parent (a team's site)
under `small_groups: merge_into_parent`. The accuracy planner and the release both decide here,
so the plan shows exactly the groups the release will publish.
"""

from __future__ import annotations

import polars as pl

from foundation.policy import PARENT_GROUP, Policy, ReleaseSpec
from warehouse.records import GroupDecision


def decide_groups(roster: pl.DataFrame, spec: ReleaseSpec, policy: Policy) -> tuple[GroupDecision, ...]:
    """Which roster groups may be published: roster size >= the policy's minimum (public facts only).

    Under `small_groups: merge_into_parent`, the small teams of a site are pooled into one group
    named by `merged_group_value`, released if the pool reaches the minimum (else suppressed);
    a team's site is the site of most of its roster agents (ties: the first by name). Sites
    have no parent: a small site is suppressed.
    """
    sizes = roster.group_by(spec.group_by).agg(pl.len().alias("n")).sort(spec.group_by)
    parents = group_parents(roster, spec.group_by) if policy.small_groups == "merge_into_parent" else {}
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


def group_parents(roster: pl.DataFrame, group_by: str) -> dict[str, str]:
    """Each group's parent (a team's site: the site of most of its roster agents, ties to the first
    by name); {} for groups without a parent (sites). Organisational facts, published with a
    release so readers can compare a team with its site."""
    parent = PARENT_GROUP[group_by]
    parents: dict[str, str] = {}
    if parent is not None:
        counts = roster.group_by(group_by, parent).agg(pl.len().alias("n"))
        for row in counts.sort([group_by, "n", parent], descending=[False, True, False]).iter_rows(named=True):
            parents.setdefault(str(row[group_by]), str(row[parent]))
    return parents


def merged_group_value(parent_value: str) -> str:
    """The name of the pooled small groups of one parent, as published (e.g. 'Berlin: small teams merged')."""
    return f"{parent_value}: small teams merged"


def assign_merged_groups(totals: pl.DataFrame, decisions: tuple[GroupDecision, ...], group: str) -> pl.DataFrame:
    """Move the agents of merged groups into their pooled group (each agent still in exactly one group)."""
    moves = {d.group_value: d.merged_into for d in decisions if d.merged_into is not None}
    if not moves:
        return totals
    return totals.with_columns(pl.col(group).replace(moves))
