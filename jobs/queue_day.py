"""Queue-day metrics from staged contacts (metrics/queue_day).

Grain (schema.QUEUE_DAY): one row per queue per day (the contacts' site-local day) on which the
queue was offered a contact. No agent is involved: these figures describe queues, but still the
work of groups of employees, so publishing them follows the policy's group rules (privacy/).

Definitions (formulas and vendor definitions declared with the columns in foundation.schema):
offered = contacts with a queue; answered = those not abandoned; service level = answered
within settings.service_level_seconds of queue time / offered (Amazon Connect SERVICE_LEVEL);
ASA = queue time of answered contacts / answered. A contact transferred to another queue is a
new contact there, as Amazon Connect and Genesys count it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from foundation import schema
from foundation.settings import Settings
from jobs import columns, writing

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

TABLE = schema.QUEUE_DAY


def transform(contacts: DataFrame, threshold_seconds: int) -> DataFrame:
    """The queue-day rows (schema.QUEUE_DAY) of the days in the staged contacts."""
    from pyspark.sql import functions as F

    queued = contacts.filter(F.col("queue").isNotNull() & (F.trim(F.col("queue")) != ""))
    answered = ~F.col("abandoned")
    wait = F.coalesce(F.col("queue_seconds"), F.lit(0)).cast("long")
    totals = queued.groupBy("day", "queue").agg(
        F.count(F.lit(1)).alias("offered"),
        F.count(F.when(answered, F.lit(1))).alias("answered"),
        F.count(F.when(F.col("abandoned"), F.lit(1))).alias("abandoned"),
        F.count(F.when(answered & (wait <= threshold_seconds), F.lit(1))).alias("answered_within_threshold"),
        F.coalesce(F.sum(F.when(answered, wait)), F.lit(0)).cast("long").alias("answer_wait_seconds"),
    )
    out = totals.select(
        "day",
        "queue",
        F.col("offered").cast("long").alias("offered"),
        F.col("answered").cast("long").alias("answered"),
        F.col("abandoned").cast("long").alias("abandoned"),
        F.col("answered_within_threshold").cast("long").alias("answered_within_threshold"),
        F.lit(threshold_seconds).cast("long").alias("service_level_threshold_seconds"),
        (F.col("answered_within_threshold") / F.col("offered")).alias("service_level"),
        "answer_wait_seconds",
        F.when(F.col("answered") > 0, F.col("answer_wait_seconds") / F.col("answered")).alias("asa_seconds"),
    )
    return columns.conform(out, TABLE)


def run(spark: SparkSession, settings: Settings, days: list[dt.date]) -> dict[str, Any]:
    """Staged contacts day=D -> metrics/queue_day/day=D, all days in one pass."""
    from pyspark import StorageLevel

    contacts = writing.read_table_partitions(spark, settings, schema.CONTACTS, days)
    out = transform(contacts, settings.service_level_seconds).persist(StorageLevel.MEMORY_AND_DISK)
    root = settings.lake.table_root(TABLE)
    try:
        per_day = {r["day"]: int(r["count"]) for r in out.groupBy("day").count().collect()}
        writing.write_day_partitions(out, root, days, set(per_day), drop=TABLE.partition_by)
    finally:
        out.unpersist()
    days_out = {d.isoformat(): {"queues": per_day.get(d, 0)} for d in days}
    return {"table": TABLE.name, "queue_days": sum(per_day.values()), "days": days_out}
