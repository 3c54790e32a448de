"""Agent-day metrics from the staged tables (metrics/agent_day).

Grain (schema.AGENT_DAY): one row per agent per site-local day on which the agent has any staged
activity (a contact, an agent event or a desktop event) or a scheduled activity; team and site from that day's staged
roster snapshot. This is the contribution-bounding step of the privacy design: every later
release starts from at most one row per agent per day.

Definitions (durations summed in whole microseconds, rounded half up to whole seconds at the
end, so that the DuckDB reference (jobs.metrics_duckdb) agrees exactly; each column's formula and the vendor
definition it follows are declared with the column in foundation.schema and listed in
docs/metrics.md):
- contacts: contacts_handled counts staged contacts with an agent; talk, hold and acw are their
  sums (null as 0); handle = talk + hold + acw (Connect HANDLE_TIME); transfers_out counts
  transferred_out; contacts_held counts those with hold time or a hold.
- statuses: the distinct (status_start_ts, status_name, status_type) of the agent's events that
  day, in start order, make intervals; each ends where the next starts, the last one at the
  agent's last event of the day. Intervals are clipped to the agent's first and last event of
  the day (time before the first event is not observed in this day's data: a LOGIN's Offline
  status may have started the day before; a missing logout ends the day at the last event).
  staffed = not OFFLINE, available = ROUTABLE, not_ready = CUSTOM (split by the status name's
  category: the words of the policy's status_name_keywords, foundation.status_names),
  available_idle = max(0, available - handle).
- desktop: each bucket's events, in start order, become segments: an event ends where the next
  one of its bucket begins (focus and presence are states; overlapping or out-of-order events
  never count twice). active = not-afk segments, idle = afk segments, per category = time a
  window segment of the category and a not-afk segment hold at once (one sweep per agent-day).
- schedule: scheduled = the union of the day's shift rows; inside it the scheduled state is the
  activity scheduled at that moment (an activity ends where the next begins), else work; the
  actual state is the status interval's (work, offline or a not-ready category), else offline;
  in_adherence = scheduled time whose actual state keeps the scheduled one
  (schema.ADHERING_STATES); scheduled_work = scheduled minus scheduled breaks; worked = staffed -
  not_ready_break (whenever in the day). A shift that runs past midnight is compared with the
  statuses of its own (landing) day only.
- ratios: occupancy = handle / (handle + available_idle), utilization = handle / staffed,
  adherence = in_adherence / scheduled, conformance = worked / scheduled_work, computed from the
  rounded seconds; null when the denominator is 0.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from foundation import schema
from foundation.settings import Settings
from foundation.status_names import StatusNameKeywords, policy_file_keywords
from jobs import columns, writing

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

TABLE = schema.AGENT_DAY
_KEY = ["day", "agent_pseudonym"]


class MissingRosterError(RuntimeError):
    """An agent with activity on a day is not in that day's staged roster snapshot."""


def _seconds(col: Column) -> Column:
    """Whole seconds (half up) of a long count, exactly as the DuckDB reference computes them."""
    from pyspark.sql import functions as F

    micros = F.coalesce(col, F.lit(0)).cast("long") + F.lit(500_000)
    return ((micros - F.pmod(micros, F.lit(1_000_000))) / F.lit(1_000_000)).cast("long")


def _ratio(numerator: Column, denominator: Column) -> Column:
    from pyspark.sql import functions as F

    return F.when(denominator > 0, numerator.cast("double") / denominator)


def contact_totals(contacts: DataFrame) -> DataFrame:
    """Per (day, agent): contacts handled, talk, hold, acw, transfers (agent-less contacts excluded)."""
    from pyspark.sql import functions as F

    return (
        contacts.filter(F.col("agent_pseudonym").isNotNull())
        .groupBy(*_KEY)
        .agg(
            F.count(F.lit(1)).alias("contacts_handled"),
            F.sum(F.coalesce(F.col("talk_seconds"), F.lit(0)).cast("long")).alias("talk_seconds"),
            F.sum(F.coalesce(F.col("hold_seconds"), F.lit(0)).cast("long")).alias("hold_seconds"),
            F.sum(F.coalesce(F.col("acw_seconds"), F.lit(0)).cast("long")).alias("acw_seconds"),
            F.sum(F.col("transferred_out").cast("long")).alias("transfers_out"),
            F.count(F.when((F.col("hold_seconds") > 0) | (F.col("holds") > 0), F.lit(1))).alias("contacts_held"),
        )
    )


