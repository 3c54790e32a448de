"""Keep the published snapshot current: every command that writes the warehouse calls
`refresh_snapshot` after its commit (the publish step with its corrections, retention's ledger
entry, a policy approval, a checkpoint).

Readers (the dashboard, the monthly statement) open only the snapshot (warehouse.snapshot), so
they never hold a lock on the warehouse the pipeline writes. A failed refresh never undoes what
was committed: it is a WARNING naming the file, the readers keep the previous snapshot, and the
next write tries again (docs/architecture.md, "The published snapshot").
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from foundation.settings import Settings

if TYPE_CHECKING:  # DuckDB is imported only when a snapshot is written: the CLI starts without it
    from warehouse.snapshot import SnapshotInfo

log = logging.getLogger("teamlens.pipeline")


def refresh_snapshot(settings: Settings) -> SnapshotInfo | None:
    """Replace the published snapshot with a copy of the warehouse as committed now.

    Returns what the new snapshot shows, or None when there is no warehouse yet or the copy
    failed (logged as a WARNING; never raised, so the caller's commit stands).
    """
    from warehouse.snapshot import write_snapshot

    lake = settings.lake
    if not lake.warehouse_path.exists():
        return None
    try:
        info = write_snapshot(lake.warehouse_path, lake.published_snapshot_path)
    except Exception as exc:  # the commit stands; readers keep the previous snapshot
        log.warning(
            "the published snapshot %s was not refreshed (%s: %s); readers keep the previous one "
            "until the next write of the warehouse refreshes it",
            lake.published_snapshot_path,
            type(exc).__name__,
            exc,
        )
        return None
    log.info(
        "published snapshot %s: ledger %d entries, head %s",
        lake.published_snapshot_path,
        info.ledger_entries,
        info.ledger_head[:12] or "(empty)",
    )
    return info
