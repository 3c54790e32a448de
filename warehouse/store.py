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

A window published again as a correction (late data, where the policy allows it) has rows of
both releases here; view `current_aggregates` [one row per window x group x statistic of each
release name and policy] holds only the latest, with its `correction` number (0: the original).

Other tables (grain in brackets):
- releases             [one row per release] what was released, when, by whom, under which policy;
                       budget_unit 'rho' (zCDP) or 'epsilon' (pure DP); a correction names the
                       release it supersedes (correction_of) and its number (correction)
- release_groups       [one row per release x group] the group decision: 'released',
                       'suppressed_small_group', or 'merged_into_parent' (merged_into names the
                       pooled group); views `suppressed_groups` and `merged_groups`
- budget_spend         [one row per release x accounting period] the privacy budget (in its
                       budget_unit) the release spent in each calendar month its window touches
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

from foundation.exact import canonical_json, fraction_decimal, fraction_text
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey

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
    status          VARCHAR NOT NULL,
    budget_unit     VARCHAR NOT NULL DEFAULT 'rho',
    correction      INTEGER NOT NULL DEFAULT 0,
    correction_of   VARCHAR,
    inputs_as_of    TIMESTAMPTZ
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
    status        VARCHAR NOT NULL CHECK (status IN ('released', 'suppressed_small_group', 'merged_into_parent')),
    merged_into   VARCHAR,
    PRIMARY KEY (release_id, group_value)
);

