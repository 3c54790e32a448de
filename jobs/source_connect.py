"""Amazon Connect: contact trace records (landing/connect_ctr) and the agent event stream
(landing/connect_agent_events), JSON lines (*.jsonl) or JSON documents of records (*.json, one
document of records per file, as Kinesis Firehose delivers them).

Contacts (schema.CONTACTS): one row per contact (ContactId), the delivery with the latest
LastUpdateTimestamp winning across the landing day and the days around it (a redelivery in the
next day's folder is the same contact; docs/landing.md, "Duplicates and redeliveries"). The day rule checks
InitiationTimestamp in the agent's site time zone (UTC for contacts without an agent).

Agent events (schema.AGENT_EVENTS): one row per agent event (EventId); a redelivered EventId with
the same content is kept once (the first in file and line order). The day rule checks
EventTimestamp; the landing day is the site-local day the agent's shift started, so a shift that
runs past midnight stays in one day. The status is the one after the event, from
CurrentAgentSnapshot.AgentStatus; records that omit Type (older streams) get it from the name:
Available -> ROUTABLE, Offline -> OFFLINE, any other name -> CUSTOM.

Minimisation: only the fields below are parsed at all; CustomerEndpoint (the phone number),
Attributes (free text), names, ARNs, hierarchy, routing profile and the user name (the agent_key,
for the roster join only) never reach staged. Value checks beyond what parsing needs are the
validation step's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from foundation import schema
from jobs import columns, reading
from jobs.sources import Parsed, Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

# Integer durations and counts of the Agent block, never negative.
JSON_LINES = (".jsonl",)
_AGENT_NUMBERS = ("AgentInteractionDuration", "CustomerHoldDuration", "NumberOfHolds", "AfterContactWorkDuration")


def read_records(spark: SparkSession, files: list[str]) -> DataFrame:
    """The records of JSON Lines files (a line each, or a JSON array's elements) and of the others
    (.json, Firehose's .gz: a document of records each), as reading.lines_schema rows."""
    line_files = [f for f in files if reading.read_as(f, JSON_LINES) == ".jsonl"]
    lines = reading.read_json_line_records(spark, line_files)
    return lines.unionByName(reading.read_json_documents(spark, [f for f in files if f not in line_files]))


# --- contact trace records --------------------------------------------------------------------


def ctr_schema() -> StructType:
    """The CTR fields read (everything else in a record is ignored)."""
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
            T.StructField(columns.CORRUPT, s),
        ]
    )


def ctr_rows(lines: DataFrame) -> DataFrame:
    """One parsed row per CTR record (jobs.sources contract).

    lines: source_file, source_line, value (reading.read_json_lines).
    """
    from pyspark.sql import functions as F

    r = F.col("_r")
    agent, queue = r["Agent"], r["Queue"]
    parsed = lines.withColumn("_r", columns.parse_json(F.col("value"), ctr_schema()))
    has_agent = agent.isNotNull()
    initiation = columns.timestamp(r["InitiationTimestamp"])
    numbers = [(queue["Duration"], "Queue.Duration")] + [(agent[n], f"Agent.{n}") for n in _AGENT_NUMBERS]
    checks = [
        *columns.corrupt_reasons(F.col("value"), r, [(f"$.{label}", col, label) for col, label in numbers]),
        (columns.blank(r["ContactId"]), "missing ContactId"),
        (columns.blank(r["Channel"]), "missing Channel"),
        (columns.blank(r["InitiationMethod"]), "missing InitiationMethod"),
        *columns.timestamp_reasons(r["InitiationTimestamp"], "InitiationTimestamp"),
        *columns.timestamp_reasons(r["LastUpdateTimestamp"], "LastUpdateTimestamp"),
        *columns.timestamp_reasons(r["DisconnectTimestamp"], "DisconnectTimestamp", required=False),
        *columns.timestamp_reasons(agent["ConnectedToAgentTimestamp"], "Agent.ConnectedToAgentTimestamp", False),
        (has_agent & columns.blank(agent["Username"]), "missing Agent.Username"),
        *[(col < 0, f"negative {label}") for col, label in numbers],
    ]
    return parsed.select(
        r["ContactId"].alias("contact_id"),
        queue["Name"].alias("queue"),
        r["Channel"].alias("channel"),
        r["InitiationMethod"].alias("initiation_method"),
        initiation.alias("initiation_ts"),
        columns.timestamp(agent["ConnectedToAgentTimestamp"]).alias("connected_to_agent_ts"),
        columns.timestamp(r["DisconnectTimestamp"]).alias("disconnect_ts"),
        queue["Duration"].alias("queue_seconds"),
        agent["AgentInteractionDuration"].alias("talk_seconds"),
        agent["CustomerHoldDuration"].alias("hold_seconds"),
        agent["NumberOfHolds"].alias("holds"),
        agent["AfterContactWorkDuration"].alias("acw_seconds"),
        (has_agent & ~columns.blank(r["NextContactId"])).alias("transferred_out"),
        (queue.isNotNull() & ~has_agent).alias("abandoned"),
        columns.timestamp(r["LastUpdateTimestamp"]).alias("last_update_ts"),
        F.when(has_agent, agent["Username"]).alias("agent_key"),
        initiation.alias("day_ts"),
        columns.first_reason(checks).alias("reason"),
        "source_file",
        "source_line",
        F.col("value").alias("raw_record"),
    )


