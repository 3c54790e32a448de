"""jobs.source_genesys: Genesys Cloud conversation details -> CONTACTS parsed rows.

Fixtures (tests/fixtures/genesys/): good/ holds four conversations in JSON lines (answered with hold
and wrap-up, transferred between two agents, abandoned, IVR only) and one callback conversation in
an analytics API response document; bad/ holds one example of each kind of broken input.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from foundation import schema
from jobs.source_genesys import CONVERSATIONS, SOURCES, parse_conversations
from jobs.sources import ADDED_COLUMNS, PARSED_EXTRA_COLUMNS, SourceContext

FIXTURES = Path(__file__).parent / "fixtures" / "genesys"
GOOD = FIXTURES / "good" / "day=2026-10-05"
BAD = FIXTURES / "bad" / "day=2026-10-05"
CUSTOMER_VALUES = ("Erika Mustermann", "Max Muster", "Müller", "M\ufffdller", "4915112345678", "493055512345")

_cache: dict[str, tuple[list[dict[str, Any]], list[tuple[str, str, int]]]] = {}


def T(hms: str) -> dt.datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return dt.datetime(2026, 10, 5, h, m, s)


def _parse(spark, settings, policy, folder: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str, int]]]:
    """Rows (as dicts, sorted by file, line, contact) and not_ingested of a fixture folder (parsed once)."""
    key = str(folder)
    if key not in _cache:
        ctx = SourceContext(settings=settings, folder=folder)
        files = sorted(str(p) for p in folder.iterdir() if p.is_file())
        parsed = parse_conversations(spark, files, ctx)
        rows = [r.asDict() for r in parsed.rows.collect()]
        rows.sort(key=lambda r: (r["source_file"], r["source_line"], r["contact_id"] or ""))
        assert parsed.not_ingested is not None
        ni = sorted((r["source_file"], r["kind"], r["records"]) for r in parsed.not_ingested.collect())
        _cache[key] = (rows, ni)
    return _cache[key]


def _uri(folder: Path, name: str) -> str:
    return "file://" + str((folder / name).absolute())


def test_source_object_declares_contract():
    assert SOURCES == [CONVERSATIONS]
    assert CONVERSATIONS.name == "genesys_conversations"
    assert CONVERSATIONS.table is schema.CONTACTS
    assert CONVERSATIONS.suffixes == (".json", ".jsonl")
    assert CONVERSATIONS.identity == "genesys_user_id"
    assert CONVERSATIONS.order == (("last_update_ts", True),)
    assert set(CONVERSATIONS.field_sources) <= set(schema.CONTACTS.column_names)


def test_good_conversations_parse_to_exact_rows(spark, settings, policy):
    rows, not_ingested = _parse(spark, settings, policy, GOOD)
    expected_columns = [c for c in schema.CONTACTS.column_names if c not in ADDED_COLUMNS]
    assert set(rows[0]) == set(expected_columns) | set(PARSED_EXTRA_COLUMNS)
    jsonl, api = _uri(GOOD, "conversations.jsonl"), _uri(GOOD, "api.json")
    base = {"reason": None, "abandoned": False, "transferred_out": False}
    expected = [
        # The callback (api.json, conversation 1): no acd, no conversationEnd -> latest emitDate.
        {
            **base,
            "contact_id": "c5/p-ag-5",
            "agent_key": "u-dave",
            "queue": None,
            "channel": "VOICE",
            "initiation_method": "CALLBACK",
            "initiation_ts": T("11:00:00"),
            "connected_to_agent_ts": T("11:00:00"),
            "disconnect_ts": T("11:05:00"),
            "queue_seconds": None,
            "talk_seconds": 300,
            "hold_seconds": 0,
            "holds": 0,
            "acw_seconds": 0,
            "last_update_ts": T("11:05:00"),
            "day_ts": T("11:00:00"),
            "source_file": api,
            "source_line": 1,
        },
        # Answered: tAcd 44600 ms -> 45 s, tTalkComplete 345400 -> 345, tHeldComplete 60499 -> 60, one hold.
        {
            **base,
            "contact_id": "c1/p-ag-1",
            "agent_key": "u-alice",
            "queue": "q-sales",
            "channel": "VOICE",
            "initiation_method": "INBOUND",
            "initiation_ts": T("08:00:00"),
            "connected_to_agent_ts": T("08:01:15"),
            "disconnect_ts": T("08:09:30"),
            "queue_seconds": 45,
            "talk_seconds": 345,
            "hold_seconds": 60,
            "holds": 1,
            "acw_seconds": 90,
            "last_update_ts": T("08:10:00"),
            "day_ts": T("08:00:00"),
            "source_file": jsonl,
            "source_line": 1,
        },
        # Transfer: the first agent transfers out, the second is a TRANSFER contact of another queue.
        {
            **base,
            "contact_id": "c2/p-ag-2a",
            "agent_key": "u-bob",
            "queue": "q-support",
            "channel": "CHAT",
            "initiation_method": "INBOUND",
            "initiation_ts": T("09:00:00"),
            "connected_to_agent_ts": T("09:00:20"),
            "disconnect_ts": T("09:09:00"),
            "queue_seconds": 20,
            "talk_seconds": 460,
            "hold_seconds": 0,
            "holds": 0,
            "acw_seconds": 60,
            "transferred_out": True,
            "last_update_ts": T("09:20:00"),
            "day_ts": T("09:00:00"),
            "source_file": jsonl,
            "source_line": 2,
        },
        {
            **base,
            "contact_id": "c2/p-ag-2b",
            "agent_key": "u-carol",
            "queue": "q-billing",
            "channel": "CHAT",
            "initiation_method": "TRANSFER",
            "initiation_ts": T("09:00:00"),
            "connected_to_agent_ts": T("09:08:30"),
            "disconnect_ts": T("09:20:00"),
            "queue_seconds": 30,
            "talk_seconds": 570,
            "hold_seconds": 0,
            "holds": 0,
            "acw_seconds": 120,
            "last_update_ts": T("09:20:00"),
            "day_ts": T("09:00:00"),
            "source_file": jsonl,
            "source_line": 2,
        },
        # Abandoned: an agent was alerted but never answered; tAbandon 115000 ms.
        {
            **base,
            "contact_id": "c3",
            "agent_key": None,
            "queue": "q-sales",
            "channel": "VOICE",
            "initiation_method": "INBOUND",
            "initiation_ts": T("10:00:00"),
            "connected_to_agent_ts": None,
            "disconnect_ts": T("10:02:00"),
            "queue_seconds": 115,
            "talk_seconds": None,
            "hold_seconds": None,
            "holds": None,
            "acw_seconds": None,
            "abandoned": True,
            "last_update_ts": T("10:02:00"),
            "day_ts": T("10:00:00"),
            "source_file": jsonl,
            "source_line": 3,
        },
    ]
    assert [{k: v for k, v in r.items() if k != "raw_record"} for r in rows] == expected
    # raw_record is the record as delivered (the JSON line, or the conversation of the document).
    line1 = (GOOD / "conversations.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert rows[1]["raw_record"] == line1
    assert json.loads(rows[0]["raw_record"])["conversationId"] == "c5"
    # The IVR-only conversation (line 4) is counted, not dropped.
    assert not_ingested == [(jsonl, "no acd or agent participant", 1)]


def test_bad_input_ends_as_rows_with_reasons(spark, settings, policy):
    rows, not_ingested = _parse(spark, settings, policy, BAD)
    got = [(Path(r["source_file"]).name, r["source_line"], r["reason"]) for r in rows]
    assert got == [
        ("array.json", 2, "malformed JSON"),  # 42: not a conversation object
        ("empty.json", 1, "empty file"),
        ("empty.jsonl", 1, "empty file"),
        ("export.json", 1, "malformed JSON document"),  # a CSV named .json
        ("latin1.jsonl", 1, "invalid UTF-8"),
        ("records.jsonl", 1, "malformed JSON"),  # truncated line
        ("records.jsonl", 2, "missing conversationId"),
        ("records.jsonl", 3, "negative metric value"),
        ("records.jsonl", 4, "invalid conversationStart"),
        ("records.jsonl", 5, "invalid segmentEnd"),
        ("records.jsonl", 6, "malformed JSON"),  # a CSV header line
        ("records.jsonl", 7, "malformed JSON"),  # a JSON string, not an object
        ("truncated.json", 1, "malformed JSON document"),
    ]
    # Element 1 of array.json is a valid IVR-only conversation.
    assert not_ingested == [(_uri(BAD, "array.json"), "no acd or agent participant", 1)]
    # No bad row passes as an agent's contact.
    assert all(r["agent_key"] is None for r in rows)


def test_no_parsed_column_holds_customer_names_or_numbers(spark, settings, policy):
    for folder in (GOOD, BAD):
        rows, _ = _parse(spark, settings, policy, folder)
        for row in rows:
            for column, value in row.items():
                if column in ("raw_record", "source_file") or value is None:
                    continue
                for secret in CUSTOMER_VALUES:
                    assert secret not in str(value), (column, secret)
    # ...while the fixtures do contain them (so the check is not vacuous).
    raw = " ".join(r["raw_record"] for r in _parse(spark, settings, policy, GOOD)[0])
    assert "Erika Mustermann" in raw and "4915112345678" in raw


def _conversation(i: int, kind: str, talk_ms: int, held_ms: int, holds: int, acw_ms: int) -> dict[str, Any]:
    start = dt.datetime(2026, 10, 5, 8, 0) + dt.timedelta(minutes=15 * i)

    def iso(offset_s: float) -> str:
        return (start + dt.timedelta(seconds=offset_s)).isoformat(timespec="milliseconds") + "Z"

    customer = {
        "participantId": f"c{i}",
        "purpose": "customer",
        "participantName": "Erika Mustermann",
        "sessions": [{"mediaType": "voice", "ani": "tel:+4915112345678", "segments": []}],
    }
    ivr = {"participantId": f"i{i}", "purpose": "ivr", "sessions": [{"mediaType": "voice", "segments": []}]}
    acd_metric = {"name": "tAbandon" if kind == "abandoned" else "tAcd", "value": 30000, "emitDate": iso(30)}
    acd = {
        "participantId": f"q{i}",
        "purpose": "acd",
        "sessions": [
            {
                "mediaType": "voice",
                "segments": [
                    {"segmentStart": iso(0), "segmentEnd": iso(30), "segmentType": "interact", "queueId": "q"}
                ],
                "metrics": [acd_metric],
            }
        ],
    }
    segments = [{"segmentStart": iso(30), "segmentEnd": iso(60), "segmentType": "interact", "queueId": "q"}]
    segments += [{"segmentStart": iso(60 + k), "segmentEnd": iso(61 + k), "segmentType": "hold"} for k in range(holds)]
    metrics = [{"name": "tTalkComplete", "value": talk_ms, "emitDate": iso(90)}]
    metrics += [{"name": "tHeldComplete", "value": held_ms, "emitDate": iso(90)}] if holds else []
    metrics += [{"name": "tAcw", "value": acw_ms, "emitDate": iso(95)}]
    agent = {
        "participantId": f"a{i}",
        "purpose": "agent",
        "userId": f"u{i}",
        "sessions": [{"mediaType": "voice", "segments": segments, "metrics": metrics}],
    }
    participants = {"answered": [customer, ivr, acd, agent], "abandoned": [customer, ivr, acd], "ivr": [customer, ivr]}
    return {
        "conversationId": f"conv{i}",
        "conversationStart": iso(0),
        "conversationEnd": iso(100),
        "originatingDirection": "inbound",
        "participants": participants[kind],
    }


_ms = st.integers(min_value=0, max_value=20_000_000)
_conv = st.tuples(st.sampled_from(["answered", "abandoned", "ivr"]), _ms, _ms, st.integers(0, 3), _ms)


# Fewer, larger examples: each is a Spark job, whose start costs more than its conversations.
@hsettings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(convs=st.lists(_conv, min_size=1, max_size=10), as_document=st.booleans())
def test_generated_conversations_parse_to_expected_seconds(spark, settings, policy, convs, as_document):
    records = [_conversation(i, *c) for i, c in enumerate(convs)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "day=2026-10-05"
        folder.mkdir()
        if as_document:
            path = folder / "api.json"
            path.write_text(json.dumps({"conversations": records, "totalHits": len(records)}), encoding="utf-8")
        else:
            path = folder / "conversations.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        parsed = parse_conversations(spark, [str(path)], SourceContext(settings=settings, folder=folder))
        rows = {r["source_line"]: r.asDict() for r in parsed.rows.collect()}
        assert parsed.not_ingested is not None
        skipped = sum(r["records"] for r in parsed.not_ingested.collect())
    # Every record ends in exactly one row or in the not_ingested count.
    assert len(rows) + skipped == len(records)
    for line, (kind, talk_ms, held_ms, holds, acw_ms) in enumerate(convs, start=1):
        if kind == "ivr":
            assert line not in rows
            continue
        row = rows[line]
        assert row["reason"] is None
        assert row["abandoned"] is (kind == "abandoned")
        assert row["queue_seconds"] == 30
        if kind == "answered":
            assert row["agent_key"] == f"u{line - 1}"
            assert row["talk_seconds"] == (talk_ms + 500) // 1000
            assert row["hold_seconds"] == ((held_ms + 500) // 1000 if holds else 0)
            assert row["holds"] == holds
            assert row["acw_seconds"] == (acw_ms + 500) // 1000
        else:
            assert row["agent_key"] is None and row["talk_seconds"] is None


@pytest.mark.parametrize("n", [50])
def test_synth_conversations_parse_cleanly(spark, settings, policy, tmp_path, n):
    from teamlens.synth.genesys import synth_conversations

    folder = tmp_path / "genesys_conversations" / "day=2026-10-05"
    written = synth_conversations(folder, dt.date(2026, 10, 5), ["u-1", "u-2", "u-3"], n, seed=7)
    assert written == n
    files = sorted(str(p) for p in folder.iterdir())
    parsed = parse_conversations(spark, files, SourceContext(settings=settings, folder=folder))
    rows = parsed.rows.select("source_file", "source_line", "reason").collect()
    assert parsed.not_ingested is not None
    skipped = sum(r["records"] for r in parsed.not_ingested.collect())
    assert all(r["reason"] is None for r in rows)
    records = {(r["source_file"], r["source_line"]) for r in rows}
    assert len(records) + skipped == written
