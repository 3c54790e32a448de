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
- statistic         what was measured (e.g. contacts_handled, handle_seconds, aht_seconds;
                    agents_over_bound_<sum>: the noisy number of the group's agents whose window
                    total exceeded the sum's bound, the clipping check of docs/privacy.md)
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
                       release it supersedes (correction_of) and its number (correction);
                       key_fingerprint names the pseudonymisation key of the window's days
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

from foundation.budget import Budget
from foundation.exact import canonical_json, fraction_decimal
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey
from warehouse.tables import COLUMN_COMMENTS, PUBLISHED_COLUMNS, SCHEMA_DDL, TABLE_COMMENTS, VIEWS_DDL

LOCK_RETRY_SECONDS = 30.0


def connect(path: Path, read_only: bool = False, *, retry_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse briefly; a read-write connection creates the schema if missing.

    Retries while another process holds the file's lock (DuckDB allows one writer and no
    readers beside it), up to `retry_seconds` (default: LOCK_RETRY_SECONDS, read at each call).
    Close the connection as soon as possible.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: nothing has been published yet")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + (LOCK_RETRY_SECONDS if retry_seconds is None else retry_seconds)
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
        renamed = has_column(con, "releases", "rho_exact")
        if renamed:
            _migrate_budget_columns(con)
        if not has_column(con, "release_groups", "merged_into"):
            _migrate_units_corrections_merges(con)
        elif renamed or not has_column(con, "releases", "key_fingerprint"):
            with transaction(con):  # key_fingerprint: NULL for the releases made before it was recorded
                con.execute("ALTER TABLE releases ADD COLUMN IF NOT EXISTS key_fingerprint VARCHAR")
                _comment(con)
        return
    with transaction(con):
        con.execute(SCHEMA_DDL)
        con.execute(VIEWS_DDL)
        _comment(con)


def _comment(con: duckdb.DuckDBPyConnection) -> None:
    for table, comment in TABLE_COMMENTS.items():
        con.execute(f"COMMENT ON TABLE {table} IS {_sql_text(comment)}")
    for table, columns in COLUMN_COMMENTS.items():
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
            ("key_fingerprint", "VARCHAR"),
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


# The budget columns before they were named for any unit (they held epsilon under pure DP).
BUDGET_COLUMN_RENAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "releases": (("rho", "budget_amount"), ("rho_exact", "budget_amount_exact")),
    "budget_spend": (
        ("rho", "spent"),
        ("rho_exact", "spent_exact"),
        ("cap_rho", "cap"),
        ("cap_rho_exact", "cap_exact"),
    ),
}


