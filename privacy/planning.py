"""Planning releases: contacts offered per interval of the week and handle time per queue.

One release per window (the policy's `planning.releases`) for all planned queues, published,
charged and recorded through privacy.accountant.publish_release like every release (budget check
before noise, idempotency, one transaction with the ledger; a retry never draws again). Groups:
group_by 'queue', each planned queue released when its roster group (its declared teams at its
site, else its site) reaches min_group_size (privacy.planning_accuracy.planning_groups). The
arithmetic: docs/privacy.md, Planning releases.

Per released queue:
- `offered_contacts@<interval>` for every interval of the week (foundation.intervals): the
  contacts offered in that site-local interval, added over all its occurrences in the window.
  Read from metrics/queue_interval (UTC quarter hours) of the window's days and the day either
  side (a contact's landing day may differ from its site-local day by one), each quarter moved
  to the queue's site time zone and kept when its local day lies in the window.
- `contacts_handled`: the queue's answered contacts over the window (queue_interval, same rule).
- Under `planning.offered: exact` (the works council's decision) both are exact counts: no agent
  field is read, so removing one agent's records changes neither (sensitivity 0); published
  with ci_low = ci_high = value, noise_scale 0, at no budget. Under `noisy`: the answered
  counts are each agent's agent_queue_day contacts clipped over all queues to
  bounds.contacts_handled, and the offered counts add to the (agentless) abandoned contacts each
  agent's answered contacts per interval cell, clipped to offered_bounds.per_interval per cell
  and to per_window over the window (L2 sensitivity sqrt(k b^2 + r^2)); OpenDP Gaussian noise.
- `handle_seconds`, `acw_seconds` (agents' work, always noisy): each agent's window totals per
  queue from metrics/agent_queue_day, clipped over all released queues together to the bound
  (queues in name order, each takes what is left of the bound), so one agent moves the queue
  vector by at most the bound in L1 and L2; OpenDP's Gaussian over the vector (L2 distance).
- `aht_seconds` = handle_seconds / contacts_handled, `average_acw_seconds` = acw_seconds /
  contacts_handled, with the union-bound intervals of privacy.mechanisms (an exact count has no
  interval of its own).
- A counts-only release (`rho: "0"`, under `offered: exact`) publishes the exact offered and
  answered counts alone: no noisy sum, no ratio; the accountant records it with budget 0 and the
  exact mechanism (nothing is drawn).

The rho is split evenly over the noisy parts. Recorded parameters include `queue_sites`
{queue: site}, `queue_teams` {queue: [team]} where declared, `interval_minutes` and `offered`;
the occurrences of each interval follow from the window.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl

from foundation import schema
from foundation.intervals import interval_statistic, week_intervals
from foundation.planning_policy import ANSWERED_STATISTIC, OFFERED_METRIC, PlanningRelease
from foundation.policy import Policy, ReleaseSpec
from foundation.settings import Settings
from privacy.mechanisms import ALPHA_SUM, PINNED_SCALE_WIDENING, NoiseScaleMismatch, ratio_value, sum_value
from privacy.planning_accuracy import offered_scale, part_scales, planned_release, planning_groups
from privacy.release import read_partitions, window_roster
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue

EXACT_MECHANISM = "exact count (policy planning.offered: exact)"
VECTOR_MECHANISM = (
    "Gaussian (zCDP), OpenDP 0.16 integer Gaussian over the queue vector (L2 distance), agent-level, "
    "public queue keys from the policy"
)


def _planned(policy: Policy, spec: ReleaseSpec) -> PlanningRelease:
    planned = planned_release(policy, spec)
    if planned is None:
        raise ValueError(f"{spec.name} is not a planning release of the policy")
    return planned


def mechanism_text(planned: PlanningRelease) -> str:
    """The release's mechanism as recorded: the noisy sums', and what the customers' side got."""
    if planned.figures == "service":
        from privacy.queue_service import SERVICE_MECHANISM

        return SERVICE_MECHANISM
    if planned.counts_only:
        return f"offered and answered contacts: {EXACT_MECHANISM}; no noisy part, no budget"
    if planned.offered == "exact":
        return f"{VECTOR_MECHANISM}; offered and answered contacts: {EXACT_MECHANISM}"
    return f"{VECTOR_MECHANISM}; offered contacts per interval: the same over the interval cells"


# --- the draw: OpenDP's vector Gaussian ----------------------------------------------------------


