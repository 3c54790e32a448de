"""`make bench`: ingest throughput per landing format, and the metrics jobs against their DuckDB
reference, on the configured Spark master (local[2]).

Ingest: each format gets its own data root with synthetic input for a few days, and its table's
ingest job runs twice over those days: the first run warms the JVM and Spark's caches and is not
counted, the second is timed. Events per second = records read (from the job's own
reconciliation summary) / seconds of the timed run.

Metrics: for each scale (about 1M, 3M and 10M staged events by default: contacts, agent events
and desktop events of a center over 30 days, written straight to the staged zone by
teamlens.synth.staged) the Spark jobs (agent_day and queue_day, writing their partitions) and
the DuckDB reference (jobs.metrics_duckdb, to Arrow, then Parquet) run on the same data; both
results must agree exactly. Spark's session start is measured once and reported apart (a DAG run
pays it once); a small warm-up run precedes the timed ones. Peak memory is the peak resident set
of the JVM (Spark, local mode) and of this Python process (DuckDB runs in it), reset before each
run.

Release (teamlens.bench_release, no Spark): seconds per differentially private release and the
median relative error against the exact values, for the standard release workload (200 agents
in 20 teams of 10, two sites, 30 days; see teamlens.bench_release), each labelled with its total
budget per agent over the 30 days; the peer libraries' workload (total pure epsilon 1, see
teamlens.bench_peer) beside their measured figures; the first release of a fresh process.

The last line printed is one JSON object for tools that collect benchmark results:
ingest_events_per_s, metrics_events, metrics_spark_events_per_s, metrics_duckdb_events_per_s,
metrics_results_equal, and details per scale; release_seconds (warm, median), release_seconds_max,
release_first_seconds (fresh process), release_median_rel_error, release_details and
release_peer_workload. Speed targets are reported, never enforced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foundation import lake
from foundation.settings import Settings, load_settings

BENCH_KEY = "benchmark-only-key-not-a-secret-0123456789"
START = dt.date(2026, 10, 5)

RunJob = Callable[[Any, Settings, list[dt.date]], dict[str, Any]]


def _settings(root: Path) -> Settings:
    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(root),
            "TEAMLENS_PSEUDONYM_KEY": BENCH_KEY,
            "TEAMLENS_RUN_BY": "bench",
            "TEAMLENS_MAX_BAD_ROW_SHARE": "1",
        }
    )


def _roster(landing: Path, agents: int) -> list[dict[str, str]]:
    rows = [
        {
            "employee_id": f"E{i:05d}",
            "connect_username": f"agent{i:05d}",
            "asterisk_agent": f"{1000 + i}",  # the channel rule's identifier (SIP/1000 -> 1000)
            "genesys_user_id": f"u-{i:05d}",
            "desktop_host": f"pc-{i:05d}",
            "team": f"team-{i % 10}",
            "site": "Berlin",
            "site_timezone": "Europe/Berlin",
        }
        for i in range(agents)
    ]
    path = landing / lake.ROSTER_IN_LANDING
    path.parent.mkdir(parents=True, exist_ok=True)
    header = list(rows[0])
    path.write_text(",".join(header) + "\n" + "".join(",".join(r[c] for c in header) + "\n" for r in rows))
    return rows


def _ingest(table_name: str, desktop_rules: Any = None) -> RunJob:
    """The ingest job of one canonical table (jobs.ingest.run_table), as _timed runs it."""
    from foundation import schema
    from jobs import ingest

    table = schema.ALL_TABLES[table_name]
    return lambda spark, settings, days: ingest.run_table(spark, settings, table, days, desktop_rules)


def _timed(spark: Any, settings: Settings, days: list[dt.date], job: RunJob) -> tuple[int, float]:
    job(spark, settings, days)  # warm-up, not counted
    began = time.perf_counter()
    summary = job(spark, settings, days)
    return int(summary["read"]), time.perf_counter() - began


def bench_generated(spark: Any, root: Path, agents: int, days: int) -> dict[str, tuple[int, float]]:
    """Amazon Connect CTRs and agent events, ActivityWatch and the schedules, from the demo generator."""
    from foundation.policy import load_policy
    from teamlens.generator import generate_center

    settings = _settings(root)
    rules = load_policy(settings.policy_path).desktop_rules()
    generate_center(settings.lake.landing, agents=agents, teams=max(2, agents // 12), sites=2, days=days, start=START)
    span = [START + dt.timedelta(days=i) for i in range(days)]
    return {
        "connect_ctr": _timed(spark, settings, span, _ingest("contacts")),
        "connect_agent_events": _timed(spark, settings, span, _ingest("agent_events")),
        "activitywatch": _timed(spark, settings, span, _ingest("desktop_activity", rules)),
        "schedules": _timed(spark, settings, span, _ingest("schedules")),
    }


def bench_synthesized(spark: Any, root: Path, agents: int, days: int, calls: int) -> dict[str, tuple[int, float]]:
    """The other telephony formats, written by teamlens.synth from one roster."""
    from teamlens.synth.asterisk import synth_cdr, synth_queue_log
    from teamlens.synth.flat import synth_flat_calls
    from teamlens.synth.genesys import synth_conversations

    out: dict[str, tuple[int, float]] = {}
    # format -> (landing folder, writer, roster identifier column the writer's agent ids fill)
    writers: dict[str, tuple[str, Callable[..., int], str]] = {
        "asterisk_queue_log": ("asterisk_queue_log", synth_queue_log, "asterisk_agent"),
        "asterisk_cdr": ("asterisk_cdr", synth_cdr, "asterisk_agent"),
        "genesys_conversations": ("genesys_conversations", synth_conversations, "genesys_user_id"),
        "flat_calls": ("flat_calls/bench", synth_flat_calls, "employee_id"),
    }
    for name, (folder, write, identity) in writers.items():
        settings = _settings(root / name)
        roster = _roster(settings.lake.landing, agents)
        ids = [r[identity] for r in roster]
        span = [START + dt.timedelta(days=i) for i in range(days)]
        for seed, day in enumerate(span):
            write(lake.partition(settings.lake.landing / folder, day), day, ids, calls, seed)
        out[name] = _timed(spark, settings, span, _ingest("contacts"))
    return out


def _peak_rss_bytes(pid: int | None) -> int | None:
    """Peak resident set (VmHWM) of a process since its last reset, where Linux reports it."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss(pid: int | None) -> None:
    if pid is not None:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass


