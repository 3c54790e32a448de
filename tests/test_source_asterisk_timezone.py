"""The time zone of Asterisk text times (jobs.source_asterisk, jobs.source_asterisk_layout): a queue_log
database export's text times are the PBX's local time, in the zone its source.yaml names, as the
CDR's are; exact UTC instants for a Berlin PBX in summer and winter, across midnight and through
both daylight saving changes; the refusal to guess; the day a call near midnight is staged on."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from foundation import schema
from foundation.settings import load_settings
from jobs import ingest
from jobs import source_asterisk as sa
from jobs import source_asterisk_layout as layout
from jobs.sources import Parsed, SourceContext

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "asterisk"
BERLIN = FIXTURES / "queue_log_berlin"  # source.yaml: timezone: Europe/Berlin
SUMMER, WINTER = BERLIN / "day=2026-07-15" / "queue_log.csv", BERLIN / "day=2026-01-15" / "queue_log.csv"
SPRING_GAP, AUTUMN_FOLD = BERLIN / "day=2026-03-29" / "queue_log.csv", BERLIN / "day=2026-10-25" / "queue_log.csv"
QL_NATIVE = FIXTURES / "queue_log" / "day=2026-10-05" / "queue_log.log"
CDR_HEADER = "uniqueid,dstchannel,start,answer,end,duration,billsec,disposition,lastapp,lastdata"


@pytest.fixture
def ctx(settings, policy):
    def make(**options: Any) -> SourceContext:
        return SourceContext(settings=settings, folder=settings.lake.landing, options=options)

    return make


def berlin() -> dict[str, Any]:
    """The Berlin fixture's options, read from its source.yaml as ingestion reads them."""
    return ingest.source_options(BERLIN)


def calls_of(parsed: Parsed) -> list[tuple[Any, ...]]:
    """(contact_id, initiation, connected, disconnect, day_ts, reason) per row, times as UTC text."""
    times = ("initiation_ts", "connected_to_agent_ts", "disconnect_ts", "day_ts")
    rows = parsed.rows.selectExpr("contact_id", *[f"cast({c} as string) as {c}" for c in times], "reason").collect()
    return sorted((r["contact_id"], *[r[c] for c in times], r["reason"]) for r in rows)


def cdr_export(folder: Path, queue_log: Path) -> Path:
    """A CDR table export of the queue_log fixture's one call: start, answer and end are the same
    local texts as its ENTERQUEUE, CONNECT and COMPLETEAGENT lines."""
    enter, connect, complete = (line.split(",") for line in queue_log.read_text().splitlines()[1:])
    path = folder / f"day={enter[1][:10]}" / "cdr.csv"
    path.parent.mkdir(parents=True)
    talk = complete[7]  # the COMPLETEAGENT calltime, as duration and billsec
    row = f"{enter[2]},SIP/1101,{enter[1]},{connect[1]},{complete[1]},{talk},{talk},ANSWERED,Queue,support"
    path.write_text(f"{CDR_HEADER}\n{row}\n")
    return path


@pytest.fixture(scope="module")
def berlin_parsed(spark, tmp_path_factory) -> dict[str, Any]:
    """The four Berlin exports parsed together, once for the module (their call ids differ): the
    queue_log's calls, the summer export's agent events, and CDR exports of the gap's and the fold's
    calls, each row keyed by its contact id."""
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path_factory.mktemp("tz") / "data")})
    context = SourceContext(settings=settings, folder=settings.lake.landing, options=berlin())
    exports = [str(p) for p in (SUMMER, WINTER, SPRING_GAP, AUTUMN_FOLD)]
    folder = tmp_path_factory.mktemp("cdr")
    cdr_files = [str(cdr_export(folder, p)) for p in (SPRING_GAP, AUTUMN_FOLD)]
    events = sa.parse_queue_log_agent_events(spark, [str(SUMMER)], context).rows.collect()
    return {
        "calls": {r[0]: r for r in calls_of(sa.parse_queue_log_calls(spark, exports, context))},
        "cdr": {r[0]: r for r in calls_of(sa.parse_cdr(spark, cdr_files, context))},
        "events": [(r["event_type"], str(r["event_ts"])) for r in events],
    }


