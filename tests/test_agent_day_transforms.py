"""The agent_day transform (jobs.agent_day) on tiny hand-made staged tables, expected values worked
out by hand."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from pyspark.testing import assertDataFrameEqual

from foundation import schema
from foundation.status_names import StatusNameKeywords
from jobs import agent_day
from tests.helpers import shipped_status_name_keywords
from tests.helpers import table_frame as frame
from tests.helpers import utc_at as ts

KEY = b"transform-test-key-0123456789abcdef"
DAY = dt.date(2026, 10, 5)
UTC = dt.UTC
KEYWORDS = shipped_status_name_keywords()
CAE = "connect_agent_events"
ANNA = hmac.new(KEY, b"E-1", hashlib.sha256).hexdigest()
BERT = hmac.new(KEY, b"E-2", hashlib.sha256).hexdigest()


def no_schedules(spark):
    return spark.createDataFrame([], schema.SCHEDULES.spark_schema())


# --- agent day --------------------------------------------------------------------------------


def test_agent_day_for_a_hand_made_shift(spark):
    """Available 08:00-10:00, Break 10:00-10:15, Available 10:15-12:00, logout 12:00; two calls."""
    roster = spark.createDataFrame(
        [(DAY, ANNA, "Team Nord", "Berlin", "Europe/Berlin"), (DAY, BERT, "Team Sued", "Lisbon", "Europe/Lisbon")],
        schema.ROSTER.spark_schema(),
    )
    f = "f"
    # fmt: off
    base = {"day": DAY, "queue": "Q", "channel": "VOICE", "initiation_method": "INBOUND", "initiation_ts": ts(9),
            "transferred_out": False, "abandoned": False, "last_update_ts": ts(9)}
    contacts = frame(
        spark,
        schema.CONTACTS,
        {**base, "contact_id": "c-1", "agent_pseudonym": ANNA, "talk_seconds": 300, "hold_seconds": 60,
         "acw_seconds": 30, "source_line": 1},
        {**base, "contact_id": "c-2", "agent_pseudonym": ANNA, "talk_seconds": 120, "hold_seconds": 0,
         "acw_seconds": 10, "transferred_out": True, "source_line": 2},
        {**base, "contact_id": "c-3", "agent_pseudonym": None, "abandoned": True, "source_line": 3},  # no agent
        {**base, "contact_id": "c-4", "agent_pseudonym": BERT, "talk_seconds": 100, "source_line": 4},  # nulls as 0
    )
    # fmt: on
    events = spark.createDataFrame(
        [
            (
                "e-1",
                DAY,
                "connect_agent_events",
                ANNA,
                ts(7, 58),
                "LOGIN",
                "Offline",
                "OFFLINE",
                ts(7, 58, day=4),
                f,
                1,
            ),
            ("e-2", DAY, CAE, ANNA, ts(8), "STATE_CHANGE", "Available", "ROUTABLE", ts(8), f, 2),
            ("e-3", DAY, CAE, ANNA, ts(10), "STATE_CHANGE", "Break", "CUSTOM", ts(10), f, 3),
            (
                "e-4",
                DAY,
                "connect_agent_events",
                ANNA,
                ts(10, 15),
                "STATE_CHANGE",
                "Available",
                "ROUTABLE",
                ts(10, 15),
                f,
                4,
            ),
            ("e-5", DAY, CAE, ANNA, ts(11), "HEART_BEAT", "Available", "ROUTABLE", ts(10, 15), f, 5),
            ("e-6", DAY, CAE, ANNA, ts(12), "LOGOUT", "Offline", "OFFLINE", ts(12), f, 6),
        ],
        schema.AGENT_EVENTS.spark_schema(),
    )
    desktop = spark.createDataFrame(
        [
            (DAY, "activitywatch", ANNA, "window", ts(8), 7200.0, "crm", None, f, 1),
            (DAY, "activitywatch", ANNA, "afk", ts(8), 3600.4, None, False, f, 2),
            (DAY, "activitywatch", ANNA, "afk", ts(9), 600.0, None, True, f, 3),
            (DAY, "activitywatch", ANNA, "afk", ts(9, 10), 3000.3, None, False, f, 4),
        ],
        schema.DESKTOP_ACTIVITY.spark_schema(),
    )
    # fmt: off
    expected = spark.createDataFrame(
        [
            # day, agent, team, site, handled, talk, hold, acw, handle, transfers,
            # staffed, available, available_idle, not_ready, desktop active, desktop idle,
            # held, not ready: break, meeting, training, other; occupancy, utilization,
            # desktop: crm, knowledge_base, telephony, communication, web, other;
            # scheduled, in adherence, scheduled work, worked (staffed - break), adherence, conformance
            # The first not-afk event (3600.4 s) ends where the afk one begins at 09:00: 3600 + 3000.3.
            (DAY, ANNA, "Team Nord", "Berlin", 2, 420, 60, 40, 520, 1, 14400, 13500, 12980, 900, 6600, 600,
             1, 900, 0, 0, 0, 520 / 13500, 520 / 14400, 6600, 0, 0, 0, 0, 0, 0, 0, 0, 13500, None, None),
            (DAY, BERT, "Team Sued", "Lisbon", 1, 100, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 0, 0, 0, 1.0, None, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, None),
        ],
        schema.AGENT_DAY.spark_schema(),
    )
    # fmt: on
    got = agent_day.transform(roster, contacts, events, desktop, no_schedules(spark), KEYWORDS)
    assertDataFrameEqual(got, expected)


def test_agent_day_desktop_segments_overlapping_and_out_of_order(spark):
    """Window events delivered out of order and overlapping; two sources starting together."""
    roster = spark.createDataFrame([(DAY, ANNA, "Team Nord", "Berlin", "Europe/Berlin")], schema.ROSTER.spark_schema())
    contacts = spark.createDataFrame([], schema.CONTACTS.spark_schema())
    events = spark.createDataFrame([], schema.AGENT_EVENTS.spark_schema())
    aw, jl = "activitywatch", "desktop_events"
    desktop = spark.createDataFrame(
        [
            (DAY, aw, ANNA, "window", ts(8, 10), 300.0, "knowledge_base", None, "f", 2),  # 08:10-08:15
            (DAY, aw, ANNA, "window", ts(8), 900.0, "crm", None, "f", 1),  # cut at 08:10 by the next
            (DAY, aw, ANNA, "window", ts(8, 15), 60.0, "telephony", None, "f", 3),  # 08:15-08:16
            (DAY, jl, ANNA, "window", ts(8, 15), 30.0, "other", None, "g", 1),  # shorter, same start: ends at once
            (DAY, aw, ANNA, "browser", ts(8, 5), 100.0, "web", None, "f", 4),  # tabs do not take the focus
            (DAY, aw, ANNA, "afk", ts(8), 600.0, None, False, "f", 5),  # active 08:00-08:10
            (DAY, aw, ANNA, "afk", ts(8, 10), 120.0, None, True, "f", 6),  # away 08:10-08:12
            (DAY, aw, ANNA, "afk", ts(8, 12), 600.0, None, False, "f", 7),  # active 08:12-08:22
        ],
        schema.DESKTOP_ACTIVITY.spark_schema(),
    )
    row = agent_day.transform(roster, contacts, events, desktop, no_schedules(spark), KEYWORDS).collect()[0].asDict()
    assert (row["desktop_active_seconds"], row["desktop_idle_seconds"]) == (1200, 120)
    # crm 08:00-08:10 all active; knowledge base 08:10-08:15 active from 08:12; telephony 08:15-08:16.
    assert {c: row[f"desktop_{c}_seconds"] for c in schema.APP_CATEGORIES} == {
        "crm": 600,
        "knowledge_base": 180,
        "telephony": 60,
        "communication": 0,
        "web": 0,
        "other": 0,
    }
    assert (row["contacts_handled"], row["staffed_seconds"], row["occupancy"], row["utilization"]) == (0, 0, None, None)


def test_agent_day_contact_and_status_edge_cases(spark):
    """A call across midnight, a transfer chain, several holds in one call, after-call work after
    the last call of a shift, a missing logout, and not-ready statuses of every category."""
    roster = spark.createDataFrame(
        [(DAY, ANNA, "Team Nord", "Berlin", "Europe/Berlin"), (DAY, BERT, "Team Sued", "Lisbon", "Europe/Lisbon")],
        schema.ROSTER.spark_schema(),
    )
    # fmt: off
    base = {"day": DAY, "queue": "Q", "channel": "VOICE", "initiation_method": "INBOUND", "initiation_ts": ts(9),
            "transferred_out": False, "abandoned": False, "last_update_ts": ts(9)}
    contacts = frame(
        spark,
        schema.CONTACTS,
        # Across midnight: staged on the day it began, so all of it counts on that day.
        {**base, "contact_id": "c-1", "agent_pseudonym": ANNA, "initiation_ts": ts(21, 55),
         "disconnect_ts": ts(0, 10, day=6), "talk_seconds": 900, "hold_seconds": 0, "acw_seconds": 60,
         "source_line": 1},
        # A transfer chain: Anna transfers c-2 onwards, Bert handles the next leg c-3.
        {**base, "contact_id": "c-2", "agent_pseudonym": ANNA, "talk_seconds": 120, "transferred_out": True,
         "source_line": 2},
        {**base, "contact_id": "c-3", "agent_pseudonym": BERT, "initiation_method": "TRANSFER",
         "talk_seconds": 200, "source_line": 3},
        # Three holds in one call: one held contact, 90 s of hold.
        {**base, "contact_id": "c-4", "agent_pseudonym": ANNA, "talk_seconds": 300, "hold_seconds": 90, "holds": 3,
         "acw_seconds": 30, "source_line": 4},
        # Put on hold and picked up at once: held, 0 s.
        {**base, "contact_id": "c-5", "agent_pseudonym": ANNA, "talk_seconds": 100, "hold_seconds": 0, "holds": 1,
         "acw_seconds": 0, "source_line": 5},
        # The last call of the shift; its after-call work runs past the last agent event.
        {**base, "contact_id": "c-6", "agent_pseudonym": ANNA, "initiation_ts": ts(15, 50), "talk_seconds": 200,
         "acw_seconds": 300, "source_line": 6},
    )
    # fmt: on
    statuses = [  # Anna's day: (event time, event type, status, type); no LOGOUT: the day ends at 16:00.
        (ts(8), "LOGIN", "Available", "ROUTABLE"),
        (ts(12), "STATE_CHANGE", "Lunch", "CUSTOM"),  # break
        (ts(12, 30), "STATE_CHANGE", "Team Meeting", "CUSTOM"),  # meeting
        (ts(13), "STATE_CHANGE", "Coaching session", "CUSTOM"),  # training
        (ts(13, 30), "STATE_CHANGE", "Personal", "CUSTOM"),  # break
        (ts(13, 45), "STATE_CHANGE", "System issue", "CUSTOM"),  # other
        (ts(14), "STATE_CHANGE", "Available", "ROUTABLE"),
        (ts(16), "HEART_BEAT", "Available", "ROUTABLE"),
    ]
    events = spark.createDataFrame(
        [
            (f"e-{i}", DAY, CAE, ANNA, at, kind, name, type_, at if kind != "HEART_BEAT" else ts(14), "f", i)
            for i, (at, kind, name, type_) in enumerate(statuses, start=1)
        ],
        schema.AGENT_EVENTS.spark_schema(),
    )
    desktop = spark.createDataFrame([], schema.DESKTOP_ACTIVITY.spark_schema())
    got = {
        r["agent_pseudonym"]: r.asDict()
        for r in agent_day.transform(roster, contacts, events, desktop, no_schedules(spark), KEYWORDS).collect()
    }
    anna, bert = got[ANNA], got[BERT]
    # talk 900 + 120 + 300 + 100 + 200, hold 90, acw 60 + 30 + 300 (null as 0)
    assert [anna[c] for c in ("contacts_handled", "talk_seconds", "hold_seconds", "acw_seconds")] == [5, 1620, 90, 390]
    assert (anna["handle_seconds"], anna["transfers_out"], anna["contacts_held"]) == (2100, 1, 2)
    # 08:00-16:00 staffed; Available 08:00-12:00 and 14:00-16:00; not ready 12:00-14:00.
    assert [anna[c] for c in ("staffed_seconds", "available_seconds", "not_ready_seconds")] == [28800, 21600, 7200]
    assert {c: anna[f"not_ready_{c}_seconds"] for c in schema.NOT_READY_CATEGORY_NAMES} == {
        "break": 1800 + 900,
        "meeting": 1800,
        "training": 1800,
        "other": 900,
    }
    assert anna["available_idle_seconds"] == 21600 - 2100
    assert (anna["occupancy"], anna["utilization"]) == (2100 / 21600, 2100 / 28800)
    bert_contacts = ("contacts_handled", "talk_seconds", "handle_seconds", "transfers_out")
    assert [bert[c] for c in bert_contacts] == [1, 200, 200, 0]
    assert (bert["staffed_seconds"], bert["occupancy"], bert["utilization"]) == (0, 1.0, None)


@pytest.mark.parametrize(
    ("break_status", "meeting_status", "keywords", "in_adherence", "nr_break", "nr_meeting"),
    [
        ("Break", "Team Meeting", KEYWORDS, 27000, 1200, 3000),
        # German status names: the shipped policy's words put them in the same categories.
        ("Pause", "Besprechung", KEYWORDS, 27000, 1200, 3000),
        ("Kaffeepause", "Teambesprechung", KEYWORDS, 27000, 1200, 3000),
        # Without the words in the policy both are 'other': the 15 minutes of the scheduled break and
        # the 50 of the meeting on those statuses no longer adhere (adherence 0.94 -> 0.80).
        ("Pause", "Besprechung", StatusNameKeywords(), 27000 - 900 - 3000, 0, 0),
    ],
)
def test_agent_day_schedule_adherence_and_conformance(
    spark, break_status, meeting_status, keywords, in_adherence, nr_break, nr_meeting
):
    """Anna is scheduled 08:00-16:00 with a break, a lunch and a meeting, and arrives late, overruns
    her break, logs out for lunch, joins the meeting late and leaves early. Bert is scheduled on
    two overlapping shift rows and never logs in."""
    roster = spark.createDataFrame(
        [(DAY, ANNA, "Team Nord", "Berlin", "Europe/Berlin"), (DAY, BERT, "Team Sued", "Lisbon", "Europe/Lisbon")],
        schema.ROSTER.spark_schema(),
    )
    plan = [  # (agent, activity, start, end)
        (ANNA, "shift", ts(8), ts(16)),
        (ANNA, "break", ts(10), ts(10, 15)),
        (ANNA, "break", ts(12), ts(12, 30)),  # lunch
        (ANNA, "meeting", ts(14), ts(15)),
        (ANNA, "training", ts(17), ts(18)),  # outside the shift: not scheduled time
        (BERT, "shift", ts(9), ts(13)),
        (BERT, "shift", ts(12), ts(14)),  # overlaps: the union 09:00-14:00 counts once
    ]
    schedules = spark.createDataFrame(
        [(DAY, "schedules", a, act, s, e, "f", i) for i, (a, act, s, e) in enumerate(plan, start=1)],
        schema.SCHEDULES.spark_schema(),
    )
    statuses = [  # Anna: (event time, event type, status, type)
        (ts(8, 5), "LOGIN", "Available", "ROUTABLE"),  # 5 min late
        (ts(10), "STATE_CHANGE", break_status, "CUSTOM"),
        (ts(10, 20), "STATE_CHANGE", "Available", "ROUTABLE"),  # break 5 min over
        (ts(12), "LOGOUT", "Offline", "OFFLINE"),  # logged out over lunch: adheres
        (ts(12, 30), "LOGIN", "Available", "ROUTABLE"),
        (ts(14, 10), "STATE_CHANGE", meeting_status, "CUSTOM"),  # 10 min late to the meeting
        (ts(15), "STATE_CHANGE", "Available", "ROUTABLE"),
        (ts(15, 50), "LOGOUT", "Offline", "OFFLINE"),  # leaves 10 min early
    ]
    events = spark.createDataFrame(
        [
            (f"e-{i}", DAY, CAE, ANNA, at, kind, name, type_, at, "f", i)
            for i, (at, kind, name, type_) in enumerate(statuses, start=1)
        ],
        schema.AGENT_EVENTS.spark_schema(),
    )
    contacts = spark.createDataFrame([], schema.CONTACTS.spark_schema())
    desktop = spark.createDataFrame([], schema.DESKTOP_ACTIVITY.spark_schema())
    got = {
        r["agent_pseudonym"]: r.asDict()
        for r in agent_day.transform(roster, contacts, events, desktop, schedules, keywords).collect()
    }
    anna, bert = got[ANNA], got[BERT]
    columns = ("scheduled_seconds", "in_adherence_seconds", "scheduled_work_seconds", "worked_seconds")
    # In adherence, minutes: 08:05-10:00 115, break 15, 10:20-12:00 100, lunch logged out 30,
    # 12:30-14:00 90, meeting 14:10-15:00 50, 15:00-15:50 50 = 450 of 480.
    # Scheduled work: 480 - 45 break minutes. Worked: staffed 235 + 200 min, less 20 min on Break.
    # Worked is staffed less the time on a break status (none when the name is not a break's).
    assert [anna[c] for c in columns] == [28800, in_adherence, 26100, 26100 - nr_break]
    assert (anna["adherence"], anna["conformance"]) == (in_adherence / 28800, (26100 - nr_break) / 26100)
    assert (anna["staffed_seconds"], anna["not_ready_break_seconds"], anna["not_ready_meeting_seconds"]) == (
        26100,
        nr_break,
        nr_meeting,
    )
    assert anna["not_ready_other_seconds"] == 4200 - nr_break - nr_meeting
    # Bert: scheduled 09:00-14:00, never logged in: a row with nothing in adherence.
    assert [bert[c] for c in columns] == [18000, 0, 18000, 0]
    assert (bert["adherence"], bert["conformance"], bert["team"]) == (0.0, 0.0, "Team Sued")


def test_agent_day_on_the_day_daylight_saving_time_ends(spark):
    """Berlin, 2026-10-25 has 25 hours: Anna is Available from local 00:30 (22:30 UTC the day
    before, CEST) to 23:30 (22:30 UTC, CET) and scheduled for all of it: 24 hours, not 23."""
    dst_day = dt.date(2026, 10, 25)
    start, end = dt.datetime(2026, 10, 24, 22, 30, tzinfo=UTC), dt.datetime(2026, 10, 25, 22, 30, tzinfo=UTC)
    roster = spark.createDataFrame(
        [(dst_day, ANNA, "Team Nord", "Berlin", "Europe/Berlin")], schema.ROSTER.spark_schema()
    )
    events = spark.createDataFrame(
        [
            ("e-1", dst_day, CAE, ANNA, start, "LOGIN", "Available", "ROUTABLE", start, "f", 1),
            ("e-2", dst_day, CAE, ANNA, end, "LOGOUT", "Offline", "OFFLINE", end, "f", 2),
        ],
        schema.AGENT_EVENTS.spark_schema(),
    )
    schedules = spark.createDataFrame(
        [(dst_day, "schedules", ANNA, "shift", start, end, "f", 2)], schema.SCHEDULES.spark_schema()
    )
    contacts = spark.createDataFrame([], schema.CONTACTS.spark_schema())
    desktop = spark.createDataFrame([], schema.DESKTOP_ACTIVITY.spark_schema())
    row = agent_day.transform(roster, contacts, events, desktop, schedules, KEYWORDS).collect()[0].asDict()
    assert (row["day"], row["staffed_seconds"], row["available_seconds"]) == (dst_day, 86400, 86400)
    assert (row["scheduled_seconds"], row["in_adherence_seconds"], row["adherence"]) == (86400, 86400, 1.0)
