"""`teamlens subject-access --employee-id ID --out DIR`: one agent's copy of their data (GDPR Art. 15).

The export holds the information about the processing (teamlens/subject_access_info.py), every
record still held about the agent in the restricted zones, which releases included their data and
what each cost their budget (privacy/subject_access.py), as JSON (everything), CSV per table, a
readable summary (summary.html) and README.txt. manifest.json lists every file's SHA-256 and a
random export id; the ledger records the manifest's SHA-256 (entry 'subject_access'), never who.

Which rows: the agent's pseudonym is computed with the pipeline's key (settings.pseudonym_key:
outside demo mode a missing key stops with its message), then every table of the schema that has
an agent_pseudonym column (staged and metrics; a table added to the schema is included without a
change here) is read in full and filtered to it, and so are the validation quarantine files of
those tables (their raw_record holds the pseudonym). It names nobody else: their own pseudonym
is written as 'you'; a contact id another agent's row also names is blanked; any other roster
identifier, pseudonym or display name found in a string is replaced; and before the ledger entry
every file is scanned for them (an export that would name someone is deleted, and the command
fails). docs/privacy.md, "Your own data", says why.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from foundation.settings import Settings

CONTACT_ID_SUFFIX = re.compile(r"~[0-9a-f]{8}$")


@dataclass(frozen=True)
class Person:
    """One roster line as the export needs it: who it is and every string that names them."""

    employee_id: str
    display_name: str
    pseudonym: str
    identifiers: tuple[str, ...]  # every identifier value of the line (lower case), employee id included
    row: dict[str, str]


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: int
    manifest_sha256: str
    ledger_seq: int
    counts: dict[str, int]


def _roster_people(settings: Settings, key: bytes) -> list[Person]:
    """Every line of the landing roster (none when there is no roster file)."""
    from foundation.roster import NOT_IDENTIFIERS, csv_text, identifier_values, pseudonym

    path = settings.lake.roster_file
    if not path.is_file():
        return []
    people = []
    for row in csv.DictReader(io.StringIO(csv_text(path), newline="")):
        values = {(c or "").strip(): (v or "").strip() for c, v in row.items() if isinstance(v, str)}
        employee_id = values.get("employee_id", "")
        if not employee_id:
            continue
        ids = [v for c, cell in values.items() if c and c not in NOT_IDENTIFIERS for v in identifier_values(c, cell)]
        people.append(
            Person(employee_id, values.get("display_name", ""), pseudonym(key, employee_id), tuple(ids), values)
        )
    return people


def _redactor(others: list[Person], own: Person | None) -> re.Pattern[str] | None:
    """A pattern matching any string that names another person (whole words, any case)."""
    own_words = {w.lower() for w in ((own.display_name, *own.identifiers) if own else ()) if w}
    words = {
        w.lower()
        for p in others
        for w in (p.employee_id, p.display_name, p.pseudonym, *p.identifiers)
        if w and w.lower() not in own_words
    }
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


class _Cleaner:
    """Turns the agent's rows into export rows: own pseudonym -> 'you', others -> '[someone else]'."""

    def __init__(self, pseudonym: str, redact: re.Pattern[str] | None) -> None:
        from teamlens.subject_access_info import SOMEONE_ELSE, YOU

        self.pseudonym, self.redact, self.you, self.someone = pseudonym, redact, YOU, SOMEONE_ELSE

    def text(self, value: str) -> str:
        value = value.replace(self.pseudonym, self.you)
        return self.redact.sub(self.someone, value) if self.redact else value

    def row(self, row: dict[str, Any]) -> dict[str, Any]:
        return {k: self.text(v) if isinstance(v, str) else _plain(v) for k, v in row.items()}


def _read_table(settings: Settings, table: Any) -> Any:
    """Every partition of a canonical table as one frame with its day column (or an empty frame)."""
    import polars as pl

    from foundation import lake
    from privacy.release import read_partitions

    root = settings.lake.table_root(table)
    frame = read_partitions(root, lake.partition_days(root))
    return frame if not frame.is_empty() else pl.DataFrame()


def _shared_contact_ids(contacts: Any, pseudonym: str) -> set[tuple[str, str]]:
    """(source, contact id without its ~suffix) of every contact another agent's row names."""
    import polars as pl

    if contacts.is_empty():
        return set()
    others = contacts.filter(pl.col("agent_pseudonym").is_not_null() & (pl.col("agent_pseudonym") != pseudonym))
    return {(str(s), CONTACT_ID_SUFFIX.sub("", str(c))) for s, c in others.select("source", "contact_id").iter_rows()}