def test_berlin_summer_text_times_are_utc_plus_two(berlin_parsed):
    """A call at local 00:30 on 15 July (CEST) started at 22:30 UTC the day before; the epoch in the
    time column (line 6) is UTC whatever the zone."""
    calls = berlin_parsed["calls"]
    assert [calls["s-1"], calls["s-2"]] == [
        ("s-1", "2026-07-14 22:30:00", "2026-07-14 22:30:20", "2026-07-14 22:35:20.5", "2026-07-14 22:30:00", None),
        ("s-2", "2026-07-15 12:00:00", None, "2026-07-15 12:01:00", "2026-07-15 12:00:00", None),
    ]
    assert berlin_parsed["events"] == [("LOGIN", "2026-07-14 22:20:00")]
    assert sorted(calls) == ["f-1", "g-1", "s-1", "s-2", "w-1"]  # every call of the four exports


def test_berlin_winter_text_times_are_utc_plus_one(berlin_parsed):
    assert berlin_parsed["calls"]["w-1"] == (
        "w-1",
        "2026-01-14 23:30:00",
        "2026-01-14 23:30:20",
        "2026-01-14 23:35:20",
        "2026-01-14 23:30:00",
        None,
    )


def test_spring_gap_is_moved_on_by_the_gap_as_in_the_cdr(berlin_parsed):
    """29 March 2026: 02:00 CET became 03:00 CEST. 01:59:59 is CET; 02:30, a time the clock skipped
    (never written by a PBX), is read as 03:30 CEST; 03:40 is CEST. The CDR reads the same texts alike."""
    expected = ("g-1", "2026-03-29 00:59:59", "2026-03-29 01:30:00", "2026-03-29 01:40:00", "2026-03-29 00:59:59", None)
    assert berlin_parsed["calls"]["g-1"] == expected
    assert berlin_parsed["cdr"]["g-1"] == expected


def test_autumn_fold_is_the_earlier_instant_as_in_the_cdr(berlin_parsed):
    """25 October 2026: 03:00 CEST became 02:00 CET, so 02:30 happened twice; it is read as the
    first (CEST, 00:30 UTC). 01:59:59 is CEST (the day before in UTC), 03:00 is CET."""
    expected = ("f-1", "2026-10-24 23:59:59", "2026-10-25 00:30:00", "2026-10-25 02:00:00", "2026-10-24 23:59:59", None)
    assert berlin_parsed["calls"]["f-1"] == expected
    assert berlin_parsed["cdr"]["f-1"] == expected


def test_usegmtime_reads_text_times_as_utc(spark, ctx):
    """A PBX that runs in UTC; usegmtime wins over a timezone, as for the CDR."""
    for options in ({"usegmtime": True}, {"usegmtime": True, "timezone": "Europe/Berlin"}):
        got = calls_of(sa.parse_queue_log_calls(spark, [str(WINTER)], ctx(**options)))
        assert [r[:4] for r in got] == [("w-1", "2026-01-15 00:30:00", "2026-01-15 00:30:20", "2026-01-15 00:35:20")]


def test_text_times_without_a_zone_are_refused(spark, ctx):
    """Neither timezone nor usegmtime: ingestion stops, naming the file and what to write where."""
    message = (
        r"day=2026-07-15/queue_log\.csv: the time column holds text times, which Asterisk writes in the PBX's "
        r"local time: write `timezone: <IANA name>` \(e\.g\. Europe/Berlin\) or `usegmtime: true` \(a PBX "
        r"that runs in UTC\) into landing/asterisk_queue_log/source\.yaml$"
    )
    for parse in (sa.parse_queue_log_calls, sa.parse_queue_log_agent_events):
        with pytest.raises(layout.TimeZoneError, match=message):
            parse(spark, [str(QL_NATIVE), str(SUMMER)], ctx())
        with pytest.raises(layout.TimeZoneError, match=r"day=2026-07-15/queue_log\.csv: "):
            parse(spark, [str(QL_NATIVE), str(SUMMER)], ctx(usegmtime=False))
    with pytest.raises(layout.TimeZoneError, match=r"^landing/asterisk_queue_log/source\.yaml: unknown timezone"):
        sa.parse_queue_log_calls(spark, [str(QL_NATIVE)], ctx(timezone="Mars/Olympus"))
    with pytest.raises(layout.TimeZoneError, match=r"^Asterisk CDR times .*into landing/asterisk_cdr/source\.yaml$"):
        sa.parse_cdr(spark, [], ctx())


