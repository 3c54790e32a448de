"""The accuracy planner: predicted noise, intervals and budget from public facts, and the accuracy refusal.

Hand-worked numbers. The test release `team_week` has rho 1 split over 2 sums, so rho_part = 1/2
and sigma = bound / sqrt(2 * 1/2) = bound: 100 contacts and 30,000 handle seconds. OpenDP's
discrete Gaussian interval half-width is ceil(z * sigma + 1/2), z = 1.959963985 (95%) or
2.241402728 (97.5%, each part of a ratio):
  contacts  95%: ceil(195.996 + 0.5) = 197       97.5%: ceil(224.140 + 0.5) = 225
  handle    95%: ceil(58798.92 + 0.5) = 58,800   97.5%: ceil(67242.08 + 0.5) = 67,243
Typical values per agent: contacts 40 (declared), handle seconds 15,000 (half the bound 30,000).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import yaml

from foundation.budget import Budget
from foundation.policy import Policy, PolicyError, load_policy, parse_policy
from foundation.settings import REPO_ROOT, Settings
from privacy import release as release_module
from privacy.accountant import budget_summary, publish_release
from privacy.groups import decide_groups
from privacy.mechanisms import expected_noise_scale, half_width, rho_to_epsilon
from privacy.planner import (
    WINDOWS_PER_PERIOD,
    budget_per_period,
    plan_policy,
    predict_accuracy,
    ratio_relative_half_width,
)
from privacy.release import current_roster
from privacy.verify import verify_ledger
from teamlens import cli
from tests.helpers import approve, make_test_policy, policy_document
from warehouse.records import GroupDecision, NoisyRelease, ReleaseKey, ReleaseOutcome

MONDAY = dt.date(2026, 3, 9)
NOW = dt.datetime(2026, 4, 2, 6, 0, tzinfo=dt.UTC)
KEY = "test-key-not-secret-0123456789abcdef"

TEAM_WEEK: dict[str, Any] = {
    "name": "team_week",
    "purpose": "weekly",
    "group_by": "team",
    "window": "week",
    "rho": "1",
    "sums": {"contacts_handled": 100, "handle_seconds": 30000},
    "typical": {"contacts_handled": 40},
    "ratios": {"aht_seconds": {"numerator": "handle_seconds", "denominator": "contacts_handled", "max": 3600}},
}
SITE_DAY: dict[str, Any] = {
    "name": "site_day",
    "purpose": "daily",
    "group_by": "site",
    "window": "day",
    "rho": "0.01",
    "sums": {"contacts_handled": 80},
}
# T1: 10 agents at site S1, T2: 20 at S2, T3: 5 at S1 (below min_group_size 10: suppressed).
ROSTER_GROUPS = [("T1", "S1", 10), ("T2", "S2", 20), ("T3", "S1", 5)]


def roster_frame() -> pl.DataFrame:
    rows = [(f"a-{team}-{i}", team, site) for team, site, n in ROSTER_GROUPS for i in range(n)]
    return pl.DataFrame(rows, schema=["agent_pseudonym", "team", "site"], orient="row")


def policy_doc(limit: str | None = "2.5", team_week_limit: str | None = None, cap: str = "10") -> dict[str, Any]:
    team_week = dict(TEAM_WEEK)
    if team_week_limit is not None:
        team_week["max_relative_half_width"] = team_week_limit
    doc = policy_document([team_week, dict(SITE_DAY)], cap=cap)
    if limit is not None:
        doc["max_relative_half_width"] = limit
    return doc


def make_policy(limit: str | None = "2.5", team_week_limit: str | None = None, cap: str = "10") -> Policy:
    return make_test_policy(
        policy_doc(limit, team_week_limit)["releases"],
        cap=cap,
        **({"max_relative_half_width": limit} if limit is not None else {}),
    )


def rows_of(plan: Any) -> dict[tuple[str, str], Any]:
    return {(r.group_value, r.statistic): r for r in plan.rows}


# --- the arithmetic ----------------------------------------------------------------------------


def test_sigma_and_half_widths_by_hand() -> None:
    spec = make_policy().release("team_week")
    assert expected_noise_scale(spec, "contacts_handled") == pytest.approx(100.0, rel=1e-12)
    assert expected_noise_scale(spec, "handle_seconds") == pytest.approx(30000.0, rel=1e-12)
    # ceil(1.959963985 sigma + 1/2) and ceil(2.241402728 sigma + 1/2): integer-valued noise
    assert half_width(100.0, 0.05) == 197
    assert half_width(100.0, 0.025) == 225
    assert half_width(30000.0, 0.05) == 58800
    assert half_width(30000.0, 0.025) == 67243


def test_predicted_accuracy_of_every_group_by_hand() -> None:
    policy = make_policy(limit="2.5")
    spec = policy.release("team_week")
    plan = predict_accuracy(spec, policy, decide_groups(roster_frame(), spec, policy))
    rows = rows_of(plan)

    t1 = rows[("T1", "contacts_handled")]
    assert (t1.roster_size, t1.kind, t1.noise_scale, t1.half_width, t1.typical) == (10, "sum", 100.0, 197, 400)
    assert t1.relative_half_width == pytest.approx(197 / 400) == 0.4925
    assert t1.verdict == "ok"
    handle = rows[("T1", "handle_seconds")]
    assert (handle.half_width, handle.typical) == (58800, 150000)  # typical: half the bound x 10 agents
    assert handle.relative_half_width == pytest.approx(0.392)

    # AHT of T1: r_S = 67243 / 150000, r_N = 225 / 400; (r_S + r_N) / (1 - r_N) = 2.3103695...
    aht = rows[("T1", "aht_seconds")]
    assert aht.kind == "ratio" and aht.noise_scale is None
    assert aht.typical == pytest.approx(375.0)
    assert aht.relative_half_width == pytest.approx((67243 / 150000 + 0.5625) / 0.4375, rel=1e-12)
    assert aht.relative_half_width == pytest.approx(2.31037, abs=1e-5)
    assert aht.half_width == pytest.approx(375.0 * 2.3103695238, rel=1e-9)
    assert aht.verdict == "ok"  # below the limit 2.5

    # T2 has 20 agents: twice the typical sum, same noise
    assert rows[("T2", "contacts_handled")].relative_half_width == pytest.approx(197 / 800)
    assert rows[("T2", "aht_seconds")].relative_half_width == pytest.approx(
        (67243 / 300000 + 225 / 800) / (1 - 225 / 800)
    )
    assert rows[("T2", "aht_seconds")].relative_half_width == pytest.approx(0.703156, abs=1e-6)

    # T3 has 5 agents: suppressed exactly as the release decides, with nothing predicted
    for statistic in ("contacts_handled", "handle_seconds", "aht_seconds"):
        t3 = rows[("T3", statistic)]
        assert (t3.roster_size, t3.verdict, t3.noise_scale, t3.relative_half_width) == (5, "suppressed", None, None)

    assert plan.worst is not None and (plan.worst.group_value, plan.worst.statistic) == ("T1", "aht_seconds")
    assert not plan.refused


def test_limit_refuses_on_the_smallest_published_group() -> None:
    policy = make_policy(limit="2.5", team_week_limit="1")  # the release's own limit overrides the policy's
    spec = policy.release("team_week")
    assert policy.relative_limit(spec) == Fraction(1)
    assert policy.relative_limit(policy.release("site_day")) == Fraction(5, 2)
    plan = predict_accuracy(spec, policy, decide_groups(roster_frame(), spec, policy))
    verdicts = {k: r.verdict for k, r in rows_of(plan).items()}
    assert verdicts[("T1", "aht_seconds")] == "over_limit"  # 2.31 > 1
    assert verdicts[("T1", "contacts_handled")] == "ok"  # 0.4925
    assert verdicts[("T2", "aht_seconds")] == "ok"  # 0.70
    assert plan.refused
    assert "aht_seconds for group 'T1' (10 agents) is 231.0%" in plan.reason()
    assert "over the limit 100.0%" in plan.reason()


def test_ratio_whose_denominator_interval_reaches_zero_is_too_noisy() -> None:
    assert ratio_relative_half_width(0.1, 0.5) == pytest.approx(0.6 / 0.5)
    assert ratio_relative_half_width(0.1, 1.0) == math.inf
    # no limit: shown as too noisy but not refused; with a limit: refused
    doc = dict(TEAM_WEEK, typical={"contacts_handled": 20}, rho="0.1")  # r_N = 2.2414 * 316.2 / 200 > 1
    for limit, verdict in ((None, "too_noisy"), ("100", "over_limit")):
        policy = make_test_policy([doc], **({"max_relative_half_width": limit} if limit else {}))
        spec = policy.release("team_week")
        aht = rows_of(predict_accuracy(spec, policy, (GroupDecision("T1", 10, "released"),)))[("T1", "aht_seconds")]
        assert aht.relative_half_width == math.inf and aht.half_width is None and aht.verdict == verdict


def test_budget_per_period_by_hand() -> None:
    policy = make_policy(cap="10")
    assert WINDOWS_PER_PERIOD == {"day": 31, "week": 6, "month": 1}
    week = budget_per_period(policy.release("team_week"), policy)
    assert (week.per_window, week.per_sum, week.windows_per_period, week.per_period) == (
        Budget("rho", Fraction(1)),
        Budget("rho", Fraction(1, 2)),
        6,
        Budget("rho", Fraction(6)),
    )
    # Bun-Steinke: 6 + 2 sqrt(6 ln 1e9) = 6 + 2 sqrt(124.3396) = 28.30154
    assert week.epsilon_bun_steinke == pytest.approx(28.30154, abs=1e-5)
    assert week.epsilon_bun_steinke == rho_to_epsilon(Fraction(6), Fraction(1, 10**9))
    assert 6 < week.epsilon < week.epsilon_bun_steinke  # OpenDP's conversion is tighter
    day = budget_per_period(policy.release("site_day"), policy)
    assert (day.windows_per_period, day.per_period) == (31, Budget("rho", Fraction(31, 100)))

    plan = plan_policy(policy, roster_frame(), roster_source="hand-made")
    assert plan.total_per_period == Budget("rho", Fraction(631, 100)) and plan.within_cap and plan.ok
    assert not plan_policy(make_policy(cap="6.3"), roster_frame()).within_cap  # 6.31 > 6.3
    # site_day: sigma 80 / sqrt(0.02) = 565.69; half-width ceil(1108.72 + 0.5) = 1110; S1 has 15 agents
    site = rows_of(plan.releases[1].accuracy)
    assert site[("S1", "contacts_handled")].half_width == 1110
    assert site[("S1", "contacts_handled")].relative_half_width == pytest.approx(1110 / 600)
    assert site[("S2", "contacts_handled")].relative_half_width == pytest.approx(1110 / 800)


def test_the_shipped_policy_passes_its_own_limit_on_the_demo_roster() -> None:
    """teamlens demo's center: 200 agents, 14 teams (13 or 14 agents), 2 sites, a pilot team of 6."""
    from teamlens.generator import build_roster

    policy = load_policy(REPO_ROOT / "foundation" / "policy.yaml")
    assert policy.max_relative_half_width == Fraction(2)
    agents, _ = build_roster(7, 200, 14, 2, 6)
    roster = pl.DataFrame(
        [(a.employee_id, a.team.name, a.team.site.name) for a in agents],
        schema=["agent_pseudonym", "team", "site"],
        orient="row",
    )
    plan = plan_policy(policy, roster)
    assert plan.ok and plan.total_per_period == Budget("rho", Fraction(98, 100))
    team = plan.releases[0].accuracy
    assert team.worst is not None and team.worst.roster_size == 13 and team.worst.statistic == "aht_seconds"
    # 1.952 (1.905 before the shipped clipping check took 1/40 of the budget from the sums)
    assert team.worst.relative_half_width == pytest.approx(1.952, abs=1e-3)
    # one agent fewer in the smallest team and the monthly team release would be refused
    smaller = roster.filter(pl.col("agent_pseudonym") != roster.filter(pl.col("team") == team.worst.group_value)[0, 0])
    assert plan_policy(policy, smaller).releases[0].accuracy.refused


