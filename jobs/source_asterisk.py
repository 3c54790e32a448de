"""Asterisk adapters: queue_log (calls -> CONTACTS, agent lines -> AGENT_EVENTS) and CDR (-> CONTACTS).

queue_log comes natively as `epoch|callid|queue|agent|event|data1..data5` (*.log) or as a database
export with a header row (*.csv: columns found by name in any order, name variants and the CDR
layouts in jobs.source_asterisk_layout; time is an epoch, or 'YYYY-MM-DD HH:MM:SS[.ffffff]' in the
PBX's local time, its zone in source.yaml as for the CDR; epochs need no option).
Agent values (queue_log agent, CDR dstchannel) become one identifier per agent by the source's
identity rule (jobs.source_asterisk_layout.agent_identifier) before the roster lookup.

Accounting (the contract's "one row per record or a not_ingested count"), per parse function:
- contacts: one row per call (its first line, by time then file and line); each further line of
  the call is counted as "call line merged into its call"; each malformed line is one row with a
  reason; agent lines are counted as "used by agent_events"; other events under their name.
- agent events: one row per agent line; call lines are counted as "used by contacts" and
  malformed lines as "malformed, quarantined by contacts" (they are quarantined once, there).
A CSV export's header row is counted as "header".

Lenient on what older Asterisk versions omit: a missing holdtime/calltime/waittime is null, one
present but not a non-negative integer up to schema.MAX_DAY_SECONDS quarantines the call.
A call with no end line in the files given (still in progress) is staged with a null
disconnect_ts; a rerun with the next day's files (lookaround_days=1) completes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from foundation import schema
from jobs import columns, reading
from jobs import source_asterisk_layout as layout
from jobs.sources import ADDED_COLUMNS, PARSED_EXTRA_COLUMNS, Parsed, Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

QUEUE_LOG_SOURCE = "asterisk_queue_log"
CDR_SOURCE = "asterisk_cdr"
IDENTITY = "asterisk_agent"

CALL_EVENTS = (
    "ENTERQUEUE",
    "CONNECT",
    "COMPLETEAGENT",
    "COMPLETECALLER",
    "ABANDON",
    "EXITWITHTIMEOUT",
    "EXITEMPTY",
    "EXITWITHKEY",
    "BLINDTRANSFER",
    "ATTENDEDTRANSFER",
)
UNANSWERED_ENDS = ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY")
TRANSFERS = ("BLINDTRANSFER", "ATTENDEDTRANSFER")
END_EVENTS = ("COMPLETEAGENT", "COMPLETECALLER", *UNANSWERED_ENDS, *TRANSFERS)
# queue_log event -> (event_type, status_name (None: the pause reason, else "Paused"), status_type)
AGENT_EVENT_MAP: dict[str, tuple[str, str | None, str]] = {
    "AGENTLOGIN": ("LOGIN", "Available", "ROUTABLE"),
    "ADDMEMBER": ("LOGIN", "Available", "ROUTABLE"),
    "PAUSE": ("STATE_CHANGE", None, "CUSTOM"),
    "PAUSEALL": ("STATE_CHANGE", None, "CUSTOM"),
    "UNPAUSE": ("STATE_CHANGE", "Available", "ROUTABLE"),
    "UNPAUSEALL": ("STATE_CHANGE", "Available", "ROUTABLE"),
    "AGENTCALLBACKLOGIN": ("LOGIN", "Available", "ROUTABLE"),
    "AGENTLOGOFF": ("LOGOUT", "Offline", "OFFLINE"),
    "AGENTCALLBACKLOGOFF": ("LOGOUT", "Offline", "OFFLINE"),
    "REMOVEMEMBER": ("LOGOUT", "Offline", "OFFLINE"),
}
# Logins and logoffs: their data1 names the agent's channel (a callback login's extension@context).
LOGIN_LOGOFF_EVENTS = ("AGENTLOGIN", "AGENTCALLBACKLOGIN", "AGENTLOGOFF", "AGENTCALLBACKLOGOFF")
DATA_FIELDS = ("d1", "d2", "d3", "d4", "d5")
CDR_DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION")

KIND_MERGED = "call line merged into its call"
KIND_FOR_AGENT_EVENTS = "used by agent_events"
KIND_FOR_CONTACTS = "used by contacts"
KIND_MALFORMED = "malformed, quarantined by contacts"
KIND_HEADER = "header"

_EPOCH = r"^\d{1,12}(\.\d{1,6})?$"
_INT = r"^-?\d{1,18}$"
# Plausible instants: anything outside is a broken clock or a broken field.
_MIN_TS, _MAX_TS = "2000-01-01 00:00:00", "2100-01-01 00:00:00"


# --- shared helpers -----------------------------------------------------------------------------


def _null(dtype: str) -> Column:
    from pyspark.sql import functions as F

    return F.lit(None).cast(dtype)


def _csv_field_count(value: Column) -> Column:
    """Number of comma-separated fields, quoted fields (with "" escapes) counting as one."""
    from pyspark.sql import functions as F

    return F.size(F.split(F.regexp_replace(value, r'"(?:[^"]|"")*"', ""), ",", -1))


def _seconds_checks(text: Column, label: str) -> list[tuple[Column, str]]:
    """Reasons for an optional integer duration: present but not an integer, negative, absurd."""
    from pyspark.sql import functions as F

    present = ~columns.blank(text)
    number = F.trim(text).try_cast("long")
    return [
        (present & ~F.trim(text).rlike(_INT), f"invalid {label}"),
        (present & (number < 0), f"negative {label}"),
        (present & (number > schema.MAX_DAY_SECONDS), f"{label} out of range"),
    ]


def _seconds(text: Column) -> Column:
    from pyspark.sql import functions as F

    number = F.when(F.trim(text).rlike(r"^\d{1,9}$"), F.trim(text).try_cast("int"))
    return F.when(number <= schema.MAX_DAY_SECONDS, number)


def _time_checks(ts: Column, text: Column, label: str, required: bool) -> list[tuple[Column, str]]:
    from pyspark.sql import functions as F

    checks = [(~columns.blank(text) & ts.isNull(), f"invalid {label}")]
    checks.append((ts.isNotNull() & ((ts < F.lit(_MIN_TS)) | (ts >= F.lit(_MAX_TS))), f"{label} out of range"))
    return ([(columns.blank(text), f"missing {label}")] if required else []) + checks


def _not_ingested(counts: DataFrame) -> DataFrame:
    """(source_file, kind, records), summed per file and kind."""
    from pyspark.sql import functions as F

    return counts.groupBy("source_file", "kind").agg(F.sum("records").cast("long").alias("records"))


def _kind_counts(lines: DataFrame, kind: Column) -> DataFrame:
    from pyspark.sql import functions as F

    return (
        lines.withColumn("kind", kind)
        .filter(F.col("kind").isNotNull())
        .groupBy("source_file", "kind")
        .agg(F.count(F.lit(1)).cast("long").alias("records"))
    )


# --- queue_log ----------------------------------------------------------------------------------


def _queue_log_layouts(spark: SparkSession, lines: DataFrame) -> DataFrame:
    """Per CSV export file: its header line and the positions of the fields (columns found by name)."""
    from pyspark.sql import functions as F

    csv_lines = lines.filter(_is_csv_file(F.col("source_file")))
    layouts = [layout.queue_log_layout(f, n, text) for f, n, text in layout.first_lines(csv_lines)]
    return layout.layout_frame(spark, layouts, list(layout.QUEUE_LOG_NAMES))


def _is_csv_file(source_file: Column) -> Column:
    from pyspark.sql import functions as F

    return F.regexp_replace(F.lower(source_file), r"\.gz$", "").endswith(".csv")


def queue_log_lines(spark: SparkSession, files: list[str], ctx: SourceContext | None = None) -> DataFrame:
    """Every non-blank queue_log line with its fields in one layout, `line_reason` and `kind`.

    kind: "header", "call", "agent", the event name (a line no table needs) or null (malformed:
    line_reason says why). `agent` is the agent identifier (the source's identity rule applied).
    """
    from pyspark.sql import functions as F

    options = ctx.options if ctx else {}
    pattern = layout.agent_pattern(options, QUEUE_LOG_SOURCE)
    zone = layout.time_zone(options, QUEUE_LOG_SOURCE) if layout.zone_declared(options) else None
    raw_lines = reading.read_json_lines(spark, files)
    layouts = _queue_log_layouts(spark, raw_lines)
    csv_widths = [r["_ncols"] for r in layouts.select("_ncols").collect()]  # one per CSV export
    width = max([1, *csv_widths])
    lines = raw_lines.join(F.broadcast(layouts), "source_file", "left")
    value = F.col("value")
    is_csv = _is_csv_file(F.col("source_file"))
    parts = F.split(value, r"\|", -1)
    n_native = F.size(parts)
    row = layout.csv_fields(value, width)
    joined_data = F.split(layout.field_at(row, "data"), r"\|", -1)

    def pick(field_name: str, native_index: int) -> Column:
        in_csv = layout.field_at(row, field_name)
        if field_name.startswith("d"):
            in_csv = F.coalesce(in_csv, F.get(joined_data, int(field_name[1:]) - 1))
        return F.when(is_csv, in_csv).otherwise(F.get(parts, native_index))

    fields = lines.select(
        "source_file",
        "source_line",
        "value",
        is_csv.alias("_csv"),
        F.col("_header_line"),
        F.col("_ncols"),
        F.when(is_csv, _csv_field_count(value)).otherwise(n_native).alias("_n"),
        F.trim(pick("time", 0)).alias("time_text"),
        F.trim(pick("callid", 1)).alias("callid"),
        F.trim(pick("queue", 2)).alias("queue"),
        F.trim(pick("agent", 3)).alias("_agent_raw"),
        F.upper(F.trim(pick("event", 4))).alias("event"),
        *[F.trim(pick(f"d{i}", 4 + i)).alias(f"d{i}") for i in range(1, 6)],
    )
    text = F.col("time_text")
    epoch = F.when(text.rlike(_EPOCH), F.timestamp_seconds(text.try_cast("decimal(18,6)")))
    ts = F.coalesce(epoch, F.when(F.col("_csv") & text.rlike(layout.DATETIME_TEXT), layout.local_instant(text, zone)))
    if csv_widths:  # without a declared zone, an export holding text times is refused
        layout.refuse_unzoned_text(fields.filter(F.col("_csv")), "time_text", options, QUEUE_LOG_SOURCE)
    event, callid = F.col("event"), F.col("callid")
    header = F.col("_csv") & F.col("source_line").eqNullSafe(F.col("_header_line"))
    native_shape = (
        (F.col("_n") < 5, "too few fields (need epoch|callid|queue|agent|event)"),
        (F.col("_n") > 10, "too many fields (at most epoch|callid|queue|agent|event|data1..data5)"),
    )
    checks = [
        (~F.is_valid_utf8(value) | value.contains("\ufffd"), "invalid UTF-8 bytes"),
        *[(~F.col("_csv") & cond, reason) for cond, reason in native_shape],
        (F.col("_csv") & (F.col("_n") != F.col("_ncols")), "wrong number of columns"),
        (columns.blank(text), "missing time"),
        (ts.isNull(), "invalid time"),
        ((ts < F.lit(_MIN_TS)) | (ts >= F.lit(_MAX_TS)), "time out of range"),
        (columns.blank(event), "missing event"),
        (~event.rlike(r"^[A-Z_]{1,40}$"), "invalid event name"),
        (event.isin(*CALL_EVENTS) & (columns.blank(callid) | (F.upper(callid) == "NONE")), "missing callid"),
    ]
    line_reason = F.when(~header, columns.first_reason(checks))
    kind = (
        F.when(header, F.lit(KIND_HEADER))
        .when(line_reason.isNotNull(), _null("string"))
        .when(event.isin(*CALL_EVENTS), F.lit("call"))
        .when(event.isin(*AGENT_EVENT_MAP), F.lit("agent"))
        .otherwise(event)
    )
    # The agent: the agent column; a login or logoff without one names it in data1 (the channel,
    # or a callback login's extension@context).
    raw_agent = F.col("_agent_raw")
    no_agent = columns.blank(raw_agent) | (F.upper(raw_agent) == "NONE")
    from_data = event.isin(*LOGIN_LOGOFF_EVENTS) & ~columns.blank(F.col("d1")) & (F.upper(F.col("d1")) != "NONE")
    delivered = F.when(~no_agent, raw_agent).when(from_data, F.col("d1"))
    agent = F.when(delivered.isNotNull(), layout.agent_identifier(delivered, pattern))
    return fields.select(
        "*", agent.alias("agent"), ts.alias("ts"), line_reason.alias("line_reason"), kind.alias("kind")
    ).drop("_header_line", "_ncols")


def _call_line_values(lines: DataFrame) -> DataFrame:
    """Call lines with their wait (holdtime or waittime) and calltime texts and `value_reason`."""
    from pyspark.sql import functions as F

    e = F.col("event")
    link = e.isin("ATTENDEDTRANSFER") & (F.upper(F.col("d1")) == "LINK")
    hold = (
        F.when(e.isin("CONNECT", "COMPLETEAGENT", "COMPLETECALLER"), F.col("d1"))
        .when(link, F.col("d4"))
        .when(e.isin(*TRANSFERS), F.col("d3"))
    )
    wait = F.when(e.isin("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY"), F.col("d3")).when(e == "EXITWITHKEY", F.col("d4"))
    call = (
        F.when(e.isin("COMPLETEAGENT", "COMPLETECALLER"), F.col("d2"))
        .when(link, F.col("d5"))
        .when(e.isin(*TRANSFERS), F.col("d4"))
    )
    checks = [
        *_seconds_checks(hold, "holdtime"),
        *_seconds_checks(wait, "waittime"),
        *_seconds_checks(call, "calltime"),
    ]
    return lines.select(
        "*",
        F.coalesce(hold, wait).alias("wait_text"),
        call.alias("call_text"),
        columns.first_reason(checks).alias("value_reason"),
    )


def _parsed_columns(table: schema.Table) -> list[str]:
    """The parsed-rows contract's columns: the table's, less those jobs.ingest adds, plus the extras."""
    own = [c for c in table.column_names if c not in ADDED_COLUMNS and c not in PARSED_EXTRA_COLUMNS]
    return [*own, *PARSED_EXTRA_COLUMNS]


def _conform_parsed(df: DataFrame, table: schema.Table, parsed_columns: list[str]) -> DataFrame:
    """The parsed-rows columns in a fixed order, table columns in their declared types."""
    from pyspark.sql import functions as F

    types = {f.name: f.dataType for f in table.spark_schema().fields}
    extra = {"day_ts": "timestamp", "source_line": "long"}
    return df.select(*[F.col(c).cast(types.get(c) or extra.get(c, "string")).alias(c) for c in parsed_columns])


def parse_queue_log_calls(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """queue_log -> one CONTACTS row per call (grouped by callid across all files given)."""
    from pyspark.sql import functions as F

    lines = queue_log_lines(spark, files, ctx)
    call_lines = _call_line_values(lines.filter(F.col("kind") == "call"))
    e = F.col("event")

    def first(cond: Column, *cols: str) -> Column:
        """The earliest matching line's fields (time, then file and line order)."""
        return F.min(F.when(cond, F.struct("ts", "source_file", "source_line", *cols)))

    calls = call_lines.groupBy("callid").agg(
        F.min(F.struct("ts", "source_file", "source_line")).alias("_first"),
        F.max("ts").alias("_last_ts"),
        first(e == "ENTERQUEUE").alias("_enter"),
        first(e == "CONNECT", "agent", "wait_text").alias("_connect"),
        first(e.isin(*END_EVENTS), "event", "wait_text", "call_text").alias("_end"),
        first(~columns.blank(F.col("queue")) & (F.upper(F.col("queue")) != "NONE"), "queue").alias("_queue"),
        F.max(e.isin(*TRANSFERS)).alias("_transferred"),
        first(F.col("value_reason").isNotNull(), "value_reason").alias("_bad"),
        F.array_sort(F.collect_list(F.struct("ts", "source_file", "source_line", "value"))).alias("_lines"),
    )
    connect, end = F.col("_connect"), F.col("_end")
    initiation = F.coalesce(F.col("_enter.ts"), F.col("_first.ts"))
    call_rows = calls.select(
        F.col("callid").alias("contact_id"),
        F.col("_queue.queue").alias("queue"),
        F.lit("VOICE").alias("channel"),
        F.lit("INBOUND").alias("initiation_method"),
        initiation.alias("initiation_ts"),
        connect["ts"].alias("connected_to_agent_ts"),
        end["ts"].alias("disconnect_ts"),
        _seconds(F.coalesce(connect["wait_text"], end["wait_text"])).alias("queue_seconds"),
        _seconds(end["call_text"]).alias("talk_seconds"),
        _null("int").alias("hold_seconds"),
        _null("int").alias("holds"),
        _null("int").alias("acw_seconds"),
        F.col("_transferred").alias("transferred_out"),
        (connect.isNull() & end["event"].isin(*UNANSWERED_ENDS)).alias("abandoned"),
        F.col("_last_ts").alias("last_update_ts"),
        F.when(connect.isNotNull() & ~columns.blank(connect["agent"]), connect["agent"]).alias("agent_key"),
        initiation.alias("day_ts"),
        F.col("_bad.value_reason").alias("reason"),
        F.col("_first.source_file").alias("source_file"),
        F.col("_first.source_line").alias("source_line"),
        F.array_join(F.transform("_lines", lambda x: x["value"]), "\n").alias("raw_record"),
    )
    bad = lines.filter(F.col("line_reason").isNotNull())
    bad_rows = bad.select(
        F.when(~columns.blank(F.col("callid")), F.col("callid")).alias("contact_id"),
        *[_null("string").alias(c) for c in ("queue", "channel", "initiation_method")],
        *[_null("timestamp").alias(c) for c in ("initiation_ts", "connected_to_agent_ts", "disconnect_ts")],
        *[_null("int").alias(c) for c in ("queue_seconds", "talk_seconds", "hold_seconds", "holds", "acw_seconds")],
        _null("boolean").alias("transferred_out"),
        _null("boolean").alias("abandoned"),
        _null("timestamp").alias("last_update_ts"),
        _null("string").alias("agent_key"),
        _null("timestamp").alias("day_ts"),
        F.col("line_reason").alias("reason"),
        "source_file",
        "source_line",
        F.col("value").alias("raw_record"),
    )
    parsed_columns = _parsed_columns(schema.CONTACTS)
    rows = _conform_parsed(call_rows, schema.CONTACTS, parsed_columns).unionByName(
        _conform_parsed(bad_rows, schema.CONTACTS, parsed_columns)
    )
    merged = (
        calls.select(F.explode(F.slice("_lines", 2, F.size("_lines"))).alias("_l"))
        .groupBy(F.col("_l.source_file").alias("source_file"))
        .agg(F.count(F.lit(1)).cast("long").alias("records"))
        .select("source_file", F.lit(KIND_MERGED).alias("kind"), "records")
    )
    k = F.col("kind")
    others = _kind_counts(
        lines.filter(k.isNotNull() & (k != "call")),
        F.when(k == "agent", F.lit(KIND_FOR_AGENT_EVENTS)).otherwise(k),
    )
    return Parsed(rows=rows, not_ingested=_not_ingested(others.unionByName(merged)))


def parse_queue_log_agent_events(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """queue_log -> one AGENT_EVENTS row per login, logoff, pause or unpause line."""
    from pyspark.sql import functions as F

    lines = queue_log_lines(spark, files, ctx)
    agent_lines = lines.filter(F.col("kind") == "agent")
    e = F.col("event")

    def mapped(index: int) -> Column:
        out = None
        for name, spec in AGENT_EVENT_MAP.items():
            value = spec[index]
            if value is None:
                value_col = F.coalesce(F.when(~columns.blank(F.col("d1")), F.col("d1")), F.lit("Paused"))
            else:
                value_col = F.lit(value)
            out = F.when(e == name, value_col) if out is None else out.when(e == name, value_col)
        assert out is not None
        return out

    content = [
        F.unix_micros("ts").cast("string"),
        *[F.coalesce(F.col(c), F.lit("")) for c in ("callid", "queue", "_agent_raw", "event", *DATA_FIELDS)],
    ]
    agent = F.col("agent")
    rows = agent_lines.select(
        F.sha2(F.concat_ws("\u001f", *content), 256).alias("event_id"),
        F.col("ts").alias("event_ts"),
        mapped(0).alias("event_type"),
        mapped(1).alias("status_name"),
        mapped(2).alias("status_type"),
        F.col("ts").alias("status_start_ts"),
        F.when(~columns.blank(agent) & (F.upper(agent) != "NONE"), agent).alias("agent_key"),
        F.col("ts").alias("day_ts"),
        F.when(columns.blank(agent) | (F.upper(agent) == "NONE"), F.lit("missing agent")).alias("reason"),
        "source_file",
        "source_line",
        F.col("value").alias("raw_record"),
    )
    k = F.col("kind")
    counts = _kind_counts(
        lines.filter(k.isNull() | (k != "agent")),
        F.when(k.isNull(), F.lit(KIND_MALFORMED)).when(k == "call", F.lit(KIND_FOR_CONTACTS)).otherwise(k),
    )
    return Parsed(
        rows=_conform_parsed(rows, schema.AGENT_EVENTS, _parsed_columns(schema.AGENT_EVENTS)),
        not_ingested=_not_ingested(counts),
    )


# --- CDR (Master.csv) -----------------------------------------------------------------------------


def cdr_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every non-blank CDR line with its allow-listed fields (cdr_<field>, strings), `_ncols` and `_header`."""
    from pyspark.sql import functions as F

    raw_lines = reading.read_json_lines(spark, files)
    layouts = [layout.cdr_layout(f, n, text) for f, n, text in layout.first_lines(raw_lines)]
    frame = layout.layout_frame(spark, layouts, list(layout.CDR_NAMES))
    width = max([1, *[x.n_columns for x in layouts]])
    lines = raw_lines.join(F.broadcast(frame), "source_file", "left")
    row = layout.csv_fields(F.col("value"), width)
    return lines.select(
        "source_file",
        "source_line",
        "value",
        "_ncols",
        F.col("source_line").eqNullSafe(F.col("_header_line")).alias("_header"),
        F.col("_p_end").isNotNull().alias("_has_end"),
        F.col("_p_answer").isNotNull().alias("_has_answer"),
        *[layout.field_at(row, f).alias(f"cdr_{f}") for f in layout.CDR_NAMES],
    )


def parse_cdr(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """Master.csv or a CDR table export -> one CONTACTS row per CDR line; only the allow-listed
    columns (source_asterisk_layout.CDR_NAMES) are read: src, dst, clid and userfield never are."""
    from pyspark.sql import functions as F

    tz = layout.time_zone(ctx.options, CDR_SOURCE)
    pattern = layout.agent_pattern(ctx.options, CDR_SOURCE)
    lines = cdr_lines(spark, files)
    value = F.col("value")

    def r(name: str) -> Column:
        return F.col(f"cdr_{name}")

    def local_ts(name: str) -> tuple[Column, Column]:
        text = F.trim(r(name))
        return text, F.when(text.rlike(layout.DATETIME_TEXT), layout.local_instant(text, tz))

    (start_text, start), (answer_text, given_answer), (end_text, given_end) = (
        local_ts(n) for n in ("start", "answer", "end")
    )
    disposition = F.upper(F.trim(r("disposition")))
    # A table without end and answer columns (calldate only): end = start + duration, answer = end - billsec.
    duration, billsec = _seconds(r("duration")), _seconds(r("billsec"))
    end = F.when(F.col("_has_end"), given_end).otherwise(start + F.make_dt_interval(secs=duration))
    derived_answer = F.when((disposition == "ANSWERED") & (billsec > 0), end - F.make_dt_interval(secs=billsec))
    answer = F.when(F.col("_has_answer"), given_answer).otherwise(derived_answer)
    dstchannel = F.trim(r("dstchannel"))
    checks = [
        (~F.is_valid_utf8(value) | value.contains("\ufffd"), "invalid UTF-8 bytes"),
        (_csv_field_count(value) != F.col("_ncols"), "wrong number of columns"),
        (columns.blank(r("uniqueid")), "missing uniqueid"),
        *_time_checks(start, start_text, "start", required=True),
        *_time_checks(given_answer, answer_text, "answer", required=False),
        *[(F.col("_has_end") & c, reason) for c, reason in _time_checks(given_end, end_text, "end", required=True)],
        (end < start, "end before start"),
        *_seconds_checks(r("duration"), "duration"),
        *_seconds_checks(r("billsec"), "billsec"),
        (columns.blank(r("disposition")) | ~disposition.isin(*CDR_DISPOSITIONS), "unknown disposition"),
    ]
    queue = F.when(F.lower(F.trim(r("lastapp"))) == "queue", F.trim(F.split(r("lastdata"), r"[,|]").getItem(0)))
    rows = lines.filter(~F.col("_header")).select(
        F.trim(r("uniqueid")).alias("contact_id"),
        F.when(~columns.blank(queue), queue).alias("queue"),
        F.lit("VOICE").alias("channel"),
        F.lit("INBOUND").alias("initiation_method"),
        start.alias("initiation_ts"),
        answer.alias("connected_to_agent_ts"),
        end.alias("disconnect_ts"),
        _null("int").alias("queue_seconds"),
        billsec.alias("talk_seconds"),
        _null("int").alias("hold_seconds"),
        _null("int").alias("holds"),
        _null("int").alias("acw_seconds"),
        F.lit(False).alias("transferred_out"),
        (disposition != "ANSWERED").alias("abandoned"),
        F.coalesce(end, answer, start).alias("last_update_ts"),
        F.when(~columns.blank(dstchannel), layout.agent_identifier(dstchannel, pattern)).alias("agent_key"),
        start.alias("day_ts"),
        columns.first_reason(checks).alias("reason"),
        "source_file",
        "source_line",
        value.alias("raw_record"),
    )
    headers = _kind_counts(lines.filter(F.col("_header")), F.lit(KIND_HEADER))
    return Parsed(
        rows=_conform_parsed(rows, schema.CONTACTS, _parsed_columns(schema.CONTACTS)),
        not_ingested=_not_ingested(headers),
    )


_CALL_FIELDS = {
    "contact_id": "callid",
    "queue": "queuename (first non-NONE)",
    "channel": "VOICE (constant)",
    "initiation_method": "INBOUND (constant)",
    "initiation_ts": "ENTERQUEUE time (else the call's first line)",
    "connected_to_agent_ts": "CONNECT time",
    "disconnect_ts": "COMPLETEAGENT/COMPLETECALLER/ABANDON/EXIT*/transfer time",
    "queue_seconds": "CONNECT holdtime, else the end line's holdtime or waittime",
    "talk_seconds": "COMPLETE*/transfer calltime",
    "transferred_out": "BLINDTRANSFER or ATTENDEDTRANSFER line",
    "abandoned": "ABANDON or EXIT* without CONNECT",
    "last_update_ts": "the call's last line time",
    "agent_pseudonym": "CONNECT agent, its identifier (SIP/1001 -> 1001) via roster asterisk_agent",
}

QUEUE_LOG_CALLS = Source(
    name=QUEUE_LOG_SOURCE,
    table=schema.CONTACTS,
    suffixes=(".log", ".csv"),
    identity=IDENTITY,
    parse=parse_queue_log_calls,
    order=(("last_update_ts", True),),
    lookaround_days=1,
    field_sources=_CALL_FIELDS,
    description="Asterisk queue_log (native pipe lines or CSV export): one contact per callid.",
    ids_unique=True,
)

QUEUE_LOG_AGENT_EVENTS = Source(
    name=QUEUE_LOG_SOURCE,
    table=schema.AGENT_EVENTS,
    suffixes=(".log", ".csv"),
    identity=IDENTITY,
    parse=parse_queue_log_agent_events,
    order=(("event_ts", True),),
    field_sources={
        "event_id": "SHA-256 of the line's content (time, callid, queue, agent, event, data1..5)",
        "event_ts": "epoch, or time (local time, or UTC with usegmtime)",
        "event_type": "AGENT(CALLBACK)LOGIN/ADDMEMBER: LOGIN, PAUSE/UNPAUSE: STATE_CHANGE, "
        "AGENT(CALLBACK)LOGOFF/REMOVEMEMBER: LOGOUT",
        "status_name": "Available, Offline, or the PAUSE reason (data1, else Paused)",
        "status_type": "ROUTABLE, CUSTOM (pause) or OFFLINE",
        "status_start_ts": "epoch, or time (local time, or UTC with usegmtime)",
        "agent_pseudonym": "agent (else a login's data1), its identifier via roster asterisk_agent",
    },
    description="Asterisk queue_log agent lines: logins, logoffs, pauses.",
    ids_unique=True,
)

CDR = Source(
    name=CDR_SOURCE,
    table=schema.CONTACTS,
    suffixes=(".csv",),
    identity=IDENTITY,
    parse=parse_cdr,
    order=(("last_update_ts", True), ("talk_seconds", True)),
    field_sources={
        "contact_id": "uniqueid",
        "queue": "lastdata (first part) when lastapp is Queue",
        "channel": "VOICE (constant)",
        "initiation_method": "INBOUND (constant)",
        "initiation_ts": "start or calldate (local time, or UTC with usegmtime)",
        "connected_to_agent_ts": "answer (without one: end - billsec when ANSWERED)",
        "disconnect_ts": "end (without one: start + duration)",
        "talk_seconds": "billsec",
        "transferred_out": "false (not in the CDR)",
        "abandoned": "disposition other than ANSWERED",
        "last_update_ts": "end",
        "agent_pseudonym": "dstchannel, its identifier (PJSIP/1101-0000000a -> 1101) via roster asterisk_agent",
    },
    description="Asterisk CDR (Master.csv or a CDR table export): one contact per line; src, dst, clid never parsed.",
    ids_unique=True,
)

SOURCES = [QUEUE_LOG_CALLS, QUEUE_LOG_AGENT_EVENTS, CDR]
