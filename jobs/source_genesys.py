"""Genesys Cloud analytics conversation details (landing/genesys_conversations) -> CONTACTS parsed rows.

Files: *.jsonl (one conversation per line) or *.json (an analytics API response
{"conversations": [...]}, a JSON array of conversations, or one conversation object).

Grain: one row per agent participant that handled the conversation (purpose "agent" with a userId
and a tAnswered metric or an interact segment), contact_id = conversationId/participantId, so that a
transfer yields one contact per agent as Amazon Connect does. A conversation that was queued (an acd
participant) and never answered is one abandoned row (contact_id = conversationId, no agent). A
conversation with neither (IVR only) is counted in not_ingested.

Minimisation: only the fields of conversation_schema() are parsed; ani, dnis, participantName,
addresses and every other field stay in raw_record only. Metric durations are milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from foundation import schema
from jobs import columns, reading
from jobs.sources import Parsed, Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

NO_PARTICIPANT = "no acd or agent participant"
CHANNELS = {"voice": "VOICE", "callback": "VOICE", "chat": "CHAT", "message": "CHAT", "email": "EMAIL"}
DIRECTIONS = {"inbound": "INBOUND", "outbound": "OUTBOUND"}


def _metric_type() -> StructType:
    from pyspark.sql import types as T

    s = T.StringType()
    return T.StructType(
        [T.StructField("name", s), T.StructField("value", T.DoubleType()), T.StructField("emitDate", s)]
    )


def _segment_type() -> StructType:
    from pyspark.sql import types as T

    s = T.StringType()
    names = ("segmentStart", "segmentEnd", "segmentType", "queueId")
    return T.StructType([T.StructField(n, s) for n in names])


def _participant_type() -> StructType:
    from pyspark.sql import types as T

    s = T.StringType()
    session = T.StructType(
        [
            T.StructField("mediaType", s),
            T.StructField("segments", T.ArrayType(_segment_type())),
            T.StructField("metrics", T.ArrayType(_metric_type())),
        ]
    )
    return T.StructType(
        [
            T.StructField("participantId", s),
            T.StructField("purpose", s),
            T.StructField("userId", s),
            T.StructField("sessions", T.ArrayType(session)),
        ]
    )


def conversation_schema() -> StructType:
    """The allow-listed conversation fields (everything else in a record is never parsed)."""
    from pyspark.sql import types as T

    s = T.StringType()
    return T.StructType(
        [
            T.StructField("conversationId", s),
            T.StructField("conversationStart", s),
            T.StructField("conversationEnd", s),
            T.StructField("originatingDirection", s),
            T.StructField("participants", T.ArrayType(_participant_type())),
            T.StructField(columns.CORRUPT, s),
        ]
    )


# --- splitting .json documents into records (Spark functions: no Python worker needed) -------


def _document_records(text: Column) -> Column:
    """array<struct<pos, value, reason>> of a .json document: the conversations of an API response
    or of an array, or the document itself; a bad document is one record with its reason."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    as_array = F.from_json(text, T.ArrayType(T.StringType()))
    response = F.from_json(text, T.StructType([T.StructField("conversations", T.ArrayType(T.StringType()))]))
    keys = F.json_object_keys(text)
    record = T.StructType(
        [
            T.StructField("pos", T.LongType()),
            T.StructField("value", T.StringType()),
            T.StructField("reason", T.StringType()),
        ]
    )

    def one(reason: str | None) -> Column:
        return F.array(F.struct(F.lit(1).alias("pos"), text.alias("value"), F.lit(reason).alias("reason")).cast(record))

    def each(items: Column) -> Column:
        return F.transform(
            items,
            lambda v, i: F.struct((i + 1).alias("pos"), v.alias("value"), F.lit(None).alias("reason")).cast(record),
        )

    return (
        F.when(columns.blank(text), one("empty file"))
        .when(F.ltrim(text).startswith("[") & as_array.isNotNull(), each(as_array))
        .when(
            F.array_contains(keys, "conversations"),
            F.when(response["conversations"].isNotNull(), each(response["conversations"])).otherwise(
                one("conversations is not a list")
            ),
        )
        .when(keys.isNotNull(), one(None))
        .otherwise(one("malformed JSON document"))
    )


def _blank_file(path: str) -> bool:
    """True for a file without any record (empty or white space only): Spark reads no row from it."""
    p = Path(path)
    size = p.stat().st_size
    if size == 0:
        return True
    if size > 65536 and not p.name.endswith(reading.GZIP):
        return False
    return not reading.read_landing_bytes(p, limit=65536).strip()


