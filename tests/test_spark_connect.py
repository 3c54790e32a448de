"""One Spark Connect server per DAG run (TEAMLENS_SPARK_CONNECT=per_run): settings, and a real round trip."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from foundation import spark_connect
from foundation.settings import REPO_ROOT, Settings, load_settings
from teamlens import pipeline

FIXTURES = Path(__file__).parent / "fixtures" / "jobs"
KEY = "pipeline-test-key-0123456789abcdef"
DAY = dt.date(2026, 10, 5)


def test_spark_connect_is_off_by_default() -> None:
    settings = load_settings({})
    assert settings.spark_connect == "off"
    assert settings.spark_connect_port == 15002
    assert pipeline.start_spark(settings) == {"mode": "off"}
    assert pipeline.stop_spark(settings) == {"mode": "off"}


def test_spark_connect_settings() -> None:
    settings = load_settings({"TEAMLENS_SPARK_CONNECT": "Per_Run", "TEAMLENS_SPARK_CONNECT_PORT": "15099"})
    assert (settings.spark_connect, settings.spark_connect_port) == ("per_run", 15099)
    with pytest.raises(ValueError, match="TEAMLENS_SPARK_CONNECT must be one of off, per_run"):
        load_settings({"TEAMLENS_SPARK_CONNECT": "always"})
    for bad in ("0", "70000", "http"):
        with pytest.raises(ValueError, match="TEAMLENS_SPARK_CONNECT_PORT"):
            load_settings({"TEAMLENS_SPARK_CONNECT_PORT": bad})


def test_without_a_running_server_the_session_is_classic(tmp_path, monkeypatch) -> None:
    """per_run but no server of this run (no token file): no remote URL, spark_session falls back."""
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_SPARK_CONNECT": "per_run"})
    assert spark_connect.remote_url(settings) is None
    assert not spark_connect.is_running(settings)
    assert spark_connect.stop_server(settings) == {"stopped": False, "pid": None}


def test_server_command_uses_the_shared_conf(tmp_path) -> None:
    from foundation.spark import spark_conf

    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_SPARK_CONNECT_PORT": "15077"})
    cmd = spark_connect.server_command(settings)
    assert cmd[0].endswith("sbin/start-connect-server.sh")
    assert "spark.connect.grpc.binding.address=127.0.0.1" in cmd
    assert "spark.connect.grpc.binding.port=15077" in cmd
    conf = spark_conf(settings)
    assert cmd[cmd.index("--driver-memory") + 1] == conf.pop("spark.driver.memory")
    for key, value in conf.items():
        assert f"{key}={value}" in cmd
    assert not any("token" in part for part in cmd)  # the token goes through the environment


def test_a_remote_session_never_runs_next_to_a_classic_one(tmp_path, monkeypatch) -> None:
    """pyspark switches its functions to Connect process-wide: refuse instead of mixing."""
    from pyspark.core.context import SparkContext

    from foundation import spark

    monkeypatch.setattr(SparkContext, "_active_spark_context", object())
    with pytest.raises(RuntimeError, match="classic SparkSession is running"):
        spark._remote_session("sc://localhost:1/;token=t")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_addresses(port: int) -> set[str]:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()}


def client_checks(settings: Settings) -> dict[str, Any]:
    """Through spark_session(settings): a tiny query and one small real job (in this process)."""
    from pyspark.sql import functions as F

    from foundation.spark import release_remote_sessions, spark_session
    from jobs import staged_roster

    spark = spark_session(settings)
    again = spark_session(settings)
    try:
        return {
            "module": type(spark).__module__,
            "same_session": again is spark,
            "sum": spark.range(10).select(F.sum("id")).first()[0],
            "roster": staged_roster.run(spark, settings, [DAY]),
        }
    finally:
        release_remote_sessions()


@pytest.fixture
def connect_server(tmp_path, monkeypatch) -> Iterator[Settings]:
    """A started server for a tmp data root; always stopped, and checked gone, afterwards."""
    monkeypatch.setenv("TEAMLENS_SPARK_DRIVER_MEMORY", "1g")
    root = tmp_path / "data"
    shutil.copytree(FIXTURES / "landing", root / "landing")
    settings = load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(root),
            "TEAMLENS_PSEUDONYM_KEY": KEY,
            "TEAMLENS_RUN_BY": "test",
            "TEAMLENS_MAX_BAD_ROW_SHARE": "1",
            "TEAMLENS_SPARK_MASTER": "local[1]",
            "TEAMLENS_SPARK_CONNECT": "per_run",
            "TEAMLENS_SPARK_CONNECT_PORT": str(_free_port()),
        }
    )
    try:
        yield settings
    finally:
        stopped = pipeline.stop_spark(settings)
        assert not spark_connect.port_open(settings.spark_connect_port)
        if stopped.get("pid"):
            assert not spark_connect._alive(stopped["pid"])


@pytest.mark.slow
def test_round_trip_through_a_per_run_server(connect_server: Settings) -> None:
    from pyspark.core.context import SparkContext
    from pyspark.sql.connect.session import SparkSession as RemoteSparkSession

    from foundation.spark import spark_session

    settings = connect_server
    port = settings.spark_connect_port
    started = pipeline.start_spark(settings)
    assert started["mode"] == "per_run" and started["port"] == port
    pid = started["pid"]
    assert spark_connect.is_running(settings)
    assert set(started) == {"mode", "port", "pid", "ready_s"}  # nothing secret goes to XCom

    # Loopback only, a private run folder, a user-only token that is not on the command line.
    assert _listening_addresses(port) <= {"127.0.0.1", "[::ffff:127.0.0.1]"}, _listening_addresses(port)
    assert stat.S_IMODE(spark_connect.token_file(settings).stat().st_mode) == 0o600
    assert stat.S_IMODE(spark_connect.run_dir(settings).stat().st_mode) == 0o700
    token = spark_connect.token_file(settings).read_text().strip()
    assert token.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()

    # The test process may hold the session-scoped classic session (tests/conftest.py): a Connect
    # session cannot run next to it, so then the client runs in a process of its own, like a task.
    if SparkContext._active_spark_context is None:
        got = client_checks(settings)
        assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ  # released: classic sessions work again
    else:
        with pytest.raises(RuntimeError, match="classic SparkSession is running"):
            spark_session(settings)
        code = (
            "import json, sys; from tests.test_spark_connect import client_checks; "
            "from foundation.settings import load_settings; "
            "print('RESULT=' + json.dumps(client_checks(load_settings()), default=str))"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMLENS_")}
        env |= {
            "TEAMLENS_DATA_ROOT": str(settings.data_root),
            "TEAMLENS_PSEUDONYM_KEY": KEY,
            "TEAMLENS_MAX_BAD_ROW_SHARE": "1",
            "TEAMLENS_SPARK_CONNECT": "per_run",
            "TEAMLENS_SPARK_CONNECT_PORT": str(port),
        }
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr[-3000:]
        got = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT="))[7:])
    assert got["module"] == "pyspark.sql.connect.session"
    assert got["same_session"] is True
    assert got["sum"] == 45
    assert got["roster"]["staged"] == 3, got["roster"]  # the three agents of the fixture roster
    assert any((settings.lake.staged / "roster").glob(f"day={DAY}/*.parquet"))

    # A wrong token is refused.
    wrong = RemoteSparkSession.builder.remote(f"sc://localhost:{port}/;token=wrong-{token[:4]}x").create()
    try:
        with pytest.raises(Exception, match=r"(?i)unauthenticated|authentication"):
            wrong.range(1).count()
    finally:
        wrong.stop()
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)

    # Setup cleans a server left by a crashed run: starting again replaces it.
    restarted = pipeline.start_spark(settings)
    assert restarted["pid"] != pid and not spark_connect._alive(pid)

    stopped = pipeline.stop_spark(settings)
    assert stopped == {"mode": "per_run", "stopped": True, "pid": restarted["pid"]}
    assert not spark_connect._alive(restarted["pid"])
    assert not spark_connect.port_open(port)
    assert not spark_connect.token_file(settings).exists()
    assert spark_connect.remote_url(settings) is None