# --- policy keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(max_relative_half_width=0.5), "policy: max_relative_half_width must be a quoted decimal"),
        (lambda d: d.update(max_relative_half_width="0"), "policy: max_relative_half_width must be positive"),
        (lambda d: d.update(max_relative_half_width="half"), "policy: max_relative_half_width is not a number"),
        (
            lambda d: d["releases"][0].update(max_relative_half_width="-1"),
            "releases\\[0\\] \\(team_week\\): max_relative_half_width must be positive",
        ),
        (lambda d: d["releases"][0].update(typical={"salary": 3}), "typical.salary is not one of this release's sums"),
        (
            lambda d: d["releases"][0].update(typical={"contacts_handled": 101}),
            "typical.contacts_handled must be a number above 0 and at most its bound 100",
        ),
        (lambda d: d["releases"][0].update(typical={"contacts_handled": 0}), "typical.contacts_handled must be"),
        (lambda d: d["releases"][0].update(typical=[40]), "team_week\\): typical must map sums"),
        (lambda d: d["releases"][0].update(accuracy="0.5"), "unknown key\\(s\\) accuracy"),
    ],
)
def test_bad_accuracy_keys_are_named(mutate: Any, message: str) -> None:
    doc = policy_doc()
    mutate(doc)
    with pytest.raises(PolicyError, match=message):
        parse_policy(doc, sha256="0" * 64)


