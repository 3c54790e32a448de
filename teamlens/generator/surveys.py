"""The demo center's monthly pulse survey: one eNPS question and two Likert questions, as a survey
tool exports them (docs/landing.md, Pulse surveys).

Each month whose 12th to 23rd lie in the generated days gets one survey, answered between the 12th
and the 22nd and exported on the 23rd into landing/surveys/day=D/pulse.csv. Each team answers at its
own response rate (60-80%) and mood (a team-level shift of the answers, so that teams differ
mildly); a respondent answers the eNPS question and each Likert question with 95% probability. The
export carries a free-text `comment` column, as real exports do, which ingestion never reads.
Deterministic in the seed.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence

from foundation import lake
from teamlens.generator.roster import Agent

SURVEY_ID = "pulse"
ENPS_QUESTION = "recommend"
LIKERT_QUESTIONS = ("workload", "tools")
HEADER = ["employee_id", "survey_id", "date", "question_id", "answer", "comment"]
COMMENTS = ("", "", "", "More coaching please.", "The new CRM is slow.", "Great team!", "Shift swaps are hard.")


def survey_rows(seed: int, roster: Sequence[Agent], month: datetime.date, last_day: datetime.date) -> list[list[str]]:
    """The month's answers, one row per answer, in employee and question order."""
    rng = random.Random(f"{seed}/survey/{month:%Y-%m}")
    teams = sorted({a.team.name for a in roster})
    rate = {t: rng.uniform(0.6, 0.8) for t in teams}
    mood = {t: rng.uniform(-1.0, 1.0) for t in teams}
    first = month.replace(day=12)
    rows: list[list[str]] = []
    for agent in sorted(roster, key=lambda a: a.employee_id):
        team = agent.team.name
        if rng.random() >= rate[team]:
            continue
        day = min(first + datetime.timedelta(days=rng.randrange(11)), last_day - datetime.timedelta(days=1))
        recommend = min(10, max(0, round(rng.gauss(7.2 + mood[team], 2.0))))
        rows.append(
            [agent.employee_id, SURVEY_ID, day.isoformat(), ENPS_QUESTION, str(recommend), rng.choice(COMMENTS)]
        )
        for question in LIKERT_QUESTIONS:
            if rng.random() < 0.95:
                answer = min(5, max(1, round(rng.gauss(3.5 + mood[team] / 2, 1.0))))
                rows.append([agent.employee_id, SURVEY_ID, day.isoformat(), question, str(answer), ""])
    return rows


def survey_exports(seed: int, roster: Sequence[Agent], start: datetime.date, days: int) -> dict[str, list[list[str]]]:
    """landing path (surveys/day=D/pulse.csv) -> rows, one export per month whose survey days are generated."""
    last_day = start + datetime.timedelta(days=days - 1)
    months = sorted({(start + datetime.timedelta(days=i)).replace(day=1) for i in range(days)})
    out: dict[str, list[list[str]]] = {}
    for month in months:
        export_day = month.replace(day=23)
        if month.replace(day=12) < start or export_day > last_day:
            continue
        out[f"surveys/{lake.partition_name(export_day)}/pulse.csv"] = survey_rows(seed, roster, month, export_day)
    return out
