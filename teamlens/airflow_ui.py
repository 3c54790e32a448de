"""Airflow's UI on this machine: scheduler, DAG processor and API server as one process group on 127.0.0.1.

`airflow standalone` would do the same, but it also starts log servers that listen on every
interface (and a triggerer the DAGs do not need), and on SIGTERM it leaves its children running.
Here each component is started on its own, loopback only:

- `airflow scheduler --skip-serve-logs` runs the DAGs on a schedule, backfills and UI triggers;
  its LocalExecutor writes task logs to files the API server reads directly;
- `airflow dag-processor` parses the DAG files;
- `airflow api-server --host 127.0.0.1 --port PORT` serves the UI and the REST API.

All three share one process group, so stopping the group stops them and every worker they
started. The environment puts the interpreter's bin folder on PATH (Airflow starts its
components as `airflow ...`). Authentication: Airflow's simple auth manager; on this single-user,
loopback-only setup everyone who reaches the port is admin (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS,
set to False to log in with the users of AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8080
HEALTHY_COMPONENTS = ("metadatabase", "scheduler", "dag_processor")


def ui_env(env: dict[str, str], port: int = DEFAULT_PORT) -> dict[str, str]:
    """The Airflow environment plus what the UI's components need: PATH, loopback, single-user auth,
    and where task workers reach the API server's execution API (Airflow assumes port 8080)."""
    ui = dict(env)
    ui.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://{LOOPBACK}:{port}/execution/")
    bin_dir = str(Path(sys.executable).parent)
    ui["PATH"] = os.pathsep.join([bin_dir, ui.get("PATH", "")]) if ui.get("PATH") else bin_dir
    ui.setdefault("AIRFLOW__API__HOST", LOOPBACK)
    ui.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    ui.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    return ui


@dataclass
class AirflowUI:
    """The started components (one process group) and where they write their output."""

    processes: list[subprocess.Popen[bytes]]
    port: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def process_group(self) -> int:
        return self.processes[0].pid

    def health(self) -> dict[str, str]:
        """Each component's status from the API server's health endpoint (empty while it is not up)."""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                doc = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return {}
        return {name: str(part.get("status")) for name, part in doc.items() if isinstance(part, dict)}

    def wait_until_healthy(self, timeout_seconds: float = 180.0) -> None:
        """Block until the scheduler, the DAG processor and the database report healthy; fail on timeout or exit."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            exited = [p.args for p in self.processes if p.poll() is not None]
            if exited:
                raise RuntimeError(f"an Airflow component exited while starting: {exited}; see {self.log_file}")
            status = self.health()
            if all(status.get(name) == "healthy" for name in HEALTHY_COMPONENTS):
                return
            time.sleep(1.0)
        raise TimeoutError(f"Airflow's UI was not healthy after {timeout_seconds:.0f} s; see {self.log_file}")

    def stop(self, grace_seconds: float = 20.0) -> None:
        """SIGTERM to the whole process group, then SIGKILL to whatever is left after the grace period."""
        try:
            os.killpg(self.process_group, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_seconds
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process_group, signal.SIGKILL)  # workers the components started, if any remain
        except ProcessLookupError:
            pass
        for process in self.processes:
            process.wait()


def start_ui(env: dict[str, str], port: int = DEFAULT_PORT, log_file: Path | None = None) -> AirflowUI:
    """Start the scheduler, the DAG processor and the API server in a new process group.

    env: the Airflow environment (AIRFLOW_HOME with a migrated database, the DAGs folder).
    Their output goes to log_file (default: AIRFLOW_HOME/ui.log).
    """
    ui = ui_env(env, port)
    log_file = log_file or Path(ui["AIRFLOW_HOME"]) / "ui.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    airflow = str(Path(sys.executable).parent / "airflow")
    commands = [
        [airflow, "scheduler", "--skip-serve-logs"],
        [airflow, "dag-processor"],
        [airflow, "api-server", "--host", LOOPBACK, "--port", str(port)],
    ]
    processes: list[subprocess.Popen[bytes]] = []
    with log_file.open("ab") as out:
        for command in commands:
            group = processes[0].pid if processes else 0  # 0: a new group led by the first component
            processes.append(
                subprocess.Popen(
                    command, env=ui, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=group
                )
            )
    return AirflowUI(processes=processes, port=port, log_file=log_file)


def serve_until_interrupted(env: dict[str, str], port: int = DEFAULT_PORT) -> int:
    """Start the UI, print where it is, and stop the whole group on Ctrl-C or SIGTERM."""
    ui = start_ui(env, port)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        print(f"Starting Airflow (scheduler, DAG processor, API server); output in {ui.log_file} ...", flush=True)
        ui.wait_until_healthy()
        print(f"Airflow's UI: {ui.url}  (loopback only; Ctrl-C stops it)", flush=True)
        while all(p.poll() is None for p in ui.processes):
            time.sleep(1.0)
        print(f"An Airflow component exited; stopping the others. See {ui.log_file}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopping Airflow ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"teamlens: {exc}", file=sys.stderr)
        return 1
    finally:
        ui.stop()
        signal.signal(signal.SIGTERM, previous)
