"""Tests of the Asterisk adapters (jobs.source_asterisk): exact parsed rows from hand-made fixtures,
a bad-input corpus, minimisation of customer data, and round trips of synthesized calls."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from jobs import ingest
from jobs import source_asterisk as sa
from jobs.sources import Parsed, SourceContext
from teamlens.synth.asterisk import SynthCall, call_lines, synth_cdr, synth_queue_log

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "asterisk"
QL_DAY1 = FIXTURES / "queue_log" / "day=2026-10-05" / "queue_log.log"
QL_DAY2 = FIXTURES / "queue_log" / "day=2026-10-06" / "queue_log.log"
QL_CSV = FIXTURES / "queue_log_csv" / "day=2026-10-05" / "queue_log.csv"
QL_CSV_OPTIONS = ingest.source_options(QL_CSV.parents[1])  # usegmtime: its text times are UTC
CDR_FILE = FIXTURES / "cdr" / "day=2026-10-05" / "Master.csv"
D1, D2 = "day=2026-10-05/queue_log.log", "day=2026-10-06/queue_log.log"

# The customer data in the fixtures: it may only ever appear in raw_record.
CUSTOMER_DATA = (
    "Erika",
    "Mustermann",
    "Max Muster",
    "01511234567",
    "03011112222",
    "04012345678",
    "01590000000",
    "0170 5551234",
    "call back",
)


@pytest.fixture
def ctx(settings, policy):
    def make(**options: Any) -> SourceContext:
        return SourceContext(settings=settings, folder=settings.lake.landing, options=options)

    return make


def short(source_file: str) -> str:
    """day=D/name of a source_file (Spark gives a file: URI)."""
    return "/".join(source_file.split("/")[-2:])


def rows_of(parsed: Parsed) -> list[dict[str, Any]]:
    """The parsed rows as dicts (timestamps as UTC text, source_file shortened), in file/line order."""
    from pyspark.sql import functions as F

    df = parsed.rows
    cols = [
        F.col(f.name).cast("string").alias(f.name) if f.dataType.typeName() == "timestamp" else F.col(f.name)
        for f in df.schema.fields
    ]
    out = [r.asDict() for r in df.select(*cols).collect()]
    for r in out:
        r["source_file"] = short(r["source_file"])
    return sorted(out, key=lambda r: (r["source_file"], r["source_line"]))


def not_ingested_of(parsed: Parsed) -> dict[tuple[str, str], int]:
    if parsed.not_ingested is None:
        return {}
    return {(short(r["source_file"]), r["kind"]): r["records"] for r in parsed.not_ingested.collect()}


def accounted(parsed: Parsed) -> int:
    """Rows plus records counted as not ingested: every non-blank input line exactly once."""
    return parsed.rows.count() + sum(not_ingested_of(parsed).values())


def lines(path: Path, *numbers: int) -> str:
    text = path.read_text(encoding="utf-8").split("\n")
    return "\n".join(text[n - 1] for n in numbers)


def contact(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "channel": "VOICE",
        "initiation_method": "INBOUND",
        "hold_seconds": None,
        "holds": None,
        "acw_seconds": None,
        "reason": None,
    }
    return {**base, **values}


# --- queue_log ----------------------------------------------------------------------------------


def test_queue_log_calls_exact(spark, ctx):
    parsed = sa.parse_queue_log_calls(spark, [str(QL_DAY1), str(QL_DAY2)], ctx())
    expected = [
        contact(  # answered
            contact_id="1791187300.1",
            queue="support",
            initiation_ts="2026-10-05 08:01:40",
            connected_to_agent_ts="2026-10-05 08:01:52",
            disconnect_ts="2026-10-05 08:06:52",
            queue_seconds=12,
            talk_seconds=300,
            transferred_out=False,
            abandoned=False,
            last_update_ts="2026-10-05 08:06:52",
            agent_key="1001",
            day_ts="2026-10-05 08:01:40",
            source_file=D1,
            source_line=4,
            raw_record=lines(QL_DAY1, 4, 6, 11),
        ),
        contact(  # abandoned after 90 s
            contact_id="1791187400.2",
            queue="billing",
            initiation_ts="2026-10-05 08:03:20",
            connected_to_agent_ts=None,
            disconnect_ts="2026-10-05 08:04:50",
            queue_seconds=90,
            talk_seconds=None,
            transferred_out=False,
            abandoned=True,
            last_update_ts="2026-10-05 08:04:50",
            agent_key=None,
            day_ts="2026-10-05 08:03:20",
            source_file=D1,
            source_line=7,
            raw_record=lines(QL_DAY1, 7, 8),
        ),
        contact(  # blind transfer
            contact_id="1791187700.3",
            queue="support",
            initiation_ts="2026-10-05 08:08:20",
            connected_to_agent_ts="2026-10-05 08:08:25",
            disconnect_ts="2026-10-05 08:10:00",
            queue_seconds=5,
            talk_seconds=95,
            transferred_out=True,
            abandoned=False,
            last_update_ts="2026-10-05 08:10:00",
            agent_key="1002",
            day_ts="2026-10-05 08:08:20",
            source_file=D1,
            source_line=12,
            raw_record=lines(QL_DAY1, 12, 13, 14),
        ),
        contact(  # across midnight: ENTERQUEUE and CONNECT on day 1, COMPLETEAGENT in day 2's file
            contact_id="1791244680.4",
            queue="support",
            initiation_ts="2026-10-05 23:58:00",
            connected_to_agent_ts="2026-10-05 23:58:30",
            disconnect_ts="2026-10-06 00:03:30",
            queue_seconds=30,
            talk_seconds=300,
            transferred_out=False,
            abandoned=False,
            last_update_ts="2026-10-06 00:03:30",
            agent_key="1001",
            day_ts="2026-10-05 23:58:00",
            source_file=D1,
            source_line=16,
            raw_record=lines(QL_DAY1, 16, 17) + "\n" + lines(QL_DAY2, 1),
        ),
    ]
    assert rows_of(parsed) == expected
    assert not_ingested_of(parsed) == {
        (D1, "QUEUESTART"): 1,
        (D1, "RINGNOANSWER"): 1,
        (D1, sa.KIND_FOR_AGENT_EVENTS): 4,
        (D1, sa.KIND_MERGED): 6,
        (D2, sa.KIND_FOR_AGENT_EVENTS): 2,
        (D2, sa.KIND_MERGED): 1,
    }
    assert accounted(parsed) == 16 + 3  # non-blank lines of both files


def test_queue_log_call_without_next_day_stays_open(spark, ctx):
    """Day 1 alone: the midnight call has no end yet (null disconnect), not a quarantined row."""
    rows = {r["contact_id"]: r for r in rows_of(sa.parse_queue_log_calls(spark, [str(QL_DAY1)], ctx()))}
    late = rows["1791244680.4"]
    assert (late["disconnect_ts"], late["talk_seconds"], late["abandoned"], late["reason"]) == (None, None, False, None)
    assert late["last_update_ts"] == "2026-10-05 23:58:30"


def event_id(epoch: int, *fields: str) -> str:
    """The documented event id: SHA-256 of the line's content (time in microseconds, then the fields)."""
    padded = [*fields, *[""] * (10 - len(fields))][:9]
    return hashlib.sha256("\x1f".join([str(epoch * 1_000_000), *padded]).encode()).hexdigest()


