"""Verification of the warehouse against its ledger: what `teamlens verify` runs.

In this order, stopping at the first problem:
1. the hash chain (privacy/ledger.py: the recipe), so every column of the ledger table is covered;
2. given a signed checkpoint and its verifier key: the signature, and that the first `size`
   entries hash to the checkpoint's Merkle root (privacy/checkpoint.py), so a truncated,
   rewritten or reordered ledger is detected even when its chain was recomputed;
3. every column of every row of releases, budget_spend, release_groups and published_aggregates
   against the release entry of its release (a row without one is reported too). A release
   entry records the release's parameters, window, budget, groups with their sizes, spend per
   period with the cap, and a digest of its published values: version 2 of the digest covers
   every column of published_aggregates, version 1 (entries written before it) the group,
   statistic, value, interval, noise scale and status, the other columns being derived from the
   entry itself;
4. the definition of every view readers use (duckdb_views()) against the one the code declares
   (warehouse/tables.py), for a warehouse of the current schema.
Messages name the table, the row and the column that differ.

Approval attribution: a 'policy_approved' entry names who approved the policy (approved_by, by
`teamlens policy approve`). Entries without it exist by design in warehouses written before
approvals were attributed (the first release recorded its policy itself; such an entry approves
nothing, privacy/approval.py): verify reports each of them as a warning line ("approved without
attribution, written before approvals were attributed") after an ok result. One written after an
attributed approval cannot come from that migration and fails verification.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb

from foundation import lake
from foundation.exact import canonical_json, fraction_decimal, utc_text
from privacy import checkpoint as cp
from privacy.ledger import (
    GENESIS_HASH,
    PUBLISHED_CELL_COLUMNS,
    LedgerVerification,
    canonical_entry,
    entry_budget,
    entry_hash,
    published_rows_digest,
    values_digest,
)
from warehouse import store

RELEASE_TABLES = ("releases", "budget_spend", "release_groups", "published_aggregates")
# Each table's row key, used to name a row in messages.
ROW_KEYS = {
    "releases": ("release_id",),
    "budget_spend": ("release_id", "period"),
    "release_groups": ("release_id", "group_value"),
    "published_aggregates": ("release_id", "group_value", "statistic"),
}
LEDGER_COLUMNS = "seq, entry_type, recorded_at, release_id, payload, prev_hash, entry_hash"


def ledger_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """The ledger's rows ordered by seq; [] before the schema exists."""
    if not store.has_table(con, "ledger"):
        return []
    return con.execute(f"SELECT {LEDGER_COLUMNS} FROM ledger ORDER BY seq").fetchall()


def ledger_leaves(rows: list[tuple[Any, ...]]) -> list[bytes]:
    """The Merkle leaves of ledger rows: each entry's canonical text as ASCII bytes."""
    return [canonical_entry(r[0], r[1], r[2], r[3], r[4]).encode("ascii") for r in rows]


def warehouse_checkpoint(path: Path) -> cp.Checkpoint:
    """The checkpoint of every entry in the warehouse's ledger now (read-only)."""
    con = store.connect(Path(path), read_only=True)
    try:
        return cp.checkpoint_of(ledger_leaves(ledger_rows(con)))
    finally:
        con.close()


def verify_ledger(path: Path, checkpoint_note: str | None = None, verifier: str | None = None) -> LedgerVerification:
    """Steps 1 to 4 of the module docstring (read-only); a missing warehouse file is not ok."""
    path = Path(path)
    if not path.exists():
        return LedgerVerification(False, 0, None, f"no warehouse file at {path}: nothing to verify")
    con = store.connect(path, read_only=True)
    try:
        return verify_connection(con, checkpoint_note, verifier)
    finally:
        con.close()


def verify_connection(
    con: duckdb.DuckDBPyConnection, checkpoint_note: str | None = None, verifier: str | None = None
) -> LedgerVerification:
    """verify_ledger over an open connection (a read-only one to the published snapshot, for example)."""
    if not store.has_table(con, "ledger"):
        if checkpoint_note is not None:
            return LedgerVerification(False, 0, None, "ledger: the warehouse has no ledger table, the checkpoint does")
        return LedgerVerification(True, 0, None, "ledger is empty (no schema yet)")
    rows = ledger_rows(con)
    broken = _chain_problem(rows)
    if broken is not None:
        return LedgerVerification(False, len(rows), broken[0], broken[1], str(rows[-1][6]))
    head = str(rows[-1][6]) if rows else GENESIS_HASH
    extends = ""
    if checkpoint_note is not None:
        if verifier is None:
            raise ValueError("a checkpoint is verified with its verifier key")
        problem = _checkpoint_problem(rows, checkpoint_note, verifier)
        if problem is not None:
            return LedgerVerification(False, len(rows), None, problem, head)
        extends = "; the ledger extends the signed checkpoint"
    unattributed, warnings = _attribution(rows)
    found = unattributed or _tables_problem(con, rows) or _views_problem(con)
    if found is not None:
        return LedgerVerification(False, len(rows), found[0], found[1], head)
    return LedgerVerification(
        True,
        len(rows),
        None,
        f"ledger ok: {len(rows)} entries chained from genesis to head {head}{extends}; every column of "
        "releases, budget_spend, release_groups and published_aggregates matches its ledger entry, "
        "and the views are as declared" + "".join(f"\nwarning: {w}" for w in warnings),
        head,
    )


