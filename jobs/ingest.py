"""Ingest one canonical table from every landing source that feeds it, in one pass over the run's days.

What is the same for every source lives here: the agent is resolved through the roster (the
source's identifier column, case-insensitively), the day rule is checked (a record whose time lies
more than one site-local day from its landing day is quarantined), duplicates are ranked per
source and key, and all sources' rows are written as the table's day partitions, with a
quarantine folder per source and one reconciliation report per day (jobs.common.ingest_days).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from foundation import roster, schema
from foundation.settings import Settings
from jobs import common
from jobs.sources import Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from foundation.policy import Policy

MISSING_AGENT = "missing agent"
OUTSIDE_DAY = "record time more than a day from the landing day"


def source_options(folder: Path) -> dict[str, Any]:
    """landing/<source>/source.yaml (a mapping), or {} when the source needs no options."""
    path = folder / "source.yaml"
    if not path.is_file():
        return {}
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping of option: value")
    return doc


def source_files(settings: Settings, source: Source, days: Sequence[dt.date]) -> dict[dt.date, list[str]]:
    """The landing files of a source for the days and their look-around days, by landing day."""
    wanted = sorted(
        {d + dt.timedelta(days=k) for d in days for k in range(-source.lookaround_days, source.lookaround_days + 1)}
    )
    out: dict[dt.date, list[str]] = {}
    for day in wanted:
        files = [f for suffix in source.suffixes for f in common.landing_files(settings, source.name, day, suffix)]
        out[day] = sorted(set(files))
    return out


def resolve(rows: DataFrame, identities: DataFrame, source: Source, days: Sequence[dt.date]) -> DataFrame:
    """Parsed rows (jobs.sources contract) -> classified rows of the run's days: canonical columns
    with day, agent_pseudonym and source, lineage, raw_record, reason and _dup_rank."""
    from pyspark.sql import functions as F

    table = source.table
    ids = identities.filter(F.col("id_column") == source.identity).select(
        F.col("identifier").alias("_identifier"),
        F.col("agent_pseudonym").alias("_pseudonym"),
        F.col("site_timezone").alias("_tz"),
    )
    key = F.lower(F.trim(F.col("agent_key")))
    day = common.landing_day(F.col("source_file"))
    in_run = rows.filter(day.isin(list(days)))
    joined = in_run.join(F.broadcast(ids), key == F.col("_identifier"), "left")
    agent_required = not table.column("agent_pseudonym").nullable
    checks = [
        (common.blank(F.col("agent_key")) & F.lit(agent_required), MISSING_AGENT),
        (~common.blank(F.col("agent_key")) & F.col("_pseudonym").isNull(), common.NOT_IN_ROSTER),
        (F.col("day_ts").isNull(), "missing record time"),
        (common.outside_day(F.col("day_ts"), F.coalesce(F.col("_tz"), F.lit("UTC")), None), OUTSIDE_DAY),
    ]
    added = {
        "day": day,
        "agent_pseudonym": F.col("_pseudonym"),
        "source": F.lit(source.name),
    }
    canonical = [added[c].alias(c) if c in added else F.col(c) for c in table.column_names]
    classified = joined.select(
        *canonical,
        F.col("raw_record").cast("string").alias("raw_record"),
        F.coalesce(F.col("reason"), common.first_reason(checks)).alias("reason"),
    )
    order = [F.col(c).desc() if desc else F.col(c).asc() for c, desc in source.order]
    key_columns = [c for c in table.key if c not in ("day",)]
    return common.ranked(classified, key_columns, [*order, F.col("source_file"), F.col("source_line")])


def source_part(
    spark: SparkSession,
    settings: Settings,
    policy: Policy,
    source: Source,
    days: Sequence[dt.date],
    identities: DataFrame,
) -> common.SourcePart:
    """Parse, resolve and classify one source's records of the run's days."""
    from pyspark.sql import functions as F

    folder = settings.lake.landing / source.name
    files_by_day = source_files(settings, source, days)
    files = [f for fs in files_by_day.values() for f in fs]
    options = source.options if source.options is not None else source_options(folder)
    ctx = SourceContext(settings=settings, policy=policy, folder=folder, options=options, days=tuple(days))
    parsed = source.parse(spark, files, ctx)
    classified = resolve(parsed.rows, identities, source, days)
    extra: dict[dt.date, dict[str, Any]] = {d: {"files": len(files_by_day.get(d, []))} for d in days}
    if parsed.not_ingested is not None:
        counts = (
            parsed.not_ingested.groupBy(common.landing_day(F.col("source_file")).alias("day"), "kind")
            .agg(F.sum("records").alias("n"))
            .collect()
        )
        for r in counts:
            if r["day"] in extra:
                extra[r["day"]].setdefault("not_ingested", {})[r["kind"]] = int(r["n"])
    return common.SourcePart(source.name, classified, extra)


def run_table(
    spark: SparkSession,
    settings: Settings,
    policy: Policy,
    table: schema.Table,
    days: Sequence[dt.date],
    legacy: Sequence[Callable[[], common.SourcePart]] = (),
) -> dict[str, Any]:
    """Ingest a table from every registered source with a landing folder (jobs.registry), plus the
    given built-in parts; one staged partition per day, replaced; summary of the counts."""
    from jobs import registry

    parts = [make() for make in legacy]
    sources = [
        s for s in registry.sources_for(table, settings.lake.landing) if (settings.lake.landing / s.name).is_dir()
    ]
    if sources:
        identities = common.roster_identities(spark, roster.read_roster(settings))
        parts += [source_part(spark, settings, policy, s, days, identities) for s in sources]
    reports = common.ingest_days(settings, table, days, parts)
    return common.summarize(table, reports, settings)
