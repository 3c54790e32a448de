"""The monthly statements' record in the ledger: the one writer of 'statement' entries.

`teamlens statement --month YYYY-MM` writes a statement for the works council (HTML and PDF) and
records here which files it wrote and their SHA-256, so that a filed copy can later be checked
against the ledger (docs/audit.md, The monthly statement). Recording is idempotent: a statement
whose content is the one the month's latest entry records appends nothing; changed content (a
later correction, say) is recorded as the month's next version.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from privacy.ledger import append_entry
from warehouse import store

ENTRY_TYPE = "statement"


@dataclass(frozen=True)
class StatementRecord:
    """A statement as its ledger entry records it."""

    seq: int
    month: str
    version: int
    files: dict[str, dict[str, str]]  # format (html, pdf) -> {"name": ..., "sha256": ...}
    covers_entries: int
    recorded_at: str

    def sha256(self, kind: str) -> str:
        return self.files[kind]["sha256"]


def statement_records(con: duckdb.DuckDBPyConnection, month: str | None = None) -> list[StatementRecord]:
    """The statements recorded in the ledger (of one month, or all), oldest first."""
    if not store.has_table(con, "ledger"):
        return []
    found = con.execute(
        "SELECT seq, recorded_at, payload FROM ledger WHERE entry_type = ? "
        "AND (? IS NULL OR json_extract_string(payload, '$.month') = ?) ORDER BY seq",
        [ENTRY_TYPE, month, month],
    ).fetchall()
    out = []
    for seq, recorded_at, payload in found:
        doc = json.loads(payload)
        out.append(
            StatementRecord(
                int(seq), doc["month"], int(doc["version"]), doc["files"], int(doc["covers_entries"]), recorded_at
            )
        )
    return out


def next_version(con: duckdb.DuckDBPyConnection, month: str, html_sha256: str) -> tuple[int, StatementRecord | None]:
    """(the version a statement of this content would be, the record that already holds it or None).

    The content is the HTML's digest (the PDF is rendered from it). The same content as the
    month's latest record is that record; anything else is the next version.
    """
    records = statement_records(con, month)
    if records and records[-1].sha256("html") == html_sha256:
        return records[-1].version, records[-1]
    return (records[-1].version + 1 if records else 1), None


def file_name(month: str, version: int, kind: str) -> str:
    """The name of one version's file: statement-YYYY-MM-vN.html or .pdf."""
    return f"statement-{month}-v{version}.{kind}"


def record_statement(
    warehouse_path: Path,
    month: str,
    digests: dict[str, str],
    covers_entries: int,
    run_by: str,
    now: dt.datetime | None = None,
) -> tuple[StatementRecord, bool]:
    """Record a statement's files and digests (one transaction); (its record, True if appended now).

    digests: format (html, pdf) -> SHA-256 of the file. When the month's latest record holds the
    same HTML digest it is returned with False and nothing is appended; else the record is the
    month's next version, its files named by `file_name`.
    """
    recorded_at = now or dt.datetime.now(dt.UTC)
    con = store.connect(warehouse_path)
    try:
        with store.transaction(con):
            version, existing = next_version(con, month, digests["html"])
            if existing is not None:
                return existing, False
            payload: dict[str, Any] = {
                "month": month,
                "version": version,
                "files": {k: {"name": file_name(month, version, k), "sha256": d} for k, d in digests.items()},
                "covers_entries": covers_entries,
                "run_by": run_by,
            }
            append_entry(con, ENTRY_TYPE, payload, None, recorded_at)
            record = statement_records(con, month)[-1]
        return record, True
    finally:
        con.close()
