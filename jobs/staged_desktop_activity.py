"""Staged desktop activity from ActivityWatch bucket exports (landing/activitywatch, one JSON document
per host and day).

Grain (schema.DESKTOP_ACTIVITY): one row per desktop event of a window (currentwindow), afk
(afkstatus) or browser (web.tab.current, aw-watcher-web) bucket per landing day; a repeated
(agent, bucket, start_ts) is kept once, the longest duration winning (ActivityWatch extends an
event's duration as heartbeats arrive).

Records: one per event of an ingested bucket type, plus one per document that is not valid JSON.
Events of other buckets (editor, input or custom watchers) are not records: they are counted per
bucket type in the report's "not_ingested" and dropped unread.
source_line is the event's position in its document (1-based, buckets in document order).

Minimisation: of an event only timestamp, duration, data.app, data.title, data.url and
data.status are read. Application, title and URL become the policy's desktop category
(jobs.desktop_categories) and are dropped there: no title or URL reaches staged, and the
quarantine keeps only timestamp, duration, data.app and data.status of a bad event. Host names
never reach staged: the agent comes from the roster's desktop_host, and the staged source_file is
the landing day folder (the file in it is the host's of the row's agent).

Day rule: `day` is the landing partition's day; an event whose timestamp, in the agent's site
time zone, lies more than one day from it is quarantined.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from foundation import roster, schema
from foundation.settings import Settings
from jobs import common
from jobs.desktop_categories import category_column

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from foundation.policy import Policy

TABLE = schema.DESKTOP_ACTIVITY
SOURCE = "activitywatch"
BUCKET_TYPES = {"currentwindow": "window", "afkstatus": "afk", "web.tab.current": "browser"}
CATEGORISED_BUCKETS = ("window", "browser")
# What the quarantine keeps of a bad event: no title, no URL.
QUARANTINED_PATHS = ("timestamp", "duration", "data.app", "data.status")
AFK_STATUSES = ("afk", "not-afk")


def document_schema() -> StructType:
    """A bucket export: events stay JSON text here, each is parsed on its own (event_schema)."""
    from pyspark.sql import types as T

    s = T.StringType()
    bucket = T.StructType(
        [T.StructField("type", s), T.StructField("hostname", s), T.StructField("events", T.ArrayType(s))]
    )
    return T.StructType([T.StructField("buckets", T.MapType(s, bucket)), T.StructField(common.CORRUPT, s)])


def event_schema() -> StructType:
    """The event fields the job reads; title and url only feed the category."""
    from pyspark.sql import types as T

    s = T.StringType()
    data = T.StructType([T.StructField(name, s) for name in ("app", "title", "url", "status")])
    return T.StructType(
        [
            T.StructField("timestamp", s),
            T.StructField("duration", T.DoubleType()),
            T.StructField("data", data),
            T.StructField(common.CORRUPT, s),
        ]
    )


def _events(documents: DataFrame, keep: list[str] | None = None) -> tuple[DataFrame, DataFrame]:
    """(every event of every valid document, numbered; one row per invalid document).

    keep: extra columns of documents carried on the events.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    keep = keep or []
    d = F.col("_d")
    parsed = documents.select(
        "source_file", "value", *keep, common.parse_json(F.col("value"), document_schema()).alias("_d")
    )
    doc_reason = common.first_reason(
        [
            *common.corrupt_reasons(F.col("value"), d, [("$.buckets", d["buckets"], "buckets")]),
            (d["buckets"].isNull(), "missing buckets"),
        ]
    )
    parsed = parsed.withColumn("doc_reason", doc_reason)
    bad = parsed.filter(F.col("doc_reason").isNotNull()).select(
        "source_file",
        F.lit(None).cast(T.LongType()).alias("source_line"),
        F.lit(None).cast(T.StringType()).alias("bucket_key"),
        F.lit(None).cast(T.StringType()).alias("bucket_type"),
        F.lit(None).cast(T.StringType()).alias("hostname"),
        F.col("value").alias("raw_record"),
        "doc_reason",
    )
    buckets = parsed.filter(F.col("doc_reason").isNull()).select(
        "source_file", *keep, F.posexplode(d["buckets"]).alias("bucket_pos", "bucket_key", "b")
    )
    events = buckets.select(
        "source_file",
        *keep,
        "bucket_pos",
        "bucket_key",
        F.col("b")["type"].alias("bucket_type"),
        F.col("b")["hostname"].alias("hostname"),
        F.posexplode(F.col("b")["events"]).alias("event_pos", "raw_record"),
    )
    order = Window.partitionBy("source_file").orderBy("bucket_pos", "event_pos")
    events = events.withColumn("source_line", F.row_number().over(order).cast(T.LongType()))
    return events, bad


