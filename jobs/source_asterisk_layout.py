"""Asterisk file layouts and agent identity: where each field of a line is, and who the agent is.

Database exports (queue_log and CDR tables) come with a header row whose column names vary between
installations; the columns are found by name (trimmed, any case, quotes removed), in any order, and
every column not named below is never read. A CDR file without a header is Master.csv, in its fixed
order. The agent identity rule turns every channel form of one agent into one identifier before the
roster lookup (docs/landing.md, Asterisk). Text times are the PBX's local time: source.yaml names its
zone (or usegmtime), one rule for the CDR and queue_log exports, daylight saving time included.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobs import columns

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# field -> the header names accepted for it, in order of preference (the first one present is read).
QUEUE_LOG_NAMES: dict[str, tuple[str, ...]] = {
    "time": ("time", "date_time", "datetime", "timestamp"),
    "callid": ("callid", "call_id"),
    "queue": ("queuename", "queue_name", "queue"),
    "agent": ("agent", "agent_name", "membername"),
    "event": ("event", "verb"),
    **{f"d{i}": (f"data{i}", f"param{i}", f"arg{i}") for i in range(1, 6)},
    # A realtime table with one `data` column holds data1..data5 joined by '|'.
    "data": ("data",),
}
QUEUE_LOG_REQUIRED = ("time", "callid", "queue", "agent", "event")

# Master.csv, the cdr_csv module's fixed column order (no header).
MASTER_CSV_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
)
# The CDR fields read (nothing else of a CDR is ever parsed) and the header names accepted for them.
CDR_NAMES: dict[str, tuple[str, ...]] = {
    "uniqueid": ("uniqueid",),
    "dstchannel": ("dstchannel",),
    "lastapp": ("lastapp",),
    "lastdata": ("lastdata",),
    "start": ("start", "calldate"),
    "answer": ("answer",),
    "end": ("end",),
    "duration": ("duration",),
    "billsec": ("billsec",),
    "disposition": ("disposition",),
}
# Without `answer` and `end` (a cdr_mysql or default cdr_odbc table: calldate only), end is start +
# duration and answer is end - billsec for an answered call.
CDR_REQUIRED = ("uniqueid", "dstchannel", "start", "duration", "billsec", "disposition")

# A text time (local to source.yaml's zone, or UTC with usegmtime).
DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"
_HEADER_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class HeaderError(ValueError):
    """A header export lacks a column the adapter needs; the message names file, column and the names accepted."""


@dataclass(frozen=True)
class Layout:
    """Where one file's fields are: 0-based column positions (None: not in the file), its header line."""

    source_file: str
    header_line: int | None
    n_columns: int
    positions: Mapping[str, int | None]


def header_names(text: str) -> list[str]:
    """A header row's column names: trimmed, lower case, quotes removed."""
    row = next(csv.reader([text]), [])
    return [name.strip().strip('"').strip().lower() for name in row]


def is_header(names: Sequence[str], known: Mapping[str, tuple[str, ...]]) -> bool:
    """A row of column names (no values: every field is a plain name) naming at least one known column."""
    accepted = {n for names_of in known.values() for n in names_of}
    return all(_HEADER_NAME.match(n) for n in names) and any(n in accepted for n in names)


def positions(
    source_file: str, names: Sequence[str], known: Mapping[str, tuple[str, ...]], required: Sequence[str]
) -> dict[str, int | None]:
    """field -> position of its first accepted name in the header; refuses a header lacking a required field."""
    found: dict[str, int | None] = {}
    for field_name, accepted in known.items():
        found[field_name] = next((names.index(n) for n in accepted if n in names), None)
    missing = [f for f in required if found[f] is None]
    if missing:
        needs = "; ".join(f"{f} (accepted names: {', '.join(known[f])})" for f in missing)
        raise HeaderError(f"{source_file}: the header lacks the column(s) {needs}")
    return found