def read_records(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row per input record: source_file, source_line, value, _pre (a reason found while splitting)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    blank_files = [f for f in files if _blank_file(f)]
    readable = [f for f in files if f not in blank_files]
    lines_files = [f for f in readable if reading.read_as(f, (".jsonl",)) == ".jsonl"]
    doc_files = [f for f in readable if f not in lines_files]
    pre = F.lit(None).cast("string").alias("_pre")
    lines = reading.read_json_lines(spark, lines_files).select("source_file", "source_line", "value", pre)
    docs = (
        reading.read_documents(spark, doc_files)
        .select("source_file", F.explode(_document_records(F.col("value"))).alias("_d"))
        .select(
            "source_file",
            F.col("_d.pos").alias("source_line"),
            F.col("_d.value").alias("value"),
            F.col("_d.reason").alias("_pre"),
        )
    )
    empty_schema = T.StructType(
        [
            T.StructField("source_file", T.StringType(), False),
            T.StructField("source_line", T.LongType(), False),
            T.StructField("value", T.StringType(), True),
            T.StructField("_pre", T.StringType(), True),
        ]
    )
    empty = spark.createDataFrame(
        [("file://" + str(Path(f).absolute()), 1, "", "empty file") for f in blank_files], empty_schema
    )
    return lines.unionByName(docs).unionByName(empty)


# --- column helpers over the parsed conversation --------------------------------------------


def _empty(element: StructType) -> Column:
    """A typed empty array (for coalescing missing arrays)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    return F.from_json(F.lit("[]"), T.ArrayType(element))


def _segments(p: Column) -> Column:
    from pyspark.sql import functions as F

    return F.flatten(
        F.coalesce(
            F.transform(p["sessions"], lambda s: F.coalesce(s["segments"], _empty(_segment_type()))),
            F.array(_empty(_segment_type())),
        )
    )


def _metrics(p: Column) -> Column:
    from pyspark.sql import functions as F

    return F.flatten(
        F.coalesce(
            F.transform(p["sessions"], lambda s: F.coalesce(s["metrics"], _empty(_metric_type()))),
            F.array(_empty(_metric_type())),
        )
    )


def _named(name: str) -> Callable[[Column], Column]:
    """A one-argument predicate on metric name (a default argument would be taken for the index)."""
    return lambda m: m["name"] == name


def _metric_in(metrics: Column, *names: str) -> Column:
    """The sum of the first present metric among names (ms or count) in a metrics array; null when absent."""
    from pyspark.sql import functions as F

    values = []
    for name in names:
        found = F.filter(metrics, _named(name))
        total = F.aggregate(found, F.lit(0.0), lambda acc, m: acc + F.coalesce(m["value"], F.lit(0.0)))
        values.append(F.when(F.size(found) > 0, total))
    return F.coalesce(*values)


def _seconds(ms: Column) -> Column:
    from pyspark.sql import functions as F

    return F.round(ms / 1000).cast("int")


def _queue_in(segments: Column) -> Column:
    """The first queueId of a segments array."""
    from pyspark.sql import functions as F

    queues = F.filter(F.transform(segments, lambda s: s["queueId"]), lambda q: ~columns.blank(q))
    return F.try_element_at(queues, F.lit(1))


def _first_interact_in(segments: Column) -> Column:
    from pyspark.sql import functions as F

    interact = F.filter(segments, lambda s: s["segmentType"] == "interact")
    return F.array_min(F.transform(interact, lambda s: columns.timestamp(s["segmentStart"])))


def _last_end_in(segments: Column) -> Column:
    from pyspark.sql import functions as F

    return F.array_max(F.transform(segments, lambda s: columns.timestamp(s["segmentEnd"])))


def _media(p: Column) -> Column:
    from pyspark.sql import functions as F

    media = F.filter(F.transform(p["sessions"], lambda s: s["mediaType"]), lambda m: ~columns.blank(m))
    return F.lower(F.trim(F.try_element_at(media, F.lit(1))))


def _mapped(text: Column, mapping: dict[str, str]) -> Column:
    from pyspark.sql import functions as F

    out = F.lit(None).cast("string")
    key = F.lower(F.trim(text))
    for k, v in mapping.items():
        out = F.when(key == k, F.lit(v)).otherwise(out)
    return out


# --- the parse function ---------------------------------------------------------------------


def _normalized(p: Column) -> Column:
    """A participant as the parse needs it: purpose, userId, media, and its sessions' segments and
    metrics flattened (built once per participant, so the query plan stays small)."""
    from pyspark.sql import functions as F

    return F.struct(
        p["participantId"].alias("participantId"),
        F.lower(F.trim(p["purpose"])).alias("purpose"),
        F.trim(p["userId"]).alias("userId"),
        _media(p).alias("media"),
        _segments(p).alias("segs"),
        _metrics(p).alias("mets"),
    )


def _bad_timestamp(text: Column) -> Column:
    return ~columns.blank(text) & columns.timestamp(text).isNull()


def parse_conversations(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """Genesys conversation details -> CONTACTS parsed rows (one per answering agent, or one abandoned
    row) and a not_ingested count of conversations without acd or agent participant."""
    from pyspark.sql import functions as F

    r = F.col("_r")
    parsed = (
        read_records(spark, files)
        .withColumn("_r", columns.parse_json(F.col("value"), conversation_schema()))
        .withColumn(
            "_ps",
            F.transform(F.coalesce(r["participants"], _empty(_participant_type())), _normalized),
        )
    )
    ps = F.col("_ps")
    parsed = parsed.withColumn("_all_segs", F.flatten(F.transform(ps, lambda p: p["segs"]))).withColumn(
        "_all_mets", F.flatten(F.transform(ps, lambda p: p["mets"]))
    )
    all_segs, all_mets = F.col("_all_segs"), F.col("_all_mets")
    start = columns.timestamp(r["conversationStart"])
    emitted = F.array_max(F.transform(all_mets, lambda m: columns.timestamp(m["emitDate"])))
    last_update = F.coalesce(columns.timestamp(r["conversationEnd"]), emitted)
    checks = [
        (F.col("_pre").isNotNull(), F.col("_pre")),
        (~F.is_valid_utf8(F.col("value")) | F.col("value").contains("\ufffd"), F.lit("invalid UTF-8")),
        *[(c, F.lit(t)) for c, t in columns.corrupt_reasons(F.col("value"), r, [])],
        (columns.blank(r["conversationId"]), F.lit("missing conversationId")),
        *[(c, F.lit(t)) for c, t in columns.timestamp_reasons(r["conversationStart"], "conversationStart")],
        *[(c, F.lit(t)) for c, t in columns.timestamp_reasons(r["conversationEnd"], "conversationEnd", False)],
        (F.size(ps) == 0, F.lit("missing participants")),
        (F.exists(all_segs, lambda s: _bad_timestamp(s["segmentStart"])), F.lit("invalid segmentStart")),
        (F.exists(all_segs, lambda s: _bad_timestamp(s["segmentEnd"])), F.lit("invalid segmentEnd")),
        (F.exists(all_mets, lambda m: _bad_timestamp(m["emitDate"])), F.lit("invalid metric emitDate")),
        (F.exists(all_mets, lambda m: m["value"] < 0), F.lit("negative metric value")),
        (last_update.isNull(), F.lit("missing conversationEnd and metric emitDate")),
    ]
    record_reason = F.coalesce(*[F.when(cond, reason) for cond, reason in checks], F.lit(None).cast("string"))

    def answering(p: Column) -> Column:
        interacted = F.exists(p["segs"], lambda s: s["segmentType"] == "interact")
        tanswered = F.exists(p["mets"], lambda m: m["name"] == "tAnswered")
        return (p["purpose"] == "agent") & ~columns.blank(p["userId"]) & (tanswered | interacted)

    # Answering agents in the order they connected (then participant order): later ones are transfers.
    keyed = F.transform(
        ps,
        lambda p, i: F.struct(F.coalesce(_first_interact_in(p["segs"]), start).alias("k"), i.alias("i"), p.alias("p")),
    )
    agents = F.transform(F.array_sort(F.filter(keyed, lambda x: answering(x["p"]))), lambda x: x["p"])
    parsed = (
        parsed.withColumn("_reason", record_reason)
        .withColumn("_agents", agents)
        .withColumn("_acds", F.filter(ps, lambda p: p["purpose"] == "acd"))
    )
    p_type = parsed.schema["_ps"].dataType.elementType  # type: ignore[attr-defined]
    no_p = F.lit(None).cast(p_type)

    def unit(kind: str, n: Column, p: Column) -> Column:
        return F.struct(F.lit(kind).alias("kind"), n.cast("int").alias("n"), p.alias("p"))

    units = (
        F.when(F.col("_reason").isNotNull(), F.array(unit("bad", F.lit(0), no_p)))
        .when(F.size("_agents") > 0, F.transform("_agents", lambda a, n: unit("agent", n, a)))
        .when(F.size("_acds") > 0, F.array(unit("abandoned", F.lit(0), no_p)))
        .otherwise(F.array(unit("none", F.lit(0), no_p)))
    )
    exploded = parsed.select("*", F.explode(units).alias("_u"))
    not_ingested = (
        exploded.filter(F.col("_u.kind") == "none")
        .groupBy("source_file")
        .agg(F.count(F.lit(1)).cast("long").alias("records"))
        .select("source_file", F.lit(NO_PARTICIPANT).alias("kind"), "records")
    )

    u = F.col("_u")
    p = u["p"]
    is_agent = u["kind"] == "agent"
    acd_list = F.col("_acds")
    step = exploded.filter(u["kind"] != "none").withColumn("_queue", _queue_in(p["segs"]))
    # The acd participant of the agent's queue (a transfer to another queue has its own), else the first.
    matching = F.filter(acd_list, lambda a: _queue_in(a["segs"]) == F.col("_queue"))
    first_acd = F.try_element_at(acd_list, F.lit(1))
    step = step.withColumn(
        "_acd", F.when(is_agent, F.coalesce(F.try_element_at(matching, F.lit(1)), first_acd)).otherwise(first_acd)
    )
    acd = F.col("_acd")
    media = F.when(is_agent, F.coalesce(p["media"], acd["media"])).otherwise(acd["media"])
    step = step.withColumn("_media", media)
    media = F.col("_media")
    channel = _mapped(media, CHANNELS)
    initiation = (
        F.when(is_agent & (u["n"] > 0), F.lit("TRANSFER"))
        .when(media == "callback", F.lit("CALLBACK"))
        .otherwise(_mapped(r["originatingDirection"], DIRECTIONS))
    )
    good = u["kind"] != "bad"
    row_reason = F.coalesce(
        F.col("_reason"),
        F.when(good & channel.isNull(), F.lit("missing or unknown mediaType")),
        F.when(good & initiation.isNull(), F.lit("missing or unknown originatingDirection")),
    )
    segs, mets = p["segs"], p["mets"]

    def on_agent(col: Column) -> Column:
        return F.when(is_agent, col)

    def agent_seconds(*names: str) -> Column:
        # A duration metric the agent never emitted means that it did not happen: 0.
        return on_agent(F.coalesce(_seconds(_metric_in(mets, *names)), F.lit(0)))

    rows = step.select(
        F.when(is_agent, F.concat_ws("/", r["conversationId"], p["participantId"]))
        .otherwise(r["conversationId"])
        .alias("contact_id"),
        on_agent(p["userId"]).alias("agent_key"),
        F.coalesce(on_agent(F.col("_queue")), _queue_in(acd["segs"])).alias("queue"),
        channel.alias("channel"),
        initiation.alias("initiation_method"),
        start.alias("initiation_ts"),
        on_agent(_first_interact_in(segs)).alias("connected_to_agent_ts"),
        F.coalesce(on_agent(_last_end_in(segs)), columns.timestamp(r["conversationEnd"])).alias("disconnect_ts"),
        _seconds(_metric_in(acd["mets"], "tAcd", "tAbandon")).alias("queue_seconds"),
        agent_seconds("tTalkComplete", "tTalk").alias("talk_seconds"),
        agent_seconds("tHeldComplete", "tHeld").alias("hold_seconds"),
        on_agent(F.size(F.filter(segs, lambda s: s["segmentType"] == "hold"))).alias("holds"),
        agent_seconds("tAcw").alias("acw_seconds"),
        (is_agent & (F.coalesce(_metric_in(mets, "nTransferred"), F.lit(0.0)) > 0)).alias("transferred_out"),
        (u["kind"] == "abandoned").alias("abandoned"),
        last_update.alias("last_update_ts"),
        start.alias("day_ts"),
        row_reason.alias("reason"),
        "source_file",
        F.col("source_line").cast("long").alias("source_line"),
        F.col("value").alias("raw_record"),
    )
    return Parsed(rows=rows, not_ingested=not_ingested)


CONVERSATIONS = Source(
    name="genesys_conversations",
    table=schema.CONTACTS,
    suffixes=(".json", ".jsonl"),
    identity="genesys_user_id",
    parse=parse_conversations,
    order=(("last_update_ts", True),),
    field_sources={
        "contact_id": "conversationId/participantId (conversationId when abandoned)",
        "agent_pseudonym": "participants[purpose=agent].userId via roster genesys_user_id",
        "queue": "segments.queueId of the agent, else of the acd participant",
        "channel": "sessions.mediaType",
        "initiation_method": "originatingDirection; callback media: CALLBACK; later agents: TRANSFER",
        "initiation_ts": "conversationStart",
        "connected_to_agent_ts": "first interact segment's segmentStart of the agent",
        "disconnect_ts": "last segmentEnd of the agent, else conversationEnd",
        "queue_seconds": "metric tAcd (else tAbandon) of the acd participant, ms",
        "talk_seconds": "metric tTalkComplete (else tTalk) of the agent, ms",
        "hold_seconds": "metric tHeldComplete (else tHeld) of the agent, ms",
        "holds": "number of hold segments of the agent",
        "acw_seconds": "metric tAcw of the agent, ms",
        "transferred_out": "metric nTransferred > 0 of the agent",
        "abandoned": "acd participant and no answering agent",
        "last_update_ts": "conversationEnd, else latest metric emitDate",
    },
    description="Genesys Cloud analytics conversation details (JSON lines or API response documents).",
    ids_unique=True,
)

SOURCES = [CONVERSATIONS]