def agent_event(
    epoch: int, ts: str, fields: tuple[str, ...], kind: tuple[str, str, str], file: str, line: int, raw: str
):
    return {
        "event_id": event_id(epoch, *fields),
        "event_ts": ts,
        "event_type": kind[0],
        "status_name": kind[1],
        "status_type": kind[2],
        "status_start_ts": ts,
        "agent_key": fields[2].split("/", 1)[-1],  # the channel rule: SIP/1001 -> 1001
        "day_ts": ts,
        "reason": None,
        "source_file": file,
        "source_line": line,
        "raw_record": raw,
    }


def test_queue_log_agent_events_exact(spark, ctx):
    parsed = sa.parse_queue_log_agent_events(spark, [str(QL_DAY1), str(QL_DAY2)], ctx())
    login, avail = ("LOGIN", "Available", "ROUTABLE"), ("STATE_CHANGE", "Available", "ROUTABLE")
    logout = ("LOGOUT", "Offline", "OFFLINE")
    expected = [
        agent_event(
            1791187200,
            "2026-10-05 08:00:00",
            ("NONE", "support", "SIP/1001", "ADDMEMBER", ""),
            login,
            D1,
            1,
            lines(QL_DAY1, 1),
        ),
        agent_event(
            1791187205,
            "2026-10-05 08:00:05",
            ("NONE", "NONE", "SIP/1002", "AGENTLOGIN", "SIP/1002"),
            login,
            D1,
            2,
            lines(QL_DAY1, 2),
        ),
        agent_event(
            1791187500,
            "2026-10-05 08:05:00",
            ("NONE", "NONE", "SIP/1001", "PAUSE", "Lunch"),
            ("STATE_CHANGE", "Lunch", "CUSTOM"),
            D1,
            10,
            lines(QL_DAY1, 10),
        ),
        agent_event(
            1791187900,
            "2026-10-05 08:11:40",
            ("NONE", "NONE", "SIP/1001", "UNPAUSE", ""),
            avail,
            D1,
            15,
            lines(QL_DAY1, 15),
        ),
        agent_event(
            1791245100,
            "2026-10-06 00:05:00",
            ("NONE", "support", "SIP/1001", "REMOVEMEMBER", ""),
            logout,
            D2,
            2,
            lines(QL_DAY2, 2),
        ),
        agent_event(
            1791245101,
            "2026-10-06 00:05:01",
            ("NONE", "NONE", "SIP/1002", "AGENTLOGOFF", "SIP/1002", "3600"),
            logout,
            D2,
            3,
            lines(QL_DAY2, 3),
        ),
    ]
    assert rows_of(parsed) == expected
    assert not_ingested_of(parsed) == {
        (D1, "QUEUESTART"): 1,
        (D1, "RINGNOANSWER"): 1,
        (D1, sa.KIND_FOR_CONTACTS): 10,
        (D2, sa.KIND_FOR_CONTACTS): 1,
    }


