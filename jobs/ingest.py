"""Ingest one canonical table from every landing source that feeds it, in one pass over the run's days.

The one ingest path: every source (jobs.registry) only parses its files (jobs.sources contract);
what is the same for every source lives here: the agent is resolved through the roster (the
source's identifier column, case-insensitively), the day rule is checked (a record whose time lies
more than one site-local day from its landing day is quarantined), duplicates are decided per
source and key across every landing day the source read (jobs.columns.ranked; docs/landing.md,
"Duplicates and redeliveries"), and all sources' rows are written as the table's day partitions, with a
quarantine folder per source and one reconciliation report per day (jobs.writing.ingest_days).

Day rule: `day` is the landing partition's day, which the landing contract (docs/landing.md)
defines as the site-local day the record's work started (a contact's start, an agent's shift).
Computing the day from the timestamp instead would write rows into other days' partitions, which
a one-day rerun could then neither replace nor remove.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from foundation import lake, roster, schema
from foundation.desktop_rules import DesktopRules
from foundation.settings import Settings
from foundation.status_names import StatusNameKeywords, policy_file_keywords
from jobs import columns, reading, writing
from jobs.sources import ADDED_COLUMNS, Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

MISSING_AGENT = "missing agent"
MISSING_TIME = "missing record time"
# The ingest report's counts, per day and source, of agent events whose not-ready status name
# contains none of the policy's status name words (they count as 'other'); status names are not personal.
UNLISTED_STATUS_NAMES = "status_names_not_in_policy"


def outside_day_reason(source: Source) -> str:
    """The quarantine reason of the day rule, naming the source's record time field."""
    return f"{source.record_time} more than a day from the landing day"


def identities_schema() -> StructType:
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("id_column", T.StringType(), False),
            T.StructField("identifier", T.StringType(), False),
            T.StructField("agent_pseudonym", T.StringType(), False),
            T.StructField("site_timezone", T.StringType(), False),
        ]
    )


def roster_identities(spark: SparkSession, agents: Sequence[roster.RosterAgent]) -> DataFrame:
    """The long identity map: (roster column, identifier in lower case) -> pseudonym, site time zone;
    one row per identifier (a roster cell may hold several)."""
    rows = [
        (column, value, a.agent_pseudonym, a.site_timezone)
        for a in agents
        for column, values in sorted(a.all_identifiers().items())
        for value in values
    ]
    return spark.createDataFrame(rows, identities_schema())


def source_options(folder: Path) -> dict[str, Any]:
    """landing/<source>/source.yaml (a mapping), or {} when the source needs no options."""
    path = folder / "source.yaml"
    if not path.is_file():
        return {}
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping of option: value")
    return doc


def source_days(settings: Settings, source: Source, days: Sequence[dt.date]) -> dict[dt.date, reading.LandingDay]:
    """The landing day folders of a source for the days and their look-around days, by landing day:
    the files it reads and every other entry with the reason it is not read (jobs.reading.landing_day)."""
    wanted = sorted(
        {d + dt.timedelta(days=k) for d in days for k in range(-source.lookaround_days, source.lookaround_days + 1)}
    )
    return {
        day: reading.landing_day(settings, source.name, source.suffixes, day, withhold_names=source.stage_folder_only)
        for day in wanted
    }


def source_files(settings: Settings, source: Source, days: Sequence[dt.date]) -> dict[dt.date, list[str]]:
    """The landing files a source reads for the days and their look-around days, by landing day."""
    return {day: landing.read for day, landing in source_days(settings, source, days).items()}


def record_id_column(table: schema.Table) -> str | None:
    """The key column that names a record (contact_id, event_id), which a distinct record sharing
    it gets a suffix in; None when the key has none (desktop activity, schedules)."""
    ids = [c for c in table.key if c.endswith("_id")]
    return ids[-1] if ids else None


