"""Small groups merged into their parent; corrections of published windows for late data; budget units.

Merging: under `small_groups: merge_into_parent` the teams of a site under min_group_size are
pooled into one group per site, decided from the roster alone; each agent still counts in
exactly one group, so a sum's sensitivity is still its bound.

Corrections: a window whose metrics were recomputed after its release (late data) is released
again only if the policy allows corrections, as a marked correction that costs budget; the
previous values stay in published_aggregates, current_aggregates shows the latest.
"""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from foundation.exact import canonical_json
from foundation.policy import Policy, PolicyError
from privacy import release as release_module
from privacy.accountant import budget_summary, publish_release
from privacy.groups import assign_merged_groups, decide_groups, group_parents
from privacy.ledger import AUDIT_SQL, canonical_entry, entry_hash
from privacy.release import draw_noisy_release
from privacy.verify import verify_ledger
from tests.helpers import TEAM_WEEK, FakeDraw, approve, make_test_policy, pure_policy, rows
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey, ReleaseOutcome
from warehouse.store import BUDGET_COLUMN_RENAMES, has_column, read_published

MONDAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 9, 6, 0, tzinfo=dt.UTC)
T1, T2, T3 = (dt.datetime(2026, 3, 9, h, 0, tzinfo=dt.UTC) for h in (1, 2, 3))
POOL_S1 = "S1: small teams merged"
POOL_S2 = "S2: small teams merged"

SITE_WEEK: dict[str, Any] = {**TEAM_WEEK, "name": "site_week", "group_by": "site"}


def merging_policy(**overrides: Any) -> Policy:
    return make_test_policy([TEAM_WEEK, SITE_WEEK], small_groups="merge_into_parent", **overrides)


def roster(teams: dict[tuple[str, str], int]) -> pl.DataFrame:
    """A roster with the given number of agents per (team, site)."""
    records = [
        {"agent_pseudonym": f"{team}-{site}-{i}", "team": team, "site": site}
        for (team, site), n in teams.items()
        for i in range(n)
    ]
    return pl.DataFrame(records)


# S1: T1 is large; T2 (4) and T3 (7) pool to 11 >= 10. S2: T4 (3) pools alone: 3 < 10, suppressed.
# T5 has 2 agents in S1 and 1 in S2: its parent is S1 (most of its agents), so S1's pool is 14.
ROSTER = roster({("T1", "S1"): 12, ("T2", "S1"): 4, ("T3", "S1"): 7, ("T4", "S2"): 3, ("T5", "S1"): 2, ("T5", "S2"): 1})


def decisions_of(decisions: tuple[GroupDecision, ...]) -> list[tuple[str, int, str, str | None]]:
    return [(d.group_value, d.roster_size, d.status, d.merged_into) for d in decisions]


# --- merging -------------------------------------------------------------------------------------


def test_small_teams_are_pooled_per_site_by_roster_size() -> None:
    policy = merging_policy()
    assert decisions_of(decide_groups(ROSTER, policy.release("team_week"), policy)) == [
        ("S1: small teams merged", 14, "released", None),
        ("S2: small teams merged", 3, "suppressed_small_group", None),
        ("T1", 12, "released", None),
        ("T2", 4, "merged_into_parent", POOL_S1),
        ("T3", 7, "merged_into_parent", POOL_S1),
        ("T4", 3, "merged_into_parent", POOL_S2),
        ("T5", 3, "merged_into_parent", POOL_S1),
    ]


def test_sites_have_no_parent_and_suppress_is_the_default() -> None:
    policy = merging_policy()
    sites = roster({("T1", "S1"): 12, ("T2", "S2"): 9})
    assert decisions_of(decide_groups(sites, policy.release("site_week"), policy)) == [
        ("S1", 12, "released", None),
        ("S2", 9, "suppressed_small_group", None),
    ]
    default = make_test_policy([TEAM_WEEK])
    assert default.small_groups == "suppress"
    assert decisions_of(decide_groups(sites, default.release("team_week"), default)) == [
        ("T1", 12, "released", None),
        ("T2", 9, "suppressed_small_group", None),
    ]


