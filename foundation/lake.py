"""The lake layout: every zone, partition, hidden swap name, completion marker and report path.

This module is the project's I/O manager for files. Jobs, validation, the privacy layer,
retention and the command line take every path from a `Lake` (`settings.lake`), so the layout is
written down once; readers of any engine (Spark, DuckDB, Polars, pyarrow) find partitions through
`partition` / `partition_paths` / `partition_days`, and writers replace a
partition only through `swap_in`, a single file only through `replace_file_atomic` and JSON only
through `write_json_atomic`. Names are recognised only here: `partition_day`, `hidden_day` and
`day_file_day` turn a folder or file name back into its day.

Layout under the data root (docs/architecture.md explains the layers around it):

    landing/<source>/day=D/...                   raw files as delivered (restricted)
    landing/flat_calls/<export>/day=D/...        a flat call export, beside its mapping.yaml
    landing/roster/roster.csv                    the roster (restricted; never a day partition)
    landing/.teamlens-demo-center.json           what `teamlens demo` generated (its parameters)
    staged/<table>/day=D/*.parquet               canonical rows; `day` is in the folder name
    staged/<table>/day=D/_teamlens_validation.json  validation's idempotency marker
    quarantine/<table>/ingest/<source>/day=D/    records refused at ingest, with the reason
    quarantine/<table>/day=D/validation.parquet  rows refused by validation
    metrics/<table>/day=D/*.parquet              agent_day, queue_day (restricted, never published)
    metrics/personal-links.json                  the personal pages' link generations and issue log (pseudonyms only)
    reports/ingest/<table>/day=D.json            reconciliation counts, never a value of a record (restricted)
    reports/validation/<table>/day=D.json        validation summary, counts only (restricted)
    reports/metrics/agent_day/day=D.json         the day's metrics completion marker
    reports/checkpoints/latest.txt (+ .pub)      the ledger's latest signed checkpoint and verifier key
    reports/checkpoints/size=N.txt               the signed checkpoint of the ledger's first N entries
    warehouse/warehouse.duckdb                   published aggregates and the privacy ledger
    warehouse/published-snapshot.duckdb          the readers' immutable copy of it (warehouse.snapshot)
    statements/YYYY-MM/statement-YYYY-MM-vN.{html,pdf}  the works council's monthly statements (never deleted)
    run/spark-connect/                           the per-run Spark Connect server's state

`ZONES` are the data's top folders (run/ holds process state only); `RECORD_ZONES` are those that
hold records by day, the zones the policy's retention periods apply to (the metrics zone with its
markers under reports/metrics). The run reports (`RUN_REPORT_KINDS` under reports/, `Lake.run_reports`)
hold exact per-day counts of rows, quarantines and duplicates: restricted data, not for managers,
deleted after the policy's `retention_days.reports`; the signed checkpoints under
reports/checkpoints are public audit artefacts and are never deleted. A table's
zone (staged or metrics) is the one its schema declares (`Lake.table_root`).

Hidden names (a leading dot; every reader skips them): a partition is built in `.tmp-day=D-<id>`,
the partition it replaces is renamed to `.old-day=D-<id>` (the same 8-hex-digit id) and removed
after the swap; retention renames an expired partition to `.retention-day=D-<id>` before removing
it. A data root written before this module may still hold validation's former swap names
`.day=D.validating` (the new folder) and `.day=D.replaced` (the old one); `hidden_day` recognises
them too, so retention deletes them with their day, and `recover` finishes such a swap as it
finishes its own. A single file (JSON or Parquet) is written as
`.<name>.<id>.tmp` beside its target and renamed over it.

Leftovers of killed runs (`find_leftovers`, `remove_leftovers`): Spark's committers write into
`_temporary/` below the output folder and, for a dynamic partition overwrite, into
`.spark-staging-<job>/` beside the partitions; a swap or an atomic file write leaves its hidden
sibling. A run killed mid-write leaves them with restricted rows that no reader sees and no day
partition owns. They are found in the zones the pipeline writes (`WRITTEN_ZONES`; never landing
or run/) and removed by the next run and by retention, both under the run lock, so never while a
live run writes them. In the warehouse zone only the published snapshot's temporary copies count
(`.published-snapshot.duckdb.<id>.tmp` and its `.wal`): its writer holds `writer_lock` on the
snapshot, so they are listed only while no writer holds it (a command that writes the warehouse,
such as `teamlens policy approve`, refreshes the snapshot without the run lock).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from foundation.schema import Table

# Zones in the order data flows through them.
ZONES = ("landing", "staged", "quarantine", "metrics", "reports", "warehouse")
# The zones that hold records in day partitions: retention periods apply to them, in this order.
RECORD_ZONES = ("landing", "staged", "quarantine", "metrics")
PARTITION_PREFIX = "day="
# Kinds of hidden sibling a partition can leave behind: being built, being replaced, being deleted.
SWAP_KINDS = ("tmp", "old", "retention")
_DATE = r"\d{4}-\d{2}-\d{2}"
# The day of a partition anywhere in a path (Spark reads a record's landing day from its file path).
PARTITION_DAY_IN_PATH = rf"day=({_DATE})"
_PARTITION = re.compile(rf"^day=({_DATE})$")
# Hidden leftovers: `.tmp-day=D-<id>` as written now; a shorter id or none, and a bare `.day=D`,
# as interrupted writes of earlier versions could leave them.
_HIDDEN = re.compile(rf"^\.(?:(?:{'|'.join(SWAP_KINDS)})-)?day=({_DATE})(?:-[0-9a-f]{{4,32}})?$")
# Validation's swap names before it used `swap_in`; only an older data root can hold them.
_LEGACY_HIDDEN = re.compile(rf"^\.day=({_DATE})\.(?:validating|replaced)$")
_DAY_FILE = re.compile(rf"^day=({_DATE})\.json$")
METRICS_MARKER_TABLE = "agent_day"
# The run reports under reports/ (reports/<kind>/<table>/day=D.json), kept for retention_days.reports.
RUN_REPORT_KINDS = ("ingest", "validation")
# Where the roster lies inside a landing zone (generators write it there without a Lake).
ROSTER_IN_LANDING = Path("roster") / "roster.csv"
# The zones the pipeline writes, where a killed run can leave Spark's or a swap's temporary output.
WRITTEN_ZONES = ("staged", "quarantine", "metrics", "reports")
# Hadoop's output committer's work folder, and Spark's staging folder of a dynamic partition overwrite.
SPARK_TEMPORARY = "_temporary"
SPARK_STAGING_PREFIX = ".spark-staging-"
# A file written aside (`.<name>.<id>.tmp`), and DuckDB's log beside a database written so (`.tmp.wal`).
_TEMP_FILE = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(?:\.wal)?$")
_LEFTOVER_DEPTH = 8  # quarantine/<table>/ingest/<source>/day=D/_temporary/... is found at depth 5
# Written by validation into the staged partition it checked; a leading "_" keeps readers off it.
VALIDATION_MARKER = "_teamlens_validation.json"


def partition_name(day: dt.date) -> str:
    """`day=YYYY-MM-DD`, the Hive-style folder name of one day (Spark reads `day` back from it)."""
    return f"{PARTITION_PREFIX}{day.isoformat()}"


def _day(pattern: re.Pattern[str], name: str) -> dt.date | None:
    """The date the pattern's group holds in name, or None (no match, or no such date)."""
    match = pattern.match(name)
    if not match:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:  # day=2026-02-30: a folder name, not a day
        return None


