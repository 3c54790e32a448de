"""The personal pages: `/me/<token>`, one agent's own figures for them alone.

The token (teamlens.personal_link) is the only way in: no manager or council page links here.
A page shows the agent's own agent-day rows of a month (the restricted metrics zone, read for
their pseudonym only: teamlens/dashboard/personal_data.py) beside their team's and site's
published figures of the same month, exactly as managers see them, and what managers can and
cannot see. docs/privacy.md ("Your own data") says who can read what.

- Switched off (settings.personal_pages false), a malformed token, an unknown token, a revoked
  one and a wrong one all answer the same 404; on without a key, or with a link register that
  cannot be read: 503 and a log line saying what to fix.
- Whose token it is: each pseudonym's current link generation comes from the link register
  (teamlens/personal_link_register.py), read once per request, so a revoke counts at once.
- Every /me/ answer carries Cache-Control: no-store, Referrer-Policy: no-referrer and
  X-Robots-Tag: noindex (the page also says so in its head).
- The token never reaches a log: uvicorn's access log is off (app.serve) and, for a server run
  with it on, a filter on uvicorn's loggers writes /me/[link] instead of the path.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from foundation.settings import MissingSecretError
from teamlens.dashboard import personal_data as pd
from teamlens.dashboard.managers import min_group_size
from teamlens.dashboard.pages import reader, render
from teamlens.personal_link import pseudonym_of_token
from teamlens.personal_link_register import RegisterError, read_register

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fastapi import FastAPI
    from starlette.responses import Response

log = logging.getLogger("teamlens.dashboard.personal")
router = APIRouter(prefix="/me")

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
NOT_FOUND = "not found"
PERSONAL_PATH = re.compile(r"/me/[^\s\"']*")
REDACTED_PATH = "/me/[link]"


class TokenRedaction(logging.Filter):
    """Rewrites /me/<token> (with any query) to /me/[link] in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = PERSONAL_PATH.sub(REDACTED_PATH, record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(PERSONAL_PATH.sub(REDACTED_PATH, a) if isinstance(a, str) else a for a in record.args)
        return True


def install(app: FastAPI) -> None:
    """Add the personal pages to the app: the route, their headers, the log filter."""
    app.include_router(router)

    @app.middleware("http")
    async def private_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.url.path == "/me" or request.url.path.startswith("/me/"):
            response.headers.update(PRIVATE_HEADERS)
        return response

    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedaction) for f in logger.filters):
            logger.addFilter(TokenRedaction())


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail=NOT_FOUND)


@router.get("/{token}", response_class=HTMLResponse)
def personal_page(request: Request, token: str, month: str | None = None) -> HTMLResponse:
    """One agent's month beside their team's and site's published figures (404 unless the token is theirs)."""
    settings = reader(request).settings
    if not settings.personal_pages:
        raise _not_found()
    try:
        key = settings.personal_page_key()
    except MissingSecretError as exc:
        log.warning("personal pages are switched on but have no key (they answer 503): %s", exc)
        return render(request, "nothing.html", {"message": "Personal pages are not available."}, status_code=503)
    try:
        register = read_register(settings.lake.personal_links)  # once per request, whatever the roster's size
    except RegisterError as exc:  # the message names the file and quotes nothing of it
        log.warning("personal pages answer 503 until the link register is fixed: %s", exc)
        return render(request, "nothing.html", {"message": "Personal pages are not available."}, status_code=503)
    pseudonym = pseudonym_of_token(key, token, pd.known_pseudonyms(settings), register)
    if pseudonym is None:
        raise _not_found()
    rows = pd.agent_rows(settings, pseudonym)
    months = pd.months_of(rows)
    shown = month or (months[-1] if months else None)
    if shown is None or shown not in months:
        raise _not_found()
    first, following = pd.month_days(shown)
    in_month = pd.between(rows, first, following)
    with reader(request).snapshot() as (con, info):
        beside = pd.published_beside(con, in_month, shown)
    context: dict[str, Any] = {
        "snapshot": info,
        "month": shown,
        "month_label": first.strftime("%B %Y"),
        "months": months,
        "own": pd.own_figures(in_month),
        "days": pd.own_days(in_month),
        "beside": beside,
        "fg": pd.fg,
        "min_group_size": min_group_size(request),
    }
    return render(request, "personal.html", context)
