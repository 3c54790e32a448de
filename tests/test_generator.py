"""The synthetic center: deterministic, in the landing layout of docs/landing.md, internally consistent.

Why: every later stage (ingestion, validation, metrics, privacy releases) is tested on these files,
so they must look like the real exports and agree with the counts the generator reports.
"""

from __future__ import annotations

import csv
import datetime
import itertools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from teamlens.generator import CTR_KEYS, DESKTOP_APPS, generate_center

SMALL: dict[str, Any] = {"agents": 24, "teams": 3, "sites": 2, "days": 3}
DAYS = ("2026-10-05", "2026-10-06", "2026-10-07")
CTR_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
EVENT_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
AW_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
AGENT_KEYS = (
    "ARN",
    "Username",
    "ConnectedToAgentTimestamp",
    "AgentInteractionDuration",
    "CustomerHoldDuration",
    "NumberOfHolds",
    "LongestHoldDuration",
    "AfterContactWorkStartTimestamp",
    "AfterContactWorkEndTimestamp",
    "AfterContactWorkDuration",
    "HierarchyGroups",
    "RoutingProfile",
)


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    landing = tmp_path_factory.mktemp("center") / "landing"
    return landing, generate_center(landing, **SMALL)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _jsonl(root: Path, source: str) -> list[dict[str, Any]]:
    return [json.loads(line) for p in sorted(root.glob(f"{source}/day=*/*.jsonl")) for line in p.open()]


def _roster(root: Path) -> list[dict[str, str]]:
    with open(root / "roster" / "roster.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _latest(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for r in records:
        old = latest.get(r["ContactId"])
        if old is None or r["LastUpdateTimestamp"] > old["LastUpdateTimestamp"]:
            latest[r["ContactId"]] = r
    return latest


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, center: tuple[Path, dict[str, int]]) -> None:
    landing, counts = center
    assert generate_center(tmp_path / "again", **SMALL) == counts
    assert _files(tmp_path / "again") == _files(landing)
    generate_center(tmp_path / "other", **{**SMALL, "days": 1}, seed=1)
    other = _files(tmp_path / "other")
    assert other["roster/roster.csv"] != _files(landing)["roster/roster.csv"]
    assert (
        other["connect_ctr/day=2026-10-05/part-0000.jsonl"]
        != _files(landing)["connect_ctr/day=2026-10-05/part-0000.jsonl"]
    )


def test_rewriting_a_landing_zone_leaves_no_stale_files(tmp_path: Path) -> None:
    one_day = {**SMALL, "days": 1}
    generate_center(tmp_path / "fresh", **one_day, seed=1)
    generate_center(tmp_path / "reused", **one_day, seed=0)
    generate_center(tmp_path / "reused", **one_day, seed=1)
    assert _files(tmp_path / "reused") == _files(tmp_path / "fresh")


def test_a_day_does_not_depend_on_how_many_days_were_generated(
    tmp_path: Path, center: tuple[Path, dict[str, int]]
) -> None:
    landing, _ = center
    generate_center(tmp_path, **{**SMALL, "days": 1})
    one, full = _files(tmp_path), _files(landing)
    assert len(one) > 10 and all(full[name] == data for name, data in one.items())


def test_files_are_where_docs_landing_says(center: tuple[Path, dict[str, int]]) -> None:
    landing, counts = center
    names = set(_files(landing))
    assert "roster/roster.csv" in names
    for day in DAYS:
        assert f"schedules/day={day}/schedules.csv" in names
        assert f"connect_ctr/day={day}/part-0000.jsonl" in names
        assert f"connect_agent_events/day={day}/part-0000.jsonl" in names
    desktop = sorted(n for n in names if n.startswith("activitywatch/"))
    assert len(desktop) == counts["desktop_files"] == counts["shifts"]
    assert all(re.fullmatch(r"activitywatch/day=2026-10-0[567]/WS-(BER|TOR)-\d{4}\.json", n) for n in desktop)
    assert len(names) == 1 + 3 * len(DAYS) + len(desktop)