def test_redelivered_file_gets_the_same_event_ids(spark, ctx, tmp_path):
    copy = tmp_path / "day=2026-10-05" / "queue_log-redelivered.log"
    copy.parent.mkdir()
    shutil.copy(QL_DAY1, copy)
    ids = [r["event_id"] for r in rows_of(sa.parse_queue_log_agent_events(spark, [str(QL_DAY1)], ctx()))]
    again = [r["event_id"] for r in rows_of(sa.parse_queue_log_agent_events(spark, [str(copy)], ctx()))]
    assert ids == again and len(set(ids)) == 4


def test_queue_log_csv_export(spark, ctx):
    f = "day=2026-10-05/queue_log.csv"
    calls = sa.parse_queue_log_calls(spark, [str(QL_CSV)], ctx(**QL_CSV_OPTIONS))
    assert rows_of(calls) == [
        contact(
            contact_id="c-1",
            queue="sales",
            initiation_ts="2026-10-05 09:01:00.25",
            connected_to_agent_ts="2026-10-05 09:01:20",
            disconnect_ts="2026-10-05 09:03:20",  # epoch 1791191000 in the time column
            queue_seconds=20,
            talk_seconds=120,
            transferred_out=False,
            abandoned=False,
            last_update_ts="2026-10-05 09:03:20",
            agent_key="1003",
            day_ts="2026-10-05 09:01:00.25",
            source_file=f,
            source_line=3,
            raw_record=lines(QL_CSV, 3, 4, 5),
        )
    ]
    assert not_ingested_of(calls) == {(f, "header"): 1, (f, sa.KIND_MERGED): 2, (f, sa.KIND_FOR_AGENT_EVENTS): 2}
    events = rows_of(sa.parse_queue_log_agent_events(spark, [str(QL_CSV)], ctx(**QL_CSV_OPTIONS)))
    assert [
        (r["source_line"], r["event_type"], r["status_name"], r["status_type"], r["agent_key"]) for r in events
    ] == [
        (2, "LOGIN", "Available", "ROUTABLE", "1003"),
        (6, "STATE_CHANGE", "Paused", "CUSTOM", "1003"),  # PAUSE without a reason
    ]
    assert events[0]["event_id"] == event_id(1791190800, "NONE", "NONE", "SIP/1003", "AGENTLOGIN")


# --- CDR ----------------------------------------------------------------------------------------


