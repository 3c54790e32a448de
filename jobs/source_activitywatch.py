"""ActivityWatch bucket exports (landing/activitywatch/day=D/*.json, one JSON document per host and day).

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

The host of a bucket (HOST_ORIGINS, first that is usable): its own hostname; the suffix of its id
(aw-watcher-window_HOST); the one host the document's other buckets name (when they agree on one);
the file name (landing/activitywatch/day=D/HOST.json, docs/landing.md). "unknown" (any case, as
aw-watcher-web writes it) and blank are not usable. An event whose host came from the other
buckets or the file name is counted per origin in the ingest report's notes (counts only: a host
name identifies a person, so none is written to a report or log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from foundation import schema
from foundation.desktop_rules import DesktopRules
from jobs import columns, reading
from jobs.desktop_categories import category_column
from jobs.sources import Parsed, Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

BUCKET_TYPES = {"currentwindow": "window", "afkstatus": "afk", "web.tab.current": "browser"}
CATEGORISED_BUCKETS = ("window", "browser")
# What the quarantine keeps of a bad event: no title, no URL.
QUARANTINED_PATHS = ("timestamp", "duration", "data.app", "data.status")
AFK_STATUSES = ("afk", "not-afk")
# A hostname that names no host: aw-watcher-web writes "unknown".
UNUSABLE_HOSTS = ("", "unknown")
# Where an event's host came from, when not from its own bucket: the ingest report's note per origin.
HOST_FROM_OTHER_BUCKETS = "host from the export's other buckets"
HOST_FROM_FILE_NAME = "host from the file name"
# The file name of an export is its host's: HOST.json (any case, optionally compressed).
FILE_NAME_HOST_PATTERN = r"([^/]+?)\.(?i:json)(?:\.[A-Za-z0-9]+)?$"


def document_schema() -> StructType:
    """A bucket export: events stay JSON text here, each is parsed on its own (event_schema)."""
    from pyspark.sql import types as T

    s = T.StringType()
    bucket = T.StructType(
        [T.StructField("type", s), T.StructField("hostname", s), T.StructField("events", T.ArrayType(s))]
    )
    return T.StructType([T.StructField("buckets", T.MapType(s, bucket)), T.StructField(columns.CORRUPT, s)])


def event_schema() -> StructType:
    """The event fields read; title and url only feed the category."""
    from pyspark.sql import types as T

    s = T.StringType()
    data = T.StructType([T.StructField(name, s) for name in ("app", "title", "url", "status")])
    return T.StructType(
        [
            T.StructField("timestamp", s),
            T.StructField("duration", T.DoubleType()),
            T.StructField("data", data),
            T.StructField(columns.CORRUPT, s),
        ]
    )


def usable_host(host: Column) -> Column:
    """The trimmed host, null when it is blank or "unknown" (UNUSABLE_HOSTS, any case)."""
    from pyspark.sql import functions as F

    trimmed = F.trim(host)
    return F.when(~F.coalesce(F.lower(trimmed).isin(*UNUSABLE_HOSTS), F.lit(True)), trimmed)


def _events(documents: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(every event of every valid document, numbered, with its bucket's own host and the hosts the
    document's buckets name; one row per invalid document)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    d = F.col("_d")
    parsed = documents.select("source_file", "value", columns.parse_json(F.col("value"), document_schema()).alias("_d"))
    doc_reason = columns.first_reason(
        [
            *columns.corrupt_reasons(F.col("value"), d, [("$.buckets", d["buckets"], "buckets")]),
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
        F.lit(None).cast(T.StringType()).alias("own_host"),
        F.lit(None).cast(T.ArrayType(T.StringType())).alias("document_hosts"),
        F.col("value").alias("raw_record"),
        "doc_reason",
    )
    buckets = parsed.filter(F.col("doc_reason").isNull()).select(
        "source_file", F.posexplode(d["buckets"]).alias("bucket_pos", "bucket_key", "b")
    )
    key_suffix = F.regexp_extract(F.col("bucket_key"), r"^[^_]*_(.+)$", 1)
    own_host = F.coalesce(usable_host(F.col("b")["hostname"]), usable_host(key_suffix))
    buckets = buckets.withColumn("own_host", own_host).withColumn(
        "document_hosts", F.array_sort(F.collect_set("own_host").over(Window.partitionBy("source_file")))
    )
    events = buckets.select(
        "source_file",
        "bucket_pos",
        "bucket_key",
        F.col("b")["type"].alias("bucket_type"),
        F.col("b")["hostname"].alias("hostname"),
        "own_host",
        "document_hosts",
        F.posexplode(F.col("b")["events"]).alias("event_pos", "raw_record"),
    )
    order = Window.partitionBy("source_file").orderBy("bucket_pos", "event_pos")
    events = events.withColumn("source_line", F.row_number().over(order).cast(T.LongType()))
    return events, bad


def records(documents: DataFrame) -> DataFrame:
    """One row per record: each event of an ingested bucket type, and each invalid document, with
    its host (agent_key) and where the host came from (host_origin: null when from its own bucket,
    else HOST_FROM_OTHER_BUCKETS or HOST_FROM_FILE_NAME).

    documents: source_file, value (reading.read_documents).
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
        "own_host",
        "document_hosts",
        "raw_record",
        F.lit(None).cast(T.StringType()).alias("doc_reason"),
    )
    rows = ingested.unionByName(bad)
    agreed = F.when(F.size(F.col("document_hosts")) == 1, F.col("document_hosts")[0])
    from_file = usable_host(F.regexp_extract(F.col("source_file"), FILE_NAME_HOST_PATTERN, 1))
    origin = (
        F.when(F.col("own_host").isNotNull(), F.lit(None))
        .when(agreed.isNotNull(), F.lit(HOST_FROM_OTHER_BUCKETS))
        .when(from_file.isNotNull(), F.lit(HOST_FROM_FILE_NAME))
    )
    return rows.withColumn("agent_key", F.coalesce(F.col("own_host"), agreed, from_file)).withColumn(
        "host_origin", F.when(F.col("doc_reason").isNull(), origin).cast(T.StringType())
    )


