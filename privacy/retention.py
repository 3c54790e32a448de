"""Retention: delete day partitions older than the policy's periods, each deletion in the ledger.

What is deleted (all partitions are folders named day=YYYY-MM-DD, found at any depth up to
MAX_DEPTH below the zone's folder, so every source, export and table layout is covered; the zones
and the names come from foundation.lake: lake.RECORD_ZONES, lake.partition_day, lake.hidden_day,
lake.day_file_day):
- landing/<source>/day=D/ and landing/flat_calls/<export>/day=D/   (policy retention_days.landing)
- staged/<table>/day=D/                                              (retention_days.staged)
- quarantine/<table>/ingest/<source>/day=D/ and the validation quarantine
  quarantine/<table>/day=D/                                          (retention_days.quarantine)
- metrics/<table>/day=D/ (agent_day, queue_day) and the completion markers
  reports/metrics/<table>/day=D.json of those days                  (retention_days.metrics)
- the run reports reports/ingest/<table>/day=D.json and
  reports/validation/<table>/day=D.json (lake.RUN_REPORT_KINDS)      (retention_days.reports)
Hidden leftovers of an interrupted write or swap of an expired day (lake.hidden_day: .tmp-day=D-*,
.old-day=D-*, this module's own .retention-day=D-*, and validation's legacy .day=D.validating and
.day=D.replaced) go with their day. What killed runs left outside any day (Spark's `_temporary` and
`.spark-staging-*` folders, temporary files: lake.find_leftovers) is removed on every run, counted
in the result's `leftovers`.
A zone without a retention period in the policy is kept, except the run reports: they hold exact
per-day counts of rows, quarantines and duplicates of the staged and quarantine zones (restricted
data, not for managers), so without `retention_days.reports` they are kept as long as the longer
of those two zones' periods (`retention_period`), and only without either are they kept.

What is never deleted: files that are not day partitions (landing/roster/roster.csv, the flat
exports' mapping.yaml files, ...), the signed checkpoints under reports/checkpoints (public audit
artefacts), the warehouse with its published aggregates and the privacy ledger, and the published
snapshot that copies it for readers (published aggregates are noisy group figures, not personal
data); a killed snapshot writer's temporary copy beside it is a leftover like any other.

The boundary rule. A partition of day D is kept while (as_of - D) <= retention_days, in whole
days, and deleted once as_of - D > retention_days. With landing 14 days and as_of 2026-11-23,
day 2026-11-09 (14 days old) is kept and 2026-11-08 (15 days old) is deleted. `oldest_kept_day`
= as_of - retention_days.

Order and crash safety. `apply_retention` plans, then records ONE 'retention_deletion' ledger
entry for the run (committed before anything is deleted), then deletes: each partition is first
renamed to a hidden .retention-day=D-<run> sibling (lake.hidden_sibling; readers see the whole
partition or none of it), then removed. The completion markers of the metrics zone go before the metrics folders, so a
crash never leaves a day marked complete whose metrics are gone. A crash after the entry leaves
recorded data undeleted, never deleted data unrecorded; the rerun plans again, finds what is left
(renamed leftovers included) and records it in a new entry before deleting it. An entry therefore
says what the run set out to delete; a day listed again in a later entry means an earlier run was
interrupted. A run with nothing to delete appends nothing. A dry run touches neither the zones
nor the warehouse. The entry names the policy it ran under, which must be approved
(privacy/approval.py): under an unapproved policy nothing is recorded and nothing is deleted.

Symlinks are never followed: a symlinked folder or day entry met in a zone whose target lies
outside the data root (the zone folder itself included) is refused and listed in the result's `refused_symlinks`, and
nothing behind it is deleted; one pointing inside the root is ignored (its target is reached
where it really lies). Before each deletion the partition's folder is checked again to lie,
resolved, inside the data root.

Payload of a 'retention_deletion' entry (canonical JSON, see privacy/ledger.py):
    {"as_of": "YYYY-MM-DD", "policy_version": int, "policy_sha256": hex, "run_by": str,
     "rule": "<the boundary rule in words>",
     "zones": {"<zone>": {"retention_days": int, "oldest_kept_day": "YYYY-MM-DD",
                          "days": ["YYYY-MM-DD", ...],
                          "partitions": {"<folder relative to the data root>": ["YYYY-MM-DD", ...]},
                          "folders": int, "files": int, "bytes": int}}}
Only zones with something to delete appear. Paths stop at the day level (file names, which
for ActivityWatch exports carry host names, are never recorded); no agent identifier appears.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation import lake
from foundation.policy import Policy
from foundation.settings import Settings

# The record zones, then the run reports (files reports/<kind>/<table>/day=D.json).
ZONES = (*lake.RECORD_ZONES, "reports")
# The zones whose exact counts the run reports hold: their default period is the longer of these.
REPORTED_ZONES = ("staged", "quarantine")
MAX_DEPTH = 6  # landing/flat_calls/<export>/day=D and quarantine/<table>/ingest/<source>/day=D are the deepest
RULE = "a day partition is kept while as_of - day <= retention_days and deleted once as_of - day > retention_days"


@dataclass(frozen=True)
class Partition:
    """One day partition to delete: its zone, its path relative to the data root (posix), its day."""

    zone: str
    path: str
    day: dt.date
    kind: str = "folder"  # 'folder' (a day=D folder) or a file: 'marker' (reports/metrics/...) or 'report'

    @property
    def parent(self) -> str:
        return self.path.rsplit("/", 1)[0]


@dataclass(frozen=True)
class RetentionPlan:
    partitions: list[Partition]
    refused_symlinks: list[str]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def retention_period(policy: Policy, zone: str) -> int | None:
    """The zone's retention in days, or None (kept): the policy's, or for the run reports without one
    the longest of REPORTED_ZONES' periods (they count those zones' rows)."""
    days = policy.retention_days.get(zone)
    if days is not None or zone != "reports":
        return days
    reported = [policy.retention_days[z] for z in REPORTED_ZONES if z in policy.retention_days]
    return max(reported) if reported else None


def cutoff(as_of: dt.date, retention_days: int) -> dt.date:
    """The oldest day kept: as_of - retention_days (older days are deleted)."""
    return as_of - dt.timedelta(days=retention_days)


def is_expired(day: dt.date, as_of: dt.date, retention_days: int) -> bool:
    """True once as_of - day > retention_days (kept while as_of - day <= retention_days)."""
    return (as_of - day).days > retention_days


def _folder_day(name: str) -> dt.date | None:
    """The day of a partition folder or of a hidden leftover of one, or None."""
    return lake.partition_day(name) or lake.hidden_day(name)


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _scan(
    folder: Path,
    root: Path,
    depth: int,
    day_of: Callable[[str], dt.date | None],
    want_dirs: bool,
    refused: list[str],
) -> list[tuple[Path, dt.date]]:
    """Day entries below folder (not descending into them), never following a symlink."""
    found: list[tuple[Path, dt.date]] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        path = Path(entry.path)
        if entry.is_symlink():  # a linked folder or day entry leading out of the root hides partitions
            hides = entry.is_dir() or day_of(entry.name) is not None
            if hides and not _inside(Path(os.path.realpath(path)), root):
                refused.append(path.relative_to(root).as_posix())
            continue
        if entry.is_dir(follow_symlinks=False):
            day = day_of(entry.name) if want_dirs else None
            if day is not None:
                found.append((path, day))
            elif depth < MAX_DEPTH:
                found.extend(_scan(path, root, depth + 1, day_of, want_dirs, refused))
        elif not want_dirs and entry.is_file(follow_symlinks=False):
            day = day_of(entry.name)
            if day is not None:
                found.append((path, day))
    return found


def _zone_root(root: Path, folder: Path, refused: list[str]) -> Path | None:
    """The folder (a zone's, under root) when it exists and is reached without a symlink leaving the root."""
    path = root
    for part in folder.relative_to(root).parts:
        path = path / part
        if path.is_symlink():
            if not _inside(Path(os.path.realpath(path)), root):
                refused.append(path.relative_to(root).as_posix())
            return None
    return path if path.is_dir() else None


def plan_retention(settings: Settings, policy: Policy, as_of: dt.date) -> RetentionPlan:
    """The expired partitions (the metrics markers, then the run reports, then the folders, each sorted
    by path) and the refused symlinks."""
    root = Path(os.path.realpath(settings.data_root))
    paths = lake.Lake(root)
    refused: list[str] = []
    markers: list[Partition] = []
    reports: list[Partition] = []
    folders: list[Partition] = []
    for zone in ZONES:
        days = retention_period(policy, zone)
        if days is None:
            continue
        if zone == "reports":  # files day=D.json; never reports/checkpoints or reports/metrics here
            for report_root in paths.run_reports:
                found = _zone_root(root, report_root, refused)
                if found is not None:
                    for path, day in _scan(found, root, 1, lake.day_file_day, False, refused):
                        if is_expired(day, as_of, days):
                            reports.append(Partition(zone, path.relative_to(root).as_posix(), day, "report"))
            continue
        zone_root = _zone_root(root, paths.zone(zone), refused)
        if zone_root is not None:
            for path, day in _scan(zone_root, root, 1, _folder_day, True, refused):
                if is_expired(day, as_of, days):
                    folders.append(Partition(zone, path.relative_to(root).as_posix(), day))
        if zone == "metrics":
            marker_root = _zone_root(root, paths.metrics_markers, refused)
            if marker_root is not None:
                for path, day in _scan(marker_root, root, 1, lake.day_file_day, False, refused):
                    if is_expired(day, as_of, days):
                        markers.append(Partition(zone, path.relative_to(root).as_posix(), day, "marker"))
    return RetentionPlan(
        sorted(markers, key=lambda p: p.path)
        + sorted(reports, key=lambda p: p.path)
        + sorted(folders, key=lambda p: (ZONES.index(p.zone), p.path)),
        sorted(set(refused)),
    )


def expired_partitions(settings: Settings, policy: Policy, as_of: dt.date) -> list[Partition]:
    """Partitions whose day is older than the zone's retention: as_of - day > retention_days.

    Kept while as_of - day <= retention_days (landing 14, as_of 2026-11-23: 2026-11-09 is kept,
    2026-11-08 deleted). Reads folder names only; changes nothing. Symlinks are not followed.
    """
    return plan_retention(settings, policy, as_of).partitions


def _measure(path: Path) -> tuple[int, int]:
    """Files and bytes under path (lstat; symlinks counted as entries, not followed)."""
    if not path.is_dir() or path.is_symlink():
        return (1, path.lstat().st_size) if path.exists() or path.is_symlink() else (0, 0)
    files = size = 0
    for folder, _, names in os.walk(path, followlinks=False):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(folder, name)).st_size
    return files, size


