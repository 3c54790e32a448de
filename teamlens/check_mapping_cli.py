"""`teamlens check-mapping`: parse a sample of a flat call export with its mapping and check it before a run.

Only the export-side agent identifiers are compared with the roster and shown; pseudonyms never are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from foundation import lake
from foundation.settings import load_settings
from teamlens.tables import console, table
from teamlens.user_errors import UserError

PREVIEW_COLUMNS = ("source_line", "contact_id", "agent_key", "queue", "initiation_ts", "queue_seconds", "talk_seconds")


def cmd_check_mapping(
    mapping: Annotated[Path, typer.Argument(help="The export's mapping: landing/flat_calls/<export>/mapping.yaml.")],
    sample: Annotated[
        Path | None, typer.Argument(help="An export file (default: the first one under the mapping's folder).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 20,
) -> int:
    """Parse a sample of a flat call export with its mapping file and check it, before a run
    (exit 1: rows would be quarantined or a check found something)."""
    from jobs.flat_check import check_sample, key_description
    from jobs.flat_mapping import MappingError, load_mapping

    try:
        loaded = load_mapping(mapping)
    except (MappingError, OSError) as exc:
        raise UserError(f"mapping not usable: {exc}") from None
    if sample is None:
        days = lake.partition_days(mapping.parent)
        found = [
            p
            for folder in lake.partition_paths(mapping.parent, days)
            for p in sorted(folder.iterdir())
            if p.suffix in (".csv", ".tsv", ".txt")
        ]
        if not found:
            where = mapping.parent / f"{lake.PARTITION_PREFIX}YYYY-MM-DD"
            print(f"mapping ok; no sample: put an export under {where}/ or pass one")
            return 0
        sample = found[0]
    roster_ids, roster_note = _roster_identifiers(loaded.agent_identity)
    try:
        checked = check_sample(mapping, sample, roster_ids)
    except (ValueError, OSError) as exc:
        raise UserError(f"sample not usable: {exc}") from None
    rows = checked.rows[:limit]
    print(f"{sample} under {mapping} (first {len(rows)} of {len(checked.rows)} rows; times in UTC):")
    cells = []
    for r in rows:
        flags = ", ".join(f for f in ("abandoned", "transferred_out") if r.get(f))
        reason = f"QUARANTINED: {r['reason']}" if r.get("reason") else ""
        cells.append((*("-" if r.get(c) is None else str(r[c]) for c in PREVIEW_COLUMNS), flags, reason))
    out = console()
    out.print(table((*PREVIEW_COLUMNS, "flags", "quarantine"), cells))
    out.print(table(("call key columns", "joined by", "call_ids_unique"), [key_description(loaded)], title="Key"))
    if checked.quarantined:
        reasons = [(reason, str(n)) for reason, n in sorted(checked.quarantined.items(), key=lambda kv: -kv[1])]
        out.print(table(("quarantine reason", "rows"), reasons, right=("rows",), title="Quarantine"))
    findings = [(f.check, str(f.rows), "ok" if f.ok else "CHECK", f.detail) for f in checked.findings]
    if roster_note:
        findings.append(("agents in roster", "-", "not checked", roster_note))
    out.print(table(("check", "rows", "result", "detail"), findings, right=("rows",), title="Checks"))
    bad = sum(checked.quarantined.values())
    print(
        f"{len(checked.rows) - bad} rows parse, {bad} would be quarantined; "
        f"{checked.problems} of {len(checked.findings)} checks found something"
    )
    return 1 if bad or checked.problems else 0


def _roster_identifiers(identity: str) -> tuple[set[str] | None, str]:
    """The roster's values of the identity column (lower case), or None and why they are unavailable.
    Only the export-side identifiers are compared and shown; the pseudonyms are never printed."""
    from foundation.roster import read_roster
    from foundation.settings import MissingSecretError

    try:
        agents = read_roster(load_settings())
    except (OSError, ValueError, MissingSecretError) as exc:
        return None, f"roster not read ({exc})"
    return {value for a in agents for value in a.all_identifiers().get(identity, ())}, ""
