"""The budget accountant: budget check before noise, idempotent releases, one transaction.

Accounting is per agent and per accounting period (calendar month), in the policy's budget unit
(zCDP rho, or epsilon under pure DP), with exact budgets (foundation.budget.Budget). It is
conservative: every agent is assumed to be in every release (each agent is in exactly one group
of a release, so one release costs every agent its full budget), and a release whose window
touches two months is charged in full to both. The spend of a period is the exact sum of the
amounts in `budget_spend`, whatever policy version they were spent under; the cap is the
current policy's (docs/privacy.md, Budgets).

`publish_release`:
0. If the policy's identity has no approval in the ledger (privacy/approval.py), refuse before
   anything else: nothing runs under a policy before it takes effect; nothing is recorded.
1. If the window (release name, window; any policy) has a stored release, return it: no noise
   is drawn and nothing is spent. A retry must never draw fresh noise.
1b. If the window's days were pseudonymised under more than one key (their key fingerprints
   differ), one person would be two agents in it: refuse before any noise is drawn or budget
   spent and record a 'refusal' ledger entry (reason 'key_continuity'; docs/privacy.md, Key
   continuity). A released window records its key's fingerprint.
2. If the policy sets an accuracy limit (max_relative_half_width) and the release's predicted
   relative 95% half-width at typical values (privacy.planner, from the roster group sizes that
   `groups` returns) exceeds it for its smallest published group, refuse before any noise is
   drawn or budget spent and record a 'refusal' ledger entry (reason 'accuracy').
3. If spent + budget would exceed the cap in any period touched, or the policy's yearly cap
   (budget_cap_year_rho / budget_cap_year_epsilon) in any rolling year holding a period touched
   (privacy.budgets), refuse before any noise is drawn and record a 'refusal' ledger entry
   (reason 'budget'). A repeated refusal of the same key on
   the same facts (the same spend of its periods; the same accuracy prediction) is not recorded
   again (a retrying scheduler would otherwise fill the ledger); a refusal on changed facts is.
4. Otherwise draw (with no connection open, so readers are not locked out meanwhile), then in
   one transaction re-check 1, 2 (on the group decisions of the drawn release) and 3, and insert
   the release, its groups, values and spend rows, and the 'release' ledger entry. Any error
   rolls all of it back. Noise drawn but not committed was never published and costs nothing.
   Every way out after the draw says so (DISCARDED): a drawn release that fails its checks
   (ValueError), a window stored by another run meanwhile (its stored values are returned), a
   re-check refused (accuracy on the drawn groups, or budget spent by another run meanwhile:
   a 'refusal' entry whose message says so and whose payload holds NOISE_DISCARDED), and an
   error inside the transaction (a note on the exception). docs/privacy.md (Discarded draws)
   explains why discarding a draw without charging it is sound.

Pure DP (policy `privacy_model: pure`): the same, in epsilon instead of rho. Pure DP composes
by adding epsilons, so a period's spend is the exact sum of the epsilons, compared with
budget_cap_epsilon; the warehouse's budget columns name their unit (`budget_unit`), and the
ledger entry names the model and the unit (`privacy_model`, `budget_unit`). Spend recorded in
one unit counts against a policy in the other as follows: an epsilon-DP release is
(epsilon^2 / 2)-zCDP (Bun and Steinke 2016, Prop. 1.4), so under a zCDP policy it counts as that
rho, exactly; zCDP spend has no pure-DP bound, so under a pure policy a period with any rho spend
is over the cap (refused, before noise).

The decisions use public facts only: the policy, the ledger, the budget spend and the roster
group sizes (which the release step takes from the roster).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from foundation.exact import jsonable, utc_text
from foundation.policy import Policy, ReleaseSpec
from foundation.windows import periods_touched, window_of
from privacy.approval import not_approved_message
from privacy.budgets import PeriodBudgets, period_budgets
from privacy.budgets import budget_summary as budget_summary  # the accountant's spend per period, for its callers
from privacy.ledger import append_entry, approval_entries, published_rows_digest, release_entry_payload
from privacy.mechanisms import rho_to_epsilon_opendp
from privacy.planner import AccuracyPlan, predict_accuracy
from warehouse import store
from warehouse.records import GroupDecision, NoisyRelease, ReleaseKey, ReleaseOutcome

# What every way out after the draw says about the noise drawn (module docstring, step 4).
DISCARDED = "the noise drawn was discarded: nothing was published and no budget was charged"
# What a refusal entry recorded after the draw holds under the key 'noise'.
NOISE_DISCARDED = {"drawn": True, "discarded": True, "published": False, "charged": False}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def publish_release(
    path: Path,
    key: ReleaseKey,
    spec: ReleaseSpec,
    policy: Policy,
    run_by: str,
    draw: Callable[[], NoisyRelease],
    now: Callable[[], dt.datetime] = _utc_now,
    groups: Callable[[], tuple[GroupDecision, ...]] | None = None,
    inputs_as_of: dt.datetime | None = None,
    key_fingerprints: Mapping[str, Sequence[dt.date]] | None = None,
) -> ReleaseOutcome:
    """Release once: refused under an unapproved policy, stored result if the key exists, refusal if
    too imprecise or over budget, else draw and commit.

    groups: the window's group decisions from the roster alone (no noise, no metric data), for
    the accuracy check before the draw; without it, the policy's accuracy limit is checked on
    the drawn release's group decisions only, before anything is stored.
    inputs_as_of: when the window's agent-day metrics were last computed. If that is after the
    inputs of the window's stored release (late data was loaded and the days recomputed), the
    window is released again as a correction if the policy allows one more (costing budget
    like any release); otherwise the stored values stand and the outcome says so.
    key_fingerprints: the fingerprints of the pseudonymisation keys the window's days were
    processed under, each with its days; more than one is refused (unknown: not checked).
    """
    _check_inputs(key, spec, policy)
    fingerprints = dict(key_fingerprints or {})
    periods = periods_touched(key.window_start, key.window_end)
    limited = policy.relative_limit(spec) is not None
    correction_of: str | None = None
    con = store.connect(path)
    try:
        if not approval_entries(con, policy.sha256):
            return _refused(key, spec, periods, f"refused {key.release_name}: {not_approved_message(policy)}")
        latest = store.latest_release(con, key)
        if latest is not None:
            stored_key = ReleaseKey.of_stored(latest)
            recomputed = _recomputed_since(latest, inputs_as_of)
            if recomputed is None:
                return _stored(con, stored_key)
            allowed = policy.corrections_allowed(spec)
            if stored_key.correction >= allowed:
                return _stored(con, stored_key, late=_late_note(recomputed, stored_key.correction, allowed))
            correction_of = str(latest["release_id"])
            key = key.corrected(stored_key.correction + 1)
        if len(fingerprints) > 1:
            return _refuse_key_continuity(con, key, spec, policy, run_by, periods, fingerprints, now())
        if limited and groups is not None:
            accuracy = predict_accuracy(spec, policy, groups())
            if accuracy.refused:
                return _refuse_accuracy(con, key, spec, policy, run_by, periods, accuracy, now())
        budget = period_budgets(con, periods, spec, policy)
        if budget.refused:
            return _refuse(con, key, spec, policy, run_by, budget, now())
    finally:
        con.close()

    noisy = draw()
    try:
        _check_noisy(noisy, policy)
    except ValueError as exc:
        raise ValueError(
            f"{key.release_name} [{key.window_start}, {key.window_end}) not published: the drawn release "
            f"failed its checks ({exc}); {DISCARDED}"
        ) from exc
    drawn = predict_accuracy(spec, policy, noisy.groups) if limited else None
    if spec.privacy_model == "zcdp":  # before the lock: imports OpenDP and caches the entry's epsilon
        rho_to_epsilon_opendp(spec.rho, policy.report_delta)

    con = store.connect(path)
    try:
        try:
            stored, imprecise, refused, written = _check_and_write(
                con, key, spec, policy, run_by, noisy, periods, drawn, now, correction_of, inputs_as_of, fingerprints
            )
        except Exception as exc:  # rolled back: say what became of the draw, keep the error's type
            exc.add_note(f"{key.release_name} [{key.window_start}, {key.window_end}): {DISCARDED}")
            raise
        if stored:
            latest = store.latest_release(con, key)
            assert latest is not None
            return _stored(con, ReleaseKey.of_stored(latest), drawn_meanwhile=True)
        if imprecise is not None:
            return _refuse_accuracy(con, key, spec, policy, run_by, periods, imprecise, now(), after_draw=True)
        if refused is not None:
            return _refuse(con, key, spec, policy, run_by, refused, now(), after_draw=True)
        assert written is not None
        budget = written
        after = ", ".join(f"{p} {(s + budget.requested).text} of {budget.cap.text}" for p, s in budget.spent.items())
        return ReleaseOutcome(
            key=key,
            status="released",
            budget=budget.requested,
            periods=tuple(periods),
            values=store.read_values(con, key.release_id),
            groups=store.read_groups(con, key.release_id),
            message=(
                f"released {key.release_name} [{key.window_start}, {key.window_end}) as {key.release_id}"
                + (
                    f" (correction {key.correction}, superseding {correction_of}: the window's metrics were "
                    "recomputed after it was published)"
                    if correction_of
                    else ""
                )
                + f": {budget.requested} charged to {', '.join(periods)}; "
                f"spent after this release: {after}"
            ),
        )
    finally:
        con.close()


# --- helpers ---------------------------------------------------------------------------------


def _check_and_write(
    con: duckdb.DuckDBPyConnection,
    key: ReleaseKey,
    spec: ReleaseSpec,
    policy: Policy,
    run_by: str,
    noisy: NoisyRelease,
    periods: list[str],
    drawn: AccuracyPlan | None,
    now: Callable[[], dt.datetime],
    correction_of: str | None,
    inputs_as_of: dt.datetime | None,
    fingerprints: Mapping[str, Sequence[dt.date]],
) -> tuple[bool, AccuracyPlan | None, PeriodBudgets | None, PeriodBudgets | None]:
    """Step 4 in one transaction: re-check, then write the release.

    Returns (stored by another run meanwhile, the accuracy refusal on the drawn groups, the budget
    refusal, the budget state written under); at most one of the first three is set.
    """
    with store.transaction(con):
        if store.window_release_exists(con, key):  # stored by someone else meanwhile
            return True, None, None, None
        if drawn is not None and drawn.refused:  # the drawn groups differ from those checked
            return False, drawn, None, None
        budget = period_budgets(con, periods, spec, policy)
        if budget.refused:  # another release was charged to these periods meanwhile
            return False, None, budget, None
        _write(
            con,
            key,
            spec,
            policy,
            run_by,
            noisy,
            periods,
            budget,
            now(),
            correction_of=correction_of,
            inputs_as_of=inputs_as_of,
            key_fingerprint=next(iter(fingerprints), None),
        )
        return False, None, None, budget


def _check_inputs(key: ReleaseKey, spec: ReleaseSpec, policy: Policy) -> None:
    if key.correction:
        raise ValueError("publish_release takes the window's key; the accountant numbers its corrections")
    if key.policy_sha256 != policy.sha256:
        raise ValueError(f"release key has policy hash {key.policy_sha256}, the policy is {policy.sha256}")
    if key.release_name != spec.name:
        raise ValueError(f"release key names {key.release_name!r} but the spec is {spec.name!r}")
    if policy.budgeted_spec(spec.name) != spec:  # a release, or a release's bounds suggestion (privacy.bounds)
        raise ValueError(f"release spec {spec.name!r} differs from the one in policy version {policy.version}")
    if window_of(spec.window, key.window_start) != (key.window_start, key.window_end):
        raise ValueError(
            f"window [{key.window_start}, {key.window_end}) is not a {spec.window} window of release {spec.name!r}"
        )


def _check_noisy(noisy: NoisyRelease, policy: Policy) -> None:
    """Defence in depth before anything is stored: never publish a small or unknown group."""
    decisions = {}
    for g in noisy.groups:
        if g.group_value in decisions:
            raise ValueError(f"group {g.group_value!r} has two decisions")
        if g.status == "released" and g.roster_size < policy.min_group_size:
            raise ValueError(
                f"group {g.group_value!r} has roster size {g.roster_size} < min_group_size "
                f"{policy.min_group_size} but is marked released"
            )
        decisions[g.group_value] = g.status
    seen = set()
    for v in noisy.values:
        if decisions.get(v.group_value) != "released":
            raise ValueError(f"value {v.statistic} of group {v.group_value!r}: the group is not released")
        if (v.group_value, v.statistic) in seen:
            raise ValueError(f"value {v.statistic} of group {v.group_value!r} appears twice")
        seen.add((v.group_value, v.statistic))
        missing = v.value is None or v.ci_low is None or v.ci_high is None
        if (v.status == "published") == missing:
            raise ValueError(
                f"value {v.statistic} of group {v.group_value!r}: status {v.status} needs value and interval "
                "set when published and all None when too_noisy"
            )


def _recomputed_since(latest: dict[str, Any], inputs_as_of: dt.datetime | None) -> dt.datetime | None:
    """inputs_as_of if the window's metrics were computed after the inputs of its latest release, else None.

    A release stored without inputs_as_of (written before corrections existed) is compared by
    its release time.
    """
    if inputs_as_of is None:
        return None
    before = latest.get("inputs_as_of") or latest["released_at"]
    return inputs_as_of if inputs_as_of > before else None


def _late_note(recomputed: dt.datetime, corrections: int, allowed: int) -> str:
    """Why late data did not lead to a correction."""
    done = "no correction" if corrections == 0 else f"{corrections} correction(s)"
    return (
        f"; the window's metrics were recomputed at {utc_text(recomputed)}, after this release, but the policy "
        f"allows {allowed} correction(s) per window ({done} so far): the published values stand"
    )


def _stored(
    con: duckdb.DuckDBPyConnection, key: ReleaseKey, late: str = "", drawn_meanwhile: bool = False
) -> ReleaseOutcome:
    """The stored release of the window. drawn_meanwhile: another run stored it while this one drew noise."""
    row = store.read_release(con, key.release_id)
    assert row is not None
    return ReleaseOutcome(
        key=key,
        status="stored",
        budget=store.stored_budget(row),
        periods=tuple(row["periods"]),
        values=store.read_values(con, key.release_id),
        groups=store.read_groups(con, key.release_id),
        message=(
            f"{key.release_name} [{key.window_start}, {key.window_end}) was released at {row['released_at']} "
            f"as {key.release_id}; returning the stored values: "
            + (
                f"another run stored them while this one drew noise; {DISCARDED}"
                if drawn_meanwhile
                else "no new noise drawn, no budget spent"
            )
            + late
        ),
    )


def _refuse(
    con: duckdb.DuckDBPyConnection,
    key: ReleaseKey,
    spec: ReleaseSpec,
    policy: Policy,
    run_by: str,
    budget: PeriodBudgets,
    recorded_at: dt.datetime,
    after_draw: bool = False,
) -> ReleaseOutcome:
    """Record the refusal (unless the same key was refused under the same spend) and say why.

    after_draw: refused by the re-check inside the transaction, after noise was drawn (another
    release was charged to the periods meanwhile).
    """
    reasons = "; ".join(budget.reasons())
    if after_draw:
        message = (
            f"refused {key.release_name} [{key.window_start}, {key.window_end}) after drawing noise: "
            f"it would exceed the privacy budget ({reasons}); another release was charged to its periods "
            f"while the noise was drawn; {DISCARDED}"
        )
    else:
        message = (
            f"refused {key.release_name} [{key.window_start}, {key.window_end}) before drawing noise: "
            f"it would exceed the privacy budget ({reasons})"
        )
    _record_refusal(
        con,
        key,
        policy,
        run_by,
        recorded_at,
        "budget",
        jsonable(budget.state()),
        {"over_periods": budget.over}
        | ({"over_years": [y.label for y in budget.over_years]} if budget.year_cap is not None else {})
        | ({"noise": NOISE_DISCARDED} if after_draw else {}),
        message,
    )
    return _refused(key, spec, list(budget.spent), message)


def _refuse_accuracy(
    con: duckdb.DuckDBPyConnection,
    key: ReleaseKey,
    spec: ReleaseSpec,
    policy: Policy,
    run_by: str,
    periods: list[str],
    accuracy: AccuracyPlan,
    recorded_at: dt.datetime,
    after_draw: bool = False,
) -> ReleaseOutcome:
    """Record an accuracy refusal (unless the same key was refused on the same prediction) and say why.

    after_draw: refused on the drawn release's group decisions, which differ from those checked
    before the draw.
    """
    if after_draw:
        message = (
            f"refused {key.release_name} [{key.window_start}, {key.window_end}) after drawing noise: "
            f"too imprecise to publish: {accuracy.reason()} (max_relative_half_width); the drawn release's "
            f"groups differ from those checked before the draw; {DISCARDED}"
        )
    else:
        message = (
            f"refused {key.release_name} [{key.window_start}, {key.window_end}) before drawing noise: "
            f"too imprecise to publish: {accuracy.reason()} (max_relative_half_width); no budget spent"
        )
    extra = {"noise": NOISE_DISCARDED} if after_draw else {}
    _record_refusal(con, key, policy, run_by, recorded_at, "accuracy", jsonable(accuracy.state()), extra, message)
    return _refused(key, spec, periods, message)


def _refuse_key_continuity(
    con: duckdb.DuckDBPyConnection,
    key: ReleaseKey,
    spec: ReleaseSpec,
    policy: Policy,
    run_by: str,
    periods: list[str],
    fingerprints: Mapping[str, Sequence[dt.date]],
    recorded_at: dt.datetime,
) -> ReleaseOutcome:
    """Record a key continuity refusal (unless recorded on the same fingerprints) and say how to fix it."""
    keys = "; ".join(
        f"key {fp} on {len(days)} day(s), {min(days)} to {max(days)}" for fp, days in sorted(fingerprints.items())
    )
    message = (
        f"refused {key.release_name} [{key.window_start}, {key.window_end}) before drawing noise: the window's "
        f"days were processed under different pseudonymisation keys ({keys}), so one person would count as two "
        "agents. Re-run the window's days under the current key, or rotate the key at an accounting-period "
        "(calendar month) boundary (docs/privacy.md, Key continuity); no budget spent"
    )
    state = {fp: sorted(d.isoformat() for d in days) for fp, days in sorted(fingerprints.items())}
    _record_refusal(con, key, policy, run_by, recorded_at, "key_continuity", state, {}, message)
    return _refused(key, spec, periods, message)


def _refused(key: ReleaseKey, spec: ReleaseSpec, periods: list[str], message: str) -> ReleaseOutcome:
    """The outcome of a refused release: nothing published, nothing spent."""
    return ReleaseOutcome(
        key=key,
        status="refused",
        budget=spec.budget,
        periods=tuple(periods),
        values=(),
        groups=(),
        message=message,
    )


def _record_refusal(
    con: duckdb.DuckDBPyConnection,
    key: ReleaseKey,
    policy: Policy,
    run_by: str,
    recorded_at: dt.datetime,
    reason: str,
    state: dict[str, Any],
    extra: dict[str, Any],
    message: str,
) -> None:
    """Append a 'refusal' ledger entry whose payload holds `state` under the key `reason`.

    Not appended again when this release's last refusal has the same state under that key and
    says the same of the noise (a refusal after a draw is recorded even after one before it).
    """
    last = con.execute(
        "SELECT payload FROM ledger WHERE entry_type = 'refusal' AND release_id = ? ORDER BY seq DESC LIMIT 1",
        [key.release_id],
    ).fetchone()
    if last is not None:
        previous = json.loads(last[0])
        if previous.get(reason) == state and previous.get("noise") == extra.get("noise"):
            return
    payload = {
        "release_id": key.release_id,
        "release_name": key.release_name,
        "window_start": key.window_start,
        "window_end": key.window_end,
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "reason": reason,
        **extra,
        reason: state,
        "message": message,
        "run_by": run_by,
    }
    with store.transaction(con):  # the seq read and the insert together
        append_entry(con, "refusal", payload, key.release_id, recorded_at)


def _write(
    con: duckdb.DuckDBPyConnection,
    key: ReleaseKey,
    spec: ReleaseSpec,
    policy: Policy,
    run_by: str,
    noisy: NoisyRelease,
    periods: list[str],
    budget: PeriodBudgets,
    released_at: dt.datetime,
    correction_of: str | None = None,
    inputs_as_of: dt.datetime | None = None,
    key_fingerprint: str | None = None,
) -> None:
    """All rows of one release and its ledger entry (inside the caller's transaction)."""
    utc_text(released_at)  # fail fast on a naive clock
    store.insert_release(
        con,
        key=key,
        purpose=spec.purpose,
        group_by=spec.group_by,
        policy_version=policy.version,
        budget=budget.requested,
        periods=periods,
        cap=budget.cap,
        noisy=noisy,
        released_at=released_at,
        run_by=run_by,
        correction_of=correction_of,
        inputs_as_of=inputs_as_of,
        key_fingerprint=key_fingerprint,
    )
    payload = release_entry_payload(
        key,
        spec,
        policy,
        run_by,
        noisy,
        periods,
        budget.spent,
        published_rows_digest(store.read_published_rows(con, key.release_id)),
        correction_of=correction_of,
        inputs_as_of=inputs_as_of,
        key_fingerprint=key_fingerprint,
    )
    append_entry(con, "release", payload, key.release_id, released_at)
