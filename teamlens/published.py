"""Reads of the published warehouse that the terminal report and the dashboard share.

Each takes an open connection (the warehouse or its published snapshot) and returns rows as
dicts; a warehouse written before a table or column existed gives [].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from warehouse.store import fetch_dicts, has_column, has_table

if TYPE_CHECKING:
    import duckdb


def suppressed_groups(con: duckdb.DuckDBPyConnection, release_name: str | None = None) -> list[dict[str, Any]]:
    """Groups never published (roster under the minimum): release_name, group_value, roster_size, windows."""
    if not has_table(con, "suppressed_groups"):
        return []
    where, params = ("WHERE release_name = ?", [release_name]) if release_name else ("", [])
    return fetch_dicts(
        con,
        f"SELECT release_name, group_value, roster_size, count(*) AS windows FROM suppressed_groups {where} "
        "GROUP BY ALL ORDER BY release_name, group_value",
        params,
    )


def merged_groups(con: duckdb.DuckDBPyConnection, release_name: str | None = None) -> list[dict[str, Any]]:
    """Small teams published only pooled per site: release_name, merged_into, teams (a, b), windows."""
    if not has_table(con, "merged_groups"):
        return []
    where, params = ("WHERE release_name = ?", [release_name]) if release_name else ("", [])
    return fetch_dicts(
        con,
        "SELECT release_name, merged_into, string_agg(DISTINCT group_value, ', ' ORDER BY group_value) AS teams, "
        f"count(DISTINCT window_start) AS windows FROM merged_groups {where} GROUP BY ALL "
        "ORDER BY release_name, merged_into",
        params,
    )


def corrections(con: duckdb.DuckDBPyConnection, release_name: str | None = None) -> list[dict[str, Any]]:
    """Windows published again after late data: release_name, window_start, window_end, correction,
    correction_of, released_at; oldest first."""
    if not has_column(con, "releases", "correction"):
        return []
    where, params = ("AND release_name = ?", [release_name]) if release_name else ("", [])
    return fetch_dicts(
        con,
        "SELECT release_name, window_start, window_end, correction, correction_of, released_at FROM releases "
        f"WHERE correction > 0 {where} ORDER BY released_at",
        params,
    )
