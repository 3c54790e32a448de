"""The staged tables (canonical, pseudonymised, minimised rows) and their vocabularies.

Each table is partitioned by site-local day; the allowed values declared here are what
validation accepts and what ingestion maps source values to.
"""

from __future__ import annotations

from foundation.schema.types import (
    MAX_DAY_SECONDS,
    Column,
    Table,
    agent_column,
    day_column,
    lineage_columns,
    source_column,
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
# (see jobs.source_connect).
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
        day_column(),
        agent_column(),
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
        Column(
            "contact_id",
            "string",
            False,
            "Contact id as the telephony system assigns it; a different call under an id already seen, where "
            "the export's ids are not unique, gets ~ and 8 hex digits of its content fingerprint.",
            "ContactId",
        ),
        day_column(),
        source_column(),
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
        *lineage_columns(),
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
        day_column(),
        source_column(),
        agent_column(),
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
        *lineage_columns(),
    ),
)

DESKTOP_ACTIVITY = Table(
    name="desktop_activity",
    zone="staged",
    grain="one row per desktop event per source (a window, afk or browser event)",
    key=("source", "agent_pseudonym", "bucket", "start_ts"),
    lineage=("source_file", "source_line"),
    columns=(
        day_column(),
        source_column(),
        agent_column(),
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
        *lineage_columns(),
    ),
)


# Not-ready statuses by reason category. Which names belong to which category is policy (the words
# of the policy key status_name_keywords, foundation.status_names); a name with none of them is 'other'.
NOT_READY_CATEGORY_NAMES = ("break", "meeting", "training", "other")

# Scheduled activities (workforce management): the shift itself, and activities scheduled inside
# it. A landing activity named "shift" (any case) is the shift; any other gets its category from
# the policy's status_name_keywords (Lunch is a break), else "other". The name is dropped.
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

SCHEDULES = Table(
    name="schedules",
    zone="staged",
    grain="one row per scheduled activity (a shift, or an activity inside it) of one agent per source",
    key=("source", "agent_pseudonym", "activity", "start_ts"),
    lineage=("source_file", "source_line"),
    columns=(
        day_column(),
        source_column(),
        agent_column(),
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
        *lineage_columns(),
    ),
)

# Pulse survey answers (landing/surveys): one whole number per person, survey and question, on the
# question's scale (the policy's `surveys`); free text, comments and names are never read.
SURVEY_ANSWERS = Table(
    name="survey_answers",
    zone="staged",
    grain="one row per answer of one agent to one question of one survey (the latest answer wins)",
    key=("source", "agent_pseudonym", "survey_id", "question_id"),
    lineage=("source_file", "source_line"),
    columns=(
        day_column(),
        source_column(),
        agent_column(),
        Column("survey_id", "string", False, "Survey, as the policy's `surveys` declares it.", "survey_id"),
        Column("question_id", "string", False, "Question of that survey, as the policy declares it.", "question_id"),
        Column("answered_on", "date", False, "Day the answer was given.", "date"),
        Column(
            "answer",
            "int",
            False,
            "The answer on the question's scale: 0-10 (eNPS) or 1-5 (Likert); checked against the question's scale.",
            "answer",
            min_value=0,
            max_value=10,
        ),
        *lineage_columns(),
    ),
)

STAGED_TABLES: dict[str, Table] = {
    t.name: t for t in (ROSTER, CONTACTS, AGENT_EVENTS, DESKTOP_ACTIVITY, SCHEDULES, SURVEY_ANSWERS)
}

QUARANTINE_COLUMNS: tuple[Column, ...] = (
    day_column(),
    Column("source", "string", False, "Landing source (connect_ctr, connect_agent_events, ...)."),
    Column("source_file", "string", False, "Landing file of the bad row."),
    Column("source_line", "long", True, "Line or event position in that file, where known."),
    Column("reason", "string", False, "Why the row was quarantined."),
    Column("raw_record", "string", True, "The raw record as delivered (restricted zone only)."),
)
