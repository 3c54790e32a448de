"""Plain-text report of what has been published: noisy figures with 95% intervals, suppressed
groups, the privacy budget spent against the cap, and the ledger's verification.

Reads only the warehouse (published aggregates and the ledger) and the counts-only run reports
(the late-data notes of the latest runs), never the restricted zones.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from foundation.intervals import SEPARATOR
from foundation.policy import BOUNDS_SUGGESTION_PREFIX
from foundation.settings import Settings
from privacy.bounds import STATISTIC_PREFIX as SUGGESTION_STATISTIC_PREFIX
from privacy.mechanisms import OVER_BOUND_PREFIX
from teamlens.labels import window_label
from teamlens.staffing_view import print_staffing_section
from teamlens.tables import console, table

# The mark of a sum whose over-bound count is material (likely_understated), explained by its footnote.
UNDERSTATED_MARK = " (!)"

if TYPE_CHECKING:
    from foundation.policy import Policy
    from privacy.approval import Approval

STATISTIC_LABELS = {
    "contacts_handled": ("contacts handled", 0),
    "handle_seconds": ("handle time (h)", 1),
    "aht_seconds": ("AHT (s)", 0),
    "available_idle_seconds": ("available, idle (h)", 1),
    "transfers_out": ("transfers", 0),
    "hold_seconds": ("hold time (h)", 1),
    "contacts_held": ("contacts held", 0),
    "scheduled_seconds": ("scheduled (h)", 1),
    "in_adherence_seconds": ("in adherence (h)", 1),
    "scheduled_work_seconds": ("scheduled work (h)", 1),
    "worked_seconds": ("worked (h)", 1),
    "occupancy": ("occupancy (%)", 1),
    "adherence": ("adherence (%)", 1),
    "conformance": ("conformance (%)", 1),
    "transfer_rate": ("transfer rate (%)", 1),
    "average_hold_seconds": ("average hold (s)", 0),
}
# Sums of seconds shown in hours; ratios of time or contacts shown in percent.
HOURS = {s for s in STATISTIC_LABELS if s.endswith("_seconds") and s not in ("aht_seconds", "average_hold_seconds")}
PERCENT = {"occupancy", "adherence", "conformance", "transfer_rate"}
# A release with more statistics than this is shown one statistic a row, its groups as columns.
WIDE_RELEASE = 4


def _fmt(value: float | None, statistic: str) -> str:
    if value is None:
        return "-"
    digits = STATISTIC_LABELS.get(statistic, (statistic, 1))[1]
    if statistic in HOURS:
        value = value / 3600
    elif statistic in PERCENT:
        value = value * 100
    return f"{value:,.{digits}f}"


def format_value(row: dict[str, Any]) -> str:
    """'1,234 [1,100 - 1,370]', or 'too noisy to publish'."""
    if row["status"] != "published":
        return "too noisy to publish"
    stat = row["statistic"]
    return f"{_fmt(row['value'], stat)} [{_fmt(row['ci_low'], stat)} - {_fmt(row['ci_high'], stat)}]"


def is_over_bound(row: dict[str, Any]) -> bool:
    """Whether a published row is a clipping check's over-bound count (shown only through the flag)."""
    return str(row["statistic"]).startswith(OVER_BOUND_PREFIX)


def likely_understated(release_rows: list[dict[str, Any]]) -> dict[tuple[Any, str, str], dict[str, Any]]:
    """The sums a release's clipping check flags: (window_start, group, sum) -> its over-bound count row.

    Material: the count's 95% interval lies entirely above 0 (ci_low > 0), so some agent's window
    total very likely exceeded the bound and the published sum (and its interval) understate the
    truth. When no agent is over the bound, a figure is flagged by chance in at most 2.5% of cases.
    """
    flagged = {}
    for r in release_rows:
        if is_over_bound(r) and r["status"] == "published" and (r["ci_low"] or 0) > 0:
            metric = r["statistic"][len(OVER_BOUND_PREFIX) :]
            flagged[(r["window_start"], r["group_value"], metric)] = r
    return flagged


