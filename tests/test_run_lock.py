"""One pipeline run at a time per data root: a second `teamlens run` is refused naming the first,
and a killed run leaves no lock behind."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from foundation.settings import Settings, load_settings
from teamlens import run_lock
from teamlens.airflow_local import RunInProgress, exclusive_run, run_dag

DAY = dt.date(2026, 10, 5)


def test_a_second_run_is_refused_naming_the_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path / "data")})
    with exclusive_run(settings, "teamlens run over 2026-10-01 .. 2026-10-04"):
        assert run_dag(settings, DAY, DAY) == 2  # refused before Airflow starts
        err = capsys.readouterr().err
        first = f"teamlens run over 2026-10-01 .. 2026-10-04 (pid {os.getpid()}, "
        assert err.startswith(f"another run is using {settings.data_root}: {first}")
        assert err.endswith("wait for it to end (or stop it) and run again; nothing ran\n")
    with exclusive_run(settings, "the next run"):  # released at the end of the first
        assert "the next run" in settings.lake.run_lock.read_text()
    assert settings.lake.run_lock.read_text() == ""


def test_a_killed_run_leaves_no_lock(tmp_path: Path) -> None:
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path / "data")})
    holder = (
        "import sys, time; from foundation.settings import load_settings; "
        "from teamlens.airflow_local import exclusive_run; "
        f"s = load_settings({{'TEAMLENS_DATA_ROOT': {str(tmp_path / 'data')!r}}}); "
        "cm = exclusive_run(s, 'a run that gets killed'); cm.__enter__(); print('held', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with pytest.raises(RunInProgress, match="a run that gets killed"), exclusive_run(settings, "second"):
            pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    time.sleep(0.1)
    with exclusive_run(settings, "after the kill"):
        assert "after the kill" in settings.lake.run_lock.read_text()


def _hold_in_child(data_root: Path, code: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A second process that takes the lock as `code` says, prints 'held' and sleeps until killed."""
    script = (
        "import time; from foundation.settings import load_settings; "
        "from teamlens import run_lock; "
        f"s = load_settings({{'TEAMLENS_DATA_ROOT': {str(data_root)!r}}}); "
        f"cm = {code}; token = cm.__enter__(); print('held', token or '', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    assert child.stdout is not None
    return child


def _stop(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)


@run_lock.holding_run_lock()
def _a_step(days: list[str], settings: Settings | None = None) -> str:
    assert settings is not None
    return f"ran {days} on {settings.data_root.name}"


def test_a_scheduled_step_waits_a_bounded_time_for_a_cli_run_then_fails_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(data)})
    monkeypatch.setenv(run_lock.WAIT_ENV, "0.6")
    child = _hold_in_child(data, "run_lock.exclusive_run(s, 'teamlens run over 2026-10-01 .. 2026-10-04')")
    try:
        assert child.stdout is not None and child.stdout.readline().startswith("held ")
        started = time.monotonic()
        with pytest.raises(RunInProgress) as caught:
            _a_step(["2026-10-05"], settings)
        assert time.monotonic() - started >= 0.6  # it waited before failing
        assert str(caught.value).startswith(
            f"another run is using {data}: teamlens run over 2026-10-01 .. 2026-10-04 (pid {child.pid}, "
        )
        assert "(waited 1 s); wait for it to end (or stop it) and run again" in str(caught.value)
    finally:
        _stop(child)
    assert _a_step(["2026-10-05"], settings) == "ran ['2026-10-05'] on data"  # free again


def test_a_cli_run_is_refused_while_a_scheduled_step_runs_and_names_the_dag_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(data)})
    airflow = {"AIRFLOW_CTX_DAG_ID": "teamlens_daily", "AIRFLOW_CTX_DAG_RUN_ID": "scheduled__2026-10-05"}
    child = _hold_in_child(data, "run_lock.step_lock(s, 'ingest_telephony')", airflow)
    try:
        assert child.stdout is not None and child.stdout.readline() == "held \n"
        assert run_dag(settings, DAY, DAY) == 2
        with pytest.raises(RunInProgress, match=r"DAG run teamlens_daily/scheduled__2026-10-05, step ingest_telephony"):
            with exclusive_run(settings, "teamlens run"):
                pass
        # Steps of the same DAG run share the lock: the parallel ingest steps run side by side.
        with run_lock.step_lock(settings, "ingest_desktop"):
            pass
    finally:
        _stop(child)


def test_the_steps_of_a_cli_run_run_under_its_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(data)})
    monkeypatch.setenv(run_lock.WAIT_ENV, "0")
    child = _hold_in_child(data, "run_lock.exclusive_run(s, 'teamlens run')")
    try:
        assert child.stdout is not None
        token = child.stdout.readline().split()[1]
        monkeypatch.setenv(run_lock.TOKEN_ENV, "0123456789abcdef")  # another run's token: no
        with pytest.raises(RunInProgress):
            _a_step(["2026-10-05"], settings)
        monkeypatch.setenv(run_lock.TOKEN_ENV, token)
        assert _a_step(["2026-10-05"], settings) == "ran ['2026-10-05'] on data"
    finally:
        _stop(child)


def test_every_pipeline_step_holds_the_run_lock() -> None:
    from teamlens import pipeline

    steps = ["check_ready", "ingest_workforce", "ingest_telephony", "ingest_desktop", "validate_staged"]
    steps += ["compute_agent_day", "publish_releases", "apply_retention"]
    for name in steps:
        assert getattr(getattr(pipeline, name), "__wrapped__", None) is not None, name