def test_roster_teams_sites_and_the_tiny_pilot_team(center: tuple[Path, dict[str, int]]) -> None:
    landing, counts = center
    roster = _roster(landing)
    assert list(roster[0]) == [
        "employee_id",
        "display_name",
        "connect_username",
        "desktop_host",
        "team",
        "site",
        "site_timezone",
    ]
    assert (counts["agents"], counts["teams"], counts["sites"]) == (24, 4, 2)
    assert [r["employee_id"] for r in roster] == [f"E{10001 + i}" for i in range(24)]
    assert Counter(r["team"] for r in roster) == {
        "Berlin-Billing": 6,
        "Toronto-Billing": 6,
        "Berlin-Sales": 6,
        "Berlin-Pilot": 6,
    }
    assert {(r["site"], r["site_timezone"]) for r in roster} == {
        ("Berlin", "Europe/Berlin"),
        ("Toronto", "America/Toronto"),
    }
    assert all(r["team"].startswith(r["site"] + "-") for r in roster)
    assert all(r["desktop_host"].startswith("WS-" + r["site"][:3].upper() + "-") for r in roster)
    for column in ("connect_username", "desktop_host"):
        assert len({r[column] for r in roster}) == 24
    assert all(re.fullmatch(r"[a-z]+\d+", r["connect_username"]) for r in roster)
    assert all(len(r["display_name"].split()) == 2 for r in roster)


def test_without_a_tiny_team_all_agents_are_in_the_regular_teams(tmp_path: Path) -> None:
    counts = generate_center(tmp_path, agents=12, teams=3, sites=2, days=1, tiny_team_size=None)
    assert Counter(r["team"] for r in _roster(tmp_path)) == {
        "Berlin-Billing": 4,
        "Toronto-Billing": 4,
        "Berlin-Sales": 4,
    }
    assert counts["teams"] == 3


def test_impossible_centers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_center(tmp_path, agents=8, teams=3, days=1)  # 2 regular agents for 3 teams
    with pytest.raises(ValueError):
        generate_center(tmp_path, agents=20, teams=1, sites=2, days=1)


def test_counts_match_the_files(center: tuple[Path, dict[str, int]]) -> None:
    landing, counts = center
    records = _jsonl(landing, "connect_ctr")
    latest = _latest(records)
    assert counts["ctr_records"] == len(records)
    assert counts["contacts"] == len(latest)
    assert counts["duplicate_ctr_records"] == len(records) - len(latest) > 0
    assert counts["abandoned_contacts"] == sum(c["Agent"] is None for c in latest.values())
    assert counts["handled_contacts"] == sum(c["Agent"] is not None for c in latest.values())
    assert counts["outbound_contacts"] == sum(c["InitiationMethod"] == "OUTBOUND" for c in latest.values())
    assert counts["transferred_contacts"] == sum(c["NextContactId"] is not None for c in latest.values())
    assert counts["transfer_legs"] == sum(c["InitiationMethod"] == "TRANSFER" for c in latest.values())
    assert counts["agent_events"] == len(_jsonl(landing, "connect_agent_events"))
    assert counts["heartbeat_events"] == 0
    desktop = [json.loads(p.read_text()) for p in landing.glob("activitywatch/day=*/*.json")]
    assert counts["desktop_events"] == sum(len(b["events"]) for d in desktop for b in d["buckets"].values())
    rows = [r for p in landing.glob("schedules/day=*/schedules.csv") for r in csv.DictReader(p.open())]
    assert counts["schedule_rows"] == len(rows)
    # A believable center: about 40 calls per agent shift, a few percent abandoned and transferred.
    assert 30 <= counts["handled_contacts"] / counts["shifts"] <= 55
    assert 0.02 <= counts["abandoned_contacts"] / counts["contacts"] <= 0.10
    assert 0.03 <= counts["transferred_contacts"] / counts["handled_contacts"] <= 0.10


