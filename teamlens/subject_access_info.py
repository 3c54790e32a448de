"""The information about the processing an Art. 15 export gives (teamlens/subject_access.py).

Everything here is the same for every agent and comes from the declarations the pipeline runs on:
the purposes from the policy's releases, the categories of data from the canonical schema
(foundation/schema), the retention periods from the policy, the sources from the registered
landing adapters (jobs/registry.py). Nothing here reads a record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foundation import schema
from foundation.policy import Policy
from jobs.registry import sources_for

YOU = "you"  # what the export writes where the restricted zones hold the agent's own pseudonym
SOMEONE_ELSE = "[someone else]"  # what it writes over any trace of another person

RECIPIENTS = [
    "Managers and the dashboard see only differentially private figures of whole teams and sites "
    "with at least the policy's minimum number of agents; never a row or a figure of one agent.",
    "The works council sees the privacy ledger: which releases were made, under which policy, at "
    "what cost to every agent's privacy budget, and that this export was given (not to whom).",
    "Nobody sees the per-agent rows listed in this export: they stay in the restricted zones, which "
    "only the pipeline reads, and are deleted after the retention periods below. The one exception "
    "is the register of the links to your personal page (when a link was issued or revoked, and by "
    "whom): it is kept as long as personal pages are offered, so that a revoked link stays revoked.",
]

RIGHTS = [
    "You may ask for wrong data to be corrected (rectification, GDPR Art. 16): the records come "
    "from the systems named under sources, so a correction is made there and reaches these zones "
    "with the next delivery.",
    "You may ask for your data to be erased or its processing restricted where the law allows "
    "(Art. 17 and 18); the retention periods below delete your records in any case (the link "
    "register excepted, see above).",
    "You may object to the processing (Art. 21) and you may complain to a data protection "
    "supervisory authority (Art. 77); the works council and the data protection officer can help.",
    "Figures already published are differentially private aggregates of groups: they cannot be "
    "traced back to you and are not erased with your records.",
]

HANDLING = [
    f"Your own pseudonym (a keyed hash of your employee id) is written as '{YOU}': it is the key "
    "that links the restricted tables, and a copy of this export that travels further should not "
    "carry it.",
    "contact_id is blank on a contact that another agent's record also names (a transferred or "
    "shared conversation): the id would point to a colleague's record. Nothing else of another "
    f"agent is written; any other trace of another person is replaced by '{SOMEONE_ELSE}'.",
    "Records refused at ingest (quarantine/<table>/ingest/...) are raw deliveries that were never "
    "linked to a person and are not searched here; rows refused by validation carry your pseudonym "
    "and are included.",
]


def _column_words(table: schema.Table) -> list[dict[str, str]]:
    return [{"column": c.name, "type": c.dtype, "meaning": c.description} for c in table.columns]


def categories() -> list[dict[str, Any]]:
    """Each table that holds per-agent rows: its zone, what a row is, its columns in words."""
    return [
        {"table": t.name, "zone": t.zone, "one_row_is": t.grain, "columns": _column_words(t)}
        for t in schema.ALL_TABLES.values()
        if "agent_pseudonym" in t.column_names
    ]


def sources(landing: Path) -> list[dict[str, str]]:
    """The landing sources that feed the per-agent tables, and the roster column they match."""
    out = [{"source": "roster", "table": "roster", "matched_by": "employee_id (the HR roster file)"}]
    for table in schema.STAGED_TABLES.values():
        if table.name == schema.ROSTER.name:
            continue
        for source in sources_for(table, landing):
            out.append({"source": source.name, "table": table.name, "matched_by": source.identity})
    return out


def purposes(policy: Policy) -> list[dict[str, str]]:
    """Each release the policy permits: its purpose, grouping and window."""
    return [
        {"release": s.name, "purpose": s.purpose, "groups": f"per {s.group_by}", "window": s.window}
        for s in policy.releases
    ]


def processing(policy: Policy, landing: Path) -> dict[str, Any]:
    """The information about the processing (Art. 15(1) a-h) as the export states it."""
    return {
        "controller_purpose": (
            "Team- and site-level workload and service figures, published with differential privacy; "
            "the agent is the privacy unit."
        ),
        "purposes": purposes(policy),
        "categories": categories(),
        "recipients": RECIPIENTS,
        "retention_days": dict(policy.retention_days),
        "sources": sources(landing),
        "automated_decisions": "None: no decision about a person is made from these data.",
        "rights": RIGHTS,
        "how_this_export_is_written": HANDLING,
    }


def readme_text(files: dict[str, str]) -> str:
    """README.txt: what each file of the export is."""
    lines = [
        "This folder is a copy of the data teamlens holds about one agent (GDPR Art. 15).",
        "It contains personal data: keep it where only that agent can read it.",
        "",
        "Files:",
    ]
    lines += [f"  {name}: {what}" for name, what in sorted(files.items())]
    lines += [
        "",
        "manifest.json lists the SHA-256 of every other file and a random export id; the privacy",
        "ledger records the SHA-256 of manifest.json (entry type subject_access) without naming anyone,",
        "so this copy can be shown to be the one that was given.",
        "",
    ]
    return "\n".join(lines)
