"""Contacts from flat call exports (landing/flat_calls/<export>/day=D/*.csv, *.tsv, *.txt).

One row per call, as older ACDs and research data sets write them, described by the export's
column mapping (landing/flat_calls/<export>/mapping.yaml, jobs.flat_mapping, docs/flat-exports.md):
onboarding a new export means writing that file only.

Parsing happens in Python on the driver, file by file: the mapping's encoding must be honoured
(spark.read.text assumes UTF-8), local wall times need a DST-aware time zone database (zoneinfo)
and calls crossing midnight need the previous field's instant. Flat exports are nightly files of
thousands to a few million calls, which this handles; the rows then enter Spark in one frame.

Minimisation: only the mapped columns are read; every other column (customer numbers, names,
notes) is split off the line and dropped at once. Only raw_record keeps the line, for the
restricted quarantine zone.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from foundation import schema
from jobs import reading
from jobs.flat_mapping import (
    KEY_SEPARATOR,
    FlatMapping,
    compose_call_key,
    ids_unique,
    load_mapping,
    mapping_from_dict,
)
from jobs.sources import ADDED_COLUMNS, PARSED_EXTRA_COLUMNS, Parsed, Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

TABLE = schema.CONTACTS
FOLDER = "flat_calls"
MAPPING_FILE = "mapping.yaml"
SUFFIXES = (".csv", ".tsv", ".txt")
TIME_FIELDS = ("queue_start", "queue_exit", "service_start", "service_exit")
UTC = dt.UTC

# The parsed-rows columns (jobs.sources contract), in frame order.
PARSED_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys([c for c in TABLE.column_names if c not in ADDED_COLUMNS] + list(PARSED_EXTRA_COLUMNS))
)
_TIMESTAMPS = tuple(c for c in PARSED_COLUMNS if c.endswith("_ts"))


def parsed_schema() -> StructType:
    """The parsed rows' StructType (every column nullable: a row with a reason has few values)."""
    from pyspark.sql import types as T

    declared = {f.name: f.dataType for f in TABLE.spark_schema().fields}
    extra = {"agent_key": T.StringType(), "day_ts": T.TimestampType(), "reason": T.StringType(),
             "source_file": T.StringType(), "source_line": T.LongType(), "raw_record": T.StringType()}  # fmt: skip
    return T.StructType([T.StructField(c, declared.get(c, extra.get(c, T.StringType())), True) for c in PARSED_COLUMNS])


def not_ingested_schema() -> str:
    return "source_file string, kind string, records long"


# --- Python parsing (pure: no Spark) ---------------------------------------------------------


class _Clock:
    """Text -> UTC instants under one mapping, with caches (exports repeat dates and times)."""

    def __init__(self, mapping: FlatMapping) -> None:
        self.zone = ZoneInfo(mapping.timezone)
        self.roll = mapping.date_format is not None
        time_format, date_format = mapping.time_format, mapping.date_format
        self.time: Callable[[str], dt.datetime | None] = functools.lru_cache(maxsize=200_000)(
            lambda text: _strptime(text, time_format)
        )
        self.date: Callable[[str], dt.datetime | None] = functools.lru_cache(maxsize=10_000)(
            lambda text: _strptime(text, date_format or "")
        )

    def utc(self, wall: dt.datetime, fold: int = 0) -> dt.datetime | None:
        """The UTC instant of a local wall time; None when the wall time does not exist (DST gap)."""
        instant = wall.replace(tzinfo=self.zone, fold=fold).astimezone(UTC)
        return instant if instant.astimezone(self.zone).replace(tzinfo=None) == wall else None

    def chain(self, walls: Sequence[tuple[str, dt.datetime]]) -> list[dt.datetime] | str:
        """UTC instants of successive wall times of one call, each not before the previous one.

        A time earlier than its predecessor is first tried as the second occurrence of an
        ambiguous hour (DST end), then (dates from a date column only) as the next day: the
        call crossed midnight. Returns a reason instead when neither works.
        """
        out: list[dt.datetime] = []
        prev_name = ""
        for name, wall in walls:
            instant = self.utc(wall)
            if instant is None:
                return f"{name} is not a valid local time in {self.zone.key} (daylight saving gap)"
            if out and instant < out[-1]:
                second = self.utc(wall, fold=1)
                if second is not None and second >= out[-1]:
                    instant = second
                elif self.roll:
                    rolled = self.utc(wall + dt.timedelta(days=1))
                    if rolled is None or rolled < out[-1]:
                        return f"{name} is before {prev_name}"
                    instant = rolled
                else:
                    return f"{name} is before {prev_name}"
            out.append(instant)
            prev_name = name
        return out


def _strptime(text: str, fmt: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, fmt)
    except ValueError:
        return None


