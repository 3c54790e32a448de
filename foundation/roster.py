"""The roster and the pseudonyms: who is an agent, in which team and site, and under which pseudonym.

Pure Python on purpose: the pseudonymisation key never enters Spark. Every identifier column of the
roster is matched case-insensitively; none of them reaches the staged zone.

The key's fingerprint (a keyed hash of a constant, never the key) is stored with every processed
day, so that a release window whose days were pseudonymised under two keys is refused
(docs/privacy.md, Key continuity).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import hmac
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from foundation.settings import Settings

ROSTER_COLUMNS = ("employee_id", "team", "site", "site_timezone")  # required; the rest are optional
# Roster columns that are never an agent identifier (names are not unique, groups are not agents).
NOT_IDENTIFIERS = ("display_name", "team", "site", "site_timezone")
# An identifier cell may hold several values, one agent's identifiers in one source (e.g. the agent
# number and the extension it logs in from): `1101|2101`. employee_id is always one value.
IDENTIFIER_SEPARATOR = "|"


class RosterError(ValueError):
    """The landing roster cannot be used; the message names the line and the field."""


@dataclass(frozen=True)
class RosterAgent:
    """One roster agent as the jobs may see it: no name; identifiers only to match records to the agent."""

    agent_pseudonym: str
    connect_username: str | None
    desktop_host: str | None  # lower case: host names are case-insensitive
    team: str
    site: str
    site_timezone: str
    # Every identifier column of the roster (employee_id, connect_username, desktop_host,
    # asterisk_agent, genesys_user_id, or any column a flat export's mapping names) -> its values,
    # trimmed and lower case: the values sources are matched against; they never reach the staged zone.
    identifiers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def all_identifiers(self) -> dict[str, tuple[str, ...]]:
        """Roster column -> the agent's identifiers in it (one or more)."""
        named = {"connect_username": self.connect_username, "desktop_host": self.desktop_host}
        return {**{k: identifier_values(k, v) for k, v in named.items() if v}, **self.identifiers}


def identifier_values(column: str, cell: str) -> tuple[str, ...]:
    """The identifiers of one roster cell: trimmed, lower case, split at '|' (except employee_id)."""
    parts = [cell] if column == "employee_id" else cell.split(IDENTIFIER_SEPARATOR)
    return tuple(dict.fromkeys(v.strip().lower() for v in parts if v.strip()))


def pseudonym(key: bytes, employee_id: str) -> str:
    """HMAC-SHA256(key, employee_id) in hex: one agent, one pseudonym across sources."""
    return hmac.new(key, employee_id.encode(), hashlib.sha256).hexdigest()


# The constant the fingerprint hashes; a new version of the fingerprint needs a new constant.
FINGERPRINT_MESSAGE = b"teamlens key fingerprint v1"
FINGERPRINT_LENGTH = 16  # hex characters (64 bits): tells keys apart, reveals nothing of them


def key_fingerprint_of(key: bytes) -> str:
    """HMAC-SHA256(key, a constant), its first 16 hex characters: names the key without revealing it.

    Two days with the same fingerprint were pseudonymised under the same key; with different
    fingerprints, one person has two pseudonyms across them.
    """
    return hmac.new(key, FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:FINGERPRINT_LENGTH]


def key_fingerprint(settings: Settings) -> str:
    """The fingerprint of the settings' pseudonymisation key (key_fingerprint_of)."""
    return key_fingerprint_of(settings.pseudonym_key())


@dataclass(frozen=True)
class KeyedRoster:
    """The pseudonymised roster and the fingerprint of the key its pseudonyms were made with."""

    agents: list[RosterAgent]
    key_fingerprint: str


def roster_path(settings: Settings) -> Path:
    return settings.lake.roster_file


def csv_text(path: Path) -> str:
    """A CSV file's text: UTF-8, a leading byte-order mark dropped (spreadsheets write one).

    Raises RosterError naming the file, and for text that is not UTF-8 (a latin-1 export) the
    line, the byte and its column; PermissionError naming the file when it cannot be read.
    """
    try:
        data = path.read_bytes()
    except PermissionError:
        raise PermissionError(
            f"{path} cannot be read (permission denied): give the pipeline's user read access to it (e.g. chmod a+r)"
        ) from None
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        raise RosterError(
            f"{path} line {line}: not UTF-8 text (byte 0x{data[exc.start]:02X} at column "
            f"{exc.start - line_start + 1}); save it as UTF-8"
        ) from None


def read_roster(settings: Settings) -> list[RosterAgent]:
    """The landing roster, pseudonymised in Python (read_keyed_roster without the fingerprint)."""
    return read_keyed_roster(settings).agents


def read_keyed_roster(settings: Settings) -> KeyedRoster:
    """The landing roster, pseudonymised in Python, with the key's fingerprint (the key is read once).

    A bad roster is an error naming the line.

    Required columns: employee_id, team, site, site_timezone. Every other column except
    display_name is an agent identifier that some source matches (see docs/landing.md); a cell may
    hold several, separated by '|'. An identifier claimed by two agents in one column (compared
    case-insensitively) is refused: it would join one record to two agents.
    """
    path = roster_path(settings)
    if not path.is_file():
        raise FileNotFoundError(f"no roster at {path}: records cannot be pseudonymised without it")
    key = settings.pseudonym_key()
    agents: list[RosterAgent] = []
    seen: dict[str, dict[str, int]] = {}  # column -> identifier -> the roster line that claims it
    with io.StringIO(csv_text(path), newline="") as fh:
        reader = csv.DictReader(fh)
        header = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in ROSTER_COLUMNS if c not in header]
        if missing:
            raise RosterError(f"{path}: missing column(s) {', '.join(missing)}")
        id_columns = [c for c in header if c and c not in NOT_IDENTIFIERS]
        for line, row in enumerate(reader, start=2):
            values = {(c or "").strip(): (v or "").strip() for c, v in row.items() if isinstance(v, str | None)}
            for required in ROSTER_COLUMNS:
                if not values.get(required):
                    raise RosterError(f"{path} line {line}: empty {required}")
            try:
                ZoneInfo(values["site_timezone"])
            except (ZoneInfoNotFoundError, ValueError):
                raise RosterError(f"{path} line {line}: unknown site_timezone {values['site_timezone']!r}") from None
            identifiers = {c: identifier_values(c, values[c]) for c in id_columns if values.get(c)}
            for column, claimed in identifiers.items():
                for position, value in enumerate(claimed, start=1):
                    if value in seen.setdefault(column, {}):
                        raise RosterError(
                            f"{path} line {line}: duplicate {column} (value {position} of the cell is also "
                            f"claimed by line {seen[column][value]}; one record would match two agents)"
                        )
                    seen[column][value] = line
            agents.append(
                RosterAgent(
                    agent_pseudonym=pseudonym(key, values["employee_id"]),
                    connect_username=values.get("connect_username") or None,
                    desktop_host=(values.get("desktop_host") or "").lower() or None,
                    team=values["team"],
                    site=values["site"],
                    site_timezone=values["site_timezone"],
                    identifiers=identifiers,
                )
            )
    return KeyedRoster(agents, key_fingerprint_of(key))
