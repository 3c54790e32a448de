"""Plain JSON-lines desktop events (landing/desktop_events/day=D/*.jsonl), for desktop agents that
are not ActivityWatch: one event per line.

    {"host": "PC-0042", "timestamp": "2026-10-05T07:00:00Z", "duration": 93.5,
     "type": "window", "app": "Salesforce", "title": "..."}
    {"host": "PC-0042", "timestamp": "2026-10-05T07:00:00Z", "duration": 600, "type": "afk", "status": "not-afk"}

type is window (the focused application), afk (presence: status afk or not-afk) or browser.
Only host, timestamp, duration, type, app and status are read: the application becomes its policy
category (unknown: other) and titles and URLs are never parsed. Browser events (whose data are
URLs) are counted as not ingested, never read. The host is matched against the roster's
desktop_host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs import common
from jobs.sources import Parsed, Source, SourceContext
from teamlens import schema

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

TYPES = ("window", "afk")
SKIPPED_TYPES = ("browser",)
AFK_STATUSES = ("afk", "not-afk")


def event_schema() -> StructType:
    """The fields read; title and url are deliberately absent."""
    from pyspark.sql import types as T

    s = T.StringType()
    return T.StructType(
        [
            T.StructField("host", s),
            T.StructField("timestamp", s),
            T.StructField("duration", T.DoubleType()),
            T.StructField("type", s),
            T.StructField("app", s),
            T.StructField("status", s),
            T.StructField(common.CORRUPT, s),
        ]
    )


def parse_events(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """One parsed row per event line of a window or afk type (jobs.sources contract)."""
    from pyspark.sql import functions as F

    from jobs.staged_desktop_activity import app_category_frame

    lines = common.read_json_lines(spark, files)
    e = F.col("_e")
    parsed = lines.withColumn("_e", common.parse_json(F.col("value"), event_schema()))
    kind = F.lower(F.trim(e["type"]))
    skipped = parsed.filter(kind.isin(*SKIPPED_TYPES) & e[common.CORRUPT].isNull())
    events = parsed.filter(~F.coalesce(kind.isin(*SKIPPED_TYPES) & e[common.CORRUPT].isNull(), F.lit(False)))
    categories = app_category_frame(spark, ctx.policy)
    joined = events.join(F.broadcast(categories), F.lower(F.trim(e["app"])) == F.col("app_name"), "left")
    start = common.timestamp(e["timestamp"])
    is_afk = kind == "afk"
    checks = [
        *common.corrupt_reasons(F.col("value"), e, [("$.duration", e["duration"], "duration")]),
        (common.blank(e["host"]), "missing host"),
        *common.timestamp_reasons(e["timestamp"], "timestamp"),
        (e["duration"].isNull(), "missing duration"),
        (e["duration"] < 0, "negative duration"),
        (e["duration"] > schema.MAX_DAY_SECONDS, "duration longer than a day"),
        (common.blank(e["type"]), "missing type"),
        (~kind.isin(*TYPES), "unknown type (window, afk or browser)"),
        (is_afk & ~F.coalesce(e["status"].isin(*AFK_STATUSES), F.lit(False)), "invalid status (afk or not-afk)"),
    ]
    rows = joined.select(
        F.when(kind.isin(*TYPES), kind).alias("bucket"),
        start.alias("start_ts"),
        e["duration"].alias("duration_seconds"),
        F.when(kind == "window", F.coalesce(F.col("category"), F.lit("other"))).alias("app_category"),
        F.when(is_afk, e["status"] == "afk").alias("afk"),
        e["host"].alias("agent_key"),
        start.alias("day_ts"),
        common.first_reason(checks).alias("reason"),
        "source_file",
        "source_line",
        F.col("value").alias("raw_record"),
    )
    not_ingested = skipped.groupBy("source_file").agg(F.count(F.lit(1)).alias("records"))
    not_ingested = not_ingested.select("source_file", F.lit("browser (URLs are not ingested)").alias("kind"), "records")
    return Parsed(rows, not_ingested)


EVENTS = Source(
    name="desktop_events",
    table=schema.DESKTOP_ACTIVITY,
    suffixes=(".jsonl",),
    identity="desktop_host",
    parse=parse_events,
    order=(("duration_seconds", True),),
    field_sources={
        "agent_pseudonym": "host via roster desktop_host",
        "bucket": "type",
        "start_ts": "timestamp",
        "duration_seconds": "duration",
        "app_category": "app via the policy's desktop_app_categories",
        "afk": "status",
        "source_file": "the landing file",
        "source_line": "line in the file",
    },
    description="plain JSON-lines desktop events (window, afk; browser counted, not read)",
)

SOURCES = [EVENTS]
