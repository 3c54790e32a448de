"""The keys of a survey declaration (policy key `surveys`) and of its questions, declared like every
policy key (foundation.policy_keys): foundation.survey_policy parses them, teamlens.policy_doc writes
them into docs/policy.md."""

from __future__ import annotations

from foundation.policy_keys import EXACT, NEVER, PolicyKey, PolicySection

SURVEY = PolicySection(
    "surveys",
    "Each entry of `surveys`: one pulse survey, released per team and per site each window; a group is "
    "published when its roster reaches `min_group_size` and its noisy response count `min_responses`.",
    (
        PolicyKey(
            "id",
            "text",
            "The survey's id, as the survey export's survey_id column names it.",
            "pulse",
            allowed="lower-case letters, digits and _; unique",
        ),
        PolicyKey(
            "purpose",
            "text",
            "Why the survey is run, in words for the works council.",
            "Whether agents find their workload manageable.",
            allowed="any text",
        ),
        PolicyKey(
            "measure",
            "text",
            "The operational figure the survey is meant to move, shown beside it.",
            "team_month_contacts_aht.aht_seconds",
            allowed="<release>.<statistic> of a release",
        ),
        PolicyKey(
            "questions",
            "list of mappings (see questions below)",
            "The survey's questions.",
            "[{id: workload, scale: likert_1_5, text: My workload is manageable.}]",
            allowed="ids unique",
        ),
        PolicyKey(
            "min_responses",
            "integer",
            "The fewest responses a published group needs, on top of `min_group_size`: decided on the noisy "
            "response count (post-processing, no further budget).",
            "8",
            allowed="1 or more",
            required=NEVER,
            default="5",
        ),
        PolicyKey(
            "window",
            "text",
            "The window of each release: a calendar month (site-local days), like the releases' monthly windows.",
            "month",
            choices=("month",),
        ),
        PolicyKey(
            "group_by",
            "list of text",
            "The group kinds released; the budget is split evenly over them.",
            "[team]",
            allowed="`team`, `site`",
            required=NEVER,
            default="[team, site]",
        ),
        PolicyKey(
            "rho",
            EXACT,
            "What one window of the survey costs each agent, all group kinds together.",
            '"0.02"',
            allowed="above 0, at most the cap",
            required=("zcdp",),
            models=("zcdp",),
        ),
        PolicyKey(
            "epsilon",
            EXACT,
            "The same under pure DP, in epsilon.",
            '"0.2"',
            allowed="above 0, at most the cap",
            required=("pure",),
            models=("pure",),
        ),
        PolicyKey(
            "typical_response_rate",
            EXACT,
            "The share of agents expected to answer: `teamlens plan` predicts the survey's precision at it.",
            '"0.6"',
            allowed="above 0, at most 1",
            required=NEVER,
            default='"0.7"',
        ),
    ),
)

SURVEY_QUESTION = PolicySection(
    "questions",
    "Each entry of a survey's `questions`: answered with a whole number on its scale; free text is never read.",
    (
        PolicyKey(
            "id",
            "text",
            "The question's id, as the export's question_id column names it.",
            "enps",
            allowed="lower-case letters, digits and _; unique in the survey; not `responses`",
        ),
        PolicyKey(
            "scale",
            "text",
            "`enps_0_10`: eNPS from detractors 0-6, passives 7-8, promoters 9-10; `likert_1_5`: a mean of 1 to 5.",
            "likert_1_5",
            choices=("enps_0_10", "likert_1_5"),
        ),
        PolicyKey(
            "text", "text", "The question as the survey asks it.", "My workload is manageable.", allowed="any text"
        ),
    ),
)


SURVEY_SECTIONS: tuple[PolicySection, ...] = (SURVEY, SURVEY_QUESTION)
