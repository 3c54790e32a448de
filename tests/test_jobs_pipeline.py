"""The jobs' run(): hand-made landing files (tests/fixtures/jobs/landing) -> staged, quarantine,
reports and agent-day metrics, read back from disk. Expected values worked out by hand."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyspark.testing import assertDataFrameEqual

from foundation import schema
from foundation.settings import Settings, load_settings
from jobs import agent_day, ingest, metrics_duckdb, queue_day, staged_roster, writing

FIXTURES = Path(__file__).parent / "fixtures" / "jobs"
SAMPLE = FIXTURES / "amazon_connect_agent_events_samples.jsonl"  # Amazon Connect's documented examples
KEY = "pipeline-test-key-0123456789abcdef"
DAY = dt.date(2026, 10, 5)
ANNA = hmac.new(KEY.encode(), b"E-7001", hashlib.sha256).hexdigest()
BERT = hmac.new(KEY.encode(), b"E-7002", hashlib.sha256).hexdigest()
CORA = hmac.new(KEY.encode(), b"E-7003", hashlib.sha256).hexdigest()
PERSONAL = (
    "+4930555012345",  # customer phone number (CustomerEndpoint)
    "Erika Mustermann",  # customer name in Attributes
    "Jane Customer",  # window titles, browser titles
    "crm.example.com",  # URL
    "Salesforce",  # application name (only its category passes)
    "Notepad",
    "Aardvark",  # display name, first/last name in the agent event stream
    "Beispiel",
    "anna.aardvark",  # user names
    "bert.beispiel",
    "pc-anna-7001",  # host names (also the ActivityWatch file name)
    "pc-bert-7002",
    "E-7001",  # employee ids
    "E-7002",
    "Doctor appointment",  # a scheduled activity's name (only its category passes)
)


def make_settings(root: Path, max_bad_row_share: str = "1") -> Settings:
    shutil.copytree(FIXTURES / "landing", root / "landing")
    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(root),
            "TEAMLENS_PSEUDONYM_KEY": KEY,
            "TEAMLENS_RUN_BY": "test",
            "TEAMLENS_MAX_BAD_ROW_SHARE": max_bad_row_share,
        }
    )


def report(settings: Settings, table: str, day: dt.date = DAY) -> dict[str, Any]:
    return json.loads((settings.lake.reports / "ingest" / table / f"day={day}.json").read_text())


def rows(folder: Path) -> list[dict[str, Any]]:
    """The rows of a Spark-written folder, read with pyarrow (it skips _SUCCESS and .crc files)."""
    return pq.read_table(folder).to_pylist() if folder.is_dir() else []


@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory, policy):
    """Run every job once for DAY over the fixture landing zone."""
    settings = make_settings(tmp_path_factory.mktemp("jobs-pipeline"))
    summaries = {
        "roster": staged_roster.run(spark, settings, [DAY]),
        "contacts": ingest.run_table(spark, settings, schema.CONTACTS, [DAY]),
        "agent_events": ingest.run_table(spark, settings, schema.AGENT_EVENTS, [DAY]),
        "desktop_activity": ingest.run_table(spark, settings, schema.DESKTOP_ACTIVITY, [DAY], policy.desktop_rules()),
        "schedules": ingest.run_table(spark, settings, schema.SCHEDULES, [DAY]),
        # No survey exports in the fixture landing zone: an empty partition (the source is always ingested).
        "survey_answers": ingest.run_table(spark, settings, schema.SURVEY_ANSWERS, [DAY]),
    }
    summaries["agent_day"] = agent_day.run(spark, settings, [DAY])
    summaries["queue_day"] = queue_day.run(spark, settings, [DAY])
    return settings, summaries


def test_reports_reconcile(pipeline):
    settings, summaries = pipeline
    expected = {
        "roster": (3, 3, 0, 0),
        "contacts": (9, 4, 4, 1),  # 10 lines, one blank; c-1 delivered twice
        "agent_events": (10, 6, 3, 1),  # ev-4 delivered twice
        # 3 window + 4 afk + 1 browser events, 1 broken document, 1 unknown host
        "desktop_activity": (10, 6, 3, 1),
        "schedules": (7, 4, 2, 1),  # E-9999 not in the roster, Bert's shift ends before it starts
    }
    for table, counts in expected.items():
        got = report(settings, table)
        assert (got["read"], got["staged"], got["quarantined"], got["duplicates"]) == counts, table
        assert got["reconciled"] is True
        assert summaries[table]["read"] == counts[0]
    assert report(settings, "contacts")["quarantine_reasons"] == {
        "agent not in roster": 1,
        "malformed JSON": 1,
        "missing ContactId": 1,
        "negative Agent.AgentInteractionDuration": 1,
    }
    assert report(settings, "desktop_activity")["sources"]["activitywatch"]["not_ingested"] == {"os.hid.input": 1}
    assert summaries["agent_day"]["agent_days"] == 3  # Cora is scheduled, never logs in


def test_quarantine_names_file_line_and_reason(pipeline):
    settings, _ = pipeline
    found = {
        source: sorted(
            (Path(r["source_file"]).name, r["source_line"], r["reason"])
            for r in rows(settings.lake.quarantine / table / "ingest" / source / f"day={DAY}")
        )
        for table, source in (
            ("contacts", "connect_ctr"),
            ("agent_events", "connect_agent_events"),
            ("desktop_activity", "activitywatch"),
        )
    }
    assert found == {
        "connect_ctr": [
            ("ctr-0001.jsonl", 4, "malformed JSON"),
            ("ctr-0001.jsonl", 6, "agent not in roster"),
            ("ctr-0001.jsonl", 7, "missing ContactId"),
            ("ctr-0001.jsonl", 8, "negative Agent.AgentInteractionDuration"),
        ],
        "connect_agent_events": [
            ("events-0001.jsonl", 8, "malformed JSON"),
            ("events-0001.jsonl", 9, "agent not in roster"),
            ("events-0001.jsonl", 10, "missing EventId"),
        ],
        "activitywatch": [
            ("pc-anna-7001.json", 3, "invalid timestamp"),
            ("pc-bert-7002.json", None, "malformed JSON"),
            ("pc-zed-9999.json", 1, "agent not in roster"),
        ],
    }


def test_staged_contacts(pipeline):
    settings, _ = pipeline
    got = sorted(
        (
            r["contact_id"],
            r["agent_pseudonym"],
            r["talk_seconds"],
            r["transferred_out"],
            r["abandoned"],
            r["source_line"],
        )
        for r in rows(settings.lake.staged / "contacts" / f"day={DAY}")
    )
    assert got == [
        ("c-1", ANNA, 300, False, False, 5),  # the later LastUpdateTimestamp (line 5) wins over line 1
        ("c-2", ANNA, 120, True, False, 2),
        ("c-3", None, None, False, True, 3),
        ("c-8", BERT, 100, False, False, 10),
    ]


def test_staged_files_hold_no_personal_strings(pipeline):
    settings, _ = pipeline
    files = [
        p
        for zone in (settings.lake.staged, settings.lake.metrics, settings.lake.reports)
        for p in zone.rglob("*")
        if p.is_file()
    ]
    assert len([p for p in files if p.suffix == ".parquet"]) >= 5
    for path in files:
        data = path.read_bytes().lower()
        for text in PERSONAL:
            assert text.lower().encode() not in data, f"{text!r} in {path}"
        assert KEY.encode() not in data
    for table in (*schema.STAGED_TABLES.values(), schema.AGENT_DAY):
        root = settings.lake.staged if table.zone == "staged" else settings.lake.metrics
        part = pq.read_table(root / table.name / f"day={DAY}")  # decompressed values, not just bytes
        assert part.column_names == [c for c in table.column_names if c != "day"]
        values = " ".join(str(v) for col in part.to_pydict().values() for v in col).lower()
        for text in PERSONAL:
            assert text.lower() not in values, f"{text!r} in {table.name}"


def test_desktop_quarantine_keeps_no_titles_or_urls(pipeline):
    settings, _ = pipeline
    quarantined = rows(settings.lake.quarantine / "desktop_activity" / "ingest" / "activitywatch" / f"day={DAY}")
    by_line = {(Path(r["source_file"]).name, r["source_line"]): r["raw_record"] for r in quarantined}
    assert json.loads(by_line[("pc-anna-7001.json", 3)]) == {
        "timestamp": "yesterday",
        "duration": "5.0",
        "data.app": "Outlook",
    }
    assert by_line[("pc-bert-7002.json", None)] is None  # not JSON: landing keeps it, the quarantine does not
    text = json.dumps(quarantined, default=str).lower()
    for secret in ("jane customer", "crm.example.com", "case 00012345"):
        assert secret not in text


def test_staged_roster(pipeline):
    settings, _ = pipeline
    got = sorted(
        (r["agent_pseudonym"], r["team"], r["site"]) for r in rows(settings.lake.staged / "roster" / f"day={DAY}")
    )
    assert got == sorted([(ANNA, "Team Nord", "Berlin"), (BERT, "Team Sued", "Lisbon"), (CORA, "Team Nord", "Berlin")])


def test_agent_day_metrics(pipeline, spark):
    settings, _ = pipeline
    # fmt: off
    expected = spark.createDataFrame(
        [
            # day, agent, team, site, handled, talk, hold, acw, handle, transfers,
            # staffed, available, available_idle, not_ready, desktop active, desktop idle,
            # held, not ready: break, meeting, training, other; occupancy, utilization,
            # desktop: crm, knowledge_base, telephony, communication, web, other
            # Salesforce in focus 93.5 s (crm, rounded half up), Notepad 60 s (other), both while
            # not afk; the browser tab is staged but the window bucket decides the focus.
            # scheduled, in adherence, scheduled work, worked, adherence, conformance:
            # Anna's shift 07:45-12:15 with a break 10:00-10:10 (delivered twice); in adherence
            # 08:00-10:00, 10:00-10:10 and 10:15-12:00 (not before her status starts, not in her
            # break's overrun, not after her logout). Cora is scheduled 08:00-12:00 with an
            # "other" hour and never logs in.
            (DAY, ANNA, "Team Nord", "Berlin", 2, 420, 60, 40, 520, 1, 14400, 13500, 12980, 900, 6601, 600,
             1, 900, 0, 0, 0, 520 / 13500, 520 / 14400, 94, 0, 0, 0, 0, 60,
             16200, 14100, 15600, 13500, 14100 / 16200, 13500 / 15600),
            (DAY, BERT, "Team Sued", "Lisbon", 1, 100, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 0, 0, 0, 1.0, None, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, None),
            (DAY, CORA, "Team Nord", "Berlin", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
             0, 0, 0, 0, 0, None, None, 0, 0, 0, 0, 0, 0, 14400, 0, 14400, 0, 0.0, 0.0),
        ],
        schema.AGENT_DAY.spark_schema(),
    )
    # fmt: on
    assertDataFrameEqual(writing.read_table_partitions(spark, settings, schema.AGENT_DAY, [DAY]), expected)


def test_queue_day_metrics(pipeline):
    settings, summaries = pipeline
    # Support: c-1 answered after 20 s (the latest delivery), c-2 after 5 s, c-3 abandoned after
    # 45 s; c-8 has no queue. Within the 20 s threshold: c-1 and c-2.
    assert rows(settings.lake.metrics / "queue_day" / f"day={DAY}") == [
        {
            "queue": "Support",
            "offered": 3,
            "answered": 2,
            "abandoned": 1,
            "answered_within_threshold": 2,
            "service_level_threshold_seconds": 20,
            "service_level": 2 / 3,
            "answer_wait_seconds": 25,
            "asa_seconds": 12.5,
        }
    ]
    assert summaries["queue_day"]["queue_days"] == 1


def test_duckdb_reference_agrees_with_spark(pipeline):
    settings, _ = pipeline
    reference = metrics_duckdb.compute(settings, [DAY])
    assert set(reference) == {schema.AGENT_DAY.name, schema.QUEUE_DAY.name}  # not the planning tables
    for table in (schema.METRIC_TABLES[name] for name in reference):
        written = metrics_duckdb.read_spark_output(settings, table, [DAY])
        assert metrics_duckdb.differences(reference[table.name], written) == []
        assert reference[table.name].num_rows == written.num_rows > 0


def test_rerun_replaces_the_day_and_leaves_other_days_alone(spark, tmp_path):
    settings = make_settings(tmp_path / "data")
    day2 = DAY + dt.timedelta(days=1)
    ctr = settings.lake.landing / "connect_ctr"
    lines = (ctr / f"day={DAY}" / "ctr-0001.jsonl").read_text().splitlines()
    (ctr / f"day={day2}").mkdir()
    # c-2 as another contact (c-22) on the next day (c-2 itself again would be a redelivery: a duplicate).
    assert '"ContactId":"c-2"' in lines[1]
    other_contact = lines[1].replace('"ContactId":"c-2"', '"ContactId":"c-22"')
    (ctr / f"day={day2}" / "ctr-0001.jsonl").write_text(other_contact + "\n")
    ingest.run_table(spark, settings, schema.CONTACTS, [DAY, day2])
    other = settings.lake.staged / "contacts" / f"day={day2}"
    before = {p.name: p.read_bytes() for p in other.iterdir()}
    assert [r["contact_id"] for r in rows(other)] == ["c-22"]

    (ctr / f"day={DAY}" / "ctr-0001.jsonl").write_text(lines[9] + "\n")  # only c-8 now
    summary = ingest.run_table(spark, settings, schema.CONTACTS, [DAY])
    assert [r["contact_id"] for r in rows(settings.lake.staged / "contacts" / f"day={DAY}")] == ["c-8"]
    assert rows(settings.lake.quarantine / "contacts" / "ingest" / "connect_ctr" / f"day={DAY}") == []
    assert (summary["read"], summary["staged"], summary["quarantined"], summary["duplicates"]) == (1, 1, 0, 0)

    shutil.rmtree(ctr / f"day={DAY}")  # the day has no records any more: its partition is emptied
    ingest.run_table(spark, settings, schema.CONTACTS, [DAY])
    assert rows(settings.lake.staged / "contacts" / f"day={DAY}") == []
    assert report(settings, "contacts")["read"] == 0
    assert {p.name: p.read_bytes() for p in other.iterdir()} == before
    assert not [p for p in (settings.lake.staged / "contacts").iterdir() if p.name.startswith("_")]


def test_shared_amazon_connect_sample_parses_and_is_accounted_for(spark, tmp_path):
    """The sample's user name is "(Removed)": every event is quarantined as not in the roster, none
    as malformed; with the default bad-row limit the run fails loudly, after writing everything."""
    settings = make_settings(tmp_path / "data", max_bad_row_share="0.05")
    sample_day = dt.date(2019, 5, 25)
    folder = settings.lake.landing / "connect_agent_events" / f"day={sample_day}"
    folder.mkdir(parents=True)
    shutil.copy(SAMPLE, folder / "sample.jsonl")
    with pytest.raises(writing.BadRowShareError, match="3 of 3"):
        ingest.run_table(spark, settings, schema.AGENT_EVENTS, [sample_day])
    got = report(settings, "agent_events", sample_day)
    assert (got["read"], got["staged"], got["quarantined"], got["duplicates"]) == (3, 0, 3, 0)
    assert got["quarantine_reasons"] == {"agent not in roster": 3}
    quarantined = rows(
        settings.lake.quarantine / "agent_events" / "ingest" / "connect_agent_events" / f"day={sample_day}"
    )
    assert sorted(r["source_line"] for r in quarantined) == [1, 2, 3]
    assert [json.loads(r["raw_record"])["EventType"] for r in sorted(quarantined, key=lambda r: r["source_line"])] == [
        "STATE_CHANGE",
        "STATE_CHANGE",
        "HEART_BEAT",
    ]
