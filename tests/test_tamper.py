"""Tampering with any cell, row or view a reader sees is detected by `verify` with a signed checkpoint.

The warehouse: two weekly releases and a correction (tests.helpers.two_week_warehouse), then a
signed checkpoint of its ledger. Each test changes one thing and expects verify to fail naming
the table (or view) that was changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from foundation.exact import canonical_json
from privacy import checkpoint as cp
from privacy.ledger import PUBLISHED_CELL_COLUMNS, canonical_entry, entry_hash, values_digest
from privacy.verify import verify_ledger, warehouse_checkpoint
from tests.helpers import TEST_CHECKPOINT_KEY, rows, two_week_warehouse
from warehouse import store

TABLES = ("releases", "published_aggregates", "release_groups", "budget_spend", "ledger")
KEY = cp.load_private_key(TEST_CHECKPOINT_KEY)
VERIFIER = cp.verifier_key(KEY)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The warehouse file (never changed: tests copy it) and its signed checkpoint."""
    path = tmp_path_factory.mktemp("tamper") / "warehouse.duckdb"
    outcomes = two_week_warehouse(path)
    assert [o.status for o in outcomes] == ["released", "released", "released"]
    assert outcomes[2].key.correction == 1
    return path, cp.sign_note(warehouse_checkpoint(path), KEY)


@pytest.fixture
def wh(pristine: tuple[Path, str], tmp_path: Path) -> Path:
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(pristine[0].read_bytes())
    return copy


def verify(path: Path, note: str) -> Any:
    return verify_ledger(path, note, VERIFIER)


