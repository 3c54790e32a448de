"""The DuckDB reference of the metric tables: agent_day and queue_day as plain SQL over the staged
Parquet partitions.

An independent implementation of the same definitions as the Spark jobs (jobs.agent_day,
jobs.queue_day; formulas in docs/metrics.md): the benchmark and the tests run both on the same
staged data and require identical rows, and it is the single-machine speed baseline. Durations
are summed in whole microseconds and rounded half up to seconds at the end, as the Spark job
does, so that both agree exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from foundation import lake, schema
from foundation.settings import Settings
from foundation.status_names import StatusNameKeywords, policy_file_keywords

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


def _files(settings: Settings, table: schema.Table, days: Sequence[dt.date]) -> list[str]:
    """Globs of the table's partitions of `days` (lake layout); a missing day fails the read."""
    root = settings.lake.table_root(table)
    folders = lake.partition_paths(root, days)
    missing = [d for d, folder in zip(days, folders, strict=True) if not folder.is_dir()]
    if missing:
        raise FileNotFoundError(f"{table.name} has no partition for {', '.join(map(str, missing))} ({root})")
    return [str(folder / "*.parquet") for folder in folders]


def _relation(con: duckdb.DuckDBPyConnection, name: str, files: list[str], table: schema.Table) -> None:
    """A view of the table's partitions with its declared columns; day from the folder names."""
    listed = ", ".join(f"'{f}'" for f in files)
    columns = ", ".join(f'"{c}"' for c in table.column_names if c != "day")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT CAST(day AS DATE) AS day, {columns} "
        f"FROM read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"
    )


def _round_seconds(expr: str) -> str:
    """Whole seconds, half up, of a non-negative count of microseconds (integer arithmetic)."""
    return f"CAST((COALESCE({expr}, 0) + 500000) // 1000000 AS BIGINT)"