def summarize(partitions: list[Partition], policy: Policy, as_of: dt.date, root: Path) -> dict[str, dict[str, Any]]:
    """Per zone: retention, oldest kept day, days, partitions per parent folder, counts. No file names."""
    zones: dict[str, dict[str, Any]] = {}
    for p in partitions:
        days = retention_period(policy, p.zone)
        assert days is not None  # planned only for zones with a period
        z = zones.setdefault(
            p.zone,
            {
                "retention_days": days,
                "oldest_kept_day": cutoff(as_of, days).isoformat(),
                "days": set(),
                "partitions": {},
                "folders": 0,
                "files": 0,
                "bytes": 0,
            },
        )
        z["days"].add(p.day.isoformat())
        z["partitions"].setdefault(p.parent, set()).add(p.day.isoformat())
        files, size = _measure(root / p.path)
        z["folders"] += p.kind == "folder"
        z["files"] += files
        z["bytes"] += size
    for z in zones.values():
        z["days"] = sorted(z["days"])
        z["partitions"] = {k: sorted(v) for k, v in sorted(z["partitions"].items())}
    return {zone: zones[zone] for zone in ZONES if zone in zones}


def _delete(root: Path, partition: Partition, run: str) -> bool:
    """Rename the partition to a hidden sibling, then remove it. False when it is already gone."""
    path = root / partition.path
    parent = path.parent
    if os.path.realpath(parent) != str(parent) or not _inside(parent, root):
        raise RuntimeError(f"refusing to delete {partition.path}: its folder does not lie inside {root}")
    if not path.exists() and not path.is_symlink():
        return False
    if path.is_symlink():
        raise RuntimeError(f"refusing to delete {partition.path}: it became a symlink")
    if partition.kind != "folder":  # a marker or a run report: one file
        path.unlink()
        return True
    # named after the day, not the entry: a leftover (.old-day=D-<id>) becomes .retention-day=D-<run>
    trash = lake.hidden_sibling(lake.partition(parent, partition.day), "retention", run)
    if path != trash:
        os.replace(path, trash)
    shutil.rmtree(trash)
    return True