def execute(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def names_table(message: str, table: str) -> bool:
    """Whether a verify message names the table as the place that differs."""
    if table == "ledger":
        return message.startswith(("ledger ", "ledger:"))
    if table == "releases":
        return "releases row" in message or "releases table" in message
    return f"{table} row" in message


def columns(path: Path, table: str) -> list[tuple[str, str]]:
    return [
        (str(name), str(kind))
        for name, kind in rows(
            path,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
            f"'{table}' ORDER BY ordinal_position",
        )
    ]


OTHER_STATUS = {
    "published_aggregates": "CASE WHEN status = 'published' THEN 'too_noisy' ELSE 'published' END",
    "release_groups": "CASE WHEN status = 'released' THEN 'suppressed_small_group' ELSE 'released' END",
}


def changed(table: str, column: str, kind: str) -> str:
    """A type-appropriate new value for a cell (NULL cells get a value)."""
    if column == "status" and table in OTHER_STATUS:
        return OTHER_STATUS[table]
    if kind.endswith("[]"):
        return f"list_append({column}, '2099-01')"
    if kind.startswith("DECIMAL"):
        return f"{column} + 0.5"
    return {
        "VARCHAR": f"coalesce({column}, '') || 'x'",
        "JSON": """'{"tampered":1}'""",
        "DATE": f"{column} + INTERVAL 1 DAY",
        "INTEGER": f"{column} + 1",
        "BIGINT": f"{column} + 100",
        "DOUBLE": f"coalesce({column}, 0) + 1",
        "TIMESTAMP WITH TIME ZONE": f"coalesce({column}, TIMESTAMPTZ '2026-01-01 00:00:00+00') + INTERVAL 1 SECOND",
    }[kind]


def all_cells(path: Path) -> list[tuple[str, str, str]]:
    return [(table, column, kind) for table in TABLES for column, kind in columns(path, table)]


def test_untouched_warehouse_verifies_with_its_checkpoint(pristine: tuple[Path, str]) -> None:
    path, note = pristine
    result = verify(path, note)
    assert result.ok, result.message
    assert "extends the signed checkpoint" in result.message and result.entries == 4


def test_every_column_of_every_table_is_covered(pristine: tuple[Path, str], tmp_path: Path) -> None:
    """One cell of the last row changed at a time, for every column of every table."""
    path, note = pristine
    cells = all_cells(path)
    assert len(cells) == 21 + 13 + 9 + 9 + 7
    missed = []
    for table, column, kind in cells:
        copy = tmp_path / f"{table}-{column}.duckdb"
        copy.write_bytes(path.read_bytes())
        execute(
            copy,
            f"UPDATE {table} SET {column} = {changed(table, column, kind)} "
            f"WHERE rowid = (SELECT max(rowid) FROM {table})",
        )
        result = verify(copy, note)
        if result.ok or not names_table(result.message, table):
            missed.append((table, column, result.message))
        elif table == "published_aggregates" and column in PUBLISHED_CELL_COLUMNS[2:]:
            # a changed published figure is named down to its cell: group, statistic and column
            if not re.search(rf"group '[^']+', statistic '[^']+', column {column}:", result.message):
                missed.append((table, column, result.message))
        copy.unlink()
    assert missed == []


@pytest.mark.parametrize("table", TABLES)
def test_deleting_a_tables_last_row_is_detected(wh: Path, pristine: tuple[Path, str], table: str) -> None:
    execute(wh, f"DELETE FROM {table} WHERE rowid = (SELECT max(rowid) FROM {table})")
    result = verify(wh, pristine[1])
    assert not result.ok and names_table(result.message, table), result.message


def test_a_redefined_view_is_named(wh: Path, pristine: tuple[Path, str]) -> None:
    execute(
        wh,
        "CREATE OR REPLACE VIEW current_aggregates AS SELECT p.* REPLACE (p.value * 2 AS value), r.correction "
        "FROM published_aggregates p JOIN releases r USING (release_id)",
    )
    result = verify(wh, pristine[1])
    assert not result.ok and result.message.startswith("view current_aggregates was redefined")
    execute(wh, "DROP VIEW merged_groups")
    assert verify(wh, pristine[1]).message.startswith("view current_aggregates")  # the first view in order


def test_a_missing_view_is_named(wh: Path, pristine: tuple[Path, str]) -> None:
    execute(wh, "DROP VIEW merged_groups")
    assert verify(wh, pristine[1]).message == "view merged_groups is missing (readers fall back to other tables)"


def rehash_chain(path: Path, keep: int) -> None:
    """Keep the first `keep` entries and recompute their chain, as someone who deletes entries would."""
    con = duckdb.connect(str(path))
    try:
        con.execute(f"DELETE FROM ledger WHERE seq > {keep}")
        prev = "0" * 64
        for seq, entry_type, recorded_at, release_id, payload in con.execute(
            "SELECT seq, entry_type, recorded_at, release_id, payload FROM ledger ORDER BY seq"
        ).fetchall():
            digest = entry_hash(prev, canonical_entry(seq, entry_type, recorded_at, release_id, payload))
            con.execute("UPDATE ledger SET prev_hash = ?, entry_hash = ? WHERE seq = ?", [prev, digest, seq])
            prev = digest
    finally:
        con.close()


def test_a_deleted_release_with_its_rows_and_a_recomputed_chain_needs_the_checkpoint(
    wh: Path, pristine: tuple[Path, str]
) -> None:
    """Without a checkpoint the file alone cannot tell; with one the truncation is named."""
    [(last,)] = rows(wh, "SELECT release_id FROM ledger WHERE seq = 4")
    execute(
        wh,
        *(f"DELETE FROM {t} WHERE release_id = '{last}'" for t in TABLES[:4]),
    )
    rehash_chain(wh, 3)
    assert verify_ledger(wh).ok  # what `teamlens verify` said before checkpoints
    result = verify(wh, pristine[1])
    assert not result.ok
    assert result.message.startswith("ledger has 3 entries but the signed checkpoint covers 4")


def test_a_rewritten_entry_with_a_recomputed_chain_is_detected(wh: Path, pristine: tuple[Path, str]) -> None:
    execute(wh, 'UPDATE ledger SET payload = replace(payload, \'"run_by":"tester"\', \'"run_by":"other"\')')
    execute(wh, "UPDATE releases SET run_by = 'other'")
    rehash_chain(wh, 4)
    assert verify_ledger(wh).ok
    result = verify(wh, pristine[1])
    assert not result.ok and result.message.startswith("ledger: its first 4 entries do not hash")


def test_a_forged_or_foreign_checkpoint_is_refused(pristine: tuple[Path, str]) -> None:
    path, note = pristine
    forged = note.replace("\n4\n", "\n3\n", 1)
    assert "signature" in verify(path, forged).message
    other_key = cp.load_private_key("11" * 32)
    assert "no signature by the key" in verify_ledger(path, note, cp.verifier_key(other_key)).message
    foreign = cp.sign_note(cp.Checkpoint("example.com/log", 4, warehouse_checkpoint(path).root_hash), KEY)
    assert "origin" in verify(path, foreign).message


def test_an_older_entry_keeps_verifying_with_the_first_digest(wh: Path, pristine: tuple[Path, str]) -> None:
    """An entry without published_values_digest_version holds the version 1 digest (values only)."""
    con = duckdb.connect(str(wh))
    try:
        [(rid, payload)] = con.execute("SELECT release_id, payload FROM ledger WHERE seq = 4").fetchall()
        doc = json.loads(payload)
        del doc["published_values_digest_version"], doc["published_values"]  # both came later
        doc["published_values_sha256"] = values_digest(store.read_values(con, rid))
        con.execute("UPDATE ledger SET payload = ? WHERE seq = 4", [canonical_json(doc)])
    finally:
        con.close()
    rehash_chain(wh, 4)
    assert verify_ledger(wh).ok
    execute(wh, f"UPDATE published_aggregates SET ci_low = ci_low - 1 WHERE release_id = '{rid}' AND ci_low > 0")
    result = verify_ledger(wh)
    assert not result.ok and "published_aggregates rows" in result.message
    execute(wh, f"UPDATE published_aggregates SET ci_low = ci_low + 1 WHERE release_id = '{rid}' AND ci_low > -1")
    execute(wh, f"UPDATE published_aggregates SET roster_group_size = 99 WHERE release_id = '{rid}'")
    assert "column roster_group_size" in verify_ledger(wh).message  # derived from the entry's groups
    assert hashlib.sha256(b"").hexdigest().startswith("e3b0c442")
