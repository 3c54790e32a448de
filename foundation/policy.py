"""The privacy policy: the works agreement as code, loaded and checked strictly.

A bad key or value is an error that names it. Budgets are exact `Fraction`s parsed from
decimal strings, so that sums of many small spends never drift (Tumult's budget classes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from foundation import schema
from foundation.budget import Budget, BudgetUnit
from foundation.desktop_rules import DesktopRules
from foundation.exact import canonical_json, fraction_text
from foundation.policy_keys import BOUNDS_SUGGESTION, RATIO, RELEASE, RETENTION_DAYS, TOP_LEVEL
from foundation.policy_values import PolicyError
from foundation.policy_values import count as _count
from foundation.policy_values import no_unknown as _no_unknown
from foundation.policy_values import optional_fraction as _optional_fraction
from foundation.policy_values import positive_fraction as _positive_fraction
from foundation.policy_values import require as _require
from foundation.status_names import StatusNameKeywords, parse_status_name_keywords
from foundation.survey_policy import SurveySpec, parse_surveys, survey_release_parts
from foundation.windows import WindowKind, windows_ending_in

if TYPE_CHECKING:
    from foundation.planning_policy import PlanningPolicy

# "center": the one group of all agents of a bounds suggestion (never a release's group_by);
# "queue": the groups of a planning release (foundation.planning_policy).
GroupKind = Literal["team", "site", "center", "queue"]
# zcdp: Gaussian noise, budgets in zCDP rho (the default); pure: Laplace noise, budgets in epsilon.
PrivacyModel = Literal["zcdp", "pure"]
# What happens to a roster group under min_group_size: left out, or pooled with the other small
# groups of its parent (a team's site); the pool is released only if it is large enough itself.
SmallGroups = Literal["suppress", "merge_into_parent"]
# The parent of each kind of group, for small_groups: merge_into_parent (None: no parent).
PARENT_GROUP: dict[str, str | None] = {"team": "site", "site": None, "queue": None}
PRIVACY_MODELS: dict[str, BudgetUnit] = {"zcdp": "rho", "pure": "epsilon"}


@dataclass(frozen=True)
class Ratio:
    """A published ratio of noisy sums, clamped to [0, max] (free post-processing).

    The denominator is one sum, or several joined by " + " as the policy writes them (occupancy =
    handle_seconds / handle_seconds + available_idle_seconds); `denominator_parts` lists them.
    """

    name: str
    numerator: str
    denominator: str
    max: float

    @property
    def denominator_parts(self) -> tuple[str, ...]:
        return denominator_parts(self.denominator)

    @property
    def parts(self) -> tuple[str, ...]:
        """The distinct sums the ratio is computed from: the numerator, then the denominator's others."""
        return tuple(dict.fromkeys((self.numerator, *self.denominator_parts)))


def denominator_parts(text: str) -> tuple[str, ...]:
    """The sums of a ratio's denominator as the policy writes it: "a" or "a + b"."""
    return tuple(part.strip() for part in text.split("+"))


