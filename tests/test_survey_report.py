"""A team's pulse survey beside its operational figure of the same month: the report and the dashboard's
survey page (joined by group and month only, no pseudonym anywhere), and the generator's monthly survey."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from foundation.policy import load_policy
from privacy import surveys
from privacy.accountant import publish_release
from tests.helpers import FakeDraw, approve, lake_settings, write_policy_file, write_survey_month
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey

MONTH = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
RELEASES = [
    {
        "name": "team_month",
        "purpose": "monthly workload",
        "group_by": "team",
        "window": "month",
        "rho": "0.5",
        "sums": {"contacts_handled": 1300},
    }
]
SURVEY = {
    "id": "pulse",
    "purpose": "Whether agents would recommend us and find their workload manageable.",
    "measure": "team_month.contacts_handled",
    "window": "month",
    "group_by": ["team"],
    "rho": "1000",  # a noise scale of about 0.06: the published figures equal the exact ones
    "questions": [
        {"id": "recommend", "scale": "enps_0_10", "text": "Would you recommend us?"},
        {"id": "workload", "scale": "likert_1_5", "text": "My workload is manageable."},
    ],
}
# T1: 12 agents, 8 respondents: 2 detractors, 2 passives, 4 promoters -> eNPS +25; workload mean 3.5.
ANSWERS = [(0, 3), (6, 4), (7, 3), (8, 4), (9, 3), (9, 4), (10, 3), (10, 4)]


@pytest.fixture
def center(tmp_path) -> Any:
    policy_file = write_policy_file(tmp_path / "p.yaml", RELEASES, cap="2000", surveys=[SURVEY])
    settings = lake_settings(tmp_path / "data", policy_file)
    roster = pl.DataFrame(
        [{"agent_pseudonym": f"psn{i:04d}x", "team": "T1", "site": "S", "site_timezone": "UTC"} for i in range(12)]
    )
    answered = [
        {"agent_pseudonym": f"psn{i:04d}x", "question_id": q, "answer": a}
        for i, pair in enumerate(ANSWERS)
        for q, a in zip(("recommend", "workload"), pair, strict=True)
    ]
    write_survey_month(settings, roster, answered, MONTH)
    policy = load_policy(policy_file)
    path = settings.lake.warehouse_path
    approve(path, policy)
    handled = NoisyRelease(
        values=(PublishedValue("T1", "contacts_handled", 8123.0, 8000.0, 8246.0, 60.0, "published"),),
        groups=(GroupDecision("T1", 12, "released"),),
        mechanism="test double",
        parameters={},
    )
    key = ReleaseKey("team_month", *MONTH, policy.sha256)
    assert (
        publish_release(path, key, policy.release("team_month"), policy, "test", FakeDraw(handled)).status == "released"
    )
    (outcome,) = surveys.release_survey_windows(settings, policy, *MONTH)
    assert outcome.status == "released"
    from teamlens.publishing import refresh_snapshot

    refresh_snapshot(settings)
    return settings


def test_the_report_shows_the_survey_beside_the_measure(center, capsys) -> None:
    from teamlens.report import print_report

    print_report(center)
    out = capsys.readouterr().out
    section = out[out.index("Pulse survey pulse beside team_month.contacts_handled") :]
    line = next(x for x in section.splitlines() if " T1 " in f" {x} ")
    assert "October 2026" in line or "Oct" in line
    assert "+25 [" in line and "3.5 [" in line and "8,123 [8,000 to 8,246]" in line
    assert "psn0" not in out


def test_the_survey_page_shows_eNPS_means_and_the_measure_by_group_and_month(center) -> None:
    from fastapi.testclient import TestClient

    from teamlens.dashboard.app import create_app

    client = TestClient(create_app(center))
    page = client.get("/surveys")
    assert page.status_code == 200
    html = page.text
    assert "Would you recommend us?" in html and "My workload is manageable." in html
    (row,) = [r for r in html.split("<tr") if "<td>T1</td>" in r]
    assert "+25 [" in row and "3.5 [" in row and "8 [" in row and "8,123 [8,000 to 8,246]" in row
    csv = client.get("/surveys/pulse.csv").text
    assert (
        csv.splitlines()[0] == "window,group,responses,recommend (eNPS),workload (mean 1-5),team_month.contacts_handled"
    )
    assert "psn0" not in html and "psn0" not in csv
    assert client.get("/surveys/other.csv").status_code == 404


def test_the_generator_writes_a_monthly_pulse_survey() -> None:
    from teamlens.generator.roster import build_roster
    from teamlens.generator.surveys import HEADER, survey_exports

    roster, _ = build_roster(0, 200, 14, 2, 6)
    exports = survey_exports(0, roster, dt.date(2026, 9, 28), 35)
    assert list(exports) == ["surveys/day=2026-10-23/pulse.csv"]  # September's survey days are not generated
    rows = exports["surveys/day=2026-10-23/pulse.csv"]
    assert HEADER == ["employee_id", "survey_id", "date", "question_id", "answer", "comment"]
    respondents = {r[0] for r in rows}
    assert 0.6 * 200 <= len(respondents) <= 0.8 * 200
    for _employee, survey, day, question, answer, _ in rows:
        low, high = (0, 10) if question == "recommend" else (1, 5)
        assert survey == "pulse" and low <= int(answer) <= high and question in ("recommend", "workload", "tools")
        assert dt.date(2026, 10, 12) <= dt.date.fromisoformat(day) <= dt.date(2026, 10, 22)
    assert exports == survey_exports(0, roster, dt.date(2026, 9, 28), 35)  # deterministic in the seed
