"""ActivityWatch exports from Windows: a web bucket whose hostname is "unknown" (as aw-watcher-web
writes it) takes its host from the export's other buckets or the file name, counted per origin;
Windows application names (OUTLOOK.EXE, msedge.exe) find their category. Expected rows by hand."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.testing import assertDataFrameEqual

from foundation import roster, schema
from jobs import ingest, source_activitywatch
from tests.helpers import ingest_source_rows
from tests.helpers import utc_at as ts

FIXTURE = Path(__file__).parent / "fixtures" / "activitywatch_windows" / "DESKTOP-ANNA.json"
KEY = b"transform-test-key-0123456789abcdef"
DAY = dt.date(2026, 10, 5)
ANNA = hmac.new(KEY, b"E-1", hashlib.sha256).hexdigest()
FOLDER = "file:/landing/activitywatch/day=2026-10-05/"
OTHER_BUCKETS = source_activitywatch.HOST_FROM_OTHER_BUCKETS
FILE_NAME = source_activitywatch.HOST_FROM_FILE_NAME


@pytest.fixture(scope="module")
def identities(spark):
    agents = [roster.RosterAgent(ANNA, "anna", "desktop-anna", "Team Nord", "Berlin", "Europe/Berlin")]
    return ingest.roster_identities(spark, agents)


def export() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def ingested(spark, identities, policy, doc: dict[str, Any], file_name: str) -> tuple[Any, Any, list[Any]]:
    """(staged rows, quarantined (source_line, reason), host notes (note, records)) of one document."""
    documents = spark.createDataFrame([(FOLDER + file_name, json.dumps(doc))], "source_file string, value string")
    rows = source_activitywatch.event_rows(documents, policy.desktop_rules())
    staged, quarantine = ingest_source_rows(source_activitywatch.ACTIVITYWATCH, rows, identities, DAY)
    notes = source_activitywatch.host_notes(source_activitywatch.records(documents)).collect()
    quarantined = sorted((r["source_line"], r["reason"]) for r in quarantine.collect())
    return staged, quarantined, sorted((r["note"], r["records"]) for r in notes)


def expected_rows(spark, lines: list[int]):
    every = {
        1: ("window", ts(8), 120.0, "communication", None),  # OUTLOOK.EXE
        2: ("window", ts(8, 2), 60.0, "web", None),  # msedge.exe, nothing more known
        3: ("window", ts(8, 3), 30.0, "communication", None),  # ms-teams.exe
        4: ("window", ts(8, 3, 30), 30.0, "other", None),  # WINWORD.EXE: no category lists Word
        5: ("window", ts(8, 4), 15.0, "communication", None),  # Zoom.exe
        6: ("afk", ts(8), 300.0, None, False),
        7: ("browser", ts(8, 2), 40.0, "crm", None),  # *.force.com
        8: ("browser", ts(8, 2, 40), 20.0, "web", None),
    }
    return spark.createDataFrame(
        [(DAY, "activitywatch", ANNA, *every[i], FOLDER, i) for i in lines],
        schema.DESKTOP_ACTIVITY.spark_schema(),
    )


def test_unknown_web_bucket_takes_the_host_of_the_other_buckets(spark, identities, policy) -> None:
    staged, quarantined, notes = ingested(spark, identities, policy, export(), "DESKTOP-ANNA.json")
    assertDataFrameEqual(staged, expected_rows(spark, [1, 2, 3, 4, 5, 6, 7, 8]))
    assert quarantined == []
    assert notes == [(OTHER_BUCKETS, 2)]


def test_without_other_buckets_the_file_name_names_the_host(spark, identities, policy) -> None:
    doc = export()
    doc["buckets"] = {"aw-watcher-web-edge": doc["buckets"]["aw-watcher-web-edge"]}
    staged, quarantined, notes = ingested(spark, identities, policy, doc, "desktop-anna.JSON")
    web_only = spark.createDataFrame(
        [
            (DAY, "activitywatch", ANNA, "browser", ts(8, 2), 40.0, "crm", None, FOLDER, 1),
            (DAY, "activitywatch", ANNA, "browser", ts(8, 2, 40), 20.0, "web", None, FOLDER, 2),
        ],
        schema.DESKTOP_ACTIVITY.spark_schema(),
    )
    assertDataFrameEqual(staged, web_only)
    assert (quarantined, notes) == ([], [(FILE_NAME, 2)])


def test_buckets_that_disagree_leave_the_file_name(spark, identities, policy) -> None:
    """The afk bucket names another host: the other buckets agree on none, so the web bucket's host
    is the file name's; each named bucket keeps its own host (the afk event: not in the roster)."""
    doc = export()
    doc["buckets"]["aw-watcher-afk_DESKTOP-ANNA"]["hostname"] = "LAPTOP-OTHER"
    staged, quarantined, notes = ingested(spark, identities, policy, doc, "DESKTOP-ANNA.json")
    assertDataFrameEqual(staged, expected_rows(spark, [1, 2, 3, 4, 5, 7, 8]))
    assert quarantined == [(6, "agent not in roster")]
    assert notes == [(FILE_NAME, 2)]


@pytest.mark.parametrize("hostname", ["unknown", "UNKNOWN", "", "  ", None])
def test_no_usable_host_anywhere_is_quarantined(spark, identities, policy, hostname) -> None:
    """Only the web bucket, and a file name that names no host: every event is 'missing hostname'."""
    doc = export()
    web = copy.deepcopy(doc["buckets"]["aw-watcher-web-edge"])
    if hostname is None:
        del web["hostname"]
    else:
        web["hostname"] = hostname
    only_web = {"buckets": {"aw-watcher-web-edge": web}}
    staged, quarantined, notes = ingested(spark, identities, policy, only_web, "unknown.json")
    assert staged.count() == 0
    assert quarantined == [(1, "missing hostname"), (2, "missing hostname")]
    assert notes == []