CREATE TABLE IF NOT EXISTS budget_spend (
    period         VARCHAR NOT NULL,
    release_id     VARCHAR NOT NULL,
    rho            DECIMAL(38, 18) NOT NULL,
    rho_exact      VARCHAR NOT NULL,
    cap_rho        DECIMAL(38, 18) NOT NULL,
    cap_rho_exact  VARCHAR NOT NULL,
    policy_sha256  VARCHAR NOT NULL,
    spent_at       TIMESTAMPTZ NOT NULL,
    budget_unit    VARCHAR NOT NULL DEFAULT 'rho',
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

# Views, (re)created after every schema change.
VIEWS_DDL = """
CREATE OR REPLACE VIEW suppressed_groups AS
    SELECT release_id, release_name, group_value, roster_size, status AS reason
    FROM release_groups WHERE status = 'suppressed_small_group';
CREATE OR REPLACE VIEW merged_groups AS
    SELECT release_id, release_name, window_start, window_end, group_value, roster_size, merged_into
    FROM release_groups WHERE status = 'merged_into_parent';
CREATE OR REPLACE VIEW current_aggregates AS
    SELECT p.*, r.correction
    FROM published_aggregates p JOIN releases r USING (release_id)
    WHERE NOT EXISTS (SELECT 1 FROM releases c WHERE c.correction_of = p.release_id);
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
        "budget_unit": "rho (zCDP, the default) or epsilon (pure DP): the unit of rho and rho_exact.",
        "correction": "0 for a window's first release; k for its k-th correction (late data).",
        "correction_of": "The release this correction supersedes; NULL for a first release.",
        "inputs_as_of": "When the latest of the window's agent-day metrics were computed before this release.",
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
        "status": "released, suppressed_small_group, or merged_into_parent (pooled with its parent's small groups).",
        "merged_into": "The pooled group a merged group's agents count in, e.g. 'Berlin: small teams merged'.",
    },
    "budget_spend": {
        "period": "Accounting period, calendar month YYYY-MM.",
        "rho": "rho charged to this period (rounded up at 18 places; rho_exact is authoritative).",
        "cap_rho": "The policy's cap per agent per period when this spend was recorded.",
        "budget_unit": "rho (zCDP) or epsilon (pure DP): the unit of rho, rho_exact, cap_rho and cap_rho_exact.",
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
        if not has_column(con, "release_groups", "merged_into"):
            _migrate_units_corrections_merges(con)
        return
    with transaction(con):
        con.execute(SCHEMA_DDL)
        con.execute(VIEWS_DDL)
        _comment(con)


def _comment(con: duckdb.DuckDBPyConnection) -> None:
    for table, comment in _TABLE_COMMENTS.items():
        con.execute(f"COMMENT ON TABLE {table} IS {_sql_text(comment)}")
    for table, columns in _COLUMN_COMMENTS.items():
        for column, comment in columns.items():
            con.execute(f"COMMENT ON COLUMN {table}.{column} IS {_sql_text(comment)}")


def _migrate_units_corrections_merges(con: duckdb.DuckDBPyConnection) -> None:
    """Bring a warehouse written before budget units, corrections and merged groups up to date.

    Adds the new columns (units from the release ledger entries: pure DP entries name epsilon)
    and rebuilds release_groups for its wider status check. Published rows and the ledger are
    not touched, so the hash chain and its cross-checks hold as before.
    """
    unit = (
        "coalesce((SELECT json_extract_string(l.payload, '$.budget_unit') FROM ledger l "
        "WHERE l.entry_type = 'release' AND l.release_id = {t}.release_id), 'rho')"
    )
    with transaction(con):
        con.execute("DROP VIEW IF EXISTS suppressed_groups")
        for column, ddl in (
            ("budget_unit", "VARCHAR DEFAULT 'rho'"),
            ("correction", "INTEGER DEFAULT 0"),
            ("correction_of", "VARCHAR"),
            ("inputs_as_of", "TIMESTAMPTZ"),
        ):
            con.execute(f"ALTER TABLE releases ADD COLUMN IF NOT EXISTS {column} {ddl}")
        con.execute("ALTER TABLE budget_spend ADD COLUMN IF NOT EXISTS budget_unit VARCHAR DEFAULT 'rho'")
        con.execute(f"UPDATE releases SET budget_unit = {unit.format(t='releases')}")
        con.execute(f"UPDATE budget_spend SET budget_unit = {unit.format(t='budget_spend')}")
        con.execute("ALTER TABLE release_groups RENAME TO release_groups_before_merges")
        con.execute(SCHEMA_DDL)  # creates the new release_groups only
        con.execute("INSERT INTO release_groups SELECT *, NULL AS merged_into FROM release_groups_before_merges")
        con.execute("DROP TABLE release_groups_before_merges")
        con.execute(VIEWS_DDL)
        _comment(con)


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
        "AND column_name = ?",
        [table, column],
    ).fetchone()
    return bool(row and row[0])


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


def read_published(path: Path, release_name: str | None = None, *, current: bool = True) -> list[dict[str, Any]]:
    """Published aggregates (read-only), optionally of one release name; [] before the first release.

    current: only the latest release of each window (a correction supersedes what it corrects).
    """
    path = Path(path)
    if not path.exists():
        return []
    con = connect(path, read_only=True)
    try:
        if not has_table(con, "published_aggregates"):
            return []
        source = "current_aggregates" if current and has_table(con, "current_aggregates") else "published_aggregates"
        sql = f"SELECT {', '.join(PUBLISHED_COLUMNS)} FROM {source}"
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
    budget_unit: str = "rho",
    correction_of: str | None = None,
    inputs_as_of: dt.datetime | None = None,
) -> None:
    """Insert the release, its groups, its values and its spend rows (caller holds the transaction).

    rho and cap_rho are in budget_unit (epsilon under pure DP).
    """
    rid = key.release_id
    con.execute(
        "INSERT INTO releases (release_id, release_name, purpose, group_by, window_start, window_end, "
        "policy_sha256, policy_version, rho, rho_exact, periods, mechanism, parameters, released_at, run_by, "
        "status, budget_unit, correction, correction_of, inputs_as_of) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS DECIMAL(38, 18)), ?, ?, ?, ?, ?, ?, 'released', ?, ?, ?, ?)",
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
            budget_unit,
            key.correction,
            correction_of,
            inputs_as_of,
        ],
    )
    common = [rid, key.release_name, group_by]
    window = [key.window_start, key.window_end]
    sizes = {g.group_value: g.roster_size for g in noisy.groups}
    if noisy.groups:
        con.executemany(
            "INSERT INTO release_groups (release_id, release_name, group_by, group_value, window_start, window_end, "
            "roster_size, status, merged_into) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[*common, g.group_value, *window, g.roster_size, g.status, g.merged_into] for g in noisy.groups],
        )
    if noisy.values:
        con.executemany(
            f"INSERT INTO published_aggregates ({', '.join(PUBLISHED_COLUMNS)}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        "INSERT INTO budget_spend (period, release_id, rho, rho_exact, cap_rho, cap_rho_exact, policy_sha256, "
        "spent_at, budget_unit) VALUES (?, ?, CAST(? AS DECIMAL(38, 18)), ?, CAST(? AS DECIMAL(38, 18)), ?, ?, ?, ?)",
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
                budget_unit,
            ]
            for period in periods
        ],
    )


def latest_release(con: duckdb.DuckDBPyConnection, key: ReleaseKey) -> dict[str, Any] | None:
    """The newest release of the key's window under its policy (the original or its last correction), or None."""
    rows = fetch_dicts(
        con,
        "SELECT * FROM releases WHERE release_name = ? AND window_start = ? AND window_end = ? AND policy_sha256 = ? "
        "ORDER BY correction DESC LIMIT 1",
        [key.release_name, key.window_start, key.window_end, key.policy_sha256],
    )
    return rows[0] if rows else None


def published_windows(path: Path) -> set[tuple[str, dt.date, dt.date, str]]:
    """(release name, window start, window end, policy sha256) of every window released so far (read-only)."""
    path = Path(path)
    if not path.exists():
        return set()
    con = connect(path, read_only=True)
    try:
        if not has_table(con, "releases"):
            return set()
        rows = con.execute("SELECT DISTINCT release_name, window_start, window_end, policy_sha256 FROM releases")
        return {(str(n), s, e, str(h)) for n, s, e, h in rows.fetchall()}
    finally:
        con.close()


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
    merged = "merged_into" if has_column(con, "release_groups", "merged_into") else "NULL"
    rows = con.execute(
        f"SELECT group_value, roster_size, status, {merged} FROM release_groups WHERE release_id = ? "
        "ORDER BY group_value",
        [release_id],
    ).fetchall()
    return tuple(GroupDecision(*row) for row in rows)
