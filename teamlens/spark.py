"""The one place a SparkSession is built: master URL and tuning come from the settings."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from teamlens.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(settings: Settings | None = None, app_name: str = "teamlens") -> SparkSession:
    """Get or create the process's SparkSession (one per DAG run when tasks share a process).

    Sessions use UTC so that timestamps mean the same on every machine; site-local days are
    computed explicitly from the roster's time zones.
    """
    from pyspark.sql import SparkSession

    settings = settings or load_settings()
    if settings.spark_master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python workers (UDFs) run this interpreter, which has the project's packages; on a
        # cluster the executors' Python is the cluster's configuration.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("TEAMLENS_SHUFFLE_PARTITIONS", "4"))
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.driver.memory", os.environ.get("TEAMLENS_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Parquet timestamps as INT64 microseconds (UTC), as Arrow, Polars and DuckDB read them.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
