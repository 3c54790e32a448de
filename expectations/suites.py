"""Great Expectations suites for the staged tables, derived from the canonical schema.

Nothing is copied by hand from foundation.schema: the staged files' column set, nullability,
allowed values, bounds and keys all come from the declarations, so a change there changes
validation with it. The one thing declared here is the short list of cross-field rules the
schema has no vocabulary for (CROSS_FIELD_RULES); their columns are checked against the schema.
"""

from __future__ import annotations

import logging

# GX logs every decorated API at INFO on import; once Airflow has configured logging that is
# hundreds of lines per task. Must run before the import below.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402

from foundation.schema import Table  # noqa: E402

# column_A >= column_B for every row where both are present (per table name).
CROSS_FIELD_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "contacts": (("disconnect_ts", "initiation_ts"),),
    "schedules": (("end_ts", "start_ts"),),
}


def file_columns(table: Table) -> list[str]:
    """Columns of the table's staged Parquet files: partition columns live in the folder names."""
    return [c for c in table.column_names if c not in table.partition_by]


def partition_key(table: Table) -> list[str]:
    """The table's key within one partition (the partition columns are constant there)."""
    return [c for c in table.key if c not in table.partition_by]


def suite_for(table: Table) -> gx.ExpectationSuite:
    """The expectation suite of one staged partition of `table`, built from its declaration.

    - table level: the file's columns are exactly the declared ones (minus partition columns);
    - per column: not null (non-nullable), in set (allowed_values), between (min/max, inclusive);
    - the key is unique within the partition (single or compound);
    - CROSS_FIELD_RULES: column pairs ordered A >= B where both are present.
    Column-level expectations skip nulls, so a nullable column with allowed values accepts null.
    """
    expectations: list[gxe.Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=file_columns(table), exact_match=True)
    ]
    for col in table.columns:
        if col.name in table.partition_by:
            continue
        if not col.nullable:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=col.name))
        if col.allowed_values is not None:
            expectations.append(gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.allowed_values)))
        if col.min_value is not None or col.max_value is not None:
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.min_value, max_value=col.max_value)
            )
    key = partition_key(table)
    if len(key) == 1:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=key[0]))
    elif key:
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=key))
    for column_a, column_b in CROSS_FIELD_RULES.get(table.name, ()):
        table.column(column_a), table.column(column_b)  # KeyError if the schema renamed them
        expectations.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column_a, column_B=column_b, or_equal=True, ignore_row_if="either_value_is_missing"
            )
        )
    return gx.ExpectationSuite(name=f"staged.{table.name}", expectations=expectations)
