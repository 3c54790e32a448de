"""The works council's window: the audit data (teamlens.audit_view), the council pages and the
monthly statement, over a tiny warehouse written through the real publish path.

March 2026 under a policy of one weekly team release (rho 1/4, cap rho 1 per month, one
correction per window): weeks 10 and 11 released, week 10 corrected, week 12 released (the month
at rho 1, the cap), week 13 refused. FakeDraw publishes team-a and team-b and leaves team-c (4
agents) out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from foundation.budget import Budget
from foundation.settings import Settings
from privacy.accountant import publish_release
from privacy.statements import statement_records
from privacy.verify import verify_ledger, write_signed_checkpoint
from teamlens import audit_view
from teamlens.statement import previous_month, write_statement
from teamlens.user_errors import UserError
from tests.helpers import TEAM_WEEK, TEST_CHECKPOINT_KEY, FakeDraw, approve, make_test_policy, two_week_warehouse
from warehouse.records import ReleaseKey
from warehouse.snapshot import open_snapshot, write_snapshot

APPROVED_AT = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def policy() -> Any:
    return make_test_policy([TEAM_WEEK], max_corrections_per_window=1)


def publish_week(settings: Settings, start: dt.date, at: dt.datetime, correction_of_inputs: bool = False) -> Any:
    p = policy()
    key = ReleaseKey("team_week", start, start + dt.timedelta(days=7), p.sha256)
    return publish_release(
        settings.lake.warehouse_path,
        key,
        p.release("team_week"),
        p,
        "tester",
        FakeDraw(),
        now=lambda: at,
        inputs_as_of=at,
    )


def refresh(settings: Settings) -> None:
    """What the pipeline does after publishing: a signed checkpoint, then the readers' snapshot."""
    lake = settings.lake
    write_signed_checkpoint(lake.warehouse_path, TEST_CHECKPOINT_KEY, lake.latest_checkpoint, lake.checkpoint_of_size)
    write_snapshot(lake.warehouse_path, lake.published_snapshot_path)


@pytest.fixture
def march(settings: Settings) -> Settings:
    wh = settings.lake.warehouse_path
    wh.parent.mkdir(parents=True)
    approve(wh, policy(), "works council", "Betriebsvereinbarung 2026/04", at=APPROVED_AT)
    two_week_warehouse(wh)  # weeks 10 and 11, then the correction of week 10
    assert publish_week(settings, dt.date(2026, 3, 16), dt.datetime(2026, 3, 21, tzinfo=dt.UTC)).status == "released"
    refused = publish_week(settings, dt.date(2026, 3, 23), dt.datetime(2026, 3, 29, tzinfo=dt.UTC))
    assert refused.status == "refused"
    refresh(settings)
    return settings


def test_policy_in_force_and_history(march: Settings) -> None:
    with open_snapshot(march.lake.published_snapshot_path) as (con, _):
        found = audit_view.policy_in_force(con)
        history = audit_view.policy_history(con)
    assert found is not None
    assert (found.seq, found.version, found.sha256) == (1, 1, policy().sha256)
    assert (found.cap, found.year_cap, found.min_group_size) == (Budget.parse("rho", "1"), None, 10)
    assert (found.approved_by_role, found.approved_by_name) == ("works council", "Betriebsvereinbarung 2026/04")
    [rule] = found.releases
    assert (rule.name, rule.purpose, rule.grouping, rule.window_words) == (
        "team_week",
        "weekly",
        "per team",
        "each week (Monday to Sunday)",
    )
    assert rule.sums == [("contacts_handled", 400), ("handle_seconds", 144000)]
    assert rule.ratios == [("aht_seconds", "handle_seconds", "contacts_handled", 3600)]
    assert rule.budget == Budget.parse("rho", "0.25")
    assert [(p.seq, changes) for p, changes in history] == [(1, ["first policy recorded"])]