def test_accuracy_keys_are_optional_and_exact() -> None:
    no_limit = parse_policy(policy_doc(limit=None), sha256="0" * 64)
    assert no_limit.max_relative_half_width is None and no_limit.relative_limit(no_limit.releases[0]) is None
    assert no_limit.release("site_day").typical == {} and no_limit.release("site_day").typical_value(
        "contacts_handled"
    ) == pytest.approx(40.0)
    limited = parse_policy(policy_doc(limit="0.35", team_week_limit="1.5"), sha256="0" * 64)
    assert limited.max_relative_half_width == Fraction(7, 20)
    assert limited.release("team_week").max_relative_half_width == Fraction(3, 2)


# --- the refusal before noise ------------------------------------------------------------------


class CountingDraw:
    def __init__(self, groups: tuple[GroupDecision, ...]) -> None:
        self.calls = 0
        self.groups = groups

    def __call__(self) -> NoisyRelease:
        self.calls += 1
        return NoisyRelease(values=(), groups=self.groups, mechanism="test double", parameters={})


def counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = ("releases", "budget_spend", "ledger")
        return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}  # type: ignore[index]
    finally:
        con.close()


def refusals(path: Path) -> list[dict[str, Any]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT payload FROM ledger WHERE entry_type = 'refusal' ORDER BY seq").fetchall()
    finally:
        con.close()
    return [json.loads(r[0]) for r in rows]


SMALL = (GroupDecision("T1", 10, "released"), GroupDecision("T3", 5, "suppressed_small_group"))
LARGE = (GroupDecision("T2", 20, "released"),)


def test_too_imprecise_release_is_refused_before_noise_and_budget(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_policy(limit="2.5", team_week_limit="1")
    key = ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)
    draw = CountingDraw(SMALL)

    def publish() -> Any:
        spec = policy.release("team_week")
        return publish_release(wh, key, spec, policy, "tester", draw, now=lambda: NOW, groups=lambda: SMALL)

    approve(wh, policy)
    out = publish()
    assert out.status == "refused" and out.values == () and out.periods == ("2026-03",)
    assert "before drawing noise: too imprecise to publish" in out.message
    assert "aht_seconds for group 'T1' (10 agents) is 231.0%" in out.message
    assert draw.calls == 0
    assert counts(wh) == {"releases": 0, "budget_spend": 0, "ledger": 2}  # policy_approved + refusal
    assert budget_summary(wh, policy) == []
    [entry] = refusals(wh)
    assert entry["reason"] == "accuracy" and entry["release_id"] == key.release_id
    assert entry["accuracy"]["limit"] == "1"
    assert entry["accuracy"]["worst"] == {
        "group_value": "T1",
        "roster_size": 10,
        "statistic": "aht_seconds",
        "relative_half_width": pytest.approx(2.3103695, abs=1e-6),
        "too_noisy": False,
    }
    assert [(o["group_value"], o["statistic"]) for o in entry["accuracy"]["over_limit"]] == [("T1", "aht_seconds")]

    # the same refusal on the same facts is not recorded again
    assert publish().status == "refused"
    assert len(refusals(wh)) == 1 and draw.calls == 0
    assert verify_ledger(wh).ok


def test_release_windows_decides_from_the_roster_and_never_draws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline's path: the roster snapshot decides before OpenDP is ever called."""
    from foundation.settings import load_settings

    settings: Settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path / "data"), "TEAMLENS_PSEUDONYM_KEY": KEY})
    roster = roster_frame().with_columns(pl.lit("Europe/Berlin").alias("site_timezone"))
    days = [MONDAY + dt.timedelta(days=i) for i in range(7)]
    (settings.lake.staged / "roster" / f"day={MONDAY}").mkdir(parents=True)
    roster.write_parquet(settings.lake.staged / "roster" / f"day={MONDAY}" / "part-0.parquet")
    for day in days:
        release_module.metrics_marker(settings, day).parent.mkdir(parents=True, exist_ok=True)
        release_module.metrics_marker(settings, day).write_text("{}")

    def no_noise(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("noise must not be drawn for a refused release")

    monkeypatch.setattr(release_module, "draw_noisy_release", no_noise)
    monkeypatch.setattr(release_module, "calibrate", no_noise)
    policy = make_test_policy([dict(TEAM_WEEK, max_relative_half_width="1")])
    approve(settings.lake.warehouse_path, policy)
    [out] = release_module.release_windows(settings, policy, MONDAY, MONDAY + dt.timedelta(days=7))
    assert isinstance(out, ReleaseOutcome)
    assert out.status == "refused" and "too imprecise" in out.message
    assert counts(settings.lake.warehouse_path)["budget_spend"] == 0
    assert [e["reason"] for e in refusals(settings.lake.warehouse_path)] == ["accuracy"]


def test_stored_release_is_returned_as_stored(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = make_policy(limit="1")
    spec = policy.release("team_week")
    key = ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)
    first = CountingDraw(LARGE)  # T2 alone: AHT 0.70 <= 1
    approve(wh, policy)
    out = publish_release(wh, key, spec, policy, "tester", first, now=lambda: NOW, groups=lambda: LARGE)
    assert out.status == "released" and first.calls == 1

    def never() -> tuple[GroupDecision, ...]:
        raise AssertionError("a stored release needs no new decision")

    again = CountingDraw(SMALL)
    out = publish_release(wh, key, spec, policy, "tester", again, now=lambda: NOW, groups=never)
    assert out.status == "stored" and again.calls == 0
    assert refusals(wh) == [] and counts(wh)["budget_spend"] == 1


def test_drawn_groups_are_checked_again_before_anything_is_stored(tmp_path: Path) -> None:
    """Without a pre-draw decision (or if the roster changed meanwhile) nothing imprecise is stored."""
    wh = tmp_path / "warehouse.duckdb"
    policy = make_policy(limit="1")
    spec = policy.release("team_week")
    key = ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)
    draw = CountingDraw(SMALL)
    approve(wh, policy)
    out = publish_release(wh, key, spec, policy, "tester", draw, now=lambda: NOW)
    assert out.status == "refused" and draw.calls == 1
    assert counts(wh) == {"releases": 0, "budget_spend": 0, "ledger": 2}
    assert [e["reason"] for e in refusals(wh)] == ["accuracy"]


