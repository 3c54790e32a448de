"""Key continuity: a window whose days were pseudonymised under two keys is refused before any noise.

A rotated key gives every agent a new pseudonym, so a window mixing keys would hold two rows of
one person. Every processed day stores the key's fingerprint (a keyed hash of a constant, never
the key): in its ingest reports, collected into its metrics marker, checked by the release and
recorded with the released window (docs/privacy.md, Key continuity).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from foundation import schema
from foundation.exact import canonical_json
from foundation.roster import key_fingerprint, key_fingerprint_of, read_keyed_roster, read_roster
from foundation.settings import Settings, load_settings
from privacy import release as release_module
from privacy.accountant import publish_release
from privacy.ledger import canonical_entry, entry_hash
from privacy.verify import verify_ledger
from tests.helpers import TEAM_WEEK, TEST_KEY, FakeDraw, approve, make_test_policy, rows
from warehouse.records import ReleaseKey, ReleaseOutcome
from warehouse.store import has_column

MONDAY = dt.date(2026, 3, 2)
WEEK = [MONDAY + dt.timedelta(days=i) for i in range(7)]
SUNDAY = WEEK[6]
NOW = dt.datetime(2026, 3, 9, 6, 0, tzinfo=dt.UTC)
OLD_KEY = b"old-key-0123456789abcdef0123456789"
NEW_KEY = b"new-key-0123456789abcdef0123456789"
OLD, NEW = key_fingerprint_of(OLD_KEY), key_fingerprint_of(NEW_KEY)
AGENTS = [f"T1-S1-{i}" for i in range(12)]  # the staged roster's pseudonyms: one team of 12


def expected_fingerprint(key: bytes) -> str:
    """The documented recipe, computed here independently of foundation.roster."""
    return hmac.new(key, b"teamlens key fingerprint v1", hashlib.sha256).hexdigest()[:16]


def with_roster_snapshot(settings: Settings) -> None:
    """A staged roster snapshot on the week's Monday: 12 agents of team T1 at site S1."""
    folder = settings.lake.staged / "roster" / f"day={MONDAY}"
    folder.mkdir(parents=True)
    pl.DataFrame(
        {"agent_pseudonym": AGENTS, "team": "T1", "site": "S1", "site_timezone": "Europe/Berlin"}
    ).write_parquet(folder / "part-0.parquet")