class _LineParser:
    """Turns the data lines of one file into parsed-rows tuples (PARSED_COLUMNS order)."""

    def __init__(self, mapping: FlatMapping, positions: Mapping[str, int], width: int | None):
        self.m = mapping
        # canonical field (call_id: each key column) -> 0-based position in the line
        self.index = {f: positions[c] for f, c in mapping.columns}
        self.key_index = [(c, positions[c]) for c in mapping.key_columns]
        self.labels = {f: f"column {c}" for f, c in mapping.columns}  # how a reason names the column
        self.width = width  # expected field count (header); None: at least the highest position
        self.needed = max(positions[c] for _, c in mapping.read_columns()) + 1
        self.clock = _Clock(mapping)

    def row(self, source_file: str, line_no: int, line: str, reason: str | None = None) -> tuple[Any, ...]:
        values: dict[str, Any] = {"source_file": source_file, "source_line": line_no, "raw_record": line}
        if reason is None:
            parsed = self._parse(line)
            if isinstance(parsed, str):
                reason = parsed
            else:
                values.update(parsed)
        values["reason"] = reason
        return tuple(values.get(c) for c in PARSED_COLUMNS)

    def _label(self, field: str) -> str:
        return f"{field} ({self.labels[field]})"

    def fields(self, line: str) -> dict[str, str] | str:
        """The mapped fields' texts of a line (call_id: the composed key), or why there are none."""
        if not line.strip():
            return "empty line"
        try:
            fields = next(csv.reader([line], delimiter=self.m.delimiter, strict=True))
        except csv.Error:
            return "malformed line (unbalanced quotes)"
        if (self.width is not None and len(fields) != self.width) or len(fields) < self.needed:
            expected = self.width if self.width is not None else f"at least {self.needed}"
            return f"wrong column count: {len(fields)} fields, expected {expected}"
        # Only the mapped fields are taken from the split line; the rest is dropped here.
        parts = [(column, fields[i].strip()) for column, i in self.key_index]
        empty = [column for column, part in parts if not part]
        if empty:
            return f"missing call_id (column {empty[0]})"
        get = {name: fields[i].strip() for name, i in self.index.items()}
        get["call_id"] = compose_call_key([part for _, part in parts])
        return get

    def _parse(self, line: str) -> dict[str, Any] | str:
        get = self.fields(line)
        if isinstance(get, str):
            return get
        call_id = get["call_id"]
        outcome = get["outcome"].upper()
        if not outcome:
            return f"missing {self._label('outcome')}"
        abandoned = outcome in self.m.abandoned
        if not abandoned and outcome not in self.m.answered:
            return f"unknown outcome {outcome!r} (add it to outcomes in the mapping)"
        channel = get.get("channel", "").upper() or "VOICE"
        if channel not in schema.CHANNELS:
            return f"unknown {self._label('channel')} (expected {', '.join(schema.CHANNELS)})"
        agent = get["agent"]
        if not abandoned and not agent:
            return f"missing {self._label('agent')} on an answered call"

        date: dt.datetime | None = None
        if "date" in get:
            if not get["date"]:
                return f"missing {self._label('date')}"
            date = self.clock.date(get["date"])
            if date is None:
                return f"invalid {self._label('date')}: expected {self.m.date_format}"
        # A time whose text is empty or a no_time token did not happen: null, never midnight. An
        # answered call needs its service; one without a queue start never queued (it starts when
        # served, after 0 s in queue); an abandoned call needs its queue start, not its exit.
        needed = ("queue_start",) if abandoned else ("service_start", "service_exit")
        wanted = ("queue_start", "queue_exit") if abandoned else ("queue_start", "service_start", "service_exit")
        walls: list[tuple[str, dt.datetime]] = []
        for name in wanted:
            text = get.get(name, "")  # queue_exit may be unmapped
            if self.m.did_not_happen(text):
                if name in needed:
                    return f"missing {self._label(name)}" + (" on an abandoned call" if abandoned else "")
                continue
            parsed = self.clock.time(text)
            if parsed is None:
                return f"invalid {self._label(name)}: expected {self.m.time_format}"
            if date is not None:
                parsed = dt.datetime.combine(date.date(), parsed.time())
            walls.append((name, parsed))
        instants = self.clock.chain(walls)
        if isinstance(instants, str):
            return instants
        at = dict(zip((name for name, _ in walls), instants, strict=True))
        start = at.get("queue_start") or at["service_start"]
        if abandoned:
            end = at.get("queue_exit")
            connected = None
        else:
            end, connected = at["service_exit"], at["service_start"]
        left_queue = connected or end
        return {
            "contact_id": call_id,
            "agent_key": None if abandoned else agent,
            "queue": get.get("queue") or None,
            "channel": channel,
            "initiation_method": "INBOUND",
            "initiation_ts": start,
            "connected_to_agent_ts": connected,
            "disconnect_ts": end,
            "queue_seconds": None if left_queue is None else _seconds(left_queue - start),
            "talk_seconds": None if connected is None or end is None else _seconds(end - connected),
            "transferred_out": outcome in self.m.transferred,
            "abandoned": abandoned,
            "last_update_ts": end or start,
            "day_ts": start,
        }


