"""Column helpers of the source adapters and of jobs.ingest: parsing JSON, the reasons a record is
quarantined, the day rule, duplicates ranking, and the staged and quarantined rows of classified records.

Why shared: every source checks, ranks and quarantines the same way; one implementation keeps the
rules (and their privacy guarantees) equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from foundation import lake, schema

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructType

    from foundation.status_names import StatusNameKeywords

CORRUPT = "_corrupt_record"
MALFORMED_JSON = "malformed JSON"
NOT_IN_ROSTER = "agent not in roster"


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


def status_name_category(name: Column, keywords: StatusNameKeywords, unlisted: str | None = "other") -> Column:
    """break, meeting, training or other, from the policy's words in a status or activity name
    (foundation.status_names: first category first, case-insensitive); `unlisted` (default 'other',
    None: null) for a name with none of the words."""
    from pyspark.sql import functions as F

    lowered = F.lower(F.coalesce(name, F.lit("")))
    fallback = F.lit(unlisted).cast("string")
    out = None
    for category, words in keywords.categories:
        matches = F.lit(False)
        for word in words:
            matches = matches | lowered.contains(word)
        out = F.when(matches, F.lit(category)) if out is None else out.when(matches, F.lit(category))
    return fallback if out is None else out.otherwise(fallback)


def local_day(ts: Column, tz: Column) -> Column:
    """The calendar day of a UTC timestamp in the given IANA time zone."""
    from pyspark.sql import functions as F

    return F.to_date(F.from_utc_timestamp(ts, tz))


def landing_day(source_file: Column) -> Column:
    """The landing partition's day, from a file path such as .../day=2026-10-05/part.jsonl."""
    from pyspark.sql import functions as F

    return F.to_date(F.regexp_extract(source_file, lake.PARTITION_DAY_IN_PATH, 1))


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