@dataclass(frozen=True)
class ReleaseSpec:
    """One permitted release: which sums of which groups over which windows, at what cost."""

    name: str
    purpose: str
    group_by: GroupKind
    window: WindowKind
    rho: Fraction
    sums: dict[str, int]  # metric column of agent_day -> clipping bound per agent per window
    ratios: tuple[Ratio, ...]
    # Declared typical value per agent per window of a sum (domain knowledge, never the data);
    # a sum without one is assumed to be typically half its bound (see typical_value).
    typical: dict[str, float] = field(default_factory=dict)
    # This release's limit on the predicted relative 95% half-width; None: the policy's.
    max_relative_half_width: Fraction | None = None
    # Under the policy's privacy_model "pure": the release's epsilon (Laplace noise); `rho` then holds
    # its zCDP equivalent epsilon^2 / 2 (Bun and Steinke 2016, Prop. 1.4), for information only.
    privacy_model: PrivacyModel = "zcdp"
    epsilon: Fraction | None = None
    # This release's limit on corrections per window; None: the policy's.
    max_corrections_per_window: int | None = None
    # The share of the release's budget spent on the clipping check: a noisy count, per sum and
    # group, of the agents whose window total exceeded the sum's bound (docs/privacy.md, The
    # clipping check). The release's own key, else the policy's; None: no clipping check.
    clipping_check_share: Fraction | None = None
    # Set on the spec of a bounds suggestion (Policy.bounds_suggestion_spec): the release it suggests
    # bounds for. None on a release of the policy.
    bounds_suggestion_for: str | None = None
    # Set on the spec of a survey release (Policy.survey_release_spec): the survey it publishes. Its
    # `sums` are the survey's noisy parts with their sensitivities (foundation.survey_policy).
    survey_id: str | None = None

    @property
    def budget_unit(self) -> BudgetUnit:
        return PRIVACY_MODELS[self.privacy_model]

    @property
    def budget(self) -> Budget:
        """What one window of this release costs each agent, in its unit (rho, or epsilon under pure DP)."""
        if self.privacy_model == "pure":
            assert self.epsilon is not None
            return Budget("epsilon", self.epsilon)
        return Budget("rho", self.rho)

    @property
    def sums_budget(self) -> Budget:
        """The part of the budget the noisy sums share: all of it, less the clipping check's share."""
        share = self.clipping_check_share or Fraction(0)
        return self.budget * (1 - share)

    @property
    def clipping_check_budget(self) -> Budget | None:
        """The part of the budget the over-bound counts share (one count per sum); None: no check."""
        return None if self.clipping_check_share is None else self.budget * self.clipping_check_share

    def typical_value(self, metric: str) -> float:
        """Typical window total of one agent for a sum: the declared value, else half the bound."""
        return self.typical.get(metric, self.sums[metric] / 2)

    def windows_ending_in(self, first_day: dt.date, end_day: dt.date) -> list[tuple[dt.date, dt.date]]:
        """This release's windows [start, end) whose last day lies in [first_day, end_day)."""
        return windows_ending_in(self.window, first_day, end_day)


# Bounds suggestions: the name prefix of their release-like keys, and the defaults of the policy key.
BOUNDS_SUGGESTION_PREFIX = "bounds_suggestion:"
DEFAULT_BOUNDS_MAX_FACTOR = 4


@dataclass(frozen=True)
class BoundsSuggestion:
    """What a DP suggestion of clipping bounds may cost (policy key `bounds_suggestion`).

    quantile: the share of agents whose window total the suggested bound should cover.
    budget: what one suggestion (all sums of one release, one window) costs each agent, in the
    policy's unit. max_factor: the public candidate grid reaches max_factor x the current bound.
    """

    quantile: Fraction
    budget: Budget
    max_factor: int = DEFAULT_BOUNDS_MAX_FACTOR


