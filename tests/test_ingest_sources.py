"""The shared ingest (jobs.ingest) over several sources of one table: the roster's identifier
columns, per-source reports and quarantine folders, Firehose documents, redelivery, minimisation.
Expected values worked out by hand from the fixtures."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from foundation import roster, schema
from foundation.settings import Settings, load_settings
from jobs import ingest, reading

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "ingest-sources-test-key-0123456789abcdef"
DAY = dt.date(2026, 10, 5)
NEXT_DAY = dt.date(2026, 10, 6)


def pseudonym(employee_id: str) -> str:
    return hmac.new(KEY.encode(), employee_id.encode(), hashlib.sha256).hexdigest()


ROSTER = """employee_id,display_name,connect_username,genesys_user_id,asterisk_agent,team,site,site_timezone
E100,Nora Newyork,nora.ny,u-alice,1001,Team East,New York,America/New_York
E101,Olaf Overnight,,u-bob,2002|1002,Team East,New York,America/New_York
E-7001,Anna Aardvark-Agent,anna.aardvark,u-carol,,Team Nord,Berlin,Europe/Berlin
"""

# Two CTRs back to back with no separator, as Kinesis Firehose writes them, then a broken tail.
CTR = {
    "ContactId": "fh-1",
    "Channel": "VOICE",
    "InitiationMethod": "INBOUND",
    "InitiationTimestamp": "2026-10-05T08:00:00Z",
    "DisconnectTimestamp": "2026-10-05T08:05:00Z",
    "LastUpdateTimestamp": "2026-10-05T08:06:00Z",
    "CustomerEndpoint": {"Address": "+4930555099999", "Type": "TELEPHONE_NUMBER"},
    "Queue": {"Name": "BasicQueue", "Duration": 20},
    "Agent": {
        "Username": "ANNA.AARDVARK",
        "ConnectedToAgentTimestamp": "2026-10-05T08:00:20Z",
        "AgentInteractionDuration": 240,
        "CustomerHoldDuration": 10,
        "NumberOfHolds": 1,
        "AfterContactWorkDuration": 30,
    },
}


def make_settings(root: Path) -> Settings:
    landing = root / "landing"
    (landing / "roster").mkdir(parents=True)
    (landing / "roster" / "roster.csv").write_text(ROSTER, encoding="utf-8")
    shutil.copytree(FIXTURES / "flat_calls" / "acd_csv", landing / "flat_calls" / "acd_csv")
    shutil.copytree(FIXTURES / "genesys" / "good", landing / "genesys_conversations")
    shutil.copytree(FIXTURES / "asterisk" / "queue_log", landing / "asterisk_queue_log")
    ctr_day = landing / "connect_ctr" / f"day={DAY}"
    ctr_day.mkdir(parents=True)
    second = {**CTR, "ContactId": "fh-2", "Agent": {**CTR["Agent"], "Username": "nobody"}}
    (ctr_day / "firehose-0001.json").write_text(json.dumps(CTR) + json.dumps(second) + '{"ContactId": "fh-3", ')
    return settings_at(root)


def settings_at(root: Path) -> Settings:
    """The settings of the data root `root` (make_settings's landing zone)."""
    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(root),
            "TEAMLENS_PSEUDONYM_KEY": KEY,
            "TEAMLENS_RUN_BY": "test",
            "TEAMLENS_MAX_BAD_ROW_SHARE": "1",
        }
    )


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory, policy):
    settings = make_settings(tmp_path_factory.mktemp("ingest-sources"))
    summary = ingest.run_table(spark, settings, schema.CONTACTS, [DAY, NEXT_DAY])
    return settings, summary


def staged(settings: Settings) -> list[dict[str, Any]]:
    root = settings.lake.staged / "contacts"
    sql = f"SELECT * FROM read_parquet('{root}/*/*.parquet', hive_partitioning = true) ORDER BY source, contact_id"
    return duckdb.sql(sql).df().to_dict("records")


def report_of(settings: Settings, table: str, day: dt.date) -> dict[str, Any]:
    return json.loads((settings.lake.reports / "ingest" / table / f"day={day}.json").read_text())


