"""The jobs' pure transforms on tiny hand-made inputs, expected values worked out by hand."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from pyspark.testing import assertDataFrameEqual

from foundation import roster, schema
from jobs import ingest, reading, source_activitywatch, source_connect, staged_roster
from tests.helpers import TRANSFORM_FILE, ingest_source_rows
from tests.helpers import table_frame as frame
from tests.helpers import utc_at as ts

KEY = b"transform-test-key-0123456789abcdef"
DAY = dt.date(2026, 10, 5)
F = TRANSFORM_FILE
CAE = "connect_agent_events"
ANNA = hmac.new(KEY, b"E-1", hashlib.sha256).hexdigest()
BERT = hmac.new(KEY, b"E-2", hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def roster_map(spark):
    agents = [
        roster.RosterAgent(ANNA, "anna", "pc-anna", "Team Nord", "Berlin", "Europe/Berlin"),
        roster.RosterAgent(BERT, "bert", None, "Team Sued", "Lisbon", "Europe/Lisbon"),
    ]
    return staged_roster.roster_frame(spark, agents)


@pytest.fixture(scope="module")
def identities(spark):
    agents = [
        roster.RosterAgent(ANNA, "anna", "pc-anna", "Team Nord", "Berlin", "Europe/Berlin"),
        roster.RosterAgent(BERT, "bert", None, "Team Sued", "Lisbon", "Europe/Lisbon"),
    ]
    return ingest.roster_identities(spark, agents)


def lines_frame(spark, lines: list[str], file: str = "file:/landing/x.jsonl"):
    rows = [(file, i, line) for i, line in enumerate(lines, start=1)]
    return spark.createDataFrame(rows, reading.lines_schema())


def quarantine_frame(spark, rows: list[tuple[Any, ...]]):
    return spark.createDataFrame(rows, "day date, source string, source_file string, source_line long, reason string")


def test_pseudonym_is_hmac_sha256_of_the_employee_id(tmp_path):
    from foundation.settings import load_settings

    (tmp_path / "landing" / "roster").mkdir(parents=True)
    (tmp_path / "landing" / "roster" / "roster.csv").write_text(
        "employee_id,display_name,connect_username,desktop_host,team,site,site_timezone\n"
        "E-1,Anna A,anna,PC-Anna,Team Nord,Berlin,Europe/Berlin\n"
        "E-2,Bert B,bert,,Team Sued,Lisbon,Europe/Lisbon\n"
    )
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_PSEUDONYM_KEY": KEY.decode()})
    agents = roster.read_roster(settings)
    assert [a.agent_pseudonym for a in agents] == [ANNA, BERT]
    assert [a.desktop_host for a in agents] == ["pc-anna", None]  # host names compare case-insensitively
    assert "E-1" not in repr(agents) and "Anna A" not in repr(agents)


def test_roster_refuses_duplicate_user_names_and_bad_time_zones(tmp_path):
    from foundation.settings import load_settings

    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_PSEUDONYM_KEY": KEY.decode()})
    path = tmp_path / "landing" / "roster" / "roster.csv"
    path.parent.mkdir(parents=True)
    header = "employee_id,display_name,connect_username,desktop_host,team,site,site_timezone\n"
    path.write_text(header + "E-1,A,anna,,T,S,Europe/Berlin\nE-2,B,anna,,T,S,Europe/Berlin\n")
    with pytest.raises(roster.RosterError, match="line 3: duplicate connect_username"):
        roster.read_roster(settings)
    path.write_text(header + "E-1,A,anna,,T,S,Mars/Olympus\n")
    with pytest.raises(roster.RosterError, match="line 2: unknown site_timezone"):
        roster.read_roster(settings)


def test_roster_snapshot(spark, roster_map):
    expected = spark.createDataFrame(
        [(DAY, ANNA, "Team Nord", "Berlin", "Europe/Berlin"), (DAY, BERT, "Team Sued", "Lisbon", "Europe/Lisbon")],
        schema.ROSTER.spark_schema(),
    )
    assertDataFrameEqual(staged_roster.transform(roster_map, DAY), expected)


# --- contacts ---------------------------------------------------------------------------------


def ctr(contact_id: str, start: str, last: str, agent: dict | None, queue: dict | None = None, **extra: Any) -> str:
    record = {
        "ContactId": contact_id,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": start,
        "LastUpdateTimestamp": last,
        "DisconnectTimestamp": None,
        "NextContactId": None,
        "CustomerEndpoint": {"Address": "+4930555012345", "Type": "TELEPHONE_NUMBER"},
        "Attributes": {"note": "Erika Mustermann"},
        "Queue": queue if queue is not None else {"Name": "Support", "Duration": 10},
        "Agent": agent,
        **extra,
    }
    return json.dumps(record)


def agent_block(user: str, talk: Any, hold: int = 0, acw: int = 0) -> dict:
    return {
        "Username": user,
        "ConnectedToAgentTimestamp": "2026-10-05T08:00:10Z",
        "AgentInteractionDuration": talk,
        "CustomerHoldDuration": hold,
        "NumberOfHolds": 1 if hold else 0,
        "AfterContactWorkDuration": acw,
    }


def test_contacts_latest_version_wins_and_bad_records_are_quarantined(spark, identities):
    lines = [
        ctr("c-1", "2026-10-05T08:00:00Z", "2026-10-05T08:20:00Z", agent_block("anna", 300, 60, 30)),  # final
        ctr("c-1", "2026-10-05T08:00:00Z", "2026-10-05T08:16:00Z", agent_block("anna", 250, 60, 20)),  # stale
        ctr("c-2", "2026-10-05T09:00:00Z", "2026-10-05T09:05:00Z", agent_block("bert", 120, 0, 10), NextContactId="t"),
        ctr("c-3", "2026-10-05T09:30:00Z", "2026-10-05T09:31:00Z", None, {"Name": "Support", "Duration": 45}),
        '{"ContactId": "c-4", "Channel": ',
        ctr("c-5", "2026-10-05T09:40:00Z", "2026-10-05T09:50:00Z", agent_block("carl", 60)),
        ctr("c-6", "2026-10-08T09:40:00Z", "2026-10-08T09:50:00Z", agent_block("anna", 60)),
        ctr("c-7", "2026-10-05T09:40:00Z", "2026-10-05T09:50:00Z", agent_block("anna", "long")),
        ctr("", "2026-10-05T09:40:00Z", "2026-10-05T09:50:00Z", agent_block("anna", 60)),
        ctr("c-9", "2026-10-05T09:40:00Z", "2026-10-05T09:50:00Z", agent_block("anna", 60, acw=-1)),
    ]
    lines_df = lines_frame(spark, lines)
    f = F
    common_values = {"day": DAY, "queue": "Support", "channel": "VOICE", "initiation_method": "INBOUND"}
    agent_values = {**common_values, "connected_to_agent_ts": ts(8, 0, 10), "queue_seconds": 10}
    # fmt: off
    expected = frame(
        spark,
        schema.CONTACTS,
        {**agent_values, "contact_id": "c-1", "agent_pseudonym": ANNA, "initiation_ts": ts(8), "talk_seconds": 300,
         "hold_seconds": 60, "holds": 1, "acw_seconds": 30, "transferred_out": False, "abandoned": False,
         "last_update_ts": ts(8, 20), "source_line": 1},
        {**agent_values, "contact_id": "c-2", "agent_pseudonym": BERT, "initiation_ts": ts(9), "talk_seconds": 120,
         "hold_seconds": 0, "holds": 0, "acw_seconds": 10, "transferred_out": True, "abandoned": False,
         "last_update_ts": ts(9, 5), "source_line": 3},
        {**common_values, "contact_id": "c-3", "agent_pseudonym": None, "initiation_ts": ts(9, 30), "queue_seconds": 45,
         "transferred_out": False, "abandoned": True, "last_update_ts": ts(9, 31), "source_line": 4},
    )
    # fmt: on
    staged, quarantine = ingest_source_rows(source_connect.CTR, source_connect.ctr_rows(lines_df), identities, DAY)
    assertDataFrameEqual(staged, expected)

    quarantined = quarantine.drop("raw_record")
    assertDataFrameEqual(
        quarantined,
        quarantine_frame(
            spark,
            [
                (DAY, "connect_ctr", f, 5, "malformed JSON"),
                (DAY, "connect_ctr", f, 6, "agent not in roster"),
                (DAY, "connect_ctr", f, 7, "InitiationTimestamp more than a day from the landing day"),
                (DAY, "connect_ctr", f, 8, "Agent.AgentInteractionDuration has the wrong type"),
                (DAY, "connect_ctr", f, 9, "missing ContactId"),
                (DAY, "connect_ctr", f, 10, "negative Agent.AfterContactWorkDuration"),
            ],
        ),
    )
    raw = quarantine.filter("source_line = 5").first()
    assert raw is not None and raw["raw_record"] == lines[4]  # the raw line, as delivered (restricted zone)


# --- agent events -----------------------------------------------------------------------------


def event(
    event_id: str | None, at: str, kind: str, name: str, type_: str | None, start: str, user: str = "anna"
) -> str:
    status = {"Name": name, "StartTimestamp": start, **({"Type": type_} if type_ else {})}
    record = {
        "EventId": event_id,
        "EventTimestamp": at,
        "EventType": kind,
        "CurrentAgentSnapshot": {
            "AgentStatus": status,
            "Configuration": {"Username": user, "FirstName": "Anna", "LastName": "Agent"},
        },
    }
    return json.dumps(record)


def test_agent_events_status_type_derived_and_duplicates_dropped(spark, identities):
    lines = [
        event("e-1", "2026-10-05T08:00:00.000Z", "STATE_CHANGE", "Available", None, "2026-10-05T08:00:00.000Z"),
        event("e-2", "2026-10-05T10:00:00.250Z", "STATE_CHANGE", "Break", None, "2026-10-05T10:00:00.250Z"),
        event("e-3", "2026-10-05T12:00:00.000Z", "LOGOUT", "Offline", None, "2026-10-05T12:00:00.000Z"),
        event("e-4", "2026-10-05T11:00:00.000Z", "STATE_CHANGE", "Meeting", "CUSTOM", "2026-10-05T11:00:00.000Z"),
        event("e-2", "2026-10-05T10:00:00.250Z", "STATE_CHANGE", "Break", None, "2026-10-05T10:00:00.250Z"),
        event("e-6", "2026-10-05T10:00:00.000Z", "STATE_CHANGE", "Available", None, "2026-10-05T10:00:00.000Z", "x"),
        event(None, "2026-10-05T10:00:00.000Z", "HEART_BEAT", "Available", None, "2026-10-05T10:00:00.000Z"),
        '{"EventId": "e-8"',
    ]
    lines_df = lines_frame(spark, lines)
    f = F
    expected = spark.createDataFrame(
        [
            ("e-1", DAY, CAE, ANNA, ts(8), "STATE_CHANGE", "Available", "ROUTABLE", ts(8), f, 1),
            (
                "e-2",
                DAY,
                "connect_agent_events",
                ANNA,
                ts(10, 0, 0, 250000),
                "STATE_CHANGE",
                "Break",
                "CUSTOM",
                ts(10, 0, 0, 250000),
                f,
                2,
            ),
            ("e-3", DAY, CAE, ANNA, ts(12), "LOGOUT", "Offline", "OFFLINE", ts(12), f, 3),
            ("e-4", DAY, CAE, ANNA, ts(11), "STATE_CHANGE", "Meeting", "CUSTOM", ts(11), f, 4),
        ],
        schema.AGENT_EVENTS.spark_schema(),
    )
    rows = source_connect.agent_event_rows(lines_df)
    staged, quarantine = ingest_source_rows(source_connect.AGENT_EVENTS, rows, identities, DAY)
    assertDataFrameEqual(staged, expected)
    assertDataFrameEqual(
        quarantine.drop("raw_record"),
        quarantine_frame(
            spark,
            [
                (DAY, CAE, f, 6, "agent not in roster"),
                (DAY, CAE, f, 7, "missing EventId"),
                (DAY, CAE, f, 8, "malformed JSON"),
            ],
        ),
    )


# --- desktop ----------------------------------------------------------------------------------


def test_desktop_buckets_categories_and_minimisation(spark, identities, policy):
    doc = {
        "buckets": {
            "aw-watcher-window_pc-anna": {
                "type": "currentwindow",
                "hostname": "pc-anna",
                "events": [
                    {
                        "timestamp": "2026-10-05T08:00:00.000000+00:00",
                        "duration": 93.5,
                        "data": {"app": "Salesforce", "title": "Case 1 - Jane Customer"},
                    },
                    {
                        "timestamp": "2026-10-05T08:01:33.500000+00:00",
                        "duration": 60,
                        "data": {"app": "Notepad", "title": "Jane Customer.txt"},
                    },
                    {
                        "timestamp": "2026-10-05T08:02:33.500000+00:00",
                        "duration": -1,
                        "data": {"app": "Notepad", "title": "x"},
                    },
                ],
            },
            "aw-watcher-web-chrome_pc-anna": {
                "type": "web.tab.current",
                "hostname": "pc-anna",
                "events": [
                    {"timestamp": "2026-10-05T08:05:00Z", "duration": 3, "data": {"url": "https://x/jane"}},
                    {
                        "timestamp": "2026-10-05T08:06:00Z",
                        "duration": 4,
                        "data": {"url": "https://eu1.Salesforce.com:443/case/9", "title": "Jane"},
                    },
                ],
            },
            "aw-watcher-afk_PC-Anna": {  # no hostname field: the bucket id's suffix names the host
                "type": "afkstatus",
                "events": [
                    {"timestamp": "2026-10-05T08:00:00.000000+00:00", "duration": 600.4, "data": {"status": "not-afk"}},
                    {"timestamp": "2026-10-05T08:10:00.400000+00:00", "duration": 60.0, "data": {"status": "afk"}},
                    {"timestamp": "2026-10-05T08:00:00.000000+00:00", "duration": 300.0, "data": {"status": "not-afk"}},
                    {"timestamp": "2026-10-05T08:11:00.400000+00:00", "duration": 60.0, "data": {"status": "gone"}},
                ],
            },
            "aw-watcher-input_pc-anna": {"type": "os.hid.input", "events": [{"data": {"presses": 3}}]},
        }
    }
    f = "file:/landing/activitywatch/day=2026-10-05/pc-anna.json"
    documents = spark.createDataFrame(
        [(f, json.dumps(doc)), ("file:/landing/activitywatch/day=2026-10-05/bad.json", '{"buckets": [')],
        "source_file string, value string",
    )
    folder = "file:/landing/activitywatch/day=2026-10-05/"
    expected = spark.createDataFrame(
        [
            (DAY, "activitywatch", ANNA, "window", ts(8), 93.5, "crm", None, folder, 1),
            (DAY, "activitywatch", ANNA, "window", ts(8, 1, 33, 500000), 60.0, "other", None, folder, 2),
            (DAY, "activitywatch", ANNA, "browser", ts(8, 5), 3.0, "web", None, folder, 4),
            (DAY, "activitywatch", ANNA, "browser", ts(8, 6), 4.0, "crm", None, folder, 5),
            (DAY, "activitywatch", ANNA, "afk", ts(8), 600.4, None, False, folder, 6),
            (DAY, "activitywatch", ANNA, "afk", ts(8, 10, 0, 400000), 60.0, None, True, folder, 7),
        ],
        schema.DESKTOP_ACTIVITY.spark_schema(),
    )
    rows = source_activitywatch.event_rows(documents, policy.desktop_rules())
    staged, quarantine = ingest_source_rows(source_activitywatch.ACTIVITYWATCH, rows, identities, DAY)
    assertDataFrameEqual(staged, expected)
    assertDataFrameEqual(
        quarantine.drop("raw_record"),
        quarantine_frame(
            spark,
            [
                (DAY, "activitywatch", f, 3, "negative duration"),
                (DAY, "activitywatch", f, 9, "invalid data.status"),
                (DAY, "activitywatch", "file:/landing/activitywatch/day=2026-10-05/bad.json", None, "malformed JSON"),
            ],
        ),
    )
    skipped = source_activitywatch.not_ingested(documents).collect()
    assert [(r["kind"], r["records"]) for r in skipped] == [("os.hid.input", 1)]