def _sql_text(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _not_ready_category(name: str, keywords: StatusNameKeywords) -> str:
    """SQL: the category of a status name by the policy's words (foundation.status_names), else 'other'."""
    lowered = f"lower(COALESCE({name}, ''))"
    whens = " ".join(
        f"WHEN {' OR '.join(f'contains({lowered}, {_sql_text(w)})' for w in words)} THEN {_sql_text(category)}"
        for category, words in keywords.categories
        if words
    )
    return f"CASE {whens} ELSE 'other' END" if whens else "'other'"


def _adheres(planned: str, actual: str) -> str:
    """SQL: the actual state keeps the scheduled one (schema.ADHERING_STATES)."""
    return " OR ".join(
        f"({planned} = '{state}' AND {actual} IN ({', '.join(repr(k) for k in keeping)}))"
        for state, keeping in schema.ADHERING_STATES.items()
    )


def agent_day_sql(keywords: StatusNameKeywords) -> str:
    """agent_day (schema.AGENT_DAY column order) over the views contacts, agent_events, desktop, schedules,
    roster; keywords: the policy's status name keywords."""
    not_ready = ",\n".join(
        f"SUM(CASE WHEN status_type = 'CUSTOM' AND category = '{c}' THEN micros ELSE 0 END) AS nr_{c}"
        for c in schema.NOT_READY_CATEGORY_NAMES
    )
    focus = ",\n".join(
        f"SUM(CASE WHEN presence = 'active' AND focus = '{c}' THEN length ELSE 0 END) AS focus_{c}"
        for c in schema.APP_CATEGORIES
    )
    not_ready_out = ",\n".join(
        f"{_round_seconds(f'st.nr_{c}')} AS not_ready_{c}_seconds" for c in schema.NOT_READY_CATEGORY_NAMES
    )
    focus_out = ",\n".join(f"{_round_seconds(f'desk.focus_{c}')} AS desktop_{c}_seconds" for c in schema.APP_CATEGORIES)
    return f"""
WITH
ct AS (
    SELECT day, agent_pseudonym,
        COUNT(*) AS contacts_handled,
        SUM(COALESCE(talk_seconds, 0))::BIGINT AS talk_seconds,
        SUM(COALESCE(hold_seconds, 0))::BIGINT AS hold_seconds,
        SUM(COALESCE(acw_seconds, 0))::BIGINT AS acw_seconds,
        SUM(CAST(transferred_out AS BIGINT)) AS transfers_out,
        COUNT(*) FILTER (WHERE hold_seconds > 0 OR holds > 0) AS contacts_held
    FROM contacts WHERE agent_pseudonym IS NOT NULL
    GROUP BY day, agent_pseudonym
),
bounds AS (
    SELECT day, agent_pseudonym, MIN(event_ts) AS first_ts, MAX(event_ts) AS last_ts
    FROM agent_events GROUP BY day, agent_pseudonym
),
statuses AS (
    SELECT DISTINCT day, agent_pseudonym, status_start_ts, status_name, status_type FROM agent_events
),
bounded AS (
    SELECT s.day, s.agent_pseudonym, s.status_type, {_not_ready_category("s.status_name", keywords)} AS category,
        epoch_us(GREATEST(s.status_start_ts, b.first_ts)) AS start_us,
        epoch_us(LEAST(
            COALESCE(LEAD(s.status_start_ts) OVER (
                PARTITION BY s.day, s.agent_pseudonym
                ORDER BY s.status_start_ts, s.status_name, s.status_type), b.last_ts),
            b.last_ts)) AS end_us
    FROM statuses s JOIN bounds b USING (day, agent_pseudonym)
),
intervals AS (
    SELECT *, GREATEST(end_us - start_us, 0) AS micros,
        CASE WHEN status_type = 'ROUTABLE' THEN 'work' WHEN status_type = 'OFFLINE' THEN 'offline'
             ELSE category END AS state
    FROM bounded
),
st AS (
    SELECT day, agent_pseudonym,
        SUM(CASE WHEN status_type <> 'OFFLINE' THEN micros ELSE 0 END) AS staffed,
        SUM(CASE WHEN status_type = 'ROUTABLE' THEN micros ELSE 0 END) AS available,
        SUM(CASE WHEN status_type = 'CUSTOM' THEN micros ELSE 0 END) AS not_ready,
        {not_ready}
    FROM intervals GROUP BY day, agent_pseudonym
),
events AS (
    SELECT day, agent_pseudonym, bucket, app_category, afk,
        epoch_us(start_ts) AS start_us,
        epoch_us(start_ts) + CAST(ROUND(duration_seconds * 1000000) AS BIGINT) AS end_us,
        LEAD(epoch_us(start_ts)) OVER (
            PARTITION BY day, agent_pseudonym, bucket
            ORDER BY start_ts, duration_seconds, source) AS next_us
    FROM desktop
),
segments AS (
    SELECT day, agent_pseudonym, bucket, app_category, afk, start_us, LEAST(end_us, COALESCE(next_us, end_us)) AS end_us
    FROM events WHERE LEAST(end_us, COALESCE(next_us, end_us)) > start_us
),
points AS (
    SELECT day, agent_pseudonym, bucket, start_us AS t, 1 AS opens,
        CASE WHEN bucket = 'window' THEN COALESCE(app_category, 'other')
             WHEN afk THEN 'afk' ELSE 'active' END AS value
    FROM segments WHERE bucket IN ('window', 'afk')
    UNION ALL
    SELECT day, agent_pseudonym, bucket, end_us AS t, 0 AS opens, '' AS value
    FROM segments WHERE bucket IN ('window', 'afk')
),
timeline AS (
    SELECT day, agent_pseudonym,
        last_value(CASE WHEN bucket = 'window' THEN value END IGNORE NULLS) OVER running AS focus,
        last_value(CASE WHEN bucket = 'afk' THEN value END IGNORE NULLS) OVER running AS presence,
        COALESCE(LEAD(t) OVER ordered - t, 0) AS length
    FROM points
    WINDOW ordered AS (PARTITION BY day, agent_pseudonym ORDER BY t, opens, bucket),
        running AS (PARTITION BY day, agent_pseudonym ORDER BY t, opens, bucket
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
desk AS (
    SELECT day, agent_pseudonym,
        SUM(CASE WHEN presence = 'active' THEN length ELSE 0 END) AS active,
        SUM(CASE WHEN presence = 'afk' THEN length ELSE 0 END) AS idle,
        {focus}
    FROM timeline GROUP BY day, agent_pseudonym
),
activities AS (
    SELECT day, agent_pseudonym, activity, start_us,
        LEAST(end_us, COALESCE(LEAD(start_us) OVER (
            PARTITION BY day, agent_pseudonym ORDER BY start_us, end_us, activity), end_us)) AS end_us
    FROM (SELECT day, agent_pseudonym, activity, epoch_us(start_ts) AS start_us, epoch_us(end_ts) AS end_us
          FROM schedules WHERE activity <> 'shift')
),
plan_points AS (
    SELECT day, agent_pseudonym, 'shift' AS layer, epoch_us(start_ts) AS t, 1 AS opens, '' AS value
    FROM schedules WHERE activity = 'shift'
    UNION ALL
    SELECT day, agent_pseudonym, 'shift', epoch_us(end_ts), 0, '' FROM schedules WHERE activity = 'shift'
    UNION ALL
    SELECT day, agent_pseudonym, 'activity', start_us, 1, activity FROM activities WHERE end_us > start_us
    UNION ALL
    SELECT day, agent_pseudonym, 'activity', end_us, 0, '' FROM activities WHERE end_us > start_us
    UNION ALL
    SELECT day, agent_pseudonym, 'status', start_us, 1, state FROM intervals WHERE micros > 0
    UNION ALL
    SELECT day, agent_pseudonym, 'status', end_us, 0, '' FROM intervals WHERE micros > 0
),
plan_timeline AS (
    SELECT day, agent_pseudonym,
        SUM(CASE WHEN layer <> 'shift' THEN 0 WHEN opens = 1 THEN 1 ELSE -1 END) OVER running AS depth,
        last_value(CASE WHEN layer = 'activity' THEN value END IGNORE NULLS) OVER running AS planned,
        last_value(CASE WHEN layer = 'status' THEN value END IGNORE NULLS) OVER running AS actual,
        COALESCE(LEAD(t) OVER ordered - t, 0) AS length
    FROM plan_points
    WINDOW ordered AS (PARTITION BY day, agent_pseudonym ORDER BY t, opens, layer),
        running AS (PARTITION BY day, agent_pseudonym ORDER BY t, opens, layer
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
plan_states AS (
    SELECT day, agent_pseudonym, length,
        CASE WHEN COALESCE(planned, '') = '' THEN 'work' ELSE planned END AS planned,
        CASE WHEN COALESCE(actual, '') = '' THEN 'offline' ELSE actual END AS actual
    FROM plan_timeline WHERE depth > 0
),
plan AS (
    SELECT day, agent_pseudonym,
        SUM(length) AS scheduled,
        SUM(CASE WHEN planned = 'break' THEN length ELSE 0 END) AS scheduled_break,
        SUM(CASE WHEN {_adheres("planned", "actual")} THEN length ELSE 0 END) AS in_adherence
    FROM plan_states GROUP BY day, agent_pseudonym
),
agents AS (
    SELECT day, agent_pseudonym FROM contacts WHERE agent_pseudonym IS NOT NULL
    UNION SELECT day, agent_pseudonym FROM agent_events
    UNION SELECT day, agent_pseudonym FROM desktop
    UNION SELECT day, agent_pseudonym FROM schedules
),
joined AS (
    SELECT a.day, a.agent_pseudonym, r.team, r.site,
        COALESCE(ct.contacts_handled, 0) AS contacts_handled,
        COALESCE(ct.talk_seconds, 0) AS talk_seconds,
        COALESCE(ct.hold_seconds, 0) AS hold_seconds,
        COALESCE(ct.acw_seconds, 0) AS acw_seconds,
        COALESCE(ct.transfers_out, 0) AS transfers_out,
        COALESCE(ct.contacts_held, 0) AS contacts_held,
        {_round_seconds("st.staffed")} AS staffed_seconds,
        {_round_seconds("st.available")} AS available_seconds,
        {_round_seconds("st.not_ready")} AS not_ready_seconds,
        {_round_seconds("desk.active")} AS desktop_active_seconds,
        {_round_seconds("desk.idle")} AS desktop_idle_seconds,
        {not_ready_out},
        {focus_out},
        {_round_seconds("plan.scheduled")} AS scheduled_seconds,
        {_round_seconds("plan.in_adherence")} AS in_adherence_seconds,
        {_round_seconds("plan.scheduled - plan.scheduled_break")} AS scheduled_work_seconds
    FROM agents a
    LEFT JOIN ct USING (day, agent_pseudonym)
    LEFT JOIN st USING (day, agent_pseudonym)
    LEFT JOIN desk USING (day, agent_pseudonym)
    LEFT JOIN plan USING (day, agent_pseudonym)
    LEFT JOIN roster r USING (day, agent_pseudonym)
),
measured AS (
    SELECT *, talk_seconds + hold_seconds + acw_seconds AS handle_seconds,
        GREATEST(available_seconds - (talk_seconds + hold_seconds + acw_seconds), 0) AS available_idle_seconds,
        staffed_seconds - not_ready_break_seconds AS worked_seconds
    FROM joined
)
SELECT {", ".join(_agent_day_outputs())}
FROM measured
"""


def _agent_day_outputs() -> list[str]:
    ratios = {
        "occupancy": "CASE WHEN handle_seconds + available_idle_seconds > 0 THEN "
        "CAST(handle_seconds AS DOUBLE) / (handle_seconds + available_idle_seconds) END",
        "utilization": "CASE WHEN staffed_seconds > 0 THEN CAST(handle_seconds AS DOUBLE) / staffed_seconds END",
        "adherence": "CASE WHEN scheduled_seconds > 0 THEN "
        "CAST(in_adherence_seconds AS DOUBLE) / scheduled_seconds END",
        "conformance": "CASE WHEN scheduled_work_seconds > 0 THEN "
        "CAST(worked_seconds AS DOUBLE) / scheduled_work_seconds END",
    }
    return [f"{ratios[c]} AS {c}" if c in ratios else c for c in schema.AGENT_DAY.column_names]


def queue_day_sql(threshold_seconds: int) -> str:
    """queue_day (schema.QUEUE_DAY column order) over the view contacts."""
    return f"""
WITH q AS (
    SELECT day, queue,
        COUNT(*) AS offered,
        COUNT(*) FILTER (WHERE NOT abandoned) AS answered,
        COUNT(*) FILTER (WHERE abandoned) AS abandoned,
        COUNT(*) FILTER (WHERE NOT abandoned AND COALESCE(queue_seconds, 0) <= {int(threshold_seconds)})
            AS answered_within_threshold,
        COALESCE(SUM(CASE WHEN NOT abandoned THEN COALESCE(queue_seconds, 0) END), 0)::BIGINT AS answer_wait_seconds
    FROM contacts WHERE queue IS NOT NULL AND trim(queue) <> ''
    GROUP BY day, queue
)
SELECT day, queue, offered, answered, abandoned, answered_within_threshold,
    CAST({int(threshold_seconds)} AS BIGINT) AS service_level_threshold_seconds,
    CAST(answered_within_threshold AS DOUBLE) / offered AS service_level,
    answer_wait_seconds,
    CASE WHEN answered > 0 THEN CAST(answer_wait_seconds AS DOUBLE) / answered END AS asa_seconds
FROM q
"""


def compute(
    settings: Settings,
    days: Sequence[dt.date],
    threads: int | None = None,
    keywords: StatusNameKeywords | None = None,
) -> dict[str, pa.Table]:
    """agent_day and queue_day of the days, as Arrow tables sorted by their keys. keywords: the
    policy's status name keywords; None: those of the policy file the settings name."""
    import duckdb

    if keywords is None:
        keywords = policy_file_keywords(settings.policy_path)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        for name, table in (
            ("contacts", schema.CONTACTS),
            ("agent_events", schema.AGENT_EVENTS),
            ("desktop", schema.DESKTOP_ACTIVITY),
            ("schedules", schema.SCHEDULES),
            ("roster", schema.ROSTER),
        ):
            _relation(con, name, _files(settings, table, days), table)
        out = {}
        for table, sql in (
            (schema.AGENT_DAY, agent_day_sql(keywords)),
            (schema.QUEUE_DAY, queue_day_sql(settings.service_level_seconds)),
        ):
            order = ", ".join(table.key)
            out[table.name] = con.sql(f"SELECT * FROM ({sql}) ORDER BY {order}").to_arrow_table()
        return out
    finally:
        con.close()


def read_spark_output(settings: Settings, table: schema.Table, days: Sequence[dt.date]) -> pa.Table:
    """A metric table as the Spark job wrote it, in the same shape as compute() returns."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        _relation(con, "written", _files(settings, table, days), table)
        columns = ", ".join(f'"{c}"' for c in table.column_names)
        order = ", ".join(table.key)
        return con.sql(f"SELECT {columns} FROM written ORDER BY {order}").to_arrow_table()
    finally:
        con.close()


def differences(expected: pa.Table, got: pa.Table, limit: int = 5) -> list[str]:
    """Rows that differ between two metric tables (empty when equal), for a readable failure."""
    a, b = expected.to_pylist(), got.to_pylist()
    out = [f"row counts differ: {len(a)} != {len(b)}"] if len(a) != len(b) else []
    for left, right in zip(a, b, strict=False):
        if left != right:
            diff = {k: (left[k], right.get(k)) for k in left if left[k] != right.get(k)}
            out.append(f"{left.get('day')} {left.get('agent_pseudonym', left.get('queue'))}: {diff}")
            if len(out) >= limit:
                break
    return out
