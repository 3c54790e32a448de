"""The warehouse's tables: their DDL, views and the comments DuckDB stores on them.

warehouse/store.py describes what each table holds and creates them from here on first connect.
"""

from __future__ import annotations

SCHEMA_DDL = """
CREATE TABLE IF NOT EXISTS releases (
    release_id      VARCHAR PRIMARY KEY,
    release_name    VARCHAR NOT NULL,
    purpose         VARCHAR NOT NULL,
    group_by        VARCHAR NOT NULL,
    window_start    DATE NOT NULL,
    window_end      DATE NOT NULL,
    policy_sha256   VARCHAR NOT NULL,
    policy_version  INTEGER NOT NULL,
    budget_amount   DECIMAL(38, 18) NOT NULL,
    budget_amount_exact VARCHAR NOT NULL,
    periods         VARCHAR[] NOT NULL,
    mechanism       VARCHAR NOT NULL,
    parameters      JSON NOT NULL,
    released_at     TIMESTAMPTZ NOT NULL,
    run_by          VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,
    budget_unit     VARCHAR NOT NULL DEFAULT 'rho',
    correction      INTEGER NOT NULL DEFAULT 0,
    correction_of   VARCHAR,
    inputs_as_of    TIMESTAMPTZ,
    key_fingerprint VARCHAR
);
CREATE TABLE IF NOT EXISTS published_aggregates (
    release_id         VARCHAR NOT NULL,
    release_name       VARCHAR NOT NULL,
    group_by           VARCHAR NOT NULL,
    group_value        VARCHAR NOT NULL,
    window_start       DATE NOT NULL,
    window_end         DATE NOT NULL,
    statistic          VARCHAR NOT NULL,
    value              DOUBLE,
    ci_low             DOUBLE,
    ci_high            DOUBLE,
    noise_scale        DOUBLE,
    roster_group_size  INTEGER NOT NULL,
    status             VARCHAR NOT NULL CHECK (status IN ('published', 'too_noisy')),
    PRIMARY KEY (release_id, group_value, statistic)
);
CREATE TABLE IF NOT EXISTS release_groups (
    release_id    VARCHAR NOT NULL,
    release_name  VARCHAR NOT NULL,
    group_by      VARCHAR NOT NULL,
    group_value   VARCHAR NOT NULL,
    window_start  DATE NOT NULL,
    window_end    DATE NOT NULL,
    roster_size   INTEGER NOT NULL,
    status        VARCHAR NOT NULL CHECK (status IN ('released', 'suppressed_small_group', 'merged_into_parent')),
    merged_into   VARCHAR,
    PRIMARY KEY (release_id, group_value)
);

CREATE TABLE IF NOT EXISTS budget_spend (
    period         VARCHAR NOT NULL,
    release_id     VARCHAR NOT NULL,
    spent          DECIMAL(38, 18) NOT NULL,
    spent_exact    VARCHAR NOT NULL,
    cap            DECIMAL(38, 18) NOT NULL,
    cap_exact      VARCHAR NOT NULL,
    policy_sha256  VARCHAR NOT NULL,
    spent_at       TIMESTAMPTZ NOT NULL,
    budget_unit    VARCHAR NOT NULL DEFAULT 'rho',
    PRIMARY KEY (period, release_id)
);
CREATE TABLE IF NOT EXISTS ledger (
    seq          BIGINT PRIMARY KEY,
    entry_type   VARCHAR NOT NULL,
    recorded_at  VARCHAR NOT NULL,
    release_id   VARCHAR,
    payload      VARCHAR NOT NULL,
    prev_hash    VARCHAR NOT NULL,
    entry_hash   VARCHAR NOT NULL
);
"""

# The views readers use, name -> SELECT; (re)created after every schema change. `teamlens verify`
# compares each view's stored definition with these (a redefined view would show other numbers).
VIEW_DEFINITIONS: dict[str, str] = {
    "suppressed_groups": """
    SELECT release_id, release_name, group_value, roster_size, status AS reason
    FROM release_groups WHERE status = 'suppressed_small_group'""",
    "merged_groups": """
    SELECT release_id, release_name, window_start, window_end, group_value, roster_size, merged_into
    FROM release_groups WHERE status = 'merged_into_parent'""",
    "current_aggregates": """
    SELECT p.*, r.correction
    FROM published_aggregates p JOIN releases r USING (release_id)
    WHERE r.release_id = (
        SELECT c.release_id FROM releases c
        WHERE c.release_name = r.release_name AND c.window_start = r.window_start AND c.window_end = r.window_end
        ORDER BY c.correction DESC, c.released_at DESC, c.release_id DESC LIMIT 1
    )""",
}