# --- the command -------------------------------------------------------------------------------


def write_center(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: dict[str, Any]) -> None:
    root = tmp_path / "data"
    (root / "landing" / "roster").mkdir(parents=True)
    lines = ["employee_id,team,site,site_timezone"]
    lines += [f"E{team}{i},{team},{site},Europe/Berlin" for team, site, n in ROSTER_GROUPS for i in range(n)]
    (root / "landing" / "roster" / "roster.csv").write_text("\n".join(lines) + "\n")
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(root))
    monkeypatch.setenv("TEAMLENS_POLICY", str(policy_file))
    monkeypatch.setenv("TEAMLENS_PSEUDONYM_KEY", KEY)


def table_rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.startswith("  ") and not line.startswith("   ")]


def test_plan_command_prints_the_table_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_center(tmp_path, monkeypatch, policy_doc(limit="2.5"))
    assert cli.main(["plan"]) == 0
    out = capsys.readouterr().out
    assert "roster.csv (landing; no staged snapshot yet)" in out
    rows = table_rows(out)
    assert ["T1", "10", "contacts_handled", "100.0", "197", "400", "49.2%", "ok"] in rows  # 49.25, half to even
    assert ["T1", "10", "handle_seconds", "30,000.0", "58,800", "150,000", "39.2%", "ok"] in rows
    assert ["T1", "10", "aht_seconds", "-", "866.4", "375.0", "231.0%", "ok"] in rows
    assert ["T2", "20", "contacts_handled", "100.0", "197", "800", "24.6%", "ok"] in rows
    assert ["T3", "5", "contacts_handled", "-", "-", "-", "-", "suppressed:", "group", "too", "small"] in rows
    assert ["S1", "15", "contacts_handled", "565.7", "1,110", "600", "185.0%", "ok"] in rows
    assert "  budget: rho 1 per week (0.5 per sum) x 6 week(s) touching one month = rho 6 per month; epsilon " in out
    assert "Bun-Steinke 28.3)" in out
    assert "rho 0.01 per day (0.01 per sum) x 31 day(s) touching one month = rho 0.31 per month" in out
    assert "All releases of the policy in the worst month: rho 6.31 of the cap 10: within the cap" in out


