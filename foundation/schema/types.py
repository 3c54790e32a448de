"""The building blocks of the canonical schema: declared types, columns, tables, metrics.

A `Table` declares its zone, its grain and its columns; the Spark StructType (`spark_schema`)
and the Arrow types (`arrow_type`) are derived from it. The column builders at the end declare
the columns that several tables share (day, agent pseudonym, source, lineage) once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pyspark is heavy: import it only where a StructType is built
    import pyarrow as pa
    from pyspark.sql.types import StructType

DType = Literal["string", "date", "timestamp", "int", "long", "double", "boolean"]

# Seconds in the longest possible local day (25 h on the day daylight saving time ends).
MAX_DAY_SECONDS = 25 * 3600


def arrow_type(dtype: DType) -> pa.DataType:
    """The Arrow type Spark writes and reads back for a declared type (timestamps UTC microseconds)."""
    import pyarrow as pa

    return {
        "string": pa.string(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "int": pa.int32(),
        "long": pa.int64(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
    }[dtype]


@dataclass(frozen=True)
class Metric:
    """What a metric column means, for the catalog users read (docs/metrics.md, generated)."""

    formula: str
    unit: str
    follows: str  # the vendor definition it matches
    inputs: str  # the staged fields it is computed from


@dataclass(frozen=True)
class Column:
    """One column of a canonical table, with the domain facts validation checks."""

    name: str
    dtype: DType
    nullable: bool
    description: str
    source: str = ""
    allowed_values: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    metric: Metric | None = None


@dataclass(frozen=True)
class Table:
    """A canonical table: its zone, its grain (what one row is) and its columns."""

    name: str
    zone: Literal["staged", "metrics"]
    grain: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ("day",)
    lineage: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def spark_schema(self) -> StructType:
        """The Spark StructType of this table, in declared column order."""
        from pyspark.sql import types as T

        spark_types = {
            "string": T.StringType(),
            "date": T.DateType(),
            "timestamp": T.TimestampType(),
            "int": T.IntegerType(),
            "long": T.LongType(),
            "double": T.DoubleType(),
            "boolean": T.BooleanType(),
        }
        return T.StructType([T.StructField(c.name, spark_types[c.dtype], c.nullable) for c in self.columns])


def day_column() -> Column:
    return Column(
        "day",
        "date",
        False,
        "Calendar day in the site's local time zone to which the record belongs.",
        "derived from the record's start time and the roster's site time zone",
    )


def agent_column() -> Column:
    return Column(
        "agent_pseudonym",
        "string",
        False,
        "Keyed HMAC-SHA256 of the agent's employee id; the key is never in the repository.",
        "roster employee_id, resolved from the source's user name or host",
    )


def source_column() -> Column:
    return Column(
        "source",
        "string",
        False,
        "Landing source the row came from (connect_ctr, asterisk_queue_log, genesys_conversations, "
        "flat_calls/<export>, activitywatch, ...): records of different systems never deduplicate "
        "against each other.",
        "the landing folder",
    )


def lineage_columns() -> tuple[Column, ...]:
    return (
        Column("source_file", "string", False, "Landing file the row was read from."),
        Column(
            "source_line",
            "long",
            False,
            "1-based line (JSON lines, CSV) or event position (JSON documents) in that file.",
        ),
    )
