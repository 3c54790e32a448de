"""The lake layout: every zone, partition, hidden swap name, completion marker and report path.

This module is the project's I/O manager for files. Jobs, validation, the privacy layer,
retention and the command line take every path from a `Lake`, so the layout is written down
once; readers of any engine (Spark, DuckDB, Polars, pyarrow) list partitions through
`Lake.partition` / `existing_partitions`, and writers replace a partition only through
`swap_in` and write JSON only through `write_json_atomic`.

Layout under the data root (docs/architecture.md draws it):

    landing/<source>/day=D/...                 raw files as delivered (restricted)
    landing/roster/roster.csv                  the roster (restricted)
    staged/<table>/day=D/*.parquet             canonical rows; `day` is in the folder name
    quarantine/<table>/ingest/<source>/day=D/  records refused at ingest, with the reason
    quarantine/<table>/day=D/validation.parquet  rows refused by validation
    metrics/<table>/day=D/*.parquet            agent_day, queue_day (restricted, never published)
    reports/ingest/<table>/day=D.json          reconciliation counts, never a value of a record
    reports/validation/<table>/day=D.json      validation summary, counts only
    reports/metrics/agent_day/day=D.json       the day's metrics completion marker
    warehouse/warehouse.duckdb                 published aggregates and the privacy ledger
    run/spark-connect/                         the per-run Spark Connect server's state

Hidden names (a leading dot; readers skip them): a partition is built in `.tmp-day=D-<id>`, the
partition it replaces is renamed to `.old-day=D-<id>` (the same id) and removed after the swap;
retention renames an expired partition to `.retention-day=D-<id>` before removing it. A JSON file
is written as `.<name>.<id>.tmp` and renamed over the target. `hidden_day` recognises all of them,
so retention deletes a day's leftovers with the day.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from foundation.schema import Table

# Zones in the order data flows through them; retention walks them in this order.
ZONES = ("landing", "staged", "quarantine", "metrics", "reports", "warehouse")
PARTITION_PREFIX = "day="
# Kinds of hidden sibling a partition can leave behind: being built, being replaced, being deleted.
SWAP_KINDS = ("tmp", "old", "retention")
_DATE = r"\d{4}-\d{2}-\d{2}"
_PARTITION = re.compile(rf"^day=({_DATE})$")
_HIDDEN = re.compile(rf"^\.(?:{'|'.join(SWAP_KINDS)})-day=({_DATE})-[0-9a-f]{{8,32}}$")
_DAY_FILE = re.compile(rf"^day=({_DATE})\.json$")
METRICS_MARKER_TABLE = "agent_day"


def partition_name(day: dt.date) -> str:
    """`day=YYYY-MM-DD`, the Hive-style folder name of one day (Spark reads `day` back from it)."""
    return f"{PARTITION_PREFIX}{day.isoformat()}"


def partition_day(name: str) -> dt.date | None:
    """The day of a partition folder name, or None for any other name."""
    match = _PARTITION.match(name)
    return dt.date.fromisoformat(match.group(1)) if match else None


def hidden_day(name: str) -> dt.date | None:
    """The day of a hidden swap leftover (`.tmp-day=D-<id>`, `.old-...`, `.retention-...`), or None."""
    match = _HIDDEN.match(name)
    return dt.date.fromisoformat(match.group(1)) if match else None


def day_file_day(name: str) -> dt.date | None:
    """The day of a per-day JSON file name (`day=D.json`: reports and markers), or None."""
    match = _DAY_FILE.match(name)
    return dt.date.fromisoformat(match.group(1)) if match else None


def hidden_sibling(target: Path, kind: str, swap_id: str) -> Path:
    """The hidden sibling of partition `target` for one swap (kind: tmp, old or retention)."""
    if kind not in SWAP_KINDS:
        raise ValueError(f"unknown swap kind {kind!r}; expected one of {', '.join(SWAP_KINDS)}")
    return target.with_name(f".{kind}-{target.name}-{swap_id}")


def new_swap_id() -> str:
    return uuid.uuid4().hex[:8]


def data_files(folder: Path, suffix: str = ".parquet") -> list[Path]:
    """A partition's data files in name order; Spark's _SUCCESS, .crc and hidden files are skipped."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix == suffix and not p.name.startswith((".", "_"))
    )


