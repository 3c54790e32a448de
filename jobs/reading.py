"""Reading landing files: which files a source delivered for a day, and their records as rows.

Every reader numbers records the same way (source_file, source_line), so that a quarantined record
points back to its place in landing and the reconciliation can count each record once.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gzip
import json
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType


GZIP = ".gz"
# Endings deliverers write for a declared suffix: newline-delimited JSON is JSON Lines.
SUFFIX_VARIANTS = {".ndjson": ".jsonl"}

SYMLINK = "symbolic link: not followed"
HIDDEN = "hidden name (starts with . or _): not read"
NOT_A_FILE = "not a regular file"
EMPTY = "empty"
UNKNOWN_FORMAT = "unknown format"
UPPER_CASE_GZIP = "unknown format (compressed files must end in lower-case .gz)"


class UnreadableLandingFileError(PermissionError):
    """A landing file the pipeline may not read: its records would be lost, so the run stops."""


@dataclass(frozen=True)
class LandingDay:
    """A source's landing day folder, every entry accounted for.

    read: the files the source parses (paths, sorted). not_read: (name, reason) of every other
    entry, sorted by name; the name is withheld when file names are personal.
    """

    read: list[str] = field(default_factory=list)
    not_read: list[tuple[str, str]] = field(default_factory=list)


def read_as(name: str, suffixes: Sequence[str]) -> str | None:
    """The declared suffix a landing file name is read as, or None when the source reads no such file.

    Case does not matter (.JSON is .json), .ndjson is read as a declared .jsonl, and X.gz as X
    (Spark and the Python parsers decompress it). A source declaring ".gz" also reads a .gz file
    whose inner name has no declared ending (Kinesis Firehose names its GZIP objects so); it is
    then read as GZIP. The .gz ending must be lower case: Hadoop picks its codec by the exact ending.
    """
    compressed = name.endswith(GZIP)
    inner = name[: -len(GZIP)].lower() if compressed else name.lower()
    for suffix in suffixes:
        if suffix != GZIP and inner.endswith(suffix.lower()):
            return suffix
    for variant, suffix in SUFFIX_VARIANTS.items():
        if suffix in suffixes and inner.endswith(variant):
            return suffix
    if compressed and GZIP in suffixes:
        return GZIP
    return None


def _open_read(path: Path) -> None:
    """Open a file for reading and close it (raises PermissionError when it may not be read)."""
    with path.open("rb"):
        pass


def _not_read_reason(entry: Path, suffixes: Sequence[str]) -> str | None:
    """Why an entry of a landing day folder is not read, or None when it is. Never follows a link."""
    if entry.is_symlink():
        return SYMLINK
    if entry.name[0] in "._":
        return HIDDEN
    st = entry.lstat()
    if not stat.S_ISREG(st.st_mode):
        return NOT_A_FILE
    if read_as(entry.name, suffixes) is None:
        return UPPER_CASE_GZIP if entry.name.lower().endswith(GZIP) else UNKNOWN_FORMAT
    if st.st_size == 0:
        return EMPTY
    try:
        _open_read(entry)
    except PermissionError as e:
        raise UnreadableLandingFileError(
            f"landing file {entry} cannot be read (permission denied); its records would be lost. "
            "Give the pipeline's user read access to it (e.g. chmod a+r) or move it out of landing, then run again."
        ) from e
    return None


def withheld_name(name: str) -> str:
    """A not-read file's name as shown when file names are personal: only its ending."""
    suffix = Path(name).suffix
    return f"*{suffix} (name withheld)" if suffix else "(name withheld)"


def landing_day(
    settings: Settings, source: str, suffixes: Sequence[str], day: dt.date, withhold_names: bool = False
) -> LandingDay:
    """Every entry of a source's landing day folder: read, or not read with its reason.

    Raises UnreadableLandingFileError naming a file the source would read but may not.
    """
    folder = settings.lake.landing_partition(source, day)
    if not folder.is_dir():
        return LandingDay()
    read: list[str] = []
    not_read: list[tuple[str, str]] = []
    for entry in sorted(folder.iterdir()):
        reason = _not_read_reason(entry, suffixes)
        if reason is None:
            read.append(str(entry))
        else:
            not_read.append((withheld_name(entry.name) if withhold_names else entry.name, reason))
    return LandingDay(read, not_read)


def _spark_visible(name: str) -> bool:
    """Whether Spark lists a file of a scanned folder (it skips names starting with . or _)."""
    return name[0] not in "._"


def scan_paths(files: Sequence[str]) -> tuple[list[str], str | None]:
    """The folders to scan (and a glob for the file names) when the files are all of their folders.

    Spark builds its file index far faster from a few folders than from thousands of file
    paths (34 s against 7 s for 4,900 ActivityWatch files here). Folders are used only when the
    files share one exact ending and every entry of their folders that the glob matches (links
    and other entries included) is one of the files, so nothing extra is read; otherwise the files.
    """
    endings = {"".join(Path(f).suffixes[-2:]) if Path(f).suffix == GZIP else Path(f).suffix for f in files}
    if len(endings) != 1 or "" in endings:
        return list(files), None
    glob = f"*{endings.pop()}"
    by_folder: dict[Path, set[str]] = {}
    for f in files:
        by_folder.setdefault(Path(f).parent, set()).add(str(f))
    for folder, wanted in by_folder.items():
        present = {str(p) for p in folder.iterdir() if _spark_visible(p.name) and fnmatch.fnmatchcase(p.name, glob)}
        if present != wanted:
            return list(files), None
    return sorted(str(f) for f in by_folder), glob