def agent_records(settings: Settings, pseudonym: str, cleaner: _Cleaner) -> dict[str, list[dict[str, Any]]]:
    """Table name -> the agent's rows of every schema table with an agent column (day first)."""
    import polars as pl

    from foundation import schema

    records: dict[str, list[dict[str, Any]]] = {}
    for table in schema.ALL_TABLES.values():
        if "agent_pseudonym" not in table.column_names:
            continue
        frame = _read_table(settings, table)
        mine = frame.filter(pl.col("agent_pseudonym") == pseudonym) if not frame.is_empty() else frame
        columns = [c for c in table.column_names if c in mine.columns] if not mine.is_empty() else []
        order = list(dict.fromkeys(c for c in ("day", *table.key) if c in columns))
        rows = mine.select(columns).sort(order).to_dicts() if columns else []
        if table.name == schema.CONTACTS.name and rows:
            shared = _shared_contact_ids(frame, pseudonym)
            for row in rows:
                if (str(row["source"]), CONTACT_ID_SUFFIX.sub("", str(row["contact_id"]))) in shared:
                    row["contact_id"] = None
        records[table.name] = [cleaner.row(r) for r in rows]
    return records


def agent_quarantine(settings: Settings, pseudonym: str, cleaner: _Cleaner) -> list[dict[str, Any]]:
    """The agent's rows in the validation quarantine of every table with an agent column."""
    import pyarrow.parquet as pq

    from foundation import lake, schema

    found: list[dict[str, Any]] = []
    for table in schema.ALL_TABLES.values():
        if "agent_pseudonym" not in table.column_names:
            continue
        for day in lake.partition_days(settings.lake.quarantine / table.name):
            path = settings.lake.validation_quarantine_file(table, day)
            if not path.is_file():
                continue
            for row in pq.read_table(path).to_pylist():
                try:
                    record = json.loads(row.get("raw_record") or "{}")
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("agent_pseudonym") == pseudonym:
                    found.append(cleaner.row({"table": table.name, **row, "day": day}))
    return found


def _csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return out.getvalue()


def _render_summary(context: dict[str, Any]) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from teamlens.dashboard.pages import TEMPLATES

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    return env.get_template("subject_access.html").render(**context)


def _names_found(folder: Path, others: list[Person]) -> list[str]:
    """Which file names another person (their employee id, pseudonym or display name), any case."""
    found = []
    for path in sorted(folder.iterdir()):
        text = path.read_text(encoding="utf-8").lower()
        for person in others:
            for word in (person.employee_id, person.pseudonym, person.display_name):
                if word and re.search(rf"(?<!\w){re.escape(word.lower())}(?!\w)", text):
                    found.append(path.name)
    return sorted(set(found))


def _make_folder(out: Path) -> None:
    from teamlens.user_errors import UserError

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} exists and is not an empty folder: choose a new folder for the export")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    out.chmod(0o700)


