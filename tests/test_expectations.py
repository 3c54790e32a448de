"""Validation of staged partitions: suites from the schema, quarantine, atomic rewrite, reports."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from expectations.suites import suite_for
from expectations.validate import (
    DATA_FILE,
    MARKER,
    BadRowRateError,
    SchemaValidationError,
    staged_file_schema,
    validate_day,
    validate_days,
    validate_partition,
)
from foundation import bad_rows, lake
from foundation.errors import ReconciliationError
from foundation.schema import AGENT_EVENTS, CONTACTS, DESKTOP_ACTIVITY, QUARANTINE_COLUMNS, ROSTER

DAY = dt.date(2024, 5, 2)
UTC = dt.UTC
BAD_TALK = -98765


def _contact(i: int, **overrides: Any) -> dict[str, Any]:
    start = dt.datetime(2024, 5, 2, 9, 0, tzinfo=UTC) + dt.timedelta(minutes=i)
    row = {
        "contact_id": f"c-{i}",
        "source": "connect_ctr",
        "agent_pseudonym": f"a-{i % 3}",
        "queue": "sales",
        "channel": "VOICE",
        "initiation_method": "INBOUND",
        "initiation_ts": start,
        "connected_to_agent_ts": start + dt.timedelta(seconds=20),
        "disconnect_ts": start + dt.timedelta(seconds=300),
        "queue_seconds": 20,
        "talk_seconds": 240,
        "hold_seconds": 10,
        "holds": 1,
        "acw_seconds": 30,
        "transferred_out": False,
        "abandoned": False,
        "last_update_ts": start + dt.timedelta(seconds=400),
        "source_file": "connect_ctr/2024-05-02/ctr-1.jsonl",
        "source_line": i + 1,
    }
    row.update(overrides)
    return row


def _write_partition(
    settings, table, rows: list[dict[str, Any]], schema: pa.Schema | None = None, day: dt.date = DAY
) -> Path:
    """A staged partition as Spark leaves it: a part file, _SUCCESS and a .crc file."""
    folder = settings.lake.table_partition(table, day)
    folder.mkdir(parents=True, exist_ok=True)
    data = pa.Table.from_pylist(rows, schema=schema or staged_file_schema(table))
    pq.write_table(data, folder / "part-00000-abc.snappy.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00000-abc.snappy.parquet.crc").write_bytes(b"\0")
    return folder


def _ingest_report(settings, table, read: int, staged: int, quarantined: int = 0, duplicates: int = 0) -> None:
    path = settings.lake.ingest_report(table, DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"table": table.name, "day": str(DAY), "read": read, "staged": staged}
    path.write_text(json.dumps({**payload, "quarantined": quarantined, "duplicates": duplicates}))


def _staged(settings, table) -> pa.Table:
    folder = settings.lake.table_partition(table, DAY)
    return pa.concat_tables([pq.read_table(p) for p in sorted(folder.glob("*.parquet"))])


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- suites --------------------------------------------------------------------------------


def _expectation_counts(table) -> Counter[str]:
    return Counter(e.expectation_type for e in suite_for(table).expectations)


def test_contacts_suite_is_derived_from_the_schema():
    suite = suite_for(CONTACTS)
    assert _expectation_counts(CONTACTS) == {
        "expect_table_columns_to_match_set": 1,
        "expect_column_values_to_not_be_null": 10,
        "expect_column_values_to_be_in_set": 2,
        "expect_column_values_to_be_between": 5,
        "expect_compound_columns_to_be_unique": 1,
        "expect_column_pair_values_a_to_be_greater_than_b": 1,
    }
    kwargs = {
        (e.expectation_type, e.configuration.kwargs.get("column")): e.configuration.kwargs for e in suite.expectations
    }
    columns = set(kwargs["expect_table_columns_to_match_set", None]["column_set"])
    assert columns == set(CONTACTS.column_names) - {"day"}
    assert set(kwargs["expect_column_values_to_be_in_set", "channel"]["value_set"]) == {
        "VOICE",
        "CHAT",
        "TASK",
        "EMAIL",
    }
    between = kwargs["expect_column_values_to_be_between", "talk_seconds"]
    assert (between["min_value"], between["max_value"]) == (0, 25 * 3600)
    assert kwargs["expect_compound_columns_to_be_unique", None]["column_list"] == ["source", "contact_id"]
    not_null = {c for t, c in kwargs if t == "expect_column_values_to_not_be_null"}
    assert not_null == {c.name for c in CONTACTS.columns if not c.nullable} - {"day"}


def test_partition_column_is_left_out_of_keys_and_columns():
    roster = suite_for(ROSTER)
    assert [e.configuration.kwargs for e in roster.expectations if "unique" in e.expectation_type] == [
        {"column": "agent_pseudonym"}
    ]
    desktop = suite_for(DESKTOP_ACTIVITY)
    compound = [e for e in desktop.expectations if e.expectation_type == "expect_compound_columns_to_be_unique"]
    assert compound[0].configuration.kwargs["column_list"] == ["source", "agent_pseudonym", "bucket", "start_ts"]
    assert _expectation_counts(AGENT_EVENTS)["expect_column_values_to_be_in_set"] == 2


# --- validation ----------------------------------------------------------------------------


def test_clean_partition_passes_unchanged(settings):
    folder = _write_partition(settings, CONTACTS, [_contact(i) for i in range(5)])
    before = _contents(folder)
    report = validate_partition(settings, CONTACTS, DAY)
    assert (report["rows_in"], report["rows_passed"], report["rows_quarantined"]) == (5, 5, 0)
    assert report["failures"] == [] and report["reconciled"] is None
    after = _contents(folder)
    assert {k: v for k, v in after.items() if k != MARKER} == before
    assert not settings.lake.validation_quarantine_file(CONTACTS, DAY).exists()


def test_bad_rows_are_quarantined_and_partition_rewritten(settings):
    rows = [_contact(i) for i in range(40)]
    rows[3] = _contact(3, talk_seconds=BAD_TALK)
    rows[7] = _contact(7, channel="FAX", hold_seconds=-1)
    _write_partition(settings, CONTACTS, rows)
    report = validate_partition(settings, CONTACTS, DAY)
    assert (report["rows_in"], report["rows_passed"], report["rows_quarantined"]) == (40, 38, 2)

    quarantine = pq.read_table(settings.lake.validation_quarantine_file(CONTACTS, DAY))
    assert quarantine.column_names == [c.name for c in QUARANTINE_COLUMNS]
    records = {r["source_line"]: r for r in quarantine.to_pylist()}
    assert set(records) == {4, 8}
    assert records[4]["reason"] == "expectation expect_column_values_to_be_between failed on column talk_seconds"
    assert records[8]["reason"] == (
        "expectation expect_column_values_to_be_in_set failed on column channel; "
        "expectation expect_column_values_to_be_between failed on column hold_seconds"
    )
    assert all(r["source_file"] == "connect_ctr/2024-05-02/ctr-1.jsonl" for r in records.values())
    assert all(r["day"] == DAY and r["source"] == "contacts" for r in records.values())
    assert json.loads(records[4]["raw_record"])["talk_seconds"] == BAD_TALK
    assert json.loads(records[8]["raw_record"])["contact_id"] == "c-7"

    folder = settings.lake.table_partition(CONTACTS, DAY)
    assert sorted(p.name for p in folder.iterdir()) == sorted([DATA_FILE, MARKER])
    assert not list(folder.parent.glob(".*"))  # no swap leftovers
    staged = pq.read_table(folder / DATA_FILE)
    assert staged.schema.equals(staged_file_schema(CONTACTS))
    assert staged.schema.field("initiation_ts").type == pa.timestamp("us", tz="UTC")
    assert staged.schema.field("talk_seconds").type == pa.int32()
    assert staged.schema.field("source_line").type == pa.int64()
    expected = [r for i, r in enumerate(rows) if i not in (3, 7)]
    assert staged.to_pylist() == expected


def test_row_without_lineage_points_at_the_staged_file(settings):
    rows: list[dict[str, Any]] = [
        {"agent_pseudonym": f"a-{i}", "team": "t", "site": "s", "site_timezone": "UTC"} for i in range(30)
    ]
    rows.append({"agent_pseudonym": None, "team": "t", "site": "s", "site_timezone": "UTC"})
    _write_partition(settings, ROSTER, rows)
    validate_partition(settings, ROSTER, DAY)
    (record,) = pq.read_table(settings.lake.validation_quarantine_file(ROSTER, DAY)).to_pylist()
    assert record["source_file"] == f"roster/day={DAY}/part-00000-abc.snappy.parquet"
    assert record["source_line"] is None
    assert "not_be_null failed on column agent_pseudonym" in record["reason"]


def test_duplicate_keys_and_reversed_timestamps_fail(settings):
    rows = [_contact(i) for i in range(80)]
    rows[1] = _contact(0, source_line=2)  # the same contact_id twice: both copies go
    start = rows[5]["initiation_ts"]
    rows[5] = _contact(5, disconnect_ts=start - dt.timedelta(seconds=1))
    _write_partition(settings, CONTACTS, rows)
    report = validate_partition(settings, CONTACTS, DAY)
    assert report["rows_quarantined"] == 3
    reasons = {
        r["source_line"]: r["reason"]
        for r in pq.read_table(settings.lake.validation_quarantine_file(CONTACTS, DAY)).to_pylist()
    }
    assert (
        reasons[1]
        == reasons[2]
        == "expectation expect_compound_columns_to_be_unique failed on columns source, contact_id"
    )
    assert reasons[6] == (
        "expectation expect_column_pair_values_a_to_be_greater_than_b failed on columns disconnect_ts, initiation_ts"
    )


def test_missing_column_raises_schema_error(settings):
    schema = staged_file_schema(CONTACTS).remove(staged_file_schema(CONTACTS).get_field_index("queue"))
    rows = [{k: v for k, v in _contact(i).items() if k != "queue"} for i in range(3)]
    folder = _write_partition(settings, CONTACTS, rows, schema=schema)
    before = _contents(folder)
    with pytest.raises(SchemaValidationError, match=r"contacts day=2024-05-02.*missing: \['queue'\]"):
        validate_partition(settings, CONTACTS, DAY)
    assert _contents(folder) == before
    assert not settings.lake.validation_quarantine_file(CONTACTS, DAY).exists()


def test_wrong_column_type_raises_schema_error(settings):
    schema = staged_file_schema(CONTACTS)
    schema = schema.set(schema.get_field_index("talk_seconds"), pa.field("talk_seconds", pa.string()))
    _write_partition(settings, CONTACTS, [_contact(0, talk_seconds="240")], schema=schema)
    with pytest.raises(SchemaValidationError, match="talk_seconds"):
        validate_partition(settings, CONTACTS, DAY)


def test_bad_row_share_above_limit_raises_after_quarantining(settings):
    rows = [_contact(i) for i in range(10)]
    rows[0] = _contact(0, channel="FAX")
    _write_partition(settings, CONTACTS, rows)
    with pytest.raises(BadRowRateError) as caught:
        validate_day(settings, DAY, [CONTACTS])
    assert str(caught.value).startswith(
        "rows failing validation: contacts source connect_ctr: 1 of 10 records quarantined over 1 day(s) (10.0%), "
        "above 5.0%; worst days: 2024-05-02 (1 of 10); top reasons: expectation expect_column_values_to_be_in_set "
        "failed on column channel (1) (TEAMLENS_MAX_BAD_ROW_SHARE). Every partition is validated and reconciled"
    )
    assert pq.read_metadata(settings.lake.validation_quarantine_file(CONTACTS, DAY)).num_rows == 1
    assert _staged(settings, CONTACTS).num_rows == 9
    assert json.loads(settings.lake.validation_report(CONTACTS, DAY).read_text())["rows_quarantined"] == 1
    with pytest.raises(BadRowRateError):  # a rerun keeps failing: the stored counts are judged again
        validate_day(settings, DAY, [CONTACTS])


def test_bad_row_share_is_judged_per_source_over_the_run_and_accepted_days_are_left_out(settings):
    """Day 1 alone is over 5% (2 of 20) but the run is not (2 of 40); a source whose every row fails
    on day 2 fails the run until that source-day is accepted."""
    day2 = DAY + dt.timedelta(days=1)
    first = [_contact(i, channel="FAX") if i < 2 else _contact(i) for i in range(20)]
    _write_partition(settings, CONTACTS, first)
    acme = [_contact(i, source="acme", talk_seconds=BAD_TALK) for i in range(3)]
    _write_partition(settings, CONTACTS, [*(_contact(i) for i in range(20)), *acme], day=day2)
    with pytest.raises(BadRowRateError) as caught:
        validate_days(settings, [DAY, day2], [CONTACTS])
    assert str(caught.value).startswith(
        "rows failing validation: contacts source acme: 3 of 3 records quarantined over 1 day(s) (100.0%), "
        "above 5.0%; worst days: 2024-05-03 (3 of 3); top reasons: expectation expect_column_values_to_be_between "
        "failed on column talk_seconds (3) (TEAMLENS_MAX_BAD_ROW_SHARE)."
    )
    assert "connect_ctr" not in str(caught.value)
    report = json.loads(settings.lake.validation_report(CONTACTS, day2).read_text())
    assert report["sources"] == {
        "acme": {
            "read": 3,
            "quarantined": 3,
            "quarantine_reasons": {"expectation expect_column_values_to_be_between failed on column talk_seconds": 3},
        },
        "connect_ctr": {"read": 20, "quarantined": 0, "quarantine_reasons": {}},
    }
    bad_rows.accept(settings.lake, "acme", day2, "test export", "test")
    reports = validate_days(settings, [DAY, day2], [CONTACTS])  # the stored counts, judged again
    assert [(r["day"], r["rows_quarantined"], r["already_validated"]) for r in reports] == [
        ("2024-05-02", 2, True),
        ("2024-05-03", 3, True),
    ]


def test_reconciliation(settings):
    rows = [_contact(i) for i in range(30)]
    rows[2] = _contact(2, talk_seconds=BAD_TALK)
    _write_partition(settings, CONTACTS, rows)
    _ingest_report(settings, CONTACTS, read=34, staged=30, quarantined=3, duplicates=1)
    report = validate_partition(settings, CONTACTS, DAY)
    assert report["reconciled"] is True
    assert report["ingest"] == {"read": 34, "staged": 30, "quarantined": 3, "duplicates": 1}
    assert report["failures"] == [
        {"expectation": "expect_column_values_to_be_between", "column": "talk_seconds", "unexpected_count": 1}
    ]
    text = settings.lake.validation_report(CONTACTS, DAY).read_text()
    assert json.loads(text) == report
    assert str(BAD_TALK)[1:] not in text and "c-2" not in text and "ctr-1" not in text  # counts only


def test_reconciliation_mismatch_raises(settings):
    _write_partition(settings, CONTACTS, [_contact(i) for i in range(4)])
    _ingest_report(settings, CONTACTS, read=6, staged=4, quarantined=1)
    with pytest.raises(ReconciliationError, match=r"read 6 rows .* \+1 rows unaccounted"):
        validate_partition(settings, CONTACTS, DAY)
    assert json.loads(settings.lake.validation_report(CONTACTS, DAY).read_text())["reconciled"] is False


def test_report_holds_no_raw_values(settings):
    rows = [_contact(i) for i in range(30)]
    rows[4] = _contact(4, channel="FAX")
    _write_partition(settings, CONTACTS, rows)
    validate_partition(settings, CONTACTS, DAY)
    text = settings.lake.validation_report(CONTACTS, DAY).read_text()
    assert "FAX" not in text and "c-4" not in text
    assert (
        "FAX" in pq.read_table(settings.lake.validation_quarantine_file(CONTACTS, DAY)).column("raw_record")[0].as_py()
    )


def test_second_run_is_a_no_op(settings):
    rows = [_contact(i) for i in range(30)]
    rows[3] = _contact(3, talk_seconds=BAD_TALK)
    _write_partition(settings, CONTACTS, rows)
    _ingest_report(settings, CONTACTS, read=30, staged=30)
    first = validate_partition(settings, CONTACTS, DAY)
    folder, qpath = (
        settings.lake.table_partition(CONTACTS, DAY),
        settings.lake.validation_quarantine_file(CONTACTS, DAY),
    )
    staged_before, quarantine_before = _contents(folder), qpath.read_bytes()
    second = validate_partition(settings, CONTACTS, DAY)
    assert second == {**first, "already_validated": True}
    assert second["reconciled"] is True and second["rows_quarantined"] == 1
    assert _contents(folder) == staged_before and qpath.read_bytes() == quarantine_before


def test_restaged_partition_replaces_stale_quarantine(settings):
    rows = [_contact(i) for i in range(30)]
    _write_partition(settings, CONTACTS, [*rows[:3], _contact(3, channel="FAX"), *rows[4:]])
    validate_partition(settings, CONTACTS, DAY)
    assert settings.lake.validation_quarantine_file(CONTACTS, DAY).exists()
    folder = settings.lake.table_partition(CONTACTS, DAY)
    for p in folder.iterdir():  # the ingest job overwrites the day: the folder is replaced, marker included
        p.unlink()
    _write_partition(settings, CONTACTS, rows)
    report = validate_partition(settings, CONTACTS, DAY)
    assert (report["rows_in"], report["rows_quarantined"], report["already_validated"]) == (30, 0, False)
    assert not settings.lake.validation_quarantine_file(CONTACTS, DAY).exists()


def test_empty_and_missing_partitions_are_zero_rows(settings):
    report = validate_partition(settings, CONTACTS, DAY)
    assert (report["rows_in"], report["rows_quarantined"]) == (0, 0)
    _write_partition(settings, DESKTOP_ACTIVITY, [])
    assert validate_partition(settings, DESKTOP_ACTIVITY, DAY)["rows_in"] == 0


def test_interrupted_swap_is_finished(settings):
    rows = [_contact(i) for i in range(30)]
    rows[0] = _contact(0, channel="FAX")
    folder = _write_partition(settings, CONTACTS, rows)
    validate_partition(settings, CONTACTS, DAY)
    validated = _contents(folder)
    # A crash between the two renames of lake.swap_in: the new folder complete, the old one renamed away.
    folder.rename(lake.hidden_sibling(folder, "tmp", "0123abcd"))
    _write_partition(settings, CONTACTS, rows).rename(lake.hidden_sibling(folder, "old", "0123abcd"))
    report = validate_partition(settings, CONTACTS, DAY)
    assert report["already_validated"] is True
    assert _contents(folder) == validated
    assert not list(folder.parent.glob(".*"))


def test_interrupted_legacy_swap_is_finished(settings):
    """A data root written before lake.swap_in may hold validation's former swap names."""
    rows = [_contact(i) for i in range(30)]
    rows[0] = _contact(0, channel="FAX")
    folder = _write_partition(settings, CONTACTS, rows)
    validate_partition(settings, CONTACTS, DAY)
    validated = _contents(folder)
    folder.rename(folder.with_name(f".{folder.name}.validating"))
    _write_partition(settings, CONTACTS, rows).rename(folder.with_name(f".{folder.name}.replaced"))
    report = validate_partition(settings, CONTACTS, DAY)
    assert report["already_validated"] is True
    assert _contents(folder) == validated
    assert not list(folder.parent.glob(".*"))


