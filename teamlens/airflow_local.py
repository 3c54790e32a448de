"""Airflow on one machine: the environment (SQLite metadata under var/airflow, the repository's DAGs,
loopback only), its database created once, and one DAG run over a span of days."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from foundation.settings import REPO_ROOT, Settings
from teamlens.run_lock import TOKEN_ENV, RunInProgress, exclusive_run

DAG_ID = "teamlens_daily"


def airflow_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Airflow on one machine: SQLite metadata in var/airflow, our DAGs, loopback only."""
    env = dict(os.environ if base is None else base)
    env.setdefault("AIRFLOW_HOME", str(REPO_ROOT / "var" / "airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "2")
    env.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env["TEAMLENS_DATA_ROOT"] = str(settings.data_root)
    return env


def airflow(args: list[str], env: dict[str, str]) -> int:
    """Run the environment's `airflow` command; its exit code."""
    executable = Path(sys.executable).parent / "airflow"
    return subprocess.call([str(executable), *args], env=env)


def ensure_airflow_db(env: dict[str, str]) -> None:
    """Create or upgrade Airflow's SQLite metadata database once (skipped when up to date).

    Airflow's migration output goes to AIRFLOW_HOME/db-migrate.log; the terminal gets one line,
    and the log's last lines only if the migration fails.
    """
    home = Path(env["AIRFLOW_HOME"])
    stamp = home / ".teamlens-db-migrated"
    if stamp.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    log_file = home / "db-migrate.log"
    print(f"Setting up Airflow's metadata database in {home} (once; output in {log_file}) ...", flush=True)
    executable = Path(sys.executable).parent / "airflow"
    with log_file.open("w") as out:
        rc = subprocess.call([str(executable), "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
        raise SystemExit(f"airflow db migrate failed with exit code {rc}; the end of {log_file}:\n{tail}")
    stamp.write_text("ok\n")


def run_log_file(kind: str) -> Path:
    """Where a quiet run's full output goes: var/logs/<kind>-<local time>.log in the repository."""
    return REPO_ROOT / "var" / "logs" / f"{kind}-{dt.datetime.now():%Y%m%d-%H%M%S}.log"


def run_dag(settings: Settings, first_day: dt.date, last_day: dt.date, log_file: Path | None = None) -> int:
    """One DAG run over [first_day, last_day] with `airflow dags test` and a conf; 0 only if it ran.

    One run rather than a backfill of one run per day: it needs no scheduler, starts Spark once for
    the whole span, and works for any span (January 1999 too: the DAG's start date is far in the
    past). Its logical date is last_day at 00:00 UTC (a rerun of a span ending on the same day
    replaces that run). Tasks are not retried (TEAMLENS_TASK_RETRIES=0): a failure is reported at
    once, and a rerun is safe. Returns 0 when the run succeeded with every task done; otherwise a
    one-line reason on stderr and 1 (or Airflow's own non-zero exit code); 2 when nothing ran
    (a reversed range, or another run holding this data root: one run at a time, teamlens.run_lock).

    log_file: quiet mode (`teamlens run`, `teamlens demo`): Airflow's whole output, the steps'
    outcome lines included (INFO), goes to the file; the terminal shows one line per task as it
    starts and ends and the warnings that concern the user (teamlens.demo_run). Without it,
    Airflow writes to the terminal at WARNING level.
    """
    if last_day < first_day:
        print(f"last_day {last_day} is before first_day {first_day}; nothing ran", file=sys.stderr)
        return 2
    try:
        with exclusive_run(settings, f"teamlens run over {first_day} .. {last_day}") as token:
            return _run_dag(settings, first_day, last_day, log_file, token)
    except RunInProgress as exc:
        print(f"{exc}; nothing ran", file=sys.stderr)
        return 2


def _run_dag(settings: Settings, first_day: dt.date, last_day: dt.date, log_file: Path | None, token: str) -> int:
    """run_dag under the run lock; its tasks get the lock's token, so that their steps run under it."""
    env = airflow_env(settings)
    env[TOKEN_ENV] = token
    env.setdefault("TEAMLENS_TASK_RETRIES", "0")
    ensure_airflow_db(env)
    conf = json.dumps({"first_day": first_day.isoformat(), "last_day": last_day.isoformat()})
    logical = dt.datetime.combine(last_day, dt.time(), tzinfo=dt.UTC).isoformat()
    command = ["dags", "test", DAG_ID, logical, "--conf", conf]
    if log_file is None:
        env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
        print(f"Running DAG {DAG_ID} over {first_day} .. {last_day} (airflow dags test) ...", flush=True)
        rc = airflow(command, env)
    else:
        from teamlens.demo_run import run_with_progress

        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
        print(f"Running DAG {DAG_ID} over {first_day} .. {last_day}; full log: {log_file}", flush=True)
        executable = str(Path(sys.executable).parent / "airflow")
        rc = run_with_progress([executable, *command], env, DAG_ID, log_file, echo=lambda line: print(line, flush=True))
    code, message = run_verdict(rc, task_states(logical, env) if rc == 0 else None)
    tail = f" Full log: {log_file}" if log_file is not None else ""
    print(message + tail, file=sys.stderr if code else sys.stdout)
    return code


def task_states(logical_date: str, env: dict[str, str]) -> dict[str, str] | None:
    """Task id -> state of the DAG run at logical_date, from Airflow's metadata (None: not readable)."""
    executable = Path(sys.executable).parent / "airflow"
    out = subprocess.run(
        [str(executable), "tasks", "states-for-dag-run", DAG_ID, logical_date, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
    )
    start = out.stdout.find("[")
    if out.returncode != 0 or start < 0:
        return None
    try:
        rows = json.loads(out.stdout[start : out.stdout.rindex("]") + 1])
    except ValueError:
        return None
    return {row["task_id"]: row["state"] for row in rows}


def run_verdict(airflow_rc: int, states: dict[str, str] | None) -> tuple[int, str]:
    """The exit code and one line for a `teamlens run`: non-zero whenever nothing (or not all) ran."""
    if airflow_rc != 0:
        return airflow_rc, f"The DAG run failed (airflow exit code {airflow_rc}); see the task logs above."
    if states is None:
        return 1, "Could not read the DAG run's task states from Airflow's metadata; treat the run as failed."
    if not states:
        return 1, "No task ran: Airflow recorded a DAG run without tasks."
    not_done = sorted(f"{task} {state or 'not run'}" for task, state in states.items() if state != "success")
    if not_done:
        return 1, f"The DAG run did not succeed: {', '.join(not_done)}."
    return 0, f"The DAG run succeeded: all {len(states)} tasks ran."