@dataclass(frozen=True)
class Lake:
    """The paths under one data root. Pure: building a path never touches the disk."""

    root: Path

    # --- zones --------------------------------------------------------------------------------

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def staged(self) -> Path:
        return self.root / "staged"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def reports(self) -> Path:
        """Run reports: reconciliation counts and validation summaries, no raw values."""
        return self.root / "reports"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file with published aggregates and the privacy ledger."""
        return self.root / "warehouse" / "warehouse.duckdb"

    @property
    def spark_connect_dir(self) -> Path:
        """Where the per-run Spark Connect server keeps its pid file, token and logs."""
        return self.root / "run" / "spark-connect"

    # --- landing ------------------------------------------------------------------------------

    @property
    def roster_file(self) -> Path:
        return self.landing / "roster" / "roster.csv"

    @property
    def demo_center_marker(self) -> Path:
        """Written by `teamlens demo` beside the center it generated."""
        return self.landing / ".teamlens-demo-center.json"

    def landing_source(self, source: str) -> Path:
        return self.landing / source

    def landing_partition(self, source: str, day: dt.date) -> Path:
        return self.landing_source(source) / partition_name(day)

    # --- tables -------------------------------------------------------------------------------

    def table_root(self, table: Table) -> Path:
        """staged/<table> or metrics/<table>, by the zone the schema declares for the table."""
        return (self.staged if table.zone == "staged" else self.metrics) / table.name

    def table_partition(self, table: Table, day: dt.date) -> Path:
        return partition(self.table_root(table), day)

    def ingest_quarantine_root(self, table: Table, source: str) -> Path:
        return self.quarantine / table.name / "ingest" / source

    def validation_quarantine_file(self, table: Table, day: dt.date) -> Path:
        return self.quarantine / table.name / partition_name(day) / "validation.parquet"

    # --- reports and markers ------------------------------------------------------------------

    def ingest_reports(self, table: Table) -> Path:
        return self.reports / "ingest" / table.name

    def ingest_report(self, table: Table, day: dt.date) -> Path:
        return self.ingest_reports(table) / f"{partition_name(day)}.json"

    def validation_report(self, table: Table, day: dt.date) -> Path:
        return self.reports / "validation" / table.name / f"{partition_name(day)}.json"

    @property
    def metrics_markers(self) -> Path:
        """reports/metrics: the completion markers of the metrics zone (retention deletes them with it)."""
        return self.reports / "metrics"

    def metrics_marker(self, day: dt.date) -> Path:
        """The marker written after a day's agent-day metrics are complete (the release reads it)."""
        return self.metrics_markers / METRICS_MARKER_TABLE / f"{partition_name(day)}.json"


def partition(root: Path, day: dt.date) -> Path:
    """root/day=D."""
    return root / partition_name(day)


def existing_partitions(root: Path, days: Iterable[dt.date]) -> list[Path]:
    """The partitions of `days` under root that exist, in the order of `days`."""
    return [p for p in (partition(root, d) for d in days) if p.is_dir()]


def partition_days(root: Path) -> list[dt.date]:
    """The days that have a partition folder under root, sorted."""
    if not root.is_dir():
        return []
    return sorted(d for p in root.iterdir() if p.is_dir() and (d := partition_day(p.name)) is not None)


def swap_in(target: Path, build: Callable[[Path], None]) -> Path:
    """Replace the folder `target` by what `build(folder)` writes into a new hidden sibling.

    The new folder is complete before the old one is renamed away, so readers see the old
    partition or the new one, never part of either. Leftovers of an interrupted swap of the same
    target are cleaned first: if the target is missing while an `.old-` sibling exists, the swap
    was interrupted between its two renames, and its complete `.tmp-` sibling (same id) is put in
    place, else the old folder is restored.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    swap_id = new_swap_id()
    tmp = hidden_sibling(target, "tmp", swap_id)
    old = hidden_sibling(target, "old", swap_id)
    build(tmp)
    if not tmp.is_dir():
        raise RuntimeError(f"the build of {target} wrote no folder")
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def recover(target: Path) -> None:
    """Finish or undo an interrupted swap of `target`, then remove its other hidden leftovers."""
    parent = target.parent
    if not parent.is_dir():
        return
    prefix = {kind: f".{kind}-{target.name}-" for kind in ("tmp", "old")}
    olds = sorted(parent.glob(f"{prefix['old']}*"))
    if not target.exists() and olds:
        old = olds[-1]
        complete = hidden_sibling(target, "tmp", old.name.removeprefix(prefix["old"]))
        os.replace(complete if complete.is_dir() else old, target)
    for kind in ("tmp", "old"):
        for leftover in parent.glob(f"{prefix[kind]}*"):
            shutil.rmtree(leftover, ignore_errors=True)


def write_json_atomic(path: Path, doc: Any, indent: int | None = 2) -> None:
    """Write `doc` as JSON (keys sorted) to a hidden temporary file beside `path`, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{new_swap_id()}.tmp")
    tmp.write_text(json.dumps(doc, indent=indent, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def replace_file_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through `write(tmp)` to a hidden temporary name beside `path`, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{new_swap_id()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def partition_paths(root: Path, days: Sequence[dt.date]) -> list[Path]:
    """root/day=D for each day, whether or not it exists (for readers that must fail on a gap)."""
    return [partition(root, d) for d in days]
