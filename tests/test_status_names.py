"""The policy's status name keywords (foundation.status_names): German and English names find their
category, the order of the keys never matters, names not in the table are named in the run summary."""

from __future__ import annotations

import datetime as dt

import pytest

from foundation import schema
from foundation.lake import write_json_atomic
from foundation.policy import PolicyError
from foundation.status_names import StatusNameKeywords, parse_status_name_keywords
from jobs.ingest import UNLISTED_STATUS_NAMES
from jobs.source_activitywatch import HOST_FROM_OTHER_BUCKETS
from jobs.source_schedules import ACTIVITY_NOT_IN_POLICY
from teamlens import run_summary, step_log
from tests.helpers import make_test_policy, shipped_status_name_keywords

RELEASE = {"name": "r", "purpose": "p", "group_by": "team", "window": "month", "rho": "0.1"}
RELEASE["sums"] = {"contacts_handled": 1}
SHIPPED = shipped_status_name_keywords()


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Pause", "break"),
        ("Mittagspause", "break"),
        ("Mittagessen", "break"),
        ("Besprechung", "meeting"),
        ("Teambesprechung", "meeting"),
        ("Schulung", "training"),
        ("Einarbeitung neue Software", "training"),
        ("Nachbearbeitung", "other"),
        ("Break", "break"),
        ("LUNCH", "break"),
        ("Team huddle", "meeting"),
        ("Coaching", "training"),
        ("After Call Work", "other"),
        ("Training break", "break"),  # the first category in the fixed order wins
    ],
)
def test_shipped_words_put_german_and_english_names_in_their_category(name, category) -> None:
    assert SHIPPED.listed_category(name) == category
    assert SHIPPED.category(name) == category


def test_a_name_without_a_listed_word_is_other_but_not_listed() -> None:
    assert (SHIPPED.listed_category("Foo"), SHIPPED.category("Foo")) == (None, "other")
    assert (SHIPPED.listed_category(None), SHIPPED.category("")) == (None, "other")
    assert StatusNameKeywords().category("Pause") == "other"


def test_the_order_of_the_keys_does_not_change_a_category() -> None:
    forwards = parse_status_name_keywords({"break": ["pause"], "training": ["schulung"]}, "p")
    backwards = parse_status_name_keywords({"training": ["Schulung "], "break": ["PAUSE"]}, "p")
    assert forwards == backwards
    assert forwards.categories == (("break", ("pause",)), ("training", ("schulung",)))
    assert backwards.category("Schulungspause") == "break"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"lunch": ["x"]}, r"status_name_keywords.lunch is not a status category \(break, meeting, training, other\)"),
        ({"break": [""]}, "status_name_keywords.break must be a list of non-empty words"),
        ({"break": "pause"}, "status_name_keywords.break must be a list of non-empty words"),
        (["pause"], "status_name_keywords must be a mapping of category to words"),
        ({"break": ["pause"], "other": ["Pause"]}, "'pause' is listed under both break and other"),
    ],
)
def test_a_bad_table_is_refused_naming_the_key(value, message) -> None:
    with pytest.raises(PolicyError, match=message):
        make_test_policy([RELEASE], status_name_keywords=value)


def test_the_policy_key_is_optional_and_part_of_the_identity() -> None:
    without = make_test_policy([RELEASE])
    with_words = make_test_policy([RELEASE], status_name_keywords={"break": ["pause"]})
    assert without.status_name_keywords == StatusNameKeywords()
    assert with_words.status_name_keywords.category("Mittagspause") == "break"
    assert without.sha256 != with_words.sha256


def _report(sources: dict[str, dict[str, object]]) -> dict[str, object]:
    return {"sources": {s: {"files": 1, "read": 10, "staged": 10, **sec} for s, sec in sources.items()}}


def test_run_summary_names_the_status_names_not_in_the_policy_and_counts_the_notes(settings) -> None:
    d1, d2 = dt.date(2026, 10, 5), dt.date(2026, 10, 6)
    lake = settings.lake
    write_json_atomic(
        lake.ingest_report(schema.AGENT_EVENTS, d1),
        _report({"connect_agent_events": {UNLISTED_STATUS_NAMES: {"Foo": 7, "Krank": 2}}}),
    )
    write_json_atomic(
        lake.ingest_report(schema.AGENT_EVENTS, d2),
        _report({"connect_agent_events": {UNLISTED_STATUS_NAMES: {"Foo": 5}}, "genesys": {UNLISTED_STATUS_NAMES: {}}}),
    )
    write_json_atomic(
        lake.ingest_report(schema.SCHEDULES, d1), _report({"schedules": {"notes": {ACTIVITY_NOT_IN_POLICY: 3}}})
    )
    write_json_atomic(
        lake.ingest_report(schema.DESKTOP_ACTIVITY, d2),
        _report({"activitywatch": {"notes": {HOST_FROM_OTHER_BUCKETS: 4}}}),
    )
    lines = run_summary.summary_lines(settings, d1, d2)
    assert lines[1] == (
        "WARNING status names not in the policy's table: 'Foo' (12 events), 'Krank' (2 events); counted as other "
        "(list their words under status_name_keywords in the policy)"
    )
    assert lines[2] == (
        "notes: activitywatch: host from the export's other buckets: 4; "
        "schedules: activity names not in the policy's table (counted as other): 3"
    )


def test_the_ingest_log_warns_per_day_and_source() -> None:
    summary = {
        "table": "agent_events",
        "days": {"2026-10-05": _report({"connect_agent_events": {UNLISTED_STATUS_NAMES: {"Foo": 12}}})},
    }
    assert step_log.ingest_lines(summary)[1] == (
        30,
        "agent_events 2026-10-05: connect_agent_events: status names not in the policy's table: 'Foo' (12 events); "
        "counted as other (list their words under status_name_keywords in the policy)",
    )
