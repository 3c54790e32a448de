"""The accuracy planner: how precise each permitted release will be, and what it costs, before any noise.

For each release of the policy and each group of a roster, it predicts from public facts only
(the policy and the roster's group sizes; never the metric data, see docs/privacy.md, Mechanisms
and scales):

- the Gaussian noise scale of each noisy sum: `mechanisms.expected_noise_scale`, the same analytic
  sigma = bound / sqrt(2 rho / sums) that the release pins OpenDP's calibration to, with rho the
  sums' part of the budget (less the clipping check's share, `ReleaseSpec.sums_budget`);
- the 95% half-width of each sum: `mechanisms.half_width(sigma, 0.05)`, the half-width the published
  interval will have (OpenDP's discrete Gaussian accuracy, about ceil(1.959964 sigma + 1/2));
- the relative half-width at typical values: half-width / (typical per agent x agents in the
  group). The typical value per agent per window is the one the release declares in the policy
  (`typical:`, domain knowledge signed with the policy, like the bounds) or else half the sum's
  clipping bound;
- for a ratio S/N, the relative half-width of the union-bound interval the release publishes,
  [(S - a_S)/(N + a_N), (S + a_S)/(N - a_N)] with 97.5% half-widths a_S, a_N: with r = a / typical
  sum for each part, its wider side lies (r_S + r_N) / (1 - r_N) above S/N, and when r_N >= 1 the
  ratio would be published as too noisy (infinite relative half-width). A ratio of more sums
  (occupancy) is predicted with the same function the release uses (`mechanisms.ratio_interval`)
  at typical values, its wider side relative to the typical quotient.

Groups below the policy's minimum group size (roster sizes, exactly as `groups.decide_groups`
decides) are shown as suppressed. A release's predicted relative half-width is the largest over
the statistics of its published groups (the smallest group's, as all groups share one sigma);
when it exceeds the policy's `max_relative_half_width` (or the release's own) the accountant
refuses the release before any noise is drawn or budget spent (privacy.accountant).

Budget per accounting period (calendar month): the release's budget times the most windows that
can touch one month (31 days, 6 ISO weeks, 1 month; a window spanning two months is charged in
full to both), as (epsilon, delta) at the policy's report_delta with OpenDP's conversion (as the
ledger reports it) and Bun and Steinke's formula for comparison; the total over all releases is
compared with budget_cap_rho. Loss adds up over the months (the privacy unit is one agent's records
within one month): a full year of the policy's releases costs at most 12 times the worst month,
shown with its epsilon and compared with the yearly cap (budget_cap_year_rho) when the policy
sets one.

Under the policy's `privacy_model: pure` the noise is (discrete) Laplace with scale
b = bound * sums / epsilon, half-widths come from OpenDP's discrete Laplace accuracy, budgets are
epsilon (pure DP composes by adding epsilons) and the total per period is compared with
budget_cap_epsilon, the yearly total with budget_cap_year_epsilon. Every budget of a plan is a
`Budget`, so it names its unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from foundation.budget import Budget, BudgetUnit, sum_budgets
from foundation.exact import fraction_text
from foundation.policy import Policy, ReleaseSpec
from foundation.windows import MONTHS_PER_YEAR, WindowKind
from privacy.groups import decide_groups
from privacy.mechanisms import (
    ALPHA_SUM,
    NOISE_DISTRIBUTION,
    expected_noise_scale,
    expected_over_bound_scale,
    half_width,
    ratio_interval,
    ratio_part_alpha,
    rho_to_epsilon,
    rho_to_epsilon_opendp,
)
from warehouse.records import GroupDecision

if TYPE_CHECKING:
    import polars as pl

    from foundation.planning_policy import PlanningRelease


# The most windows of a kind that touch one calendar month (a 31-day month spans parts of 6 ISO weeks).
WINDOWS_PER_PERIOD: dict[WindowKind, int] = {"day": 31, "week": 6, "month": 1}

Verdict = Literal["ok", "over_limit", "too_noisy", "suppressed", "merged"]
VERDICT_TEXT: dict[Verdict, str] = {
    "ok": "ok",
    "over_limit": "refused: over limit",
    "too_noisy": "too noisy (no limit set)",
    "suppressed": "suppressed: group too small",
    "merged": "merged: counted in its site's pool",
}


@dataclass(frozen=True)
class StatisticPlan:
    """The predicted accuracy of one statistic of one group."""

    group_value: str
    roster_size: int
    statistic: str
    kind: Literal["sum", "ratio"]
    noise_scale: float | None  # Gaussian sigma of a sum; None for ratios and suppressed groups
    half_width: float | None  # 95% half-width (a ratio: its wider side) at typical values; None if none
    typical: float | None  # typical group value: typical per agent x agents (sums), their quotient (ratios)
    relative_half_width: float | None  # half_width / typical; math.inf when too noisy; None if suppressed
    verdict: Verdict


@dataclass(frozen=True)
class AccuracyPlan:
    """The predicted accuracy of one release for a roster, and whether the policy's limit refuses it."""

    release_name: str
    limit: Fraction | None
    groups: tuple[GroupDecision, ...]
    rows: tuple[StatisticPlan, ...]

    @property
    def worst(self) -> StatisticPlan | None:
        """The published statistic with the largest predicted relative half-width (None: nothing published)."""
        published = [r for r in self.rows if r.relative_half_width is not None]
        return max(published, key=lambda r: r.relative_half_width or 0.0) if published else None

    @property
    def refused(self) -> bool:
        return any(r.verdict == "over_limit" for r in self.rows)

    def reason(self) -> str:
        worst = self.worst
        if worst is None:
            return "no group is published"
        if self.limit is None:
            against = "no limit set"
        else:
            against = f"{'over' if self.refused else 'within'} the limit {_percent(float(self.limit))}"
        return (
            f"predicted relative 95% half-width of {worst.statistic} for group {worst.group_value!r} "
            f"({worst.roster_size} agents) is {_percent(worst.relative_half_width)} at typical values, {against}"
        )

    def state(self) -> dict[str, Any]:
        """What the refusal decision was taken on, for the ledger (finite numbers and exact text only)."""
        worst = self.worst
        return {
            "limit": None if self.limit is None else fraction_text(self.limit),
            "groups": [g.ledger_form() for g in self.groups],
            "worst": None
            if worst is None
            else {
                "group_value": worst.group_value,
                "roster_size": worst.roster_size,
                "statistic": worst.statistic,
                "relative_half_width": _finite(worst.relative_half_width),
                "too_noisy": worst.relative_half_width == math.inf,
            },
            "over_limit": [
                {
                    "group_value": r.group_value,
                    "statistic": r.statistic,
                    "relative_half_width": _finite(r.relative_half_width),
                }
                for r in self.rows
                if r.verdict == "over_limit"
            ],
        }


