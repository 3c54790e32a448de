"""Day assignment on daylight saving time days, and a late-record rerun, through the real contacts
job (jobs.ingest.run_table) over a temporary landing zone.

The day rule (jobs.ingest, docs/landing.md): a record's `day` is its landing
partition's day (day=D folder), which the landing contract defines as the site-local day the
contact started. The job does not recompute the day from the timestamp; it only checks it: a
contact whose InitiationTimestamp, in the agent's site time zone, lies more than one calendar day
from the landing day is quarantined ("InitiationTimestamp more than a day from the landing day").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from foundation import lake, schema
from foundation.settings import Settings, load_settings
from jobs import ingest, writing

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "ingest-time-test-key-0123456789abcdef"
BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC

# 2026-10-25: Berlin leaves summer time (03:00 CEST -> 02:00 CET, at 01:00 UTC), a 25-hour day.
AUTUMN = dt.date(2026, 10, 25)
# 2026-03-29: Berlin enters summer time (02:00 CET -> 03:00 CEST, at 01:00 UTC), a 23-hour day.
SPRING = dt.date(2026, 3, 29)

# The instants, worked out by hand (and checked against zoneinfo in the first test):
#   AUTUMN 00:30 local is still CEST (UTC+2)  -> 2026-10-24T22:30:00Z (a UTC day earlier)
#   AUTUMN 23:30 local is CET (UTC+1)         -> 2026-10-25T22:30:00Z
#   10-26  00:30 local is CET (UTC+1)         -> 2026-10-25T23:30:00Z (same UTC day as AUTUMN)
#   10-27  00:30 local is CET (UTC+1)         -> 2026-10-26T23:30:00Z (two local days after AUTUMN,
#                                                one UTC day after it)
#   SPRING 00:30 local is still CET (UTC+1)   -> 2026-03-28T23:30:00Z (a UTC day earlier)
#   SPRING 23:30 local is CEST (UTC+2)        -> 2026-03-29T21:30:00Z
#   03-30  00:30 local is CEST (UTC+2)        -> 2026-03-29T22:30:00Z (same UTC day as SPRING)
INSTANTS = {
    "autumn-early": ("2026-10-25 00:30", "2026-10-24T22:30:00Z"),
    "autumn-late": ("2026-10-25 23:30", "2026-10-25T22:30:00Z"),
    "autumn-next": ("2026-10-26 00:30", "2026-10-25T23:30:00Z"),
    "autumn-plus2": ("2026-10-27 00:30", "2026-10-26T23:30:00Z"),
    "spring-early": ("2026-03-29 00:30", "2026-03-28T23:30:00Z"),
    "spring-late": ("2026-03-29 23:30", "2026-03-29T21:30:00Z"),
    "spring-next": ("2026-03-30 00:30", "2026-03-29T22:30:00Z"),
}

ROSTER = """employee_id,display_name,connect_username,team,site,site_timezone
E-1,Berta Berlin,berta,Team Nord,Berlin,Europe/Berlin
E100,Nora Newyork,nora.ny,Team East,New York,America/New_York
E101,Olaf Overnight,olaf,Team East,New York,America/New_York
"""


def pseudonym(employee_id: str) -> str:
    return hmac.new(KEY.encode(), employee_id.encode(), hashlib.sha256).hexdigest()


BERTA = pseudonym("E-1")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def uri(path: Path) -> str:
    """A landing file as Spark's input_file_name() writes it (file://, the path not percent-encoded)."""
    return "file://" + str(path.absolute())


def naive(t: dt.datetime | None) -> dt.datetime | None:
    """An instant as a collected Spark timestamp: naive, in the Python process's local time."""
    return None if t is None else t.astimezone().replace(tzinfo=None)