def test_cdr_exact(spark, ctx):
    parsed = sa.parse_cdr(spark, [str(CDR_FILE)], ctx(timezone="Europe/Berlin"))
    f = "day=2026-10-05/Master.csv"
    common = {"queue_seconds": None, "transferred_out": False, "source_file": f}
    expected = [  # Europe/Berlin is UTC+2 on 2026-10-05
        contact(
            **common,
            contact_id="1759651200.1",
            queue="support",
            initiation_ts="2026-10-05 08:00:00",
            connected_to_agent_ts="2026-10-05 08:00:15",
            disconnect_ts="2026-10-05 08:05:15",
            talk_seconds=300,
            abandoned=False,
            last_update_ts="2026-10-05 08:05:15",
            agent_key="1001",
            day_ts="2026-10-05 08:00:00",
            source_line=1,
            raw_record=lines(CDR_FILE, 1),
        ),
        contact(
            **common,
            contact_id="1759654800.2",
            queue="billing",
            initiation_ts="2026-10-05 09:00:00",
            connected_to_agent_ts=None,
            disconnect_ts="2026-10-05 09:01:30",
            talk_seconds=0,
            abandoned=True,
            last_update_ts="2026-10-05 09:01:30",
            agent_key=None,
            day_ts="2026-10-05 09:00:00",
            source_line=2,
            raw_record=lines(CDR_FILE, 2),
        ),
        contact(
            **common,
            contact_id="1759658400.3",
            queue="support",
            initiation_ts="2026-10-05 10:00:00",
            connected_to_agent_ts="2026-10-05 10:00:05",
            disconnect_ts="2026-10-05 10:02:05",
            talk_seconds=120,
            abandoned=False,
            last_update_ts="2026-10-05 10:02:05",
            agent_key="agent-7",
            day_ts="2026-10-05 10:00:00",
            source_line=3,
            raw_record=lines(CDR_FILE, 3),
        ),
        contact(
            **common,
            contact_id="1759662000.4",
            queue=None,  # lastapp Dial, not Queue
            initiation_ts="2026-10-05 11:00:00",
            connected_to_agent_ts=None,
            disconnect_ts="2026-10-05 11:00:40",
            talk_seconds=0,
            abandoned=True,  # BUSY
            last_update_ts="2026-10-05 11:00:40",
            agent_key="1002",
            day_ts="2026-10-05 11:00:00",
            source_line=4,
            raw_record=lines(CDR_FILE, 4),
        ),
    ]
    assert rows_of(parsed) == expected
    assert accounted(parsed) == 4


def test_cdr_usegmtime(spark, ctx):
    rows = rows_of(sa.parse_cdr(spark, [str(CDR_FILE)], ctx(usegmtime=True, timezone="Europe/Berlin")))
    assert [r["initiation_ts"] for r in rows] == [f"2026-10-05 {h}:00:00" for h in (10, 11, 12, 13)]


def test_cdr_without_time_zone_is_refused(spark, ctx):
    with pytest.raises(ValueError, match=r"write `timezone: <IANA name>`.*into landing/asterisk_cdr/source\.yaml"):
        sa.parse_cdr(spark, [str(CDR_FILE)], ctx())
    with pytest.raises(ValueError, match="unknown timezone"):
        sa.parse_cdr(spark, [str(CDR_FILE)], ctx(timezone="Mars/Olympus"))


def test_no_customer_data_in_parsed_columns(spark, ctx):
    parsed = [
        sa.parse_cdr(spark, [str(CDR_FILE)], ctx(timezone="Europe/Berlin")),
        sa.parse_queue_log_calls(spark, [str(QL_DAY1), str(QL_DAY2), str(QL_CSV)], ctx(**QL_CSV_OPTIONS)),
        sa.parse_queue_log_agent_events(spark, [str(QL_DAY1), str(QL_DAY2), str(QL_CSV)], ctx(**QL_CSV_OPTIONS)),
    ]
    raw_hits = 0
    for p in parsed:
        for row in rows_of(p):
            for column, value in row.items():
                hits = [c for c in CUSTOMER_DATA if c in str(value)]
                if column == "raw_record":
                    raw_hits += bool(hits)
                else:
                    assert not hits, (column, value)
    assert raw_hits >= 8  # the data is there, only in raw_record


