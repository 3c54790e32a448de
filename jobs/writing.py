"""Writing the zones and reconciling: the staged and quarantine day partitions of a table, the rows
read back from them, and one reconciliation report per table and day.

Layout (foundation.lake):
- staged/<table>/day=D/*.parquet: the table's columns without `day` (it is in the folder name,
  Hive style), as expectations.suites expects;
- quarantine/<table>/ingest/<source>/day=D/*.parquet: schema.QUARANTINE_COLUMNS (`day` in the
  folder name, as for staged);
- reports/ingest/<table>/day=D.json: counts only, never a value of a record, and the fingerprint of
  the pseudonymisation key the day's agents were resolved with (foundation.roster.key_fingerprint_of).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation import bad_rows, lake, schema
from foundation.errors import ReconciliationError
from foundation.settings import Settings
from jobs.columns import conform, kept_rows, quarantine_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class BadRowShareError(RuntimeError):
    """A source's share of quarantined records over the run is above settings.max_bad_row_share
    (raised after writing; foundation.bad_rows)."""


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
    source_file, source_line, raw_record, reason (null when good), _dup_rank and _superseded
    (jobs.columns.ranked); extra: per-day report fields of the source (files read, input not
    ingested by design)."""

    source: str
    classified: DataFrame
    extra: Mapping[dt.date, Mapping[str, Any]]
    # Stage only the landing day folder as source_file (the file name is a host name, which
    # must not reach staged); the quarantine keeps the full path.
    stage_folder_only: bool = False
    # Frames the source's parse persisted (read once, used twice); unpersisted after writing.
    persisted: Sequence[DataFrame] = ()
    # Days outside the run whose staged copy a delivery on a run day replaces: {day: run day}
    # (jobs.ingest.replaced_days); jobs.ingest.run_table then writes those days too.
    reingest: Mapping[dt.date, dt.date] = field(default_factory=dict)


def staged_lineage(classified: DataFrame, folder_only: bool) -> DataFrame:
    """The classified rows with the source_file to stage: the full path, or only its landing day
    folder (SourcePart.stage_folder_only)."""
    from pyspark.sql import functions as F

    if not folder_only:
        return classified
    return classified.withColumn("source_file", F.regexp_replace(F.col("source_file"), r"[^/]*$", ""))


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
    settings: Settings,
    table: schema.Table,
    days: Sequence[dt.date],
    parts: Sequence[SourcePart],
    *,
    key_fingerprint: str,
) -> list[dict[str, Any]]:
    """Write several days' staged partitions (all sources together) and quarantine partitions (one
    folder per source), then one reconciliation report per day with a section per source.

    key_fingerprint: the fingerprint of the key of the roster the parts were resolved with; every
    report records it (the release refuses a window whose days name two keys).

    A record is read once and ends staged, quarantined or as a duplicate (an identical copy, or an
    older version superseded by a later one: `superseded` counts those among the duplicates,
    docs/landing.md "Duplicates and redeliveries"); staged and quarantined
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
        .when(F.col("_superseded"), F.lit("_superseded"))
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
                d for (d, s), t in tally.items() if s == part.source and set(t) - {"_kept", "_duplicate", "_superseded"}
            }
            write_day_partitions(
                quarantine_rows(classified, part.source),
                settings.lake.ingest_quarantine_root(table, part.source),
                days,
                with_quarantine,
            )
        staged_parts = [staged_lineage(c, part.stage_folder_only) for part, c in zip(parts, persisted, strict=True)]
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
        for part in parts:
            for frame in part.persisted:
                frame.unpersist()
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
            superseded = counts.pop("_superseded", 0)
            duplicates = counts.pop("_duplicate", 0) + superseded
            quarantined_n = quarantined[part.source].get(day, 0)
            section: dict[str, Any] = {
                "read": kept + duplicates + sum(counts.values()),
                "staged": staged_n.get((day, part.source), 0),
                "quarantined": quarantined_n,
                "duplicates": duplicates,
                "superseded": superseded,
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
            "key_fingerprint": key_fingerprint,
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


def summarize(table: schema.Table, reports: Sequence[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """The run's summary (counts per day and in total); raises BadRowShareError after all days are
    written when a source's quarantined share over the run's days is above the limit
    (foundation.bad_rows: accepted source-days left out)."""
    totals = {k: sum(int(r[k]) for r in reports) for k in ("read", "staged", "quarantined", "duplicates")}
    summary = {"table": table.name, **totals, "days": {r["day"]: r for r in reports}}
    accepted = bad_rows.accepted_pairs(settings.lake)
    too_bad = bad_rows.over_limit(table.name, reports, settings.max_bad_row_share, accepted)
    if too_bad:
        raise BadRowShareError(
            "; ".join(too_bad) + f" (TEAMLENS_MAX_BAD_ROW_SHARE). The partitions are written; see "
            f"{settings.lake.quarantine} and {settings.lake.ingest_reports(table)}. After checking a day, accept "
            "it with `teamlens accept-bad-rows --source S --day D --reason TEXT` and run again."
        )
    return summary
