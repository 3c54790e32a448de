"""`make bench-cluster`: how the metrics job scales out on a Spark standalone cluster.

It writes the staged events of the metrics benchmark (teamlens.synth.staged.write_staged, as
`make bench` does: contacts, agent events, desktop events and schedules of a center over 30 days;
about 10M events by default) once, then for each configuration (1 worker, then 2, by default)
starts a Spark standalone master and that many workers on 127.0.0.1 (teamlens.local_cluster, as
`make test-cluster` does; each worker --cores and --memory), runs the metrics job as the pipeline
runs it (jobs.agent_day, then jobs.queue_day, in one Spark session on the cluster) once on a small
warm-up data set, not counted, and then times it on the staged events, and stops the cluster.
The application takes every core of the cluster (spark.cores.max = workers x cores) and executors
of the workers' memory (TEAMLENS_SPARK_CORES_MAX and TEAMLENS_SPARK_EXECUTOR_MEMORY).

It prints events, seconds, events per second per configuration and the speed-up over the first
configuration; the last line is one JSON object. It never fails on speed. On a machine with
fewer free cores than the largest configuration asks for, the workers share cores and the
speed-up says little.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from foundation.settings import Settings, load_settings
from teamlens.bench import BENCH_KEY, START
from teamlens.local_cluster import LOOPBACK, Processes, SparkCluster, start_spark_cluster

DEFAULT_EVENTS = 10_000_000
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Measurement:
    """One configuration's timed run of the metrics job."""

    workers: int
    cores_per_worker: int
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def _positive_ints(text: str) -> list[int]:
    """'1,2,4' -> [1, 2, 4]; each a whole number of 1 or more."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected whole numbers of 1 or more, got {text!r}")
    return values


def _events(text: str) -> int:
    """'10000000', '1e6' or '1_000_000' -> a number of events (at least 1)."""
    try:
        value = int(float(text.replace("_", "")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of events such as 1e6, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 event, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m teamlens.bench_cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=_events, default=DEFAULT_EVENTS, help="staged events (default 1e7)")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days of the center (default 30)")
    parser.add_argument(
        "--workers", type=_positive_ints, default=[1, 2], help="worker counts to measure, comma-separated (default 1,2)"
    )
    parser.add_argument("--cores", type=int, default=1, help="cores of each worker (default 1)")
    parser.add_argument("--memory", default="2g", help="memory of each worker and its executor (default 2g)")
    args = parser.parse_args(argv)
    if args.cores < 1 or args.days < 1:
        parser.error("--cores and --days must be 1 or more")
    return args


def format_results(measurements: Sequence[Measurement]) -> list[str]:
    """One line per configuration: workers x cores, events, seconds, events/s, speed-up over the first."""
    if not measurements:
        return []
    first = measurements[0]
    lines = []
    for m in measurements:
        speed_up = first.seconds / m.seconds if m.seconds > 0 else 0.0
        lines.append(
            f"  {m.workers} worker{'s' if m.workers != 1 else ' '} x {m.cores_per_worker} core"
            f"{'s' if m.cores_per_worker != 1 else ' '}: {m.events:>12,} events in {m.seconds:7.1f} s "
            f"= {m.events_per_second:>10,.0f} events/s, speed-up {speed_up:.2f}x"
        )
    return lines


def summary(measurements: Sequence[Measurement]) -> dict[str, Any]:
    """The JSON object of the last line: every configuration and the speed-up of the last over the first."""
    rows = [asdict(m) | {"events_per_s": round(m.events_per_second, 1)} for m in measurements]
    for row in rows:
        row["seconds"] = round(row["seconds"], 2)
    speed_up = measurements[0].seconds / measurements[-1].seconds if measurements and measurements[-1].seconds else None
    return {"cluster_metrics": rows, "cluster_speed_up": round(speed_up, 2) if speed_up else None}


def cluster_settings(data_root: Path, cluster: SparkCluster, workers: int, cores: int, memory: str) -> Settings:
    """Settings of a run on the cluster: every core of it, executors of the workers' memory."""
    return load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(data_root),
            "TEAMLENS_PSEUDONYM_KEY": BENCH_KEY,
            "TEAMLENS_RUN_BY": "bench",
            "TEAMLENS_SPARK_MASTER": cluster.master_url,
            "TEAMLENS_SPARK_CORES_MAX": str(workers * cores),
            "TEAMLENS_SPARK_EXECUTOR_MEMORY": memory,
        }
    )


