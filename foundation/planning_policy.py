"""The policy's `planning:` block: which queues are planned, on which interval grid, and what the
planning releases may cost (keys declared in foundation/planning_keys.py; docs/privacy.md,
Planning releases).

A planning release is stored, charged and recorded like every release, so each one carries a
`ReleaseSpec` (group_by 'queue') that the accountant checks like any other: its budget, its
window, its noisy sums (handle_seconds, acw_seconds, and contacts_handled when the customers'
side is noisy) and its ratios (aht_seconds, average_acw_seconds over contacts_handled).

A release with `rho: "0"` publishes the exact counts only (offered contacts per interval and
contacts answered): it has no noisy part, no bounds and no ratios, and costs nothing. It is
allowed only under `offered: exact` (under `noisy` the counts themselves need budget). A release
with `figures: service` publishes a queue's service figures instead (offered, abandoned, answered,
answered within the threshold, answer wait; abandon rate, service level, ASA): exact counts of
customers' contacts, so only with `rho: "0"` under `offered: exact` (privacy/queue_service.py).

Each planned queue names its site, and may name the roster teams that answer it (the workforce
management tool's skill assignment): `Billing Berlin: {site: Berlin, teams: [Berlin-Billing]}`.
The queue's group is then those teams' roster agents at the site, and it is published only when
that group reaches `min_group_size`; a queue given by its site alone counts the whole site.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from foundation.intervals import ALLOWED_INTERVAL_MINUTES
from foundation.planning_keys import PLANNING, PLANNING_RELEASE
from foundation.policy import Ratio, ReleaseSpec
from foundation.policy_values import PolicyError, no_unknown, optional_fraction, positive_fraction, require

OfferedMode = Literal["exact", "noisy"]
FiguresKind = Literal["intervals", "service"]
# A service release's exact sums per queue and window (metrics/queue_interval columns; answered is
# published as contacts_handled) and its ratios, as queue_day defines them (docs/metrics.md).
SERVICE_SUMS = ("offered", "abandoned", "contacts_handled", "answered_within_threshold", "answer_wait_seconds")
SERVICE_RATIOS = (
    Ratio("abandon_rate", "abandoned", "offered", 1.0),
    Ratio("service_level", "answered_within_threshold", "offered", 1.0),
    Ratio("asa_seconds", "answer_wait_seconds", "contacts_handled", 3600.0),
)
# The per-agent sums of a planning release (agent_queue_day columns), in their published order.
PLANNING_SUMS = ("contacts_handled", "handle_seconds", "acw_seconds")
# The customers' side: published exactly under `offered: exact`, with noise under `offered: noisy`.
ANSWERED_STATISTIC = "contacts_handled"
OFFERED_METRIC = "offered_contacts"
PLANNING_RATIOS = (
    Ratio("aht_seconds", "handle_seconds", "contacts_handled", 3600.0),
    Ratio("average_acw_seconds", "acw_seconds", "contacts_handled", 3600.0),
)


@dataclass(frozen=True)
class OfferedBounds:
    """Per-agent bounds of the noisy offered counts: answered contacts per interval cell and per window."""

    per_interval: int
    per_window: int

    @property
    def l2_sensitivity(self) -> float:
        """The most one agent's clipped contributions can move the vector of interval counts (L2):
        at most k = per_window // per_interval cells at per_interval and one at the remainder r, so
        sqrt(k per_interval^2 + r^2)."""
        k, r = divmod(self.per_window, self.per_interval)
        return math.sqrt(k * self.per_interval**2 + r**2)


@dataclass(frozen=True)
class PlanningRelease:
    """One planning release: its ReleaseSpec (what the accountant checks) and its planning facts."""

    spec: ReleaseSpec
    offered: OfferedMode
    bounds: dict[str, int]
    offered_bounds: OfferedBounds | None
    figures: FiguresKind = "intervals"

    @property
    def counts_only(self) -> bool:
        """A release of the exact counts alone (rho 0): no noisy part, nothing charged."""
        return self.spec.rho == 0

    @property
    def published_sums(self) -> tuple[str, ...]:
        """The per-queue sums published, in order: the three planning sums, the answered count alone
        (counts only), or a service release's exact counts."""
        if self.figures == "service":
            return SERVICE_SUMS
        return (ANSWERED_STATISTIC,) if self.counts_only else tuple(self.bounds)

    @property
    def noisy_sums(self) -> tuple[str, ...]:
        """The sums drawn with noise: the agents' work always, the answered counts under `offered: noisy`."""
        return tuple(self.spec.sums)

    @property
    def noisy_parts(self) -> int:
        """The parts the rho is split over evenly: the noisy sums, and the offered counts when noisy."""
        return len(self.noisy_sums) + (1 if self.offered == "noisy" else 0)

    @property
    def rho_per_part(self) -> Fraction:
        """Each noisy part's share of the rho; 0 for a counts-only release (it has no noisy part)."""
        return self.spec.rho / self.noisy_parts if self.noisy_parts else Fraction(0)


