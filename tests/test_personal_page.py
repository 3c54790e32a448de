"""The personal pages /me/<token>: one agent's own figures, for the holder of their link alone.

The tiny center of tests/conftest.py (Team Nord and Team Sued of 10, Team Klein of 4, all in
Berlin) over three October days, published through the real publish step (team_day, site_day).
Its agent_day rows carry the ratios' parts too. Worked by hand for agent 2 (Team Nord), days
5, 6 and 7 October 2026:
- contacts 35, 36, 37 (20 + (7k + the day's ordinal) mod 21) = 108; handle 300 s each: 10,500,
  10,800 and 11,100 s = 32,400 s = 9.0 h; average handle time 5:00;
- available without a contact 0, 1,200, 2,400 s: occupancy 100.0 %, 90.0 %, 82.2 % a day and
  32,400 / 36,000 = 90.0 % over the month;
- in adherence 28,800, 25,920, 21,600 s of 28,800 scheduled: 100.0 %, 90.0 %, 75.0 % a day and
  76,320 / 86,400 = 88.3 % over the month.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from foundation.roster import read_roster
from foundation.settings import MissingSecretError, load_settings
from teamlens import pipeline
from teamlens.dashboard import figures as fg
from teamlens.dashboard.app import create_app
from teamlens.dashboard.personal import REDACTED_PATH
from teamlens.personal_link import personal_token
from teamlens.personal_link_register import read_register
from tests.conftest import (
    DASHBOARD_SITE_DAY,
    DASHBOARD_TEAM_DAY,
    start_dashboard,
    stop_dashboard,
    write_dashboard_center,
)
from tests.helpers import TEST_KEY, assert_no_identities, write_lake_day
from warehouse.snapshot import open_snapshot

DAYS = [dt.date(2026, 10, 5), dt.date(2026, 10, 6), dt.date(2026, 10, 7)]
NOVEMBER = dt.date(2026, 11, 2)
PAGE_KEY = "personal-page-key-for-tests-0123456789"
AGENT = 2  # Team Nord
IDLE = (0, 1200, 2400)
IN_ADHERENCE = (28800, 25920, 21600)


def write_days(settings: Any, days: list[dt.date]) -> None:
    """The center's agent_day rows with the parts of occupancy and adherence (module docstring)."""
    agents = read_roster(settings)
    for i, day in enumerate(days):
        contacts = [20 + (k * 7 + day.toordinal()) % 21 for k in range(len(agents))]
        idle, adhering = IDLE[i % 3], IN_ADHERENCE[i % 3]
        frame = pl.DataFrame(
            {
                "agent_pseudonym": [a.agent_pseudonym for a in agents],
                "team": [a.team for a in agents],
                "site": [a.site for a in agents],
                "contacts_handled": contacts,
                "handle_seconds": [c * 300 for c in contacts],
                "available_idle_seconds": [idle] * len(agents),
                "occupancy": [c * 300 / (c * 300 + idle) for c in contacts],
                "scheduled_seconds": [28800] * len(agents),
                "in_adherence_seconds": [adhering] * len(agents),
                "adherence": [adhering / 28800] * len(agents),
            }
        )
        roster = frame.select("agent_pseudonym", "team", "site", site_timezone=pl.lit("Europe/Berlin"))
        write_lake_day(settings, day, roster, frame)


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Settings of the published center, personal pages on with the test key."""
    root = tmp_path_factory.mktemp("personal-center") / "data"
    settings = write_dashboard_center(root, [], [DASHBOARD_TEAM_DAY, DASHBOARD_SITE_DAY])
    write_days(settings, [*DAYS, NOVEMBER])
    pipeline.publish_releases([d.isoformat() for d in [*DAYS, NOVEMBER]], settings)
    return dataclasses.replace(settings, personal_pages=True, personal_page_key_value=PAGE_KEY)


@pytest.fixture(scope="module")
def client(center: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(create_app(center)) as test_client:
        yield test_client


def token_of(settings: Any, k: int, generation: int = 1) -> str:
    return personal_token(PAGE_KEY.encode(), read_roster(settings)[k].agent_pseudonym, generation)


@pytest.fixture
def link_cli(center: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """The center's environment for `teamlens personal-link` (operator "operator-anna"), and the CLI's
    main; the link register is removed before and after, so every other test sees generation 1."""
    from teamlens.cli import main

    env = {
        "TEAMLENS_DATA_ROOT": str(center.data_root),
        "TEAMLENS_POLICY": str(center.policy_path),
        "TEAMLENS_PSEUDONYM_KEY": TEST_KEY,
        "TEAMLENS_PERSONAL_PAGE_KEY": PAGE_KEY,
        "TEAMLENS_PERSONAL_PAGES": "on",
        "TEAMLENS_RUN_BY": "operator-anna",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    center.lake.personal_links.unlink(missing_ok=True)
    yield center, main
    center.lake.personal_links.unlink(missing_ok=True)


def cells(html: str) -> list[list[str]]:
    """Every table row's cells, tags stripped."""
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)] for r in rows]


