"""Where the pseudonymisation key may come from, and the message when it comes from nowhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundation.settings import AIRFLOW_KEY_CONNECTION, MissingSecretError, SettingsError, load_settings

CONN_ENV = f"AIRFLOW_CONN_{AIRFLOW_KEY_CONNECTION.upper()}"


def test_key_from_an_airflow_connection(monkeypatch, tmp_path):
    secret = "connection-held-key-0123456789abcdef"
    monkeypatch.setenv(CONN_ENV, json.dumps({"conn_type": "generic", "password": secret}))
    assert load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path)}).pseudonym_key() == secret.encode()


def test_environment_variable_wins_over_the_connection(monkeypatch, tmp_path):
    monkeypatch.setenv(CONN_ENV, json.dumps({"conn_type": "generic", "password": "c" * 40}))
    env = {"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_PSEUDONYM_KEY": "e" * 40}
    assert load_settings(env).pseudonym_key() == b"e" * 40


def test_no_key_anywhere_says_how_to_provide_one(monkeypatch, tmp_path):
    monkeypatch.delenv(CONN_ENV, raising=False)
    with pytest.raises(MissingSecretError) as err:
        load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path)}).pseudonym_key()
    message = str(err.value)
    assert "TEAMLENS_PSEUDONYM_KEY" in message and AIRFLOW_KEY_CONNECTION in message


def test_a_short_key_from_the_connection_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv(CONN_ENV, json.dumps({"conn_type": "generic", "password": "short"}))
    with pytest.raises(MissingSecretError, match="5 characters"):
        load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path)}).pseudonym_key()


def test_paths_command_prints_every_zone_from_the_lake(monkeypatch, tmp_path, capsys):
    from teamlens import cli

    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(tmp_path))
    assert cli.main(["paths"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["what", "where"]  # a table with headers, then a rule
    lines = dict(line.split() for line in out[2:])
    assert lines == {
        "landing": str(tmp_path / "landing"),
        "staged": str(tmp_path / "staged"),
        "quarantine": str(tmp_path / "quarantine"),
        "metrics": str(tmp_path / "metrics"),
        "reports": str(tmp_path / "reports"),
        "warehouse": str(tmp_path / "warehouse" / "warehouse.duckdb"),
        "policy": str(load_settings().policy_path),
    }


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("TEAMLENS_MAX_BAD_ROW_SHARE", "five percent", "TEAMLENS_MAX_BAD_ROW_SHARE must be a share between 0 and 1"),
        ("TEAMLENS_MAX_BAD_ROW_SHARE", "1.5", "TEAMLENS_MAX_BAD_ROW_SHARE must be a share between 0 and 1"),
        ("TEAMLENS_DEMO", "maybe", "TEAMLENS_DEMO must be 1/true/yes/on or 0/false/no/off"),
        ("TEAMLENS_SPARK_MASTER", "localhost:7077", "TEAMLENS_SPARK_MASTER must be a Spark master URL"),
        ("TEAMLENS_SPARK_CONNECT", "always", "TEAMLENS_SPARK_CONNECT must be one of off, per_run"),
        ("TEAMLENS_SPARK_CONNECT_PORT", "70000", "TEAMLENS_SPARK_CONNECT_PORT must be a TCP port"),
        ("TEAMLENS_SERVICE_LEVEL_SECONDS", "-3", "TEAMLENS_SERVICE_LEVEL_SECONDS must be a whole number"),
    ],
)
def test_a_bad_setting_names_its_variable(tmp_path: Path, variable: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), variable: value})
    assert str(raised.value).startswith(says) and repr(value) in str(raised.value)


def test_settings_accept_the_documented_values(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TEAMLENS_DATA_ROOT": str(tmp_path),
            "TEAMLENS_DEMO": "yes",
            "TEAMLENS_MAX_BAD_ROW_SHARE": "0.1",
            "TEAMLENS_SPARK_MASTER": "spark://10.0.0.5:7077",
        }
    )
    assert (settings.demo, settings.max_bad_row_share, settings.spark_master) == (True, 0.1, "spark://10.0.0.5:7077")
    assert load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_DEMO": "0"}).demo is False


def test_the_cli_prints_one_line_for_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from teamlens import cli

    monkeypatch.setenv("TEAMLENS_MAX_BAD_ROW_SHARE", "lots")
    assert cli.main(["paths"]) == 2
    err = capsys.readouterr().err
    assert (
        err == "teamlens: TEAMLENS_MAX_BAD_ROW_SHARE must be a share between 0 and 1 (e.g. 0.05 for 5%), got 'lots'\n"
    )


def test_cores_max_and_executor_memory_apply_on_a_cluster_only(tmp_path):
    """A standalone master gives an application every free core unless spark.cores.max caps it."""
    from foundation.spark import spark_conf

    env = {
        "TEAMLENS_DATA_ROOT": str(tmp_path),
        "TEAMLENS_SPARK_CORES_MAX": "4",
        "TEAMLENS_SPARK_EXECUTOR_MEMORY": "2G",
    }
    cluster = load_settings({**env, "TEAMLENS_SPARK_MASTER": "spark://10.0.0.5:7077"})
    assert (cluster.spark_cores_max, cluster.spark_executor_memory) == (4, "2g")
    conf = spark_conf(cluster)
    assert (conf["spark.cores.max"], conf["spark.executor.memory"]) == ("4", "2g")
    local = spark_conf(load_settings({**env, "TEAMLENS_SPARK_MASTER": "local[2]"}))
    assert "spark.cores.max" not in local and "spark.executor.memory" not in local
    unset = spark_conf(load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_SPARK_MASTER": "yarn"}))
    assert "spark.cores.max" not in unset and "spark.executor.memory" not in unset


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TEAMLENS_SPARK_CORES_MAX", "0"),
        ("TEAMLENS_SPARK_CORES_MAX", "two"),
        ("TEAMLENS_SPARK_EXECUTOR_MEMORY", "2 GB"),
    ],
)
def test_unusable_cluster_sizes_are_refused_naming_the_variable(tmp_path, name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), name: value})
