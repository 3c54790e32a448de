"""Property tests (hypothesis) of the three built-in parsers: Amazon Connect CTR lines
(jobs.staged_contacts), Connect agent event lines (jobs.staged_agent_events) and ActivityWatch
bucket documents (jobs.staged_desktop_activity).

Each example is a small random mixture of valid records, records with exactly one fault (a
missing, wrong-typed or negative field, an unknown agent), non-JSON garbage and repeated
deliveries, in one in-memory DataFrame. The expected outcome of every record (staged with which
values, quarantined for which reason, or a duplicate) is worked out in Python from the generated
values; the properties are checked on the transform and quarantine outputs (both run classify).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from foundation import roster, schema
from jobs import common, staged_agent_events, staged_contacts, staged_desktop_activity

KEY = b"ingest-properties-test-key-0123456789"
DAY = dt.date(2026, 10, 5)
MIDNIGHT = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)
# Put into every free-text field (phone number, attributes, names, titles, URLs, file names).
MARKER = "QZX-MARKER-7F3A"

ANNA = hmac.new(KEY, b"E-1", hashlib.sha256).hexdigest()
BERT = hmac.new(KEY, b"E-2", hashlib.sha256).hexdigest()
CLEO = hmac.new(KEY, b"E-3", hashlib.sha256).hexdigest()
TIMEZONES = {ANNA: "Europe/Berlin", BERT: "Europe/Lisbon", CLEO: "America/New_York"}
# Connect user names as records spell them (matched trimmed and case-insensitively).
USERS = {"anna": ANNA, " Anna ": ANNA, "BERT": BERT, "cleo": CLEO}
# ActivityWatch host names as bucket ids and hostname fields spell them.
HOSTS = {"pc-anna": ANNA, "PC-Anna": ANNA, "pc-bert": BERT, "pc-cleo": CLEO}
UNKNOWN = "zed-unknown"
IDENTIFIERS = ("anna", "bert", "cleo", "pc-anna", "pc-bert", "pc-cleo", UNKNOWN)

PROPERTY_SETTINGS = hsettings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

_roster_cache: dict[str, Any] = {}


def roster_map(spark):
    if "map" not in _roster_cache:
        agents = [
            roster.RosterAgent(ANNA, "anna", "pc-anna", "Team Nord", "Berlin", "Europe/Berlin"),
            roster.RosterAgent(BERT, "bert", "pc-bert", "Team Sued", "Lisbon", "Europe/Lisbon"),
            roster.RosterAgent(CLEO, "cleo", "pc-cleo", "Team East", "New York", "America/New_York"),
        ]
        _roster_cache["map"] = common.roster_frame(spark, agents).cache()
    return _roster_cache["map"]


def naive(t: dt.datetime | None) -> dt.datetime | None:
    """An aware instant as a collected Spark timestamp: naive, in the Python process's local time."""
    return None if t is None else t.astimezone().replace(tzinfo=None)


def far_from_day(t: dt.datetime, tz: str) -> bool:
    """The day rule: the instant's site-local day lies more than one day from the landing day."""
    return abs((t.astimezone(ZoneInfo(tz)).date() - DAY).days) > 1


def instants(tz: str, step: dt.timedelta = dt.timedelta(seconds=1)) -> st.SearchStrategy[dt.datetime]:
    """Instants from a day and a half before the landing day to two and a half after it, half of
    them within 90 minutes of the edges of the day rule's window in the given time zone (local
    midnight starting the day before, and ending the day after, the landing day)."""
    span = st.integers(int(-36 * 3600 / step.total_seconds()), int(60 * 3600 / step.total_seconds()))
    anywhere = span.map(lambda k: MIDNIGHT + k * step)
    edges = [
        dt.datetime.combine(DAY + dt.timedelta(days=d), dt.time(), ZoneInfo(tz)).astimezone(dt.UTC) for d in (-1, 2)
    ]
    near = int(5400 / step.total_seconds())
    edge = st.tuples(st.sampled_from(edges), st.integers(-near, near)).map(lambda e: e[0] + e[1] * step)
    return st.one_of(anywhere, edge)


