"""Empirical privacy test: the published release on neighbouring lakes stays within its claim.

What is tested is what the pipeline publishes: D and D' are lakes (each day's roster snapshot and
agent_day partition as the jobs write them, with the metrics completion markers), the pipeline's
publish step (teamlens.pipeline.publish_releases -> privacy.release: agent-window totals from the
agent_day rows, the accountant, the OpenDP draw) publishes them into the DuckDB warehouse, and the
outputs are the stored values read back as the report reads them (warehouse.store.read_published).
A pipeline that published exact sums, or skipped the clipping, fails here; so does one whose
outputs on D and D' do not overlap at all (noise removed: the test below shows it).

Neighbouring relation (the privacy unit is the agent): D' is D without every agent_day row of the
worst-case agent. The roster snapshots are the same in D and D' (group keys and sizes are public
facts, docs/privacy.md, The privacy unit), so the agent's group is still released on D' and the
agent contributes a window total of 0 there (agent_window_totals gives roster agents without
activity zeros). The removed agent is the worst case: its day is 3x the bound of every sum, so its
clipped contribution is the full bound (Delta = bound) for every sum at once, and broken clipping
would show up as a 3x larger shift.

Independent samples: each day is a release window of its own (daily release, cap far above the
spend), and each window has GROUPS public groups (teams) of AGENTS agents, every team with its own
worst-case agent that D' lacks. OpenDP draws the noise of every (window, group, sum) cell
independently (from a cryptographic source, so there are no seeds), and every team holds the same
data, so a window gives GROUPS independent draws of one group's output on D (resp. D') and
`days` windows give GROUPS * days draws per side.

The published sums are clamped at 0 (post-processing). The AGENTS - 1 ordinary agents sit at the
bound, so a group's exact sum is 9 bounds on D' and 10 on D: 6.4 sigma above 0 under zCDP (sigma
= 1.41 bound), so the clamp practically never acts and does not bend the zCDP slope fit, and 4.5
Laplace scales under pure DP (b = 2 bounds), where about 0.5% of the outputs are clamped. Pure DP
holds for any post-processing, so the clamped outputs obey the same log ratio bound (the bin at 0
has the ratio of two tails, exactly e^eps_part).

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
- Both: at least MIN_BINS bins hold MIN_COUNT outputs on both sides. Outputs without noise (the
  exact sums, 9 or 10 bounds) take two values: D and D' are told apart with certainty (an
  unbounded loss), yet a bin wide enough to hold both values would show a log ratio of 0 (pure
  DP's bins of b = 2 bounds do), so it is the MIN_BINS check that fails on them.

Tolerances and false failures: Z = 6 standard errors. A per-bin check fails falsely with
probability about P(N(0,1) > 6) = 1e-9 (about 50 bins: < 1e-7); MIN_COUNT = 400 keeps the normal
approximation of a log count ratio good. The attained check (eps_lower >= 0.75 eps_part) fails
falsely only if the most populated tail bin (se about 0.009 at 100,000 draws) misses eps_part by
about 7 standard errors. The zCDP tests also assert that Z standard errors fit inside the 10%
tolerance, so a false failure of the 10% check is below 2e-9 per sum. How many draws that takes:
the relative standard error of rho_hat is about twice the slope's, 2 sigma / (Delta sqrt(n / 2)) =
4 / sqrt(n) for Delta / sigma = 0.71 (a little more, as bins below MIN_COUNT are dropped), so Z
standard errors are about 7% of rho_part at 160,000 outputs per side (measured), 9.2% to 9.4% at
100,000 (measured, both sums) and so about 8.9% at ZCDP_DAYS * GROUPS = 110,000. The share varies
with the fitted slope, by about 1.5% of itself from run to run: at 110,000 the 10% line is about 8
of those away, at 100,000 only 4.5 (too close), and below about 90,000 it would not fit. Binning a
Gaussian shrinks the fitted slope by the factor 1 - w^2 / (12 sigma^2) = 0.5% for w = sigma / 4,
negligible against 10%.

Negative control: the same estimators applied to a release published under twice the epsilon
(pure) or four times the rho (zCDP), i.e. half the noise scale, must report a loss above the claim
of the original release. This shows the test can fail.

Runtime: the lakes (11 days of 100,000 agents each side) are written once per module and copied
for each test; publishing a window of 10,000 groups takes about 1.5 s of CPU, 50 windows in all
(most of it the ledger's canonical JSON of the release's rows).
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from foundation.budget import Budget
from foundation.policy import load_policy
from privacy import release as release_module
from privacy.mechanisms import CalibratedRelease, analytic_scale
from teamlens import pipeline
from tests.helpers import (
    SITE_DAY,
    approve,
    lake_settings,
    write_lake_day,
    write_policy_file,
    write_pure_policy_file,
)
from warehouse.store import read_published

GROUPS = 10_000  # public groups (teams) per window: independent draws per window
DAYS = 10  # one-day windows per side: GROUPS * DAYS = 100,000 outputs per sum per side
ZCDP_DAYS = 11  # 110,000 outputs: Z standard errors of the rho estimate are about 9% of rho_part (asserted <= 10%)
CONTROL_DAYS = 1  # the negative control's effect is 2x to 4x: fewer draws suffice
AGENTS = 10  # agents per group (min_group_size 10), the worst-case one included
MIN_COUNT = 400  # a bin is used only with at least this many outputs on both sides
MIN_BINS = 8  # the outputs of D and D' must overlap in at least this many bins
Z = 6.0  # standard errors of statistical tolerance (one-sided false failure ~1e-9 per check)
ATTAINED = 0.75  # the largest log ratio is proven to reach at least this share of the claim
RHO_TOLERANCE = 0.10  # relative tolerance of the zCDP estimate

EPSILON = "1"  # pure: eps_part = 0.5 for the two sums
RHO = "0.5"  # zCDP: rho_part = 0.25, Delta / sigma = 0.71
CAP = "100"  # per month, in the policy's unit: far above the spend of every test (at most 10)
RELEASE = "team_day"
BOUNDS: dict[str, int] = dict(SITE_DAY["sums"])  # contacts_handled 60, handle_seconds 23400 per agent-day
FIRST_DAY = dt.date(2026, 3, 2)
ALL_DAYS = [FIRST_DAY + dt.timedelta(days=i) for i in range(max(DAYS, ZCDP_DAYS))]  # all in March
SIDES = ("D", "D'")


# --- the neighbouring lakes ---------------------------------------------------------------------


def neighbouring_day() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One day's roster snapshot and its agent_day rows on D and on D'.

    Every team has AGENTS agents: the worst-case one at 3x every bound (OpenDP clips it to the
    bound) and AGENTS - 1 ordinary ones at the bound. D' is D without the worst-case agents' rows;
    the roster is the same.
    """
    teams = [f"team-{g:05d}" for g in range(GROUPS)]
    roster = pl.DataFrame(
        {
            "agent_pseudonym": [
                f"{team}-{'worst' if a == 0 else f'agent-{a}'}" for team in teams for a in range(AGENTS)
            ],
            "team": [team for team in teams for _ in range(AGENTS)],
            "site": "Berlin",
            "site_timezone": "Europe/Berlin",
        }
    )
    worst = pl.col("agent_pseudonym").str.ends_with("-worst")
    on_d = roster.select(
        "agent_pseudonym",
        "team",
        "site",
        *[pl.when(worst).then(3 * bound).otherwise(bound).cast(pl.Int64).alias(m) for m, bound in BOUNDS.items()],
    )
    return roster, on_d, on_d.filter(~worst)


