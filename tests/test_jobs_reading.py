"""Small pure helpers of the Spark jobs: reading landing files (jobs.reading)."""

from __future__ import annotations

from pathlib import Path

from jobs.reading import scan_paths


def test_scan_paths_uses_folders_only_when_every_file_is_wanted(tmp_path: Path) -> None:
    day1, day2 = tmp_path / "day=2026-10-05", tmp_path / "day=2026-10-06"
    for folder in (day1, day2):
        folder.mkdir()
        for name in ("a.json", "b.json", ".hidden.json", "_SUCCESS", "notes.txt"):
            (folder / name).write_text("{}")
    everything = [str(day1 / "a.json"), str(day1 / "b.json"), str(day2 / "a.json"), str(day2 / "b.json")]
    assert scan_paths(everything) == ([str(day1), str(day2)], "*.json")
    # One file of a folder left out: read the files themselves, nothing extra.
    assert scan_paths(everything[1:]) == (everything[1:], None)
    # Mixed suffixes: files as given.
    mixed = [str(day1 / "a.json"), str(day1 / "notes.txt")]
    assert scan_paths(mixed) == (mixed, None)