def content_values(rows: DataFrame, table: schema.Table) -> list[Column]:
    """The parsed values a record's content fingerprint covers: the table's columns the source
    parsed (not the key, the landing day, the source or the lineage), timestamps as microseconds,
    and the agent as delivered (trimmed, lower case) instead of its pseudonym."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    skip = {*table.key, *table.lineage, *ADDED_COLUMNS}
    out = []
    for f in table.spark_schema().fields:
        if f.name in skip or f.name not in rows.columns:
            continue
        col = F.col(f.name)
        out.append((F.unix_micros(col) if isinstance(f.dataType, T.TimestampType) else col).alias(f.name))
    return [*out, F.lower(F.trim(F.col("agent_key"))).alias("agent_key")]


def resolve(
    rows: DataFrame, identities: DataFrame, source: Source, day: dt.date | None = None, ids_unique: bool | None = None
) -> DataFrame:
    """Parsed rows (jobs.sources contract) -> classified rows: canonical columns with day,
    agent_pseudonym and source, lineage, raw_record, reason, _dup_rank and _superseded
    (columns.ranked: duplicates are decided across every landing day in rows).

    day: the landing day of every row (the rows of one day's files); None: each row's landing day
    from the day=YYYY-MM-DD folder in its source_file.
    ids_unique: the parse's declaration (Parsed.ids_unique); None: the source's (Source.ids_unique).
    """
    from pyspark.sql import functions as F

    table = source.table
    ids = identities.filter(F.col("id_column") == source.identity).select(
        F.col("identifier").alias("_identifier"),
        F.col("agent_pseudonym").alias("_pseudonym"),
        F.col("site_timezone").alias("_tz"),
    )
    key = F.lower(F.trim(F.col("agent_key")))
    joined = rows.join(F.broadcast(ids), key == F.col("_identifier"), "left")
    agent_required = not table.column("agent_pseudonym").nullable
    checks = [
        (columns.blank(F.col("agent_key")) & F.lit(agent_required), MISSING_AGENT),
        (~columns.blank(F.col("agent_key")) & F.col("_pseudonym").isNull(), columns.NOT_IN_ROSTER),
        (F.col("day_ts").isNull(), MISSING_TIME),
        (
            columns.outside_day(F.col("day_ts"), F.coalesce(F.col("_tz"), F.lit("UTC")), day),
            outside_day_reason(source),
        ),
    ]
    added = {
        "day": columns.day_value(day),
        "agent_pseudonym": F.col("_pseudonym"),
        "source": F.lit(source.name),
    }
    canonical = [added[c].alias(c) if c in added else F.col(c) for c in table.column_names]
    classified = joined.select(
        *canonical,
        F.col("raw_record").cast("string").alias("raw_record"),
        F.coalesce(F.col("reason"), columns.first_reason(checks)).alias("reason"),
        columns.fingerprint(content_values(joined, table)).alias("_fp"),
    )
    order = [F.col(c).desc() if desc else F.col(c).asc() for c, desc in source.order]
    key_columns = [c for c in table.key if c not in ("day",)]
    return columns.ranked(
        classified,
        key_columns,
        order,
        ids_unique=source.ids_unique if ids_unique is None else ids_unique,
        id_column=record_id_column(table),
    )


def staged_rows(classified: DataFrame, source: Source) -> DataFrame:
    """The staged rows (the table's columns) of one source's classified rows."""
    kept = columns.kept_rows(writing.staged_lineage(classified, source.stage_folder_only))
    return columns.conform(kept, source.table)


def quarantined_rows(classified: DataFrame, source: Source) -> DataFrame:
    """The quarantined records (schema.QUARANTINE_COLUMNS) of one source's classified rows."""
    return columns.quarantine_rows(classified, source.name)


def source_part(
    spark: SparkSession,
    settings: Settings,
    source: Source,
    days: Sequence[dt.date],
    identities: DataFrame,
    desktop_rules: DesktopRules | None = None,
    status_name_keywords: StatusNameKeywords | None = None,
) -> writing.SourcePart:
    """Parse, resolve and classify one source's records of the run's days."""
    from pyspark.sql import functions as F

    folder = settings.lake.landing_source(source.name)
    landing_by_day = source_days(settings, source, days)
    files = [f for landing in landing_by_day.values() for f in landing.read]
    options = source.options if source.options is not None else source_options(folder)
    keywords = status_name_keywords if status_name_keywords is not None else policy_file_keywords(settings.policy_path)
    ctx = SourceContext(
        settings=settings,
        folder=folder,
        options=options,
        days=tuple(days),
        desktop_rules=desktop_rules,
        status_name_keywords=keywords,
    )
    parsed = source.parse(spark, files, ctx)
    # Ranked across every day read (the look-around days too), then cut to the run's days: a run
    # of D and a run of D+1 decide a record delivered on both days the same way.
    everything = resolve(parsed.rows, identities, source, ids_unique=parsed.ids_unique)
    reingest: dict[dt.date, dt.date] = {}
    if set(landing_by_day) - set(days):
        everything = everything.persist()
        reingest = replaced_days(spark, everything, source, days, settings.lake.table_root(source.table))
    classified = everything.filter(F.col("day").isin(list(days)))
    # Every day lists the entries of its landing folder that were not read, [] when none.
    extra: dict[dt.date, dict[str, Any]] = {
        d: {
            "files": len(landing_by_day[d].read),
            "not_read": [{"file": name, "reason": reason} for name, reason in landing_by_day[d].not_read],
        }
        for d in days
    }
    day = columns.landing_day(F.col("source_file")).alias("day")
    # Every day says what it did not ingest by design, {} when nothing; and, when the source notes
    # anything, its notes.
    if parsed.not_ingested is not None:
        _add_counts(extra, "not_ingested", parsed.not_ingested.groupBy(day, "kind").agg(F.sum("records")))
    if parsed.notes is not None:
        _add_counts(extra, "notes", parsed.notes.groupBy(day, "note").agg(F.sum("records")))
    if source.table is schema.AGENT_EVENTS:
        kept = columns.kept_rows(classified).filter(F.col("status_type") == "CUSTOM")
        unlisted = kept.filter(columns.status_name_category(F.col("status_name"), keywords, None).isNull())
        _add_counts(extra, UNLISTED_STATUS_NAMES, unlisted.groupBy("day", "status_name").agg(F.count(F.lit(1))))
    persisted = (*parsed.persisted, everything) if set(landing_by_day) - set(days) else parsed.persisted
    return writing.SourcePart(source.name, classified, extra, source.stage_folder_only, persisted, reingest)


def replaced_days(
    spark: SparkSession, ranked: DataFrame, source: Source, days: Sequence[dt.date], table_root: Path
) -> dict[dt.date, dt.date]:
    """Look-around days outside the run whose staged partition this run's deliveries change, each
    with the run day that changes it (the latest).

    A delivery on a run day now decides a record that also landed on another day (a later
    version, an id collision, a distinct record whose id takes a suffix), and that other day's
    staged partition still holds its copy as it was (its run did not see this delivery yet: it
    landed later). Staged copies are found by their lineage (source, source_file, source_line),
    so a day whose partition already agrees is not written again.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    in_run = F.col("day").isin(list(days))
    latest_in_run = F.col("reason").isNull() & (F.col("_vrank") == 1) & in_run
    lost = (F.col("_dup_rank") > 1) | F.col("_changed") | (F.col("_superseded"))
    id_column = record_id_column(source.table)
    staged_id = F.col(id_column) if id_column else F.lit("")
    # The id the copy should be staged under now; null: it should not be staged.
    expected = F.when((F.col("_dup_rank") == 1) & F.col("reason").isNull(), staged_id)
    candidates = (
        writing.staged_lineage(ranked, source.stage_folder_only)
        .withColumn("_by", F.max(F.when(latest_in_run, F.col("day"))).over(Window.partitionBy("_group")))
        .filter(~in_run & lost & F.col("_by").isNotNull())
        .select("day", "source_file", "source_line", expected.alias("_expected"), "_by")
    )
    candidate_days = [r["day"] for r in candidates.select("day").distinct().collect()]
    folders = [str(lake.partition(table_root, d)) for d in candidate_days if lake.partition(table_root, d).is_dir()]
    if not folders:
        return {}
    staged = (
        spark.read.option("basePath", str(table_root))
        .parquet(*folders)
        .filter(F.col("source") == source.name)
        .select(
            "day",
            "source_file",
            "source_line",
            staged_id.alias("_staged_id"),
        )
    )
    changed = (
        candidates.join(staged, ["day", "source_file", "source_line"])
        .filter(~F.col("_expected").eqNullSafe(F.col("_staged_id")))
        .groupBy("day")
        .agg(F.max("_by").alias("by"))
        .collect()
    )
    return {r["day"]: r["by"] for r in changed}


def _add_counts(extra: dict[dt.date, dict[str, Any]], key: str, counts: DataFrame) -> None:
    """extra[day][key] = {name: count} from rows (day, name, count), {} on a day without any."""
    found: dict[dt.date, dict[str, int]] = {d: {} for d in extra}
    for day, name, n in counts.collect():
        if day in found:
            found[day][str(name)] = int(n)
    for d, names in found.items():
        extra[d][key] = dict(sorted(names.items()))


def run_table(
    spark: SparkSession,
    settings: Settings,
    table: schema.Table,
    days: Sequence[dt.date],
    desktop_rules: DesktopRules | None = None,
    status_name_keywords: StatusNameKeywords | None = None,
) -> dict[str, Any]:
    """Ingest a table from every registered source (jobs.registry) that has a landing folder or is
    always ingested: one staged partition per day, replaced; summary of the counts.

    desktop_rules: the desktop category rules (foundation.desktop_rules), which the application
    builds from the policy; the desktop activity sources refuse to run without them.
    status_name_keywords: the policy's (foundation.status_names), for the schedules' activity
    categories and the agent events' status names not in the policy; None: those of the policy
    file the settings name.
    """
    from jobs import registry

    landing = settings.lake.landing
    sources = [
        s for s in registry.sources_for(table, landing) if s.always or settings.lake.landing_source(s.name).is_dir()
    ]
    keyed = roster.read_keyed_roster(settings)
    identities = roster_identities(spark, keyed.agents)
    keywords = status_name_keywords if status_name_keywords is not None else policy_file_keywords(settings.policy_path)
    parts = [source_part(spark, settings, s, days, identities, desktop_rules, keywords) for s in sources]
    reingested = {
        day.isoformat(): (
            f"day {day} re-ingested: a later delivery on {by} ({part.source}) replaces a record staged on it"
        )
        for part in parts
        for day, by in sorted(part.reingest.items())
    }
    if reingested:
        # One partition in, one out: a replaced day is written as a whole, with every source.
        for part in parts:
            for frame in part.persisted:
                frame.unpersist()
        days = sorted({*days, *(dt.date.fromisoformat(d) for d in reingested)})
        for message in reingested.values():
            log.warning("%s: %s", table.name, message)
        parts = [source_part(spark, settings, s, days, identities, desktop_rules, keywords) for s in sources]
    reports = writing.ingest_days(settings, table, days, parts, key_fingerprint=keyed.key_fingerprint)
    summary = writing.summarize(table, reports, settings)
    if reingested:
        summary["reingested"] = dict(sorted(reingested.items()))
    return summary