def run_metrics_job(spark: Any, settings: Settings, days: list[dt.date]) -> float:
    """agent_day then queue_day over the days, as the pipeline's metrics step runs them; seconds."""
    from jobs import agent_day, queue_day

    began = time.perf_counter()
    agent_day.run(spark, settings, days)
    queue_day.run(spark, settings, days)
    return time.perf_counter() - began


def measure(
    work: Path, staged_root: Path, events: int, days: int, workers: int, cores: int, memory: str
) -> Measurement:
    """Start a cluster of `workers` workers, warm up, time the metrics job on staged_root, stop it all."""
    from foundation.spark import spark_session
    from teamlens.synth.staged import write_staged

    processes = Processes()
    spark: Any = None
    try:
        cluster = start_spark_cluster(processes, work / f"spark-{workers}", workers, cores, memory)
        warm = cluster_settings(work / f"warm-up-{workers}", cluster, workers, cores, memory)
        write_staged(warm.lake.staged, 10, 2, START)
        began = time.perf_counter()
        spark = spark_session(warm, app_name=f"teamlens-bench-cluster-{workers}", classic=True)
        print(f"  {workers} worker(s): cluster up, Spark session {time.perf_counter() - began:.1f} s", flush=True)
        run_metrics_job(spark, warm, [START, START + dt.timedelta(days=1)])
        settings = cluster_settings(staged_root, cluster, workers, cores, memory)
        seconds = run_metrics_job(spark, settings, [START + dt.timedelta(days=i) for i in range(days)])
        return Measurement(workers, cores, events, seconds)
    finally:
        if spark is not None:
            spark.stop()
        processes.stop_all()


def main(argv: Sequence[str] | None = None) -> int:
    from teamlens.synth.staged import agents_and_days_for, write_staged

    args = parse_args(argv)
    # The driver on loopback; the executors run this interpreter (the jobs' Python code runs in them).
    os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("TEAMLENS_SPARK_DRIVER_MEMORY", "1g")  # the executors hold the data
    # The same shuffle partitions in every configuration: about 2 per core of the largest.
    os.environ.setdefault("TEAMLENS_SHUFFLE_PARTITIONS", str(max(4, 2 * max(args.workers) * args.cores)))
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="teamlens-bench-cluster-") as tmp:
        work = Path(tmp)
        agents, days = agents_and_days_for(args.events, args.days)
        staged_root = work / "data"
        began = time.perf_counter()
        staged = load_settings({"TEAMLENS_DATA_ROOT": str(staged_root), "TEAMLENS_PSEUDONYM_KEY": BENCH_KEY})
        events = write_staged(staged.lake.staged, agents, days, START)
        print(
            f"Staged {events:,} events ({agents} agents x {days} days) in {time.perf_counter() - began:.1f} s; "
            f"workers {','.join(map(str, args.workers))} x {args.cores} core(s), {args.memory} each; "
            f"shuffle partitions {os.environ['TEAMLENS_SHUFFLE_PARTITIONS']}",
            flush=True,
        )
        for workers in args.workers:
            measurements.append(measure(work, staged_root, events, days, workers, args.cores, args.memory))
            print(format_results(measurements)[-1], flush=True)
    print("Metrics job (agent_day + queue_day) on a Spark standalone cluster:")
    for line in format_results(measurements):
        print(line)
    print(json.dumps(summary(measurements), sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