def mark(settings: Settings, day: dt.date, fingerprints: list[str] | None) -> None:
    """A metrics marker for the day, with the fingerprints (None: a marker written before them)."""
    doc: dict[str, Any] = {"table": "agent_day", "complete": True, "computed_at": NOW.isoformat()}
    if fingerprints is not None:
        doc["key_fingerprints"] = fingerprints
    path = release_module.metrics_marker(settings, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def ledger_payloads(path: Path, entry_type: str) -> list[dict[str, Any]]:
    return [json.loads(p) for (p,) in rows(path, f"SELECT payload FROM ledger WHERE entry_type = '{entry_type}'")]


def rechain_without(path: Path, field: str) -> None:
    """Rewrite the ledger as if its entries had been written before `field` existed (chain recomputed)."""
    con = duckdb.connect(str(path))
    try:
        stored = con.execute("SELECT seq, entry_type, recorded_at, release_id, payload FROM ledger ORDER BY seq")
        prev = "0" * 64
        for seq, entry_type, recorded_at, release_id, payload in stored.fetchall():
            doc = json.loads(payload)
            doc.pop(field, None)
            text = canonical_json(doc)
            digest = entry_hash(prev, canonical_entry(seq, entry_type, recorded_at, release_id, text))
            con.execute(
                "UPDATE ledger SET payload = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?", [text, prev, digest, seq]
            )
            prev = digest
    finally:
        con.close()


# --- the fingerprint --------------------------------------------------------------------------


def test_the_fingerprint_is_stable_per_key_differs_between_keys_and_never_shows_the_key(settings) -> None:
    assert key_fingerprint_of(OLD_KEY) == key_fingerprint_of(OLD_KEY) == expected_fingerprint(OLD_KEY)
    assert len(OLD) == 16 and int(OLD, 16) >= 0  # 16 lower-case hex characters
    assert OLD == OLD.lower()
    assert OLD != NEW == expected_fingerprint(NEW_KEY)
    hex_key = bytes.fromhex("00112233445566778899aabbccddeeff")
    for key in (OLD_KEY, NEW_KEY, TEST_KEY.encode(), hex_key):
        fingerprint = key_fingerprint_of(key)
        for shown in (key.decode("latin-1"), key.hex()):
            assert fingerprint != shown and shown not in fingerprint and fingerprint not in shown
    # not the pseudonym of any employee id either: a different message under the same key
    assert OLD != hmac.new(OLD_KEY, b"E-7001", hashlib.sha256).hexdigest()[:16]
    assert key_fingerprint(settings) == expected_fingerprint(TEST_KEY.encode())


def test_the_roster_is_read_with_its_key_fingerprint(settings) -> None:
    settings.lake.roster_file.parent.mkdir(parents=True)
    settings.lake.roster_file.write_text("employee_id,team,site,site_timezone\nE-1,T1,S1,Europe/Berlin\n")
    keyed = read_keyed_roster(settings)
    assert keyed.key_fingerprint == expected_fingerprint(TEST_KEY.encode())
    assert keyed.agents == read_roster(settings)
    assert [a.agent_pseudonym for a in keyed.agents] == [
        hmac.new(TEST_KEY.encode(), b"E-1", hashlib.sha256).hexdigest()
    ]


# --- the marker ---------------------------------------------------------------------------------


def test_the_marker_collects_the_fingerprints_of_the_days_ingest_reports(settings) -> None:
    def report(table: schema.Table, day: dt.date, **fields: Any) -> None:
        path = settings.lake.ingest_report(table, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"table": table.name, "day": day.isoformat(), "read": 1, **fields}))

    day, other_day = WEEK[0], WEEK[1]
    report(schema.ROSTER, day, key_fingerprint=NEW)
    report(schema.CONTACTS, day, key_fingerprint=NEW)
    report(schema.AGENT_EVENTS, day, key_fingerprint=OLD)  # rerun under another key
    report(schema.DESKTOP_ACTIVITY, day)  # written before reports carried a fingerprint: ignored
    # schedules: no report that day (nothing is required to exist)
    report(schema.ROSTER, other_day, key_fingerprint=OLD)
    report(schema.CONTACTS, other_day, key_fingerprint=OLD)

    assert release_module.ingest_key_fingerprints(settings, day) == sorted([NEW, OLD])
    release_module.mark_metrics_complete(settings, day)
    release_module.mark_metrics_complete(settings, other_day)
    marker = json.loads(release_module.metrics_marker(settings, day).read_text())
    assert marker["key_fingerprints"] == sorted([NEW, OLD])
    assert marker["complete"] is True and marker["day"] == day.isoformat()
    assert json.loads(release_module.metrics_marker(settings, other_day).read_text())["key_fingerprints"] == [OLD]

    release_module.mark_metrics_complete(settings, WEEK[2])  # a day without any report
    assert json.loads(release_module.metrics_marker(settings, WEEK[2]).read_text())["key_fingerprints"] == []
    mark(settings, WEEK[3], None)  # a marker written before markers carried fingerprints
    assert release_module.window_key_fingerprints(settings, WEEK[:4]) == {
        NEW: [day],
        OLD: [day, other_day],
    }
    assert list(release_module.window_key_fingerprints(settings, WEEK[:4])) == sorted([NEW, OLD])


# --- the release --------------------------------------------------------------------------------