def _seconds(delta: dt.timedelta) -> int:
    return round(delta.total_seconds())


def _decode_error(encoding: str) -> str:
    name = "UTF-8" if encoding == "utf-8" else encoding
    return f"not valid {name} (set encoding in the mapping)"


def parse_bytes(
    mapping: FlatMapping, source_file: str, data: bytes
) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, int]]]:
    """One file's parsed rows (tuples in PARSED_COLUMNS order) and its not-ingested counts.

    Every data line gives exactly one row; the header line is counted as not ingested ("header"),
    an empty file as ("empty file", 0). Raises ValueError when the header lacks a mapped column.
    """
    lines = _split_lines(data)
    if not lines:
        return [], [(source_file, "empty file", 0)]
    notes: list[tuple[str, str, int]] = []
    parser, first = _file_parser(mapping, source_file, lines[0])
    if first:
        notes.append((source_file, "header", 1))
    rows = []
    for n, text, bad in _data_lines(mapping, lines, first):
        rows.append(parser.row(source_file, n, text, _decode_error(mapping.encoding) if bad else None))
    return rows, notes


def _file_parser(mapping: FlatMapping, source_file: str, first_line: bytes) -> tuple[_LineParser, int]:
    """The line parser of a file and the number of its header lines (0 or 1); raises ValueError
    when the header lacks a mapped column."""
    if not mapping.header:
        positions = {c: int(c) - 1 for _, c in mapping.read_columns()}
        return _LineParser(mapping, positions, None), 0
    header_text = first_line.decode(mapping.encoding, errors="replace").lstrip("\ufeff")
    try:
        names = [n.strip() for n in next(csv.reader([header_text], delimiter=mapping.delimiter))]
    except (csv.Error, StopIteration):
        names = []
    missing = [(f, c) for f, c in mapping.read_columns() if c not in names]
    if missing:
        field, column = missing[0]
        raise ValueError(
            f"{source_file}: the header lacks column {column!r} (columns.{field} in {mapping.path}); "
            f"missing: {', '.join(c for _, c in missing)}"
        )
    return _LineParser(mapping, {c: names.index(c) for _, c in mapping.read_columns()}, len(names)), 1


def _data_lines(mapping: FlatMapping, lines: Sequence[bytes], first: int) -> Iterator[tuple[int, str, bool]]:
    """(1-based line number, decoded text, whether it failed to decode) of each data line."""
    for n, raw in enumerate(lines[first:], start=first + 1):
        try:
            text = raw.decode(mapping.encoding)
        except UnicodeDecodeError:
            yield n, raw.decode(mapping.encoding, "replace"), True
            continue
        yield n, text.lstrip("\ufeff") if n == 1 else text, False


def _split_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final line break ends the last line, it does not start another
    return [b[:-1] if b.endswith(b"\r") else b for b in lines]