def _chain_problem(rows: list[tuple[Any, ...]]) -> tuple[int, str] | None:
    prev = GENESIS_HASH
    for position, (seq, entry_type, recorded_at, release_id, payload, prev_hash, stored_hash) in enumerate(
        rows, start=1
    ):
        if seq != position:
            return seq, f"ledger entry seq {seq}: expected seq {position} (an entry is missing or reordered)"
        if prev_hash != prev:
            return seq, (
                f"ledger entry seq {seq}: prev_hash does not match the entry_hash of entry {seq - 1} "
                "(an earlier entry was changed, removed or reordered)"
            )
        try:
            recomputed = entry_hash(prev, canonical_entry(seq, entry_type, recorded_at, release_id, payload))
            json.loads(payload)
        except (ValueError, UnicodeEncodeError) as exc:
            return seq, f"ledger entry seq {seq}: cannot be encoded canonically ({exc})"
        if recomputed != stored_hash:
            return seq, f"ledger entry seq {seq}: entry_hash does not match its content (entry was changed)"
        prev = stored_hash
    return None


def _attribution(rows: list[tuple[Any, ...]]) -> tuple[tuple[int, str] | None, list[str]]:
    """(the first unattributed 'policy_approved' entry written after an attributed one, the warnings
    for those written before any: the legacy entries of warehouses older than attributed approvals)."""
    warnings: list[str] = []
    first_attributed: int | None = None
    for seq, entry_type, recorded_at, _, payload, _, _ in rows:
        if entry_type != "policy_approved":
            continue
        doc = json.loads(payload)
        if doc.get("approved_by") is not None:
            first_attributed = first_attributed or seq
            continue
        policy = f"policy version {doc.get('policy_version')} ({doc.get('policy_sha256')})"
        if first_attributed is not None:
            return (
                seq,
                (
                    f"ledger entry seq {seq}: {policy} is recorded as approved without attribution (no approved_by) "
                    f"after approvals were attributed (seq {first_attributed}): `teamlens policy approve` did not "
                    "write it"
                ),
            ), warnings
        warnings.append(
            f"ledger entry seq {seq}: {policy} approved without attribution (no approved_by; written before "
            f"approvals were attributed, at {recorded_at}; it approves nothing now)"
        )
    return None, warnings


def _checkpoint_problem(rows: list[tuple[Any, ...]], note: str, verifier: str) -> str | None:
    """Why the ledger does not extend the signed checkpoint, or None."""
    try:
        checkpoint = cp.open_note(note, verifier)
    except cp.CheckpointError as exc:
        return f"checkpoint: {exc}"
    if checkpoint.origin != cp.ORIGIN:
        return f"checkpoint: its origin {checkpoint.origin!r} is not this ledger's ({cp.ORIGIN!r})"
    if checkpoint.size > len(rows):
        return (
            f"ledger has {len(rows)} entries but the signed checkpoint covers {checkpoint.size}: "
            "entries were removed (the ledger was truncated)"
        )
    if cp.merkle_root(ledger_leaves(rows[: checkpoint.size])) != checkpoint.root_hash:
        return (
            f"ledger: its first {checkpoint.size} entries do not hash to the signed checkpoint's root "
            "(an entry the checkpoint covers was changed, removed or reordered)"
        )
    return None


# --- tables against the release entries --------------------------------------------------------


