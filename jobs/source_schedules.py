"""Workforce schedules (landing/schedules/day=D/*.csv), as a WFM system exports them: one scheduled
activity of one agent per line, under a header naming the columns.

    employee_id,activity,start_utc,end_utc
    E1001,shift,2026-10-05T07:00:00Z,2026-10-05T15:00:00Z
    E1001,Lunch,2026-10-05T11:00:00Z,2026-10-05T11:30:00Z

The columns are found by their header names (trimmed, any case, any order); other columns of the
export are never read. A file whose header lacks one of them fails the whole run (HeaderError,
naming the file and the column): that is the export's layout, not a bad record. The header line
is not a record; it is counted as not ingested ("header"). source_line is the line in the file
(the header is line 1). Files are UTF-8 (a byte-order mark before the header is ignored); a line
that is not (an export saved in latin-1) is quarantined as "malformed line (invalid UTF-8)" with
its file and line, never staged with replacement characters.

Activity: "shift" (any case, trimmed) is the shift; any other name gets the category of the
policy's status_name_keywords (foundation.status_names: Lunch -> break, Team huddle -> meeting,
Schulung -> training), else "other"; an activity whose name contains none of the policy's words is
counted in the ingest report's notes (ACTIVITY_NOT_IN_POLICY: a count, never the name). Only the
category passes: the name (which may be personal, "Doctor appointment") never reaches staged, and
the quarantine keeps of a bad line only employee_id, the activity's category, start_utc and end_utc
(nothing of a line that does not split into the header's columns: its file and line point to it in
landing).

Parsing happens in Spark (lines read as text with their numbers, fields split by from_csv); only
the header lines are read on the driver. The employee_id is matched against the roster's
employee_id; day_ts is the activity's start.

Grain (schema.SCHEDULES): one row per scheduled activity of one agent: the shift, and each activity
scheduled inside it. A redelivered activity (same agent, category and start) is kept once, the
first in file and line order. The landing day is the site-local day the shift starts, so a shift
that runs past midnight stays in one day with its activities. The source is always ingested: a
day without a schedules file (or a center without a WFM export at all) gets an empty partition,
so the metrics see "nothing scheduled" rather than a missing input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from foundation import schema
from foundation.status_names import StatusNameKeywords
from jobs import columns, csv_header, reading
from jobs.sources import Parsed, Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession

NAME = "schedules"
COLUMNS = ("employee_id", "activity", "start_utc", "end_utc")
KIND_HEADER = "header"
SHIFT = "shift"
# The ingest report's note for scheduled activities whose name contains none of the policy's words.
ACTIVITY_NOT_IN_POLICY = "activity names not in the policy's table (counted as other)"
INVALID_UTF8 = "malformed line (invalid UTF-8)"


def activity_category(activity: Column, keywords: StatusNameKeywords, unlisted: str | None = "other") -> Column:
    """shift, or the category of an activity name (the policy's status_name_keywords), else `unlisted`;
    null when the name is blank."""
    from pyspark.sql import functions as F

    shift = F.lower(F.trim(activity)) == SHIFT
    category = columns.status_name_category(activity, keywords, unlisted)
    return F.when(~columns.blank(activity), F.when(shift, F.lit(SHIFT)).otherwise(category))


def csv_field_count(value: Column) -> Column:
    """Number of comma-separated fields, quoted fields (with "" escapes) counting as one."""
    from pyspark.sql import functions as F

    return F.size(F.split(F.regexp_replace(value, r'"(?:[^"]|"")*"', ""), ",", -1))


def parse_schedules(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """One parsed row per data line (jobs.sources contract, table SCHEDULES); the header lines are
    counted as not ingested."""
    from pyspark.sql import functions as F

    lines = reading.read_json_lines(spark, files)
    data, field, header_files = csv_header.split_by_header(spark, lines, COLUMNS, "a schedules file")
    value = F.col("value")

    employee, activity, start_text, end_text = (field(c) for c in COLUMNS)
    start, end = columns.timestamp(start_text), columns.timestamp(end_text)
    keywords = ctx.status_name_keywords
    category = activity_category(activity, keywords)
    n = csv_field_count(value)
    quotes = F.length(value) - F.length(F.regexp_replace(value, '"', ""))
    shape_reason = (
        # Spark's text reader keeps a line's bytes as they are: a latin-1 byte is invalid UTF-8
        # (it would read as U+FFFD); a line already holding U+FFFD was damaged before landing.
        F.when(~F.is_valid_utf8(value) | value.contains("\ufffd"), F.lit(INVALID_UTF8))
        .when(quotes % 2 == 1, F.lit("malformed line (unbalanced quotes)"))
        .when(
            n != F.col("_width"),
            F.format_string("wrong column count: %d fields, expected %d", n, F.col("_width")),
        )
    )
    checks = [
        (columns.blank(employee), "missing employee_id"),
        (columns.blank(activity), "missing activity"),
        *columns.timestamp_reasons(start_text, "start_utc"),
        *columns.timestamp_reasons(end_text, "end_utc"),
        (end <= start, "end_utc not after start_utc"),
        (
            F.unix_micros(end) - F.unix_micros(start) > schema.MAX_DAY_SECONDS * 1_000_000,
            f"end_utc more than {schema.MAX_DAY_SECONDS // 3600} hours after start_utc",
        ),
    ]
    kept_record = F.to_json(
        F.struct(
            employee.alias("employee_id"),
            category.alias("activity"),
            start_text.alias("start_utc"),
            end_text.alias("end_utc"),
        )
    )
    rows = data.select(
        category.alias("activity"),
        start.alias("start_ts"),
        end.alias("end_ts"),
        employee.alias("agent_key"),
        start.alias("day_ts"),
        F.coalesce(shape_reason, columns.first_reason(checks)).alias("reason"),
        "source_file",
        "source_line",
        F.when(shape_reason.isNull(), kept_record).alias("raw_record"),
    )
    headers = [(name, KIND_HEADER, 1) for name in header_files]
    not_ingested = spark.createDataFrame(headers, "source_file string, kind string, records long")
    listed = activity_category(activity, keywords, None)
    unlisted = data.filter(shape_reason.isNull() & ~columns.blank(activity) & listed.isNull())
    notes = unlisted.groupBy("source_file", F.lit(ACTIVITY_NOT_IN_POLICY).alias("note")).agg(
        F.count(F.lit(1)).alias("records")
    )
    return Parsed(rows, not_ingested, notes=notes)


def _field_sources() -> dict[str, str]:
    return {
        "agent_pseudonym": "employee_id via roster employee_id",
        "activity": "activity: shift (any case) is shift, else the category whose word it contains "
        "(the policy's status_name_keywords), else other; the name is dropped",
        "start_ts": "start_utc",
        "end_ts": "end_utc",
        "source_file": "the landing file",
        "source_line": "line in the file (the header is line 1)",
    }


SCHEDULES = Source(
    name=NAME,
    table=schema.SCHEDULES,
    suffixes=(".csv",),
    identity="employee_id",
    parse=parse_schedules,
    order=(),  # a redelivered activity (same agent, category and start): the first in file and line order
    field_sources=_field_sources(),
    description="workforce management schedules: shifts and the activities scheduled inside them (CSV)",
    always=True,
    ids_unique=True,
)

SOURCES = [SCHEDULES]