@dataclass(frozen=True)
class PlanningPolicy:
    offered: OfferedMode
    interval_minutes: int
    queues: dict[str, str]  # queue -> the site that answers it (public keys of the policy)
    releases: tuple[PlanningRelease, ...]
    # queue -> the roster teams that answer it; a queue not listed is answered by its whole site
    queue_teams: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def release(self, name: str) -> PlanningRelease | None:
        return next((r for r in self.releases if r.spec.name == name), None)

    def site_queues(self, site: str) -> list[str]:
        return sorted(q for q, s in self.queues.items() if s == site)

    def teams_of(self, queue: str) -> tuple[str, ...]:
        """The roster teams declared to answer the queue; empty when its whole site answers it."""
        return self.queue_teams.get(queue, ())

    def queues_sharing_agents(self, queue: str) -> list[str]:
        """The planned queues whose declared answering agents overlap the queue's (itself included):
        the same site, and either of the two answered by the whole site or a team in common."""
        site, teams = self.queues[queue], set(self.teams_of(queue))
        return [q for q in self.site_queues(site) if not teams or not self.teams_of(q) or teams & set(self.teams_of(q))]


def parse_planning(doc: Any, model: str, where: str) -> PlanningPolicy | None:
    """The `planning:` block (None when absent); every error names the offending key."""
    if doc is None:
        return None
    where = f"{where}: planning"
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}: expected a mapping")
    if model != "zcdp":
        raise PolicyError(f"{where}: planning releases use Gaussian noise and need privacy_model 'zcdp'")
    no_unknown(doc, PLANNING.allowed(), where)
    require(doc, PLANNING.required(model), where)
    offered = doc["offered"]
    if offered not in ("exact", "noisy"):
        raise PolicyError(f"{where}: offered must be 'exact' or 'noisy', got {offered!r}")
    minutes = doc.get("interval_minutes", 30)
    if minutes not in ALLOWED_INTERVAL_MINUTES or isinstance(minutes, bool):
        raise PolicyError(f"{where}: interval_minutes must be one of {ALLOWED_INTERVAL_MINUTES}, got {minutes!r}")
    queue_sites, queue_teams = _queues(doc["queues"], where)
    releases_doc = doc["releases"]
    if not isinstance(releases_doc, list) or not releases_doc:
        raise PolicyError(f"{where}: releases must be a non-empty list")
    releases = tuple(_release(r, offered, f"{where}: releases[{i}]") for i, r in enumerate(releases_doc))
    return PlanningPolicy(offered, int(minutes), queue_sites, releases, queue_teams)


