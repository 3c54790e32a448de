"""One local Spark Connect server per DAG run (TEAMLENS_SPARK_CONNECT=per_run).

Every Airflow task is a process of its own; without a shared server each Spark task builds its own
local SparkSession (a cold JVM each). With per_run the DAG's setup task starts the Spark Connect
server that the pip pyspark bundles, the run's Spark tasks connect to it as thin clients
(foundation.spark.spark_session), and the teardown task stops it, also when tasks failed.

The server's files live in settings.lake.spark_connect_dir, <data root>/run/spark-connect/
(mode 0700): its pid file, its logs and the run's random token (0600). The server listens on
127.0.0.1 only and accepts only clients that present the token; the token is passed to the server
in its environment (not on its command line, so `ps` does not show it) and is never logged nor
returned (XCom).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from foundation.settings import Settings

log = logging.getLogger(__name__)

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
IDENT = "teamlens"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0


def run_dir(settings: Settings) -> Path:
    """The server's folder: settings.lake.spark_connect_dir."""
    return settings.lake.spark_connect_dir


def token_file(settings: Settings) -> Path:
    return run_dir(settings) / "token"


def pid_file(settings: Settings) -> Path:
    # spark-daemon.sh: $SPARK_PID_DIR/spark-$SPARK_IDENT_STRING-$command-$instance.pid
    return run_dir(settings) / f"spark-{IDENT}-{SERVER_CLASS}-1.pid"


def spark_home() -> Path:
    """The pip pyspark's folder, which holds the Spark distribution (jars/, sbin/, bin/)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyspark is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _server_env(settings: Settings, token: str | None = None) -> dict[str, str]:
    from foundation.spark import local_spark_env

    env = dict(os.environ)
    # This process may be a Connect client: the server must start as a plain driver.
    for name in (
        "SPARK_REMOTE",
        "SPARK_LOCAL_REMOTE",
        "SPARK_CONNECT_MODE_ENABLED",
        "SPARK_CONNECT_AUTHENTICATE_TOKEN",
    ):
        env.pop(name, None)
    directory = run_dir(settings)
    env |= {
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOG_DIR": str(directory / "logs"),
        "SPARK_PID_DIR": str(directory),
        "SPARK_IDENT_STRING": IDENT,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    env |= {k: v for k, v in local_spark_env(settings).items() if k != "SPARK_LOCAL_IP"}
    if token is not None:
        env["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = token  # read by the server; not on its command line
    return env


def server_command(settings: Settings) -> list[str]:
    """start-connect-server.sh with the project's Spark configuration (foundation.spark.spark_conf)."""
    from foundation.spark import spark_conf

    conf = spark_conf(settings)
    cmd = [
        str(spark_home() / "sbin" / "start-connect-server.sh"),
        "--master",
        settings.spark_master,
        "--driver-memory",
        conf.pop("spark.driver.memory"),
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={settings.spark_connect_port}",
    ]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    return cmd