@dataclass(frozen=True)
class Policy:
    version: int
    privacy_unit: str
    accounting_period: Literal["month"]
    # The cap per agent per accounting period, in the policy's unit (policy key budget_cap_rho or
    # budget_cap_epsilon, by privacy_model).
    budget_cap: Budget
    report_delta: Fraction
    min_group_size: int
    group_assignment: Literal["first_day"]
    retention_days: dict[str, int]
    desktop_app_categories: dict[str, tuple[str, ...]]
    releases: tuple[ReleaseSpec, ...]
    sha256: str
    desktop_url_categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    desktop_title_keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Refuse a release whose predicted relative 95% half-width (planner) exceeds this; None: no limit.
    max_relative_half_width: Fraction | None = None
    # "pure": pure DP, Laplace noise, budgets in epsilon; "zcdp": Gaussian noise, budgets in rho.
    privacy_model: PrivacyModel = "zcdp"
    small_groups: SmallGroups = "suppress"
    # How often a published window may be re-released as a correction when its metrics were
    # recomputed after publication (late data); each correction costs the release's budget again.
    max_corrections_per_window: int = 0
    # The cap per agent on any rolling year (the 12 calendar months ending with any period), in the
    # policy's unit (optional key budget_cap_year_rho or budget_cap_year_epsilon); None: no yearly cap,
    # the monthly cap alone bounds a year at 12 times itself.
    budget_cap_year: Budget | None = None
    # The budget and quantile of `teamlens plan --suggest-bounds`; None: suggestions are not permitted.
    bounds_suggestion: BoundsSuggestion | None = None
    status_name_keywords: StatusNameKeywords = field(default_factory=StatusNameKeywords)
    # The `planning:` block (foundation.planning_policy): planned queues and planning releases; None: none.
    planning: PlanningPolicy | None = None
    # Pulse surveys (foundation.survey_policy); each is released per team and site under the same budget.
    surveys: tuple[SurveySpec, ...] = ()

    @property
    def budget_unit(self) -> BudgetUnit:
        return PRIVACY_MODELS[self.privacy_model]

    def survey(self, survey_id: str) -> SurveySpec:
        """The survey of that id; refuses one the policy does not declare."""
        for s in self.surveys:
            if s.survey_id == survey_id:
                return s
        raise PolicyError(f"survey {survey_id!r} is not declared by policy version {self.version}")

    def survey_release_spec(self, survey: SurveySpec, group_by: str) -> ReleaseSpec:
        """The release-like spec of one group kind of a survey: charged, stored and recorded in the
        ledger like a release (privacy.surveys), under the name survey:<id>:<team or site>."""
        budget = survey.budget_per_group_kind
        return ReleaseSpec(
            name=survey.release_name(group_by),
            purpose=survey.purpose,
            group_by="team" if group_by == "team" else "site",
            window=survey.window,
            rho=budget.amount if budget.unit == "rho" else budget.amount * budget.amount / 2,
            sums=survey.parts(),
            ratios=(),
            privacy_model=self.privacy_model,
            epsilon=budget.amount if budget.unit == "epsilon" else None,
            max_corrections_per_window=0,
            survey_id=survey.survey_id,
        )

    def survey_release_specs(self) -> tuple[ReleaseSpec, ...]:
        """Every survey's release specs, team before site."""
        return tuple(self.survey_release_spec(s, g) for s in self.surveys for g in s.group_by)

    def corrections_allowed(self, spec: ReleaseSpec) -> int:
        """Corrections a window of this release may get: its own limit, else the policy's."""
        own = spec.max_corrections_per_window
        return own if own is not None else self.max_corrections_per_window

    def relative_limit(self, spec: ReleaseSpec) -> Fraction | None:
        """The accuracy limit that applies to a release: its own, else the policy's, else None.

        A bounds suggestion has none: it publishes a chosen grid candidate, not a noisy sum.
        """
        if spec.bounds_suggestion_for is not None:
            return None
        return (
            spec.max_relative_half_width if spec.max_relative_half_width is not None else self.max_relative_half_width
        )

    def release(self, name: str) -> ReleaseSpec:
        """The release of that name; refuses one the policy does not list."""
        for r in self.releases:
            if r.name == name:
                return r
        raise PolicyError(
            f"release {name!r} is not permitted by policy version {self.version}; "
            f"permitted: {', '.join(r.name for r in self.releases)}"
        )

    def bounds_suggestion_spec(self, release_name: str) -> ReleaseSpec:
        """The release-like spec of a bounds suggestion for a release: it is charged, stored and
        recorded in the ledger like a release (privacy.accountant), under the name
        `bounds_suggestion:<release>`, for the release's windows, with the one group 'all'."""
        if self.bounds_suggestion is None:
            raise PolicyError(
                f"policy version {self.version} does not permit bounds suggestions (no bounds_suggestion key)"
            )
        spec = self.release(release_name)
        budget = self.bounds_suggestion.budget
        return ReleaseSpec(
            name=BOUNDS_SUGGESTION_PREFIX + spec.name,
            purpose=(
                f"Suggested clipping bounds for {spec.name}: the differentially private "
                f"{fraction_text(self.bounds_suggestion.quantile)} quantile of agents' window totals"
            ),
            group_by="center",
            window=spec.window,
            rho=budget.amount if budget.unit == "rho" else budget.amount * budget.amount / 2,
            sums=dict(spec.sums),
            ratios=(),
            privacy_model=self.privacy_model,
            epsilon=budget.amount if budget.unit == "epsilon" else None,
            max_corrections_per_window=0,
            bounds_suggestion_for=spec.name,
        )

    def budgeted_spec(self, name: str) -> ReleaseSpec:
        """The spec of anything that spends budget under this policy: a release, or a release's
        bounds suggestion (`bounds_suggestion:<release>`)."""
        if name.startswith(BOUNDS_SUGGESTION_PREFIX):
            return self.bounds_suggestion_spec(name.removeprefix(BOUNDS_SUGGESTION_PREFIX))
        planned = None if self.planning is None else self.planning.release(name)
        if planned is not None:
            return planned.spec
        survey = survey_release_parts(name)
        if survey is not None and survey[1] in self.survey(survey[0]).group_by:
            return self.survey_release_spec(self.survey(survey[0]), survey[1])
        return self.release(name)

    def desktop_rules(self) -> DesktopRules:
        """The desktop category rules (foundation.desktop_rules) of the policy's category tables: all
        a desktop ingest job needs of the policy."""
        return DesktopRules.from_tables(
            self.desktop_app_categories, self.desktop_url_categories, self.desktop_title_keywords
        )

    def desktop_category(
        self, app: str | None, title: str | None = None, url: str | None = None, browser: bool = False
    ) -> str:
        """The policy category of a desktop event (DesktopRules.category)."""
        return self.desktop_rules().category(app, title, url, browser)

    def app_category(self, app: str | None) -> str:
        """Category of an application name alone, 'other' when the policy does not list it."""
        return self.desktop_category(app)


