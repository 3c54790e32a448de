"""Shared helpers of the Spark jobs: the roster mapping, reading landing files, quarantine rows,
partition writes and the per-day reconciliation report.

Why here: every ingest job pseudonymises, numbers lines, writes one day's partition and reconciles
its counts the same way; one implementation keeps the rules (and their privacy guarantees) equal.

Layout written by the jobs (all under settings.data_root):
- staged/<table>/day=D/*.parquet: the table's columns without `day` (it is in the folder name,
  Hive style), as expectations.suites expects;
- quarantine/<table>/ingest/<source>/day=D/*.parquet: schema.QUARANTINE_COLUMNS (`day` in the folder name, as for
  staged);
- reports/ingest/<table>/day=D.json: counts only, never a value of a record.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation import lake, roster, schema
from foundation.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

CORRUPT = "_corrupt_record"
MALFORMED_JSON = "malformed JSON"
NOT_IN_ROSTER = "agent not in roster"


class ReconciliationError(RuntimeError):
    """Rows read from landing are not all accounted for as staged, quarantined or duplicate."""


class BadRowShareError(RuntimeError):
    """A day's share of quarantined records is above settings.max_bad_row_share (raised after writing)."""


def roster_map_schema() -> StructType:
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("agent_pseudonym", T.StringType(), False),
            T.StructField("connect_username", T.StringType(), True),
            T.StructField("desktop_host", T.StringType(), True),
            T.StructField("team", T.StringType(), False),
            T.StructField("site", T.StringType(), False),
            T.StructField("site_timezone", T.StringType(), False),
        ]
    )


def roster_frame(spark: SparkSession, agents: Sequence[roster.RosterAgent]) -> DataFrame:
    """The small mapping DataFrame (user name / host -> pseudonym, team, site, time zone)."""
    rows = [(a.agent_pseudonym, a.connect_username, a.desktop_host, a.team, a.site, a.site_timezone) for a in agents]
    return spark.createDataFrame(rows, roster_map_schema())


def identities_schema() -> StructType:
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("id_column", T.StringType(), False),
            T.StructField("identifier", T.StringType(), False),
            T.StructField("agent_pseudonym", T.StringType(), False),
            T.StructField("site_timezone", T.StringType(), False),
        ]
    )


def roster_identities(spark: SparkSession, agents: Sequence[roster.RosterAgent]) -> DataFrame:
    """The long identity map: (roster column, identifier in lower case) -> pseudonym, site time zone."""
    rows = [
        (column, value, a.agent_pseudonym, a.site_timezone)
        for a in agents
        for column, value in sorted(a.all_identifiers().items())
    ]
    return spark.createDataFrame(rows, identities_schema())


# --- reading landing files ------------------------------------------------------------------


def landing_files_of(settings: Settings, source: str, days: Iterable[dt.date], suffix: str) -> dict[dt.date, list[str]]:
    """The landing files of one source per day (days not delivered have none)."""
    return {day: landing_files(settings, source, day, suffix) for day in days}


def landing_files(settings: Settings, source: str, day: dt.date, suffix: str) -> list[str]:
    """The landing files of one source and day, sorted; none when the day was not delivered."""
    folder = settings.lake.landing_partition(source, day)
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix) and p.name[0] not in "._")


def scan_paths(files: Sequence[str]) -> tuple[list[str], str | None]:
    """The folders to scan (and a glob for the file names) when the files are all of their folders.

    Spark builds its file index far faster from a few folders than from thousands of file
    paths (34 s against 7 s for 4,900 ActivityWatch files here). Folders are used only when
    every visible file of that suffix in them is wanted, so nothing extra is read.
    """
    suffixes = {Path(f).suffix for f in files}
    if len(suffixes) != 1:
        return list(files), None
    suffix = suffixes.pop()
    by_folder: dict[Path, set[str]] = {}
    for f in files:
        by_folder.setdefault(Path(f).parent, set()).add(str(f))
    for folder, wanted in by_folder.items():
        present = {
            str(p) for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix) and p.name[0] not in "._"
        }
        if present != wanted:
            return list(files), None
    return sorted(str(f) for f in by_folder), f"*{suffix}"


