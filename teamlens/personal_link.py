"""The links of the personal pages: `/me/<token>`, one per agent, for that agent alone.

token = HMAC-SHA256 under the personal page key (settings.personal_page_key, a key of its own) of
the context, the agent's pseudonym, a separator and the agent's link generation, as 64 hex digits.
The generation (1 unless revoked; teamlens/personal_link_register.py) lets one agent's link be
revoked alone: a new generation makes a new token, and the old one matches nobody. The dashboard
never holds the pseudonym key: it finds whose token it was given by computing the current token
of every pseudonym the restricted agent_day table holds and comparing each in constant time
(hmac.compare_digest), all of them, whatever matches. A malformed token, an unknown one, a
revoked one and a wrong one are the same "not found".

`teamlens personal-link --employee-id ID [--revoke]` prints the link (it needs both keys: the
pseudonym key to find the agent's pseudonym, the personal page key to sign it) and records its
issue in the register, under the run lock; `--revoke` first moves the agent to a new generation.
The link is the secret: it is given to the agent on their own request and to nobody else
(docs/privacy.md, The personal page).
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
from teamlens.personal_link_register import FIRST_GENERATION, Register

TOKEN_PATTERN = re.compile(r"[0-9a-f]{64}")
# Binds the MAC to its use, so that the key could not sign anything else by accident. The first
# generation keeps the message of the links given out before generations existed (v1), so those
# links still open; later generations sign a message of their own (v2), which no v1 message equals.
TOKEN_CONTEXT_FIRST = b"teamlens personal page v1\x00"
TOKEN_CONTEXT = b"teamlens personal page v2\x00"
# Between the pseudonym and the generation (a pseudonym never holds it), so no two pairs sign alike.
GENERATION_SEPARATOR = b"\x00"
DEFAULT_BASE_URL = "http://127.0.0.1:8050"


def personal_token(key: bytes, pseudonym: str, generation: int) -> str:
    """The token of an agent's personal page of one link generation, hex: HMAC-SHA256(key, v1
    context + pseudonym) for the first, HMAC-SHA256(key, v2 context + pseudonym + separator +
    generation) for each later one."""
    if generation == FIRST_GENERATION:
        message = TOKEN_CONTEXT_FIRST + pseudonym.encode("utf-8")
    else:
        message = TOKEN_CONTEXT + pseudonym.encode("utf-8") + GENERATION_SEPARATOR + str(generation).encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pseudonym_of_token(key: bytes, token: str, pseudonyms: Iterable[str], register: Register) -> str | None:
    """The pseudonym whose current token `token` is, or None (malformed, unknown, revoked or wrong:
    all alike); each pseudonym's current generation is the link register's.

    Every candidate is compared in constant time, and the loop does not stop at a match."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    found = None
    for pseudonym in pseudonyms:
        current = personal_token(key, pseudonym, register.generation(pseudonym))
        if hmac.compare_digest(current, token):
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
    revoke: Annotated[
        bool,
        typer.Option("--revoke", help="Revoke the agent's current link (it answers 'not found') and print a new one."),
    ] = False,
) -> int:
    """Print the link of one agent's personal page (/me/<token>), for that agent alone; recorded as issued."""
    from foundation.roster import pseudonym
    from foundation.settings import load_settings
    from teamlens.dashboard.personal_data import known_pseudonyms
    from teamlens.personal_link_register import RegisterError, record_issue
    from teamlens.run_lock import RunInProgress, exclusive_run
    from teamlens.user_errors import UserError

    settings = load_settings()
    employee_id = employee_id.strip()
    if not employee_id or not _in_roster(settings, employee_id):
        raise UserError(
            f"employee id {employee_id!r} is not in the roster ({settings.lake.roster_file}): "
            "check the id as the roster writes it"
        )
    mine = pseudonym(settings.pseudonym_key(), employee_id)
    key = settings.personal_page_key()  # before anything is recorded: without it no link can be made
    register = settings.lake.personal_links
    try:  # the lock's holder line is shown to whoever is refused: it names the command, not the agent
        with exclusive_run(settings, "teamlens personal-link" + (" --revoke" if revoke else "")):
            generation = record_issue(register, mine, settings.run_by, revoke=revoke)
    except (RunInProgress, RegisterError) as exc:
        raise UserError(str(exc)) from None
    if revoke:
        print(f"Revoked: the agent's previous link now answers 'not found'. Their new link (generation {generation}):")
    print(personal_url(base_url, personal_token(key, mine, generation)))
    print("Give this link to the agent who asked for it, and to nobody else: whoever holds it sees their page.")
    print(f"Recorded as issued by {settings.run_by} in {register} (restricted; pseudonyms only).")
    if mine not in known_pseudonyms(settings):
        print("No agent-day figures are held for them yet: the page answers 'not found' until there are.")
    if not settings.personal_pages:
        print("Personal pages are off in this environment (TEAMLENS_PERSONAL_PAGES): the dashboard answers 404.")
    return 0