@dataclass(frozen=True)
class BudgetPlan:
    """What one release costs per accounting period in the worst month, in its unit (rho or epsilon)."""

    per_window: Budget
    per_sum: Budget
    windows_per_period: int
    per_period: Budget
    delta: Fraction
    epsilon: float  # OpenDP's conversion, as the ledger reports (pure DP: the epsilon per period itself)
    epsilon_bun_steinke: float
    # The share of per_window spent on the over-bound counts (clipping check); None: no check.
    clipping_check: Budget | None = None
    # The 95% half-width, in agents, of each over-bound count; None: no check.
    over_bound_half_width: float | None = None
    # What the budget is split over: a release's noisy sums, or a survey's or planning release's
    # noisy parts (counts, histograms and sums together).
    part_word: str = "sum"
    # True when no value can exceed a bound (a survey's answers lie on their question's scale).
    bounded_by_scale: bool = False

    @property
    def unit(self) -> BudgetUnit:
        return self.per_window.unit

    def clipping_check_text(self) -> str:
        """The plan's line on the clipping check: its budget per window, or that there is none."""
        if self.bounded_by_scale:
            return "clipping check: not needed (every answer lies on its question's scale; none exceeds a bound)"
        if self.clipping_check is None:
            return "clipping check: none (no clipping_check_share: nobody is told when totals exceed the bounds)"
        return (
            f"clipping check: {self.clipping_check} per window for the over-bound counts, each +-"
            f"{_number(self.over_bound_half_width, 1)} agents (95%); a sum is flagged when its count's interval "
            "lies above 0 (docs/privacy.md)"
        )