def queue_log_layout(source_file: str, line: int, text: str) -> Layout:
    """A queue_log database export: the header is its first line; data1..5 may come joined in `data`."""
    names = header_names(text)
    found = positions(source_file, names, QUEUE_LOG_NAMES, QUEUE_LOG_REQUIRED)
    if any(found[f"d{i}"] is not None for i in range(1, 6)):
        found["data"] = None
    return Layout(source_file, line, len(names), found)


def cdr_layout(source_file: str, line: int, text: str) -> Layout:
    """A CDR file: a table export when its first line is a header, else Master.csv's fixed order."""
    names = header_names(text)
    if is_header(names, CDR_NAMES):
        return Layout(source_file, line, len(names), positions(source_file, names, CDR_NAMES, CDR_REQUIRED))
    fixed = list(MASTER_CSV_COLUMNS)
    return Layout(source_file, None, len(fixed), {f: fixed.index(f) if f in fixed else None for f in CDR_NAMES})


def first_lines(lines: DataFrame) -> list[tuple[str, int, str]]:
    """(source_file, line, text) of each file's first non-blank line (a few rows, one per file)."""
    from pyspark.sql import functions as F

    firsts = lines.groupBy("source_file").agg(F.min(F.struct("source_line", "value")).alias("_first")).collect()
    return [(r["source_file"], int(r["_first"]["source_line"]), r["_first"]["value"]) for r in firsts]


def layout_frame(spark: SparkSession, layouts: Sequence[Layout], fields: Sequence[str]) -> DataFrame:
    """One row per file: source_file, _header_line, _ncols and _p_<field> (0-based position or null)."""
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("source_file", T.StringType(), False),
            T.StructField("_header_line", T.LongType(), True),
            T.StructField("_ncols", T.IntegerType(), False),
            *[T.StructField(f"_p_{f}", T.IntegerType(), True) for f in fields],
        ]
    )
    rows = [(x.source_file, x.header_line, x.n_columns, *[x.positions.get(f) for f in fields]) for x in layouts]
    return spark.createDataFrame(rows, schema)


def csv_fields(value: Column, width: int) -> Column:
    """The line's CSV fields as an array of `width` strings (quoted fields with "" escapes; missing: null)."""
    from pyspark.sql import functions as F

    csv_schema = ", ".join(f"`_c{i}` STRING" for i in range(max(width, 1)))
    row = F.from_csv(value, csv_schema, {"mode": "PERMISSIVE", "escape": '"'})
    return F.array(*[row[f"_c{i}"] for i in range(max(width, 1))])


def field_at(fields: Column, field_name: str) -> Column:
    """The field at the file's position for it (null when the file has no such column)."""
    from pyspark.sql import functions as F

    return F.get(fields, F.col(f"_p_{field_name}"))


# --- options ------------------------------------------------------------------------------------


ZONE_OPTION = "timezone"
UTC_OPTION = "usegmtime"
# Why a source's text times need a declared zone, as the refusal says it.
_LOCAL_TIMES = {
    "asterisk_cdr": "Asterisk CDR times are the PBX's local time unless usegmtime is set",
    "asterisk_queue_log": "the time column holds text times, which Asterisk writes in the PBX's local time",
}


class TimeZoneError(ValueError):
    """A source's local text times without a declared zone, or an unknown zone; the message says
    what to write into which source.yaml."""


def zone_declared(options: Mapping[str, Any]) -> bool:
    """Whether the source's options say how its text times are meant (a timezone, or usegmtime)."""
    return bool(options.get(UTC_OPTION)) or bool(options.get(ZONE_OPTION))


