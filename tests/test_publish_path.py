"""Privacy through the path that publishes: the real release on a hand-made lake, read back as the report reads it.

Other privacy tests check the calibration on hand-built totals; these (and the empirical privacy
test, tests/test_privacy_empirical.py, on neighbouring lakes) go through what the pipeline's
publish step calls (teamlens.pipeline.publish_releases -> privacy.release.release_windows):
roster snapshots and agent_day partitions written as the jobs write them (foundation.schema types,
one swapped-in Parquet file per day), the metrics completion markers, a policy file, the real
OpenDP draw and the DuckDB warehouse, read back with warehouse.store.read_published (what the
report shows). A release that published the exact sums, or a rerun that drew noise again, fails
here.

The center: teams of 10 agents (min_group_size 10) and one team of 4 (suppressed). Every agent
handles 20 to 40 contacts a day of 200 to 400 seconds each, so no agent's day or week reaches the
release's bounds: the exact group sums are the plain sums of the agent_day rows.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from foundation.policy import load_policy
from foundation.settings import Settings
from privacy import release as release_module
from privacy.mechanisms import analytic_scale
from teamlens import pipeline
from tests.helpers import approve, lake_settings, write_lake_day, write_policy_file
from warehouse.records import ReleaseOutcome
from warehouse.store import read_published

MONDAY = dt.date(2026, 3, 9)
SUMS = ("contacts_handled", "handle_seconds")
SMALL_TEAM = "team-small"  # 4 agents: below min_group_size, never published

# A week per team with rho 10 over two sums: rho_part 5, sigma = bound / sqrt(10), that is 94.9
# contacts and 37,000 handle seconds. No agent's week reaches the bounds (7 x 40 contacts = 280,
# 7 x 40 x 400 seconds = 112,000).
TEAM_WEEK: dict[str, Any] = {
    "name": "team_week",
    "purpose": "weekly workload per team (publishing path test)",
    "group_by": "team",
    "window": "week",
    "rho": "10",
    "sums": {"contacts_handled": 300, "handle_seconds": 117000},
    "ratios": {"aht_seconds": {"numerator": "handle_seconds", "denominator": "contacts_handled", "max": 3600}},
}
# A day per team with rho 1 over two sums: rho_part 1/2, sigma = bound: 60 contacts, 23,400
# handle seconds. No agent's day reaches them (40 contacts, 40 x 400 = 16,000 seconds).
TEAM_DAY: dict[str, Any] = {
    "name": "team_day",
    "purpose": "daily workload per team (publishing path test)",
    "group_by": "team",
    "window": "day",
    "rho": "1",
    "sums": {"contacts_handled": 60, "handle_seconds": 23400},
}


# --- the hand-made lake ----------------------------------------------------------------------------


def activity(teams: int, days: list[dt.date], seed: int = 7) -> pl.DataFrame:
    """The agent_day rows of `teams` teams of 10 agents and one team of 4, every agent active every day."""
    rng = random.Random(seed)
    members = [(f"team-{t:03d}", f"team-{t:03d}-agent-{i}") for t in range(teams) for i in range(10)]
    members += [(SMALL_TEAM, f"{SMALL_TEAM}-agent-{i}") for i in range(4)]
    rows = []
    for day in days:
        for team, agent in members:
            contacts = rng.randint(20, 40)
            handle = sum(rng.randint(200, 400) for _ in range(contacts))
            rows.append((day, agent, team, "Berlin", contacts, handle))
    return pl.DataFrame(
        rows,
        schema={
            "day": pl.Date,
            "agent_pseudonym": pl.String,
            "team": pl.String,
            "site": pl.String,
            "contacts_handled": pl.Int64,
            "handle_seconds": pl.Int64,
        },
        orient="row",
    )


def build_center(
    tmp_path: Path, releases: list[dict[str, Any]], teams: int, days: list[dt.date]
) -> tuple[Settings, pl.DataFrame]:
    """Settings over a lake holding each day's roster snapshot and agent_day partition, marked
    complete, and a policy file with the releases (cap rho 100 per month); and the rows written."""
    policy_file = write_policy_file(tmp_path / "policy.yaml", releases, cap="100")
    settings = lake_settings(tmp_path / "data", policy_file)
    rows = activity(teams, days)
    for day in days:
        of_day = rows.filter(pl.col("day") == day)
        roster = of_day.select("agent_pseudonym", "team", "site", pl.lit("Europe/Berlin").alias("site_timezone"))
        write_lake_day(settings, day, roster, of_day)
    return settings, rows


def exact_sums(rows: pl.DataFrame, start: dt.date, end: dt.date) -> dict[tuple[str, str], int]:
    """(team, sum) -> the exact sum over [start, end) of the rows written (not read back through the release's code)."""
    in_window = rows.filter((pl.col("day") >= start) & (pl.col("day") < end))
    totals = in_window.group_by("team").agg(pl.col(m).sum() for m in SUMS)
    return {(row["team"], m): int(row[m]) for row in totals.iter_rows(named=True) for m in SUMS}


def published_sums(settings: Settings, release_name: str) -> list[dict[str, Any]]:
    """The published sums of the release, as the report reads them."""
    return [r for r in read_published(settings.lake.warehouse_path, release_name) if r["statistic"] in SUMS]


def table_counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in ("releases", "published_aggregates", "budget_spend", "ledger")
        }
    finally:
        con.close()