def test_a_team_named_like_a_pool_is_refused() -> None:
    policy = merging_policy()
    clash = roster({("T1", "S1"): 3, (POOL_S1, "S9"): 12})
    with pytest.raises(ValueError, match="name of a merged group"):
        decide_groups(clash, policy.release("team_week"), policy)


def test_merged_agents_count_once_in_their_pool() -> None:
    policy = merging_policy()
    spec = policy.release("team_week")
    decisions = decide_groups(ROSTER, spec, policy)
    totals = ROSTER.select(
        "agent_pseudonym",
        "team",
        pl.lit(10, pl.Int64).alias("contacts_handled"),
        pl.lit(3000, pl.Int64).alias("handle_seconds"),
    )
    moved = assign_merged_groups(totals, decisions, "team")
    assert moved.height == totals.height  # nobody dropped or doubled
    sizes = dict(moved.group_by("team").agg(pl.len()).iter_rows())
    assert sizes == {"T1": 12, POOL_S1: 14, POOL_S2: 3}
    # T5's agent at S2 follows its team to S1's pool: a team is one group, decided once
    assert moved.filter(pl.col("agent_pseudonym") == "T5-S2-0")["team"].to_list() == [POOL_S1]

    noisy = draw_noisy_release(totals, decisions, spec)  # real OpenDP draw
    released = {v.group_value for v in noisy.values}
    assert released == {"T1", POOL_S1}  # S2's pool of 3 (+ nobody else) stays suppressed
    contacts = {v.group_value: v for v in noisy.values if v.statistic == "contacts_handled"}
    sigma = 400 / (2 * 0.25 / 2) ** 0.5  # 800
    assert contacts[POOL_S1].noise_scale == pytest.approx(sigma)
    assert abs(contacts[POOL_S1].value - 160) < 6 * sigma  # type: ignore[operator]


def test_merged_release_is_stored_recorded_and_verified(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = merging_policy()
    spec = policy.release("team_week")
    decisions = decide_groups(ROSTER, spec, policy)
    values = tuple(PublishedValue(g, "contacts_handled", 100.0, 90.0, 110.0, 5.0, "published") for g in ("T1", POOL_S1))
    draw = FakeDraw(NoisyRelease(values=values, groups=decisions, mechanism="test double", parameters={}))
    key = ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)
    approve(wh, policy)
    out = publish_release(wh, key, spec, policy, "tester", draw, now=lambda: NOW)
    assert out.status == "released"
    assert rows(wh, "SELECT group_value, roster_size, merged_into FROM merged_groups ORDER BY 1") == [
        ("T2", 4, POOL_S1),
        ("T3", 7, POOL_S1),
        ("T4", 3, POOL_S2),
        ("T5", 3, POOL_S1),
    ]
    assert rows(wh, "SELECT group_value, roster_size FROM suppressed_groups") == [(POOL_S2, 3)]
    sizes = rows(wh, "SELECT DISTINCT group_value, roster_group_size FROM published_aggregates ORDER BY 1")
    assert sizes == [(POOL_S1, 14), ("T1", 12)]
    [payload] = [json.loads(p) for (p,) in rows(wh, "SELECT payload FROM ledger WHERE entry_type = 'release'")]
    assert payload["merged_groups"] == {"T2": POOL_S1, "T3": POOL_S1, "T4": POOL_S2, "T5": POOL_S1}
    assert payload["suppressed_groups"] == [POOL_S2]
    assert {"group_value": "T2", "roster_size": 4, "status": "merged_into_parent", "merged_into": POOL_S1} in (
        payload["groups"]
    )
    assert verify_ledger(wh).ok
    con = duckdb.connect(str(wh))
    con.execute(f"UPDATE release_groups SET merged_into = '{POOL_S2}' WHERE group_value = 'T2'")
    con.close()
    check = verify_ledger(wh)
    assert not check.ok and "release_groups rows" in check.message


# --- corrections ---------------------------------------------------------------------------------


