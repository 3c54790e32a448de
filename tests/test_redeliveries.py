"""Duplicates lose nothing and redeliveries count once (docs/landing.md, "Duplicates and
redeliveries"), through the one ingest path (jobs.ingest.run_table) on hand-made landing files:
tests/fixtures/connect/bad (Amazon Connect CTRs over two landing days) and
tests/fixtures/flat_calls/repeated_ids (a flat export whose call ids repeat for different calls).

Expected counts, worked out by hand from the fixtures:
- day D (2026-10-05): ctr-0001.jsonl has r-1, r-2 (first version), r-3 (first version) and a
  line holding a JSON array of r-4 and r-5 (5 records); the Firehose document has r-3's later
  version (invalid: negative Queue.Duration), r-6, a broken record and r-8 (4 records).
- day D+1: r-1 again (same content, keys in another order), r-2's later version, r-9.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb

from foundation import roster, schema
from foundation.settings import Settings, load_settings
from jobs import ingest, registry
from jobs.sources import SourceContext

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "redeliveries-test-key-0123456789abcdef"
D = dt.date(2026, 10, 5)
D1 = dt.date(2026, 10, 6)


def settings_for(root: Path, *, ctr_days: tuple[dt.date, ...] = (), flat: bool = False) -> Settings:
    """A data root with the fixture roster and the chosen landing days of the Connect fixture."""
    landing = root / "landing"
    (landing / "roster").mkdir(parents=True, exist_ok=True)
    roster = (FIXTURES / "connect" / "bad" / "roster" / "roster.csv").read_text(encoding="utf-8")
    if flat:
        roster += "E100,Nora Newyork,,Team East,New York,America/New_York\n"
        roster += "E101,Olaf Overnight,,Team East,New York,America/New_York\n"
        shutil.copytree(FIXTURES / "flat_calls" / "repeated_ids", landing / "flat_calls" / "repeated_ids")
    (landing / "roster" / "roster.csv").write_text(roster, encoding="utf-8")
    for day in ctr_days:
        deliver(landing, day)
    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(root),
            "TEAMLENS_PSEUDONYM_KEY": KEY,
            "TEAMLENS_RUN_BY": "test",
            "TEAMLENS_MAX_BAD_ROW_SHARE": "1",
        }
    )


def deliver(landing: Path, day: dt.date) -> None:
    """The fixture's landing day folder of connect_ctr arrives."""
    shutil.copytree(FIXTURES / "connect" / "bad" / "connect_ctr" / f"day={day}", landing / "connect_ctr" / f"day={day}")


def section(settings: Settings, day: dt.date, source: str = "connect_ctr") -> dict[str, Any]:
    report = json.loads(settings.lake.ingest_report(schema.CONTACTS, day).read_text())
    assert report["reconciled"]
    sec: dict[str, Any] = report["sources"][source]
    return sec


def counts(settings: Settings, day: dt.date, source: str = "connect_ctr") -> tuple[int, ...]:
    """(read, staged, quarantined, duplicates, superseded) of a source's section of a day's report."""
    sec = section(settings, day, source)
    return sec["read"], sec["staged"], sec["quarantined"], sec["duplicates"], sec["superseded"]


def staged(settings: Settings, day: dt.date, source: str = "connect_ctr") -> dict[str, tuple[Any, ...]]:
    """contact_id -> (source_file name, source_line, acw_seconds) of a day's staged contacts of a source."""
    root = settings.lake.table_root(schema.CONTACTS)
    rows = duckdb.sql(
        f"SELECT contact_id, source_file, source_line, acw_seconds FROM read_parquet('{root}/day={day}/*.parquet') "
        f"WHERE source = '{source}'"
    ).fetchall()
    return {cid: (Path(file).name, line, acw) for cid, file, line, acw in rows}


def quarantined(settings: Settings, day: dt.date) -> list[tuple[str, int, str]]:
    root = settings.lake.ingest_quarantine_root(schema.CONTACTS, "connect_ctr")
    rows = duckdb.sql(
        f"SELECT source_file, source_line, reason FROM read_parquet('{root}/day={day}/*.parquet') ORDER BY 1, 2"
    ).fetchall()
    return [(Path(file).name, line, reason) for file, line, reason in rows]


