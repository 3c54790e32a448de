"""One agent's share in the releases, and the ledger's record of a subject access export.

`teamlens subject-access` (teamlens/subject_access.py) writes the complete copy of the data held
about one agent (GDPR Art. 15). Two of its parts belong to the privacy layer:

- `releases_of_agent`: for every stored release, whether the agent's records were in its window,
  the group they counted in (the roster group of the window's first day, assigned by the release's
  own function privacy.release.agent_window_totals, pooled as the release's recorded group
  decisions say) and whether that group was published; and what each release charged to every
  agent's budget per accounting period (budget_spend). Windows whose restricted records were
  deleted under the retention periods cannot be checked any more: their inclusion is "unknown"
  and their cost counts, as the accountant charged it to every agent.
- `record_subject_access`: the ledger entry 'subject_access' (date, purpose, the SHA-256 of the
  export's manifest, its number of files) through privacy.ledger.append_entry. It names nobody:
  the manifest holds a random export id, so nobody can recompute the hash of a candidate agent's
  export from the restricted zones and learn whose request it was (docs/privacy.md, Your own data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import polars as pl

from foundation import schema
from foundation.budget import Budget, BudgetUnit, sum_budgets
from foundation.policy import Policy, ReleaseSpec
from foundation.settings import Settings
from foundation.survey_policy import survey_release_parts
from privacy.groups import assign_merged_groups
from privacy.ledger import append_entry
from privacy.release import agent_window_totals, read_partitions, window_days, window_roster
from privacy.surveys import month_answers, respondent_rows
from warehouse import store
from warehouse.records import GroupDecision

ENTRY_TYPE = "subject_access"
PURPOSE = "GDPR Art. 15: the agent's copy of the data held about them"
Inclusion = Literal["included", "not included", "unknown"]


@dataclass(frozen=True)
class AgentRelease:
    """One stored release as it concerns one agent: inclusion, group (its name is public), cost."""

    release_id: str
    release_name: str
    purpose: str
    group_by: str
    window_start: dt.date
    window_end: dt.date
    correction: int
    inclusion: Inclusion
    group_value: str | None  # the (pooled) group the agent counted in; None when not included
    group_published: bool  # the agent's group has published figures
    cost: dict[str, Budget]  # accounting period -> what the release charged each agent

    def as_dict(self) -> dict[str, object]:
        return {
            "release_name": self.release_name,
            "purpose": self.purpose,
            "group_by": self.group_by,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "correction": self.correction,
            "your_data": self.inclusion,
            "your_group": self.group_value,
            "your_group_published": self.group_published,
            "cost_per_period": {p: {"unit": b.unit, "amount": b.text} for p, b in self.cost.items()},
        }


def _group_spec(release: dict[str, object]) -> ReleaseSpec:
    """A spec that carries only what group assignment reads (the group kind; no sums)."""
    return ReleaseSpec(
        name=str(release["release_name"]),
        purpose=str(release["purpose"]),
        group_by=release["group_by"],  # type: ignore[arg-type]
        window="day",
        rho=Fraction(0),
        sums={},
        ratios=(),
    )


def _agent_group(
    settings: Settings, policy: Policy, pseudonym: str, release: dict[str, object], con: object
) -> tuple[Inclusion, str | None, bool]:
    """(inclusion, the agent's group, whether it was published) for one release's window.

    Team and site releases count every agent of the window's roster (an agent without activity adds
    zeros); a planning release (group_by queue) the agents who answered contacts of its queues; a
    survey release the agents who answered the survey in the window.
    """
    start, end = release["window_start"], release["window_end"]
    assert isinstance(start, dt.date) and isinstance(end, dt.date)
    days = window_days(start, end)
    decisions = store.read_groups(con, str(release["release_id"]))  # type: ignore[arg-type]
    if release["group_by"] == "queue":
        return _queue_group(settings, pseudonym, days, decisions)
    roster = window_roster(settings, days)
    survey = survey_release_parts(str(release["release_name"]))
    if survey is not None:
        return _survey_group(settings, policy, pseudonym, survey, (start, end), roster, decisions)
    agent_day = read_partitions(settings.lake.table_root(schema.AGENT_DAY), days)
    if not agent_day.is_empty():
        agent_day = agent_day.filter(pl.col("agent_pseudonym") == pseudonym)
    if roster.is_empty() and agent_day.is_empty():
        return "unknown", None, False  # the window's restricted records are gone (retention)
    if not roster.is_empty():
        roster = roster.select("agent_pseudonym", "team", "site")
    else:
        roster = pl.DataFrame(schema={"agent_pseudonym": pl.String, "team": pl.String, "site": pl.String})
    spec = _group_spec(release)
    totals = agent_window_totals(agent_day, roster, spec)
    mine = assign_merged_groups(totals, decisions, spec.group_by).filter(pl.col("agent_pseudonym") == pseudonym)
    if mine.is_empty():
        return "not included", None, False
    group = str(mine[spec.group_by][0])
    published = any(d.group_value == group and d.status == "released" for d in decisions)
    return "included", group, published


def _queue_group(
    settings: Settings, pseudonym: str, days: list[dt.date], decisions: tuple[GroupDecision, ...]
) -> tuple[Inclusion, str | None, bool]:
    """A planning release: the queues whose contacts the agent answered in the window."""
    rows = read_partitions(settings.lake.table_root(schema.AGENT_QUEUE_DAY), days)
    if rows.is_empty():
        return "not included", None, False
    queues = sorted(set(rows.filter(pl.col("agent_pseudonym") == pseudonym)["queue"].to_list()))
    if not queues:
        return "not included", None, False
    published = any(d.group_value in queues and d.status == "released" for d in decisions)
    return "included", ", ".join(queues), published


def _survey_group(
    settings: Settings,
    policy: Policy,
    pseudonym: str,
    survey: tuple[str, str],
    window: tuple[dt.date, dt.date],
    roster: pl.DataFrame,
    decisions: tuple[GroupDecision, ...],
) -> tuple[Inclusion, str | None, bool]:
    """A survey release: included when the agent answered the survey in the window."""
    survey_id, group_by = survey
    spec = next((s for s in policy.surveys if s.survey_id == survey_id), None)
    if spec is None or roster.is_empty():
        return "unknown", None, False
    answers = month_answers(settings, spec, *window)
    mine = respondent_rows(answers, roster, spec, group_by).filter(pl.col("agent_pseudonym") == pseudonym)
    if mine.is_empty():
        return "not included", None, False
    group = str(mine[group_by][0])
    published = any(d.group_value == group and d.status == "released" for d in decisions)
    return "included", group, published


def releases_of_agent(settings: Settings, pseudonym: str, policy: Policy) -> list[AgentRelease]:
    """Every stored release (oldest window first) with the agent's inclusion, group and cost.

    Cost is what budget_spend records for the release per period: the accountant charges every
    agent the release's budget. A release that did not include the agent costs them nothing.
    """
    path = settings.lake.warehouse_path
    if not path.exists():
        return []
    con = store.connect(path, read_only=True)
    try:
        if not store.has_table(con, "releases"):
            return []
        releases = store.fetch_dicts(
            con,
            "SELECT release_id, release_name, purpose, group_by, window_start, window_end, correction "
            "FROM releases ORDER BY window_start, release_name, correction",
        )
        spend: dict[str, dict[str, Budget]] = {}
        for period, release_id, budget in store.spend_rows(con):
            spend.setdefault(release_id, {})[period] = budget
        out = []
        for release in releases:
            inclusion, group, published = _agent_group(settings, policy, pseudonym, release, con)
            cost = {} if inclusion == "not included" else spend.get(str(release["release_id"]), {})
            out.append(
                AgentRelease(
                    release_id=str(release["release_id"]),
                    release_name=str(release["release_name"]),
                    purpose=str(release["purpose"]),
                    group_by=str(release["group_by"]),
                    window_start=release["window_start"],
                    window_end=release["window_end"],
                    correction=int(release["correction"] or 0),
                    inclusion=inclusion,
                    group_value=group,
                    group_published=published,
                    cost=dict(sorted(cost.items())),
                )
            )
        return out
    finally:
        con.close()


def budget_per_period(releases: list[AgentRelease], policy: Policy) -> list[dict[str, object]]:
    """Per accounting period: the budget the releases charged to the agent, against the monthly cap."""
    unit: BudgetUnit = policy.budget_unit
    periods: dict[str, list[Budget]] = {}
    for release in releases:
        for period, budget in release.cost.items():
            periods.setdefault(period, []).append(budget)
    rows: list[dict[str, object]] = []
    for period, budgets in sorted(periods.items()):
        in_unit = [b for b in budgets if b.unit == unit]
        total = sum_budgets(in_unit, unit)
        rows.append(
            {
                "period": period,
                "unit": unit,
                "releases": len(budgets),
                "spent": total.text,
                "cap": policy.budget_cap.text,
                "within_cap": total <= policy.budget_cap,
                "other_unit_releases": len(budgets) - len(in_unit),
            }
        )
    return rows


def record_subject_access(
    warehouse_path: Path, manifest_sha256: str, files: int, now: dt.datetime | None = None
) -> int:
    """Append the 'subject_access' ledger entry (one transaction); returns its seq.

    Payload: date, purpose, export_sha256 (the manifest's digest) and files. No identifier of the
    agent, nor of who ran it: the works council reads the ledger, and the operator and the date
    together could narrow down whose export it was (an operator per site or team). The entry says
    that an export was given, not to whom.
    """
    recorded_at = now or dt.datetime.now(dt.UTC)
    payload = {
        "date": recorded_at.date().isoformat(),
        "purpose": PURPOSE,
        "export_sha256": manifest_sha256,
        "files": files,
    }
    con = store.connect(warehouse_path)
    try:
        with store.transaction(con):
            append_entry(con, ENTRY_TYPE, payload, None, recorded_at)
            row = con.execute("SELECT max(seq) FROM ledger").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()
