"""The planning tables from staged contacts: metrics/queue_interval and metrics/agent_queue_day.

Planning releases (privacy/planning.py) publish, per queue, the contacts offered in each interval
of the week and the queue's handle time; these two restricted tables hold what they read:

- queue_interval (schema.QUEUE_INTERVAL): per queue, landing day and UTC quarter hour of
  initiation_ts, the contacts offered, answered and abandoned, and the answered ones' waits. No
  agent field is read. A quarter hour in UTC is a quarter hour in every time zone whose offset is
  a multiple of 15 minutes, so the release converts it into the queue's site-local interval of
  the week (15, 30 or 60 minutes) without splitting a row.
- agent_queue_day (schema.AGENT_QUEUE_DAY): per agent, landing day and queue, the contacts the
  agent handled there and their handle and after-contact work seconds (null as 0; handle = talk
  + hold + acw as in agent_day). Restricted: never published, only clipped and noised.

Definitions follow queue_day (offered = contacts with a queue, answered = not abandoned, the
service-level threshold of the settings). Both are written per day by the compute step, one
partition per day, overwritten.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from foundation import schema
from foundation.settings import Settings
from jobs import columns, writing

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

QUARTER_SECONDS = 15 * 60


def _queued(contacts: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return contacts.filter(F.col("queue").isNotNull() & (F.trim(F.col("queue")) != ""))


def queue_interval(contacts: DataFrame, threshold_seconds: int) -> DataFrame:
    """The queue_interval rows (schema.QUEUE_INTERVAL) of the staged contacts."""
    from pyspark.sql import functions as F

    seconds = F.unix_timestamp("initiation_ts")  # whole seconds since the epoch (UTC)
    quarter = F.timestamp_seconds(seconds - F.pmod(seconds, F.lit(QUARTER_SECONDS)))
    answered = ~F.col("abandoned")
    wait = F.coalesce(F.col("queue_seconds"), F.lit(0)).cast("long")
    out = (
        _queued(contacts)
        .withColumn("interval_start_utc", quarter)
        .groupBy("day", "queue", "interval_start_utc")
        .agg(
            F.count(F.lit(1)).cast("long").alias("offered"),
            F.count(F.when(answered, F.lit(1))).cast("long").alias("answered"),
            F.count(F.when(F.col("abandoned"), F.lit(1))).cast("long").alias("abandoned"),
            F.count(F.when(answered & (wait <= threshold_seconds), F.lit(1)))
            .cast("long")
            .alias("answered_within_threshold"),
            F.coalesce(F.sum(F.when(answered, wait)), F.lit(0)).cast("long").alias("answer_wait_seconds"),
        )
    )
    return columns.conform(out, schema.QUEUE_INTERVAL)


def agent_queue_day(contacts: DataFrame) -> DataFrame:
    """The agent_queue_day rows (schema.AGENT_QUEUE_DAY) of the staged contacts."""
    from pyspark.sql import functions as F

    def seconds(name: str) -> Any:
        return F.coalesce(F.col(name), F.lit(0)).cast("long")

    out = (
        _queued(contacts)
        .filter(F.col("agent_pseudonym").isNotNull())
        .groupBy("day", "agent_pseudonym", "queue")
        .agg(
            F.count(F.lit(1)).cast("long").alias("contacts_handled"),
            F.sum(seconds("talk_seconds") + seconds("hold_seconds") + seconds("acw_seconds"))
            .cast("long")
            .alias("handle_seconds"),
            F.sum(seconds("acw_seconds")).cast("long").alias("acw_seconds"),
        )
    )
    return columns.conform(out, schema.AGENT_QUEUE_DAY)


def run(spark: SparkSession, settings: Settings, days: list[dt.date]) -> dict[str, Any]:
    """Staged contacts day=D -> metrics/queue_interval/day=D and metrics/agent_queue_day/day=D."""
    from pyspark import StorageLevel

    contacts = writing.read_table_partitions(spark, settings, schema.CONTACTS, days)
    summary: dict[str, Any] = {}
    for table, frame in (
        (schema.QUEUE_INTERVAL, queue_interval(contacts, settings.service_level_seconds)),
        (schema.AGENT_QUEUE_DAY, agent_queue_day(contacts)),
    ):
        out = frame.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            per_day = {r["day"]: int(r["count"]) for r in out.groupBy("day").count().collect()}
            writing.write_day_partitions(
                out, settings.lake.table_root(table), days, set(per_day), drop=table.partition_by
            )
        finally:
            out.unpersist()
        summary[table.name] = {"rows": sum(per_day.values()), "days": {d.isoformat(): per_day.get(d, 0) for d in days}}
    return summary
