"""Where the pseudonymisation key may come from, and the message when it comes from nowhere."""

from __future__ import annotations

import json

import pytest

from foundation.settings import AIRFLOW_KEY_CONNECTION, MissingSecretError, load_settings

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
    lines = dict(line.strip().split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert lines == {
        "landing": str(tmp_path / "landing"),
        "staged": str(tmp_path / "staged"),
        "quarantine": str(tmp_path / "quarantine"),
        "metrics": str(tmp_path / "metrics"),
        "reports": str(tmp_path / "reports"),
        "warehouse": str(tmp_path / "warehouse" / "warehouse.duckdb"),
        "policy": str(load_settings().policy_path),
    }
