"""The command line as users expect: help for everything, one clear line and a non-zero exit per mistake."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from teamlens import cli
from tests.helpers import TEST_CHECKPOINT_KEY, TEST_KEY

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(tmp_path / "data"))
    for name in ("TEAMLENS_PSEUDONYM_KEY", "TEAMLENS_CHECKPOINT_KEY", "TEAMLENS_DEMO"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


@pytest.mark.parametrize(
    ("argv", "stderr"),
    [
        (
            ["run", "--first-day", "2026-13-01", "--last-day", "2026-10-01"],
            "teamlens run: Invalid value for '--first-day': '2026-13-01' is not a day: use YYYY-MM-DD, "
            "e.g. 2026-10-05 (see `teamlens run --help`)\n",
        ),
        (
            ["run", "--first-day", "2026-10-05", "--last-day", "2026-10-01"],
            "teamlens: --last-day 2026-10-01 is before --first-day 2026-10-05; swap them\n",
        ),
        (
            ["run", "--first-day", "2026-10-05"],
            "teamlens run: Missing option '--last-day'. (see `teamlens run --help`)\n",
        ),
        (["frobnicate"], "teamlens: No such command 'frobnicate'. (see `teamlens --help`)\n"),
        (
            ["report", "--release", "nonexistent"],
            "teamlens: no release 'nonexistent' in the policy {policy}; releases: team_month_contacts_aht, "
            "site_week_contacts_aht, site_month_service, queue_month_intervals, queue_week_intervals, "
            "queue_week_service, survey:pulse:site\n",
        ),
        (
            ["plan", "--release", "nonexistent"],
            "teamlens: no release 'nonexistent' in the policy {policy}; releases: team_month_contacts_aht, "
            "site_week_contacts_aht, site_month_service, queue_month_intervals, queue_week_intervals, "
            "queue_week_service, survey:pulse:site\n",
        ),
        (
            ["retention", "--as-of", "yesterday"],
            "teamlens retention: Invalid value for '--as-of': 'yesterday' is not a day: use YYYY-MM-DD, "
            "e.g. 2026-10-05 (see `teamlens retention --help`)\n",
        ),
        (["verify", "--checkpoint", "/nowhere/cp.txt"], "teamlens: no checkpoint at /nowhere/cp.txt\n"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2(
    data_root: Path, capsys: pytest.CaptureFixture[str], argv: list[str], stderr: str
) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == stderr.format(policy=REPO / "foundation" / "policy.yaml")
    assert captured.out == ""


def test_a_missing_key_is_one_line_saying_how_to_provide_it(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_root / "warehouse").mkdir(parents=True)
    (data_root / "warehouse" / "warehouse.duckdb").touch()
    assert cli.main(["checkpoint"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("teamlens: No checkpoint signing key. Create an Ed25519 key with")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_help_lists_every_command_once_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    commands = ["generate", "run", "demo", "report", "verify", "checkpoint", "paths", "plan", "check-mapping"]
    commands += ["retention", "airflow", "policy"]
    for command in commands:
        assert sum(line.split()[1:2] == [command] for line in out.splitlines()) == 1, command


def test_every_option_has_help() -> None:
    import typer

    group = typer.main.get_command(cli.app)
    missing = []

    def walk(command: object, path: str) -> None:
        for param in getattr(command, "params", []):
            if param.name != "help" and not getattr(param, "help", None):
                missing.append(f"{path} {param.name}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(group, "teamlens")
    assert missing == []


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`teamlens report | head`: the reader is gone before the output is written; no traceback.

    Exit code 1, Click's for a broken pipe (the output did not all arrive)."""
    env = {**os.environ, "TEAMLENS_DATA_ROOT": str(tmp_path)}
    child = subprocess.Popen(
        [sys.executable, "-m", "teamlens.cli", "paths"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # long before the child has started up and written anything
    stderr = child.stderr.read()
    assert child.wait(timeout=60) == 1 and stderr == "", stderr


def test_keys_given_through_the_environment_are_used(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMLENS_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("TEAMLENS_CHECKPOINT_KEY", TEST_CHECKPOINT_KEY)
    assert cli.main(["paths"]) == 0


def test_the_default_start_day_is_used(data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`teamlens generate` without --start: the documented default day (Typer passes it to the parser)."""
    assert cli.main(["generate", "--agents", "12", "--teams", "1", "--sites", "1", "--days", "1"]) == 0
    assert "Generated a demo center" in capsys.readouterr().out
    assert sorted(p.name for p in (data_root / "landing").rglob("day=*")) == ["day=2026-09-28"] * len(
        list((data_root / "landing").rglob("day=*"))
    )


def test_a_center_the_generator_cannot_make_is_one_line(data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["generate", "--agents", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("teamlens: cannot generate this center: 2 agents cannot fill 14 teams")
    assert err.count("\n") == 1


def test_the_demo_ends_with_its_months_statement_once_and_how_to_open_the_dashboard(
    dashboard_center, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's last words (teamlens.demo_run.print_demo_ending): the statement of its last whole
    month, recorded once however often the demo runs, and the dashboard's command and address."""
    from teamlens import pipeline
    from teamlens.demo_run import print_demo_ending
    from warehouse.snapshot import open_snapshot

    days = [dt.date(2026, 3, 9), dt.date(2026, 3, 10)]
    settings = dashboard_center(days)
    pipeline.publish_releases([d.isoformat() for d in days], settings)  # ledger: the approval, 2 releases
    folder = settings.lake.statement_dir("2026-03")
    # The demo's days hold March as a whole; the clock stands before their end (the demo's data may
    # lie in the future), which does not stop the statement of a month its data are past.
    for run in ("recorded in the ledger as entry 4", "unchanged; already recorded as entry 4"):
        print_demo_ending(settings, dt.date(2026, 2, 23), dt.date(2026, 4, 1), today=dt.date(2026, 3, 20))
        out = capsys.readouterr().out
        with open_snapshot(settings.lake.published_snapshot_path) as (_, info):
            assert info.ledger_entries == 4  # one statement entry, not one per run
        assert f"Statement for March 2026, version 1 ({run}):" in out
        assert f"PDF:  {folder / 'statement-2026-03-v1.pdf'}  sha256 " in out
        assert f"HTML: {folder / 'statement-2026-03-v1.html'}  sha256 " in out
        assert "Dashboard: run `.venv/bin/teamlens dashboard`, then open http://127.0.0.1:8050/" in out
        assert "`TEAMLENS_DEMO=1 .venv/bin/teamlens personal-link --employee-id E10001`" in out
    assert sorted(p.name for p in folder.iterdir()) == ["statement-2026-03-v1.html", "statement-2026-03-v1.pdf"]


def test_the_demo_states_its_last_whole_month() -> None:
    from teamlens.statement import last_whole_month

    assert last_whole_month(cli.DEMO_START, cli.DEMO_START + dt.timedelta(days=34)) == "2026-10"
    assert last_whole_month(dt.date(2026, 10, 1), dt.date(2026, 10, 31)) == "2026-10"
    assert last_whole_month(dt.date(2026, 10, 2), dt.date(2026, 11, 29)) is None
    assert last_whole_month(dt.date(2026, 9, 1), dt.date(2026, 11, 29)) == "2026-10"
