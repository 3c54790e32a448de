"""Tests of the Asterisk variants (jobs.source_asterisk, jobs.source_asterisk_layout): database exports
with a header (queue_log and CDR tables), one agent's channel forms, callback logins, roster cells
with several identifiers; exact rows from hand-made fixtures and Hypothesis properties."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from foundation import roster
from foundation.settings import load_settings
from jobs import agent_day, ingest
from jobs import source_asterisk as sa
from jobs import source_asterisk_layout as layout
from jobs.sources import Parsed, SourceContext

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "asterisk"
QL_DB = FIXTURES / "queue_log_db" / "day=2026-10-05" / "queue_log.csv"
QL_DB_OPTIONS = ingest.source_options(QL_DB.parents[1])  # usegmtime: its text times are UTC
CDR_DB = FIXTURES / "cdr_db" / "day=2026-10-05" / "cdr.csv"
CDR_CALLDATE = FIXTURES / "cdr_db" / "day=2026-10-05" / "cdr_calldate.csv"
MISSING = FIXTURES / "bad" / "header_missing_column"
F_QL, F_CDR, F_CALLDATE = "day=2026-10-05/queue_log.csv", "day=2026-10-05/cdr.csv", "day=2026-10-05/cdr_calldate.csv"
SETTINGS_FOR: dict[str, Any] = {"suppress_health_check": [HealthCheck.function_scoped_fixture], "deadline": None}


@pytest.fixture
def ctx(settings, policy):
    def make(**options: Any) -> SourceContext:
        return SourceContext(settings=settings, folder=settings.lake.landing, options=options)

    return make


def short(source_file: str) -> str:
    return "/".join(source_file.split("/")[-2:])


def rows_of(parsed: Parsed, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The parsed rows as dicts (timestamps as UTC text, source_file shortened), in file/line order."""
    from pyspark.sql import functions as F

    df = parsed.rows
    cols = [
        F.col(f.name).cast("string").alias(f.name) if f.dataType.typeName() == "timestamp" else F.col(f.name)
        for f in df.schema.fields
        if f.name not in drop
    ]
    out = [r.asDict() for r in df.select(*cols).collect()]
    for r in out:
        if "source_file" in r:
            r["source_file"] = short(r["source_file"])
    return sorted(out, key=lambda r: (r.get("source_file") or "", r.get("source_line") or 0, repr(r)))


def not_ingested_of(parsed: Parsed) -> dict[tuple[str, str], int]:
    if parsed.not_ingested is None:
        return {}
    return {(short(r["source_file"]), r["kind"]): r["records"] for r in parsed.not_ingested.collect()}


def accounted(parsed: Parsed) -> int:
    return parsed.rows.count() + sum(not_ingested_of(parsed).values())


def lines(path: Path, *numbers: int) -> str:
    text = path.read_text(encoding="utf-8").split("\n")
    return "\n".join(text[n - 1] for n in numbers)


def call(**values: Any) -> dict[str, Any]:
    base = {"channel": "VOICE", "initiation_method": "INBOUND", "hold_seconds": None, "holds": None}
    return {**base, "acw_seconds": None, "transferred_out": False, "reason": None, **values}


# --- queue_log database export ------------------------------------------------------------------


def test_queue_log_database_export_calls(spark, ctx):
    """Header in another order with uid/date_time/queue_name/param1.. names and an extra column;
    the agent's three channel forms (Agent/, Local/..@callback-agent/n, PJSIP/) all give 1101."""
    parsed = sa.parse_queue_log_calls(spark, [str(QL_DB)], ctx(**QL_DB_OPTIONS))
    assert rows_of(parsed) == [
        call(
            contact_id="q-1",
            queue="support",
            initiation_ts="2026-10-05 08:10:00",
            connected_to_agent_ts="2026-10-05 08:10:20",
            disconnect_ts="2026-10-05 08:15:20",
            queue_seconds=20,
            talk_seconds=300,
            abandoned=False,
            last_update_ts="2026-10-05 08:15:20",
            agent_key="1101",  # CONNECT's Local/1101@callback-agent/n
            day_ts="2026-10-05 08:10:00",
            source_file=F_QL,
            source_line=3,
            raw_record=lines(QL_DB, 3, 4, 5),
        )
    ]
    assert not_ingested_of(parsed) == {
        (F_QL, sa.KIND_HEADER): 1,
        (F_QL, sa.KIND_MERGED): 2,
        (F_QL, sa.KIND_FOR_AGENT_EVENTS): 4,
    }
    assert accounted(parsed) == 8