def test_validate_day_validates_every_table_then_raises(settings):
    _write_partition(settings, CONTACTS, [_contact(i) for i in range(3)])
    schema = staged_file_schema(ROSTER).append(pa.field("employee_id", pa.string()))
    roster = {"agent_pseudonym": "a", "team": "t", "site": "s", "site_timezone": "UTC", "employee_id": "e1"}
    _write_partition(settings, ROSTER, [roster], schema=schema)
    with pytest.raises(SchemaValidationError, match=r"unexpected: \['employee_id'\]"):
        validate_day(settings, DAY)
    assert settings.lake.validation_report(CONTACTS, DAY).exists()  # the other tables were validated
    assert [r["table"] for r in validate_day(settings, DAY, [CONTACTS, DESKTOP_ACTIVITY])] == [
        "contacts",
        "desktop_activity",
    ]


def test_spark_written_partition_round_trips(settings, spark):
    """Validate what Spark writes, then read the rewritten partition back with the table schema."""
    rows = [_contact(i) for i in range(30)]
    rows[1] = _contact(1, talk_seconds=BAD_TALK)
    spark_rows = [{**r, "day": DAY} for r in rows]
    df = spark.createDataFrame(spark_rows, schema=CONTACTS.spark_schema())
    df.write.mode("overwrite").partitionBy("day").parquet(str(settings.lake.staged / "contacts"))
    report = validate_partition(settings, CONTACTS, DAY)
    assert (report["rows_passed"], report["rows_quarantined"]) == (29, 1)
    back = spark.read.schema(CONTACTS.spark_schema()).parquet(str(settings.lake.staged / "contacts"))
    declared = CONTACTS.spark_schema()
    # Spark reads every column as nullable and puts the partition column last.
    assert {f.name: f.dataType for f in back.schema} == {f.name: f.dataType for f in declared}
    got = sorted(
        tuple(r) for r in back.selectExpr("contact_id", "unix_micros(initiation_ts)", "day", "talk_seconds").collect()
    )
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    expected = sorted(
        (r["contact_id"], (r["initiation_ts"] - epoch) // dt.timedelta(microseconds=1), DAY, r["talk_seconds"])
        for i, r in enumerate(rows)
        if i != 1
    )
    assert got == expected


def test_validate_day_collects_reconciliation_errors_with_the_others(settings):
    _write_partition(settings, CONTACTS, [_contact(i) for i in range(4)])
    _ingest_report(settings, CONTACTS, read=6, staged=4, quarantined=1)
    schema = staged_file_schema(ROSTER).append(pa.field("employee_id", pa.string()))
    roster = {"agent_pseudonym": "a", "team": "t", "site": "s", "site_timezone": "UTC", "employee_id": "e1"}
    _write_partition(settings, ROSTER, [roster], schema=schema)
    with pytest.raises(ExceptionGroup) as group:
        validate_day(settings, DAY, [CONTACTS, ROSTER, DESKTOP_ACTIVITY])
    assert sorted(type(e).__name__ for e in group.value.exceptions) == ["ReconciliationError", "SchemaValidationError"]
    assert settings.lake.validation_report(DESKTOP_ACTIVITY, DAY).exists()  # validated after both failures
