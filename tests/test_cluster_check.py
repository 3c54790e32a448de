"""The cluster check's helpers: free ports, the command lines of PostgreSQL and Spark, where PostgreSQL's
programs are found, how processes are stopped, and how a failing or overrunning step is reported."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from foundation.policy import load_policy
from teamlens import cluster_check as cc
from teamlens import local_cluster as lc


def test_free_port_is_a_loopback_port_nothing_listens_on() -> None:
    port = lc.free_port()
    assert 1024 <= port <= 65535
    assert not lc.is_listening(port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind((lc.LOOPBACK, port))
        server.listen()
        assert lc.is_listening(port)


def test_postgres_runs_as_the_postgres_user_only_through_runuser() -> None:
    data, sockets = Path("/t/data"), Path("/t/sock")
    assert cc.postgres_command("/pg/postgres", data, 5433, sockets, None) == [
        "/pg/postgres", "-D", "/t/data", "-p", "5433", "-h", "127.0.0.1", "-k", "/t/sock", "-c", "fsync=off",
    ]  # fmt: skip
    as_postgres = cc.postgres_command("/pg/postgres", data, 5433, sockets, "postgres")
    assert as_postgres[:4] == ["runuser", "-u", "postgres", "--"]
    assert as_postgres[4:] == cc.postgres_command("/pg/postgres", data, 5433, sockets, None)
    assert cc.initdb_command("/pg/initdb", data, None)[:5] == ["/pg/initdb", "-D", "/t/data", "-U", "postgres"]


def test_spark_master_and_worker_listen_on_loopback_with_the_given_ports() -> None:
    spark_class = Path("/venv/bin/spark-class")
    assert lc.spark_master_command(spark_class, 7077, 8081) == [
        "/venv/bin/spark-class", "org.apache.spark.deploy.master.Master",
        "--host", "127.0.0.1", "--port", "7077", "--webui-port", "8081",
    ]  # fmt: skip
    worker = lc.spark_worker_command(spark_class, "spark://127.0.0.1:7077", 7078, 8082, Path("/t/w1"))
    assert worker == [
        "/venv/bin/spark-class", "org.apache.spark.deploy.worker.Worker", "spark://127.0.0.1:7077",
        "--host", "127.0.0.1", "--port", "7078", "--webui-port", "8082",
        "--cores", "1", "--memory", "1g", "--work-dir", "/t/w1",
    ]  # fmt: skip


def test_airflow_metadata_url_names_psycopg2_on_loopback() -> None:
    assert cc.postgres_url(5433) == "postgresql+psycopg2://postgres@127.0.0.1:5433/airflow"


def test_table_rows_compare_two_data_roots_by_their_content(tmp_path: Path) -> None:
    import duckdb

    def write(root: Path, amount: int) -> Path:
        table = root / "staged" / "contacts" / "day=2026-10-05"
        table.mkdir(parents=True)
        source = f"file://{root.resolve()}/landing/x.jsonl"
        with duckdb.connect() as con:
            query = f"SELECT {amount} AS amount, '{source}' AS source_file"
            con.execute(f"COPY ({query}) TO '{table / 'part-0.parquet'}' (FORMAT PARQUET)")
        return root

    one, two, other = write(tmp_path / "one", 7), write(tmp_path / "two", 7), write(tmp_path / "other", 8)
    rows = cc.table_rows(one / "staged" / "contacts", one)
    assert rows == [(7, "file://<data root>/landing/x.jsonl", dt.date(2026, 10, 5))]
    assert rows == cc.table_rows(two / "staged" / "contacts", two)
    assert rows != cc.table_rows(other / "staged" / "contacts", other)


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_postgres_programs_come_from_path_first_then_debians_newest_version(tmp_path: Path) -> None:
    on_path = _executable(tmp_path / "path" / "initdb")
    _executable(tmp_path / "lib" / "13" / "bin" / "initdb")
    newest = _executable(tmp_path / "lib" / "16" / "bin" / "initdb")
    debian = str(tmp_path / "lib" / "*" / "bin")
    assert lc.postgres_program("initdb", str(on_path.parent), debian) == str(on_path)
    assert lc.postgres_program("initdb", str(tmp_path / "empty"), debian) == str(newest)
    with pytest.raises(FileNotFoundError, match="apt-get install postgresql"):
        lc.postgres_program("pg_ctl", str(tmp_path / "empty"), debian)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_stop_all_stops_each_group_and_the_processes_it_started(tmp_path: Path) -> None:
    processes = lc.Processes()
    shell = processes.start("shell", ["sh", "-c", "sleep 60 & sleep 60"], dict(os.environ), tmp_path / "sh.log")
    lc.wait_for("the two sleeps", lambda: len(lc.descendants(shell.pid)) == 2, 10, interval=0.1)
    children = lc.descendants(shell.pid)
    processes.stop_all(grace_seconds=5)
    assert shell.poll() is not None
    assert not [pid for pid in children if _running(pid)]
    assert processes.started == []


def test_the_total_timeout_interrupts_a_running_step_and_stops_its_process(tmp_path: Path) -> None:
    """SIGALRM's handler raises inside Processes.run: the process is stopped by its id before the
    failure reaches main, which names the step."""
    check = cc.Check(tmp_path)
    previous = signal.signal(signal.SIGALRM, cc._timed_out(1))
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(cc.StepFailed) as failure:
            check.step("Sleep", lambda: check.processes.run("sleep", ["sleep", "30"], dict(os.environ), tmp_path / "s"))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 20
    assert "step 'Sleep' failed" in str(failure.value) and "total timeout of 1 s" in str(failure.value)
    assert check.processes.started == []
    assert subprocess.run(["pgrep", "-x", "-P", str(os.getpid()), "sleep"], check=False).returncode == 1


def test_a_failing_python_step_names_the_step_and_shows_the_end_of_its_log(tmp_path: Path) -> None:
    check = cc.Check(tmp_path)
    code = "print('the line before'); raise SystemExit(3)"
    with pytest.raises(cc.StepFailed, match=r"(?s)step 'Generate' failed .*exit code 3.*the line before"):
        check.step("Generate", lambda: check.python(code, dict(os.environ), tmp_path / "gen.log"))


def test_the_check_reads_its_own_policy_not_a_test_fixture() -> None:
    assert cc.POLICY.parent.name == "teamlens" and cc.POLICY.is_file()
    policy = load_policy(cc.POLICY)
    assert [r.window for r in policy.releases] == ["week", "day"]


def test_arguments_keep_and_timeout() -> None:
    assert cc.parse_args([]).timeout == cc.TOTAL_TIMEOUT_SECONDS and not cc.parse_args([]).keep
    assert cc.parse_args(["--keep", "--timeout", "60"]).timeout == 60


def test_compare_zones_accepts_only_the_tables_the_check_generates_no_input_for(tmp_path: Path) -> None:
    """survey_answers is empty in both runs (no survey export in 3 generated days); any other table
    empty in both would make the comparison vacuous and is reported."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from teamlens.cluster_check import compare_zones

    roots = [tmp_path / "cluster", tmp_path / "local"]
    for root in roots:
        for table in ("contacts", "survey_answers", "schedules"):
            (root / "staged" / table / "day=2026-10-05").mkdir(parents=True)
        pq.write_table(pa.table({"contact_id": ["c-1"]}), root / "staged" / "contacts" / "day=2026-10-05" / "p.parquet")
        (root / "metrics" / "agent_day" / "day=2026-10-05").mkdir(parents=True)
        pq.write_table(pa.table({"agents": [1]}), root / "metrics" / "agent_day" / "day=2026-10-05" / "p.parquet")
    assert compare_zones(*roots) == ["staged/schedules: no rows in either run"]