@pytest.fixture(scope="module")
def neighbouring_zones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The data roots of D and D' (restricted zones only, no warehouse yet), ALL_DAYS days each."""
    roster, on_d, on_d_prime = neighbouring_day()
    unused_policy = tmp_path_factory.mktemp("policy") / "unused.yaml"  # settings need one; nothing reads it here
    roots = {}
    for side, rows in zip(SIDES, (on_d, on_d_prime), strict=True):
        roots[side] = tmp_path_factory.mktemp("zones") / "data"
        settings = lake_settings(roots[side], unused_policy)
        for day in ALL_DAYS:
            write_lake_day(settings, day, roster, rows)
    return roots


def team_day_release(model: str, budget: str) -> dict[str, Any]:
    """A daily release per team of SITE_DAY's two sums (no ratios), with this epsilon (pure) or rho (zcdp)."""
    return {
        "name": RELEASE,
        "purpose": "daily workload per team (empirical privacy test)",
        "group_by": "team",
        "window": "day",
        "epsilon" if model == "pure" else "rho": budget,
        "sums": dict(BOUNDS),
    }


def publish_side(
    zones: Path, work: Path, model: str, budget: str, days: int
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Publish the first `days` one-day windows of a copy of the zones with the pipeline's step; the
    stored sums (pooled over windows and groups, per sum) and the noise scale stored with each sum.

    Each sum's stored scale is the same in every row: it depends only on public facts (the policy
    and the roster), never on the private data."""
    work.mkdir()
    shutil.copytree(zones, work / "data")
    release = [team_day_release(model, budget)]
    policy_file = (
        write_pure_policy_file(work / "policy.yaml", release, cap=CAP)
        if model == "pure"
        else write_policy_file(work / "policy.yaml", release, cap=CAP)
    )
    settings = lake_settings(work / "data", policy_file)
    approve(settings.lake.warehouse_path, load_policy(policy_file))
    counts = pipeline.publish_releases([d.isoformat() for d in ALL_DAYS[:days]], settings)
    assert counts == {"windows": days, "released": days}
    stored = read_published(settings.lake.warehouse_path, RELEASE)
    assert len(stored) == days * GROUPS * len(BOUNDS) and all(r["status"] == "published" for r in stored)
    outputs = {m: np.array([r["value"] for r in stored if r["statistic"] == m]) for m in BOUNDS}
    assert all(np.array_equal(v, np.round(v)) for v in outputs.values())  # integer noise, integer sums
    scales = {(r["statistic"], r["noise_scale"]) for r in stored}
    assert len(scales) == len(BOUNDS), scales
    return {m: v.astype(np.int64) for m, v in outputs.items()}, dict(scales)


def neighbouring_outputs(
    zones: dict[str, Path], tmp_path: Path, model: str, budget: str, days: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    """The stored outputs of the release on D and on D', and the (equal) noise scales stored with them."""
    outputs, scales = {}, {}
    for side, folder in zip(SIDES, ("d", "d_prime"), strict=True):
        outputs[side], scales[side] = publish_side(zones[side], tmp_path / folder, model, budget, days)
    assert scales["D"] == scales["D'"]
    return outputs["D"], outputs["D'"], scales["D"]


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
    if len(binned.centre) == 0:  # the outputs never overlap: D and D' are told apart, no bound holds
        return PureEstimate(math.inf, math.inf, 0)
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
    bins: int


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
    if len(binned.centre) < 2:  # no slope to fit: the outputs (nearly) never overlap, no bound holds
        return ZcdpEstimate(rho=math.inf, se=math.inf, slope=math.nan, shift=math.nan, bins=len(binned.centre))
    slope, slope_se = weighted_slope(binned.centre, binned.log_ratio, 1 / binned.se**2)
    n = len(on_d) + len(on_d_prime)
    variance = (np.sum((on_d - on_d.mean()) ** 2) + np.sum((on_d_prime - on_d_prime.mean()) ** 2)) / (n - 2)
    rho = slope**2 * variance / 2
    se = rho * math.sqrt(4 * (slope_se / slope) ** 2 + 2 / (n - 2))
    return ZcdpEstimate(rho=float(rho), se=se, slope=slope, shift=float(slope * variance), bins=len(binned.centre))


