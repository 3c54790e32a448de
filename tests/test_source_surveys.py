"""Pulse survey exports (landing/surveys/day=D/*.csv) through the shared ingest: exact staged answers,
every quarantine reason with its file and line, duplicates and later versions, and no free text
anywhere in the lake."""

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
from jobs import ingest
from jobs.csv_header import HeaderError
from tests.helpers import write_policy_file

KEY = "0123456789abcdef0123456789abcdef"
DAY = dt.date(2026, 10, 20)
DAY2 = dt.date(2026, 10, 21)
RELEASES = [
    {
        "name": "team_month",
        "purpose": "monthly workload",
        "group_by": "team",
        "window": "month",
        "rho": "0.5",
        "sums": {"contacts_handled": 1300, "handle_seconds": 520000},
        "ratios": {"aht_seconds": {"numerator": "handle_seconds", "denominator": "contacts_handled", "max": 3600}},
    }
]
SURVEYS = [
    {
        "id": "pulse",
        "purpose": "monthly pulse",
        "measure": "team_month.aht_seconds",
        "window": "month",
        "rho": "0.1",
        "questions": [
            {"id": "enps", "scale": "enps_0_10", "text": "Recommend us?"},
            {"id": "workload", "scale": "likert_1_5", "text": "Workload manageable?"},
        ],
    }
]
ROSTER = "employee_id,team,site,site_timezone\nE1,T,Berlin,Europe/Berlin\nE2,T,Berlin,Europe/Berlin\n"
SECRET = "my manager Secretname is unfair"
# The header is line 1; a comment column the pipeline must never read.
LINES = [
    "employee_id,survey_id,date,question_id,answer,comment",  # 1
    f"E1,pulse,2026-10-19,enps,9,{SECRET}",  # 2 promoter
    "E1,pulse,2026-10-19,workload,4,",  # 3
    " e2 ,pulse,2026-10-19,enps,6,",  # 4 detractor (trimmed, any case)
    "E1,pulse,2026-10-19,enps,9,again",  # 5 the same answer again: a duplicate
    "E9,pulse,2026-10-19,enps,7,",  # 6 not in the roster
    "E2,other,2026-10-19,enps,7,",  # 7 unknown survey
    "E2,pulse,2026-10-19,tenure,3,",  # 8 unknown question
    "E2,pulse,19.10.2026,workload,3,",  # 9 bad date
    "E2,pulse,2026-10-19,workload,6,",  # 10 outside 1-5
    "E2,pulse,2026-10-19,workload,great,",  # 11 not a number
    "E2,pulse,2026-10-19,enps,11,",  # 12 outside 0-10
    f'E2,pulse,2026-10-19,enps,"8,{SECRET}"',  # 13 wrong column count: the quoted comma is one field
    "E2,pulse,2026-10-19",  # 14 wrong column count
]
# A later delivery: E2's eNPS answered again on a later date (a later version, which wins).
DAY2_TEXT = "Question_ID,Answer,Date,Employee_ID,Survey_ID,Name\nenps,10,2026-10-21,E2,pulse,Bob Secretname\n"


def _pseudonym(employee_id: str) -> str:
    return hmac.new(KEY.encode(), employee_id.encode(), hashlib.sha256).hexdigest()


def _settings(root: Path, files: dict[str, str]):
    landing = root / "landing"
    (landing / "roster").mkdir(parents=True)
    (landing / "roster" / "roster.csv").write_text(ROSTER)
    for relative, text in files.items():
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    policy = write_policy_file(root / "policy.yaml", RELEASES, surveys=SURVEYS)
    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(root),
            "TEAMLENS_PSEUDONYM_KEY": KEY,
            "TEAMLENS_POLICY": str(policy),
            "TEAMLENS_MAX_BAD_ROW_SHARE": "1",
        }
    )


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("surveys")
    settings = _settings(
        root,
        {f"surveys/day={DAY}/pulse.csv": "\n".join(LINES) + "\n", f"surveys/day={DAY2}/pulse.csv": DAY2_TEXT},
    )
    summary = ingest.run_table(spark, settings, schema.SURVEY_ANSWERS, [DAY, DAY2])
    return settings, summary


