"""Pulse survey results beside the operational figure each survey is meant to move.

A survey's published figures of a group and month (eNPS with its interval, Likert means, the
response count) are shown beside the same group's figure of the survey's `measure` (a release's
statistic, e.g. site_month_service.aht_seconds) for the same month: joined by group and window
only, from the published aggregates, never per person. Used by `teamlens report` and the
dashboard's survey page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from foundation.policy import Policy
from foundation.survey_policy import RESPONSES, SurveySpec
from teamlens.labels import window_label
from warehouse.store import fetch_dicts

FEWER = "fewer than {n} responses: not published"


@dataclass(frozen=True)
class SurveyLine:
    """One group and month of a survey with its measure: every cell display text."""

    survey_id: str
    window: str
    group_value: str
    cells: dict[str, str]


def _number(value: float, digits: int, signed: bool = False) -> str:
    return f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"


def figure_text(row: dict[str, Any] | None, digits: int = 0, signed: bool = False) -> str:
    """'25 [-10 to +60]', 'too noisy' or '-' (nothing published)."""
    if row is None:
        return "-"
    if row["status"] != "published":
        return "too noisy"
    low, high = _number(row["ci_low"], digits, signed), _number(row["ci_high"], digits, signed)
    return f"{_number(row['value'], digits, signed)} [{low} to {high}]"


def columns(survey: SurveySpec) -> list[str]:
    """The table's columns for a survey: window, group, responses, each question, then the measure."""
    questions = [f"{q.question_id} ({'eNPS' if q.scale == 'enps_0_10' else 'mean 1-5'})" for q in survey.questions]
    return ["window", "group", RESPONSES, *questions, survey.measure]


def survey_lines(con: Any, policy: Policy) -> list[tuple[SurveySpec, list[SurveyLine]]]:
    """Every declared survey's published groups and months, each with its measure's figure."""
    out = []
    for survey in policy.surveys:
        measure_release, _, measure_statistic = survey.measure.partition(".")
        measure = {
            (r["group_value"], r["window_start"], r["window_end"]): r
            for r in _current(con, measure_release)
            if r["statistic"] == measure_statistic
        }
        lines: list[SurveyLine] = []
        for group_by in survey.group_by:
            name = survey.release_name(group_by)
            below = _below_min_responses(con, name)
            figures: dict[tuple[Any, Any, str], dict[str, dict[str, Any]]] = {}
            for r in _current(con, name):
                figures.setdefault((r["window_start"], r["window_end"], r["group_value"]), {})[r["statistic"]] = r
            for (start, end, group), by_statistic in sorted(figures.items()):
                cells = {RESPONSES: figure_text(by_statistic.get(RESPONSES))}
                for q in survey.questions:
                    if q.scale == "enps_0_10":
                        cells[q.question_id] = figure_text(by_statistic.get(f"{q.question_id}_enps"), 0, signed=True)
                    else:
                        cells[q.question_id] = figure_text(by_statistic.get(f"{q.question_id}_mean"), 1)
                if (str(start), group) in below:
                    cells = dict.fromkeys(cells, FEWER.format(n=survey.min_responses))
                cells[survey.measure] = figure_text(measure.get((group, start, end)))
                lines.append(SurveyLine(survey.survey_id, window_label(start, end), group, cells))
        out.append((survey, lines))
    return out


def _current(con: Any, release_name: str) -> list[dict[str, Any]]:
    return fetch_dicts(
        con,
        "SELECT * FROM current_aggregates WHERE release_name = ? ORDER BY window_start, group_value, statistic",
        [release_name],
    )


def _below_min_responses(con: Any, release_name: str) -> set[tuple[str, str]]:
    """(window start, group) of the release's groups withheld for too few noisy responses."""
    found = set()
    for start, parameters in con.execute(
        "SELECT window_start, parameters FROM releases WHERE release_name = ?", [release_name]
    ).fetchall():
        found |= {(str(start), g) for g in json.loads(parameters).get("below_min_responses", [])}
    return found


def rows_of(survey: SurveySpec, lines: list[SurveyLine]) -> list[list[str]]:
    """The lines as table rows in the order of `columns(survey)`."""
    keys = [RESPONSES, *(q.question_id for q in survey.questions), survey.measure]
    return [[line.window, line.group_value, *(line.cells[k] for k in keys)] for line in lines]
