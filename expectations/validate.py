"""Validation of staged partitions, between ingestion and metrics.

`validate_partition` reads one staged partition (Parquet written by Spark), validates it with the
table's suite (expectations.suites.suite_for) in an ephemeral Great Expectations context, and
- fails the partition on a table-level failure (columns, or a column of the wrong type):
  SchemaValidationError, nothing is written;
- moves the rows that fail row-level expectations to the table's validation quarantine file
  (Lake.validation_quarantine_file) and rewrites the staged partition without them through
  foundation.lake.swap_in (a complete new folder is swapped in by rename; an interrupted swap is
  finished on the next run);
- writes a counts-only report (Lake.validation_report; GX results hold raw values, they never
  leave this process), reconciled with the ingest job's report (Lake.ingest_report) when present;
- fails loudly when the counts do not reconcile (foundation.errors.ReconciliationError).

The bad-row limit (settings.max_bad_row_share) is judged by `validate_days` over all days of a
run per source (the staged rows' `source`), the same way as at ingest (foundation.bad_rows:
accepted source-days left out and named): every partition is validated, quarantined and
reconciled first, then BadRowRateError names each source over the limit, its worst days, the
counts and the top reasons.

Every path comes from settings.lake; files are replaced only through foundation.lake.

Idempotency. The validated partition carries a marker file (lake.VALIDATION_MARKER; Spark,
DuckDB and Polars globs skip it) with the SHA-256 of its data files, a fingerprint of the suite,
and the cumulative counts. On a rerun:
- same files, same suite: nothing is validated or written again; the stored counts are reported
  and judged again, so a run whose days failed the bad-row limit keeps failing until they are
  fixed or accepted (`teamlens accept-bad-rows`);
- the files the marker names are all still there but the suite changed (or files were appended):
  the partition is validated again, new bad rows are added to validation.parquet (never
  replacing the rows quarantined before: they are no longer in staged) and the counts accumulate;
- otherwise (no marker: the ingest job re-staged the day, which replaces the whole folder, marker
  included): a fresh validation, whose validation.parquet replaces the old one, or removes it
  when nothing fails, since it described rows of a partition that no longer exists.
Do not delete the marker by hand: the next run would then treat the day as freshly staged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import great_expectations as gx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from expectations.suites import file_columns, suite_for
from foundation import bad_rows, lake
from foundation.errors import ReconciliationError
from foundation.schema import QUARANTINE_COLUMNS, STAGED_TABLES, Column, Table, arrow_type
from foundation.settings import Settings

MARKER = lake.VALIDATION_MARKER
DATA_FILE = "part-00000-validated.snappy.parquet"
_MARKER_VERSION = 1
_STAGED = tuple(STAGED_TABLES.values())


class ValidationFailure(RuntimeError):
    """A staged partition failed validation; the message names table and day, never raw values."""


class SchemaValidationError(ValidationFailure):
    """Table-level failure: the partition's columns or types do not match the schema."""


class BadRowRateError(ValidationFailure):
    """Too large a share of a source's rows failed validation over the run's days (raised after
    every partition is validated, quarantined and reconciled; foundation.bad_rows)."""


def arrow_schema(columns: Iterable[Column]) -> pa.Schema:
    """Arrow schema that Spark reads back as the declared types (UTC microsecond timestamps).

    Every field is nullable, as in the files Spark itself writes.
    """
    return pa.schema([pa.field(c.name, arrow_type(c.dtype), nullable=True) for c in columns])


def staged_file_schema(table: Table) -> pa.Schema:
    """Arrow schema of the table's staged Parquet files (partition columns excluded)."""
    return arrow_schema(c for c in table.columns if c.name not in table.partition_by)


QUARANTINE_SCHEMA = arrow_schema(QUARANTINE_COLUMNS)


def _where(table: Table, day: dt.date) -> str:
    """`<table> day=D`: how messages name a partition (never a value of a record)."""
    return f"{table.name} {lake.partition_name(day)}"


# --- reading -------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _same_kind(actual: pa.DataType, dtype: str) -> bool:
    """Whether a file's Arrow type holds the declared dtype (a safe cast then makes it exact)."""
    if pa.types.is_dictionary(actual):
        actual = actual.value_type
    checks = {
        "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        "date": pa.types.is_date,
        "timestamp": pa.types.is_timestamp,
        "int": pa.types.is_integer,
        "long": pa.types.is_integer,
        "double": pa.types.is_floating,
        "boolean": pa.types.is_boolean,
    }
    return bool(checks[dtype](actual))