def test_a_window_under_two_keys_is_refused_before_any_draw_and_the_refusal_is_in_the_ledger(
    settings, monkeypatch
) -> None:
    with_roster_snapshot(settings)
    for day in WEEK[:3]:
        mark(settings, day, [OLD])
    mark(settings, WEEK[3], None)  # an older marker names no key: not counted against either
    for day in WEEK[4:]:
        mark(settings, day, [NEW])
    draws: list[object] = []
    monkeypatch.setattr(release_module, "_draw_from_zones", lambda *args: draws.append(args))
    policy = make_test_policy([TEAM_WEEK])
    wh = settings.lake.warehouse_path
    approve(wh, policy)

    [out] = release_module.release_windows(settings, policy, SUNDAY, SUNDAY + dt.timedelta(days=1))
    assert isinstance(out, ReleaseOutcome) and out.status == "refused"
    assert draws == []  # no noise drawn
    assert out.values == () and out.groups == ()
    days_of = {OLD: "2026-03-02 to 2026-03-04", NEW: "2026-03-06 to 2026-03-08"}
    keys = "; ".join(f"key {fp} on 3 day(s), {days_of[fp]}" for fp in sorted(days_of))
    assert out.message == (
        "refused team_week [2026-03-02, 2026-03-09) before drawing noise: the window's days were processed under "
        f"different pseudonymisation keys ({keys}), so one person would count as two agents. Re-run the window's "
        "days under the current key, or rotate the key at an accounting-period (calendar month) boundary "
        "(docs/privacy.md, Key continuity); no budget spent"
    )
    assert not any(agent in out.message for agent in AGENTS)

    [refusal] = ledger_payloads(wh, "refusal")
    assert refusal["reason"] == "key_continuity"
    assert refusal["key_continuity"] == {
        OLD: ["2026-03-02", "2026-03-03", "2026-03-04"],
        NEW: ["2026-03-06", "2026-03-07", "2026-03-08"],
    }
    assert refusal["message"] == out.message
    assert refusal["release_id"] == out.key.release_id and refusal["policy_sha256"] == policy.sha256
    assert rows(wh, "SELECT count(*) FROM releases") == [(0,)]
    assert rows(wh, "SELECT count(*) FROM budget_spend") == [(0,)]
    assert verify_ledger(wh).ok

    # a retry on the same facts is refused again but not recorded twice
    [again] = release_module.release_windows(settings, policy, SUNDAY, SUNDAY + dt.timedelta(days=1))
    assert isinstance(again, ReleaseOutcome) and again.status == "refused" and draws == []
    assert len(ledger_payloads(wh, "refusal")) == 1
    assert verify_ledger(wh).ok


def test_the_accountant_refuses_two_keys_without_calling_the_draw(tmp_path: Path) -> None:
    policy = make_test_policy([TEAM_WEEK])
    key = ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)
    draw = FakeDraw()
    fingerprints = {OLD: WEEK[:2], NEW: WEEK[2:]}
    wh = tmp_path / "wh.duckdb"
    approve(wh, policy)
    out = publish_release(
        wh, key, policy.release("team_week"), policy, "t", draw, lambda: NOW, key_fingerprints=fingerprints
    )
    assert out.status == "refused" and draw.calls == 0
    assert "different pseudonymisation keys" in out.message
    assert ledger_payloads(wh, "refusal")[0]["reason"] == "key_continuity"


def test_a_window_under_one_key_is_released_and_records_it(settings) -> None:
    with_roster_snapshot(settings)
    mark(settings, WEEK[0], None)  # written before markers carried fingerprints
    for day in WEEK[1:]:
        mark(settings, day, [NEW])
    policy = make_test_policy([TEAM_WEEK])
    wh = settings.lake.warehouse_path
    approve(wh, policy)

    [out] = release_module.release_windows(settings, policy, SUNDAY, SUNDAY + dt.timedelta(days=1))
    assert isinstance(out, ReleaseOutcome) and out.status == "released"
    [entry] = ledger_payloads(wh, "release")
    assert entry["key_fingerprint"] == NEW
    assert rows(wh, "SELECT release_id, key_fingerprint FROM releases") == [(out.key.release_id, NEW)]
    assert verify_ledger(wh).ok

    con = duckdb.connect(str(wh))
    con.execute("UPDATE releases SET key_fingerprint = ?", [OLD])
    con.close()
    check = verify_ledger(wh)
    assert not check.ok
    assert check.message == (
        f"entry seq 2: releases row of {out.key.release_id} differs from its ledger entry (key_fingerprint)"
    )