def _text_reader(spark: SparkSession, files: Sequence[str]) -> tuple[Any, list[str]]:
    paths, glob = scan_paths(files)
    reader = spark.read.option("pathGlobFilter", glob) if glob else spark.read
    return reader, paths


def lines_schema() -> StructType:
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("source_file", T.StringType(), False),
            T.StructField("source_line", T.LongType(), False),
            T.StructField("value", T.StringType(), True),
        ]
    )


def read_json_lines(spark: SparkSession, files: Sequence[str]) -> DataFrame:
    """One row per non-blank line: source_file, source_line (1-based line in the file), value.

    Line order: spark.read.text reads each file split front to back, splits of a file are
    scheduled in offset order (Spark packs equal-sized splits stably), and
    monotonically_increasing_id grows with the partition index and the row within the
    partition; so within one file the id grows with the line. It is assigned right at the scan,
    before any shuffle. Blank lines get a number but are not records (not read, not counted).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not files:
        return spark.createDataFrame([], lines_schema())
    reader, paths = _text_reader(spark, files)
    raw = reader.text(paths).select(
        F.input_file_name().alias("source_file"),
        F.monotonically_increasing_id().alias("_scan_order"),
        "value",
    )
    numbered = raw.withColumn(
        "source_line", F.row_number().over(Window.partitionBy("source_file").orderBy("_scan_order")).cast("long")
    )
    return numbered.filter(F.trim("value") != "").select("source_file", "source_line", "value")


def read_documents(spark: SparkSession, files: Sequence[str]) -> DataFrame:
    """One row per file (source_file, value): for formats where a file is one JSON document."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if not files:
        schema_ = T.StructType(
            [T.StructField("source_file", T.StringType(), False), T.StructField("value", T.StringType(), True)]
        )
        return spark.createDataFrame([], schema_)
    reader, paths = _text_reader(spark, files)
    return reader.text(paths, wholetext=True).select(F.input_file_name().alias("source_file"), F.col("value"))


def split_json_document(text: str | None) -> list[str]:
    """The records of one JSON document: the elements of an array, or each object of a file of
    concatenated objects (Kinesis Firehose writes records back to back, with or without newlines).

    Text that is not JSON from some point on becomes one last record (the rest of the file), so
    it is quarantined as malformed rather than lost.
    """
    if text is None:
        return []
    decoder = json.JSONDecoder()
    out: list[str] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            return out
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            out.append(text[pos:])
            return out
        if isinstance(value, list) and not out and text[end:].strip() == "":
            return [json.dumps(v) for v in value]
        out.append(text[pos:end])
        pos = end


