"""Staged partitions at a given scale, written straight to Parquet (numpy + pyarrow), for the
metrics benchmark: a center of N agents over D days with realistic shapes per agent-day
(about 40 contacts, 12 agent events, 150 desktop events), without paying for ingestion.

The rows follow the canonical schema (foundation.schema) exactly, so the Spark job and the DuckDB
reference read them as they read real staged data. Deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from foundation import lake, schema

if TYPE_CHECKING:
    import pyarrow as pa

CONTACTS_PER_AGENT_DAY = 40
WINDOW_EVENTS_PER_AGENT_DAY = 140
AFK_EVENTS_PER_AGENT_DAY = 10
# One shift: (status name, status type, minutes from the shift start).
SHIFT = (
    ("Offline", "OFFLINE", -2),
    ("Available", "ROUTABLE", 0),
    ("Break", "CUSTOM", 120),
    ("Available", "ROUTABLE", 135),
    ("Lunch", "CUSTOM", 240),
    ("Available", "ROUTABLE", 270),
    ("Team meeting", "CUSTOM", 330),
    ("Available", "ROUTABLE", 360),
    ("Training", "CUSTOM", 420),
    ("Available", "ROUTABLE", 450),
    ("Quality review", "CUSTOM", 480),
    ("Offline", "OFFLINE", 495),
)
SHIFT_SECONDS = 495 * 60
# The schedule of that shift: (activity, minutes from the shift start, minutes long). The agent
# keeps it except that training starts 10 minutes late, and the shift runs 15 minutes over.
SCHEDULE = (
    ("shift", 0, 480),
    ("break", 120, 15),
    ("break", 240, 30),
    ("meeting", 330, 30),
    ("training", 410, 30),
)
EVENTS_PER_AGENT_DAY = (
    CONTACTS_PER_AGENT_DAY + len(SHIFT) + WINDOW_EVENTS_PER_AGENT_DAY + AFK_EVENTS_PER_AGENT_DAY + len(SCHEDULE)
)
QUEUES = np.array(["Support", "Billing", "Sales", "Returns", "VIP"])
CATEGORIES = np.array([c for c in schema.APP_CATEGORIES])


def agents_and_days_for(events: int, days: int = 30) -> tuple[int, int]:
    """Agents (at least 10) over `days` days that make about `events` staged events."""
    return max(10, round(events / (EVENTS_PER_AGENT_DAY * days))), days


def _arrow_schema(table: schema.Table) -> pa.Schema:
    import pyarrow as pa

    fields = [pa.field(c.name, schema.arrow_type(c.dtype), c.nullable) for c in table.columns if c.name != "day"]
    return pa.schema(fields)


def _write(root: Path, table: schema.Table, day: dt.date, columns: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_schema = _arrow_schema(table)
    folder = lake.partition(root / table.name, day)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [
        columns[f.name].cast(f.type)
        if isinstance(columns[f.name], pa.Array)
        else pa.array(columns[f.name], type=f.type)
        for f in arrow_schema
    ]
    pq.write_table(pa.Table.from_arrays(arrays, schema=arrow_schema), folder / "part-00000.parquet")


def _masked(values: np.ndarray, missing: np.ndarray) -> Any:
    """values with nulls where missing (an Arrow array)."""
    import pyarrow as pa

    return pa.array(values, mask=missing)


def write_staged(staged: Path, agents: int, days: int, start: dt.date, seed: int = 7) -> int:
    """Write roster, contacts, agent_events, desktop_activity and schedules for each day; returns
    the number of events (contacts + agent events + desktop events + scheduled activities)."""
    rng = np.random.default_rng(seed)
    pseudonyms = np.array([f"{i:064x}" for i in range(agents)])
    teams = np.array([f"team-{i // 10:03d}" for i in range(agents)])
    sites = np.array(["Berlin" if i % 2 == 0 else "Lisbon" for i in range(agents)])
    zones = np.where(sites == "Berlin", "Europe/Berlin", "Europe/Lisbon")
    total = 0
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        midnight_us = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()) * 1_000_000
        shift_start = midnight_us + (6 * 3600 + rng.integers(0, 4 * 3600, agents)) * 1_000_000
        _write(
            staged,
            schema.ROSTER,
            day,
            {"agent_pseudonym": pseudonyms, "team": teams, "site": sites, "site_timezone": zones},
        )
        total += _contacts(staged, day, rng, pseudonyms, shift_start)
        total += _agent_events(staged, day, pseudonyms, shift_start)
        total += _desktop(staged, day, rng, pseudonyms, shift_start)
        total += _schedules(staged, day, pseudonyms, shift_start)
    return total


def _contacts(staged: Path, day: dt.date, rng: np.random.Generator, agents: np.ndarray, shift: np.ndarray) -> int:
    per = CONTACTS_PER_AGENT_DAY
    n = len(agents) * per
    owner = np.repeat(np.arange(len(agents)), per)
    initiation = shift[owner] + rng.integers(0, SHIFT_SECONDS - 900, n) * 1_000_000
    abandoned = rng.random(n) < 0.05
    queue_s = rng.integers(0, 120, n)
    talk = rng.integers(60, 600, n)
    held = rng.random(n) < 0.3
    hold = np.where(held, rng.integers(10, 120, n), 0)
    holds = np.where(held, rng.integers(1, 4, n), 0)
    acw = rng.integers(0, 120, n)
    connected = initiation + queue_s * 1_000_000
    disconnect = connected + (talk + hold) * 1_000_000
    no_agent = abandoned
    _write(
        staged,
        schema.CONTACTS,
        day,
        {
            "contact_id": [f"{day:%Y%m%d}-{i:09d}" for i in range(n)],
            "source": np.full(n, "connect_ctr"),
            "agent_pseudonym": _masked(agents[owner], no_agent),
            "queue": QUEUES[rng.integers(0, len(QUEUES), n)],
            "channel": np.full(n, "VOICE"),
            "initiation_method": np.full(n, "INBOUND"),
            "initiation_ts": initiation,
            "connected_to_agent_ts": _masked(connected, no_agent),
            "disconnect_ts": disconnect,
            "queue_seconds": queue_s,
            "talk_seconds": _masked(talk, no_agent),
            "hold_seconds": _masked(hold, no_agent),
            "holds": _masked(holds, no_agent),
            "acw_seconds": _masked(acw, no_agent),
            "transferred_out": ~no_agent & (rng.random(n) < 0.05),
            "abandoned": abandoned,
            "last_update_ts": disconnect + acw * 1_000_000,
            "source_file": np.full(n, f"file:/landing/connect_ctr/{lake.partition_name(day)}/part-0000.jsonl"),
            "source_line": np.arange(1, n + 1),
        },
    )
    return n


def _agent_events(staged: Path, day: dt.date, agents: np.ndarray, shift: np.ndarray) -> int:
    per = len(SHIFT)
    n = len(agents) * per
    owner = np.repeat(np.arange(len(agents)), per)
    step = np.tile(np.arange(per), len(agents))
    minutes = np.array([m for _, _, m in SHIFT])[step]
    ts = shift[owner] + minutes * 60_000_000
    names = np.array([s for s, _, _ in SHIFT])[step]
    types = np.array([t for _, t, _ in SHIFT])[step]
    event_type = np.where(step == 0, "LOGIN", np.where(step == per - 1, "LOGOUT", "STATE_CHANGE"))
    _write(
        staged,
        schema.AGENT_EVENTS,
        day,
        {
            "event_id": [f"{day:%Y%m%d}-e{i:09d}" for i in range(n)],
            "source": np.full(n, "connect_agent_events"),
            "agent_pseudonym": agents[owner],
            "event_ts": ts,
            "event_type": event_type,
            "status_name": names,
            "status_type": types,
            "status_start_ts": ts,
            "source_file": np.full(n, f"file:/landing/connect_agent_events/{lake.partition_name(day)}/part-0000.jsonl"),
            "source_line": np.arange(1, n + 1),
        },
    )
    return n


def _desktop(staged: Path, day: dt.date, rng: np.random.Generator, agents: np.ndarray, shift: np.ndarray) -> int:
    windows, afks = WINDOW_EVENTS_PER_AGENT_DAY, AFK_EVENTS_PER_AGENT_DAY
    a = len(agents)
    # Window focus: back-to-back events of random length, some overlapping their successor.
    w_owner = np.repeat(np.arange(a), windows)
    w_len = rng.integers(30, 400, (a, windows)) * 1_000_000
    w_start = shift[:, None] + np.cumsum(w_len, axis=1) - w_len
    w_duration = (w_len + np.where(rng.random((a, windows)) < 0.1, 5_000_000, 0)) / 1e6
    # Presence: alternating not-afk / afk spans over the shift.
    f_len = np.where(np.arange(afks) % 2 == 0, SHIFT_SECONDS // afks + 600, SHIFT_SECONDS // afks - 600)
    f_start = shift[:, None] + (np.cumsum(f_len) - f_len)[None, :] * 1_000_000
    n = a * (windows + afks)
    owner = np.concatenate([w_owner, np.repeat(np.arange(a), afks)])
    is_window = np.concatenate([np.ones(a * windows, bool), np.zeros(a * afks, bool)])
    category = CATEGORIES[rng.integers(0, len(CATEGORIES), a * windows)]
    afk = np.tile(np.arange(afks) % 2 == 1, a)
    _write(
        staged,
        schema.DESKTOP_ACTIVITY,
        day,
        {
            "source": np.full(n, "activitywatch"),
            "agent_pseudonym": agents[owner],
            "bucket": np.where(is_window, "window", "afk"),
            "start_ts": np.concatenate([w_start.ravel(), f_start.ravel()]),
            "duration_seconds": np.concatenate([w_duration.ravel(), np.tile(f_len.astype(float), a)]),
            "app_category": np.concatenate([category, np.full(a * afks, None)]),
            "afk": np.concatenate([np.full(a * windows, None), afk]),
            "source_file": np.full(n, f"file:/landing/activitywatch/{lake.partition_name(day)}/"),
            "source_line": np.arange(1, n + 1),
        },
    )
    return n


def _schedules(staged: Path, day: dt.date, agents: np.ndarray, shift: np.ndarray) -> int:
    per = len(SCHEDULE)
    n = len(agents) * per
    owner = np.repeat(np.arange(len(agents)), per)
    step = np.tile(np.arange(per), len(agents))
    start = shift[owner] + np.array([m for _, m, _ in SCHEDULE])[step] * 60_000_000
    _write(
        staged,
        schema.SCHEDULES,
        day,
        {
            "source": np.full(n, "schedules"),
            "agent_pseudonym": agents[owner],
            "activity": np.array([a for a, _, _ in SCHEDULE])[step],
            "start_ts": start,
            "end_ts": start + np.array([m for _, _, m in SCHEDULE])[step] * 60_000_000,
            "source_file": np.full(n, f"file:/landing/schedules/{lake.partition_name(day)}/schedules.csv"),
            "source_line": np.arange(2, n + 2),
        },
    )
    return n
