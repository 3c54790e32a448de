"""What the works council reads: the policy, the budget per agent, the ledger's events and state.

Pure functions over an open connection to the published snapshot (warehouse.snapshot), shared by
the works council's pages (teamlens/dashboard/council.py) and the monthly statement
(teamlens/statement.py). Everything here comes from the privacy ledger and the budget spend: the
policy as approved (its 'policy_approved' entries), what each release cost every agent, what was
refused, corrected, suppressed and deleted. Nothing here is about one agent: under the agent as
the privacy unit every agent's budget is the same, so "budget per agent" is one figure per month.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from foundation.budget import Budget, BudgetUnit, sum_budgets
from foundation.windows import periods_touched, rolling_year
from privacy import checkpoint as cp
from privacy.budgets import spend_in_unit
from privacy.ledger import LedgerVerification, entry_budget
from privacy.statements import ENTRY_TYPE as STATEMENT
from privacy.subject_access import ENTRY_TYPE as SUBJECT_ACCESS
from privacy.verify import ledger_leaves, ledger_rows, verify_connection
from teamlens.labels import window_label
from warehouse import store

WINDOW_WORDS = {"day": "each day", "week": "each week (Monday to Sunday)", "month": "each calendar month"}
GROUP_WORDS = {"team": "per team", "site": "per site"}
SMALL_GROUP_WORDS = {
    "suppress": "not published",
    "merge_into_parent": "pooled with the other small teams of their site; published only if the pool is large enough",
}
EVENT_KINDS = {
    "policy_approved": "Policy approved",
    "release": "Release",
    "correction": "Correction",
    "refusal": "Refusal",
    "retention_deletion": "Retention deletion",
    STATEMENT: "Monthly statement",
    SUBJECT_ACCESS: "Subject access export",
}


# --- the policy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseRule:
    """One release the policy allows, in the works council's terms."""

    name: str
    purpose: str
    group_by: str
    window: str
    sums: list[tuple[str, Any]]  # (metric, the most one agent can add per window)
    ratios: list[tuple[str, str, str, Any]]  # (name, numerator, denominator, largest value)
    budget: Budget

    @property
    def grouping(self) -> str:
        return GROUP_WORDS.get(self.group_by, f"per {self.group_by}")

    @property
    def window_words(self) -> str:
        return WINDOW_WORDS.get(self.window, self.window)


@dataclass(frozen=True)
class PolicyView:
    """A policy as its ledger entry records it: the rules and who approved it when."""

    seq: int
    recorded_at: str
    version: int
    sha256: str
    privacy_model: str
    cap: Budget
    year_cap: Budget | None
    delta: str | None
    min_group_size: int
    small_groups: str
    retention_days: dict[str, int]
    max_corrections_per_window: int
    approved_by_role: str | None
    approved_by_name: str | None
    approved_at: str | None
    releases: list[ReleaseRule] = field(default_factory=list)
    # planning: (queue, site, teams answering it); no teams means the whole site is the queue's group
    planned_queues: list[tuple[str, str, list[str]]] = field(default_factory=list)

    @property
    def unit(self) -> BudgetUnit:
        return self.cap.unit

    @property
    def model_words(self) -> str:
        return "pure differential privacy (epsilon)" if self.unit == "epsilon" else "zero-concentrated DP (rho)"

    @property
    def small_group_words(self) -> str:
        return SMALL_GROUP_WORDS.get(self.small_groups, self.small_groups)


def _number(value: Any) -> Any:
    """3600.0 as 3600: a bound as people write it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _planning_ratios(release: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """A recorded planning release's ratios: service ratios, handle-time ratios, or none (exact counts alone)."""
    if release.get("figures") == "service":
        return [
            ("abandon_rate", "abandoned", "offered", 1),
            ("service_level", "answered_within_threshold", "offered", 1),
            ("asa_seconds", "answer_wait_seconds", "contacts_handled", 3600),
        ]
    if not release.get("noisy_sums"):
        return []
    return [
        ("aht_seconds", "handle_seconds", "contacts_handled", 3600),
        ("average_acw_seconds", "acw_seconds", "contacts_handled", 3600),
    ]


