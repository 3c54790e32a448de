"""How the DAGs are scheduled, retried and watched: read when Airflow parses dags/, so nothing heavy.

Variables (all optional; the scheduler's and the DAG processor's environment must hold them):
- TEAMLENS_SCHEDULE_CRON      when the daily run starts (default "0 6 * * *": the run for day D
                              starts at 06:00 on D+1)
- TEAMLENS_SCHEDULE_TIMEZONE  the time zone of that cron and of the day boundaries of a data
                              interval (default UTC). Choose a time late enough that day D is over
                              at every site (Toronto's ends at 04:00 or 05:00 UTC) and that the
                              day's exports have landed.
- TEAMLENS_TASK_RETRIES       retries of a failed task, 5 minutes apart (default 2); `teamlens run`
                              sets 0 so that a failure is reported at once
- TEAMLENS_FAILURE_NOTIFIER   what a failed task or DAG run calls: "log" (default, one line in the
                              task or processor log), "none", or "package.module:name" naming a
                              deployment's own airflow.sdk.BaseNotifier subclass or instance (for
                              example a provider's mail or chat notifier). Details: README.md.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseNotifier

DEFAULT_CRON = "0 6 * * *"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_RETRIES = 2
RETRY_DELAY = dt.timedelta(minutes=5)
# History is allowed: a run for any day since then (a backfill, `teamlens run` over 1999) has its
# tasks. With catchup=False the scheduler still creates only the latest interval's run.
EARLIEST_DAY = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)

log = logging.getLogger(__name__)


def schedule_cron(env: Mapping[str, str] | None = None) -> str:
    return (os.environ if env is None else env).get("TEAMLENS_SCHEDULE_CRON") or DEFAULT_CRON


def schedule_timezone(env: Mapping[str, str] | None = None) -> str:
    return (os.environ if env is None else env).get("TEAMLENS_SCHEDULE_TIMEZONE") or DEFAULT_TIMEZONE


def task_retries(env: Mapping[str, str] | None = None) -> int:
    text = (os.environ if env is None else env).get("TEAMLENS_TASK_RETRIES")
    if not text:
        return DEFAULT_RETRIES
    retries = int(text)
    if retries < 0:
        raise ValueError(f"TEAMLENS_TASK_RETRIES must be 0 or more, not {text}")
    return retries


class LogFailureNotifier(BaseNotifier):
    """Logs one line per failed task or DAG run: the DAG, the run, the task, the try and the error's
    type. No error message: the line goes wherever the logs are shipped, and a message is not
    vetted the way the pipeline's outputs are."""

    def notify(self, context: Any) -> None:
        ti = context.get("ti") or context.get("task_instance")
        run = context.get("dag_run")
        error = context.get("exception")
        log.error(
            "teamlens failure: dag %s, run %s, task %s, try %s: %s",
            getattr(run, "dag_id", None) or getattr(ti, "dag_id", "?"),
            getattr(run, "run_id", None) or getattr(ti, "run_id", "?"),
            getattr(ti, "task_id", "-"),
            getattr(ti, "try_number", "-"),
            type(error).__name__ if error is not None else context.get("reason", "the run failed"),
        )


def failure_notifier(env: Mapping[str, str] | None = None) -> BaseNotifier | None:
    """The notifier TEAMLENS_FAILURE_NOTIFIER names (None for "none")."""
    choice = (os.environ if env is None else env).get("TEAMLENS_FAILURE_NOTIFIER") or "log"
    if choice == "none":
        return None
    if choice == "log":
        return LogFailureNotifier()
    module_name, _, attribute = choice.partition(":")
    if not attribute:
        raise ValueError(f"TEAMLENS_FAILURE_NOTIFIER {choice!r}: use log, none or package.module:name")
    found = getattr(importlib.import_module(module_name), attribute)
    notifier = found() if isinstance(found, type) else found
    if not isinstance(notifier, BaseNotifier):
        raise TypeError(f"TEAMLENS_FAILURE_NOTIFIER {choice!r} is not an airflow.sdk.BaseNotifier")
    return notifier
