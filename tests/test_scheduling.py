"""Which days a run of the daily DAG processes (teamlens.pipeline.plan_days_for_run), the verdict
of `teamlens run`, and the scheduling settings (teamlens.scheduling)."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest

from teamlens import scheduling
from teamlens.cli import run_verdict
from teamlens.pipeline import plan_days_for_run

UTC = dt.UTC


def at(day: str, hour: int = 0, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=tz)


def test_a_conf_range_is_processed_whole_whatever_the_interval() -> None:
    params = {"first_day": "1999-01-30", "last_day": "1999-02-02"}
    assert plan_days_for_run(params, at("2026-10-05"), at("2026-10-06"), at("2026-10-05")) == [
        "1999-01-30",
        "1999-01-31",
        "1999-02-01",
        "1999-02-02",
    ]
    assert plan_days_for_run({"first_day": "1999-01-30", "last_day": None}, None, None, None) == ["1999-01-30"]
    assert plan_days_for_run({"last_day": "1999-01-31"}, None, None, None) == ["1999-01-31"]


def test_a_reversed_range_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match=r"last_day 1999-01-01 is before first_day 1999-01-31.*swap them"):
        plan_days_for_run({"first_day": "1999-01-31", "last_day": "1999-01-01"}, None, None, None)
    with pytest.raises(ValueError, match=re.escape("first_day '31.01.1999' is not a day in the form YYYY-MM-DD")):
        plan_days_for_run({"first_day": "31.01.1999"}, None, None, None)


def test_a_scheduled_run_processes_the_day_its_interval_closes() -> None:
    """The default schedule: the run for 2026-10-06 has [10-06 06:00, 10-07 06:00) and starts at its end."""
    assert plan_days_for_run({}, at("2026-10-06", 6), at("2026-10-07", 6), at("2026-10-06", 6)) == ["2026-10-06"]
    # "@daily": [D, D+1) processes D, not D+1 (the old one-second arithmetic failed on the zero-length form).
    assert plan_days_for_run({"first_day": None}, at("2026-10-06"), at("2026-10-07"), None) == ["2026-10-06"]
    # A wider interval (a schedule changed to every three days) processes every day it closes.
    assert plan_days_for_run({}, at("2026-10-04", 6), at("2026-10-07", 6), None) == [
        "2026-10-04",
        "2026-10-05",
        "2026-10-06",
    ]


def test_days_are_counted_in_the_schedules_time_zone() -> None:
    """[10-07 02:00, 10-08 02:00) UTC closes UTC's 2026-10-07; in Toronto (UTC-4) it is
    [10-06 22:00, 10-07 22:00) and closes Toronto's 2026-10-06."""
    start, end = at("2026-10-07", 2), at("2026-10-08", 2)
    assert plan_days_for_run({}, start, end, None, "UTC") == ["2026-10-07"]
    assert plan_days_for_run({}, start, end, None, "America/Toronto") == ["2026-10-06"]


def test_an_interval_that_closes_no_day_is_refused() -> None:
    with pytest.raises(ValueError, match="closes no day"):
        plan_days_for_run({}, at("2026-10-06", 1), at("2026-10-06", 5), None)


def test_a_zero_length_interval_means_the_last_day_over_at_that_moment() -> None:
    """Airflow 3's trigger timetables give start == end == the moment the run fires: the run fired
    at 2026-10-07 00:00 (or 06:00) processes 2026-10-06, never 10-07, which has only begun."""
    moment = at("2026-10-07")
    assert plan_days_for_run({}, moment, moment, moment) == ["2026-10-06"]
    assert plan_days_for_run({}, at("2026-10-07", 6), at("2026-10-07", 6), None) == ["2026-10-06"]
    assert plan_days_for_run({}, None, None, at("2026-10-07", 6)) == ["2026-10-06"]
    with pytest.raises(ValueError, match="no day to process"):
        plan_days_for_run({}, None, None, None)


def test_teamlens_run_fails_whenever_nothing_or_not_everything_ran() -> None:
    assert run_verdict(0, {"check_ready": "success", "plan_days": "success"}) == (
        0,
        "The DAG run succeeded: all 2 tasks ran.",
    )
    assert run_verdict(0, {}) == (1, "No task ran: Airflow recorded a DAG run without tasks.")
    assert run_verdict(0, {"check_ready": "success", "publish_releases": "upstream_failed", "x": ""}) == (
        1,
        "The DAG run did not succeed: publish_releases upstream_failed, x not run.",
    )
    assert run_verdict(0, None)[0] == 1
    assert run_verdict(3, None) == (3, "The DAG run failed (airflow exit code 3); see the task logs above.")


def test_scheduling_settings() -> None:
    assert scheduling.schedule_cron({}) == "0 6 * * *"
    assert scheduling.schedule_timezone({"TEAMLENS_SCHEDULE_TIMEZONE": "America/Toronto"}) == "America/Toronto"
    assert scheduling.task_retries({}) == 2
    assert scheduling.task_retries({"TEAMLENS_TASK_RETRIES": "0"}) == 0
    with pytest.raises(ValueError, match="0 or more"):
        scheduling.task_retries({"TEAMLENS_TASK_RETRIES": "-1"})


def test_failure_notifier_choices(caplog: pytest.LogCaptureFixture) -> None:
    assert scheduling.failure_notifier({"TEAMLENS_FAILURE_NOTIFIER": "none"}) is None
    custom = scheduling.failure_notifier({"TEAMLENS_FAILURE_NOTIFIER": "teamlens.scheduling:LogFailureNotifier"})
    assert isinstance(custom, scheduling.LogFailureNotifier)
    with pytest.raises(TypeError, match=re.escape("not an airflow.sdk.BaseNotifier")):
        scheduling.failure_notifier({"TEAMLENS_FAILURE_NOTIFIER": "teamlens.scheduling:schedule_cron"})
    with pytest.raises(ValueError, match=re.escape("use log, none or package.module:name")):
        scheduling.failure_notifier({"TEAMLENS_FAILURE_NOTIFIER": "mail"})

    class FakeTi:
        dag_id, run_id, task_id, try_number = "teamlens_daily", "scheduled__2026-10-06", "agent_day_metrics", 3

    notifier = scheduling.failure_notifier({})
    assert isinstance(notifier, scheduling.LogFailureNotifier)
    with caplog.at_level(logging.ERROR, logger="teamlens.scheduling"):
        notifier.notify({"ti": FakeTi(), "exception": RuntimeError("a message that is not logged")})
    assert caplog.messages == [
        "teamlens failure: dag teamlens_daily, run scheduled__2026-10-06, task agent_day_metrics, try 3: RuntimeError"
    ]
