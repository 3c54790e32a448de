"""The pulse survey page: each survey's published groups and months beside its operational measure.

- `/surveys`: per survey, its purpose, questions and minimum responses, and a table of the eNPS
  with its interval, the Likert means and the response count of each group and month beside the
  same group's figure of the survey's measure for the same month (teamlens.survey_view); joined by
  group and month only, never per person.
- `/surveys/{survey_id}.csv`: that table as CSV.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from foundation.policy import Policy, load_policy
from teamlens.dashboard.managers import Table
from teamlens.dashboard.pages import reader, render
from teamlens.survey_view import columns, rows_of, survey_lines

router = APIRouter()


def _tables(request: Request) -> tuple[Policy, list[tuple[Any, Table]], Any]:
    policy = load_policy(reader(request).settings.policy_path)
    with reader(request).snapshot() as (con, info):
        found = survey_lines(con, policy)
    return (
        policy,
        [(survey, Table(columns(survey), rows_of(survey, lines), [False] * len(lines))) for survey, lines in found],
        info,
    )


@router.get("/surveys", response_class=HTMLResponse)
def surveys(request: Request) -> HTMLResponse:
    """Every declared survey's published figures beside its measure."""
    policy, tables, info = _tables(request)
    context = {"snapshot": info, "surveys": tables, "min_group_size": policy.min_group_size}
    return render(request, "surveys.html", context)


@router.get("/surveys/{survey_id}.csv")
def survey_csv(request: Request, survey_id: str) -> Response:
    _, tables, _ = _tables(request)
    for survey, table in tables:
        if survey.survey_id == survey_id:
            return table.csv(f"survey-{survey_id}.csv")
    raise HTTPException(status_code=404, detail="no such survey")
