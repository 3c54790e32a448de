"""What every page handler shares: the snapshot reader and the template renderer.

A handler opens the published snapshot for the request only (a short read-only connection) and
passes `snapshot` (its SnapshotInfo) to the template, whose footer says which state it shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.settings import Settings
from warehouse.snapshot import SnapshotInfo, open_snapshot

if TYPE_CHECKING:
    import duckdb
    from fastapi import Request
    from fastapi.responses import HTMLResponse

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


class Reader:
    """What a page handler reads through: the settings and the snapshot."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def snapshot(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, SnapshotInfo]]:
        """A short read-only connection to the published snapshot (NoSnapshotError when none)."""
        with open_snapshot(self.settings.lake.published_snapshot_path) as opened:
            yield opened


def templates() -> Any:
    from fastapi.templating import Jinja2Templates

    return Jinja2Templates(directory=str(TEMPLATES))


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page from its template; `snapshot` in the context fills the footer."""
    response: HTMLResponse = templates().TemplateResponse(request, name, context, status_code=status_code)
    return response


def reader(request: Request) -> Reader:
    """The app's reader, for a page handler."""
    found: Reader = request.app.state.reader
    return found
