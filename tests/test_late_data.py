"""Late data is a change of what a release reads, not a rerun: recomputing the same rows moves nothing.

A window's release is corrected (where the policy allows one) when the metrics of one of its days
were computed after the release. The completion marker's computed_at moves only when the day's
agent_day rows or roster snapshot changed, so rerunning a published day with the same inputs
returns the stored figures and notes no late data; a changed row does lead to a correction.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from foundation import schema
from foundation.policy import load_policy
from privacy import release as release_module
from tests.helpers import approve, lake_settings, write_lake_day, write_policy_file, write_table_partition
from warehouse.records import ReleaseOutcome

DAY = dt.date(2026, 3, 10)
TEAM_DAY = {
    "name": "team_day",
    "purpose": "daily workload per team (late data test)",
    "group_by": "team",
    "window": "day",
    "rho": "1",
    "sums": {"contacts_handled": 60, "handle_seconds": 23400},
    "max_corrections_per_window": 1,
}


def center(contacts: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One team of 10 agents; the first agent handled `contacts` contacts."""
    agents = [f"agent-{i}" for i in range(10)]
    roster = pl.DataFrame(
        {
            "agent_pseudonym": agents,
            "team": ["team-a"] * 10,
            "site": ["Berlin"] * 10,
            "site_timezone": ["Europe/Berlin"] * 10,
        }
    )
    agent_day = pl.DataFrame(
        {
            "agent_pseudonym": agents,
            "team": ["team-a"] * 10,
            "site": ["Berlin"] * 10,
            "contacts_handled": [contacts, *([20] * 9)],
            "handle_seconds": [300 * contacts, *([6000] * 9)],
        }
    )
    return roster, agent_day


def marker(settings: object) -> dict[str, object]:
    return json.loads(release_module.metrics_marker(settings, DAY).read_text())  # type: ignore[arg-type]


def test_a_rerun_with_the_same_rows_is_not_late_data_and_a_changed_row_is(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path / "data", write_policy_file(tmp_path / "policy.yaml", [TEAM_DAY], cap="100"))
    policy = load_policy(settings.policy_path)
    approve(settings.lake.warehouse_path, policy)
    roster, agent_day = center(contacts=20)
    write_lake_day(settings, DAY, roster, agent_day)
    first_mark = marker(settings)
    [first] = release_module.release_windows(settings, policy, DAY, DAY + dt.timedelta(days=1))
    assert isinstance(first, ReleaseOutcome) and first.status == "released"

    # The day recomputed with the same rows (written again as a new file): the marker keeps its time.
    write_lake_day(settings, DAY, roster, agent_day.reverse())
    assert marker(settings)["computed_at"] == first_mark["computed_at"]
    assert marker(settings)["metrics_sha256"] == first_mark["metrics_sha256"]
    [again] = release_module.release_windows(settings, policy, DAY, DAY + dt.timedelta(days=1))
    assert isinstance(again, ReleaseOutcome) and again.status == "stored" and again.values == first.values
    assert "late" not in again.message.lower()

    # One agent's contacts changed (late data): the marker moves and the window is corrected once.
    write_table_partition(settings, schema.AGENT_DAY, DAY, center(contacts=25)[1])
    release_module.mark_metrics_complete(settings, DAY)
    assert marker(settings)["metrics_sha256"] != first_mark["metrics_sha256"]
    assert str(marker(settings)["computed_at"]) > str(first_mark["computed_at"])
    [fix] = release_module.release_windows(settings, policy, DAY, DAY + dt.timedelta(days=1))
    assert isinstance(fix, ReleaseOutcome) and fix.status == "released" and fix.key.correction == 1


def test_a_window_completed_by_an_earlier_day_is_released_when_that_day_runs(tmp_path: Path) -> None:
    """A backfill run backwards (or a failed day rerun later): the week's last day ran first and left
    the week pending; the run of its missing Wednesday completes it and releases it."""
    week = {**TEAM_DAY, "name": "team_week", "window": "week"}
    settings = lake_settings(tmp_path / "data", write_policy_file(tmp_path / "policy.yaml", [week], cap="100"))
    policy = load_policy(settings.policy_path)
    approve(settings.lake.warehouse_path, policy)
    monday = dt.date(2026, 3, 9)
    days = [monday + dt.timedelta(days=i) for i in range(7)]
    roster, agent_day = center(contacts=20)
    for day in days[3:]:  # Thursday to Sunday first
        write_lake_day(settings, day, roster, agent_day)
    [pending] = release_module.release_windows(settings, policy, days[6], days[6] + dt.timedelta(days=1))
    assert isinstance(pending, release_module.PendingWindow) and pending.missing_days == tuple(days[:3])
    for day in days[:3]:
        write_lake_day(settings, day, roster, agent_day)
    # the run of Wednesday alone: its week is complete now, so it is released (once)
    [released] = release_module.release_windows(settings, policy, days[2], days[2] + dt.timedelta(days=1))
    assert isinstance(released, ReleaseOutcome) and released.status == "released"
    assert (released.key.window_start, released.key.window_end) == (monday, monday + dt.timedelta(days=7))
    [again] = release_module.release_windows(settings, policy, days[1], days[1] + dt.timedelta(days=1))
    assert isinstance(again, ReleaseOutcome) and again.status == "stored"