@dataclass(frozen=True)
class ReleasePlan:
    name: str
    group_by: str
    window: WindowKind
    accuracy: AccuracyPlan
    budget: BudgetPlan


@dataclass(frozen=True)
class PolicyPlan:
    """The plan of the policy's releases for one roster, with the total spend per period and per year."""

    releases: tuple[ReleasePlan, ...]
    total_per_period: Budget  # all releases of the policy, shown or not
    cap: Budget
    delta: Fraction
    epsilon_total: float
    epsilon_total_bun_steinke: float
    roster_source: str
    # A full year of all the policy's releases: 12 x total_per_period (the worst month), its epsilon
    # at delta (OpenDP's conversion; pure DP: the epsilon itself), and the policy's yearly cap if any.
    total_per_year: Budget
    epsilon_year: float
    year_cap: Budget | None

    @property
    def unit(self) -> BudgetUnit:
        return self.cap.unit

    @property
    def within_cap(self) -> bool:
        return self.total_per_period <= self.cap

    @property
    def within_year_cap(self) -> bool:
        """Whether a full year of the policy's releases fits its yearly cap (no yearly cap: True)."""
        return self.year_cap is None or self.total_per_year <= self.year_cap

    @property
    def ok(self) -> bool:
        return self.within_cap and self.within_year_cap and not any(r.accuracy.refused for r in self.releases)


# --- pure predictions ------------------------------------------------------------------------


def predict_accuracy(spec: ReleaseSpec, policy: Policy, groups: tuple[GroupDecision, ...]) -> AccuracyPlan:
    """Predicted sigma, 95% half-width and relative half-width of every statistic of every group."""
    from privacy.planning_accuracy import planned_release, predict_planning_accuracy

    planned = planned_release(policy, spec)
    if planned is not None:  # a planning release: queues, exact parts (privacy.planning_accuracy)
        return predict_planning_accuracy(planned, policy, groups)
    limit = policy.relative_limit(spec)
    if spec.survey_id is not None:
        return _survey_accuracy(spec, policy, groups, limit)
    scales = {m: expected_noise_scale(spec, m) for m in spec.sums}
    dist = NOISE_DISTRIBUTION[spec.privacy_model]
    rows: list[StatisticPlan] = []
    for g in sorted(groups, key=lambda d: d.group_value):
        n = g.roster_size
        if g.status != "released":
            verdict: Verdict = "merged" if g.status == "merged_into_parent" else "suppressed"
            rows.extend(StatisticPlan(g.group_value, n, m, "sum", None, None, None, None, verdict) for m in spec.sums)
            rows.extend(
                StatisticPlan(g.group_value, n, r.name, "ratio", None, None, None, None, verdict) for r in spec.ratios
            )
            continue
        for metric in spec.sums:
            typical = spec.typical_value(metric) * n
            half = half_width(scales[metric], ALPHA_SUM, dist)
            rows.append(_row(g, metric, "sum", scales[metric], half, typical, half / typical, limit))
        for ratio in spec.ratios:
            typicals = {p: spec.typical_value(p) * n for p in ratio.parts}
            alpha = ratio_part_alpha(len(ratio.parts))
            halves = {p: half_width(scales[p], alpha, dist) for p in ratio.parts}
            quotient = typicals[ratio.numerator] / sum(typicals[p] for p in ratio.denominator_parts)
            interval = ratio_interval(ratio, typicals, halves)
            if interval is None:
                relative, spread = math.inf, None
            else:
                _, low, high = interval
                spread = max(high - quotient, quotient - low)
                relative = spread / quotient
            rows.append(_row(g, ratio.name, "ratio", None, spread, quotient, relative, limit))
    return AccuracyPlan(spec.name, limit, tuple(groups), tuple(rows))


