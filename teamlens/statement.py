"""The works council's monthly statement: `teamlens statement --month YYYY-MM [--out DIR]`.

One document (HTML, and a PDF rendered from it by WeasyPrint, charts as inline SVG) the works
council can file: the month's release register, the budget every agent spent against the
monthly cap and over the rolling year, refusals, corrections, suppressed and pooled groups,
retention deletions, policy changes, and the ledger at the month's end with its signed
checkpoint and how to verify it (docs/audit.md, The monthly statement).

It reads the published snapshot only (teamlens.audit_view) and holds only published and ledger
information. Its content depends on the month alone (no "written at" time), so a rerun writes
the same bytes and records nothing new; changed content (a correction published later for a
window of the month) becomes the month's next version. Each version's files and SHA-256 are
recorded in the ledger (privacy.statements). A month is stated once it is over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from foundation import lake
from foundation.settings import Settings
from foundation.windows import rolling_year
from privacy.statements import record_statement
from privacy.verify import ledger_rows, verify_connection
from teamlens import audit_view
from teamlens.dashboard.charts import to_svg
from teamlens.dashboard.pages import TEMPLATES
from teamlens.publishing import refresh_snapshot
from teamlens.user_errors import UserError
from warehouse.snapshot import open_snapshot

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class StatementResult:
    """What `teamlens statement` did: the files, their digests, the ledger entry, whether it is new."""

    month: str
    version: int
    html: Path
    pdf: Path
    html_sha256: str
    pdf_sha256: str
    seq: int
    recorded_now: bool


def parse_month(text: str) -> str:
    """YYYY-MM, or a UserError saying the form."""
    if not MONTH.match(text):
        raise UserError(f"--month {text!r} is not a month in the form YYYY-MM (e.g. 2026-10)")
    return text


def previous_month(day: dt.date) -> str:
    """The month before the one `day` lies in (what the monthly DAG states)."""
    first = day.replace(day=1) - dt.timedelta(days=1)
    return f"{first:%Y-%m}"


def last_whole_month(first_day: dt.date, last_day: dt.date) -> str | None:
    """The last calendar month lying wholly within [first_day, last_day] (YYYY-MM), or None."""
    first_of_next = (last_day + dt.timedelta(days=1)).replace(day=1)
    month_start = (first_of_next - dt.timedelta(days=1)).replace(day=1)
    return f"{month_start:%Y-%m}" if month_start >= first_day else None


def _month_end(month: str) -> dt.date:
    year, number = int(month[:4]), int(month[5:])
    return dt.date(year + number // 12, number % 12 + 1, 1)


def month_title(month: str) -> str:
    return f"{dt.date(int(month[:4]), int(month[5:]), 1):%B %Y}"


def _sites(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT DISTINCT group_value FROM published_aggregates WHERE group_by = 'site' ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def statement_context(con: duckdb.DuckDBPyConnection, month: str, checkpoint_folder: Path) -> dict[str, Any]:
    """Everything the statement shows for the month, from the snapshot and the signed checkpoints."""
    register = audit_view.release_register(con, month)
    everything = audit_view.timeline(con)
    events = [e for e in everything if e.month == month]
    refusals = [e for e in everything if e.kind == "refusal" and month in e.periods]
    # The statement covers the ledger up to the month's end, or further up to the last entry it
    # reports (a month's window is released, corrected or refused after the month, too).
    entries = max(
        [audit_view.entries_until(con, month), *(r["seq"] or 0 for r in register), *(e.seq for e in refusals)]
    )
    policy = audit_view.policy_in_force(con, entries)
    checkpoint = audit_view.checkpoint_covering(checkpoint_folder, entries)
    root_check = None
    if checkpoint is not None and checkpoint.size <= len(ledger_rows(con)):
        root_check = audit_view.merkle_root_of_first(con, checkpoint.size) == checkpoint.root_hash
    months = []
    if policy is not None:
        months = [audit_view.month_budget(con, policy, m) for m in rolling_year(month)]
    chart = to_svg(audit_view.budget_chart(months)) if months else None
    verification = verify_connection(con)
    return {
        "month": month,
        "month_title": month_title(month),
        "sites": _sites(con),
        "policy": policy,
        "policy_changes": [e for e in events if e.kind == "policy_approved"],
        "register": register,
        "corrections": [r for r in register if r["correction"]],
        "groups": _group_notes(con, register),
        "refusals": refusals,
        "deletions": [e for e in events if e.kind == "retention_deletion"],
        "month_budget": months[-1] if months else None,
        "year": audit_view.year_budget(con, policy, month) if policy else None,
        "chart": chart,
        "entries": entries,
        "head": audit_view.entry_hash_at(con, entries),
        "checkpoint": checkpoint,
        "checkpoint_matches": root_check,
        "verified": verification.ok,
        "verification": verification.message.split("\n")[0] if not verification.ok else "",
    }


def _group_notes(con: duckdb.DuckDBPyConnection, register: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(release and window, note) for every pooled or unpublished small group of the month's releases."""
    import json

    out = []
    for row in register:
        found = con.execute(
            "SELECT payload FROM ledger WHERE entry_type = 'release' AND release_id = ?", [row["release_id"]]
        ).fetchone()
        if found is None:
            continue
        for note in audit_view.group_notes(json.loads(found[0])):
            out.append((f"{row['release_name']}, {row['window']}", note))
    return out


