"""The cluster check's pure helpers: free ports, the command lines of PostgreSQL and Spark."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

from teamlens import cluster_check as cc


def test_free_port_is_a_loopback_port_nothing_listens_on() -> None:
    port = cc.free_port()
    assert 1024 <= port <= 65535
    assert not cc.is_listening(port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind((cc.LOOPBACK, port))
        server.listen()
        assert cc.is_listening(port)


def test_postgres_runs_as_the_postgres_user_only_through_runuser() -> None:
    data, sockets = Path("/t/data"), Path("/t/sock")
    assert cc.postgres_command(data, 5433, sockets, None) == [
        "postgres", "-D", "/t/data", "-p", "5433", "-h", "127.0.0.1", "-k", "/t/sock", "-c", "fsync=off",
    ]  # fmt: skip
    as_postgres = cc.postgres_command(data, 5433, sockets, "postgres")
    assert as_postgres[:4] == ["runuser", "-u", "postgres", "--"]
    assert as_postgres[4:] == cc.postgres_command(data, 5433, sockets, None)
    assert cc.initdb_command(data, None)[:5] == ["initdb", "-D", "/t/data", "-U", "postgres"]


def test_spark_master_and_worker_listen_on_loopback_with_the_given_ports() -> None:
    spark_class = Path("/venv/bin/spark-class")
    assert cc.spark_master_command(spark_class, 7077, 8081) == [
        "/venv/bin/spark-class", "org.apache.spark.deploy.master.Master",
        "--host", "127.0.0.1", "--port", "7077", "--webui-port", "8081",
    ]  # fmt: skip
    worker = cc.spark_worker_command(spark_class, "spark://127.0.0.1:7077", 7078, 8082, Path("/t/w1"))
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
