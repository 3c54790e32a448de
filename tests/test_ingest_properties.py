"""Property tests (hypothesis) of the Amazon Connect parsers through the one ingest path: contact
trace record lines and agent event lines (jobs.source_connect, resolved by jobs.ingest).

Each example is a small random mixture of valid records, records with exactly one fault (a
missing, wrong-typed or negative field, an unknown agent), non-JSON garbage and repeated
deliveries, in one in-memory DataFrame. The expected outcome of every record (staged with which
values, quarantined for which reason, or a duplicate) is worked out in Python from the generated
values; the properties are checked on the staged and quarantined outputs (both from one
classification). The ActivityWatch properties are in test_ingest_properties_desktop.py.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from foundation import schema
from jobs import reading, source_connect
from tests.helpers import PROP_DAY as DAY
from tests.helpers import PROP_MARKER as MARKER
from tests.helpers import PROP_SETTINGS as PROPERTY_SETTINGS
from tests.helpers import PROP_TIMEZONES as TIMEZONES
from tests.helpers import PROP_UNKNOWN as UNKNOWN
from tests.helpers import PROP_USERS as USERS
from tests.helpers import (
    assert_accounted,
    assert_no_personal_text,
    assert_table_constraints,
    ingest_source_rows,
    prop_dedup_model,
    prop_garbage,
    prop_identities,
)
from tests.helpers import collect_dicts as _collect
from tests.helpers import prop_far_from_day as far_from_day
from tests.helpers import prop_instants as instants
from tests.helpers import prop_iso as iso
from tests.helpers import prop_naive as naive

_garbage = prop_garbage()


def lines_frame(spark, file: str, lines: list[str]):
    return spark.createDataFrame([(file, i, v) for i, v in enumerate(lines, start=1)], reading.lines_schema())


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
        if fault != "missing ContactId":
            # Ids of their own: a faulty record with a later LastUpdateTimestamp would be the latest
            # version of a valid one and hide it (by design; tests/test_redeliveries.py).
            record["ContactId"] = f"q-{record['ContactId']}"
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


@PROPERTY_SETTINGS
@given(mixture=mixtures(ctr_records()), explicit_day=st.booleans())
def test_ctr_lines_are_each_staged_quarantined_or_duplicate(spark, mixture, explicit_day):
    lines_df = lines_frame(spark, CTR_FILE, [line for line, _, _ in mixture])
    day = DAY if explicit_day else None  # None: the day comes from the landing folder in source_file
    rmap = prop_identities(spark)
    staged_df, quarantined_df = ingest_source_rows(source_connect.CTR, source_connect.ctr_rows(lines_df), rmap, day)
    staged, quarantined = _collect(staged_df), _collect(quarantined_df)

    # Per ContactId the latest LastUpdateTimestamp decides; identical copies count once, different
    # records at the latest version are an id collision.
    winners, collided, duplicates = prop_dedup_model(
        [(i, v["contact_id"], v["last_update_ts"], v) for i, (_, v, _) in enumerate(mixture, start=1) if v],
        "id collision: different records share source, contact_id",
    )
    # Quarantined: exactly the faulty records, the garbage and the id collisions, each with its reason.
    expected_reasons = {i: reason for i, (_, _, reason) in enumerate(mixture, start=1) if reason is not None}
    expected_reasons |= collided
    got_reasons = {r["source_line"]: r["reason"] for r in quarantined}
    assert set(got_reasons) == set(expected_reasons)
    for line, reason in expected_reasons.items():
        if reason != "garbage":
            assert got_reasons[line] == reason, (line, mixture[line - 1][0])
    assert all((r["day"], r["source"], r["source_file"]) == (DAY, "connect_ctr", CTR_FILE) for r in quarantined)
    assert {r["source_line"]: r["raw_record"] for r in quarantined} == {i: mixture[i - 1][0] for i in got_reasons}

    expected = {values["contact_id"]: {**values, "source_line": line} for line, values in winners.items()}
    assert {r["contact_id"]: r for r in staged} == expected
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
    rmap = prop_identities(spark)
    rows = source_connect.agent_event_rows(lines_df)
    staged_df, quarantined_df = ingest_source_rows(source_connect.AGENT_EVENTS, rows, rmap, day)
    staged, quarantined = _collect(staged_df), _collect(quarantined_df)

    # Per EventId (no versions): identical copies count once (the first line), different events
    # under one EventId are an id collision.
    winners, collided, duplicates = prop_dedup_model(
        [(i, v["event_id"], 0, v) for i, (_, v, _) in enumerate(mixture, start=1) if v],
        "id collision: different records share source, event_id",
    )
    expected_reasons = {i: reason for i, (_, _, reason) in enumerate(mixture, start=1) if reason is not None}
    expected_reasons |= collided
    got_reasons = {r["source_line"]: r["reason"] for r in quarantined}
    assert set(got_reasons) == set(expected_reasons)
    for line, reason in expected_reasons.items():
        if reason != "garbage":
            assert got_reasons[line] == reason, (line, mixture[line - 1][0])
    assert all((r["day"], r["source"]) == (DAY, "connect_agent_events") for r in quarantined)

    first = {values["event_id"]: {**values, "source_line": line} for line, values in winners.items()}
    assert {r["event_id"]: r for r in staged} == first
    assert_accounted(
        list(range(1, len(mixture) + 1)),
        [r["source_line"] for r in staged],
        [r["source_line"] for r in quarantined],
        duplicates,
    )

    assert_table_constraints(schema.AGENT_EVENTS, staged)
    assert_no_personal_text(staged)


# --- ActivityWatch bucket documents -----------------------------------------------------------
