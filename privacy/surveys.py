"""Pulse survey releases: eNPS, Likert means and response counts per team or site, under the same budget.

One survey release (a survey's group kind, one calendar month; docs/privacy.md, Pulse surveys):
1. The month's answers (staged survey_answers whose answered_on lies in the month), one per agent
   and question (the latest answer date, then the latest delivery, wins), and the roster of the
   month's first day: every agent lands in exactly one group (small teams merged or suppressed by
   privacy.groups, from the roster alone).
2. Exact counts per released group: respondents; per eNPS question the three-bucket histogram
   (detractors 0-6, passives 7-8, promoters 9-10); per Likert question the answers and the sum of
   answer - low (0..4).
3. OpenDP adds noise to each part, one vector over the released groups (a histogram: groups x 3
   buckets). One agent is in one group and, per question, in one bucket, so each part's L2 (and
   L1) sensitivity is 1, or the scale's width (4) for a Likert sum. The parts share the release's
   budget evenly (foundation.survey_policy), each calibrated by mechanisms.analytic_scale and
   checked against OpenDP's own privacy map.
4. Post-processing (no budget): a group whose noisy response count is under the survey's
   min_responses has none of its figures published (recorded in the ledger entry's parameters as
   below_min_responses: deciding on a noisy count is post-processing of a DP output). Otherwise
   eNPS = 100 x (promoters - detractors) / (the three noisy counts together), its interval by the
   union bound over the three counts' intervals at 5%/3 each (extremes at the corners of the box);
   a Likert mean = low + sum / answers, by the union bound over two intervals at 5%/2 each;
   too noisy when the denominator's interval reaches 0.

Every draw goes through privacy.accountant.publish_release: budget check before noise, one
transaction with the ledger, a retry returns the stored release and never draws again.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

import polars as pl

from foundation import lake, schema
from foundation.budget import Budget
from foundation.policy import Policy, ReleaseSpec
from foundation.settings import Settings
from foundation.survey_policy import ENPS_BUCKETS, RESPONSES, SurveySpec, enps_bucket
from foundation.windows import window_of
from privacy.accountant import publish_release
from privacy.groups import assign_merged_groups, decide_groups
from privacy.mechanisms import ALPHA_SUM, NOISE_DISTRIBUTION, NoiseScaleMismatch, analytic_scale, half_width
from privacy.release import (
    PendingWindow,
    metrics_complete,
    read_partitions,
    window_days,
    window_key_fingerprints,
    window_roster,
)
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey, ReleaseOutcome
from warehouse.store import published_windows

MECHANISMS = {
    "zcdp": "Gaussian (zCDP), OpenDP 0.16 integer Gaussian on each part's vector over the groups (L2 sensitivity)",
    "pure": "Laplace (pure DP), OpenDP 0.16 integer Laplace on each part's vector over the groups (L1 sensitivity)",
}
ENPS_RANGE = (-100.0, 100.0)
# The typical shares at which the plan predicts an eNPS's precision: a third of respondents in each bucket.
TYPICAL_BUCKET_SHARES = {"detractors": 1 / 3, "passives": 1 / 3, "promoters": 1 / 3}
# The typical Likert answer (the middle of 1..5) at which the plan predicts a mean's precision.
TYPICAL_LIKERT_ANSWER = 3.0


def enps(detractors: float, passives: float, promoters: float) -> float | None:
    """100 x (promoters - detractors) / all three; None when there is nobody."""
    total = detractors + passives + promoters
    return None if total <= 0 else 100.0 * (promoters - detractors) / total


# --- the data of one window ----------------------------------------------------------------------


def month_answers(settings: Settings, survey: SurveySpec, start: dt.date, end: dt.date) -> pl.DataFrame:
    """The survey's staged answers given in [start, end), one per agent and question: the latest
    answer date, then the latest delivery (landing day, line) wins."""
    root = settings.lake.table_root(schema.SURVEY_ANSWERS)
    days = [d for d in lake.partition_days(root) if d >= start - dt.timedelta(days=1)]
    answers = read_partitions(root, days)
    if answers.is_empty():
        return pl.DataFrame(schema={"agent_pseudonym": pl.String, "question_id": pl.String, "answer": pl.Int64})
    return (
        answers.filter(
            (pl.col("survey_id") == survey.survey_id) & (pl.col("answered_on") >= start) & (pl.col("answered_on") < end)
        )
        .sort(["answered_on", "day", "source_file", "source_line"])
        .group_by(["agent_pseudonym", "question_id"])
        .agg(pl.col("answer").last().cast(pl.Int64))
    )


def respondent_rows(answers: pl.DataFrame, roster: pl.DataFrame, survey: SurveySpec, group_by: str) -> pl.DataFrame:
    """One row per respondent in the roster: its group and, per question, its answer (null: not answered).

    Respondents not in the roster snapshot are left out (their group is unknown)."""
    wide: dict[str, Any] = {"agent_pseudonym": pl.String, group_by: pl.String}
    wide |= {q.question_id: pl.Int64 for q in survey.questions}
    if answers.is_empty() or roster.is_empty():
        return pl.DataFrame(schema=wide)
    known = answers.filter(pl.col("question_id").is_in([q.question_id for q in survey.questions]))
    pivoted = known.pivot(on="question_id", index="agent_pseudonym", values="answer")
    for q in survey.questions:
        if q.question_id not in pivoted.columns:
            pivoted = pivoted.with_columns(pl.lit(None, dtype=pl.Int64).alias(q.question_id))
    groups = roster.select("agent_pseudonym", group_by).unique("agent_pseudonym")
    return pivoted.join(groups, on="agent_pseudonym", how="inner").select(list(wide))


def exact_counts(
    rows: pl.DataFrame, survey: SurveySpec, group_by: str, released: Sequence[str]
) -> dict[str, list[int]]:
    """Each part's exact vector over the released groups (in `released` order; a histogram: group x bucket)."""
    if rows["agent_pseudonym"].is_duplicated().any():
        raise ValueError(f"survey {survey.survey_id}: an agent has more than one row; nothing drawn")
    index = {g: i for i, g in enumerate(released)}
    parts = survey.parts()
    counts = {p: [0] * (len(released) * (3 if p in _histograms(survey) else 1)) for p in parts}
    for row in rows.iter_rows(named=True):
        at = index.get(row[group_by])
        if at is None:
            continue
        answered = [q for q in survey.questions if row[q.question_id] is not None]
        if not answered:
            continue
        counts[RESPONSES][at] += 1
        for q in answered:
            answer = int(row[q.question_id])
            if q.scale == "enps_0_10":
                bucket = [b for b, _, _ in ENPS_BUCKETS].index(enps_bucket(answer))
                counts[q.question_id][3 * at + bucket] += 1
            else:
                counts[f"{q.question_id}.answers"][at] += 1
                counts[f"{q.question_id}.sum_above_low"][at] += min(max(answer, q.low), q.high) - q.low
    return counts


