"""Pulse survey exports (landing/surveys/day=D/*.csv): one answer of one person to one question per
line, under a header naming the columns.

    employee_id,survey_id,date,question_id,answer
    E1001,pulse,2026-10-20,enps,9
    E1001,pulse,2026-10-20,workload,4

The columns are found by their header names (trimmed, any case, any order). Any other column of
the export (free-text answers, comments, names, e-mail addresses) is never read: it reaches
neither the staged table nor the quarantine, which keeps of a bad line only the five columns
above. A header lacking one of them fails the run (HeaderError, naming the file). Files are UTF-8;
a line that is not is quarantined with its file and line.

Checked against the policy's `surveys` (foundation.survey_policy): the survey must be declared,
the question must be one of its questions, the answer a whole number on the question's scale
(0-10 for eNPS, 1-5 for Likert), the date a day written YYYY-MM-DD; otherwise the line is
quarantined with its file, line and reason. The employee_id is matched against the roster's
employee_id (an unknown one is quarantined as "agent not in roster", as for every source).

Day: a survey export is delivered whenever the survey tool exports it, so its landing day is the
delivery day and the answer's own date is `answered_on`: the survey's releases take the answers
whose answered_on lies in their month (privacy.surveys). The day rule therefore checks nothing
here (day_ts is the landing day's noon).

Grain (schema.SURVEY_ANSWERS): one answer per person, survey and question. A repeated answer with
the same content is a duplicate; a different answer is a later version, which wins: the later
answer date, then the later landing day (counted in the ingest report as duplicates, of which
superseded). Two different answers with the same date delivered on the same day are quarantined
as an id collision: which one counts is unknown (docs/landing.md, Pulse surveys).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from foundation import schema
from foundation.survey_policy import SurveySpec, policy_file_surveys
from jobs import columns, csv_header, reading
from jobs.source_schedules import INVALID_UTF8, csv_field_count
from jobs.sources import Parsed, Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession

NAME = "surveys"
COLUMNS = ("employee_id", "survey_id", "date", "question_id", "answer")
KIND_HEADER = "header"
UNKNOWN_SURVEY = "survey_id not declared in the policy's surveys"
UNKNOWN_QUESTION = "question_id not a question of that survey"
BAD_DATE = "date not a day written YYYY-MM-DD"
NOT_A_NUMBER = "answer not a whole number"


def outside_scale_reason(low: int, high: int) -> str:
    return f"answer outside the question's scale {low}-{high}"


def _scale_map(surveys: tuple[SurveySpec, ...], which: str) -> Column:
    """A map column "<survey>|<question>" -> the question's lowest or highest answer."""
    from pyspark.sql import functions as F

    pairs: list[Any] = []
    for s in surveys:
        for q in s.questions:
            pairs += [F.lit(f"{s.survey_id}|{q.question_id}"), F.lit(q.low if which == "low" else q.high)]
    return F.create_map(*pairs) if pairs else F.create_map().cast("map<string,int>")


def parse_surveys(spark: SparkSession, files: list[str], ctx: SourceContext) -> Parsed:
    """One parsed row per data line (jobs.sources contract, table SURVEY_ANSWERS); header lines are
    counted as not ingested."""
    from pyspark.sql import functions as F

    surveys = policy_file_surveys(ctx.settings.policy_path)
    lines = reading.read_json_lines(spark, files)
    data, field, header_files = csv_header.split_by_header(spark, lines, COLUMNS, "a survey file")
    value = F.col("value")

    employee, survey, date_text, question, answer_text = (field(c) for c in COLUMNS)
    answered_on = F.when(date_text.rlike(r"^\d{4}-\d{2}-\d{2}$"), F.try_to_date(date_text, "yyyy-MM-dd"))
    answer = F.when(answer_text.rlike(r"^-?\d{1,3}$"), answer_text.cast("int"))
    known_surveys = [s.survey_id for s in surveys]
    pair = F.concat_ws("|", survey, question)
    low, high = _scale_map(surveys, "low")[pair], _scale_map(surveys, "high")[pair]
    n = csv_field_count(value)
    quotes = F.length(value) - F.length(F.regexp_replace(value, '"', ""))
    shape_reason = (
        F.when(~F.is_valid_utf8(value) | value.contains("\ufffd"), F.lit(INVALID_UTF8))
        .when(quotes % 2 == 1, F.lit("malformed line (unbalanced quotes)"))
        .when(n != F.col("_width"), F.format_string("wrong column count: %d fields, expected %d", n, F.col("_width")))
    )
    checks = [
        (columns.blank(employee), "missing employee_id"),
        (columns.blank(survey), "missing survey_id"),
        (~survey.isin(known_surveys) if known_surveys else F.lit(True), UNKNOWN_SURVEY),
        (columns.blank(question), "missing question_id"),
        (low.isNull(), UNKNOWN_QUESTION),
        (answered_on.isNull(), BAD_DATE),
        (answer.isNull(), NOT_A_NUMBER),
        ((answer < low) | (answer > high), F.format_string("answer outside the question's scale %d-%d", low, high)),
    ]
    kept = (employee, survey, date_text, question, answer_text)
    kept_record = F.to_json(F.struct(*[c.alias(name) for c, name in zip(kept, COLUMNS, strict=True)]))
    landing_noon = F.to_timestamp(
        F.concat(columns.landing_day(F.col("source_file")).cast("string"), F.lit(" 12:00:00"))
    )
    rows = data.select(
        survey.alias("survey_id"),
        question.alias("question_id"),
        answered_on.alias("answered_on"),
        answer.alias("answer"),
        employee.alias("agent_key"),
        landing_noon.alias("day_ts"),
        F.coalesce(shape_reason, _first_reason(checks)).alias("reason"),
        "source_file",
        "source_line",
        F.when(shape_reason.isNull(), kept_record).alias("raw_record"),
    )
    not_ingested = spark.createDataFrame(
        [(name, KIND_HEADER, 1) for name in header_files], "source_file string, kind string, records long"
    )
    return Parsed(rows, not_ingested)


def _first_reason(checks: list[tuple[Column, Any]]) -> Column:
    """The first failing check's reason (a text or a column), else null."""
    from pyspark.sql import functions as F

    out = F.lit(None).cast("string")
    for condition, reason in reversed(checks):
        out = F.when(condition, reason if not isinstance(reason, str) else F.lit(reason)).otherwise(out)
    return out


SURVEYS = Source(
    name=NAME,
    table=schema.SURVEY_ANSWERS,
    suffixes=(".csv",),
    identity="employee_id",
    parse=parse_surveys,
    # A day without a survey export, or a center without surveys at all, gets an empty partition,
    # as the schedules do: nothing answered, never a missing input that stops the workforce step.
    always=True,
    order=(("answered_on", True), ("day", True)),  # the later answer date, then the later delivery, wins
    field_sources={
        "agent_pseudonym": "employee_id via roster employee_id",
        "survey_id": "survey_id (declared in the policy's surveys)",
        "question_id": "question_id (a question of that survey)",
        "answered_on": "date (YYYY-MM-DD)",
        "answer": "answer (a whole number on the question's scale)",
        "source_file": "the landing file",
        "source_line": "line in the file (the header is line 1)",
    },
    description="pulse survey exports: one numeric answer per person, survey and question (CSV; "
    "other columns, free text among them, are never read)",
    record_time="landing day",
    ids_unique=True,
)

SOURCES = [SURVEYS]
