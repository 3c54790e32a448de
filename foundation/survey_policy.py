"""Pulse surveys in the policy (key `surveys`): what each survey asks, why, and what its releases cost.

Each survey is declared with its purpose and the operational figure it is meant to move (a
published statistic of a release: `team_month_contacts_aht.aht_seconds`), its questions (an id,
a scale and the question's text), the fewest responses a group needs on top of the policy's
`min_group_size`, its window (a calendar month) and its budget per window. A survey is released
per team and per site (`group_by`): its budget is split evenly over them, and each group kind's
share evenly over the survey's noisy parts (docs/privacy.md, Pulse surveys):

- `responses`: the noisy number of respondents (sensitivity 1);
- per eNPS question, the noisy three-bucket histogram (detractors 0-6, passives 7-8, promoters
  9-10): each respondent is in exactly one bucket, so the whole histogram has sensitivity 1 and
  is one part;
- per Likert question, a noisy count of its answers (sensitivity 1) and a noisy sum of
  answer - 1 (0..4, sensitivity 4), from which the mean is 1 + sum / count.

Free text is never declared, read or published: a question is a number on its scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from foundation.budget import Budget, BudgetUnit
from foundation.policy_values import PolicyError, no_unknown, positive_fraction, require
from foundation.survey_policy_keys import SURVEY, SURVEY_QUESTION

Scale = Literal["enps_0_10", "likert_1_5"]
# Each scale's lowest and highest answer.
SCALES: dict[str, tuple[int, int]] = {"enps_0_10": (0, 10), "likert_1_5": (1, 5)}
# The eNPS buckets: each answer of 0..10 is in exactly one (detractors 0-6, passives 7-8, promoters 9-10).
ENPS_BUCKETS: tuple[tuple[str, int, int], ...] = (("detractors", 0, 6), ("passives", 7, 8), ("promoters", 9, 10))
DEFAULT_MIN_RESPONSES = 5
DEFAULT_TYPICAL_RESPONSE_RATE = Fraction(7, 10)
GROUP_KINDS: tuple[str, ...] = ("team", "site")
# A survey's releases are named survey:<survey id>:<team or site>.
SURVEY_RELEASE_PREFIX = "survey:"
RESPONSES = "responses"
_ID_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def enps_bucket(answer: int) -> str:
    """The eNPS bucket of an answer of 0..10: 0-6 detractors, 7-8 passives, 9-10 promoters."""
    for name, low, high in ENPS_BUCKETS:
        if low <= answer <= high:
            return name
    raise ValueError(f"an eNPS answer lies in 0..10, got {answer}")


@dataclass(frozen=True)
class SurveyQuestion:
    """One question of a survey: answered with a whole number on its scale."""

    question_id: str
    scale: Scale
    text: str

    @property
    def low(self) -> int:
        return SCALES[self.scale][0]

    @property
    def high(self) -> int:
        return SCALES[self.scale][1]


@dataclass(frozen=True)
class SurveySpec:
    """One declared survey: its questions, its minimum responses and its budget per window."""

    survey_id: str
    purpose: str
    measure: str  # <release>.<statistic>: the operational figure the survey is meant to move
    questions: tuple[SurveyQuestion, ...]
    budget: Budget  # per window, all group kinds together
    min_responses: int = DEFAULT_MIN_RESPONSES
    window: Literal["month"] = "month"
    group_by: tuple[str, ...] = GROUP_KINDS
    typical_response_rate: Fraction = DEFAULT_TYPICAL_RESPONSE_RATE

    def question(self, question_id: str) -> SurveyQuestion | None:
        return next((q for q in self.questions if q.question_id == question_id), None)

    def release_name(self, group_by: str) -> str:
        return f"{SURVEY_RELEASE_PREFIX}{self.survey_id}:{group_by}"

    @property
    def budget_per_group_kind(self) -> Budget:
        """What one window costs each agent per group kind (team, site): an even split."""
        return self.budget / len(self.group_by)

    def parts(self) -> dict[str, int]:
        """The noisy parts of one group kind's release, each with its sensitivity (one agent's largest
        effect on it): they share the group kind's budget evenly (module docstring)."""
        out = {RESPONSES: 1}
        for q in self.questions:
            if q.scale == "enps_0_10":
                out[q.question_id] = 1  # the three-bucket histogram: one respondent is in one bucket
            else:
                out[f"{q.question_id}.answers"] = 1
                out[f"{q.question_id}.sum_above_low"] = q.high - q.low
        return out


def survey_release_parts(name: str) -> tuple[str, str] | None:
    """(survey id, group kind) of a survey release's name, else None."""
    if not name.startswith(SURVEY_RELEASE_PREFIX):
        return None
    survey_id, _, group_by = name.removeprefix(SURVEY_RELEASE_PREFIX).partition(":")
    return (survey_id, group_by) if survey_id and group_by in GROUP_KINDS else None