def _migrate_budget_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Rename the budget columns of a warehouse written when they were called rho (whatever their unit).

    Values are not touched; the ledger keeps its entries (its cross-check reads either layout).
    """
    with transaction(con):
        for table, renames in BUDGET_COLUMN_RENAMES.items():
            for old, new in renames:
                if has_column(con, table, old):
                    con.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")


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


def _spent_column(con: duckdb.DuckDBPyConnection) -> str:
    """The exact spend column of budget_spend: spent_exact, or rho_exact in a warehouse not yet migrated."""
    return "rho_exact" if has_column(con, "budget_spend", "rho_exact") else "spent_exact"


def spend_rows(con: duckdb.DuckDBPyConnection, periods: list[str] | None = None) -> list[tuple[str, str, Budget]]:
    """(period, release id, budget) of every spend (of the periods, when given), by period then release.

    The unit comes from the row's budget_unit, or (a warehouse written before units) from the
    release's ledger entry, where entries that name no unit are rho.
    """
    if not has_table(con, "budget_spend"):
        return []
    unit = (
        "b.budget_unit"
        if has_column(con, "budget_spend", "budget_unit")
        else "coalesce((SELECT json_extract_string(l.payload, '$.budget_unit') FROM ledger l "
        "WHERE l.entry_type = 'release' AND l.release_id = b.release_id), 'rho')"
    )
    sql = f"SELECT b.period, b.release_id, b.{_spent_column(con)}, {unit} FROM budget_spend b"
    params: list[Any] = []
    if periods is not None:
        sql += " WHERE list_contains(?, b.period)"
        params.append(periods)
    rows = con.execute(sql + " ORDER BY b.period, b.release_id", params).fetchall()
    return [(str(p), str(r), Budget.parse(str(u), str(t))) for p, r, t, u in rows]


def release_spend(con: duckdb.DuckDBPyConnection, release_id: str) -> list[tuple[str, str]]:
    """(period, exact amount text) of each spend row of one release, by period (either column layout)."""
    rows = con.execute(
        f"SELECT period, {_spent_column(con)} FROM budget_spend WHERE release_id = ? ORDER BY period", [release_id]
    ).fetchall()
    return [(str(p), str(t)) for p, t in rows]


def insert_release(
    con: duckdb.DuckDBPyConnection,
    *,
    key: ReleaseKey,
    purpose: str,
    group_by: str,
    policy_version: int,
    budget: Budget,
    periods: list[str],
    cap: Budget,
    noisy: NoisyRelease,
    released_at: dt.datetime,
    run_by: str,
    correction_of: str | None = None,
    inputs_as_of: dt.datetime | None = None,
    key_fingerprint: str | None = None,
) -> None:
    """Insert the release, its groups, its values and its spend rows (caller holds the transaction).

    budget: what the release costs each period it touches; cap: the policy's cap, in the same unit.
    """
    if budget.unit != cap.unit:
        raise ValueError(f"the release costs {budget} but the cap is {cap}: one unit only")
    rid = key.release_id
    con.execute(
        "INSERT INTO releases (release_id, release_name, purpose, group_by, window_start, window_end, "
        "policy_sha256, policy_version, budget_amount, budget_amount_exact, periods, mechanism, parameters, "
        "released_at, run_by, status, budget_unit, correction, correction_of, inputs_as_of, key_fingerprint) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS DECIMAL(38, 18)), ?, ?, ?, ?, ?, ?, 'released', ?, ?, ?, ?, ?)",
        [
            rid,
            key.release_name,
            purpose,
            group_by,
            key.window_start,
            key.window_end,
            key.policy_sha256,
            policy_version,
            str(fraction_decimal(budget.amount)),
            budget.text,
            periods,
            noisy.mechanism,
            canonical_json(noisy.parameters),
            released_at,
            run_by,
            budget.unit,
            key.correction,
            correction_of,
            inputs_as_of,
            key_fingerprint,
        ],
    )
    sizes = {g.group_value: g.roster_size for g in noisy.groups}
    if noisy.groups:
        insert_columns(
            con,
            "release_groups",
            {
                "release_id": [rid] * len(noisy.groups),
                "release_name": [key.release_name] * len(noisy.groups),
                "group_by": [group_by] * len(noisy.groups),
                "group_value": [g.group_value for g in noisy.groups],
                "window_start": [key.window_start] * len(noisy.groups),
                "window_end": [key.window_end] * len(noisy.groups),
                "roster_size": [g.roster_size for g in noisy.groups],
                "status": [g.status for g in noisy.groups],
                "merged_into": [g.merged_into for g in noisy.groups],
            },
        )
    if noisy.values:
        values = noisy.values
        columns: dict[str, list[Any]] = {
            "release_id": [rid] * len(values),
            "release_name": [key.release_name] * len(values),
            "group_by": [group_by] * len(values),
            "group_value": [v.group_value for v in values],
            "window_start": [key.window_start] * len(values),
            "window_end": [key.window_end] * len(values),
            "statistic": [v.statistic for v in values],
            "value": [v.value for v in values],
            "ci_low": [v.ci_low for v in values],
            "ci_high": [v.ci_high for v in values],
            "noise_scale": [v.noise_scale for v in values],
            "roster_group_size": [sizes[v.group_value] for v in values],
            "status": [v.status for v in values],
        }
        assert tuple(columns) == PUBLISHED_COLUMNS
        insert_columns(con, "published_aggregates", columns)
    con.executemany(
        "INSERT INTO budget_spend (period, release_id, spent, spent_exact, cap, cap_exact, policy_sha256, "
        "spent_at, budget_unit) VALUES (?, ?, CAST(? AS DECIMAL(38, 18)), ?, CAST(? AS DECIMAL(38, 18)), ?, ?, ?, ?)",
        [
            [
                period,
                rid,
                str(fraction_decimal(budget.amount)),
                budget.text,
                str(fraction_decimal(cap.amount)),
                cap.text,
                key.policy_sha256,
                released_at,
                budget.unit,
            ]
            for period in periods
        ],
    )


ARROW_INSERT_ROWS = 200  # from this many rows on, one columnar insert beats a round trip per row


def insert_columns(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list[Any]]) -> None:
    """Append rows given column by column.

    executemany costs a round trip per row (12 s for 30,000 values); from ARROW_INSERT_ROWS rows
    on, the columns travel as one Arrow table in one statement instead (pyarrow is imported only
    then, keeping a small release in a fresh process fast). DuckDB casts each column to the
    table's declared type and checks its constraints as for any INSERT.
    """
    names = ", ".join(columns)
    rows = len(next(iter(columns.values()), []))
    if rows < ARROW_INSERT_ROWS:
        placeholders = ", ".join("?" for _ in columns)
        con.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({placeholders})", list(zip(*columns.values(), strict=True))
        )
        return
    import pyarrow as pa

    con.register("_teamlens_insert", pa.table(columns))
    try:
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _teamlens_insert")
    finally:
        con.unregister("_teamlens_insert")


def latest_release(con: duckdb.DuckDBPyConnection, key: ReleaseKey) -> dict[str, Any] | None:
    """The newest release of the key's window (the original or its last correction) under any policy, or None.

    Of two releases with the same correction number (a warehouse written when a changed policy
    re-released windows) the later one is the newest.
    """
    rows = fetch_dicts(
        con,
        "SELECT * FROM releases WHERE release_name = ? AND window_start = ? AND window_end = ? "
        "ORDER BY correction DESC, released_at DESC LIMIT 1",
        [key.release_name, key.window_start, key.window_end],
    )
    return rows[0] if rows else None


def window_release_exists(con: duckdb.DuckDBPyConnection, key: ReleaseKey) -> bool:
    """Whether the key's window already has a release with the key's correction number (any policy)."""
    row = con.execute(
        "SELECT count(*) FROM releases WHERE release_name = ? AND window_start = ? AND window_end = ? "
        "AND correction = ?",
        [key.release_name, key.window_start, key.window_end, key.correction],
    ).fetchone()
    return bool(row and row[0])


def published_windows(path: Path) -> set[tuple[str, dt.date, dt.date]]:
    """(release name, window start, window end) of every window released so far (read-only)."""
    path = Path(path)
    if not path.exists():
        return set()
    con = connect(path, read_only=True)
    try:
        if not has_table(con, "releases"):
            return set()
        rows = con.execute("SELECT DISTINCT release_name, window_start, window_end FROM releases")
        return {(str(n), s, e) for n, s, e in rows.fetchall()}
    finally:
        con.close()


def read_release(con: duckdb.DuckDBPyConnection, release_id: str) -> dict[str, Any] | None:
    """The releases row of a release, or None; a row not yet migrated has its budget columns renamed."""
    rows = fetch_dicts(con, "SELECT * FROM releases WHERE release_id = ?", [release_id])
    if not rows:
        return None
    row = rows[0]
    for old, new in BUDGET_COLUMN_RENAMES["releases"]:
        if old in row:
            row[new] = row.pop(old)
    return row


def stored_budget(row: dict[str, Any]) -> Budget:
    """The budget a releases row spent (a row written before budget units is rho)."""
    return Budget.parse(str(row.get("budget_unit") or "rho"), str(row["budget_amount_exact"]))


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


# --- read helpers of the ledger's verification (privacy/verify.py) ---------------------------


def read_published_rows(con: duckdb.DuckDBPyConnection, release_id: str) -> list[tuple[Any, ...]]:
    """Every column (PUBLISHED_COLUMNS order) of a release's published rows, by group then statistic."""
    return con.execute(
        f"SELECT {', '.join(PUBLISHED_COLUMNS)} FROM published_aggregates WHERE release_id = ? "
        "ORDER BY group_value, statistic",
        [release_id],
    ).fetchall()


def read_all_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    """Every row of one of the release tables as dicts of every column, budget columns under today's names."""
    out = fetch_dicts(con, f"SELECT * FROM {table}")
    for row in out:
        for old, new in BUDGET_COLUMN_RENAMES.get(table, ()):
            if old in row:
                row[new] = row.pop(old)
    return out


def view_definitions(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The stored SQL of each view in the file, as DuckDB normalises it (duckdb_views())."""
    rows = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'")
    return {str(name): str(sql) for name, sql in rows.fetchall()}


def declared_view_definitions() -> dict[str, str]:
    """The SQL DuckDB stores for the views this code declares (warehouse/tables.py), from a scratch database."""
    scratch = duckdb.connect(":memory:")
    try:
        scratch.execute(SCHEMA_DDL)
        scratch.execute(VIEWS_DDL)
        return view_definitions(scratch)
    finally:
        scratch.close()