def _histograms(survey: SurveySpec) -> set[str]:
    return {q.question_id for q in survey.questions if q.scale == "enps_0_10"}


# --- the draw ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def part_measurement(budget: Budget, sensitivity: int, parts: int) -> tuple[Any, float]:
    """OpenDP's integer Gaussian (rho) or Laplace (epsilon) on a vector, at the analytic scale of one of
    `parts` parts sharing the budget; refuses when OpenDP's privacy map at the sensitivity exceeds the
    part's share."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    scale = analytic_scale(sensitivity, budget, parts)
    domain = dp.vector_domain(dp.atom_domain(T=int))
    if budget.unit == "rho":
        measurement = dp.m.make_gaussian(domain, dp.l2_distance(T=int), scale=scale)
    else:
        measurement = dp.m.make_laplace(domain, dp.l1_distance(T=int), scale=scale)
    share = float(budget.amount) / parts
    spent = measurement.map(sensitivity)
    if spent > share * (1 + 1e-9):
        raise NoiseScaleMismatch(f"a survey part spends {budget.unit}={spent}, more than its share {share}")
    return measurement, scale


def draw_survey_release(
    rows: pl.DataFrame, decisions: tuple[GroupDecision, ...], spec: ReleaseSpec, survey: SurveySpec
) -> NoisyRelease:
    """Noisy parts for the released groups with OpenDP, then the published figures (post-processing).

    This draws fresh noise: call it only through the accountant (privacy.accountant.publish_release)."""
    released = sorted(d.group_value for d in decisions if d.status == "released")
    parts = spec.sums  # the survey's parts with their sensitivities
    parameters: dict[str, object] = {
        "survey_id": survey.survey_id,
        "sensitivities": dict(parts),
        f"{spec.budget.unit}_per_part": str((spec.budget / len(parts)).amount),
        "group_by": spec.group_by,
        "public_keys": released,
        "min_responses": survey.min_responses,
        "alpha": ALPHA_SUM,
    }
    mechanism = MECHANISMS[spec.privacy_model]
    if not released:
        return NoisyRelease(values=(), groups=decisions, mechanism=mechanism, parameters=parameters)
    merged = assign_merged_groups(rows, decisions, spec.group_by)
    exact = exact_counts(merged, survey, spec.group_by, released)
    noisy: dict[str, list[int]] = {}
    scales: dict[str, float] = {}
    for part, sensitivity in parts.items():
        measurement, scales[part] = part_measurement(spec.budget, sensitivity, len(parts))
        noisy[part] = list(measurement(exact[part]))
    parameters["noise_scales"] = scales
    values, below = survey_values(noisy, scales, survey, released, NOISE_DISTRIBUTION[spec.privacy_model])
    parameters["below_min_responses"] = below
    return NoisyRelease(values=values, groups=decisions, mechanism=mechanism, parameters=parameters)


# --- post-processing -----------------------------------------------------------------------------


def count_value(group: str, statistic: str, noisy: float, scale: float, distribution: str) -> PublishedValue:
    """A noisy count clamped at 0, with its 95% interval."""
    half = half_width(scale, ALPHA_SUM, distribution)
    return PublishedValue(
        group, statistic, max(0.0, noisy), max(0.0, noisy - half), max(0.0, noisy + half), scale, "published"
    )


def enps_interval(counts: Sequence[float], half: float) -> tuple[float, float, float] | None:
    """(eNPS, low, high) from noisy detractors, passives, promoters whose intervals are each +-half:
    the extremes over the box of the three intervals (kept at 0 or above) lie at its corners, as the
    eNPS is monotone in each count; None (too noisy) when the box reaches an empty group."""
    boxes = [(max(0.0, c - half), max(0.0, c) + half) for c in counts]
    if sum(low for low, _ in boxes) <= 0:
        return None
    value = enps(*(max(0.0, c) for c in counts))
    corners = [enps(*corner) for corner in itertools.product(*boxes)]
    finite = [c for c in corners if c is not None]
    if value is None or not finite:
        return None
    return value, min(finite), max(finite)


def mean_interval(
    answers: float, sum_above_low: float, half_answers: float, half_sum: float, low: int, high: int
) -> tuple[float, float, float] | None:
    """(mean, low, high) of low + sum / answers by the union bound; None when the answers' interval reaches 0."""
    if answers - half_answers <= 0:
        return None

    def clamp(x: float) -> float:
        return min(float(high), max(float(low), x))

    total = max(0.0, sum_above_low)
    return (
        clamp(low + total / answers),
        clamp(low + max(0.0, total - half_sum) / (answers + half_answers)),
        clamp(low + (total + half_sum) / (answers - half_answers)),
    )