def test_sources_declared():
    assert [(s.name, s.table.name, s.identity) for s in sa.SOURCES] == [
        ("asterisk_queue_log", "contacts", "asterisk_agent"),
        ("asterisk_queue_log", "agent_events", "asterisk_agent"),
        ("asterisk_cdr", "contacts", "asterisk_agent"),
    ]
    assert sa.QUEUE_LOG_CALLS.lookaround_days == 1
    for s in sa.SOURCES:
        assert s.order and set(s.field_sources) <= set(s.table.column_names)


# --- bad input ----------------------------------------------------------------------------------


def test_bad_queue_log_corpus(spark, ctx):
    folder = FIXTURES / "bad"
    files = sorted(str(p) for p in folder.glob("queue_log*/day=*/*"))
    options = ingest.source_options(folder / "queue_log_csv")  # usegmtime: the export's text times are UTC
    parsed = sa.parse_queue_log_calls(spark, files, ctx(**options))
    got = [(r["source_file"], r["source_line"], r["contact_id"], r["reason"]) for r in rows_of(parsed)]
    log, js, csv = "day=2026-10-07/queue_log.log", "day=2026-10-07/contacts.log", "day=2026-10-07/export.csv"
    few = "too few fields (need epoch|callid|queue|agent|event)"
    assert sorted(got, key=repr) == sorted(
        [
            (js, 1, None, few),  # a JSON file where queue_log was expected
            (log, 1, "c9", "negative holdtime"),  # the call c9: ENTERQUEUE + CONNECT with holdtime -5
            (log, 2, "c9", "invalid time"),
            (log, 3, "c9", few),
            (log, 5, "c10", "invalid UTF-8 bytes"),  # latin-1 byte in the queue name
            (log, 6, "c11", "calltime out of range"),
            (log, 7, None, "missing callid"),
            (log, 8, "c12", "time out of range"),  # epoch 1 (1970)
            (log, 9, "c13", "invalid event name"),
            (log, 10, "c14", "invalid holdtime"),
            (log, 11, "c9", few),  # truncated last line, no newline
            (csv, 2, "c20", "invalid time"),  # 25:00:00
            (csv, 3, "c21", "wrong number of columns"),
            (csv, 4, None, "wrong number of columns"),  # JSON in the CSV export
        ],
        key=repr,
    )
    bad_call = next(r for r in rows_of(parsed) if r["contact_id"] == "c11")
    assert bad_call["talk_seconds"] is None  # an absurd number is never parsed into a column
    assert not_ingested_of(parsed) == {(log, sa.KIND_MERGED): 1, (csv, "header"): 1}
    assert accounted(parsed) == 11 + 1 + 4  # every line of the three non-empty files; empty.log has none
    events = sa.parse_queue_log_agent_events(spark, files, ctx(**options))
    assert events.rows.count() == 0
    assert accounted(events) == 16


def test_bad_cdr_corpus(spark, ctx):
    files = sorted(str(p) for p in (FIXTURES / "bad").glob("cdr*/day=*/*.csv"))
    parsed = sa.parse_cdr(spark, files, ctx(timezone="UTC"))
    got = [(r["source_file"], r["source_line"], r["contact_id"], r["reason"]) for r in rows_of(parsed)]
    f = "day=2026-10-07/Master.csv"
    assert sorted(got, key=repr) == sorted(
        [
            (f, 1, "u1", "wrong number of columns"),  # 17 columns
            (f, 2, "u2", "negative billsec"),
            (f, 3, "u3", "invalid start"),
            (f, 4, "u4", "unknown disposition"),
            (f, 5, "u5", "invalid UTF-8 bytes"),
            (f, 6, "u6", "end before start"),
            (f, 7, "u7", None),
            (f, 8, None, "wrong number of columns"),  # truncated last line
            (f, 1, None, "wrong number of columns"),  # the JSON file (cdr_json)
        ],
        key=repr,
    )


def test_empty_input(spark, ctx):
    empty = FIXTURES / "bad" / "queue_log" / "day=2026-10-07" / "empty.log"
    for parse in (sa.parse_queue_log_calls, sa.parse_queue_log_agent_events):
        assert accounted(parse(spark, [str(empty)], ctx())) == 0
        assert accounted(parse(spark, [], ctx())) == 0
    assert accounted(sa.parse_cdr(spark, [], ctx(usegmtime=True))) == 0