def policy_of_entry(seq: int, recorded_at: str, doc: dict[str, Any]) -> PolicyView:
    """The policy a 'policy_approved' payload records (privacy.ledger.policy_payload)."""
    unit: BudgetUnit = "epsilon" if doc.get("budget_unit") == "epsilon" else "rho"
    year_text = doc.get(f"budget_cap_year_{unit}")
    approved = doc.get("approved_by") or {}
    rules = [
        ReleaseRule(
            name=r["name"],
            purpose=r["purpose"],
            group_by=r["group_by"],
            window=r["window"],
            sums=list(r.get("sums", {}).items()),
            ratios=[(q["name"], q["numerator"], q["denominator"], _number(q.get("max"))) for q in r.get("ratios", [])],
            budget=Budget.parse(unit, r["epsilon"] if unit == "epsilon" else r["rho"]),
        )
        for r in doc.get("releases", [])
    ]
    planning = doc.get("planning") or {}
    rules += [  # planning releases: per queue; the council's offered decision said with each
        ReleaseRule(
            name=r["name"],
            purpose=f"{r['purpose']} Offered and answered contacts: {planning.get('offered')} "
            "(the works council's decision, policy planning.offered).",
            group_by="queue",
            window=r["window"],
            sums=[(m, b) for m, b in r.get("bounds", {}).items() if m in r.get("noisy_sums", [])],
            ratios=_planning_ratios(r),
            budget=Budget.parse(unit, r["rho"]),
        )
        for r in planning.get("releases", [])
    ]
    return PolicyView(
        seq=seq,
        recorded_at=recorded_at,
        version=int(doc["policy_version"]),
        sha256=doc["policy_sha256"],
        privacy_model=doc.get("privacy_model", "zcdp"),
        cap=Budget.parse(unit, doc[f"budget_cap_{unit}"]),
        year_cap=None if year_text is None else Budget.parse(unit, year_text),
        delta=None if unit == "epsilon" else doc.get("report_delta"),
        min_group_size=int(doc["min_group_size"]),
        small_groups=doc.get("small_groups", "suppress"),
        retention_days=dict(doc.get("retention_days", {})),
        max_corrections_per_window=int(doc.get("max_corrections_per_window", 0)),
        approved_by_role=approved.get("role"),
        approved_by_name=approved.get("name"),
        approved_at=doc.get("approved_at"),
        releases=rules,
        planned_queues=[
            (queue, site, list(planning.get("queue_teams", {}).get(queue, [])))
            for queue, site in planning.get("queues", {}).items()
        ],
    )


def policies(con: duckdb.DuckDBPyConnection) -> list[PolicyView]:
    """Every policy recorded in the ledger, oldest first."""
    if not store.has_table(con, "ledger"):
        return []
    found = con.execute(
        "SELECT seq, recorded_at, payload FROM ledger WHERE entry_type = 'policy_approved' ORDER BY seq"
    ).fetchall()
    return [policy_of_entry(int(seq), at, json.loads(payload)) for seq, at, payload in found]


def policy_in_force(con: duckdb.DuckDBPyConnection, until_seq: int | None = None) -> PolicyView | None:
    """The policy approved last (releases run only under an approved policy), or None; with
    `until_seq`: the last one recorded at or before that ledger entry."""
    found = [p for p in policies(con) if until_seq is None or p.seq <= until_seq]
    return found[-1] if found else None


def policy_changes(before: PolicyView | None, after: PolicyView) -> list[str]:
    """What a policy changed against the one before it, in plain words."""
    if before is None:
        return ["first policy recorded"]
    if before.sha256 == after.sha256:
        return ["the same policy, approved again"]
    out = []
    old = {r.name: r for r in before.releases}
    new = {r.name: r for r in after.releases}
    out += [f"new release {name}" for name in new if name not in old]
    out += [f"release {name} removed" for name in old if name not in new]
    out += [f"release {name} changed" for name in new if name in old and new[name] != old[name]]
    if before.cap != after.cap:
        out.append(f"monthly cap {before.cap} -> {after.cap}")
    if before.year_cap != after.year_cap:
        out.append(f"yearly cap {before.year_cap or 'none'} -> {after.year_cap or 'none'}")
    if before.min_group_size != after.min_group_size:
        out.append(f"minimum group size {before.min_group_size} -> {after.min_group_size}")
    if before.retention_days != after.retention_days:
        out.append("retention periods changed")
    if before.planned_queues != after.planned_queues:
        out.append("planned queues or the teams answering them changed")
    return out or ["other settings changed (categories of desktop use, wording)"]


def policy_history(con: duckdb.DuckDBPyConnection) -> list[tuple[PolicyView, list[str]]]:
    """Every policy with what it changed, newest first."""
    found = policies(con)
    return [(p, policy_changes(found[i - 1] if i else None, p)) for i, p in enumerate(found)][::-1]


# --- the budget --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthBudget:
    """What every agent's budget spent in one month, against the monthly cap."""

    period: str
    spent: Budget | None  # None: the month holds spend with no bound in the policy's unit
    cap: Budget
    releases: int

    @property
    def within_cap(self) -> bool:
        return self.spent is not None and self.spent <= self.cap

    @property
    def share(self) -> float | None:
        """The part of the cap spent (0.5: half)."""
        return None if self.spent is None else float(self.spent.amount / self.cap.amount)


