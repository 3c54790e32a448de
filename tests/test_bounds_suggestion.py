"""`teamlens plan --suggest-bounds`: a DP quantile of agents' window totals, spent and recorded like a release.

The lake is hand-made (roster snapshots and agent_day partitions as the jobs write them, metrics
markers): one ISO week, March 9 to 15 2026, of agents in teams of 10 at one site. Agent i
handles 10 + i contacts of 100 seconds each every day, so its week totals are 7 (10 + i)
contacts and 700 (10 + i) seconds. The draws are real OpenDP draws through the accountant.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from foundation import schema
from foundation.policy import PolicyError, load_policy
from foundation.settings import Settings, load_settings
from privacy import bounds
from privacy import release as release_module
from privacy.verify import verify_ledger
from teamlens import cli
from tests.helpers import (
    TEST_CHECKPOINT_KEY,
    TEST_KEY,
    approve,
    make_test_policy,
    policy_document,
    write_policy_file,
    write_table_partition,
)

MONDAY = dt.date(2026, 3, 9)
WEEK = [MONDAY + dt.timedelta(days=i) for i in range(7)]
TEAM_WEEK: dict[str, Any] = {
    "name": "team_week",
    "purpose": "weekly workload per team (bounds suggestion test)",
    "group_by": "team",
    "window": "week",
    "rho": "1",
    "sums": {"contacts_handled": 300, "handle_seconds": 117000},
}
SITE_WEEK = TEAM_WEEK | {"name": "site_week", "group_by": "site"}
SUGGESTION = {"quantile": "0.95", "rho": "1"}
SUGGESTION_NAME = "bounds_suggestion:team_week"


def build_center(
    tmp_path: Path, agents: int, *, cap: str = "100", releases: list[dict[str, Any]] | None = None
) -> Settings:
    """Settings over a lake holding the week's roster snapshots and agent_day rows, marked complete."""
    policy_file = write_policy_file(
        tmp_path / "policy.yaml", releases or [TEAM_WEEK], cap=cap, bounds_suggestion=SUGGESTION
    )
    settings = load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(tmp_path / "data"),
            "TEAMLENS_PSEUDONYM_KEY": TEST_KEY,
            "TEAMLENS_CHECKPOINT_KEY": TEST_CHECKPOINT_KEY,
            "TEAMLENS_POLICY": str(policy_file),
            "TEAMLENS_RUN_BY": "test",
        }
    )
    for day in WEEK:
        rows = pl.DataFrame(
            {
                "agent_pseudonym": [f"pseud-{i:03d}" for i in range(agents)],
                "team": [f"team-{i // 10}" for i in range(agents)],
                "site": ["Berlin"] * agents,
                "contacts_handled": [10 + i for i in range(agents)],
                "handle_seconds": [100 * (10 + i) for i in range(agents)],
            }
        )
        roster = rows.select("agent_pseudonym", "team", "site", pl.lit("Europe/Berlin").alias("site_timezone"))
        write_table_partition(settings, schema.ROSTER, day, roster)
        write_table_partition(settings, schema.AGENT_DAY, day, rows)
        release_module.mark_metrics_complete(settings, day)
    return settings


