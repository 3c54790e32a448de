"""The privacy ledger: an append-only, hash-chained record of policies, releases and refusals.

Table `ledger` in the warehouse DuckDB file, one row per event:
seq (1, 2, 3, ... no gaps), entry_type ('policy_approved', 'release', 'refusal',
'retention_deletion', 'statement', 'subject_access'), recorded_at, release_id (NULL for policy
entries), payload, prev_hash, entry_hash. DuckDB has no triggers or grants, so append-only
cannot be enforced; it is made detectable: every entry commits to the one before it.

How to recompute the chain without our code (the exact recipe):

1. Read the rows ordered by seq. The first must have seq 1 and each next one seq + 1.
2. For each row build the canonical entry text, byte for byte:
       {"entry_type":"<entry_type>","payload":<payload>,"recorded_at":"<recorded_at>",
        "release_id":"<release_id>","seq":<seq>}
   on one line without spaces or newlines, where <payload> is the payload column exactly as
   stored (it is itself canonical JSON: keys sorted, separators ',' and ':', no spaces, non-ASCII
   written as \\uXXXX), <seq> is the integer in decimal, and "release_id":null (no quotes) when
   release_id is NULL. entry_type, recorded_at and release_id contain only the characters
   A-Z a-z 0-9 _ . : - so they need no JSON escaping. recorded_at is stored as text in the layout
   YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC) and hashed as stored. This is the same as Python's
   json.dumps({"seq":..., "entry_type":..., "recorded_at":..., "release_id":..., "payload":
   json.loads(payload)}, sort_keys=True, separators=(",", ":"), ensure_ascii=True).
3. entry_hash = lowercase hex of SHA-256 over the bytes of prev_hash (its 64 ASCII hex
   characters) followed by the bytes of the canonical entry text (ASCII).
4. prev_hash of the first entry is 64 zeros ("0" * 64); prev_hash of every later entry is the
   entry_hash of the entry before it.
AUDIT_SQL["chain_check"] does exactly this in plain DuckDB SQL.

A rewrite of the whole chain from some entry onward cannot be detected from the file alone:
write down the head hash (`verify_ledger(...).head_hash`, or the last entry_hash) outside the
file, for example in the works council's minutes, and compare later.

Exact numbers in payloads: budgets (rho or epsilon, caps, delta) are strings with the exact
decimal value ("0.1") or "p/q" when the fraction has no finite decimal. Converted epsilons are
floats (reporting only). Payload of a 'policy_approved' entry (written by `teamlens policy
approve`, privacy/approval.py): the whole policy (policy_payload), approved_by {role, name},
approved_at and run_by; entries written before approvals name no approved_by and approve nothing.
Payload of a 'release' entry: release id, name, purpose, window, policy
version and sha256, group_by, group decisions with roster sizes, suppressed groups, mechanism,
parameters, the privacy model with budget_unit and budget_amount (entries written before
budget_amount name the amount `rho`, or `epsilon` under pure DP: `entry_budget` reads both),
rho under zCDP and epsilon at the policy's delta (both conversions, see
privacy.mechanisms.rho_to_epsilon*), under pure DP the epsilon, periods, spend per period after
the release vs the cap, run_by, key_fingerprint (the fingerprint of the pseudonymisation key the
window's days were processed under, foundation.roster.key_fingerprint_of; null when the days'
markers name none; entries written before it have no such field), published_values_sha256:
the digest of the published rows (below), and published_values: the list of
[group_value, statistic, value, ci_low, ci_high, noise_scale, status] ordered by group_value
then statistic (floats as Python writes them), so that verify names the cell of a changed
published value (entries written before it have only the digest).
Payload of a 'refusal' entry: release id, name, window, policy
version and sha256, reason, the periods over the cap, the budget state in the policy's unit (requested,
cap, and per period the spent budget and what it would have become, keys named by the unit:
requested_rho or requested_epsilon, ...), the message and run_by. A refusal for reason
'key_continuity' (the window's days name two or more pseudonymisation keys) holds, under the key
`key_continuity`, each key fingerprint with the days processed under it. Payload of a
'retention_deletion' entry (release_id NULL, one entry per retention run that deleted something,
written before the deletion): as_of, policy version and sha256, run_by, the boundary rule, and
per zone the retention days, the oldest kept day, the days and the day folders (per parent
folder, no file names) deleted, and counts of folders, files and bytes; see privacy/retention.py.
Payload of a 'statement' entry (release_id NULL, written by `teamlens statement`,
privacy/statements.py): the month (YYYY-MM), the statement's version for that month (1, 2, ...),
per format (html, pdf) the file name and its sha256, the ledger entries the statement covers
(`covers_entries`: those recorded up to the month's end) and run_by.
Payload of a 'subject_access' entry (release_id NULL, written by `teamlens subject-access`,
privacy/subject_access.py): the date, the purpose, export_sha256 (the SHA-256 of the export's
manifest, which lists every file's SHA-256 and a random export id) and the number of files; no
identifier of the agent nor of who ran it (with the date, the operator could narrow down whose).

Besides the chain, `verify_ledger` (privacy/verify.py) checks every column of every row of
releases, budget_spend, release_groups and published_aggregates against the release entries,
the views readers use against their declared definitions, every release, refusal or retention
deletion names a policy recorded before it and, given a signed checkpoint (privacy/checkpoint.py,
docs/audit.md), that the ledger extends it. Release entries written since
`published_values_digest_version` 2 digest every column of the published rows
(published_rows_digest); older entries keep their version 1 digest (values_digest).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import duckdb

from foundation.budget import Budget
from foundation.exact import canonical_json, fraction_text, utc_text
from foundation.policy import Policy, ReleaseSpec
from privacy.mechanisms import (
    EPSILON_CONVERSION_OPENDP,
    rho_to_epsilon,
    rho_to_epsilon_opendp,
    zcdp_equivalent,
)
from warehouse.records import NoisyRelease, PublishedValue, ReleaseKey

GENESIS_HASH = "0" * 64
ENTRY_TYPES = ("policy_approved", "release", "refusal", "retention_deletion", "statement", "subject_access")
_PLAIN = re.compile(r"^[A-Za-z0-9_.:\-]+$")


@dataclass(frozen=True)
class LedgerVerification:
    """Result of recomputing the chain: ok, how many entries, the first bad seq and why."""

    ok: bool
    entries: int
    first_bad_seq: int | None
    message: str
    head_hash: str = GENESIS_HASH


def canonical_entry(seq: int, entry_type: str, recorded_at: str, release_id: str | None, payload: str) -> str:
    """The canonical entry text of the recipe in the module docstring (payload spliced in as stored)."""
    for name, value in (("entry_type", entry_type), ("recorded_at", recorded_at), ("release_id", release_id)):
        if value is not None and not _PLAIN.match(value):
            raise ValueError(f"ledger {name} {value!r} must match {_PLAIN.pattern}")
    rid = "null" if release_id is None else f'"{release_id}"'
    return (
        f'{{"entry_type":"{entry_type}","payload":{payload},"recorded_at":"{recorded_at}",'
        f'"release_id":{rid},"seq":{int(seq)}}}'
    )


def entry_hash(prev_hash: str, canonical: str) -> str:
    """sha256(prev_hash hex bytes || canonical entry bytes), lowercase hex."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical.encode("ascii")).hexdigest()