def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or not set(value) <= _ID_CHARACTERS:
        raise PolicyError(f"{where} must be lower-case letters, digits and _, got {value!r}")
    return value


def parse_surveys(
    value: Any, where: str, unit: BudgetUnit, release_statistics: dict[str, set[str]], cap: Fraction
) -> tuple[SurveySpec, ...]:
    """The `surveys` key: a list of survey declarations (None: no surveys).

    release_statistics: each release's published statistics, which a survey's `measure` must name.
    unit: the policy's budget unit (the key `rho` under zcdp, `epsilon` under pure DP).
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise PolicyError(f"{where}: surveys must be a list of survey declarations")
    budget_key = "rho" if unit == "rho" else "epsilon"
    model = "zcdp" if unit == "rho" else "pure"
    refused = {k.name for k in SURVEY.keys if model not in k.models}
    surveys = []
    for i, doc in enumerate(value):
        here = f"{where}: surveys[{i}]"
        if not isinstance(doc, dict):
            raise PolicyError(f"{here}: expected a mapping")
        no_unknown(doc, SURVEY.allowed() - refused, here)
        require(doc, SURVEY.required(model), here)
        survey_id = _identifier(doc["id"], f"{here}: id")
        here = f"{here} ({survey_id})"
        release, _, statistic = str(doc["measure"]).partition(".")
        if statistic not in release_statistics.get(release, set()):
            raise PolicyError(
                f"{here}: measure must name a published statistic of a release as <release>.<statistic> "
                f"(team_month_contacts_aht.aht_seconds), got {doc['measure']!r}"
            )
        budget = positive_fraction(doc[budget_key], f"{here}: {budget_key}")
        if budget > cap:
            raise PolicyError(f"{here}: {budget_key} exceeds the monthly cap; it could never be spent")
        min_responses = doc.get("min_responses", DEFAULT_MIN_RESPONSES)
        if not isinstance(min_responses, int) or isinstance(min_responses, bool) or min_responses < 1:
            raise PolicyError(f"{here}: min_responses must be an integer of at least 1, got {min_responses!r}")
        if doc["window"] != "month":
            raise PolicyError(f"{here}: window must be month, got {doc['window']!r}")
        group_by = doc.get("group_by", list(GROUP_KINDS))
        if not isinstance(group_by, list) or not group_by or not set(group_by) <= set(GROUP_KINDS):
            raise PolicyError(f"{here}: group_by must be a list of team and site, got {group_by!r}")
        rate = positive_fraction(doc.get("typical_response_rate", "0.7"), f"{here}: typical_response_rate")
        if rate > 1:
            raise PolicyError(f"{here}: typical_response_rate must be at most 1, got {doc['typical_response_rate']!r}")
        surveys.append(
            SurveySpec(
                survey_id=survey_id,
                purpose=" ".join(str(doc["purpose"]).split()),
                measure=str(doc["measure"]),
                questions=_questions(doc["questions"], here),
                budget=Budget(unit, budget),
                min_responses=min_responses,
                group_by=tuple(k for k in GROUP_KINDS if k in group_by),
                typical_response_rate=rate,
            )
        )
    ids = [s.survey_id for s in surveys]
    if len(set(ids)) != len(ids):
        raise PolicyError(f"{where}: survey ids must be unique, got {ids}")
    return tuple(surveys)


def _questions(value: Any, where: str) -> tuple[SurveyQuestion, ...]:
    if not isinstance(value, list) or not value:
        raise PolicyError(f"{where}: questions must be a non-empty list")
    out = []
    for i, doc in enumerate(value):
        here = f"{where}: questions[{i}]"
        if not isinstance(doc, dict):
            raise PolicyError(f"{here}: expected a mapping with id, scale and text")
        no_unknown(doc, SURVEY_QUESTION.allowed(), here)
        require(doc, SURVEY_QUESTION.required("zcdp"), here)
        question_id = _identifier(doc["id"], f"{here}: id")
        if question_id == RESPONSES:
            raise PolicyError(f"{here}: id {RESPONSES!r} is reserved for the survey's response count")
        if doc["scale"] not in SCALES:
            raise PolicyError(f"{here}: scale must be one of {', '.join(SCALES)}, got {doc['scale']!r}")
        if not isinstance(doc["text"], str) or not doc["text"].strip():
            raise PolicyError(f"{here}: text must be the question as the survey asks it")
        out.append(SurveyQuestion(question_id, doc["scale"], " ".join(doc["text"].split())))
    ids = [q.question_id for q in out]
    if len(set(ids)) != len(ids):
        raise PolicyError(f"{where}: question ids must be unique, got {ids}")
    return tuple(out)


def policy_file_surveys(policy_path: Path) -> tuple[SurveySpec, ...]:
    """The surveys of a policy file (for the survey ingest job, which needs the questions' scales)."""
    from foundation.policy import load_policy  # policy builds on this module

    return load_policy(policy_path).surveys
