"""Publishing windows: which windows are due, their roster, their agent totals, and the draw.

One release (the arithmetic is in docs/privacy.md):
1. Reduce the agent-day table to one row per agent per window (sums over the window's days).
   Each agent lands in exactly one group: the roster group of the window's first day
   (policy `group_assignment: first_day`); an agent missing from that roster snapshot is
   assigned by the earliest day it appears in the window.
2. Decide which groups are published from public facts only: roster group sizes against the
   policy's minimum group size (privacy.groups). Smaller groups are suppressed or merged.
3. OpenDP clips every agent's window total to [0, bound] and adds noise calibrated to the
   release's budget (privacy.mechanisms: Gaussian under zCDP, discrete Laplace under pure DP;
   docs/privacy.md, Mechanisms and scales). The group keys are public (the roster), so no
   private partition selection is needed.
   Under the policy's clipping check (`clipping_check_share`), the same measurement also counts,
   per sum and group, the agents whose window total exceeded the bound, from the check's share of
   the budget; the sums get the rest (docs/privacy.md, The clipping check).
4. Every sum gets its 95% interval from the mechanism; ratios (AHT) are computed from the
   noisy sums with a conservative union-bound interval, clamped to their meaningful range,
   or marked too noisy when the denominator's interval reaches zero (docs/privacy.md, Intervals).

Every draw goes through the accountant (privacy.accountant.publish_release): key continuity
(the window's days must name one pseudonymisation key; docs/privacy.md, Key continuity), budget
check, idempotency, one transaction with the ledger. Nothing here decides from the private data what
to release: only the roster and the policy do.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from foundation import lake, schema
from foundation.policy import Policy, ReleaseSpec
from foundation.settings import Settings
from foundation.windows import window_of
from privacy.accountant import publish_release
from privacy.groups import assign_merged_groups, decide_groups, group_parents
from privacy.mechanisms import (
    ALPHA_SUM,
    MAX_AGENTS_PER_GROUP,
    MECHANISMS,
    NOISE_DISTRIBUTION,
    calibrate,
    published_values,
)
from warehouse.records import GroupDecision, NoisyRelease, ReleaseKey, ReleaseOutcome
from warehouse.store import published_windows


def read_partitions(root: Path, days: Iterable[dt.date]) -> pl.DataFrame:
    """Read Spark-written `root/day=YYYY-MM-DD/*.parquet` partitions, adding the day column."""
    frames = []
    for day in days:
        files = lake.data_files(lake.partition(root, day))
        if files:
            frames.append(pl.read_parquet(files).with_columns(pl.lit(day).alias("day")))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def window_days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


def agent_window_totals(agent_day: pl.DataFrame, roster: pl.DataFrame, spec: ReleaseSpec) -> pl.DataFrame:
    """One row per agent per window: the group key and the window sums of the release's metrics.

    roster: the roster snapshot of the window's first day (agent_pseudonym, team, site).
    agent_day: the window's agent-day rows. Agents in the roster without activity get zeros,
    so that every roster agent contributes exactly one row.
    """
    group = spec.group_by
    metrics = list(spec.sums)
    if agent_day.is_empty():
        totals = pl.DataFrame(
            schema={"agent_pseudonym": pl.String, "_first_group": pl.String, **{m: pl.Int64 for m in metrics}}
        )
    else:
        totals = (
            agent_day.sort("day")
            .group_by("agent_pseudonym")
            .agg(pl.col(group).first().alias("_first_group"), *[pl.col(m).sum().cast(pl.Int64) for m in metrics])
        )
    rostered = roster.select("agent_pseudonym", pl.col(group).alias("_roster_group"))
    joined = rostered.join(totals, on="agent_pseudonym", how="full", coalesce=True)
    return joined.select(
        "agent_pseudonym",
        pl.coalesce("_roster_group", "_first_group").alias(group),
        *[pl.col(m).fill_null(0).cast(pl.Int64) for m in metrics],
    )


def draw_noisy_release(totals: pl.DataFrame, decisions: tuple[GroupDecision, ...], spec: ReleaseSpec) -> NoisyRelease:
    """Release the spec's sums for the released groups with OpenDP and derive ratios and intervals.

    This draws fresh noise: call it only through the accountant, after the budget check and
    the idempotency check (privacy.accountant.publish_release).
    """
    released = [d.group_value for d in decisions if d.status == "released"]
    if "agent_pseudonym" in totals.columns and totals["agent_pseudonym"].is_duplicated().any():
        # OpenDP's privacy unit is one row (unit_of(contributions=1)): a second row of an agent
        # would double its influence without raising the noise.
        raise ValueError(f"{spec.name}: an agent has more than one row in the window totals; nothing drawn")
    per_sum = spec.sums_budget / len(spec.sums)
    parameters: dict[str, object] = {
        "bounds": {m: [0, b] for m, b in spec.sums.items()},
        f"{per_sum.unit}_per_sum": str(per_sum.amount),  # Fraction text, e.g. "1/40"
        "group_by": spec.group_by,
        "public_keys": released,
        "alpha": ALPHA_SUM,
        "max_agents_per_group": MAX_AGENTS_PER_GROUP,
    }
    check = spec.clipping_check_budget
    if check is not None:
        # One over-bound count per sum (sensitivity 1) from the check's share of the budget.
        parameters["clipping_check_share"] = str(spec.clipping_check_share)
        parameters[f"{check.unit}_per_over_bound_count"] = str((check / len(spec.sums)).amount)
    if spec.privacy_model != "zcdp":
        parameters["privacy_model"] = spec.privacy_model
        parameters["noise_distribution"] = NOISE_DISTRIBUTION[spec.privacy_model]
    mechanism = MECHANISMS[spec.privacy_model]
    if not released:
        return NoisyRelease(values=(), groups=decisions, mechanism=mechanism, parameters=parameters)
    calibrated = calibrate(assign_merged_groups(totals, decisions, spec.group_by), released, spec)
    parameters["noise_scales"] = calibrated.scales
    noisy = calibrated.measurement(calibrated.data).collect()
    sizes = {d.group_value: d.roster_size for d in decisions}
    return NoisyRelease(
        values=published_values(noisy, spec, calibrated.scales, sizes),
        groups=decisions,
        mechanism=mechanism,
        parameters=parameters,
    )


@dataclass(frozen=True)
class PendingWindow:
    """A window whose metrics are not complete yet: nothing drawn, nothing spent."""

    release_name: str
    window_start: dt.date
    window_end: dt.date
    missing_days: tuple[dt.date, ...]


def release_windows(
    settings: Settings, policy: Policy, first_day: dt.date, end_day: dt.date
) -> list[ReleaseOutcome | PendingWindow]:
    """Publish every permitted release (and planning release, privacy.planning) whose window ends in
    [first_day, end_day).

    A window is released only when the metrics of all its days are complete; otherwise it is
    reported as pending and released by a later run. Stored releases are returned unchanged,
    unless the window's metrics were recomputed after its release (late data): then it is
    released again as a correction where the policy allows one (privacy.accountant). So a
    rerun of days inside an already published window (a backfill) also looks at that window,
    and so does a run of a day inside a window whose days are all complete by now (its last
    day ran earlier, e.g. a backfill run backwards or a failed day rerun later): it is released.
    """
    from privacy import planning  # the planning releases' draw (it reads this module's zone helpers)

    published = published_windows(settings.lake.warehouse_path)
    outcomes: list[ReleaseOutcome | PendingWindow] = []
    planned = [r.spec for r in policy.planning.releases] if policy.planning is not None else []
    for spec in [*policy.releases, *planned]:
        draw_from, groups_from = (
            (planning.draw_from_zones, planning.groups_from_zones)
            if spec in planned
            else (_draw_from_zones, _groups_from_zones)
        )
        windows = spec.windows_ending_in(first_day, end_day)
        for day in window_days(first_day, end_day):
            window = window_of(spec.window, day)
            if window in windows:
                continue
            if (spec.name, *window) in published or all(metrics_complete(settings, d) for d in window_days(*window)):
                windows.append(window)
        for start, end in sorted(windows):
            days = window_days(start, end)
            missing = [d for d in days if not metrics_complete(settings, d)]
            if missing:
                outcomes.append(PendingWindow(spec.name, start, end, tuple(missing)))
                continue
            key = ReleaseKey(spec.name, start, end, policy.sha256)
            outcomes.append(
                publish_release(
                    settings.lake.warehouse_path,
                    key,
                    spec,
                    policy,
                    settings.run_by,
                    draw=functools.partial(draw_from, settings, policy, spec, days),
                    groups=functools.partial(groups_from, settings, policy, spec, days),
                    inputs_as_of=metrics_computed_at(settings, days),
                    key_fingerprints=window_key_fingerprints(settings, days),
                )
            )
    return outcomes


# --- the metrics completion marker -------------------------------------------------------------


def metrics_marker(settings: Settings, day: dt.date) -> Path:
    """Written when the agent-day metrics of a day are complete (even if the day had no activity)."""
    return settings.lake.metrics_marker(day)


def metrics_complete(settings: Settings, day: dt.date) -> bool:
    return metrics_marker(settings, day).exists()


def mark_metrics_complete(settings: Settings, day: dt.date, missing_sources: Iterable[str] = ()) -> None:
    """Write the day's completion marker: when the metrics were computed (the trigger of corrections),
    the key fingerprints of the day's ingest reports (key continuity) and the kinds of input that
    delivered nothing that day (missing_sources: e.g. "telephony"; none of them names an agent).

    computed_at moves only when what a release reads of the day changed (metrics_sha256, a digest
    of the day's agent_day rows and roster snapshot): a rerun that recomputes the same rows is not
    late data, so it neither triggers a correction nor notes one.
    """
    marker = metrics_marker(settings, day)
    digest = day_inputs_digest(settings, day)
    previous = _json_field(marker, "metrics_sha256")
    previous_at = _json_field(marker, "computed_at")
    unchanged = previous == digest and isinstance(previous_at, str)
    computed_at = previous_at if unchanged else dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    doc = {
        "table": lake.METRICS_MARKER_TABLE,
        "day": day.isoformat(),
        "complete": True,
        "computed_at": computed_at,
        "metrics_sha256": digest,
        "key_fingerprints": ingest_key_fingerprints(settings, day),
        "missing_sources": sorted(missing_sources),
    }
    lake.write_json_atomic(marker, doc, indent=None)


def day_inputs_digest(settings: Settings, day: dt.date) -> str:
    """sha256 over the day's agent_day rows and roster snapshot as releases read them: each table's
    columns by name, its rows sorted, written as CSV (file names and row order do not matter)."""
    digest = hashlib.sha256()
    for table in (schema.AGENT_DAY, schema.ROSTER):
        frame = read_partitions(settings.lake.table_root(table), [day])
        if not frame.is_empty():
            frame = frame.select(sorted(frame.columns))
            frame = frame.sort(frame.columns)
        digest.update(f"{table.name}\n".encode())
        digest.update(frame.write_csv().encode())
    return digest.hexdigest()


# The staged tables agent_day reads (jobs.agent_day.run): their ingest reports name the day's key.
AGENT_DAY_INPUTS = (schema.ROSTER, schema.CONTACTS, schema.AGENT_EVENTS, schema.DESKTOP_ACTIVITY, schema.SCHEDULES)


def ingest_key_fingerprints(settings: Settings, day: dt.date) -> list[str]:
    """The sorted distinct key fingerprints of the day's ingest reports of agent_day's inputs.

    A missing report, or one written before reports carried a fingerprint, names none.
    """
    found: set[str] = set()
    for table in AGENT_DAY_INPUTS:
        fingerprint = _json_field(settings.lake.ingest_report(table, day), "key_fingerprint")
        if isinstance(fingerprint, str):
            found.add(fingerprint)
    return sorted(found)


def window_key_fingerprints(settings: Settings, days: list[dt.date]) -> dict[str, list[dt.date]]:
    """Each key fingerprint the days' markers name, with the days that name it.

    A marker written before markers carried fingerprints names none: it is not checked.
    """
    days_of: dict[str, list[dt.date]] = {}
    for day in days:
        fingerprints = _json_field(metrics_marker(settings, day), "key_fingerprints")
        for fingerprint in fingerprints if isinstance(fingerprints, list) else []:
            days_of.setdefault(str(fingerprint), []).append(day)
    return dict(sorted(days_of.items()))


def _json_field(path: Path, field: str) -> object:
    """One field of a JSON object file; None when the file, the object or the field is missing."""
    try:
        doc = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return doc.get(field) if isinstance(doc, dict) else None


def metrics_computed_at(settings: Settings, days: list[dt.date]) -> dt.datetime | None:
    """When the latest of the days' agent-day metrics were computed (from their markers), or None.

    A marker written before markers carried `computed_at` counts by its file's modification time.
    """
    latest: dt.datetime | None = None
    for day in days:
        marker = metrics_marker(settings, day)
        if not marker.exists():
            continue
        try:
            text = json.loads(marker.read_text()).get("computed_at")
        except (ValueError, AttributeError):
            text = None
        when = (
            dt.datetime.fromisoformat(text)
            if isinstance(text, str)
            else dt.datetime.fromtimestamp(marker.stat().st_mtime, dt.UTC)
        )
        latest = when if latest is None or when > latest else latest
    return latest


# --- reading the restricted zones ----------------------------------------------------------------


def window_roster(settings: Settings, days: list[dt.date]) -> pl.DataFrame:
    """The roster snapshot of the window's first day; if missing, the earliest one in the window."""
    roster = pl.DataFrame()
    for day in days:
        roster = read_partitions(settings.lake.table_root(schema.ROSTER), [day])
        if not roster.is_empty():
            break
    return roster


def _groups_from_zones(
    settings: Settings, policy: Policy, spec: ReleaseSpec, days: list[dt.date]
) -> tuple[GroupDecision, ...]:
    """The window's group decisions from its roster snapshot alone (the accuracy check before noise)."""
    roster = window_roster(settings, days)
    return () if roster.is_empty() else decide_groups(roster, spec, policy)


def _draw_from_zones(settings: Settings, policy: Policy, spec: ReleaseSpec, days: list[dt.date]) -> NoisyRelease:
    """Read the restricted zone for the window and draw the release (called after the budget check)."""
    roster = window_roster(settings, days)
    if roster.is_empty():
        return NoisyRelease(
            values=(), groups=(), mechanism=MECHANISMS[spec.privacy_model], parameters={"note": "no roster snapshot"}
        )
    agent_day = read_partitions(settings.lake.table_root(schema.AGENT_DAY), days)
    decisions = decide_groups(roster, spec, policy)
    totals = agent_window_totals(agent_day, roster.select("agent_pseudonym", "team", "site"), spec)
    release = draw_noisy_release(totals, decisions, spec)
    parents = group_parents(roster, spec.group_by)
    if parents:  # team -> site, so readers can set a team's figure beside its site's
        release.parameters["group_parents"] = dict(sorted(parents.items()))
    return release


# --- the current roster (for `teamlens plan`: the roster the next releases will use) ---------------


def current_roster(settings: Settings) -> tuple[pl.DataFrame, str]:
    """The roster the next releases will use: the latest staged snapshot, else the landing roster.

    The staged snapshot (staged/roster/day=D) is what `groups.decide_groups` is given for a
    window starting on D; before the first run only the landing roster exists (read and checked
    by foundation.roster.read_roster, which needs the pseudonymisation key). Group sizes are all the
    planner takes from it.
    """
    import polars as pl

    root = settings.lake.table_root(schema.ROSTER)
    days = [d for d in lake.partition_days(root) if lake.data_files(lake.partition(root, d))]
    if days:
        folder = lake.partition(root, days[-1])
        snapshot = pl.read_parquet(lake.data_files(folder)).with_columns(pl.lit(days[-1]).alias("day"))
        return snapshot, f"{folder} (latest staged snapshot)"
    from foundation.roster import read_roster, roster_path

    agents = read_roster(settings)
    frame = pl.DataFrame(
        {
            "agent_pseudonym": [a.agent_pseudonym for a in agents],
            "team": [a.team for a in agents],
            "site": [a.site for a in agents],
        },
        schema={"agent_pseudonym": pl.String, "team": pl.String, "site": pl.String},
    )
    return frame, f"{roster_path(settings)} (landing; no staged snapshot yet)"
