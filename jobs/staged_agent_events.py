"""Staged agent events from the Amazon Connect agent event stream (landing/connect_agent_events).

Grain (schema.AGENT_EVENTS): one row per agent event (EventId) per landing day; a redelivered
EventId is kept once (the first in file and line order).

Day rule: `day` is the landing partition's day, the site-local day the agent's shift started
(landing contract), so a shift that runs past midnight stays in one day. The job checks it: an
event whose EventTimestamp, in the agent's site time zone, lies more than one day from the
landing day is quarantined.

Status: the status after the event, from CurrentAgentSnapshot.AgentStatus; records that omit
Type (older streams) get it from the name: Available -> ROUTABLE, Offline -> OFFLINE, any other
name -> CUSTOM. Only the fields below are parsed; names, hierarchy, routing profile and the
user name (used for the roster join only) never reach staged.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from foundation import schema
from foundation.settings import Settings
from jobs import common

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from foundation.policy import Policy

TABLE = schema.AGENT_EVENTS
SOURCE = "connect_agent_events"


def event_schema() -> StructType:
    """The agent event fields the job reads (everything else in a record is ignored)."""
    from pyspark.sql import types as T

    s = T.StringType()
    status = T.StructType([T.StructField("Name", s), T.StructField("Type", s), T.StructField("StartTimestamp", s)])
    snapshot = T.StructType(
        [
            T.StructField("AgentStatus", status),
            T.StructField("Configuration", T.StructType([T.StructField("Username", s)])),
        ]
    )
    return T.StructType(
        [
            T.StructField("EventId", s),
            T.StructField("EventTimestamp", s),
            T.StructField("EventType", s),
            T.StructField("CurrentAgentSnapshot", snapshot),
            T.StructField(common.CORRUPT, s),
        ]
    )


def status_type(name: Column, type_: Column) -> Column:
    """The status type as given, else derived from the status name."""
    from pyspark.sql import functions as F

    derived = (
        F.when(name == "Available", F.lit("ROUTABLE")).when(name == "Offline", F.lit("OFFLINE")).otherwise("CUSTOM")
    )
    return F.when(common.blank(type_), derived).otherwise(F.trim(type_))


def classify(lines: DataFrame, roster_map: DataFrame, day: dt.date | None = None) -> DataFrame:
    """Every record of the day once: canonical columns, `reason` (null when it passes), `_dup_rank`."""
    from pyspark.sql import functions as F

    r = F.col("_r")
    snapshot = r["CurrentAgentSnapshot"]
    status, username = snapshot["AgentStatus"], snapshot["Configuration"]["Username"]
    roster = roster_map.select(
        F.col("connect_username").alias("_username"), "agent_pseudonym", F.col("site_timezone").alias("_tz")
    )
    parsed = lines.withColumn("_r", common.parse_json(F.col("value"), event_schema()))
    joined = parsed.join(F.broadcast(roster), F.lower(F.trim(username)) == F.lower(F.col("_username")), "left")

    event_ts = common.timestamp(r["EventTimestamp"])
    checks = [
        *common.corrupt_reasons(F.col("value"), r, []),
        (common.blank(r["EventId"]), "missing EventId"),
        *common.timestamp_reasons(r["EventTimestamp"], "EventTimestamp"),
        (common.blank(r["EventType"]), "missing EventType"),
        (snapshot.isNull(), "missing CurrentAgentSnapshot"),
        (common.blank(status["Name"]), "missing CurrentAgentSnapshot.AgentStatus.Name"),
        *common.timestamp_reasons(status["StartTimestamp"], "CurrentAgentSnapshot.AgentStatus.StartTimestamp"),
        (common.blank(username), "missing CurrentAgentSnapshot.Configuration.Username"),
        (F.col("agent_pseudonym").isNull(), common.NOT_IN_ROSTER),
        (common.outside_day(event_ts, F.col("_tz"), day), "EventTimestamp more than a day from the landing day"),
    ]
    classified = joined.select(
        r["EventId"].alias("event_id"),
        common.day_value(day).alias("day"),
        F.lit(SOURCE).alias("source"),
        "agent_pseudonym",
        event_ts.alias("event_ts"),
        r["EventType"].alias("event_type"),
        status["Name"].alias("status_name"),
        status_type(status["Name"], status["Type"]).alias("status_type"),
        common.timestamp(status["StartTimestamp"]).alias("status_start_ts"),
        "source_file",
        "source_line",
        F.col("value").alias("raw_record"),
        common.first_reason(checks).alias("reason"),
    )
    return common.ranked(classified, ["event_id"], [F.col("source_file"), F.col("source_line")])


def transform(lines: DataFrame, roster_map: DataFrame, day: dt.date | None = None) -> DataFrame:
    """The staged agent events of one landing day (schema.AGENT_EVENTS)."""
    return common.conform(common.kept_rows(classify(lines, roster_map, day)), TABLE)


def quarantine(lines: DataFrame, roster_map: DataFrame, day: dt.date | None = None) -> DataFrame:
    """The quarantined records of one landing day (schema.QUARANTINE_COLUMNS)."""
    return common.quarantine_rows(classify(lines, roster_map, day), SOURCE, day)


def run(spark: SparkSession, settings: Settings, days: list[dt.date], policy: Policy | None = None) -> dict[str, Any]:
    """landing/connect_agent_events/day=D/*.jsonl -> staged/agent_events/day=D,
    quarantine/agent_events/ingest/<source>/day=D (Connect and every other agent-events source of the
    registry), reports/ingest/agent_events/day=D.json, all days in one pass."""
    from foundation.policy import load_policy
    from jobs import ingest

    policy = policy or load_policy(settings.policy_path)
    part = lambda: common.json_lines_part(spark, settings, days, SOURCE, classify)  # noqa: E731
    return ingest.run_table(spark, settings, policy, TABLE, days, legacy=[part])
