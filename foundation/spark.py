"""The one place a SparkSession is built: master URL and tuning come from the settings.

Two kinds of session:
- classic (the default): a local or cluster SparkSession in this process, built from spark_conf();
- Spark Connect: when TEAMLENS_SPARK_CONNECT=per_run and the DAG run's server is up (its setup task
  started it, foundation.spark_connect), a thin client of that server, which was started with the
  same spark_conf(). Connect sessions have no sparkContext and take no static confs.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from foundation.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Spark Connect sessions this process opened, by URL (the URL holds the run's token: never log it).
_remote_sessions: dict[str, Any] = {}


def spark_conf(settings: Settings) -> dict[str, str]:
    """The Spark configuration of every session: the classic builder and the Connect server's command.

    Sessions use UTC so that timestamps mean the same on every machine; site-local days are
    computed explicitly from the roster's time zones.
    """
    # The repository's log4j configuration: Spark's notes go to stdout at WARN (LOG4J_CONFIG).
    jvm_options = f"{os.environ.get('TEAMLENS_SPARK_JVM_OPTIONS', '-XX:+UseParallelGC')} {log4j_option()}"
    return base_conf(jvm_options) | cluster_conf(settings)


def cluster_conf(settings: Settings) -> dict[str, str]:
    """What an application may take of a cluster: spark.cores.max (TEAMLENS_SPARK_CORES_MAX) and
    spark.executor.memory (TEAMLENS_SPARK_EXECUTOR_MEMORY), when set and the master is a cluster.
    A standalone master otherwise gives one application every free core, so one DAG run's task
    could starve another's."""
    if settings.spark_master.startswith("local"):
        return {}
    conf: dict[str, str] = {}
    if settings.spark_cores_max is not None:
        conf["spark.cores.max"] = str(settings.spark_cores_max)
    if settings.spark_executor_memory is not None:
        conf["spark.executor.memory"] = settings.spark_executor_memory
    return conf


def base_conf(jvm_options: str) -> dict[str, str]:
    """The settings every session has, on every master."""
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": os.environ.get("TEAMLENS_SHUFFLE_PARTITIONS", "4"),
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.adaptive.enabled": "true",
        "spark.driver.memory": os.environ.get("TEAMLENS_SPARK_DRIVER_MEMORY", "4g"),
        # The throughput collector: batch jobs need no short pauses, and on 2 cores G1's concurrent
        # work competes with the tasks (measured: agent_day at 10M events 58 s -> 47 s warm).
        "spark.driver.extraJavaOptions": jvm_options,
        "spark.executor.extraJavaOptions": jvm_options,
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Parquet timestamps as INT64 microseconds (UTC), as Arrow, Polars and DuckDB read them.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    }


# Where Spark logs: stdout at WARN, quiet about notes that are not the operator's business. Airflow
# labels a task's stderr lines ERROR, so Spark's default (stderr) made a clean task log look failed.
LOG4J_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"


def log4j_option() -> str:
    """The JVM option that points log4j at LOG4J_CONFIG (it also silences Spark's start-up banner)."""
    return f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}"


def local_spark_env(settings: Settings) -> dict[str, str]:
    """Environment of a local Spark driver: loopback only, and Python workers (UDFs) run this
    interpreter, which has the project's packages; on a cluster the executors' Python is the
    cluster's configuration."""
    if not settings.spark_master.startswith("local"):
        return {}
    return {
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
    }


def spark_session(settings: Settings | None = None, app_name: str = "teamlens", classic: bool = False) -> SparkSession:
    """The SparkSession of this task: the DAG run's Spark Connect server when TEAMLENS_SPARK_CONNECT=per_run
    and the run's server is up, otherwise a classic session of this process (get or create).

    classic=True always gives a classic session (the benchmark reads the driver's JVM).
    """
    settings = settings or load_settings()
    if not classic and settings.spark_connect == "per_run":
        from foundation import spark_connect

        url = spark_connect.remote_url(settings)
        if url is not None and spark_connect.is_running(settings):
            log.info("Spark session: Spark Connect server of this run (localhost:%d)", settings.spark_connect_port)
            return _remote_session(url)
        log.warning(
            "TEAMLENS_SPARK_CONNECT=per_run but no Spark Connect server of this run is up under %s; "
            "using a classic session of this process",
            spark_connect.run_dir(settings),
        )
    return _classic_session(settings, app_name)


