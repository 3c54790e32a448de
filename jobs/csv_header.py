"""CSV files whose columns are found by their header's names (the schedules and the pulse survey exports).

Each file's header (its first non-blank line) is checked on the driver; every data line of the file
is then split and its required columns picked by the positions the header gave. A header lacking a
required column, or naming one twice, fails the run with a HeaderError naming the file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


class HeaderError(ValueError):
    """A file's header lacks a required column (or names one twice): the run fails."""


def _display(source_file: str) -> str:
    return source_file.removeprefix("file://").removeprefix("file:")


def header_layout(source_file: str, header: str, columns: Sequence[str], what: str) -> tuple[int, dict[str, int]]:
    """(number of columns, 0-based position of each required column) of one file's header line.

    what: the kind of file for the message ('a schedules file'). Raises HeaderError naming the file
    and the missing (or repeated) columns.
    """
    try:
        names = [n.strip().lower() for n in next(csv.reader([header.lstrip("\ufeff")]))]
    except (csv.Error, StopIteration):
        names = []
    missing = [c for c in columns if c not in names]
    repeated = [c for c in columns if names.count(c) > 1]
    if missing or repeated:
        problem = (
            f"the header lacks column(s) {', '.join(missing)}"
            if missing
            else f"the header names column(s) {', '.join(repeated)} more than once"
        )
        raise HeaderError(f"{_display(source_file)}: {problem} ({what} needs a header with {', '.join(columns)})")
    return len(names), {c: names.index(c) for c in columns}


def split_by_header(
    spark: SparkSession, lines: DataFrame, columns: Sequence[str], what: str
) -> tuple[DataFrame, Callable[[str], Column], list[str]]:
    """The data lines of every file (header lines left out), a function giving a required column's
    trimmed value on them, and the files whose header was read (each one header line not ingested).
    lines: reading.read_json_lines' rows (source_file, source_line, value)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    headers = (
        lines.groupBy("source_file")
        .agg(F.min("source_line").alias("line"), F.min_by("value", "source_line").alias("header"))
        .orderBy("source_file")
        .collect()
    )
    layouts: list[tuple[Any, ...]] = []
    for h in headers:
        width, at = header_layout(h["source_file"], h["header"], columns, what)
        layouts.append((h["source_file"], int(h["line"]), width, *[at[c] for c in columns]))
    schema = T.StructType(
        [
            T.StructField("source_file", T.StringType(), False),
            T.StructField("_header_line", T.LongType(), False),
            T.StructField("_width", T.IntegerType(), False),
            *[T.StructField(f"_at_{c}", T.IntegerType(), False) for c in columns],
        ]
    )
    layout = spark.createDataFrame(layouts, schema)
    width = max((row[2] for row in layouts), default=len(columns))
    data = lines.join(F.broadcast(layout), "source_file").filter(F.col("source_line") != F.col("_header_line"))
    split = F.from_csv(
        F.col("value"), ", ".join(f"`_c{i}` STRING" for i in range(width)), {"mode": "PERMISSIVE", "escape": '"'}
    )
    fields = F.array(*[split[f"_c{i}"] for i in range(width)])

    def field(name: str) -> Column:
        return F.trim(F.get(fields, F.col(f"_at_{name}")))

    return data, field, [row[0] for row in layouts]
