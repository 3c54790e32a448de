"""The Spark metric jobs and the DuckDB reference agree exactly on a small synthetic staged center
(the benchmark's data shape: shifts, breaks, meetings, schedules, overlapping desktop events)."""

from __future__ import annotations

import datetime as dt

from jobs import agent_day, metrics_duckdb, queue_day
from teamlens import schema
from teamlens.settings import load_settings
from teamlens.synth.staged import write_staged

START = dt.date(2026, 10, 5)


def test_spark_and_duckdb_agree_on_a_synthetic_center(spark, tmp_path):
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_PSEUDONYM_KEY": "k" * 32})
    days = [START, START + dt.timedelta(days=1)]
    write_staged(settings.staged, agents=12, days=len(days), start=START)
    agent_day.run(spark, settings, days)
    queue_day.run(spark, settings, days)
    reference = metrics_duckdb.compute(settings, days)
    for table in schema.METRIC_TABLES.values():
        written = metrics_duckdb.read_spark_output(settings, table, days)
        assert metrics_duckdb.differences(reference[table.name], written) == [], table.name
    rows = reference["agent_day"].to_pylist()
    assert len(rows) == 24
    # Every agent keeps the synthetic schedule (teamlens.synth.staged.SCHEDULE) except for training
    # 10 minutes late: 410-420 scheduled training while available, 440-450 training while
    # scheduled to work. Worked: 495 staffed minutes less 45 on break; scheduled work 480 - 45.
    got = {(r["scheduled_seconds"], r["in_adherence_seconds"], r["worked_seconds"], r["conformance"]) for r in rows}
    assert got == {(480 * 60, 460 * 60, 450 * 60, 450 / 435)}