def _jvm_pid(spark: Any) -> int | None:
    """The driver JVM's pid; in local mode the executors run in it."""
    if not spark.sparkContext.master.startswith("local"):
        return None
    return int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())


def _metrics_once(spark: Any, settings: Settings, span: list[dt.date]) -> tuple[float, float, bool]:
    """(Spark seconds, DuckDB seconds, equal) for one staged data set."""
    import os

    import pyarrow.parquet as pq

    from foundation import schema
    from jobs import agent_day, metrics_duckdb, queue_day

    began = time.perf_counter()
    agent_day.run(spark, settings, span)
    queue_day.run(spark, settings, span)
    spark_seconds = time.perf_counter() - began

    began = time.perf_counter()
    reference = metrics_duckdb.compute(settings, span, threads=os.cpu_count())
    out = settings.data_root / "duckdb-reference"
    out.mkdir(exist_ok=True)
    for name, table in reference.items():
        pq.write_table(table, out / f"{name}.parquet")
    duckdb_seconds = time.perf_counter() - began

    equal = True
    for table in schema.METRIC_TABLES.values():
        written = metrics_duckdb.read_spark_output(settings, table, span)
        diff = metrics_duckdb.differences(reference[table.name], written)
        if diff:
            equal = False
            print(f"    {table.name}: Spark and DuckDB differ: {diff}")
    return spark_seconds, duckdb_seconds, equal


