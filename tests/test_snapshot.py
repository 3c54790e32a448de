"""The published snapshot keeps readers and the pipeline apart (docs/architecture.md, "The published snapshot").

On a tiny center (tests/conftest.py write_dashboard_center: two teams of 10 and one of 4) published
through the real publish step: a reader that holds the snapshot open longer than the warehouse's
lock retry never fails a publish and keeps its view; many short reads during publishing never
error; a failed refresh leaves the commit standing; every writer of the warehouse refreshes the
snapshot; and a killed writer's temporary copy is a leftover the next run removes.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from foundation import lake
from foundation.policy import load_policy
from privacy.retention import apply_retention
from teamlens import pipeline
from teamlens.cli import main as teamlens
from teamlens.publishing import refresh_snapshot
from tests.helpers import TEST_CHECKPOINT_KEY, TEST_KEY
from warehouse import store
from warehouse.snapshot import open_snapshot

MONDAY = dt.date(2026, 3, 9)
DAYS = [MONDAY + dt.timedelta(days=i) for i in range(4)]
REPO = Path(__file__).resolve().parent.parent

# A reader in its own process: opens a DuckDB file read-only, prints the ledger's size, holds the
# file until told to stop (the file argv[2] appears), then reads the ledger again through the same
# connection and prints its size.
HOLDING_READER = """
import pathlib, sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM ledger").fetchone()[0], flush=True)
while not pathlib.Path(sys.argv[2]).exists():
    time.sleep(0.05)
print(con.execute("SELECT count(*) FROM ledger").fetchone()[0], flush=True)
"""


def _ledger_entries(path: Path) -> int:
    with open_snapshot(path) as (_, info):
        return info.ledger_entries


@contextmanager
def holding_reader(path: Path, stop: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A reader process holding `path` open (read-only) until `stop` appears; and the ledger size it saw."""
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLDING_READER, str(path), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None
        yield reader, int(reader.stdout.readline())  # it holds the file from here
    finally:
        stop.touch()
        reader.wait(timeout=30)