def records(documents: DataFrame) -> DataFrame:
    """One row per record: each event of a window or afk bucket, and each invalid document.

    documents: source_file, value (common.read_documents).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    events, bad = _events(documents)
    ingested = events.filter(F.col("bucket_type").isin(*BUCKET_TYPES)).select(
        "source_file",
        "source_line",
        "bucket_key",
        "bucket_type",
        "hostname",
        "raw_record",
        F.lit(None).cast(T.StringType()).alias("doc_reason"),
    )
    return ingested.unionByName(bad)


def not_ingested(documents: DataFrame, by: list[str] | None = None) -> DataFrame:
    """Events of other bucket types, counted per type (bucket_type, events): dropped, never silently.

    by: extra columns of documents to count by (e.g. the landing day).
    """
    from pyspark.sql import functions as F

    events, _ = _events(documents, keep=by or [])
    return (
        events.filter(~F.coalesce(F.col("bucket_type").isin(*BUCKET_TYPES), F.lit(False)))
        .groupBy(*(by or []), F.coalesce(F.col("bucket_type"), F.lit("(no type)")).alias("bucket_type"))
        .agg(F.count(F.lit(1)).alias("events"))
    )


def classify(records_: DataFrame, roster_map: DataFrame, policy: Policy, day: dt.date | None = None) -> DataFrame:
    """Every record of the day once: canonical columns, `reason` (null when it passes), `_dup_rank`."""
    from pyspark.sql import functions as F

    e = F.col("_e")
    host_from_key = F.regexp_extract(F.col("bucket_key"), r"^[^_]*_(.+)$", 1)
    host = F.lower(F.trim(F.coalesce(F.nullif(F.trim(F.col("hostname")), F.lit("")), host_from_key)))
    roster = roster_map.select(
        F.col("desktop_host").alias("_host"), "agent_pseudonym", F.col("site_timezone").alias("_tz")
    )
    parsed = records_.withColumn("_e", common.parse_json(F.col("raw_record"), event_schema())).withColumn(
        "_hostname", host
    )
    joined = parsed.join(F.broadcast(roster), F.col("_hostname") == F.col("_host"), "left")

    bucket = F.coalesce(*[F.when(F.col("bucket_type") == k, F.lit(v)) for k, v in BUCKET_TYPES.items()])
    status = e["data"]["status"]
    start = common.timestamp(e["timestamp"])
    is_afk = bucket == "afk"
    data = e["data"]
    category = category_column(policy, data["app"], data["title"], data["url"], bucket == "browser")
    checks = [
        *common.corrupt_reasons(F.col("raw_record"), e, [("$.duration", e["duration"], "duration")]),
        (common.blank(F.col("_hostname")), "missing hostname"),
        *common.timestamp_reasons(e["timestamp"], "timestamp"),
        (e["duration"].isNull(), "missing duration"),
        (e["duration"] < 0, "negative duration"),
        (is_afk & common.blank(status), "missing data.status"),
        (is_afk & ~status.isin(*AFK_STATUSES), "invalid data.status"),
        (F.col("agent_pseudonym").isNull(), common.NOT_IN_ROSTER),
        (common.outside_day(start, F.col("_tz"), day), "timestamp more than a day from the landing day"),
    ]
    classified = joined.select(
        common.day_value(day).alias("day"),
        F.lit(SOURCE).alias("source"),
        "agent_pseudonym",
        bucket.alias("bucket"),
        start.alias("start_ts"),
        e["duration"].alias("duration_seconds"),
        F.when(bucket.isin(*CATEGORISED_BUCKETS), category).alias("app_category"),
        F.when(is_afk, status == "afk").alias("afk"),
        "source_file",
        "source_line",
        common.allow_listed_record(F.col("raw_record"), QUARANTINED_PATHS).alias("raw_record"),
        F.coalesce(F.col("doc_reason"), common.first_reason(checks)).alias("reason"),
    )
    return common.ranked(
        classified,
        ["agent_pseudonym", "bucket", "start_ts"],
        [F.col("duration_seconds").desc(), F.col("source_file"), F.col("source_line")],
    )


def staged_rows(classified: DataFrame) -> DataFrame:
    """The rows to stage (schema.DESKTOP_ACTIVITY); source_file becomes the landing day folder (no host)."""
    from pyspark.sql import functions as F

    kept = common.kept_rows(classified).withColumn("source_file", F.regexp_replace(F.col("source_file"), r"[^/]*$", ""))
    return common.conform(kept, TABLE)


def transform(documents: DataFrame, roster_map: DataFrame, policy: Policy, day: dt.date | None = None) -> DataFrame:
    """The staged desktop activity of one landing day (schema.DESKTOP_ACTIVITY)."""
    return staged_rows(classify(records(documents), roster_map, policy, day))


def quarantine(documents: DataFrame, roster_map: DataFrame, policy: Policy, day: dt.date | None = None) -> DataFrame:
    """The quarantined records of one landing day (schema.QUARANTINE_COLUMNS)."""
    return common.quarantine_rows(classify(records(documents), roster_map, policy, day), SOURCE, day)


def run(spark: SparkSession, settings: Settings, days: list[dt.date], policy: Policy | None = None) -> dict[str, Any]:
    """landing/activitywatch/day=D/*.json -> staged/desktop_activity/day=D,
    quarantine/desktop_activity/ingest/activitywatch/day=D (and every other desktop source of the
    registry), reports/ingest/desktop_activity/day=D.json, all days in one pass."""
    from pyspark.sql import functions as F

    from foundation.policy import load_policy
    from jobs import ingest

    policy = policy or load_policy(settings.policy_path)
    files = common.landing_files_of(settings, SOURCE, days, ".json")
    documents = common.read_documents(spark, [f for day_files in files.values() for f in day_files]).persist()

    def part() -> common.SourcePart:
        roster_map = common.roster_frame(spark, roster.read_roster(settings))
        skipped: dict[dt.date, dict[str, int]] = {}
        by_day = not_ingested(documents.withColumn("_day", common.landing_day(F.col("source_file"))), by=["_day"])
        for r in by_day.collect():
            skipped.setdefault(r["_day"], {})[r["bucket_type"]] = int(r["events"])
        classified = classify(records(documents), roster_map, policy)
        extra = {
            day: {"files": len(f), "not_ingested": dict(sorted(skipped.get(day, {}).items()))}
            for day, f in files.items()
        }
        return common.SourcePart(SOURCE, classified, extra, stage_folder_only=True)

    try:
        return ingest.run_table(spark, settings, policy, TABLE, days, legacy=[part])
    finally:
        documents.unpersist()
