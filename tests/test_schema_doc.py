"""docs/canonical-tables.md is generated from the schema and the adapters, and kept current."""

from __future__ import annotations

from teamlens import schema
from teamlens.schema_doc import DOC_PATH, render


def test_canonical_tables_doc_is_current():
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "run: .venv/bin/python -m teamlens.schema_doc"


def test_doc_names_every_table_grain_and_column():
    text = render()
    for table in schema.ALL_TABLES.values():
        assert f"## {table.name} ({table.zone})" in text
        assert table.grain in text
        for column in table.columns:
            assert f"| `{column.name}` | {column.dtype} |" in text