# --- synthesized data -----------------------------------------------------------------------------


def test_synth_round_trip(spark, ctx, tmp_path):
    day = dt.date(2026, 10, 5)
    agents = ["SIP/1001", "SIP/1002", "PJSIP/agent-3"]
    ql_folder = tmp_path / "asterisk_queue_log" / "day=2026-10-05"
    written = synth_queue_log(ql_folder, day, agents, 40, seed=7)
    files = [str(ql_folder / "queue_log.log")]
    calls = sa.parse_queue_log_calls(spark, files, ctx())
    events = sa.parse_queue_log_agent_events(spark, files, ctx())
    assert accounted(calls) == written and accounted(events) == written
    assert calls.rows.count() == 40 and calls.rows.filter("reason is not null").count() == 0
    # per agent: AGENTLOGIN, ADDMEMBER x3 queues, PAUSE, UNPAUSE, AGENTLOGOFF
    assert events.rows.count() == len(agents) * 7 and events.rows.filter("reason is not null").count() == 0
    cdr_folder = tmp_path / "asterisk_cdr" / "day=2026-10-05"
    assert synth_cdr(cdr_folder, day, agents, 30, seed=7) == 30
    timezone = (cdr_folder.parent / "source.yaml").read_text().split(":", 1)[1].strip()
    cdr = sa.parse_cdr(spark, [str(cdr_folder / "Master.csv")], ctx(timezone=timezone))
    assert cdr.rows.count() == 30 and cdr.rows.filter("reason is not null").count() == 0
    assert {r["agent_key"] for r in rows_of(cdr)} - {None} <= {"1001", "1002", "agent-3"}  # the channel rule


call_specs = st.lists(
    st.tuples(
        st.sampled_from(["answered", "abandoned", "transferred"]),
        st.integers(0, 20_000),
        st.integers(0, 3_600),
        st.integers(1, 7_200),
        st.sampled_from(["SIP/1001", "PJSIP/a-2"]),
    ),
    min_size=1,
    max_size=10,
)


# Fewer, larger examples: each is a Spark job, whose start costs more than its lines.
@hsettings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=call_specs)
def test_generated_calls_round_trip(spark, ctx, specs):
    start = 1791187200
    calls = [
        SynthCall(
            f"{start + offset}.{i}",
            "support",
            None if kind == "abandoned" else agent,
            kind,
            start + offset,
            wait,
            0 if kind == "abandoned" else talk,
        )
        for i, (kind, offset, wait, talk, agent) in enumerate(specs)
    ]
    all_lines = sorted((line for c in calls for line in call_lines(c)), key=lambda x: x[0])
    folder = Path(tempfile.mkdtemp(prefix="asterisk-")) / "day=2026-10-05"
    folder.mkdir()
    try:
        path = folder / "queue_log.log"
        path.write_text("".join(f"{text}\n" for _, text in all_lines), encoding="utf-8")
        parsed = sa.parse_queue_log_calls(spark, [str(path)], ctx())
        got = {r["contact_id"]: r for r in rows_of(parsed)}
        assert accounted(parsed) == len(all_lines)
    finally:
        shutil.rmtree(folder.parent)

    def utc(epoch: int) -> str:
        return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")

    assert set(got) == {c.callid for c in calls}
    for c in calls:
        r = got[c.callid]
        answered = c.kind != "abandoned"
        end = c.enter + c.wait + c.talk
        assert r["reason"] is None
        assert (r["initiation_ts"], r["disconnect_ts"], r["last_update_ts"]) == (utc(c.enter), utc(end), utc(end))
        assert r["connected_to_agent_ts"] == (utc(c.enter + c.wait) if answered else None)
        assert (r["queue_seconds"], r["talk_seconds"]) == (c.wait, c.talk if answered else None)
        assert (r["abandoned"], r["transferred_out"]) == (not answered, c.kind == "transferred")
        assert r["agent_key"] == (c.agent.split("/", 1)[1] if c.agent else None)  # the channel rule
        assert r["raw_record"] == "\n".join(text for _, text in call_lines(c))
