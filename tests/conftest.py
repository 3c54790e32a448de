"""Test setup: Airflow's home and the data root in temporary folders, one Spark session."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers import TEST_CHECKPOINT_KEY, TEST_KEY

# Before anything imports airflow: never create ~/airflow, never load the examples.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="teamlens-test-airflow-")
os.environ.setdefault("AIRFLOW_HOME", _AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).resolve().parent.parent / "dags"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("TEAMLENS_SHUFFLE_PARTITIONS", "2")
os.environ.setdefault("TEAMLENS_SPARK_DRIVER_MEMORY", "2g")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from foundation.settings import load_settings
    from foundation.spark import spark_session

    session = spark_session(load_settings({"TEAMLENS_SPARK_MASTER": "local[2]"}), app_name="teamlens-tests")
    yield session
    session.stop()
    # py4j logs from __del__ at interpreter exit, after pytest closed the streams.
    logging.getLogger("py4j").setLevel(logging.WARNING)


@pytest.fixture
def settings(tmp_path):
    """Settings whose data root is a fresh temporary folder."""
    from foundation.settings import load_settings

    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(tmp_path / "data"),
            "TEAMLENS_PSEUDONYM_KEY": TEST_KEY,
            "TEAMLENS_CHECKPOINT_KEY": TEST_CHECKPOINT_KEY,
            "TEAMLENS_RUN_BY": "test",
        }
    )


@pytest.fixture(scope="session")
def policy():
    from foundation.policy import load_policy
    from foundation.settings import REPO_ROOT

    return load_policy(REPO_ROOT / "foundation" / "policy.yaml")