def assert_pure_claim(on_d: dict[str, np.ndarray], on_d_prime: dict[str, np.ndarray], scales: dict[str, float]) -> None:
    """The outputs of a pure DP release of epsilon EPSILON stay within its claim, and nearly attain it."""
    epsilon = float(EPSILON)
    eps_part = epsilon / len(BOUNDS)
    estimates = {m: pure_loss(on_d[m], on_d_prime[m], scales[m]) for m in BOUNDS}
    for metric, est in estimates.items():
        assert est.bins >= MIN_BINS, (metric, est, "the outputs of D and D' (nearly) never overlap")
        # No bin's log ratio exceeds the claim by more than Z standard errors ...
        assert est.eps_lower <= eps_part, (metric, est, eps_part)
        # ... and the data prove the agent's effect reaches most of the claim (tails: exactly eps_part).
        assert est.eps_lower >= ATTAINED * eps_part, (metric, est, eps_part)
    # The release's log ratio is the sum of its sums' (independent noise): bounded by epsilon.
    assert sum(e.eps_lower for e in estimates.values()) <= epsilon


def assert_zcdp_claim(on_d: dict[str, np.ndarray], on_d_prime: dict[str, np.ndarray], scales: dict[str, float]) -> None:
    """The outputs of a zCDP release of rho RHO spend rho_part per sum, within RHO_TOLERANCE."""
    rho = float(RHO)
    rho_part = rho / len(BOUNDS)
    estimates = {m: zcdp_loss(on_d[m], on_d_prime[m], scales[m]) for m in BOUNDS}
    for metric, est in estimates.items():
        assert est.bins >= MIN_BINS, (metric, est, "the outputs of D and D' (nearly) never overlap")
        assert Z * est.se <= RHO_TOLERANCE * rho_part, (metric, est)  # the tolerance is >= Z standard errors
        assert est.rho <= rho_part * (1 + RHO_TOLERANCE), (metric, est, rho_part)
        assert est.rho >= rho_part * (1 - RHO_TOLERANCE), (metric, est, rho_part)  # the effect is seen
    assert sum(e.rho for e in estimates.values()) <= rho * (1 + RHO_TOLERANCE)


