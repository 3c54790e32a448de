"""Writing the landing files: the roster, and for each day the schedules, the CTRs, the agent
event stream and one ActivityWatch export per host, and a monthly pulse survey export
(docs/landing.md describes the formats).
"""

from __future__ import annotations

import csv
import datetime
import io
import random
from pathlib import Path
from typing import Any

from foundation import lake
from teamlens.generator.agent_states import agent_event_lines
from teamlens.generator.calls import SiteDay, deliver_ctr_lines
from teamlens.generator.common import dumps_compact, iso_seconds
from teamlens.generator.desktop import activitywatch_export
from teamlens.generator.roster import build_roster
from teamlens.generator.schedules import days_off, plan_shift
from teamlens.generator.surveys import HEADER as SURVEY_HEADER
from teamlens.generator.surveys import survey_exports


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")


def generate_center(
    landing: Path,
    *,
    agents: int = 200,
    teams: int = 14,
    sites: int = 2,
    days: int = 28,
    start: datetime.date = datetime.date(2026, 10, 5),
    seed: int = 0,
    calls_per_agent_day: float = 40.0,
    tiny_team_size: int | None = 6,
    duplicate_share: float = 0.01,
    heartbeats: bool = False,
) -> dict[str, int]:
    """Write a synthetic center's landing zone under `landing` and return what was written.

    The roster is rewritten; for each of the `days` days from `start` the day's files are
    overwritten (stale ActivityWatch host files of that day are removed). Same arguments, same bytes.
    """
    landing = Path(landing)
    roster, team_list = build_roster(seed, agents, teams, sites, tiny_team_size)
    _write_csv(
        landing / lake.ROSTER_IN_LANDING,
        ["employee_id", "display_name", "connect_username", "desktop_host", "team", "site", "site_timezone"],
        [
            [a.employee_id, a.display_name, a.username, a.host, a.team.name, a.site.name, a.site.timezone]
            for a in roster
        ],
    )
    counts = dict.fromkeys(
        (
            "shifts",
            "schedule_rows",
            "contacts",
            "ctr_records",
            "duplicate_ctr_records",
            "handled_contacts",
            "abandoned_contacts",
            "outbound_contacts",
            "transferred_contacts",
            "transfer_legs",
            "agent_events",
            "heartbeat_events",
            "desktop_files",
            "desktop_events",
        ),
        0,
    )
    site_names = list(dict.fromkeys(a.site.name for a in roster))
    week_cache: dict[datetime.date, list[set[int]]] = {}
    for offset in range(days):
        day = start + datetime.timedelta(days=offset)
        monday = day - datetime.timedelta(days=day.weekday())
        if monday not in week_cache:
            week_cache[monday] = days_off(seed, monday, len(roster))
        off = week_cache[monday]
        part = lake.partition_name(day)
        schedule_rows: list[list[str]] = []
        contacts: list[dict[str, Any]] = []
        events: list[tuple[int, str]] = []
        desktop_dir = landing / "activitywatch" / part
        desktop_dir.mkdir(parents=True, exist_ok=True)
        for stale in desktop_dir.glob("*.json"):
            stale.unlink()
        for site_name in site_names:
            rng = random.Random(f"{seed}/{site_name}/{day.isoformat()}")
            runs = []
            for index, agent in enumerate(roster):
                if agent.site.name != site_name or day.weekday() in off[index]:
                    continue
                schedule, run = plan_shift(rng, agent, day, calls_per_agent_day)
                schedule_rows += [[agent.employee_id, a, iso_seconds(s), iso_seconds(e)] for a, s, e in schedule]
                if rng.random() >= 0.02:  # about 2% of scheduled shifts are missed (sick, no show)
                    runs.append(run)
            site_teams = [t for t in team_list if t.site.name == site_name]
            sim = SiteDay(rng, runs, site_teams)
            sim.simulate()
            contacts += sim.contacts
            for run in runs:
                run_events = agent_event_lines(rng, run, heartbeats)
                counts["heartbeat_events"] += len(run_events) - len(run.transitions)
                events += run_events
                doc, n_desktop = activitywatch_export(rng, run)
                (desktop_dir / f"{run.agent.host}.json").write_text(dumps_compact(doc), encoding="utf-8")
                counts["desktop_files"] += 1
                counts["desktop_events"] += n_desktop
            counts["shifts"] += len(runs)
        schedule_rows.sort(key=lambda r: (r[0], r[2]))
        _write_csv(
            landing / "schedules" / part / "schedules.csv",
            ["employee_id", "activity", "start_utc", "end_utc"],
            schedule_rows,
        )
        events.sort(key=lambda e: e[0])
        _write_lines(landing / "connect_agent_events" / part / "part-0000.jsonl", [line for _, line in events])
        lines, duplicates = deliver_ctr_lines(
            random.Random(f"{seed}/deliver/{day.isoformat()}"), contacts, duplicate_share
        )
        _write_lines(landing / "connect_ctr" / part / "part-0000.jsonl", lines)

        counts["schedule_rows"] += len(schedule_rows)
        counts["agent_events"] += len(events)
        counts["contacts"] += len(contacts)
        counts["ctr_records"] += len(lines)
        counts["duplicate_ctr_records"] += duplicates
        for c in contacts:
            if c["Agent"] is None:
                counts["abandoned_contacts"] += 1
            else:
                counts["handled_contacts"] += 1
            counts["outbound_contacts"] += c["InitiationMethod"] == "OUTBOUND"
            counts["transferred_contacts"] += c["NextContactId"] is not None
            counts["transfer_legs"] += c["InitiationMethod"] == "TRANSFER"
    for relative, rows in survey_exports(seed, roster, start, days).items():  # the monthly pulse survey
        _write_csv(landing / relative, SURVEY_HEADER, rows)
        counts["survey_answers"] = counts.get("survey_answers", 0) + len(rows)
    return {"agents": len(roster), "teams": len(team_list), "sites": sites, "days": days, **counts}
