"""Retention: the DAG's integrity, the boundary rule, the deletions, their ledger entries, symlinks."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from foundation import lake
from foundation.settings import REPO_ROOT, Settings
from privacy import retention
from privacy.retention import Partition, apply_retention, expired_partitions, is_expired
from privacy.verify import verify_ledger
from teamlens import cli, pipeline
from tests.helpers import HEAVY, approve
from warehouse.store import connect

AS_OF = dt.date(2026, 11, 23)
D = dt.date.fromisoformat

# (path relative to the data root, bytes of its one file, expected to be deleted as of AS_OF)
LAYOUT: list[tuple[str, int, bool]] = [
    # landing 14 days: 2026-11-09 is 14 days old (kept), 2026-11-08 15 days (deleted)
    ("landing/activitywatch/day=2026-11-08/aw-host-laptop-42.json", 100, True),
    ("landing/activitywatch/day=2026-11-09/aw-host-laptop-42.json", 101, False),
    ("landing/connect_ctr/day=2026-10-01/part-0.jsonl", 102, True),
    ("landing/flat_calls/acme/day=2026-11-01/calls.csv", 103, True),
    ("landing/flat_calls/acme/mapping.yaml", 10, False),
    ("landing/roster/roster.csv", 11, False),
    # staged 30 days: 2026-10-24 is 30 days old (kept), 2026-10-23 31 days (deleted)
    ("staged/contacts/day=2026-10-23/part-0.parquet", 200, True),
    ("staged/contacts/day=2026-10-24/part-0.parquet", 201, False),
    ("staged/contacts/.old-day=2026-10-01-abcd1234/part-0.parquet", 202, True),  # leftover of a swap
    ("staged/roster/day=2026-10-02/part-0.parquet", 203, True),
    # quarantine 30 days: ingest and validation layouts
    ("quarantine/contacts/ingest/connect_ctr/day=2026-10-23/part-0.parquet", 300, True),
    ("quarantine/contacts/ingest/connect_ctr/day=2026-10-24/part-0.parquet", 301, False),
    ("quarantine/contacts/day=2026-10-23/validation.parquet", 302, True),
    # metrics 90 days: 2026-08-25 is 90 days old (kept), 2026-08-24 91 days (deleted), with markers
    ("metrics/agent_day/day=2026-08-24/part-0.parquet", 400, True),
    ("metrics/agent_day/day=2026-08-25/part-0.parquet", 401, False),
    ("metrics/queue_day/day=2026-08-24/part-0.parquet", 402, True),
    ("reports/metrics/agent_day/day=2026-08-24.json", 40, True),
    ("reports/metrics/agent_day/day=2026-08-25.json", 41, False),
    # run reports 30 days (exact per-day counts: restricted): 2026-10-24 kept, 2026-10-23 deleted
    ("reports/ingest/contacts/day=2026-10-23.json", 50, True),
    ("reports/ingest/contacts/day=2026-10-24.json", 52, False),
    ("reports/validation/contacts/day=2026-01-01.json", 51, True),
    # never deleted: the signed checkpoints (public audit artefacts)
    ("reports/checkpoints/latest.txt", 60, False),
    ("reports/checkpoints/latest.txt.pub", 61, False),
    ("reports/checkpoints/size=3.txt", 62, False),
]

EXPECTED_ZONES: dict[str, Any] = {
    "landing": {
        "retention_days": 14,
        "oldest_kept_day": "2026-11-09",
        "days": ["2026-10-01", "2026-11-01", "2026-11-08"],
        "partitions": {
            "landing/activitywatch": ["2026-11-08"],
            "landing/connect_ctr": ["2026-10-01"],
            "landing/flat_calls/acme": ["2026-11-01"],
        },
        "folders": 3,
        "files": 3,
        "bytes": 100 + 102 + 103,
    },
    "staged": {
        "retention_days": 30,
        "oldest_kept_day": "2026-10-24",
        "days": ["2026-10-01", "2026-10-02", "2026-10-23"],
        "partitions": {"staged/contacts": ["2026-10-01", "2026-10-23"], "staged/roster": ["2026-10-02"]},
        "folders": 3,
        "files": 3,
        "bytes": 200 + 202 + 203,
    },
    "quarantine": {
        "retention_days": 30,
        "oldest_kept_day": "2026-10-24",
        "days": ["2026-10-23"],
        "partitions": {"quarantine/contacts": ["2026-10-23"], "quarantine/contacts/ingest/connect_ctr": ["2026-10-23"]},
        "folders": 2,
        "files": 2,
        "bytes": 300 + 302,
    },
    "metrics": {
        "retention_days": 90,
        "oldest_kept_day": "2026-08-25",
        "days": ["2026-08-24"],
        "partitions": {
            "metrics/agent_day": ["2026-08-24"],
            "metrics/queue_day": ["2026-08-24"],
            "reports/metrics/agent_day": ["2026-08-24"],
        },
        "folders": 2,
        "files": 3,
        "bytes": 400 + 402 + 40,
    },
    "reports": {
        "retention_days": 30,
        "oldest_kept_day": "2026-10-24",
        "days": ["2026-01-01", "2026-10-23"],
        "partitions": {"reports/ingest/contacts": ["2026-10-23"], "reports/validation/contacts": ["2026-01-01"]},
        "folders": 0,
        "files": 2,
        "bytes": 50 + 51,
    },
}


def build_root(settings: Settings) -> Path:
    for rel, size, _ in LAYOUT:
        path = settings.data_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    return settings.data_root


def surviving(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and "warehouse" not in p.parts}


def ledger(settings: Settings) -> list[tuple[int, str, str | None, dict[str, Any]]]:
    con = connect(settings.lake.warehouse_path, read_only=True)
    try:
        rows = con.execute("SELECT seq, entry_type, release_id, payload FROM ledger ORDER BY seq").fetchall()
    finally:
        con.close()
    return [(int(s), t, r, json.loads(p)) for s, t, r, p in rows]


# --- the DAG -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def test_retention_dag_imports_and_shape(dagbag) -> None:
    assert dagbag.import_errors == {}
    dag = dagbag.dags["teamlens_retention"]
    assert {t.task_id for t in dag.tasks} == {"plan_as_of", "apply_retention"}
    assert dag.get_task("apply_retention").upstream_task_ids == {"plan_as_of"}
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert set(dag.params) == {"as_of", "dry_run"}
    assert dag.params["dry_run"] is False and dag.params["as_of"] is None
    assert "retention_days" in (dag.doc_md or "")


def test_retention_is_not_in_the_daily_dag_nor_the_demo(dagbag) -> None:
    assert not [t for t in dagbag.dags["teamlens_daily"].tasks if "retention" in t.task_id]
    assert "retention" not in inspect.getsource(cli.cmd_demo)


def test_parsing_the_retention_dag_imports_no_engine() -> None:
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        f"mods = {HEAVY!r} + ('privacy.retention', 'foundation.policy'); "
        "print('HEAVY=' + ','.join(m for m in mods if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT / "dags" / "teamlens_retention.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")] == ["HEAVY="]


@pytest.mark.parametrize(
    ("params", "context", "expected"),
    [
        ({"as_of": "2026-11-23"}, {"data_interval_end": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)}, "2026-11-23"),
        ({"as_of": None}, {"data_interval_end": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)}, "2026-12-01"),
        ({}, {"data_interval_end": None, "logical_date": dt.datetime(2026, 12, 2, 5, tzinfo=dt.UTC)}, "2026-12-02"),
    ],
)
def test_as_of_is_the_param_else_the_data_interval_end(dagbag, monkeypatch, params, context, expected) -> None:
    task = dagbag.dags["teamlens_retention"].get_task("plan_as_of")
    fn = task.python_callable
    monkeypatch.setitem(fn.__globals__, "get_current_context", lambda: {"params": params, **context})
    assert fn() == expected


def test_as_of_defaults_to_today_without_any_date(dagbag, monkeypatch) -> None:
    fn = dagbag.dags["teamlens_retention"].get_task("plan_as_of").python_callable
    monkeypatch.setitem(fn.__globals__, "get_current_context", lambda: {"params": {}})
    assert fn() == dt.datetime.now(dt.UTC).date().isoformat()


def test_retention_task_passes_as_of_and_dry_run(dagbag, settings, policy, monkeypatch) -> None:
    build_root(settings)
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(settings.data_root))
    fn = dagbag.dags["teamlens_retention"].get_task("apply_retention").python_callable
    monkeypatch.setitem(fn.__globals__, "get_current_context", lambda: {"params": {"dry_run": True}})
    dry = fn("2026-11-23")
    assert dry["dry_run"] is True and dry["partitions"] == 13 and not settings.lake.warehouse_path.exists()
    approve(settings.lake.warehouse_path, policy)  # a deletion runs under an approved policy
    monkeypatch.setitem(fn.__globals__, "get_current_context", lambda: {"params": {"dry_run": False}})
    assert fn("2026-11-23")["deleted"] == 13
    assert verify_ledger(settings.lake.warehouse_path).ok


# --- the rule and the plan -----------------------------------------------------------------


def test_boundary_rule_both_sides() -> None:
    assert not is_expired(D("2026-11-09"), AS_OF, 14)  # as_of - day = 14 <= 14: kept
    assert is_expired(D("2026-11-08"), AS_OF, 14)  # 15 > 14: deleted
    assert not is_expired(AS_OF, AS_OF, 14)
    assert not is_expired(D("2026-12-01"), AS_OF, 14)  # future days are kept
    assert retention.cutoff(AS_OF, 14) == D("2026-11-09")


def test_plan_lists_exactly_the_expired_partitions(settings, policy) -> None:
    assert policy.retention_days == {"landing": 14, "staged": 30, "quarantine": 30, "metrics": 90, "reports": 30}
    build_root(settings)
    plan = expired_partitions(settings, policy, AS_OF)
    expected_paths = {rel if rel.startswith("reports/") else rel.rsplit("/", 1)[0] for rel, _, gone in LAYOUT if gone}
    assert {p.path for p in plan} == expected_paths
    assert plan[0] == Partition("metrics", "reports/metrics/agent_day/day=2026-08-24.json", D("2026-08-24"), "marker")
    assert Partition("landing", "landing/activitywatch/day=2026-11-08", D("2026-11-08")) in plan
    assert Partition("staged", "staged/contacts/.old-day=2026-10-01-abcd1234", D("2026-10-01")) in plan
    # one day later, the kept boundary days go too
    later = {p.path for p in expired_partitions(settings, policy, AS_OF + dt.timedelta(days=1))}
    assert {"landing/activitywatch/day=2026-11-09", "staged/contacts/day=2026-10-24"} <= later
    assert "metrics/agent_day/day=2026-08-25" in later
    assert "reports/ingest/contacts/day=2026-10-24.json" in later
    assert not any("roster.csv" in p or "mapping.yaml" in p or "checkpoints" in p for p in later)


def test_zone_without_a_period_is_kept(settings) -> None:
    from tests.helpers import make_test_policy

    only_landing = make_test_policy(
        [
            {
                "name": "r",
                "purpose": "p",
                "group_by": "site",
                "window": "day",
                "rho": "0.1",
                "sums": {"contacts_handled": 1},
            }
        ]
    )
    build_root(settings)
    assert {p.zone for p in expired_partitions(settings, only_landing, AS_OF)} == {"landing"}


# --- deletion and the ledger ---------------------------------------------------------------


def test_dry_run_deletes_and_records_nothing(settings, policy) -> None:
    root = build_root(settings)
    before = surviving(root)
    result = apply_retention(settings, policy, AS_OF, "test", dry_run=True)
    assert result["zones"] == EXPECTED_ZONES
    assert result["deleted"] == 0 and result["entry_hash"] is None and result["partitions"] == 13
    assert surviving(root) == before
    assert not settings.lake.warehouse_path.exists()


def test_apply_deletes_exactly_the_expired_and_records_one_entry(settings, policy) -> None:
    root = build_root(settings)
    approve(settings.lake.warehouse_path, policy)
    moment = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
    result = apply_retention(settings, policy, AS_OF, "ops", now=lambda: moment)
    assert result["deleted"] == result["partitions"] == 13
    assert surviving(root) == {rel for rel, _, gone in LAYOUT if not gone}
    # the emptied parents stay; nothing hidden is left behind
    assert (root / "landing/connect_ctr").is_dir()
    assert not [p for p in root.rglob(".*") if "warehouse" not in p.parts]

    entries = ledger(settings)
    assert [(seq, t, rid) for seq, t, rid, _ in entries] == [
        (1, "policy_approved", None),
        (2, "retention_deletion", None),
    ]
    payload = entries[1][3]
    assert payload == {
        "as_of": "2026-11-23",
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "run_by": "ops",
        "rule": retention.RULE,
        "zones": EXPECTED_ZONES,
    }
    text = json.dumps(payload)
    assert "laptop" not in text and ".json" not in text and ".parquet" not in text
    verification = verify_ledger(settings.lake.warehouse_path)
    assert verification.ok, verification.message
    assert verification.entries == 2 and verification.head_hash == result["entry_hash"]


def test_rerun_with_nothing_due_appends_nothing(settings, policy) -> None:
    build_root(settings)
    approve(settings.lake.warehouse_path, policy)
    apply_retention(settings, policy, AS_OF, "ops")
    again = apply_retention(settings, policy, AS_OF, "ops")
    assert again["partitions"] == 0 and again["entry_hash"] is None and again["zones"] == {}
    assert len(ledger(settings)) == 2
    # a later day finds the boundary days: a new entry, the policy is not recorded again
    later = apply_retention(settings, policy, AS_OF + dt.timedelta(days=1), "ops")
    assert later["zones"]["landing"]["days"] == ["2026-11-09"]
    assert [t for _, t, _, _ in ledger(settings)] == ["policy_approved", "retention_deletion", "retention_deletion"]
    assert verify_ledger(settings.lake.warehouse_path).ok


def test_crash_midway_leaves_nothing_deleted_unrecorded_and_rerun_finishes(settings, policy, monkeypatch) -> None:
    root = build_root(settings)
    approve(settings.lake.warehouse_path, policy)
    real_delete = retention._delete
    calls = {"n": 0}

    def crashing(root_: Path, partition: Partition, run: str) -> bool:
        calls["n"] += 1
        if calls["n"] == 4:
            # the crash hits after the rename, before the removal: a hidden leftover remains
            trash = lake.hidden_sibling(lake.partition(root_ / partition.parent, partition.day), "retention", run)
            os.replace(root_ / partition.path, trash)
            raise KeyboardInterrupt("power cut")
        return real_delete(root_, partition, run)

    monkeypatch.setattr(retention, "_delete", crashing)
    with pytest.raises(KeyboardInterrupt):
        apply_retention(settings, policy, AS_OF, "ops")
    monkeypatch.setattr(retention, "_delete", real_delete)
    first = ledger(settings)[-1][3]
    assert first["zones"] == EXPECTED_ZONES  # recorded in full before anything was deleted

    rerun = apply_retention(settings, policy, AS_OF, "ops")
    assert 0 < rerun["partitions"] < 13 and rerun["deleted"] == rerun["partitions"]
    second = ledger(settings)[-1][3]
    recorded_days = {(z, d) for z, v in second["zones"].items() for d in v["days"]}
    assert recorded_days <= {(z, d) for z, v in EXPECTED_ZONES.items() for d in v["days"]}
    assert surviving(root) == {rel for rel, _, gone in LAYOUT if not gone}
    assert not [p for p in root.rglob(".*") if "warehouse" not in p.parts]
    assert apply_retention(settings, policy, AS_OF, "ops")["entry_hash"] is None
    assert [t for _, t, _, _ in ledger(settings)] == ["policy_approved", "retention_deletion", "retention_deletion"]
    assert verify_ledger(settings.lake.warehouse_path).ok


# --- symlinks ------------------------------------------------------------------------------


def test_symlinks_out_of_the_root_are_not_followed(settings, policy, tmp_path) -> None:
    root = build_root(settings)
    approve(settings.lake.warehouse_path, policy)
    outside = tmp_path / "outside"
    for name in ("day=2026-01-01", "src/day=2026-01-01"):
        (outside / name).mkdir(parents=True)
        (outside / name / "precious.json").write_text("{}")
    (root / "landing/activitywatch/day=2026-01-02").symlink_to(outside / "day=2026-01-01", target_is_directory=True)
    (root / "landing/elsewhere").symlink_to(outside / "src", target_is_directory=True)
    (root / "staged/alias").symlink_to(root / "staged/contacts", target_is_directory=True)  # inside: ignored
    (outside / "roster.csv").write_text("agent\n")
    (root / "landing/roster/linked.csv").symlink_to(outside / "roster.csv")  # a file, not a partition: ignored

    result = apply_retention(settings, policy, AS_OF, "ops")
    assert result["refused_symlinks"] == ["landing/activitywatch/day=2026-01-02", "landing/elsewhere"]
    assert (outside / "day=2026-01-01/precious.json").exists()
    assert (outside / "src/day=2026-01-01/precious.json").exists()
    assert (root / "landing/activitywatch/day=2026-01-02").is_symlink()
    assert result["zones"] == EXPECTED_ZONES  # the rest is done as usual, nothing is counted twice
    assert surviving(root) >= {rel for rel, _, gone in LAYOUT if not gone}


def test_a_zone_folder_linked_out_of_the_root_is_refused(settings, policy, tmp_path) -> None:
    build_root(settings)
    approve(settings.lake.warehouse_path, policy)
    outside = tmp_path / "elsewhere-staged"
    (outside / "contacts/day=2026-01-01").mkdir(parents=True)
    (outside / "contacts/day=2026-01-01/part-0.parquet").write_text("x")
    staged = settings.data_root / "staged"
    staged.rename(tmp_path / "moved")
    staged.symlink_to(outside, target_is_directory=True)
    result = apply_retention(settings, policy, AS_OF, "ops")
    assert result["refused_symlinks"] == ["staged"]
    assert "staged" not in result["zones"]
    assert (outside / "contacts/day=2026-01-01/part-0.parquet").exists()
    with pytest.raises(pipeline.RetentionIncomplete, match="staged"):
        pipeline.apply_retention(AS_OF.isoformat(), settings=settings)


# --- the pipeline step and the command line ------------------------------------------------


def test_pipeline_step_returns_counts_without_paths(settings, policy) -> None:
    build_root(settings)
    dry = pipeline.apply_retention("2026-11-23", settings=settings, dry_run=True)
    assert dry["dry_run"] is True and dry["deleted"] == 0 and not settings.lake.warehouse_path.exists()
    approve(settings.lake.warehouse_path, policy)
    done = pipeline.apply_retention("2026-11-23", settings=settings)
    assert done["deleted"] == 13 and done["entry_hash"]
    assert done["zones"]["landing"]["days"] == ["2026-10-01", "2026-11-01", "2026-11-08"]
    assert "partitions" not in done["zones"]["landing"]
    json.dumps(done)  # fits XCom


def test_cli_retention(settings, monkeypatch, capsys) -> None:
    root = build_root(settings)
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(root))
    monkeypatch.setenv("TEAMLENS_RUN_BY", "cli-test")
    assert cli.main(["retention", "--as-of", "2026-11-23", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "landing: would delete 3 day(s) 2026-10-01 .. 2026-11-08" in out
    assert "landing/flat_calls/acme: 1 day(s)" in out
    assert not settings.lake.warehouse_path.exists()
    assert cli.main(["retention", "--as-of", "2026-11-23"]) == 2  # the policy is not approved yet: nothing done
    assert "teamlens policy approve" in capsys.readouterr().err
    assert not settings.lake.warehouse_path.exists() or ledger(settings) == []
    assert cli.main(["policy", "approve", "--by", "works council", "--name", "minutes of 2026-11-20"]) == 0
    capsys.readouterr()
    assert cli.main(["retention", "--as-of", "2026-11-23"]) == 0
    out = capsys.readouterr().out
    assert "metrics: deleted 1 day(s) 2026-08-24" in out and "Recorded in the privacy ledger" in out
    assert ledger(settings)[-1][3]["run_by"] == "cli-test"
    assert cli.main(["retention", "--as-of", "2026-11-23"]) == 0
    assert "nothing deleted" in capsys.readouterr().out


def test_hidden_leftovers_of_every_name_go_with_their_day(settings, policy) -> None:
    """Swap leftovers (lake.hidden_day), validation's legacy names included, are deleted with their day."""
    contacts = settings.data_root / "staged/contacts"
    names = [
        ".tmp-day=2026-10-01-0123abcd",
        ".old-day=2026-10-01-0123abcd",
        ".retention-day=2026-10-01-0123abcd",
        ".day=2026-10-01.validating",
        ".day=2026-10-01.replaced",
        ".day=2026-10-24.validating",  # a kept day: a killed run's leftover, removed as such
        ".new-day=2026-10-01-0123abcd",  # not a name of the lake: never touched
    ]
    for name in names:
        (contacts / name).mkdir(parents=True)
        (contacts / name / "part-0.parquet").write_bytes(b"x")
    approve(settings.lake.warehouse_path, policy)
    result = apply_retention(settings, policy, AS_OF, "ops")
    assert result["partitions"] == result["deleted"] == 5
    assert result["zones"]["staged"]["partitions"] == {"staged/contacts": ["2026-10-01"]}
    assert result["leftovers"]["leftovers"] == ["staged/contacts/.day=2026-10-24.validating"]
    assert sorted(p.name for p in contacts.iterdir()) == [".new-day=2026-10-01-0123abcd"]


def test_run_reports_default_to_the_longer_of_staged_and_quarantine(settings) -> None:
    """Without retention_days.reports the run reports live as long as the rows they count, never forever."""
    from tests.helpers import TEAM_WEEK, make_test_policy

    for rel in ("reports/ingest/contacts/day=2026-10-14.json", "reports/validation/calls/day=2026-10-13.json"):
        (settings.data_root / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings.data_root / rel).write_text("{}")
    both = make_test_policy([TEAM_WEEK], retention_days={"staged": 30, "quarantine": 40})
    assert retention.retention_period(both, "reports") == 40
    assert [p.path for p in expired_partitions(settings, both, AS_OF)] == [
        "reports/validation/calls/day=2026-10-13.json"  # 41 days old; 2026-10-14 is 40 (kept)
    ]
    explicit = make_test_policy([TEAM_WEEK], retention_days={"staged": 30, "quarantine": 40, "reports": 7})
    assert len(expired_partitions(settings, explicit, AS_OF)) == 2
    neither = make_test_policy([TEAM_WEEK], retention_days={"landing": 14})
    assert retention.retention_period(neither, "reports") is None
    assert expired_partitions(settings, neither, AS_OF) == []