def correcting_policy(corrections: int | None = 1, cap: str = "1.0") -> Policy:
    extra = {} if corrections is None else {"max_corrections_per_window": corrections}
    return make_test_policy([TEAM_WEEK], cap=cap, **extra)


def fixed_release(value: float) -> NoisyRelease:
    return NoisyRelease(
        values=(PublishedValue("T1", "contacts_handled", value, value - 10, value + 10, 5.0, "published"),),
        groups=(GroupDecision("T1", 12, "released"),),
        mechanism="test double",
        parameters={},
    )


def publish_at(wh: Path, policy: Policy, draw: FakeDraw, inputs_as_of: dt.datetime | None) -> ReleaseOutcome:
    """Publish the team_week under the policy, approved first as an operator would (a no-op once approved)."""
    approve(wh, policy)
    key = ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)
    return publish_release(
        wh, key, policy.release("team_week"), policy, "tester", draw, now=lambda: NOW, inputs_as_of=inputs_as_of
    )


def test_late_data_is_released_once_as_a_marked_correction_that_costs_budget(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = correcting_policy(corrections=1)
    first, late, later = FakeDraw(fixed_release(100.0)), FakeDraw(fixed_release(120.0)), FakeDraw(fixed_release(1.0))

    original = publish_at(wh, policy, first, T1)
    assert original.status == "released" and original.key.correction == 0
    assert publish_at(wh, policy, late, T1).status == "stored" and late.calls == 0  # same inputs: stored

    corrected = publish_at(wh, policy, late, T2)  # the window's metrics were recomputed at T2
    assert corrected.status == "released" and late.calls == 1
    assert corrected.key.correction == 1 and corrected.key.release_id != original.key.release_id
    assert f"correction 1, superseding {original.key.release_id}" in corrected.message
    assert rows(wh, "SELECT period, spent_exact, budget_unit FROM budget_spend ORDER BY release_id") == sorted(
        [("2026-03", "0.25", "rho"), ("2026-03", "0.25", "rho")]
    )
    assert rows(wh, "SELECT correction, correction_of, inputs_as_of FROM releases ORDER BY correction") == [
        (0, None, T1),
        (1, original.key.release_id, T2),
    ]
    assert rows(wh, "SELECT value FROM published_aggregates ORDER BY value") == [(100.0,), (120.0,)]
    assert rows(wh, "SELECT release_id, value, correction FROM current_aggregates") == [
        (corrected.key.release_id, 120.0, 1)
    ]
    assert [r["value"] for r in read_published(wh)] == [120.0]  # what the report shows
    assert sorted(r["value"] for r in read_published(wh, current=False)) == [100.0, 120.0]
    entries = [json.loads(p) for (p,) in rows(wh, "SELECT payload FROM ledger WHERE entry_type = 'release'")]
    assert [(e["correction"], e["correction_of"], e["inputs_as_of"]) for e in entries] == [
        (0, None, "2026-03-09T01:00:00.000000Z"),
        (1, original.key.release_id, "2026-03-09T02:00:00.000000Z"),
    ]

    # the same late data again: the correction is stored; newer late data: the policy allows no second one
    assert publish_at(wh, policy, later, T2).status == "stored"
    again = publish_at(wh, policy, later, T3)
    assert again.status == "stored" and later.calls == 0
    assert again.key == corrected.key and again.values == corrected.values
    assert "allows 1 correction(s) per window (1 correction(s) so far): the published values stand" in again.message
    assert rows(wh, "SELECT count(*) FROM ledger")[0][0] == 3  # policy, release, correction: nothing more

    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute(AUDIT_SQL["corrections"]).fetchall()[0][:6] == (
        corrected.key.release_id,
        "team_week",
        MONDAY,
        MONDAY + dt.timedelta(days=7),
        1,
        original.key.release_id,
    )
    con.close()
    assert verify_ledger(wh).ok


def test_without_corrections_in_the_policy_late_data_leaves_the_values(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = correcting_policy(corrections=None)
    assert policy.corrections_allowed(policy.release("team_week")) == 0
    publish_at(wh, policy, FakeDraw(fixed_release(100.0)), T1)
    late = FakeDraw(fixed_release(120.0))
    out = publish_at(wh, policy, late, T2)
    assert out.status == "stored" and late.calls == 0
    assert "allows 0 correction(s) per window (no correction so far)" in out.message
    assert rows(wh, "SELECT count(*) FROM budget_spend")[0][0] == 1


def test_a_correction_over_the_cap_is_refused_before_noise(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = correcting_policy(corrections=3, cap="0.3")
    original = publish_at(wh, policy, FakeDraw(fixed_release(100.0)), T1)
    late = FakeDraw(fixed_release(120.0))
    out = publish_at(wh, policy, late, T2)
    assert out.status == "refused" and late.calls == 0 and "exceed the privacy budget" in out.message
    assert out.key.correction == 1
    assert rows(wh, "SELECT release_id, entry_type FROM ledger WHERE entry_type = 'refusal'") == [
        (out.key.release_id, "refusal")
    ]
    assert rows(wh, "SELECT release_id FROM current_aggregates") == [(original.key.release_id,)]
    assert verify_ledger(wh).ok


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"small_groups": "merge"}, "small_groups must be 'suppress' or 'merge_into_parent'"),
        ({"max_corrections_per_window": -1}, "max_corrections_per_window must be an integer of at least 0"),
        ({"max_corrections_per_window": "1"}, "max_corrections_per_window must be an integer of at least 0"),
    ],
)
def test_bad_merge_and_correction_keys_are_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        make_test_policy([TEAM_WEEK], **overrides)


