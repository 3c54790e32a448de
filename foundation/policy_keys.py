"""Every key of the privacy policy, declared once: its type, whether it is required, its default,
its allowed values, its meaning and an example value.

The parser (foundation.policy) takes the keys it accepts and requires from these sections, so a
key cannot be accepted without being documented; teamlens.policy_doc writes docs/policy.md from
them, and a test parses every example value and checks each allowed choice, so the document says
what the parser does. Which values are valid is checked by the parser; `allowed` says it in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from foundation import schema

# The privacy models; a key may apply under some of them only (the other model's budget keys are refused).
MODELS: tuple[str, ...] = ("zcdp", "pure")
ALWAYS = MODELS
NEVER: tuple[str, ...] = ()

EXACT = "exact number (quoted string)"
_CATEGORIES = ", ".join(f"`{c}`" for c in schema.APP_CATEGORIES if c != "other")
_SUMMABLE = ", ".join(f"`{c.name}`" for c in schema.AGENT_DAY.columns if c.dtype == "long")


@dataclass(frozen=True)
class PolicyKey:
    """One key of a policy mapping.

    models: the privacy models under which the key applies (refused under the others).
    required: the models under which it must be present; where it applies but is not required,
    `default` says what its absence means. example: a valid value, as YAML text.
    """

    name: str
    type: str
    meaning: str
    example: str
    allowed: str = ""
    choices: tuple[str, ...] = ()
    required: tuple[str, ...] = ALWAYS
    default: str = ""
    models: tuple[str, ...] = ALWAYS

    def allowed_text(self) -> str:
        """The allowed values in words: the choices when the key has them."""
        if self.choices:
            return ", ".join(f"`{c}`" for c in self.choices)
        return self.allowed

    def presence(self, model: str) -> str:
        """'required', 'refused' or 'optional (default: ...)' under one privacy model."""
        if model not in self.models:
            return "refused"
        if model in self.required:
            return "required"
        return f"optional (default: {self.default})"

    def presence_text(self) -> str:
        """Whether the key is required, in words; per privacy model when that differs."""
        by_model = {m: self.presence(m) for m in MODELS}
        if len(set(by_model.values())) == 1:
            return by_model[MODELS[0]]
        return "; ".join(f"{m}: {text}" for m, text in by_model.items())


@dataclass(frozen=True)
class PolicySection:
    """One mapping of the policy file: the top level, a release, a ratio, ..."""

    name: str
    meaning: str
    keys: tuple[PolicyKey, ...]

    def allowed(self) -> set[str]:
        """Every key the section may hold under some privacy model."""
        return {k.name for k in self.keys}

    def required(self, model: str) -> set[str]:
        """The keys the section must hold under a privacy model."""
        return {k.name for k in self.keys if model in k.required}

    def key(self, name: str) -> PolicyKey:
        return next(k for k in self.keys if k.name == name)


_POLICY_LEVEL = "A release may set its own, which then applies to it instead."

TOP_LEVEL = PolicySection(
    "top level",
    "The policy file itself: a YAML mapping of these keys.",
    (
        PolicyKey(
            "policy_version",
            "integer",
            "The policy's version number, recorded with every release and approval beside the policy's identity "
            "(the hash of its content). Raise it with every change put to the works council.",
            "1",
            allowed="an integer",
        ),
        PolicyKey(
            "privacy_unit",
            "text",
            "Whom the guarantee protects: two data sets are neighbours when they differ in all records of one agent "
            "within one accounting period (docs/privacy.md, The privacy unit).",
            "agent",
            choices=("agent",),
        ),
        PolicyKey(
            "accounting_period",
            "text",
            "The period a budget cap applies to: a calendar month. A release window that touches two months is "
            "charged in full to both.",
            "month",
            choices=("month",),
        ),
        PolicyKey(
            "privacy_model",
            "text",
            "`zcdp`: Gaussian noise, budgets in zCDP rho (`budget_cap_rho`, a release's `rho`); `pure`: Laplace "
            "noise, budgets in epsilon (`budget_cap_epsilon`, `epsilon`). The other model's budget keys are refused.",
            "zcdp",
            choices=("zcdp", "pure"),
            required=NEVER,
            default="`zcdp`",
        ),
        PolicyKey(
            "budget_cap_rho",
            EXACT,
            "The most rho any agent may lose per accounting period, all releases and corrections together. A "
            "release that would take any month it touches over it is refused before any noise is drawn.",
            '"1.0"',
            allowed="above 0",
            required=("zcdp",),
            models=("zcdp",),
        ),
        PolicyKey(
            "budget_cap_epsilon",
            EXACT,
            "The most epsilon any agent may lose per accounting period under pure DP (as `budget_cap_rho`).",
            '"2"',
            allowed="above 0",
            required=("pure",),
            models=("pure",),
        ),
        PolicyKey(
            "budget_cap_year_rho",
            EXACT,
            "The most rho any agent may lose in any rolling year (12 consecutive calendar months); checked before "
            "any noise is drawn, like the monthly cap.",
            '"6"',
            allowed="at least `budget_cap_rho`",
            required=NEVER,
            default="none; the monthly cap alone bounds a year at 12 times itself",
            models=("zcdp",),
        ),
        PolicyKey(
            "budget_cap_year_epsilon",
            EXACT,
            "The most epsilon any agent may lose in any rolling year under pure DP (as `budget_cap_year_rho`).",
            '"12"',
            allowed="at least `budget_cap_epsilon`",
            required=NEVER,
            default="none; the monthly cap alone bounds a year at 12 times itself",
            models=("pure",),
        ),
        PolicyKey(
            "report_delta",
            EXACT,
            "The delta at which zCDP spend is also reported as (epsilon, delta) in reports and plans; it is not "
            "a budget. Pure DP has delta 0.",
            '"1e-9"',
            allowed="above 0 and below 1",
            required=("zcdp",),
            default="0",
        ),
        PolicyKey(
            "min_group_size",
            "integer",
            "The fewest roster agents a published group may have; a smaller group is never published alone (see "
            "`small_groups`). A bounds suggestion also needs this many agents.",
            "10",
            allowed="2 or more",
        ),
        PolicyKey(
            "group_assignment",
            "text",
            "The group an agent who moved inside a window counts in: that of the roster snapshot of the window's "
            "first day.",
            "first_day",
            choices=("first_day",),
        ),
        PolicyKey(
            "small_groups",
            "text",
            "A team under `min_group_size`: `suppress` leaves it out; `merge_into_parent` pools the small teams of "
            'a site into one group `"<site>: small teams merged"`, published if the pool reaches the minimum. A '
            "small site is always suppressed.",
            "merge_into_parent",
            choices=("suppress", "merge_into_parent"),
            required=NEVER,
            default="`suppress`",
        ),
        PolicyKey(
            "max_corrections_per_window",
            "integer",
            "How often a published window may be released again as a marked correction when its metrics were "
            "recomputed after publication (late data); each correction costs the release's budget again. "
            + _POLICY_LEVEL,
            "1",
            allowed="0 or more",
            required=NEVER,
            default="0",
        ),
        PolicyKey(
            "max_relative_half_width",
            EXACT,
            "The accuracy limit: a release whose predicted 95% interval, for its smallest published group at "
            'typical values, reaches further from a figure than this share of it ("2": 200%) is refused before '
            "any noise is drawn. Predicted from the policy and the roster's group sizes only (`teamlens plan`). "
            + _POLICY_LEVEL,
            '"2"',
            allowed="above 0",
            required=NEVER,
            default="no accuracy limit",
        ),
        PolicyKey(
            "clipping_check_share",
            "exact fraction (quoted string)",
            "The share of each release's budget spent on noisy counts of the agents whose window total exceeded a "
            "sum's bound; `teamlens report` flags a sum as likely understated from them (docs/privacy.md, The "
            "clipping check). " + _POLICY_LEVEL,
            '"1/40"',
            allowed="above 0 and below 1/2",
            required=NEVER,
            default="no clipping check",
        ),
        PolicyKey(
            "bounds_suggestion",
            "mapping (see bounds_suggestion below)",
            "What `teamlens plan --suggest-bounds` may spend to suggest clipping bounds (docs/privacy.md, "
            "Suggesting bounds).",
            '{quantile: "0.95", rho: "0.05"}',
            allowed="see its keys below",
            required=NEVER,
            default="suggestions are refused",
        ),
        PolicyKey(
            "retention_days",
            "mapping of zone to days (see retention_days below)",
            "How long each zone of the data lake keeps a day's files; enforced daily by the retention DAG.",
            "{landing: 14, staged: 30, quarantine: 30, metrics: 90, reports: 30}",
            allowed="see its keys below",
        ),
        PolicyKey(
            "desktop_app_categories",
            "mapping of category to a list of application names",
            "Application names that put a desktop event in a category, matched in any case and without a platform "
            "suffix (`.exe`, `.app`): `OUTLOOK.EXE` matches `outlook`. The rules are tried in order, the "
            "first match wins: the URL's host, the application name, a title keyword, a "
            "browser application (`web`); anything else is `other`. Names, titles and URLs are dropped after.",
            "{crm: [salesforce, zendesk], communication: [outlook, teams]}",
            allowed=f"categories {_CATEGORIES}; non-empty names",
        ),
        PolicyKey(
            "desktop_url_categories",
            "mapping of category to a list of host names",
            "Hosts of a browser tab's URL that put it in a category; a listed host matches itself and its subdomains.",
            "{crm: [salesforce.com, zendesk.com]}",
            allowed=f"categories {_CATEGORIES}; host names such as `example.com` (no scheme or path)",
            required=NEVER,
            default="no host rules",
        ),
        PolicyKey(
            "desktop_title_keywords",
            "mapping of category to a list of keywords",
            "Keywords of a window or tab title (case-insensitive) that put it in a category.",
            "{knowledge_base: [confluence, knowledge base]}",
            allowed=f"categories {_CATEGORIES}; non-empty keywords",
            required=NEVER,
            default="no keyword rules",
        ),
        PolicyKey(
            "status_name_keywords",
            "mapping of category to a list of words",
            "Words that sort agent status names and schedule activity names into categories: a name containing "
            "a word (any case) belongs to its category; categories are tried in the fixed order break, meeting, "
            "training, other. A not-ready status name with none of the words counts as `other` and is named in "
            "the run summary; schedule activity names are only counted there (they may be personal).",
            "{break: [break, pause, lunch, mittag], meeting: [meeting, besprechung], training: [training, schulung]}",
            allowed="categories `break`, `meeting`, `training`, `other`; non-empty words, each under one category",
            required=NEVER,
            default="no words: every not-ready status name is reported as not in the table",
        ),
        PolicyKey(
            "planning",
            "mapping (see planning below)",
            "Planning releases: contacts offered per interval of the week and handle time per queue, for staffing "
            "(docs/privacy.md, Planning releases).",
            "{offered: exact, queues: {Billing Berlin: Berlin}, releases: [{name: queue_month_intervals, purpose: "
            'Staffing, window: month, rho: "0.1", bounds: {contacts_handled: 1300, handle_seconds: 520000, '
            "acw_seconds: 150000}}]}",
            allowed="see the planning section",
            required=NEVER,
            default="no planning releases",
            models=("zcdp",),
        ),
        PolicyKey(
            "releases",
            "list of mappings (see releases below)",
            "The closed list of permitted releases; anything not listed is refused.",
            "[{name: team_month_contacts, purpose: Monthly contacts per team, group_by: team, window: month, "
            'rho: "0.5", sums: {contacts_handled: 1300}}]',
            allowed="at least one; names unique",
        ),
        PolicyKey(
            "surveys",
            "list of mappings (see surveys below)",
            "Pulse surveys whose answers are ingested and released per team and site under the same budget "
            "(docs/privacy.md, Pulse surveys).",
            "[{id: pulse, purpose: Monthly pulse, measure: team_month_contacts_aht.aht_seconds, window: month, "
            "rho: \"0.02\", questions: [{id: enps, scale: enps_0_10, text: 'Would you recommend us?'}]}]",
            allowed="ids unique",
            required=NEVER,
            default="no surveys: survey exports are refused at ingestion",
        ),
    ),
)

RETENTION_DAYS = PolicySection(
    "retention_days",
    "Days a zone keeps a day partition: day D is kept while (as of - D) <= days and deleted once older; "
    "each deletion run is recorded in the ledger first (`teamlens retention`).",
    tuple(
        PolicyKey(zone, "integer", meaning, example, allowed="1 or more", required=NEVER, default=default)
        for zone, meaning, example, default in (
            ("landing", "Raw source files under landing/.", "14", "kept"),
            ("staged", "Canonical tables under staged/.", "30", "kept"),
            ("quarantine", "Rows refused at ingestion or validation, with their reason.", "30", "kept"),
            ("metrics", "The restricted agent_day and queue_day tables and their completion markers.", "90", "kept"),
            (
                "reports",
                "The per-day run reports of ingestion and validation (exact counts, restricted).",
                "30",
                "the longer of `staged` and `quarantine`; kept when neither is set",
            ),
        )
    ),
)

RELEASE = PolicySection(
    "releases",
    "Each entry of `releases`: one permitted release.",
    (
        PolicyKey(
            "name",
            "text",
            "The release's name: the warehouse, the ledger and `--release` use it.",
            "team_month_contacts_aht",
            allowed="unique in the policy",
        ),
        PolicyKey(
            "purpose",
            "text",
            "Why it is published, in words for the works council; stored with each release.",
            "Monthly workload per team for staffing plans.",
            allowed="any text",
        ),
        PolicyKey(
            "group_by",
            "text",
            "The groups whose sums are published: teams or sites of the roster.",
            "team",
            choices=("team", "site"),
        ),
        PolicyKey(
            "window",
            "text",
            "The window each figure covers: a site-local day, an ISO week (Monday to Sunday) or a calendar month.",
            "month",
            choices=("day", "week", "month"),
        ),
        PolicyKey(
            "rho",
            EXACT,
            "What one window of this release costs each agent, split evenly over its sums (less the clipping "
            "check's share). A month is charged once per window touching it (up to 31 days or 6 weeks).",
            '"0.5"',
            allowed="above 0",
            required=("zcdp",),
            models=("zcdp",),
        ),
        PolicyKey(
            "epsilon",
            EXACT,
            "The same under pure DP: what one window costs each agent, in epsilon.",
            '"1"',
            allowed="above 0",
            required=("pure",),
            models=("pure",),
        ),
        PolicyKey(
            "sums",
            "mapping of metric to clipping bound",
            "The agent_day metrics summed per group and window, each with its bound per agent per window: an "
            "agent's window total is clipped to [0, bound] before noise, so the noise grows with the bound and a "
            "bound set too low understates the figure (docs/metrics.md).",
            "{contacts_handled: 1300, handle_seconds: 520000}",
            allowed=f"at least one; metrics {_SUMMABLE}; bounds are integers of 1 or more",
        ),
        PolicyKey(
            "ratios",
            "mapping of name to a ratio (see ratios below)",
            "Ratios of the release's noisy sums (average handle time = handle_seconds / contacts_handled; "
            "occupancy = handle_seconds / (handle_seconds + available_idle_seconds)), computed from the published "
            "sums at no further cost.",
            "{aht_seconds: {numerator: handle_seconds, denominator: contacts_handled, max: 3600}}",
            allowed="see its keys below",
            required=NEVER,
            default="no ratios",
        ),
        PolicyKey(
            "typical",
            "mapping of sum to number",
            "The typical window total of one agent for a sum (domain knowledge, never the data); the accuracy "
            "prediction (`teamlens plan`, `max_relative_half_width`) uses it.",
            "{handle_seconds: 300000}",
            allowed="sums of this release; above 0 and at most the sum's bound",
            required=NEVER,
            default="half of each bound",
        ),
        PolicyKey(
            "max_relative_half_width",
            EXACT,
            "This release's accuracy limit, instead of the policy's.",
            '"1.5"',
            allowed="above 0",
            required=NEVER,
            default="the policy's",
        ),
        PolicyKey(
            "max_corrections_per_window",
            "integer",
            "This release's limit on corrections per window, instead of the policy's.",
            "1",
            allowed="0 or more",
            required=NEVER,
            default="the policy's",
        ),
        PolicyKey(
            "clipping_check_share",
            "exact fraction (quoted string)",
            "This release's clipping check share, instead of the policy's.",
            '"1/20"',
            allowed="above 0 and below 1/2",
            required=NEVER,
            default="the policy's",
        ),
    ),
)

RATIO = PolicySection(
    "ratios",
    "Each entry of a release's `ratios`: the published ratio numerator / denominator, clamped to [0, max].",
    (
        PolicyKey("numerator", "text", "The sum above the line.", "handle_seconds", allowed="a sum of this release"),
        PolicyKey(
            "denominator",
            "text",
            "The sum below the line, or several sums joined by + whose total is below the line; the numerator may "
            "be one of them, as in a share of time (occupancy: handle_seconds + available_idle_seconds).",
            "contacts_handled",
            allowed="sums of this release, each once, joined by +",
        ),
        PolicyKey("max", "number", "The largest value the ratio is published as.", "3600", allowed="above 0"),
    ),
)

BOUNDS_SUGGESTION = PolicySection(
    "bounds_suggestion",
    "The budget and quantile of `teamlens plan --suggest-bounds`: a differentially private quantile of the "
    "agents' window totals of each sum, over all agents of the center, recorded in the ledger like a release.",
    (
        PolicyKey(
            "quantile",
            EXACT,
            "The share of agents whose window total the suggested bound should cover.",
            '"0.95"',
            allowed="above 0 and below 1",
        ),
        PolicyKey(
            "rho",
            EXACT,
            "What one suggestion (all sums of one release, one window) costs each agent.",
            '"0.05"',
            allowed="above 0, at most `budget_cap_rho`",
            required=("zcdp",),
            models=("zcdp",),
        ),
        PolicyKey(
            "epsilon",
            EXACT,
            "The same under pure DP, in epsilon.",
            '"0.1"',
            allowed="above 0, at most `budget_cap_epsilon`",
            required=("pure",),
            models=("pure",),
        ),
        PolicyKey(
            "max_factor",
            "integer",
            "The public grid of candidate bounds reaches this many times the current bound.",
            "8",
            allowed="2 or more",
            required=NEVER,
            default="4",
        ),
    ),
)

SECTIONS: tuple[PolicySection, ...] = (TOP_LEVEL, RETENTION_DAYS, RELEASE, RATIO, BOUNDS_SUGGESTION)
