"""Flat exports: call keys composed of several columns, "did not happen" time values, the checks of
`teamlens check-mapping`, and a bank ACD export in the style of 1999 (call ids unique per VRU line
only, 0:00:00 for "did not happen") ingested without losing a call. Expected values by hand."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from foundation import schema
from foundation.settings import load_settings
from jobs import ingest
from jobs.flat_check import check_sample
from jobs.flat_mapping import KEY_SEPARATOR, MappingError, compose_call_key, ids_unique, load_mapping, mapping_from_dict
from jobs.source_flat import PARSED_COLUMNS, parse_bytes

FIXTURES = Path(__file__).parent / "fixtures" / "flat_calls"
BANK = FIXTURES / "bank_1999"
JAN4, JAN5 = dt.date(1999, 1, 4), dt.date(1999, 1, 5)
JAN4_FILE = BANK / f"day={JAN4}" / "calls.txt"
KEY = "flat-keys-test-key-0123456789abcdef0123"
ROSTER = """employee_id,display_name,acd_server,team,site,site_timezone
B-1,Noa Test,noa,Team A,Tel Aviv,Asia/Jerusalem
B-2,Gil Test,GIL,Team A,Tel Aviv,Asia/Jerusalem
B-3,Tal Test,Tal,Team A,Tel Aviv,Asia/Jerusalem
"""


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def bank_doc() -> dict[str, Any]:
    return yaml.safe_load((BANK / "mapping.yaml").read_text())


def parsed(mapping: Any, data: bytes) -> list[dict[str, Any]]:
    rows, _ = parse_bytes(mapping, "f.txt", data)
    return [dict(zip(PARSED_COLUMNS, r, strict=True)) for r in rows]


# --- the mapping: keys, uniqueness, no_time ----------------------------------------------------


def test_bank_mapping_declares_its_key_uniqueness_and_no_time() -> None:
    mapping = load_mapping(BANK / "mapping.yaml")
    assert mapping.key_columns == ("vru_line", "call_id") and mapping.column("call_id") == "vru_line + call_id"
    assert ids_unique(mapping) is False and mapping.no_time == {"0:00:00", "NULL"}
    legacy = load_mapping(FIXTURES / "legacy_tsv" / "mapping.yaml")
    assert legacy.key_columns == ("ANRUF_ID",) and ids_unique(legacy) is False and legacy.no_time == {"NULL"}
    doc = bank_doc()
    doc["call_ids_unique"] = True
    assert ids_unique(mapping_from_dict(doc)) is True


def test_the_flat_source_declares_what_its_mapping_says(tmp_path: Path) -> None:
    """The ingest's dedup reads Source.ids_unique: the mapping's call_ids_unique reaches it."""
    from jobs.source_flat import flat_sources

    for name, unique in (("shared_ids", False), ("unique_ids", True)):
        doc = bank_doc()
        doc["call_ids_unique"] = unique
        folder = tmp_path / "flat_calls" / name
        folder.mkdir(parents=True)
        (folder / "mapping.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert {s.name: s.ids_unique for s in flat_sources(tmp_path)} == {
        "flat_calls/shared_ids": False,
        "flat_calls/unique_ids": True,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["columns"].update(call_id=[]), "columns.call_id: expected a column or a list"),
        (lambda d: d["columns"].update(call_id=["vru_line", "vru_line"]), "columns.call_id: expected distinct"),
        (lambda d: d["columns"].update(call_id=["vru_line", ""]), "columns.call_id: expected the export's column"),
        (lambda d: d.update(call_ids_unique="yes"), "call_ids_unique: expected true or false"),
        # unquoted, YAML 1.1 reads 7:00:00 as the number 25200 (base 60)
        (lambda d: d.update(no_time=yaml.safe_load("[0:00:00, 7:00:00]")), "no_time: expected a list of quoted texts"),
        (lambda d: d.update(no_time="0:00:00"), "no_time: expected a list"),
    ],
)
def test_bad_keys_and_no_time_name_the_key(change: Any, message: str) -> None:
    doc = bank_doc()
    change(doc)
    with pytest.raises(MappingError, match=rf"m\.yaml: {message}"):
        mapping_from_dict(doc, "m.yaml")


def test_composed_key_escapes_the_separator() -> None:
    assert compose_call_key(["33116"]) == "33116"
    assert compose_call_key(["AA0101", "33116"]) == "AA0101|33116"
    # without escaping both would be "a|b|c"
    assert compose_call_key(["a|b", "c"]) == "a\\|b|c" != compose_call_key(["a", "b|c"]) == "a|b\\|c"
    assert compose_call_key(["a\\", "b"]) == "a\\\\|b" != compose_call_key(["a", "\\b"])


# --- the bank export: exact rows, and no call lost in the ingest --------------------------------


def test_bank_day_parses_every_call_with_no_midnight() -> None:
    rows = parsed(load_mapping(BANK / "mapping.yaml"), JAN4_FILE.read_bytes())
    got = [
        (r["contact_id"], r["agent_key"], r["initiation_ts"], r["connected_to_agent_ts"], r["disconnect_ts"],
         r["queue_seconds"], r["talk_seconds"], r["abandoned"], r["reason"])
        for r in rows
    ]  # fmt: skip
    # Asia/Jerusalem is UTC+2 in January 1999
    assert got == [
        ("AA0101|33116", "NOA", utc("1999-01-04T05:13:34"), utc("1999-01-04T05:14:09"), utc("1999-01-04T05:16:53"),
         35, 164, False, None),
        # never queued (q_start 0:00:00): starts when served, 0 s in queue, not at midnight
        ("AA0102|33116", "GIL", utc("1999-01-04T05:20:18"), utc("1999-01-04T05:20:18"), utc("1999-01-04T05:25:02"),
         0, 284, False, None),
        # hung up in the queue: the 0:00:00 service times are not read
        ("AA0101|33117", None, utc("1999-01-04T05:31:50"), None, utc("1999-01-04T05:33:05"), 75, None, True, None),
        ("AA0103|33117", "TAL", utc("1999-01-04T06:02:05"), utc("1999-01-04T06:02:40"), utc("1999-01-04T06:09:11"),
         35, 391, False, None),
        ("AA0102|33117", "NOA", utc("1999-01-04T07:45:20"), utc("1999-01-04T07:45:20"), utc("1999-01-04T07:47:00"),
         0, 100, False, None),
    ]  # fmt: skip
    # The plain call id names 2 calls for 5 rows: as the key, 3 calls would look like duplicates.
    assert len({r["contact_id"].split(KEY_SEPARATOR)[1] for r in rows}) == 2


def test_undeclared_midnight_token_gives_hours_of_wait() -> None:
    """Without no_time, 0:00:00 reads as midnight: the wait of a call that never queued is 7 hours.
    (This is what the declaration prevents, and what check-mapping flags.)"""
    doc = bank_doc()
    del doc["no_time"]
    rows = parsed(mapping_from_dict(doc), JAN4_FILE.read_bytes())
    assert [r["queue_seconds"] for r in rows] == [35, 7 * 3600 + 20 * 60 + 18, 75, 35, 9 * 3600 + 45 * 60 + 20]


def bank_settings(root: Path) -> Any:
    landing = root / "landing"
    (landing / "roster").mkdir(parents=True)
    (landing / "roster" / "roster.csv").write_text(ROSTER, encoding="utf-8")
    shutil.copytree(BANK, landing / "flat_calls" / "bank_1999")
    return load_settings({"TEAMLENS_DATA_ROOT": str(root), "TEAMLENS_PSEUDONYM_KEY": KEY, "TEAMLENS_RUN_BY": "test"})


def test_bank_days_ingest_without_losing_a_call(spark: Any, tmp_path: Path) -> None:
    settings = bank_settings(tmp_path)
    ingest.run_table(spark, settings, schema.CONTACTS, [JAN4, JAN5])
    root = settings.lake.staged / "contacts"
    staged = duckdb.sql(
        f"SELECT day, contact_id, queue_seconds, abandoned FROM read_parquet('{root}/*/*.parquet', "
        "hive_partitioning = true) ORDER BY day, contact_id"
    ).fetchall()
    assert [(str(d)[:10], c) for d, c, _, _ in staged] == [
        ("1999-01-04", "AA0101|33116"), ("1999-01-04", "AA0101|33117"), ("1999-01-04", "AA0102|33116"),
        ("1999-01-04", "AA0102|33117"), ("1999-01-04", "AA0103|33117"),
        ("1999-01-05", "AA0101|33180"), ("1999-01-05", "AA0101|33181"), ("1999-01-05", "AA0104|33180"),
        ("1999-01-05", "AA0104|33181"),
    ]  # fmt: skip
    answered_waits = [q for _, _, q, abandoned in staged if not abandoned]
    assert sum(answered_waits) / len(answered_waits) == 20  # (35+0+35+0+35+0+35) / 7, not hours
    for day, calls in ((JAN4, 5), (JAN5, 4)):
        report = json.loads((settings.lake.reports / "ingest" / "contacts" / f"day={day}.json").read_text())
        section = report["sources"]["flat_calls/bank_1999"]
        assert (section["read"], section["staged"], section["quarantined"], section["duplicates"]) == (
            calls,
            calls,
            0,
            0,
        )
    text = json.dumps(staged, default=str)
    assert "9664491" not in text and "2345871" not in text  # customer ids are never read


# --- check-mapping ----------------------------------------------------------------------------


def write_mapping(tmp_path: Path, **changes: Any) -> Path:
    doc = bank_doc()
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        elif key == "call_id":
            doc["columns"]["call_id"] = value
        else:
            doc[key] = value
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def findings(mapping_path: Path, roster_ids: Any = None) -> dict[str, tuple[int, str]]:
    return {f.check: (f.rows, f.detail) for f in check_sample(mapping_path, JAN4_FILE, roster_ids).findings}


def test_check_finds_repeated_ids_and_undeclared_midnight(tmp_path: Path) -> None:
    got = findings(write_mapping(tmp_path, call_id="call_id", no_time=None))
    rows, detail = got["repeated ids"]
    assert rows == 5 and detail.startswith("2 ids occur more than once (e.g. '33117' 3 times); contents differ for 2")
    assert "columns.call_id: [LINE_COLUMN, ID_COLUMN]" in detail
    rows, detail = got["midnight queue_start"]
    assert rows == 2 and "column q_start: 2 of 5 rows are exactly midnight ('0:00:00')" in detail
    assert "no_time: ['0:00:00', 'NULL']" in detail
    # the hung-up call's service times: one row of five at midnight is not many
    assert got["midnight service_start"] == (0, "column ser_start: 1 rows exactly at midnight")
    assert got["longer than a day"][0] == 0 and got["end before start"][0] == 0
    # the fixture's own mapping: nothing to report
    assert {k: v[0] for k, v in findings(BANK / "mapping.yaml").items()} == dict.fromkeys(got, 0)


def test_check_flags_long_waits_and_backward_times(tmp_path: Path) -> None:
    doc = bank_doc()
    doc["columns"].pop("date")
    doc["formats"] = {"time": "%y%m%d %H:%M:%S"}
    doc["columns"]["queue_start"] = doc["columns"]["service_start"] = "s"
    doc["columns"]["service_exit"] = "e"
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(doc))
    sample = tmp_path / "s.txt"
    sample.write_text(
        "vru_line\tcall_id\ts\te\toutcome\tserver\tq_exit\n"
        "L1\t1\t990104 10:00:00\t990106 10:00:00\tAGENT\tNOA\t\n"
        "L1\t2\t990104 10:00:00\t990104 09:00:00\tAGENT\tNOA\t\n"
    )
    got = {f.check: f for f in check_sample(tmp_path / "m.yaml", sample).findings}
    assert got["longer than a day"].rows == 1 and "first at line 2" in got["longer than a day"].detail
    assert got["end before start"].rows == 1
    assert got["end before start"].detail.startswith("service_exit is before service_start (first at line 3)")


def test_check_counts_agents_not_in_the_roster() -> None:
    rows, detail = findings(BANK / "mapping.yaml", {"noa", "gil"})["agents in roster"]
    assert rows == 1 and "1 export agent ids are not in roster column acd_server (TAL)" in detail
    assert findings(BANK / "mapping.yaml", {"noa", "gil", "tal"})["agents in roster"][0] == 0


def test_check_mapping_command_prints_key_and_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from foundation.roster import read_roster
    from teamlens.cli import main

    settings = bank_settings(tmp_path / "data")
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(settings.data_root))
    monkeypatch.setenv("TEAMLENS_PSEUDONYM_KEY", KEY)
    (settings.lake.roster_file).write_text(ROSTER.replace("B-3,Tal Test,Tal,", "B-3,Tal Test,,"))
    mapping = write_mapping(tmp_path, call_id="call_id", no_time=None)
    assert main(["check-mapping", str(mapping), str(JAN4_FILE)]) == 1
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    assert ["call", "key", "columns", "joined", "by", "call_ids_unique"] in lines
    assert ["check", "rows", "result", "detail"] in lines
    assert ["call_id", "-", "false:", "ids", "may", "repeat"] in lines
    assert ["repeated", "ids", "5", "CHECK", "2", "ids", "occur"] in [line[:7] for line in lines]
    assert ["midnight", "queue_start", "2", "CHECK"] in [line[:4] for line in lines]
    assert ["midnight", "queue_exit", "2", "CHECK"] in [line[:4] for line in lines]
    assert ["agents", "in", "roster", "1", "CHECK"] in [line[:5] for line in lines]
    assert out.rstrip().endswith("5 rows parse, 0 would be quarantined; 4 of 8 checks found something")
    for agent in read_roster(settings):  # pseudonyms are never printed
        assert agent.agent_pseudonym not in out
    assert main(["check-mapping", str(BANK / "mapping.yaml"), str(JAN4_FILE)]) == 1  # TAL is still missing
    assert capsys.readouterr().out.rstrip().endswith("1 of 8 checks found something")


# --- properties -------------------------------------------------------------------------------

TOKENS = ["0:00:00", "NULL", "", "--:--:--"]


@hsettings(max_examples=60, deadline=None)
@given(
    queue_start=st.sampled_from([*TOKENS, "9:00:00"]),
    queue_exit=st.sampled_from([*TOKENS, "9:00:30"]),
    service=st.sampled_from([*TOKENS, "9:00:30"]),
    abandoned=st.booleans(),
)
def test_no_time_tokens_give_null_never_midnight(
    queue_start: str, queue_exit: str, service: str, abandoned: bool
) -> None:
    doc = bank_doc()
    doc["no_time"] = ["0:00:00", "NULL", "--:--:--"]
    mapping = mapping_from_dict(doc)
    service_exit = service if service in TOKENS else "9:05:00"
    line = [
        "L1",
        "7",
        "990104",
        queue_start,
        queue_exit,
        "HANG" if abandoned else "AGENT",
        service,
        service_exit,
        "NOA",
    ]
    header = "vru_line\tcall_id\tdate\tq_start\tq_exit\toutcome\tser_start\tser_exit\tserver\n"
    row = parsed(mapping, (header + "\t".join(line) + "\n").encode("latin-1"))[0]
    midnight = utc("1999-01-03T22:00:00")  # 0:00:00 in Jerusalem on the call's date
    times = [row[c] for c in ("initiation_ts", "connected_to_agent_ts", "disconnect_ts", "last_update_ts")]
    assert midnight not in times
    if row["reason"] is not None:  # a time the outcome needs did not happen
        needed = queue_start if abandoned else service
        assert needed in TOKENS and row["reason"].startswith(
            f"missing {'queue_start' if abandoned else 'service_start'}"
        )
        return
    if abandoned:
        assert row["connected_to_agent_ts"] is None and row["talk_seconds"] is None
        assert (row["disconnect_ts"] is None) == (queue_exit in TOKENS) == (row["queue_seconds"] is None)
    else:
        assert row["connected_to_agent_ts"] == utc("1999-01-04T07:00:30")
        assert row["queue_seconds"] == (0 if queue_start in TOKENS else 30)
        assert row["initiation_ts"] == (
            row["connected_to_agent_ts"] if queue_start in TOKENS else utc("1999-01-04T07:00:00")
        )


def split_call_key(key: str) -> list[str]:
    """The parts of a composed key (undoing the escapes): a left inverse of compose_call_key."""
    parts, current, escaped = [], "", False
    for char in key:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == KEY_SEPARATOR:
            parts, current = [*parts, current], ""
        else:
            current += char
    return [*parts, current]


@hsettings(max_examples=200, deadline=None)
@given(parts=st.lists(st.text(alphabet="ab|\\", max_size=4), min_size=2, max_size=3))
def test_composed_keys_are_injective(parts: list[str]) -> None:
    """compose_call_key has a left inverse, so two different rows of key columns never share a key."""
    assert split_call_key(compose_call_key(parts)) == parts