def _cell(value: Any) -> Any:
    """A stored value in the form the expected rows use: dates and times as text, JSON as text."""
    if isinstance(value, dt.datetime):
        return utc_text(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else fraction_decimal(Fraction(text))


def _expected_rows(seq: int, recorded_at: str, release_id: str, doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The rows a release entry implies in each table, with the columns the entry records."""
    unit, amount = entry_budget(doc)
    common = {
        "release_id": release_id,
        "release_name": doc.get("release_name"),
        "group_by": doc.get("group_by"),
        "window_start": doc.get("window_start"),
        "window_end": doc.get("window_end"),
    }
    release = {
        **common,
        "budget_amount": _decimal(amount),
        "budget_amount_exact": amount,
        "periods": doc.get("periods"),
        "released_at": recorded_at,
        "status": "released",
        "budget_unit": unit,
        "correction": doc.get("correction", 0),
        "correction_of": doc.get("correction_of"),
    }
    for name in ("purpose", "policy_sha256", "policy_version", "mechanism", "run_by", "key_fingerprint"):
        if name in doc:
            release[name] = doc[name]
    if "parameters" in doc:
        release["parameters"] = canonical_json(doc["parameters"])
    if "inputs_as_of" in doc and doc.get("published_values_digest_version") == 2:
        # Older entries: the column was added by a migration and is NULL for the releases before it.
        release["inputs_as_of"] = doc["inputs_as_of"]
    spend = []
    for period in doc.get("periods", []):
        row = {
            "release_id": release_id,
            "period": period,
            "spent": _decimal(amount),
            "spent_exact": amount,
            "spent_at": recorded_at,
            "budget_unit": unit,
        }
        if "policy_sha256" in doc:
            row["policy_sha256"] = doc["policy_sha256"]
        cap = doc.get("spend_after", {}).get(period, {}).get(f"cap_{unit}")
        if cap is not None:
            row |= {"cap": _decimal(cap), "cap_exact": cap}
        spend.append(row)
    groups = [
        {**common, "group_value": g["group_value"], "roster_size": g["roster_size"], "status": g["status"]}
        | {"merged_into": g.get("merged_into")}
        for g in doc.get("groups", [])
    ]
    return {"releases": [release], "budget_spend": spend, "release_groups": groups}


def _row_name(table: str, row: dict[str, Any]) -> str:
    return f"{table} row ({', '.join(f'{k} {_cell(row.get(k))}' for k in ROW_KEYS[table])})"


def _differ(table: str, seq: int, row_key: tuple[Any, ...]) -> str:
    return f"entry seq {seq}: {table} rows of {row_key[0]} differ from its ledger entry"


def _compare(table: str, seq: int, expected: list[dict[str, Any]], stored: list[dict[str, Any]]) -> str | None:
    """The first row or column where stored rows differ from the expected ones (columns both have)."""
    key = ROW_KEYS[table]
    wanted = {tuple(r[k] for k in key): r for r in expected}
    found = {tuple(_cell(r[k]) for k in key): r for r in stored}
    for row_key, row in sorted(wanted.items(), key=str):
        if row_key not in found:
            return f"{_differ(table, seq, row_key)}: {_row_name(table, row)} is missing"
    for row_key, row in sorted(found.items(), key=str):
        if row_key not in wanted:
            return f"{_differ(table, seq, row_key)}: {_row_name(table, row)} is not recorded"
        for column, value in wanted[row_key].items():
            if column not in row or _cell(row[column]) == value:
                continue
            if table == "releases":  # one row per release: the release names it
                return f"entry seq {seq}: releases row of {row_key[0]} differs from its ledger entry ({column})"
            held = _cell(row[column])
            return f"{_differ(table, seq, row_key)}: {_row_name(table, row)} column {column} holds {held!r}, " + (
                f"the entry records {value!r}"
            )
    return None


def _tables_problem(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> tuple[int | None, str] | None:
    """The first disagreement between the release tables and the ledger entries, or None."""
    entries: dict[str, tuple[int, str, dict[str, Any]]] = {}
    policies: set[str] = set()
    for seq, entry_type, recorded_at, release_id, payload, _, _ in rows:
        doc = json.loads(payload)
        if entry_type == "policy_approved":
            policies.add(doc.get("policy_sha256"))
        elif entry_type in ("release", "refusal", "retention_deletion") and doc.get("policy_sha256") not in policies:
            return seq, (
                f"ledger entry seq {seq}: its policy {doc.get('policy_sha256')} has no earlier policy_approved entry"
            )
        if entry_type != "release":
            continue
        if release_id in entries:
            return seq, (
                f"ledger entry seq {seq}: release {release_id} has a second release entry "
                f"(first: seq {entries[release_id][0]})"
            )
        entries[release_id] = (seq, recorded_at, doc)
    stored = {table: store.read_all_rows(con, table) for table in RELEASE_TABLES if store.has_table(con, table)}
    for table, table_rows in stored.items():
        for row in table_rows:
            if row["release_id"] not in entries:
                if table == "releases":
                    return None, (
                        f"release {row['release_id']} is in the releases table but has no release entry in the ledger"
                    )
                return (
                    None,
                    f"{_row_name(table, row)}: rows of release {row['release_id']} exist without a releases row",
                )
    by_release: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for table, table_rows in stored.items():
        for row in table_rows:
            by_release.setdefault(row["release_id"], {}).setdefault(table, []).append(row)
    for release_id, (seq, recorded_at, doc) in sorted(entries.items(), key=lambda item: item[1][0]):
        mine = by_release.get(release_id, {})
        if not mine.get("releases"):
            return seq, f"entry seq {seq}: release {release_id} is in the ledger but missing from the releases table"
        for table, expected in _expected_rows(seq, recorded_at, release_id, doc).items():
            problem = _compare(table, seq, expected, mine.get(table, []))
            if problem is not None:
                return seq, problem
        problem = _published_problem(con, seq, release_id, doc, mine.get("release_groups", []))
        if problem is not None:
            return seq, problem
    return None


def _published_problem(
    con: duckdb.DuckDBPyConnection, seq: int, release_id: str, doc: dict[str, Any], groups: list[dict[str, Any]]
) -> str | None:
    """published_aggregates of a release: derived columns row by row, the rest by the entry's digest."""
    sizes = {g["group_value"]: g["roster_size"] for g in doc.get("groups", [])}
    common = {k: doc.get(k) for k in ("release_name", "group_by", "window_start", "window_end")}
    published = store.fetch_dicts(con, "SELECT * FROM published_aggregates WHERE release_id = ?", [release_id])
    expected = [
        {"release_id": release_id, **common, "group_value": r["group_value"], "statistic": r["statistic"]}
        | {"roster_group_size": sizes.get(r["group_value"])}
        for r in published
    ]
    problem = _compare("published_aggregates", seq, expected, published)
    if problem is not None:
        return problem
    if "published_values" in doc:
        problem = _cell_problem(seq, release_id, doc["published_values"], published)
        if problem is not None:
            return problem
    if doc.get("published_values_digest_version") == 2:
        digest = published_rows_digest(store.read_published_rows(con, release_id))
        covered = "value, interval, noise scale, status, group, statistic, window or size"
    else:
        digest = values_digest(store.read_values(con, release_id))
        covered = "value, interval, noise scale, status, group or statistic"
    if digest != doc.get("published_values_sha256"):
        return (
            f"entry seq {seq}: published_aggregates rows of {release_id} differ from its ledger entry: "
            f"a row was changed, added or removed ({covered}; the digest of the rows is not the recorded "
            "published_values_sha256)"
        )
    return None


def _cell_problem(seq: int, release_id: str, recorded: list[list[Any]], published: list[dict[str, Any]]) -> str | None:
    """The first published value whose group, statistic or column differs from the entry's record of it."""
    expected = {(str(r[0]), str(r[1])): dict(zip(PUBLISHED_CELL_COLUMNS, r, strict=True)) for r in recorded}
    found = {(str(r["group_value"]), str(r["statistic"])): r for r in published}
    where = f"entry seq {seq}: published_aggregates row of release {release_id}"
    for group, statistic in sorted(expected.keys() - found.keys()):
        return f"{where}, group {group!r}, statistic {statistic!r}: missing (or its group or statistic changed)"
    for group, statistic in sorted(found.keys() - expected.keys()):
        return f"{where}, group {group!r}, statistic {statistic!r}: not in the ledger (added, or renamed)"
    for cell in sorted(expected):
        for column in PUBLISHED_CELL_COLUMNS[2:]:
            if expected[cell][column] != found[cell][column]:
                return (
                    f"{where}, group {cell[0]!r}, statistic {cell[1]!r}, column {column}: the ledger records "
                    f"{expected[cell][column]!r}, the table holds {found[cell][column]!r}"
                )
    return None


def _views_problem(con: duckdb.DuckDBPyConnection) -> tuple[None, str] | None:
    """A view readers use whose definition differs from the declared one (current schema only)."""
    if not store.has_column(con, "release_groups", "merged_into"):
        return None  # an older schema keeps its older views until the next write migrates it
    stored = store.view_definitions(con)
    for name, sql in store.declared_view_definitions().items():
        if name not in stored:
            return None, f"view {name} is missing (readers fall back to other tables)"
        if stored[name] != sql:
            return None, f"view {name} was redefined: its SQL differs from the declared one (warehouse/tables.py)"
    return None


def write_signed_checkpoint(
    warehouse_path: Path, key_text: str, out: Path, copy_of_size: Callable[[int], Path] | None = None
) -> cp.Checkpoint:
    """Sign the checkpoint of the whole ledger now; write the note to `out` (and to copy_of_size(size),
    when given) and the verifier key to out + '.pub'. Returns the checkpoint."""
    key = cp.load_private_key(key_text)
    checkpoint = warehouse_checkpoint(warehouse_path)
    note = cp.sign_note(checkpoint, key)
    _write_text(out, note)
    _write_text(lake.public_key_path(out), cp.verifier_key(key) + "\n")
    if copy_of_size is not None:
        _write_text(copy_of_size(checkpoint.size), note)
    return checkpoint


def _write_text(path: Path, text: str) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    lake.replace_file_atomic(path, write)