def partition_day(name: str) -> dt.date | None:
    """The day of a partition folder name (`day=D`), or None for any other name."""
    return _day(_PARTITION, name)


def hidden_day(name: str) -> dt.date | None:
    """The day of a hidden swap leftover, or None.

    Recognises `.tmp-day=D-<id>`, `.old-day=D-<id>` and `.retention-day=D-<id>`, and the legacy
    names an older data root may still hold: `.day=D.validating` and `.day=D.replaced` (validation
    before `swap_in`), and a shorter id (4 hex digits), no id or no kind (`.day=D`) from
    interrupted writes of earlier versions.
    """
    return _day(_HIDDEN, name) or _day(_LEGACY_HIDDEN, name)


def day_file_day(name: str) -> dt.date | None:
    """The day of a per-day JSON file name (`day=D.json`: reports and markers), or None."""
    return _day(_DAY_FILE, name)


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

    def zone(self, name: str) -> Path:
        """The top folder of one of ZONES."""
        if name not in ZONES:
            raise ValueError(f"unknown zone {name!r}; expected one of {', '.join(ZONES)}")
        return self.root / name

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file with published aggregates and the privacy ledger."""
        return self.root / "warehouse" / "warehouse.duckdb"

    @property
    def published_snapshot_path(self) -> Path:
        """An immutable copy of the warehouse that readers (dashboard, statement) open, replaced
        whole after each publish (warehouse.snapshot), so no reader ever locks out the pipeline."""
        return self.root / "warehouse" / "published-snapshot.duckdb"

    @property
    def statements(self) -> Path:
        """statements/: the works council's monthly statements (teamlens statement); published and
        ledger information only, audit artefacts that retention never deletes."""
        return self.root / "statements"

    def statement_dir(self, month: str) -> Path:
        """statements/YYYY-MM: every version of one month's statement."""
        return self.statements / month

    @property
    def spark_connect_dir(self) -> Path:
        """Where the per-run Spark Connect server keeps its pid file, token and logs."""
        return self.root / "run" / "spark-connect"

    # --- landing ------------------------------------------------------------------------------

    @property
    def roster_file(self) -> Path:
        return self.landing / ROSTER_IN_LANDING

    @property
    def run_lock(self) -> Path:
        """Held (flock) by the one pipeline run of this data root at a time; it names the holder."""
        return self.root / ".teamlens-run.lock"

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

    @property
    def personal_links(self) -> Path:
        """metrics/personal-links.json: each agent's personal page link generation and when a link was
        issued or revoked, by whom (teamlens/personal_link_register.py). Restricted, pseudonyms only;
        beside agent_day, which the personal pages read too; not a day file, so retention keeps it."""
        return self.metrics / "personal-links.json"

    # --- reports and markers ------------------------------------------------------------------

    def ingest_reports(self, table: Table) -> Path:
        return self.reports / "ingest" / table.name

    def ingest_report(self, table: Table, day: dt.date) -> Path:
        return self.ingest_reports(table) / f"{partition_name(day)}.json"

    def validation_report(self, table: Table, day: dt.date) -> Path:
        return self.reports / "validation" / table.name / f"{partition_name(day)}.json"

    @property
    def run_reports(self) -> tuple[Path, ...]:
        """reports/ingest and reports/validation: the per-day run reports (restricted; retention_days.reports)."""
        return tuple(self.reports / kind for kind in RUN_REPORT_KINDS)

    @property
    def metrics_markers(self) -> Path:
        """reports/metrics: the completion markers of the metrics zone (retention deletes them with it)."""
        return self.reports / "metrics"

    def metrics_marker(self, day: dt.date) -> Path:
        """The marker written after a day's agent-day metrics are complete (the release reads it)."""
        return self.metrics_markers / METRICS_MARKER_TABLE / f"{partition_name(day)}.json"

    @property
    def reingested_days(self) -> Path:
        """reports/runs/reingested/day=D.json: days an ingest re-wrote outside its run's days (a later
        delivery replaced a record staged on them), which validation, metrics and publishing still
        owe; each file is removed once the day is published again."""
        return self.reports / "runs" / "reingested"

    @property
    def checkpoints(self) -> Path:
        """reports/checkpoints: signed checkpoints of the privacy ledger (privacy/checkpoint.py)."""
        return self.reports / "checkpoints"

    @property
    def latest_checkpoint(self) -> Path:
        """The latest signed checkpoint; its verifier key is beside it with the suffix .pub."""
        return self.checkpoints / "latest.txt"

    def checkpoint_of_size(self, size: int) -> Path:
        """The signed checkpoint of the ledger's first `size` entries."""
        return self.checkpoints / f"size={size}.txt"