def write_subject_access(
    settings: Settings, employee_id: str, out: Path, now: dt.datetime | None = None
) -> ExportResult:
    """Write the export of one agent into `out` (created 0700), record it in the ledger, return what it did."""
    from foundation.policy import load_policy
    from foundation.roster import pseudonym as keyed_pseudonym
    from privacy.subject_access import budget_per_period, record_subject_access, releases_of_agent
    from teamlens import subject_access_info as info
    from teamlens.publishing import refresh_snapshot
    from teamlens.user_errors import UserError

    employee_id = employee_id.strip()
    if not employee_id:
        raise UserError("--employee-id is empty: give the agent's employee id as the roster writes it")
    now = now or dt.datetime.now(dt.UTC)
    key = settings.pseudonym_key()
    people = _roster_people(settings, key)
    own = next((p for p in people if p.employee_id == employee_id), None)
    others = [p for p in people if p.employee_id != employee_id]
    mine = keyed_pseudonym(key, employee_id)
    cleaner = _Cleaner(mine, _redactor(others, own))
    records = agent_records(settings, mine, cleaner)
    quarantine = agent_quarantine(settings, mine, cleaner)
    if own is None and not any(records.values()) and not quarantine:
        raise UserError(
            f"employee id {employee_id!r} is not in the roster ({settings.lake.roster_file}) and no record "
            "held under it was found: check the id as the roster writes it"
        )
    policy = load_policy(settings.policy_path)
    releases = releases_of_agent(settings, mine, policy)
    budget = budget_per_period(releases, policy)
    counts = {name: len(rows) for name, rows in records.items()}
    links = _personal_links(settings, mine, cleaner)
    doc = {
        "export_id": secrets.token_hex(16),
        "written_at": now.isoformat(timespec="seconds"),
        "employee_id": employee_id,
        "roster_entry": cleaner.row(own.row) if own else None,
        "processing": info.processing(policy, settings.lake.landing),
        "records": records,
        "validation_quarantine": quarantine,
        "releases": [r.as_dict() for r in releases],
        "budget_per_period": budget,
        "budget_cap": {"unit": policy.budget_cap.unit, "amount": policy.budget_cap.text},
        "personal_page_links": links,
    }
    files: dict[str, str] = {"data.json": "everything below in one JSON document, with the processing information"}
    texts: dict[str, str] = {"data.json": json.dumps(doc, indent=2, ensure_ascii=False, default=_plain)}
    for table in info.categories():
        name = table["table"]
        columns = [c["column"] for c in table["columns"]]
        texts[f"{name}.csv"] = _csv_text(records.get(name, []), columns)
        files[f"{name}.csv"] = f"your rows of the {table['zone']} table {name} ({counts.get(name, 0)} rows)"
    texts["quarantine.csv"] = _csv_text(
        quarantine, ["table", "day", "source", "source_file", "source_line", "reason", "raw_record"]
    )
    files["quarantine.csv"] = f"your rows refused by validation ({len(quarantine)} rows)"
    release_rows = [r.as_dict() for r in releases]
    texts["releases.csv"] = _csv_text(release_rows, list(release_rows[0]) if release_rows else ["release_name"])
    files["releases.csv"] = "every release, whether it included your data, your group and its cost per month"
    texts["budget.csv"] = _csv_text(budget, ["period", "unit", "releases", "spent", "cap", "within_cap"])
    files["budget.csv"] = "the privacy budget the releases charged to you per month, against the monthly cap"
    texts["personal_page_links.csv"] = _csv_text(links, list(LINK_COLUMNS))
    files["personal_page_links.csv"] = f"when a link to your personal page was issued or revoked ({len(links)})"
    if own:
        texts["roster_entry.csv"] = _csv_text([cleaner.row(own.row)], list(own.row))
        files["roster_entry.csv"] = "your line of the HR roster the pipeline reads"
    files["summary.html"] = "a readable summary: the processing, your records per table, releases and budget"
    files["README.txt"] = "this list"
    texts["summary.html"] = _render_summary(
        {**doc, "counts": counts, "files": files, "quarantine_rows": len(quarantine)}
    )
    texts["README.txt"] = info.readme_text({**files, "manifest.json": "SHA-256 of every other file, and the export id"})
    _make_folder(out)
    try:
        for name, text in texts.items():
            (out / name).write_text(text, encoding="utf-8")
        digests = {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in sorted(texts)}
        manifest = json.dumps({"export_id": doc["export_id"], "files": digests}, indent=2, sort_keys=True)
        (out / "manifest.json").write_text(manifest, encoding="utf-8")
        named = _names_found(out, others)
        if named:
            raise RuntimeError(f"the export would name another person in {', '.join(named)}; nothing was kept")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    for path in out.iterdir():
        path.chmod(0o600)
    manifest_sha256 = hashlib.sha256(manifest.encode("utf-8")).hexdigest()
    seq = record_subject_access(settings.lake.warehouse_path, manifest_sha256, len(texts) + 1, now)
    refresh_snapshot(settings)
    return ExportResult(out, len(texts) + 1, manifest_sha256, seq, counts)


LINK_COLUMNS = ("event", "generation", "at", "run_by")


def _personal_links(settings: Settings, mine: str, cleaner: _Cleaner) -> list[dict[str, Any]]:
    """The agent's records of the personal page links' register (issued, revoked), without the
    pseudonym; an operator who is on the roster is written as someone else, like any other person."""
    from teamlens.personal_link_register import RegisterError, read_register
    from teamlens.user_errors import UserError

    try:
        register = read_register(settings.lake.personal_links)
    except RegisterError as exc:
        raise UserError(str(exc)) from None
    return [cleaner.row({k: r[k] for k in LINK_COLUMNS}) for r in register.records if r["pseudonym"] == mine]


def cmd_subject_access(
    employee_id: Annotated[
        str, typer.Option("--employee-id", help="The agent's employee id, as the roster writes it.")
    ],
    out: Annotated[Path, typer.Option("--out", help="A new (or empty) folder for the export; created owner-only.")],
) -> int:
    """Write one agent's copy of their data (GDPR Art. 15) and record the export in the ledger."""
    from foundation.settings import load_settings

    result = write_subject_access(load_settings(), employee_id, out)
    rows = sum(result.counts.values())
    print(f"Wrote {result.files} files ({rows} records) to {result.folder}")
    print("The folder contains personal data (owner-only permissions): give it to the agent and to nobody else.")
    print(
        f"Recorded in the privacy ledger as entry {result.ledger_seq} "
        f"(SHA-256 of the manifest {result.manifest_sha256}), without naming the agent."
    )
    return 0