def status_intervals(agent_events: DataFrame) -> DataFrame:
    """Per (day, agent) status interval: status_name, status_type, start_ts, end_ts, micros (long)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # Everything below is partitioned by (day, agent) once: the bounds, the distinct statuses and
    # their order need no further shuffle.
    agent = Window.partitionBy(*_KEY)
    statuses = agent_events.select(
        *_KEY,
        "status_start_ts",
        "status_name",
        "status_type",
        F.min("event_ts").over(agent).alias("_first_ts"),
        F.max("event_ts").over(agent).alias("_last_ts"),
    ).distinct()
    order = Window.partitionBy(*_KEY).orderBy("status_start_ts", "status_name", "status_type")
    start = F.greatest(F.col("status_start_ts"), F.col("_first_ts"))
    end = F.least(F.coalesce(F.lead("status_start_ts").over(order), F.col("_last_ts")), F.col("_last_ts"))
    micros = F.unix_micros(end) - F.unix_micros(start)
    return statuses.select(
        *_KEY,
        "status_name",
        "status_type",
        start.alias("start_ts"),
        end.alias("end_ts"),
        F.greatest(micros, F.lit(0)).alias("micros"),
    )


def actual_state(status_type: Column, status_name: Column, keywords: StatusNameKeywords) -> Column:
    """The state a status interval puts the agent in, for adherence (schema.ADHERING_STATES):
    work (ROUTABLE), offline (OFFLINE), else the not-ready category of the status name (the
    policy's status_name_keywords)."""
    from pyspark.sql import functions as F

    return (
        F.when(status_type == "ROUTABLE", F.lit("work"))
        .when(status_type == "OFFLINE", F.lit("offline"))
        .otherwise(columns.status_name_category(status_name, keywords))
    )


def adheres(scheduled: Column, actual: Column) -> Column:
    """True when the actual state keeps the scheduled one (schema.ADHERING_STATES)."""
    from pyspark.sql import functions as F

    out = F.lit(False)
    for state, keeping in schema.ADHERING_STATES.items():
        out = out | ((scheduled == state) & actual.isin(*keeping))
    return out


def timeline_totals(schedules: DataFrame, intervals: DataFrame, keywords: StatusNameKeywords) -> DataFrame:
    """Per (day, agent), in microseconds (long, not yet rounded): staffed, available and not-ready
    time by category from the status intervals; scheduled, scheduled-as-break and in-adherence
    time from the schedule against them.

    One sweep per agent-day over three layers: the shift rows (a depth count, so overlapping shift
    rows count once), the activities inside them (an activity ends where the next begins, as
    desktop events do) and the status intervals (which never overlap). Between two consecutive
    points the scheduled state is the open activity, else work; the actual state is the open
    status's (actual_state), else offline (not logged in). The status sums are the sums of the
    intervals themselves, taken from the same sweep instead of a second aggregation and join.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    shift = F.col("activity") == "shift"
    activity_order = Window.partitionBy(*_KEY).orderBy("start_us", "end_us", "activity")
    activities = (
        schedules.filter(~shift)
        .select(*_KEY, "activity", F.unix_micros("start_ts").alias("start_us"), F.unix_micros("end_ts").alias("end_us"))
        .select(
            *_KEY,
            "activity",
            "start_us",
            F.least(F.col("end_us"), F.coalesce(F.lead("start_us").over(activity_order), F.col("end_us"))).alias(
                "end_us"
            ),
        )
        .filter(F.col("end_us") > F.col("start_us"))
    )

    def layer(df: DataFrame, name: str, value: Column, start: Column, end: Column) -> DataFrame:
        return df.select(
            *_KEY,
            F.lit(name).alias("layer"),
            F.explode(
                F.array(
                    F.struct(start.alias("t"), F.lit(1).alias("opens"), value.alias("value")),
                    F.struct(end.alias("t"), F.lit(0).alias("opens"), F.lit("").alias("value")),
                )
            ).alias("p"),
        ).select(*_KEY, "layer", "p.t", "p.opens", "p.value")

    points = (
        layer(
            schedules.filter(shift),
            "shift",
            F.lit(""),
            F.unix_micros("start_ts"),
            F.unix_micros("end_ts"),
        )
        .unionByName(layer(activities, "activity", F.col("activity"), F.col("start_us"), F.col("end_us")))
        .unionByName(
            layer(
                intervals.filter(F.col("micros") > 0),
                "status",
                actual_state(F.col("status_type"), F.col("status_name"), keywords),
                F.unix_micros("start_ts"),
                F.unix_micros("end_ts"),
            )
        )
    )
    order = Window.partitionBy(*_KEY).orderBy("t", "opens", "layer")
    running = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    depth = F.when(F.col("opens") == 1, F.lit(1)).otherwise(F.lit(-1))
    timeline = points.select(
        *_KEY,
        F.sum(F.when(F.col("layer") == "shift", depth).otherwise(0)).over(running).alias("depth"),
        F.last(F.when(F.col("layer") == "activity", F.col("value")), ignorenulls=True).over(running).alias("planned"),
        F.last(F.when(F.col("layer") == "status", F.col("value")), ignorenulls=True).over(running).alias("actual"),
        F.coalesce(F.lead("t").over(order) - F.col("t"), F.lit(0)).alias("length"),
    )
    planned = F.when(F.coalesce(F.col("planned"), F.lit("")) == "", F.lit("work")).otherwise(F.col("planned"))
    status = F.coalesce(F.col("actual"), F.lit(""))
    actual = F.when(status == "", F.lit("offline")).otherwise(status)
    scheduled = F.col("depth") > 0
    length = F.col("length")

    def total(condition: Column, name: str) -> Column:
        return F.sum(F.when(condition, length).otherwise(0)).alias(name)

    return timeline.groupBy(*_KEY).agg(
        total(~status.isin("", "offline"), "_staffed"),
        total(status == "work", "_available"),
        total(status.isin(*schema.NOT_READY_CATEGORY_NAMES), "_not_ready"),
        *(total(status == c, f"_nr_{c}") for c in schema.NOT_READY_CATEGORY_NAMES),
        total(scheduled, "_scheduled"),
        total(scheduled & (planned == "break"), "_scheduled_break"),
        total(scheduled & adheres(planned, actual), "_in_adherence"),
    )


def desktop_totals(desktop: DataFrame) -> DataFrame:
    """Per (day, agent): active and idle microseconds from the afk bucket, and active
    microseconds per category of the focused window (long).

    An event lasts until its own end or until the next event of its bucket begins, whichever
    comes first, so overlapping and out-of-order events never count twice; of two events of a
    bucket starting together the longer one counts (then the later source by name). One pass
    over the events in time order, both buckets together: between an event's start and the next
    start of any bucket, each bucket's state is its latest-started event, for as long as that
    lasts. Presence and focus both hold from that start, so they overlap for the shorter of the
    two. (The DuckDB reference cuts the events into segments and intersects them instead; both
    must agree exactly.)
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    events = desktop.filter(F.col("bucket").isin("window", "afk") & F.col("start_ts").isNotNull())
    start = F.unix_micros("start_ts")
    end = start + F.round(F.col("duration_seconds") * 1_000_000).cast("long")
    is_window = F.col("bucket") == "window"
    value = F.when(is_window, F.coalesce(F.col("app_category"), F.lit("other"))).otherwise(
        F.when(F.col("afk"), F.lit("afk")).otherwise(F.lit("active"))
    )
    order = Window.partitionBy(*_KEY).orderBy("start_us", "bucket", "duration_seconds", "source")
    running = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)

    def latest(column: Column, bucket: Column) -> Column:
        return F.last(F.when(bucket, column), ignorenulls=True).over(running)

    points = events.select(
        *_KEY,
        "bucket",
        "duration_seconds",
        "source",
        start.alias("start_us"),
        end.alias("end_us"),
        value.alias("value"),
    )
    spans = points.select(
        *_KEY,
        "start_us",
        F.lead("start_us").over(order).alias("next_us"),  # null after the last event: states run to their ends
        latest(F.col("end_us"), is_window).alias("focus_end"),
        latest(F.col("value"), is_window).alias("focus"),
        latest(F.col("end_us"), ~is_window).alias("presence_end"),
        latest(F.col("value"), ~is_window).alias("presence"),
    )
    zero = F.lit(0).cast("long")
    present = F.greatest(F.least("presence_end", "next_us") - F.col("start_us"), zero)
    focused = F.greatest(F.least("presence_end", "focus_end", "next_us") - F.col("start_us"), zero)
    active = F.col("presence") == "active"
    return spans.groupBy(*_KEY).agg(
        F.sum(F.when(active, present).otherwise(zero)).alias("_active"),
        F.sum(F.when(F.col("presence") == "afk", present).otherwise(zero)).alias("_idle"),
        *(
            F.sum(F.when(active & (F.col("focus") == c), focused).otherwise(zero)).alias(f"_focus_{c}")
            for c in schema.APP_CATEGORIES
        ),
    )