def test_every_ctr_has_the_documented_shape(center: tuple[Path, dict[str, int]]) -> None:
    landing, _ = center
    site = {r["connect_username"]: r["site"] for r in _roster(landing)}
    for path in sorted(landing.glob("connect_ctr/day=*/*.jsonl")):
        day = path.parent.name.removeprefix("day=")
        for line in path.open():
            c = json.loads(line)
            assert tuple(c) == CTR_KEYS
            assert c["Channel"] == "VOICE"
            assert c["InitiationMethod"] in ("INBOUND", "OUTBOUND", "TRANSFER")
            for key in ("InitiationTimestamp", "ConnectedToSystemTimestamp", "DisconnectTimestamp"):
                assert CTR_TS.match(c[key])
            assert c["LastUpdateTimestamp"] > c["DisconnectTimestamp"]
            assert set(c["Attributes"]) <= {"customer_name", "note"} and c["Attributes"]["customer_name"]
            assert c["CustomerEndpoint"]["Type"] == "TELEPHONE_NUMBER"
            assert re.fullmatch(r"\+(4930|1416)\d{7}", c["CustomerEndpoint"]["Address"])
            queue, agent = c["Queue"], c["Agent"]
            if queue is not None:
                assert tuple(queue) == ("ARN", "Name", "EnqueueTimestamp", "DequeueTimestamp", "Duration")
                waited = _utc(queue["DequeueTimestamp"]) - _utc(queue["EnqueueTimestamp"])
                assert queue["Duration"] == waited.total_seconds()
            if agent is None:
                assert queue is not None  # abandoned: queued, never reached an agent
                continue
            assert tuple(agent) == AGENT_KEYS
            for key in (
                "AgentInteractionDuration",
                "CustomerHoldDuration",
                "NumberOfHolds",
                "AfterContactWorkDuration",
            ):
                assert isinstance(agent[key], int) and agent[key] >= 0
            assert 10 <= agent["AgentInteractionDuration"] <= 7200
            assert (agent["NumberOfHolds"] == 0) == (agent["CustomerHoldDuration"] == 0)
            assert agent["LongestHoldDuration"] <= agent["CustomerHoldDuration"]
            hierarchy = agent["HierarchyGroups"]
            assert hierarchy is None or hierarchy["Level1"]["GroupName"] == site[agent["Username"]]
            connected = _utc(agent["ConnectedToAgentTimestamp"])
            assert _utc(c["DisconnectTimestamp"]) - connected == datetime.timedelta(
                seconds=agent["AgentInteractionDuration"] + agent["CustomerHoldDuration"]
            )
            assert agent["AfterContactWorkStartTimestamp"] == c["DisconnectTimestamp"]
            if c["InitiationMethod"] == "OUTBOUND":
                assert queue is None
            else:
                assert queue["DequeueTimestamp"] == agent["ConnectedToAgentTimestamp"]
            # The partition is the site-local day the contact started.
            zone = ZoneInfo(
                "Europe/Berlin" if c["CustomerEndpoint"]["Address"].startswith("+49") else "America/Toronto"
            )
            assert _utc(c["InitiationTimestamp"]).astimezone(zone).date().isoformat() == day


def test_duplicates_share_the_contact_id_and_the_latest_version_is_complete(
    center: tuple[Path, dict[str, int]],
) -> None:
    landing, _ = center
    for path in sorted(landing.glob("connect_ctr/day=*/*.jsonl")):
        lines = path.read_text().splitlines()
        by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in lines:
            record = json.loads(line)
            by_id[record["ContactId"]].append(record)
        twice = {cid: versions for cid, versions in by_id.items() if len(versions) > 1}
        assert len(twice) == round(len(by_id) * 0.01)
        assert all(len(v) == 2 for v in twice.values())
        identical = [v for v in twice.values() if v[0] == v[1]]
        changed = [sorted(v, key=lambda r: r["LastUpdateTimestamp"]) for v in twice.values() if v[0] != v[1]]
        assert len(identical) == (len(twice) + 1) // 2 and len(changed) == len(twice) // 2
        for stale, final in changed:
            assert stale["LastUpdateTimestamp"] < final["LastUpdateTimestamp"]
            assert {k for k in CTR_KEYS if stale[k] != final[k]} <= {"LastUpdateTimestamp", "Agent"}
            if final["Agent"] is not None:
                assert stale["Agent"]["AfterContactWorkDuration"] < final["Agent"]["AfterContactWorkDuration"]


