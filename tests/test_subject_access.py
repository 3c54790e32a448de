"""`teamlens subject-access`: one agent's complete copy of their data, naming nobody else.

The dashboard's tiny center (two teams of 10 and one of 4 in Berlin, two daily team releases of
rho 1 each in March 2026) plus hand-made staged rows of agent 0 (EMP-70001, Maria Weber, Team
Nord) and of a colleague (EMP-70002, Jonas Weber), written as the jobs write them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import stat
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import write_table_partition

DAYS = [dt.date(2026, 3, 9), dt.date(2026, 3, 10)]
ME, COLLEAGUE = "EMP-70001", "EMP-70002"
NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _pseudonyms(settings: Any) -> dict[str, str]:
    from foundation.roster import pseudonym

    key = settings.pseudonym_key()
    return {f"EMP-{70001 + k}": pseudonym(key, f"EMP-{70001 + k}") for k in range(24)}


def _write_staged(settings: Any) -> dict[str, str]:
    """Staged rows of ME and COLLEAGUE; a contact transferred from ME to COLLEAGUE shares its id."""
    from foundation import schema

    p = _pseudonyms(settings)
    me, other = p[ME], p[COLLEAGUE]
    day = DAYS[0]
    contact = {"source": "genesys_conversations", "channel": "VOICE", "initiation_method": "INBOUND",
               "transferred_out": False, "abandoned": False, "source_file": "conv.json"}  # fmt: skip
    contacts = pl.DataFrame(
        [
            {**contact, "contact_id": "G-1", "agent_pseudonym": me, "transferred_out": True, "talk_seconds": 60},
            {**contact, "contact_id": "G-1~0a1b2c3d", "agent_pseudonym": other, "talk_seconds": 90},
            {**contact, "contact_id": "G-2", "agent_pseudonym": me, "talk_seconds": 120},
            {**contact, "contact_id": "G-3", "agent_pseudonym": other, "talk_seconds": 30},
            {**contact, "contact_id": "G-4", "agent_pseudonym": None, "abandoned": True},
        ]
    ).with_columns(
        initiation_ts=pl.lit(_at(day, 8)), last_update_ts=pl.lit(_at(day, 9)), source_line=pl.int_range(1, 6)
    )
    write_table_partition(settings, schema.CONTACTS, day, contacts)
    events = pl.DataFrame(
        {
            "event_id": ["E1", "E2", "E3"],
            "source": ["connect_agent_events"] * 3,
            "agent_pseudonym": [me, me, other],
            "event_ts": [_at(day, 8), _at(day, 12), _at(day, 8)],
            "event_type": ["LOGIN", "STATE_CHANGE", "LOGIN"],
            "status_name": ["Available", "Break", "Available"],
            "status_type": ["ROUTABLE", "CUSTOM", "ROUTABLE"],
            "status_start_ts": [_at(day, 8), _at(day, 12), _at(day, 8)],
            "source_file": ["events.json"] * 3,
            "source_line": [1, 2, 3],
        }
    )
    write_table_partition(settings, schema.AGENT_EVENTS, day, events)
    for table, extra in (
        (schema.DESKTOP_ACTIVITY, {"bucket": "afk", "duration_seconds": 600.0, "afk": False}),
        (schema.SCHEDULES, {"activity": "shift", "end_ts": _at(day, 16)}),
    ):
        rows = pl.DataFrame(
            {
                "source": ["x"] * 2,
                "agent_pseudonym": [me, other],
                "start_ts": [_at(day, 8)] * 2,
                "source_file": ["f"] * 2,
            }
        )
        write_table_partition(settings, table, DAYS[1], rows.with_columns(**{k: pl.lit(v) for k, v in extra.items()}))
    # Validation refused one row of each; ME's raw record also mentions the colleague by name.
    from foundation.schema import QUARANTINE_COLUMNS, arrow_type

    fields = [pa.field(c.name, arrow_type(c.dtype), c.nullable) for c in QUARANTINE_COLUMNS]
    quarantined = [
        {"agent_pseudonym": me, "event_id": "E9", "status_name": "covering for Jonas Weber"},
        {"agent_pseudonym": other, "event_id": "E8", "status_name": "Available"},
    ]
    rows = [
        {"day": day, "source": "agent_events", "source_file": "events.json", "source_line": 9,
         "reason": "status_type not allowed", "raw_record": json.dumps(r)}
        for r in quarantined
    ]  # fmt: skip
    path = settings.lake.validation_quarantine_file(schema.AGENT_EVENTS, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema(fields)), path)
    return p


@pytest.fixture
def center(dashboard_center: Any) -> Any:
    from teamlens import pipeline

    settings = dashboard_center(DAYS)
    pipeline.publish_releases([d.isoformat() for d in DAYS], settings)  # ledger: approval + 2 releases
    _write_staged(settings)
    return settings


def _csv(folder: Path, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((folder / name).read_text(encoding="utf-8"))))


def test_the_export_holds_every_row_of_the_agent_exactly(center: Any, tmp_path: Path) -> None:
    from teamlens.subject_access import write_subject_access

    out = tmp_path / "export"
    result = write_subject_access(center, ME, out, now=NOW)
    assert result.counts == {
        "roster": 2,
        "contacts": 2,
        "agent_events": 2,
        "desktop_activity": 1,
        "schedules": 1,
        "agent_day": 2,
        # Tables with an agent column this agent has no rows in are listed too (found through the
        # schema, so a new table is part of the export without a change here).
        "agent_queue_day": 0,
        "survey_answers": 0,
    }
    doc = json.loads((out / "data.json").read_text(encoding="utf-8"))
    contacts = doc["records"]["contacts"]
    # own pseudonym written as 'you'; the transferred contact's id is blanked (the colleague's row names it)
    assert [(c["contact_id"], c["agent_pseudonym"], c["talk_seconds"]) for c in contacts] == [
        (None, "you", 60),
        ("G-2", "you", 120),
    ]
    assert [r["contact_id"] for r in _csv(out, "contacts.csv")] == ["", "G-2"]
    assert [r["status_name"] for r in _csv(out, "agent_events.csv")] == ["Available", "Break"]
    # agent 0 handles 20 + (0 + ordinal) mod 21 contacts a day (write_dashboard_days)
    assert [r["contacts_handled"] for r in doc["records"]["agent_day"]] == [20 + d.toordinal() % 21 for d in DAYS]
    assert [r["team"] for r in doc["records"]["roster"]] == ["Team Nord", "Team Nord"]
    (refused,) = doc["validation_quarantine"]
    assert json.loads(refused["raw_record"]) == {
        "agent_pseudonym": "you",
        "event_id": "E9",
        "status_name": "covering for [someone else]",
    }
    assert doc["roster_entry"]["display_name"] == "Maria Weber"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "data.json", "manifest.json", "README.txt", "summary.html", "roster_entry.csv", "quarantine.csv",
            "releases.csv", "budget.csv", "roster.csv", "contacts.csv", "agent_events.csv",
            "desktop_activity.csv", "schedules.csv", "agent_day.csv", "agent_queue_day.csv", "survey_answers.csv",
            "personal_page_links.csv",
        ]
    )  # fmt: skip
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())


def test_the_export_names_nobody_else(center: Any, tmp_path: Path) -> None:
    from teamlens.subject_access import write_subject_access

    out = tmp_path / "export"
    write_subject_access(center, ME, out, now=NOW)
    pseudonyms = _pseudonyms(center)
    with center.lake.roster_file.open(newline="", encoding="utf-8") as fh:
        roster = list(csv.DictReader(fh))
    others = [r for r in roster if r["employee_id"] != ME]
    assert len(others) == 23
    words = [w.lower() for r in others for w in (r["employee_id"], r["display_name"], r["connect_username"])]
    words += [w.lower() for r in others for w in (r["desktop_host"], pseudonyms[r["employee_id"]])]
    words += [pseudonyms[r["employee_id"]][:8] for r in others]
    words.append(pseudonyms[ME])  # not even their own pseudonym: it is written as 'you'
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8").lower()
        assert [w for w in words if w in text] == [], path.name
    assert ME in (out / "summary.html").read_text(encoding="utf-8")


def test_releases_and_budget_per_month_are_exact(center: Any, tmp_path: Path) -> None:
    from teamlens.subject_access import write_subject_access

    out = tmp_path / "export"
    write_subject_access(center, ME, out, now=NOW)
    doc = json.loads((out / "data.json").read_text(encoding="utf-8"))
    assert [
        (r["window_start"], r["your_data"], r["your_group"], r["your_group_published"], r["cost_per_period"])
        for r in doc["releases"]
    ] == [
        ("2026-03-09", "included", "Team Nord", True, {"2026-03": {"unit": "rho", "amount": "1"}}),
        ("2026-03-10", "included", "Team Nord", True, {"2026-03": {"unit": "rho", "amount": "1"}}),
    ]
    assert doc["budget_per_period"] == [
        {"period": "2026-03", "unit": "rho", "releases": 2, "spent": "2", "cap": "100", "within_cap": True,
         "other_unit_releases": 0}
    ]  # fmt: skip
    # an agent of the small team: counted in its (suppressed) group, charged all the same
    small = tmp_path / "small"
    write_subject_access(center, "EMP-70021", small, now=NOW)
    releases = json.loads((small / "data.json").read_text(encoding="utf-8"))["releases"]
    assert {(r["your_group"], r["your_group_published"]) for r in releases} == {("Team Klein", False)}


def test_the_export_is_in_the_ledger_without_an_identifier_and_verifies(center: Any, tmp_path: Path) -> None:
    import hashlib

    from privacy.verify import verify_ledger
    from teamlens import audit_view
    from teamlens.subject_access import write_subject_access
    from warehouse import store

    out = tmp_path / "export"
    result = write_subject_access(center, ME, out, now=NOW)
    manifest = (out / "manifest.json").read_bytes()
    assert result.manifest_sha256 == hashlib.sha256(manifest).hexdigest()
    files = json.loads(manifest)["files"]
    assert files == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.name != "manifest.json"
    }
    con = store.connect(center.lake.warehouse_path, read_only=True)
    try:
        (seq, entry_type, payload), *_ = con.execute(
            "SELECT seq, entry_type, payload FROM ledger ORDER BY seq DESC LIMIT 1"
        ).fetchall()
        events = audit_view.timeline(con)
    finally:
        con.close()
    assert (seq, entry_type) == (result.ledger_seq, "subject_access") == (4, "subject_access")
    assert json.loads(payload) == {
        "date": "2026-03-20",
        "purpose": "GDPR Art. 15: the agent's copy of the data held about them",
        "export_sha256": result.manifest_sha256,
        "files": 17,
    }
    pseudonyms = _pseudonyms(center)
    # not who ran it either (TEAMLENS_RUN_BY is 'test' here): with the date it could narrow down whose
    assert not any(w in payload for w in (ME, pseudonyms[ME], "Maria", "Weber", "test"))
    assert events[-1].label == "Subject access export"
    assert verify_ledger(center.lake.warehouse_path).ok


def test_an_unknown_employee_id_is_one_clear_error(center: Any, tmp_path: Path) -> None:
    from teamlens.subject_access import write_subject_access
    from teamlens.user_errors import UserError

    with pytest.raises(UserError, match="employee id 'EMP-99999' is not in the roster"):
        write_subject_access(center, "EMP-99999", tmp_path / "export", now=NOW)
    assert not (tmp_path / "export").exists()


def test_an_export_that_would_name_someone_is_deleted(
    center: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last guard: if a trace of a colleague slipped past the cleaning, nothing is kept or recorded."""
    from teamlens import subject_access

    monkeypatch.setattr(subject_access, "_redactor", lambda others, own: None)
    from warehouse import store

    with pytest.raises(RuntimeError, match=r"would name another person in data.json, quarantine.csv; nothing"):
        subject_access.write_subject_access(center, ME, tmp_path / "export", now=NOW)
    assert not (tmp_path / "export").exists()
    con = store.connect(center.lake.warehouse_path, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM ledger").fetchone() == (3,)  # the approval and 2 releases
    finally:
        con.close()


def test_the_command_says_where_it_wrote_and_the_council_sees_the_entry(
    center: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastapi.testclient import TestClient

    from teamlens.cli import main
    from teamlens.dashboard.app import create_app

    for name, value in {
        "TEAMLENS_DATA_ROOT": str(center.data_root),
        "TEAMLENS_POLICY": str(center.policy_path),
        "TEAMLENS_PSEUDONYM_KEY": center.pseudonym_key().decode(),
    }.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "export"
    assert main(["subject-access", "--employee-id", ME, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Wrote 17 files (10 records) to {out}" in printed
    assert "The folder contains personal data" in printed
    assert main(["subject-access", "--employee-id", ME, "--out", str(out)]) == 2  # never mixes two exports
    assert "exists and is not an empty folder" in capsys.readouterr().err
    page = TestClient(create_app(center)).get("/council/ledger")
    assert page.status_code == 200
    assert "Subject access export" in page.text
    assert "an agent received a copy of their own data (" in page.text
    assert ME not in page.text


def test_planning_and_survey_releases_count_only_what_the_agent_took_part_in(center: Any) -> None:
    """A planning release (group_by queue) includes the agent when they answered contacts of its
    queues; a survey release when they answered the survey in the window (not every rostered agent)."""
    from foundation import schema
    from foundation.policy import load_policy
    from foundation.settings import REPO_ROOT
    from privacy.subject_access import _agent_group
    from warehouse import store

    p = _pseudonyms(center)
    rows = pl.DataFrame(
        [
            {"agent_pseudonym": p[ME], "queue": "Support Nord", "contacts_handled": 2},
            {"agent_pseudonym": p[ME], "queue": "Billing Nord", "contacts_handled": 1},
            {"agent_pseudonym": p[COLLEAGUE], "queue": "Sales Nord", "contacts_handled": 3},
        ]
    )
    write_table_partition(center, schema.AGENT_QUEUE_DAY, DAYS[0], rows)
    planning = {"release_id": "no-such-release", "release_name": "queue_month_intervals", "group_by": "queue",
                "window_start": dt.date(2026, 3, 1), "window_end": dt.date(2026, 4, 1)}  # fmt: skip
    survey = {**planning, "release_name": "survey:pulse:site", "group_by": "site"}
    policy = load_policy(REPO_ROOT / "foundation" / "policy.yaml")  # declares the pulse survey
    con = store.connect(center.lake.warehouse_path, read_only=True)
    try:
        assert _agent_group(center, policy, p[ME], planning, con) == ("included", "Billing Nord, Support Nord", False)
        assert _agent_group(center, policy, p[COLLEAGUE], planning, con) == ("included", "Sales Nord", False)
        assert _agent_group(center, policy, "someone-without-rows", planning, con) == ("not included", None, False)
        # Nobody answered the pulse survey in March: nobody's data went into it.
        assert _agent_group(center, policy, p[ME], survey, con)[0] == "not included"
    finally:
        con.close()


def test_the_export_holds_the_agents_own_personal_page_link_records(center: Any, tmp_path: Path) -> None:
    """Issued and revoked links of the agent's personal page, by whom and when; a colleague's are not theirs."""
    from teamlens.personal_link_register import record_issue
    from teamlens.subject_access import write_subject_access

    p = _pseudonyms(center)
    register = center.lake.personal_links
    record_issue(register, p[ME], "operator-anna", revoke=False)
    record_issue(register, p[COLLEAGUE], "operator-anna", revoke=False)
    record_issue(register, p[ME], COLLEAGUE, revoke=True)  # an operator who is on the roster
    out = tmp_path / "export"
    write_subject_access(center, ME, out, now=NOW)
    links = _csv(out, "personal_page_links.csv")
    assert [(r["event"], r["generation"], r["run_by"]) for r in links] == [
        ("issued", "1", "operator-anna"),
        ("revoked", "1", "[someone else]"),
        ("issued", "2", "[someone else]"),
    ]
    assert list(links[0]) == ["event", "generation", "at", "run_by"]  # no pseudonym
    doc = json.loads((out / "data.json").read_text(encoding="utf-8"))
    assert [r["event"] for r in doc["personal_page_links"]] == ["issued", "revoked", "issued"]
