"""Workforce schedules (landing/schedules/day=D/*.csv) through the shared ingest: activity names to
categories, exact staged rows, every quarantine reason with its line, duplicates, reconciliation,
the site-local day rule, header errors, and the activity names never leaving landing."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import duckdb
import pytest

from foundation import schema
from foundation.settings import load_settings
from jobs import ingest, source_schedules
from jobs.csv_header import HeaderError

KEY = "schedules-test-key-0123456789abcdef"
DAY = dt.date(2026, 10, 5)  # Berlin, CEST (UTC+2)
DAY2 = dt.date(2026, 10, 6)
NY_DAY = dt.date(2026, 11, 1)  # New York: daylight saving time ends at 06:00 UTC
EMPTY_DAY = dt.date(2026, 10, 7)
UTC = dt.UTC
ROSTER = (
    "employee_id,display_name,team,site,site_timezone\n"
    "E1,Anna,T,Berlin,Europe/Berlin\n"
    "E2,Bob,T,New York,America/New_York\n"
)
HEADER = "employee_id,activity,start_utc,end_utc"
# Line numbers in the file: the header is line 1.
LINES = [
    HEADER,  # 1
    "E1,shift,2026-10-05T05:00:00Z,2026-10-05T13:00:00Z",  # 2 shift
    " e1 , Lunch ,2026-10-05T09:00:00Z,2026-10-05T09:30:00Z",  # 3 break (trimmed, any case)
    "E1,Team huddle,2026-10-05T07:00:00Z,2026-10-05T07:15:00Z",  # 4 meeting
    "E1,Coaching,2026-10-05T10:00:00Z,2026-10-05T11:00:00Z",  # 5 training
    "E1,Doctor appointment,2026-10-05T11:30:00Z,2026-10-05T12:30:00Z",  # 6 other
    "E1,SHIFT,2026-10-05T05:00:00Z,2026-10-05T13:00:00Z",  # 7 duplicate of line 2 (the same activity again)
    'E1,"Break, short",2026-10-05T08:00:00Z,2026-10-05T08:10:00Z',  # 8 break (quoted comma)
    "",  # 9 blank: not a record
    "E1,shift,2026-10-05T05:00:00Z",  # 10
    ",shift,2026-10-05T05:00:00Z,2026-10-05T13:00:00Z",  # 11
    "E1,,2026-10-05T05:00:00Z,2026-10-05T13:00:00Z",  # 12
    "E1,Doctor appointment,,2026-10-05T13:00:00Z",  # 13
    "E1,meeting,yesterday,2026-10-05T13:00:00Z",  # 14
    "E1,meeting,2026-10-05T12:00:00Z,",  # 15
    "E1,meeting,2026-10-05T12:00:00Z,soon",  # 16
    "E1,training,2026-10-05T12:00:00Z,2026-10-05T12:00:00Z",  # 17
    "E1,shift,2026-10-05T00:00:00Z,2026-10-06T02:00:00Z",  # 18 26 hours
    "E9,shift,2026-10-05T05:00:00Z,2026-10-05T13:00:00Z",  # 19
    "E1,shift,2026-10-08T05:00:00Z,2026-10-08T13:00:00Z",  # 20 three days later
    'E1,"Doctor appointment,2026-10-05T05:00:00Z,2026-10-05T13:00:00Z',  # 21
]
S, E = "2026-10-05T05:00:00Z", "2026-10-05T13:00:00Z"
NOON = "2026-10-05T12:00:00Z"


def _kept(employee_id: str | None, activity: str | None, start: str | None, end: str | None) -> dict[str, str]:
    """The quarantined record: the allow-listed fields present, the activity as its category."""
    fields = {"employee_id": employee_id, "activity": activity, "start_utc": start, "end_utc": end}
    return {k: v for k, v in fields.items() if v is not None}


EXPECTED_REASONS = [
    (10, "wrong column count: 3 fields, expected 4", None),
    (11, "missing employee_id", _kept(None, "shift", S, E)),
    (12, "missing activity", _kept("E1", None, S, E)),
    (13, "missing start_utc", _kept("E1", "other", None, E)),
    (14, "invalid start_utc", _kept("E1", "meeting", "yesterday", E)),
    (15, "missing end_utc", _kept("E1", "meeting", NOON, None)),
    (16, "invalid end_utc", _kept("E1", "meeting", NOON, "soon")),
    (17, "end_utc not after start_utc", _kept("E1", "training", NOON, NOON)),
    (
        18,
        "end_utc more than 25 hours after start_utc",
        _kept("E1", "shift", "2026-10-05T00:00:00Z", "2026-10-06T02:00:00Z"),
    ),
    (19, "agent not in roster", _kept("E9", "shift", S, E)),
    (
        20,
        "record time more than a day from the landing day",
        _kept("E1", "shift", "2026-10-08T05:00:00Z", "2026-10-08T13:00:00Z"),
    ),
    (21, "malformed line (unbalanced quotes)", None),
]
# Another export layout: columns reordered, an extra free-text column, a byte order mark, CRLF.
DAY2_TEXT = (
    "\ufeffActivity,Start_UTC,end_utc,EMPLOYEE_ID,comment\r\n"
    "Doctor appointment,2026-10-06T05:00:00Z,2026-10-06T06:00:00Z,E1,see Dr Secretname\r\n"
    "Shift,2026-10-06T05:00:00Z,2026-10-06T13:00:00Z,E1,\r\n"
)
# New York, the night daylight saving time ends: the day rule uses the site's local day.
NY_LINES = [
    HEADER,
    "E2,shift,2026-11-02T03:00:00Z,2026-11-02T11:00:00Z",  # 2 Nov 1 22:00 EST: staged
    "E2,meeting,2026-11-03T03:30:00Z,2026-11-03T04:00:00Z",  # 3 Nov 2 22:30 EST (Nov 3 in UTC): staged
    "E2,meeting,2026-11-03T05:30:00Z,2026-11-03T06:00:00Z",  # 4 Nov 3 00:30 EST: outside the day
    "E2,break,2026-10-31T03:30:00Z,2026-10-31T04:00:00Z",  # 5 Oct 30 23:30 EDT (Oct 31 in UTC): outside
]
PERSONAL = ("Doctor appointment", "Doctor", "Secretname", "Coaching", "huddle", "Lunch")


def _pseudonym(employee_id: str) -> str:
    return hmac.new(KEY.encode(), employee_id.encode(), hashlib.sha256).hexdigest()


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _settings(root: Path, landing_files: dict[str, str]):
    landing = root / "landing"
    (landing / "roster").mkdir(parents=True)
    (landing / "roster" / "roster.csv").write_text(ROSTER)
    for relative, text in landing_files.items():
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return load_settings(
        {"TEAMLENS_DATA_ROOT": str(root), "TEAMLENS_PSEUDONYM_KEY": KEY, "TEAMLENS_MAX_BAD_ROW_SHARE": "1"}
    )


def _staged(settings) -> list[tuple]:
    root = settings.lake.staged / "schedules"
    rows = duckdb.sql(
        f"SELECT day, source, agent_pseudonym, activity, epoch_us(start_ts), epoch_us(end_ts), source_line "
        f"FROM read_parquet('{root}/*/*.parquet', hive_partitioning = true) ORDER BY day, source_line"
    ).fetchall()
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    return [
        (d, s, a, c, epoch + dt.timedelta(microseconds=b), epoch + dt.timedelta(microseconds=e), n)
        for d, s, a, c, b, e, n in rows
    ]


def _report(settings, day: dt.date) -> dict:
    return json.loads((settings.lake.reports / "ingest" / "schedules" / f"day={day}.json").read_text())


def _quarantine(settings, day: dt.date) -> list[tuple]:
    folder = settings.lake.quarantine / "schedules" / "ingest" / "schedules" / f"day={day}"
    return duckdb.sql(
        f"SELECT source_line, reason, raw_record FROM read_parquet('{folder}/*.parquet') ORDER BY source_line"
    ).fetchall()


@pytest.fixture(scope="module")
def ingested(spark, policy, tmp_path_factory):
    settings = _settings(
        tmp_path_factory.mktemp("schedules"),
        {
            f"schedules/day={DAY}/schedules.csv": "\n".join(LINES) + "\n",
            f"schedules/day={DAY2}/export.csv": DAY2_TEXT,
            f"schedules/day={DAY2}/notes.txt": "not a schedules file: Doctor appointment\n",
            f"schedules/day={NY_DAY}/schedules.csv": "\n".join(NY_LINES) + "\n",
        },
    )
    summary = ingest.run_table(spark, settings, schema.SCHEDULES, [DAY, DAY2, EMPTY_DAY, NY_DAY])
    return settings, summary


def test_activity_names_become_categories_and_rows_are_exact(ingested):
    settings, _ = ingested
    anna, bob = _pseudonym("E1"), _pseudonym("E2")

    def row(day, agent, activity, start, end, line):
        return (day, "schedules", agent, activity, _ts(start), _ts(end), line)

    assert _staged(settings) == [
        row(DAY, anna, "shift", "2026-10-05T05:00:00Z", "2026-10-05T13:00:00Z", 2),
        row(DAY, anna, "break", "2026-10-05T09:00:00Z", "2026-10-05T09:30:00Z", 3),
        row(DAY, anna, "meeting", "2026-10-05T07:00:00Z", "2026-10-05T07:15:00Z", 4),
        row(DAY, anna, "training", "2026-10-05T10:00:00Z", "2026-10-05T11:00:00Z", 5),
        row(DAY, anna, "other", "2026-10-05T11:30:00Z", "2026-10-05T12:30:00Z", 6),
        row(DAY, anna, "break", "2026-10-05T08:00:00Z", "2026-10-05T08:10:00Z", 8),
        row(DAY2, anna, "other", "2026-10-06T05:00:00Z", "2026-10-06T06:00:00Z", 2),
        row(DAY2, anna, "shift", "2026-10-06T05:00:00Z", "2026-10-06T13:00:00Z", 3),
        row(NY_DAY, bob, "shift", "2026-11-02T03:00:00Z", "2026-11-02T11:00:00Z", 2),
        row(NY_DAY, bob, "meeting", "2026-11-03T03:30:00Z", "2026-11-03T04:00:00Z", 3),
    ]


def test_quarantine_reasons_lines_and_minimised_records(ingested):
    settings, _ = ingested
    got = [(n, reason, json.loads(raw) if raw else raw) for n, reason, raw in _quarantine(settings, DAY)]
    assert got == EXPECTED_REASONS


def test_reconciliation_duplicates_and_header(ingested):
    settings, summary = ingested
    report = _report(settings, DAY)
    section = report["sources"]["schedules"]
    assert (section["read"], section["staged"], section["quarantined"], section["duplicates"]) == (19, 6, 12, 1)
    assert section["read"] == section["staged"] + section["quarantined"] + section["duplicates"]
    assert section["quarantine_reasons"] == {reason: 1 for _, reason, _ in EXPECTED_REASONS}
    assert section["files"] == 1
    assert section["not_ingested"] == {"header": 1}
    assert report["reconciled"] is True
    day2 = _report(settings, DAY2)["sources"]["schedules"]
    assert (day2["read"], day2["staged"], day2["files"], day2["not_ingested"]) == (2, 2, 1, {"header": 1})
    assert (summary["read"], summary["staged"], summary["quarantined"], summary["duplicates"]) == (25, 10, 14, 1)


def test_day_rule_uses_the_site_time_zone(ingested):
    settings, _ = ingested
    assert [(n, reason) for n, reason, _ in _quarantine(settings, NY_DAY)] == [
        (4, "record time more than a day from the landing day"),
        (5, "record time more than a day from the landing day"),
    ]


def test_day_without_a_file_gets_an_empty_partition(ingested):
    settings, _ = ingested
    folder = settings.lake.staged / "schedules" / f"day={EMPTY_DAY}"
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet')").fetchall() == [(0,)]
    section = _report(settings, EMPTY_DAY)["sources"]["schedules"]
    assert (section["read"], section["staged"], section["files"]) == (0, 0, 0)


def test_activity_names_and_other_columns_never_reach_staged_or_quarantine(ingested):
    settings, _ = ingested
    staged = settings.lake.staged / "schedules"
    quarantine = settings.lake.quarantine / "schedules"
    text = json.dumps(
        [
            duckdb.sql(f"SELECT * FROM read_parquet('{staged}/*/*.parquet')").fetchall(),
            duckdb.sql(f"SELECT * FROM read_parquet('{quarantine}/ingest/*/*/*.parquet')").fetchall(),
        ],
        default=str,
    ).lower()
    files = [p for p in [*staged.rglob("*"), *quarantine.rglob("*")] if p.is_file()]
    assert files
    for name in PERSONAL:
        assert name.lower() not in text, name
        for path in files:
            assert name.encode() not in path.read_bytes(), (name, path)


def test_staged_partition_validates(ingested):
    from expectations.validate import validate_day

    settings, _ = ingested
    reports = {r["table"]: r for r in validate_day(settings, DAY)}
    report = reports["schedules"]
    assert (report["rows_in"], report["rows_passed"], report["rows_quarantined"]) == (6, 6, 0)
    assert report["reconciled"] is True


def test_header_without_a_required_column_fails_the_run(spark, policy, tmp_path):
    settings = _settings(
        tmp_path,
        {
            f"schedules/day={DAY}/good.csv": "\n".join(LINES[:3]) + "\n",
            f"schedules/day={DAY}/bad.csv": "employee_id,activity,start_utc\nE1,shift,2026-10-05T05:00:00Z\n",
        },
    )
    with pytest.raises(HeaderError, match=r"day=2026-10-05/bad\.csv: the header lacks column\(s\) end_utc"):
        ingest.run_table(spark, settings, schema.SCHEDULES, [DAY])
    assert not (settings.lake.staged / "schedules").exists()
    assert not (settings.lake.reports / "ingest" / "schedules").exists()


def test_no_schedules_folder_gives_empty_partitions(spark, policy, tmp_path):
    settings = _settings(tmp_path, {})
    summary = ingest.run_table(spark, settings, schema.SCHEDULES, [DAY])
    assert (summary["read"], summary["staged"]) == (0, 0)
    assert (settings.lake.staged / "schedules" / f"day={DAY}").is_dir()
    assert _report(settings, DAY)["sources"]["schedules"]["files"] == 0


def test_source_is_registered_for_the_table():
    from jobs import registry

    sources = [s for s in registry.builtin_sources() if s.table.name == schema.SCHEDULES.name]
    assert sources == [source_schedules.SCHEDULES]
    assert sources[0].identity == "employee_id"
    assert set(sources[0].field_sources) <= set(schema.SCHEDULES.column_names)


FIXTURES = Path(__file__).parent / "fixtures" / "schedules"


def test_latin1_line_is_quarantined_and_a_utf8_bom_does_not_break_the_header(spark, policy, tmp_path):
    """tests/fixtures/schedules: a latin-1 line is never staged with replacement characters; it is
    quarantined naming its file and line. A byte-order mark before the header is ignored."""
    settings = _settings(tmp_path, {})
    for name, day in (("latin1.csv", DAY), ("utf8_bom.csv", DAY2)):
        folder = settings.lake.landing / "schedules" / f"day={day}"
        folder.mkdir(parents=True)
        (folder / name).write_bytes((FIXTURES / name).read_bytes())
    summary = ingest.run_table(spark, settings, schema.SCHEDULES, [DAY, DAY2])
    assert _quarantine(settings, DAY) == [(3, "malformed line (invalid UTF-8)", None)]
    quarantine = settings.lake.quarantine / "schedules" / "ingest" / "schedules" / f"day={DAY}"
    [(source_file,)] = duckdb.sql(f"SELECT source_file FROM read_parquet('{quarantine}/*.parquet')").fetchall()
    assert source_file.endswith(f"day={DAY}/latin1.csv")
    assert [(r[0], r[3], r[6]) for r in _staged(settings)] == [
        (DAY, "shift", 2),
        (DAY2, "shift", 2),
        (DAY2, "break", 3),
    ]
    assert (summary["read"], summary["staged"], summary["quarantined"]) == (4, 3, 1)