FIREHOSE = "firehose-2026-10-05-12-00-00-0001.json"
DAY_D_ALONE = {
    "r-1": ("ctr-0001.jsonl", 1, 30),
    "r-2": ("ctr-0001.jsonl", 2, None),
    "r-4": ("ctr-0001.jsonl", 4, 30),  # the array line's two records share its line
    "r-5": ("ctr-0001.jsonl", 4, 30),
    "r-6": (FIREHOSE, 2, 30),
    "r-8": (FIREHOSE, 4, 30),  # after the broken record: not swallowed
}
DAY_D_QUARANTINE = [(FIREHOSE, 1, "negative Queue.Duration"), (FIREHOSE, 3, "malformed JSON")]


def test_day_d_alone_versions_framing_and_arrays(spark, tmp_path):
    settings = settings_for(tmp_path, ctr_days=(D,))
    summary = ingest.run_table(spark, settings, schema.CONTACTS, [D])
    # 9 records: 6 staged; r-3's latest version is invalid, so it is quarantined and its valid
    # first version is not staged (superseded); the broken record is one quarantined record.
    assert counts(settings, D) == (9, 6, 2, 1, 1)
    assert staged(settings, D) == DAY_D_ALONE
    assert quarantined(settings, D) == DAY_D_QUARANTINE
    assert "reingested" not in summary


def test_a_later_day_run_reingests_the_day_whose_record_it_replaces(spark, tmp_path):
    settings = settings_for(tmp_path, ctr_days=(D,))
    ingest.run_table(spark, settings, schema.CONTACTS, [D])
    assert staged(settings, D)["r-2"] == ("ctr-0001.jsonl", 2, None)

    # D+1's folder arrives: r-1 again (a duplicate on D+1) and r-2's later version (it replaces
    # D's copy: D is written again in the same run, and the summary says why).
    deliver(settings.lake.landing, D1)
    summary = ingest.run_table(spark, settings, schema.CONTACTS, [D1])
    assert list(summary["reingested"]) == [D.isoformat()]
    assert "a later delivery on 2026-10-06" in summary["reingested"][D.isoformat()]
    assert counts(settings, D1) == (3, 2, 0, 1, 0)
    assert staged(settings, D1) == {"r-2": ("ctr-0001.jsonl", 2, 2070), "r-9": ("ctr-0001.jsonl", 3, 30)}
    assert counts(settings, D) == (9, 5, 2, 2, 2)
    assert staged(settings, D) == {k: v for k, v in DAY_D_ALONE.items() if k != "r-2"}
    assert quarantined(settings, D) == DAY_D_QUARANTINE

    # Running D again decides the same way, and D+1 (which already agrees) is not written again.
    again = ingest.run_table(spark, settings, schema.CONTACTS, [D])
    assert "reingested" not in again
    assert counts(settings, D) == (9, 5, 2, 2, 2)
    assert staged(settings, D1) == {"r-2": ("ctr-0001.jsonl", 2, 2070), "r-9": ("ctr-0001.jsonl", 3, 30)}

    # And a second run of D+1 finds nothing left to replace.
    assert "reingested" not in ingest.run_table(spark, settings, schema.CONTACTS, [D1])


def test_both_days_in_one_run_count_each_record_once(spark, tmp_path):
    settings = settings_for(tmp_path, ctr_days=(D, D1))
    summary = ingest.run_table(spark, settings, schema.CONTACTS, [D, D1])
    assert "reingested" not in summary
    assert counts(settings, D) == (9, 5, 2, 2, 2)
    assert counts(settings, D1) == (3, 2, 0, 1, 0)
    # Every contact staged once over both days.
    ids = [*staged(settings, D), *staged(settings, D1)]
    assert sorted(ids) == ["r-1", "r-2", "r-4", "r-5", "r-6", "r-8", "r-9"]


def test_repeated_call_ids_with_different_content_are_distinct_calls(spark, tmp_path):
    # The flat export does not declare its call ids unique: C-2001 twice with different calls is
    # two calls (the later one staged under a suffixed id); the identical third C-2001 line is a
    # redelivery of the first.
    settings = settings_for(tmp_path, flat=True)
    ingest.run_table(spark, settings, schema.CONTACTS, [D])
    source = "flat_calls/repeated_ids"
    sec = section(settings, D, source)
    assert (sec["read"], sec["staged"], sec["quarantined"], sec["duplicates"]) == (4, 3, 0, 1)
    got = staged(settings, D, source)
    suffixed = [cid for cid in got if cid.startswith("C-2001~")]
    assert sorted(got) == sorted(["C-2001", "C-2002", *suffixed]) and len(suffixed) == 1
    assert len(suffixed[0]) == len("C-2001~") + 8
    # Lines 2 and 3 (line 1 is the header).
    assert got["C-2001"][:2] == ("calls.csv", 2) and got[suffixed[0]][:2] == ("calls.csv", 3)

    # Stable across reruns: the same suffix again.
    ingest.run_table(spark, settings, schema.CONTACTS, [D])
    assert sorted(staged(settings, D, source)) == sorted(got)