def _killed_run_leftovers(settings: Settings, dry_run: bool) -> dict[str, Any]:
    """What killed runs left in the zones (foundation.lake.find_leftovers), removed unless dry_run.
    Not day partitions, so not in the ledger's payload; the result counts them."""
    if dry_run:
        return {"leftovers": [str(p.relative_to(settings.lake.root)) for p in lake.find_leftovers(settings.lake)]}
    return lake.remove_leftovers(settings.lake)


def apply_retention(
    settings: Settings,
    policy: Policy,
    as_of: dt.date,
    run_by: str,
    dry_run: bool = False,
    now: Callable[[], dt.datetime] = _utc_now,
) -> dict[str, Any]:
    """Record the run's 'retention_deletion' entry, then delete the expired partitions.

    Returns {as_of, dry_run, zones (as in the ledger payload), partitions (count), deleted
    (count actually removed now), entry_hash (None for a dry run or when nothing was due),
    refused_symlinks, leftovers: what killed runs left (lake.remove_leftovers; removed whatever the
    policy says, listed only in a dry run)}. A dry run measures what would go and writes nothing anywhere.
    Call it under the data root's run lock (the pipeline step and `teamlens retention` hold it), so
    that a live run's temporary output is never taken for a killed run's.
    Raises privacy.approval.PolicyNotApproved, before recording or deleting anything, when
    something is due and the policy is not approved (a deletion runs under an approved policy).
    """
    root = Path(os.path.realpath(settings.data_root))
    plan = plan_retention(settings, policy, as_of)
    zones = summarize(plan.partitions, policy, as_of, root)
    result: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "dry_run": dry_run,
        "zones": zones,
        "partitions": len(plan.partitions),
        "deleted": 0,
        "entry_hash": None,
        "refused_symlinks": plan.refused_symlinks,
        "leftovers": {"leftovers": []},
    }
    if dry_run or not plan.partitions:
        result["leftovers"] = _killed_run_leftovers(settings, dry_run)
        return result

    from privacy.approval import PolicyNotApproved, not_approved_message
    from privacy.ledger import append_entry, approval_entries
    from warehouse import store

    payload = {
        "as_of": as_of.isoformat(),
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "run_by": run_by,
        "rule": RULE,
        "zones": zones,
    }
    recorded_at = now()
    con = store.connect(settings.lake.warehouse_path)
    try:
        with store.transaction(con):
            if not approval_entries(con, policy.sha256):
                raise PolicyNotApproved(f"retention as of {as_of} not applied: {not_approved_message(policy)}")
            result["entry_hash"] = append_entry(con, "retention_deletion", payload, None, recorded_at)
    finally:
        con.close()

    run = lake.new_swap_id()
    for partition in plan.partitions:  # markers first: a day is never marked complete without its metrics
        result["deleted"] += _delete(root, partition, run)
    result["leftovers"] = _killed_run_leftovers(settings, dry_run)  # after the recorded deletions
    return result
