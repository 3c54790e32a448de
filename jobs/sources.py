"""The source adapters: every landing format, what canonical table it feeds, how it is parsed.

A source is one landing folder, landing/<source>/day=D/, written by one kind of system. Its
adapter turns the files of some days into *parsed rows* (the contract below); everything that
is the same for all sources (resolving the agent through the roster, the day rule, duplicates,
quarantine, writing, reconciliation) is done once, by jobs.ingest.

The parsed-rows contract (what Source.parse returns in Parsed.rows):
- the target table's columns except `day`, `agent_pseudonym` and `source` (jobs.ingest adds them);
- `agent_key` (string): the source's agent identifier as delivered, null when the record has no
  agent (an abandoned call); it is matched, trimmed and case-insensitively, against the roster
  column named by Source.identity and never reaches the staged zone;
- `day_ts` (timestamp, UTC): the instant whose site-local day must lie within one day of the
  landing day (the contact's start, the event's time); null only when `reason` is set;
- `reason` (string): null when the record parsed, else why it is quarantined;
- `source_file` (the file's full path, with its day=YYYY-MM-DD folder), `source_line` (long:
  1-based line, or record position in a document), `raw_record` (the record as delivered; it
  stays in the restricted quarantine zone).
Exactly one row per input record: a record the adapter does not ingest by design (a browser
bucket, a queue_log event no table needs) is counted in Parsed.not_ingested instead, never
dropped silently. Only allow-listed fields are parsed at all: names, phone numbers, titles, URLs
and free text are never read into a column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation import schema
from foundation.desktop_rules import DesktopRules
from foundation.settings import Settings
from foundation.status_names import StatusNameKeywords

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Columns every parsed-rows frame carries besides the table's own.
PARSED_EXTRA_COLUMNS = ("agent_key", "day_ts", "reason", "source_file", "source_line", "raw_record")
# Columns jobs.ingest adds.
ADDED_COLUMNS = ("day", "agent_pseudonym", "source")


class MissingDesktopRulesError(ValueError):
    """A desktop source was run without the policy's desktop category rules."""


@dataclass(frozen=True)
class SourceContext:
    """What a parse function may use besides the files: the settings, the source's options
    (landing/<source>/source.yaml, or a flat export's mapping; empty when there is none) and, of
    the policy (never the whole policy), the desktop category rules for the desktop sources and the
    status name keywords for the schedules."""

    settings: Settings
    folder: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    days: tuple[dt.date, ...] = ()
    desktop_rules: DesktopRules | None = None
    status_name_keywords: StatusNameKeywords = field(default_factory=StatusNameKeywords)

    def require_desktop_rules(self) -> DesktopRules:
        """The desktop category rules; refuses to guess categories without them."""
        if self.desktop_rules is None:
            raise MissingDesktopRulesError(
                f"{self.folder.name}: desktop activity needs the policy's desktop category rules "
                "(desktop_rules=policy.desktop_rules())"
            )
        return self.desktop_rules


@dataclass(frozen=True)
class Parsed:
    """A parse function's result: the parsed rows (contract above) and, optionally, a frame
    (source_file, kind, records) counting input not ingested by design, per kind, and a frame
    (source_file, note, records) counting records read in a way a person should know of (a host
    taken from another bucket, an activity name not in the policy's table): per day in the ingest
    report's `notes`, counts only."""

    rows: DataFrame
    not_ingested: DataFrame | None = None
    # Frames the parse persisted because rows and not_ingested both read them; jobs.ingest
    # unpersists them once the table is written.
    persisted: tuple[DataFrame, ...] = ()
    notes: DataFrame | None = None
    # Whether the records' ids are unique, as the parse read it from its options (a flat export's
    # mapping); None: the source's declaration (Source.ids_unique).
    ids_unique: bool | None = None


ParseFn = Callable[["SparkSession", list[str], SourceContext], Parsed]


@dataclass(frozen=True)
class Source:
    """One landing source feeding one canonical table.

    name: the landing folder (landing/<name>/day=D/) and the value of the staged `source` column.
    suffixes: the file name endings read, matched as jobs.reading.read_as says (any case, variants,
    X.gz); other entries of a landing day folder are listed as not read in the ingest report.
    identity: the roster column that the source's agent_key is matched against.
    order: the version order of a record's deliveries, latest first, as (column, descending)
    pairs; used where ids are unique (ids_unique): the latest version decides (docs/landing.md,
    "Duplicates and redeliveries").
    lookaround_days: landing days on each side also passed to parse (for records that span
    midnight, such as a queue_log call, and for redeliveries in a neighbouring day's folder):
    duplicates are decided over all of them; only rows whose source_file is in a run day are
    written.
    field_sources: canonical column -> the source field that feeds it (for docs/canonical-tables.md).
    record_time: the field day_ts comes from, as the day rule's quarantine reason names it.
    always: ingested even without a landing folder (a center's standard systems: the table's
    partitions and reports then say "nothing delivered" rather than nothing at all).
    stage_folder_only: stage only the landing day folder as source_file, when the file name is
    personal (an ActivityWatch export is named after its host); the quarantine keeps the path.
    ids_unique: the source's ids name one record each (a Connect ContactId): deliveries of one id
    are versions of one record (order decides, the latest wins) and different records under one
    id at the latest version are quarantined as an id collision. False (the default, e.g. a flat
    export that does not declare its call ids unique): records that share an id but differ in
    content are distinct records, the later ones staged with a suffixed id; only identical
    copies are duplicates. A parse may override it per run (Parsed.ids_unique).
    """

    name: str
    table: schema.Table
    suffixes: tuple[str, ...]
    identity: str
    parse: ParseFn
    order: tuple[tuple[str, bool], ...] = ()
    lookaround_days: int = 0
    field_sources: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    options: Mapping[str, Any] | None = None  # None: read landing/<name>/source.yaml when present
    record_time: str = "record time"
    always: bool = False
    stage_folder_only: bool = False
    ids_unique: bool = False