def test_a_release_may_set_its_own_correction_limit() -> None:
    policy = make_test_policy([{**TEAM_WEEK, "max_corrections_per_window": 2}], max_corrections_per_window=1)
    assert policy.corrections_allowed(policy.release("team_week")) == 2
    with pytest.raises(PolicyError, match=r"releases\[0\] \(team_week\): max_corrections_per_window"):
        make_test_policy([{**TEAM_WEEK, "max_corrections_per_window": True}])


def test_rerunning_a_day_inside_a_published_week_corrects_the_week(tmp_path: Path) -> None:
    """The pipeline's path: a backfill of Wednesday re-examines the week published on Sunday."""
    from foundation.settings import load_settings

    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path / "data"), "TEAMLENS_PSEUDONYM_KEY": "k" * 32})
    roster_day = settings.lake.staged / "roster" / f"day={MONDAY}"
    roster_day.mkdir(parents=True)
    roster({("T1", "S1"): 12}).with_columns(pl.lit("Europe/Berlin").alias("site_timezone")).write_parquet(
        roster_day / "part-0.parquet"
    )
    days = [MONDAY + dt.timedelta(days=i) for i in range(7)]

    def mark(day: dt.date, when: dt.datetime) -> None:
        marker = release_module.metrics_marker(settings, day)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"table": "agent_day", "complete": True, "computed_at": when.isoformat()}))

    for day in days:
        mark(day, T1)
    policy = correcting_policy(corrections=1)
    approve(settings.lake.warehouse_path, policy)
    sunday, wednesday = days[6], days[2]
    [first] = release_module.release_windows(settings, policy, sunday, sunday + dt.timedelta(days=1))
    assert isinstance(first, ReleaseOutcome) and first.status == "released"

    rerun = wednesday, wednesday + dt.timedelta(days=1)
    [same] = release_module.release_windows(settings, policy, *rerun)  # Wednesday rerun, nothing recomputed
    assert isinstance(same, ReleaseOutcome) and same.status == "stored"
    mark(wednesday, T2)  # late data: Wednesday's metrics recomputed after the release
    [fix] = release_module.release_windows(settings, policy, *rerun)
    assert isinstance(fix, ReleaseOutcome) and fix.status == "released" and fix.key.correction == 1
    # a Wednesday of a week never published is not looked at
    assert (
        release_module.release_windows(
            settings, policy, wednesday + dt.timedelta(days=7), wednesday + dt.timedelta(days=8)
        )
        == []
    )
    assert release_module.metrics_computed_at(settings, days) == T2
    release_module.mark_metrics_complete(settings, sunday)  # the pipeline's marker: stamped now
    assert release_module.metrics_computed_at(settings, days) > T2
    assert verify_ledger(settings.lake.warehouse_path).ok


