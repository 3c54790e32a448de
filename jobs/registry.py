"""Which landing sources feed which canonical table: the one list of adapters.

Flat call exports are found at run time, one per landing/flat_calls/<export>/mapping.yaml, so
onboarding an export needs only its mapping file. The Amazon Connect and ActivityWatch sources
are built into their table's job (jobs.staged_contacts, staged_agent_events,
staged_desktop_activity). The workforce schedules (jobs.source_schedules) are a registered source
like the others; jobs.staged_schedules runs them.
"""

from __future__ import annotations

from pathlib import Path

from foundation import schema
from jobs.sources import Source


def builtin_sources() -> list[Source]:
    """The adapters of the other systems, in a fixed order."""
    from jobs import source_asterisk, source_desktop_jsonl, source_genesys, source_schedules

    return [
        *source_asterisk.SOURCES,
        *source_genesys.SOURCES,
        *source_desktop_jsonl.SOURCES,
        *source_schedules.SOURCES,
    ]


def sources_for(table: schema.Table, landing: Path) -> list[Source]:
    """Every source that feeds the table (whether it has landing files or not)."""
    from jobs import source_flat

    return [s for s in [*builtin_sources(), *source_flat.flat_sources(landing)] if s.table.name == table.name]