@dataclass(frozen=True)
class YearBudget:
    """The 12 months ending with `last`: their spend adds up."""

    first: str
    last: str
    spent: Budget | None
    cap: Budget | None  # None: the policy sets no yearly cap

    @property
    def within_cap(self) -> bool | None:
        return None if self.cap is None else self.spent is not None and self.spent <= self.cap


def _spend(con: duckdb.DuckDBPyConnection, unit: BudgetUnit) -> tuple[dict[str, Budget], set[str], dict[str, int]]:
    rows = store.spend_rows(con)
    spent, unbounded = spend_in_unit(rows, unit)
    counts: dict[str, int] = {}
    for period, _, _ in rows:
        counts[period] = counts.get(period, 0) + 1
    return spent, unbounded, counts


def budget_by_month(con: duckdb.DuckDBPyConnection, policy: PolicyView) -> list[MonthBudget]:
    """Per month with spend, oldest first: the exact spend per agent in the policy's unit against its cap."""
    spent, unbounded, counts = _spend(con, policy.unit)
    return [
        MonthBudget(p, None if p in unbounded else spent.get(p, Budget.zero(policy.unit)), policy.cap, counts[p])
        for p in sorted(counts)
    ]


def month_budget(con: duckdb.DuckDBPyConnection, policy: PolicyView, period: str) -> MonthBudget:
    """One month's spend (zero when nothing was charged to it)."""
    found = {m.period: m for m in budget_by_month(con, policy)}
    return found.get(period, MonthBudget(period, Budget.zero(policy.unit), policy.cap, 0))


def year_budget(con: duckdb.DuckDBPyConnection, policy: PolicyView, last: str | None = None) -> YearBudget | None:
    """The rolling year ending with `last` (default: the latest month with spend); None when nothing was spent."""
    spent, unbounded, counts = _spend(con, policy.unit)
    if last is None:
        if not counts:
            return None
        last = max(counts)
    months = rolling_year(last)
    total = (
        None
        if unbounded & set(months)
        else sum_budgets([spent.get(m, Budget.zero(policy.unit)) for m in months], policy.unit)
    )
    return YearBudget(months[0], last, total, policy.year_cap)


def budget_chart(months: list[MonthBudget]) -> dict[str, Any]:
    """A Vega-Lite spec: the spend per month as bars, the monthly cap as a red tick above each
    (teamlens.dashboard.charts.to_svg). Months are labelled as people say them (Oct 2026), in
    time order; the scale leaves room above the cap so that its mark is not on the frame."""
    values = [
        {
            "month": dt.date(int(m.period[:4]), int(m.period[5:]), 1).strftime("%b %Y"),
            "spent": float(m.spent.amount) if m.spent else None,
            "cap": float(m.cap.amount),
        }
        for m in months
    ]
    unit = months[0].cap.unit if months else "rho"
    amounts = [float(m.cap.amount) for m in months] + [float(m.spent.amount) for m in months if m.spent]
    top = max(amounts, default=0.0)
    x = {"field": "month", "type": "ordinal", "title": None, "sort": None, "axis": {"labelAngle": -40}}
    y_scale = {"domainMin": 0, "domainMax": top * 1.15} if top > 0 else {}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "width": 520,
        "height": 220,
        "layer": [
            {
                "mark": {"type": "bar", "color": "#4c78a8"},
                "encoding": {
                    "x": x,
                    "y": {
                        "field": "spent",
                        "type": "quantitative",
                        "title": f"budget spent ({unit})",
                        "scale": y_scale,
                    },
                },
            },
            {
                "mark": {"type": "tick", "color": "#c0392b", "thickness": 3, "size": 40},
                "encoding": {"x": x, "y": {"field": "cap", "type": "quantitative"}},
            },
        ],
    }


# --- the ledger's events -----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One ledger entry in plain words."""

    seq: int
    recorded_at: str
    kind: str  # a key of EVENT_KINDS
    title: str
    details: list[str]
    periods: tuple[str, ...] = ()  # the months a release or refused window touches

    @property
    def label(self) -> str:
        return EVENT_KINDS[self.kind]

    @property
    def month(self) -> str:
        return self.recorded_at[:7]

    @property
    def when(self) -> str:
        return f"{self.recorded_at[:10]} {self.recorded_at[11:16]} UTC"


def _window(doc: dict[str, Any]) -> str:
    return window_label(dt.date.fromisoformat(doc["window_start"]), dt.date.fromisoformat(doc["window_end"]))


