"""The works council's pages: the policy in force and its history, the budget per agent against
the cap, the ledger's events as a timeline, and the ledger's state with how to check it.

Everything comes from the ledger and the budget spend in the published snapshot
(teamlens.audit_view, shared with the monthly statement); nothing here is about one agent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from teamlens import audit_view
from teamlens.dashboard.charts import to_svg
from teamlens.dashboard.pages import reader, render

router = APIRouter(prefix="/council")

SECTIONS = (
    ("", "Overview"),
    ("policy", "Policy"),
    ("budget", "Budget per agent"),
    ("ledger", "Ledger timeline"),
    ("verify", "Ledger state"),
)


def _page(request: Request, template: str, section: str, context: dict[str, Any]) -> HTMLResponse:
    return render(request, template, {"sections": SECTIONS, "section": section, **context})


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    """The policy in force, this month's budget, the latest events and whether the ledger verifies."""
    settings = reader(request).settings
    with reader(request).snapshot() as (con, info):
        policy = audit_view.policy_in_force(con)
        months = audit_view.budget_by_month(con, policy) if policy else []
        year = audit_view.year_budget(con, policy) if policy else None
        events = audit_view.timeline(con)[-8:][::-1]
        state = audit_view.ledger_state(con, settings.lake.checkpoints)
    context = {"snapshot": info, "policy": policy, "month": months[-1] if months else None, "year": year}
    return _page(request, "council.html", "", context | {"events": events, "state": state})


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request) -> HTMLResponse:
    """Each release the policy in force allows (purpose, grouping, window, metrics, bounds, budget) and its history."""
    with reader(request).snapshot() as (con, info):
        policy = audit_view.policy_in_force(con)
        history = audit_view.policy_history(con)
    return _page(request, "council_policy.html", "policy", {"snapshot": info, "policy": policy, "history": history})


@router.get("/budget", response_class=HTMLResponse)
def budget_page(request: Request) -> HTMLResponse:
    """The budget each agent spent per month against the cap (chart and table), and the rolling year."""
    with reader(request).snapshot() as (con, info):
        policy = audit_view.policy_in_force(con)
        months = audit_view.budget_by_month(con, policy) if policy else []
        year = audit_view.year_budget(con, policy) if policy else None
    chart = to_svg(audit_view.budget_chart(months[-12:])) if months else None
    context = {"snapshot": info, "policy": policy, "months": months[::-1], "year": year, "chart": chart}
    return _page(request, "council_budget.html", "budget", context)


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, kind: str | None = None) -> HTMLResponse:
    """Every ledger event, newest first: releases, corrections, refusals, deletions, approvals, statements."""
    with reader(request).snapshot() as (con, info):
        events = audit_view.timeline(con)[::-1]
    counts: dict[str, int] = {}
    for event in events:
        counts[event.kind] = counts.get(event.kind, 0) + 1
    shown = [e for e in events if kind is None or e.kind == kind]
    context = {"snapshot": info, "events": shown, "counts": counts, "kinds": audit_view.EVENT_KINDS, "kind": kind}
    return _page(request, "council_ledger.html", "ledger", context)


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request) -> HTMLResponse:
    """Whether the ledger verifies now, the current signed checkpoint, and how to check both yourself."""
    settings = reader(request).settings
    with reader(request).snapshot() as (con, info):
        state = audit_view.ledger_state(con, settings.lake.checkpoints)
    return _page(request, "council_verify.html", "verify", {"snapshot": info, "state": state})


@router.get("/checkpoint/{name}", response_class=PlainTextResponse)
def checkpoint_file(request: Request, name: str) -> PlainTextResponse:
    """The latest signed checkpoint (checkpoint.txt) or its verifier key (checkpoint.txt.pub), to keep a
    copy; named by the entries it covers. Only a checkpoint whose signature verifies is offered."""
    from foundation.lake import public_key_path
    from privacy import checkpoint as cp

    if name not in ("checkpoint.txt", "checkpoint.txt.pub"):
        raise HTTPException(status_code=404)
    latest = reader(request).settings.lake.latest_checkpoint
    try:  # each file read once, the note checked against the key it is served with
        note = latest.read_text(encoding="utf-8")
        verifier = public_key_path(latest).read_text(encoding="utf-8")
        size = cp.open_note(note, verifier).size
    except (OSError, cp.CheckpointError):
        raise HTTPException(status_code=404, detail="no signed checkpoint that verifies has been written yet") from None
    download = f"teamlens-checkpoint-{size}.txt" + (".pub" if name.endswith(".pub") else "")
    return PlainTextResponse(
        verifier if name.endswith(".pub") else note,
        headers={"Content-Disposition": f'attachment; filename="{download}"'},
    )
