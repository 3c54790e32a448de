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

from foundation.settings import load_settings
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
