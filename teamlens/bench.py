"""`make bench`: ingest throughput per landing format on the configured Spark master (local[2]).

Each format gets its own data root with synthetic input for a few days, and its table's ingest
job runs twice over those days: the first run warms the JVM and Spark's caches and is not
counted, the second is timed. Events per second = records read (from the job's own
reconciliation summary) / seconds of the timed run. The last line printed is one JSON object,
{"ingest_events_per_s": {format: events per second}}, for tools that collect benchmark results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from teamlens.settings import Settings, load_settings

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
            "asterisk_agent": f"SIP/{1000 + i}",
            "genesys_user_id": f"u-{i:05d}",
            "desktop_host": f"pc-{i:05d}",
            "team": f"team-{i % 10}",
            "site": "Berlin",
            "site_timezone": "Europe/Berlin",
        }
        for i in range(agents)
    ]
    path = landing / "roster" / "roster.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = list(rows[0])
    path.write_text(",".join(header) + "\n" + "".join(",".join(r[c] for c in header) + "\n" for r in rows))
    return rows


def _timed(spark: Any, settings: Settings, days: list[dt.date], job: RunJob) -> tuple[int, float]:
    job(spark, settings, days)  # warm-up, not counted
    began = time.perf_counter()
    summary = job(spark, settings, days)
    return int(summary["read"]), time.perf_counter() - began


def bench_generated(spark: Any, root: Path, agents: int, days: int) -> dict[str, tuple[int, float]]:
    """Amazon Connect CTRs and agent events and ActivityWatch, from the demo generator."""
    from jobs import staged_agent_events, staged_contacts, staged_desktop_activity
    from teamlens.generator import generate_center

    settings = _settings(root)
    generate_center(settings.landing, agents=agents, teams=max(2, agents // 12), sites=2, days=days, start=START)
    span = [START + dt.timedelta(days=i) for i in range(days)]
    return {
        "connect_ctr": _timed(spark, settings, span, staged_contacts.run),
        "connect_agent_events": _timed(spark, settings, span, staged_agent_events.run),
        "activitywatch": _timed(spark, settings, span, staged_desktop_activity.run),
    }


def bench_synthesized(spark: Any, root: Path, agents: int, days: int, calls: int) -> dict[str, tuple[int, float]]:
    """The other telephony formats, written by teamlens.synth from one roster."""
    from jobs import staged_contacts
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
        roster = _roster(settings.landing, agents)
        ids = [r[identity] for r in roster]
        span = [START + dt.timedelta(days=i) for i in range(days)]
        for seed, day in enumerate(span):
            write(settings.landing / folder / f"day={day}", day, ids, calls, seed)
        out[name] = _timed(spark, settings, span, staged_contacts.run)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="teamlens-bench", description=__doc__)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--calls-per-day", type=int, default=5000, help="calls per day for synthesized formats")
    args = parser.parse_args(argv)

    from teamlens.spark import spark_session

    spark = spark_session(load_settings(), app_name="teamlens-bench")
    print(f"Spark master {spark.sparkContext.master}, {args.agents} agents, {args.days} days")
    with tempfile.TemporaryDirectory(prefix="teamlens-bench-") as tmp:
        results = bench_generated(spark, Path(tmp) / "generated", args.agents, args.days)
        results |= bench_synthesized(spark, Path(tmp) / "synth", args.agents, args.days, args.calls_per_day)
    rates: dict[str, float] = {}
    for fmt, (records, seconds) in results.items():
        rates[fmt] = round(records / seconds, 1) if seconds > 0 else 0.0
        print(f"  {fmt:<24} {records:>9,} records in {seconds:6.1f} s = {rates[fmt]:>10,.0f} events/s")
    print(json.dumps({"ingest_events_per_s": rates}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