class DrawSpy:
    """Counts the OpenDP draws of suggestions (privacy.bounds.draw_suggestion) and passes them on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.real = bounds.draw_suggestion
        monkeypatch.setattr(bounds, "draw_suggestion", self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real(*args, **kwargs)


def table_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the warehouse's tables, for before/after comparisons."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("releases", "published_aggregates", "release_groups", "budget_spend", "ledger")
        }
    finally:
        con.close()


# --- the policy key ------------------------------------------------------------------------------


def test_the_policy_declares_the_suggestion_budget_exactly() -> None:
    policy = make_test_policy([TEAM_WEEK], cap="1", bounds_suggestion={"quantile": "0.95", "rho": "1/100"})
    assert policy.bounds_suggestion is not None
    assert policy.bounds_suggestion.quantile == Fraction(19, 20)
    assert (policy.bounds_suggestion.budget.unit, policy.bounds_suggestion.budget.amount) == ("rho", Fraction(1, 100))
    assert policy.bounds_suggestion.max_factor == 4
    spec = policy.bounds_suggestion_spec("team_week")
    assert (spec.name, spec.window, spec.group_by, spec.rho) == (SUGGESTION_NAME, "week", "center", Fraction(1, 100))
    assert spec.sums == {"contacts_handled": 300, "handle_seconds": 117000}
    assert policy.relative_limit(spec) is None  # a selection has no noise interval to limit
    assert policy.budgeted_spec(SUGGESTION_NAME) == spec
    assert make_test_policy([TEAM_WEEK]).bounds_suggestion is None


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"quantile": "1", "rho": "0.1"}, "quantile must be below 1"),
        ({"quantile": 0.95, "rho": "0.1"}, "quoted decimal string"),
        ({"quantile": "0.95", "rho": "2"}, "exceeds the monthly cap"),
        ({"quantile": "0.95", "epsilon": "0.1"}, "does not apply under privacy_model 'zcdp'"),
        ({"quantile": "0.95"}, "missing key(s) rho"),
        ({"quantile": "0.95", "rho": "0.1", "max_factor": 1}, "max_factor must be an integer of at least 2"),
        ({"quantile": "0.95", "rho": "0.1", "grid": []}, "unknown key(s) grid"),
    ],
)
def test_a_bad_suggestion_key_is_refused_by_name(value: dict[str, Any], error: str) -> None:
    with pytest.raises(PolicyError, match="bounds_suggestion") as raised:
        make_test_policy([TEAM_WEEK], cap="1", bounds_suggestion=value)
    assert error in str(raised.value)


def test_the_candidate_grid_is_public_geometric_and_holds_the_current_bound() -> None:
    grid = bounds.candidate_grid(300, 10)
    assert grid[0] == 1 and grid[-1] == 3000 and 300 in grid
    assert grid == sorted(set(grid))
    assert grid[:3] == [1, 2, 3] and grid[-5:] == [2810, 2866, 2923, 2982, 3000] and len(grid) == 257
    assert all(b / a <= 1.03 for a, b in itertools.pairwise(grid) if a >= 100)  # about 2% apart


# --- recorded like a release ---------------------------------------------------------------------


def test_the_suggestion_is_charged_stored_and_recorded_in_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = build_center(tmp_path, agents=30)
    policy = load_policy(settings.policy_path)
    approve(settings.lake.warehouse_path, policy)
    spy = DrawSpy(monkeypatch)

    [outcome] = bounds.suggest_bounds(settings, policy)

    assert spy.calls == 1
    assert outcome.status == "suggested", outcome.message
    assert (outcome.budget.unit, outcome.budget.amount) == ("rho", Fraction(1))  # type: ignore[union-attr]
    assert outcome.periods == ("2026-03",)
    grids = {"contacts_handled": bounds.candidate_grid(300, 4), "handle_seconds": bounds.candidate_grid(117000, 4)}
    assert [(b.metric, b.current) for b in outcome.bounds] == [("contacts_handled", 300), ("handle_seconds", 117000)]
    assert all(b.suggested in grids[b.metric] for b in outcome.bounds)

    rows = table_rows(settings.lake.warehouse_path)
    [release] = rows["releases"]
    con = duckdb.connect(str(settings.lake.warehouse_path), read_only=True)
    try:
        release_row = con.execute(
            "SELECT release_name, group_by, window_start, window_end, budget_amount_exact, budget_unit, periods "
            "FROM releases"
        ).fetchone()
        values = con.execute(
            "SELECT group_value, statistic, value, ci_low, ci_high, roster_group_size, status "
            "FROM published_aggregates ORDER BY statistic"
        ).fetchall()
        spend = con.execute("SELECT period, spent_exact, cap_exact, budget_unit FROM budget_spend").fetchall()
        ledger = con.execute("SELECT entry_type, release_id, payload FROM ledger ORDER BY seq").fetchall()
    finally:
        con.close()
    assert release_row == (SUGGESTION_NAME, "center", MONDAY, WEEK[-1] + dt.timedelta(days=1), "1", "rho", ["2026-03"])
    assert [v[:2] for v in values] == [
        ("all", "suggested_bound_contacts_handled"),
        ("all", "suggested_bound_handle_seconds"),
    ]
    for _group, statistic, value, low, high, size, status in values:
        grid = grids[statistic.removeprefix("suggested_bound_")]
        assert (low, high, size, status) == (1.0, float(grid[-1]), 30, "published")
        assert int(value) in grid and value == int(value)
    assert spend == [("2026-03", "1", "100", "rho")]
    assert [e[0] for e in ledger] == ["policy_approved", "release"]
    payload = json.loads(ledger[1][2])
    assert ledger[1][1] == release[0] == outcome.release_id
    assert payload["release_name"] == SUGGESTION_NAME and payload["rho"] == "1"
    assert payload["parameters"]["quantile"] == "0.95"
    assert payload["parameters"]["rho_per_sum"] == "0.5"
    # OpenDP's privacy map of the measurement reports the recorded budget, never more.
    assert Fraction(payload["parameters"]["opendp_privacy_map"]) <= 1
    assert payload["parameters"]["opendp_privacy_map"] == pytest.approx(1, rel=1e-6)
    assert "pseud-" not in json.dumps(payload)  # no pseudonym in the ledger
    assert verify_ledger(settings.lake.warehouse_path).ok


def test_a_rerun_returns_the_stored_suggestion_and_draws_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = build_center(tmp_path, agents=30)
    policy = load_policy(settings.policy_path)
    approve(settings.lake.warehouse_path, policy)
    [first] = bounds.suggest_bounds(settings, policy, "team_week")
    before = table_rows(settings.lake.warehouse_path)
    spy = DrawSpy(monkeypatch)

    [again] = bounds.suggest_bounds(settings, policy, "team_week")

    assert spy.calls == 0
    assert again.status == "stored" and "no new noise drawn, no budget spent" in again.message
    assert again.bounds == first.bounds and again.release_id == first.release_id
    assert table_rows(settings.lake.warehouse_path) == before


def test_over_the_cap_is_refused_before_any_draw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cap rho 1.5 a month: the first suggestion (rho 1) fits, the second in the same month does not."""
    settings = build_center(tmp_path, agents=30, cap="1.5", releases=[TEAM_WEEK, SITE_WEEK])
    policy = load_policy(settings.policy_path)
    approve(settings.lake.warehouse_path, policy)
    spy = DrawSpy(monkeypatch)

    first, second = bounds.suggest_bounds(settings, policy)

    assert (first.status, second.status) == ("suggested", "refused")
    assert spy.calls == 1  # the refused one never drew
    assert "before drawing noise" in second.message and "exceed the privacy budget" in second.message
    assert second.bounds[0].suggested is None
    con = duckdb.connect(str(settings.lake.warehouse_path), read_only=True)
    try:
        spend = con.execute("SELECT period, spent_exact FROM budget_spend").fetchall()
        refusals = con.execute("SELECT payload FROM ledger WHERE entry_type = 'refusal'").fetchall()
    finally:
        con.close()
    assert spend == [("2026-03", "1")]
    [refusal] = refusals
    assert json.loads(refusal[0])["release_name"] == "bounds_suggestion:site_week"
    assert json.loads(refusal[0])["reason"] == "budget"
    assert verify_ledger(settings.lake.warehouse_path).ok