def understated_footnote(
    flagged: dict[tuple[Any, str, str], dict[str, Any]], window_ends: dict[Any, Any] | None = None
) -> list[str]:
    """The footnote under a release's table: what the mark means, the counts behind it, what to do.

    window_ends: window start -> end, to name each window as people say it (else by its first day)."""
    if not flagged:
        return []
    lines = [
        f"{UNDERSTATED_MARK.strip()} likely understated: the clipping check counts (with noise) the agents whose "
        "window total exceeded the",
        "    policy's bound for that sum; each agent counts only up to the bound, so the figure and its interval "
        "are too low",
        "    (and a ratio computed from it is off too). Raise the sum's bound in the policy (`teamlens plan "
        "--suggest-bounds` proposes bounds).",
        "    Agents over the bound [95% interval] of the group's roster:",
    ]
    for (window, group, metric), r in sorted(flagged.items()):
        label = STATISTIC_LABELS.get(metric, (metric, 0))[0]
        when = window_label(window, window_ends[window]) if window_ends and window in window_ends else str(window)
        lines.append(
            f"    {when} {group}: {label}: {r['value']:,.0f} [{r['ci_low']:,.0f} - {r['ci_high']:,.0f}] "
            f"of {r['roster_group_size']}"
        )
    return lines


def _delta(delta: Any) -> str:
    """delta as people read it: 1e-09, not 0.000000001 (the exact value is in the ledger)."""
    return f"{float(delta):g}"


def format_year(year: dict[str, Any]) -> str:
    """The composed loss of the rolling year (privacy.budgets.year_summary): the months' spend adds up."""
    unit = year["budget_unit"]
    spent = year[f"spent_{unit}"]
    span = f"{year['first_period']} to {year['last_period']}"
    if spent is None:
        total = "unbounded (the year holds zCDP spend, which has no pure DP bound)"
    elif unit == "epsilon":
        total = f"epsilon {spent} (delta 0)"
    else:
        total = f"rho {spent}; as (epsilon, delta): ({year['epsilon']:.2f}, {_delta(year['delta'])})"
    cap = year[f"cap_year_{unit}"]
    if cap is None:
        verdict = f"no yearly cap set (budget_cap_year_{unit})"
    else:
        verdict = f"{'within' if year['within_year_cap'] else 'OVER'} the yearly cap {cap}"
    return f"rolling year {span} (the months add up): {total}; {verdict}"


def format_policy_approval(policy: Policy, approval: Approval | None) -> str:
    """The policy in force and its approval: by whom (role and name) and on which day (UTC)."""
    policy_name = f"Policy version {policy.version} ({policy.sha256[:12]})"
    if approval is None:
        return f"{policy_name}: not approved; nothing is released under it until `teamlens policy approve` records it"
    return f"{policy_name}, approved by {approval.role} '{approval.name}' on {approval.approved_at[:10]}"


def format_units(period: dict[str, Any], unit: str) -> str | None:
    """The spend of a period holding both units, each summed on its own (never rho + epsilon), or None.

    unit: the policy's; the other unit's spend is counted as the accountant does (privacy/budgets.py).
    """
    by_unit = period.get("by_unit", {})
    if len(by_unit) < 2:
        return None
    parts = "; ".join(
        f"{u} {v['spent']} ({v['releases']} release{'s' if v['releases'] != 1 else ''})" for u, v in by_unit.items()
    )
    counted = (
        "epsilon counted as rho epsilon^2 / 2"
        if unit == "rho"
        else "rho spend has no pure DP (epsilon) bound: the month is over the cap"
    )
    return f"    recorded per unit (never added across units): {parts}; {counted}"