class DrawSpy:
    """Counts the calls of privacy.release.draw_noisy_release (the OpenDP draw) and passes them on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.real = release_module.draw_noisy_release
        monkeypatch.setattr(release_module, "draw_noisy_release", self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real(*args, **kwargs)


def sigmas(settings: Settings, release_name: str) -> dict[str, float]:
    """The analytic noise scale of each sum of a release, from the policy file the release used."""
    spec = load_policy(settings.policy_path).release(release_name)
    return {m: analytic_scale(bound, spec.budget, len(spec.sums)) for m, bound in spec.sums.items()}


# --- 1. noise is added on the publishing path --------------------------------------------------


WEEK = [MONDAY + dt.timedelta(days=i) for i in range(7)]
WEEK_TEAMS = 40


def test_the_published_sums_are_noisy_and_near_the_truth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DAG's publish step on one week of 40 teams: 80 published sums, noisy, within 6 sigma."""
    settings, rows = build_center(tmp_path, [TEAM_WEEK], WEEK_TEAMS, WEEK)
    approve(settings.lake.warehouse_path, load_policy(settings.policy_path))
    spy = DrawSpy(monkeypatch)
    counts = pipeline.publish_releases([WEEK[-1].isoformat()], settings)
    assert counts == {"windows": 1, "released": 1}
    assert spy.calls == 1

    truth = exact_sums(rows, WEEK[0], WEEK[-1] + dt.timedelta(days=1))
    published = published_sums(settings, "team_week")
    assert {r["group_value"] for r in published} == {f"team-{t:03d}" for t in range(WEEK_TEAMS)}  # not team-small
    assert len(published) == 2 * WEEK_TEAMS and all(r["status"] == "published" for r in published)

    scales = sigmas(settings, "team_week")
    assert scales["contacts_handled"] == pytest.approx(300 / 10**0.5)
    exact = 0
    for r in published:
        metric, true = r["statistic"], truth[(r["group_value"], r["statistic"])]
        assert r["noise_scale"] == pytest.approx(scales[metric], rel=1e-9)
        # 6 sigma: P(|noise| > 6 sigma) is about 2e-9 per sum, under 2e-7 for all 80.
        assert abs(r["value"] - true) <= 6 * scales[metric], (r, true)
        assert r["ci_low"] <= r["value"] <= r["ci_high"]
        exact += r["value"] == true
    # A run without noise publishes 80 exact sums. With noise, a discrete Gaussian of scale sigma
    # takes any one value with probability at most 1 / (sigma sqrt(2 pi)): 0.0042 for the contacts
    # (sigma 94.9), 1.1e-5 for the handle seconds (sigma 37,000). So the number of exact sums is at
    # most Binomial(80, 0.0042), and P(6 or more) <= C(80, 6) 0.0042^6 < 2e-6.
    assert exact <= 5, f"{exact} of {len(published)} published sums equal the exact sums: no noise?"