def lines_frame(spark, file: str, lines: list[str]):
    return spark.createDataFrame([(file, i, v) for i, v in enumerate(lines, start=1)], common.lines_schema())


def assert_table_constraints(table: schema.Table, rows: list[dict[str, Any]]) -> None:
    """Staged rows satisfy the declared schema: non-null columns, allowed values, bounds, unique key."""
    for row in rows:
        assert set(row) == set(table.column_names)
        for column in table.columns:
            value = row[column.name]
            if not column.nullable:
                assert value is not None, (column.name, row)
            if value is None:
                continue
            if column.allowed_values is not None:
                assert value in column.allowed_values, (column.name, value)
            if column.min_value is not None:
                assert value >= column.min_value, (column.name, value)
            if column.max_value is not None:
                assert value <= column.max_value, (column.name, value)
    keys = [(*(r[k] for k in table.key), r["day"]) for r in rows]
    assert len(keys) == len(set(keys)), "staged key not unique"


def assert_no_personal_text(rows: list[dict[str, Any]]) -> None:
    text = json.dumps(rows, default=str).lower()
    assert MARKER.lower() not in text
    for identifier in IDENTIFIERS:
        assert identifier not in text, identifier


def assert_accounted(records: list[Any], staged: list[Any], quarantined: list[Any], duplicates: list[Any]) -> None:
    """Every record read exactly once: staged + quarantined + duplicates == records read.

    Each argument lists record identities (file and position); the duplicates are the valid
    deliveries that lost to another delivery of the same key, as worked out from the inputs.
    """
    assert len(staged) + len(quarantined) + len(duplicates) == len(records)
    assert sorted(staged + quarantined + duplicates) == sorted(records)


_garbage = st.text(max_size=30).filter(lambda s: s.strip() != "")


# --- Connect contact trace records ------------------------------------------------------------

CTR_FILE = f"file:/landing/connect_ctr/day={DAY}/firehose-0001.jsonl"
AGENT_NUMBERS = ("AgentInteractionDuration", "CustomerHoldDuration", "NumberOfHolds", "AfterContactWorkDuration")
CTR_FAULTS = (
    "missing ContactId",
    "missing Channel",
    "missing InitiationMethod",
    "missing InitiationTimestamp",
    "invalid InitiationTimestamp",
    "missing LastUpdateTimestamp",
    "invalid DisconnectTimestamp",
    "missing Agent.Username",
    "agent not in roster",
    "wrong type",
    "negative",
)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


_seconds = st.integers(min_value=0, max_value=schema.MAX_DAY_SECONDS)