def claimed_scales(model: str, budget: str) -> dict[str, float]:
    """The analytic noise scale of each sum of the team release under this epsilon (pure) or rho (zcdp)."""
    spent = Budget("epsilon" if model == "pure" else "rho", Fraction(budget))
    return {m: analytic_scale(bound, spent, len(BOUNDS)) for m, bound in BOUNDS.items()}


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_pure_dp_log_ratio_on_neighbours_stays_within_epsilon(
    neighbouring_zones: dict[str, Path], tmp_path: Path
) -> None:
    on_d, on_d_prime, scales = neighbouring_outputs(neighbouring_zones, tmp_path, "pure", EPSILON, DAYS)
    assert scales == pytest.approx(claimed_scales("pure", EPSILON))
    assert_pure_claim(on_d, on_d_prime, scales)


@pytest.mark.slow
def test_zcdp_rho_on_neighbours_stays_within_rho(neighbouring_zones: dict[str, Path], tmp_path: Path) -> None:
    on_d, on_d_prime, scales = neighbouring_outputs(neighbouring_zones, tmp_path, "zcdp", RHO, ZCDP_DAYS)
    assert scales == pytest.approx(claimed_scales("zcdp", RHO))
    assert_zcdp_claim(on_d, on_d_prime, scales)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["pure", "zcdp"])
def test_estimators_detect_a_release_with_half_the_noise(
    neighbouring_zones: dict[str, Path], tmp_path: Path, model: str
) -> None:
    """Negative control: a release with half the claimed noise scale must fail the claim."""
    claimed = EPSILON if model == "pure" else RHO
    part = float(claimed) / len(BOUNDS)
    # Half the noise scale: 2x epsilon (Laplace b halves) or 4x rho (sigma halves).
    leaky = str(2 * int(EPSILON)) if model == "pure" else str(4 * float(RHO))
    on_d, on_d_prime, scales = neighbouring_outputs(neighbouring_zones, tmp_path, model, leaky, CONTROL_DAYS)
    assert scales == pytest.approx({m: s / 2 for m, s in claimed_scales(model, claimed).items()})
    for metric in BOUNDS:
        if model == "pure":
            est = pure_loss(on_d[metric], on_d_prime[metric], scales[metric])
            assert est.eps_lower > part, (metric, est, part)  # proven above the claimed eps_part
        else:
            zest = zcdp_loss(on_d[metric], on_d_prime[metric], scales[metric])
            assert zest.rho - Z * zest.se > part, (metric, zest, part)  # proven above the claimed rho_part


class ExactSums:
    """Stands in for privacy.release.calibrate: the real calibration (scales and data), but a
    measurement that returns the clipped group sums without noise, as a broken release would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.real = release_module.calibrate
        monkeypatch.setattr(release_module, "calibrate", self)

    def __call__(self, totals: pl.DataFrame, released: list[str], spec: Any) -> CalibratedRelease:
        real = self.real(totals, released, spec)

        def exact(data: pl.LazyFrame) -> pl.LazyFrame:
            return data.group_by(spec.group_by).agg(pl.col(m).clip(0, b).sum() for m, b in spec.sums.items())

        return CalibratedRelease(measurement=exact, data=real.data, scales=real.scales)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["pure", "zcdp"])
def test_published_exact_sums_fail_the_claim(
    neighbouring_zones: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    """A release path that publishes the exact (clipped) sums is caught: its outputs on D and D' take
    one value each, so they fill fewer than MIN_BINS bins and the checks of the tests above fail."""
    ExactSums(monkeypatch)
    budget = EPSILON if model == "pure" else RHO
    on_d, on_d_prime, scales = neighbouring_outputs(neighbouring_zones, tmp_path, model, budget, 1)
    for metric, bound in BOUNDS.items():  # the stand-in took effect: every stored sum is exact
        assert set(on_d[metric].tolist()) == {AGENTS * bound}
        assert set(on_d_prime[metric].tolist()) == {(AGENTS - 1) * bound}
    check = assert_pure_claim if model == "pure" else assert_zcdp_claim
    with pytest.raises(AssertionError, match="never overlap"):
        check(on_d, on_d_prime, scales)
