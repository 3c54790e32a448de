"""The links of the personal pages: `/me/<token>`, one per agent, for that agent alone.

token = HMAC-SHA256 under the personal page key (settings.personal_page_key, a key of its own) of
the agent's pseudonym, as 64 hex digits. The dashboard never holds the pseudonym key: it finds
whose token it was given by computing the token of every pseudonym the restricted agent_day table
holds and comparing each in constant time (hmac.compare_digest), all of them, whatever matches.
A malformed token, an unknown one and a wrong one are the same "not found".

`teamlens personal-link --employee-id ID` prints the link (it needs both keys: the pseudonym key
to find the agent's pseudonym, the personal page key to sign it). The link is the secret: it is
given to the agent on their own request and to nobody else (docs/privacy.md, Your own data).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
from collections.abc import Iterable
from typing import Annotated

import typer

from foundation.settings import Settings

TOKEN_PATTERN = re.compile(r"[0-9a-f]{64}")
# Binds the MAC to its use, so that the key could not sign anything else by accident.
TOKEN_CONTEXT = b"teamlens personal page v1\x00"
DEFAULT_BASE_URL = "http://127.0.0.1:8050"


def personal_token(key: bytes, pseudonym: str) -> str:
    """The token of an agent's personal page: HMAC-SHA256(key, context + pseudonym), hex."""
    return hmac.new(key, TOKEN_CONTEXT + pseudonym.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym_of_token(key: bytes, token: str, pseudonyms: Iterable[str]) -> str | None:
    """The pseudonym whose token `token` is, or None (malformed, unknown or wrong: all alike).

    Every candidate is compared in constant time, and the loop does not stop at a match."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    found = None
    for pseudonym in pseudonyms:
        if hmac.compare_digest(personal_token(key, pseudonym), token):
            found = pseudonym
    return found


def personal_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/me/{token}"


def _in_roster(settings: Settings, employee_id: str) -> bool:
    from foundation.roster import csv_text

    path = settings.lake.roster_file
    if not path.is_file():
        return False
    rows = csv.DictReader(io.StringIO(csv_text(path), newline=""))
    return any((row.get("employee_id") or "").strip() == employee_id for row in rows)


def cmd_personal_link(
    employee_id: Annotated[
        str, typer.Option("--employee-id", help="The agent's employee id, as the roster writes it.")
    ],
    base_url: Annotated[
        str, typer.Option("--base-url", help="The dashboard's address as the agent reaches it.")
    ] = DEFAULT_BASE_URL,
) -> int:
    """Print the link of one agent's personal page (/me/<token>), for that agent alone."""
    from foundation.roster import pseudonym
    from foundation.settings import load_settings
    from teamlens.dashboard.personal_data import known_pseudonyms
    from teamlens.user_errors import UserError

    settings = load_settings()
    employee_id = employee_id.strip()
    if not employee_id or not _in_roster(settings, employee_id):
        raise UserError(
            f"employee id {employee_id!r} is not in the roster ({settings.lake.roster_file}): "
            "check the id as the roster writes it"
        )
    mine = pseudonym(settings.pseudonym_key(), employee_id)
    print(personal_url(base_url, personal_token(settings.personal_page_key(), mine)))
    print("Give this link to the agent who asked for it, and to nobody else: whoever holds it sees their page.")
    if mine not in known_pseudonyms(settings):
        print("No agent-day figures are held for them yet: the page answers 'not found' until there are.")
    if not settings.personal_pages:
        print("Personal pages are off in this environment (TEAMLENS_PERSONAL_PAGES): the dashboard answers 404.")
    return 0
