"""The demo's DAG run with progress: `airflow dags test` in a subprocess whose whole output goes to a
log file, one printed line per task as it starts and finishes, and no noise on the terminal.

Progress comes from Airflow's own metadata database (the task instances of the run, polled
read-only), not from parsing log text. Of the output, only warnings and errors that concern the
operator are echoed (missing input, refusals, a failed task); NOISE lists what is dropped from the
terminal (it stays in the log file).

print_demo_ending: the demo's last words, the monthly statement of its whole month and how to
open the dashboard.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from foundation.settings import Settings

# Output lines that are not the demo user's business (kept in the log file, not printed).
NOISE = re.compile(
    r"graphviz|starlette\.testclient|httpx2|Using incubator modules|log4j|Setting default log level"
    r"|To adjust logging level|NativeCodeLoader|Truncated the string representation|maxToStringFields"
)
# Output lines worth showing: our own warnings, and errors.
SHOWN = re.compile(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b|\[(warning|error|critical)\s*\]", re.IGNORECASE)
POLL_SECONDS = 2.0


def metadata_db(env: dict[str, str]) -> Path | None:
    """Airflow's SQLite metadata file of this environment, or None when it uses another database."""
    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if url is None:
        return Path(env["AIRFLOW_HOME"]) / "airflow.db"
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _query(db: Path | None, sql: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
    if db is None or not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()
    except sqlite3.Error:  # busy or being migrated: try again at the next poll
        return []


def run_ids(db: Path | None, dag_id: str) -> set[str]:
    """The DAG's runs in the metadata database (before a new one starts)."""
    return {str(r[0]) for r in _query(db, "SELECT run_id FROM dag_run WHERE dag_id = ?", (dag_id,))}


def task_states(db: Path | None, dag_id: str, earlier_runs: set[str]) -> dict[str, str]:
    """task_id -> state of the DAG's newest run that is not one of earlier_runs (`airflow dags test`
    replaces a run of the same logical date, so its row id can be an old one's)."""
    runs = _query(db, "SELECT id, run_id FROM dag_run WHERE dag_id = ? ORDER BY id", (dag_id,))
    new = [str(run_id) for _, run_id in runs if str(run_id) not in earlier_runs]
    if not new:
        return {}
    sql = "SELECT task_id, coalesce(state, '') FROM task_instance WHERE dag_id = ? AND run_id = ?"
    return {str(task): str(state) for task, state in _query(db, sql, (dag_id, new[-1]))}


def progress_lines(before: dict[str, str], after: dict[str, str], now: str) -> list[str]:
    """One line per task whose state changed: started, finished (success), failed, skipped."""
    words = {
        "running": "started",
        "success": "done",
        "failed": "FAILED",
        "upstream_failed": "not run (upstream failed)",
    }
    lines = []
    for task, state in after.items():
        if state != before.get(task, "") and state in (*words, "skipped"):
            lines.append(f"  {now} {task}: {words.get(state, state)}")
    return lines


# Airflow's console format: "<time> [warning  ] <message> [<logger>] loc=<file:line> ...".
STRUCTLOG_LINE = re.compile(r"^\S+ \[(?P<level>\w+)\s*\] (?P<message>.*?)\s+\[[\w.]+\](?: .*)?$")


def shown_lines(text: str) -> list[str]:
    """The output lines the user should see: warnings and errors that are not NOISE, Airflow's
    decoration (time, logger, source location) left off."""
    shown = []
    for line in text.splitlines():
        if SHOWN.search(line) and not NOISE.search(line):
            match = STRUCTLOG_LINE.match(line.strip())
            shown.append(f"{match['level'].upper()} {match['message']}" if match else line.strip())
    return shown


def run_with_progress(
    command: list[str],
    env: dict[str, str],
    dag_id: str,
    log_file: Path,
    echo: Callable[[str], None] = print,
) -> int:
    """Run `command` (airflow dags test ...) with its output in log_file; echo progress and what matters."""
    db = metadata_db(env)
    earlier_runs = run_ids(db, dag_id)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    states: dict[str, str] = {}
    offset = 0
    with log_file.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        while True:
            done = process.poll() is not None
            with log_file.open("rb") as reader:
                reader.seek(offset)
                chunk = reader.read()
            complete = chunk[: chunk.rfind(b"\n") + 1] if not done else chunk
            offset += len(complete)
            for line in shown_lines(complete.decode("utf-8", "replace")):
                echo(f"    {line.strip()}")
            now = dt.datetime.now().strftime("%H:%M:%S")
            current = task_states(db, dag_id, earlier_runs)
            for line in progress_lines(states, current, now):
                echo(line)
            states = {**states, **current}
            if done:
                return int(process.returncode)
            time.sleep(POLL_SECONDS)


DASHBOARD_COMMAND = ".venv/bin/teamlens dashboard"
DASHBOARD_URL = "http://127.0.0.1:8050/"


def print_demo_ending(settings: Settings, first_day: dt.date, last_day: dt.date, today: dt.date | None = None) -> None:
    """Write the works council's statement of the demo's last whole month (as `teamlens statement`
    does: a rerun with the same content records nothing new) and say how to open the dashboard.

    The demo's data may lie after the clock's today; its month is over once its last day is past,
    so the statement is written as of the later of today and the day after the demo's last day."""
    from teamlens.statement import last_whole_month, print_statement

    month = last_whole_month(first_day, last_day)
    today = max(today or dt.datetime.now(dt.UTC).date(), last_day + dt.timedelta(days=1))
    print()
    if month is None:
        print("No whole month in the demo's days: no monthly statement (teamlens statement --month YYYY-MM).")
    else:
        print_statement(settings, month, today=today)
    print(f"Dashboard: run `{DASHBOARD_COMMAND}`, then open {DASHBOARD_URL} (managers' figures)")
    print(f"  and {DASHBOARD_URL}council/ (the works council's pages); Ctrl-C stops it.")
    print(
        "  An agent's own page: `TEAMLENS_DEMO=1 .venv/bin/teamlens personal-link --employee-id E10001` prints "
        "its link; it opens while the dashboard runs with TEAMLENS_DEMO=1."
    )