def bench_metrics(spark: Any, root: Path, scales: list[int], days: int) -> dict[str, Any]:
    """Spark metrics jobs against the DuckDB reference at each scale (events)."""
    import os

    from teamlens.synth.staged import agents_and_days_for, write_staged

    jvm = _jvm_pid(spark)
    warm = _settings(root / "warm-up")
    write_staged(warm.lake.staged, 10, 2, START)
    _metrics_once(spark, warm, [START, START + dt.timedelta(days=1)])

    rows: list[dict[str, Any]] = []
    for target in scales:
        agents, span_days = agents_and_days_for(target, days)
        settings = _settings(root / f"scale-{target}")
        events = write_staged(settings.lake.staged, agents, span_days, START)
        span = [START + dt.timedelta(days=i) for i in range(span_days)]
        _reset_peak_rss(jvm)
        _reset_peak_rss(os.getpid())
        spark_s, duckdb_s, equal = _metrics_once(spark, settings, span)
        row = {
            "events": events,
            "agents": agents,
            "days": span_days,
            "spark_seconds": round(spark_s, 2),
            "duckdb_seconds": round(duckdb_s, 2),
            "spark_events_per_s": round(events / spark_s, 1),
            "duckdb_events_per_s": round(events / duckdb_s, 1),
            "spark_over_duckdb": round(spark_s / duckdb_s, 2),
            "spark_seconds_per_million": round(spark_s / events * 1e6, 2),
            "jvm_peak_rss_mb": (_peak_rss_bytes(jvm) or 0) // 2**20 or None,
            "python_peak_rss_mb": (_peak_rss_bytes(os.getpid()) or 0) // 2**20 or None,
            "equal": equal,
        }
        rows.append(row)
        print(
            f"  {events:>11,} events ({agents} agents x {span_days} days): Spark {spark_s:6.1f} s "
            f"({row['spark_events_per_s']:>10,.0f}/s, {row['spark_seconds_per_million']} s per M), "
            f"DuckDB {duckdb_s:6.1f} s ({row['duckdb_events_per_s']:>10,.0f}/s), "
            f"ratio {row['spark_over_duckdb']}x, peak JVM {row['jvm_peak_rss_mb']} MB, "
            f"Python {row['python_peak_rss_mb']} MB, equal: {equal}"
        )
        shutil.rmtree(settings.data_root, ignore_errors=True)
    largest = rows[-1]
    return {
        "metrics_events": largest["events"],
        "metrics_spark_events_per_s": largest["spark_events_per_s"],
        "metrics_duckdb_events_per_s": largest["duckdb_events_per_s"],
        "metrics_results_equal": all(r["equal"] for r in rows),
        "metrics_scales": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="teamlens-bench", description=__doc__)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--calls-per-day", type=int, default=5000, help="calls per day for synthesized formats")
    parser.add_argument(
        "--metrics-events",
        default="1000000,3000000,10000000",
        help="comma-separated scales (staged events) of the metrics benchmark",
    )
    parser.add_argument("--metrics-days", type=int, default=30, help="days of the metrics benchmark's center")
    parser.add_argument("--only", choices=("ingest", "metrics", "release"), help="run one part only")
    args = parser.parse_args(argv)

    summary: dict[str, Any] = {}
    spark: Any = None
    if args.only != "release":  # the release benchmark needs no Spark
        from foundation.spark import spark_session

        began = time.perf_counter()
        spark = spark_session(load_settings(), app_name="teamlens-bench", classic=True)  # reads the JVM
        session_start = time.perf_counter() - began
        print(f"Spark master {spark.sparkContext.master}; session start {session_start:.1f} s (not counted below)")
        summary["spark_session_start_s"] = round(session_start, 2)
    with tempfile.TemporaryDirectory(prefix="teamlens-bench-") as tmp:
        if args.only in (None, "ingest"):
            print(f"Ingest: {args.agents} agents, {args.days} days")
            results = bench_generated(spark, Path(tmp) / "generated", args.agents, args.days)
            results |= bench_synthesized(spark, Path(tmp) / "synth", args.agents, args.days, args.calls_per_day)
            rates: dict[str, float] = {}
            for fmt, (records, seconds) in results.items():
                rates[fmt] = round(records / seconds, 1) if seconds > 0 else 0.0
                print(f"  {fmt:<24} {records:>9,} records in {seconds:6.1f} s = {rates[fmt]:>10,.0f} events/s")
            summary["ingest_events_per_s"] = rates
        if args.only in (None, "metrics"):
            scales = [int(float(s)) for s in args.metrics_events.split(",") if s.strip()]
            print(f"Metrics (agent_day + queue_day), Spark against the DuckDB reference, {args.metrics_days} days")
            summary |= bench_metrics(spark, Path(tmp) / "metrics", scales, args.metrics_days)
        if args.only in (None, "release"):
            from teamlens.bench_release import bench_release

            print("Release (OpenDP, through the accountant and ledger): errors, seconds per release")
            summary |= bench_release(Path(tmp) / "release")
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