VIEWS_DDL = "".join(f"CREATE OR REPLACE VIEW {name} AS{sql};\n" for name, sql in VIEW_DEFINITIONS.items())

TABLE_COMMENTS = {
    "releases": "One row per release: what was released, when, by whom, under which policy and budget.",
    "published_aggregates": (
        "What managers read. One row per release x group x statistic; noisy values with 95% intervals. "
        "No agent identifier, never a per-agent row."
    ),
    "release_groups": "One row per release x roster group: released, or suppressed because the roster group is small.",
    "budget_spend": (
        "One row per release x accounting period (calendar month): the budget it spent, in budget_unit "
        "(zCDP rho or pure DP epsilon)."
    ),
    "ledger": (
        "Append-only hash chain of policy approvals, releases, refusals, retention deletions and monthly statements; "
        "see AUDIT_SQL in privacy/ledger.py."
    ),
}

COLUMN_COMMENTS = {
    "releases": {
        "release_id": (
            "First 20 hex characters of sha256(release_name|window_start|window_end), with |correction=k for a "
            "correction; releases stored before the policy left the identity also hashed |policy_sha256."
        ),
        "window_end": "Exclusive: the day after the window's last day.",
        "budget_amount": (
            "Budget spent by this release per agent, in budget_unit (rounded up at 18 places; "
            "budget_amount_exact is authoritative)."
        ),
        "budget_amount_exact": "The exact budget as a decimal string, or p/q.",
        "periods": "Accounting periods (YYYY-MM) the window touches; the release is charged to each.",
        "parameters": "Mechanism parameters: clipping bounds, budget per sum, noise scales.",
        "budget_unit": "rho (zCDP, the default) or epsilon (pure DP): the unit of budget_amount(_exact).",
        "correction": "0 for a window's first release; k for its k-th correction (late data).",
        "correction_of": "The release this correction supersedes; NULL for a first release.",
        "inputs_as_of": "When the latest of the window's agent-day metrics were computed before this release.",
        "key_fingerprint": (
            "Fingerprint of the pseudonymisation key the window's days were processed under (a keyed hash of a "
            "constant, never the key); NULL when unknown (releases made before it was recorded)."
        ),
    },
    "published_aggregates": {
        "release_id": "The release these figures come from.",
        "release_name": "The release as named in the privacy policy, e.g. team_week_contacts_aht.",
        "group_by": "team or site.",
        "group_value": "The team or site.",
        "window_start": "First day of the window (inclusive).",
        "window_end": "Day after the last day of the window (exclusive).",
        "statistic": "What was measured, e.g. contacts_handled, handle_seconds, aht_seconds.",
        "value": "The published value with random noise added to protect individual agents; NULL when too_noisy.",
        "ci_low": "Lower end of the 95% interval: the true value lies in [ci_low, ci_high] with at least 95% chance.",
        "ci_high": "Upper end of the 95% interval.",
        "noise_scale": "Standard deviation of the noise added to a sum; NULL for ratios of two noisy sums.",
        "roster_group_size": "Agents in the group's roster (public), not the number who were active.",
        "status": "published, or too_noisy when the noise is too large to print a number.",
    },
    "release_groups": {
        "roster_size": "Agents in the roster group (public); groups below the policy minimum are suppressed.",
        "status": "released, suppressed_small_group, or merged_into_parent (pooled with its parent's small groups).",
        "merged_into": "The pooled group a merged group's agents count in, e.g. 'Berlin: small teams merged'.",
    },
    "budget_spend": {
        "period": "Accounting period, calendar month YYYY-MM.",
        "spent": "Budget charged to this period (rounded up at 18 places; spent_exact is authoritative).",
        "spent_exact": "The exact budget charged, as a decimal string or p/q.",
        "cap": "The policy's cap per agent per period when this spend was recorded.",
        "budget_unit": "rho (zCDP) or epsilon (pure DP): the unit of spent, spent_exact, cap and cap_exact.",
    },
    "ledger": {
        "seq": "1, 2, 3, ... without gaps.",
        "recorded_at": "UTC time as text YYYY-MM-DDTHH:MM:SS.ffffffZ (hashed exactly as stored).",
        "payload": "Canonical JSON text (sorted keys, no spaces, ASCII).",
        "prev_hash": "entry_hash of the previous entry; 64 zeros for the first entry.",
        "entry_hash": "sha256 hex of prev_hash || canonical entry; recipe in privacy/ledger.py.",
    },
}

PUBLISHED_COLUMNS = (
    "release_id",
    "release_name",
    "group_by",
    "group_value",
    "window_start",
    "window_end",
    "statistic",
    "value",
    "ci_low",
    "ci_high",
    "noise_scale",
    "roster_group_size",
    "status",
)