def survey_values(
    noisy: dict[str, list[int]],
    scales: dict[str, float],
    survey: SurveySpec,
    released: Sequence[str],
    distribution: str,
) -> tuple[tuple[PublishedValue, ...], list[str]]:
    """The published figures of every released group, and the groups under min_responses (whose
    figures are all withheld, as too_noisy)."""
    out: list[PublishedValue] = []
    below: list[str] = []
    for i, group in enumerate(released):
        figures: list[PublishedValue] = [
            count_value(group, RESPONSES, noisy[RESPONSES][i], scales[RESPONSES], distribution)
        ]
        for q in survey.questions:
            if q.scale == "enps_0_10":
                scale = scales[q.question_id]
                counts = [float(x) for x in noisy[q.question_id][3 * i : 3 * i + 3]]
                for (bucket, _, _), count in zip(ENPS_BUCKETS, counts, strict=True):
                    figures.append(count_value(group, f"{q.question_id}_{bucket}", count, scale, distribution))
                interval = enps_interval(counts, half_width(scale, ALPHA_SUM / 3, distribution))
                figures.append(_bounded(group, f"{q.question_id}_enps", interval))
            else:
                n_part, s_part = f"{q.question_id}.answers", f"{q.question_id}.sum_above_low"
                n, s = float(noisy[n_part][i]), float(noisy[s_part][i])
                figures.append(count_value(group, f"{q.question_id}_answers", n, scales[n_part], distribution))
                halves = [half_width(scales[p], ALPHA_SUM / 2, distribution) for p in (n_part, s_part)]
                interval = mean_interval(n, s, halves[0], halves[1], q.low, q.high)
                figures.append(_bounded(group, f"{q.question_id}_mean", interval))
        if noisy[RESPONSES][i] < survey.min_responses:
            below.append(group)
            figures = [PublishedValue(group, f.statistic, None, None, None, None, "too_noisy") for f in figures]
        out.extend(figures)
    return tuple(out), below


def _bounded(group: str, statistic: str, interval: tuple[float, float, float] | None) -> PublishedValue:
    if interval is None:
        return PublishedValue(group, statistic, None, None, None, None, "too_noisy")
    value, low, high = interval
    return PublishedValue(group, statistic, value, low, high, None, "published")