def _queues(doc: Any, where: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """`planning.queues`: each queue's site, and the teams that answer it where declared."""
    if not isinstance(doc, dict) or not doc:
        raise PolicyError(f"{where}: queues must map each queue name to its site")
    sites: dict[str, str] = {}
    teams: dict[str, tuple[str, ...]] = {}
    for queue, value in doc.items():
        if not isinstance(queue, str) or not queue.strip():
            raise PolicyError(f"{where}: queues: a queue name must be a non-empty name, got {queue!r}")
        here = f"{where}: queues.{queue}"
        if isinstance(value, dict):
            no_unknown(value, {"site", "teams"}, here)
            require(value, {"site", "teams"}, here)
            site, listed = value["site"], value["teams"]
            if not isinstance(listed, list) or not listed:
                raise PolicyError(f"{here}: teams must be a non-empty list of roster team names, got {listed!r}")
            if not all(isinstance(t, str) and t.strip() for t in listed) or len(set(listed)) != len(listed):
                raise PolicyError(f"{here}: teams must be distinct non-empty roster team names, got {listed!r}")
            teams[queue] = tuple(str(t) for t in listed)
        else:
            site = value
        if not isinstance(site, str) or not site.strip():
            raise PolicyError(f"{here}: the site must be a non-empty name, got {site!r}")
        sites[queue] = site
    return sites, teams


def _release(doc: Any, offered: OfferedMode, where: str) -> PlanningRelease:
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}: expected a mapping")
    no_unknown(doc, PLANNING_RELEASE.allowed(), where)
    require(doc, PLANNING_RELEASE.required("zcdp"), where)
    where = f"{where} ({doc['name']})"
    if doc["window"] not in ("week", "month"):
        raise PolicyError(f"{where}: window must be week or month, got {doc['window']!r}")
    figures = doc.get("figures", "intervals")
    if figures not in ("intervals", "service"):
        raise PolicyError(f"{where}: figures must be 'intervals' or 'service', got {figures!r}")
    if figures == "service" and (offered != "exact" or doc["rho"] != "0"):
        raise PolicyError(
            f'{where}: service figures are published as exact counts only: they need offered: exact and rho "0"'
        )
    rho = _rho(doc["rho"], offered, f"{where}: rho")
    if rho == 0:
        return _counts_only(doc, where, figures)
    if "bounds" not in doc:
        raise PolicyError(f"{where}: missing key(s) bounds (a release with a rho above 0 draws noisy sums)")
    bounds_doc = doc["bounds"]
    if not isinstance(bounds_doc, dict) or set(bounds_doc) != set(PLANNING_SUMS):
        raise PolicyError(f"{where}: bounds must give {', '.join(PLANNING_SUMS)}, got {bounds_doc!r}")
    bounds = {m: _positive_int(bounds_doc[m], f"{where}: bounds.{m}") for m in PLANNING_SUMS}
    noisy = [m for m in PLANNING_SUMS if m != ANSWERED_STATISTIC or offered == "noisy"]
    typical_doc = doc.get("typical") or {}
    if not isinstance(typical_doc, dict):
        raise PolicyError(f"{where}: typical must map sums to a typical value per agent per window")
    typical: dict[str, float] = {}
    for metric, value in typical_doc.items():
        if metric not in bounds or isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(f"{where}: typical.{metric} must be a number for one of {', '.join(PLANNING_SUMS)}")
        if not 0 < value <= bounds[metric]:
            raise PolicyError(f"{where}: typical.{metric} must lie above 0 and at most its bound {bounds[metric]}")
        typical[metric] = float(value)
    offered_bounds = None
    if offered == "noisy":
        ob = doc.get("offered_bounds")
        if not isinstance(ob, dict) or set(ob) != {"per_interval", "per_window"}:
            raise PolicyError(f"{where}: offered_bounds {{per_interval, per_window}} is required under offered: noisy")
        per_interval = _positive_int(ob["per_interval"], f"{where}: offered_bounds.per_interval")
        per_window = _positive_int(ob["per_window"], f"{where}: offered_bounds.per_window")
        if per_interval > per_window:
            raise PolicyError(f"{where}: offered_bounds.per_interval must be at most per_window")
        offered_bounds = OfferedBounds(per_interval, per_window)
    spec = ReleaseSpec(
        name=str(doc["name"]),
        purpose=" ".join(str(doc["purpose"]).split()),
        group_by="queue",
        window=doc["window"],
        rho=rho,
        sums={m: bounds[m] for m in noisy},
        ratios=PLANNING_RATIOS,
        typical=typical,
        max_relative_half_width=optional_fraction(doc, "max_relative_half_width", where),
        max_corrections_per_window=0,
        clipping_check_share=None,
    )
    return PlanningRelease(spec, offered, bounds, offered_bounds)


def _rho(value: Any, offered: OfferedMode, where: str) -> Fraction:
    """The release's rho: above 0, or "0" for a counts-only release (only under offered: exact)."""
    if value != "0":
        return positive_fraction(value, where)
    if offered != "exact":
        raise PolicyError(f'{where}: "0" publishes the exact counts only and needs offered: exact')
    return Fraction(0)


def _counts_only(doc: dict[str, Any], where: str, figures: FiguresKind) -> PlanningRelease:
    """A rho-0 release: exact counts (per interval, or a service release's), no noisy sum, no bounds."""
    extra = sorted(k for k in ("bounds", "typical", "offered_bounds", "max_relative_half_width") if k in doc)
    if extra:
        raise PolicyError(f'{where}: a release with rho "0" publishes exact counts only; remove {", ".join(extra)}')
    spec = ReleaseSpec(
        name=str(doc["name"]),
        purpose=" ".join(str(doc["purpose"]).split()),
        group_by="queue",
        window=doc["window"],
        rho=Fraction(0),
        sums={},
        ratios=(),
        max_corrections_per_window=0,
        clipping_check_share=None,
    )
    return PlanningRelease(spec, "exact", {}, None, figures)


def _positive_int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PolicyError(f"{where} must be a positive integer, got {value!r}")
    return value