def test_epochs_and_native_lines_need_no_zone(spark, ctx, tmp_path):
    """An export whose time column holds epochs only, and native lines: UTC instants, no option."""
    path = tmp_path / "day=2026-07-15" / "queue_log.csv"
    path.parent.mkdir()
    path.write_text("time,callid,queuename,agent,event,data1,data2,data3\n")
    with path.open("a") as out:
        out.write("1784068200,e-1,support,NONE,ENTERQUEUE,,,1\n1784068260.250000,e-1,support,NONE,ABANDON,1,1,60\n")
    got = {r[0]: r for r in calls_of(sa.parse_queue_log_calls(spark, [str(path), str(QL_NATIVE)], ctx()))}
    assert got["e-1"] == ("e-1", "2026-07-14 22:30:00", None, "2026-07-14 22:31:00.25", "2026-07-14 22:30:00", None)
    assert len(got) == 5 and all(r[-1] is None for r in got.values())  # and the native fixture's four calls


# --- ingestion: the day a call near midnight is staged on ---------------------------------------------------

DAY = dt.date(2026, 7, 15)


def staged_calls(settings: Any) -> list[tuple[Any, ...]]:
    """(source, contact_id, day partition, initiation epoch seconds) of the staged contacts."""
    root = settings.lake.staged / "contacts"
    sql = (
        "SELECT source, contact_id, CAST(day AS VARCHAR), epoch(initiation_ts) "
        f"FROM read_parquet('{root}/*/*.parquet', hive_partitioning = true) ORDER BY source, contact_id"
    )
    return duckdb.execute(sql).fetchall()


def test_a_call_at_local_0030_is_staged_on_its_local_day_like_the_cdr(spark, policy, tmp_path):
    """A Berlin PBX's call at 00:30 on 15 July (22:30 UTC on the 14th), in the export of 15 July and in
    the CDR: both are staged on the 15th's partition, at the same instant. Without the queue_log's
    source.yaml the run stops before anything is staged."""
    landing = tmp_path / "landing"
    (landing / "roster").mkdir(parents=True)
    (landing / "roster" / "roster.csv").write_text(
        "employee_id,asterisk_agent,team,site,site_timezone\nE1,1101,Team Nord,Berlin,Europe/Berlin\n"
    )
    queue_log = landing / "asterisk_queue_log"
    shutil.copytree(SUMMER.parent, queue_log / SUMMER.parent.name)
    cdr = landing / "asterisk_cdr" / f"day={DAY}"
    cdr.mkdir(parents=True)
    (cdr.parent / "source.yaml").write_text("timezone: Europe/Berlin\n")
    (cdr / "cdr.csv").write_text(
        f"{CDR_HEADER}\n1784068200.1,SIP/1101,2026-07-15 00:30:00,"
        "2026-07-15 00:30:20,2026-07-15 00:35:20,320,300,ANSWERED,Queue,support\n"
    )
    env = {"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_PSEUDONYM_KEY": "k" * 32, "TEAMLENS_RUN_BY": "test"}
    settings = load_settings(env)
    with pytest.raises(layout.TimeZoneError, match=r"day=2026-07-15/queue_log\.csv: .*asterisk_queue_log/source"):
        ingest.run_table(spark, settings, schema.CONTACTS, [DAY])
    assert not (settings.lake.staged / "contacts").exists()
    shutil.copy(BERLIN / "source.yaml", queue_log / "source.yaml")
    ingest.run_table(spark, settings, schema.CONTACTS, [DAY])
    local_0030 = dt.datetime(2026, 7, 14, 22, 30, tzinfo=dt.UTC).timestamp()
    assert staged_calls(settings) == [
        ("asterisk_cdr", "1784068200.1", str(DAY), local_0030),
        ("asterisk_queue_log", "s-1", str(DAY), local_0030),
        ("asterisk_queue_log", "s-2", str(DAY), dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC).timestamp()),
    ]