@st.composite
def ctr_records(draw) -> tuple[str, dict[str, Any] | None, str | None]:
    """(the line, the staged values it must give when it passes, its quarantine reason or None)."""
    fault = draw(st.sampled_from((None,) * 6 + CTR_FAULTS))
    user = draw(st.sampled_from(sorted(USERS)))
    queue_needed = fault in ("wrong type", "negative") and draw(st.booleans())
    agent_needed = fault in ("missing Agent.Username", "agent not in roster", "wrong type", "negative")
    agent_needed = agent_needed and not queue_needed
    has_agent = agent_needed or draw(st.booleans())
    start = draw(instants(TIMEZONES[USERS[user]] if has_agent else "UTC"))
    last = start + dt.timedelta(seconds=draw(st.integers(0, 7200)))
    end = draw(st.one_of(st.none(), st.integers(0, 3600).map(lambda s: start + dt.timedelta(seconds=s))))
    connected = draw(st.one_of(st.none(), st.integers(0, 600).map(lambda s: start + dt.timedelta(seconds=s))))
    queue_strategy = st.fixed_dictionaries({"Name": st.sampled_from(["Support", "Sales"]), "Duration": _seconds})
    queue = draw(queue_strategy if queue_needed else st.one_of(st.none(), queue_strategy))
    agent = None
    if has_agent:
        agent = {
            "ARN": f"arn:aws:connect:agent/{MARKER}",
            "Username": user,
            "ConnectedToAgentTimestamp": None if connected is None else iso(connected),
            "AgentInteractionDuration": draw(_seconds),
            "CustomerHoldDuration": draw(_seconds),
            "NumberOfHolds": draw(st.integers(0, 1000)),
            "AfterContactWorkDuration": draw(_seconds),
            "RoutingProfile": {"Name": f"Profile of {MARKER}"},
            "HierarchyGroups": {"Level1": {"GroupName": MARKER}},
        }
    record: dict[str, Any] = {
        "ContactId": draw(st.sampled_from([f"c-{i}" for i in range(6)])),
        "Channel": draw(st.sampled_from(schema.CHANNELS)),
        "InitiationMethod": draw(st.sampled_from(schema.INITIATION_METHODS)),
        "InitiationTimestamp": iso(start),
        "DisconnectTimestamp": None if end is None else iso(end),
        "LastUpdateTimestamp": iso(last),
        "NextContactId": draw(st.sampled_from([None, "", " ", "next-1"])),
        "CustomerEndpoint": {"Address": f"+4930{MARKER}", "Type": "TELEPHONE_NUMBER"},
        "SystemEndpoint": {"Address": f"+4940{MARKER}", "Type": "TELEPHONE_NUMBER"},
        "Attributes": {"note": f"Erika {MARKER}", "customer_name": MARKER},
        "Queue": queue,
        "Agent": agent,
    }
    reason: str | None = fault
    if fault == "missing ContactId":
        if draw(st.booleans()):
            del record["ContactId"]
        else:
            record["ContactId"] = draw(st.sampled_from([None, "", "  "]))
    elif fault == "missing Channel":
        del record["Channel"]
    elif fault == "missing InitiationMethod":
        record["InitiationMethod"] = " "
    elif fault == "missing InitiationTimestamp":
        record["InitiationTimestamp"] = None
    elif fault == "invalid InitiationTimestamp":
        record["InitiationTimestamp"] = "not a time"
    elif fault == "missing LastUpdateTimestamp":
        del record["LastUpdateTimestamp"]
    elif fault == "invalid DisconnectTimestamp":
        record["DisconnectTimestamp"] = "2026-13-45T25:00:00Z"
    elif fault == "missing Agent.Username":
        assert agent is not None
        agent["Username"] = draw(st.sampled_from([None, "", "   "]))
    elif fault == "agent not in roster":
        assert agent is not None
        agent["Username"] = f"{UNKNOWN}"
    elif fault in ("wrong type", "negative"):
        if queue_needed:
            assert queue is not None
            field_, label = "Duration", "Queue.Duration"
            target = queue
        else:
            assert agent is not None
            field_ = draw(st.sampled_from(AGENT_NUMBERS))
            label, target = f"Agent.{field_}", agent
        if fault == "wrong type":
            target[field_] = draw(st.sampled_from(["long", "12s", True, [1]]))
            reason = f"{label} has the wrong type"
        else:
            target[field_] = draw(st.integers(-100_000, -1))
            reason = f"negative {label}"
    pseudonym = USERS[user] if agent is not None else None
    if reason is None and far_from_day(start, TIMEZONES[pseudonym] if pseudonym else "UTC"):
        reason = "InitiationTimestamp more than a day from the landing day"
    if reason is not None:
        return json.dumps(record), None, reason
    staged = {
        "contact_id": record["ContactId"],
        "day": DAY,
        "source": "connect_ctr",
        "agent_pseudonym": pseudonym,
        "queue": queue["Name"] if queue else None,
        "channel": record["Channel"],
        "initiation_method": record["InitiationMethod"],
        "initiation_ts": naive(start),
        "connected_to_agent_ts": naive(connected) if agent is not None else None,
        "disconnect_ts": naive(end),
        "queue_seconds": queue["Duration"] if queue else None,
        "talk_seconds": agent["AgentInteractionDuration"] if agent else None,
        "hold_seconds": agent["CustomerHoldDuration"] if agent else None,
        "holds": agent["NumberOfHolds"] if agent else None,
        "acw_seconds": agent["AfterContactWorkDuration"] if agent else None,
        "transferred_out": agent is not None and bool((record["NextContactId"] or "").strip()),
        "abandoned": queue is not None and agent is None,
        "last_update_ts": naive(last),
        "source_file": CTR_FILE,
    }
    return json.dumps(record), staged, None


