"""`teamlens airflow`: the UI's components start on 127.0.0.1 only, serve the DAGs, and stop as one group."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from pathlib import Path

import pytest

from foundation.settings import load_settings
from teamlens.airflow_ui import start_ui
from teamlens.cli import airflow_env, ensure_airflow_db


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


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_the_ui_serves_the_dags_on_loopback_and_stops_as_one_group(tmp_path: Path) -> None:
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path / "data")})
    env = airflow_env(settings, {"AIRFLOW_HOME": str(tmp_path / "airflow"), "PATH": os.environ.get("PATH", "")})
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
    finally:
        ui.stop()
    assert not group_alive(ui.process_group), "a component or worker outlived the stop"
