"""Planning releases (privacy.planning) on a tiny hand-made month, values worked out by hand.

October 2026, two planned sites with different clocks (Berlin UTC+2 until 25 October, Toronto
UTC-4) and a small one (Lisbon, 3 agents: suppressed). Interval labels are site-local, Monday first.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from fractions import Fraction
from typing import Any

import polars as pl
import pytest

from foundation import schema
from foundation.budget import Budget
from foundation.planning_policy import OfferedBounds
from foundation.policy import Policy, parse_policy
from foundation.policy_values import PolicyError
from privacy import planning
from privacy.accountant import publish_release
from privacy.planner import plan_policy
from privacy.release import mark_metrics_complete, window_days
from tests.helpers import approve, lake_settings, policy_document, rows, write_policy_file, write_table_partition
from warehouse.records import ReleaseKey

OCTOBER = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
SITE_MONTH = {
    "name": "site_month",
    "purpose": "monthly workload per site",
    "group_by": "site",
    "window": "month",
    "rho": "0.5",
    "sums": {"contacts_handled": 1300},
}
QUEUES = {"Billing Berlin": "Berlin", "Sales Toronto": "Toronto", "Billing Lisbon": "Lisbon"}
BOUNDS = {"contacts_handled": 1300, "handle_seconds": 520000, "acw_seconds": 150000}


def planning_block(offered: str = "exact") -> dict[str, Any]:
    release = {"name": "queue_month", "purpose": "staffing", "window": "month", "rho": "0.12", "bounds": BOUNDS}
    if offered == "noisy":
        release["offered_bounds"] = {"per_interval": 3, "per_window": 10}
    return {"offered": offered, "interval_minutes": 30, "queues": QUEUES, "releases": [release]}


def make_policy(offered: str = "exact") -> Policy:
    return parse_policy(policy_document([SITE_MONTH], planning=planning_block(offered)))


def roster() -> pl.DataFrame:
    sites = [("Berlin", "Europe/Berlin", 10), ("Toronto", "America/Toronto", 10), ("Lisbon", "Europe/Lisbon", 3)]
    agents = [(f"{site[0].lower()}{i}", site, zone) for site, zone, n in sites for i in range(n)]
    return pl.DataFrame(
        {
            "agent_pseudonym": [a for a, _, _ in agents],
            "team": [f"{s}-T" for _, s, _ in agents],
            "site": [s for _, s, _ in agents],
            "site_timezone": [z for _, _, z in agents],
        }
    )


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args)  # naive: the UTC quarter hour as queue_interval holds it


# (landing day, queue, UTC quarter hour, offered, answered)
QUARTERS = [
    (dt.date(2026, 10, 5), "Billing Berlin", utc(2026, 10, 4, 23, 45), 2, 1),  # Mon 5 Oct 01:45 Berlin
    (dt.date(2026, 10, 12), "Billing Berlin", utc(2026, 10, 12, 7, 0), 3, 3),  # Mon 09:00
    (dt.date(2026, 10, 19), "Billing Berlin", utc(2026, 10, 19, 7, 15), 4, 4),  # Mon 09:15 -> mon-09:00
    (dt.date(2026, 11, 1), "Billing Berlin", utc(2026, 10, 31, 23, 15), 6, 6),  # Sun 1 Nov 00:15 CET: outside
    (dt.date(2026, 9, 30), "Billing Berlin", utc(2026, 9, 30, 22, 30), 1, 1),  # Thu 1 Oct 00:30: inside
    (dt.date(2026, 10, 5), "Sales Toronto", utc(2026, 10, 5, 2, 0), 5, 4),  # Sun 4 Oct 22:00 Toronto
    (dt.date(2026, 10, 6), "Billing Lisbon", utc(2026, 10, 6, 9, 0), 9, 9),  # small site: suppressed
    (dt.date(2026, 10, 6), "Mystery", utc(2026, 10, 6, 9, 0), 2, 2),  # not planned
]


def queue_interval() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "day": [q[0] for q in QUARTERS],
            "queue": [q[1] for q in QUARTERS],
            "interval_start_utc": [q[2] for q in QUARTERS],
            "offered": [q[3] for q in QUARTERS],
            "answered": [q[4] for q in QUARTERS],
            "abandoned": [q[3] - q[4] for q in QUARTERS],
        }
    )


def agent_queue_day() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "day": [dt.date(2026, 10, 5)] * 3,
            "agent_pseudonym": ["berlin0", "toronto0", "berlin1"],
            "queue": ["Billing Berlin", "Sales Toronto", "Billing Berlin"],
            "contacts_handled": [5, 4, 4],
            "handle_seconds": [2000, 1500, 1800],
            "acw_seconds": [300, 200, 100],
        }
    )


def draw(policy: Policy, **extra: Any) -> dict[tuple[str, str], Any]:
    planned = policy.planning.releases[0]  # type: ignore[union-attr]
    release = planning.draw_planning_release(
        planned, policy, roster(), queue_interval(), agent_queue_day(), OCTOBER, **extra
    )
    return {(v.group_value, v.statistic): v for v in release.values} | {("", "_release"): release}


def test_exact_offered_counts_per_site_local_interval_of_the_month() -> None:
    values = draw(make_policy())
    offered = {k: v.value for k, v in values.items() if "@" in k[1] and v.value}
    assert offered == {
        ("Billing Berlin", "offered_contacts@mon-01:30"): 2,  # 23:45 UTC lands in the next local day
        ("Billing Berlin", "offered_contacts@mon-09:00"): 7,
        ("Billing Berlin", "offered_contacts@thu-00:30"): 1,
        ("Sales Toronto", "offered_contacts@sun-22:00"): 5,
    }
    assert sum(1 for k in values if k[0] == "Billing Berlin" and "@" in k[1]) == 336
    for key in [("Billing Berlin", "offered_contacts@mon-09:00"), ("Sales Toronto", "contacts_handled")]:
        v = values[key]
        assert (v.ci_low, v.ci_high, v.noise_scale, v.status) == (v.value, v.value, 0.0, "published")
    assert values[("Billing Berlin", "contacts_handled")].value == 9  # answered: 1 + 3 + 4 + 1
    release = values[("", "_release")]
    assert {g.group_value: (g.roster_size, g.status) for g in release.groups} == {
        "Billing Berlin": (10, "released"),
        "Sales Toronto": (10, "released"),
        "Billing Lisbon": (3, "suppressed_small_group"),
    }
    assert not any(k[0] == "Billing Lisbon" for k in values)
    assert release.parameters["queue_sites"] == dict(sorted(QUEUES.items()))
    assert release.parameters["queues_not_planned"] == {"Mystery": 2}
    assert release.parameters["interval_minutes"] == 30 and release.parameters["offered"] == "exact"
    assert "exact count (policy planning.offered: exact)" in release.mechanism


def test_noisy_sums_are_noisy_with_the_analytic_scale_and_ratios_use_the_exact_count() -> None:
    policy = make_policy()
    sigma = 520000 / math.sqrt(2 * 0.06)  # the bound over sqrt(2 rho_part), rho 0.12 over two sums
    draws = [draw(policy) for _ in range(10)]
    handle = [d[("Billing Berlin", "handle_seconds")] for d in draws]
    assert all(math.isclose(v.noise_scale, sigma, rel_tol=1e-9) for v in handle)
    # the true sum is 3,800 s; values are clamped at 0 (about half the draws at this sigma)
    assert len({v.value for v in handle}) > 1 and 3800 not in {v.value for v in handle}
    assert all(v.ci_low < v.ci_high for v in handle if v.value > 0)
    exact = {d[("Billing Berlin", "offered_contacts@mon-09:00")].value for d in draws}
    assert exact == {7}
    aht = draws[0][("Billing Berlin", "aht_seconds")]
    if aht.status == "published":
        assert aht.ci_low <= aht.value <= aht.ci_high


def test_clipping_spends_each_agents_bound_over_the_queues_in_name_order() -> None:
    frame = pl.DataFrame(
        {"agent_pseudonym": ["a", "a", "b"], "_key": ["Sales", "Billing", "Billing"], "v": [400000, 300000, 600000]}
    )
    out = planning.clip_over_keys(frame, ["Billing", "Sales"], "v", 520000)
    got = {(r["agent_pseudonym"], r["_key"]): r["v"] for r in out.iter_rows(named=True)}
    assert got == {("a", "Billing"): 300000, ("a", "Sales"): 220000, ("b", "Billing"): 520000}


def test_the_vector_gaussian_has_the_stated_scale_empirically() -> None:
    """4,000 draws of OpenDP's measurement as production builds it: the sample standard deviation
    lies within 5% of the analytic sigma (its own standard error is about 1.1%)."""
    measurement, scale = planning.gaussian_vector(520000.0, 0.06, "test")
    noise = measurement([0] * 4000)
    sd = math.sqrt(sum(x * x for x in noise) / len(noise))
    assert math.isclose(scale, 520000 / math.sqrt(0.12), rel_tol=1e-9)
    assert abs(sd / scale - 1) < 0.05


def test_noisy_offered_is_noisy_and_charges_a_part_of_the_rho() -> None:
    policy = make_policy("noisy")
    planned = policy.planning.releases[0]  # type: ignore[union-attr]
    assert planned.noisy_parts == 4 and planned.rho_per_part == Fraction(3, 100)
    assert OfferedBounds(3, 10).l2_sensitivity == math.sqrt(3 * 9 + 1)
    contacts = pl.DataFrame(
        {
            "queue": ["Billing Berlin"] * 4,
            "agent_pseudonym": ["berlin0"] * 4,
            "abandoned": [False] * 4,
            "initiation_ts": [utc(2026, 10, 12, 7, m) for m in (1, 2, 3, 4)],
        }
    )
    values = draw(policy, contacts=contacts)
    cell = values[("Billing Berlin", "offered_contacts@mon-09:00")]
    assert cell.noise_scale == pytest.approx(math.sqrt(28) / math.sqrt(0.06))
    assert values[("Billing Berlin", "contacts_handled")].noise_scale > 0


def test_the_planning_block_is_checked() -> None:
    doc = policy_document([SITE_MONTH], planning=planning_block() | {"offered": "maybe"})
    with pytest.raises(PolicyError, match="offered must be 'exact' or 'noisy'"):
        parse_policy(doc)
    block = planning_block("noisy")
    del block["releases"][0]["offered_bounds"]
    with pytest.raises(PolicyError, match="offered_bounds"):
        parse_policy(policy_document([SITE_MONTH], planning=block))
    block = planning_block()
    block["releases"][0]["name"] = "site_month"
    with pytest.raises(PolicyError, match="unique"):
        parse_policy(policy_document([SITE_MONTH], planning=block))


def test_plan_shows_the_planning_release_and_its_budget() -> None:
    plan = plan_policy(make_policy(), roster())
    planned = next(r for r in plan.releases if r.name == "queue_month")
    assert planned.budget.per_period == Budget("rho", Fraction(12, 100))
    assert plan.total_per_period == Budget("rho", Fraction(62, 100))
    counts = {r.statistic: r for r in planned.accuracy.rows if r.group_value == "Billing Berlin"}
    assert counts["contacts_handled"].relative_half_width == 0
    assert counts["handle_seconds"].noise_scale == pytest.approx(520000 / math.sqrt(0.12))


def test_published_once_through_the_accountant_charged_and_never_drawn_again(tmp_path) -> None:
    policy_file = write_policy_file(tmp_path / "policy.yaml", [SITE_MONTH], planning=planning_block())
    settings = lake_settings(tmp_path / "data", policy_file)
    from foundation.policy import load_policy

    policy = load_policy(policy_file)
    approve(settings.lake.warehouse_path, policy)
    frames = queue_interval()
    write_table_partition(settings, schema.ROSTER, OCTOBER[0], roster())
    for day in sorted(set(frames["day"].to_list())):
        write_table_partition(settings, schema.QUEUE_INTERVAL, day, frames.filter(pl.col("day") == day))
    write_table_partition(settings, schema.AGENT_QUEUE_DAY, dt.date(2026, 10, 5), agent_queue_day())
    days = window_days(*OCTOBER)
    for day in days:
        mark_metrics_complete(settings, day)
    spec = policy.planning.releases[0].spec  # type: ignore[union-attr]
    key = ReleaseKey(spec.name, *OCTOBER, policy.sha256)

    def publish(draw_it: Any) -> Any:
        return publish_release(
            settings.lake.warehouse_path,
            key,
            spec,
            policy,
            "test",
            draw=draw_it,
            groups=functools.partial(planning.groups_from_zones, settings, policy, spec, days),
        )

    first = publish(functools.partial(planning.draw_from_zones, settings, policy, spec, days))
    assert first.status == "released", first.message
    assert first.budget == Budget("rho", Fraction(12, 100))
    path = settings.lake.warehouse_path
    assert rows(path, "SELECT period, spent_exact FROM budget_spend") == [("2026-10", "0.12")]
    assert rows(
        path,
        "SELECT value FROM published_aggregates WHERE statistic = 'offered_contacts@mon-09:00' "
        "AND group_value = 'Billing Berlin'",
    ) == [(7.0,)]

    def never() -> Any:
        raise AssertionError("a retry drew noise")

    again = publish(never)
    assert again.status == "stored" and again.values == first.values
    from privacy.verify import verify_ledger

    assert verify_ledger(path).ok


# --- a counts-only release (rho "0"): the weekly release of the shipped policy -----------------------

WEEK = (dt.date(2026, 10, 12), dt.date(2026, 10, 19))
COUNTS_ONLY = {"name": "queue_week", "purpose": "staffing per week", "window": "week", "rho": "0"}


def with_week(offered: str = "exact") -> dict[str, Any]:
    block = planning_block(offered)
    block["releases"].append(dict(COUNTS_ONLY))
    return block


def test_a_counts_only_release_needs_offered_exact_and_takes_no_bounds() -> None:
    planned = parse_policy(policy_document([SITE_MONTH], planning=with_week())).planning.release("queue_week")  # type: ignore[union-attr]
    assert planned is not None and planned.counts_only
    assert (planned.spec.sums, planned.spec.ratios, planned.rho_per_part) == ({}, (), 0)
    assert planned.published_sums == ("contacts_handled",)
    with pytest.raises(PolicyError, match='"0" publishes the exact counts only and needs offered: exact'):
        parse_policy(policy_document([SITE_MONTH], planning=with_week("noisy")))
    block = with_week()
    block["releases"][1]["bounds"] = BOUNDS
    with pytest.raises(PolicyError, match="exact counts only; remove bounds"):
        parse_policy(policy_document([SITE_MONTH], planning=block))
    block = planning_block()
    del block["releases"][0]["bounds"]
    with pytest.raises(PolicyError, match=r"missing key\(s\) bounds"):
        parse_policy(policy_document([SITE_MONTH], planning=block))


def test_a_counts_only_release_publishes_exact_counts_and_no_handle_time() -> None:
    policy = parse_policy(policy_document([SITE_MONTH], planning=with_week()))
    planned = policy.planning.release("queue_week")  # type: ignore[union-attr]
    assert planned is not None
    release = planning.draw_planning_release(planned, policy, roster(), queue_interval(), agent_queue_day(), WEEK)
    values = {(v.group_value, v.statistic): v for v in release.values}
    assert {k: v.value for k, v in values.items() if v.value} == {
        ("Billing Berlin", "offered_contacts@mon-09:00"): 3,
        ("Billing Berlin", "contacts_handled"): 3,
    }
    assert {s for _, s in values if "@" not in s} == {"contacts_handled"}
    assert len(values) == 2 * (336 + 1)  # two released queues
    assert all(v.noise_scale == 0 and v.ci_low == v.value == v.ci_high for v in values.values())
    assert release.mechanism == (
        "offered and answered contacts: exact count (policy planning.offered: exact); no noisy part, no budget"
    )
    assert release.parameters["noise_scales"] == {} and release.parameters["noisy_parts"] == []


def test_the_plan_shows_a_counts_only_release_costing_nothing() -> None:
    from privacy.planner import format_plan

    policy = parse_policy(policy_document([SITE_MONTH], planning=with_week()))
    plan = plan_policy(policy, roster(), "queue_week")
    (week,) = plan.releases
    assert week.budget.per_period == Budget("rho", Fraction(0)) and not week.accuracy.refused
    assert {r.relative_half_width for r in week.accuracy.rows if r.verdict == "ok"} == {0}
    assert "budget: none: exact counts only, no noise drawn, costs nothing (rho 0)" in format_plan(plan)
    assert plan_policy(policy, roster()).total_per_period == Budget("rho", Fraction(62, 100))


def test_a_counts_only_release_is_recorded_at_budget_0_and_verifies(tmp_path) -> None:
    policy_file = write_policy_file(tmp_path / "policy.yaml", [SITE_MONTH], planning=with_week())
    settings = lake_settings(tmp_path / "data", policy_file)
    from foundation.policy import load_policy

    policy = load_policy(policy_file)
    approve(settings.lake.warehouse_path, policy)
    frames = queue_interval()
    write_table_partition(settings, schema.ROSTER, WEEK[0], roster())
    for day in sorted(set(frames["day"].to_list())):
        write_table_partition(settings, schema.QUEUE_INTERVAL, day, frames.filter(pl.col("day") == day))
    days = window_days(*WEEK)
    spec = policy.budgeted_spec("queue_week")
    key = ReleaseKey(spec.name, *WEEK, policy.sha256)
    outcome = publish_release(
        settings.lake.warehouse_path,
        key,
        spec,
        policy,
        "test",
        draw=functools.partial(planning.draw_from_zones, settings, policy, spec, days),
        groups=functools.partial(planning.groups_from_zones, settings, policy, spec, days),
    )
    assert outcome.status == "released", outcome.message
    assert outcome.budget == Budget("rho", Fraction(0))
    path = settings.lake.warehouse_path
    assert rows(path, "SELECT DISTINCT spent_exact FROM budget_spend") in ([], [("0",)])
    (mechanism,) = rows(path, "SELECT mechanism FROM releases")
    assert mechanism[0].startswith("offered and answered contacts: exact count")
    from privacy.verify import verify_ledger

    assert verify_ledger(path).ok


def test_queue_service_figures_are_exact_counts_of_the_window_with_their_ratios() -> None:
    block = with_week()
    block["releases"].append(
        {"name": "queue_svc", "purpose": "service", "window": "month", "figures": "service", "rho": "0"}
    )
    policy = parse_policy(policy_document([SITE_MONTH], planning=block))
    planned = policy.planning.release("queue_svc")  # type: ignore[union-attr]
    assert planned is not None and planned.figures == "service"
    frame = queue_interval().with_columns(
        pl.Series("answered_within_threshold", [1, 2, 3, 0, 1, 4, 0, 0]),
        pl.Series("answer_wait_seconds", [30, 40, 50, 0, 5, 60, 0, 0]),
    )
    release = planning.draw_planning_release(planned, policy, roster(), frame, agent_queue_day(), OCTOBER, None, 20)
    values = {(v.group_value, v.statistic): v.value for v in release.values}
    # Billing Berlin in October (site-local): 2 + 3 + 4 + 1 offered, 1 + 3 + 4 + 1 answered, 1 abandoned
    assert {s: v for (q, s), v in values.items() if q == "Billing Berlin"} == {
        "offered": 10,
        "abandoned": 1,
        "contacts_handled": 9,
        "answered_within_threshold": 1 + 2 + 3 + 1,
        "answer_wait_seconds": 30 + 40 + 50 + 5,
        "abandon_rate": 0.1,
        "service_level": 0.7,
        "asa_seconds": 125 / 9,
    }
    assert values[("Sales Toronto", "offered")] == 5 and values[("Sales Toronto", "service_level")] == 0.8
    assert all(v.noise_scale == 0 and v.ci_low == v.value == v.ci_high for v in release.values)
    assert release.parameters["service_level_seconds"] == 20 and release.mechanism.startswith("queue service figures")
    for offered, rho in (("noisy", "0"), ("exact", "0.1")):
        bad = planning_block(offered)
        bad["releases"].append({"name": "svc", "purpose": "s", "window": "week", "figures": "service", "rho": rho})
        with pytest.raises(PolicyError, match="service figures are published as exact counts only"):
            parse_policy(policy_document([SITE_MONTH], planning=bad))


def test_plan_and_report_know_the_planning_releases_by_name(tmp_path) -> None:
    from teamlens.cli import _known_release
    from teamlens.user_errors import UserError

    settings = lake_settings(
        tmp_path / "data", write_policy_file(tmp_path / "p.yaml", [SITE_MONTH], planning=with_week())
    )
    for name in ("site_month", "queue_month", "queue_week"):
        _known_release(settings, name)
    with pytest.raises(UserError, match="releases: site_month, queue_month, queue_week"):
        _known_release(settings, "queue_year")


# --- a queue's group: the teams that answer it ----------------------------------------------------

TEAM_QUEUES = {
    "Billing Berlin": {"site": "Berlin", "teams": ["Berlin-Billing"]},  # 3 of Berlin's 10: suppressed
    "Sales Toronto": {"site": "Toronto", "teams": ["Toronto-T"]},  # all 10 of Toronto: released
    "Billing Lisbon": "Lisbon",
}


def team_roster() -> pl.DataFrame:
    """roster() with three Berlin agents moved to the team Berlin-Billing."""
    return roster().with_columns(
        pl.when(pl.col("agent_pseudonym").is_in(["b0", "b1", "b2"]))
        .then(pl.lit("Berlin-Billing"))
        .otherwise(pl.col("team"))
        .alias("team")
    )


def team_policy() -> Policy:
    return parse_policy(policy_document([SITE_MONTH], planning=planning_block() | {"queues": TEAM_QUEUES}))


def test_a_queue_with_teams_is_published_only_when_its_teams_reach_the_minimum_group_size() -> None:
    planned = team_policy().planning.releases[0]  # type: ignore[union-attr]
    release = planning.draw_planning_release(
        planned, team_policy(), team_roster(), queue_interval(), agent_queue_day(), OCTOBER
    )
    assert {g.group_value: (g.roster_size, g.status) for g in release.groups} == {
        "Billing Berlin": (3, "suppressed_small_group"),  # its team, not Berlin's 10
        "Sales Toronto": (10, "released"),
        "Billing Lisbon": (3, "suppressed_small_group"),  # the whole site, as before
    }
    assert {v.group_value for v in release.values} == {"Sales Toronto"}
    assert release.parameters["queue_teams"] == {"Billing Berlin": ["Berlin-Billing"], "Sales Toronto": ["Toronto-T"]}
    # the same roster with Billing Berlin given by its site alone: Berlin's 10 agents, released
    site_only = planning.draw_planning_release(
        make_policy().planning.releases[0],  # type: ignore[union-attr]
        make_policy(),
        team_roster(),
        queue_interval(),
        agent_queue_day(),
        OCTOBER,
    )
    assert ("Billing Berlin", 10, "released") in {(g.group_value, g.roster_size, g.status) for g in site_only.groups}
    assert "queue_teams" not in site_only.parameters


def test_the_plan_and_the_approval_record_name_each_queues_teams(tmp_path) -> None:
    from privacy.ledger import _planning_payload
    from teamlens.audit_view import policies

    policy = team_policy()
    assert _planning_payload(policy)["queue_teams"] == {
        "Billing Berlin": ["Berlin-Billing"],
        "Sales Toronto": ["Toronto-T"],
    }
    assert "queue_teams" not in _planning_payload(make_policy())  # older approvals keep their content
    plan = plan_policy(policy, team_roster())
    statuses = {r.group_value: (r.roster_size, r.verdict) for r in plan.releases[-1].accuracy.rows}
    assert statuses["Billing Berlin"] == (3, "suppressed") and statuses["Sales Toronto"][0] == 10
    path = tmp_path / "warehouse.duckdb"
    approve(path, policy)
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        (view,) = policies(con)
    assert view.planned_queues == [
        ("Billing Berlin", "Berlin", ["Berlin-Billing"]),
        ("Billing Lisbon", "Lisbon", []),
        ("Sales Toronto", "Toronto", ["Toronto-T"]),
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"site": "Berlin", "teams": []}, "teams must be a non-empty list"),
        ({"site": "Berlin", "teams": ["A", "A"]}, "teams must be distinct non-empty roster team names"),
        ({"site": "Berlin"}, r"missing key\(s\) teams"),
        ({"site": "Berlin", "teams": ["A"], "skill": 1}, r"unknown key\(s\) skill"),
        ({"site": "", "teams": ["A"]}, "the site must be a non-empty name"),
        ("", "the site must be a non-empty name"),
    ],
)
def test_a_queues_site_and_teams_are_checked(value: Any, message: str) -> None:
    doc = policy_document([SITE_MONTH], planning=planning_block() | {"queues": {"Billing Berlin": value}})
    with pytest.raises(PolicyError, match=f"planning: queues.Billing Berlin: {message}"):
        parse_policy(doc)