@st.composite
def mixtures(draw, records: st.SearchStrategy, max_records: int = 8) -> list[tuple[str, Any, str | None]]:
    """Records, garbage lines and re-deliveries of some records, shuffled."""
    good = draw(st.lists(records, min_size=1, max_size=max_records))
    garbage = [(text, None, "garbage") for text in draw(st.lists(_garbage, max_size=3))]
    repeats = draw(st.lists(st.sampled_from(good), max_size=3))
    return draw(st.permutations(good + garbage + repeats))


def _collect(df) -> list[dict[str, Any]]:
    return [r.asDict() for r in df.collect()]


@PROPERTY_SETTINGS
@given(mixture=mixtures(ctr_records()), explicit_day=st.booleans())
def test_ctr_lines_are_each_staged_quarantined_or_duplicate(spark, mixture, explicit_day):
    lines_df = lines_frame(spark, CTR_FILE, [line for line, _, _ in mixture])
    day = DAY if explicit_day else None  # None: the day comes from the landing folder in source_file
    rmap = roster_map(spark)
    staged = _collect(staged_contacts.transform(lines_df, rmap, day))
    quarantined = _collect(staged_contacts.quarantine(lines_df, rmap, day))

    # Quarantined: exactly the faulty records and the garbage, each with its reason.
    expected_reasons = {i: reason for i, (_, _, reason) in enumerate(mixture, start=1) if reason is not None}
    got_reasons = {r["source_line"]: r["reason"] for r in quarantined}
    assert set(got_reasons) == set(expected_reasons)
    for line, reason in expected_reasons.items():
        if reason != "garbage":
            assert got_reasons[line] == reason, (line, mixture[line - 1][0])
    assert all((r["day"], r["source"], r["source_file"]) == (DAY, "connect_ctr", CTR_FILE) for r in quarantined)
    assert {r["source_line"]: r["raw_record"] for r in quarantined} == {i: mixture[i - 1][0] for i in got_reasons}

    # Staged: per ContactId the valid delivery with the latest LastUpdateTimestamp (ties: first line).
    winners: dict[str, tuple[int, dict[str, Any]]] = {}
    for line, (_, values, _) in enumerate(mixture, start=1):
        if values is None:
            continue
        best = winners.get(values["contact_id"])
        if best is None or values["last_update_ts"] > best[1]["last_update_ts"]:
            winners[values["contact_id"]] = (line, values)
    expected = {cid: {**values, "source_line": line} for cid, (line, values) in winners.items()}
    assert {r["contact_id"]: r for r in staged} == expected
    valid_lines = [i for i, (_, values, _) in enumerate(mixture, start=1) if values is not None]
    duplicates = sorted(set(valid_lines) - {line for line, _ in winners.values()})
    assert_accounted(
        list(range(1, len(mixture) + 1)),
        [r["source_line"] for r in staged],
        [r["source_line"] for r in quarantined],
        duplicates,
    )

    assert_table_constraints(schema.CONTACTS, staged)
    assert_no_personal_text(staged)


# --- Connect agent events ---------------------------------------------------------------------

