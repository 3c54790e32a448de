"""The planning tables (jobs.planning_metrics) on tiny hand-made staged contacts, values worked out by hand."""

from __future__ import annotations

import datetime as dt

from foundation import schema
from jobs import planning_metrics
from tests.helpers import table_frame as frame
from tests.helpers import utc_at as ts

DAY = dt.date(2026, 10, 5)


def _contact(contact_id: str, queue: str | None, initiated, agent: str | None, **extra) -> dict:
    return {
        "contact_id": contact_id,
        "day": DAY,
        "agent_pseudonym": agent,
        "queue": queue,
        "channel": "VOICE",
        "initiation_method": "INBOUND",
        "initiation_ts": initiated,
        "transferred_out": False,
        "abandoned": agent is None,
        "last_update_ts": initiated,
        "source_line": 1,
    } | extra


def _contacts(spark):
    return frame(
        spark,
        schema.CONTACTS,
        # two contacts in the 09:00 UTC quarter of Billing: one answered within 20 s, one after 40 s
        _contact(
            "c1", "Billing", ts(9, 0, 5), "a1", queue_seconds=10, talk_seconds=100, hold_seconds=20, acw_seconds=30
        ),
        _contact("c2", "Billing", ts(9, 14, 59), "a2", queue_seconds=40, talk_seconds=200, acw_seconds=None),
        # 09:15 exactly starts the next quarter; abandoned (no agent)
        _contact("c3", "Billing", ts(9, 15), None, queue_seconds=70),
        # the same agent in another queue, and a contact without queue (outbound: not offered anywhere)
        _contact("c4", "Sales", ts(23, 50), "a1", talk_seconds=60, hold_seconds=None, acw_seconds=5),
        _contact("c5", None, ts(10), "a1", talk_seconds=999),
    )


def test_queue_interval_counts_offered_contacts_per_utc_quarter_hour(spark):
    out = planning_metrics.queue_interval(_contacts(spark), threshold_seconds=20)
    assert out.columns == schema.QUEUE_INTERVAL.column_names
    got = {
        (r["queue"], r["start"]): tuple(r[c] for c in schema.QUEUE_INTERVAL.column_names[3:])
        for r in out.selectExpr("*", "date_format(interval_start_utc, 'HH:mm') as start").collect()
    }
    # offered, answered, abandoned, answered_within_threshold, answer_wait_seconds
    assert got == {
        ("Billing", "09:00"): (2, 2, 0, 1, 50),
        ("Billing", "09:15"): (1, 0, 1, 0, 0),
        ("Sales", "23:45"): (1, 1, 0, 1, 0),
    }
    assert {r["day"] for r in out.collect()} == {DAY}


def test_agent_queue_day_sums_handle_time_per_agent_and_queue(spark):
    out = planning_metrics.agent_queue_day(_contacts(spark))
    assert out.columns == schema.AGENT_QUEUE_DAY.column_names
    got = {
        (r["agent_pseudonym"], r["queue"]): (r["contacts_handled"], r["handle_seconds"], r["acw_seconds"])
        for r in out.collect()
    }
    # c5 has no queue and c3 no agent: neither counts; nulls count as 0
    assert got == {("a1", "Billing"): (1, 150, 30), ("a2", "Billing"): (1, 200, 0), ("a1", "Sales"): (1, 65, 5)}
