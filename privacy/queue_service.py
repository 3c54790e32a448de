"""Queue service figures: what a queue achieved over a window, as exact counts of customers' contacts.

A planning release with `figures: service` (foundation.planning_policy; the shipped
`queue_week_service`, per ISO week) publishes per planned queue (group_by 'queue', released when
its roster group, its declared teams at its site or else its site, reaches min_group_size, as
every planning release):

- `offered`, `abandoned`, `contacts_handled` (answered), `answered_within_threshold` (answered
  within the service-level threshold of the settings, recorded as `service_level_seconds`) and
  `answer_wait_seconds` (the answered contacts' waits), the window's totals of
  metrics/queue_interval, each quarter hour placed on its site-local day as privacy.planning does;
- `abandon_rate` = abandoned / offered, `service_level` = answered_within_threshold / offered
  (abandoned contacts count against it) and `asa_seconds` = answer_wait_seconds / answered, as
  queue_day defines them (docs/metrics.md); left out when the denominator is 0.

They are the customers' side, counted without reading an agent field: removing one agent's
records changes none of them (sensitivity 0), so under `planning.offered: exact` (the works
council's decision) they are published as counted, ci_low = ci_high = value, noise scale 0, at no
budget (docs/privacy.md, Planning releases). The parser refuses service figures under `noisy`.
"""

from __future__ import annotations

import polars as pl

from foundation.planning_policy import SERVICE_RATIOS, SERVICE_SUMS, PlanningRelease
from foundation.policy import Policy
from privacy.planning_accuracy import planning_groups
from warehouse.records import NoisyRelease, PublishedValue

SERVICE_MECHANISM = (
    "queue service figures: exact counts of customers' contacts (policy planning.offered: exact); no noise"
)
# queue_interval's column of each published sum.
COLUMNS = {"contacts_handled": "answered"}


def draw_service_release(
    planned: PlanningRelease,
    policy: Policy,
    roster: pl.DataFrame,
    quarters: pl.DataFrame,
    parameters: dict[str, object],
) -> NoisyRelease:
    """The service figures of the released queues. quarters: the window's queue_interval rows with
    their site-local day already applied (privacy.planning); nothing is drawn."""
    assert planned.figures == "service" and planned.offered == "exact"
    decisions = planning_groups(roster, policy)
    released = [d.group_value for d in decisions if d.status == "released"]
    totals: dict[str, dict[str, int]] = {q: dict.fromkeys(SERVICE_SUMS, 0) for q in released}
    if not quarters.is_empty():
        sums = (
            quarters.filter(pl.col("queue").is_in(released))
            .group_by("queue")
            .agg(pl.col(COLUMNS.get(m, m)).sum().alias(m) for m in SERVICE_SUMS)
        )
        for row in sums.iter_rows(named=True):
            totals[str(row["queue"])] = {m: int(row[m] or 0) for m in SERVICE_SUMS}
    values: list[PublishedValue] = []
    for queue in released:
        for metric in SERVICE_SUMS:
            value = float(totals[queue][metric])
            values.append(PublishedValue(queue, metric, value, value, value, 0.0, "published"))
        for ratio in SERVICE_RATIOS:
            denominator = totals[queue][ratio.denominator]
            if denominator > 0:
                quotient = min(ratio.max, totals[queue][ratio.numerator] / denominator)
                values.append(PublishedValue(queue, ratio.name, quotient, quotient, quotient, 0.0, "published"))
    return NoisyRelease(values=tuple(values), groups=decisions, mechanism=SERVICE_MECHANISM, parameters=parameters)
