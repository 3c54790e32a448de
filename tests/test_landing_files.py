"""Every entry of a landing day folder is read or listed as not read (jobs.reading.landing_day):
suffixes in any case and their variants, gzip-compressed files, symbolic links never followed,
unreadable files stopping the run with the file's name. Hand-made folders, exact expectations."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import duckdb
import pytest

from foundation import schema
from foundation.settings import Settings, load_settings
from jobs import ingest, reading, source_flat
from jobs.reading import landing_day, read_as, scan_paths

DAY = dt.date(2026, 10, 5)
KEY = "landing-files-test-key-0123456789abcdef"
CONNECT = (".jsonl", ".json", ".gz")
SECRET_LINE = "root:x:0:0:root:/root:/bin/bash"
ROSTER = """employee_id,display_name,connect_username,team,site,site_timezone
E-1,Anna Aardvark,anna,Team Nord,Berlin,Europe/Berlin
"""


def settings_at(root: Path) -> Settings:
    (root / "landing" / "roster").mkdir(parents=True)
    (root / "landing" / "roster" / "roster.csv").write_text(ROSTER, encoding="utf-8")
    env = {"TEAMLENS_DATA_ROOT": str(root), "TEAMLENS_PSEUDONYM_KEY": KEY, "TEAMLENS_RUN_BY": "test"}
    env["TEAMLENS_MAX_BAD_ROW_SHARE"] = "1"  # the test asserts the quarantine itself
    return load_settings(env)


def ctr(contact_id: str) -> str:
    record = {
        "ContactId": contact_id,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2026-10-05T08:00:00Z",
        "DisconnectTimestamp": "2026-10-05T08:05:00Z",
        "LastUpdateTimestamp": "2026-10-05T08:06:00Z",
        "Queue": {"Name": "BasicQueue", "Duration": 20},
        "Agent": {"Username": "anna", "ConnectedToAgentTimestamp": "2026-10-05T08:00:20Z"},
    }
    return json.dumps(record)


def fill_connect_day(settings: Settings, outside: Path) -> Path:
    """A connect_ctr day folder with one entry of every kind; the file outside landing holds SECRET_LINE."""
    day = settings.lake.landing_partition("connect_ctr", DAY)
    day.mkdir(parents=True)
    (day / "ctr-plain.json").write_text(ctr("c-plain"))
    (day / "ctr-001.json.gz").write_bytes(gzip.compress(ctr("c-gz").encode()))
    (day / "firehose-2026-10-05-08.gz").write_bytes(gzip.compress((ctr("c-fh1") + ctr("c-fh2")).encode()))
    (day / "UPPER.JSON").write_text(ctr("c-upper"))
    (day / "lines.ndjson").write_text(ctr("c-nd1") + "\n" + ctr("c-nd2") + "\n")
    (day / "notes.txt").write_text("not a CTR\n")
    (day / "shouted.json.GZ").write_bytes(gzip.compress(ctr("c-shouted").encode()))
    (day / "empty.json").write_text("")
    (day / "_SUCCESS").write_text("")
    (day / "sub").mkdir()
    outside.write_text(SECRET_LINE + "\n")
    (day / "link-out.json").symlink_to(outside)
    (day / "link-in.json").symlink_to(day / "ctr-plain.json")
    return day


NOT_READ = [
    ("_SUCCESS", reading.HIDDEN),
    ("empty.json", reading.EMPTY),
    ("link-in.json", reading.SYMLINK),
    ("link-out.json", reading.SYMLINK),
    ("notes.txt", reading.UNKNOWN_FORMAT),
    ("shouted.json.GZ", reading.UPPER_CASE_GZIP),
    ("sub", reading.NOT_A_FILE),
]
READ = ["UPPER.JSON", "ctr-001.json.gz", "ctr-plain.json", "firehose-2026-10-05-08.gz", "lines.ndjson"]


def test_read_as_matches_any_case_variants_and_gzip() -> None:
    assert [read_as(n, CONNECT) for n in ("a.json", "a.JSON", "a.Jsonl", "a.ndjson", "a.NDJSON")] == [
        ".json",
        ".json",
        ".jsonl",
        ".jsonl",
        ".jsonl",
    ]
    assert [read_as(n, CONNECT) for n in ("a.json.gz", "a.ndjson.gz", "firehose-1.gz", "a.txt.gz")] == [
        ".json",
        ".jsonl",
        ".gz",
        ".gz",
    ]
    # Without a declared .gz only known inner endings are read; .GZ is never (Hadoop would not decompress it).
    assert [read_as(n, (".json",)) for n in ("a.json.gz", "a.gz", "a.json.GZ", "a.txt", "a.jsonl")] == [
        ".json",
        None,
        None,
        None,
        None,
    ]
    assert [read_as(n, (".csv", ".tsv", ".txt")) for n in ("a.CSV", "a.TSV", "a.txt.gz")] == [".csv", ".tsv", ".txt"]


def test_every_entry_of_a_day_folder_is_read_or_listed(tmp_path: Path) -> None:
    settings = settings_at(tmp_path / "lake")
    day = fill_connect_day(settings, tmp_path / "passwd")
    got = landing_day(settings, "connect_ctr", CONNECT, DAY)
    assert [Path(f).name for f in got.read] == READ
    assert got.not_read == NOT_READ
    assert all(Path(f).parent == day for f in got.read)
    # Personal file names (stage_folder_only sources) are withheld: only the ending is shown.
    withheld = landing_day(settings, "connect_ctr", CONNECT, DAY, withhold_names=True).not_read
    assert withheld[2:5] == [
        ("*.json (name withheld)", reading.SYMLINK),
        ("*.json (name withheld)", reading.SYMLINK),
        ("*.txt (name withheld)", reading.UNKNOWN_FORMAT),
    ]
    assert landing_day(settings, "connect_ctr", CONNECT, DAY + dt.timedelta(days=1)) == reading.LandingDay()


def test_an_unreadable_file_stops_the_run_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_at(tmp_path / "lake")
    day = settings.lake.landing_partition("connect_ctr", DAY)
    day.mkdir(parents=True)
    (day / "a.json").write_text(ctr("c-1"))
    (day / "locked.json").write_text(ctr("c-2"))
    real_open = reading._open_read

    def deny_locked(path: Path) -> None:
        if path.name == "locked.json":
            raise PermissionError(13, "Permission denied", str(path))
        real_open(path)

    monkeypatch.setattr(reading, "_open_read", deny_locked)
    with pytest.raises(reading.UnreadableLandingFileError, match=r"locked\.json cannot be read.*chmod a\+r"):
        landing_day(settings, "connect_ctr", CONNECT, DAY)
    # An unreadable file of an unknown format is listed, not opened.
    monkeypatch.setattr(reading, "_open_read", lambda path: (_ for _ in ()).throw(PermissionError(13, "denied")))
    (day / "a.json").unlink()
    (day / "locked.json").rename(day / "locked.xml")
    assert landing_day(settings, "connect_ctr", CONNECT, DAY).not_read == [("locked.xml", reading.UNKNOWN_FORMAT)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_a_file_of_mode_000_stops_the_run(tmp_path: Path) -> None:
    settings = settings_at(tmp_path / "lake")
    day = settings.lake.landing_partition("connect_ctr", DAY)
    day.mkdir(parents=True)
    (day / "locked.json").write_text(ctr("c-2"))
    (day / "locked.json").chmod(0)
    try:
        with pytest.raises(reading.UnreadableLandingFileError, match=r"locked\.json"):
            landing_day(settings, "connect_ctr", CONNECT, DAY)
    finally:
        (day / "locked.json").chmod(0o600)


def test_scan_paths_falls_back_to_the_files_when_a_link_or_other_ending_matches_the_glob(tmp_path: Path) -> None:
    day = tmp_path / "day=2026-10-05"
    day.mkdir()
    for name in ("a.json.gz", "b.json.gz"):
        (day / name).write_bytes(gzip.compress(b"{}"))
    files = [str(day / "a.json.gz"), str(day / "b.json.gz")]
    assert scan_paths(files) == ([str(day)], "*.json.gz")
    (day / "c.json.gz").symlink_to(tmp_path / "elsewhere")
    assert scan_paths(files) == (files, None)
    plain = [str(day / "a.json.gz"), str(day / "plain.json")]
    assert scan_paths(plain) == (plain, None)


def test_gzip_flat_export_parses_like_the_plain_file(tmp_path: Path) -> None:
    export = Path(__file__).parent / "fixtures" / "flat_calls" / "acd_csv"
    plain = export / f"day={DAY}" / "calls.csv"
    compressed = tmp_path / "calls.CSV.gz"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    assert reading.read_landing_bytes(compressed) == plain.read_bytes()
    assert reading.read_landing_bytes(f"file://{compressed}", limit=5) == plain.read_bytes()[:5]

    def parsed(sample: Path) -> list[dict]:
        return [
            {k: v for k, v in r.items() if k != "source_file"}
            for r in source_flat.preview(export / "mapping.yaml", sample)
        ]

    rows = parsed(compressed)
    assert rows == parsed(plain) and [r["contact_id"] for r in rows] == ["C-1001", "C-1002", "C-1003"]


def test_ingest_reads_every_variant_and_reports_the_rest(spark, tmp_path: Path, policy) -> None:
    settings = settings_at(tmp_path / "lake")
    fill_connect_day(settings, tmp_path / "passwd")
    ingest.run_table(spark, settings, schema.CONTACTS, [DAY])
    root = settings.lake.staged / "contacts"
    sql = f"SELECT contact_id, source_file FROM read_parquet('{root}/*/*.parquet') ORDER BY contact_id"
    staged = duckdb.sql(sql).fetchall()
    assert [c for c, _ in staged] == ["c-fh1", "c-fh2", "c-gz", "c-nd1", "c-nd2", "c-plain", "c-upper"]
    report = json.loads(settings.lake.ingest_report(schema.CONTACTS, DAY).read_text())
    section = report["sources"]["connect_ctr"]
    assert (section["files"], section["read"], section["staged"], section["quarantined"]) == (5, 7, 7, 0)
    assert section["not_read"] == [{"file": name, "reason": reason} for name, reason in NOT_READ]
    # Nothing a link points to is staged or quarantined.
    lake_root = tmp_path / "lake"
    written = [p for p in lake_root.rglob("*") if p.is_file() and "landing" not in p.relative_to(lake_root).parts]
    assert written and not [p for p in written if SECRET_LINE.encode() in p.read_bytes()]
    assert section["quarantine_reasons"] == {}