def test_budget_per_agent_per_month_and_year(march: Settings) -> None:
    with open_snapshot(march.lake.published_snapshot_path) as (con, _):
        p = audit_view.policy_in_force(con)
        assert p is not None
        [month] = audit_view.budget_by_month(con, p)
        year = audit_view.year_budget(con, p)
        april = audit_view.month_budget(con, p, "2026-04")
    # 4 releases of rho 1/4 (weeks 10, 11, 12 and the correction of week 10): the cap exactly.
    assert (month.period, month.spent, month.cap, month.releases) == ("2026-03", Budget.parse("rho", "1"), p.cap, 4)
    assert month.within_cap and month.share == 1.0
    assert year is not None and (year.first, year.last, year.spent, year.cap) == (
        "2025-04",
        "2026-03",
        Budget.parse("rho", "1"),
        None,
    )
    assert (april.spent, april.releases) == (Budget.zero("rho"), 0)


def test_the_timeline_names_every_event_in_plain_words(march: Settings) -> None:
    with open_snapshot(march.lake.published_snapshot_path) as (con, _):
        events = audit_view.timeline(con)
    assert [(e.seq, e.kind, e.title) for e in events] == [
        (1, "policy_approved", "policy version 1 approved by works council (Betriebsvereinbarung 2026/04)"),
        (2, "release", "team_week, week 10 of 2026 (2 Mar - 8 Mar 2026)"),
        (3, "release", "team_week, week 11 of 2026 (9 Mar - 15 Mar 2026)"),
        (4, "correction", "team_week, week 10 of 2026 (2 Mar - 8 Mar 2026)"),
        (5, "release", "team_week, week 12 of 2026 (16 Mar - 22 Mar 2026)"),
        (6, "refusal", "team_week, week 13 of 2026 (23 Mar - 29 Mar 2026)"),
    ]
    assert events[1].details == [
        "2 of 3 groups published; budget rho 0.25 per agent, charged to 2026-03",
        "not published, too few agents: team-c (4 agents)",
    ]
    assert events[3].details[1] == "correction 1: replaces the earlier figures of this window (late data)"
    assert events[5].details[0].startswith("not released: ") and "2026-03" in events[5].details[0]
    assert events[5].periods == ("2026-03",)


def test_ledger_state_verifies_the_snapshot_against_the_signed_checkpoint(march: Settings) -> None:
    with open_snapshot(march.lake.published_snapshot_path) as (con, info):
        state = audit_view.ledger_state(con, march.lake.checkpoints)
    assert state.verification.ok and state.verification.entries == 6
    assert "extends the signed checkpoint" in state.verification.message
    assert state.checkpoint is not None and state.checkpoint.size == 6
    assert state.verification.head_hash == info.ledger_head


def test_ledger_state_reports_a_changed_ledger(march: Settings) -> None:
    """The page's verdict is verify's: a snapshot whose ledger was edited fails."""
    import duckdb

    path = march.lake.published_snapshot_path
    con = duckdb.connect(str(path))
    con.execute("UPDATE ledger SET payload = replace(payload, '\"weekly\"', '\"daily\"') WHERE seq = 1")
    con.close()
    with open_snapshot(path) as (con, _):
        state = audit_view.ledger_state(con, march.lake.checkpoints)
    assert not state.verification.ok and state.verification.first_bad_seq == 1


# --- the pages ------------------------------------------------------------------------------------

PAGES = ("/council/", "/council/policy", "/council/budget", "/council/ledger", "/council/verify")


def client(settings: Settings) -> Any:
    from fastapi.testclient import TestClient

    from teamlens.dashboard.app import create_app

    return TestClient(create_app(settings))


def text_of(html: str) -> str:
    import html as markup

    return markup.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def known_hashes(settings: Settings) -> set[str]:
    """Every 64-hex value a page may show: entry hashes, the policy's fingerprint, digests, roots."""
    import duckdb

    con = duckdb.connect(str(settings.lake.published_snapshot_path), read_only=True)
    rows = con.execute("SELECT entry_hash, prev_hash, payload FROM ledger").fetchall()
    con.close()
    found = {h for r in rows for h in r[:2]} | {h for r in rows for h in HEX64.findall(r[2])}
    with open_snapshot(settings.lake.published_snapshot_path) as (con, _):
        found |= {c.root_hash for c in audit_view.checkpoints(settings.lake.checkpoints)}
    return found