def test_plan_command_exits_1_when_a_release_would_be_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_center(tmp_path, monkeypatch, policy_doc(limit="2.5", team_week_limit="1"))
    assert cli.main(["plan", "--release", "team_week"]) == 1
    out = capsys.readouterr().out
    assert ["T1", "10", "aht_seconds", "-", "866.4", "375.0", "231.0%", "refused:", "over", "limit"] in table_rows(out)
    assert "verdict: REFUSED: predicted relative 95% half-width of aht_seconds for group 'T1'" in out
    assert "site_day" not in out.split("All releases")[0]

    assert cli.main(["plan", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["total_rho_per_period"] == "6.31" and doc["within_cap"] is True
    week, day = doc["releases"]
    assert (week["refused"], week["limit"], week["rho_per_period"], week["windows_per_period"]) == (True, "1", "6", 6)
    assert (day["refused"], day["limit"]) == (False, "2.5")
    t1 = {(s["group"], s["statistic"]): s for s in week["statistics"]}
    assert t1[("T1", "contacts_handled")] == {
        "group": "T1",
        "agents": 10,
        "statistic": "contacts_handled",
        "kind": "sum",
        "noise_scale": pytest.approx(100.0),
        "half_width_95": 197.0,
        "typical": 400.0,
        "relative_half_width": pytest.approx(0.4925),
        "verdict": "ok",
    }
    assert t1[("T1", "aht_seconds")]["verdict"] == "over_limit"


def test_plan_prefers_the_latest_staged_roster_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_center(tmp_path, monkeypatch, policy_doc())
    from foundation.settings import load_settings

    settings = load_settings()
    older, newer = (
        settings.lake.staged / "roster" / "day=2026-03-01",
        settings.lake.staged / "roster" / "day=2026-03-02",
    )
    for folder, frame in ((older, roster_frame()), (newer, roster_frame().head(12))):
        folder.mkdir(parents=True)
        frame.with_columns(pl.lit("Europe/Berlin").alias("site_timezone")).write_parquet(folder / "part-0.parquet")
    roster, source = current_roster(settings)
    assert source.endswith("day=2026-03-02 (latest staged snapshot)") and roster.height == 12