def test_a_declared_unique_id_makes_versions_or_an_id_collision(spark, tmp_path):
    # The same export through a parse that declares its ids unique (Parsed.ids_unique, as a flat
    # mapping's declaration sets it): the two C-2001 calls are then versions of one call, the
    # later one (by last_update_ts, the source's order) wins; without a version order they are an
    # id collision, both quarantined, and the identical copy of the first stays a duplicate.
    settings = settings_for(tmp_path, flat=True)
    [flat] = [s for s in registry.sources_for(schema.CONTACTS, settings.lake.landing) if s.name.startswith("flat")]
    keyed = roster.read_keyed_roster(settings)
    identities = ingest.roster_identities(spark, keyed.agents)
    files = ingest.source_files(settings, flat, [D])[D]
    parsed = flat.parse(spark, files, SourceContext(settings=settings, folder=Path(".")))

    def outcome(source: Any) -> list[tuple[int, str | None, int, bool]]:
        classified = ingest.resolve(parsed.rows, identities, source, ids_unique=True)
        return sorted((r["source_line"], r["reason"], r["_dup_rank"], r["_superseded"]) for r in classified.collect())

    # Lines: 2 C-2001 (call A), 3 C-2001 (call B, ends later), 4 C-2002, 5 C-2001 (call A again).
    assert outcome(flat) == [(2, None, 2, True), (3, None, 1, False), (4, None, 1, False), (5, None, 2, True)]
    collision = "id collision: different records share source, contact_id"
    unordered = dataclasses.replace(flat, order=())
    assert outcome(unordered) == [
        (2, collision, 1, False),
        (3, collision, 1, False),
        (4, None, 1, False),
        (5, None, 2, False),
    ]


def test_a_broken_record_in_a_document_hides_nothing_after_it():
    from jobs.reading import split_json_document

    # Back to back: the broken object ends in "}" and the next one follows directly.
    assert split_json_document('{"a": 1}{"b": {"x": 1}, oops}{"a": 3}') == [
        '{"a": 1}',
        '{"b": {"x": 1}, oops}',
        '{"a": 3}',
    ]
    # Cut off mid-record, the next record on its own line.
    assert split_json_document('{"a": 1}\n{"a": 2, "n": {"q"\n{"a": 3}\n') == [
        '{"a": 1}',
        '{"a": 2, "n": {"q"',
        '{"a": 3}',
    ]
    # An array anywhere counts as its records.
    assert split_json_document('{"a": 1}[{"c": 1}, {"c": 2}]{"a": 4}') == [
        '{"a": 1}',
        '{"c": 1}',
        '{"c": 2}',
        '{"a": 4}',
    ]
    # A broken tail stays one record.
    assert split_json_document('{"a": 1}{"a"') == ['{"a": 1}', '{"a"']


def test_a_reingested_day_is_owed_to_validation_metrics_and_publishing(tmp_path: Path) -> None:
    """A day an ingest re-wrote outside its run's days is taken along by the run's later steps
    (teamlens.pipeline.with_reingested) until it is published again."""
    from teamlens import pipeline

    settings = settings_for(tmp_path)
    message = f"day {D} re-ingested: a later delivery on {D1} (connect_ctr) replaces a record staged on it"
    summary = {"table": "contacts", "days": {}, "reingested": {D.isoformat(): message}}
    pipeline.owe_reingested_days(settings, [summary])
    assert pipeline.with_reingested([D1.isoformat()], settings) == [D.isoformat(), D1.isoformat()]
    pipeline._published_reingested([D1.isoformat()], settings)  # another day published: still owed
    assert pipeline.with_reingested([D1.isoformat()], settings) == [D.isoformat(), D1.isoformat()]
    pipeline._published_reingested([D.isoformat(), D1.isoformat()], settings)
    assert pipeline.with_reingested([D1.isoformat()], settings) == [D1.isoformat()]
