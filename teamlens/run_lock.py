"""One pipeline run at a time per data root, whoever started it: `teamlens run`, `teamlens demo`,
`teamlens retention`, `teamlens statement`, `teamlens personal-link`, or the Airflow scheduler.

The lock is an flock on the data root's run lock file (foundation.lake: Lake.run_lock), so the
kernel releases it when its holder dies: a killed run never leaves it held. The file names the
holder, for the message whoever is refused gets.

Who holds it (docs/architecture.md, "One run at a time"):
- `teamlens run` / `demo` / `retention` / `accept-bad-rows` / `statement` / `personal-link` hold it
  exclusively for the whole command (`exclusive_run`) and are refused at once when anything else
  holds it. The run passes a token to the Airflow tasks it starts (TEAMLENS_RUN_LOCK_TOKEN); a step
  that finds its own run's token in the lock file runs under its parent's lock.
- Every step of a DAG run the scheduler starts (teamlens.pipeline) holds it for its duration
  (`step_lock`): the daily DAG's steps shared (its parallel ingest steps run side by side;
  `max_active_runs=1` keeps two daily runs apart), the retention and statement steps exclusively. A step that
  finds the lock held by a CLI run waits up to TEAMLENS_RUN_LOCK_WAIT_SECONDS (default 1800), then
  fails naming the holder; Airflow's retry picks it up later.
So a CLI run never interleaves with a step of a scheduled run. A scheduled DAG run can meet a whole
CLI run between two of its steps; each step replaces whole days, so its later steps then work on
days that are complete (the CLI run's), never on half-written ones.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import inspect
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from foundation.settings import Settings, load_settings

TOKEN_ENV = "TEAMLENS_RUN_LOCK_TOKEN"
WAIT_ENV = "TEAMLENS_RUN_LOCK_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 1800.0
POLL_SECONDS = 0.2

P = ParamSpec("P")
R = TypeVar("R")


class RunInProgress(RuntimeError):
    """Another pipeline run holds this data root's run lock."""


def _holder(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "a process that did not say who it is"


def _describe(what: str, token: str) -> str:
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return f"{what} (pid {os.getpid()}, started {started}) [token {token}]\n"


@contextmanager
def _locked(settings: Settings, what: str, *, shared: bool, wait_seconds: float) -> Iterator[str]:
    """Hold the run lock (shared or exclusive), waiting up to wait_seconds; yields the holder's token."""
    path = settings.lake.run_lock
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder(path.read_text(errors="replace"))
                os.close(fd)
                waited = f" (waited {wait_seconds:.0f} s)" if wait_seconds else ""
                raise RunInProgress(
                    f"another run is using {settings.data_root}: {holder}{waited}; "
                    "wait for it to end (or stop it) and run again"
                ) from None
            time.sleep(POLL_SECONDS)
    token = secrets.token_hex(8)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, _describe(what, token).encode(), 0)
        yield token
    finally:
        if not shared:  # a shared holder cannot know whether another still holds it
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def exclusive_run(settings: Settings, what: str, wait_seconds: float = 0.0) -> Iterator[str]:
    """Hold the data root's run lock alone for a whole run (refused at once by default).

    Yields the run's token; set it as TEAMLENS_RUN_LOCK_TOKEN in the environment of the tasks the
    run starts, so that their steps run under this lock instead of waiting for it.
    """
    with _locked(settings, what, shared=False, wait_seconds=wait_seconds) as token:
        yield token


def held_by_parent_run(settings: Settings) -> bool:
    """Whether this process runs under a CLI run that holds the lock (its token is in the lock file)."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        return False
    try:
        text = settings.lake.run_lock.read_text(errors="replace")
    except OSError:
        return False
    return f"[token {token}]" in text


def wait_seconds_setting() -> float:
    """TEAMLENS_RUN_LOCK_WAIT_SECONDS: how long a scheduled step waits for a running CLI run."""
    text = os.environ.get(WAIT_ENV, "").strip()
    if not text:
        return DEFAULT_WAIT_SECONDS
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{WAIT_ENV}={text!r} is not a number of seconds") from None
    if value < 0:
        raise ValueError(f"{WAIT_ENV}={text!r} must not be negative")
    return value


@contextmanager
def step_lock(settings: Settings, step: str, *, shared: bool = True) -> Iterator[None]:
    """Hold the run lock for one pipeline step (see the module's docstring); a no-op under the CLI
    run that started this step, which holds it already."""
    if held_by_parent_run(settings):
        yield
        return
    dag = os.environ.get("AIRFLOW_CTX_DAG_ID")
    run = os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")
    what = f"DAG run {dag}/{run}, step {step}" if dag and run else f"pipeline step {step}"
    with _locked(settings, what, shared=shared, wait_seconds=wait_seconds_setting()):
        yield


def holding_run_lock(shared: bool = True) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a pipeline step (a function with a `settings: Settings | None` parameter) so that it
    runs under step_lock; the settings it loads are passed on."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            settings = bound.arguments.get("settings") or load_settings()
            bound.arguments["settings"] = settings
            with step_lock(settings, fn.__name__, shared=shared):
                return fn(*bound.args, **bound.kwargs)

        return inner

    return wrap