def test_a_reader_holding_the_snapshot_never_locks_out_the_publish(
    dashboard_center, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dashboard_center(DAYS[:2])
    snapshot = settings.lake.published_snapshot_path
    assert pipeline.publish_releases([DAYS[0].isoformat()], settings) == {"windows": 1, "released": 1}
    assert _ledger_entries(snapshot) == 2  # the approval and the first day's release
    monkeypatch.setattr(store, "LOCK_RETRY_SECONDS", 0.2)  # a lock held longer fails the writer at once

    # The premise: a reader of the warehouse itself makes the publish fail with a lock error.
    with (
        holding_reader(settings.lake.warehouse_path, tmp_path / "stop-1"),
        pytest.raises(duckdb.IOException, match=r"[Ll]ock"),
    ):
        pipeline.publish_releases([DAYS[1].isoformat()], settings)

    with holding_reader(snapshot, tmp_path / "stop-2") as (reader, before):
        started = time.monotonic()
        assert pipeline.publish_releases([DAYS[1].isoformat()], settings) == {"windows": 1, "released": 1}
        assert time.monotonic() - started > store.LOCK_RETRY_SECONDS  # held longer than a writer waits for a lock
        assert (before, _ledger_entries(snapshot)) == (2, 3)  # a new open sees the new snapshot
        assert reader.stdout is not None
        (tmp_path / "stop-2").touch()
        kept = int(reader.stdout.readline())
    assert (kept, reader.returncode) == (2, 0)  # the reader kept its view to the end


def test_short_reads_during_publishing_never_error(dashboard_center) -> None:
    settings = dashboard_center(DAYS)
    snapshot = settings.lake.published_snapshot_path
    pipeline.publish_releases([DAYS[0].isoformat()], settings)
    seen: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def read_in_a_loop() -> None:
        while not done.is_set():
            try:
                with open_snapshot(snapshot) as (con, info):
                    row = con.execute("SELECT count(*) FROM ledger").fetchone()
                    con.execute("SELECT * FROM current_aggregates").fetchall()
                    assert row is not None and row[0] == info.ledger_entries
                    seen.append(info.ledger_entries)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    try:
        for day in DAYS[1:]:
            assert pipeline.publish_releases([day.isoformat()], settings) == {"windows": 1, "released": 1}
        deadline = time.monotonic() + 10
        while (not seen or seen[-1] < 5) and time.monotonic() < deadline:  # until it has read the last one
            time.sleep(0.05)
    finally:
        done.set()
        reader.join(timeout=30)
    assert errors == []
    assert len(seen) > 20 and seen == sorted(seen)  # never an older state after a newer one
    assert (seen[0], seen[-1], _ledger_entries(snapshot)) == (2, 5, 5)


def test_a_failed_refresh_leaves_the_commit_and_says_which_file(
    dashboard_center, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = dashboard_center(DAYS[:2])
    pipeline.publish_releases([DAYS[0].isoformat()], settings)

    def fail(*_: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr("warehouse.snapshot._write", fail)
    with caplog.at_level(logging.WARNING, logger="teamlens.pipeline"):
        assert pipeline.publish_releases([DAYS[1].isoformat()], settings) == {"windows": 1, "released": 1}
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"the published snapshot {settings.lake.published_snapshot_path} was not refreshed")
    assert "OSError: No space left on device" in warning
    ledger = store.connect(settings.lake.warehouse_path, read_only=True)
    try:  # committed: the warehouse holds the release; the snapshot still shows the state before
        assert ledger.execute("SELECT count(*) FROM ledger").fetchone() == (3,)
    finally:
        ledger.close()
    assert _ledger_entries(settings.lake.published_snapshot_path) == 2
    monkeypatch.undo()
    assert refresh_snapshot(settings) is not None  # the next write retries
    assert _ledger_entries(settings.lake.published_snapshot_path) == 3


def test_every_writer_of_the_warehouse_refreshes_the_snapshot(
    dashboard_center, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Approval (the CLI), retention (the DAG's step and the CLI), a checkpoint (the CLI)."""
    settings = dashboard_center(DAYS[:1])
    snapshot = settings.lake.published_snapshot_path
    for name in ("TEAMLENS_DATA_ROOT", "TEAMLENS_POLICY"):
        monkeypatch.setenv(name, str(settings.data_root if name == "TEAMLENS_DATA_ROOT" else settings.policy_path))
    monkeypatch.setenv("TEAMLENS_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("TEAMLENS_CHECKPOINT_KEY", TEST_CHECKPOINT_KEY)
    assert not snapshot.exists()  # the test's approval went around the CLI

    other_policy = tmp_path / "policy-v2.yaml"
    other_policy.write_text(settings.policy_path.read_text().replace("policy_version: 1", "policy_version: 2"))
    assert teamlens(["policy", "approve", "--by", "works council", "--name", "v2", "--policy", str(other_policy)]) == 0
    assert _ledger_entries(snapshot) == 2

    policy = load_policy(settings.policy_path)
    landed = settings.lake.landing_partition("connect_ctr", DAYS[0]) / "records.jsonl"
    landed.parent.mkdir(parents=True)
    landed.write_text("{}\n")
    as_of = (DAYS[0] + dt.timedelta(days=40)).isoformat()  # the landing day is past its 14 days
    assert pipeline.apply_retention(as_of, settings)["entry_hash"] is not None
    assert _ledger_entries(snapshot) == 3
    snapshot.unlink()
    assert teamlens(["retention", "--as-of", as_of]) == 0  # nothing left to delete: no entry, still refreshed
    assert _ledger_entries(snapshot) == 3
    snapshot.unlink()
    assert teamlens(["checkpoint"]) == 0
    assert _ledger_entries(snapshot) == 3
    assert apply_retention(settings, policy, dt.date.fromisoformat(as_of), "test", dry_run=True)["entry_hash"] is None
    capsys.readouterr()


def test_a_killed_snapshot_writers_copy_is_a_leftover_the_next_run_removes(settings) -> None:
    root = settings.lake.root
    snapshot = settings.lake.published_snapshot_path
    killed = [
        snapshot.with_name(f".{snapshot.name}.0a1b2c3d.tmp"),
        snapshot.with_name(f".{snapshot.name}.0a1b2c3d.tmp.wal"),
    ]
    kept = [settings.lake.warehouse_path, snapshot, settings.lake.warehouse_path.with_name("warehouse.duckdb.wal")]
    for path in [*killed, *kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")

    with lake.writer_lock(snapshot):  # a live writer's copy looks the same: left alone
        assert pipeline.clear_killed_runs(settings)["leftovers"] == []
    cleared = pipeline.clear_killed_runs(settings)
    assert cleared["leftovers"] == [str(p.relative_to(root)) for p in killed]
    assert sorted(p.name for p in snapshot.parent.iterdir()) == sorted(
        [*(p.name for p in kept), f".{snapshot.name}.lock"]
    )
