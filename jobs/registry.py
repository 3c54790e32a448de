"""Which landing sources feed which canonical table: the one list of adapters.

Every source, from the Amazon Connect streams to a flat call export, is an adapter (jobs.sources)
that jobs.ingest runs the same way. Flat call exports are found at run time, one per
landing/flat_calls/<export>/mapping.yaml, so onboarding an export needs only its mapping file.
"""

from __future__ import annotations

from pathlib import Path

from foundation import schema
from jobs.sources import Source


def builtin_sources() -> list[Source]:
    """The adapters of the known systems, in a fixed order (the order of a report's sources)."""
    from jobs import (
        source_activitywatch,
        source_asterisk,
        source_connect,
        source_desktop_jsonl,
        source_genesys,
        source_schedules,
        source_surveys,
    )

    return [
        *source_connect.SOURCES,
        *source_activitywatch.SOURCES,
        *source_asterisk.SOURCES,
        *source_genesys.SOURCES,
        *source_desktop_jsonl.SOURCES,
        *source_schedules.SOURCES,
        *source_surveys.SOURCES,
    ]


def sources_for(table: schema.Table, landing: Path) -> list[Source]:
    """Every source that feeds the table (whether it has landing files or not)."""
    from jobs import source_flat

    return [s for s in [*builtin_sources(), *source_flat.flat_sources(landing)] if s.table.name == table.name]