# The budget keys of each privacy model: (cap key, per-release key); the other model's keys are refused.
_BUDGET_KEYS: dict[str, tuple[str, str]] = {
    "zcdp": ("budget_cap_rho", "rho"),
    "pure": ("budget_cap_epsilon", "epsilon"),
}
# The optional yearly cap key of each privacy model; the other model's key is refused.
_YEAR_CAP_KEYS: dict[str, str] = {"zcdp": "budget_cap_year_rho", "pure": "budget_cap_year_epsilon"}
# The clipping check's share of a release's budget lies strictly between 0 and this (the sums keep most).
MAX_CLIPPING_CHECK_SHARE = Fraction(1, 2)


def load_policy(path: Path) -> Policy:
    """Load and check the policy file; every error names the offending key."""
    raw_bytes = path.read_bytes()
    try:
        doc = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise PolicyError(f"{path}: expected a mapping at the top level")
    return parse_policy(doc, where=str(path))


def policy_identity(doc: dict[str, Any]) -> str:
    """The policy's identity: sha256 of its parsed content as canonical JSON.

    Comments, key order, quoting and layout of the file do not change it; any changed value does.
    Releases, approvals and the ledger name a policy by it.
    """
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def parse_policy(doc: dict[str, Any], sha256: str | None = None, where: str = "policy") -> Policy:
    """Check a policy document; `sha256` defaults to its identity (policy_identity)."""
    _no_unknown(doc, TOP_LEVEL.allowed(), where)
    model = doc.get("privacy_model", "zcdp")
    if model not in _BUDGET_KEYS:
        raise PolicyError(f"{where}: privacy_model must be 'zcdp' or 'pure', got {model!r}")
    cap_key, year_key = _BUDGET_KEYS[model][0], _YEAR_CAP_KEYS[model]
    other_cap = {k for m, (k, _) in _BUDGET_KEYS.items() if m != model}
    other_year = {k for m, k in _YEAR_CAP_KEYS.items() if m != model}
    for others, use in ((other_cap, cap_key), (other_year, year_key)):
        present = sorted(others & set(doc))
        if present:
            raise PolicyError(f"{where}: {', '.join(present)} does not apply under privacy_model {model!r}; use {use}")
    _require(doc, TOP_LEVEL.required(model), where)
    if doc["privacy_unit"] != "agent":
        raise PolicyError(f"{where}: privacy_unit must be 'agent', got {doc['privacy_unit']!r}")
    if doc["accounting_period"] != "month":
        raise PolicyError(f"{where}: accounting_period must be 'month', got {doc['accounting_period']!r}")
    if doc["group_assignment"] != "first_day":
        raise PolicyError(f"{where}: group_assignment must be 'first_day', got {doc['group_assignment']!r}")
    cap = _positive_fraction(doc[cap_key], f"{where}: {cap_key}")
    year_cap = _optional_fraction(doc, year_key, where)
    if year_cap is not None and year_cap < cap:
        raise PolicyError(
            f"{where}: {year_key} must be at least {cap_key} (a year holds 12 accounting periods), "
            f"got {doc[year_key]!r} < {doc[cap_key]!r}"
        )
    # Pure DP has delta 0; report_delta is only for reporting zCDP spend as (epsilon, delta).
    delta = _positive_fraction(doc["report_delta"], f"{where}: report_delta") if "report_delta" in doc else Fraction(0)
    if delta >= 1:
        raise PolicyError(f"{where}: report_delta must be below 1, got {doc['report_delta']!r}")
    min_size = doc["min_group_size"]
    if not isinstance(min_size, int) or isinstance(min_size, bool) or min_size < 2:
        raise PolicyError(f"{where}: min_group_size must be an integer of at least 2, got {min_size!r}")
    limit = _optional_fraction(doc, "max_relative_half_width", where)
    small_groups = doc.get("small_groups", "suppress")
    if small_groups not in ("suppress", "merge_into_parent"):
        raise PolicyError(f"{where}: small_groups must be 'suppress' or 'merge_into_parent', got {small_groups!r}")
    corrections = _count(doc, "max_corrections_per_window", where)

    retention = doc["retention_days"]
    if not isinstance(retention, dict):
        raise PolicyError(f"{where}: retention_days must be a mapping of zone to days")
    _no_unknown(retention, RETENTION_DAYS.allowed(), f"{where}: retention_days")
    for zone, days in retention.items():
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise PolicyError(f"{where}: retention_days.{zone} must be a positive integer, got {days!r}")

    categories = _category_lists(doc["desktop_app_categories"], "desktop_app_categories", "app names", where)
    url_categories = _category_lists(doc.get("desktop_url_categories", {}), "desktop_url_categories", "hosts", where)
    for category, hosts in url_categories.items():
        for host in hosts:
            if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", host):
                raise PolicyError(
                    f"{where}: desktop_url_categories.{category}: {host!r} is not a host name "
                    "(write example.com, not a URL; it matches its subdomains too)"
                )
    title_keywords = _category_lists(doc.get("desktop_title_keywords", {}), "desktop_title_keywords", "keywords", where)

    releases_doc = doc["releases"]
    if not isinstance(releases_doc, list) or not releases_doc:
        raise PolicyError(f"{where}: releases must be a non-empty list")
    check_share = _clipping_check_share(doc, where)
    releases = tuple(
        _parse_release(r, f"{where}: releases[{i}]", model, check_share) for i, r in enumerate(releases_doc)
    )
    from foundation.planning_policy import parse_planning  # it builds ReleaseSpecs of this module

    planning = parse_planning(doc.get("planning"), model, where)
    names = [r.name for r in releases] + ([r.spec.name for r in planning.releases] if planning else [])
    if len(set(names)) != len(names):
        raise PolicyError(f"{where}: release names must be unique, got {names}")
    statistics = {r.name: {*r.sums, *(x.name for x in r.ratios)} for r in releases}
    surveys = parse_surveys(doc.get("surveys"), where, PRIVACY_MODELS[model], statistics, cap)
    return Policy(
        version=int(doc["policy_version"]),
        privacy_unit="agent",
        accounting_period="month",
        budget_cap=Budget(PRIVACY_MODELS[model], cap),
        report_delta=delta,
        min_group_size=min_size,
        group_assignment="first_day",
        retention_days=dict(retention),
        desktop_app_categories=categories,
        releases=releases,
        sha256=sha256 if sha256 is not None else policy_identity(doc),
        desktop_url_categories=url_categories,
        desktop_title_keywords=title_keywords,
        max_relative_half_width=limit,
        privacy_model=model,
        small_groups=small_groups,
        max_corrections_per_window=0 if corrections is None else corrections,
        budget_cap_year=None if year_cap is None else Budget(PRIVACY_MODELS[model], year_cap),
        bounds_suggestion=_bounds_suggestion(doc.get("bounds_suggestion"), model, cap, where),
        status_name_keywords=parse_status_name_keywords(doc.get("status_name_keywords"), where, PolicyError),
        planning=planning,
        surveys=surveys,
    )