def test_transfers_and_abandoned_contacts(center: tuple[Path, dict[str, int]]) -> None:
    landing, counts = center
    latest = _latest(_jsonl(landing, "connect_ctr"))
    site = {r["connect_username"]: r["site"] for r in _roster(landing)}
    legs = [c for c in latest.values() if c["InitiationMethod"] == "TRANSFER"]
    assert legs and len(legs) == counts["transferred_contacts"]
    for leg in legs:
        original = latest[leg["PreviousContactId"]]
        assert original["NextContactId"] == leg["ContactId"]
        assert leg["InitialContactId"] == original["ContactId"]
        assert leg["InitiationTimestamp"] == original["DisconnectTimestamp"] == leg["Queue"]["EnqueueTimestamp"]
        assert leg["CustomerEndpoint"] == original["CustomerEndpoint"]
        if leg["Agent"] is not None:
            assert leg["Agent"]["Username"] != original["Agent"]["Username"]
            assert site[leg["Agent"]["Username"]] == site[original["Agent"]["Username"]]
    abandoned = [c for c in latest.values() if c["Agent"] is None]
    assert abandoned and all(c["Queue"] is not None and c["NextContactId"] is None for c in abandoned)
    assert all(c["Queue"] is None for c in latest.values() if c["InitiationMethod"] == "OUTBOUND")


def test_agent_events_tell_a_consistent_shift(center: tuple[Path, dict[str, int]]) -> None:
    landing, counts = center
    roster = {r["connect_username"]: r for r in _roster(landing)}
    events = _jsonl(landing, "connect_agent_events")
    assert len({e["EventId"] for e in events}) == len(events)
    by_agent_day: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(landing.glob("connect_agent_events/day=*/*.jsonl")):
        stamps = []
        for line in path.open():
            e = json.loads(line)
            stamps.append(e["EventTimestamp"])
            by_agent_day[(e["CurrentAgentSnapshot"]["Configuration"]["Username"], path.parent.name)].append(e)
        assert stamps == sorted(stamps)
    assert len(by_agent_day) == counts["shifts"]
    types = {"Available": "ROUTABLE", "Offline": "OFFLINE", "Break": "CUSTOM", "Lunch": "CUSTOM"}
    types |= {"Meeting": "CUSTOM", "Training": "CUSTOM"}
    for (username, _), shift in by_agent_day.items():
        assert username in roster
        assert [e["EventType"] for e in shift[:2]] == ["LOGIN", "STATE_CHANGE"] and shift[-1]["EventType"] == "LOGOUT"
        assert shift[0]["PreviousAgentSnapshot"] is None
        assert [e["CurrentAgentSnapshot"]["AgentStatus"]["Name"] for e in shift[:2]] == ["Offline", "Available"]
        assert shift[-1]["CurrentAgentSnapshot"]["AgentStatus"]["Name"] == "Offline"
        for before, after in itertools.pairwise(shift):
            assert after["PreviousAgentSnapshot"] == before["CurrentAgentSnapshot"]
            assert before["EventTimestamp"] < after["EventTimestamp"]
        for e in shift:
            assert set(e) == {
                "AWSAccountId",
                "AgentARN",
                "CurrentAgentSnapshot",
                "EventId",
                "EventTimestamp",
                "EventType",
                "InstanceARN",
                "PreviousAgentSnapshot",
                "Version",
            }
            status = e["CurrentAgentSnapshot"]["AgentStatus"]
            assert tuple(status) == ("ARN", "Name", "StartTimestamp", "Type")
            assert types[status["Name"]] == status["Type"]
            assert status["StartTimestamp"] == e["EventTimestamp"] and EVENT_TS.match(e["EventTimestamp"])
            assert e["CurrentAgentSnapshot"]["Contacts"] == []
            config = e["CurrentAgentSnapshot"]["Configuration"]
            assert f"{config['FirstName']} {config['LastName']}" == roster[username]["display_name"]


