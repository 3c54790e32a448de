"""The canonical schema: every table past ingestion, declared once.

Everything else derives from these declarations: the Spark StructTypes the jobs write, the
Great Expectations suites that validate staged partitions, and the allow-list of fields that
may pass ingestion (a column that is not declared here never reaches the staged zone).

Zones:
- staged:  canonical, pseudonymised, minimised rows; restricted; partitioned by site-local day.
- metrics: one row per agent per day; restricted; never published.
- quarantine: rows that failed parsing or validation, with the reason and source location.

Lineage columns (source_file, source_line) stay in the restricted zones; they let a data
engineer find the raw record that produced a row, and they never reach the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pyspark is heavy: import it only where a StructType is built
    from pyspark.sql.types import StructType

DType = Literal["string", "date", "timestamp", "int", "long", "double", "boolean"]

# Seconds in the longest possible local day (25 h on the day daylight saving time ends).
MAX_DAY_SECONDS = 25 * 3600


@dataclass(frozen=True)
class Column:
    """One column of a canonical table, with the domain facts validation checks."""

    name: str
    dtype: DType
    nullable: bool
    description: str
    source: str = ""
    allowed_values: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class Table:
    """A canonical table: its zone, its grain (what one row is) and its columns."""

    name: str
    zone: Literal["staged", "metrics"]
    grain: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ("day",)
    lineage: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def spark_schema(self) -> StructType:
        """The Spark StructType of this table, in declared column order."""
        from pyspark.sql import types as T

        spark_types = {
            "string": T.StringType(),
            "date": T.DateType(),
            "timestamp": T.TimestampType(),
            "int": T.IntegerType(),
            "long": T.LongType(),
            "double": T.DoubleType(),
            "boolean": T.BooleanType(),
        }
        return T.StructType([T.StructField(c.name, spark_types[c.dtype], c.nullable) for c in self.columns])


def _day() -> Column:
    return Column(
        "day",
        "date",
        False,
        "Calendar day in the site's local time zone to which the record belongs.",
        "derived from the record's start time and the roster's site time zone",
    )


def _agent() -> Column:
    return Column(
        "agent_pseudonym",
        "string",
        False,
        "Keyed HMAC-SHA256 of the agent's employee id; the key is never in the repository.",
        "roster employee_id, resolved from the source's user name or host",
    )


def _source() -> Column:
    return Column(
        "source",
        "string",
        False,
        "Landing source the row came from (connect_ctr, asterisk_queue_log, genesys_conversations, "
        "flat_calls/<export>, activitywatch, ...): records of different systems never deduplicate "
        "against each other.",
        "the landing folder",
    )


def _lineage() -> tuple[Column, ...]:
    return (
        Column("source_file", "string", False, "Landing file the row was read from."),
        Column(
            "source_line",
            "long",
            False,
            "1-based line (JSON lines, CSV) or event position (JSON documents) in that file.",
        ),
    )


CHANNELS = ("VOICE", "CHAT", "TASK", "EMAIL")
INITIATION_METHODS = (
    "INBOUND",
    "OUTBOUND",
    "TRANSFER",
    "QUEUE_TRANSFER",
    "CALLBACK",
    "API",
    "DISCONNECT",
    "MONITOR",
)
AGENT_EVENT_TYPES = ("LOGIN", "LOGOUT", "STATE_CHANGE", "HEART_BEAT")
# Amazon Connect agent status types; the agent event stream may omit Type, then the name decides
# (see jobs.staged_agent_events).
STATUS_TYPES = ("ROUTABLE", "CUSTOM", "OFFLINE")
DESKTOP_BUCKETS = ("window", "afk", "browser")
# Categories the policy maps applications, URL hosts and title keywords to; titles and URLs
# never pass ingestion. 'web' is a browser tab or window that no other rule places.
APP_CATEGORIES = ("crm", "knowledge_base", "telephony", "communication", "web", "other")


ROSTER = Table(
    name="roster",
    zone="staged",
    grain="one row per agent per roster snapshot day",
    key=("day", "agent_pseudonym"),
    columns=(
        _day(),
        _agent(),
        Column("team", "string", False, "Team the agent belongs to on that day (public group key).", "roster team"),
        Column("site", "string", False, "Site the agent works at on that day (public group key).", "roster site"),
        Column("site_timezone", "string", False, "IANA time zone of the site.", "roster site_timezone"),
    ),
)

CONTACTS = Table(
    name="contacts",
    zone="staged",
    grain=(
        "one row per contact per source (Connect ContactId, Asterisk callid, Genesys conversation and agent, "
        "export call id); the latest version wins"
    ),
    key=("source", "contact_id"),
    lineage=("source_file", "source_line"),
    columns=(
        Column("contact_id", "string", False, "Contact id as the telephony system assigns it.", "ContactId"),
        _day(),
        _source(),
        Column(
            "agent_pseudonym",
            "string",
            True,
            "Pseudonym of the agent who handled the contact; null when no agent was reached.",
            "Agent.Username via roster",
        ),
        Column("queue", "string", True, "Queue name.", "Queue.Name"),
        Column("channel", "string", False, "VOICE, CHAT, TASK or EMAIL.", "Channel", allowed_values=CHANNELS),
        Column(
            "initiation_method",
            "string",
            False,
            "How the contact started.",
            "InitiationMethod",
            allowed_values=INITIATION_METHODS,
        ),
        Column("initiation_ts", "timestamp", False, "Contact start, UTC.", "InitiationTimestamp"),
        Column("connected_to_agent_ts", "timestamp", True, "Agent connected, UTC.", "Agent.ConnectedToAgentTimestamp"),
        Column("disconnect_ts", "timestamp", True, "Contact end, UTC.", "DisconnectTimestamp"),
        Column(
            "queue_seconds", "int", True, "Time in queue.", "Queue.Duration", min_value=0, max_value=MAX_DAY_SECONDS
        ),
        Column(
            "talk_seconds",
            "int",
            True,
            "Agent interaction time (talk), excluding hold.",
            "Agent.AgentInteractionDuration",
            min_value=0,
            max_value=MAX_DAY_SECONDS,
        ),
        Column(
            "hold_seconds",
            "int",
            True,
            "Customer hold time.",
            "Agent.CustomerHoldDuration",
            min_value=0,
            max_value=MAX_DAY_SECONDS,
        ),
        Column("holds", "int", True, "Number of holds.", "Agent.NumberOfHolds", min_value=0, max_value=1000),
        Column(
            "acw_seconds",
            "int",
            True,
            "After-contact work time.",
            "Agent.AfterContactWorkDuration",
            min_value=0,
            max_value=MAX_DAY_SECONDS,
        ),
        Column(
            "transferred_out",
            "boolean",
            False,
            "The agent transferred the contact onwards.",
            "NextContactId present on a contact an agent handled",
        ),
        Column("abandoned", "boolean", False, "Queued and never reached an agent.", "Queue present, Agent absent"),
        Column("last_update_ts", "timestamp", False, "Record version, UTC.", "LastUpdateTimestamp"),
        *_lineage(),
    ),
)

AGENT_EVENTS = Table(
    name="agent_events",
    zone="staged",
    grain="one row per agent status event per source (Connect EventId, Asterisk queue_log agent line)",
    key=("source", "event_id"),
    lineage=("source_file", "source_line"),
    columns=(
        Column("event_id", "string", False, "Event id.", "EventId"),
        _day(),
        _source(),
        _agent(),
        Column("event_ts", "timestamp", False, "When the event happened, UTC.", "EventTimestamp"),
        Column("event_type", "string", False, "Event type.", "EventType", allowed_values=AGENT_EVENT_TYPES),
        Column(
            "status_name",
            "string",
            False,
            "Agent status after the event (Available, Offline, or a custom status such as Break).",
            "CurrentAgentSnapshot.AgentStatus.Name",
        ),
        Column(
            "status_type",
            "string",
            False,
            "ROUTABLE, CUSTOM or OFFLINE.",
            "CurrentAgentSnapshot.AgentStatus.Type, else derived from the name",
            allowed_values=STATUS_TYPES,
        ),
        Column(
            "status_start_ts",
            "timestamp",
            False,
            "When the current status began, UTC.",
            "CurrentAgentSnapshot.AgentStatus.StartTimestamp",
        ),
        *_lineage(),
    ),
)

DESKTOP_ACTIVITY = Table(
    name="desktop_activity",
    zone="staged",
    grain="one row per desktop event per source (a window, afk or browser event)",
    key=("source", "agent_pseudonym", "bucket", "start_ts"),
    lineage=("source_file", "source_line"),
    columns=(
        _day(),
        _source(),
        _agent(),
        Column(
            "bucket",
            "string",
            False,
            "window (focused application), afk (presence) or browser (active tab).",
            "bucket type",
            allowed_values=DESKTOP_BUCKETS,
        ),
        Column("start_ts", "timestamp", False, "Event start, UTC.", "events[].timestamp"),
        Column(
            "duration_seconds",
            "double",
            False,
            "Event duration.",
            "events[].duration",
            min_value=0,
            max_value=MAX_DAY_SECONDS,
        ),
        Column(
            "app_category",
            "string",
            True,
            "Policy category of the focused application or tab (window and browser buckets), "
            "from its URL host, application name or title keywords; the app name, title and URL "
            "are dropped.",
            "events[].data.app, .title, .url via the policy's desktop category tables",
            allowed_values=APP_CATEGORIES,
        ),
        Column("afk", "boolean", True, "Away from keyboard (afk bucket only).", "events[].data.status"),
        *_lineage(),
    ),
)


def _seconds(name: str, description: str) -> Column:
    return Column(name, "long", False, description, min_value=0, max_value=MAX_DAY_SECONDS)


AGENT_DAY = Table(
    name="agent_day",
    zone="metrics",
    grain="one row per agent per site-local day on which the agent has any staged activity",
    key=("day", "agent_pseudonym"),
    columns=(
        _day(),
        _agent(),
        Column("team", "string", False, "Team on that day, from the roster."),
        Column("site", "string", False, "Site on that day, from the roster."),
        Column(
            "contacts_handled",
            "long",
            False,
            "Contacts connected to the agent (Amazon Connect CONTACTS_HANDLED).",
            min_value=0,
            max_value=10_000,
        ),
        _seconds("talk_seconds", "Sum of agent interaction time over handled contacts."),
        _seconds("hold_seconds", "Sum of customer hold time over handled contacts."),
        _seconds("acw_seconds", "Sum of after-contact work time over handled contacts."),
        _seconds(
            "handle_seconds",
            "talk + hold + after-contact work (Connect HANDLE_TIME; Genesys tHandle).",
        ),
        Column(
            "transfers_out",
            "long",
            False,
            "Handled contacts the agent transferred onwards.",
            min_value=0,
            max_value=10_000,
        ),
        _seconds("staffed_seconds", "Time in any status other than Offline (online time)."),
        _seconds("available_seconds", "Time in a routable (Available) status."),
        _seconds(
            "available_idle_seconds",
            "Available time not spent on contacts: max(0, available - handle).",
        ),
        _seconds("not_ready_seconds", "Time in custom (not-ready) statuses such as Break or Meeting."),
        _seconds("desktop_active_seconds", "Desktop time not away from keyboard."),
        _seconds("desktop_idle_seconds", "Desktop time away from keyboard."),
    ),
)

STAGED_TABLES: dict[str, Table] = {t.name: t for t in (ROSTER, CONTACTS, AGENT_EVENTS, DESKTOP_ACTIVITY)}
ALL_TABLES: dict[str, Table] = {**STAGED_TABLES, AGENT_DAY.name: AGENT_DAY}

QUARANTINE_COLUMNS: tuple[Column, ...] = (
    _day(),
    Column("source", "string", False, "Landing source (connect_ctr, connect_agent_events, ...)."),
    Column("source_file", "string", False, "Landing file of the bad row."),
    Column("source_line", "long", True, "Line or event position in that file, where known."),
    Column("reason", "string", False, "Why the row was quarantined."),
    Column("raw_record", "string", True, "The raw record as delivered (restricted zone only)."),
)