def host_notes(rows: DataFrame) -> DataFrame:
    """Events whose host came from the document's other buckets or its file name (source_file, note,
    records), per file and origin: counts only, never the host."""
    from pyspark.sql import functions as F

    return (
        rows.filter(F.col("host_origin").isNotNull())
        .groupBy("source_file", F.col("host_origin").alias("note"))
        .agg(F.count(F.lit(1)).alias("records"))
    )


def not_ingested(documents: DataFrame) -> DataFrame:
    """Events of other bucket types (source_file, kind, records), counted per file and bucket type:
    dropped, never silently."""
    from pyspark.sql import functions as F

    events, _ = _events(documents)
    return (
        events.filter(~F.coalesce(F.col("bucket_type").isin(*BUCKET_TYPES), F.lit(False)))
        .groupBy("source_file", F.coalesce(F.col("bucket_type"), F.lit("(no type)")).alias("kind"))
        .agg(F.count(F.lit(1)).alias("records"))
    )


def event_rows(documents: DataFrame, rules: DesktopRules) -> DataFrame:
    """One parsed row per record (jobs.sources contract): the events of ingested buckets, with the
    category of window and browser events, and the invalid documents."""
    from pyspark.sql import functions as F

    e = F.col("_e")
    host = F.col("agent_key")
    parsed = records(documents).withColumn("_e", columns.parse_json(F.col("raw_record"), event_schema()))
    bucket = F.coalesce(*[F.when(F.col("bucket_type") == k, F.lit(v)) for k, v in BUCKET_TYPES.items()])
    status = e["data"]["status"]
    start = columns.timestamp(e["timestamp"])
    is_afk = bucket == "afk"
    data = e["data"]
    category = category_column(rules, data["app"], data["title"], data["url"], bucket == "browser")
    checks = [
        *columns.corrupt_reasons(F.col("raw_record"), e, [("$.duration", e["duration"], "duration")]),
        (columns.blank(host), "missing hostname"),
        *columns.timestamp_reasons(e["timestamp"], "timestamp"),
        (e["duration"].isNull(), "missing duration"),
        (e["duration"] < 0, "negative duration"),
        (is_afk & columns.blank(status), "missing data.status"),
        (is_afk & ~status.isin(*AFK_STATUSES), "invalid data.status"),
    ]
    return parsed.select(
        bucket.alias("bucket"),
        start.alias("start_ts"),
        e["duration"].alias("duration_seconds"),
        F.when(bucket.isin(*CATEGORISED_BUCKETS), category).alias("app_category"),
        F.when(is_afk, status == "afk").alias("afk"),
        host.alias("agent_key"),
        start.alias("day_ts"),
        F.coalesce(F.col("doc_reason"), columns.first_reason(checks)).alias("reason"),
        "source_file",
        "source_line",
        columns.allow_listed_record(F.col("raw_record"), QUARANTINED_PATHS).alias("raw_record"),
    )


def parse_buckets(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """The documents are read once (persisted): both the rows and the not-ingested counts use them."""
    from pyspark import StorageLevel

    documents = reading.read_documents(spark, files).persist(StorageLevel.MEMORY_AND_DISK)
    rows = event_rows(documents, ctx.require_desktop_rules())
    return Parsed(rows, not_ingested(documents), (documents,), notes=host_notes(records(documents)))


ACTIVITYWATCH = Source(
    name="activitywatch",
    table=schema.DESKTOP_ACTIVITY,
    suffixes=(".json",),
    identity="desktop_host",
    parse=parse_buckets,
    order=(("duration_seconds", True),),
    field_sources={c.name: c.source for c in schema.DESKTOP_ACTIVITY.columns if c.source},
    description="ActivityWatch bucket exports (window, afk and browser buckets)",
    record_time="timestamp",
    always=True,
    stage_folder_only=True,
    ids_unique=True,
)

SOURCES = [ACTIVITYWATCH]
