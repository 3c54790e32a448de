"""The lake layout: paths, name parsing, the atomic partition swap and its recovery."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from foundation import lake
from foundation.lake import Lake
from foundation.schema import AGENT_DAY, CONTACTS

DAY = dt.date(2026, 11, 3)
ID = "0123abcd"


def _folder(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


# --- paths ---------------------------------------------------------------------------------


def test_lake_paths() -> None:
    root = Path("/data")
    paths = Lake(root)
    assert [paths.landing, paths.staged, paths.quarantine, paths.metrics, paths.reports] == [
        root / zone for zone in lake.ZONES[:5]
    ]
    assert paths.warehouse_path == root / "warehouse/warehouse.duckdb"
    assert paths.spark_connect_dir == root / "run/spark-connect"
    assert paths.roster_file == root / "landing/roster/roster.csv"
    assert paths.demo_center_marker == root / "landing/.teamlens-demo-center.json"
    assert paths.landing_partition("connect_ctr", DAY) == root / "landing/connect_ctr/day=2026-11-03"
    assert paths.table_root(CONTACTS) == root / "staged/contacts"
    assert paths.table_root(AGENT_DAY) == root / "metrics/agent_day"
    assert paths.table_partition(CONTACTS, DAY) == root / "staged/contacts/day=2026-11-03"
    assert paths.ingest_quarantine_root(CONTACTS, "connect_ctr") == root / "quarantine/contacts/ingest/connect_ctr"
    assert (
        paths.validation_quarantine_file(CONTACTS, DAY)
        == root / "quarantine/contacts/day=2026-11-03/validation.parquet"
    )
    assert paths.ingest_report(CONTACTS, DAY) == root / "reports/ingest/contacts/day=2026-11-03.json"
    assert paths.validation_report(CONTACTS, DAY) == root / "reports/validation/contacts/day=2026-11-03.json"
    assert paths.metrics_markers == root / "reports/metrics"
    assert paths.metrics_marker(DAY) == root / "reports/metrics/agent_day/day=2026-11-03.json"
    assert lake.RECORD_ZONES == ("landing", "staged", "quarantine", "metrics")
    assert set(lake.RECORD_ZONES) < set(lake.ZONES)


def test_settings_lake_is_under_the_data_root(settings) -> None:
    assert settings.lake == Lake(settings.data_root)


def test_partitions_on_disk(tmp_path: Path) -> None:
    days = [DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)]
    for day in (days[2], days[0]):
        lake.partition(tmp_path, day).mkdir()
    (tmp_path / f".tmp-day={days[1]}-{ID}").mkdir()
    (tmp_path / "day=2026-02-30").mkdir()
    (tmp_path / "day=2026-11-09.json").write_text("{}")
    assert lake.partition_days(tmp_path) == [days[0], days[2]]
    assert lake.partition_paths(tmp_path, days[:2]) == [tmp_path / f"day={days[0]}", tmp_path / f"day={days[1]}"]
    assert lake.partition_days(tmp_path / "missing") == []


def test_data_files_skip_markers_and_hidden_files(tmp_path: Path) -> None:
    names = {"b.parquet": "", "a.parquet": "", "_SUCCESS": "", ".a.parquet.crc": "", lake.VALIDATION_MARKER: "{}"}
    folder = _folder(tmp_path / "day=2026-11-03", names)
    (folder / "_hidden.parquet").write_text("")
    (folder / "sub.parquet").mkdir()
    assert lake.data_files(folder) == [folder / "a.parquet", folder / "b.parquet"]
    assert lake.data_files(tmp_path / "missing") == []


# --- names ---------------------------------------------------------------------------------


def test_partition_day_parsing() -> None:
    assert lake.partition_name(DAY) == "day=2026-11-03"
    assert lake.partition_day("day=2026-11-03") == DAY
    for name in (
        "day=2026-11-3",
        "day=2026-02-30",
        "day=2026-11-03.json",
        ".day=2026-11-03",
        "xday=2026-11-03",
        "day=",
    ):
        assert lake.partition_day(name) is None, name


def test_hidden_day_parsing() -> None:
    for kind in lake.SWAP_KINDS:
        assert lake.hidden_day(f".{kind}-day=2026-11-03-{ID}") == DAY
    assert lake.hidden_day(".tmp-day=2026-11-03-" + "f" * 32) == DAY
    # validation's names before swap_in, which an older data root may still hold
    assert lake.hidden_day(".day=2026-11-03.validating") == DAY
    assert lake.hidden_day(".day=2026-11-03.replaced") == DAY
    # leftovers of earlier versions' interrupted writes: a shorter id, no id, no kind
    for name in (".tmp-day=2026-11-03-abcd", ".tmp-day=2026-11-03", ".day=2026-11-03"):
        assert lake.hidden_day(name) == DAY, name
    for name in (
        "day=2026-11-03",
        ".tmp-day=2026-11-03-abc",  # an id has 4 to 32 hex digits
        ".tmp-day=2026-11-03-0123ABCD",
        ".new-day=2026-11-03-0123abcd",
        ".tmp-day=2026-02-30-0123abcd",
        ".day=2026-11-03.other",
    ):
        assert lake.hidden_day(name) is None, name


def test_day_file_day_parsing() -> None:
    assert lake.day_file_day("day=2026-11-03.json") == DAY
    for name in ("day=2026-11-03", "day=2026-11-03.json.tmp", ".day=2026-11-03.json", "day=2026-13-01.json"):
        assert lake.day_file_day(name) is None, name


def test_hidden_sibling() -> None:
    target = Path("/data/staged/contacts/day=2026-11-03")
    assert lake.hidden_sibling(target, "tmp", ID) == target.parent / f".tmp-day=2026-11-03-{ID}"
    assert lake.hidden_sibling(target, "old", ID).name == f".old-day=2026-11-03-{ID}"
    assert lake.hidden_sibling(target, "retention", ID).name == f".retention-day=2026-11-03-{ID}"
    assert lake.hidden_day(lake.hidden_sibling(target, "tmp", lake.new_swap_id()).name) == DAY
    with pytest.raises(ValueError, match="unknown swap kind 'new'"):
        lake.hidden_sibling(target, "new", ID)


# --- the swap ------------------------------------------------------------------------------


def test_swap_in_replaces_the_partition(tmp_path: Path) -> None:
    target = _folder(tmp_path / "t" / "day=2026-11-03", {"old.parquet": "old"})
    seen: list[Path] = []

    def build(folder: Path) -> None:
        seen.append(folder)
        _folder(folder, {"new.parquet": "new"})

    assert lake.swap_in(target, build) == target
    assert _contents(target) == {"new.parquet": "new"}
    assert seen[0].parent == target.parent and lake.hidden_day(seen[0].name) == DAY
    assert seen[0].name.startswith(".tmp-day=2026-11-03-")
    assert [p.name for p in target.parent.iterdir()] == ["day=2026-11-03"]


def test_swap_in_creates_a_missing_partition_and_its_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "day=2026-11-03"
    lake.swap_in(target, lambda folder: _folder(folder, {"x.parquet": "x"}))
    assert _contents(target) == {"x.parquet": "x"}
    assert [p.name for p in target.parent.iterdir()] == ["day=2026-11-03"]


def test_a_failed_build_leaves_the_partition_untouched(tmp_path: Path) -> None:
    target = _folder(tmp_path / "day=2026-11-03", {"old.parquet": "old"})

    def failing(folder: Path) -> None:
        _folder(folder, {"half.parquet": ""})
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        lake.swap_in(target, failing)
    assert _contents(target) == {"old.parquet": "old"}
    with pytest.raises(RuntimeError, match="wrote no folder"):
        lake.swap_in(target, lambda folder: None)
    assert _contents(target) == {"old.parquet": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["day=2026-11-03"]  # the half-built folder is gone


def test_recover_puts_the_complete_new_folder_in_place(tmp_path: Path) -> None:
    """Interrupted between the renames: the target is gone, old and new siblings of one swap remain."""
    target = tmp_path / "day=2026-11-03"
    _folder(lake.hidden_sibling(target, "tmp", ID), {"new.parquet": "new"})
    _folder(lake.hidden_sibling(target, "old", ID), {"old.parquet": "old"})
    _folder(lake.hidden_sibling(target, "tmp", "ffffffff"), {"half.parquet": ""})  # another, unfinished build
    lake.recover(target)
    assert _contents(target) == {"new.parquet": "new"}
    assert [p.name for p in tmp_path.iterdir()] == ["day=2026-11-03"]


def test_recover_restores_the_old_folder_without_its_new_one(tmp_path: Path) -> None:
    target = tmp_path / "day=2026-11-03"
    _folder(lake.hidden_sibling(target, "old", ID), {"old.parquet": "old"})
    lake.recover(target)
    assert _contents(target) == {"old.parquet": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["day=2026-11-03"]


def test_recover_removes_leftovers_beside_a_complete_target(tmp_path: Path) -> None:
    target = _folder(tmp_path / "day=2026-11-03", {"current.parquet": "current"})
    _folder(lake.hidden_sibling(target, "tmp", ID), {"new.parquet": "new"})
    _folder(lake.hidden_sibling(target, "old", "ffffffff"), {"old.parquet": "old"})
    _folder(tmp_path / ".tmp-day=2026-11-04-0123abcd", {"other.parquet": "other day"})
    lake.recover(target)
    assert _contents(target) == {"current.parquet": "current"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-day=2026-11-04-0123abcd", "day=2026-11-03"]
    lake.recover(tmp_path / "missing" / "day=2026-11-03")  # no parent: nothing to do


def test_recover_finishes_a_legacy_validation_swap(tmp_path: Path) -> None:
    target = tmp_path / "day=2026-11-03"
    _folder(tmp_path / ".day=2026-11-03.validating", {"new.parquet": "new"})
    _folder(tmp_path / ".day=2026-11-03.replaced", {"old.parquet": "old"})
    lake.recover(target)
    assert _contents(target) == {"new.parquet": "new"}
    assert [p.name for p in tmp_path.iterdir()] == ["day=2026-11-03"]


def test_swap_in_recovers_an_interrupted_swap_first(tmp_path: Path) -> None:
    target = tmp_path / "day=2026-11-03"
    _folder(lake.hidden_sibling(target, "tmp", ID), {"new.parquet": "new"})
    _folder(lake.hidden_sibling(target, "old", ID), {"old.parquet": "old"})
    seen: dict[str, str] = {}

    def build(folder: Path) -> None:
        seen.update(_contents(target))
        _folder(folder, {"newer.parquet": "newer"})

    lake.swap_in(target, build)
    assert seen == {"new.parquet": "new"}
    assert _contents(target) == {"newer.parquet": "newer"}
    assert [p.name for p in tmp_path.iterdir()] == ["day=2026-11-03"]


# --- single files --------------------------------------------------------------------------


def test_write_json_atomic(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "day=2026-11-03.json"
    lake.write_json_atomic(path, {"b": 1, "a": [1, 2]})
    assert path.read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    lake.write_json_atomic(path, {"c": 3}, indent=None)
    assert path.read_text() == '{"c": 3}\n'
    assert json.loads(path.read_text()) == {"c": 3}
    assert [p.name for p in path.parent.iterdir()] == ["day=2026-11-03.json"]


def test_replace_file_atomic(tmp_path: Path) -> None:
    path = tmp_path / "q" / "validation.parquet"
    written: list[Path] = []

    def write(tmp: Path) -> None:
        written.append(tmp)
        tmp.write_bytes(b"rows")

    lake.replace_file_atomic(path, write)
    assert path.read_bytes() == b"rows"
    assert written[0].parent == path.parent and written[0].name.startswith(".validation.parquet.")
    assert written[0].name.endswith(".tmp")

    def failing(tmp: Path) -> None:
        tmp.write_bytes(b"ha")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        lake.replace_file_atomic(path, failing)
    assert path.read_bytes() == b"rows"
    assert [p.name for p in path.parent.iterdir()] == ["validation.parquet"]