def report(settings: Settings, day: dt.date) -> dict[str, Any]:
    return report_of(settings, "contacts", day)


def test_every_source_in_one_partition_per_day(ingested):
    settings, summary = ingested
    rows = staged(settings)
    genesys = [r for r in rows if r["source"] == "genesys_conversations"]
    asterisk = [r for r in rows if r["source"] == "asterisk_queue_log"]
    rows = [r for r in rows if r["source"] not in ("genesys_conversations", "asterisk_queue_log")]
    # four queue_log calls; the one across midnight is staged once, on the day it started
    assert [(r["day"].date(), r["agent_pseudonym"] is None) for r in asterisk] == [
        (DAY, False),
        (DAY, True),
        (DAY, False),
        (DAY, False),
    ]
    agents = {pseudonym(e) for e in ("E100", "E101", "E-7001")}
    assert len(genesys) == 4 and all(r["agent_pseudonym"] in agents | {None} for r in genesys)
    assert [(r["source"], r["contact_id"], r["agent_pseudonym"]) for r in rows] == [
        ("connect_ctr", "fh-1", pseudonym("E-7001")),  # user name matched case-insensitively
        ("flat_calls/acd_csv", "C-1001", pseudonym("E100")),  # matched on the roster's employee_id
        ("flat_calls/acd_csv", "C-1002", None),  # abandoned: no agent
        ("flat_calls/acd_csv", "C-1003", pseudonym("E101")),
    ]
    assert (summary["read"], summary["staged"], summary["quarantined"], summary["duplicates"]) == (
        summary["staged"] + summary["quarantined"] + summary["duplicates"],
        12,
        summary["read"] - 12,
        0,
    )


def test_report_has_a_reconciled_section_per_source(ingested):
    settings, _ = ingested
    got = report(settings, DAY)
    assert got["reconciled"] is True
    ctr = got["sources"]["connect_ctr"]
    assert (ctr["read"], ctr["staged"], ctr["quarantined"], ctr["duplicates"], ctr["files"]) == (3, 1, 2, 0, 1)
    assert ctr["quarantine_reasons"] == {"agent not in roster": 1, "malformed JSON": 1}
    flat = got["sources"]["flat_calls/acd_csv"]
    assert (flat["read"], flat["staged"], flat["files"]) == (flat["staged"] + flat["quarantined"], 3, 1)
    assert flat["not_ingested"] == {"header": 1}
    genesys = got["sources"]["genesys_conversations"]
    assert (genesys["staged"], genesys["quarantine_reasons"]) == (4, {"agent not in roster": 1})  # u-dave
    assert genesys["not_ingested"] == {"no acd or agent participant": 1}
    assert got["sources"]["asterisk_queue_log"]["staged"] == 4
    nxt = report(settings, NEXT_DAY)
    assert nxt["reconciled"] is True
    assert {s for s, sec in nxt["sources"].items() if sec["read"]} <= {"asterisk_queue_log"}
    assert set(nxt["sources"]) == {"connect_ctr", "flat_calls/acd_csv", "genesys_conversations", "asterisk_queue_log"}


def test_queue_log_agent_lines_become_agent_events(spark, ingested, policy):
    settings, _ = ingested
    summary = ingest.run_table(spark, settings, schema.AGENT_EVENTS, [DAY, NEXT_DAY])
    section = report_of(settings, "agent_events", DAY)["sources"]["asterisk_queue_log"]
    assert section["reconciled"] is True and section["staged"] > 0
    assert summary["staged"] == summary["read"] - summary["quarantined"] - summary["duplicates"]


def test_quarantine_per_table_and_source_names_file_and_record(ingested):
    settings, _ = ingested
    folder = settings.lake.quarantine / "contacts" / "ingest" / "connect_ctr" / f"day={DAY}"
    sql = f"SELECT source_file, source_line, reason FROM read_parquet('{folder}/*.parquet') ORDER BY source_line"
    got = [(Path(f).name, line, reason) for f, line, reason in duckdb.sql(sql).fetchall()]
    assert got == [("firehose-0001.json", 2, "agent not in roster"), ("firehose-0001.json", 3, "malformed JSON")]


