"""Staged contacts from Amazon Connect contact trace records (landing/connect_ctr, JSON lines).

Grain (schema.CONTACTS): one row per contact (ContactId) per landing day, the delivery with the
latest LastUpdateTimestamp winning (ties: the first in file and line order).

Day rule: `day` is the landing partition's day, which the landing contract defines as the
site-local day the contact started. The job checks it: a contact whose InitiationTimestamp, in
its agent's site time zone (UTC for contacts without an agent), lies more than one day from the
landing day is quarantined. Computing the day from the timestamp instead would write rows into
other days' partitions, which a one-day rerun could then neither replace nor remove.

Minimisation: only the fields below are parsed at all; CustomerEndpoint (the phone number),
Attributes (free text), names, ARNs and the user name (used for the roster join only) never
reach staged. Value checks beyond what parsing needs are the validation step's job.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from foundation import schema
from foundation.settings import Settings
from jobs import common

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from foundation.policy import Policy

TABLE = schema.CONTACTS
SOURCE = "connect_ctr"

# Integer durations and counts of the Agent block, never negative.
_AGENT_NUMBERS = ("AgentInteractionDuration", "CustomerHoldDuration", "NumberOfHolds", "AfterContactWorkDuration")


def ctr_schema() -> StructType:
    """The CTR fields the job reads (everything else in a record is ignored)."""
    from pyspark.sql import types as T

    s, i = T.StringType(), T.IntegerType()
    return T.StructType(
        [
            T.StructField("ContactId", s),
            T.StructField("NextContactId", s),
            T.StructField("Channel", s),
            T.StructField("InitiationMethod", s),
            T.StructField("InitiationTimestamp", s),
            T.StructField("DisconnectTimestamp", s),
            T.StructField("LastUpdateTimestamp", s),
            T.StructField("Queue", T.StructType([T.StructField("Name", s), T.StructField("Duration", i)])),
            T.StructField(
                "Agent",
                T.StructType(
                    [T.StructField("Username", s), T.StructField("ConnectedToAgentTimestamp", s)]
                    + [T.StructField(n, i) for n in _AGENT_NUMBERS]
                ),
            ),
            T.StructField(common.CORRUPT, s),
        ]
    )


def classify(lines: DataFrame, roster_map: DataFrame, day: dt.date | None = None) -> DataFrame:
    """Every record of the day once: canonical columns, `reason` (null when it passes), `_dup_rank`.

    lines: source_file, source_line, value (common.read_json_lines); roster_map: common.roster_frame.
    """
    from pyspark.sql import functions as F

    r = F.col("_r")
    agent, queue = r["Agent"], r["Queue"]
    roster = roster_map.select(
        F.col("connect_username").alias("_username"), "agent_pseudonym", F.col("site_timezone").alias("_tz")
    )
    parsed = lines.withColumn("_r", common.parse_json(F.col("value"), ctr_schema()))
    joined = parsed.join(F.broadcast(roster), F.lower(F.trim(agent["Username"])) == F.lower(F.col("_username")), "left")

    has_agent = agent.isNotNull()
    initiation = common.timestamp(r["InitiationTimestamp"])
    numbers = [(queue["Duration"], "Queue.Duration")] + [(agent[n], f"Agent.{n}") for n in _AGENT_NUMBERS]
    checks = [
        *common.corrupt_reasons(F.col("value"), r, [(f"$.{label}", col, label) for col, label in numbers]),
        (common.blank(r["ContactId"]), "missing ContactId"),
        (common.blank(r["Channel"]), "missing Channel"),
        (common.blank(r["InitiationMethod"]), "missing InitiationMethod"),
        *common.timestamp_reasons(r["InitiationTimestamp"], "InitiationTimestamp"),
        *common.timestamp_reasons(r["LastUpdateTimestamp"], "LastUpdateTimestamp"),
        *common.timestamp_reasons(r["DisconnectTimestamp"], "DisconnectTimestamp", required=False),
        *common.timestamp_reasons(agent["ConnectedToAgentTimestamp"], "Agent.ConnectedToAgentTimestamp", False),
        (has_agent & common.blank(agent["Username"]), "missing Agent.Username"),
        *[(col < 0, f"negative {label}") for col, label in numbers],
        (has_agent & F.col("agent_pseudonym").isNull(), common.NOT_IN_ROSTER),
        (
            common.outside_day(initiation, F.coalesce(F.col("_tz"), F.lit("UTC")), day),
            "InitiationTimestamp more than a day from the landing day",
        ),
    ]
    classified = joined.select(
        r["ContactId"].alias("contact_id"),
        common.day_value(day).alias("day"),
        F.lit(SOURCE).alias("source"),
        "agent_pseudonym",
        queue["Name"].alias("queue"),
        r["Channel"].alias("channel"),
        r["InitiationMethod"].alias("initiation_method"),
        initiation.alias("initiation_ts"),
        common.timestamp(agent["ConnectedToAgentTimestamp"]).alias("connected_to_agent_ts"),
        common.timestamp(r["DisconnectTimestamp"]).alias("disconnect_ts"),
        queue["Duration"].alias("queue_seconds"),
        agent["AgentInteractionDuration"].alias("talk_seconds"),
        agent["CustomerHoldDuration"].alias("hold_seconds"),
        agent["NumberOfHolds"].alias("holds"),
        agent["AfterContactWorkDuration"].alias("acw_seconds"),
        (has_agent & ~common.blank(r["NextContactId"])).alias("transferred_out"),
        (queue.isNotNull() & ~has_agent).alias("abandoned"),
        common.timestamp(r["LastUpdateTimestamp"]).alias("last_update_ts"),
        "source_file",
        "source_line",
        F.col("value").alias("raw_record"),
        common.first_reason(checks).alias("reason"),
    )
    return common.ranked(
        classified, ["contact_id"], [F.col("last_update_ts").desc(), F.col("source_file"), F.col("source_line")]
    )


def transform(lines: DataFrame, roster_map: DataFrame, day: dt.date | None = None) -> DataFrame:
    """The staged contacts of one landing day (schema.CONTACTS)."""
    return common.conform(common.kept_rows(classify(lines, roster_map, day)), TABLE)


def quarantine(lines: DataFrame, roster_map: DataFrame, day: dt.date | None = None) -> DataFrame:
    """The quarantined records of one landing day (schema.QUARANTINE_COLUMNS)."""
    return common.quarantine_rows(classify(lines, roster_map, day), SOURCE, day)


def run(spark: SparkSession, settings: Settings, days: list[dt.date], policy: Policy | None = None) -> dict[str, Any]:
    """landing/connect_ctr/day=D/*.jsonl and *.json, and every other contacts source of the registry ->
    staged/contacts/day=D, quarantine/contacts/ingest/<source>/day=D,
    reports/ingest/contacts/day=D.json, for all days in one pass."""
    from foundation.policy import load_policy
    from jobs import ingest

    policy = policy or load_policy(settings.policy_path)
    part = lambda: common.json_lines_part(spark, settings, days, SOURCE, classify)  # noqa: E731
    return ingest.run_table(spark, settings, policy, TABLE, days, legacy=[part])
