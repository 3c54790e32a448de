"""The dashboard's web app: the managers' and the works council's pages, served read-only, and
the agents' personal pages (teamlens/dashboard/personal.py), reachable only with their link.

Each page says which snapshot it shows (when it was written, the ledger's size and head).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from foundation.settings import Settings
from teamlens.dashboard import council, managers, personal, staffing_page, surveys
from teamlens.dashboard.pages import STATIC, Reader, render
from warehouse.snapshot import NoSnapshotError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse


def create_app(settings: Settings) -> FastAPI:
    """The app with every page; `settings` says where the snapshot is."""
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    app = FastAPI(title="teamlens", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.reader = Reader(settings)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(managers.router)
    app.include_router(council.router)
    app.include_router(staffing_page.router)
    app.include_router(surveys.router)
    personal.install(app)  # /me/<token>: one agent's own page, for the link's holder only

    @app.exception_handler(NoSnapshotError)
    async def nothing_published(request: Request, exc: NoSnapshotError) -> HTMLResponse:
        return render(request, "nothing.html", {"message": str(exc)}, status_code=503)

    return app


def serve(settings: Settings, host: str, port: int) -> int:
    """Serve the app until interrupted (uvicorn, one process)."""
    import uvicorn

    print(f"teamlens dashboard: http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
    # No access log: it would print the personal pages' paths, whose token is the secret.
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)
    return 0