def public_key_path(checkpoint_file: Path) -> Path:
    """Where the verifier key of a checkpoint file is written: beside it, FILE.pub."""
    return checkpoint_file.with_name(checkpoint_file.name + ".pub")


def partition(root: Path, day: dt.date) -> Path:
    """root/day=D."""
    return root / partition_name(day)


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
    try:
        build(tmp)
        if not tmp.is_dir():
            raise RuntimeError(f"the build of {target} wrote no folder")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # the partition is untouched: nothing half-built stays
        raise
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def recover(target: Path) -> None:
    """Finish or undo an interrupted swap of `target`, then remove its other hidden leftovers.

    The old folder is renamed away only once the new one is complete, so a missing target with an
    old sibling means the new sibling of the same swap is ready to move in (else the old one goes
    back). Validation's legacy pair `.day=D.validating` / `.day=D.replaced` is treated alike.
    """
    parent = target.parent
    if not parent.is_dir():
        return
    prefix = {kind: f".{kind}-{target.name}-" for kind in ("tmp", "old")}
    swaps = [
        (hidden_sibling(target, "tmp", old.name.removeprefix(prefix["old"])), old)
        for old in sorted(parent.glob(f"{prefix['old']}*"), reverse=True)
    ]
    legacy = (parent / f".{target.name}.validating", parent / f".{target.name}.replaced")
    swaps.append(legacy)
    if not target.exists():
        for complete, old in swaps:
            if old.is_dir():
                os.replace(complete if complete.is_dir() else old, target)
                break
    leftovers = [*parent.glob(f"{prefix['tmp']}*"), *parent.glob(f"{prefix['old']}*"), *legacy]
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)