def gaussian_vector(sensitivity: float, rho: float, name: str) -> tuple[Any, float]:
    """OpenDP's integer Gaussian over a vector of any length whose L2 sensitivity is `sensitivity`,
    its scale the analytic sensitivity / sqrt(2 rho) (widened by a rounding error if OpenDP's
    privacy map needs it); refuses a measurement that would spend more than rho."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    analytic = sensitivity / math.sqrt(2 * rho)
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=float)
    for widen in PINNED_SCALE_WIDENING:
        measurement = dp.m.make_gaussian(*space, scale=analytic * widen)
        if measurement.map(float(sensitivity)) <= rho:
            return measurement, analytic * widen
    raise NoiseScaleMismatch(f"{name}: OpenDP spends more than rho={rho} at the analytic scale {analytic}")


def clip_over_keys(contributions: pl.DataFrame, keys: list[str], value: str, bound: int) -> pl.DataFrame:
    """Each agent's `value` over the keys (in `keys` order) clipped so that the agent's total is at
    most `bound`: each key takes what is left of the bound. One row per agent per key in, the same out."""
    order = {k: i for i, k in enumerate(keys)}
    ranked = contributions.with_columns(pl.col("_key").replace_strict(order, return_dtype=pl.Int64).alias("_rank"))
    ranked = ranked.sort("agent_pseudonym", "_rank")
    before = pl.col(value).cum_sum().over("agent_pseudonym") - pl.col(value)
    left = (pl.lit(bound) - before).clip(lower_bound=0)
    return ranked.with_columns(pl.min_horizontal(pl.col(value), left).alias(value)).drop("_rank")


def noisy_vector(
    totals: dict[str, int], keys: list[str], sensitivity: float, rho: float, name: str
) -> tuple[dict[str, float], float]:
    """The keys' totals with OpenDP Gaussian noise, and the noise scale."""
    measurement, scale = gaussian_vector(sensitivity, rho, name)
    noisy = measurement([int(totals.get(k, 0)) for k in keys])
    return {k: float(v) for k, v in zip(keys, noisy, strict=True)}, scale


# --- reading the window ---------------------------------------------------------------------------