def transform(
    roster: DataFrame,
    contacts: DataFrame,
    agent_events: DataFrame,
    desktop: DataFrame,
    schedules: DataFrame,
    keywords: StatusNameKeywords,
) -> DataFrame:
    """The agent-day rows (schema.AGENT_DAY) of the days in the inputs (staged tables, any days);
    keywords: the policy's status name keywords (foundation.status_names).

    team and site are null for an agent missing from the day's roster snapshot (run refuses those).
    """
    from pyspark.sql import functions as F

    agents = (
        contacts.filter(F.col("agent_pseudonym").isNotNull())
        .select(*_KEY)
        .unionByName(agent_events.select(*_KEY))
        .unionByName(desktop.select(*_KEY))
        .unionByName(schedules.select(*_KEY))
        .distinct()
    )
    intervals = status_intervals(agent_events)
    joined = (
        agents.join(contact_totals(contacts), _KEY, "left")
        .join(timeline_totals(schedules, intervals, keywords), _KEY, "left")
        .join(desktop_totals(desktop), _KEY, "left")
        .join(roster.select(*_KEY, "team", "site"), _KEY, "left")
    )
    zero = F.lit(0).cast("long")
    talk, hold, acw = (F.coalesce(F.col(c), zero) for c in ("talk_seconds", "hold_seconds", "acw_seconds"))
    handle = talk + hold + acw
    available = _seconds(F.col("_available"))
    available_idle = F.greatest(available - handle, zero)
    staffed = _seconds(F.col("_staffed"))
    scheduled = _seconds(F.col("_scheduled"))
    scheduled_work = _seconds(F.col("_scheduled") - F.col("_scheduled_break"))
    in_adherence = _seconds(F.col("_in_adherence"))
    worked = staffed - _seconds(F.col("_nr_break"))
    out = joined.select(
        *_KEY,
        "team",
        "site",
        F.coalesce(F.col("contacts_handled"), zero).alias("contacts_handled"),
        talk.alias("talk_seconds"),
        hold.alias("hold_seconds"),
        acw.alias("acw_seconds"),
        handle.alias("handle_seconds"),
        F.coalesce(F.col("transfers_out"), zero).alias("transfers_out"),
        staffed.alias("staffed_seconds"),
        available.alias("available_seconds"),
        available_idle.alias("available_idle_seconds"),
        _seconds(F.col("_not_ready")).alias("not_ready_seconds"),
        _seconds(F.col("_active")).alias("desktop_active_seconds"),
        _seconds(F.col("_idle")).alias("desktop_idle_seconds"),
        F.coalesce(F.col("contacts_held"), zero).alias("contacts_held"),
        *(_seconds(F.col(f"_nr_{c}")).alias(f"not_ready_{c}_seconds") for c in schema.NOT_READY_CATEGORY_NAMES),
        _ratio(handle, handle + available_idle).alias("occupancy"),
        _ratio(handle, staffed).alias("utilization"),
        *(_seconds(F.col(f"_focus_{c}")).alias(f"desktop_{c}_seconds") for c in schema.APP_CATEGORIES),
        scheduled.alias("scheduled_seconds"),
        in_adherence.alias("in_adherence_seconds"),
        scheduled_work.alias("scheduled_work_seconds"),
        worked.alias("worked_seconds"),
        _ratio(in_adherence, scheduled).alias("adherence"),
        _ratio(worked, scheduled_work).alias("conformance"),
    )
    return columns.conform(out, TABLE)


