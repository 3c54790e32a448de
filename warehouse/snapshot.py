"""The published snapshot: an immutable copy of the warehouse for readers.

DuckDB lets one process write a file and no other process read it meanwhile, and a reader blocks
the writer. Readers that stay a while (the dashboard, the monthly statement) therefore never open
the warehouse itself: after every command that writes the warehouse commits (the publish step,
retention, a policy approval), the application copies the warehouse aside, adds a `snapshot_info`
row (when it was written, the ledger's size and head), and atomically replaces the snapshot file
with the copy. A reader opens the snapshot read-only for a short while; a reader that still has
the previous file open keeps reading it (the replaced file lives on until closed), and publishing
goes on meanwhile.

Table `snapshot_info` [one row]: written_at (UTC), ledger_entries, ledger_head (the entry_hash of
the ledger's last entry, '' when empty), source (the warehouse file it copies).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from foundation import lake
from warehouse import store


@dataclass(frozen=True)
class SnapshotInfo:
    """Which state of the warehouse a snapshot shows."""

    written_at: dt.datetime
    ledger_entries: int
    ledger_head: str


class NoSnapshotError(FileNotFoundError):
    """Nothing has been published yet, so there is no snapshot to read."""


def write_snapshot(warehouse_path: Path, snapshot_path: Path) -> SnapshotInfo:
    """Copy the warehouse aside, stamp it, and replace the snapshot atomically.

    Call it when no connection to the warehouse is open for writing in this process (after the
    publish step committed and closed). The copy is read through a read-only connection, which
    waits (store.connect's retry) while another process writes. One writer at a time holds the
    snapshot's writer lock (foundation.lake.writer_lock), so a copy of an older state never
    replaces a newer one, and the killed-run cleanup leaves the live copy
    (`.<name>.<id>.tmp`) alone.
    """
    with lake.writer_lock(snapshot_path):
        return _write(warehouse_path, snapshot_path)


def _write(warehouse_path: Path, snapshot_path: Path) -> SnapshotInfo:
    temporary = snapshot_path.with_name(f".{snapshot_path.name}.{lake.new_swap_id()}.tmp")
    try:
        con = store.connect(warehouse_path, read_only=True)
        try:
            # The copy is taken while this read-only connection holds the file: no writer can
            # change it halfway.
            shutil.copyfile(warehouse_path, temporary)
            wal = warehouse_path.with_name(warehouse_path.name + ".wal")
            if wal.is_file():  # a writer that did not close cleanly: the copy replays its log
                shutil.copyfile(wal, temporary.with_name(temporary.name + ".wal"))
            entries, head = _ledger_state(con)
        finally:
            con.close()
        info = SnapshotInfo(dt.datetime.now(dt.UTC).replace(microsecond=0), entries, head)
        stamp = duckdb.connect(str(temporary))
        try:
            stamp.execute("SET TimeZone = 'UTC'")
            stamp.execute(
                "CREATE OR REPLACE TABLE snapshot_info (written_at TIMESTAMPTZ, ledger_entries BIGINT, "
                "ledger_head VARCHAR, source VARCHAR)"
            )
            stamp.execute(
                "INSERT INTO snapshot_info VALUES (?, ?, ?, ?)",
                [info.written_at, info.ledger_entries, info.ledger_head, warehouse_path.name],
            )
            stamp.execute("CHECKPOINT")
        finally:
            stamp.close()
        os.replace(temporary, snapshot_path)
    finally:
        temporary.unlink(missing_ok=True)
        temporary.with_name(temporary.name + ".wal").unlink(missing_ok=True)
    return info


def _ledger_state(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    if not store.has_table(con, "ledger"):
        return 0, ""
    row = con.execute("SELECT count(*), arg_max(entry_hash, seq) FROM ledger").fetchone()
    assert row is not None
    return int(row[0]), str(row[1] or "")


@contextmanager
def open_snapshot(snapshot_path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, SnapshotInfo]]:
    """A short read-only connection to the snapshot and what it shows; close it soon."""
    if not snapshot_path.is_file():
        raise NoSnapshotError(f"no published snapshot at {snapshot_path}: run the pipeline (teamlens run) first")
    con = duckdb.connect(str(snapshot_path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        row = con.execute("SELECT written_at, ledger_entries, ledger_head FROM snapshot_info").fetchone()
        assert row is not None
        written_at = row[0] if row[0].tzinfo else row[0].replace(tzinfo=dt.UTC)
        yield con, SnapshotInfo(written_at.astimezone(dt.UTC), int(row[1]), str(row[2]))
    finally:
        con.close()