def test_a_release_without_known_fingerprints_records_none(tmp_path: Path) -> None:
    policy = make_test_policy([TEAM_WEEK])
    wh = tmp_path / "wh.duckdb"
    key = ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)
    approve(wh, policy)
    out = publish_release(wh, key, policy.release("team_week"), policy, "t", FakeDraw(), lambda: NOW)
    assert out.status == "released"
    assert ledger_payloads(wh, "release")[0]["key_fingerprint"] is None
    assert rows(wh, "SELECT key_fingerprint FROM releases") == [(None,)]
    assert verify_ledger(wh).ok


def test_a_warehouse_without_the_column_migrates_and_old_entries_still_verify(tmp_path: Path) -> None:
    policy = make_test_policy([TEAM_WEEK])
    wh = tmp_path / "wh.duckdb"
    spec = policy.release("team_week")
    first = ReleaseKey("team_week", MONDAY, MONDAY + dt.timedelta(days=7), policy.sha256)
    approve(wh, policy)
    publish_release(wh, first, spec, policy, "t", FakeDraw(), lambda: NOW)
    # as written before key fingerprints: no column, no field in the entries
    con = duckdb.connect(str(wh))
    con.execute("ALTER TABLE releases DROP COLUMN key_fingerprint")
    con.close()
    rechain_without(wh, "key_fingerprint")
    assert "key_fingerprint" not in ledger_payloads(wh, "release")[0]
    assert verify_ledger(wh).ok  # read-only: an old warehouse verifies as it is

    later = ReleaseKey("team_week", WEEK[0] + dt.timedelta(days=7), WEEK[0] + dt.timedelta(days=14), policy.sha256)
    out = publish_release(wh, later, spec, policy, "t", FakeDraw(), lambda: NOW, key_fingerprints={NEW: WEEK})
    assert out.status == "released"  # the write connection migrated first
    con = duckdb.connect(str(wh), read_only=True)
    assert has_column(con, "releases", "key_fingerprint")
    con.close()
    assert rows(wh, "SELECT release_id, key_fingerprint FROM releases ORDER BY window_start") == [
        (first.release_id, None),
        (later.release_id, NEW),
    ]
    assert [p.get("key_fingerprint", "absent") for p in ledger_payloads(wh, "release")] == ["absent", NEW]
    assert verify_ledger(wh).ok


# --- the ingest jobs write it (one small Spark run) ---------------------------------------------

JOBS_LANDING = Path(__file__).parent / "fixtures" / "jobs" / "landing"
JOBS_DAY = dt.date(2026, 10, 5)


def test_the_ingest_reports_carry_the_fingerprint_and_the_marker_collects_it(spark, tmp_path: Path) -> None:
    from jobs import ingest, staged_roster

    key = "key-continuity-spark-key-0123456789"
    shutil.copytree(JOBS_LANDING, tmp_path / "landing")
    settings = load_settings(
        {"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_PSEUDONYM_KEY": key, "TEAMLENS_MAX_BAD_ROW_SHARE": "1"}
    )  # the fixture quarantines some records on purpose
    staged_roster.run(spark, settings, [JOBS_DAY])
    ingest.run_table(spark, settings, schema.CONTACTS, [JOBS_DAY])
    fingerprint = expected_fingerprint(key.encode())
    for table in (schema.ROSTER, schema.CONTACTS):
        report = json.loads(settings.lake.ingest_report(table, JOBS_DAY).read_text())
        assert report["key_fingerprint"] == fingerprint, table.name
        assert key not in json.dumps(report)
    release_module.mark_metrics_complete(settings, JOBS_DAY)
    marker = json.loads(release_module.metrics_marker(settings, JOBS_DAY).read_text())
    assert marker["key_fingerprints"] == [fingerprint]
