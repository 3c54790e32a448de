"""The register of the personal pages' links: each agent's current link generation, and when a
link was issued or revoked, by whom.

One small JSON file in the restricted metrics zone (foundation.lake: Lake.personal_links), written
whole through the lake's atomic JSON writer by `teamlens personal-link` under the run lock, and read
by the dashboard once per /me/ request (so a revoke takes effect at the next request):

    {"format": 1,
     "generations": {"<pseudonym>": 2, ...},
     "records": [{"event": "issued" | "revoked", "pseudonym": "...", "generation": 1,
                  "at": "<UTC, ISO 8601>", "run_by": "<the operator>"}, ...]}

It holds pseudonyms only, never an employee id or a name. A pseudonym absent from `generations`
has generation 1, so a missing file means every agent's first link. A "revoked" record names the
generation revoked; the "issued" record that follows names the new one. It is not the privacy
ledger: the ledger is shown to the works council, and a pseudonym must not appear there
(docs/privacy.md, The personal page).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation import lake

FORMAT = 1
FIRST_GENERATION = 1
EVENTS = ("issued", "revoked")
RECORD_KEYS = frozenset({"event", "pseudonym", "generation", "at", "run_by"})


class RegisterError(ValueError):
    """The register file cannot be read as the register (the message names the file, no content)."""


@dataclass(frozen=True)
class Register:
    """The register's content: current generations (absent: 1) and the records, oldest first."""

    generations: Mapping[str, int]
    records: tuple[Mapping[str, Any], ...]

    def generation(self, pseudonym: str) -> int:
        return self.generations.get(pseudonym, FIRST_GENERATION)


EMPTY = Register(generations={}, records=())


def _is_generation(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= FIRST_GENERATION


def _problem(doc: object) -> str | None:
    """What is wrong with a parsed register, in words that quote none of its values; None if sound."""
    if not isinstance(doc, dict):
        return "it is not a JSON object"
    if doc.get("format") != FORMAT:
        return f"its 'format' is not {FORMAT}"
    generations, records = doc.get("generations"), doc.get("records")
    if not isinstance(generations, dict) or not isinstance(records, list):
        return "it lacks the 'generations' object or the 'records' list"
    if not all(isinstance(p, str) and p and _is_generation(g) for p, g in generations.items()):
        return "a generation is not a whole number of at least 1"
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict) or set(record) != RECORD_KEYS:
            return f"record {number} does not hold exactly {', '.join(sorted(RECORD_KEYS))}"
        if record["event"] not in EVENTS or not _is_generation(record["generation"]):
            return f"record {number} has an unknown event or a generation that is not a whole number of at least 1"
    return None


def read_register(path: Path) -> Register:
    """The register at path (an absent file is the empty register: everyone at generation 1).

    Raises RegisterError naming the file when it is not valid JSON or not shaped as the register;
    the message quotes nothing of the file, which holds pseudonyms."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return EMPTY
    except (OSError, UnicodeDecodeError) as exc:
        raise RegisterError(f"cannot read the personal link register {path}: {type(exc).__name__}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegisterError(
            f"the personal link register {path} is not valid JSON (line {exc.lineno}, column {exc.colno}); "
            "restore it from a backup: a pseudonym missing from it is back at generation 1"
        ) from None
    problem = _problem(doc)
    if problem:
        raise RegisterError(
            f"the personal link register {path} is malformed: {problem}; "
            "restore it from a backup: a pseudonym missing from it is back at generation 1"
        )
    return Register(generations=dict(doc["generations"]), records=tuple(doc["records"]))


def _record(event: str, pseudonym: str, generation: int, run_by: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "event": event,
        "pseudonym": pseudonym,
        "generation": generation,
        "at": at.isoformat(timespec="seconds"),
        "run_by": run_by,
    }


def record_issue(path: Path, pseudonym: str, run_by: str, *, revoke: bool) -> int:
    """Record that the agent's link is given out (after revoking the current one when `revoke`);
    returns the generation of the link given out. Run it under the run lock (the command does), so
    that two writers never overwrite each other's records."""
    register = read_register(path)
    generation = register.generation(pseudonym)
    at = dt.datetime.now(dt.UTC)
    added = []
    if revoke:
        added.append(_record("revoked", pseudonym, generation, run_by, at))
        generation += 1
    added.append(_record("issued", pseudonym, generation, run_by, at))
    generations = {**register.generations, pseudonym: generation}
    doc = {"format": FORMAT, "generations": generations, "records": [*register.records, *added]}
    lake.write_json_atomic(path, doc)
    return generation
