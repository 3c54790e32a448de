"""Services on this machine for `make test-cluster` and `make bench-cluster`: processes started in
process groups of their own and stopped by their ids, free loopback ports, a Spark standalone
master and workers from the pip-installed pyspark, and PostgreSQL's programs.

Everything listens on 127.0.0.1 only. Every process is started through Processes, which stops it
(its process group, then every descendant found before signalling, by id) also on failure.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from foundation.settings import REPO_ROOT

LOOPBACK = "127.0.0.1"
# Where Debian's postgresql packages put the server's programs (not on PATH).
DEBIAN_POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def is_listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOOPBACK, port)) == 0


def as_user(command: Sequence[str], user: str | None) -> list[str]:
    """command run as user (runuser, when this process is root); unchanged when user is None."""
    return ["runuser", "-u", user, "--", *command] if user else list(command)


def postgres_program(name: str, search_path: str | None = None, debian_glob: str = DEBIAN_POSTGRES_BIN_GLOB) -> str:
    """The path of a PostgreSQL server program (initdb, postgres, pg_ctl): on PATH, else in Debian's
    /usr/lib/postgresql/<version>/bin (the newest version); FileNotFoundError saying how to install it."""
    found = shutil.which(name, path=search_path)
    if found:
        return found
    folders = sorted(glob.glob(debian_glob), key=_version_key, reverse=True)
    for folder in folders:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError(
        f"PostgreSQL's {name} is neither on PATH nor in {debian_glob}: install the server "
        "(Debian/Ubuntu: apt-get install postgresql)"
    )


def _version_key(folder: str) -> tuple[int, ...]:
    """/usr/lib/postgresql/15/bin -> (15,): the newest version first when sorted in reverse."""
    version = Path(folder).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


@dataclass
class Processes:
    """Every process started here, each leading its own process group; stopped newest first."""

    started: list[tuple[str, subprocess.Popen[bytes], int]] = field(default_factory=list)

    def start(
        self, name: str, command: Sequence[str], env: dict[str, str], log_file: Path, stop_signal: int = signal.SIGTERM
    ) -> subprocess.Popen[bytes]:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as out:
            process = subprocess.Popen(
                list(command), env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0
            )
        self.started.append((name, process, stop_signal))
        return process

    def run(self, name: str, command: Sequence[str], env: dict[str, str], log_file: Path) -> int:
        """Run command to its end in a process group of its own; its exit code. Interrupted (a
        timeout, Ctrl-C), it and everything it started are stopped by their ids before re-raising."""
        process = self.start(name, command, env, log_file)
        try:
            return process.wait()
        finally:
            self.stop(process)

    def adopt(self, name: str, process: subprocess.Popen[bytes]) -> None:
        """A process group started elsewhere (Airflow's launcher) that must be stopped too."""
        self.started.append((name, process, signal.SIGTERM))

    def stop(self, process: subprocess.Popen[bytes], grace_seconds: float = 20.0) -> None:
        """Stop one of the started processes (and what it started); nothing when it is not one of them."""
        for index, (name, started, stop_signal) in enumerate(self.started):
            if started is process:
                del self.started[index]
                _stop(name, started, stop_signal, grace_seconds)
                return

    def stop_all(self, grace_seconds: float = 20.0) -> None:
        """Stop each group by its id: its stop signal, then SIGKILL after the grace period.

        Airflow's task supervisor puts each task (and its Spark driver) in a process group of its
        own, so the descendants found before signalling are stopped by their ids too.
        """
        while self.started:
            name, process, stop_signal = self.started.pop()
            _stop(name, process, stop_signal, grace_seconds)


def _stop(name: str, process: subprocess.Popen[bytes], stop_signal: int, grace_seconds: float) -> None:
    others = descendants(process.pid)
    _signal_group(process.pid, stop_signal)
    for child in others:
        _signal_group(child, signal.SIGTERM)
        _signal_pid(child, signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        print(f"  {name} did not stop within {grace_seconds:.0f} s; killing it", file=sys.stderr)
    _signal_group(process.pid, signal.SIGKILL)  # whatever the group still holds
    for child in others:
        _signal_pid(child, signal.SIGKILL)
    process.wait()
    _wait_until_gone(others, timeout_seconds=10)


def _wait_until_gone(pids: list[int], timeout_seconds: float) -> None:
    """Wait until each pid has exited (a zombie counts: its parent, often init, reaps it).

    A signal is delivered asynchronously: without this wait a caller could see a killed process
    still running for a moment after stop_all returned.
    """
    import psutil

    deadline = time.monotonic() + timeout_seconds
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.Error:
                break
            time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    """The ids of every process below pid now (children, grandchildren, ...)."""
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _signal_pid(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        pass


def wait_for(what: str, ready: Callable[[], bool], timeout_seconds: float, interval: float = 1.0) -> None:
    """Poll ready() until it holds; TimeoutError naming what did not come up."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} was not ready after {timeout_seconds:.0f} s")


def http_json(url: str, method: str = "GET", body: dict[str, object] | None = None) -> object:
    """One JSON request to a loopback service; the decoded answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def answers(url: str) -> bool:
    """Whether a loopback service answers url with JSON."""
    try:
        http_json(url)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return True


# --- Spark standalone -------------------------------------------------------------------------


def spark_master_command(spark_class: Path, port: int, webui_port: int) -> list[str]:
    """A Spark standalone master on 127.0.0.1:port, its web UI (and /json) on webui_port."""
    return [
        str(spark_class),
        "org.apache.spark.deploy.master.Master",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--webui-port",
        str(webui_port),
    ]


def spark_worker_command(
    spark_class: Path, master_url: str, port: int, webui_port: int, work_dir: Path, cores: int = 1, memory: str = "1g"
) -> list[str]:
    """A Spark standalone worker of master_url on 127.0.0.1 with the given cores and memory."""
    return [
        str(spark_class),
        "org.apache.spark.deploy.worker.Worker",
        master_url,
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--webui-port",
        str(webui_port),
        "--cores",
        str(cores),
        "--memory",
        memory,
        "--work-dir",
        str(work_dir),
    ]


def spark_env(log_dir: Path) -> dict[str, str]:
    """Environment of the master and workers: loopback, and executors that run this interpreter
    with the project on its path (the jobs' Python code runs in them)."""
    env = dict(os.environ)
    env.update({"SPARK_LOCAL_IP": LOOPBACK, "SPARK_LOG_DIR": str(log_dir), "PYSPARK_PYTHON": sys.executable})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return env


@dataclass(frozen=True)
class SparkCluster:
    """A running standalone cluster: the URL drivers connect to and the master's web UI port."""

    master_url: str
    webui_port: int


def start_spark_cluster(
    processes: Processes, base: Path, workers: int, cores: int = 1, memory: str = "1g", timeout_seconds: float = 90
) -> SparkCluster:
    """A Spark standalone master and `workers` workers (cores and memory each) on 127.0.0.1, their
    logs and work folders under base; returns once the master reports every worker alive."""
    spark_class = Path(sys.executable).parent / "spark-class"
    env = spark_env(base / "logs")
    port, webui = free_port(), free_port()
    master_url = f"spark://{LOOPBACK}:{port}"
    processes.start("spark master", spark_master_command(spark_class, port, webui), env, base / "master.log")
    wait_for("the Spark master", lambda: answers(f"http://{LOOPBACK}:{webui}/json/"), timeout_seconds)
    for index in range(1, workers + 1):
        command = spark_worker_command(
            spark_class, master_url, free_port(), free_port(), base / f"worker-{index}", cores, memory
        )
        processes.start(f"spark worker {index}", command, env, base / f"worker-{index}.log")
    wait_for(f"{workers} alive Spark workers", lambda: len(alive_workers(webui)) == workers, timeout_seconds)
    return SparkCluster(master_url, webui)


def alive_workers(webui_port: int) -> list[dict[str, object]]:
    """The Spark master's alive workers (from its /json page)."""
    try:
        doc = http_json(f"http://{LOOPBACK}:{webui_port}/json/")
    except (urllib.error.URLError, OSError, ValueError):
        return []
    workers = doc.get("workers", []) if isinstance(doc, dict) else []
    return [w for w in workers if isinstance(w, dict) and w.get("state") == "ALIVE"]


def completed_apps(webui_port: int) -> list[str]:
    """Names of the applications the Spark master has seen complete."""
    doc = http_json(f"http://{LOOPBACK}:{webui_port}/json/")
    apps = doc.get("completedapps", []) if isinstance(doc, dict) else []
    return [str(app.get("name")) for app in apps if isinstance(app, dict)]