def local_intervals(frame: pl.DataFrame, time_column: str, queue_zones: dict[str, str], minutes: int) -> pl.DataFrame:
    """Rows with a UTC timestamp, given each queue's site time zone: adds the site-local `local_day`
    and the statistic suffix `interval` ('mon-09:30') of the row's interval of the week."""
    parts = []
    for zone in sorted(set(queue_zones.values())):
        queues = [q for q, z in queue_zones.items() if z == zone]
        local = pl.col(time_column).dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
        minute = local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)
        start = minute - minute % minutes
        label = pl.format(
            "{}-{}:{}",
            (local.dt.weekday() - 1).replace_strict(dict(enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun")))),
            (start // 60).cast(pl.String).str.zfill(2),
            (start % 60).cast(pl.String).str.zfill(2),
        )
        parts.append(
            frame.filter(pl.col("queue").is_in(queues)).with_columns(
                local.dt.date().alias("local_day"), label.alias("interval")
            )
        )
    return pl.concat(parts, how="vertical_relaxed") if parts else frame.clear()


def _around(days: list[dt.date]) -> list[dt.date]:
    """The window's days and the day either side (landing days may differ from local days by one)."""
    return [days[0] - dt.timedelta(days=1), *days, days[-1] + dt.timedelta(days=1)]


def groups_from_zones(
    settings: Settings, policy: Policy, spec: ReleaseSpec, days: list[dt.date]
) -> tuple[GroupDecision, ...]:
    """The planned queues' decisions from the window's roster snapshot alone (before any noise)."""
    roster = window_roster(settings, days)
    return () if roster.is_empty() else planning_groups(roster, policy)


def draw_from_zones(settings: Settings, policy: Policy, spec: ReleaseSpec, days: list[dt.date]) -> NoisyRelease:
    """Read the restricted zone for the window and draw the planning release (after the budget check)."""
    planned = _planned(policy, spec)
    roster = window_roster(settings, days)
    if roster.is_empty():
        return NoisyRelease(
            values=(), groups=(), mechanism=mechanism_text(planned), parameters={"note": "no roster snapshot"}
        )
    contacts = None
    if planned.offered == "noisy":
        contacts = read_partitions(settings.lake.table_root(schema.CONTACTS), _around(days))
    return draw_planning_release(
        planned,
        policy,
        roster,
        read_partitions(settings.lake.table_root(schema.QUEUE_INTERVAL), _around(days)),
        read_partitions(settings.lake.table_root(schema.AGENT_QUEUE_DAY), days),
        (days[0], days[-1] + dt.timedelta(days=1)),
        contacts,
        settings.service_level_seconds,
    )


def draw_planning_release(
    planned: PlanningRelease,
    policy: Policy,
    roster: pl.DataFrame,
    queue_interval: pl.DataFrame,
    agent_queue_day: pl.DataFrame,
    window: tuple[dt.date, dt.date],
    contacts: pl.DataFrame | None = None,
    service_level_seconds: int | None = None,
) -> NoisyRelease:
    """Draw one window's planning release (module docstring). Draws fresh noise: call it only
    through the accountant. roster: the window's snapshot (agent_pseudonym, site, site_timezone);
    contacts: the staged contacts of the window and the day either side, needed under offered: noisy.
    service_level_seconds: the threshold queue_interval counted answered_within_threshold at (the
    settings'), recorded with a service release."""
    planning = policy.planning
    assert planning is not None
    decisions = planning_groups(roster, policy)
    released = [d.group_value for d in decisions if d.status == "released"]
    zones = _site_zones(roster)
    queue_zones = {q: zones[planning.queues[q]] for q in released}
    intervals = [i.label for i in week_intervals(planning.interval_minutes)]
    scales = part_scales(planned)
    parameters: dict[str, Any] = {
        "group_by": "queue",
        "public_keys": released,
        "queue_sites": dict(sorted(planning.queues.items())),
        "interval_minutes": planning.interval_minutes,
        "offered": planned.offered,
        "bounds": {m: [0, b] for m, b in planned.bounds.items()},
        "noisy_parts": [*planned.noisy_sums, *([OFFERED_METRIC] if planned.offered == "noisy" else [])],
        "rho_per_part": str(planned.rho_per_part),
        "alpha": ALPHA_SUM,
    }
    if planning.queue_teams:  # the groups: each queue's declared teams at its site
        parameters["queue_teams"] = {q: list(t) for q, t in sorted(planning.queue_teams.items())}
    if planned.offered == "exact":
        parameters["exact"] = {"statistics": [f"{OFFERED_METRIC}@*", ANSWERED_STATISTIC], "rho": "0"}
    quarters = _in_window(
        local_intervals(queue_interval, "interval_start_utc", queue_zones, planning.interval_minutes), window
    )
    parameters["queues_not_planned"] = _not_planned(queue_interval, planning.queues)
    if planned.figures == "service":  # a queue's service figures instead (privacy.queue_service)
        from privacy.queue_service import draw_service_release

        parameters["service_level_seconds"] = service_level_seconds
        return draw_service_release(planned, policy, roster, quarters, parameters)
    if not released:
        return NoisyRelease(values=(), groups=decisions, mechanism=mechanism_text(planned), parameters=parameters)
    answered = _totals(quarters, ["queue"], "answered")
    offered = _totals(quarters, ["queue", "interval"], "offered")
    rho = float(planned.rho_per_part)
    sums: dict[str, dict[str, float]] = {}
    work = (
        agent_queue_day.filter(pl.col("queue").is_in(released)) if not agent_queue_day.is_empty() else agent_queue_day
    )
    for metric in planned.noisy_sums:
        totals = _clipped_totals(work, released, metric, planned.bounds[metric])
        sums[metric], scales[metric] = noisy_vector(
            totals, released, planned.bounds[metric], rho, f"{planned.spec.name}.{metric}"
        )
    if ANSWERED_STATISTIC not in sums:
        sums[ANSWERED_STATISTIC] = {q: float(answered.get((q,), 0)) for q in released}
    cells = [(q, i) for q in released for i in intervals]
    if planned.offered == "noisy":
        assert contacts is not None and planned.offered_bounds is not None
        cell_totals = _noisy_offered_inputs(quarters, contacts, queue_zones, planning.interval_minutes, window, planned)
        keys = [f"{q}|{i}" for q, i in cells]
        noisy, offered_sigma = noisy_vector(
            cell_totals, keys, planned.offered_bounds.l2_sensitivity, rho, f"{planned.spec.name}.offered"
        )
        parameters["offered_l2_sensitivity"] = planned.offered_bounds.l2_sensitivity
        offered_values = {(q, i): noisy[f"{q}|{i}"] for q, i in cells}
        assert math.isclose(offered_sigma, offered_scale(planned), rel_tol=1e-9)
    else:
        offered_sigma = 0.0
        offered_values = {(q, i): float(offered.get((q, i), 0)) for q, i in cells}
    parameters["noise_scales"] = {m: scales[m] for m in planned.noisy_sums} | (
        {OFFERED_METRIC: offered_sigma} if planned.offered == "noisy" else {}
    )
    values: list[PublishedValue] = []
    for q in released:
        for interval in week_intervals(planning.interval_minutes):
            name = interval_statistic(OFFERED_METRIC, interval)
            values.append(_value(q, name, offered_values[(q, interval.label)], offered_sigma))
        parts = {m: sums[m][q] for m in planned.published_sums}
        for metric in planned.published_sums:
            values.append(_value(q, metric, parts[metric], scales[metric]))
        for ratio in planned.spec.ratios:
            values.append(ratio_value(q, ratio, parts, scales))
    return NoisyRelease(
        values=tuple(values), groups=decisions, mechanism=mechanism_text(planned), parameters=parameters
    )


def _value(group: str, statistic: str, value: float, scale: float) -> PublishedValue:
    """A noisy sum with its interval (mechanisms.sum_value), or an exact count (scale 0) as it is."""
    if scale > 0:
        return sum_value(group, statistic, value, scale)
    return PublishedValue(group, statistic, value, value, value, 0.0, "published")


def _site_zones(roster: pl.DataFrame) -> dict[str, str]:
    """Each site's time zone in the roster (the most frequent, ties to the first by name)."""
    counts = roster.group_by("site", "site_timezone").agg(pl.len().alias("n"))
    zones: dict[str, str] = {}
    for row in counts.sort(["site", "n", "site_timezone"], descending=[False, True, False]).iter_rows(named=True):
        zones.setdefault(str(row["site"]), str(row["site_timezone"]))
    return zones


def _in_window(frame: pl.DataFrame, window: tuple[dt.date, dt.date]) -> pl.DataFrame:
    if frame.is_empty():
        return frame
    return frame.filter((pl.col("local_day") >= window[0]) & (pl.col("local_day") < window[1]))


def _totals(frame: pl.DataFrame, keys: list[str], value: str) -> dict[tuple[str, ...], int]:
    if frame.is_empty():
        return {}
    out = frame.group_by(keys).agg(pl.col(value).sum())
    return {tuple(str(r[k]) for k in keys): int(r[value]) for r in out.iter_rows(named=True)}


def _not_planned(queue_interval: pl.DataFrame, queues: dict[str, str]) -> dict[str, int]:
    """Contacts offered to queues the policy does not plan, per queue (read from the data around the window)."""
    if queue_interval.is_empty():
        return {}
    other = queue_interval.filter(~pl.col("queue").is_in(list(queues)))
    return {k[0]: v for k, v in sorted(_totals(other, ["queue"], "offered").items())}


def _clipped_totals(work: pl.DataFrame, released: list[str], metric: str, bound: int) -> dict[str, int]:
    """Per queue: the sum over agents of their window totals, each agent's clipped over the queues to the bound."""
    if work.is_empty():
        return {}
    per_agent = work.group_by("agent_pseudonym", "queue").agg(pl.col(metric).sum().cast(pl.Int64))
    clipped = clip_over_keys(per_agent.rename({"queue": "_key"}), released, metric, bound)
    return {
        str(r["_key"]): int(r[metric]) for r in clipped.group_by("_key").agg(pl.col(metric).sum()).iter_rows(named=True)
    }


def _noisy_offered_inputs(
    quarters: pl.DataFrame,
    contacts: pl.DataFrame,
    queue_zones: dict[str, str],
    minutes: int,
    window: tuple[dt.date, dt.date],
    planned: PlanningRelease,
) -> dict[str, int]:
    """Per 'queue|interval' cell: the abandoned contacts (no agent) plus each agent's answered
    contacts, clipped to per_interval per cell and to per_window over the window."""
    assert planned.offered_bounds is not None
    cells: dict[str, int] = {}
    for (queue, interval), n in _totals(quarters, ["queue", "interval"], "abandoned").items():
        cells[f"{queue}|{interval}"] = n
    answered = contacts.filter(pl.col("agent_pseudonym").is_not_null() & ~pl.col("abandoned"))
    answered = _in_window(local_intervals(answered, "initiation_ts", queue_zones, minutes), window)
    if answered.is_empty():
        return cells
    per_cell = answered.group_by("agent_pseudonym", "queue", "interval").agg(pl.len().cast(pl.Int64).alias("n"))
    per_cell = per_cell.with_columns(
        pl.col("n").clip(upper_bound=planned.offered_bounds.per_interval),
        pl.format("{}|{}", "queue", "interval").alias("_key"),
    )
    keys = sorted(per_cell["_key"].unique().to_list())
    clipped = clip_over_keys(
        per_cell.select("agent_pseudonym", "_key", "n"), keys, "n", planned.offered_bounds.per_window
    )
    for row in clipped.group_by("_key").agg(pl.col("n").sum()).iter_rows(named=True):
        cells[str(row["_key"])] = cells.get(str(row["_key"]), 0) + int(row["n"])
    return cells