def test_calls_come_only_while_available_and_never_overlap(center: tuple[Path, dict[str, int]]) -> None:
    landing, _ = center
    available: dict[str, list[tuple[datetime.datetime, datetime.datetime]]] = defaultdict(list)
    since: dict[str, datetime.datetime] = {}
    for e in sorted(_jsonl(landing, "connect_agent_events"), key=lambda e: e["EventTimestamp"]):
        username = e["CurrentAgentSnapshot"]["Configuration"]["Username"]
        at = _utc(e["EventTimestamp"])
        if username in since:
            available[username].append((since.pop(username), at))
        if e["CurrentAgentSnapshot"]["AgentStatus"]["Name"] == "Available":
            since[username] = at.replace(microsecond=0)
    calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in _latest(_jsonl(landing, "connect_ctr")).values():
        if c["Agent"] is not None:
            calls[c["Agent"]["Username"]].append(c["Agent"])
    assert calls
    for username, agent_calls in calls.items():
        agent_calls.sort(key=lambda a: a["ConnectedToAgentTimestamp"])
        for before, after in itertools.pairwise(agent_calls):
            assert after["ConnectedToAgentTimestamp"] >= before["AfterContactWorkEndTimestamp"]
        for a in agent_calls:
            connected = _utc(a["ConnectedToAgentTimestamp"])
            assert any(start <= connected < end for start, end in available[username])


def test_heartbeats_every_two_minutes(tmp_path: Path) -> None:
    counts = generate_center(tmp_path, **{**SMALL, "days": 1}, heartbeats=True)
    events = _jsonl(tmp_path, "connect_agent_events")
    beats: dict[str, list[datetime.datetime]] = defaultdict(list)
    for e in events:
        if e["EventType"] == "HEART_BEAT":
            beats[e["AgentARN"]].append(_utc(e["EventTimestamp"]))
    assert counts["heartbeat_events"] == sum(len(b) for b in beats.values()) > 0
    assert len(beats) == counts["shifts"]
    for stamps in beats.values():
        assert {b - a for a, b in itertools.pairwise(stamps)} == {datetime.timedelta(seconds=120)}
        assert 200 <= len(stamps) <= 330  # an 8 to 8.5 hour shift, give or take


def test_shifts_follow_daylight_saving_time(tmp_path: Path) -> None:
    """Europe/Berlin leaves summer time on 2026-10-25: shift starts move from UTC+2 to UTC+1."""
    generate_center(tmp_path, **{**SMALL, "days": 5}, start=datetime.date(2026, 10, 23))
    zones = {r["employee_id"]: r["site_timezone"] for r in _roster(tmp_path)}
    offsets: dict[tuple[str, str], set[datetime.timedelta | None]] = defaultdict(set)
    for path in sorted(tmp_path.glob("schedules/day=*/schedules.csv")):
        day = path.parent.name.removeprefix("day=")
        for row in csv.DictReader(path.open()):
            if row["activity"] != "shift":
                continue
            start = _utc(row["start_utc"]).astimezone(ZoneInfo(zones[row["employee_id"]]))
            assert start.date().isoformat() == day
            assert datetime.time(7, 0) <= start.time() <= datetime.time(11, 0) and start.minute % 15 == 0
            length = _utc(row["end_utc"]) - _utc(row["start_utc"])
            assert length in (datetime.timedelta(hours=8), datetime.timedelta(hours=8, minutes=30))
            offsets[(zones[row["employee_id"]], day)].add(start.utcoffset())
    hours = {key: {o.total_seconds() / 3600 for o in value if o is not None} for key, value in offsets.items()}
    assert hours == {
        ("Europe/Berlin", "2026-10-23"): {2.0},
        ("Europe/Berlin", "2026-10-24"): {2.0},
        ("Europe/Berlin", "2026-10-25"): {1.0},
        ("Europe/Berlin", "2026-10-26"): {1.0},
        ("Europe/Berlin", "2026-10-27"): {1.0},
        ("America/Toronto", "2026-10-23"): {-4.0},
        ("America/Toronto", "2026-10-24"): {-4.0},
        ("America/Toronto", "2026-10-25"): {-4.0},
        ("America/Toronto", "2026-10-26"): {-4.0},
        ("America/Toronto", "2026-10-27"): {-4.0},
    }


