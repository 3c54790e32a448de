"""What the pipeline's steps log, missing input, the run summary and the demo's progress: exact lines
from hand-made reports, markers and outcomes (no Spark: the Spark jobs are replaced by stubs)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sqlite3

import pytest

from foundation import lake, schema
from teamlens import demo_run, pipeline, run_summary, step_log

D1, D2, D3 = dt.date(2026, 10, 5), dt.date(2026, 10, 6), dt.date(2026, 10, 7)
WARN, INFO = logging.WARNING, logging.INFO


def section(files: int, read: int, staged: int, quarantined: int = 0, duplicates: int = 0, **reasons: int) -> dict:
    return {
        "files": files,
        "read": read,
        "staged": staged,
        "quarantined": quarantined,
        "duplicates": duplicates,
        "quarantine_reasons": {k.replace("_", " "): v for k, v in reasons.items()},
    }


def report(table: schema.Table, day: dt.date, **sources: dict) -> dict:
    totals = {k: sum(s[k] for s in sources.values()) for k in ("read", "staged", "quarantined", "duplicates")}
    return {"table": table.name, "day": day.isoformat(), **totals, "sources": sources}


def write_reports(settings, day: dt.date, *reports: dict) -> None:
    tables = {t.name: t for t in (schema.CONTACTS, schema.AGENT_EVENTS, schema.DESKTOP_ACTIVITY, schema.SCHEDULES)}
    for r in reports:
        lake.write_json_atomic(settings.lake.ingest_report(tables[r["table"]], day), r)


def full_day(settings, day: dt.date) -> None:
    """Every kind of input delivered on the day."""
    write_reports(
        settings,
        day,
        report(schema.CONTACTS, day, connect_ctr=section(2, 1000, 990, 2, 8, not_in_roster=2)),
        report(schema.AGENT_EVENTS, day, connect_agent_events=section(1, 300, 300)),
        report(schema.DESKTOP_ACTIVITY, day, activitywatch=section(5, 4000, 4000)),
        report(schema.SCHEDULES, day, wfm_schedules=section(1, 80, 80)),
    )


def telephony_missing(settings, day: dt.date) -> None:
    write_reports(
        settings,
        day,
        report(schema.CONTACTS, day, connect_ctr=section(0, 0, 0), asterisk_queue_log=section(0, 0, 0)),
        report(schema.AGENT_EVENTS, day, connect_agent_events=section(0, 0, 0)),
        report(schema.DESKTOP_ACTIVITY, day, activitywatch=section(3, 100, 100)),
        report(schema.SCHEDULES, day, wfm_schedules=section(1, 70, 70)),
    )


def nothing(settings, day: dt.date) -> None:
    write_reports(
        settings,
        day,
        *(report(t, day, some_source=section(0, 0, 0)) for t in (schema.CONTACTS, schema.AGENT_EVENTS)),
        *(report(t, day, some_source=section(0, 0, 0)) for t in (schema.DESKTOP_ACTIVITY, schema.SCHEDULES)),
    )


def test_ingest_lines_count_per_day_and_source_and_name_the_reasons() -> None:
    summary = {
        "table": "contacts",
        "read": 1000,
        "staged": 990,
        "quarantined": 2,
        "duplicates": 8,
        "days": {
            "2026-10-06": report(schema.CONTACTS, D2, connect_ctr=section(0, 0, 0)),
            "2026-10-05": report(
                schema.CONTACTS, D1, connect_ctr=section(2, 1000, 990, 2, 8, not_in_roster=2), asterisk=section(0, 0, 0)
            ),
        },
    }
    assert step_log.ingest_lines(summary) == [
        (
            INFO,
            "contacts 2026-10-05: connect_ctr: 2 file(s), read 1,000, staged 990, quarantined 2, duplicates 8 "
            "(not in roster: 2)",
        ),
        (INFO, "contacts 2026-10-06: no input from any source"),
        (INFO, "contacts: 2 day(s), read 1,000, staged 990, quarantined 2, duplicates 8"),
    ]
    listed = section(1, 2, 2)
    listed["not_read"] = [{"file": "notes.txt", "reason": "unknown format"}, {"file": "x.json", "reason": "empty"}]
    one_day = {**summary, "days": {"2026-10-05": report(schema.CONTACTS, D1, connect_ctr=listed)}}
    assert step_log.ingest_lines(one_day)[1:3] == [
        (WARN, "contacts 2026-10-05: connect_ctr: not read: notes.txt (unknown format)"),
        (WARN, "contacts 2026-10-05: connect_ctr: not read: x.json (empty)"),
    ]
    roster = {"table": "roster", "read": 30, "staged": 30, "quarantined": 0, "duplicates": 0, "days": {}}
    roster["days"]["2026-10-05"] = {"table": "roster", "source": "roster", "read": 30, "staged": 30}
    assert step_log.ingest_lines(roster)[0] == (
        INFO,
        "roster 2026-10-05: roster: read 30, staged 30, quarantined 0, duplicates 0",
    )


def test_a_kind_of_input_missing_on_a_day_is_a_warning() -> None:
    contacts = {"table": "contacts", "days": {"2026-10-05": report(schema.CONTACTS, D1, a=section(1, 5, 5))}}
    contacts["days"]["2026-10-06"] = report(schema.CONTACTS, D2, a=section(0, 0, 0))
    events = {"table": "agent_events", "days": {"2026-10-05": report(schema.AGENT_EVENTS, D1, b=section(0, 0, 0))}}
    events["days"]["2026-10-06"] = report(schema.AGENT_EVENTS, D2, b=section(0, 0, 0))
    assert step_log.missing_kind_lines("telephony", [contacts, events]) == [
        (WARN, "missing input: no telephony on 2026-10-06 (no landing file for contacts, agent_events from any source)")
    ]


def test_missing_input_is_read_from_the_ingest_reports(settings) -> None:
    full_day(settings, D1)
    telephony_missing(settings, D2)
    nothing(settings, D3)
    assert step_log.missing_input(settings, D1) == []
    assert step_log.missing_input(settings, D2) == ["telephony"]
    assert step_log.missing_input(settings, D3) == ["telephony", "desktop", "workforce"]
    assert step_log.missing_input(settings, dt.date(2026, 10, 8)) == ["telephony", "desktop", "workforce"]


@pytest.fixture
def stub_spark(monkeypatch):
    """compute_agent_day without Spark: the jobs return fixed counts (what the real ones return)."""
    from foundation import spark
    from jobs import agent_day, planning_metrics, queue_day

    monkeypatch.setattr(spark, "spark_session", lambda settings: None)
    monkeypatch.setattr(planning_metrics, "run", lambda s, st, d: {})
    days = {"2026-10-05": {"agents": 28}, "2026-10-06": {"agents": 27}, "2026-10-07": {"agents": 0}}
    monkeypatch.setattr(agent_day, "run", lambda s, st, d: {"table": "agent_day", "agent_days": 55, "days": days})
    queues = {"2026-10-05": {"queues": 3}, "2026-10-06": {"queues": 0}, "2026-10-07": {"queues": 0}}
    monkeypatch.setattr(queue_day, "run", lambda s, st, d: {"table": "queue_day", "queue_days": 3, "days": queues})


def test_compute_agent_day_warns_and_the_marker_names_the_missing_input(settings, stub_spark, caplog) -> None:
    full_day(settings, D1)
    telephony_missing(settings, D2)
    nothing(settings, D3)
    with caplog.at_level(logging.INFO, logger="teamlens.pipeline"):
        summary = pipeline.compute_agent_day([D1.isoformat(), D2.isoformat(), D3.isoformat()], settings)
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "teamlens.pipeline"] == [
        (WARN, "missing input on 2026-10-06: no telephony"),
        (WARN, "missing input on 2026-10-07: no input at all"),
        (INFO, "agent_day: 55 agent-day row(s) over 3 day(s) (2026-10-05: 28, 2026-10-06: 27, 2026-10-07: 0)"),
        (INFO, "queue_day: 3 queue-day row(s) over 3 day(s) (2026-10-05: 3, 2026-10-06: 0, 2026-10-07: 0)"),
    ]
    markers = [json.loads(settings.lake.metrics_marker(d).read_text()) for d in (D1, D2, D3)]
    assert [m["missing_sources"] for m in markers] == [[], ["telephony"], ["desktop", "telephony", "workforce"]]
    assert summary["missing_input"] == {
        "2026-10-06": ["telephony"],
        "2026-10-07": ["telephony", "desktop", "workforce"],
    }


def test_the_setting_makes_missing_input_a_failure_before_any_marker(settings, stub_spark) -> None:
    strict = dataclasses.replace(settings, fail_on_missing_input=True)
    full_day(settings, D1)
    telephony_missing(settings, D2)
    with pytest.raises(step_log.MissingInputError, match=r"on 2026-10-06: no telephony\. Deliver"):
        pipeline.compute_agent_day([D1.isoformat(), D2.isoformat()], strict)
    assert not settings.lake.metrics_marker(D1).exists() and not settings.lake.metrics_marker(D2).exists()
    pipeline.compute_agent_day([D1.isoformat()], strict)  # nothing missing: no failure
    assert settings.lake.metrics_marker(D1).exists()


def test_the_setting_is_read_from_the_environment(tmp_path) -> None:
    from foundation.settings import load_settings

    assert load_settings({"TEAMLENS_DATA_ROOT": str(tmp_path)}).fail_on_missing_input is False
    assert load_settings(
        {"TEAMLENS_DATA_ROOT": str(tmp_path), "TEAMLENS_FAIL_ON_MISSING_INPUT": "1"}
    ).fail_on_missing_input


WEEK = {"release": "team_week", "window_start": "2026-10-05", "window_end": "2026-10-12"}
PUBLISHED = {
    **WEEK,
    "status": "released",
    "release_id": "abc",
    "correction": 0,
    "budget": "rho 1/4",
    "periods": ["2026-10"],
    "groups_released": 2,
    "groups_suppressed": 1,
    "groups_merged": 0,
}
LATE = "the window's metrics were recomputed at 2026-10-13 08:00:00 UTC, after this release, but ..."
STORED = {**PUBLISHED, "status": "stored", "late_data": LATE}
REFUSED = {**PUBLISHED, "status": "refused", "release_id": None, "reason": "refused team_week: over the cap"}
PENDING = {**WEEK, "status": "pending", "missing_days": ["2026-10-09", "2026-10-10", "2026-10-11"]}


# The window of the release lines below as people say it (teamlens.labels.window_label).
WEEK_41 = "week 41 of 2026 (5 Oct - 11 Oct 2026)"


def test_release_lines_say_published_stored_refused_pending_and_late_data() -> None:
    assert step_log.release_lines([PUBLISHED, {**PUBLISHED, "correction": 1}, STORED, REFUSED, PENDING]) == [
        (INFO, f"published team_week {WEEK_41} as abc: 2 group(s) released, 1 suppressed, 0 merged; "
            "spent rho 1/4 per agent in 2026-10"),
        (WARN, f"correction 1 of team_week {WEEK_41} as abc: 2 group(s) released, 1 suppressed, "
            "0 merged; spent rho 1/4 per agent in 2026-10"),
        (INFO, f"stored team_week {WEEK_41} (abc): returned as stored, no noise drawn, nothing spent"),
        (WARN, f"late data for team_week week 41 of 2026 (5 Oct - 11 Oct 2026): {LATE}"),
        (WARN, "refused team_week week 41 of 2026 (5 Oct - 11 Oct 2026): refused team_week: over the cap"),
        (INFO, f"pending team_week {WEEK_41}: metrics not complete for 3 day(s) (2026-10-09 .. "
            "2026-10-11); nothing drawn, a later run releases it"),
        (INFO, "releases: 5 window(s): 2 published (1 correction(s)), 1 returned the stored figures (nothing spent), "
            "1 refused, 1 pending"),
    ]  # fmt: skip


def test_queues_not_planned_are_named_once_with_their_contacts_in_the_log_and_the_summary(settings) -> None:
    planning = {**PUBLISHED, "release": "queue_week", "queues_not_planned": {"Pilot Berlin": 40, "Mystery": 2}}
    month = {**planning, "release": "queue_month", "queues_not_planned": {"Pilot Berlin": 160}}
    text = (
        "contacts of 2 queue(s) not in the policy's planning.queues: Mystery, Pilot Berlin, in 2 planning "
        f"window(s) (at most 160 contacts, in queue_month {WEEK_41}); list them under planning.queues to plan them"
    )
    lines = step_log.release_lines([planning, month, PUBLISHED])
    assert [line for line in lines if "planning.queues" in line[1]] == [(WARN, text)]
    assert step_log.not_planned_text([PUBLISHED]) == ""
    write_publish_record(settings, [planning, month])
    started = dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.UTC)
    summary = run_summary.summary_lines(settings, D1, D3, started)
    assert [line for line in summary if "planning.queues" in line] == [text]


def test_the_late_data_note_is_found_in_the_accountants_message() -> None:
    from privacy.accountant import _late_note

    assert step_log.LATE_DATA_TEXT in _late_note(dt.datetime(2026, 10, 13, tzinfo=dt.UTC), 0, 0)


def write_publish_record(settings, windows: list[dict], written_at: str = "2026-11-30T12:00:00+00:00") -> None:
    doc = {"first_day": "2026-10-05", "last_day": "2026-10-07", "written_at": written_at, "windows": windows}
    lake.write_json_atomic(step_log.publish_record_path(settings, D1, D3), doc)


def test_run_summary_counts_the_days_missing_input_and_releases(settings, stub_spark) -> None:
    full_day(settings, D1)
    telephony_missing(settings, D2)
    nothing(settings, D3)
    pipeline.compute_agent_day([D1.isoformat(), D2.isoformat(), D3.isoformat()], settings)
    write_publish_record(settings, [PUBLISHED, REFUSED, PENDING])
    started = dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.UTC)
    assert run_summary.summary_lines(settings, D1, D3, started) == [
        f"3 day(s) (2026-10-05 .. 2026-10-07): 5,540 record(s) staged, 2 quarantined (see {settings.lake.quarantine} "
        f"and {settings.lake.reports / 'ingest'}), 8 duplicate(s)",
        "WARNING missing input: telephony on 2026-10-06; no input at all on 2026-10-07",
        "releases: 3 window(s): 1 published (0 correction(s)), 0 returned the stored figures (nothing spent), "
        "1 refused, 1 pending",
        "WARNING refused team_week week 41 of 2026 (5 Oct - 11 Oct 2026): refused team_week: over the cap",
        "1 window(s) pending until the metrics of 2026-10-09 .. 2026-10-11 exist",
    ]


def test_a_rerun_summary_says_the_stored_figures_were_returned_and_nothing_spent(settings) -> None:
    full_day(settings, D1)
    write_publish_record(settings, [STORED, {**STORED, "late_data": None}])
    started = dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.UTC)
    assert run_summary.summary_lines(settings, D1, D3, started)[-4:] == [
        "metrics not complete (no completion marker) for 2026-10-05 .. 2026-10-07",
        "releases: 2 window(s): 0 published (0 correction(s)), 2 returned the stored figures (nothing spent), "
        "0 refused, 0 pending",
        "every release returned the stored figures: no new noise drawn, no budget spent",
        f"late data for team_week week 41 of 2026 (5 Oct - 11 Oct 2026): {LATE}",
    ]
    # a rerun with a window still pending (its first days never ran): nothing new, nothing spent
    write_publish_record(settings, [{**STORED, "late_data": None}, PENDING])
    assert run_summary.summary_lines(settings, D1, D3, started)[-3:] == [
        "releases: 2 window(s): 0 published (0 correction(s)), 1 returned the stored figures (nothing spent), "
        "0 refused, 1 pending",
        "nothing new released: the stored figures were returned, no new noise drawn, no budget spent",
        "1 window(s) pending until the metrics of 2026-10-09 .. 2026-10-11 exist",
    ]
    late_start = dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)  # the record is older than this run
    assert run_summary.summary_lines(settings, D1, D3, late_start)[-1] == (
        "releases: the publish step did not run this time (its last record: 2026-11-30 12:00 UTC)"
    )
    assert run_summary.summary_lines(settings, D1, D2, started)[-1] == (
        "releases: the publish step did not run (see the task log)"
    )


def test_demo_progress_from_task_states_and_noise_filtered(tmp_path) -> None:
    db = tmp_path / "airflow.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE dag_run (id INTEGER, dag_id TEXT, run_id TEXT)")
    con.execute("CREATE TABLE task_instance (dag_id TEXT, run_id TEXT, task_id TEXT, state TEXT)")
    con.execute("INSERT INTO dag_run VALUES (1, 'd', 'old'), (2, 'd', 'new')")
    con.execute("INSERT INTO task_instance VALUES ('d', 'old', 'a', 'success'), ('d', 'new', 'a', 'running')")
    con.execute("INSERT INTO task_instance VALUES ('d', 'new', 'b', NULL)")
    con.commit()
    con.close()
    assert demo_run.run_ids(db, "d") == {"old", "new"}
    assert demo_run.task_states(db, "d", {"old"}) == {"a": "running", "b": ""}
    assert demo_run.task_states(db, "d", {"old", "new"}) == {}
    before = {"a": "running", "b": ""}
    after = {"a": "success", "b": "failed", "c": "skipped"}
    assert demo_run.progress_lines(before, after, "12:00:00") == [
        "  12:00:00 a: done",
        "  12:00:00 b: FAILED",
        "  12:00:00 c: skipped",
    ]
    output = "\n".join(
        [
            "2026-11-30T14:32:41Z [warning  ] Could not import graphviz. Rendering graph ...",
            "2026-11-30T14:32:43Z [warning  ] Using `httpx` with `starlette.testclient` is deprecated",
            "WARNING: Using incubator modules: jdk.incubator.vector",
            "26/11/30 14:33:00 WARN NativeCodeLoader: Unable to load native-hadoop library",
            "2026-11-30T14:40:00Z [warning  ] missing input on 2026-10-06: no telephony [teamlens.pipeline] loc=x.py:4",
            "2026-11-30T14:40:01Z [info     ] contacts 2026-10-05: connect_ctr: 2 file(s) [teamlens.pipeline]",
        ]
    )
    assert demo_run.shown_lines(output + "\nTraceback (most recent call last):") == [
        "WARNING missing input on 2026-10-06: no telephony",
        "Traceback (most recent call last):",
    ]


def test_spark_logs_to_stdout_at_warn_through_the_repositorys_log4j_file(settings) -> None:
    from foundation.spark import LOG4J_CONFIG, spark_conf

    assert (
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}" in spark_conf(settings)["spark.driver.extraJavaOptions"]
    )
    text = LOG4J_CONFIG.read_text()
    assert "appender.console.target = SYSTEM_OUT" in text and "rootLogger.level = warn" in text


def test_the_report_names_late_data_of_the_latest_publish_records(settings) -> None:
    from teamlens.report import release_notes

    assert release_notes(settings) == []
    write_publish_record(settings, [STORED, PUBLISHED])
    assert release_notes(settings) == [f"late data for team_week week 41 of 2026 (5 Oct - 11 Oct 2026): {LATE}"]
