"""The works council's pages: the policy in force, the budget per agent, the ledger."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from teamlens.dashboard.pages import reader, render

router = APIRouter(prefix="/council")


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """The works council's overview (placeholder)."""
    with reader(request).snapshot() as (con, info):
        entries = con.execute("SELECT count(*) FROM ledger").fetchone()
    return render(request, "council.html", {"snapshot": info, "ledger_entries": entries[0] if entries else 0})
