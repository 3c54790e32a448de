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


ID_COLLISION = "id collision"
# The staged key of a distinct record that shares its id with an earlier one: id + this + 8 hex digits
# of its content fingerprint (stable across reruns).
DISTINCT_SUFFIX = "~"


def id_collision_reason(key: Sequence[str]) -> str:
    """The quarantine reason of records whose id is declared unique but that differ in content."""
    return f"{ID_COLLISION}: different records share {', '.join(key)}"


def fingerprint(values: Sequence[Column]) -> Column:
    """A record's content fingerprint: SHA-256 (hex) of its parsed values as JSON, timestamps as
    microseconds since the epoch (so that it does not depend on the session's time zone)."""
    from pyspark.sql import functions as F

    return F.sha2(F.to_json(F.array(F.struct(*values))), 256)


def ranked(
    df: DataFrame,
    key: Sequence[str],
    version: Sequence[Column],
    *,
    ids_unique: bool,
    id_column: str | None,
) -> DataFrame:
    """Decides which deliveries are the same record (docs/landing.md, "Duplicates and redeliveries"):
    adds _dup_rank (1: the delivery that counts, 2..: the same record delivered again) and
    _superseded (an older version of a record whose latest version is elsewhere), _group (the
    record's key as delivered), _vrank (1: its latest version) and _changed, sets reason to
    the id collision reason where the id is declared unique but the records differ, and suffixes
    id_column where distinct records share an id that is not declared unique.

    df: classified rows with day, source_file, source_line, reason and _fp (the content
    fingerprint). Rows rank per key across every landing day in df, never per day, so that a
    redelivery in another day's folder is recognised wherever the copies landed.
    version: the source's version order (best first); used only where ids are unique (only then
    are two contents of one id versions of one record). The latest version decides, valid or not:
    when it is invalid, it is quarantined and the older versions are duplicates. Among deliveries
    of the latest version, identical contents are one record (the first valid delivery in day,
    file and line order counts; an invalid copy never hides a valid one, it is quarantined).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    valid = F.col("reason").isNull()
    # The content breaks ties between the elements of one JSON array line (they share the line).
    position = [F.col("day").asc(), F.col("source_file").asc(), F.col("source_line").asc(), F.col("_fp").asc()]
    # A row without its key is its own group (it is quarantined anyway, for the missing key).
    solo = F.when(
        F.greatest(*[F.col(k).isNull() for k in key], F.lit(False)),
        F.concat_ws("#", F.col("source_file"), F.col("source_line").cast("string")),
    )
    df = df.withColumn("_group", F.to_json(F.struct(*[F.col(k) for k in key], solo.alias("_solo"))))
    group = [F.col("_group")]
    versions = [*version] if ids_unique else []
    whole = Window.partitionBy(*group)
    if versions:
        df = df.withColumn("_vrank", F.dense_rank().over(Window.partitionBy(*group).orderBy(*versions)))
    else:
        df = df.withColumn("_vrank", F.lit(1))
    latest = valid & (F.col("_vrank") == 1)
    copies = Window.partitionBy(*group, latest, F.col("_fp")).orderBy(*position)
    df = df.withColumn("_copy", F.row_number().over(copies))
    representative = latest & (F.col("_copy") == 1)
    contents = F.sum(F.when(representative, 1).otherwise(0)).over(whole)
    content_no = F.sum(F.when(representative, 1).otherwise(0)).over(
        Window.partitionBy(*group)
        .orderBy(representative.desc(), *position)
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    df = df.withColumn("_contents", contents).withColumn("_content_no", content_no)
    collide = ids_unique or id_column is None
    collision = representative & (F.col("_contents") > 1) & F.lit(collide)
    distinct_later = representative & (F.col("_contents") > 1) & F.lit(not collide) & (F.col("_content_no") > 1)
    out = df.withColumn("_superseded", valid & (F.col("_vrank") > 1))
    out = out.withColumn(
        "_dup_rank",
        F.when(F.col("_superseded"), F.lit(2)).when(latest, F.col("_copy")).otherwise(F.lit(1)),
    )
    out = out.withColumn("reason", F.when(collision, F.lit(id_collision_reason(key))).otherwise(F.col("reason")))
    if id_column is not None and not collide:
        suffixed = F.concat(F.col(id_column), F.lit(DISTINCT_SUFFIX), F.substring(F.col("_fp"), 1, 8))
        out = out.withColumn(id_column, F.when(distinct_later, suffixed).otherwise(F.col(id_column)))
    return out.withColumn("_changed", collision | distinct_later).drop("_copy", "_contents", "_content_no")


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