def test_every_council_page_renders_its_data(march: Settings) -> None:
    c = client(march)
    pages = {path: c.get(path) for path in PAGES}
    assert {path: r.status_code for path, r in pages.items()} == dict.fromkeys(PAGES, 200)
    text = {path: text_of(r.text) for path, r in pages.items()}
    assert "2026-03: rho 1 of the monthly cap 1 (4 releases)" in text["/council/"]
    assert "Verified now: intact (6 entries)." in text["/council/"]
    assert "team_week weekly per team each week (Monday to Sunday)" in text["/council/policy"]
    assert "contacts_handled (at most 400)" in text["/council/policy"]
    assert "aht_seconds = handle_seconds / contacts_handled (at most 3600)" in text["/council/policy"]
    assert "2026-03 rho 1 1 100% 4 within the cap" in text["/council/budget"]
    assert "<svg" in pages["/council/budget"].text
    assert "each agent's budget spent rho 1 in total (the policy sets no yearly cap)" in text["/council/budget"]
    assert text["/council/ledger"].count("Refusal team_week, week 13 of 2026") == 1
    assert "not published, too few agents: team-c (4 agents)" in text["/council/ledger"]
    assert "Verified now: the ledger is intact." in text["/council/verify"]
    assert "covers the first 6 entries" in text["/council/verify"]
    assert str(march.data_root) not in pages["/council/verify"].text  # no server paths, a copy to download
    note = c.get("/council/checkpoint/checkpoint.txt")
    assert note.status_code == 200 and note.text == (march.lake.checkpoints / "latest.txt").read_text()
    assert 'filename="teamlens-checkpoint-6.txt"' in note.headers["content-disposition"]
    key = c.get("/council/checkpoint/checkpoint.txt.pub")
    assert key.status_code == 200 and key.text.strip() and key.text != note.text
    assert c.get("/council/checkpoint/latest.txt").status_code == 404  # only the two names
    refusals = text_of(c.get("/council/ledger?kind=refusal").text)
    assert "Refusal team_week, week 13" in refusals and "Release team_week" not in refusals
    known = known_hashes(march)
    for path, r in pages.items():  # no hex value on a page but the ledger's own (never a pseudonym)
        assert set(HEX64.findall(r.text)) <= known, path


def test_council_pages_without_a_snapshot_say_nothing_is_published(settings: Settings) -> None:
    r = client(settings).get("/council/")
    assert r.status_code == 503 and "Nothing published yet" in r.text


# --- the monthly statement -------------------------------------------------------------------------


PAGES_OF_MARCH = 3


def pdf_pages(path: Path) -> int:
    """The PDF's page count, as poppler's pdfinfo reads it (WeasyPrint compresses its page tree)."""
    import shutil
    import subprocess

    if shutil.which("pdfinfo") is None:
        pytest.skip("poppler-utils (pdfinfo) is not installed")
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]


