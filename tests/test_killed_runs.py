"""What a killed run leaves in the lake (Spark's `_temporary` and `.spark-staging-*` folders, swap
siblings, temporary files) is removed by the next run and by retention, and each says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from foundation import lake
from privacy.retention import apply_retention
from teamlens import pipeline, report, run_summary

AS_OF = lake.dt.date(2026, 10, 7)
DAY = lake.dt.date(2026, 10, 5)  # no day is due: only the leftovers go

# What a run killed during ingest, validation and a swap leaves (restricted rows in Parquet files).
LEFTOVERS = [
    "staged/contacts/.spark-staging-6b1f0c2e-91aa-4c1e-9d3e-0f2f5b7a9c11/day=2026-10-05/part-00000.snappy.parquet",
    "staged/contacts/_temporary/0/_temporary/attempt_202610050600_0001_m_000000_0/day=2026-10-05/part-00000.parquet",
    "quarantine/contacts/ingest/connect_ctr/.tmp-day=2026-10-06-0a1b2c3d/_temporary/0/part-00000.parquet",
    "quarantine/contacts/day=2026-10-05/.validation.parquet.89abcdef.tmp",
    "reports/ingest/contacts/.day=2026-10-05.json.01234567.tmp",
    "metrics/agent_day/.spark-staging-1c2d/day=2026-10-05/part-00000.parquet",
]
# Interrupted between its two renames: the old partition renamed aside, the new one complete.
INTERRUPTED_SWAP = [
    "staged/agent_events/.old-day=2026-10-05-feedbeef/part-old.parquet",
    "staged/agent_events/.tmp-day=2026-10-05-feedbeef/part-new.parquet",
]
KEPT = [
    "staged/contacts/day=2026-10-05/part-00000.snappy.parquet",
    "staged/contacts/day=2026-10-05/_teamlens_validation.json",
    "staged/contacts/day=2026-10-05/.part-00000.snappy.parquet.crc",
    "quarantine/contacts/ingest/connect_ctr/day=2026-10-06/part-00000.parquet",
    "reports/ingest/contacts/day=2026-10-05.json",
    "landing/connect_ctr/_temporary/as-delivered.jsonl",  # landing is as delivered: never touched
    "warehouse/warehouse.duckdb",
]


def _lay_out(root: Path, paths: list[str]) -> None:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_the_next_run_removes_what_killed_runs_left_and_says_so(settings, caplog: pytest.LogCaptureFixture) -> None:
    root = settings.lake.root
    _lay_out(root, [*LEFTOVERS, *INTERRUPTED_SWAP, *KEPT])
    started = lake.dt.datetime.now(lake.dt.UTC)
    with caplog.at_level(logging.WARNING, logger="teamlens.pipeline"):
        cleared = pipeline.clear_killed_runs(settings)
    record = "reports/runs/killed-run-leftovers.json"  # for the run summary and the report
    assert _files(root) == {*KEPT, "staged/agent_events/day=2026-10-05/part-new.parquet", record}
    assert cleared["leftovers"] == [  # zone by zone, in the order data flows
        "staged/agent_events/.old-day=2026-10-05-feedbeef",
        "staged/agent_events/.tmp-day=2026-10-05-feedbeef",
        "staged/contacts/.spark-staging-6b1f0c2e-91aa-4c1e-9d3e-0f2f5b7a9c11",
        "staged/contacts/_temporary",
        "quarantine/contacts/day=2026-10-05/.validation.parquet.89abcdef.tmp",
        "quarantine/contacts/ingest/connect_ctr/.tmp-day=2026-10-06-0a1b2c3d",
        "metrics/agent_day/.spark-staging-1c2d",
        "reports/ingest/contacts/.day=2026-10-05.json.01234567.tmp",
    ]
    assert (cleared["files"], cleared["folders"], cleared["restored_partitions"]) == (8, 14, 1)
    [record] = [r for r in caplog.records if "killed runs" in r.getMessage()]
    assert record.getMessage().startswith(
        "removed 8 leftover(s) of killed runs (14 folder(s), 8 file(s), 1 interrupted swap(s) put back): "
        "staged/agent_events/.old-day=2026-10-05-feedbeef, "
    )
    assert pipeline.clear_killed_runs(settings)["leftovers"] == []  # nothing left
    summary = (
        "removed 8 leftover(s) of killed runs, 1 interrupted swap(s) put back: metrics/agent_day (1), "
        "quarantine/contacts (2), reports/ingest (1), staged/agent_events (2), staged/contacts (2)"
    )
    assert summary in run_summary.summary_lines(settings, DAY, DAY, started)  # zone and table only
    later = lake.dt.datetime.now(lake.dt.UTC)
    assert not any("killed runs" in line for line in run_summary.summary_lines(settings, DAY, DAY, later))
    [note] = report._run_notes(settings)  # the report shows the latest removal, with its time
    assert note.startswith("removed 8 leftover(s) of killed runs at ") and note.endswith(summary.split(" runs")[1])


def test_retention_removes_what_killed_runs_left_and_counts_it(settings, policy) -> None:
    root = settings.lake.root
    kept = [p for p in KEPT if not p.startswith("warehouse/")]
    _lay_out(root, [*LEFTOVERS, *kept])
    dry = apply_retention(settings, policy, AS_OF, "ops", dry_run=True)
    assert len(dry["leftovers"]["leftovers"]) == 6 and _files(root) == {*LEFTOVERS, *kept}
    done = apply_retention(settings, policy, AS_OF, "ops")
    assert (len(done["leftovers"]["leftovers"]), done["leftovers"]["files"]) == (6, 6)
    assert _files(root) == set(kept)
