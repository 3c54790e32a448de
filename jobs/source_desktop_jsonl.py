"""Plain JSON-lines desktop events (landing/desktop_events/day=D/*.jsonl), for desktop agents that
are not ActivityWatch: one event per line.

    {"host": "PC-0042", "timestamp": "2026-10-05T07:00:00Z", "duration": 93.5,
     "type": "window", "app": "Salesforce", "title": "..."}
    {"host": "PC-0042", "timestamp": "2026-10-05T07:00:00Z", "duration": 600, "type": "afk", "status": "not-afk"}

    {"host": "PC-0042", "timestamp": "2026-10-05T07:01:00Z", "duration": 40, "type": "browser",
     "url": "https://crm.example.com/case/1", "title": "..."}

type is window (the focused application), afk (presence: status afk or not-afk) or browser (the
active tab). Application, title and URL become the policy's desktop category
(jobs.desktop_categories) and are dropped there; the quarantine keeps only host, timestamp,
duration, type, app and status of a bad line. The host is matched against the roster's
desktop_host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from foundation import schema
from jobs import columns, reading
from jobs.desktop_categories import category_column
from jobs.sources import Parsed, Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

TYPES = ("window", "afk", "browser")
CATEGORISED_TYPES = ("window", "browser")
AFK_STATUSES = ("afk", "not-afk")
QUARANTINED_PATHS = ("host", "timestamp", "duration", "type", "app", "status")


def event_schema() -> StructType:
    """The fields read; title and url only feed the category."""
    from pyspark.sql import types as T

    s = T.StringType()
    return T.StructType(
        [
            T.StructField("host", s),
            T.StructField("timestamp", s),
            T.StructField("duration", T.DoubleType()),
            T.StructField("type", s),
            T.StructField("app", s),
            T.StructField("title", s),
            T.StructField("url", s),
            T.StructField("status", s),
            T.StructField(columns.CORRUPT, s),
        ]
    )


def parse_events(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """One parsed row per event line (jobs.sources contract)."""
    from pyspark.sql import functions as F

    lines = reading.read_json_line_records(spark, files)
    e = F.col("_e")
    parsed = lines.withColumn("_e", columns.parse_json(F.col("value"), event_schema()))
    kind = F.lower(F.trim(e["type"]))
    category = category_column(ctx.require_desktop_rules(), e["app"], e["title"], e["url"], kind == "browser")
    start = columns.timestamp(e["timestamp"])
    is_afk = kind == "afk"
    checks = [
        *columns.corrupt_reasons(F.col("value"), e, [("$.duration", e["duration"], "duration")]),
        (columns.blank(e["host"]), "missing host"),
        *columns.timestamp_reasons(e["timestamp"], "timestamp"),
        (e["duration"].isNull(), "missing duration"),
        (e["duration"] < 0, "negative duration"),
        (e["duration"] > schema.MAX_DAY_SECONDS, "duration longer than a day"),
        (columns.blank(e["type"]), "missing type"),
        (~kind.isin(*TYPES), f"unknown type ({', '.join(TYPES)})"),
        (is_afk & ~F.coalesce(e["status"].isin(*AFK_STATUSES), F.lit(False)), "invalid status (afk or not-afk)"),
    ]
    rows = parsed.select(
        F.when(kind.isin(*TYPES), kind).alias("bucket"),
        start.alias("start_ts"),
        e["duration"].alias("duration_seconds"),
        F.when(kind.isin(*CATEGORISED_TYPES), category).alias("app_category"),
        F.when(is_afk, e["status"] == "afk").alias("afk"),
        e["host"].alias("agent_key"),
        start.alias("day_ts"),
        columns.first_reason(checks).alias("reason"),
        "source_file",
        "source_line",
        columns.allow_listed_record(F.col("value"), QUARANTINED_PATHS).alias("raw_record"),
    )
    return Parsed(rows)


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
        "app_category": "url, app, title via the policy's desktop category tables",
        "afk": "status",
        "source_file": "the landing file",
        "source_line": "line in the file",
    },
    description="plain JSON-lines desktop events (window, afk, browser)",
    ids_unique=True,
)

SOURCES = [EVENTS]