# --- budget units and older warehouses -----------------------------------------------------------


def downgrade(path: Path) -> None:
    """Turn a warehouse back into the schema written before units, corrections and merges."""
    con = duckdb.connect(str(path))
    con.execute("DROP VIEW merged_groups")
    con.execute("DROP VIEW current_aggregates")
    con.execute("DROP VIEW suppressed_groups")
    for column in ("budget_unit", "correction", "correction_of", "inputs_as_of"):
        con.execute(f"ALTER TABLE releases DROP COLUMN {column}")
    con.execute("ALTER TABLE budget_spend DROP COLUMN budget_unit")
    con.execute("CREATE TABLE old_groups AS SELECT * EXCLUDE (merged_into) FROM release_groups")
    con.execute("DROP TABLE release_groups")
    con.execute(
        "CREATE TABLE release_groups (release_id VARCHAR NOT NULL, release_name VARCHAR NOT NULL, "
        "group_by VARCHAR NOT NULL, group_value VARCHAR NOT NULL, window_start DATE NOT NULL, "
        "window_end DATE NOT NULL, roster_size INTEGER NOT NULL, status VARCHAR NOT NULL "
        "CHECK (status IN ('released', 'suppressed_small_group')), PRIMARY KEY (release_id, group_value))"
    )
    con.execute("INSERT INTO release_groups SELECT * FROM old_groups")
    con.execute("DROP TABLE old_groups")
    con.execute(
        "CREATE VIEW suppressed_groups AS SELECT release_id, release_name, group_value, roster_size, status AS reason "
        "FROM release_groups WHERE status <> 'released'"
    )
    con.close()