def _bounds_suggestion(doc: Any, model: PrivacyModel, cap: Fraction, where: str) -> BoundsSuggestion | None:
    """The optional `bounds_suggestion` key: quantile in (0, 1), a budget in the model's unit at
    most the monthly cap, and an optional integer max_factor of at least 2."""
    if doc is None:
        return None
    where = f"{where}: bounds_suggestion"
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}: expected a mapping with quantile and {_BUDGET_KEYS[model][1]}")
    _no_unknown(doc, BOUNDS_SUGGESTION.allowed(), where)
    budget_key = _BUDGET_KEYS[model][1]
    other = sorted({k for m, (_, k) in _BUDGET_KEYS.items() if m != model} & set(doc))
    if other:
        raise PolicyError(f"{where}: {', '.join(other)} does not apply under privacy_model {model!r}; use {budget_key}")
    _require(doc, BOUNDS_SUGGESTION.required(model), where)
    quantile = _positive_fraction(doc["quantile"], f"{where}: quantile")
    if quantile >= 1:
        raise PolicyError(f"{where}: quantile must be below 1, got {doc['quantile']!r}")
    budget = _positive_fraction(doc[budget_key], f"{where}: {budget_key}")
    if budget > cap:
        raise PolicyError(f"{where}: {budget_key} {doc[budget_key]!r} exceeds the monthly cap; it could never be spent")
    factor = doc.get("max_factor", DEFAULT_BOUNDS_MAX_FACTOR)
    if not isinstance(factor, int) or isinstance(factor, bool) or factor < 2:
        raise PolicyError(f"{where}: max_factor must be an integer of at least 2, got {factor!r}")
    return BoundsSuggestion(quantile=quantile, budget=Budget(PRIVACY_MODELS[model], budget), max_factor=factor)