def test_schedules_hold_shift_break_lunch(center: tuple[Path, dict[str, int]]) -> None:
    landing, counts = center
    rows = [r for p in sorted(landing.glob("schedules/day=*/schedules.csv")) for r in csv.DictReader(p.open())]
    assert list(rows[0]) == ["employee_id", "activity", "start_utc", "end_utc"]
    activities = Counter(r["activity"] for r in rows)
    assert activities["shift"] == activities["break"] == activities["lunch"] >= counts["shifts"]
    assert set(activities) <= {"shift", "break", "lunch", "meeting", "training"}
    shifts = {(r["employee_id"], r["start_utc"][:10]): r for r in rows if r["activity"] == "shift"}
    # About 5 of 7 days: on three weekdays most of the 24 agents work.
    assert 0.6 * 24 * 3 <= len(shifts) <= 24 * 3
    for r in rows:
        assert CTR_TS.match(r["start_utc"]) and r["start_utc"] < r["end_utc"]
    durations = {r["activity"]: _utc(r["end_utc"]) - _utc(r["start_utc"]) for r in rows if r["activity"] != "shift"}
    assert durations["break"] == datetime.timedelta(minutes=15)
    assert durations["lunch"] == datetime.timedelta(minutes=30)


def test_desktop_exports_have_the_activitywatch_shape_and_raw_titles(center: tuple[Path, dict[str, int]]) -> None:
    landing, _ = center
    hosts = {r["desktop_host"] for r in _roster(landing)}
    apps: Counter[str] = Counter()
    for path in sorted(landing.glob("activitywatch/day=*/*.json")):
        raw = path.read_text(encoding="utf-8")
        host = path.stem
        assert host in hosts
        doc = json.loads(raw)
        window, afk = doc["buckets"][f"aw-watcher-window_{host}"], doc["buckets"][f"aw-watcher-afk_{host}"]
        web = doc["buckets"][f"aw-watcher-web-chrome_{host}"]
        assert set(doc["buckets"]) == {window["id"], afk["id"], web["id"]}
        assert (web["type"], web["hostname"]) == ("web.tab.current", host)
        # One active tab per browser window, same time span, with the customer in URL and title.
        chrome = [(e["timestamp"], e["duration"]) for e in window["events"] if e["data"]["app"] == "Google Chrome"]
        assert [(e["timestamp"], e["duration"]) for e in web["events"]] == chrome
        assert all(e["data"]["url"].startswith("https://") and e["data"]["title"] for e in web["events"])
        assert (window["type"], window["client"], window["hostname"]) == ("currentwindow", "aw-watcher-window", host)
        assert (afk["type"], afk["client"], afk["hostname"]) == ("afkstatus", "aw-watcher-afk", host)
        for bucket in (window, afk, web):
            events = bucket["events"]
            assert [e["id"] for e in events] == list(range(1, len(events) + 1))
            for e in events:
                assert AW_TS.match(e["timestamp"]) and isinstance(e["duration"], float) and e["duration"] > 0
        assert all(e["duration"] <= 480 for e in window["events"])
        statuses = [e["data"]["status"] for e in afk["events"]]
        assert statuses[0] == "not-afk" and "afk" in statuses  # away at least during lunch
        assert all(a != b for a, b in itertools.pairwise(statuses))
        apps.update(e["data"]["app"] for e in window["events"])
        # Window titles with case numbers and customer names are in the raw export.
        assert re.search(r"Case \d{8} - [^\"|]+", raw)
    assert set(apps) == {name for name, _ in DESKTOP_APPS}


def test_every_identifier_in_the_data_is_in_the_roster(center: tuple[Path, dict[str, int]]) -> None:
    landing, _ = center
    roster = _roster(landing)
    usernames = {r["connect_username"] for r in roster}
    employees = {r["employee_id"] for r in roster}
    assert {c["Agent"]["Username"] for c in _jsonl(landing, "connect_ctr") if c["Agent"]} <= usernames
    assert {
        e["CurrentAgentSnapshot"]["Configuration"]["Username"] for e in _jsonl(landing, "connect_agent_events")
    } <= (usernames)
    assert {p.stem for p in landing.glob("activitywatch/day=*/*.json")} <= {r["desktop_host"] for r in roster}
    rows = [r for p in landing.glob("schedules/day=*/schedules.csv") for r in csv.DictReader(p.open())]
    assert {r["employee_id"] for r in rows} <= employees