def time_zone(options: Mapping[str, Any], source: str, needed_by: str | None = None) -> str | None:
    """The IANA zone the source's text times are local to, None for UTC (usegmtime: true, which wins
    over a timezone); refuses to guess when neither is set, naming the file that needs it (needed_by)."""
    where = f"landing/{source}/source.yaml"
    if options.get(UTC_OPTION):
        return None
    tz = options.get(ZONE_OPTION)
    if not tz:
        prefix = f"{needed_by}: " if needed_by else ""
        raise TimeZoneError(
            f"{prefix}{_LOCAL_TIMES.get(source, 'its times are local')}: write `{ZONE_OPTION}: <IANA name>` "
            f"(e.g. Europe/Berlin) or `{UTC_OPTION}: true` (a PBX that runs in UTC) into {where}"
        )
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeZoneError(f"{where}: unknown timezone {tz!r} (need an IANA name)") from None
    return str(tz)


def refuse_unzoned_text(lines: DataFrame, time_column: str, options: Mapping[str, Any], source: str) -> None:
    """Stops ingestion, naming the first file whose time column holds text, when the options declare
    no zone: Asterisk writes such text in the PBX's local time, and the zone is never guessed."""
    from pyspark.sql import functions as F

    if zone_declared(options):
        return
    with_text = lines.filter(F.col(time_column).rlike(DATETIME_TEXT)).select("source_file").distinct()
    first = with_text.orderBy("source_file").limit(1).collect()
    if first:
        time_zone(options, source, needed_by=first[0]["source_file"])


def local_instant(text: Column, zone: str | None) -> Column:
    """A 'YYYY-MM-DD HH:MM:SS[.ffffff]' text local to zone (None: UTC) as the UTC instant it names;
    null when it is not a time. Daylight saving time (docs/landing.md, Asterisk), decided here for
    every Asterisk source alike: a time in the hour repeated when DST ends is the earlier of its two
    instants (still summer time); a time in the hour skipped when DST starts, which a PBX clock never
    writes, is moved on by the gap (02:30 is read as 03:30 summer time)."""
    from pyspark.sql import functions as F

    ts = columns.timestamp(text)
    return ts if zone is None else F.to_utc_timestamp(ts, zone)


# --- agent identity -------------------------------------------------------------------------------

AGENT_PATTERN_OPTION = "agent_pattern"


def agent_pattern(options: Mapping[str, Any], source: str) -> str | None:
    """The source's own identity rule (a regex with one group), None for the built-in channel rule."""
    pattern = options.get(AGENT_PATTERN_OPTION)
    if pattern is None:
        return None
    where = f"landing/{source}/source.yaml: {AGENT_PATTERN_OPTION}"
    if not isinstance(pattern, str):
        raise ValueError(f"{where} must be a regular expression (text)")
    try:
        groups = re.compile(pattern).groups
    except re.error as exc:
        raise ValueError(f"{where} is not a regular expression ({exc})") from None
    if groups != 1:
        raise ValueError(f"{where} needs exactly one group ( ... ), the identifier; it has {groups}")
    return pattern


def channel_identifier(value: Column) -> Column:
    """The built-in rule: the agent number N of Agent/N, Local/N@context(/n), SIP/N(-suffix),
    PJSIP/N(-suffix), IAX2/N(-callno), N@context or plain N (the channel technology, the
    @context and the channel's unique suffix removed)."""
    from pyspark.sql import functions as F

    text = F.trim(value)
    iax = F.when(text.rlike(r"(?i)^iax2/"), F.regexp_replace(text, r"-\d+$", "")).otherwise(text)
    bare = F.regexp_replace(iax, r"(?i)^(agent|local|sip|pjsip|iax2)/", "")
    no_context = F.regexp_replace(bare, r"@.*$", "")
    return F.regexp_replace(no_context, r"(?i)-[0-9a-f]{8}(;\d+)?$", "")


def agent_identifier(value: Column, pattern: str | None) -> Column:
    """The agent identifier of a delivered agent or channel value: the built-in channel rule, or
    group 1 of the source's pattern (a value the pattern does not match stays as delivered, trimmed)."""
    from pyspark.sql import functions as F

    if pattern is None:
        return channel_identifier(value)
    text = F.trim(value)
    return F.when(text.rlike(pattern), F.regexp_extract(text, pattern, 1)).otherwise(text)