def render_html(context: dict[str, Any]) -> str:
    """The statement as one self-contained HTML document (styles and charts inline)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    return env.get_template("statement.html").render(**context)


def render_pdf(html: str) -> bytes:
    """The PDF of the statement's HTML (WeasyPrint; deterministic for the same HTML)."""
    import weasyprint

    pdf: bytes = weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return pdf


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> None:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    lake.replace_file_atomic(path, write)


def write_statement(
    settings: Settings, month: str, out: Path | None = None, today: dt.date | None = None
) -> StatementResult:
    """Write the month's statement (HTML and PDF) and record it in the ledger, unless the month's
    latest statement already has this content (then its files are rewritten only if missing)."""
    month = parse_month(month)
    today = today or dt.datetime.now(dt.UTC).date()
    if _month_end(month) > today:
        raise UserError(f"{month} is not over yet: a statement covers a whole month (from {_month_end(month)} on)")
    folder = out or settings.lake.statement_dir(month)
    with open_snapshot(settings.lake.published_snapshot_path) as (con, _):
        context = statement_context(con, month, settings.lake.checkpoints)
        html = render_html(context).encode("utf-8")
        covers = int(context["entries"])
    pdf = render_pdf(html.decode("utf-8"))
    digests = {"html": _sha256(html), "pdf": _sha256(pdf)}
    record, appended = record_statement(settings.lake.warehouse_path, month, digests, covers, settings.run_by)
    paths = {kind: folder / record.files[kind]["name"] for kind in ("html", "pdf")}
    for kind, data in (("html", html), ("pdf", pdf)):
        if appended or not paths[kind].is_file():
            _write(paths[kind], data)
    if appended:
        # The statement's ledger entry shows in the dashboard, as after a publish.
        refresh_snapshot(settings)
    return StatementResult(
        month,
        record.version,
        paths["html"],
        paths["pdf"],
        record.sha256("html"),
        record.sha256("pdf"),
        record.seq,
        appended,
    )


def print_statement(settings: Settings, month: str, out: Path | None = None, today: dt.date | None = None) -> int:
    """`teamlens statement`: write the statement and say where it is and what the ledger holds.
    `today` (default: the UTC date) decides whether the month is over."""
    from teamlens.run_lock import RunInProgress, exclusive_run
    from warehouse.snapshot import NoSnapshotError

    try:  # alone, so that the statement never shows a run's releases half published
        with exclusive_run(settings, f"teamlens statement --month {month}"):
            result = write_statement(settings, month, out, today)
    except (NoSnapshotError, RunInProgress) as exc:
        raise UserError(str(exc)) from None
    state = "recorded in the ledger as entry" if result.recorded_now else "unchanged; already recorded as entry"
    print(f"Statement for {month_title(result.month)}, version {result.version} ({state} {result.seq}):")
    print(f"  PDF:  {result.pdf}  sha256 {result.pdf_sha256}")
    print(f"  HTML: {result.html}  sha256 {result.html_sha256}")
    return 0


def statement_task(month: str, settings: Settings | None = None) -> dict[str, Any]:
    """The monthly DAG's task: write the month's statement; a small summary for the task log (no figures)."""
    from foundation.settings import load_settings
    from teamlens.run_lock import step_lock

    settings = settings or load_settings()
    with step_lock(settings, "statement", shared=False):  # waits for a running pipeline step
        result = write_statement(settings, month)
    return {
        "month": result.month,
        "version": result.version,
        "pdf": str(result.pdf),
        "pdf_sha256": result.pdf_sha256,
        "ledger_entry": result.seq,
        "recorded_now": result.recorded_now,
    }