def run(
    spark: SparkSession, settings: Settings, days: list[dt.date], keywords: StatusNameKeywords | None = None
) -> dict[str, Any]:
    """Staged roster, contacts, agent_events, desktop_activity, schedules day=D -> metrics/agent_day/day=D,
    all days in one pass. keywords: the policy's status name keywords; None: those of the policy
    file the settings name.

    Every input partition must exist (the staged jobs write one even for an empty day). Raises
    MissingRosterError, before writing, when an active agent is not in the day's roster snapshot.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    inputs = {
        t.name: writing.read_table_partitions(spark, settings, t, days)
        for t in (schema.ROSTER, schema.CONTACTS, schema.AGENT_EVENTS, schema.DESKTOP_ACTIVITY, schema.SCHEDULES)
    }
    if keywords is None:
        keywords = policy_file_keywords(settings.policy_path)
    out = transform(
        inputs["roster"],
        inputs["contacts"],
        inputs["agent_events"],
        inputs["desktop_activity"],
        inputs["schedules"],
        keywords,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        per_day = {
            r["day"]: (int(r["n"]), int(r["missing"]))
            for r in out.groupBy("day")
            .agg(
                F.count(F.lit(1)).alias("n"),
                F.sum((F.col("team").isNull() | F.col("site").isNull()).cast("long")).alias("missing"),
            )
            .collect()
        }
        missing = {d: m for d, (_, m) in per_day.items() if m}
        if missing:
            detail = ", ".join(f"{d}: {m}" for d, m in sorted(missing.items()))
            raise MissingRosterError(
                f"agent_day: agent(s) with activity are not in the staged roster of their day ({detail}); "
                "run jobs.staged_roster for those days (nothing was written)"
            )
        root = settings.lake.table_root(TABLE)
        writing.write_day_partitions(
            out, root, days, {d for d, (n, _) in per_day.items() if n}, drop=TABLE.partition_by
        )
    finally:
        out.unpersist()
    # Counted on the persisted rows that were written (no second read of the files).
    days_out = {d.isoformat(): {"agents": per_day.get(d, (0, 0))[0]} for d in days}
    return {"table": TABLE.name, "agent_days": sum(n for n, _ in per_day.values()), "days": days_out}
