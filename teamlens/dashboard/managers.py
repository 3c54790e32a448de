"""The managers' pages: published figures of groups with their 95% intervals."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from teamlens.dashboard.pages import reader, render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """The releases managers can read (placeholder: to be filled with the figures)."""
    with reader(request).snapshot() as (con, info):
        releases = con.execute("SELECT DISTINCT release_name FROM current_aggregates ORDER BY release_name").fetchall()
    return render(request, "index.html", {"snapshot": info, "releases": [r[0] for r in releases]})