def _canonical_types(part: pa.Table, table: Table, day: dt.date, file: Path) -> pa.Table:
    """Cast declared columns to their canonical Arrow types; a type of another kind fails the batch.

    Undeclared columns are kept as they are: the suite's column-set expectation reports them.
    Arrow's own error text is dropped, since it can quote a value.
    """
    declared = {c.name: c for c in table.columns}
    arrays = []
    for name in part.column_names:
        array = part.column(name)
        col = declared.get(name)
        target = arrow_type(col.dtype) if col else None
        if col is not None and target is not None and array.type != target:
            if not _same_kind(array.type, col.dtype):
                raise SchemaValidationError(
                    f"{_where(table, day)}: column {name!r} in {file.name} has type {array.type}, "
                    f"the schema declares {col.dtype}"
                )
            try:
                array = array.cast(target, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise SchemaValidationError(
                    f"{_where(table, day)}: column {name!r} in {file.name} cannot be stored as {col.dtype} "
                    f"({array.type} -> {target}) without loss"
                ) from None
        arrays.append(array)
    return pa.table(arrays, names=part.column_names)


def _read_partition(files: Sequence[Path], table: Table, day: dt.date) -> tuple[pa.Table, np.ndarray]:
    """All rows of the partition with canonical types, and for each row the index of its file."""
    if not files:
        return staged_file_schema(table).empty_table(), np.zeros(0, dtype=np.int64)
    parts = [_canonical_types(pq.read_table(f), table, day, f) for f in files]
    first = parts[0].column_names
    for f, part in zip(files, parts, strict=True):
        if set(part.column_names) != set(first):
            raise SchemaValidationError(
                f"{_where(table, day)}: the partition's files disagree on columns "
                f"({files[0].name}: {sorted(first)}; {f.name}: {sorted(part.column_names)})"
            )
    declared_order = [c for c in file_columns(table) if c in first] + [c for c in first if c not in table.column_names]
    data = pa.concat_tables([p.select(declared_order) for p in parts])
    row_file = np.repeat(np.arange(len(parts)), [p.num_rows for p in parts])
    return data, row_file


# --- running the suite ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """One expectation's result reduced to what this module needs: counts and row positions."""

    expectation: str
    columns: tuple[str, ...]
    success: bool
    unexpected_count: int
    rows: tuple[int, ...]
    error: str | None
    details: dict[str, Any]

    @property
    def table_level(self) -> bool:
        return self.expectation.startswith("expect_table_")

    @property
    def reason(self) -> str:
        label = "column" if len(self.columns) == 1 else "columns"
        return f"expectation {self.expectation} failed on {label} {', '.join(self.columns)}"


def _columns_of(kwargs: dict[str, Any]) -> tuple[str, ...]:
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_list" in kwargs:
        return tuple(kwargs["column_list"])
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    return ()


def _error_of(info: Any) -> str | None:
    """The first raised exception's message in GX's exception_info (flat, or keyed by metric)."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    for sub in info.values():
        message = _error_of(sub)
        if message:
            return message
    return None


def _context() -> Any:
    """An in-memory GX context: no files, no analytics, no progress bars."""
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def _run_suite(suite: gx.ExpectationSuite, frame: Any) -> list[_Outcome]:
    """Validate a pandas frame; failing rows are identified by the frame's RangeIndex positions.

    With result_format COMPLETE and no unexpected_index_column_names, GX's pandas engine returns
    the frame's index values in unexpected_index_list; with a RangeIndex those are row positions,
    and no helper column has to be added (it would break the exact column-set expectation).
    """
    context = _context()
    suite = context.suites.add(suite)
    batch = context.data_sources.add_pandas("staged").add_dataframe_asset("partition")
    definition = batch.add_batch_definition_whole_dataframe("whole")
    validation = context.validation_definitions.add(gx.ValidationDefinition(name="v", data=definition, suite=suite))
    result = validation.run(batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"})
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        details = dict(r.result or {})
        outcomes.append(
            _Outcome(
                expectation=config.type,
                columns=_columns_of(dict(config.kwargs)),
                success=bool(r.success),
                unexpected_count=int(details.get("unexpected_count") or 0),
                rows=tuple(int(i) for i in details.get("unexpected_index_list") or ()),
                error=_error_of(r.exception_info),
                details=details,
            )
        )
    order = {
        (e.expectation_type, _columns_of(dict(e.configuration.kwargs))): i for i, e in enumerate(suite.expectations)
    }
    return sorted(outcomes, key=lambda o: order.get((o.expectation, o.columns), len(order)))


def _suite_fingerprint(suite: gx.ExpectationSuite) -> str:
    configs = [{"type": e.expectation_type, "kwargs": dict(e.configuration.kwargs)} for e in suite.expectations]
    return hashlib.sha256(json.dumps(configs, sort_keys=True, default=str).encode()).hexdigest()


# --- writing -------------------------------------------------------------------------------


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Write a Parquet file Spark reads (microsecond timestamps) and flush it to disk."""
    with path.open("wb") as fh:
        pq.write_table(table, fh, coerce_timestamps="us", compression="snappy")
        fh.flush()
        os.fsync(fh.fileno())


def _rewrite_partition(folder: Path, good: pa.Table, marker: dict[str, Any]) -> None:
    """Replace the partition by one data file and the marker, through lake.swap_in."""

    def build(new: Path) -> None:
        new.mkdir(parents=True)
        _write_parquet(good, new / DATA_FILE)
        lake.write_json_atomic(new / MARKER, {**marker, "files": {DATA_FILE: _sha256(new / DATA_FILE)}})

    lake.swap_in(folder, build)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _quarantine_rows(
    bad: pa.Table,
    reasons: list[str],
    row_files: list[str],
    table: Table,
    day: dt.date,
) -> pa.Table:
    """Quarantine records (schema.QUARANTINE_COLUMNS) of the failing rows, lineage kept."""
    records = bad.to_pylist()
    has_lineage = "source_file" in table.lineage and "source_file" in bad.column_names
    has_line = "source_line" in table.lineage and "source_line" in bad.column_names
    return pa.Table.from_pylist(
        [
            {
                "day": day,
                "source": table.name,
                "source_file": (rec.get("source_file") if has_lineage else None) or row_file,
                "source_line": rec.get("source_line") if has_line else None,
                "reason": reason,
                "raw_record": json.dumps(rec, default=_json_value, ensure_ascii=False),
            }
            for rec, reason, row_file in zip(records, reasons, row_files, strict=True)
        ],
        schema=QUARANTINE_SCHEMA,
    )


def _write_quarantine(path: Path, rows: pa.Table, keep_existing: bool) -> None:
    """Write the quarantine file atomically; with keep_existing the earlier rows stay in it."""
    if keep_existing and path.exists():
        rows = pa.concat_tables([pq.read_table(path).cast(QUARANTINE_SCHEMA), rows])
    lake.replace_file_atomic(path, lambda tmp: _write_parquet(rows, tmp))


# --- the step ------------------------------------------------------------------------------


def _merge_failures(previous: list[dict[str, Any]], outcomes: list[_Outcome]) -> list[dict[str, Any]]:
    """Per-expectation failure counts (counts only, never values), accumulated over runs."""
    merged: dict[tuple[str, str], int] = {(f["expectation"], f["column"]): f["unexpected_count"] for f in previous}
    for o in outcomes:
        if o.unexpected_count and not o.table_level:
            key = (o.expectation, ", ".join(o.columns))
            merged[key] = merged.get(key, 0) + o.unexpected_count
    return [{"expectation": e, "column": c, "unexpected_count": n} for (e, c), n in sorted(merged.items())]


def _previous_sources(previous: dict[str, Any], table: Table) -> dict[str, dict[str, Any]]:
    """The per-source counts a marker carries; a marker written before they existed counts its
    quarantined rows under the table's name, with the failures as reasons."""
    if "sources" in previous:
        return {src: dict(sec) for src, sec in previous["sources"].items()}
    reasons = {
        f"expectation {f['expectation']} failed on {f['column']}": int(f["unexpected_count"])
        for f in previous.get("failures", [])
    }
    quarantined = int(previous["rows_quarantined"])
    return {table.name: {"read": quarantined, "quarantined": quarantined, "quarantine_reasons": reasons}}


def _source_sections(
    table: Table, data: pa.Table, reasons: dict[int, list[str]], previous: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Per source (the rows' `source`, else the table's name): rows in, rows quarantined and the
    reasons' counts (bad_rows.over_limit's shape), those of earlier validations of the partition added."""
    names = data.column("source").to_pylist() if "source" in data.column_names else [None] * data.num_rows
    sections = _previous_sources(previous, table) if previous else {}

    def section(source: Any) -> dict[str, Any]:
        return sections.setdefault(str(source or table.name), {"read": 0, "quarantined": 0, "quarantine_reasons": {}})

    for source in names:
        section(source)["read"] += 1
    for row, why in reasons.items():
        sec = section(names[row])
        sec["quarantined"] += 1
        for reason in why:
            sec["quarantine_reasons"][reason] = sec["quarantine_reasons"].get(reason, 0) + 1
    return {
        src: {**sec, "quarantine_reasons": dict(sorted(sec["quarantine_reasons"].items()))}
        for src, sec in sorted(sections.items())
    }


def _validate(
    settings: Settings,
    table: Table,
    day: dt.date,
    folder: Path,
    files: list[Path],
    hashes: dict[str, str],
    suite: gx.ExpectationSuite,
    fingerprint: str,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """Validate the partition's current content; quarantine and rewrite when rows fail."""
    data, row_file = _read_partition(files, table, day)
    outcomes = _run_suite(suite, data.to_pandas())

    for o in outcomes:
        if o.table_level and not o.success:
            expected, observed = set(file_columns(table)), set(data.column_names)
            raise SchemaValidationError(
                f"{_where(table, day)}: staged columns do not match the schema "
                f"({o.expectation} failed); missing: {sorted(expected - observed) or 'none'}, "
                f"unexpected: {sorted(observed - expected) or 'none'}. The partition was not validated."
            )
    for o in outcomes:
        if o.error:
            raise ValidationFailure(
                f"{_where(table, day)}: {o.expectation} on {', '.join(o.columns)} could not be evaluated: {o.error}"
            )
        if o.unexpected_count and len(o.rows) != o.unexpected_count:
            raise ValidationFailure(f"{_where(table, day)}: {o.expectation} did not return the failing rows")

    reasons: dict[int, list[str]] = {}
    for o in outcomes:
        for row in o.rows:
            reasons.setdefault(row, []).append(o.reason)
    bad = sorted(reasons)

    earlier_in = int(previous["rows_quarantined"]) if previous else 0
    summary: dict[str, Any] = {
        "table": table.name,
        "day": str(day),
        "rows_in": earlier_in + data.num_rows,
        "rows_passed": data.num_rows - len(bad),
        "rows_quarantined": earlier_in + len(bad),
        "failures": _merge_failures(previous["failures"] if previous else [], outcomes),
        "sources": _source_sections(table, data, reasons, previous),
    }
    marker = {"version": _MARKER_VERSION, "suite": fingerprint, "summary": summary}
    qpath = settings.lake.validation_quarantine_file(table, day)
    if bad:
        positions = np.asarray(bad, dtype=np.int64)
        names = [
            f"{table.name}/{folder.name}/{files[i].name}" for i in row_file[positions].tolist()
        ]  # where the row was staged: the source location of tables without lineage
        rows = _quarantine_rows(data.take(positions), ["; ".join(reasons[i]) for i in bad], names, table, day)
        _write_quarantine(qpath, rows, keep_existing=previous is not None)  # first: nothing is ever lost
        keep = np.ones(data.num_rows, dtype=bool)
        keep[positions] = False
        good = data.filter(pa.array(keep)).cast(staged_file_schema(table))
        _rewrite_partition(folder, good, marker)
    else:
        if previous is None and qpath.exists():
            qpath.unlink()  # it described rows of a partition the ingest job has since replaced
        if files:
            lake.write_json_atomic(folder / MARKER, {**marker, "files": hashes})
    return summary


def _read_marker(folder: Path) -> dict[str, Any] | None:
    path = folder / MARKER
    if not path.is_file():
        return None
    marker = json.loads(path.read_text())
    return marker if marker.get("version") == _MARKER_VERSION else None


def _reconcile(settings: Settings, table: Table, day: dt.date, summary: dict[str, Any]) -> dict[str, Any]:
    """Write the counts-only report and check it against the ingest report (the bad-row share is
    judged over the run by validate_days)."""
    report: dict[str, Any] = {**summary, "ingest": None, "reconciled": None}
    accounted = 0
    ingest_path = settings.lake.ingest_report(table, day)
    if ingest_path.is_file():
        raw = json.loads(ingest_path.read_text())
        try:
            ingest = {k: int(raw[k]) for k in ("read", "staged", "quarantined", "duplicates")}
        except (KeyError, TypeError, ValueError) as exc:
            raise ReconciliationError(
                f"{_where(table, day)}: unreadable ingest report {ingest_path}: {exc!r}"
            ) from None
        accounted = summary["rows_passed"] + ingest["quarantined"] + summary["rows_quarantined"] + ingest["duplicates"]
        report["ingest"] = ingest
        report["reconciled"] = ingest["read"] == accounted
    lake.write_json_atomic(settings.lake.validation_report(table, day), report)

    if report["reconciled"] is False:
        ingest = report["ingest"]
        raise ReconciliationError(
            f"{_where(table, day)}: ingestion read {ingest['read']} rows but "
            f"{summary['rows_passed']} passed + {ingest['quarantined']} quarantined at ingest + "
            f"{summary['rows_quarantined']} quarantined by validation + {ingest['duplicates']} duplicates "
            f"= {accounted}; {ingest['read'] - accounted:+d} rows unaccounted for"
        )
    return report


def validate_partition(settings: Settings, table: Table, day: dt.date) -> dict[str, Any]:
    """Validate one staged partition, quarantine its failing rows, report and reconcile.

    Returns the report: table, day, rows_in, rows_passed, rows_quarantined, failures (per
    expectation and column, counts only), ingest (its counts, or None), reconciled (None when
    there is no ingest report) and already_validated. An empty or missing partition is 0 rows.
    """
    folder = settings.lake.table_partition(table, day)
    lake.recover(folder)
    suite = suite_for(table)
    files = lake.data_files(folder)
    hashes = {f.name: _sha256(f) for f in files}
    marker = _read_marker(folder)
    fingerprint = _suite_fingerprint(suite)

    if marker and marker["files"] == hashes and marker["suite"] == fingerprint:
        summary, already = dict(marker["summary"]), True
    else:
        carried = marker and all(hashes.get(name) == sha for name, sha in marker["files"].items())
        previous = marker["summary"] if marker and carried else None
        summary, already = _validate(settings, table, day, folder, files, hashes, suite, fingerprint, previous), False
    return _reconcile(settings, table, day, {**summary, "already_validated": already})


def _sources_of(report: dict[str, Any]) -> dict[str, Any]:
    """A report's per-source counts; a report stored before they existed counts as one source."""
    if "sources" in report:
        return dict(report["sources"])
    if not report["rows_in"]:
        return {}
    return {report["table"]: {"read": report["rows_in"], "quarantined": report["rows_quarantined"]}}


def _bad_row_error(settings: Settings, reports: Sequence[dict[str, Any]]) -> BadRowRateError | None:
    """BadRowRateError naming every table's sources whose share of rows failing validation over
    the reports' days is above the limit (accepted source-days left out), or None."""
    accepted = bad_rows.accepted_pairs(settings.lake)
    sentences = []
    for table in dict.fromkeys(r["table"] for r in reports):
        judged = [{"day": r["day"], "sources": _sources_of(r)} for r in reports if r["table"] == table]
        judged = [j for j in judged if j["sources"]]  # an empty partition has no source
        sentences += bad_rows.over_limit(table, judged, settings.max_bad_row_share, accepted)
    if not sentences:
        return None
    return BadRowRateError(
        "rows failing validation: "
        + "; ".join(sentences)
        + f" (TEAMLENS_MAX_BAD_ROW_SHARE). Every partition is validated and reconciled; the failing rows are in "
        f"{settings.lake.quarantine} (validation.parquet of each table and day), the reports in "
        f"{settings.lake.reports}. After checking a day, accept it with `teamlens accept-bad-rows --source S "
        "--day D --reason TEXT` and run again."
    )


def validate_days(
    settings: Settings, days: Sequence[dt.date], tables: Iterable[Table] = _STAGED
) -> list[dict[str, Any]]:
    """Validate every staged table's partition for each of the run's days (the DAG task), then judge
    the bad-row limit per source over all of them (foundation.bad_rows).

    Every partition is validated even when one fails (ValidationFailure or ReconciliationError);
    then the failures are raised, the bad-row judgement among them (an ExceptionGroup when there
    are several).
    """
    tables = tuple(tables)
    reports: list[dict[str, Any]] = []
    errors: list[Exception] = []
    for day in days:
        for table in tables:
            try:
                reports.append(validate_partition(settings, table, day))
            except (ValidationFailure, ReconciliationError) as exc:
                errors.append(exc)
    too_bad = _bad_row_error(settings, reports)
    if too_bad is not None:
        errors.append(too_bad)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        span = f"{days[0]}" if len(days) == 1 else f"{min(days)}..{max(days)}"
        raise ExceptionGroup(f"validation failed for {len(errors)} checks on {span}", errors)
    return reports


def validate_day(settings: Settings, day: dt.date, tables: Iterable[Table] = _STAGED) -> list[dict[str, Any]]:
    """validate_days for one day."""
    return validate_days(settings, [day], tables)
