"""Plain JSON-lines desktop events through the shared ingest: exact staged rows, reasons,
browser tabs categorised by URL host, titles and URLs never staged or quarantined."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import duckdb

from foundation import schema
from foundation.settings import load_settings
from jobs import ingest

KEY = "desktop-jsonl-test-key-0123456789abcdef"
DAY = dt.date(2026, 10, 5)
UTC = dt.UTC
LINES = [
    {
        "host": "PC-Anna",
        "timestamp": "2026-10-05T07:00:00Z",
        "duration": 93.5,
        "type": "window",
        "app": "Salesforce",
        "title": "Case 4711 - Jane Customer +4930555",
    },
    {"host": "pc-anna", "timestamp": "2026-10-05T07:01:33.5Z", "duration": 60, "type": "window", "app": "Notepad"},
    {"host": "pc-anna", "timestamp": "2026-10-05T07:00:00Z", "duration": 600, "type": "afk", "status": "not-afk"},
    {
        "host": "pc-anna",
        "timestamp": "2026-10-05T07:05:00Z",
        "duration": 30,
        "type": "browser",
        "url": "https://crm.example.com/case/4711",
        "title": "Jane Customer",
    },
    {
        "host": "pc-anna",
        "timestamp": "2026-10-05T07:06:00Z",
        "duration": 20,
        "type": "browser",
        "url": "https://acme.lightning.force.com/lightning/r/Case/5003/view",
        "title": "Case 5003 | Jane Customer",
    },
    "{not json",
    {"host": "pc-nobody", "timestamp": "2026-10-05T07:00:00Z", "duration": 5, "type": "afk", "status": "afk"},
    {"host": "pc-anna", "timestamp": "2026-10-05T08:00:00Z", "duration": -1, "type": "window", "app": "Outlook"},
    {"host": "pc-anna", "timestamp": "2026-10-05T08:00:00Z", "duration": 1, "type": "keystrokes", "keys": "secret"},
    {"host": "pc-anna", "timestamp": "2026-10-05T09:00:00Z", "duration": 600, "type": "afk", "status": "away"},
    {"host": "pc-anna", "timestamp": "2026-10-05T07:00:00Z", "duration": 600, "type": "afk", "status": "not-afk"},
]


def test_desktop_jsonl_events(spark, tmp_path, policy):
    landing = tmp_path / "landing"
    (landing / "roster").mkdir(parents=True)
    (landing / "roster" / "roster.csv").write_text(
        "employee_id,display_name,desktop_host,team,site,site_timezone\nE1,Anna,pc-anna,T,Berlin,Europe/Berlin\n"
    )
    folder = landing / "desktop_events" / f"day={DAY}"
    folder.mkdir(parents=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in LINES) + "\n"
    (folder / "events.jsonl").write_text(text)
    settings = load_settings(
        {"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_PSEUDONYM_KEY": KEY, "TEAMLENS_MAX_BAD_ROW_SHARE": "1"}
    )

    ingest.run_table(spark, settings, schema.DESKTOP_ACTIVITY, [DAY], policy.desktop_rules())

    anna = hmac.new(KEY.encode(), b"E1", hashlib.sha256).hexdigest()
    root = settings.lake.staged / "desktop_activity"
    got = duckdb.sql(
        f"SELECT source, agent_pseudonym, bucket, start_ts, duration_seconds, app_category, afk, source_line "
        f"FROM read_parquet('{root}/*/*.parquet') ORDER BY source_line"
    ).fetchall()
    rows = [
        (s, a, b, ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC), d, c, k, n)
        for s, a, b, ts, d, c, k, n in got
    ]
    assert rows == [
        ("desktop_events", anna, "window", dt.datetime(2026, 10, 5, 7, 0, tzinfo=UTC), 93.5, "crm", None, 1),
        (
            "desktop_events",
            anna,
            "window",
            dt.datetime(2026, 10, 5, 7, 1, 33, 500000, tzinfo=UTC),
            60.0,
            "other",
            None,
            2,
        ),
        ("desktop_events", anna, "afk", dt.datetime(2026, 10, 5, 7, 0, tzinfo=UTC), 600.0, None, False, 3),
        ("desktop_events", anna, "browser", dt.datetime(2026, 10, 5, 7, 5, tzinfo=UTC), 30.0, "web", None, 4),
        ("desktop_events", anna, "browser", dt.datetime(2026, 10, 5, 7, 6, tzinfo=UTC), 20.0, "crm", None, 5),
    ]
    report = json.loads((settings.lake.reports / "ingest" / "desktop_activity" / f"day={DAY}.json").read_text())
    section = report["sources"]["desktop_events"]
    assert (section["read"], section["staged"], section["quarantined"], section["duplicates"]) == (11, 5, 5, 1)
    assert section["quarantine_reasons"] == {
        "agent not in roster": 1,
        "invalid status (afk or not-afk)": 1,
        "malformed JSON": 1,
        "negative duration": 1,
        "unknown type (window, afk, browser)": 1,
    }
    assert "not_ingested" not in section
    staged_text = json.dumps(duckdb.sql(f"SELECT * FROM read_parquet('{root}/*/*.parquet')").fetchall(), default=str)
    for secret in ("Jane Customer", "crm.example.com", "Salesforce", "Notepad", "pc-anna", "secret", "+4930555"):
        assert secret.lower() not in staged_text.lower(), secret
    quarantine = settings.lake.quarantine / "desktop_activity" / "ingest" / "desktop_events" / f"day={DAY}"
    raw = duckdb.sql(f"SELECT raw_record FROM read_parquet('{quarantine}/*.parquet') ORDER BY source_line").fetchall()
    assert [json.loads(r) if r else r for (r,) in raw] == [
        None,  # not JSON: the landing file keeps it, the quarantine does not
        {"host": "pc-nobody", "timestamp": "2026-10-05T07:00:00Z", "duration": "5", "type": "afk", "status": "afk"},
        {"host": "pc-anna", "timestamp": "2026-10-05T08:00:00Z", "duration": "-1", "type": "window", "app": "Outlook"},
        {"host": "pc-anna", "timestamp": "2026-10-05T08:00:00Z", "duration": "1", "type": "keystrokes"},
        {"host": "pc-anna", "timestamp": "2026-10-05T09:00:00Z", "duration": "600", "type": "afk", "status": "away"},
    ]