def _classic_session(settings: Settings, app_name: str) -> SparkSession:
    from pyspark.sql import SparkSession

    if _remote_sessions:
        # pyspark switches its functions to Connect process-wide while a Connect session is open.
        log.warning("closing this process's Spark Connect sessions before building a classic one")
        release_remote_sessions()
    for name, value in local_spark_env(settings).items():
        os.environ.setdefault(name, value)
    conf = spark_conf(settings)
    _start_jvm_with_stderr_on_stdout(settings.spark_master, app_name, conf)
    builder = SparkSession.builder.master(settings.spark_master).appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    log.info("Spark session: classic, master %s", settings.spark_master)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def _start_jvm_with_stderr_on_stdout(master: str, app_name: str, conf: dict[str, str]) -> None:
    """Start the driver's JVM (PySpark's gateway) with its stderr joined to its stdout, once per process.

    The JVM writes a start-up note to stderr that log4j does not route ("WARNING: Using incubator
    modules", from the module options Spark's launcher passes), and Airflow labels every stderr
    line of a task ERROR. PySpark's builder starts the gateway without Popen arguments, so it is
    started here with the same configuration (the driver's JVM options are spark-submit arguments)
    and the builder's SparkContext then reuses it. Spark's own logging goes to stdout anyway
    (LOG4J_CONFIG), so nothing is hidden: it is only no longer labelled an error.
    """
    import subprocess

    from pyspark import SparkConf
    from pyspark.core.context import SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:  # the JVM of this process is already up
        return
    spark_conf_ = SparkConf(loadDefaults=False).setMaster(master).setAppName(app_name)
    for key, value in conf.items():
        spark_conf_.set(key, value)
    gateway = launch_gateway(spark_conf_, popen_kwargs={"stderr": subprocess.STDOUT})
    SparkContext._ensure_initialized(gateway=gateway, conf=spark_conf_)


def _remote_session(url: str) -> SparkSession:
    """A Spark Connect session for url, one per URL and process.

    Not SparkSession.builder.remote(url).getOrCreate(): that returns whichever Connect session is
    this process's default, even one of another URL (a previous run's server), and it refuses to
    run next to a classic session.
    """
    from pyspark.core.context import SparkContext
    from pyspark.sql.connect.session import SparkSession as RemoteSparkSession

    if SparkContext._active_spark_context is not None:
        raise RuntimeError(
            "a classic SparkSession is running in this process; a Spark Connect session cannot run next to it "
            "(pyspark switches its functions to Connect process-wide). Stop the classic session first."
        )
    session = _remote_sessions.get(url)
    if session is not None and not session.is_stopped:
        return session  # type: ignore[no-any-return]
    release_remote_sessions()
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"  # what builder.remote() sets: pyspark.sql.functions -> Connect
    session = RemoteSparkSession.builder.remote(url).create()
    _remote_sessions[url] = session
    # The Connect session implements the classic session's API (pyspark's own builder.remote() returns it so).
    return cast("SparkSession", session)


def release_remote_sessions() -> int:
    """Close the Spark Connect sessions of this process (before its server stops, or before a classic
    session); returns how many were open."""
    count = 0
    while _remote_sessions:
        _, session = _remote_sessions.popitem()
        count += 1
        try:
            session.stop()
        except Exception as exc:  # the server may be gone already
            log.warning("closing a Spark Connect session failed: %s", type(exc).__name__)
    if count:
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
    return count