def print_report(settings: Settings, release_name: str | None = None, last_windows: int = 7) -> None:
    from foundation.policy import load_policy
    from privacy.approval import approval_of
    from privacy.budgets import budget_summary, year_summary
    from privacy.verify import verify_ledger
    from teamlens import published
    from warehouse.store import connect, read_published

    policy = load_policy(settings.policy_path)
    rows = read_published(settings.lake.warehouse_path, release_name)
    print()
    print("=" * 100)
    print("Published figures: differentially private, agent as the privacy unit; [95% interval]")
    print("=" * 100)
    if not rows:
        print("Nothing published yet.")
    by_release: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_release[row["release_name"]].append(row)
    suggestions = {n: r for n, r in by_release.items() if n.startswith(BOUNDS_SUGGESTION_PREFIX)}
    for name, release_rows in by_release.items():
        if name in suggestions:
            continue
        spec = policy.release(name) if name in {r.name for r in policy.releases} else None
        present = list(dict.fromkeys(r["statistic"] for r in release_rows if not is_over_bound(r)))
        present = [s for s in present if SEPARATOR not in s]  # per interval of the week: the staffing section
        declared = [*spec.sums, *(q.name for q in spec.ratios)] if spec else []
        statistics = [s for s in declared if s in present] + [s for s in present if s not in declared]
        ends = {r["window_start"]: r["window_end"] for r in release_rows}
        windows = sorted(ends)
        shown = windows if release_name else windows[-last_windows:]
        print()
        print(f"{name}" + (f": {spec.purpose}" if spec else ""))
        if len(shown) < len(windows):
            print(f"(the last {len(shown)} of {len(windows)} windows; `teamlens report --release {name}` shows all)")
        cells: dict[tuple[Any, str], dict[str, str]] = defaultdict(dict)
        flagged = {k: v for k, v in likely_understated(release_rows).items() if k[0] in shown}
        for r in release_rows:
            if r["window_start"] in shown and not is_over_bound(r) and SEPARATOR not in r["statistic"]:
                mark = UNDERSTATED_MARK if (r["window_start"], r["group_value"], r["statistic"]) in flagged else ""
                cells[(r["window_start"], r["group_value"])][r["statistic"]] = format_value(r) + mark
        labels = [STATISTIC_LABELS.get(s, (s, 0))[0] for s in statistics]
        if len(statistics) > WIDE_RELEASE:
            groups = sorted({group for _, group in cells})
            long_lines = [
                (window_label(window, ends[window]), label, *(cells[(window, g)].get(s, "-") for g in groups))
                for window in shown
                for s, label in zip(statistics, labels, strict=True)
            ]
            console().print(table(("window", "figure", *groups), long_lines, right=groups))
        else:
            lines = [
                (window_label(window, ends[window]), group, *(values.get(s, "-") for s in statistics))
                for (window, group), values in sorted(cells.items())
            ]
            console().print(table(("window", "group", *labels), lines, right=labels))
        for line in understated_footnote(flagged, ends):
            print(line)
    if suggestions:
        print()
        print("Bounds suggestions (teamlens plan --suggest-bounds: a DP quantile of agents' window totals):")
        for name, suggestion_rows in suggestions.items():
            for r in suggestion_rows:
                metric = str(r["statistic"]).removeprefix(SUGGESTION_STATISTIC_PREFIX)
                window = window_label(r["window_start"], r["window_end"])
                released = name.removeprefix(BOUNDS_SUGGESTION_PREFIX)
                print(f"  {released}, {window}: {metric} bound {_fmt(r['value'], 'count')}")

    print_staffing_section(settings.lake.warehouse_path)

    if settings.lake.warehouse_path.exists():
        print_surveys(settings, policy)
        con = connect(settings.lake.warehouse_path, read_only=True)
        try:
            suppressed = published.suppressed_groups(con)
            merged = published.merged_groups(con)
            corrections = published.corrections(con)
        finally:
            con.close()
        if merged:
            print()
            print(f"Merged groups (teams under {policy.min_group_size} agents, published only pooled per site):")
            for m in merged:
                n_windows = f"{m['windows']} window" + ("s" if m["windows"] != 1 else "")
                print(f"  {m['release_name']}: {m['teams']} -> {m['merged_into']} ({n_windows})")
        if corrections:
            print()
            print("Corrections (windows published again after late data; the figures above are the latest):")
            for c in corrections:
                print(
                    f"  {c['release_name']} {c['window_start']}: correction {c['correction']} of "
                    f"{c['correction_of']}, released {c['released_at']:%Y-%m-%d %H:%M} UTC"
                )
        if suppressed:
            print()
            print(
                f"Suppressed groups (roster size under the policy minimum of {policy.min_group_size}; never published):"
            )
            for s in suppressed:
                n_windows = f"{s['windows']} window" + ("s" if s["windows"] != 1 else "")
                print(f"  {s['release_name']}: {s['group_value']} ({s['roster_size']} agents, {n_windows})")

    print()
    print(format_policy_approval(policy, approval_of(settings.lake.warehouse_path, policy)))
    cap = policy.budget_cap
    model = "zCDP" if cap.unit == "rho" else "pure DP"
    print(
        f"Privacy budget per agent ({model} {cap.unit} per calendar month; cap {cap.text} "
        f"under policy version {policy.version}):"
    )
    summary = budget_summary(settings.lake.warehouse_path, policy) if settings.lake.warehouse_path.exists() else []
    if not summary:
        print("  nothing spent yet")
    if cap.unit == "epsilon":
        for period in summary:
            bounded = period["spent_epsilon"] is not None
            spent = period["spent_epsilon"] if bounded else "unbounded (zCDP spend)"
            remaining = f"remaining {period['remaining_epsilon']}" if bounded else "over the cap"
            print(
                f"  {period['period']}: spent epsilon {spent} of {period['cap_epsilon']} "
                f"({period['releases']} releases), {remaining}; delta 0"
            )
            units = format_units(period, "epsilon")
            if units:
                print(units)
        summary = []
    for period in summary:
        print(
            f"  {period['period']}: spent {period['spent_rho']} of {period['cap_rho']} "
            f"({period['releases']} releases), remaining {period['remaining_rho']}; "
            f"as (epsilon, delta): ({period['epsilon']:.2f}, {_delta(period['delta'])})"
        )
        units = format_units(period, "rho")
        if units:
            print(units)
    if summary:
        print(f"  epsilon conversion: {summary[0]['epsilon_conversion']}")
    year = year_summary(settings.lake.warehouse_path, policy)
    if year is not None:
        print(f"  {format_year(year)}")

    notes = release_notes(settings)
    if notes:
        print()
        print("Refusals and late data (recent releases):")
        for note in notes:
            print(f"  {note}")
    housekeeping = _run_notes(settings)
    if housekeeping:
        print()
        print("Accepted bad rows and killed runs (counts and zone-level folders only):")
        for note in housekeeping:
            print(f"  {note}")
    verification = verify_ledger(settings.lake.warehouse_path)
    print()
    print(f"Privacy ledger: {verification.message}")
    print()
    print("Where things are:")
    print(f"  landing (raw, restricted):          {settings.lake.landing}")
    print(f"  staged + quarantine (restricted):   {settings.lake.staged}  {settings.lake.quarantine}")
    print(f"  agent-day metrics (restricted):     {settings.lake.metrics}")
    print(f"  run reports (restricted):           {settings.lake.reports}")
    print(f"  warehouse + ledger (published):     {settings.lake.warehouse_path}")
    print(f"  signed checkpoint (keep a copy):    {settings.lake.latest_checkpoint}")
    print("  verify the ledger:                  .venv/bin/teamlens verify")
    kept = settings.lake.latest_checkpoint
    print(f"  ... against a kept checkpoint:      .venv/bin/teamlens verify --checkpoint {kept}")


