"""`make bench-cluster`'s options and what it prints (the measurement itself starts a cluster and
takes minutes, so it is run by hand: README, Running on a cluster)."""

from __future__ import annotations

import json

import pytest

from teamlens import bench_cluster as bc


def test_defaults_measure_ten_million_events_on_one_then_two_one_core_workers() -> None:
    args = bc.parse_args([])
    assert (args.events, args.days, args.workers, args.cores, args.memory) == (10_000_000, 30, [1, 2], 1, "2g")


def test_options_for_a_bigger_machine() -> None:
    args = bc.parse_args(["--events", "1e6", "--workers", "1,2,4", "--cores", "4", "--memory", "8g", "--days", "7"])
    assert (args.events, args.days, args.workers, args.cores, args.memory) == (1_000_000, 7, [1, 2, 4], 4, "8g")
    assert bc.parse_args(["--events", "20_000"]).events == 20_000


@pytest.mark.parametrize("argv", [["--workers", "0,2"], ["--workers", "one"], ["--events", "0"], ["--cores", "0"]])
def test_unusable_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        bc.parse_args(argv)


def test_results_give_events_per_second_and_the_speed_up_over_the_first_configuration() -> None:
    one = bc.Measurement(workers=1, cores_per_worker=1, events=10_000_000, seconds=100.0)
    two = bc.Measurement(workers=2, cores_per_worker=1, events=10_000_000, seconds=62.5)
    assert bc.format_results([one, two]) == [
        "  1 worker  x 1 core :   10,000,000 events in   100.0 s =    100,000 events/s, speed-up 1.00x",
        "  2 workers x 1 core :   10,000,000 events in    62.5 s =    160,000 events/s, speed-up 1.60x",
    ]
    doc = json.loads(json.dumps(bc.summary([one, two])))
    assert doc["cluster_speed_up"] == 1.6
    assert doc["cluster_metrics"][1] == {
        "workers": 2, "cores_per_worker": 1, "events": 10_000_000, "seconds": 62.5, "events_per_s": 160000.0,
    }  # fmt: skip
    assert bc.format_results([]) == []


def test_the_application_takes_every_core_of_the_cluster_and_executors_of_the_workers_memory(tmp_path) -> None:
    from foundation.spark import spark_conf
    from teamlens.local_cluster import SparkCluster

    settings = bc.cluster_settings(tmp_path, SparkCluster("spark://127.0.0.1:7077", 8080), 2, 3, "4g")
    conf = spark_conf(settings)
    assert settings.spark_master == "spark://127.0.0.1:7077"
    assert (conf["spark.cores.max"], conf["spark.executor.memory"]) == ("6", "4g")