def test_fewer_agents_than_the_minimum_group_size_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = build_center(tmp_path, agents=9)  # min_group_size 10
    policy = load_policy(settings.policy_path)
    approve(settings.lake.warehouse_path, policy)
    before = table_rows(settings.lake.warehouse_path)
    spy = DrawSpy(monkeypatch)

    [outcome] = bounds.suggest_bounds(settings, policy)

    assert spy.calls == 0
    assert outcome.status == "refused"
    assert "9 agents, fewer than min_group_size 10" in outcome.message
    assert table_rows(settings.lake.warehouse_path) == before  # nothing spent, nothing stored


def test_an_unapproved_policy_draws_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = build_center(tmp_path, agents=30)
    spy = DrawSpy(monkeypatch)

    [outcome] = bounds.suggest_bounds(settings, load_policy(settings.policy_path))

    assert spy.calls == 0
    assert outcome.status == "refused" and "not approved" in outcome.message


def test_an_incomplete_window_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = build_center(tmp_path, agents=30)
    release_module.metrics_marker(settings, WEEK[3]).unlink()
    policy = load_policy(settings.policy_path)
    approve(settings.lake.warehouse_path, policy)
    spy = DrawSpy(monkeypatch)

    [outcome] = bounds.suggest_bounds(settings, policy)

    assert (outcome.status, spy.calls) == ("no_window", 0)


