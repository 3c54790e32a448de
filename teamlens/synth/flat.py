"""Synthetic flat call exports (landing/flat_calls/<export>/day=D/calls.csv) for benchmarks.

Pure Python and deterministic per seed. The CSV follows MAPPING (written beside the day folders
as mapping.yaml when absent), so jobs.source_flat parses it like a real ACD export: local times
in Europe/Berlin with H:MM:SS hours, calls across midnight, abandoned and transferred calls, and
a customer number column that must never be parsed.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Sequence
from pathlib import Path

MAPPING = """\
mapping_version: 1
description: Synthetic ACD export (teamlens.synth.flat)
delimiter: ","
encoding: utf-8
header: true
timezone: Europe/Berlin
columns:
  call_id: CALL_ID
  agent: AGENT_ID
  queue: QUEUE
  date: DATE
  queue_start: Q_START
  queue_exit: Q_EXIT
  service_start: SRV_START
  service_exit: SRV_EXIT
  outcome: OUTCOME
formats:
  date: "%y%m%d"
  time: "%H:%M:%S"
outcomes:
  answered: [AN, TR]
  abandoned: [AB]
  transferred: [TR]
agent_identity: employee_id
"""
HEADER = ("CALL_ID", "DATE", "QUEUE", "AGENT_ID", "Q_START", "Q_EXIT", "SRV_START", "SRV_EXIT", "OUTCOME", "CALLER")
QUEUES = ("Sales", "Support", "Billing")


def _clock(t: dt.datetime) -> str:
    return f"{t.hour}:{t.minute:02d}:{t.second:02d}"  # H:MM:SS, as many ACDs write it


def synth_flat_calls(folder: Path, day: dt.date, agents: Sequence[str], n: int, seed: int) -> int:
    """Write folder/calls.csv with about n calls of the day (local wall times, some past midnight);
    returns the records written. Writes folder.parent/mapping.yaml (MAPPING) if absent."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mapping = folder.parent / "mapping.yaml"
    if not mapping.exists():
        mapping.write_text(MAPPING, encoding="utf-8")
    rng = random.Random(seed)
    midnight = dt.datetime.combine(day, dt.time())
    written = 0
    with (folder / "calls.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(HEADER)
        for i in range(n):
            start = midnight + dt.timedelta(seconds=rng.randrange(6 * 3600, 24 * 3600))
            waited = start + dt.timedelta(seconds=rng.randrange(0, 600))
            roll = rng.random()
            abandoned = roll < 0.08 or not agents
            outcome = "AB" if abandoned else ("TR" if roll < 0.15 else "AN")
            end = waited + dt.timedelta(seconds=rng.randrange(30, 1800))
            row = (
                f"{day:%Y%m%d}-{seed}-{i:07d}",
                f"{day:%y%m%d}",
                rng.choice(QUEUES),
                "" if abandoned else rng.choice(agents),
                _clock(start),
                _clock(waited),
                "" if abandoned else _clock(waited),
                "" if abandoned else _clock(end),
                outcome,
                f"+49 30 {rng.randrange(10**6, 10**7)}",  # customer number: never parsed
            )
            out.writerow(row)
            written += 1
    return written
