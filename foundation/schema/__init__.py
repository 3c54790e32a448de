"""The canonical schema: every table past ingestion, declared once.

Everything else derives from these declarations: the Spark StructTypes the jobs write, the
Great Expectations suites that validate staged partitions, and the allow-list of fields that
may pass ingestion (a column that is not declared here never reaches the staged zone).

Zones:
- staged:  canonical, pseudonymised, minimised rows; restricted; partitioned by site-local day.
- metrics: one row per agent per day; restricted; never published.
- quarantine: rows that failed parsing or validation, with the reason and source location.

Lineage columns (source_file, source_line) stay in the restricted zones; they let a data
engineer find the raw record that produced a row, and they never reach the warehouse.

Modules: `types` (declared types, Column, Table, Metric and the shared column builders),
`staged` (the staged tables and their vocabularies), `metrics` (agent_day, queue_day, and the
planning tables queue_interval and agent_queue_day). Import the names from this package:
`from foundation import schema; schema.CONTACTS`.
"""

from __future__ import annotations

from foundation.schema.metrics import AGENT_DAY, AGENT_QUEUE_DAY, METRIC_TABLES, QUEUE_DAY, QUEUE_INTERVAL
from foundation.schema.staged import (
    ADHERING_STATES,
    AGENT_EVENT_TYPES,
    AGENT_EVENTS,
    APP_CATEGORIES,
    CHANNELS,
    CONTACTS,
    DESKTOP_ACTIVITY,
    DESKTOP_BUCKETS,
    INITIATION_METHODS,
    NOT_READY_CATEGORY_NAMES,
    QUARANTINE_COLUMNS,
    ROSTER,
    SCHEDULE_ACTIVITIES,
    SCHEDULES,
    STAGED_TABLES,
    STATUS_TYPES,
    SURVEY_ANSWERS,
)
from foundation.schema.types import MAX_DAY_SECONDS, Column, DType, Metric, Table, arrow_type

ALL_TABLES: dict[str, Table] = {**STAGED_TABLES, **METRIC_TABLES}

__all__ = [
    "ADHERING_STATES",
    "AGENT_DAY",
    "AGENT_EVENTS",
    "AGENT_EVENT_TYPES",
    "AGENT_QUEUE_DAY",
    "ALL_TABLES",
    "APP_CATEGORIES",
    "CHANNELS",
    "CONTACTS",
    "DESKTOP_ACTIVITY",
    "DESKTOP_BUCKETS",
    "INITIATION_METHODS",
    "MAX_DAY_SECONDS",
    "METRIC_TABLES",
    "NOT_READY_CATEGORY_NAMES",
    "QUARANTINE_COLUMNS",
    "QUEUE_DAY",
    "QUEUE_INTERVAL",
    "ROSTER",
    "SCHEDULES",
    "SCHEDULE_ACTIVITIES",
    "STAGED_TABLES",
    "STATUS_TYPES",
    "SURVEY_ANSWERS",
    "Column",
    "DType",
    "Metric",
    "Table",
    "arrow_type",
]