def read_json_documents(spark: SparkSession, files: Sequence[str]) -> DataFrame:
    """Records of JSON document files as lines_schema rows: source_line is the record's 1-based
    position in its file."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if not files:
        return spark.createDataFrame([], lines_schema())
    # A lambda without type hints: Spark would otherwise try (and warn) to infer an Arrow UDF from them.
    split = F.udf(lambda text: split_json_document(text), T.ArrayType(T.StringType()))
    docs = read_documents(spark, files)
    return docs.select("source_file", F.posexplode(split(F.col("value"))).alias("pos", "value")).select(
        "source_file", (F.col("pos") + 1).cast("long").alias("source_line"), "value"
    )


# --- column helpers -------------------------------------------------------------------------


def parse_json(value: Column, struct: StructType) -> Column:
    """from_json in PERMISSIVE mode; the struct must end with a _corrupt_record string field."""
    from pyspark.sql import functions as F

    return F.from_json(value, struct, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT})


def allow_listed_record(value: Column, paths: Sequence[str]) -> Column:
    """A record as the quarantine keeps it when its source carries free text (titles, URLs): only
    the allow-listed JSON paths, each as delivered; null when the record is not a JSON object (its
    file and line still point to it in landing)."""
    from pyspark.sql import functions as F

    fields = [F.get_json_object(value, f"$.{p}").alias(p) for p in paths]
    return F.when(F.json_object_keys(value).isNotNull(), F.to_json(F.struct(*fields)))


def blank(col: Column) -> Column:
    """Missing: null or only white space."""
    from pyspark.sql import functions as F

    return col.isNull() | (F.trim(col) == "")


def timestamp(col: Column) -> Column:
    """ISO-8601 text to a UTC timestamp; null when it cannot be parsed (never an error)."""
    from pyspark.sql import functions as F

    return F.try_to_timestamp(col)


def timestamp_reasons(text: Column, name: str, required: bool = True) -> list[tuple[Column, str]]:
    """Reasons for a timestamp field: missing (when required), or present but not a timestamp."""
    checks = [(~blank(text) & timestamp(text).isNull(), f"invalid {name}")]
    return ([(blank(text), f"missing {name}")] if required else []) + checks


def corrupt_reasons(
    value: Column, parsed: Column, typed: Iterable[tuple[str, Column, str]]
) -> list[tuple[Column, str]]:
    """Reasons for a record from_json flagged: not a JSON object at all, or a field of the wrong type.

    typed: (JSON path, parsed field, label) of the non-string fields, so that the reason names it.
    """
    from pyspark.sql import functions as F

    corrupt = parsed[CORRUPT].isNotNull()
    out = [(corrupt & F.json_object_keys(value).isNull(), MALFORMED_JSON)]
    for path, typed_field, label in typed:
        out.append(
            (corrupt & F.get_json_object(value, path).isNotNull() & typed_field.isNull(), f"{label} has the wrong type")
        )
    out.append((corrupt, "a field has the wrong type"))
    return out


def first_reason(checks: Sequence[tuple[Column, str]]) -> Column:
    """The first failing check's reason, null when every check passes (null conditions pass)."""
    from pyspark.sql import functions as F

    return F.coalesce(*[F.when(cond, F.lit(reason)) for cond, reason in checks], F.lit(None).cast("string"))


def not_ready_category(name: Column) -> Column:
    """break, meeting, training or other, from words in a status or activity name
    (schema.NOT_READY_CATEGORIES, first category first)."""
    from pyspark.sql import functions as F

    lowered = F.lower(F.coalesce(name, F.lit("")))
    out = None
    for category, words in schema.NOT_READY_CATEGORIES.items():
        matches = F.lit(False)
        for word in words:
            matches = matches | lowered.contains(word)
        out = F.when(matches, F.lit(category)) if out is None else out.when(matches, F.lit(category))
    assert out is not None
    return out.otherwise(F.lit("other"))


def local_day(ts: Column, tz: Column) -> Column:
    """The calendar day of a UTC timestamp in the given IANA time zone."""
    from pyspark.sql import functions as F

    return F.to_date(F.from_utc_timestamp(ts, tz))


def landing_day(source_file: Column) -> Column:
    """The landing partition's day, from a file path such as .../day=2026-10-05/part.jsonl."""
    from pyspark.sql import functions as F

    return F.to_date(F.regexp_extract(source_file, r"day=(\d{4}-\d{2}-\d{2})", 1))


def day_value(day: dt.date | None) -> Column:
    """The given day, or (None: several days in one pass) each row's landing day from source_file."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if day is None:
        return landing_day(F.col("source_file"))
    return F.lit(day).cast(T.DateType())


def outside_day(ts: Column, tz: Column, day: dt.date | None) -> Column:
    """True when the timestamp's site-local day is more than one day from the landing day."""
    from pyspark.sql import functions as F

    return F.abs(F.datediff(local_day(ts, tz), day_value(day))) > 1