def test_callback_login_and_logoff_become_agent_events_with_staffed_time(spark, ctx):
    from pyspark.sql import functions as F

    parsed = sa.parse_queue_log_agent_events(spark, [str(QL_DB)], ctx(**QL_DB_OPTIONS))
    got = [
        (r["source_line"], r["event_ts"], r["event_type"], r["status_name"], r["status_type"], r["agent_key"])
        for r in rows_of(parsed)
    ]
    assert got == [
        (2, "2026-10-05 08:00:00", "LOGIN", "Available", "ROUTABLE", "1101"),  # AGENTCALLBACKLOGIN
        (6, "2026-10-05 08:20:00", "STATE_CHANGE", "Coffee", "CUSTOM", "1101"),
        (7, "2026-10-05 08:30:00", "STATE_CHANGE", "Available", "ROUTABLE", "1101"),
        (8, "2026-10-05 12:00:00", "LOGOUT", "Offline", "OFFLINE", "1101"),  # AGENTCALLBACKLOGOFF
    ]
    assert all(r["reason"] is None for r in rows_of(parsed))
    assert not_ingested_of(parsed) == {(F_QL, sa.KIND_HEADER): 1, (F_QL, sa.KIND_FOR_CONTACTS): 3}
    # Staffed time through the agent_events path: logged in 08:00 to 12:00 (the pause is staffed).
    events = parsed.rows.withColumn("day", F.lit(dt.date(2026, 10, 5))).withColumnRenamed(
        "agent_key", "agent_pseudonym"
    )
    intervals = agent_day.status_intervals(events)
    staffed = intervals.filter(F.col("status_type") != "OFFLINE").agg(F.sum("micros")).first()
    assert staffed is not None and staffed[0] == 4 * 3600 * 1_000_000


def test_callback_logoff_without_agent_column_names_the_agent_in_data1(spark, ctx, tmp_path):
    path = tmp_path / "day=2026-10-05" / "queue_log.log"
    path.parent.mkdir()
    path.write_text("1791187200|NONE|NONE|NONE|AGENTCALLBACKLOGOFF|1101@callback-agent|3600|Autologoff\n")
    rows = rows_of(sa.parse_queue_log_agent_events(spark, [str(path)], ctx()))
    assert [(r["event_type"], r["agent_key"], r["reason"]) for r in rows] == [("LOGOUT", "1101", None)]


def test_native_and_database_export_give_the_same_rows(spark, ctx, tmp_path):
    """The database export's lines written as native queue_log lines parse to the same rows."""
    native = []
    for text in QL_DB.read_text().splitlines()[1:]:
        f = text.split(",")
        epoch = int(dt.datetime.fromisoformat(f[1]).replace(tzinfo=dt.UTC).timestamp())
        native.append("|".join([str(epoch), f[4], f[3], f[5], f[2], *f[6:11]]))
    path = tmp_path / "day=2026-10-05" / "queue_log.log"
    path.parent.mkdir()
    path.write_text("\n".join(native) + "\n")
    drop = ("source_file", "source_line", "raw_record")
    for parse in (sa.parse_queue_log_calls, sa.parse_queue_log_agent_events):
        assert rows_of(parse(spark, [str(path)], ctx(**QL_DB_OPTIONS)), drop) == rows_of(
            parse(spark, [str(QL_DB)], ctx(**QL_DB_OPTIONS)), drop
        )


def test_header_missing_a_required_column_is_one_clear_error(spark, ctx):
    export = MISSING / "queue_log" / "day=2026-10-07" / "export.csv"
    with pytest.raises(
        layout.HeaderError, match=r"export\.csv: the header lacks .*event \(accepted names: event, verb\)"
    ):
        sa.parse_queue_log_calls(spark, [str(export)], ctx())
    cdr = MISSING / "cdr" / "day=2026-10-07" / "cdr.csv"
    with pytest.raises(layout.HeaderError, match=r"cdr\.csv: the header lacks .*uniqueid \(accepted names: uniqueid\)"):
        sa.parse_cdr(spark, [str(cdr)], ctx(usegmtime=True))


def test_header_positions_by_name():
    names = layout.header_names(' "UID" ,Date_Time,queue_name,callid,agent,verb,data,extra')
    found = layout.queue_log_layout("f.csv", 1, ",".join(names))
    assert (found.n_columns, found.header_line) == (8, 1)
    assert {k: v for k, v in found.positions.items() if v is not None} == {
        "time": 1,
        "queue": 2,
        "callid": 3,
        "agent": 4,
        "event": 5,
        "data": 6,  # data1..5 joined by '|' in one column
    }


