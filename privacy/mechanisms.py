"""The noise mathematics: scales, intervals, rho/epsilon conversions and OpenDP's calibration.

Nothing here reads files or the warehouse: every function takes public facts (the release spec,
the released group keys, the budget) and returns numbers or an OpenDP measurement.

- zCDP (the default): OpenDP's integer Gaussian, sigma = bound / sqrt(2 rho_part) with
  rho_part = rho / number of sums (docs/privacy.md, Mechanisms and scales).
- pure DP (policy `privacy_model: pure`): OpenDP's discrete Laplace, b = bound / eps_part =
  bound * sums / epsilon.
- The clipping check (policy `clipping_check_share`): the sums share budget x (1 - share); one
  count per sum of the agents whose window total exceeded its bound shares budget x share, each
  count with sensitivity 1 and the sums' noise family, in the same OpenDP measurement (docs/privacy.md,
  The clipping check).
- Intervals: 95% for sums; a ratio S/N combines two 97.5% intervals by the union bound, a ratio
  of k sums (occupancy: handle / (handle + idle)) k intervals at 5%/k each (docs/privacy.md, Intervals).
- Converting rho to epsilon at a delta: Bun and Steinke's formula and OpenDP's tighter one
  (docs/privacy.md, Converting rho to epsilon).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import polars as pl

from foundation.budget import Budget
from foundation.policy import Ratio, ReleaseSpec
from warehouse.records import PublishedValue

# An upper bound on the agents in one group, required by OpenDP for overflow checks only.
MAX_AGENTS_PER_GROUP = 100_000
# 95% intervals for sums; a ratio of two sums combines two 97.5% intervals (union bound; a ratio
# of k sums splits the 5% evenly over them: ratio_part_alpha).
ALPHA_SUM = 0.05

# The noise distribution of each privacy model on integer sums, as OpenDP draws it.
NOISE_DISTRIBUTION: dict[str, str] = {"zcdp": "discrete_gaussian", "pure": "discrete_laplace"}
MECHANISM = "Gaussian (zCDP), OpenDP 0.16 integer Gaussian, agent-level, public group keys from the roster"
MECHANISM_PURE = "Laplace (pure DP), OpenDP 0.16 integer Laplace, agent-level, public group keys from the roster"
MECHANISMS: dict[str, str] = {"zcdp": MECHANISM, "pure": MECHANISM_PURE}

EPSILON_CONVERSION_OPENDP = (
    "OpenDP 0.16 make_zCDP_to_approxDP + make_fix_delta (Canonne, Kamath & Steinke 2020, tight for zCDP)"
)


# The statistic (and data column) of the over-bound count of a sum: agents_over_bound_<metric>.
OVER_BOUND_PREFIX = "agents_over_bound_"


def over_bound_statistic(metric: str) -> str:
    """The name of the noisy count of agents whose window total of `metric` exceeded its bound."""
    return OVER_BOUND_PREFIX + metric


# Relative widenings of the analytic noise scale tried in turn before OpenDP's own search
# (privacy.mechanisms.calibrated_measurement): far inside the 1e-6 tolerance of the scale check.
PINNED_SCALE_WIDENING = (1.0, 1.0 + 1e-12, 1.0 + 1e-10)


class NoiseScaleMismatch(RuntimeError):
    """OpenDP calibrated a different noise scale than the analytic sensitivity implies."""


# --- budgets of the policy -------------------------------------------------------------------


def zcdp_equivalent(budget: Budget) -> Budget:
    """The rho a budget costs under zCDP: rho itself, or epsilon^2 / 2 for an epsilon-DP spend.

    An epsilon-DP release is (epsilon^2 / 2)-zCDP (Bun and Steinke 2016, Prop. 1.4).
    """
    if budget.unit == "rho":
        return budget
    return Budget("rho", budget.amount * budget.amount / 2)


# --- scales ----------------------------------------------------------------------------------


def analytic_sigma(bound: int, rho: Fraction, parts: int) -> float:
    """Gaussian sigma of one of `parts` sums sharing rho: sensitivity (the bound) / sqrt(2 rho / parts)."""
    return bound / math.sqrt(2 * float(rho) / parts)


def analytic_laplace_scale(bound: int, epsilon: Fraction, parts: int) -> float:
    """Laplace scale of one of `parts` sums sharing epsilon: L1 sensitivity (the bound) / (epsilon / parts)."""
    return float(bound * parts / Fraction(epsilon))


def analytic_scale(bound: int, budget: Budget, parts: int) -> float:
    """The noise scale of one of `parts` sums sharing the budget: Gaussian sigma (rho) or Laplace b (epsilon)."""
    if budget.unit == "epsilon":
        return analytic_laplace_scale(bound, budget.amount, parts)
    return analytic_sigma(bound, budget.amount, parts)


def expected_noise_scale(spec: ReleaseSpec, metric: str) -> float:
    """The analytic noise scale of one sum of the release: Gaussian sigma (zcdp) or Laplace b (pure).

    The sums share the release's budget less the clipping check's share (ReleaseSpec.sums_budget).
    """
    return analytic_scale(spec.sums[metric], spec.sums_budget, len(spec.sums))


def expected_over_bound_scale(spec: ReleaseSpec) -> float | None:
    """The analytic noise scale of each over-bound count (sensitivity 1, one count per sum sharing the
    clipping check's budget); None when the release has no clipping check."""
    check = spec.clipping_check_budget
    return None if check is None else analytic_scale(1, check, len(spec.sums))


def expected_scales(
    sums: tuple[tuple[str, int], ...], sums_budget: Budget, check_budget: Budget | None
) -> dict[str, float]:
    """The analytic noise scale of every column a release's measurement draws: each sum, and each
    over-bound count when there is a clipping check (the measurement's scales must equal these)."""
    scales = {metric: analytic_scale(bound, sums_budget, len(sums)) for metric, bound in sums}
    if check_budget is not None:
        scales |= {over_bound_statistic(metric): analytic_scale(1, check_budget, len(sums)) for metric, _ in sums}
    return scales


# --- intervals -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def half_width(scale: float, alpha: float, distribution: str = "discrete_gaussian") -> float:
    """Half-width of the (1 - alpha) interval of OpenDP's integer noise of this scale.

    discrete_gaussian (zcdp): about ceil(z * scale + 1/2) with z the normal quantile (1.959964 for
    alpha 0.05). discrete_laplace (pure): about scale * ln(1 / alpha) (3.0 scale at 95%). The
    noise is integer-valued. The published intervals and the accuracy planner both use it.
    """
    from opendp.accuracy import discrete_gaussian_scale_to_accuracy, discrete_laplacian_scale_to_accuracy

    if distribution == "discrete_laplace":
        return float(discrete_laplacian_scale_to_accuracy(scale, alpha))
    if distribution != "discrete_gaussian":
        raise ValueError(f"unknown noise distribution {distribution!r}")
    return float(discrete_gaussian_scale_to_accuracy(scale, alpha))


def sum_value(
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


def ratio_part_alpha(parts: int) -> float:
    """The alpha of each part's interval of a ratio of `parts` distinct sums: the union bound splits
    ALPHA_SUM evenly, so all parts' intervals hold together with probability at least 95%."""
    return ALPHA_SUM / parts


def ratio_interval(
    ratio: Ratio, values: dict[str, float], half_widths: dict[str, float]
) -> tuple[float, float, float] | None:
    """S/D with its union-bound interval (unclamped); None (too noisy) when D's interval reaches 0.

    values: each part's sum; half_widths: each part's half-width at ratio_part_alpha(len(ratio.parts)).
    D is the total of the denominator's parts. The ratio rises with S and falls with every other
    part, so its extremes lie at the corners of the parts' intervals: a numerator that is not in D
    gives [(S - a_S) / (D + a_D), (S + a_S) / (D - a_D)]; a share S / (S + R) gives
    [S_lo / (S_lo + R_hi), S_hi / (S_hi + R_lo)], with S and R kept at 0 or above (true sums are).
    """
    s, a_s = values[ratio.numerator], half_widths[ratio.numerator]
    below = ratio.denominator_parts
    if sum(values[p] - half_widths[p] for p in below) <= 0:
        return None
    total = sum(values[p] for p in below)
    if ratio.numerator not in below:
        a_d = sum(half_widths[p] for p in below)
        return s / total, (s - a_s) / (total + a_d), (s + a_s) / (total - a_d)
    rest = [p for p in below if p != ratio.numerator]
    s_low, s_high = max(0.0, s - a_s), s + a_s
    r_low = max(0.0, sum(values[p] - half_widths[p] for p in rest))
    r_high = sum(values[p] + half_widths[p] for p in rest)
    low = s_low / (s_low + r_high) if s_low + r_high > 0 else 0.0
    high = s_high / (s_high + r_low) if s_high + r_low > 0 else 0.0
    return s / total, low, high


def ratio_value(
    group_value: str,
    ratio: Ratio,
    values: dict[str, float],
    scales: dict[str, float],
    distribution: str = "discrete_gaussian",
) -> PublishedValue:
    """A ratio of noisy sums with its union-bound 95% interval, clamped to [0, max]; too noisy when
    the denominator's interval reaches 0 (docs/privacy.md, Intervals). A part of scale 0 is exact
    (a planning release's answered count): no interval, and the 5% is split over the noisy parts."""
    noisy = [p for p in ratio.parts if scales[p] > 0]
    alpha = ratio_part_alpha(max(1, len(noisy)))
    half_widths = {p: half_width(scales[p], alpha, distribution) if p in noisy else 0.0 for p in ratio.parts}
    interval = ratio_interval(ratio, values, half_widths)
    if interval is None:
        return PublishedValue(group_value, ratio.name, None, None, None, None, "too_noisy")

    def clamp(x: float) -> float:
        return min(ratio.max, max(0.0, x))

    value, low, high = interval
    return PublishedValue(
        group_value=group_value,
        statistic=ratio.name,
        value=clamp(value),
        ci_low=clamp(low),
        ci_high=clamp(high),
        noise_scale=None,
        status="published",
    )


def over_bound_value(
    group_value: str,
    metric: str,
    noisy: float,
    scale: float,
    roster_size: int,
    distribution: str = "discrete_gaussian",
) -> PublishedValue:
    """A noisy count of a group's agents over a sum's bound, clamped to [0, roster size] with its
    clamped 95% interval (post-processing)."""
    half = half_width(scale, ALPHA_SUM, distribution)

    def clamp(x: float) -> float:
        return min(float(roster_size), max(0.0, x))

    return PublishedValue(
        group_value=group_value,
        statistic=over_bound_statistic(metric),
        value=clamp(noisy),
        ci_low=clamp(noisy - half),
        ci_high=clamp(noisy + half),
        noise_scale=scale,
        status="published",
    )


def published_values(
    noisy: pl.DataFrame,
    spec: ReleaseSpec,
    scales: dict[str, float],
    roster_sizes: dict[str, int] | None = None,
) -> tuple[PublishedValue, ...]:
    """Post-processing of the noisy sums: clamped values, 95% intervals, ratios (costs no budget).

    Under a clipping check the over-bound counts follow the sums, clamped to the group's roster
    size (`roster_sizes`, group value -> agents; required then).
    """
    values: list[PublishedValue] = []
    distribution = NOISE_DISTRIBUTION[spec.privacy_model]
    checked = spec.clipping_check_share is not None
    if checked and roster_sizes is None:
        raise ValueError(f"{spec.name}: the over-bound counts need the groups' roster sizes")
    for row in noisy.sort(spec.group_by).iter_rows(named=True):
        key = str(row[spec.group_by])
        for metric in spec.sums:
            values.append(sum_value(key, metric, float(row[metric]), scales[metric], distribution))
        if checked:
            assert roster_sizes is not None
            for metric in spec.sums:
                count = over_bound_statistic(metric)
                values.append(
                    over_bound_value(key, metric, float(row[count]), scales[count], roster_sizes[key], distribution)
                )
        for ratio in spec.ratios:
            parts = {p: float(row[p]) for p in ratio.parts}
            values.append(ratio_value(key, ratio, parts, scales, distribution))
    return tuple(values)


# --- converting rho to epsilon ---------------------------------------------------------------


def rho_to_epsilon(rho: Fraction, delta: Fraction) -> float:
    """(epsilon, delta)-DP implied by rho-zCDP, Bun & Steinke 2016 Prop. 1.3 (simple, looser)."""
    r = float(rho)
    return r + 2.0 * math.sqrt(r * math.log(1.0 / float(delta)))


@functools.lru_cache(maxsize=1024)
def rho_to_epsilon_opendp(rho: Fraction, delta: Fraction) -> float:
    """The tighter conversion OpenDP uses (make_zCDP_to_approxDP, CKS20), at a fixed delta.

    OpenDP converts a measurement, not a number: we build a Gaussian mechanism whose privacy
    map gives at least `rho` (scale nudged down until it does, so the epsilon is never
    under-stated) and read its epsilon at `delta`. Enables OpenDP's "contrib" feature.
    """
    rho, delta = Fraction(rho), Fraction(delta)
    if rho < 0 or not 0 < delta < 1:
        raise ValueError(f"need rho >= 0 and 0 < delta < 1, got rho={rho}, delta={delta}")
    if rho == 0:
        return 0.0
    from opendp.combinators import make_fix_delta, make_zCDP_to_approxDP
    from opendp.domains import atom_domain
    from opendp.measurements import make_gaussian
    from opendp.metrics import absolute_distance
    from opendp.mod import enable_features

    enable_features("contrib")
    rho_f = float(rho)
    if Fraction(rho_f) < rho:
        rho_f = math.nextafter(rho_f, math.inf)
    delta_f = float(delta)
    if Fraction(delta_f) > delta:
        delta_f = math.nextafter(delta_f, 0.0)
    domain, metric = atom_domain(T=float, nan=False), absolute_distance(T=float)
    scale = 1.0 / math.sqrt(2.0 * rho_f)
    meas = make_gaussian(domain, metric, scale=scale)
    while meas.map(1.0) < rho_f:
        scale = math.nextafter(scale, 0.0)
        meas = make_gaussian(domain, metric, scale=scale)
    epsilon, _ = make_fix_delta(make_zCDP_to_approxDP(meas), delta_f).map(1.0)
    return float(epsilon)


# --- the OpenDP measurement ------------------------------------------------------------------


@dataclass(frozen=True)
class CalibratedRelease:
    """An OpenDP measurement for one release, calibrated once, with its checked noise scales."""

    measurement: Any  # opendp.mod.Measurement
    data: pl.LazyFrame
    scales: dict[str, float]


def calibrate(totals: pl.DataFrame, released: list[str], spec: ReleaseSpec) -> CalibratedRelease:
    """The measurement for the released groups, with the window's data to apply it to.

    The measurement depends only on public facts (the spec and the released group keys), so it
    is calibrated once per process and reused for every window with the same groups.
    """
    group = spec.group_by
    # Under a clipping check, each agent's indicator (window total > bound) in {0, 1} per sum.
    over_bound = (
        [(pl.col(m) > bound).cast(pl.Int64).alias(over_bound_statistic(m)) for m, bound in spec.sums.items()]
        if spec.clipping_check_share is not None
        else []
    )
    data = totals.filter(pl.col(group).is_in(released)).select(group, *spec.sums, *over_bound).lazy()
    measurement, scales = calibrated_measurement(
        spec.name,
        spec.budget,
        tuple(spec.sums.items()),
        group,
        tuple(released),
        tuple(data.collect_schema().items()),
        spec.clipping_check_share,
    )
    return CalibratedRelease(measurement=measurement, data=data, scales=dict(scales))


@functools.lru_cache(maxsize=64)
def calibrated_measurement(
    name: str,
    budget: Budget,
    sums: tuple[tuple[str, int], ...],
    group: str,
    released: tuple[str, ...],
    data_schema: tuple[tuple[str, pl.DataType], ...],
    clipping_check_share: Fraction | None = None,
) -> tuple[Any, tuple[tuple[str, float], ...]]:
    """Build the measurement and pin its noise scales to the analytic ones.

    With a clipping check, the measurement also draws one over-bound count per sum (a sum of the
    data's 0/1 column agents_over_bound_<metric>, sensitivity 1) from the check's share of the
    budget; the sums share the rest.

    The budget's unit chooses the model: rho (zCDP, Gaussian) or epsilon (pure DP, Laplace).
    OpenDP computes the sensitivity itself; if it ever differs from bound / sqrt(2 rho_part)
    (zcdp) or bound / eps_part (pure) (a silent sensitivity blow-up, see docs/library-notes.md,
    OpenDP), nothing is published.

    Fast path: the analytic scales are given to OpenDP, whose privacy map must then spend the
    whole budget and no more (which holds exactly when its sensitivity is the bound); this saves
    OpenDP's binary search for the scale (about a second per release spec). Otherwise OpenDP
    searches the scale itself and it is compared with the analytic one.
    """
    from opendp.mod import enable_features

    enable_features("contrib")
    share = clipping_check_share
    expected = expected_scales(sums, budget * (1 - (share or 0)), None if share is None else budget * share)
    columns = tuple(sums) + tuple((over_bound_statistic(m), 1) for m, _ in sums if share is not None)
    for widen in PINNED_SCALE_WIDENING:  # the analytic scale may spend a rounding error too much
        widened = {m: s * widen for m, s in expected.items()}
        pinned = _measurement(budget, columns, group, released, data_schema, widened)
        if pinned is not None and math.isclose(pinned.map(1), float(budget.amount), rel_tol=1e-9):
            return pinned, _checked_scales(name, pinned, budget, expected)
    # OpenDP calibrates one scale for all columns, an even split of the budget: with a clipping
    # check that differs from the declared split, and the scale check refuses the release.
    measurement = _measurement(budget, columns, group, released, data_schema, None)
    return measurement, _checked_scales(name, measurement, budget, expected)


def _measurement(
    budget: Budget,
    sums: tuple[tuple[str, int], ...],
    group: str,
    released: tuple[str, ...],
    data_schema: tuple[tuple[str, pl.DataType], ...],
    scales: dict[str, float] | None,
) -> Any:
    """OpenDP's measurement of the group sums of `sums` (column, bound): with the given noise scales
    (None if OpenDP refuses them as over budget), or with the scale OpenDP calibrates to the budget
    when scales is None."""
    from opendp.context import Context, loss_of, unit_of
    from opendp.extras.polars import Margin
    from opendp.mod import OpenDPException

    amount = float(budget.amount)
    context = Context.compositor(
        data=pl.LazyFrame(schema=dict(data_schema)),  # the schema only: the measurement takes any window's data
        privacy_unit=unit_of(contributions=1),
        privacy_loss=loss_of(epsilon=amount) if budget.unit == "epsilon" else loss_of(rho=amount),
        split_evenly_over=1,
        margins=[Margin(by=[group], invariant="keys", max_length=MAX_AGENTS_PER_GROUP)],
    )
    query = (
        context.query()
        .group_by(group)
        .agg(*[pl.col(m).dp.sum((0, bound), scale=None if scales is None else scales[m]) for m, bound in sums])  # type: ignore[attr-defined]
        .with_keys(pl.LazyFrame({group: list(released)}))
    )
    if scales is None:
        return query.resolve()
    try:
        # the call OpenDP's resolve() makes for each scale it tries, here once with the given
        # scales (global_scale None: the expressions' own scales stand)
        from opendp.measurements import make_private_lazyframe

        plan = object.__getattribute__(query, "polars_plan")
        compositor_query = object.__getattribute__(query, "_query")
        input_domain, input_metric = compositor_query._chain
        measurement = make_private_lazyframe(
            input_domain=input_domain,
            input_metric=input_metric,
            output_measure=compositor_query._output_measure,
            lazyframe=plan,
            global_scale=None,
        )
        return measurement if measurement.check(compositor_query._d_in, compositor_query._d_out) else None
    except (AttributeError, ValueError, OpenDPException):
        return None  # another OpenDP version, or the scales do not fit: OpenDP calibrates


def _checked_scales(
    name: str, measurement: Any, budget: Budget, expected: dict[str, float]
) -> tuple[tuple[str, float], ...]:
    """The measurement's noise scale per sum, each equal to the analytic one, and its spend within the budget."""
    from opendp.accuracy import summarize_polars_measurement

    scales: dict[str, float] = {}
    for row in summarize_polars_measurement(measurement, ALPHA_SUM).iter_rows(named=True):
        metric, scale = row["column"], float(row["scale"])
        if not math.isclose(scale, expected[metric], rel_tol=1e-6):
            raise NoiseScaleMismatch(
                f"{name}: OpenDP noise scale for {metric} is {scale}, the analytic sensitivity implies "
                f"{expected[metric]}; refusing to publish"
            )
        scales[metric] = scale
    if set(scales) != set(expected):
        raise NoiseScaleMismatch(f"{name}: OpenDP released {sorted(scales)}, expected {sorted(expected)}")
    spent = measurement.map(1)  # one agent = one row (unit_of(contributions=1))
    if spent > float(budget.amount) * (1 + 1e-9):
        raise NoiseScaleMismatch(f"{name}: the measurement spends {budget.unit}={spent}, more than {budget}")
    return tuple(scales.items())
