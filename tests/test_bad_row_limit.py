"""The bad-row limit judges each source over the whole run (foundation.bad_rows), names the worst
days and the top reasons, and leaves out the source-days an operator accepted."""

from __future__ import annotations

import datetime as dt

import pytest

from foundation import bad_rows
from foundation.schema import CONTACTS
from jobs import writing
from teamlens import cli


def _report(day: str, **sources: tuple[int, int, dict[str, int]]) -> dict:
    sections = {s: {"read": r, "quarantined": q, "quarantine_reasons": why} for s, (r, q, why) in sources.items()}
    return {
        "table": "contacts",
        "day": day,
        "read": sum(r for r, _, _ in sources.values()),
        "staged": sum(r - q for r, q, _ in sources.values()),
        "quarantined": sum(q for _, q, _ in sources.values()),
        "duplicates": 0,
        "sources": sections,
    }


# A month of a clean source with one bad Saturday (11 of 194), and a flat export fully quarantined.
MONTH = [_report(f"2026-10-{d:02d}", connect_ctr=(200, 1, {"agent not in roster": 1})) for d in range(1, 10)]
SATURDAY = _report(
    "2026-10-10",
    connect_ctr=(194, 11, {"agent not in roster": 8, "unparseable timestamp": 3}),
    acme=(40, 40, {"agent not in roster": 40}),
)


def test_one_bad_day_does_not_fail_the_run_but_a_fully_quarantined_source_does(settings) -> None:
    sentences = bad_rows.over_limit("contacts", [*MONTH, SATURDAY], 0.05, set())
    assert sentences == [
        "contacts source acme: 40 of 40 records quarantined over 1 day(s) (100.0%), above 5.0%; worst days: "
        "2026-10-10 (40 of 40); top reasons: agent not in roster (40)"
    ]
    with pytest.raises(writing.BadRowShareError) as caught:
        writing.summarize(CONTACTS, [*MONTH, SATURDAY], settings)
    assert str(caught.value).startswith(sentences[0] + " (TEAMLENS_MAX_BAD_ROW_SHARE). The partitions are written")


def test_worst_days_and_top_reasons_are_named() -> None:
    [sentence] = bad_rows.over_limit("contacts", [*MONTH[:2], SATURDAY], 0.02, {("acme", "2026-10-10")})
    assert sentence == (
        "contacts source connect_ctr: 13 of 594 records quarantined over 3 day(s) (2.2%), above 2.0%; worst days: "
        "2026-10-10 (11 of 194), 2026-10-01 (1 of 200), 2026-10-02 (1 of 200); top reasons: agent not in roster (10), "
        "unparseable timestamp (3)"
    )


def test_an_accepted_source_day_is_left_out_and_recorded(settings, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(settings.data_root))
    monkeypatch.setenv("TEAMLENS_RUN_BY", "test")
    rc = cli.main(["accept-bad-rows", "--source", "acme", "--day", "2026-10-10", "--reason", "test export"])
    assert rc == 0 and "Accepted acme 2026-10-10 (test, " in capsys.readouterr().out
    [entry] = bad_rows.accepted_days(settings.lake)
    assert {k: entry[k] for k in ("source", "day", "reason", "by")} == {
        "source": "acme",
        "day": "2026-10-10",
        "reason": "test export",
        "by": "test",
    }
    dt.datetime.fromisoformat(entry["at"])
    summary = writing.summarize(CONTACTS, [*MONTH, SATURDAY], settings)  # the run goes on
    assert summary["quarantined"] == 9 + 11 + 40  # still reported
    assert cli.main(["accept-bad-rows", "--source", "acme", "--day", "2026-10-10", "--reason", " "]) == 2


def test_the_run_summary_and_the_report_show_accepted_source_days_with_their_counts(settings) -> None:
    from foundation import lake
    from teamlens import report, run_summary

    day = dt.date(2026, 10, 10)
    lake.write_json_atomic(settings.lake.ingest_report(CONTACTS, day), SATURDAY)
    validation = {"table": "contacts", "day": "2026-10-10", "sources": {"acme": {"read": 0, "quarantined": 0}}}
    validation["sources"]["connect_ctr"] = {"read": 183, "quarantined": 2}
    lake.write_json_atomic(settings.lake.validation_report(CONTACTS, day), validation)
    entry = bad_rows.accept(settings.lake, "connect_ctr", day, "carrier outage", "ops")
    bad_rows.accept(settings.lake, "acme", dt.date(2026, 9, 1), "trial export", "ops")
    line = (
        f"accepted bad rows connect_ctr 2026-10-10 (by ops at {entry['at'][:16]}, carrier outage): 11 of 194 "
        "record(s) quarantined at ingest, 2 by validation; left out of the bad-row limit"
    )
    lines = run_summary.summary_lines(settings, day, day)
    assert [x for x in lines if x.startswith("accepted")] == [line]  # only the run's days
    notes = report._run_notes(settings)  # every accepted source-day, oldest acceptance first
    assert notes[0] == line and notes[1].startswith("accepted bad rows acme 2026-09-01 (by ops at ")
    assert notes[1].endswith(
        "trial export): 0 of 0 record(s) quarantined at ingest, 0 by validation; left out of the bad-row limit"
    )