def write_json_atomic(path: Path, doc: Any, indent: int | None = 2) -> None:
    """Write `doc` as JSON (keys sorted) to a hidden temporary file beside `path`, then rename it.

    The file is flushed to disk before the rename, so a crash leaves the old file or the complete
    new one, never an empty marker that would stop every rerun.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{new_swap_id()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, indent=indent, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def replace_file_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through `write(tmp)` to a hidden temporary name beside `path`, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{new_swap_id()}.tmp")
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def leftover_kind(name: str, is_dir: bool) -> str | None:
    """What a killed run's leftover of this name is ('spark', 'swap' or 'temp-file'), or None."""
    if is_dir and (name == SPARK_TEMPORARY or name.startswith(SPARK_STAGING_PREFIX)):
        return "spark"
    if is_dir and hidden_day(name) is not None:
        return "swap"
    if not is_dir and _TEMP_FILE.match(name):
        return "temp-file"
    return None


def find_leftovers(lake: Lake) -> list[Path]:
    """The leftovers of killed runs in the zones the pipeline writes, zone by zone (WRITTEN_ZONES) and
    sorted by name within each folder; never follows a symlink.

    Call it (and remove_leftovers) only under the run lock: a live run's temporary output looks the same.
    """
    found: list[Path] = []

    def scan(folder: Path, depth: int) -> None:
        try:
            entries = sorted(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.is_symlink():
                continue
            is_dir = entry.is_dir()
            if leftover_kind(entry.name, is_dir):
                found.append(entry)
            elif is_dir and depth < _LEFTOVER_DEPTH:
                scan(entry, depth + 1)

    for zone in WRITTEN_ZONES:
        if not lake.zone(zone).is_symlink():
            scan(lake.zone(zone), 1)
    return found + _snapshot_leftovers(lake.published_snapshot_path)


def _snapshot_leftovers(snapshot: Path) -> list[Path]:
    """The temporary copies a killed snapshot writer left beside the snapshot: listed holding
    writer_lock, so never a live writer's copy (none while a writer holds it)."""

    def listed() -> list[Path]:
        if snapshot.parent.is_symlink() or not snapshot.parent.is_dir():
            return []
        prefix = f".{snapshot.name}."
        return sorted(
            p
            for p in snapshot.parent.iterdir()
            if p.name.startswith(prefix) and not p.is_symlink() and leftover_kind(p.name, p.is_dir())
        )

    if not listed():  # the usual case: no lock taken, no lock file made
        return []
    try:
        with writer_lock(snapshot, wait=False) as held:
            return listed() if held else []
    except PermissionError:  # a warehouse zone this process may not write: not its leftovers to clean
        return []


@contextmanager
def writer_lock(target: Path, wait: bool = True) -> Iterator[bool]:
    """Hold the flock on `.<name>.lock` beside `target` while writing its temporary copy: one writer
    at a time, and the leftover cleanup leaves a live writer's copy alone. Yields True when held;
    with wait=False, False at once when another process holds it. The kernel releases the lock
    when its holder dies."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f".{target.name}.lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_leftovers(lake: Lake) -> dict[str, Any]:
    """Remove the leftovers of killed runs (find_leftovers); an interrupted swap is finished or undone
    first (`recover`), so a day whose partition was renamed aside is never lost.

    Returns {"leftovers": [paths relative to the data root], "folders": n, "files": n,
    "restored_partitions": n}: what was found, its folders and files, and the partitions an
    interrupted swap put back (its sibling moved in, not removed). Paths
    stop at the leftover's own name: no record, no pseudonym.
    """
    leftovers = find_leftovers(lake)
    folders = files = restored = 0
    for path in leftovers:  # measured first: recover removes a day's siblings together
        inner = [p for p in path.rglob("*") if not p.is_symlink()] if path.is_dir() else []
        folders += path.is_dir() + sum(1 for p in inner if p.is_dir())
        files += path.is_file() + sum(1 for p in inner if p.is_file())
    for path in leftovers:
        day = hidden_day(path.name)
        if day is not None and not path.name.startswith(".retention-"):
            target = partition(path.parent, day)
            missing = not target.exists()
            recover(target)  # finishes or undoes the swap, then removes the day's other siblings
            restored += missing and target.exists()
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return {
        "leftovers": [str(p.relative_to(lake.root)) for p in leftovers],
        "folders": folders,
        "files": files,
        "restored_partitions": restored,
    }


def unwritable_folders(lake: Lake, depth: int = 3) -> list[Path]:
    """The folders of the zones the pipeline writes (and the data root) this process cannot write,
    down to `depth` levels (zone/<table>/<kind>/<source>); hidden folders and partitions are not
    checked (a swap replaces a partition, it never writes into one)."""
    found: list[Path] = []

    def check(folder: Path, level: int) -> None:
        if folder.is_symlink() or not folder.is_dir():
            return
        if not os.access(folder, os.W_OK | os.X_OK):
            found.append(folder)
        if level < depth:
            for entry in sorted(folder.iterdir()):
                if entry.is_dir() and not entry.name.startswith((".", "_")) and partition_day(entry.name) is None:
                    check(entry, level + 1)

    if lake.root.is_dir() and not os.access(lake.root, os.W_OK | os.X_OK):
        found.append(lake.root)
    for zone in WRITTEN_ZONES:
        check(lake.zone(zone), 0)
    return found


def partition_paths(root: Path, days: Sequence[dt.date]) -> list[Path]:
    """root/day=D for each day, whether or not it exists (for readers that must fail on a gap)."""
    return [partition(root, d) for d in days]