def _category_lists(value: Any, key: str, what: str, where: str) -> dict[str, tuple[str, ...]]:
    """A desktop category table: known category -> non-empty lower-case strings."""
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: {key} must be a mapping of category to {what}")
    known = [c for c in schema.APP_CATEGORIES if c != "other"]
    out: dict[str, tuple[str, ...]] = {}
    for category, items in value.items():
        if category not in known:
            raise PolicyError(f"{where}: {key}.{category} is not a known category ({', '.join(known)})")
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise PolicyError(f"{where}: {key}.{category} must be a list of non-empty {what}")
        out[category] = tuple(i.strip().lower() for i in items)
    return out


def _parse_release(
    doc: Any, where: str, model: PrivacyModel = "zcdp", clipping_check_share: Fraction | None = None
) -> ReleaseSpec:
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}: expected a mapping")
    _no_unknown(doc, RELEASE.allowed(), where)
    budget_key = _BUDGET_KEYS[model][1]
    other = {k for m, (_, k) in _BUDGET_KEYS.items() if m != model}
    _require(doc, RELEASE.required(model), where)
    where = f"{where} ({doc['name']})"
    present = sorted(other & set(doc))
    if present:
        raise PolicyError(
            f"{where}: {', '.join(present)} does not apply under privacy_model {model!r}; use {budget_key}"
        )
    budget = _positive_fraction(doc[budget_key], f"{where}: {budget_key}")
    if doc["group_by"] not in ("team", "site"):
        raise PolicyError(f"{where}: group_by must be team or site, got {doc['group_by']!r}")
    if doc["window"] not in ("day", "week", "month"):
        raise PolicyError(f"{where}: window must be day, week or month, got {doc['window']!r}")
    sums_doc = doc["sums"]
    if not isinstance(sums_doc, dict) or not sums_doc:
        raise PolicyError(f"{where}: sums must map agent_day metrics to clipping bounds")
    summable = {c.name for c in schema.AGENT_DAY.columns if c.dtype == "long"}
    sums: dict[str, int] = {}
    for metric, bound in sums_doc.items():
        if metric not in summable:
            raise PolicyError(f"{where}: sums.{metric} is not a metric of agent_day ({', '.join(sorted(summable))})")
        if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
            raise PolicyError(f"{where}: sums.{metric} bound must be a positive integer, got {bound!r}")
        sums[metric] = bound
    ratios = []
    for ratio_name, ratio_doc in (doc.get("ratios") or {}).items():
        rwhere = f"{where}: ratios.{ratio_name}"
        if not isinstance(ratio_doc, dict):
            raise PolicyError(f"{rwhere}: expected a mapping")
        _no_unknown(ratio_doc, RATIO.allowed(), rwhere)
        _require(ratio_doc, RATIO.required(model), rwhere)
        for part in ("numerator", "denominator"):
            if not isinstance(ratio_doc[part], str):
                raise PolicyError(f"{rwhere}: {part} must name sums of this release, got {ratio_doc[part]!r}")
        if ratio_doc["numerator"] not in sums:
            raise PolicyError(f"{rwhere}: numerator {ratio_doc['numerator']!r} is not one of this release's sums")
        below = denominator_parts(ratio_doc["denominator"])
        for part in below:
            if part not in sums:
                raise PolicyError(f"{rwhere}: denominator {part!r} is not one of this release's sums")
        if len(set(below)) != len(below) or below == (ratio_doc["numerator"],):
            raise PolicyError(
                f"{rwhere}: denominator {ratio_doc['denominator']!r} must name each sum once, and more than "
                "the numerator alone"
            )
        if not isinstance(ratio_doc["max"], (int, float)) or ratio_doc["max"] <= 0:
            raise PolicyError(f"{rwhere}: max must be a positive number")
        ratios.append(Ratio(ratio_name, ratio_doc["numerator"], " + ".join(below), float(ratio_doc["max"])))
    typical_doc = doc.get("typical") or {}
    if not isinstance(typical_doc, dict):
        raise PolicyError(f"{where}: typical must map sums to a typical value per agent per window")
    typical: dict[str, float] = {}
    for metric, value in typical_doc.items():
        if metric not in sums:
            raise PolicyError(f"{where}: typical.{metric} is not one of this release's sums ({', '.join(sums)})")
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= sums[metric]:
            raise PolicyError(
                f"{where}: typical.{metric} must be a number above 0 and at most its bound {sums[metric]}, "
                f"got {value!r}"
            )
        typical[metric] = float(value)
    return ReleaseSpec(
        name=str(doc["name"]),
        purpose=" ".join(str(doc["purpose"]).split()),
        group_by=doc["group_by"],
        window=doc["window"],
        rho=budget if model == "zcdp" else budget * budget / 2,
        sums=sums,
        ratios=tuple(ratios),
        typical=typical,
        max_relative_half_width=_optional_fraction(doc, "max_relative_half_width", where),
        privacy_model=model,
        epsilon=budget if model == "pure" else None,
        max_corrections_per_window=_count(doc, "max_corrections_per_window", where),
        clipping_check_share=_clipping_check_share(doc, where, clipping_check_share),
    )


def _clipping_check_share(doc: dict[str, Any], where: str, default: Fraction | None = None) -> Fraction | None:
    """The optional clipping_check_share: exact text such as "1/20" or "0.05", above 0 and below 1/2."""
    if "clipping_check_share" not in doc:
        return default
    value = doc["clipping_check_share"]
    share = _positive_fraction(value, f"{where}: clipping_check_share")
    if share >= MAX_CLIPPING_CHECK_SHARE:
        raise PolicyError(
            f"{where}: clipping_check_share must be below 1/2 (the sums keep most of the budget), got {value!r}"
        )
    return share