def stored_figures(settings: Any, release: str) -> list[fg.Figure]:
    with open_snapshot(settings.lake.published_snapshot_path) as (con, _):
        from teamlens.dashboard.managers import current_rows

        return fg.figures(current_rows(con, release))


def test_the_right_token_shows_the_agents_own_numbers_exactly(center: Any, client: Any) -> None:
    page = client.get(f"/me/{token_of(center, AGENT)}?month=2026-10")
    assert page.status_code == 200
    rows = cells(page.text)
    assert ["Contacts handled", "108"] in rows
    assert ["Handle time", "9.0 h"] in rows
    assert ["Average handle time", "5:00"] in rows
    assert ["Occupancy (handling / available)", "90.0 %"] in rows
    assert ["Schedule adherence", "88.3 %"] in rows
    assert ["2026-10-05", "Team Nord", "35", "2.9 h", "5:00", "100.0 %", "100.0 %"] in rows
    assert ["2026-10-06", "Team Nord", "36", "3.0 h", "5:00", "90.0 %", "90.0 %"] in rows
    assert ["2026-10-07", "Team Nord", "37", "3.1 h", "5:00", "82.2 %", "75.0 %"] in rows
    assert not any(r and r[0] == "2026-11-02" for r in rows)  # another month
    # Their team's and site's published figures, exactly as stored, beside their own of the same day.
    shown = 0
    for release, group in (("team_day", "Team Nord"), ("site_day", "Berlin")):
        for f in stored_figures(center, release):
            if f.group != group or f.window_start.month != 10:
                continue
            own = {"contacts_handled": "35", "handle_seconds": "2.9 h", "aht_seconds": "5:00"}
            expected = [
                release,
                f.window,
                group,
                fg.statistic_label(f.statistic),
                fg.format_number(f.value, f.unit),
                fg.format_interval(f.ci_low, f.ci_high, f.unit),
            ]
            assert any(r[:6] == expected for r in rows), expected
            if f.window_start == DAYS[0]:
                assert [*expected, own[f.statistic]] in [r[:7] for r in rows]
            shown += 1
    assert shown == 2 * 3 * 3  # two groups, three days, three statistics
    assert "Team Sued" not in page.text and "Team Klein" not in page.text  # not their groups
    november = client.get(f"/me/{token_of(center, AGENT)}?month=2026-11")
    assert ["Contacts handled", "21"] in cells(november.text)  # (14 + ordinal) mod 21 + 20 on 2 Nov
    default = client.get(f"/me/{token_of(center, AGENT)}")
    assert "Your figures, November 2026" in default.text  # the latest month with their rows


def test_the_page_names_nobody_not_even_its_agent(center: Any, client: Any) -> None:
    for k in (AGENT, 20):  # one of Team Nord, one of Team Klein (its team is not published)
        page = client.get(f"/me/{token_of(center, k)}?month=2026-10")
        assert page.status_code == 200
        assert_no_identities(page.text, center)  # no pseudonym, employee id, user name, host or name
        assert token_of(center, k) not in page.text  # month links are relative: the page never writes its token
    klein = client.get(f"/me/{token_of(center, 20)}?month=2026-10")
    assert "No figure of your team or site" not in klein.text  # Berlin's site figures are there
    assert "Team Klein" not in [r[2] for r in cells(klein.text) if len(r) > 2]  # suppressed: not shown