EVENTS_FILE = f"file:/landing/connect_agent_events/day={DAY}/stream-0001.jsonl"
EVENT_FAULTS = (
    "missing EventId",
    "missing EventTimestamp",
    "invalid EventTimestamp",
    "missing EventType",
    "missing CurrentAgentSnapshot",
    "missing CurrentAgentSnapshot.AgentStatus.Name",
    "missing CurrentAgentSnapshot.AgentStatus.StartTimestamp",
    "invalid CurrentAgentSnapshot.AgentStatus.StartTimestamp",
    "missing CurrentAgentSnapshot.Configuration.Username",
    "agent not in roster",
    "a field has the wrong type",
)
STATUS_NAMES = ("Available", "Offline", "Break", "Lunch", "Meeting")
DERIVED_TYPES = {"Available": "ROUTABLE", "Offline": "OFFLINE"}


def iso_ms(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


@st.composite
def agent_event_records(draw) -> tuple[str, dict[str, Any] | None, str | None]:
    fault = draw(st.sampled_from((None,) * 6 + EVENT_FAULTS))
    user = draw(st.sampled_from(sorted(USERS)))
    at = draw(instants(TIMEZONES[USERS[user]], dt.timedelta(milliseconds=1)))
    status_start = at - dt.timedelta(seconds=draw(st.integers(0, 3600)))
    name = draw(st.sampled_from(STATUS_NAMES))
    type_ = draw(st.sampled_from([None, "", " ", "ROUTABLE", " CUSTOM ", "OFFLINE"]))
    status: dict[str, Any] = {"ARN": MARKER, "Name": name, "StartTimestamp": iso_ms(status_start)}
    if type_ is not None:
        status["Type"] = type_
    configuration: dict[str, Any] = {
        "Username": user,
        "FirstName": MARKER,
        "LastName": f"Agent {MARKER}",
        "RoutingProfile": {"Name": MARKER},
    }
    record: dict[str, Any] = {
        "AgentARN": f"arn:aws:connect:agent/{MARKER}",
        "EventId": draw(st.sampled_from([f"e-{i}" for i in range(6)])),
        "EventTimestamp": iso_ms(at),
        "EventType": draw(st.sampled_from(schema.AGENT_EVENT_TYPES)),
        "CurrentAgentSnapshot": {"AgentStatus": status, "Configuration": configuration, "Contacts": []},
        "PreviousAgentSnapshot": {"Configuration": {"FirstName": MARKER, "LastName": MARKER}},
    }
    if fault == "missing EventId":
        record["EventId"] = draw(st.sampled_from([None, "", " "]))
    elif fault == "missing EventTimestamp":
        del record["EventTimestamp"]
    elif fault == "invalid EventTimestamp":
        record["EventTimestamp"] = "yesterday at noon"
    elif fault == "missing EventType":
        record["EventType"] = ""
    elif fault == "missing CurrentAgentSnapshot":
        record["CurrentAgentSnapshot"] = None
    elif fault == "missing CurrentAgentSnapshot.AgentStatus.Name":
        status["Name"] = draw(st.sampled_from([None, ""]))
    elif fault == "missing CurrentAgentSnapshot.AgentStatus.StartTimestamp":
        del status["StartTimestamp"]
    elif fault == "invalid CurrentAgentSnapshot.AgentStatus.StartTimestamp":
        status["StartTimestamp"] = "2026-02-30T10:00:00.000Z"
    elif fault == "missing CurrentAgentSnapshot.Configuration.Username":
        configuration["Username"] = draw(st.sampled_from([None, "", "  "]))
    elif fault == "agent not in roster":
        configuration["Username"] = UNKNOWN
    elif fault == "a field has the wrong type":
        record["CurrentAgentSnapshot"] = draw(st.sampled_from(["Available", 7, [status]]))
    reason = fault
    if reason is None and far_from_day(at, TIMEZONES[USERS[user]]):
        reason = "EventTimestamp more than a day from the landing day"
    if reason is not None:
        return json.dumps(record), None, reason
    staged = {
        "event_id": record["EventId"],
        "day": DAY,
        "source": "connect_agent_events",
        "agent_pseudonym": USERS[user],
        "event_ts": naive(at),
        "event_type": record["EventType"],
        "status_name": name,
        "status_type": (type_ or "").strip() or DERIVED_TYPES.get(name, "CUSTOM"),
        "status_start_ts": naive(status_start),
        "source_file": EVENTS_FILE,
    }
    return json.dumps(record), staged, None


@PROPERTY_SETTINGS
@given(mixture=mixtures(agent_event_records()), explicit_day=st.booleans())
def test_agent_event_lines_are_each_staged_quarantined_or_duplicate(spark, mixture, explicit_day):
    lines_df = lines_frame(spark, EVENTS_FILE, [line for line, _, _ in mixture])
    day = DAY if explicit_day else None
    rmap = roster_map(spark)
    staged = _collect(staged_agent_events.transform(lines_df, rmap, day))
    quarantined = _collect(staged_agent_events.quarantine(lines_df, rmap, day))

    expected_reasons = {i: reason for i, (_, _, reason) in enumerate(mixture, start=1) if reason is not None}
    got_reasons = {r["source_line"]: r["reason"] for r in quarantined}
    assert set(got_reasons) == set(expected_reasons)
    for line, reason in expected_reasons.items():
        if reason != "garbage":
            assert got_reasons[line] == reason, (line, mixture[line - 1][0])
    assert all((r["day"], r["source"]) == (DAY, "connect_agent_events") for r in quarantined)

    # Staged: per EventId the first valid delivery in line order.
    first: dict[str, dict[str, Any]] = {}
    for line, (_, values, _) in enumerate(mixture, start=1):
        if values is not None and values["event_id"] not in first:
            first[values["event_id"]] = {**values, "source_line": line}
    assert {r["event_id"]: r for r in staged} == first
    valid_lines = [i for i, (_, values, _) in enumerate(mixture, start=1) if values is not None]
    assert_accounted(
        list(range(1, len(mixture) + 1)),
        [r["source_line"] for r in staged],
        [r["source_line"] for r in quarantined],
        sorted(set(valid_lines) - {r["source_line"] for r in first.values()}),
    )

    assert_table_constraints(schema.AGENT_EVENTS, staged)
    assert_no_personal_text(staged)


# --- ActivityWatch bucket documents -----------------------------------------------------------

AW_FOLDER = f"file:/landing/activitywatch/day={DAY}/"
INGESTED_TYPES = {"currentwindow": "window", "afkstatus": "afk", "web.tab.current": "browser"}
OTHER_TYPES = ("os.hid.input", "app.editor.activity", None)
EVENT_FAULT_REASONS = {
    "no timestamp": "missing timestamp",
    "bad timestamp": "invalid timestamp",
    "no duration": "missing duration",
    "negative duration": "negative duration",
    "string duration": "duration has the wrong type",
    "not an object": "malformed JSON",
}
AFK_FAULT_REASONS = {"no status": "missing data.status", "bad status": "invalid data.status"}
APPS = ("Salesforce", "Notepad", "Outlook", "chrome", "Softphone", "custom-tool.exe")
URLS = (
    f"https://eu1.salesforce.com/case/{MARKER}",
    f"https://acme.atlassian.net/wiki/{MARKER}",
    f"https://{MARKER.lower()}.example.org/x",
    f"not a url {MARKER}",
)
TITLES = (f"Case 123 - {MARKER}", f"Confluence: {MARKER}", f"{MARKER} - Notepad", "")


@st.composite
def aw_events(draw, bucket_type: str | None, tz: str) -> tuple[Any, str | None, dict[str, Any]]:
    """(the event as the document holds it, its own fault's reason or None, its values when it passes)."""
    bucket = INGESTED_TYPES.get(bucket_type or "")
    faults = [None] * 5 + list(EVENT_FAULT_REASONS) + (list(AFK_FAULT_REASONS) if bucket == "afk" else [])
    fault = draw(st.sampled_from(faults)) if bucket else None
    # Coarse start times so that the same agent, bucket and start repeat (duplicates).
    start = draw(instants(tz, dt.timedelta(minutes=30)))
    duration = draw(st.integers(0, 36_000)) / 10
    if bucket == "afk":
        data: dict[str, Any] = {"status": draw(st.sampled_from(["afk", "not-afk"]))}
    elif bucket == "browser":
        data = {"url": draw(st.sampled_from(URLS)), "title": draw(st.sampled_from(TITLES)), "audible": False}
    else:
        data = {"app": draw(st.sampled_from(APPS)), "title": draw(st.sampled_from(TITLES))}
    stamp = start.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00") if draw(st.booleans()) else iso(start)
    event: dict[str, Any] = {"id": draw(st.integers(1, 999)), "timestamp": stamp, "duration": duration, "data": data}
    if fault == "no timestamp":
        del event["timestamp"]
    elif fault == "bad timestamp":
        event["timestamp"] = "at noon"
    elif fault == "no duration":
        event["duration"] = None
    elif fault == "negative duration":
        event["duration"] = -duration - 0.5
    elif fault == "string duration":
        event["duration"] = "93.5s"
    elif fault == "no status":
        del data["status"]
    elif fault == "bad status":
        data["status"] = draw(st.sampled_from(["gone", "AFK"]))
    reason = EVENT_FAULT_REASONS.get(fault) or AFK_FAULT_REASONS.get(fault) if fault else None
    values = {"bucket": bucket, "start": start, "duration": duration, "data": data}
    if fault == "not an object":
        return draw(st.sampled_from([f"{MARKER} was here", 5, [event]])), reason, values
    return event, reason, values


@st.composite
def aw_buckets(draw, index: int) -> tuple[str, dict[str, Any], list[tuple[str | None, dict[str, Any]]]]:
    bucket_type = draw(st.sampled_from([*INGESTED_TYPES, *OTHER_TYPES]))
    host = draw(st.sampled_from([*HOSTS, UNKNOWN]))
    agent = HOSTS.get(host)
    events = draw(st.lists(aw_events(bucket_type, TIMEZONES[agent] if agent else "UTC"), max_size=4))
    bucket: dict[str, Any] = {"id": f"b{index}", "client": "aw-watcher", "events": [e for e, _, _ in events]}
    if bucket_type is not None:
        bucket["type"] = bucket_type
    if draw(st.booleans()):
        bucket["hostname"] = host  # else the bucket id's suffix names the host
    key = f"aw-watcher-b{index}_{host}"
    return key, bucket, [(reason, values) for _, reason, values in events]


@st.composite
def aw_documents(draw) -> tuple[str, list[tuple[str, str | None, dict[str, Any] | None]] | None]:
    """(the document's text, per bucket (type, host, events...) or None when the document is invalid)."""
    kind = draw(st.sampled_from(["buckets"] * 4 + ["garbage", "wrong type", "no buckets"]))
    if kind == "garbage":
        return draw(_garbage), None
    if kind == "wrong type":
        return json.dumps({"buckets": [{"type": "currentwindow", "events": [{"data": {"title": MARKER}}]}]}), None
    if kind == "no buckets":
        return json.dumps({"export": {"title": MARKER}}), None
    n = draw(st.integers(0, 4))
    buckets = [draw(aw_buckets(i)) for i in range(n)]
    doc = {"buckets": {key: bucket for key, bucket, _ in buckets}}
    return json.dumps(doc), [(key, bucket, events) for key, bucket, events in buckets]


@PROPERTY_SETTINGS
@given(
    docs=st.lists(aw_documents(), min_size=1, max_size=4),
    repeats=st.lists(st.integers(0, 3), max_size=2),
    explicit_day=st.booleans(),
)
def test_activitywatch_events_are_each_staged_quarantined_or_duplicate(spark, policy, docs, repeats, explicit_day):
    docs = docs + [docs[i] for i in repeats if i < len(docs)]  # a document delivered again, as another file
    files = [f"{AW_FOLDER}{MARKER}-host-{i:02d}.json" for i in range(len(docs))]
    rows = [(f, text) for f, (text, _) in zip(files, docs, strict=True)]
    documents = spark.createDataFrame(rows, "source_file string, value string")
    day = DAY if explicit_day else None
    rmap = roster_map(spark)
    staged = _collect(staged_desktop_activity.transform(documents, rmap, policy, day))
    quarantined = _collect(staged_desktop_activity.quarantine(documents, rmap, policy, day))
    skipped = {r["bucket_type"]: r["events"] for r in staged_desktop_activity.not_ingested(documents).collect()}

    # Expected outcome of every record: (file, position) -> reason, or the staged values.
    reasons: dict[tuple[str, int | None], str | None] = {}
    passing: list[tuple[str, int, dict[str, Any]]] = []
    expected_skipped: dict[str, int] = {}
    for file, (_, buckets) in zip(files, docs, strict=True):
        if buckets is None:
            reasons[(file, None)] = "invalid document"
            continue
        position = 0
        for key, bucket, events in buckets:
            host = bucket.get("hostname") or key.split("_", 1)[1]
            agent = HOSTS.get(host)
            for event_reason, values in events:
                position += 1
                if values["bucket"] is None:
                    type_ = bucket.get("type") or "(no type)"
                    expected_skipped[type_] = expected_skipped.get(type_, 0) + 1
                    continue
                reason = event_reason
                if reason is None and agent is None:
                    reason = "agent not in roster"
                if reason is None and far_from_day(values["start"], TIMEZONES[agent]):
                    reason = "timestamp more than a day from the landing day"
                reasons[(file, position)] = reason
                if reason is None:
                    passing.append((file, position, {**values, "agent": agent}))
    assert skipped == expected_skipped

    got_reasons = {(r["source_file"], r["source_line"]): r["reason"] for r in quarantined}
    expected_quarantined = {k: v for k, v in reasons.items() if v is not None}
    assert set(got_reasons) == set(expected_quarantined)
    for where, reason in expected_quarantined.items():
        if reason != "invalid document":
            assert got_reasons[where] == reason, where
    assert all((r["day"], r["source"]) == (DAY, "activitywatch") for r in quarantined)
    # The quarantine keeps no title, URL or whole document: only the allow-listed event fields.
    assert all(MARKER not in (r["raw_record"] or "") for r in quarantined)

    # Staged: per (agent, bucket, start) the longest event (ties: first file, then first position).
    winners: dict[tuple[str, str, dt.datetime], tuple[float, str, int, dict[str, Any]]] = {}
    for file, position, values in passing:
        key = (values["agent"], values["bucket"], values["start"])
        candidate = (-values["duration"], file, position, values)
        if key not in winners or candidate[:3] < winners[key][:3]:
            winners[key] = candidate
    expected = []
    for _, _, position, v in winners.values():
        data = v["data"]
        category = None
        if v["bucket"] in ("window", "browser"):
            category = policy.desktop_category(
                data.get("app"), data.get("title"), data.get("url"), v["bucket"] == "browser"
            )
        expected.append(
            {
                "day": DAY,
                "source": "activitywatch",
                "agent_pseudonym": v["agent"],
                "bucket": v["bucket"],
                "start_ts": naive(v["start"]),
                "duration_seconds": v["duration"],
                "app_category": category,
                "afk": data["status"] == "afk" if v["bucket"] == "afk" else None,
                "source_file": AW_FOLDER,
                "source_line": position,
            }
        )

    def order(r: dict[str, Any]) -> tuple[Any, ...]:
        return r["agent_pseudonym"], r["bucket"], r["start_ts"]

    assert sorted(staged, key=order) == sorted(expected, key=order)

    # Every record once: the events of ingested bucket types plus the invalid documents.
    kept = {(file, position) for _, file, position, _ in winners.values()}
    assert_accounted(
        [(f, p or 0) for f, p in reasons],
        [(f, p) for f, p in kept],
        [(f, p or 0) for f, p in got_reasons],
        [(f, p) for f, p, _ in passing if (f, p) not in kept],
    )
    assert len(staged) == len(kept)

    assert_table_constraints(schema.DESKTOP_ACTIVITY, staged)
    assert_no_personal_text(staged)
