"""Input files that are not what the pipeline expects get one clear error naming the file (and the
line): a roster in latin-1, one with a byte-order mark (accepted), an unreadable one, a read-only zone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from foundation import lake
from foundation.roster import RosterError, read_roster
from teamlens import pipeline

FIXTURES = Path(__file__).parent / "fixtures" / "roster"


def _landing_roster(settings, fixture: str) -> Path:
    path = settings.lake.roster_file
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / fixture, path)
    return path


def test_a_latin1_roster_is_refused_naming_file_line_and_byte(settings) -> None:
    path = _landing_roster(settings, "latin1.csv")
    with pytest.raises(RosterError) as caught:
        read_roster(settings)
    assert str(caught.value) == f"{path} line 3: not UTF-8 text (byte 0xE9 at column 34); save it as UTF-8"


def test_a_roster_with_a_byte_order_mark_is_read_as_without_it(settings) -> None:
    _landing_roster(settings, "utf8_bom.csv")
    agents = read_roster(settings)
    assert [(a.team, a.site, a.identifiers) for a in agents] == [
        ("North", "Berlin", {"employee_id": ("e1",)}),
        ("South", "Berlin", {"employee_id": ("e2",)}),
    ]


def test_an_unreadable_roster_is_named(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _landing_roster(settings, "utf8_bom.csv")
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(PermissionError) as caught:
        read_roster(settings)
    assert str(caught.value) == (
        f"{path} cannot be read (permission denied): give the pipeline's user read access to it (e.g. chmod a+r)"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_an_unreadable_roster_is_named_for_real(settings) -> None:
    path = _landing_roster(settings, "utf8_bom.csv")
    path.chmod(0)
    try:
        with pytest.raises(PermissionError, match=f"{path} cannot be read"):
            read_roster(settings)
    finally:
        path.chmod(0o600)


def test_a_read_only_zone_fails_the_run_naming_the_folder(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    contacts = settings.lake.staged / "contacts"
    (contacts / "day=2026-10-05").mkdir(parents=True)
    (settings.lake.quarantine / "contacts").mkdir(parents=True)
    pipeline.require_writable_zones(settings)  # all writable: no error
    real = os.access
    monkeypatch.setattr(lake.os, "access", lambda p, mode: Path(p) != contacts and real(p, mode))
    assert lake.unwritable_folders(settings.lake) == [contacts]
    with pytest.raises(PermissionError) as caught:
        pipeline.require_writable_zones(settings)
    assert str(caught.value) == (
        f"this run cannot write {contacts} (read-only for this process's user); "
        "give the pipeline's user write access to the data root's zones and run again"
    )