def conform(df: DataFrame, table: schema.Table) -> DataFrame:
    """The table's declared columns, in declared order and types (nothing else passes)."""
    from pyspark.sql import functions as F

    fields = table.spark_schema().fields
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in fields])


def ranked(df: DataFrame, key: Sequence[str], order: Sequence[Column]) -> DataFrame:
    """Adds _dup_rank: 1 for the row kept per key and day, 2.. for its duplicates (deterministic order).

    Only rows that pass rank against each other: a quarantined record never hides a good one.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(F.col("reason").isNull(), F.col("day"), *[F.col(k) for k in key]).orderBy(*order)
    return df.withColumn("_dup_rank", F.row_number().over(window))


def quarantine_rows(classified: DataFrame, source: str, day: dt.date | None = None) -> DataFrame:
    """Quarantine records (schema.QUARANTINE_COLUMNS) of the classified rows that have a reason."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    return classified.filter(F.col("reason").isNotNull()).select(
        (F.col("day") if day is None else F.lit(day)).cast(T.DateType()).alias("day"),
        F.lit(source).alias("source"),
        F.col("source_file").cast("string"),
        F.col("source_line").cast("long"),
        F.col("reason").cast("string"),
        F.col("raw_record").cast("string"),
    )


def kept_rows(classified: DataFrame) -> DataFrame:
    """The classified rows that pass: no reason, first of their duplicates."""
    from pyspark.sql import functions as F

    return classified.filter(F.col("reason").isNull() & (F.col("_dup_rank") == 1))


# --- writing --------------------------------------------------------------------------------


def write_partition(df: DataFrame, root: Path, day: dt.date, drop: Sequence[str] = ()) -> Path:
    """Replace root/day=D by the rows of df (an empty day gets a schema-only file), through lake.swap_in:
    an interrupted run leaves either the old or the new partition."""

    def build(folder: Path) -> None:
        # "error", not its synonym "errorifexists", which the Spark Connect client refuses.
        df.drop(*drop).write.mode("error").parquet(str(folder))

    return lake.swap_in(lake.partition(root, day), build)


def write_day_partitions(
    df: DataFrame, root: Path, days: Sequence[dt.date], days_with_rows: set[dt.date], drop: Sequence[str] = ()
) -> None:
    """Replace root/day=D for every D in days with df's rows of that day, in one Spark job.

    Dynamic partition overwrite replaces exactly the days that have rows (each swapped in at
    commit); a processed day without rows gets a schema-only partition, so no stale rows of an
    earlier run survive. Other days are never touched.
    """
    from pyspark.sql import functions as F

    root.mkdir(parents=True, exist_ok=True)
    file_columns = [c for c in df.columns if c not in drop or c == "day"]
    if days_with_rows:
        (
            df.select(*file_columns)
            .filter(F.col("day").isin(sorted(days_with_rows)))
            .write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .partitionBy("day")
            .parquet(str(root))
        )
    empty = df.limit(0)
    for day in days:
        if day not in days_with_rows:
            write_partition(empty, root, day, drop=["day"])


def count_by_day(spark: SparkSession, root: Path, days: Sequence[dt.date]) -> dict[dt.date, int]:
    """Rows per day partition, read back from the written files (Parquet footers: cheap)."""
    from pyspark.sql import functions as F

    folders = [str(lake.partition(root, d)) for d in days if lake.partition(root, d).is_dir()]
    if not folders:
        return {}
    df = spark.read.option("basePath", str(root)).parquet(*folders)
    return {r["day"]: int(r["n"]) for r in df.groupBy("day").agg(F.count(F.lit(1)).alias("n")).collect()}


@dataclass(frozen=True)
class SourcePart:
    """One source's classified records for a table: the canonical columns (with day and source),
    source_file, source_line, raw_record, reason (null when good) and _dup_rank; extra: per-day
    report fields of the source (files read, input not ingested by design)."""

    source: str
    classified: DataFrame
    extra: Mapping[dt.date, Mapping[str, Any]]
    # Stage only the landing day folder as source_file (the file name is a host name, which
    # must not reach staged); the quarantine keeps the full path.
    stage_folder_only: bool = False


