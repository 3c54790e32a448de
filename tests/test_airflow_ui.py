"""`teamlens airflow`: the UI's components start on 127.0.0.1 only, serve the DAGs, and stop as one group."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from foundation.settings import load_settings
from teamlens.airflow_ui import start_ui
from teamlens.cli import airflow_env, ensure_airflow_db
from tests.helpers import TEST_CHECKPOINT_KEY, TEST_KEY

DAY = dt.date(2026, 10, 5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp{,6} write them) that listen on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def _stat(pid: str) -> tuple[str, str, int, str] | None:
    """(command, state, parent pid, start time) of a process from /proc, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return text[text.index("(") + 1 : text.rindex(")")], fields[0], int(fields[1]), fields[19]


def process_tree(roots: list[int]) -> dict[str, tuple[str, str]]:
    """The roots and all their descendants now: pid -> (command, start time)."""
    stats = {pid.name: _stat(pid.name) for pid in Path("/proc").glob("[0-9]*")}
    children: dict[int, list[str]] = {}
    for pid, stat in stats.items():
        if stat is not None:
            children.setdefault(stat[2], []).append(pid)
    tree, todo = {}, [str(r) for r in roots]
    while todo:
        pid = todo.pop()
        stat = stats.get(pid)
        if stat is not None and pid not in tree:
            tree[pid] = (stat[0], stat[3])
            todo += children.get(int(pid), [])
    return tree


def tree_with_java(roots: list[int], timeout_seconds: float = 60) -> dict[str, tuple[str, str]]:
    """The process tree of `roots` (process_tree) once it holds a JVM, or as it is after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        tree = process_tree(roots)
        if any(command == "java" for command, _ in tree.values()) or time.monotonic() > deadline:
            return tree
        time.sleep(POLL_SECONDS)


def still_running(tree: dict[str, tuple[str, str]], timeout_seconds: float = 30) -> list[str]:
    """The processes of a tree that still run (the same process: same start time; zombies are dead)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        left = []
        for pid, (command, started) in tree.items():
            stat = _stat(pid)
            if stat is not None and stat[3] == started and stat[1] not in ("Z", "X"):
                left.append(f"{pid} {command}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def api(ui: Any, path: str, body: dict[str, Any] | None = None, method: str = "GET") -> Any:
    """One call of Airflow's REST API on the UI's port (everyone is admin on this loopback setup)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{ui.url}/api/v2{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


FINISHED = ("success", "failed", "upstream_failed", "skipped")
POLL_SECONDS = 0.5  # between two looks at a task's state or the process tree (a look is one local API call)


def wait_for_task(
    ui: Any, run_id: str, task_id: str, timeout_seconds: float = 180, until: tuple[str, ...] = FINISHED
) -> str:
    """The task's state once it is one of `until` (by default: finished)."""
    deadline = time.monotonic() + timeout_seconds
    state = None
    while time.monotonic() < deadline:
        run = urllib.parse.quote(run_id)
        instance = api(ui, f"/dags/teamlens_daily/dagRuns/{run}/taskInstances/{task_id}")
        state = instance.get("state")
        if state in until:
            return str(state)
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"{task_id} still {state} after {timeout_seconds} s")


def wait_for_scheduled_run(ui: Any, timeout_seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        runs = api(ui, "/dags/teamlens_daily/dagRuns")["dag_runs"]
        scheduled = [r for r in runs if r["run_type"] == "scheduled"]
        if scheduled:
            return dict(scheduled[0])
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"no scheduled run after {timeout_seconds} s")


@pytest.mark.slow
def test_the_ui_serves_the_dags_on_loopback_and_stops_as_one_group(tmp_path: Path) -> None:
    """The UI's scheduler runs the scheduled run's first tasks (its workers reach the API server on the
    UI's port), which plan the day the run's interval closes."""
    from teamlens.generator import generate_center

    keys = {"TEAMLENS_PSEUDONYM_KEY": TEST_KEY, "TEAMLENS_CHECKPOINT_KEY": TEST_CHECKPOINT_KEY}
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path / "data"), **keys})
    generate_center(settings.lake.landing, agents=12, teams=1, sites=1, days=1, start=DAY, seed=3)
    base = {"AIRFLOW_HOME": str(tmp_path / "airflow"), "PATH": os.environ.get("PATH", ""), **keys}
    env = airflow_env(settings, base)
    ensure_airflow_db(env)
    port = free_port()
    ui = start_ui(env, port)
    try:
        ui.wait_until_healthy(timeout_seconds=240)
        assert listening_addresses(port) == {"0100007F"}, "the API server must listen on 127.0.0.1 only"
        assert not listening_addresses(8793), "no log server: the scheduler runs with --skip-serve-logs"
        with urllib.request.urlopen(f"{ui.url}/api/v2/dags?dag_id_pattern=teamlens", timeout=10) as response:
            dags = {d["dag_id"] for d in json.loads(response.read())["dags"]}
        assert "teamlens_daily" in dags
        # Unpaused, the scheduler creates the latest scheduled run (catchup is off) and runs its tasks.
        api(ui, "/dags/teamlens_daily", {"is_paused": False}, "PATCH")
        run = wait_for_scheduled_run(ui)
        assert wait_for_task(ui, run["dag_run_id"], "check_ready") == "success"
        assert wait_for_task(ui, run["dag_run_id"], "plan_days") == "success"
        planned = api(
            ui,
            f"/dags/teamlens_daily/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"
            "/taskInstances/plan_days/xcomEntries/return_value",
        )["value"]
        # the day whose end the run's interval [D 06:00, D+1 06:00) holds
        assert planned == [run["data_interval_start"][:10]]
        # Stop while a Spark task runs: its task process and JVM must go down with the UI.
        wait_for_task(ui, run["dag_run_id"], "ingest_workforce", until=("running",))
        tree = tree_with_java([p.pid for p in ui.processes])  # the task's process has started its JVM
        assert any(command == "java" for command, _ in tree.values()), tree
    finally:
        ui.stop()
    assert still_running(tree) == [], "a component, worker or task outlived the stop"
