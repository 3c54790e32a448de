"""docs/canonical-tables.md is generated from the schema and the adapters, and kept current."""

from __future__ import annotations

from foundation import schema
from teamlens.schema_doc import DOC_PATH, METRICS_DOC_PATH, render, render_metrics


def test_canonical_tables_doc_is_current():
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "run: .venv/bin/python -m teamlens.schema_doc"


def test_metric_catalog_is_current_and_complete():
    assert METRICS_DOC_PATH.read_text(encoding="utf-8") == render_metrics(), "run: python -m teamlens.schema_doc"
    text = render_metrics()
    for table in schema.METRIC_TABLES.values():
        undocumented = [
            c.name
            for c in table.columns
            if c.metric is None and c.name not in (*table.key, "team", "site", "service_level_threshold_seconds")
        ]
        assert undocumented == [], f"{table.name}: metric columns without a catalog entry"
        for c in table.columns:
            if c.metric:
                assert f"| `{c.name}` | " in text


def test_doc_names_every_table_grain_and_column():
    text = render()
    for table in schema.ALL_TABLES.values():
        assert f"## {table.name} ({table.zone})" in text
        assert table.grain in text
        for column in table.columns:
            assert f"| `{column.name}` | {column.dtype} |" in text
