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
    import pyarrow as pa
    from pyspark.sql.types import StructType

DType = Literal["string", "date", "timestamp", "int", "long", "double", "boolean"]

# Seconds in the longest possible local day (25 h on the day daylight saving time ends).
MAX_DAY_SECONDS = 25 * 3600


def arrow_type(dtype: DType) -> pa.DataType:
    """The Arrow type Spark writes and reads back for a declared type (timestamps UTC microseconds)."""
    import pyarrow as pa

    return {
        "string": pa.string(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "int": pa.int32(),
        "long": pa.int64(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
    }[dtype]


@dataclass(frozen=True)
class Metric:
    """What a metric column means, for the catalog users read (docs/metrics.md, generated)."""

    formula: str
    unit: str
    follows: str  # the vendor definition it matches
    inputs: str  # the staged fields it is computed from


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
    metric: Metric | None = None


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


# Not-ready statuses by reason category: a status name containing one of the words (case-
# insensitive) belongs to the category, first category first; any other not-ready status is 'other'.
NOT_READY_CATEGORIES: dict[str, tuple[str, ...]] = {
    "break": ("break", "lunch", "pause", "rest", "personal"),
    "meeting": ("meeting", "huddle", "briefing"),
    "training": ("training", "coaching", "learning", "onboarding"),
}
NOT_READY_CATEGORY_NAMES = (*NOT_READY_CATEGORIES, "other")

# Scheduled activities (workforce management): the shift itself, and activities scheduled inside
# it. A landing activity named "shift" (any case) is the shift; any other gets its category from
# the words of NOT_READY_CATEGORIES (lunch is a break), else "other". The name is dropped.
SCHEDULE_ACTIVITIES = ("shift", *NOT_READY_CATEGORY_NAMES)
# Adherence: the actual states that adhere to a scheduled state. Inside the shift and outside any
# scheduled activity the scheduled state is "work" (a routable status); a scheduled break is kept
# by a break status or by being logged out (offline, or no status at all).
# Actual states: work (ROUTABLE), offline (OFFLINE or no status), or the not-ready category of a
# CUSTOM status.
ADHERING_STATES: dict[str, tuple[str, ...]] = {
    "work": ("work",),
    "break": ("break", "offline"),
    "meeting": ("meeting",),
    "training": ("training",),
    "other": ("other",),
}
CONNECT_CTR = "Amazon Connect CTR"


def _seconds(name: str, description: str, metric: Metric | None = None) -> Column:
    return Column(name, "long", False, description, min_value=0, max_value=MAX_DAY_SECONDS, metric=metric)


def _count(name: str, description: str, metric: Metric) -> Column:
    return Column(name, "long", False, description, min_value=0, max_value=10_000, metric=metric)


_CONTACTS = "contacts with an agent: "
_STATUS = "agent_events status intervals (status_start_ts, status_type, status_name)"
_DESKTOP = "desktop_activity window and afk segments"
_SCHEDULE = "schedules shift and activity rows"

AGENT_DAY = Table(
    name="agent_day",
    zone="metrics",
    grain="one row per agent per site-local day on which the agent has any staged activity or a scheduled activity",
    key=("day", "agent_pseudonym"),
    columns=(
        _day(),
        _agent(),
        Column("team", "string", False, "Team on that day, from the roster."),
        Column("site", "string", False, "Site on that day, from the roster."),
        _count(
            "contacts_handled",
            "Contacts connected to the agent.",
            Metric(
                "count of contacts with an agent",
                "contacts",
                "Amazon Connect CONTACTS_HANDLED",
                "contacts: agent_pseudonym",
            ),
        ),
        _seconds(
            "talk_seconds",
            "Sum of agent interaction time over handled contacts.",
            Metric(
                "sum of talk over handled contacts",
                "seconds",
                "Amazon Connect AgentInteractionDuration; Genesys tTalkComplete",
                _CONTACTS + "talk_seconds",
            ),
        ),
        _seconds(
            "hold_seconds",
            "Sum of customer hold time over handled contacts.",
            Metric(
                "sum of hold over handled contacts (average hold = hold_seconds / contacts_held)",
                "seconds",
                "Amazon Connect CustomerHoldDuration; Genesys tHeldComplete",
                _CONTACTS + "hold_seconds",
            ),
        ),
        _seconds(
            "acw_seconds",
            "Sum of after-contact work time over handled contacts.",
            Metric(
                "sum of after-contact work over handled contacts (ACW after the last call of a shift "
                "counts on the contact's day)",
                "seconds",
                "Amazon Connect AfterContactWorkDuration; Genesys tAcw",
                _CONTACTS + "acw_seconds",
            ),
        ),
        _seconds(
            "handle_seconds",
            "talk + hold + after-contact work.",
            Metric(
                "talk_seconds + hold_seconds + acw_seconds (AHT = handle_seconds / contacts_handled)",
                "seconds",
                "Amazon Connect HANDLE_TIME; Genesys tHandle = tTalkComplete + tHeldComplete + tAcw",
                _CONTACTS + "talk_seconds, hold_seconds, acw_seconds",
            ),
        ),
        _count(
            "transfers_out",
            "Handled contacts the agent transferred onwards.",
            Metric(
                "count of handled contacts transferred onwards (transfer rate = transfers_out / contacts_handled)",
                "contacts",
                "Amazon Connect CONTACTS_TRANSFERRED_OUT",
                _CONTACTS + "transferred_out",
            ),
        ),
        _seconds(
            "staffed_seconds",
            "Time in any status other than Offline (online time).",
            Metric(
                "sum of status intervals whose type is not OFFLINE",
                "seconds",
                "Amazon Connect ONLINE_TIME (staffed time)",
                _STATUS,
            ),
        ),
        _seconds(
            "available_seconds",
            "Time in a routable (Available) status.",
            Metric("sum of ROUTABLE status intervals", "seconds", "Amazon Connect AGENT_AVAILABLE_TIME", _STATUS),
        ),
        _seconds(
            "available_idle_seconds",
            "Available time not spent on contacts.",
            Metric(
                "max(0, available_seconds - handle_seconds)",
                "seconds",
                "Amazon Connect AGENT_IDLE_TIME (Available, no contact)",
                _STATUS + "; contacts",
            ),
        ),
        _seconds(
            "not_ready_seconds",
            "Time in custom (not-ready) statuses such as Break or Meeting.",
            Metric(
                "sum of CUSTOM status intervals (the four not_ready_*_seconds add up to it, up to rounding)",
                "seconds",
                "Amazon Connect AGENT_NON_PRODUCTIVE_TIME",
                _STATUS,
            ),
        ),
        _seconds(
            "desktop_active_seconds",
            "Desktop time not away from keyboard.",
            Metric(
                "sum of not-afk segments of the afk bucket (an event ends where the next begins)",
                "seconds",
                "ActivityWatch afk watcher (not-afk time)",
                _DESKTOP,
            ),
        ),
        _seconds(
            "desktop_idle_seconds",
            "Desktop time away from keyboard.",
            Metric(
                "sum of afk segments of the afk bucket (an event ends where the next begins)",
                "seconds",
                "ActivityWatch afk watcher (afk time)",
                _DESKTOP,
            ),
        ),
        _count(
            "contacts_held",
            "Handled contacts the customer was put on hold in (the denominator of average hold).",
            Metric(
                "count of handled contacts with hold_seconds > 0 or holds > 0",
                "contacts",
                "Amazon Connect CONTACTS_PUT_ON_HOLD (average hold counts held contacts only)",
                _CONTACTS + "hold_seconds, holds",
            ),
        ),
        *(
            _seconds(
                f"not_ready_{category}_seconds",
                f"Not-ready time whose status is a {category} status.",
                Metric(
                    f"sum of CUSTOM status intervals whose name contains {', '.join(words)}"
                    if words
                    else "sum of the other CUSTOM status intervals",
                    "seconds",
                    "Amazon Connect AGENT_NON_PRODUCTIVE_TIME by status (custom status names)",
                    _STATUS,
                ),
            )
            for category, words in (*NOT_READY_CATEGORIES.items(), ("other", ()))
        ),
        Column(
            "occupancy",
            "double",
            True,
            "Share of contact-ready time spent on contacts; null without such time.",
            min_value=0,
            max_value=1,
            metric=Metric(
                "handle_seconds / (handle_seconds + available_idle_seconds)",
                "ratio 0-1",
                "Amazon Connect AGENT_OCCUPANCY",
                _CONTACTS + "handle; " + _STATUS,
            ),
        ),
        Column(
            "utilization",
            "double",
            True,
            "Share of staffed time spent on contacts; null without staffed time.",
            min_value=0,
            metric=Metric(
                "handle_seconds / staffed_seconds (above 1 when contacts outlast the logged status "
                "time, e.g. a missing login)",
                "ratio",
                "Genesys utilization (time on interactions / on-queue or staffed time)",
                _CONTACTS + "handle; " + _STATUS,
            ),
        ),
        *(
            _seconds(
                f"desktop_{category}_seconds",
                f"Active desktop time with a {category} window in focus.",
                Metric(
                    f"overlap of window segments of category {category} with not-afk segments",
                    "seconds",
                    "ActivityWatch window watcher filtered by not-afk (its canonical 'active window' query)",
                    _DESKTOP + ", app_category",
                ),
            )
            for category in APP_CATEGORIES
        ),
        _seconds(
            "scheduled_seconds",
            "Time scheduled as shift (breaks and other activities inside it included).",
            Metric(
                "length of the union of the day's shift rows",
                "seconds",
                "NICE / Calabrio scheduled time (the adherence denominator)",
                _SCHEDULE,
            ),
        ),
        _seconds(
            "in_adherence_seconds",
            "Scheduled time in which the agent's status matched the scheduled activity.",
            Metric(
                "shift time in which the actual state adheres to the scheduled state "
                "(schema.ADHERING_STATES: work = a routable status; a break = a break status or logged out; "
                "meeting, training, other = a not-ready status of that category)",
                "seconds",
                "NICE / Calabrio in-adherence time",
                _SCHEDULE + "; " + _STATUS,
            ),
        ),
        _seconds(
            "scheduled_work_seconds",
            "Scheduled shift time that is not a scheduled break.",
            Metric(
                "scheduled_seconds minus the shift time scheduled as break",
                "seconds",
                "Calabrio / NICE scheduled work time (the conformance denominator)",
                _SCHEDULE,
            ),
        ),
        _seconds(
            "worked_seconds",
            "Staffed time not on a break status, whenever in the day it happened.",
            Metric(
                "staffed_seconds - not_ready_break_seconds",
                "seconds",
                "Calabrio / NICE actual work time (the conformance numerator)",
                _STATUS,
            ),
        ),
        Column(
            "adherence",
            "double",
            True,
            "Share of scheduled time in adherence; null without a scheduled shift.",
            min_value=0,
            max_value=1,
            metric=Metric(
                "in_adherence_seconds / scheduled_seconds",
                "ratio 0-1",
                "NICE / Calabrio schedule adherence (minutes in adherence / scheduled minutes)",
                _SCHEDULE + "; " + _STATUS,
            ),
        ),
        Column(
            "conformance",
            "double",
            True,
            "Worked time against scheduled work time; above 1 with overtime; null without scheduled work.",
            min_value=0,
            metric=Metric(
                "worked_seconds / scheduled_work_seconds",
                "ratio",
                "Calabrio / NICE schedule conformance (time worked / time scheduled to work, whenever worked)",
                _SCHEDULE + "; " + _STATUS,
            ),
        ),
    ),
)

QUEUE_DAY = Table(
    name="queue_day",
    zone="metrics",
    grain="one row per queue per day (the contacts' site-local day); no agent involved",
    key=("day", "queue"),
    columns=(
        _day(),
        Column("queue", "string", False, "Queue name as the telephony system reports it."),
        _count(
            "offered",
            "Contacts that entered the queue.",
            Metric("count of contacts with a queue", "contacts", "Amazon Connect CONTACTS_QUEUED", "contacts: queue"),
        ),
        _count(
            "answered",
            "Queued contacts that reached an agent.",
            Metric(
                "count of queued contacts not abandoned",
                "contacts",
                "Amazon Connect CONTACTS_HANDLED_INCOMING by queue; Genesys tAnswered",
                "contacts: queue, abandoned",
            ),
        ),
        _count(
            "abandoned",
            "Queued contacts that never reached an agent (abandon rate = abandoned / offered).",
            Metric(
                "count of queued contacts abandoned",
                "contacts",
                "Amazon Connect CONTACTS_ABANDONED",
                "contacts: abandoned",
            ),
        ),
        _count(
            "answered_within_threshold",
            "Answered contacts that waited at most the service-level threshold.",
            Metric(
                "count of answered contacts with queue_seconds <= service_level_threshold_seconds",
                "contacts",
                "Amazon Connect SERVICE_LEVEL numerator",
                "contacts: queue_seconds",
            ),
        ),
        Column(
            "service_level_threshold_seconds",
            "long",
            False,
            "The threshold X of the service level (TEAMLENS_SERVICE_LEVEL_SECONDS).",
            min_value=0,
        ),
        Column(
            "service_level",
            "double",
            True,
            "Share of offered contacts answered within the threshold.",
            min_value=0,
            max_value=1,
            metric=Metric(
                "answered_within_threshold / offered (abandoned contacts count against it)",
                "ratio 0-1",
                "Amazon Connect SERVICE_LEVEL X (answered within X s / queued)",
                "contacts: queue, queue_seconds, abandoned",
            ),
        ),
        Column(
            "answer_wait_seconds",
            "long",
            False,
            "Sum of queue time over answered contacts.",
            min_value=0,
            metric=Metric(
                "sum of queue_seconds over answered contacts",
                "seconds",
                "Amazon Connect QUEUE_ANSWER_TIME (sum)",
                "contacts: queue_seconds",
            ),
        ),
        Column(
            "asa_seconds",
            "double",
            True,
            "Average speed of answer; null when nothing was answered.",
            min_value=0,
            metric=Metric(
                "answer_wait_seconds / answered",
                "seconds",
                "Amazon Connect QUEUE_ANSWER_TIME average (ASA); Genesys tAnswered average",
                "contacts: queue_seconds",
            ),
        ),
    ),
)

SCHEDULES = Table(
    name="schedules",
    zone="staged",
    grain="one row per scheduled activity (a shift, or an activity inside it) of one agent per source",
    key=("source", "agent_pseudonym", "activity", "start_ts"),
    lineage=("source_file", "source_line"),
    columns=(
        _day(),
        _source(),
        _agent(),
        Column(
            "activity",
            "string",
            False,
            "shift, or the category of an activity scheduled inside it (break, meeting, training, other); "
            "the activity's own name is dropped.",
            "activity via SCHEDULE_ACTIVITIES",
            allowed_values=SCHEDULE_ACTIVITIES,
        ),
        Column("start_ts", "timestamp", False, "Scheduled start, UTC.", "start_utc"),
        Column("end_ts", "timestamp", False, "Scheduled end, UTC (after start_ts).", "end_utc"),
        *_lineage(),
    ),
)

STAGED_TABLES: dict[str, Table] = {t.name: t for t in (ROSTER, CONTACTS, AGENT_EVENTS, DESKTOP_ACTIVITY, SCHEDULES)}
METRIC_TABLES: dict[str, Table] = {t.name: t for t in (AGENT_DAY, QUEUE_DAY)}
ALL_TABLES: dict[str, Table] = {**STAGED_TABLES, **METRIC_TABLES}

QUARANTINE_COLUMNS: tuple[Column, ...] = (
    _day(),
    Column("source", "string", False, "Landing source (connect_ctr, connect_agent_events, ...)."),
    Column("source_file", "string", False, "Landing file of the bad row."),
    Column("source_line", "long", True, "Line or event position in that file, where known."),
    Column("reason", "string", False, "Why the row was quarantined."),
    Column("raw_record", "string", True, "The raw record as delivered (restricted zone only)."),
)