def test_wrong_unknown_or_modified_tokens_are_all_the_same_404(center: Any, client: Any) -> None:
    other = token_of(center, 5)
    flipped = other[:-1] + ("0" if other[-1] != "0" else "1")
    unknown = personal_token(PAGE_KEY.encode(), "not-a-pseudonym", 1)
    under_another_key = personal_token(b"another-key-0123456789-0123456789", read_roster(center)[5].agent_pseudonym, 1)
    answers = [client.get(f"/me/{t}") for t in (flipped, unknown, under_another_key, "short", other.upper())]
    answers.append(client.get(f"/me/{other}?month=2026-12"))  # a month without their rows
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1
    off = dataclasses.replace(center, personal_pages=False)
    from fastapi.testclient import TestClient

    with TestClient(create_app(off)) as switched_off:
        answer = switched_off.get(f"/me/{other}")
    assert answer.status_code == 404 and answer.text == answers[0].text


def test_without_a_key_the_pages_answer_503_and_the_log_says_how(center: Any, caplog: pytest.LogCaptureFixture) -> None:
    from fastapi.testclient import TestClient

    keyless = dataclasses.replace(center, personal_page_key_value=None)
    with TestClient(create_app(keyless)) as test_client, caplog.at_level(logging.WARNING):
        answer = test_client.get(f"/me/{token_of(center, AGENT)}")
    assert answer.status_code == 503
    assert "TEAMLENS_PERSONAL_PAGE_KEY" in caplog.text and "TEAMLENS_PERSONAL_PAGE_KEY" not in answer.text


def test_private_headers_on_every_personal_answer(center: Any, client: Any) -> None:
    for path in (f"/me/{token_of(center, AGENT)}", "/me/unknown"):
        answer = client.get(path)
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-robots-tag"] == "noindex, nofollow"
    page = client.get(f"/me/{token_of(center, AGENT)}").text
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert '<meta name="referrer" content="no-referrer">' in page
    assert "referrer-policy" not in client.get("/").headers  # the managers' pages are unchanged


def test_no_manager_or_council_page_links_to_personal_pages(client: Any) -> None:
    paths = ["/", "/releases.csv", "/release/team_day", "/release/site_day", "/council/"]
    paths += [f"/council/{s}" for s in ("policy", "budget", "ledger", "verify")]
    for path in paths:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "/me/" not in answer.text and 'href="/me' not in answer.text, path


def test_the_token_never_reaches_a_log(center: Any, client: Any, caplog: pytest.LogCaptureFixture) -> None:
    token = token_of(center, AGENT)
    with caplog.at_level(logging.DEBUG):
        client.get(f"/me/{token}?month=2026-10")
        client.get(f"/me/{token[:-1]}0")
        # What uvicorn's access log would write for the request (its format), were it on.
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", f"/me/{token}?month=2026-10", "1.1", 200
        )
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert server_side and all(token not in r.getMessage() for r in server_side)
    assert any(REDACTED_PATH in r.getMessage() for r in server_side)


def test_serve_turns_the_access_log_off(center: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from teamlens.dashboard import app

    called: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda application, **options: called.update(options))
    app.serve(center, "127.0.0.1", 8050)
    assert called["access_log"] is False


def test_a_running_server_logs_no_token(center: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMLENS_PERSONAL_PAGES", "on")
    monkeypatch.setenv("TEAMLENS_PERSONAL_PAGE_KEY", PAGE_KEY)
    token = token_of(center, AGENT)
    base, process = start_dashboard(center, tmp_path)
    try:
        with urllib.request.urlopen(f"{base}/me/{token}", timeout=30) as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}/me/{token[:-1]}0", timeout=30)
    finally:
        stop_dashboard(process)
    logs = "".join(p.read_text() for p in tmp_path.glob("dashboard-*.log"))
    assert token not in logs and token[:-1] not in logs