def read_landing_bytes(file: str | Path, limit: int | None = None) -> bytes:
    """A landing file's bytes (a file: URI or a path), decompressed when it ends in .gz; at most
    limit bytes when given."""
    text = str(file)
    path = Path(text[len("file://") :] if text.startswith("file://") else text.removeprefix("file:"))
    opener = gzip.open if path.name.endswith(GZIP) else open
    with opener(path, "rb") as f:
        return f.read() if limit is None else f.read(limit)


def _text_reader(spark: SparkSession, files: Sequence[str]) -> tuple[Any, list[str]]:
    paths, glob = scan_paths(files)
    reader = spark.read.option("pathGlobFilter", glob) if glob else spark.read
    return reader, paths


def lines_schema() -> StructType:
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("source_file", T.StringType(), False),
            T.StructField("source_line", T.LongType(), False),
            T.StructField("value", T.StringType(), True),
        ]
    )


def read_json_lines(spark: SparkSession, files: Sequence[str]) -> DataFrame:
    """One row per non-blank line: source_file, source_line (1-based line in the file), value.

    Line order: spark.read.text reads each file split front to back, splits of a file are
    scheduled in offset order (Spark packs equal-sized splits stably), and
    monotonically_increasing_id grows with the partition index and the row within the
    partition; so within one file the id grows with the line. It is assigned right at the scan,
    before any shuffle. Blank lines get a number but are not records (not read, not counted).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not files:
        return spark.createDataFrame([], lines_schema())
    reader, paths = _text_reader(spark, files)
    raw = reader.text(paths).select(
        F.input_file_name().alias("source_file"),
        F.monotonically_increasing_id().alias("_scan_order"),
        "value",
    )
    numbered = raw.withColumn(
        "source_line", F.row_number().over(Window.partitionBy("source_file").orderBy("_scan_order")).cast("long")
    )
    return numbered.filter(F.trim("value") != "").select("source_file", "source_line", "value")


def read_documents(spark: SparkSession, files: Sequence[str]) -> DataFrame:
    """One row per file (source_file, value): for formats where a file is one JSON document."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if not files:
        schema_ = T.StructType(
            [T.StructField("source_file", T.StringType(), False), T.StructField("value", T.StringType(), True)]
        )
        return spark.createDataFrame([], schema_)
    reader, paths = _text_reader(spark, files)
    return reader.text(paths, wholetext=True).select(F.input_file_name().alias("source_file"), F.col("value"))


def _resync(text: str, start: int, decoder: json.JSONDecoder) -> int:
    """Where the next whole JSON value after a broken one begins: the first '{' or '[' after start
    that opens a line or directly follows a closing '}' or ']' (objects back to back) and decodes;
    len(text) when none does. A '{' inside the broken record (after ':' or ',') is never taken."""
    for pos in range(start + 1, len(text)):
        if text[pos] not in "{[":
            continue
        before = text[:pos].rstrip(" \t")
        if not (before.endswith("\n") or before.rstrip().endswith(("}", "]"))):
            continue
        try:
            decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            continue
        return pos
    return len(text)


def split_json_document(text: str | None) -> list[str]:
    """The records of one JSON document: the elements of an array (wherever an array appears,
    back to back with objects or other arrays), or each object of a file of concatenated objects
    (Kinesis Firehose writes records back to back, with or without newlines).

    A broken record (text that is not JSON) becomes one record of its own, from where it starts to
    where the next whole object begins (_resync), so it is quarantined as malformed and never
    hides the valid records after it.
    """
    if text is None:
        return []
    decoder = json.JSONDecoder()
    out: list[str] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            return out
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            end = _resync(text, pos, decoder)
            out.append(text[pos:end].rstrip())
            pos = end
            continue
        if isinstance(value, list):
            out.extend(json.dumps(v) for v in value)
        else:
            out.append(text[pos:end])
        pos = end


def read_json_line_records(spark: SparkSession, files: Sequence[str]) -> DataFrame:
    """The records of JSON Lines files as lines_schema rows: a line each, except that a line
    holding a JSON array is its elements (some exporters write a batch as one array per line);
    they share the line's source_line, each its element as raw record. A line that only looks
    like an array (not valid JSON) stays one record, quarantined as malformed."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    lines = read_json_lines(spark, files)
    elements = F.from_json(F.col("value"), T.ArrayType(T.StringType()))
    is_array = F.trim(F.col("value")).startswith("[") & elements.isNotNull()
    records = F.when(is_array, elements).otherwise(F.array(F.col("value")))
    return lines.select("source_file", "source_line", F.explode(records).alias("value"))


def read_json_documents(spark: SparkSession, files: Sequence[str]) -> DataFrame:
    """Records of JSON document files as lines_schema rows: source_line is the record's 1-based
    position in its file."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if not files:
        return spark.createDataFrame([], lines_schema())
    # A lambda without type hints: Spark would otherwise try (and warn) to infer an Arrow UDF from them.
    split = F.udf(lambda text: split_json_document(text), T.ArrayType(T.StringType()))
    docs = read_documents(spark, files)
    return docs.select("source_file", F.posexplode(split(F.col("value"))).alias("pos", "value")).select(
        "source_file", (F.col("pos") + 1).cast("long").alias("source_line"), "value"
    )