def test_units_are_recorded_and_an_older_warehouse_is_migrated(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    policy = pure_policy(cap="10", epsilon="1")
    day = dt.date(2026, 4, 1)
    key = ReleaseKey("site_day", day, day + dt.timedelta(days=1), policy.sha256)
    draw = FakeDraw()
    approve(wh, policy)
    publish_release(wh, key, policy.release("site_day"), policy, "tester", draw, now=lambda: NOW)
    assert rows(wh, "SELECT budget_unit, budget_amount_exact FROM releases") == [("epsilon", "1")]
    assert rows(wh, "SELECT budget_unit, spent_exact FROM budget_spend") == [("epsilon", "1")]

    downgrade(wh)
    assert verify_ledger(wh).ok  # read-only: an old warehouse verifies as it is
    later = ReleaseKey("site_day", day + dt.timedelta(days=1), day + dt.timedelta(days=2), policy.sha256)
    out = publish_release(wh, later, policy.release("site_day"), policy, "tester", FakeDraw(), now=lambda: NOW)
    assert out.status == "released"  # the write connection migrated first
    assert rows(wh, "SELECT budget_unit, correction, correction_of FROM releases ORDER BY window_start") == [
        ("epsilon", 0, None),  # filled in from the ledger entry
        ("epsilon", 0, None),
    ]
    assert rows(wh, "SELECT DISTINCT budget_unit FROM budget_spend") == [("epsilon",)]
    assert rows(wh, "SELECT count(*) FROM current_aggregates")[0][0] == 6  # 3 values of each release
    con = duckdb.connect(str(wh), read_only=True)
    spend = con.execute(AUDIT_SQL["spend_per_period"]).fetchall()
    con.close()
    assert spend == [("2026-04", "epsilon", 2, Fraction(2), Fraction(10), Fraction(8), True)]
    assert verify_ledger(wh).ok


def downgrade_budget_names(path: Path) -> None:
    """Turn a warehouse back into the layout written before unit-neutral budget names.

    The budget columns are named rho again (rho_exact, cap_rho, ...), and the ledger's release
    entries lose budget_amount and inputs_as_of (written before corrections, whose column the
    migration adds empty): the chain is rehashed, as such a ledger was written.
    """
    con = duckdb.connect(str(path))
    for table, renames in BUDGET_COLUMN_RENAMES.items():
        for old, new in renames:
            con.execute(f"ALTER TABLE {table} RENAME COLUMN {new} TO {old}")
    prev = "0" * 64
    entries = con.execute("SELECT seq, entry_type, recorded_at, release_id, payload FROM ledger ORDER BY seq")
    for seq, entry_type, recorded_at, release_id, payload in entries.fetchall():
        doc = json.loads(payload)
        doc.pop("budget_amount", None)
        doc.pop("inputs_as_of", None)
        text = canonical_json(doc)
        digest = entry_hash(prev, canonical_entry(seq, entry_type, recorded_at, release_id, text))
        con.execute(
            "UPDATE ledger SET payload = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?", [text, prev, digest, seq]
        )
        prev = digest
    con.close()


def test_a_warehouse_with_rho_named_budget_columns_verifies_and_is_migrated(tmp_path: Path) -> None:
    """Before the rename, the rho columns held epsilon under pure DP and entries named the amount by its unit."""
    wh = tmp_path / "warehouse.duckdb"
    zcdp, pure = correcting_policy(cap="1.0"), pure_policy(cap="10", epsilon="1")
    day = MONDAY + dt.timedelta(days=1)
    pure_key = ReleaseKey("site_day", day, day + dt.timedelta(days=1), pure.sha256)
    approve(wh, pure)
    assert publish_release(wh, pure_key, pure.release("site_day"), pure, "t", FakeDraw(), now=lambda: NOW).status == (
        "released"
    )
    assert publish_at(wh, zcdp, FakeDraw(fixed_release(100.0)), T1).status == "released"
    downgrade(wh)
    downgrade_budget_names(wh)
    assert rows(wh, "SELECT release_name, rho_exact FROM releases ORDER BY 1") == [
        ("site_day", "1"),
        ("team_week", "0.25"),
    ]
    assert all("budget_amount" not in p for (p,) in rows(wh, "SELECT payload FROM ledger"))

    assert verify_ledger(wh).ok  # read-only: the old names are read as they are
    assert budget_summary(wh, zcdp)[0]["spent_rho"] == "0.75"  # rho 0.25 + epsilon 1 as rho 1/2
    assert budget_summary(wh, pure)[0]["spent_epsilon"] is None  # the period holds rho spend

    recomputed = NOW + dt.timedelta(hours=1)  # after the release (the downgrade dropped its inputs_as_of)
    out = publish_at(wh, zcdp, FakeDraw(fixed_release(120.0)), recomputed)  # a correction: the connection migrates
    assert out.status == "released" and out.key.correction == 1
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert not has_column(con, "releases", "rho_exact") and not has_column(con, "budget_spend", "cap_rho")
    finally:
        con.close()
    assert rows(wh, "SELECT budget_unit, budget_amount_exact FROM releases ORDER BY released_at, release_name") == [
        ("epsilon", "1"),
        ("rho", "0.25"),
        ("rho", "0.25"),
    ]
    assert rows(wh, "SELECT budget_unit, spent_exact, cap_exact FROM budget_spend ORDER BY budget_unit DESC") == [
        ("rho", "0.25", "1"),
        ("rho", "0.25", "1"),
        ("epsilon", "1", "10"),
    ]
    [(payload,)] = rows(wh, f"SELECT payload FROM ledger WHERE release_id = '{out.key.release_id}'")
    assert json.loads(payload)["budget_amount"] == "0.25"  # new entries name the amount without its unit
    assert verify_ledger(wh).ok


def test_group_parents_name_each_teams_site_by_most_of_its_agents() -> None:
    """A team's site is where most of its roster agents are (ties: the first site by name); sites have none."""
    roster = pl.DataFrame(
        {
            "agent_pseudonym": ["a", "b", "c", "d", "e"],
            "team": ["North", "North", "North", "South", "South"],
            "site": ["Berlin", "Leipzig", "Leipzig", "Berlin", "Leipzig"],
        }
    )
    assert group_parents(roster, "team") == {"North": "Leipzig", "South": "Berlin"}
    assert group_parents(roster, "site") == {}
