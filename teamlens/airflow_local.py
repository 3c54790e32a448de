"""Airflow on one machine: the environment (SQLite metadata under var/airflow, the repository's DAGs,
loopback only), its database created once, and one DAG run over a span of days."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from foundation.settings import REPO_ROOT, Settings

DAG_ID = "teamlens_daily"


def airflow_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Airflow on one machine: SQLite metadata in var/airflow, our DAGs, loopback only."""
    env = dict(os.environ if base is None else base)
    env.setdefault("AIRFLOW_HOME", str(REPO_ROOT / "var" / "airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "2")
    env.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env["TEAMLENS_DATA_ROOT"] = str(settings.data_root)
    return env


def airflow(args: list[str], env: dict[str, str]) -> int:
    """Run the environment's `airflow` command; its exit code."""
    executable = Path(sys.executable).parent / "airflow"
    return subprocess.call([str(executable), *args], env=env)


def ensure_airflow_db(env: dict[str, str]) -> None:
    """Create or upgrade Airflow's SQLite metadata database once (skipped when up to date)."""
    home = Path(env["AIRFLOW_HOME"])
    stamp = home / ".teamlens-db-migrated"
    if stamp.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    rc = airflow(["db", "migrate"], env)
    if rc != 0:
        raise SystemExit(f"airflow db migrate failed with exit code {rc}")
    stamp.write_text("ok\n")


def run_dag(settings: Settings, first_day: dt.date, last_day: dt.date) -> int:
    """One DAG run over [first_day, last_day] in one process (one Spark session)."""
    env = airflow_env(settings)
    ensure_airflow_db(env)
    conf = json.dumps({"first_day": first_day.isoformat(), "last_day": last_day.isoformat()})
    logical = dt.datetime.combine(last_day, dt.time(), tzinfo=dt.UTC).isoformat()
    print(f"Running DAG {DAG_ID} over {first_day} .. {last_day} (airflow dags test) ...", flush=True)
    return airflow(["dags", "test", DAG_ID, logical, "--conf", conf], env)