def _survey_accuracy(
    spec: ReleaseSpec, policy: Policy, groups: tuple[GroupDecision, ...], limit: Fraction | None
) -> AccuracyPlan:
    """A survey release's prediction (privacy.surveys.predicted_relative): counts relative to the typical
    respondents, an eNPS relative to its half-range of 100 points, a Likert mean to the typical answer."""
    from privacy.surveys import predicted_relative  # the survey release builds on the accountant, which uses this

    assert spec.survey_id is not None
    survey = policy.survey(spec.survey_id)
    rows: list[StatisticPlan] = []
    for g in sorted(groups, key=lambda d: d.group_value):
        figures = predicted_relative(spec, survey, g.roster_size)
        if g.status != "released":
            verdict: Verdict = "merged" if g.status == "merged_into_parent" else "suppressed"
            rows.extend(
                StatisticPlan(g.group_value, g.roster_size, f, "sum", None, None, None, None, verdict) for f in figures
            )
            continue
        for figure, (half, relative) in figures.items():
            kind: Literal["sum", "ratio"] = "sum" if figure == "responses" else "ratio"
            typical = float(survey.typical_response_rate) * g.roster_size if kind == "sum" else None
            row = _row(g, figure, kind, None, None if math.isinf(half) else half, 0.0, relative, limit)
            rows.append(StatisticPlan(**{**row.__dict__, "typical": typical}))
    return AccuracyPlan(spec.name, limit, tuple(groups), tuple(rows))


def ratio_relative_half_width(r_s: float, r_n: float) -> float:
    """Wider side of the union-bound interval of S/N relative to S/N, from the parts' relative half-widths.

    (S + a_S)/(N - a_N) = (S/N)(1 + r_S)/(1 - r_N), so the upper side lies (r_S + r_N)/(1 - r_N)
    above S/N; the lower side, (r_S + r_N)/(1 + r_N) below, is never wider. r_N >= 1: too noisy.
    """
    return (r_s + r_n) / (1 - r_n) if r_n < 1 else math.inf


def budget_per_period(spec: ReleaseSpec, policy: Policy) -> BudgetPlan:
    """The release's budget in the worst month: budget per window x the most windows touching one month.

    Under pure DP the budget is epsilon (pure DP composes by adding epsilons; delta 0).
    """
    from privacy.planning_accuracy import planned_release

    windows = WINDOWS_PER_PERIOD[spec.window]
    per_window = spec.budget
    planned = planned_release(policy, spec)
    count_scale, dist = expected_over_bound_scale(spec), NOISE_DISTRIBUTION[spec.privacy_model]
    per_period = per_window * windows
    if per_window.unit == "epsilon":
        delta = Fraction(0)
        epsilon = bun_steinke = float(per_period.amount)
    else:
        delta = policy.report_delta
        epsilon = rho_to_epsilon_opendp(per_period.amount, delta)
        bun_steinke = rho_to_epsilon(per_period.amount, delta)
    return BudgetPlan(
        per_window=per_window,
        # the clipping check's share is not the sums'; a planning release splits over its noisy parts
        per_sum=_per_part(spec, planned),
        clipping_check=spec.clipping_check_budget,
        over_bound_half_width=None if count_scale is None else half_width(count_scale, ALPHA_SUM, dist),
        windows_per_period=windows,
        per_period=per_period,
        delta=delta,
        epsilon=epsilon,
        epsilon_bun_steinke=bun_steinke,
        part_word="sum" if planned is None and spec.survey_id is None else "noisy part",
        bounded_by_scale=spec.survey_id is not None,
    )


def _per_part(spec: ReleaseSpec, planned: PlanningRelease | None) -> Budget:
    """Each noisy sum's budget; a planning release's is split over its noisy parts (a counts-only one has none)."""
    parts = len(spec.sums) if planned is None else planned.noisy_parts
    return spec.sums_budget / parts if parts else spec.sums_budget


def plan_policy(
    policy: Policy, roster: pl.DataFrame, release_name: str | None = None, roster_source: str = "roster"
) -> PolicyPlan:
    """The plan of every release (or the one named) for a roster (agent_pseudonym, team, site)."""
    from privacy.planning_accuracy import planning_groups

    planning = [r.spec for r in policy.planning.releases] if policy.planning is not None else []
    every = [*policy.releases, *planning, *policy.survey_release_specs()]  # all charged to the same budget
    specs = [policy.budgeted_spec(release_name)] if release_name else every
    releases = tuple(
        ReleasePlan(
            name=spec.name,
            group_by=spec.group_by,
            window=spec.window,
            accuracy=predict_accuracy(
                spec,
                policy,
                planning_groups(roster, policy) if spec in planning else decide_groups(roster, spec, policy),
            ),
            budget=budget_per_period(spec, policy),
        )
        for spec in specs
    )
    cap = policy.budget_cap

    total = sum_budgets([budget_per_period(s, policy).per_period for s in every], cap.unit)
    pure = cap.unit == "epsilon"
    year = total * MONTHS_PER_YEAR
    return PolicyPlan(
        releases=releases,
        total_per_period=total,
        cap=cap,
        delta=Fraction(0) if pure else policy.report_delta,
        epsilon_total=float(total.amount) if pure else rho_to_epsilon_opendp(total.amount, policy.report_delta),
        epsilon_total_bun_steinke=float(total.amount) if pure else rho_to_epsilon(total.amount, policy.report_delta),
        roster_source=roster_source,
        total_per_year=year,
        epsilon_year=float(year.amount) if pure else rho_to_epsilon_opendp(year.amount, policy.report_delta),
        year_cap=policy.budget_cap_year,
    )