def _staged(settings) -> list[tuple]:
    root = settings.lake.staged / "survey_answers"
    return duckdb.sql(
        "SELECT day, agent_pseudonym, survey_id, question_id, answered_on, answer, source_line "
        f"FROM read_parquet('{root}/*/*.parquet', hive_partitioning = true) ORDER BY day, source_line"
    ).fetchall()


def _quarantine(settings, day: dt.date) -> list[tuple]:
    folder = settings.lake.quarantine / "survey_answers" / "ingest" / "surveys" / f"day={day}"
    return duckdb.sql(
        f"SELECT source_file, source_line, reason, raw_record FROM read_parquet('{folder}/*.parquet') "
        "ORDER BY source_line"
    ).fetchall()


def test_answers_are_staged_exactly(ingested):
    settings, _ = ingested
    anna, bob = _pseudonym("E1"), _pseudonym("E2")
    day19 = dt.date(2026, 10, 19)
    assert _staged(settings) == [
        (DAY, anna, "pulse", "enps", day19, 9, 2),
        (DAY, anna, "pulse", "workload", day19, 4, 3),
        (DAY2, bob, "pulse", "enps", DAY2, 10, 2),  # the later version; line 4's 6 is superseded
    ]


def test_quarantine_reasons_name_file_and_line(ingested):
    settings, _ = ingested
    got = [(Path(f).name, n, reason) for f, n, reason, _ in _quarantine(settings, DAY)]
    assert got == [
        ("pulse.csv", 6, "agent not in roster"),
        ("pulse.csv", 7, "survey_id not declared in the policy's surveys"),
        ("pulse.csv", 8, "question_id not a question of that survey"),
        ("pulse.csv", 9, "date not a day written YYYY-MM-DD"),
        ("pulse.csv", 10, "answer outside the question's scale 1-5"),
        ("pulse.csv", 11, "answer not a whole number"),
        ("pulse.csv", 12, "answer outside the question's scale 0-10"),
        ("pulse.csv", 13, "wrong column count: 5 fields, expected 6"),
        ("pulse.csv", 14, "wrong column count: 3 fields, expected 6"),
    ]
    raw = {n: r for _, n, _, r in _quarantine(settings, DAY)}
    assert json.loads(raw[10]) == {
        "employee_id": "E2",
        "survey_id": "pulse",
        "date": "2026-10-19",
        "question_id": "workload",
        "answer": "6",
    }
    assert raw[14] is None  # a line that does not split into the header's columns keeps nothing


def test_duplicates_and_versions_are_counted(ingested):
    _, summary = ingested
    section = summary["days"][DAY.isoformat()]["sources"]["surveys"]
    assert (section["read"], section["staged"], section["quarantined"], section["duplicates"]) == (13, 2, 9, 2)
    assert section["superseded"] == 1  # E2's eNPS of the 19th, replaced by the answer of the 21st
    assert section["read"] == section["staged"] + section["quarantined"] + section["duplicates"]


def test_no_free_text_anywhere_in_the_lake(ingested):
    settings, _ = ingested
    for zone in (settings.lake.staged, settings.lake.quarantine, settings.lake.reports):
        for path in zone.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert b"Secretname" not in data and b"unfair" not in data and b"again" not in data, path


def test_a_header_without_the_columns_fails_naming_the_file(spark, tmp_path):
    settings = _settings(tmp_path, {f"surveys/day={DAY}/bad.csv": "employee_id,survey_id,answer\nE1,pulse,3\n"})
    with pytest.raises(HeaderError, match=r"bad\.csv: the header lacks column\(s\) date, question_id"):
        ingest.run_table(spark, settings, schema.SURVEY_ANSWERS, [DAY])