# --- publishing ----------------------------------------------------------------------------------


def release_survey_windows(
    settings: Settings, policy: Policy, first_day: dt.date, end_day: dt.date
) -> list[ReleaseOutcome | PendingWindow]:
    """Publish every survey release whose month ends in [first_day, end_day) (or a month of the days
    that is complete by now), as privacy.release.release_windows does for the releases."""
    published = published_windows(settings.lake.warehouse_path)
    outcomes: list[ReleaseOutcome | PendingWindow] = []
    for survey in policy.surveys:
        for group_by in survey.group_by:
            spec = policy.survey_release_spec(survey, group_by)
            windows = set(spec.windows_ending_in(first_day, end_day))
            for day in window_days(first_day, end_day):
                window = window_of(spec.window, day)
                if (spec.name, *window) in published or all(
                    metrics_complete(settings, d) for d in window_days(*window)
                ):
                    windows.add(window)
            for start, end in sorted(windows):
                days = window_days(start, end)
                missing = [d for d in days if not metrics_complete(settings, d)]
                if missing:
                    outcomes.append(PendingWindow(spec.name, start, end, tuple(missing)))
                    continue
                outcomes.append(
                    publish_release(
                        settings.lake.warehouse_path,
                        ReleaseKey(spec.name, start, end, policy.sha256),
                        spec,
                        policy,
                        settings.run_by,
                        draw=functools.partial(_draw_from_zones, settings, policy, spec, survey, days),
                        groups=functools.partial(_groups, settings, policy, spec, days),
                        key_fingerprints=window_key_fingerprints(settings, days),
                    )
                )
    return outcomes


def _groups(settings: Settings, policy: Policy, spec: ReleaseSpec, days: list[dt.date]) -> tuple[GroupDecision, ...]:
    return decide_groups(window_roster(settings, days), spec, policy)


def _draw_from_zones(
    settings: Settings, policy: Policy, spec: ReleaseSpec, survey: SurveySpec, days: list[dt.date]
) -> NoisyRelease:
    roster = window_roster(settings, days)
    answers = month_answers(settings, survey, days[0], days[-1] + dt.timedelta(days=1))
    rows = respondent_rows(answers, roster, survey, spec.group_by)
    return draw_survey_release(rows, decide_groups(roster, spec, policy), spec, survey)


def typical_half_widths(spec: ReleaseSpec, survey: SurveySpec) -> dict[str, float]:
    """The 95% half-width of each figure's parts as the plan uses them (public facts only)."""
    dist = NOISE_DISTRIBUTION[spec.privacy_model]
    scales = {p: analytic_scale(s, spec.budget, len(spec.sums)) for p, s in spec.sums.items()}
    return {
        **{p: half_width(s, ALPHA_SUM, dist) for p, s in scales.items()},
        **{f"{p}@enps": half_width(s, ALPHA_SUM / 3, dist) for p, s in scales.items()},
        **{f"{p}@mean": half_width(s, ALPHA_SUM / 2, dist) for p, s in scales.items()},
    }


def predicted_relative(spec: ReleaseSpec, survey: SurveySpec, roster_size: int) -> dict[str, tuple[float, float]]:
    """Each figure's (predicted 95% half-width, relative half-width) for a group of roster_size agents at
    the survey's typical response rate: counts relative to the typical count, an eNPS to its half-range
    (100 points), a mean to the typical answer. inf: too noisy at typical values."""
    halves = typical_half_widths(spec, survey)
    respondents = float(survey.typical_response_rate) * roster_size
    out = {RESPONSES: (halves[RESPONSES], halves[RESPONSES] / respondents if respondents else math.inf)}
    for q in survey.questions:
        if q.scale == "enps_0_10":
            counts = [respondents * TYPICAL_BUCKETS for TYPICAL_BUCKETS in TYPICAL_BUCKET_SHARES.values()]
            interval = enps_interval(counts, halves[f"{q.question_id}@enps"])
            spread = math.inf if interval is None else max(interval[2] - interval[0], interval[0] - interval[1])
            out[f"{q.question_id}_enps"] = (spread, spread / 100.0)
        else:
            n_half, s_half = halves[f"{q.question_id}.answers@mean"], halves[f"{q.question_id}.sum_above_low@mean"]
            typical = TYPICAL_LIKERT_ANSWER
            interval = mean_interval(respondents, respondents * (typical - q.low), n_half, s_half, q.low, q.high)
            spread = math.inf if interval is None else max(interval[2] - interval[0], interval[0] - interval[1])
            out[f"{q.question_id}_mean"] = (spread, spread / typical)
    return out