# --- CDR table exports ----------------------------------------------------------------------------


def test_cdr_table_export_with_named_columns(spark, ctx):
    """The adaptive ODBC column set (26 columns: linkedid, sequence, peeraccount, ... never read)."""
    parsed = sa.parse_cdr(spark, [str(CDR_DB)], ctx(usegmtime=True))
    common = {"queue_seconds": None, "source_file": F_CDR}
    assert rows_of(parsed) == [
        call(
            **common,
            contact_id="1791195000.1",
            queue="support",
            initiation_ts="2026-10-05 10:10:00",
            connected_to_agent_ts="2026-10-05 10:10:20",
            disconnect_ts="2026-10-05 10:15:20",
            talk_seconds=300,
            abandoned=False,
            last_update_ts="2026-10-05 10:15:20",
            agent_key="1101",  # Local/1101@callback-agent-0000001f;1
            day_ts="2026-10-05 10:10:00",
            source_line=2,
            raw_record=lines(CDR_DB, 2),
        ),
        call(
            **common,
            contact_id="1791195600.2",
            queue="support",
            initiation_ts="2026-10-05 10:20:00",
            connected_to_agent_ts="2026-10-05 10:20:05",
            disconnect_ts="2026-10-05 10:22:05",
            talk_seconds=120,
            abandoned=False,
            last_update_ts="2026-10-05 10:22:05",
            agent_key="1101",  # PJSIP/1101-00000007
            day_ts="2026-10-05 10:20:00",
            source_line=3,
            raw_record=lines(CDR_DB, 3),
        ),
        call(
            **common,
            contact_id="1791196200.3",
            queue="billing",
            initiation_ts="2026-10-05 10:30:00",
            connected_to_agent_ts=None,
            disconnect_ts="2026-10-05 10:31:30",
            talk_seconds=0,
            abandoned=True,
            last_update_ts="2026-10-05 10:31:30",
            agent_key=None,
            day_ts="2026-10-05 10:30:00",
            source_line=4,
            raw_record=lines(CDR_DB, 4),
        ),
    ]
    assert not_ingested_of(parsed) == {(F_CDR, sa.KIND_HEADER): 1}
    for row in rows_of(parsed, ("raw_record",)):
        assert not any(s in str(v) for v in row.values() for s in ("Erika", "0151", "call back", "q-2.wav"))


def test_cdr_calldate_table_derives_answer_and_end(spark, ctx):
    """A calldate-only table (no answer, end): end = calldate + duration, answer = end - billsec."""
    rows = rows_of(sa.parse_cdr(spark, [str(CDR_CALLDATE)], ctx(timezone="Europe/Berlin")))
    got = [
        (r["contact_id"], r["initiation_ts"], r["connected_to_agent_ts"], r["disconnect_ts"], r["agent_key"])
        for r in rows
    ]
    assert got == [  # Europe/Berlin is UTC+2 on 2026-10-05
        ("1791198000.4", "2026-10-05 09:00:00", "2026-10-05 09:00:30", "2026-10-05 09:05:30", "1101"),  # IAX2/1101-1234
        ("1791198600.5", "2026-10-05 09:10:00", None, "2026-10-05 09:10:40", None),  # BUSY
    ]
    assert all(r["reason"] is None for r in rows)


def test_agent_pattern_option(spark, ctx):
    parsed = sa.parse_cdr(spark, [str(CDR_DB)], ctx(usegmtime=True, agent_pattern=r"^PJSIP/(\d+)-"))
    # the pattern matches the PJSIP channel; the Local channel it does not match stays as delivered
    assert [r["agent_key"] for r in rows_of(parsed)] == ["Local/1101@callback-agent-0000001f;1", "1101", None]
    for bad, message in (("(a)(b)", "exactly one group"), ("([", "not a regular expression"), (3, "text")):
        with pytest.raises(ValueError, match=message):
            sa.parse_cdr(spark, [str(CDR_DB)], ctx(usegmtime=True, agent_pattern=bad))


# --- the roster: several identifiers per agent and source ------------------------------------------


def test_roster_cell_with_several_identifiers(tmp_path):
    path = tmp_path / "landing" / "roster" / "roster.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "employee_id,asterisk_agent,team,site,site_timezone\nE1, 1101 | 2101 |1101,T,S,UTC\nE2,1102,T,S,UTC\n"
    )
    settings = load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_PSEUDONYM_KEY": "k" * 32})
    agents = roster.read_roster(settings)
    assert [a.all_identifiers()["asterisk_agent"] for a in agents] == [("1101", "2101"), ("1102",)]
    path.write_text("employee_id,asterisk_agent,team,site,site_timezone\nE1,1101|2101,T,S,UTC\nE2,1102|2101,T,S,UTC\n")
    with pytest.raises(roster.RosterError, match=r"line 3: duplicate asterisk_agent \(value 2 of the cell .* line 2"):
        roster.read_roster(settings)


