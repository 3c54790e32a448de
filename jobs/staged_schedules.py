"""Staged workforce schedules from the WFM export (landing/schedules/day=D/*.csv, jobs.source_schedules).

Grain (schema.SCHEDULES): one row per scheduled activity of one agent per source: the shift, and
each activity scheduled inside it (a break, a meeting, ...). A redelivered activity (same agent,
activity category and start) is kept once: the first in file and line order; the others count as
duplicates.

Day rule: `day` is the landing partition's day, the site-local day the shift starts (landing
contract), so a shift that runs past midnight stays in one day with its activities. The job checks
it: an activity whose start, in the agent's site time zone, lies more than one day from the landing
day is quarantined.

Minimisation: only employee_id, activity, start_utc and end_utc are read. The employee id only
resolves the agent through the roster (it never reaches staged); the activity's name becomes its
category (shift, break, meeting, training, other) and is dropped, as it may be personal ("Doctor
appointment"); the quarantine keeps the category, never the name.

A day without a schedules file (or a center without a WFM export at all) gets an empty partition,
so the metrics see "nothing scheduled" rather than a missing input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from foundation import roster, schema
from foundation.settings import Settings
from jobs import common

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from foundation.policy import Policy

TABLE = schema.SCHEDULES


def run(spark: SparkSession, settings: Settings, days: list[dt.date], policy: Policy | None = None) -> dict[str, Any]:
    """landing/schedules/day=D/*.csv (and every other schedules source of the registry) ->
    staged/schedules/day=D, quarantine/schedules/ingest/<source>/day=D,
    reports/ingest/schedules/day=D.json, all days in one pass."""
    from foundation.policy import load_policy
    from jobs import ingest
    from jobs.source_schedules import SCHEDULES

    resolved = policy or load_policy(settings.policy_path)
    legacy: list[Callable[[], common.SourcePart]] = []
    if not (settings.lake.landing / SCHEDULES.name).is_dir():
        # No WFM export at all: the registry skips a source without a landing folder, so the
        # schedules source is run here on no files, giving empty partitions and reports.
        def part() -> common.SourcePart:
            identities = common.roster_identities(spark, roster.read_roster(settings))
            return ingest.source_part(spark, settings, resolved, SCHEDULES, days, identities)

        legacy.append(part)
    return ingest.run_table(spark, settings, resolved, TABLE, days, legacy=legacy)