def group_notes(doc: dict[str, Any]) -> list[str]:
    """A release entry's small groups: merged into a pool, or not published, with their roster size."""
    out = []
    merged: dict[str, list[str]] = {}
    for name, pool in doc.get("merged_groups", {}).items():
        merged.setdefault(pool, []).append(name)
    for pool, names in sorted(merged.items()):
        out.append(f"pooled as '{pool}' (each under the minimum group size): {', '.join(sorted(names))}")
    sizes = {g["group_value"]: g["roster_size"] for g in doc.get("groups", [])}
    for name in doc.get("suppressed_groups", []):
        out.append(f"not published, too few agents: {name} ({sizes.get(name, '?')} agents)")
    return out


def _release_event(seq: int, at: str, doc: dict[str, Any]) -> Event:
    unit, amount = entry_budget(doc)
    groups = doc.get("groups", [])
    released = sum(1 for g in groups if g["status"] == "released")
    correction = int(doc.get("correction") or 0)
    details = [
        f"{released} of {len(groups)} groups published; budget {unit} {amount} per agent, charged to "
        + ", ".join(doc.get("periods", []))
    ]
    if correction:
        details.append(f"correction {correction}: replaces the earlier figures of this window (late data)")
    details += group_notes(doc)
    kind = "correction" if correction else "release"
    return Event(seq, at, kind, f"{doc['release_name']}, {_window(doc)}", details, tuple(doc.get("periods", [])))


def _event(seq: int, entry_type: str, at: str, doc: dict[str, Any]) -> Event:
    if entry_type == "release":
        return _release_event(seq, at, doc)
    if entry_type == "refusal":
        title = (
            f"{doc.get('release_name')}, {_window(doc)}" if doc.get("window_start") else str(doc.get("release_name"))
        )
        periods = (
            tuple(periods_touched(dt.date.fromisoformat(doc["window_start"]), dt.date.fromisoformat(doc["window_end"])))
            if doc.get("window_start")
            else ()
        )
        return Event(seq, at, "refusal", title, [f"not released: {doc.get('message') or doc.get('reason')}"], periods)
    if entry_type == "retention_deletion":
        zones = doc.get("zones", {})
        details = [
            f"{zone}: {len(z.get('days', []))} days deleted (kept from {z.get('oldest_kept_day')}, "
            f"{z.get('retention_days')} days retention)"
            for zone, z in sorted(zones.items())
            if z.get("days")
        ]
        return Event(
            seq, at, "retention_deletion", f"old raw and working data deleted as of {doc.get('as_of')}", details
        )
    if entry_type == STATEMENT:
        names = ", ".join(f["name"] for f in doc.get("files", {}).values())
        return Event(
            seq,
            at,
            STATEMENT,
            f"statement for {doc['month']} (version {doc['version']})",
            [f"files {names}; SHA-256 of the PDF {doc.get('files', {}).get('pdf', {}).get('sha256', '-')}"],
        )
    if entry_type == SUBJECT_ACCESS:  # names nobody: that an agent received their own data, when
        details = [f"{doc.get('files')} files; SHA-256 of the export's manifest {doc.get('export_sha256')}"]
        return Event(
            seq, at, SUBJECT_ACCESS, f"an agent received a copy of their own data ({doc.get('date')})", details
        )
    policy = policy_of_entry(seq, at, doc)
    who = (
        f"approved by {policy.approved_by_role} ({policy.approved_by_name})"
        if policy.approved_by_role
        else "recorded before approvals named who approved"
    )
    return Event(seq, at, "policy_approved", f"policy version {policy.version} {who}", [f"policy {policy.sha256[:12]}"])


def timeline(con: duckdb.DuckDBPyConnection, month: str | None = None) -> list[Event]:
    """Every ledger entry as an event, oldest first (of the month it was recorded in, when given)."""
    if not store.has_table(con, "ledger"):
        return []
    found = con.execute(
        "SELECT seq, entry_type, recorded_at, payload FROM ledger "
        "WHERE ? IS NULL OR starts_with(recorded_at, ?) ORDER BY seq",
        [month, month],
    ).fetchall()
    return [_event(int(seq), entry_type, at, json.loads(payload)) for seq, entry_type, at, payload in found]


# --- the month's releases ------------------------------------------------------------------------