def test_roster_identities_one_row_per_identifier(spark):
    from jobs import ingest

    agent = roster.RosterAgent("p1", None, None, "T", "S", "UTC", {"asterisk_agent": ("1101", "2101")})
    got = sorted(tuple(r) for r in ingest.roster_identities(spark, [agent]).collect())
    assert got == [("asterisk_agent", "1101", "p1", "UTC"), ("asterisk_agent", "2101", "p1", "UTC")]


# --- properties ------------------------------------------------------------------------------------

agent_numbers = st.from_regex(r"[A-Za-z0-9_.]{1,10}", fullmatch=True)
contexts = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
hex8 = st.from_regex(r"[0-9a-f]{8}", fullmatch=True)


@st.composite
def channel_forms(draw: st.DrawFn) -> tuple[str, str]:
    """(N, one of the channel forms of N)."""
    n, context, suffix = draw(agent_numbers), draw(contexts), draw(hex8)
    technology = draw(st.sampled_from(["SIP", "sip", "PJSIP"]))
    forms = [
        f"Agent/{n}",
        f"Local/{n}@{context}",
        f"Local/{n}@{context}/n",
        f"Local/{n}@{context}-{suffix};{draw(st.sampled_from('12'))}",
        f"{technology}/{n}",
        f"{technology}/{n}-{suffix}",
        f"IAX2/{n}",
        f"IAX2/{n}-{draw(st.integers(1, 32767))}",
        f"{n}@{context}",
        n,
        f" {n} ",
    ]
    return n, draw(st.sampled_from(forms))


@hsettings(max_examples=10, **SETTINGS_FOR)
@given(cases=st.lists(channel_forms(), min_size=1, max_size=30))
def test_every_channel_form_of_n_gives_n(spark, cases):
    from pyspark.sql import functions as F

    df = spark.createDataFrame([(form,) for _, form in cases], "form string")
    got = [r[0] for r in df.select(layout.channel_identifier(F.col("form"))).collect()]
    assert got == [n for n, _ in cases]


QL_HEADER = QL_DB.read_text().splitlines()[0].split(",")
QL_BODY = [line.split(",") for line in QL_DB.read_text().splitlines()[1:]]
RENAMES = {
    "uid": ["id", "uid"],
    "date_time": list(layout.QUEUE_LOG_NAMES["time"]),
    "queue_name": ["queuename", "QUEUE_NAME"],
}


_REFERENCE_ROWS: dict[str, list[dict[str, Any]]] = {}


@hsettings(max_examples=4, **SETTINGS_FOR)
@given(
    order=st.permutations(range(len(QL_HEADER))),
    names=st.fixed_dictionaries({k: st.sampled_from(v) for k, v in RENAMES.items()}),
    junk=st.booleans(),
)
def test_any_column_order_parses_to_the_same_rows(spark, ctx, order, names, junk):
    """Columns permuted and renamed (accepted variants): the same rows; every line is accounted for."""
    header = [names.get(name, name) for name in QL_HEADER]
    text = [",".join(header[i] for i in order)] + [",".join(row[i] for i in order) for row in QL_BODY]
    if junk:
        text.append("not,a,queue_log,line")  # wrong number of columns: one quarantined row
    folder = Path(tempfile.mkdtemp(prefix="asterisk-")) / "day=2026-10-05"
    folder.mkdir()
    try:
        path = folder / "queue_log.csv"
        path.write_text("\n".join(text) + "\n")
        drop = ("source_file", "raw_record")
        for parse in (sa.parse_queue_log_calls, sa.parse_queue_log_agent_events):
            parsed = parse(spark, [str(path)], ctx(**QL_DB_OPTIONS))
            good = [r for r in rows_of(parsed, drop) if r["source_line"] <= len(QL_BODY) + 1]  # not the junk line
            if parse.__name__ not in _REFERENCE_ROWS:  # the canonical export's rows, parsed once
                _REFERENCE_ROWS[parse.__name__] = rows_of(parse(spark, [str(QL_DB)], ctx(**QL_DB_OPTIONS)), drop)
            assert good == _REFERENCE_ROWS[parse.__name__]
            assert accounted(parsed) == len(text)
    finally:
        shutil.rmtree(folder.parent)