def ctr(contact_id: str, start: str, *, user: str | None = "berta", talk: int = 120, last_after: int = 300) -> str:
    """One CTR line: answered by `user` (None: abandoned in the queue), lasting 5 minutes."""
    t0 = utc(start)

    def at(seconds: int) -> str:
        return (t0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")

    agent = None
    if user is not None:
        agent = {
            "Username": user,
            "ConnectedToAgentTimestamp": at(20),
            "AgentInteractionDuration": talk,
            "CustomerHoldDuration": 0,
            "NumberOfHolds": 0,
            "AfterContactWorkDuration": 15,
        }
    record = {
        "ContactId": contact_id,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": start,
        "DisconnectTimestamp": at(200),
        "LastUpdateTimestamp": at(last_after),
        "CustomerEndpoint": {"Address": "+4930555012345", "Type": "TELEPHONE_NUMBER"},
        "Queue": {"Name": "Support", "Duration": 20},
        "Agent": agent,
    }
    return json.dumps(record)


def expected_ctr_row(
    contact_id: str, start: str, day: dt.date, file: Path, line: int, *, talk: int = 120, last_after: int = 300
) -> dict[str, Any]:
    """The staged row of ctr(contact_id, start, talk=..., last_after=...) answered by berta."""
    t0 = utc(start)
    return {
        "contact_id": contact_id,
        "day": day,
        "source": "connect_ctr",
        "agent_pseudonym": BERTA,
        "queue": "Support",
        "channel": "VOICE",
        "initiation_method": "INBOUND",
        "initiation_ts": naive(t0),
        "connected_to_agent_ts": naive(t0 + dt.timedelta(seconds=20)),
        "disconnect_ts": naive(t0 + dt.timedelta(seconds=200)),
        "queue_seconds": 20,
        "talk_seconds": talk,
        "hold_seconds": 0,
        "holds": 0,
        "acw_seconds": 15,
        "transferred_out": False,
        "abandoned": False,
        "last_update_ts": naive(t0 + dt.timedelta(seconds=last_after)),
        "source_file": uri(file),
        "source_line": line,
    }


def make_landing(root: Path) -> Settings:
    (root / "landing" / "roster").mkdir(parents=True)
    (root / "landing" / "roster" / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(root),
            "TEAMLENS_PSEUDONYM_KEY": KEY,
            "TEAMLENS_RUN_BY": "test",
            "TEAMLENS_MAX_BAD_ROW_SHARE": "1",
        }
    )


def land(settings: Settings, source: str, day: dt.date, name: str, lines: list[str]) -> Path:
    folder = settings.lake.landing / source / f"day={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def staged_rows(spark, settings: Settings, day: dt.date) -> list[dict[str, Any]]:
    """The staged contacts partition of one day, as dicts sorted by source and contact id."""
    rows = [r.asDict() for r in writing.read_table_partitions(spark, settings, schema.CONTACTS, [day]).collect()]
    return sorted(rows, key=lambda r: (r["source"], r["contact_id"]))