def time_texts(mapping: FlatMapping, source_file: str, data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line number, mapped time field -> text) of each data line that splits, for check-mapping's
    look at the texts behind the parsed times (e.g. a "did not happen" value read as midnight)."""
    lines = _split_lines(data)
    if not lines:
        return []
    parser, first = _file_parser(mapping, source_file, lines[0])
    out = []
    for n, text, bad in _data_lines(mapping, lines, first):
        got = None if bad else parser.fields(text)
        if isinstance(got, dict):
            out.append((n, {f: v for f, v in got.items() if f in TIME_FIELDS}))
    return out


# --- the adapter -----------------------------------------------------------------------------


def mapping_of(ctx: SourceContext) -> FlatMapping:
    """The export's mapping: ctx.options as a loaded FlatMapping, or as the YAML document (a dict,
    validated here), or, when empty, ctx.folder/mapping.yaml."""
    options: Any = ctx.options
    if isinstance(options, FlatMapping):
        return options
    if options:
        return mapping_from_dict(dict(options), ctx.folder / MAPPING_FILE)
    return load_mapping(ctx.folder / MAPPING_FILE)


def parse_flat_calls(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """The parsed rows (jobs.sources contract, table CONTACTS) of some files of one flat export."""
    return parse_with_mapping(spark, files, mapping_of(ctx))


def parse_with_mapping(spark: SparkSession, files: Sequence[str], mapping: FlatMapping) -> Parsed:
    """parse_flat_calls with the mapping given directly."""
    rows: list[tuple[Any, ...]] = []
    notes: list[tuple[str, str, int]] = []
    for file in files:
        file_rows, file_notes = parse_bytes(mapping, file, reading.read_landing_bytes(file))
        rows.extend(file_rows)
        notes.extend(file_notes)
    return Parsed(
        rows=spark.createDataFrame(rows, parsed_schema()),
        not_ingested=spark.createDataFrame(notes, not_ingested_schema()),
    )


def field_sources(mapping: FlatMapping) -> dict[str, str]:
    """canonical column -> the export column(s) feeding it (for docs/canonical-tables.md)."""
    c = {f: mapping.column(f) or "" for f in ("call_id", "agent", "queue", "date", "channel", "outcome")}
    q_start, q_exit = mapping.column("queue_start"), mapping.column("queue_exit")
    s_start, s_exit = mapping.column("service_start"), mapping.column("service_exit")
    date = f"{c['date']} + " if c["date"] else ""
    local = f"local time {mapping.timezone}"
    out = {
        "contact_id": c["call_id"] + (f" (joined by {KEY_SEPARATOR})" if len(mapping.key_columns) > 1 else ""),
        "agent_pseudonym": f"{c['agent']} via roster {mapping.agent_identity} (answered calls)",
        "queue": c["queue"] or "not in the export (null)",
        "channel": c["channel"] or "VOICE (constant)",
        "initiation_method": "INBOUND (constant)",
        "initiation_ts": f"{date}{q_start}, else {s_start} when never queued ({local})",
        "connected_to_agent_ts": f"{date}{s_start} ({local})",
        "disconnect_ts": f"{date}{s_exit}" + (f"; {q_exit} when abandoned" if q_exit else "") + f" ({local})",
        "queue_seconds": (f"{s_start} (abandoned: {q_exit}) - {q_start}" if q_exit else f"{s_start} - {q_start}")
        + " (0 when never queued)",
        "talk_seconds": f"{s_exit} - {s_start}",
        "hold_seconds": "not in flat exports (null)",
        "holds": "not in flat exports (null)",
        "acw_seconds": "not in flat exports (null)",
        "transferred_out": f"{c['outcome']} in outcomes.transferred",
        "abandoned": f"{c['outcome']} in outcomes.abandoned",
        "last_update_ts": f"{s_exit}, else {q_exit or q_start}",
    }
    return out


def _bound(mapping: FlatMapping) -> Callable[[SparkSession, list[str], SourceContext], Parsed]:
    def parse(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
        return parse_with_mapping(spark, files, mapping)

    return parse


def flat_sources(landing: Path) -> list[Source]:
    """One Source per landing/flat_calls/<name>/mapping.yaml (a bad mapping raises MappingError)."""
    sources = []
    for path in sorted((Path(landing) / FOLDER).glob(f"*/{MAPPING_FILE}")):
        mapping = load_mapping(path)
        sources.append(
            Source(
                name=f"{FOLDER}/{path.parent.name}",
                table=TABLE,
                suffixes=SUFFIXES,
                identity=mapping.agent_identity,
                parse=_bound(mapping),
                order=(("last_update_ts", True),),
                field_sources=field_sources(mapping),
                description=mapping.description or f"flat call export {path.parent.name}",
                ids_unique=ids_unique(mapping),
            )
        )
    return sources


def rows_as_dicts(df: DataFrame, limit: int | None = None, drop: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Collect parsed rows in file and line order, timestamps as timezone-aware UTC datetimes
    (exact, whatever the Python process's local time zone)."""
    from pyspark.sql import functions as F

    ordered = df.orderBy("source_file", "source_line")
    if limit is not None:
        ordered = ordered.limit(limit)
    cols = [c for c in df.columns if c not in drop]
    selected = ordered.select(*[F.unix_micros(F.col(c)).alias(c) if c in _TIMESTAMPS else F.col(c) for c in cols])
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    out = []
    for row in selected.collect():
        d = row.asDict()
        for c in _TIMESTAMPS:
            if c in d and d[c] is not None:
                d[c] = epoch + dt.timedelta(microseconds=d[c])
        out.append(d)
    return out


def preview(mapping_path: str | Path, sample_file: str | Path, limit: int = 20) -> list[dict[str, Any]]:
    """The parsed rows (without raw_record) a sample file gives under a mapping, for checking a
    mapping before the first run (`teamlens check-mapping`). Raises MappingError / ValueError.

    The same parser the ingest runs (parse_bytes), without Spark: checking six rows need not start a JVM.
    """
    rows, _ = parse_bytes(load_mapping(mapping_path), str(sample_file), reading.read_landing_bytes(sample_file))
    shown = [c for c in PARSED_COLUMNS if c != "raw_record"]
    return [{c: row[PARSED_COLUMNS.index(c)] for c in shown} for row in rows[:limit]]
