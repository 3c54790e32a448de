"""The warehouse schema and read side: what managers can read, and nothing about single agents."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from foundation.policy import Policy
from privacy.accountant import publish_release
from tests.helpers import approve, make_test_policy
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey
from warehouse.store import PUBLISHED_COLUMNS, connect, read_published

PUBLISHED_TABLES = ("published_aggregates", "release_groups", "suppressed_groups", "releases", "budget_spend")


def make_policy() -> Policy:
    return make_test_policy(
        [
            {
                "name": name,
                "purpose": "test",
                "group_by": "team",
                "window": "week",
                "rho": "0.1",
                "sums": {"contacts_handled": 400},
            }
            for name in ("alpha_week", "beta_week")
        ]
    )


def draw() -> NoisyRelease:
    return NoisyRelease(
        values=(
            PublishedValue("team-b", "contacts_handled", 410.0, 380.5, 439.5, 15.0, "published"),
            PublishedValue("team-a", "contacts_handled", 95.5, 66.0, 125.0, 15.0, "published"),
        ),
        groups=(GroupDecision("team-a", 11, "released"), GroupDecision("team-b", 30, "released")),
        mechanism="gaussian (zCDP), test double",
        parameters={},
    )


def publish_two(path: Path) -> None:
    policy = make_policy()
    approve(path, policy)
    for name in ("alpha_week", "beta_week"):
        key = ReleaseKey(name, dt.date(2026, 3, 9), dt.date(2026, 3, 16), policy.sha256)
        publish_release(path, key, policy.release(name), policy, "ops", draw)


def test_connect_creates_the_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "wh.duckdb"
    connect(path).close()
    connect(path).close()  # second time: schema exists, nothing fails
    con = connect(path, read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        comments = dict(
            con.execute(
                "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'published_aggregates'"
            ).fetchall()
        )
    finally:
        con.close()
    assert {
        "releases",
        "published_aggregates",
        "release_groups",
        "suppressed_groups",
        "budget_spend",
        "ledger",
    } <= tables
    assert all(comments[c] for c in PUBLISHED_COLUMNS), "every column managers read is documented"
    assert "95%" in comments["ci_low"]


def test_no_agent_identifier_in_published_tables(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    publish_two(path)
    con = connect(path, read_only=True)
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE list_contains(?, table_name)",
            [list(PUBLISHED_TABLES)],
        ).fetchall()
    finally:
        con.close()
    assert {t for t, _ in columns} == set(PUBLISHED_TABLES)
    for table, column in columns:
        assert not any(word in column.lower() for word in ("agent", "pseudonym", "employee", "person", "user")), (
            table,
            column,
        )


def test_read_published(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    assert read_published(path) == []
    publish_two(path)
    rows = read_published(path)
    assert len(rows) == 4 and tuple(rows[0]) == PUBLISHED_COLUMNS
    assert [(r["release_name"], r["group_value"]) for r in rows] == [
        ("alpha_week", "team-a"),
        ("alpha_week", "team-b"),
        ("beta_week", "team-a"),
        ("beta_week", "team-b"),
    ]
    first = read_published(path, "beta_week")[0]
    assert first["window_start"] == dt.date(2026, 3, 9) and first["window_end"] == dt.date(2026, 3, 16)
    assert (first["value"], first["ci_low"], first["ci_high"], first["noise_scale"]) == (95.5, 66.0, 125.0, 15.0)
    assert (first["roster_group_size"], first["status"], first["group_by"]) == (11, "published", "team")
    assert read_published(path, "no_such_release") == []


def test_read_only_connect_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing has been published"):
        connect(tmp_path / "absent.duckdb", read_only=True)
    assert not (tmp_path / "absent.duckdb").exists()


def test_connect_waits_for_another_process_to_release_its_lock(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    connect(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(1.5)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException, match="lock"):
            connect(path, read_only=True, retry_seconds=0)
        start = time.monotonic()
        con = connect(path, read_only=True, retry_seconds=30)
        con.close()
        assert time.monotonic() - start > 0.2
    finally:
        holder.wait(timeout=30)