# --- accuracy ------------------------------------------------------------------------------------


def test_with_a_generous_budget_the_suggestion_lands_near_the_true_quantile() -> None:
    """400 agents with window totals 100, 101, ..., 499 (their 0.95 quantile: 480, the 380th of 400).

    The grid is about 2% apart (474 and 484 are its candidates around 480). At rho 8 (4 per sum)
    OpenDP's scale is small against the score gap of a 2% step (about 10 agents), so every draw
    lands within one or two grid steps of the true quantile: the stated tolerance is 5% (about two
    steps either side). Each of the 40 draws is a fresh draw through draw_suggestion.
    """
    policy = make_test_policy([TEAM_WEEK], cap="8", bounds_suggestion={"quantile": "0.95", "rho": "8"})
    spec = policy.bounds_suggestion_spec("team_week")
    totals = pl.DataFrame(
        {
            "agent_pseudonym": [f"pseud-{i:03d}" for i in range(400)],
            "team": ["t"] * 400,
            "contacts_handled": [100 + i for i in range(400)],
            "handle_seconds": [1000 * (100 + i) for i in range(400)],
        }
    )
    true = {"contacts_handled": 480, "handle_seconds": 480_000}
    for _ in range(40):
        noisy = bounds.draw_suggestion(totals, 400, spec, policy)
        for v in noisy.values:
            metric = v.statistic.removeprefix("suggested_bound_")
            assert v.value is not None
            assert abs(v.value / true[metric] - 1) <= 0.05, (metric, v.value)


def test_pure_dp_suggestion_spends_epsilon() -> None:
    doc = policy_document([TEAM_WEEK | {"epsilon": "1"}], privacy_model="pure", bounds_suggestion=None)
    doc.pop("budget_cap_rho")
    doc.pop("report_delta")
    doc["budget_cap_epsilon"] = "2"
    doc["bounds_suggestion"] = {"quantile": "0.9", "epsilon": "0.3"}
    del doc["releases"][0]["rho"]
    from foundation.policy import parse_policy

    policy = parse_policy(doc)
    spec = policy.bounds_suggestion_spec("team_week")
    assert (spec.budget.unit, spec.budget.amount) == ("epsilon", Fraction(3, 10))
    _, spent = bounds.quantile_measurement(tuple(spec.sums.items()), Fraction(9, 10), spec.budget, 10)
    assert Fraction(spent) <= Fraction(3, 10) and spent == pytest.approx(0.3, rel=1e-6)


# --- the command line ----------------------------------------------------------------------------


def test_the_command_prints_bounds_and_says_when_nothing_was_spent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = build_center(tmp_path, agents=30)
    approve(settings.lake.warehouse_path, load_policy(settings.policy_path))
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("TEAMLENS_POLICY", str(settings.policy_path))
    monkeypatch.setenv("TEAMLENS_PSEUDONYM_KEY", TEST_KEY)

    assert cli.main(["plan", "--suggest-bounds"]) == 0
    first = capsys.readouterr().out
    assert cli.main(["plan", "--suggest-bounds", "--release", "team_week"]) == 0
    second = capsys.readouterr().out

    assert "current bound          300" in first and "spent rho 1 per agent, charged to 2026-03" in first
    assert "nothing drawn, nothing spent now" in second
    assert "pseud-" not in first + second  # never a pseudonym