def count_by_day_and(
    spark: SparkSession, root: Path, days: Sequence[dt.date], column: str
) -> dict[tuple[dt.date, str], int]:
    """Rows per (day partition, value of column), read back from the written files."""
    from pyspark.sql import functions as F

    folders = [str(lake.partition(root, d)) for d in days if lake.partition(root, d).is_dir()]
    if not folders:
        return {}
    df = spark.read.option("basePath", str(root)).parquet(*folders)
    if column not in df.columns:  # only schema-only partitions
        return {}
    grouped = df.groupBy("day", column).agg(F.count(F.lit(1)).alias("n")).collect()
    return {(r["day"], r[column]): int(r["n"]) for r in grouped}


def ingest_days(
    settings: Settings, table: schema.Table, days: Sequence[dt.date], parts: Sequence[SourcePart]
) -> list[dict[str, Any]]:
    """Write several days' staged partitions (all sources together) and quarantine partitions (one
    folder per source), then one reconciliation report per day with a section per source.

    A record is read once and ends staged, quarantined or as a duplicate; staged and quarantined
    counts come from the written files, so the check covers the writes too. Raises
    ReconciliationError for the first day and source that do not add up (after writing every report).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    if not parts:
        raise ValueError(f"{table.name}: no source to ingest")
    spark = parts[0].classified.sparkSession
    outcome = (
        F.when(F.col("reason").isNotNull(), F.col("reason"))
        .when(F.col("_dup_rank") > 1, F.lit("_duplicate"))
        .otherwise(F.lit("_kept"))
    )
    tally: dict[tuple[dt.date, str], dict[str, int]] = {}
    persisted = [p.classified.persist(StorageLevel.MEMORY_AND_DISK) for p in parts]
    try:
        for part, classified in zip(parts, persisted, strict=True):
            for r in classified.groupBy("day", outcome.alias("outcome")).agg(F.count(F.lit(1)).alias("n")).collect():
                tally.setdefault((r["day"], part.source), {})[r["outcome"]] = int(r["n"])
            with_quarantine = {
                d for (d, s), t in tally.items() if s == part.source and set(t) - {"_kept", "_duplicate"}
            }
            write_day_partitions(
                quarantine_rows(classified, part.source),
                settings.lake.ingest_quarantine_root(table, part.source),
                days,
                with_quarantine,
            )
        staged_parts = [
            c.withColumn("source_file", F.regexp_replace(F.col("source_file"), r"[^/]*$", ""))
            if part.stage_folder_only
            else c
            for part, c in zip(parts, persisted, strict=True)
        ]
        staged = staged_parts[0]
        for more in staged_parts[1:]:
            staged = staged.unionByName(more)
        with_staged = {d for (d, _), t in tally.items() if t.get("_kept")}
        write_day_partitions(
            conform(kept_rows(staged), table),
            settings.lake.table_root(table),
            days,
            with_staged,
            drop=table.partition_by,
        )
    finally:
        for classified in persisted:
            classified.unpersist()
    staged_n = count_by_day_and(spark, settings.lake.table_root(table), days, "source")
    # One read-back per source for all days (not one Spark job per source and day).
    quarantined = {
        p.source: count_by_day(spark, settings.lake.ingest_quarantine_root(table, p.source), days) for p in parts
    }
    reports = []
    for day in days:
        sections: dict[str, dict[str, Any]] = {}
        for part in parts:
            counts = dict(tally.get((day, part.source), {}))
            kept = counts.pop("_kept", 0)
            duplicates = counts.pop("_duplicate", 0)
            quarantined_n = quarantined[part.source].get(day, 0)
            section: dict[str, Any] = {
                "read": kept + duplicates + sum(counts.values()),
                "staged": staged_n.get((day, part.source), 0),
                "quarantined": quarantined_n,
                "duplicates": duplicates,
                "quarantine_reasons": dict(sorted(counts.items())),
                **part.extra.get(day, {}),
            }
            section["reconciled"] = section["read"] == section["staged"] + section["quarantined"] + duplicates
            sections[part.source] = section
        totals = {
            k: sum(int(sec[k]) for sec in sections.values()) for k in ("read", "staged", "quarantined", "duplicates")
        }
        reasons: dict[str, int] = {}
        for sec in sections.values():
            for reason, n in sec["quarantine_reasons"].items():
                reasons[reason] = reasons.get(reason, 0) + n
        report: dict[str, Any] = {
            "table": table.name,
            "day": day.isoformat(),
            **totals,
            "quarantine_reasons": dict(sorted(reasons.items())),
            "sources": sections,
            "reconciled": all(sec["reconciled"] for sec in sections.values()),
        }
        lake.write_json_atomic(settings.lake.ingest_report(table, day), report)
        reports.append(report)
    for report in reports:
        for source, sec in report["sources"].items():
            if not sec["reconciled"]:
                raise ReconciliationError(
                    f"{table.name} day={report['day']} source {source}: read {sec['read']} records but staged "
                    f"{sec['staged']} + quarantined {sec['quarantined']} + duplicates {sec['duplicates']}"
                )
    return reports


def read_table_partitions(
    spark: SparkSession, settings: Settings, table: schema.Table, days: Sequence[dt.date]
) -> DataFrame:
    """Several days of a canonical table, with its declared columns (day from the folder names)."""
    from pyspark.sql import types as T

    root = settings.lake.table_root(table)
    missing = [d for d in days if not lake.partition(root, d).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{table.name} has no partition for {', '.join(d.isoformat() for d in missing)} ({root}); "
            "run its job for those days first"
        )
    file_fields = [f for f in table.spark_schema().fields if f.name not in table.partition_by]
    schema_ = T.StructType([*file_fields, T.StructField("day", T.DateType(), False)])
    df = spark.read.schema(schema_).option("basePath", str(root)).parquet(*[str(lake.partition(root, d)) for d in days])
    return conform(df, table)


def json_lines_part(
    spark: SparkSession,
    settings: Settings,
    days: Sequence[dt.date],
    source: str,
    classify: Callable[[DataFrame, DataFrame], DataFrame],
) -> SourcePart:
    """landing/<source>/day=D/*.jsonl and *.json (one document of records per file, as Kinesis
    Firehose delivers them) classified by the source's classify(lines, roster_map)."""
    roster_map = roster_frame(spark, roster.read_roster(settings))
    line_files = landing_files_of(settings, source, days, ".jsonl")
    doc_files = landing_files_of(settings, source, days, ".json")
    lines = read_json_lines(spark, [f for fs in line_files.values() for f in fs]).unionByName(
        read_json_documents(spark, [f for fs in doc_files.values() for f in fs])
    )
    extra = {day: {"files": len(line_files[day]) + len(doc_files[day])} for day in days}
    return SourcePart(source, classify(lines, roster_map), extra)


def summarize(table: schema.Table, reports: Sequence[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """The run's summary (counts per day and in total); raises BadRowShareError after all days are written."""
    totals = {k: sum(int(r[k]) for r in reports) for k in ("read", "staged", "quarantined", "duplicates")}
    summary = {"table": table.name, **totals, "days": {r["day"]: r for r in reports}}
    too_bad = [
        f"{r['day']}: {r['quarantined']} of {r['read']}"
        for r in reports
        if r["read"] and r["quarantined"] / r["read"] > settings.max_bad_row_share
    ]
    if too_bad:
        raise BadRowShareError(
            f"{table.name}: quarantined share above {settings.max_bad_row_share:.1%} "
            f"(TEAMLENS_MAX_BAD_ROW_SHARE) on {'; '.join(too_bad)}. The partitions are written; see "
            f"{settings.lake.quarantine} and {settings.lake.ingest_reports(table)}."
        )
    return summary