def parse_ctr(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    return Parsed(ctr_rows(read_records(spark, files)))


# --- agent events -----------------------------------------------------------------------------


def event_schema() -> StructType:
    """The agent event fields read (everything else in a record is ignored)."""
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
            T.StructField(columns.CORRUPT, s),
        ]
    )


def status_type(name: Column, type_: Column) -> Column:
    """The status type as given, else derived from the status name."""
    from pyspark.sql import functions as F

    derived = (
        F.when(name == "Available", F.lit("ROUTABLE")).when(name == "Offline", F.lit("OFFLINE")).otherwise("CUSTOM")
    )
    return F.when(columns.blank(type_), derived).otherwise(F.trim(type_))


def agent_event_rows(lines: DataFrame) -> DataFrame:
    """One parsed row per agent event record (jobs.sources contract)."""
    from pyspark.sql import functions as F

    r = F.col("_r")
    snapshot = r["CurrentAgentSnapshot"]
    status, username = snapshot["AgentStatus"], snapshot["Configuration"]["Username"]
    parsed = lines.withColumn("_r", columns.parse_json(F.col("value"), event_schema()))
    event_ts = columns.timestamp(r["EventTimestamp"])
    checks = [
        *columns.corrupt_reasons(F.col("value"), r, []),
        (columns.blank(r["EventId"]), "missing EventId"),
        *columns.timestamp_reasons(r["EventTimestamp"], "EventTimestamp"),
        (columns.blank(r["EventType"]), "missing EventType"),
        (snapshot.isNull(), "missing CurrentAgentSnapshot"),
        (columns.blank(status["Name"]), "missing CurrentAgentSnapshot.AgentStatus.Name"),
        *columns.timestamp_reasons(status["StartTimestamp"], "CurrentAgentSnapshot.AgentStatus.StartTimestamp"),
        (columns.blank(username), "missing CurrentAgentSnapshot.Configuration.Username"),
    ]
    return parsed.select(
        r["EventId"].alias("event_id"),
        event_ts.alias("event_ts"),
        r["EventType"].alias("event_type"),
        status["Name"].alias("status_name"),
        status_type(status["Name"], status["Type"]).alias("status_type"),
        columns.timestamp(status["StartTimestamp"]).alias("status_start_ts"),
        username.alias("agent_key"),
        event_ts.alias("day_ts"),
        columns.first_reason(checks).alias("reason"),
        "source_file",
        "source_line",
        F.col("value").alias("raw_record"),
    )


def parse_agent_events(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    return Parsed(agent_event_rows(read_records(spark, files)))


def _schema_sources(table: schema.Table) -> dict[str, str]:
    """The Connect field of each column, as the schema declares it (Column.source)."""
    return {c.name: c.source for c in table.columns if c.source}


CTR = Source(
    name="connect_ctr",
    table=schema.CONTACTS,
    suffixes=(".jsonl", ".json", reading.GZIP),  # Kinesis Firehose names its GZIP objects *.gz
    identity="connect_username",
    parse=parse_ctr,
    order=(("last_update_ts", True),),
    field_sources=_schema_sources(schema.CONTACTS),
    description="Amazon Connect contact trace records",
    record_time="InitiationTimestamp",
    always=True,
    ids_unique=True,
    lookaround_days=1,  # a redelivery in the next day's folder is the same contact
)

AGENT_EVENTS = Source(
    name="connect_agent_events",
    table=schema.AGENT_EVENTS,
    suffixes=(".jsonl", ".json"),
    identity="connect_username",
    parse=parse_agent_events,
    field_sources=_schema_sources(schema.AGENT_EVENTS),
    description="Amazon Connect agent event stream",
    record_time="EventTimestamp",
    always=True,
    ids_unique=True,
)

SOURCES = [CTR, AGENT_EVENTS]