def print_surveys(settings: Settings, policy: Policy) -> None:
    """Each survey's published groups and months beside its measure of the same group and month
    (teamlens.survey_view: joined by group and month, never per person)."""
    from teamlens.survey_view import columns, rows_of, survey_lines
    from warehouse.store import connect

    con = connect(settings.lake.warehouse_path, read_only=True)
    try:
        surveys = [(survey, lines) for survey, lines in survey_lines(con, policy) if lines]
    finally:
        con.close()
    for survey, lines in surveys:
        print()
        print(f"Pulse survey {survey.survey_id} beside {survey.measure} (same group, same month): {survey.purpose}")
        print(
            f"(a group is shown when its roster reaches {policy.min_group_size} agents and its noisy responses "
            f"{survey.min_responses}; eNPS = promoters - detractors, in points)"
        )
        names = columns(survey)
        console().print(table(tuple(names), [tuple(r) for r in rows_of(survey, lines)], right=names[2:]))


def release_notes(settings: Settings, limit: int = 5) -> list[str]:
    """The latest refusals (the ledger's 'refusal' entries, with their reason) and the late-data notes
    of the latest publish records (teamlens.step_log: late data that did not lead to a correction)."""
    from privacy.ledger import AUDIT_SQL
    from teamlens import step_log
    from warehouse.store import connect

    notes = []
    if settings.lake.warehouse_path.exists():
        con = connect(settings.lake.warehouse_path, read_only=True)
        try:
            rows = con.execute(
                f"SELECT recorded_at, message FROM ({AUDIT_SQL['refusals']}) ORDER BY seq DESC LIMIT {int(limit)}"
            ).fetchall()
        finally:
            con.close()
        notes += [f"{str(recorded_at)[:16]} {message}" for recorded_at, message in reversed(rows)]
    records = sorted((settings.lake.reports / "runs").glob("publish_*.json"), key=lambda p: p.stat().st_mtime)
    late: dict[str, str] = {}
    for path in records[-limit:]:
        for w in (step_log.read_report(path) or {}).get("windows", []):
            if w.get("late_data"):
                late[step_log.window_text(w["release"], w["window_start"], w["window_end"])] = w["late_data"]
    notes += [f"late data for {window}: {note}" for window, note in late.items()]
    return notes


def _run_notes(settings: Settings) -> list[str]:
    """Every accepted source-day with its counts, and the latest removal of killed-run leftovers
    (teamlens.run_summary; the same lines as the run summary)."""
    from teamlens.run_summary import accepted_lines, leftovers_line

    leftovers = leftovers_line(settings)
    return [*accepted_lines(settings), *([leftovers] if leftovers else [])]