def test_personal_strings_never_reach_staged(ingested):
    settings, _ = ingested
    text = json.dumps(staged(settings), default=str)
    for secret in ("+4930555099999", "+12125550101", "Smith", "Zoë", "Nora", "nora.ny", "anna.aardvark", "E100"):
        assert secret.lower() not in text.lower(), secret


def test_delivering_the_same_file_twice_changes_nothing(spark, tmp_path, ingested):
    """A copy of the module's ingested data root (both days), the ACD export of DAY delivered again
    as a second file, DAY ingested again: the staged rows of both days are the same."""
    shutil.copytree(ingested[0].data_root, tmp_path / "data")
    settings = settings_at(tmp_path / "data")
    lineage = ("source_file", "source_line")  # may point to either identical copy
    before = [{k: v for k, v in r.items() if k not in lineage} for r in staged(settings)]
    export = settings.lake.landing / "flat_calls" / "acd_csv" / f"day={DAY}"
    shutil.copy(export / "calls.csv", export / "calls-redelivered.csv")
    summary = ingest.run_table(spark, settings, schema.CONTACTS, [DAY])
    assert [{k: v for k, v in r.items() if k not in lineage} for r in staged(settings)] == before
    assert report(settings, DAY)["sources"]["flat_calls/acd_csv"]["duplicates"] == 3
    assert summary["duplicates"] == 3


def test_roster_identifier_columns_are_optional_and_unique(tmp_path):
    roster_csv = tmp_path / "landing" / "roster" / "roster.csv"
    roster_csv.parent.mkdir(parents=True)
    roster_csv.write_text("employee_id,team,site,site_timezone,genesys_user_id\nE1,T,S,UTC,ABC\nE2,T,S,UTC,\n")
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_PSEUDONYM_KEY": KEY})
    agents = roster.read_roster(settings)
    assert [a.all_identifiers() for a in agents] == [
        {"employee_id": ("e1",), "genesys_user_id": ("abc",)},
        {"employee_id": ("e2",)},
    ]
    roster_csv.write_text("employee_id,team,site,site_timezone,genesys_user_id\nE1,T,S,UTC,abc\nE2,T,S,UTC,ABC\n")
    with pytest.raises(roster.RosterError, match="line 3: duplicate genesys_user_id"):
        roster.read_roster(settings)


def test_split_json_document_shapes():
    assert reading.split_json_document('[{"a": 1}, {"a": 2}]') == ['{"a": 1}', '{"a": 2}']
    assert reading.split_json_document('{"a": 1}\n{"a": 2}') == ['{"a": 1}', '{"a": 2}']
    assert reading.split_json_document('{"a": 1}{"a": 2}{"a"') == ['{"a": 1}', '{"a": 2}', '{"a"']
    assert reading.split_json_document("") == []
    assert reading.split_json_document(None) == []


def test_check_mapping_command_previews_a_sample(capsys):
    from teamlens.cli import main

    rc = main(["check-mapping", str(FIXTURES / "flat_calls" / "legacy_tsv" / "mapping.yaml")])
    out = capsys.readouterr().out
    assert rc == 1  # one row of the sample would be quarantined
    lines = [line.split() for line in out.splitlines()]
    # column headers, on the line after the sample's name (a library's log line may come first when
    # this test imports Airflow for the first time in its process)
    named = next(i for i, line in enumerate(lines) if line and line[0].endswith("export.tsv"))
    assert ["source_line", "contact_id", "agent_key", "queue", "initiation_ts"] == lines[named + 1][:5]
    assert ["4", "A-3", "4711", "Vertrieb", "2026-10-25", "08:05:07+00:00", "33", "560", "transferred_out"] in lines
    assert ["5", "A-4", "-", "Service", "2026-10-25", "13:00:00+00:00", "150", "-", "abandoned"] in lines
    assert "QUARANTINED: unknown outcome 'XX'" in out
    assert "5 rows parse, 1 would be quarantined;" in out
    assert main(["check-mapping", str(FIXTURES / "flat_calls" / "bad" / "mapping_typo.yaml")]) == 2
    assert capsys.readouterr().err.startswith("teamlens: mapping not usable:")
