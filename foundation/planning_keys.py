"""The keys of the policy's `planning:` block, declared once (as foundation.policy_keys does for the rest).

The parser (foundation.planning_policy) accepts and requires exactly these keys; docs/policy.md
lists them (teamlens.policy_doc).
"""

from __future__ import annotations

from foundation.policy_keys import EXACT, NEVER, PolicyKey, PolicySection

PLANNING = PolicySection(
    "planning",
    "Planning releases for workforce management: per queue, the contacts offered in each interval of the week "
    "and the queue's handle time, over a window (docs/privacy.md, Planning releases). Only under "
    "`privacy_model: zcdp`.",
    (
        PolicyKey(
            "offered",
            "text",
            "The works council's decision on the customers' side of a queue: `exact` publishes the contacts "
            "offered per interval and the contacts answered per queue as counted (no agent field is read: removing "
            "one agent's records changes neither, sensitivity 0, no budget); `noisy` adds Gaussian noise to them "
            "with per-agent bounds (`offered_bounds`, `bounds.contacts_handled`), charged to the release's rho.",
            "exact",
            choices=("exact", "noisy"),
        ),
        PolicyKey(
            "interval_minutes",
            "integer",
            "The length of the intervals of the week, site-local, as workforce management tools forecast them.",
            "30",
            choices=("15", "30", "60"),
            required=NEVER,
            default="30",
        ),
        PolicyKey(
            "queues",
            "mapping of queue to site, or to {site, teams}",
            "The queues planned, each with the site that answers it and, better, the roster teams that answer it "
            "(the skill assignment of the workforce management tool): public keys the center declares (never read "
            "from the data). The site gives the queue's clock (its time zone). The queue's group is its teams' "
            "roster agents at the site (the whole site when no teams are given), and the queue is published only "
            "when that group has at least `min_group_size` agents. Contacts of other queues are counted as not "
            "planned.",
            "{Billing Berlin: {site: Berlin, teams: [Berlin-Billing]}, Sales Toronto: Toronto}",
            allowed="non-empty queue names, each with a non-empty site name, or a mapping of `site` and a "
            "non-empty list of distinct `teams`",
        ),
        PolicyKey(
            "releases",
            "list of mappings (see planning releases below)",
            "The permitted planning releases (names unique among all releases).",
            '[{name: queue_month_intervals, purpose: Staffing forecast, window: month, rho: "0.1", '
            "bounds: {contacts_handled: 1300, handle_seconds: 520000, acw_seconds: 150000}}]",
            allowed="at least one",
        ),
    ),
)

PLANNING_RELEASE = PolicySection(
    "planning releases",
    "Each entry of `planning.releases`: one release per window for all planned queues.",
    (
        PolicyKey("name", "text", "The release's name.", "queue_month_intervals", allowed="unique among all releases"),
        PolicyKey("purpose", "text", "Why it is released, in words the works council reads.", "Staffing forecast"),
        PolicyKey(
            "window",
            "text",
            "The window whose interval totals are published (every occurrence of an interval in it added up).",
            "month",
            choices=("week", "month"),
        ),
        PolicyKey(
            "figures",
            "text",
            "What the release publishes per queue: `intervals`, the contacts offered per interval of the week (and "
            "handle time when rho is above 0); `service`, the queue's service figures over the window (contacts "
            "offered, abandoned, answered, answered within the service-level threshold and their waits, with "
            'abandon rate, service level and ASA), exact counts of customers\' contacts: only with rho "0" under '
            "`offered: exact`.",
            "service",
            choices=("intervals", "service"),
            required=NEVER,
            default="intervals",
        ),
        PolicyKey(
            "rho",
            EXACT,
            "What one window costs each agent: split evenly over the noisy parts (handle_seconds, acw_seconds; "
            'under `offered: noisy` also the answered counts and the offered interval counts). `"0"` under '
            "`offered: exact`: the release publishes the exact offered and answered counts only (no handle time, "
            "no bounds), at no budget.",
            '"0.12"',
            allowed='above 0, or "0" (exact counts only) under `offered: exact`',
        ),
        PolicyKey(
            "bounds",
            "mapping of sum to integer",
            "The most one agent may add per window, over all queues together: `contacts_handled` (used when "
            "`offered: noisy`), `handle_seconds`, `acw_seconds`. Each agent's totals are clipped to them before noise.",
            "{contacts_handled: 1300, handle_seconds: 520000, acw_seconds: 150000}",
            allowed="the three sums, each a positive integer; refused when rho is 0",
            required=NEVER,
            default='none: required when rho is above 0, refused when it is "0"',
        ),
        PolicyKey(
            "typical",
            "mapping of sum to number",
            "A typical agent's window total of a sum in its queue, for the accuracy prediction only.",
            "{handle_seconds: 280000, acw_seconds: 50000}",
            allowed="sums of `bounds`, above 0 and at most the bound",
            required=NEVER,
            default="half of each bound",
        ),
        PolicyKey(
            "offered_bounds",
            "mapping",
            "Under `offered: noisy`: the most answered contacts one agent adds to one interval cell "
            "(`per_interval`) and over the window (`per_window`).",
            "{per_interval: 8, per_window: 1300}",
            allowed="positive integers, per_interval at most per_window; required under `offered: noisy`",
            required=NEVER,
            default="none (required under `offered: noisy`)",
        ),
        PolicyKey(
            "max_relative_half_width",
            EXACT,
            "This release's accuracy limit instead of the policy's.",
            '"3"',
            allowed="above 0",
            required=NEVER,
            default="the policy's `max_relative_half_width`",
        ),
    ),
)

PLANNING_SECTIONS: tuple[PolicySection, ...] = (PLANNING, PLANNING_RELEASE)
