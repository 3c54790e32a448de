"""Empirical privacy test: the production release on neighbouring data sets stays within its claim.

Neighbouring relation (the privacy unit is the agent): D' is D without every record of one agent.
The group keys are public (the roster), so the agent's group is still released on D'; the agent's
window total is simply absent there (it contributes 0). The removed agent is the worst case: its
value is 3x the bound of every sum, so its clipped contribution is the full bound (Delta = bound)
for every sum at once, and broken clipping would show up as a 3x larger shift.

Independent samples: the data have GROUPS public groups, each a copy of the same ten agents, and
D' removes the worst-case agent from every group. OpenDP draws the noise of every (group, sum)
cell independently (from a cryptographic source, so there are no seeds), so one call of the
measurement gives GROUPS independent draws of one group's output distribution on D (resp. D');
DRAWS calls give GROUPS * DRAWS draws per side.

What is estimated, per sum of the release (the noise of the sums is independent given the data,
so the release's log likelihood ratio is the sum of the sums' log ratios, and its loss the sum of
the sums' losses; the release claims budget / number of sums per sum):

- Pure DP (discrete Laplace, scale b = bound * sums / epsilon): the outputs of D and D' are
  histogrammed in bins of width b; for every bin with at least MIN_COUNT outputs on both sides,
  ln(P_D(bin) / P_D'(bin)) is estimated with its standard error sqrt(1/n_D + 1/n_D'). The true
  log ratio is exactly +-eps_part in the tails and in between inside. `eps_lower` = max over bins
  of (|log ratio| - Z * se) is a lower confidence bound on the largest log ratio: the test asserts
  it is <= eps_part (no bin shows more loss than claimed) and >= ATTAINED * eps_part (the agent's
  effect is seen: the bound is nearly attained), and that the sum over sums is <= epsilon.
- zCDP (discrete Gaussian, sigma = bound / sqrt(2 rho / sums)): the log ratio of a Gaussian shift
  is linear in the output, L(o) = (Delta / sigma^2) (o - midpoint), and the pair is rho'-zCDP with
  rho' = Delta^2 / (2 sigma^2) = slope^2 sigma^2 / 2 (half the variance of the privacy loss). The
  slope is fitted by weighted least squares to the binned log ratios (bins of sigma / 4) and sigma^2
  is the outputs' sample variance, so the estimate needs neither the bound nor the mechanism's scale.
  The test asserts rho_hat within RHO_TOLERANCE (10%) of rho_part, and the sum over sums within
  10% of rho.

Tolerances and false failures: Z = 6 standard errors. A per-bin check fails falsely with
probability about P(N(0,1) > 6) = 1e-9 (about 50 bins: < 1e-7); MIN_COUNT = 400 keeps the normal
approximation of a log count ratio good. The attained check (eps_lower >= 0.75 eps_part) fails
falsely only if the most populated tail bin (se about 0.009 at 100,000 draws) misses eps_part by
about 7 standard errors. The zCDP tests also assert that Z standard errors fit inside the 10%
tolerance (measured: about 7%), so a false failure of the 10% check is below 2e-9 per sum. Binning a
Gaussian shrinks the fitted slope by the factor 1 - w^2 / (12 sigma^2) = 0.5% for w = sigma / 4,
negligible against 10%.

Negative control: the same estimators applied to a release calibrated with twice the epsilon (pure)
or four times the rho (zCDP), i.e. half the noise scale, must report a loss above the claim of the
original release. This shows the test can fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pytest

from foundation.policy import ReleaseSpec
from privacy.mechanisms import CalibratedRelease, calibrate, expected_noise_scale
from tests.helpers import SITE_DAY, make_test_policy, pure_policy

GROUPS = 10_000  # public groups: independent draws per call of the measurement
DRAWS = 10  # calls of the measurement per side: GROUPS * DRAWS = 100,000 outputs per sum per side
ZCDP_DRAWS = 16  # the slope estimate needs more: 160,000 outputs keep Z standard errors within 10%
CONTROL_DRAWS = 4  # the negative control's effect is 2x to 4x: fewer draws suffice
AGENTS = 10  # agents per group, the worst-case one included
WORST = "worst_case_agent"
MIN_COUNT = 400  # a bin is used only with at least this many outputs on both sides
Z = 6.0  # standard errors of statistical tolerance (one-sided false failure ~1e-9 per check)
ATTAINED = 0.75  # the largest log ratio is proven to reach at least this share of the claim
RHO_TOLERANCE = 0.10  # relative tolerance of the zCDP estimate

EPSILON = "1"  # pure: eps_part = 0.5 for the two sums of SITE_DAY
RHO = "0.5"  # zCDP: rho_part = 0.25, Delta / sigma = 0.71


# --- data and draws -----------------------------------------------------------------------------


def neighbouring_totals(spec: ReleaseSpec, groups: int = GROUPS) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Agent totals D and D' (D without the worst-case agent) and the public group keys.

    Every group holds the same AGENTS agents: AGENTS - 1 ordinary ones within the bounds and the
    worst-case one at 3x the bound of every sum (OpenDP clips it to the bound).
    """
    keys = [f"g{i:05d}" for i in range(groups)]
    agents = [WORST, *(f"agent_{a}" for a in range(AGENTS - 1))]
    values = {
        metric: [3 * bound, *((bound * (a + 1)) // (2 * AGENTS) for a in range(AGENTS - 1))]
        for metric, bound in spec.sums.items()
    }
    d = pl.DataFrame(
        {
            "agent_pseudonym": agents * groups,
            spec.group_by: [k for k in keys for _ in agents],
            **{metric: v * groups for metric, v in values.items()},
        },
        schema_overrides=dict.fromkeys(spec.sums, pl.Int64),
    )
    return d, d.filter(pl.col("agent_pseudonym") != WORST), keys


def draw_outputs(calibrated: CalibratedRelease, spec: ReleaseSpec, draws: int) -> dict[str, np.ndarray]:
    """The noisy sums of `draws` fresh releases, pooled over the groups, per sum."""
    frames = [calibrated.measurement(calibrated.data).collect() for _ in range(draws)]
    noisy = pl.concat(frames)
    assert noisy.height == draws * calibrated.data.select(pl.col(spec.group_by).n_unique()).collect().item()
    return {metric: noisy[metric].to_numpy().astype(np.int64) for metric in spec.sums}


def neighbouring_outputs(
    spec: ReleaseSpec, draws: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    """Outputs of the production measurement on D and on D', and the (equal) noise scales.

    The measurement is calibrated once per data set with the same spec and the same public keys,
    as the production path does; its scales must not depend on the private data.
    """
    d, d_prime, keys = neighbouring_totals(spec)
    on_d = calibrate(d, keys, spec)
    on_d_prime = calibrate(d_prime, keys, spec)
    assert on_d.scales == on_d_prime.scales
    return draw_outputs(on_d, spec, draws), draw_outputs(on_d_prime, spec, draws), on_d.scales


# --- statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinnedLogRatios:
    """Per bin: centre, counts on D and D', estimated ln(P_D / P_D') and its standard error."""

    centre: np.ndarray
    n_d: np.ndarray
    n_d_prime: np.ndarray
    log_ratio: np.ndarray
    se: np.ndarray


def binned_log_ratios(on_d: np.ndarray, on_d_prime: np.ndarray, width: int) -> BinnedLogRatios:
    """Histogram integer outputs in bins of `width` integers; keep bins with MIN_COUNT on both sides.

    Both samples have the same size, so the ratio of counts estimates the ratio of probabilities;
    the standard error of ln(n_D / n_D') is sqrt(1/n_D + 1/n_D') (independent Poisson-like counts).
    """
    assert len(on_d) == len(on_d_prime) and width >= 1
    low = min(on_d.min(), on_d_prime.min())
    bins_d = np.bincount((on_d - low) // width)
    bins_d_prime = np.bincount((on_d_prime - low) // width, minlength=len(bins_d))
    bins_d = np.pad(bins_d, (0, len(bins_d_prime) - len(bins_d)))
    keep = (bins_d >= MIN_COUNT) & (bins_d_prime >= MIN_COUNT)
    index = np.flatnonzero(keep)
    n_d, n_d_prime = bins_d[keep].astype(float), bins_d_prime[keep].astype(float)
    return BinnedLogRatios(
        centre=low + index * width + (width - 1) / 2,
        n_d=n_d,
        n_d_prime=n_d_prime,
        log_ratio=np.log(n_d / n_d_prime),
        se=np.sqrt(1 / n_d + 1 / n_d_prime),
    )


@dataclass(frozen=True)
class PureEstimate:
    """The largest estimated |log ratio| of a sum's output (lower confidence bound and point value)."""

    eps_lower: float  # max over bins of |log ratio| - Z se: the true loss is at least this
    eps_point: float  # |log ratio| of the bin attaining eps_lower
    bins: int


def pure_loss(on_d: np.ndarray, on_d_prime: np.ndarray, laplace_scale: float) -> PureEstimate:
    """Estimate the pure DP loss of one sum from its outputs on D and D' (bins of width ~ b)."""
    binned = binned_log_ratios(on_d, on_d_prime, max(1, round(laplace_scale)))
    lower = np.abs(binned.log_ratio) - Z * binned.se
    best = int(np.argmax(lower))
    return PureEstimate(float(lower[best]), float(abs(binned.log_ratio[best])), len(lower))


@dataclass(frozen=True)
class ZcdpEstimate:
    """rho of a Gaussian shift estimated from the slope of the log likelihood ratio."""

    rho: float
    se: float
    slope: float
    shift: float  # the implied Delta = slope * sigma^2: the removed agent's clipped contribution


def weighted_slope(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares slope of y on x and its standard error (weights = 1 / variance of y)."""
    x_mean = np.sum(weight * x) / np.sum(weight)
    y_mean = np.sum(weight * y) / np.sum(weight)
    sxx = np.sum(weight * (x - x_mean) ** 2)
    return float(np.sum(weight * (x - x_mean) * (y - y_mean)) / sxx), float(1 / math.sqrt(sxx))


def zcdp_loss(on_d: np.ndarray, on_d_prime: np.ndarray, gaussian_scale: float) -> ZcdpEstimate:
    """Estimate rho of one sum: rho = slope^2 sigma^2 / 2, slope of ln(P_D / P_D') against the output.

    sigma^2 is the pooled sample variance of the outputs (each side around its own mean); the
    binning width (only) uses the mechanism's scale. The standard error follows by the delta
    method: relative variance 4 (se_slope / slope)^2 + 2 / (n - 2) for the variance estimate.
    """
    binned = binned_log_ratios(on_d, on_d_prime, max(1, round(gaussian_scale / 4)))
    slope, slope_se = weighted_slope(binned.centre, binned.log_ratio, 1 / binned.se**2)
    n = len(on_d) + len(on_d_prime)
    variance = (np.sum((on_d - on_d.mean()) ** 2) + np.sum((on_d_prime - on_d_prime.mean()) ** 2)) / (n - 2)
    rho = slope**2 * variance / 2
    se = rho * math.sqrt(4 * (slope_se / slope) ** 2 + 2 / (n - 2))
    return ZcdpEstimate(rho=float(rho), se=se, slope=slope, shift=float(slope * variance))


def pure_spec(epsilon: str = EPSILON) -> ReleaseSpec:
    """SITE_DAY under pure DP with this epsilon per release."""
    return pure_policy(epsilon=epsilon).release("site_day")


def zcdp_spec(rho: str = RHO) -> ReleaseSpec:
    """SITE_DAY under zCDP with this rho per release."""
    release: dict[str, Any] = {**{k: v for k, v in SITE_DAY.items() if k != "epsilon"}, "rho": rho}
    return make_test_policy([release], cap="100").release("site_day")


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_pure_dp_log_ratio_on_neighbours_stays_within_epsilon() -> None:
    spec = pure_spec()
    eps_part = float(spec.budget.amount) / len(spec.sums)
    on_d, on_d_prime, scales = neighbouring_outputs(spec, DRAWS)
    estimates = {m: pure_loss(on_d[m], on_d_prime[m], scales[m]) for m in spec.sums}
    for metric, est in estimates.items():
        assert est.bins >= 8, (metric, est)
        # No bin's log ratio exceeds the claim by more than Z standard errors ...
        assert est.eps_lower <= eps_part, (metric, est, eps_part)
        # ... and the data prove the agent's effect reaches most of the claim (tails: exactly eps_part).
        assert est.eps_lower >= ATTAINED * eps_part, (metric, est, eps_part)
    # The release's log ratio is the sum of its sums' (independent noise): bounded by epsilon.
    assert sum(e.eps_lower for e in estimates.values()) <= float(spec.budget.amount)


@pytest.mark.slow
def test_zcdp_rho_on_neighbours_stays_within_rho() -> None:
    spec = zcdp_spec()
    rho_part = float(spec.budget.amount) / len(spec.sums)
    on_d, on_d_prime, scales = neighbouring_outputs(spec, ZCDP_DRAWS)
    estimates = {m: zcdp_loss(on_d[m], on_d_prime[m], scales[m]) for m in spec.sums}
    for metric, est in estimates.items():
        assert Z * est.se <= RHO_TOLERANCE * rho_part, (metric, est)  # the tolerance is >= Z standard errors
        assert est.rho <= rho_part * (1 + RHO_TOLERANCE), (metric, est, rho_part)
        assert est.rho >= rho_part * (1 - RHO_TOLERANCE), (metric, est, rho_part)  # the effect is seen
    total = sum(e.rho for e in estimates.values())
    assert total <= float(spec.budget.amount) * (1 + RHO_TOLERANCE)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["pure", "zcdp"])
def test_estimators_detect_a_release_with_half_the_noise(model: str) -> None:
    """Negative control: a release with half the claimed noise scale must fail the claim."""
    claimed = pure_spec() if model == "pure" else zcdp_spec()
    part = float(claimed.budget.amount) / len(claimed.sums)
    # Half the noise scale: 2x epsilon (Laplace b halves) or 4x rho (sigma halves).
    leaky = pure_spec(str(2 * claimed.budget.amount)) if model == "pure" else zcdp_spec(str(4 * claimed.budget.amount))
    on_d, on_d_prime, scales = neighbouring_outputs(leaky, CONTROL_DRAWS)
    assert all(scales[m] == pytest.approx(expected_noise_scale(claimed, m) / 2) for m in claimed.sums)
    for metric in claimed.sums:
        if model == "pure":
            est = pure_loss(on_d[metric], on_d_prime[metric], scales[metric])
            assert est.eps_lower > part, (metric, est, part)  # proven above the claimed eps_part
        else:
            zest = zcdp_loss(on_d[metric], on_d_prime[metric], scales[metric])
            assert zest.rho - Z * zest.se > part, (metric, zest, part)  # proven above the claimed rho_part
