"""Staged roster: the landing roster, pseudonymised, as one snapshot per processed day.

Grain (schema.ROSTER): one row per agent per roster snapshot day, written to staged/roster/day=D.

Why a snapshot per day: landing holds only the current roster; the metrics and the releases need
the team and site an agent belonged to on a given day. The pseudonym is computed in Python
(foundation.roster.read_roster), so the key never enters Spark; employee ids, display names, user names
and hosts are not columns of the mapping and so never reach staged. Rerunning a past day writes
the roster as it is now for that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from foundation import lake, roster, schema
from foundation.errors import ReconciliationError
from foundation.settings import Settings
from jobs import columns, writing

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

TABLE = schema.ROSTER


def roster_map_schema() -> StructType:
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("agent_pseudonym", T.StringType(), False),
            T.StructField("connect_username", T.StringType(), True),
            T.StructField("desktop_host", T.StringType(), True),
            T.StructField("team", T.StringType(), False),
            T.StructField("site", T.StringType(), False),
            T.StructField("site_timezone", T.StringType(), False),
        ]
    )


def roster_frame(spark: SparkSession, agents: Sequence[roster.RosterAgent]) -> DataFrame:
    """The small mapping DataFrame (user name / host -> pseudonym, team, site, time zone)."""
    rows = [(a.agent_pseudonym, a.connect_username, a.desktop_host, a.team, a.site, a.site_timezone) for a in agents]
    return spark.createDataFrame(rows, roster_map_schema())


def transform(roster_map: DataFrame, day: dt.date) -> DataFrame:
    """The roster snapshot of one day (schema.ROSTER) from the mapping DataFrame."""
    from pyspark.sql import functions as F

    return columns.conform(roster_map.withColumn("day", F.lit(day)), TABLE)


def run(spark: SparkSession, settings: Settings, days: list[dt.date]) -> dict[str, Any]:
    """Write staged/roster/day=D for each day and reports/ingest/roster/day=D.json, in one pass.

    Each report carries the pseudonymisation key's fingerprint (foundation.roster.key_fingerprint_of).
    """
    from pyspark.sql import types as T

    keyed = roster.read_keyed_roster(settings)
    agents = keyed.agents
    roster_map = roster_frame(spark, agents)
    day_frame = spark.createDataFrame([(d,) for d in days], T.StructType([T.StructField("day", T.DateType(), False)]))
    snapshots = columns.conform(roster_map.crossJoin(day_frame), TABLE)
    root = settings.lake.table_root(TABLE)
    writing.write_day_partitions(snapshots, root, days, set(days) if agents else set(), drop=TABLE.partition_by)
    staged = writing.count_by_day(spark, root, days)
    reports = []
    for day in days:
        report = {
            "table": TABLE.name,
            "source": "roster",
            "day": day.isoformat(),
            "read": len(agents),
            "staged": staged.get(day, 0),
            "quarantined": 0,
            "duplicates": 0,
            "reconciled": staged.get(day, 0) == len(agents),
            "key_fingerprint": keyed.key_fingerprint,
        }
        lake.write_json_atomic(settings.lake.ingest_report(TABLE, day), report)
        reports.append(report)
    for report in reports:
        if not report["reconciled"]:
            raise ReconciliationError(
                f"roster day={report['day']}: read {len(agents)} agents but staged {report['staged']}"
            )
    return writing.summarize(TABLE, reports, settings)