def release_register(con: duckdb.DuckDBPyConnection, period: str) -> list[dict[str, Any]]:
    """The releases charged to one month (its budget), in the order they were made: name, purpose,
    window, groups published / pooled / not published, budget, correction, when."""
    if not store.has_table(con, "budget_spend"):
        return []
    rows = store.fetch_dicts(
        con,
        "SELECT r.release_id, r.release_name, r.purpose, r.group_by, r.window_start, r.window_end, "
        "r.budget_unit, r.budget_amount_exact, r.correction, r.released_at, "
        "(SELECT min(l.seq) FROM ledger l WHERE l.entry_type = 'release' AND l.release_id = r.release_id) AS seq, "
        "(SELECT count(*) FROM release_groups g WHERE g.release_id = r.release_id AND g.status = 'released') "
        "AS released, "
        "(SELECT count(*) FROM release_groups g WHERE g.release_id = r.release_id "
        "AND g.status = 'merged_into_parent') AS pooled, "
        "(SELECT count(*) FROM release_groups g WHERE g.release_id = r.release_id "
        "AND g.status = 'suppressed_small_group') AS suppressed "
        "FROM releases r JOIN budget_spend b ON b.release_id = r.release_id AND b.period = ? "
        "ORDER BY r.released_at, r.release_id",
        [period],
    )
    for row in rows:
        row["window"] = window_label(row["window_start"], row["window_end"])
        row["budget"] = f"{row['budget_unit']} {row['budget_amount_exact']}"
        row["released_on"] = f"{row['released_at'].astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    return rows


# --- the ledger's state ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointView:
    """A signed checkpoint: which file, how many entries it covers, its root hash."""

    path: Path
    size: int
    root_hash: str
    verifier_path: Path


@dataclass(frozen=True)
class LedgerState:
    """The ledger verified now, and the signed checkpoint it was checked against."""

    verification: LedgerVerification
    checkpoint: CheckpointView | None
    checkpoint_problem: str | None


def _read_checkpoint(path: Path) -> CheckpointView | None:
    from foundation.lake import public_key_path

    key = public_key_path(path)
    if not key.is_file():
        key = path.with_name("latest.txt.pub")
    try:
        found = cp.open_note(path.read_text(encoding="utf-8"), key.read_text(encoding="utf-8"))
    except (OSError, cp.CheckpointError):
        return None
    return CheckpointView(path, found.size, found.root_hash.hex(), key)


def checkpoints(folder: Path) -> list[CheckpointView]:
    """The signed checkpoints in reports/checkpoints whose signature verifies, smallest first."""
    if not folder.is_dir():
        return []
    found = [c for p in sorted(folder.glob("*.txt")) if (c := _read_checkpoint(p)) is not None]
    return sorted(found, key=lambda c: (c.size, c.path.name != "latest.txt", c.path.name))


def checkpoint_covering(folder: Path, entries: int) -> CheckpointView | None:
    """The smallest signed checkpoint covering the first `entries` entries, else the largest there is."""
    found = checkpoints(folder)
    covering = [c for c in found if c.size >= entries and c.path.name != "latest.txt"]
    covering = covering or [c for c in found if c.size >= entries]
    if covering:
        return covering[0]
    return found[-1] if found else None


def ledger_state(con: duckdb.DuckDBPyConnection, checkpoint_folder: Path) -> LedgerState:
    """Verify the snapshot's ledger now (privacy.verify), against the latest signed checkpoint when there is one."""
    latest = checkpoint_folder / "latest.txt"
    view = _read_checkpoint(latest) if latest.is_file() else None
    if view is None:
        return LedgerState(verify_connection(con), None, None)
    note = latest.read_text(encoding="utf-8")
    verifier = view.verifier_path.read_text(encoding="utf-8")
    verification = verify_connection(con, note, verifier)
    problem = None
    if view.size > verification.entries:
        problem = "the snapshot is older than the latest checkpoint; it will catch up after the next publish"
        verification = verify_connection(con)
    return LedgerState(verification, view, problem)


def entries_until(con: duckdb.DuckDBPyConnection, month: str) -> int:
    """How many ledger entries were recorded up to the end of the month (UTC)."""
    return sum(1 for r in ledger_rows(con) if str(r[2])[:7] <= month)


def entry_hash_at(con: duckdb.DuckDBPyConnection, seq: int) -> str:
    """The entry_hash of ledger entry `seq` (64 zeros for 0: the chain's start)."""
    row = con.execute("SELECT entry_hash FROM ledger WHERE seq = ?", [seq]).fetchone()
    return "0" * 64 if row is None else str(row[0])


def merkle_root_of_first(con: duckdb.DuckDBPyConnection, size: int) -> str:
    """The Merkle root (hex) of the ledger's first `size` entries, to compare with a checkpoint."""
    return cp.merkle_root(ledger_leaves(ledger_rows(con)[:size])).hex()
