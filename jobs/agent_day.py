"""Agent-day metrics from the staged tables (metrics/agent_day).

Grain (schema.AGENT_DAY): one row per agent per site-local day on which the agent has any staged
activity (a contact, an agent event or a desktop event); team and site from that day's staged
roster snapshot. This is the contribution-bounding step of the privacy design: every later
release starts from at most one row per agent per day.

Definitions (seconds, rounded to whole seconds at the end):
- contacts: contacts_handled counts staged contacts with an agent; talk, hold and acw are their
  sums (null as 0); handle = talk + hold + acw (Connect HANDLE_TIME); transfers_out counts
  transferred_out.
- statuses: the distinct (status_start_ts, status_name, status_type) of the agent's events that
  day, in start order, make intervals; each ends where the next starts, the last one at the
  agent's last event of the day. Intervals are clipped to the agent's first and last event of
  the day (time before the first event is not observed in this day's data: a LOGIN's Offline
  status may have started the day before). staffed = not OFFLINE, available = ROUTABLE,
  not_ready = CUSTOM, available_idle = max(0, available - handle).
- desktop: active = afk-bucket time not away from keyboard, idle = afk-bucket time away.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from jobs import common
from teamlens import schema
from teamlens.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from privacy.policy import Policy

TABLE = schema.AGENT_DAY
_KEY = ["day", "agent_pseudonym"]


class MissingRosterError(RuntimeError):
    """An agent with activity on a day is not in that day's staged roster snapshot."""


def _seconds(col: Column) -> Column:
    from pyspark.sql import functions as F

    return F.round(F.coalesce(col, F.lit(0.0))).cast("long")


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
        )
    )


def status_intervals(agent_events: DataFrame) -> DataFrame:
    """Per (day, agent) status interval: status_name, status_type, start_ts, end_ts, seconds (double)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    bounds = agent_events.groupBy(*_KEY).agg(F.min("event_ts").alias("_first_ts"), F.max("event_ts").alias("_last_ts"))
    statuses = agent_events.select(*_KEY, "status_start_ts", "status_name", "status_type").distinct()
    order = Window.partitionBy(*_KEY).orderBy("status_start_ts", "status_name", "status_type")
    start = F.greatest(F.col("status_start_ts"), F.col("_first_ts"))
    end = F.least(F.coalesce(F.lead("status_start_ts").over(order), F.col("_last_ts")), F.col("_last_ts"))
    seconds = (F.unix_micros(end) - F.unix_micros(start)) / F.lit(1_000_000.0)
    return statuses.join(bounds, _KEY).select(
        *_KEY,
        "status_name",
        "status_type",
        start.alias("start_ts"),
        end.alias("end_ts"),
        F.greatest(seconds, F.lit(0.0)).alias("seconds"),
    )


def status_totals(agent_events: DataFrame) -> DataFrame:
    """Per (day, agent): staffed, available and not-ready seconds (double, not yet rounded)."""
    from pyspark.sql import functions as F

    intervals = status_intervals(agent_events)
    kind = F.col("status_type")
    return intervals.groupBy(*_KEY).agg(
        F.sum(F.when(kind != "OFFLINE", F.col("seconds")).otherwise(0.0)).alias("_staffed"),
        F.sum(F.when(kind == "ROUTABLE", F.col("seconds")).otherwise(0.0)).alias("_available"),
        F.sum(F.when(kind == "CUSTOM", F.col("seconds")).otherwise(0.0)).alias("_not_ready"),
    )


def desktop_totals(desktop: DataFrame) -> DataFrame:
    """Per (day, agent): active and idle desktop seconds from the afk bucket (double)."""
    from pyspark.sql import functions as F

    afk = desktop.filter(F.col("bucket") == "afk")
    return afk.groupBy(*_KEY).agg(
        F.sum(F.when(~F.col("afk"), F.col("duration_seconds")).otherwise(0.0)).alias("_active"),
        F.sum(F.when(F.col("afk"), F.col("duration_seconds")).otherwise(0.0)).alias("_idle"),
    )


def transform(roster: DataFrame, contacts: DataFrame, agent_events: DataFrame, desktop: DataFrame) -> DataFrame:
    """The agent-day rows (schema.AGENT_DAY) of the days in the inputs (staged tables, any days).

    team and site are null for an agent missing from the day's roster snapshot (run refuses those).
    """
    from pyspark.sql import functions as F

    agents = (
        contacts.filter(F.col("agent_pseudonym").isNotNull())
        .select(*_KEY)
        .unionByName(agent_events.select(*_KEY))
        .unionByName(desktop.select(*_KEY))
        .distinct()
    )
    joined = (
        agents.join(contact_totals(contacts), _KEY, "left")
        .join(status_totals(agent_events), _KEY, "left")
        .join(desktop_totals(desktop), _KEY, "left")
        .join(roster.select(*_KEY, "team", "site"), _KEY, "left")
    )
    zero = F.lit(0).cast("long")
    talk, hold, acw = (F.coalesce(F.col(c), zero) for c in ("talk_seconds", "hold_seconds", "acw_seconds"))
    handle = talk + hold + acw
    available = _seconds(F.col("_available"))
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
        _seconds(F.col("_staffed")).alias("staffed_seconds"),
        available.alias("available_seconds"),
        F.greatest(available - handle, zero).alias("available_idle_seconds"),
        _seconds(F.col("_not_ready")).alias("not_ready_seconds"),
        _seconds(F.col("_active")).alias("desktop_active_seconds"),
        _seconds(F.col("_idle")).alias("desktop_idle_seconds"),
    )
    return common.conform(out, TABLE)


def run(spark: SparkSession, settings: Settings, days: list[dt.date], policy: Policy | None = None) -> dict[str, Any]:
    """Staged roster, contacts, agent_events, desktop_activity day=D -> metrics/agent_day/day=D, all days in one pass.

    Every input partition must exist (the staged jobs write one even for an empty day). Raises
    MissingRosterError, before writing, when an active agent is not in the day's roster snapshot.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    inputs = {
        t.name: common.read_table_partitions(spark, settings, t, days)
        for t in (schema.ROSTER, schema.CONTACTS, schema.AGENT_EVENTS, schema.DESKTOP_ACTIVITY)
    }
    out = transform(inputs["roster"], inputs["contacts"], inputs["agent_events"], inputs["desktop_activity"]).persist(
        StorageLevel.MEMORY_AND_DISK
    )
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
        root = common.staged_root(settings, TABLE)
        common.write_day_partitions(out, root, days, {d for d, (n, _) in per_day.items() if n}, drop=TABLE.partition_by)
    finally:
        out.unpersist()
    written = common.count_by_day(spark, root, days)
    days_out = {d.isoformat(): {"agents": written.get(d, 0)} for d in days}
    return {"table": TABLE.name, "agent_days": sum(written.values()), "days": days_out}