def _read_pid(settings: Settings) -> int | None:
    try:
        return int(pid_file(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive, unless it is the main thread of a JVM whose
    # other threads are still shutting down (they may still hold the port).
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z" or len(os.listdir(f"/proc/{pid}/task")) > 1
    return True


def _is_our_server(pid: int, port: int) -> bool:
    """Whether pid is a Spark Connect server bound to port (a pid file can outlive its process)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid)
    return SERVER_CLASS.encode() in cmdline and f"spark.connect.grpc.binding.port={port}".encode() in cmdline


def _servers_on_port(port: int) -> list[int]:
    """This user's Spark Connect servers bound to port, found by their command lines."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid != os.getuid():
                continue
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if SERVER_CLASS.encode() in cmdline and f"spark.connect.grpc.binding.port={port}".encode() in cmdline:
            found.append(int(proc.name))
    return found


def port_open(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(settings: Settings, lines: int = 40) -> str:
    logs = sorted((run_dir(settings) / "logs").glob("*.out"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return "(no server log)"
    return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:])


def is_running(settings: Settings) -> bool:
    """Whether this run's server is up: its pid is alive and its port accepts connections."""
    pid = _read_pid(settings)
    return pid is not None and _alive(pid) and port_open(settings.spark_connect_port)


def remote_url(settings: Settings) -> str | None:
    """The client URL of this run's server (with its token: a secret, never log it), or None when no
    server was started for this run. localhost, not 127.0.0.1: with an IP address the client uses TLS."""
    try:
        token = token_file(settings).read_text().strip()
    except FileNotFoundError:
        return None
    return f"sc://localhost:{settings.spark_connect_port}/;token={token}" if token else None


def start_server(settings: Settings, timeout_s: float = READY_TIMEOUT_S) -> dict[str, Any]:
    """Start this run's Spark Connect server and wait until it accepts connections.

    A server left over by a crashed run (max_active_runs=1, so no other run uses it) is stopped first.
    Returns non-secret facts only: port, pid and the seconds until the server was ready.
    """
    began = time.monotonic()
    port = settings.spark_connect_port
    stale = stop_server(settings)
    if stale["stopped"]:
        log.warning("stopped a Spark Connect server left by an earlier run (pid %s)", stale["pid"])
    if port_open(port):
        raise RuntimeError(
            f"port {port} on 127.0.0.1 is in use by another program; set TEAMLENS_SPARK_CONNECT_PORT to a free port"
        )
    directory = run_dir(settings)
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    token = secrets.token_urlsafe(32)
    fd = os.open(token_file(settings), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    token_file(settings).chmod(0o600)

    # Its own session: Airflow ends the setup task's process group when the task ends.
    result = subprocess.run(
        server_command(settings),
        env=_server_env(settings, token),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        start_new_session=True,
        check=False,
    )
    if result.returncode != 0:
        token_file(settings).unlink(missing_ok=True)
        output = (result.stdout + result.stderr).strip()
        raise RuntimeError(f"start-connect-server.sh failed (exit {result.returncode}): {output[-2000:]}")
    pid = _read_pid(settings)
    deadline = began + timeout_s
    while time.monotonic() < deadline:
        if port_open(port):
            ready_s = round(time.monotonic() - began, 1)
            log.info("Spark Connect server up on 127.0.0.1:%d (pid %s) after %.1f s", port, pid, ready_s)
            return {"port": port, "pid": pid, "ready_s": ready_s}
        if pid is not None and not _alive(pid):
            break
        time.sleep(0.25)
    tail = log_tail(settings)
    stop_server(settings)
    raise RuntimeError(
        f"the Spark Connect server did not come up on 127.0.0.1:{port} in {timeout_s:.0f} s; log:\n{tail}"
    )


def stop_server(settings: Settings, timeout_s: float = STOP_TIMEOUT_S) -> dict[str, Any]:
    """Stop this run's server (a no-op when none runs) and wait until its process is gone.
    Closes this process's client sessions first and removes the token."""
    from foundation.spark import release_remote_sessions

    release_remote_sessions()
    port = settings.spark_connect_port
    pid = _read_pid(settings)
    pids = set(_servers_on_port(port))
    if pid is not None and _alive(pid) and _is_our_server(pid, port):
        pids.add(pid)
        if run_dir(settings).exists():
            subprocess.run(
                [str(spark_home() / "sbin" / "stop-connect-server.sh")],
                env=_server_env(settings),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout_s,
                start_new_session=True,
                check=False,
            )
    for other in pids:  # left without a pid file (or stop-connect-server.sh did not end it)
        with contextlib.suppress(ProcessLookupError):
            if _alive(other):
                os.kill(other, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while (any(_alive(p) for p in pids) or (pids and port_open(port))) and time.monotonic() < deadline:
        time.sleep(0.2)
    for other in pids:
        if _alive(other):
            log.warning("the Spark Connect server (pid %d) did not stop in %.0f s; killing it", other, timeout_s)
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, signal.SIGKILL)
    token_file(settings).unlink(missing_ok=True)
    pid_file(settings).unlink(missing_ok=True)
    return {"stopped": bool(pids), "pid": min(pids) if pids else pid}