def test_the_statement_is_written_recorded_once_and_verified(march: Settings) -> None:
    first = write_statement(march, "2026-03", today=dt.date(2026, 4, 1))
    assert (first.version, first.recorded_now, first.seq) == (1, True, 7)
    assert first.pdf.name == "statement-2026-03-v1.pdf" and first.pdf.parent == march.lake.statement_dir("2026-03")
    pdf = first.pdf.read_bytes()
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == first.pdf_sha256
    assert pdf_pages(first.pdf) == PAGES_OF_MARCH
    assert hashlib.sha256(first.html.read_bytes()).hexdigest() == first.html_sha256
    html = text_of(first.html.read_text())
    assert "Privacy statement for March 2026" in html
    assert "In March 2026 each agent's budget spent rho 1 of the monthly cap 1 (4 releases): within the cap" in html
    assert "2026-03-20 01:00 UTC team_week week 10 of 2026 (2 Mar - 8 Mar 2026) 2 0 / 1 rho 0.25 2" in html
    assert "team_week (correction 1) week 10 of 2026" in html
    assert "team_week, week 13 of 2026 (23 Mar - 29 Mar 2026)" in html  # the refusal
    assert "not published, too few agents: team-c (4 agents)" in html
    assert "the first 6: those recorded by the end of the month" in html
    assert "size=6.txt: covers the first 6 entries" in html and "(the ledger matches it)" in html
    with open_snapshot(march.lake.published_snapshot_path) as (con, info):
        [record] = statement_records(con, "2026-03")
        head6 = audit_view.entry_hash_at(con, 6)
    assert head6 in html
    assert record.files == {
        "html": {"name": "statement-2026-03-v1.html", "sha256": first.html_sha256},
        "pdf": {"name": "statement-2026-03-v1.pdf", "sha256": first.pdf_sha256},
    }
    assert info.ledger_entries == 7  # the snapshot was written again after recording
    assert set(HEX64.findall(first.html.read_text())) <= known_hashes(march)

    again = write_statement(march, "2026-03", today=dt.date(2026, 5, 1))
    assert (again.version, again.recorded_now, again.seq, again.pdf_sha256) == (1, False, 7, first.pdf_sha256)
    assert verify_ledger(march.lake.warehouse_path).ok


def test_changed_content_is_recorded_as_the_next_version(march: Settings) -> None:
    first = write_statement(march, "2026-03", today=dt.date(2026, 4, 1))
    # A correction of week 11 asked in April: March is at its cap, so it is refused, which the
    # statement of March reports.
    late = publish_week(march, dt.date(2026, 3, 9), dt.datetime(2026, 4, 2, tzinfo=dt.UTC))
    assert late.status == "refused", (late.status, late.message)
    refresh(march)
    second = write_statement(march, "2026-03", today=dt.date(2026, 4, 3))
    assert (second.version, second.recorded_now, second.seq) == (2, True, 9)
    assert second.pdf.name == "statement-2026-03-v2.pdf" and first.pdf.is_file()
    assert second.pdf_sha256 != first.pdf_sha256
    assert verify_ledger(march.lake.warehouse_path).ok


def test_a_month_is_stated_once_it_is_over(march: Settings) -> None:
    with pytest.raises(UserError, match="not over yet"):
        write_statement(march, "2026-03", today=dt.date(2026, 3, 31))
    with pytest.raises(UserError, match="YYYY-MM"):
        write_statement(march, "2026-3", today=dt.date(2026, 4, 1))
    assert previous_month(dt.date(2026, 1, 15)) == "2025-12"


def test_the_statement_command(march: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from teamlens.cli import main

    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(march.data_root))
    from tests.helpers import TEST_KEY

    monkeypatch.setenv("TEAMLENS_PSEUDONYM_KEY", TEST_KEY)
    assert main(["statement", "--month", "2026-03", "--out", str(tmp_path / "filed")]) == 0
    out = capsys.readouterr().out
    assert "Statement for March 2026, version 1 (recorded in the ledger as entry 7):" in out
    assert (tmp_path / "filed" / "statement-2026-03-v1.pdf").is_file()


def test_the_statement_waits_for_no_run_it_is_refused_while_one_holds_the_lock(
    march: Settings, tmp_path: Path, capsys: Any
) -> None:
    """A statement written during a run could show some of the run's releases and not others."""
    from teamlens.run_lock import exclusive_run
    from teamlens.statement import print_statement

    with exclusive_run(march, "teamlens run over 2026-03-01 .. 2026-03-31"), pytest.raises(UserError) as refused:
        print_statement(march, "2026-03", tmp_path / "filed", today=dt.date(2026, 4, 1))
    assert "another run is using" in str(refused.value) and "teamlens run over 2026-03-01 .. 2026-03-31" in str(
        refused.value
    )
    assert not (tmp_path / "filed").exists()
    assert print_statement(march, "2026-03", tmp_path / "filed", today=dt.date(2026, 4, 1)) == 0  # free again
