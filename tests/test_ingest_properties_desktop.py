"""Property tests (hypothesis) of the ActivityWatch parser through the one ingest path: bucket
documents (jobs.source_activitywatch, resolved by jobs.ingest).

Each example is a few random documents (valid ones with window, afk, browser and other buckets,
events with exactly one fault, invalid documents) and re-deliveries of some; the expected outcome
of every event is worked out in Python and checked on the staged and quarantined outputs.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from foundation import schema
from jobs import source_activitywatch
from tests.helpers import PROP_DAY as DAY
from tests.helpers import PROP_HOSTS as HOSTS
from tests.helpers import PROP_MARKER as MARKER
from tests.helpers import PROP_SETTINGS as PROPERTY_SETTINGS
from tests.helpers import PROP_TIMEZONES as TIMEZONES
from tests.helpers import PROP_UNKNOWN as UNKNOWN
from tests.helpers import (
    assert_accounted,
    assert_no_personal_text,
    assert_table_constraints,
    ingest_source_rows,
    prop_dedup_model,
    prop_garbage,
    prop_identities,
)
from tests.helpers import collect_dicts as _collect
from tests.helpers import prop_far_from_day as far_from_day
from tests.helpers import prop_instants as instants
from tests.helpers import prop_iso as iso
from tests.helpers import prop_naive as naive

_garbage = prop_garbage()


AW_FOLDER = f"file:/landing/activitywatch/day={DAY}/"
INGESTED_TYPES = {"currentwindow": "window", "afkstatus": "afk", "web.tab.current": "browser"}
OTHER_TYPES = ("os.hid.input", "app.editor.activity", None)
EVENT_FAULT_REASONS = {
    "no timestamp": "missing timestamp",
    "bad timestamp": "invalid timestamp",
    "no duration": "missing duration",
    "negative duration": "negative duration",
    "string duration": "duration has the wrong type",
    "not an object": "malformed JSON",
}
AFK_FAULT_REASONS = {"no status": "missing data.status", "bad status": "invalid data.status"}
APPS = ("Salesforce", "Notepad", "Outlook", "chrome", "Softphone", "custom-tool.exe")
URLS = (
    f"https://eu1.salesforce.com/case/{MARKER}",
    f"https://acme.atlassian.net/wiki/{MARKER}",
    f"https://{MARKER.lower()}.example.org/x",
    f"not a url {MARKER}",
)
TITLES = (f"Case 123 - {MARKER}", f"Confluence: {MARKER}", f"{MARKER} - Notepad", "")


@st.composite
def aw_events(draw, bucket_type: str | None, tz: str) -> tuple[Any, str | None, dict[str, Any]]:
    """(the event as the document holds it, its own fault's reason or None, its values when it passes)."""
    bucket = INGESTED_TYPES.get(bucket_type or "")
    faults = [None] * 5 + list(EVENT_FAULT_REASONS) + (list(AFK_FAULT_REASONS) if bucket == "afk" else [])
    fault = draw(st.sampled_from(faults)) if bucket else None
    # Coarse start times so that the same agent, bucket and start repeat (duplicates).
    start = draw(instants(tz, dt.timedelta(minutes=30)))
    duration = draw(st.integers(0, 36_000)) / 10
    if bucket == "afk":
        data: dict[str, Any] = {"status": draw(st.sampled_from(["afk", "not-afk"]))}
    elif bucket == "browser":
        data = {"url": draw(st.sampled_from(URLS)), "title": draw(st.sampled_from(TITLES)), "audible": False}
    else:
        data = {"app": draw(st.sampled_from(APPS)), "title": draw(st.sampled_from(TITLES))}
    stamp = start.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00") if draw(st.booleans()) else iso(start)
    event: dict[str, Any] = {"id": draw(st.integers(1, 999)), "timestamp": stamp, "duration": duration, "data": data}
    if fault == "no timestamp":
        del event["timestamp"]
    elif fault == "bad timestamp":
        event["timestamp"] = "at noon"
    elif fault == "no duration":
        event["duration"] = None
    elif fault == "negative duration":
        event["duration"] = -duration - 0.5
    elif fault == "string duration":
        event["duration"] = "93.5s"
    elif fault == "no status":
        del data["status"]
    elif fault == "bad status":
        data["status"] = draw(st.sampled_from(["gone", "AFK"]))
    reason = EVENT_FAULT_REASONS.get(fault) or AFK_FAULT_REASONS.get(fault) if fault else None
    values = {"bucket": bucket, "start": start, "duration": duration, "data": data}
    if fault == "not an object":
        return draw(st.sampled_from([f"{MARKER} was here", 5, [event]])), reason, values
    return event, reason, values


@st.composite
def aw_buckets(draw, index: int) -> tuple[str, dict[str, Any], list[tuple[str | None, dict[str, Any]]]]:
    bucket_type = draw(st.sampled_from([*INGESTED_TYPES, *OTHER_TYPES]))
    host = draw(st.sampled_from([*HOSTS, UNKNOWN]))
    agent = HOSTS.get(host)
    events = draw(st.lists(aw_events(bucket_type, TIMEZONES[agent] if agent else "UTC"), max_size=4))
    bucket: dict[str, Any] = {"id": f"b{index}", "client": "aw-watcher", "events": [e for e, _, _ in events]}
    if bucket_type is not None:
        bucket["type"] = bucket_type
    if draw(st.booleans()):
        bucket["hostname"] = host  # else the bucket id's suffix names the host
    key = f"aw-watcher-b{index}_{host}"
    return key, bucket, [(reason, values) for _, reason, values in events]


@st.composite
def aw_documents(draw) -> tuple[str, list[tuple[str, str | None, dict[str, Any] | None]] | None]:
    """(the document's text, per bucket (type, host, events...) or None when the document is invalid)."""
    kind = draw(st.sampled_from(["buckets"] * 4 + ["garbage", "wrong type", "no buckets"]))
    if kind == "garbage":
        return draw(_garbage), None
    if kind == "wrong type":
        return json.dumps({"buckets": [{"type": "currentwindow", "events": [{"data": {"title": MARKER}}]}]}), None
    if kind == "no buckets":
        return json.dumps({"export": {"title": MARKER}}), None
    n = draw(st.integers(0, 4))
    buckets = [draw(aw_buckets(i)) for i in range(n)]
    doc = {"buckets": {key: bucket for key, bucket, _ in buckets}}
    return json.dumps(doc), [(key, bucket, events) for key, bucket, events in buckets]


DAY_RULE = "timestamp more than a day from the landing day"


def duration_of(values: dict[str, Any]) -> float:
    return float(values["duration"])


def staged_values(policy: Any, v: dict[str, Any]) -> dict[str, Any]:
    """The staged row (without source_line) of a passing event."""
    data = v["data"]
    category = None
    if v["bucket"] in ("window", "browser"):
        category = policy.desktop_rules().category(
            data.get("app"), data.get("title"), data.get("url"), v["bucket"] == "browser"
        )
    return {
        "day": DAY,
        "source": "activitywatch",
        "agent_pseudonym": v["agent"],
        "bucket": v["bucket"],
        "start_ts": naive(v["start"]),
        "duration_seconds": v["duration"],
        "app_category": category,
        "afk": data["status"] == "afk" if v["bucket"] == "afk" else None,
        "source_file": AW_FOLDER,
    }


@PROPERTY_SETTINGS
@given(
    docs=st.lists(aw_documents(), min_size=1, max_size=4),
    repeats=st.lists(st.integers(0, 3), max_size=2),
    explicit_day=st.booleans(),
)
def test_activitywatch_events_are_each_staged_quarantined_or_duplicate(spark, policy, docs, repeats, explicit_day):
    docs = docs + [docs[i] for i in repeats if i < len(docs)]  # a document delivered again, as another file
    files = [f"{AW_FOLDER}{MARKER}-host-{i:02d}.json" for i in range(len(docs))]
    rows = [(f, text) for f, (text, _) in zip(files, docs, strict=True)]
    documents = spark.createDataFrame(rows, "source_file string, value string")
    day = DAY if explicit_day else None
    rmap = prop_identities(spark)
    rows = source_activitywatch.event_rows(documents, policy.desktop_rules())
    staged_df, quarantined_df = ingest_source_rows(source_activitywatch.ACTIVITYWATCH, rows, rmap, day)
    staged, quarantined = _collect(staged_df), _collect(quarantined_df)
    skipped: dict[str, int] = {}
    for r in source_activitywatch.not_ingested(documents).collect():
        skipped[r["kind"]] = skipped.get(r["kind"], 0) + r["records"]

    # Expected outcome of every record: (file, position) -> reason, or the staged values.
    reasons: dict[tuple[str, int | None], str | None] = {}
    passing: list[tuple[str, int, dict[str, Any]]] = []
    # Invalid events whose key and duration were read: the longest event is the latest version.
    versioned_invalid: list[tuple[str, int, tuple[str, str, dt.datetime], float]] = []
    expected_skipped: dict[str, int] = {}
    for file, (_, buckets) in zip(files, docs, strict=True):
        if buckets is None:
            reasons[(file, None)] = "invalid document"
            continue
        position = 0
        for key, bucket, events in buckets:
            host = bucket.get("hostname") or key.split("_", 1)[1]
            agent = HOSTS.get(host)
            for event_reason, values in events:
                position += 1
                if values["bucket"] is None:
                    type_ = bucket.get("type") or "(no type)"
                    expected_skipped[type_] = expected_skipped.get(type_, 0) + 1
                    continue
                reason = event_reason
                if reason is None and agent is None:
                    reason = "agent not in roster"
                if reason is None and far_from_day(values["start"], TIMEZONES[agent]):
                    reason = DAY_RULE
                reasons[(file, position)] = reason
                if agent is not None and (reason in AFK_FAULT_REASONS.values() or reason == DAY_RULE):
                    event_key = (agent, values["bucket"], values["start"])
                    versioned_invalid.append((file, position, event_key, duration_of(values)))
                if reason is None:
                    passing.append((file, position, {**values, "agent": agent}))
    assert skipped == expected_skipped

    # Per (agent, bucket, start) the longest event decides; identical events count once (first file,
    # then first position); different events of that length are an id collision.
    valid = [
        ((f, p), (v["agent"], v["bucket"], v["start"]), v["duration"], staged_values(policy, v)) for f, p, v in passing
    ]
    winners, collided, duplicates = prop_dedup_model(
        valid + [((f, p), key, duration, None) for f, p, key, duration in versioned_invalid],
        "id collision: different records share source, agent_pseudonym, bucket, start_ts",
    )
    got_reasons = {(r["source_file"], r["source_line"]): r["reason"] for r in quarantined}
    expected_quarantined = {k: v for k, v in reasons.items() if v is not None} | collided
    assert set(got_reasons) == set(expected_quarantined)
    for where, reason in expected_quarantined.items():
        if reason != "invalid document":
            assert got_reasons[where] == reason, where
    assert all((r["day"], r["source"]) == (DAY, "activitywatch") for r in quarantined)
    # The quarantine keeps no title, URL or whole document: only the allow-listed event fields.
    assert all(MARKER not in (r["raw_record"] or "") for r in quarantined)

    expected = [{**values, "source_line": position} for (_, position), values in winners.items()]

    def order(r: dict[str, Any]) -> tuple[Any, ...]:
        return r["agent_pseudonym"], r["bucket"], r["start_ts"]

    assert sorted(staged, key=order) == sorted(expected, key=order)

    # Every record once: the events of ingested bucket types plus the invalid documents.
    assert_accounted(
        [(f, p or 0) for f, p in reasons],
        list(winners),
        [(f, p or 0) for f, p in got_reasons],
        duplicates,
    )
    assert len(staged) == len(winners)

    assert_table_constraints(schema.DESKTOP_ACTIVITY, staged)
    assert_no_personal_text(staged)