def test_personal_link_prints_the_agents_link(link_cli: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    center, main = link_cli
    assert main(["personal-link", "--employee-id", "EMP-70003", "--base-url", "https://teamlens.example/"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"https://teamlens.example/me/{token_of(center, AGENT)}"  # EMP-70003 is agent 2
    assert main(["personal-link", "--employee-id", "EMP-99999"]) == 2
    assert "not in the roster" in capsys.readouterr().err
    monkeypatch.delenv("TEAMLENS_PERSONAL_PAGE_KEY")
    assert main(["personal-link", "--employee-id", "EMP-70003"]) == 2
    assert "TEAMLENS_PERSONAL_PAGE_KEY" in capsys.readouterr().err
    assert len(read_register(center.lake.personal_links).records) == 1  # refused commands record nothing


def test_settings_switch_and_key(tmp_path: Path) -> None:
    assert load_settings({}).personal_pages is False
    demo = load_settings({"TEAMLENS_DEMO": "1", "XDG_CONFIG_HOME": str(tmp_path)})
    assert demo.personal_pages is True
    assert load_settings({"TEAMLENS_DEMO": "1", "TEAMLENS_PERSONAL_PAGES": "off"}).personal_pages is False
    key = demo.personal_page_key()  # generated once, outside the repository, owner-only
    assert len(key) >= 32 and demo.personal_page_key() == key
    key_file = tmp_path / "teamlens" / "demo-personal-page.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    with pytest.raises(MissingSecretError, match="TEAMLENS_PERSONAL_PAGE_KEY"):
        load_settings({"XDG_CONFIG_HOME": str(tmp_path)}).personal_page_key()  # no fallback outside demo mode
    with pytest.raises(MissingSecretError, match="at least 32"):
        load_settings({"TEAMLENS_PERSONAL_PAGE_KEY": "short"}).personal_page_key()


def test_the_token_signs_context_pseudonym_and_generation() -> None:
    message = b"teamlens personal page v2\x00" + b"p-1" + b"\x00" + b"2"
    assert personal_token(b"k" * 32, "p-1", 2) == hmac.new(b"k" * 32, message, hashlib.sha256).hexdigest()
    # the first generation signs what links signed before generations existed: those links still open
    first = b"teamlens personal page v1\x00" + b"p-1"
    assert personal_token(b"k" * 32, "p-1", 1) == hmac.new(b"k" * 32, first, hashlib.sha256).hexdigest()
    assert personal_token(b"k" * 32, "p-1", 1) != personal_token(b"k" * 32, "p-1", 2)


def link_of(out: str) -> str:
    """The token of the one link a personal-link command printed."""
    (token,) = re.findall(r"/me/([0-9a-f]{64})$", out, re.M)
    return token


def test_revoking_one_agents_link_leaves_everyone_elses(link_cli: Any, client: Any, capsys: Any) -> None:
    center, main = link_cli
    assert main(["personal-link", "--employee-id", "EMP-70003"]) == 0  # agent 2
    first = link_of(capsys.readouterr().out)
    assert first == token_of(center, AGENT, 1)
    assert main(["personal-link", "--employee-id", "EMP-70006"]) == 0  # agent 5
    other = link_of(capsys.readouterr().out)
    assert client.get(f"/me/{first}").status_code == 200
    unknown = client.get(f"/me/{personal_token(PAGE_KEY.encode(), 'not-a-pseudonym', 1)}")

    assert main(["personal-link", "--employee-id", "EMP-70003", "--revoke"]) == 0
    out = capsys.readouterr().out
    assert "previous link now answers 'not found'" in out
    second = link_of(out)
    assert second == token_of(center, AGENT, 2) != first
    revoked = client.get(f"/me/{first}")
    assert revoked.status_code == 404 and revoked.text == unknown.text  # the same 404 as an unknown token
    assert client.get(f"/me/{second}").status_code == 200
    assert client.get(f"/me/{other}").status_code == 200  # another agent's link is unaffected

    assert main(["personal-link", "--employee-id", "EMP-70003", "--revoke"]) == 0
    third = link_of(capsys.readouterr().out)
    assert third == token_of(center, AGENT, 3)
    assert [client.get(f"/me/{t}").status_code for t in (first, second, third, other)] == [404, 404, 200, 200]


def test_the_register_records_issues_and_revokes_by_pseudonym_only(link_cli: Any, capsys: Any) -> None:
    center, main = link_cli
    assert main(["personal-link", "--employee-id", "EMP-70003"]) == 0
    assert main(["personal-link", "--employee-id", "EMP-70006"]) == 0
    assert main(["personal-link", "--employee-id", "EMP-70003", "--revoke"]) == 0
    assert "Recorded as issued by operator-anna" in capsys.readouterr().out
    agents = read_roster(center)
    mine, theirs = agents[AGENT].agent_pseudonym, agents[5].agent_pseudonym
    register = read_register(center.lake.personal_links)
    assert register.generations == {mine: 2, theirs: 1}
    assert [(r["event"], r["pseudonym"], r["generation"], r["run_by"]) for r in register.records] == [
        ("issued", mine, 1, "operator-anna"),
        ("issued", theirs, 1, "operator-anna"),
        ("revoked", mine, 1, "operator-anna"),
        ("issued", mine, 2, "operator-anna"),
    ]
    for record in register.records:
        assert set(record) == {"event", "pseudonym", "generation", "at", "run_by"}
        at = dt.datetime.fromisoformat(record["at"])
        assert at.utcoffset() == dt.timedelta(0) and abs(dt.datetime.now(dt.UTC) - at) < dt.timedelta(minutes=5)
    text = center.lake.personal_links.read_text(encoding="utf-8").lower()
    with center.lake.roster_file.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    identifying = [row[c].lower() for row in rows for c in ("employee_id", "display_name", "connect_username")]
    identifying += [row["desktop_host"].lower() for row in rows]
    assert identifying and not [v for v in identifying if v in text]  # no employee id, name, user or host
    assert center.lake.personal_links.parent == center.lake.metrics  # the restricted zone


def test_a_malformed_register_is_named_and_nothing_is_written(
    link_cli: Any, client: Any, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    center, main = link_cli
    path = center.lake.personal_links
    path.parent.mkdir(parents=True, exist_ok=True)
    for broken in ('{"format": 1, "generations": {', '{"format": 1, "generations": {"p": "two"}, "records": []}'):
        path.write_text(broken, encoding="utf-8")
        assert main(["personal-link", "--employee-id", "EMP-70003", "--revoke"]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and "personal link register" in err
        assert path.read_text(encoding="utf-8") == broken  # left as it was
        with caplog.at_level(logging.WARNING):
            answer = client.get(f"/me/{token_of(center, AGENT)}")
        assert answer.status_code == 503 and str(path) not in answer.text
        assert str(path) in caplog.text
        caplog.clear()
    path.unlink()  # absent: everyone's first link
    assert client.get(f"/me/{token_of(center, AGENT)}").status_code == 200


def test_personal_link_is_refused_while_a_run_holds_the_lock(link_cli: Any, capsys: Any) -> None:
    from teamlens.run_lock import exclusive_run

    center, main = link_cli
    with exclusive_run(center, "teamlens run 2026-10-05"):
        assert main(["personal-link", "--employee-id", "EMP-70003"]) == 2
    err = capsys.readouterr().err
    assert "another run is using" in err and "teamlens run 2026-10-05" in err
    assert not center.lake.personal_links.exists()  # nothing recorded, no link printed
    assert "/me/" not in capsys.readouterr().out


def test_the_register_is_read_once_per_request(center: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from teamlens.dashboard import personal

    reads: list[Path] = []

    def counted(path: Path) -> Any:
        reads.append(path)
        return read_register(path)

    monkeypatch.setattr(personal, "read_register", counted)
    assert client.get(f"/me/{token_of(center, AGENT)}").status_code == 200
    assert client.get("/me/" + "0" * 64).status_code == 404
    assert reads == [center.lake.personal_links] * 2  # once each, however many agents are compared
