"""Flat call exports: the mapping loader, the parser (exact rows worked out by hand), the bad-input
corpus, minimisation, the landing sources, the preview and a property test of the time mapping."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from foundation import schema
from jobs.flat_mapping import FlatMapping, MappingError, load_mapping, mapping_from_dict
from jobs.source_flat import (
    PARSED_COLUMNS,
    flat_sources,
    parse_bytes,
    parse_flat_calls,
    parse_with_mapping,
    preview,
    rows_as_dicts,
)
from jobs.sources import SourceContext
from teamlens.synth.flat import synth_flat_calls

FIXTURES = Path(__file__).parent / "fixtures" / "flat_calls"
ACD = FIXTURES / "acd_csv"
LEGACY = FIXTURES / "legacy_tsv"
BAD = FIXTURES / "bad"
ACD_FILE = ACD / "day=2026-10-05" / "calls.csv"
LEGACY_FILE = LEGACY / "day=2026-10-25" / "export.tsv"
PERSONAL = [
    "Smith", "John", "Zoë", "Álvarez", "Renée", "+1212555", "2125550",
    "Jürgen", "Müller", "Ängela", "Öztürk", "Björn", "Größ", "Weiß", "Frédéric", "Çelik", "Schäfer",
    "030 1234567", "0171", "7654321", "555666", "44556677", "0301112223",
]  # fmt: skip


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def ctx(settings: Any, policy: Any, folder: Path, options: Any = None) -> SourceContext:
    return SourceContext(settings=settings, folder=folder, options=options or {})


def call(contact_id: str, line: int, agent: str | None, queue: str, start: str, connected: str | None,
         end: str, queue_s: int, talk_s: int | None, transferred: bool = False) -> dict[str, Any]:  # fmt: skip
    """One expected parsed row (the constant columns filled in)."""
    return {
        "contact_id": contact_id,
        "agent_key": agent,
        "queue": queue,
        "channel": "VOICE",
        "initiation_method": "INBOUND",
        "initiation_ts": utc(start),
        "connected_to_agent_ts": utc(connected) if connected else None,
        "disconnect_ts": utc(end),
        "queue_seconds": queue_s,
        "talk_seconds": talk_s,
        "hold_seconds": None,
        "holds": None,
        "acw_seconds": None,
        "transferred_out": transferred,
        "abandoned": agent is None,
        "last_update_ts": utc(end),
        "day_ts": utc(start),
        "reason": None,
        "source_line": line,
    }


def without_lineage(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("source_file", "raw_record")} for r in rows]


# --- the mapping ------------------------------------------------------------------------------


def test_fixture_mappings_load() -> None:
    acd, legacy = load_mapping(ACD / "mapping.yaml"), load_mapping(LEGACY / "mapping.yaml")
    assert (acd.delimiter, acd.encoding, acd.date_format, acd.timezone) == (",", "utf-8", None, "America/New_York")
    assert (legacy.delimiter, legacy.encoding, legacy.date_format) == ("\t", "latin-1", "%y%m%d")
    assert legacy.column("date") == "DATUM" and acd.column("channel") is None
    assert legacy.transferred == {"TR"} and legacy.answered == {"AN", "TR"}


def _doc() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((LEGACY / "mapping.yaml").read_text())


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d.update(agent_identiy="employee_id"), "agent_identiy"),
        (lambda d: d.pop("timezone"), "timezone"),
        (lambda d: d.update(timezone="Europe/Berlinn"), "timezone"),
        (lambda d: d["columns"].pop("call_id"), "columns.call_id"),
        (lambda d: d["columns"].update(caller="KUNDE"), "columns.caller"),
        (lambda d: d["formats"].update(time="%H:%Q"), "formats.time"),
        (lambda d: d["formats"].update(time="HH:mm:ss"), "formats.time"),
        (lambda d: d["formats"].pop("date"), "formats.date"),
        (lambda d: d["outcomes"].update(abandoned=[False]), "outcomes.abandoned"),
        (lambda d: d["outcomes"].update(abandoned=["AN"]), "outcomes.abandoned"),
        (lambda d: d["outcomes"].update(transferred=["XF"]), "outcomes.transferred"),
        (lambda d: d.update(encoding="utf-16"), "encoding"),
        (lambda d: d.update(delimiter=";;"), "delimiter"),
        (lambda d: d.update(mapping_version=2), "mapping_version"),
        (lambda d: d.update(header="yes"), "header"),
    ],
)
def test_mapping_errors_name_file_and_key(change: Any, key: str) -> None:
    doc = _doc()
    change(doc)
    with pytest.raises(MappingError) as err:
        mapping_from_dict(doc, "landing/flat_calls/x/mapping.yaml")
    assert "landing/flat_calls/x/mapping.yaml" in str(err.value) and key in str(err.value)


def test_mapping_typo_file_and_time_without_date() -> None:
    with pytest.raises(MappingError, match=r"mapping_typo\.yaml: unknown key agent_identiy"):
        load_mapping(BAD / "mapping_typo.yaml")
    doc = _doc()
    doc["columns"].pop("date")
    doc["formats"].pop("date")
    with pytest.raises(MappingError, match=r"formats\.time: expected a date and time"):
        mapping_from_dict(doc, "m.yaml")


# --- exact rows -------------------------------------------------------------------------------


def test_acd_csv_rows(spark: Any, settings: Any, policy: Any) -> None:
    parsed = parse_flat_calls(spark, [str(ACD_FILE)], ctx(settings, policy, ACD))
    rows = rows_as_dicts(parsed.rows)
    assert all(r["source_file"] == str(ACD_FILE) for r in rows)
    assert without_lineage(rows) == [
        # America/New_York is UTC-4 in October (EDT)
        call(
            "C-1001", 2, "E100", "Sales", "2026-10-05T13:00:00", "2026-10-05T13:00:30", "2026-10-05T13:05:00", 30, 270
        ),
        call("C-1002", 3, None, "Support", "2026-10-05T14:15:00", None, "2026-10-05T14:16:10", 70, None),
        # outcome codes match case-insensitively ("transfer"); the service ends on the next day
        call(
            "C-1003",
            4,
            "E101",
            "Support",
            "2026-10-06T03:58:00",
            "2026-10-06T03:59:00",
            "2026-10-06T04:03:30",
            60,
            270,
            transferred=True,
        ),
    ]
    assert rows[0]["raw_record"].startswith("C-1001,E100,Sales,") and rows[0]["raw_record"].endswith('"Smith, John"')
    assert [r.asDict() for r in parsed.not_ingested.collect()] == [
        {"source_file": str(ACD_FILE), "kind": "header", "records": 1}
    ]


def test_legacy_tsv_rows(spark: Any, settings: Any, policy: Any) -> None:
    mapping = load_mapping(LEGACY / "mapping.yaml")
    rows = rows_as_dicts(parse_flat_calls(spark, [str(LEGACY_FILE)], ctx(settings, policy, LEGACY, mapping)).rows)
    unknown = {k: None for k in PARSED_COLUMNS if k not in ("source_file", "raw_record")}
    unknown.update(source_line=7, reason="unknown outcome 'XX' (add it to outcomes in the mapping)")
    assert without_lineage(rows) == [
        # 24 Oct, CEST (UTC+2); the service ends at 0:04:05 on the 25th (crossed midnight)
        call(
            "A-1", 2, "4711", "Vertrieb", "2026-10-24T21:55:10", "2026-10-24T21:58:00", "2026-10-24T22:04:05", 170, 365
        ),
        # DST end: queued 2:50 and answered 2:55 CEST, hung up at 2:10 CET (the second 2 o'clock)
        call(
            "A-2", 3, "4712", "Service", "2026-10-25T00:50:00", "2026-10-25T00:55:00", "2026-10-25T01:10:00", 300, 900
        ),
        # after the change: CET (UTC+1); empty channel -> VOICE; H:MM:SS hours
        call(
            "A-3",
            4,
            "4711",
            "Vertrieb",
            "2026-10-25T08:05:07",
            "2026-10-25T08:05:40",
            "2026-10-25T08:15:00",
            33,
            560,
            transferred=True,
        ),
        call("A-4", 5, None, "Service", "2026-10-25T13:00:00", None, "2026-10-25T13:02:30", 150, None),
        call("A-5", 6, "4713", "Vertrieb", "2026-10-25T15:30:00", "2026-10-25T15:30:05", "2026-10-25T15:40:05", 5, 600),
        unknown,
    ]
    # decoded as Latin-1: the umlauts survive in the (restricted) raw record
    assert "Jürgen Müller" in rows[0]["raw_record"] and "\t" in rows[0]["raw_record"]


def test_no_parsed_column_holds_customer_data(spark: Any, settings: Any, policy: Any) -> None:
    rows = rows_as_dicts(
        parse_flat_calls(spark, [str(LEGACY_FILE)], ctx(settings, policy, LEGACY)).rows
    ) + rows_as_dicts(parse_flat_calls(spark, [str(ACD_FILE)], ctx(settings, policy, ACD)).rows)
    for row in rows:
        for column, value in row.items():
            if column in ("raw_record", "source_file"):
                continue
            for needle in PERSONAL:
                assert needle not in str(value), (column, row["source_line"])
    assert any("Müller" in r["raw_record"] for r in rows) and any("+12125550101" in r["raw_record"] for r in rows)


def test_parsed_frame_types_match_contacts(spark: Any, settings: Any, policy: Any) -> None:
    df = parse_flat_calls(spark, [str(ACD_FILE)], ctx(settings, policy, ACD)).rows
    declared = {f.name: f.dataType for f in schema.CONTACTS.spark_schema().fields}
    for f in df.schema.fields:
        if f.name in declared:
            assert f.dataType == declared[f.name], f.name
    assert {"agent_key", "day_ts", "reason", "source_file", "source_line", "raw_record"} <= set(df.columns)
    assert not {"day", "agent_pseudonym"} & set(df.columns)


# --- the bad-input corpus ---------------------------------------------------------------------


def reasons(path: Path, mapping: FlatMapping) -> list[tuple[int, str | None]]:
    rows, _ = parse_bytes(mapping, str(path), path.read_bytes())
    return [(r[PARSED_COLUMNS.index("source_line")], r[PARSED_COLUMNS.index("reason")]) for r in rows]


def test_bad_lines_each_end_as_one_row_with_a_reason() -> None:
    mapping = load_mapping(ACD / "mapping.yaml")
    assert reasons(BAD / "malformed.csv", mapping) == [
        (2, "wrong column count: 5 fields, expected 10"),
        (3, "invalid queue_start (column QueueStart): expected %Y-%m-%d %H:%M:%S"),
        (4, "missing call_id (column CallId)"),
        (5, "empty line"),
        (6, "service_exit is before service_start"),
        (7, "missing agent (column Agent) on an answered call"),
    ]
    assert reasons(BAD / "invalid_utf8.csv", mapping) == [(2, "not valid UTF-8 (set encoding in the mapping)")]


def test_empty_and_header_only_files_are_counted_not_dropped() -> None:
    mapping = load_mapping(ACD / "mapping.yaml")
    assert parse_bytes(mapping, "e.csv", (BAD / "empty.csv").read_bytes()) == ([], [("e.csv", "empty file", 0)])
    assert parse_bytes(mapping, "h.csv", (BAD / "header_only.csv").read_bytes()) == ([], [("h.csv", "header", 1)])


def test_wrong_format_and_missing_column_raise_naming_file_column_and_mapping() -> None:
    mapping = load_mapping(ACD / "mapping.yaml")
    with pytest.raises(
        ValueError, match=r"not_csv\.csv: the header lacks column 'CallId' \(columns\.call_id in .*mapping\.yaml"
    ):
        parse_bytes(mapping, str(BAD / "not_csv.csv"), (BAD / "not_csv.csv").read_bytes())
    renamed = load_mapping(BAD / "mapping_missing_column.yaml")
    with pytest.raises(
        ValueError,
        match=r"calls\.csv: the header lacks column 'QueueName' \(columns\.queue in .*mapping_missing_column\.yaml",
    ):
        parse_bytes(renamed, str(ACD_FILE), ACD_FILE.read_bytes())


def test_bad_corpus_through_spark(spark: Any, settings: Any, policy: Any) -> None:
    files = [str(BAD / n) for n in ("malformed.csv", "invalid_utf8.csv", "empty.csv", "header_only.csv")]
    parsed = parse_flat_calls(spark, files, ctx(settings, policy, ACD))
    rows = rows_as_dicts(parsed.rows)
    assert len(rows) == 7 and all(r["reason"] for r in rows) and all(r["day_ts"] is None for r in rows)
    kinds = sorted((Path(r["source_file"]).name, r["kind"], r["records"]) for r in parsed.not_ingested.collect())
    assert kinds == [
        ("empty.csv", "empty file", 0),
        ("header_only.csv", "header", 1),
        ("invalid_utf8.csv", "header", 1),
        ("malformed.csv", "header", 1),
    ]


# --- landing sources, preview, synthetic data ---------------------------------------------------


def test_flat_sources_from_landing(spark: Any, settings: Any, policy: Any, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(ACD, landing / "flat_calls" / "acd_csv")
    shutil.copytree(LEGACY, landing / "flat_calls" / "legacy_tsv")
    sources = flat_sources(landing)
    assert [s.name for s in sources] == ["flat_calls/acd_csv", "flat_calls/legacy_tsv"]
    legacy = sources[1]
    assert legacy.table is schema.CONTACTS and legacy.identity == "employee_id"
    assert legacy.suffixes == (".csv", ".tsv", ".txt") and legacy.order == (("last_update_ts", True),)
    assert legacy.field_sources["contact_id"] == "ANRUF_ID"
    assert "KUNDE" not in str(legacy.field_sources) and "TELEFON" not in str(legacy.field_sources)
    files = [str(landing / "flat_calls" / "legacy_tsv" / "day=2026-10-25" / "export.tsv")]
    assert legacy.parse(spark, files, ctx(settings, policy, landing / "flat_calls" / "legacy_tsv")).rows.count() == 6
    assert flat_sources(tmp_path / "nowhere") == []


def test_preview(spark: Any) -> None:
    rows = preview(LEGACY / "mapping.yaml", LEGACY_FILE, limit=2)
    assert [r["contact_id"] for r in rows] == ["A-1", "A-2"]
    assert "raw_record" not in rows[0] and rows[0]["initiation_ts"] == utc("2026-10-24T21:55:10")
    # Without Spark, the same rows as the ingest's parse through Spark.
    mapping = load_mapping(LEGACY / "mapping.yaml")
    through_spark = rows_as_dicts(parse_with_mapping(spark, [str(LEGACY_FILE)], mapping).rows, drop=("raw_record",))
    assert preview(LEGACY / "mapping.yaml", LEGACY_FILE, limit=100) == through_spark


def test_synthetic_export_parses(tmp_path: Path) -> None:
    day_folder = tmp_path / "flat_calls" / "synth" / "day=2026-10-25"
    n = synth_flat_calls(day_folder, dt.date(2026, 10, 25), ["E1", "E2", "E3"], 300, seed=7)
    assert n == 300
    mapping = load_mapping(day_folder.parent / "mapping.yaml")
    rows, notes = parse_bytes(mapping, "calls.csv", (day_folder / "calls.csv").read_bytes())
    assert len(rows) == 300 and notes == [("calls.csv", "header", 1)]
    reason = PARSED_COLUMNS.index("reason")
    assert [r[reason] for r in rows if r[reason]] == []
    talk = PARSED_COLUMNS.index("talk_seconds")
    assert all(r[talk] is None or r[talk] >= 0 for r in rows)


# --- property: wall times written in any supported format parse back to the same instants -------

FORMATS = [  # (date format or None, time format, writer of a local datetime)
    ("%y%m%d", "%H:%M:%S", lambda t: (f"{t:%y%m%d}", f"{t.hour}:{t:%M:%S}")),
    ("%Y-%m-%d", "%H:%M:%S", lambda t: (f"{t:%Y-%m-%d}", f"{t:%H:%M:%S}")),
    ("%d.%m.%Y", "%H:%M", lambda t: (f"{t:%d.%m.%Y}", f"{t:%H:%M}")),
    (None, "%Y-%m-%d %H:%M:%S", lambda t: ("", f"{t:%Y-%m-%d %H:%M:%S}")),
    (None, "%d/%m/%Y %I:%M:%S %p", lambda t: ("", f"{t:%d/%m/%Y %I:%M:%S %p}")),
]
ZONES = ["Europe/Berlin", "America/New_York", "UTC", "Australia/Sydney"]


def _ambiguous(local: dt.datetime, zone: ZoneInfo) -> bool:
    wall = local.replace(tzinfo=None)
    return wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset()


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31)),
    waited=st.integers(0, 3600),
    talk=st.integers(0, 6 * 3600),
    fmt=st.sampled_from(range(len(FORMATS))),
    zone_name=st.sampled_from(ZONES),
    delimiter=st.sampled_from([",", "\t", ";"]),
)
def test_times_round_trip(start: dt.datetime, waited: int, talk: int, fmt: int, zone_name: str, delimiter: str) -> None:
    date_format, time_format, write = FORMATS[fmt]
    zone = ZoneInfo(zone_name)
    step = 60 if time_format == "%H:%M" else 1
    begin = start.replace(second=0 if step == 60 else start.second, microsecond=0, tzinfo=dt.UTC)
    instants = [begin, begin + dt.timedelta(seconds=waited // step * step)]
    instants.append(instants[1] + dt.timedelta(seconds=talk // step * step))
    local = [t.astimezone(zone) for t in instants]
    assume(not any(_ambiguous(t, zone) for t in local))  # a repeated hour is ambiguous in any export
    doc = _doc()
    doc.update(delimiter=delimiter, timezone=zone_name, header=True)
    doc["columns"] = {"call_id": "ID", "agent": "AG", "queue_start": "QS", "service_start": "SS",
                      "service_exit": "SE", "outcome": "OC"}  # fmt: skip
    doc["formats"] = {"time": time_format}
    if date_format:
        doc["columns"]["date"] = "D"
        doc["formats"]["date"] = date_format
    mapping = mapping_from_dict(doc, "prop.yaml")
    date_text = write(local[0])[0]
    header = ["ID", "D", "AG", "QS", "SS", "SE", "OC", "PHONE"]
    line = ["X1", date_text, "E1", *(write(t)[1] for t in local), "AN", "+49 30 1234"]
    data = (delimiter.join(header) + "\n" + delimiter.join(line) + "\n").encode()
    rows, _ = parse_bytes(mapping, "p.csv", data)
    row = dict(zip(PARSED_COLUMNS, rows[0], strict=True))
    assert row["reason"] is None
    assert (row["initiation_ts"], row["connected_to_agent_ts"], row["disconnect_ts"]) == tuple(instants)
    assert row["talk_seconds"] == (instants[2] - instants[1]).total_seconds()
    assert row["queue_seconds"] == (instants[1] - instants[0]).total_seconds()