def _row(
    g: GroupDecision,
    name: str,
    kind: Literal["sum", "ratio"],
    scale: float | None,
    half: float | None,
    typical: float,
    relative: float,
    limit: Fraction | None,
) -> StatisticPlan:
    if limit is not None and relative > limit:
        verdict: Verdict = "over_limit"
    elif math.isinf(relative):
        verdict = "too_noisy"
    else:
        verdict = "ok"
    return StatisticPlan(g.group_value, g.roster_size, name, kind, scale, half, typical, relative, verdict)


def planned_row(
    g: GroupDecision,
    name: str,
    kind: Literal["sum", "ratio"],
    scale: float | None,
    half: float | None,
    typical: float,
    limit: Fraction | None,
) -> StatisticPlan:
    """A predicted row of a planning release (privacy.planning_accuracy): half None is too noisy, 0 exact."""
    relative = math.inf if half is None else 0.0 if half == 0 else (half / typical if typical > 0 else math.inf)
    return _row(g, name, kind, scale, half, typical, relative, limit)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _percent(x: float | None) -> str:
    if x is None:
        return "-"
    return "too noisy" if math.isinf(x) else f"{100 * x:.1f}%"


def _number(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


# --- output ------------------------------------------------------------------------------------


def format_plan(plan: PolicyPlan) -> str:
    """The plan as a table per release, then the total spend per period against the cap."""
    header = ("group", "agents", "statistic", "sigma", "95% +-", "typical", "rel. +-", "verdict")
    lines = [f"Accuracy plan for the roster {plan.roster_source}", ""]
    for rp in plan.releases:
        b, a = rp.budget, rp.accuracy
        limit = "none" if a.limit is None else f"{fraction_text(a.limit)} ({_percent(float(a.limit))})"
        lines.append(f"{rp.name}: {rp.group_by} x {rp.window}, max relative half-width {limit}")
        table = [header]
        for r in a.rows:
            table.append(
                (
                    r.group_value,
                    str(r.roster_size),
                    r.statistic,
                    _number(r.noise_scale, 1),
                    _number(r.half_width, 1 if r.kind == "ratio" else 0),
                    _number(r.typical, 1 if r.kind == "ratio" else 0),
                    _percent(r.relative_half_width),
                    VERDICT_TEXT[r.verdict],
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            cells = [
                c.ljust(w) if i in (0, 2, 7) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  " + "  ".join(cells).rstrip())
        if b.per_window.amount == 0:  # a counts-only planning release: nothing drawn, nothing charged
            lines.append(f"  budget: none: exact counts only, no noise drawn, costs nothing ({b.per_window})")
        elif b.unit == "epsilon":
            lines.append(
                f"  budget (pure DP, Laplace): {b.per_window} per {rp.window} "
                f"({b.per_sum.text} per {b.part_word}) x {b.windows_per_period} {rp.window}(s) touching one "
                f"month = {b.per_period} per month (delta 0)"
            )
        else:
            lines.append(
                f"  budget: {b.per_window} per {rp.window} ({b.per_sum.text} per {b.part_word}) x "
                f"{b.windows_per_period} {rp.window}(s) touching one month = {b.per_period} "
                f"per month; epsilon {b.epsilon:.3g} at delta {float(b.delta):g} "
                f"(OpenDP; Bun-Steinke {b.epsilon_bun_steinke:.3g})"
            )
        lines.extend([f"  {b.clipping_check_text()}"] if b.per_window.amount else [])
        verdict = "REFUSED" if a.refused else "ok"
        lines.append(f"  verdict: {verdict}: {a.reason()}")
        lines.append("")
    cap_verdict = "within the cap" if plan.within_cap else "OVER THE CAP: some releases would be refused for budget"
    if plan.unit == "epsilon":
        lines.append(
            f"All releases of the policy in the worst month (pure DP): {plan.total_per_period} "
            f"of the cap {plan.cap.text}: {cap_verdict}"
        )
    else:
        lines.append(
            f"All releases of the policy in the worst month: {plan.total_per_period} of the cap "
            f"{plan.cap.text}: {cap_verdict}; epsilon {plan.epsilon_total:.3g} at delta "
            f"{float(plan.delta):g} (OpenDP; Bun-Steinke {plan.epsilon_total_bun_steinke:.3g})"
        )
    lines.append(format_year(plan))
    return "\n".join(lines)


def format_year(plan: PolicyPlan) -> str:
    """The line on a full year of the policy's releases: the months' spend adds up."""
    if plan.year_cap is None:
        key = f"budget_cap_year_{plan.unit}"
        verdict = f"no yearly cap set ({key}; the monthly cap bounds a year at {(plan.cap * MONTHS_PER_YEAR).text})"
    elif plan.within_year_cap:
        verdict = f"within the yearly cap {plan.year_cap.text}"
    else:
        verdict = f"OVER THE YEARLY CAP {plan.year_cap.text}: some releases would be refused for budget"
    loss = (
        "delta 0"
        if plan.unit == "epsilon"
        else f"epsilon {plan.epsilon_year:.3g} at delta {float(plan.delta):g}, OpenDP"
    )
    return (
        f"A full year of these releases (the months add up): {MONTHS_PER_YEAR} x {plan.total_per_period.text} "
        f"= {plan.total_per_year} ({loss}): {verdict}"
    )


def plan_json(plan: PolicyPlan) -> dict[str, Any]:
    """The plan as plain JSON: budgets as exact text, an infinite relative half-width as null (too_noisy).

    Budget keys are named by the unit (rho_per_window, or epsilon_per_window under pure DP); under
    pure DP `budget_unit` says so.
    """
    u = plan.unit
    out: dict[str, Any] = {
        "roster_source": plan.roster_source,
        "ok": plan.ok,
        "releases": [
            {
                "name": rp.name,
                "group_by": rp.group_by,
                "window": rp.window,
                "limit": None if rp.accuracy.limit is None else fraction_text(rp.accuracy.limit),
                "refused": rp.accuracy.refused,
                "reason": rp.accuracy.reason(),
                f"{u}_per_window": rp.budget.per_window.text,
                f"{u}_per_sum": rp.budget.per_sum.text,
                f"{u}_clipping_check": None if rp.budget.clipping_check is None else rp.budget.clipping_check.text,
                "windows_per_period": rp.budget.windows_per_period,
                f"{u}_per_period": rp.budget.per_period.text,
                "epsilon": rp.budget.epsilon,
                "epsilon_bun_steinke": rp.budget.epsilon_bun_steinke,
                "delta": fraction_text(rp.budget.delta),
                "statistics": [
                    {
                        "group": r.group_value,
                        "agents": r.roster_size,
                        "statistic": r.statistic,
                        "kind": r.kind,
                        "noise_scale": r.noise_scale,
                        "half_width_95": r.half_width,
                        "typical": r.typical,
                        "relative_half_width": _finite(r.relative_half_width),
                        "verdict": r.verdict,
                    }
                    for r in rp.accuracy.rows
                ],
            }
            for rp in plan.releases
        ],
        f"total_{u}_per_period": plan.total_per_period.text,
        f"cap_{u}": plan.cap.text,
        "within_cap": plan.within_cap,
        "epsilon_total": plan.epsilon_total,
        "epsilon_total_bun_steinke": plan.epsilon_total_bun_steinke,
        f"total_{u}_per_year": plan.total_per_year.text,
        "epsilon_year": plan.epsilon_year,
        f"cap_year_{u}": None if plan.year_cap is None else plan.year_cap.text,
        "within_year_cap": plan.within_year_cap,
    }
    if u == "epsilon":
        out["budget_unit"] = "epsilon"
        for release in out["releases"]:
            release["budget_unit"] = "epsilon"
    return out