def assert_rows(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Row lists equal; on a difference, name the row and the differing columns."""
    assert len(got) == len(expected), ([r["contact_id"] for r in got], [r["contact_id"] for r in expected])
    for g, e in zip(got, expected, strict=True):
        diff = {k: (g.get(k), e.get(k)) for k in set(g) | set(e) if g.get(k) != e.get(k)}
        assert not diff, (e["contact_id"], diff)


def report(settings: Settings, day: dt.date) -> dict[str, Any]:
    return json.loads(settings.lake.ingest_report(schema.CONTACTS, day).read_text(encoding="utf-8"))


# --- day assignment on DST days ---------------------------------------------------------------


def test_hand_computed_instants_match_the_time_zone_database():
    for local, instant in INSTANTS.values():
        local_t = dt.datetime.fromisoformat(local).replace(tzinfo=BERLIN)
        assert local_t.astimezone(UTC) == utc(instant), local
        assert utc(instant).astimezone(BERLIN).strftime("%Y-%m-%d %H:%M") == local
    # The two days really are 25 and 23 hours long in Berlin.
    for day, hours in ((AUTUMN, 25), (SPRING, 23)):
        start = dt.datetime.combine(day, dt.time(), BERLIN)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), BERLIN)
        assert end.astimezone(UTC) - start.astimezone(UTC) == dt.timedelta(hours=hours)


@pytest.fixture(scope="module")
def dst_run(spark, policy, tmp_path_factory):
    """Each contact landed in the folder of the site-local day it started; one run over the four days."""
    settings = make_landing(tmp_path_factory.mktemp("ingest-dst"))
    early, late, nxt, plus2 = (INSTANTS[f"autumn-{k}"][1] for k in ("early", "late", "next", "plus2"))
    files = {
        "autumn": land(settings, "connect_ctr", AUTUMN, "ctr.jsonl", [ctr("a-early", early), ctr("a-late", late)]),
        "autumn-next": land(settings, "connect_ctr", AUTUMN + dt.timedelta(days=1), "ctr.jsonl", [ctr("a-next", nxt)]),
        "spring": land(
            settings,
            "connect_ctr",
            SPRING,
            "ctr.jsonl",
            [ctr("s-early", INSTANTS["spring-early"][1]), ctr("s-late", INSTANTS["spring-late"][1])],
        ),
        "spring-next": land(
            settings,
            "connect_ctr",
            SPRING + dt.timedelta(days=1),
            "ctr.jsonl",
            [ctr("s-next", INSTANTS["spring-next"][1])],
        ),
        # Misfiled in AUTUMN's folder: local 10-27 00:30 is two local days off (one UTC day off).
        "autumn-misfiled": land(settings, "connect_ctr", AUTUMN, "misfiled.jsonl", [ctr("a-plus2", plus2)]),
    }
    days = [SPRING, SPRING + dt.timedelta(days=1), AUTUMN, AUTUMN + dt.timedelta(days=1)]
    summary = ingest.run_table(spark, settings, schema.CONTACTS, days)
    return settings, files, summary


@pytest.mark.parametrize(
    ("day", "early", "late"),
    [(AUTUMN, "autumn-early", "autumn-late"), (SPRING, "spring-early", "spring-late")],
    ids=["autumn-25h", "spring-23h"],
)
def test_contacts_at_local_0030_and_2330_of_a_dst_day_are_staged_on_that_day(spark, dst_run, day, early, late):
    settings, files, _ = dst_run
    season = "autumn" if day == AUTUMN else "spring"
    cid = {early: f"{season[0]}-early", late: f"{season[0]}-late"}
    assert_rows(
        staged_rows(spark, settings, day),
        [
            expected_ctr_row(cid[early], INSTANTS[early][1], day, files[season], 1),
            expected_ctr_row(cid[late], INSTANTS[late][1], day, files[season], 2),
        ],
    )


@pytest.mark.parametrize(
    ("day", "nxt", "cid"),
    [(AUTUMN, "autumn-next", "a-next"), (SPRING, "spring-next", "s-next")],
    ids=["autumn", "spring"],
)
def test_a_contact_at_0030_of_the_next_local_day_is_not_in_the_dst_day(spark, dst_run, day, nxt, cid):
    settings, files, _ = dst_run
    # Its UTC instant lies on the DST day's UTC date, yet it belongs to the next day's partition.
    assert utc(INSTANTS[nxt][1]).date() == day
    assert cid not in {r["contact_id"] for r in staged_rows(spark, settings, day)}
    following = day + dt.timedelta(days=1)
    season = "autumn" if day == AUTUMN else "spring"
    assert_rows(
        staged_rows(spark, settings, following),
        [expected_ctr_row(cid, INSTANTS[nxt][1], following, files[f"{season}-next"], 1)],
    )


def test_a_contact_two_site_local_days_from_its_landing_day_is_quarantined(spark, dst_run):
    """Local 10-27 00:30 landed in day=2026-10-25: the check uses the site-local day (two days off),
    not the UTC day (2026-10-26, one day off), so it is quarantined, not staged."""
    settings, files, _ = dst_run
    folder = settings.lake.ingest_quarantine_root(schema.CONTACTS, "connect_ctr") / f"day={AUTUMN}"
    quarantined = spark.read.parquet(str(folder)).collect()
    assert [(r["source_file"], r["source_line"], r["reason"]) for r in quarantined] == [
        (uri(files["autumn-misfiled"]), 1, "InitiationTimestamp more than a day from the landing day")
    ]
    got = report(settings, AUTUMN)
    assert (got["read"], got["staged"], got["quarantined"], got["duplicates"], got["reconciled"]) == (3, 2, 1, 0, True)
    for day in (SPRING, SPRING + dt.timedelta(days=1), AUTUMN + dt.timedelta(days=1)):
        assert report(settings, day)["quarantined"] == 0


# --- a late record, one day rerun -------------------------------------------------------------

D1 = dt.date(2026, 10, 5)
D2 = dt.date(2026, 10, 6)
# A flat export of D2 (America/New_York local times): one answered call of E100.
FLAT_D2 = (
    "CallId,Agent,Queue,QueueStart,QueueEnd,ServiceStart,ServiceEnd,Result,CallerNumber,CallerName\n"
    "C-2001,E100,Sales,2026-10-06 09:00:00,2026-10-06 09:00:40,2026-10-06 09:00:40,2026-10-06 09:04:40,ANSWERED,"
    '+12125550199,"Doe, Jane"\n'
)


def partition_files(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under a partition folder: relative path -> (bytes, inode, mtime in ns)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = os.stat(path)
            out[str(path.relative_to(root))] = (path.read_bytes(), st.st_ino, st.st_mtime_ns)
    return out


def test_late_ctr_file_rerun_of_one_day_replaces_only_that_day(spark, policy, tmp_path):
    settings = make_landing(tmp_path)
    export = settings.lake.landing / "flat_calls" / "acd_csv"
    shutil.copytree(FIXTURES / "flat_calls" / "acd_csv", export)  # mapping.yaml and day=D1/calls.csv
    (export / f"day={D2}").mkdir()
    (export / f"day={D2}" / "calls.csv").write_text(FLAT_D2, encoding="utf-8")
    d1_file = land(settings, "connect_ctr", D1, "ctr-0001.jsonl", [ctr("c-1", "2026-10-05T08:00:00Z")])
    d2_file = land(settings, "connect_ctr", D2, "ctr-0001.jsonl", [ctr("c-2", "2026-10-06T08:00:00Z")])

    ingest.run_table(spark, settings, schema.CONTACTS, [D1, D2])
    d2_root = lake.partition(settings.lake.table_root(schema.CONTACTS), D2)
    d2_before = partition_files(d2_root)
    d2_rows_before = staged_rows(spark, settings, D2)
    assert [(r["source"], r["contact_id"]) for r in d2_rows_before] == [
        ("connect_ctr", "c-2"),
        ("flat_calls/acd_csv", "C-2001"),
    ]
    assert_rows(d2_rows_before[:1], [expected_ctr_row("c-2", "2026-10-06T08:00:00Z", D2, d2_file, 1)])
    flat_d1_before = [r for r in staged_rows(spark, settings, D1) if r["source"] == "flat_calls/acd_csv"]
    assert [r["contact_id"] for r in flat_d1_before] == ["C-1001", "C-1002", "C-1003"]
    d2_report_before = settings.lake.ingest_report(schema.CONTACTS, D2).read_bytes()

    # A late file for D1: one contact never seen, and a stale redelivery of c-1 (a duplicate).
    late_file = land(
        settings,
        "connect_ctr",
        D1,
        "ctr-0002-late.jsonl",
        [ctr("c-late", "2026-10-05T21:15:00Z", talk=400), ctr("c-1", "2026-10-05T08:00:00Z", last_after=250)],
    )
    summary = ingest.run_table(spark, settings, schema.CONTACTS, [D1])

    d1_rows = staged_rows(spark, settings, D1)
    assert_rows(
        [r for r in d1_rows if r["source"] == "connect_ctr"],
        [
            expected_ctr_row("c-1", "2026-10-05T08:00:00Z", D1, d1_file, 1),
            expected_ctr_row("c-late", "2026-10-05T21:15:00Z", D1, late_file, 1, talk=400),
        ],
    )
    assert [r for r in d1_rows if r["source"] == "flat_calls/acd_csv"] == flat_d1_before  # once each, unchanged
    assert len(d1_rows) == 5

    got = report(settings, D1)
    ctr_section = got["sources"]["connect_ctr"]
    assert (ctr_section["read"], ctr_section["staged"], ctr_section["quarantined"], ctr_section["duplicates"]) == (
        3,
        2,
        0,
        1,
    )
    assert (ctr_section["files"], ctr_section["reconciled"]) == (2, True)
    flat_section = got["sources"]["flat_calls/acd_csv"]
    assert (flat_section["staged"], flat_section["duplicates"], flat_section["reconciled"]) == (3, 0, True)
    assert (got["staged"], got["duplicates"], got["reconciled"]) == (5, 1, True)
    assert got["read"] == got["staged"] + got["quarantined"] + got["duplicates"]
    assert set(summary["days"]) == {D1.isoformat()}
    assert (summary["staged"], summary["duplicates"]) == (5, 1)

    # D2 was not part of the rerun: its partition files, rows and report are untouched.
    assert partition_files(d2_root) == d2_before
    assert staged_rows(spark, settings, D2) == d2_rows_before
    assert settings.lake.ingest_report(schema.CONTACTS, D2).read_bytes() == d2_report_before
