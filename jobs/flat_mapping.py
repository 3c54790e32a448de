"""The column mapping of a flat call export (landing/flat_calls/<export>/mapping.yaml).

Why: older ACDs and research data sets deliver one CSV row per call, each with its own column
names, date and time formats, time zone and outcome codes. A user onboards such an export by
writing this one file (docs/flat-exports.md); jobs.source_flat does the rest.

The loader is strict: an unknown key, a missing required key, a bad time zone, encoding or
format raises MappingError naming the file, the key and what is expected, before any data is read.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

MAPPING_VERSION = 1
REQUIRED_COLUMNS = ("call_id", "agent", "queue_start", "service_start", "service_exit", "outcome")
OPTIONAL_COLUMNS = ("queue", "date", "queue_exit", "channel")
# Codecs whose line break is the byte 0x0A (lines are split before decoding).
ENCODINGS = {"utf-8": "utf-8", "iso8859-1": "latin-1", "iso8859-15": "iso8859-15", "cp1252": "cp1252"}
_TOP_KEYS = {
    "mapping_version": True,
    "description": False,
    "delimiter": False,
    "encoding": False,
    "header": False,
    "timezone": True,
    "columns": True,
    "formats": True,
    "outcomes": True,
    "agent_identity": True,
    "call_ids_unique": False,
    "no_time": False,
}
# Joins the parts of a call key composed of several columns (columns.call_id: [a, b]). A part's own
# "|" or "\" is escaped (as "\|" and "\\"), so the separator never occurs unescaped inside a part
# and two different rows of key columns never give the same key (docs/flat-exports.md, Call keys).
KEY_SEPARATOR = "|"
# Time texts that mean "did not happen" unless the mapping names its own (no_time); an empty field
# always means no time. Matched after trimming, case-insensitively.
DEFAULT_NO_TIME = ("NULL",)
_DATE_DIRECTIVES = set("YymdjbBaAUWG")
_TIME_DIRECTIVES = set("HIMSfp")
_ALLOWED_DIRECTIVES = _DATE_DIRECTIVES | _TIME_DIRECTIVES | {"%"}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class MappingError(ValueError):
    """The mapping file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class FlatMapping:
    """A validated mapping. columns: (canonical field, export column) pairs for every field but
    call_id, whose export column(s) are key_columns (joined into one key when several); with
    header: false an export column is a 1-based position as a string ("3"). no_time: upper-cased
    time texts that mean "did not happen"."""

    path: str
    mapping_version: int
    description: str
    delimiter: str
    encoding: str
    header: bool
    timezone: str
    columns: tuple[tuple[str, str], ...]
    key_columns: tuple[str, ...]
    call_ids_unique: bool
    no_time: frozenset[str]
    date_format: str | None
    time_format: str
    answered: frozenset[str]
    abandoned: frozenset[str]
    transferred: frozenset[str]
    agent_identity: str

    def column(self, name: str) -> str | None:
        """The export column mapped to a canonical field (call_id: its columns joined by " + "),
        None when it is not mapped."""
        if name == "call_id":
            return " + ".join(self.key_columns)
        return dict(self.columns).get(name)

    def read_columns(self) -> tuple[tuple[str, str], ...]:
        """Every (canonical field, export column) pair the parser reads: call_id once per key column."""
        return (*(("call_id", c) for c in self.key_columns), *self.columns)

    def did_not_happen(self, text: str) -> bool:
        """Whether a time field's text means the time did not happen (empty, or a no_time token)."""
        trimmed = text.strip()
        return not trimmed or trimmed.upper() in self.no_time

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_mapping(path: str | Path) -> FlatMapping:
    """Read and validate a mapping file (YAML)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise MappingError(f"{path}: cannot read the mapping ({e.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise MappingError(f"{path}: not valid YAML ({e})") from None
    return mapping_from_dict(doc, path)


def mapping_from_dict(doc: Any, path: str | Path = "<mapping>") -> FlatMapping:
    """Validate an already parsed mapping document (e.g. a SourceContext's options)."""

    def fail(key: str, expected: str) -> MappingError:
        return MappingError(f"{path}: {key}: expected {expected}")

    if not isinstance(doc, Mapping):
        raise MappingError(f"{path}: expected a YAML mapping of keys ({', '.join(_TOP_KEYS)})")
    _check_keys(doc, _TOP_KEYS, "", path)
    if doc["mapping_version"] != MAPPING_VERSION or isinstance(doc["mapping_version"], bool):
        raise fail("mapping_version", f"{MAPPING_VERSION}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "a text")
    delimiter = doc.get("delimiter", ",")
    if delimiter == "tab":
        delimiter = "\t"
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise fail("delimiter", 'one character such as ",", ";", "|" or "\\t" (or the word tab)')
    encoding = doc.get("encoding", "utf-8")
    try:
        codec = codecs.lookup(str(encoding)).name
    except LookupError:
        codec = ""
    if not isinstance(encoding, str) or codec not in ENCODINGS:
        raise fail("encoding", "utf-8, latin-1, iso8859-15 or cp1252")
    header = doc.get("header", True)
    if not isinstance(header, bool):
        raise fail("header", "true or false")
    timezone = doc["timezone"]
    try:
        if not isinstance(timezone, str) or not timezone:
            raise ValueError
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("timezone", "an IANA time zone such as Europe/Berlin") from None

    columns = doc["columns"]
    if not isinstance(columns, Mapping):
        raise fail("columns", "a mapping of canonical field -> export column")
    _check_keys(
        columns, {**dict.fromkeys(REQUIRED_COLUMNS, True), **dict.fromkeys(OPTIONAL_COLUMNS, False)}, "columns.", path
    )
    pairs: list[tuple[str, str]] = []
    for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
        if name in columns and name != "call_id":
            pairs.append((name, _export_column(columns[name], f"columns.{name}", header, path)))
    key_columns = _key_columns(columns["call_id"], header, path)
    call_ids_unique = doc.get("call_ids_unique", False)
    if not isinstance(call_ids_unique, bool):
        raise fail("call_ids_unique", "true or false")
    no_time = _no_time(doc.get("no_time", list(DEFAULT_NO_TIME)), path)

    formats = doc["formats"]
    if not isinstance(formats, Mapping):
        raise fail("formats", "a mapping with time (and date)")
    _check_keys(formats, {"time": True, "date": False}, "formats.", path)
    time_format = _check_format(formats["time"], "formats.time", path)
    has_date_column = "date" in columns
    if has_date_column:
        if "date" not in formats:
            raise fail("formats.date", "a strptime format such as %Y-%m-%d (columns.date is mapped)")
        date_format: str | None = _check_format(formats["date"], "formats.date", path)
        if _directives(time_format) & _DATE_DIRECTIVES:
            raise fail("formats.time", "a time without a date (the date comes from columns.date)")
        if not _full_date(date_format or "") or _directives(date_format or "") & _TIME_DIRECTIVES:
            raise fail("formats.date", "a date format with year and day (%Y or %y, %d or %j) and no time")
    else:
        if "date" in formats:
            raise fail("formats.date", "no value unless columns.date is mapped")
        date_format = None
        if not _full_date(time_format):
            raise fail("formats.time", "a date and time (e.g. %Y-%m-%d %H:%M:%S), or map columns.date")

    outcomes = doc["outcomes"]
    if not isinstance(outcomes, Mapping):
        raise fail("outcomes", "a mapping with answered, abandoned (and transferred) code lists")
    _check_keys(outcomes, {"answered": True, "abandoned": True, "transferred": False}, "outcomes.", path)
    answered = _codes(outcomes["answered"], "outcomes.answered", path)
    abandoned = _codes(outcomes["abandoned"], "outcomes.abandoned", path)
    transferred = _codes(outcomes.get("transferred", []), "outcomes.transferred", path, allow_empty=True)
    if answered & abandoned:
        raise fail("outcomes.abandoned", f"codes not also answered ({', '.join(sorted(answered & abandoned))})")
    if transferred - answered:
        raise fail(
            "outcomes.transferred", f"codes also listed as answered ({', '.join(sorted(transferred - answered))})"
        )

    identity = doc["agent_identity"]
    if not isinstance(identity, str) or not _IDENTIFIER.match(identity) or identity == "display_name":
        raise fail("agent_identity", "a roster column such as employee_id (lower-case identifier, not display_name)")
    return FlatMapping(
        path=str(path),
        mapping_version=MAPPING_VERSION,
        description=description,
        delimiter=delimiter,
        encoding=ENCODINGS[codec],
        header=header,
        timezone=timezone,
        columns=tuple(pairs),
        key_columns=key_columns,
        call_ids_unique=call_ids_unique,
        no_time=no_time,
        date_format=date_format,
        time_format=time_format,
        answered=answered,
        abandoned=abandoned,
        transferred=transferred,
        agent_identity=identity,
    )


def ids_unique(mapping: FlatMapping) -> bool:
    """Whether the export declares its call key unique across the export (call_ids_unique).

    The one place the ingest learns it (Source.ids_unique): a repeated key is then one call
    delivered again, its versions ranked by last_update_ts (the latest staged; two different rows
    at the same latest time are an id collision). False (the default): rows sharing a key but
    differing in content are different calls (jobs.columns: the later ones get a suffixed id).
    """
    return mapping.call_ids_unique


def compose_call_key(parts: Sequence[str]) -> str:
    """The call key of a row: its one key column as it is, or several joined by KEY_SEPARATOR with
    each part's "\\" and "|" escaped (injective: different parts never give the same key)."""
    if len(parts) == 1:
        return parts[0]
    return KEY_SEPARATOR.join(p.replace("\\", "\\\\").replace(KEY_SEPARATOR, "\\" + KEY_SEPARATOR) for p in parts)


def _export_column(value: Any, key: str, header: bool, path: str | Path) -> str:
    """One export column: a name (header: true) or a 1-based position as text (header: false)."""
    if header:
        if not isinstance(value, str) or not value.strip():
            raise MappingError(f"{path}: {key}: expected the export's column name (header: true)")
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MappingError(f"{path}: {key}: expected a 1-based column position (header: false)")
    return str(value)


def _key_columns(value: Any, header: bool, path: str | Path) -> tuple[str, ...]:
    """columns.call_id: one export column, or a list of distinct columns composing the key."""
    parts = value if isinstance(value, list) else [value]
    if not parts:
        raise MappingError(f"{path}: columns.call_id: expected a column or a list of columns, e.g. [VRU_LINE, CALL_ID]")
    out = tuple(_export_column(p, "columns.call_id", header, path) for p in parts)
    if len(set(out)) != len(out):
        raise MappingError(f"{path}: columns.call_id: expected distinct columns (one is listed twice)")
    return out


def _no_time(value: Any, path: str | Path) -> frozenset[str]:
    """no_time: the texts that mean a time did not happen, as quoted strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MappingError(
            f"{path}: no_time: expected a list of quoted texts such as ['0:00:00', 'NULL'] "
            "(unquoted, YAML reads a time such as 7:00:00 as a number)"
        )
    return frozenset(v.strip().upper() for v in value if v.strip())


def _check_keys(doc: Mapping[Any, Any], keys: Mapping[str, bool], prefix: str, path: str | Path) -> None:
    unknown = [str(k) for k in doc if k not in keys]
    if unknown:
        raise MappingError(
            f"{path}: unknown key {prefix}{unknown[0]} (expected one of: {', '.join(prefix + k for k in keys)})"
        )
    missing = [k for k, required in keys.items() if required and k not in doc]
    if missing:
        raise MappingError(f"{path}: missing required key {prefix}{missing[0]}")


def _directives(fmt: str) -> set[str]:
    return set(re.findall(r"%(.)", fmt))


def _full_date(fmt: str) -> bool:
    return bool({"Y", "y"} & _directives(fmt) and {"d", "j"} & _directives(fmt))


def _check_format(fmt: Any, key: str, path: str | Path) -> str:
    """A strptime format with known directives that can round-trip a sample instant."""
    expected = "a strptime format such as %Y-%m-%d or %H:%M:%S"
    if not isinstance(fmt, str) or "%" not in fmt:
        raise MappingError(f"{path}: {key}: expected {expected}")
    bad = sorted(_directives(fmt) - _ALLOWED_DIRECTIVES)
    if bad or fmt.replace("%%", "").endswith("%"):
        raise MappingError(f"{path}: {key}: unsupported directive %{bad[0] if bad else ''} (expected {expected})")
    sample = dt.datetime(2026, 10, 25, 21, 7, 9, 500000)
    try:
        dt.datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError:
        raise MappingError(f"{path}: {key}: {fmt!r} cannot be parsed back (expected {expected})") from None
    return fmt


def _codes(value: Any, key: str, path: str | Path, allow_empty: bool = False) -> frozenset[str]:
    """Outcome codes, trimmed and upper-cased (matching is case-insensitive)."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or (not value and not allow_empty):
        raise MappingError(f"{path}: {key}: expected a list of outcome codes such as [AN, TR]")
    out = set()
    for code in value:
        if isinstance(code, bool) or not isinstance(code, str | int) or not str(code).strip():
            raise MappingError(
                f"{path}: {key}: expected outcome codes as text (quote codes such as 'NO' or 'Y', "
                "which YAML reads as true/false)"
            )
        out.add(str(code).strip().upper())
    return frozenset(out)