def append_entry(
    con: duckdb.DuckDBPyConnection,
    entry_type: str,
    payload: dict[str, Any],
    release_id: str | None,
    recorded_at: dt.datetime,
) -> str:
    """Append one entry inside the caller's transaction; returns its entry_hash."""
    if entry_type not in ENTRY_TYPES:
        raise ValueError(f"unknown ledger entry type {entry_type!r}; known: {', '.join(ENTRY_TYPES)}")
    row = con.execute("SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (1, GENESIS_HASH) if row is None else (int(row[0]) + 1, str(row[1]))
    payload_text = canonical_json(payload)
    when = utc_text(recorded_at)
    digest = entry_hash(prev, canonical_entry(seq, entry_type, when, release_id, payload_text))
    con.execute(
        "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?)",
        [seq, entry_type, when, release_id, payload_text, prev, digest],
    )
    return digest


def policy_payload(policy: Policy, run_by: str) -> dict[str, Any]:
    """What a 'policy_approved' entry records: the whole policy, budgets as exact text.

    A pure DP policy records its model and budget unit, budget_cap_epsilon and each release's epsilon.
    A yearly cap is recorded (budget_cap_year_rho or budget_cap_year_epsilon) only when the policy
    sets one, so that the entries of policies without it keep their form and hash; likewise each
    release's clipping check share (the budget share of its over-bound counts) only where it has one.
    """
    out = _policy_payload(policy, run_by)
    for doc, spec in zip(out["releases"], policy.releases, strict=True):
        if spec.clipping_check_share is not None:
            doc["clipping_check_share"] = fraction_text(spec.clipping_check_share)
    if policy.budget_cap_year is not None:
        out[f"budget_cap_year_{policy.budget_cap_year.unit}"] = policy.budget_cap_year.text
    if policy.planning is not None:  # only when set, so that entries of policies without it keep their form
        out["planning"] = _planning_payload(policy)
    if policy.privacy_model == "pure":
        out |= {
            "privacy_model": "pure",
            "budget_unit": "epsilon",
            "budget_cap_epsilon": fraction_text(policy.budget_cap.amount),
            "budget_cap_rho": None,
        }
        for doc, spec in zip(out["releases"], policy.releases, strict=True):
            doc["epsilon"] = fraction_text(spec.budget.amount)
            doc["rho"] = None
    return out


def _planning_payload(policy: Policy) -> dict[str, Any]:
    """The `planning:` block as an approval records it: the works council's offered decision, the
    planned queues with their sites (and the teams answering them, where declared), and each
    planning release's window, rho and bounds (and `figures: service` for a release of a queue's
    service figures)."""
    planning = policy.planning
    assert planning is not None
    payload: dict[str, Any] = {
        "offered": planning.offered,
        "interval_minutes": planning.interval_minutes,
        "queues": dict(sorted(planning.queues.items())),
    }
    if planning.queue_teams:  # recorded only where declared: older approvals keep their content
        payload["queue_teams"] = {q: list(t) for q, t in sorted(planning.queue_teams.items())}
    return payload | {
        "releases": [
            {
                "name": r.spec.name,
                "purpose": r.spec.purpose,
                "window": r.spec.window,
                "rho": fraction_text(r.spec.rho),
                "bounds": r.bounds,
                "noisy_sums": list(r.noisy_sums),
                **({"figures": r.figures} if r.figures != "intervals" else {}),  # a queue's service figures
                "offered_bounds": None
                if r.offered_bounds is None
                else {"per_interval": r.offered_bounds.per_interval, "per_window": r.offered_bounds.per_window},
            }
            for r in planning.releases
        ],
    }


def _policy_payload(policy: Policy, run_by: str) -> dict[str, Any]:
    return {
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "privacy_unit": policy.privacy_unit,
        "accounting_period": policy.accounting_period,
        "budget_cap_rho": fraction_text(policy.budget_cap.amount) if policy.budget_cap.unit == "rho" else None,
        "report_delta": fraction_text(policy.report_delta),
        "min_group_size": policy.min_group_size,
        "group_assignment": policy.group_assignment,
        "retention_days": policy.retention_days,
        "small_groups": policy.small_groups,
        "max_corrections_per_window": policy.max_corrections_per_window,
        "desktop_app_categories": {k: list(v) for k, v in policy.desktop_app_categories.items()},
        "desktop_url_categories": {k: list(v) for k, v in policy.desktop_url_categories.items()},
        "desktop_title_keywords": {k: list(v) for k, v in policy.desktop_title_keywords.items()},
        "releases": [
            {
                "name": r.name,
                "purpose": r.purpose,
                "group_by": r.group_by,
                "window": r.window,
                "rho": fraction_text(r.rho),
                "sums": r.sums,
                "ratios": [
                    {"name": q.name, "numerator": q.numerator, "denominator": q.denominator, "max": q.max}
                    for q in r.ratios
                ],
                **(
                    {}
                    if r.max_corrections_per_window is None
                    else {"max_corrections_per_window": r.max_corrections_per_window}
                ),
            }
            for r in policy.releases
        ],
        "run_by": run_by,
    }


def approval_payload(policy: Policy, role: str, name: str, approved_at: dt.datetime, run_by: str) -> dict[str, Any]:
    """What a 'policy_approved' entry records: the whole policy, who approved it (a role and a name
    or reference) and when, and who ran the command (run_by)."""
    if not role.strip() or not name.strip():
        raise ValueError("an approval names a role (e.g. 'works council') and a name or reference, both non-empty")
    return policy_payload(policy, run_by) | {
        "approved_by": {"role": role, "name": name},
        "approved_at": utc_text(approved_at),
    }


def approval_entries(con: duckdb.DuckDBPyConnection, policy_sha256: str | None = None) -> list[dict[str, Any]]:
    """The approvals in the ledger, oldest first (of one policy identity, or all): each payload with its seq.

    Only entries naming `approved_by` are approvals; a 'policy_approved' entry written before
    approvals existed (recorded automatically by the first release) is not.
    """
    found = con.execute(
        "SELECT seq, payload FROM ledger WHERE entry_type = 'policy_approved' "
        "AND json_extract(payload, '$.approved_by') IS NOT NULL "
        "AND (? IS NULL OR json_extract_string(payload, '$.policy_sha256') = ?) ORDER BY seq",
        [policy_sha256, policy_sha256],
    ).fetchall()
    return [{"seq": int(seq)} | json.loads(payload) for seq, payload in found]


def values_digest(values: tuple[PublishedValue, ...] | list[PublishedValue]) -> str:
    """sha256 of the canonical list of published values, ordered by group then statistic."""
    rows = [[v.group_value, v.statistic, v.value, v.ci_low, v.ci_high, v.noise_scale, v.status] for v in values]
    rows.sort(key=lambda r: (str(r[0]), str(r[1])))
    return hashlib.sha256(canonical_json(rows).encode("ascii")).hexdigest()


PUBLISHED_VALUES_DIGEST_VERSION = 2
# The columns of each published value a release entry records in the clear (published_cells).
PUBLISHED_CELL_COLUMNS = ("group_value", "statistic", "value", "ci_low", "ci_high", "noise_scale", "status")


def published_cells(values: tuple[PublishedValue, ...] | list[PublishedValue]) -> list[list[Any]]:
    """The published values as a release entry records them: one list per value, PUBLISHED_CELL_COLUMNS
    order, by group then statistic. They are public figures; recording them lets verify name the
    group, statistic and column of a changed value (the digest alone says only that a row changed)."""
    rows = [[v.group_value, v.statistic, v.value, v.ci_low, v.ci_high, v.noise_scale, v.status] for v in values]
    return sorted(rows, key=lambda r: (str(r[0]), str(r[1])))


def published_rows_digest(rows: list[tuple[Any, ...]] | tuple[tuple[Any, ...], ...]) -> str:
    """Version 2 of published_values_sha256: every column of a release's published_aggregates rows.

    sha256 of the canonical JSON list of rows, each a list of the columns in PUBLISHED_COLUMNS
    order (warehouse/tables.py: release_id, release_name, group_by, group_value, window_start,
    window_end, statistic, value, ci_low, ci_high, noise_scale, roster_group_size, status; dates
    as YYYY-MM-DD, floats as Python writes them), ordered by group_value then statistic.
    """
    ordered = sorted((list(r) for r in rows), key=lambda r: (str(r[3]), str(r[6])))
    return hashlib.sha256(canonical_json(ordered).encode("ascii")).hexdigest()


def release_entry_payload(
    key: ReleaseKey,
    spec: ReleaseSpec,
    policy: Policy,
    run_by: str,
    noisy: NoisyRelease,
    periods: list[str],
    spent_before: dict[str, Budget],
    values_sha256: str,
    correction_of: str | None = None,
    inputs_as_of: dt.datetime | None = None,
    key_fingerprint: str | None = None,
) -> dict[str, Any]:
    """What a 'release' entry records (module docstring); spent_before: each period's spend before it."""
    budget, cap = spec.budget, policy.budget_cap
    groups = sorted(noisy.groups, key=lambda g: g.group_value)
    payload: dict[str, Any] = {
        "release_id": key.release_id,
        "release_name": key.release_name,
        "purpose": spec.purpose,
        "window_start": key.window_start,
        "window_end": key.window_end,
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "group_by": spec.group_by,
        "groups": [g.ledger_form() for g in groups],
        "suppressed_groups": [g.group_value for g in groups if g.status == "suppressed_small_group"],
        "merged_groups": {g.group_value: g.merged_into for g in groups if g.merged_into is not None},
        "correction": key.correction,
        "correction_of": correction_of,
        "inputs_as_of": None if inputs_as_of is None else utc_text(inputs_as_of),
        "key_fingerprint": key_fingerprint,
        "mechanism": noisy.mechanism,
        "parameters": noisy.parameters,
        "privacy_model": spec.privacy_model,
        "budget_unit": budget.unit,
        "budget_amount": budget.text,
        "periods": periods,
        "published_values_sha256": values_sha256,
        "published_values_digest_version": PUBLISHED_VALUES_DIGEST_VERSION,
        "published_values": published_cells(noisy.values),
        "run_by": run_by,
    }
    after = {p: (spent + budget, cap - spent - budget) for p, spent in spent_before.items()}
    if budget.unit == "epsilon":  # pure DP: no delta, no conversion; rho_equivalent is epsilon^2 / 2
        return payload | {
            "rho": None,
            "epsilon": budget.amount,
            "delta": Fraction(0),
            "epsilon_conversion": None,
            "epsilon_bun_steinke": None,
            "rho_equivalent": zcdp_equivalent(budget).amount,
            "spend_after": {
                p: {"spent_epsilon": s.amount, "cap_epsilon": cap.amount, "remaining_epsilon": r.amount}
                for p, (s, r) in after.items()
            },
        }
    return payload | {
        "rho": budget.amount,
        "delta": policy.report_delta,
        "epsilon": rho_to_epsilon_opendp(budget.amount, policy.report_delta),
        "epsilon_conversion": EPSILON_CONVERSION_OPENDP,
        "epsilon_bun_steinke": rho_to_epsilon(budget.amount, policy.report_delta),
        "spend_after": {
            p: {"spent_rho": s.amount, "cap_rho": cap.amount, "remaining_rho": r.amount} for p, (s, r) in after.items()
        },
    }


def entry_budget(payload: dict[str, Any]) -> tuple[str, str | None]:
    """(unit, exact amount text) a release entry records.

    Entries name it `budget_unit` + `budget_amount`; entries written before that name the amount
    by its unit (`rho`, or `epsilon` under pure DP), and entries written before pure DP name no
    unit (rho).
    """
    unit = "epsilon" if payload.get("budget_unit") == "epsilon" else "rho"
    if "budget_amount" in payload:
        return unit, payload["budget_amount"]
    return unit, payload.get(unit)


# --- queries a works council expert can run with plain duckdb ------------------------------

AUDIT_SQL: dict[str, str] = {
    "spend_per_period": """
        SELECT period,
               budget_unit,                 -- rho (zCDP) or epsilon (pure DP): never add the two
               count(*)                     AS releases,
               sum(spent)                   AS spent,
               min(cap)                     AS cap,
               min(cap) - sum(spent)        AS remaining,
               sum(spent) <= min(cap)       AS within_cap
        FROM budget_spend
        GROUP BY period, budget_unit
        ORDER BY period, budget_unit
    """,
    "releases": """
        SELECT release_id, release_name, group_by, window_start, window_end, policy_version, budget_unit,
               budget_amount_exact, periods, mechanism, released_at, run_by, status,
               correction, correction_of, key_fingerprint
        FROM releases
        ORDER BY released_at, release_id
    """,
    "corrections": """
        SELECT c.release_id, c.release_name, c.window_start, c.window_end, c.correction,
               c.correction_of, c.inputs_as_of, o.released_at AS corrected_release_at, c.released_at
        FROM releases c JOIN releases o ON o.release_id = c.correction_of
        ORDER BY c.released_at
    """,
    "refusals": """
        SELECT seq, recorded_at, release_id,
               json_extract_string(payload, '$.release_name') AS release_name,
               json_extract_string(payload, '$.window_start') AS window_start,
               json_extract_string(payload, '$.window_end')   AS window_end,
               json_extract_string(payload, '$.message')      AS message,
               payload
        FROM ledger
        WHERE entry_type = 'refusal'
        ORDER BY seq
    """,
    "group_sizes": """
        SELECT release_name, window_start, window_end, group_by, group_value, roster_size, status, merged_into
        FROM release_groups
        ORDER BY release_name, window_start, group_value
    """,
    "smallest_released_group": """
        SELECT g.release_name, min(g.roster_size) AS smallest_released_roster,
               (SELECT json_extract(payload, '$.min_group_size')::INTEGER FROM ledger
                WHERE entry_type = 'policy_approved' ORDER BY seq DESC LIMIT 1) AS policy_min_group_size
        FROM release_groups g
        WHERE g.status = 'released'
        GROUP BY g.release_name
        ORDER BY g.release_name
    """,
    "policies": """
        SELECT seq, recorded_at,
               json_extract(payload, '$.policy_version')::INTEGER    AS policy_version,
               json_extract_string(payload, '$.policy_sha256')       AS policy_sha256,
               json_extract_string(payload, '$.budget_cap_rho')      AS budget_cap_rho,
               json_extract_string(payload, '$.report_delta')        AS report_delta,
               json_extract(payload, '$.min_group_size')::INTEGER    AS min_group_size,
               json_extract_string(payload, '$.budget_cap_epsilon')  AS budget_cap_epsilon,
               json_extract_string(payload, '$.approved_by.role')    AS approved_by_role,
               json_extract_string(payload, '$.approved_by.name')    AS approved_by_name,
               json_extract_string(payload, '$.approved_at')         AS approved_at
        FROM ledger
        WHERE entry_type = 'policy_approved'
        ORDER BY seq
    """,
    "chain_check": """
        SELECT seq, entry_type,
               seq = row_number() OVER (ORDER BY seq) AS seq_ok,
               prev_hash = coalesce(lag(entry_hash) OVER (ORDER BY seq), repeat('0', 64)) AS link_ok,
               entry_hash = sha256(prev_hash || '{"entry_type":"' || entry_type || '","payload":' || payload
                   || ',"recorded_at":"' || recorded_at || '","release_id":'
                   || coalesce('"' || release_id || '"', 'null') || ',"seq":' || CAST(seq AS VARCHAR) || '}')
                   AS hash_ok
        FROM ledger
        ORDER BY seq
    """,
    "releases_without_ledger_entry": """
        SELECT r.release_id, r.release_name
        FROM releases r
        WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.entry_type = 'release' AND l.release_id = r.release_id)
        ORDER BY r.release_id
    """,
}
