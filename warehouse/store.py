"""The warehouse: one DuckDB file with the published aggregates, the budget spend and the ledger.

What managers read is `published_aggregates`: one row per release x group x statistic. It holds
no agent identifier and never a per-agent row; every group in it had at least the policy's
minimum number of agents in the roster. Columns:

- release_id        the release these figures come from (20 hex characters; see `releases`)
- release_name      the release as named in the privacy policy (e.g. team_week_contacts_aht)
- group_by          'team' or 'site': what a group is
- group_value       the team or site
- window_start      first day of the window (inclusive)
- window_end        day after the last day of the window (exclusive)
- statistic         what was measured (e.g. contacts_handled, handle_seconds, aht_seconds)
- value             the published value, with random noise added to protect individual agents;
                    NULL when status = 'too_noisy'
- ci_low, ci_high   95% interval: the true value lies between them with probability at least
                    95% (the interval accounts for the added noise only, not for data errors)
- noise_scale       standard deviation of the noise added to a sum; NULL for ratios, which are
                    computed from two noisy sums
- roster_group_size number of agents in the group's roster (public), not the number active
- status            'published', or 'too_noisy' when the noise is too large to print a number

Other tables (grain in brackets):
- releases             [one row per release] what was released, when, by whom, under which policy
- release_groups       [one row per release x roster group] the group decision: 'released' or
                       'suppressed_small_group'; view `suppressed_groups` shows the latter
- budget_spend         [one row per release x accounting period] the privacy budget (zCDP rho)
                       the release spent in each calendar month its window touches
- ledger               [one row per event] the append-only hash chain (see privacy/ledger.py)

Connections are short-lived: a read-write connection locks the file against every other
process, readers included (DuckDB). `connect` retries for a while when the file is locked.
Within one process, do not hold a read-only connection while the pipeline writes: DuckDB
refuses a second connection to the same file with a different read_only setting.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from privacy.exact import canonical_json, fraction_decimal, fraction_text
from privacy.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey

LOCK_RETRY_SECONDS = 30.0

SCHEMA_DDL = """
CREATE TABLE IF NOT EXISTS releases (
    release_id      VARCHAR PRIMARY KEY,
    release_name    VARCHAR NOT NULL,
    purpose         VARCHAR NOT NULL,
    group_by        VARCHAR NOT NULL,
    window_start    DATE NOT NULL,
    window_end      DATE NOT NULL,
    policy_sha256   VARCHAR NOT NULL,
    policy_version  INTEGER NOT NULL,
    rho             DECIMAL(38, 18) NOT NULL,
    rho_exact       VARCHAR NOT NULL,
    periods         VARCHAR[] NOT NULL,
    mechanism       VARCHAR NOT NULL,
    parameters      JSON NOT NULL,
    released_at     TIMESTAMPTZ NOT NULL,
    run_by          VARCHAR NOT NULL,
    status          VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS published_aggregates (
    release_id         VARCHAR NOT NULL,
    release_name       VARCHAR NOT NULL,
    group_by           VARCHAR NOT NULL,
    group_value        VARCHAR NOT NULL,
    window_start       DATE NOT NULL,
    window_end         DATE NOT NULL,
    statistic          VARCHAR NOT NULL,
    value              DOUBLE,
    ci_low             DOUBLE,
    ci_high            DOUBLE,
    noise_scale        DOUBLE,
    roster_group_size  INTEGER NOT NULL,
    status             VARCHAR NOT NULL CHECK (status IN ('published', 'too_noisy')),
    PRIMARY KEY (release_id, group_value, statistic)
);
CREATE TABLE IF NOT EXISTS release_groups (
    release_id    VARCHAR NOT NULL,
    release_name  VARCHAR NOT NULL,
    group_by      VARCHAR NOT NULL,
    group_value   VARCHAR NOT NULL,
    window_start  DATE NOT NULL,
    window_end    DATE NOT NULL,
    roster_size   INTEGER NOT NULL,
    status        VARCHAR NOT NULL CHECK (status IN ('released', 'suppressed_small_group')),
    PRIMARY KEY (release_id, group_value)
);
CREATE VIEW IF NOT EXISTS suppressed_groups AS
    SELECT release_id, release_name, group_value, roster_size, status AS reason
    FROM release_groups WHERE status <> 'released';
CREATE TABLE IF NOT EXISTS budget_spend (
    period         VARCHAR NOT NULL,
    release_id     VARCHAR NOT NULL,
    rho            DECIMAL(38, 18) NOT NULL,
    rho_exact      VARCHAR NOT NULL,
    cap_rho        DECIMAL(38, 18) NOT NULL,
    cap_rho_exact  VARCHAR NOT NULL,
    policy_sha256  VARCHAR NOT NULL,
    spent_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (period, release_id)
);
CREATE TABLE IF NOT EXISTS ledger (
    seq          BIGINT PRIMARY KEY,
    entry_type   VARCHAR NOT NULL,
    recorded_at  VARCHAR NOT NULL,
    release_id   VARCHAR,
    payload      VARCHAR NOT NULL,
    prev_hash    VARCHAR NOT NULL,
    entry_hash   VARCHAR NOT NULL
);
"""

_TABLE_COMMENTS = {
    "releases": "One row per release: what was released, when, by whom, under which policy and budget.",
    "published_aggregates": (
        "What managers read. One row per release x group x statistic; noisy values with 95% intervals. "
        "No agent identifier, never a per-agent row."
    ),
    "release_groups": "One row per release x roster group: released, or suppressed because the roster group is small.",
    "budget_spend": "One row per release x accounting period (calendar month): the zCDP rho it spent.",
    "ledger": (
        "Append-only hash chain of policy approvals, releases, refusals and retention deletions; "
        "see AUDIT_SQL in privacy/ledger.py."
    ),
}

_COLUMN_COMMENTS = {
    "releases": {
        "release_id": "First 20 hex characters of sha256(release_name|window_start|window_end|policy_sha256).",
        "window_end": "Exclusive: the day after the window's last day.",
        "rho": "zCDP budget spent by this release per agent (rounded up at 18 places; rho_exact is authoritative).",
        "rho_exact": "The exact rho as a decimal string, or p/q.",
        "periods": "Accounting periods (YYYY-MM) the window touches; the release is charged to each.",
        "parameters": "Mechanism parameters: clipping bounds, rho per sum, noise scales.",
    },
    "published_aggregates": {
        "release_id": "The release these figures come from.",
        "release_name": "The release as named in the privacy policy, e.g. team_week_contacts_aht.",
        "group_by": "team or site.",
        "group_value": "The team or site.",
        "window_start": "First day of the window (inclusive).",
        "window_end": "Day after the last day of the window (exclusive).",
        "statistic": "What was measured, e.g. contacts_handled, handle_seconds, aht_seconds.",
        "value": "The published value with random noise added to protect individual agents; NULL when too_noisy.",
        "ci_low": "Lower end of the 95% interval: the true value lies in [ci_low, ci_high] with at least 95% chance.",
        "ci_high": "Upper end of the 95% interval.",
        "noise_scale": "Standard deviation of the noise added to a sum; NULL for ratios of two noisy sums.",
        "roster_group_size": "Agents in the group's roster (public), not the number who were active.",
        "status": "published, or too_noisy when the noise is too large to print a number.",
    },
    "release_groups": {
        "roster_size": "Agents in the roster group (public); groups below the policy minimum are suppressed.",
        "status": "released or suppressed_small_group.",
    },
    "budget_spend": {
        "period": "Accounting period, calendar month YYYY-MM.",
        "rho": "rho charged to this period (rounded up at 18 places; rho_exact is authoritative).",
        "cap_rho": "The policy's cap per agent per period when this spend was recorded.",
    },
    "ledger": {
        "seq": "1, 2, 3, ... without gaps.",
        "recorded_at": "UTC time as text YYYY-MM-DDTHH:MM:SS.ffffffZ (hashed exactly as stored).",
        "payload": "Canonical JSON text (sorted keys, no spaces, ASCII).",
        "prev_hash": "entry_hash of the previous entry; 64 zeros for the first entry.",
        "entry_hash": "sha256 hex of prev_hash || canonical entry; recipe in privacy/ledger.py.",
    },
}

PUBLISHED_COLUMNS = (
    "release_id",
    "release_name",
    "group_by",
    "group_value",
    "window_start",
    "window_end",
    "statistic",
    "value",
    "ci_low",
    "ci_high",
    "noise_scale",
    "roster_group_size",
    "status",
)


def connect(
    path: Path, read_only: bool = False, *, retry_seconds: float = LOCK_RETRY_SECONDS
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse briefly; a read-write connection creates the schema if missing.

    Retries while another process holds the file's lock (DuckDB allows one writer and no
    readers beside it), up to `retry_seconds`. Close the connection as soon as possible.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: nothing has been published yet")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + retry_seconds
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    try:
        con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            _ensure_schema(con)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT, or ROLLBACK on any error: all of the block is written or none of it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    if has_table(con, "ledger"):
        return
    with transaction(con):
        con.execute(SCHEMA_DDL)
        for table, comment in _TABLE_COMMENTS.items():
            con.execute(f"COMMENT ON TABLE {table} IS {_sql_text(comment)}")
        for table, columns in _COLUMN_COMMENTS.items():
            for column, comment in columns.items():
                con.execute(f"COMMENT ON COLUMN {table}.{column} IS {_sql_text(comment)}")


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of a query as dicts keyed by column name."""
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def read_published(path: Path, release_name: str | None = None) -> list[dict[str, Any]]:
    """Published aggregates (read-only), optionally of one release name; [] before the first release."""
    path = Path(path)
    if not path.exists():
        return []
    con = connect(path, read_only=True)
    try:
        if not has_table(con, "published_aggregates"):
            return []
        sql = f"SELECT {', '.join(PUBLISHED_COLUMNS)} FROM published_aggregates"
        params: list[Any] = []
        if release_name is not None:
            sql += " WHERE release_name = ?"
            params.append(release_name)
        sql += " ORDER BY release_name, window_start, group_value, statistic"
        return fetch_dicts(con, sql, params)
    finally:
        con.close()


# --- used by privacy/accountant.py inside its transaction -------------------------------------


def release_exists(con: duckdb.DuckDBPyConnection, release_id: str) -> bool:
    row = con.execute("SELECT count(*) FROM releases WHERE release_id = ?", [release_id]).fetchone()
    return bool(row and row[0])


def spent_by_period(con: duckdb.DuckDBPyConnection, periods: list[str]) -> dict[str, list[str]]:
    """The exact rho texts charged so far to each of the periods (summed by the caller as Fractions)."""
    out: dict[str, list[str]] = {p: [] for p in periods}
    if not periods:
        return out
    rows = con.execute(
        "SELECT period, rho_exact FROM budget_spend WHERE list_contains(?, period) ORDER BY period, release_id",
        [periods],
    ).fetchall()
    for period, rho_exact in rows:
        out[period].append(rho_exact)
    return out


def insert_release(
    con: duckdb.DuckDBPyConnection,
    *,
    key: ReleaseKey,
    purpose: str,
    group_by: str,
    policy_version: int,
    rho: Any,
    periods: list[str],
    cap_rho: Any,
    noisy: NoisyRelease,
    released_at: dt.datetime,
    run_by: str,
) -> None:
    """Insert the release, its groups, its values and its spend rows (caller holds the transaction)."""
    rid = key.release_id
    con.execute(
        "INSERT INTO releases VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS DECIMAL(38, 18)), ?, ?, ?, ?, ?, ?, 'released')",
        [
            rid,
            key.release_name,
            purpose,
            group_by,
            key.window_start,
            key.window_end,
            key.policy_sha256,
            policy_version,
            str(fraction_decimal(rho)),
            fraction_text(rho),
            periods,
            noisy.mechanism,
            canonical_json(noisy.parameters),
            released_at,
            run_by,
        ],
    )
    common = [rid, key.release_name, group_by]
    window = [key.window_start, key.window_end]
    sizes = {g.group_value: g.roster_size for g in noisy.groups}
    if noisy.groups:
        con.executemany(
            "INSERT INTO release_groups VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [[*common, g.group_value, *window, g.roster_size, g.status] for g in noisy.groups],
        )
    if noisy.values:
        con.executemany(
            "INSERT INTO published_aggregates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    *common,
                    v.group_value,
                    *window,
                    v.statistic,
                    v.value,
                    v.ci_low,
                    v.ci_high,
                    v.noise_scale,
                    sizes[v.group_value],
                    v.status,
                ]
                for v in noisy.values
            ],
        )
    con.executemany(
        "INSERT INTO budget_spend VALUES (?, ?, CAST(? AS DECIMAL(38, 18)), ?, CAST(? AS DECIMAL(38, 18)), ?, ?, ?)",
        [
            [
                period,
                rid,
                str(fraction_decimal(rho)),
                fraction_text(rho),
                str(fraction_decimal(cap_rho)),
                fraction_text(cap_rho),
                key.policy_sha256,
                released_at,
            ]
            for period in periods
        ],
    )


def read_release(con: duckdb.DuckDBPyConnection, release_id: str) -> dict[str, Any] | None:
    """The releases row of a release, or None."""
    rows = fetch_dicts(con, "SELECT * FROM releases WHERE release_id = ?", [release_id])
    return rows[0] if rows else None


def read_values(con: duckdb.DuckDBPyConnection, release_id: str) -> tuple[PublishedValue, ...]:
    """The stored values of a release, ordered by group and statistic."""
    rows = con.execute(
        "SELECT group_value, statistic, value, ci_low, ci_high, noise_scale, status FROM published_aggregates "
        "WHERE release_id = ? ORDER BY group_value, statistic",
        [release_id],
    ).fetchall()
    return tuple(PublishedValue(*row) for row in rows)


def read_groups(con: duckdb.DuckDBPyConnection, release_id: str) -> tuple[GroupDecision, ...]:
    """The stored group decisions of a release, ordered by group."""
    rows = con.execute(
        "SELECT group_value, roster_size, status FROM release_groups WHERE release_id = ? ORDER BY group_value",
        [release_id],
    ).fetchall()
    return tuple(GroupDecision(*row) for row in rows)
