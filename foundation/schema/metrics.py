"""The metric tables: agent_day, queue_day and the planning tables queue_interval and agent_queue_day,
each column with its formula and vendor definition.

The catalog users read (docs/metrics.md) is generated from these declarations.
"""

from __future__ import annotations

from foundation.schema.staged import APP_CATEGORIES, NOT_READY_CATEGORY_NAMES
from foundation.schema.types import MAX_DAY_SECONDS, Column, Metric, Table, agent_column, day_column


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
        day_column(),
        agent_column(),
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
                    f"sum of CUSTOM status intervals whose name contains a word the policy's "
                    f"status_name_keywords list under {category}"
                    + ("" if category != "other" else ", or none of the listed words"),
                    "seconds",
                    "Amazon Connect AGENT_NON_PRODUCTIVE_TIME by status (custom status names)",
                    _STATUS,
                ),
            )
            for category in NOT_READY_CATEGORY_NAMES
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
        day_column(),
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


_QUARTER = (
    "UTC quarter hours convert exactly into any site's local 15, 30 or 60-minute intervals for every "
    "time zone whose offset is a multiple of 15 minutes (every whole- and half-hour offset, and +05:45)"
)

QUEUE_INTERVAL = Table(
    name="queue_interval",
    zone="metrics",
    grain=(
        "one row per queue per contacts' landing day per UTC quarter hour (the 15-minute start of "
        "initiation_ts) in which the queue was offered a contact; no agent involved. " + _QUARTER
    ),
    key=("day", "queue", "interval_start_utc"),
    columns=(
        day_column(),
        Column("queue", "string", False, "Queue name as the telephony system reports it."),
        Column(
            "interval_start_utc",
            "timestamp",
            False,
            "Start of the UTC quarter hour the contact was initiated in (initiation_ts rounded down to 15 "
            "minutes); a site's local interval of the week is read from it in the site's time zone.",
        ),
        _count(
            "offered",
            "Contacts that entered the queue in the quarter hour (counted where they were initiated).",
            Metric(
                "count of contacts with a queue by the quarter hour of initiation_ts",
                "contacts",
                "Amazon Connect CONTACTS_QUEUED by interval; WFM offered contacts",
                "contacts: queue, initiation_ts",
            ),
        ),
        _count(
            "answered",
            "Offered contacts that reached an agent.",
            Metric(
                "count of queued contacts not abandoned",
                "contacts",
                "Amazon Connect CONTACTS_HANDLED_INCOMING by queue and interval",
                "contacts: queue, initiation_ts, abandoned",
            ),
        ),
        _count(
            "abandoned",
            "Offered contacts that never reached an agent.",
            Metric(
                "count of queued contacts abandoned",
                "contacts",
                "Amazon Connect CONTACTS_ABANDONED by interval",
                "contacts: queue, initiation_ts, abandoned",
            ),
        ),
        _count(
            "answered_within_threshold",
            "Answered contacts that waited at most the service-level threshold.",
            Metric(
                "count of answered contacts with queue_seconds <= TEAMLENS_SERVICE_LEVEL_SECONDS",
                "contacts",
                "Amazon Connect SERVICE_LEVEL numerator by interval",
                "contacts: queue_seconds",
            ),
        ),
        Column(
            "answer_wait_seconds",
            "long",
            False,
            "Sum of queue time over answered contacts.",
            min_value=0,
            metric=Metric(
                "sum of queue_seconds over answered contacts (null as 0)",
                "seconds",
                "Amazon Connect QUEUE_ANSWER_TIME (sum) by interval",
                "contacts: queue_seconds",
            ),
        ),
    ),
)

AGENT_QUEUE_DAY = Table(
    name="agent_queue_day",
    zone="metrics",
    grain=(
        "one row per agent per contacts' landing day per queue in which the agent handled a contact; "
        "restricted like agent_day, read only by the planning release, which clips each agent's window "
        "totals over all queues before noise"
    ),
    key=("day", "agent_pseudonym", "queue"),
    columns=(
        day_column(),
        agent_column(),
        Column("queue", "string", False, "Queue name as the telephony system reports it."),
        _count(
            "contacts_handled",
            "Contacts of the queue connected to the agent.",
            Metric(
                "count of contacts with an agent and a queue",
                "contacts",
                "Amazon Connect CONTACTS_HANDLED by agent and queue",
                _CONTACTS + "queue, agent_pseudonym",
            ),
        ),
        _seconds(
            "handle_seconds",
            "talk + hold + after-contact work of the agent's contacts of the queue.",
            Metric(
                "talk_seconds + hold_seconds + acw_seconds (null as 0)",
                "seconds",
                "Amazon Connect HANDLE_TIME by agent and queue",
                _CONTACTS + "talk_seconds, hold_seconds, acw_seconds",
            ),
        ),
        _seconds(
            "acw_seconds",
            "After-contact work of the agent's contacts of the queue.",
            Metric(
                "sum of acw_seconds (null as 0)",
                "seconds",
                "Amazon Connect AfterContactWorkDuration by agent and queue; Calabrio after-call work",
                _CONTACTS + "acw_seconds",
            ),
        ),
    ),
)

METRIC_TABLES: dict[str, Table] = {t.name: t for t in (AGENT_DAY, QUEUE_DAY, QUEUE_INTERVAL, AGENT_QUEUE_DAY)}