# --- 2. a rerun draws nothing again ------------------------------------------------------------


def test_a_rerun_returns_the_stored_values_and_draws_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, _ = build_center(tmp_path, [TEAM_WEEK], 12, WEEK)
    policy = load_policy(settings.policy_path)
    approve(settings.lake.warehouse_path, policy)
    spy = DrawSpy(monkeypatch)
    end = WEEK[-1] + dt.timedelta(days=1)

    [first] = release_module.release_windows(settings, policy, WEEK[-1], end)
    assert isinstance(first, ReleaseOutcome) and first.status == "released" and spy.calls == 1
    before, shown = table_counts(settings.lake.warehouse_path), read_published(settings.lake.warehouse_path)
    assert before["releases"] == 1 and before["budget_spend"] == 1

    for start in (WEEK[-1], WEEK[0]):  # the same day again, and a backfill of the whole week
        [again] = release_module.release_windows(settings, policy, start, end)
        assert isinstance(again, ReleaseOutcome) and again.status == "stored"
        assert again.key == first.key and again.values == first.values
    assert spy.calls == 1, "a rerun drew fresh noise"
    assert table_counts(settings.lake.warehouse_path) == before
    assert read_published(settings.lake.warehouse_path) == shown
    # the DAG's step on the same day: stored as well, nothing drawn
    assert pipeline.publish_releases([WEEK[-1].isoformat()], settings) == {"windows": 1, "stored": 1}
    assert spy.calls == 1 and table_counts(settings.lake.warehouse_path) == before


# --- 3. interval coverage ----------------------------------------------------------------------

COVERAGE_TEAMS = 200
COVERAGE_DAYS = WEEK[:6]


def test_the_stored_intervals_cover_the_exact_sums_about_95_percent(tmp_path: Path) -> None:
    """Six day windows of 200 released teams: 1,200 interval checks per sum.

    OpenDP's 95% half-width of the discrete Gaussian is ceil(1.96 sigma + 1/2), so each interval
    covers its exact sum with probability p between 0.95 and 0.954 (clamping at 0 never changes
    whether an interval holds a non-negative truth). Over n = 1,200 independent checks the
    coverage has standard deviation sqrt(p (1 - p) / n) = 0.0063, and [0.925, 0.98] lies 4 standard
    deviations either side of p: P(coverage < 0.925) = 7.6e-5 at p = 0.95 and P(coverage > 0.98)
    = 1.3e-6 at p = 0.954 (exact binomial tails). A run without noise covers every sum (coverage
    1) and fails the upper limit; so does one that leaves either sum without noise, since each
    sum's coverage is checked on its own. About 10 s: not marked slow.
    """
    settings, rows = build_center(tmp_path, [TEAM_DAY], COVERAGE_TEAMS, COVERAGE_DAYS)
    approve(settings.lake.warehouse_path, load_policy(settings.policy_path))
    outcomes = pipeline.publish_releases([d.isoformat() for d in COVERAGE_DAYS], settings)
    assert outcomes == {"windows": len(COVERAGE_DAYS), "released": len(COVERAGE_DAYS)}

    published = published_sums(settings, "team_day")
    assert len(published) == 2 * COVERAGE_TEAMS * len(COVERAGE_DAYS)
    scales, covered = sigmas(settings, "team_day"), dict.fromkeys(SUMS, 0)
    for day in COVERAGE_DAYS:
        truth = exact_sums(rows, day, day + dt.timedelta(days=1))
        for r in (r for r in published if r["window_start"] == day):
            assert r["noise_scale"] == pytest.approx(scales[r["statistic"]], rel=1e-9)
            covered[r["statistic"]] += r["ci_low"] <= truth[(r["group_value"], r["statistic"])] <= r["ci_high"]
    checks = COVERAGE_TEAMS * len(COVERAGE_DAYS)
    coverage = {m: n / checks for m, n in covered.items()}
    assert all(0.925 <= c <= 0.98 for c in coverage.values()), f"95% intervals covered {coverage} of {checks} sums"
