"""The `teamlens` command line: generate data, run the pipeline through Airflow, read the results.

Every command and option has help (`teamlens --help`, `teamlens COMMAND --help`). A user's
mistake (a wrong date, a reversed range, an unknown release, a bad TEAMLENS_* setting, a missing
key) is one line on stderr saying what is wrong and how to fix it, with exit code 2 (1: the
command ran and found a problem, e.g. verify or plan); never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from foundation import lake
from foundation.settings import Settings, load_settings
from teamlens.airflow_local import DAG_ID, airflow_env, ensure_airflow_db, run_dag, run_log_file, run_verdict
from teamlens.check_mapping_cli import cmd_check_mapping
from teamlens.publishing import refresh_snapshot
from teamlens.staffing_cli import cmd_staffing
from teamlens.tables import console, table
from teamlens.user_errors import UserError

__all__ = ["DAG_ID", "UserError", "airflow_env", "app", "ensure_airflow_db", "main", "run_dag", "run_verdict"]

app = typer.Typer(
    name="teamlens",
    help="Privacy-preserving engagement metrics for contact centers: run the pipeline, read what was published.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
policy_app = typer.Typer(
    help="Approve the privacy policy, show it and its approval, list approvals.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")

DEMO_START = dt.date(2026, 9, 28)


def parse_day(text: str | dt.date) -> dt.date:
    """A calendar day in ISO form; the error names the format. (Typer passes a default as it is.)"""
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a day: use YYYY-MM-DD, e.g. 2026-10-05") from None


def _settings() -> Settings:
    return load_settings()


# --- options shared by several commands ------------------------------------------------------------

Agents = Annotated[int, typer.Option(min=1, help="Agents in the generated center.")]
Teams = Annotated[int, typer.Option(min=1, help="Teams (about agents / teams agents each).")]
Sites = Annotated[int, typer.Option(min=1, help="Sites, each with its own time zone.")]
Days = Annotated[int, typer.Option(min=1, help="Number of days (default: 5 weeks).")]
Start = Annotated[
    dt.date,
    typer.Option(
        parser=parse_day,
        metavar="YYYY-MM-DD",
        help="First day (default: Monday 2026-09-28, so that October and five weeks are whole).",
    ),
]
Seed = Annotated[int, typer.Option(help="Seed of the synthetic data (the privacy noise is never seeded).")]
ReleaseName = Annotated[str | None, typer.Option("--release", help="Only this release (a name in the policy).")]


def _generate(settings: Settings, agents: int, teams: int, sites: int, days: int, start: dt.date, seed: int) -> None:
    from teamlens.generator import generate_center

    try:
        counts = generate_center(
            settings.lake.landing, agents=agents, teams=teams, sites=sites, days=days, start=start, seed=seed
        )
    except ValueError as exc:
        raise UserError(f"cannot generate this center: {exc}") from None
    print(f"Generated a demo center in {settings.lake.landing}:")
    for name, value in counts.items():
        print(f"  {name:>24}: {value:,}")


def _known_release(settings: Settings, release: str | None) -> None:
    """Refuse a release name the policy does not declare (its releases and planning releases), naming them."""
    if release is None:
        return
    from foundation.policy import load_policy

    policy = load_policy(settings.policy_path)
    planning = policy.planning.releases if policy.planning is not None else ()
    names = [spec.name for spec in policy.releases] + [planned.spec.name for planned in planning]
    names += [spec.name for spec in policy.survey_release_specs()]
    if release not in names:
        raise UserError(f"no release {release!r} in the policy {settings.policy_path}; releases: {', '.join(names)}")


# --- commands --------------------------------------------------------------------------------------


@app.command("generate")
def cmd_generate(
    agents: Agents = 200,
    teams: Teams = 14,
    sites: Sites = 2,
    days: Days = 35,
    start: Start = DEMO_START,
    seed: Seed = 7,
) -> int:
    """Write a synthetic contact center into the landing zone."""
    _generate(_settings(), agents, teams, sites, days, start, seed)
    return 0


@app.command("run")
def cmd_run(
    first_day: Annotated[
        dt.date, typer.Option(parser=parse_day, metavar="YYYY-MM-DD", help="First site-local day to process.")
    ],
    last_day: Annotated[
        dt.date, typer.Option(parser=parse_day, metavar="YYYY-MM-DD", help="Last site-local day, inclusive.")
    ],
) -> int:
    """Run the daily DAG over a span of days through Airflow (one run, one Spark session)."""
    if last_day < first_day:
        raise UserError(f"--last-day {last_day} is before --first-day {first_day}; swap them")
    from teamlens.run_summary import print_run_summary

    settings = _settings()
    started_at = dt.datetime.now(dt.UTC)
    rc = run_dag(settings, first_day, last_day, log_file=run_log_file("run"))
    print_run_summary(settings, first_day, last_day, started_at)
    return rc


@app.command("demo")
def cmd_demo(
    agents: Agents = 200,
    teams: Teams = 14,
    sites: Sites = 2,
    days: Days = 35,
    start: Start = DEMO_START,
    seed: Seed = 7,
) -> int:
    """Generate a demo center, run the pipeline, print the report, write the statement of its whole
    month and say how to open the dashboard (what `make demo` does)."""
    # A deprecation inside Airflow's imports, not the demo user's business.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    os.environ.setdefault("TEAMLENS_DEMO", "1")
    settings = _settings()
    marker = settings.lake.demo_center_marker
    params = {"agents": agents, "teams": teams, "sites": sites, "days": days, "start": start, "seed": seed}
    center = {k: str(v) for k, v in params.items()}
    if marker.exists() and json.loads(marker.read_text()) == center:
        print(f"The landing zone already holds this demo center ({settings.lake.landing}); not generating it again.")
    else:
        _generate(settings, agents, teams, sites, days, start, seed)
        lake.write_json_atomic(marker, center, indent=None)
    if settings.demo:
        _demo_approval(settings)
    last_day = start + dt.timedelta(days=days - 1)
    from teamlens.run_summary import print_run_summary

    started_at = dt.datetime.now(dt.UTC)
    rc = run_dag(settings, start, last_day, log_file=run_log_file("demo"))
    print_run_summary(settings, start, last_day, started_at)
    if rc != 0:
        return rc  # run_dag has said why
    from teamlens.demo_run import print_demo_ending
    from teamlens.report import print_report

    print_report(settings)
    print_demo_ending(settings, start, last_day)
    return 0


def _demo_approval(settings: Settings) -> None:
    """The demo approves its own policy (role 'demo', not a works agreement) and says so in one line."""
    from foundation.policy import load_policy
    from privacy.approval import DEMO_NAME, DEMO_ROLE, approve_policy

    policy = load_policy(settings.policy_path)
    approval, new = approve_policy(settings.lake.warehouse_path, policy, DEMO_ROLE, DEMO_NAME, settings.run_by)
    if new:
        refresh_snapshot(settings)
        print(
            f"The demo approves its own policy (version {policy.version}, {policy.sha256[:12]}) as "
            f"{DEMO_ROLE!r}, {DEMO_NAME!r}; a real deployment records the works council's approval with "
            "`teamlens policy approve`."
        )
    else:
        print(f"The demo's policy is already approved: {approval.describe()}.")


@app.command("report")
def cmd_report(release: ReleaseName = None) -> int:
    """Published figures with their 95% intervals, the budget spent, and the ledger's verification."""
    from teamlens.report import print_report

    settings = _settings()
    _known_release(settings, release)
    print_report(settings, release_name=release)
    return 0


@app.command("verify")
def cmd_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A signed checkpoint the ledger must extend (written by `teamlens checkpoint`)."),
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="The checkpoint's verifier key (default: the checkpoint file + .pub).")
    ] = None,
) -> int:
    """Recompute the privacy ledger's hash chain and check every table against it (exit 1: what is wrong)."""
    from privacy.verify import verify_ledger

    settings = _settings()
    if checkpoint is None:
        result = verify_ledger(settings.lake.warehouse_path)
    else:
        key_file = public_key or lake.public_key_path(checkpoint)
        if not checkpoint.exists():
            raise UserError(f"no checkpoint at {checkpoint}")
        if not key_file.exists():
            raise UserError(f"no verifier key at {key_file}: pass --public-key FILE")
        note = checkpoint.read_text(encoding="utf-8")
        result = verify_ledger(settings.lake.warehouse_path, note, key_file.read_text(encoding="utf-8"))
    print(result.message)
    return 0 if result.ok else 1


@app.command("checkpoint")
def cmd_checkpoint(
    out: Annotated[
        Path | None, typer.Option(help="Where to write it (default: reports/checkpoints/latest.txt in the lake).")
    ] = None,
) -> int:
    """Sign a checkpoint of the ledger (C2SP signed note); FILE.pub gets the verifier key."""
    from privacy.verify import write_signed_checkpoint

    settings = _settings()
    out = out or settings.lake.latest_checkpoint
    if not settings.lake.warehouse_path.exists():
        raise UserError(f"no warehouse at {settings.lake.warehouse_path}: nothing to checkpoint")
    checkpoint = write_signed_checkpoint(settings.lake.warehouse_path, settings.checkpoint_key_text(), out)
    refresh_snapshot(settings)  # the readers' snapshot is never older than the latest checkpoint
    print(f"Signed checkpoint of the ledger's {checkpoint.size} entries: {out}")
    print(f"Verifier key (give it to the works council): {lake.public_key_path(out)}")
    return 0


@app.command("paths")
def cmd_paths() -> int:
    """Where the zones, the warehouse and the policy live."""
    settings = _settings()
    rows = [(name, str(settings.lake.zone(name))) for name in ("landing", "staged", "quarantine", "metrics", "reports")]
    rows += [("warehouse", str(settings.lake.warehouse_path)), ("policy", str(settings.policy_path))]
    console().print(table(("what", "where"), rows))
    return 0


@app.command("plan")
def cmd_plan(
    release: ReleaseName = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    suggest_bounds: Annotated[
        bool,
        typer.Option(
            "--suggest-bounds",
            help="Suggest each sum's bound from a DP quantile of the latest complete window (spends the policy's "
            "bounds_suggestion budget once per window; recorded in the ledger).",
        ),
    ] = False,
) -> int:
    """Predicted 95% intervals and budget per month of each release for the current roster (exit 1: refused)."""
    from foundation.policy import PolicyError, load_policy
    from privacy.planner import format_plan, plan_json, plan_policy
    from privacy.release import current_roster

    settings = _settings()
    _known_release(settings, release)
    policy = load_policy(settings.policy_path)
    if suggest_bounds:
        return _suggest_bounds(settings, policy, release)
    try:
        roster, source = current_roster(settings)
        plan = plan_policy(policy, roster, release, source)
    except (PolicyError, FileNotFoundError, ValueError) as exc:
        raise UserError(f"cannot plan: {exc}") from None
    print(json.dumps(plan_json(plan), indent=2) if as_json else format_plan(plan))
    return 0 if plan.ok else 1


def _suggest_bounds(settings: Settings, policy: Any, release: str | None) -> int:
    """plan --suggest-bounds: DP suggestions of the releases' bounds (exit 1: one was refused; 2: not permitted)."""
    from foundation.policy import PolicyError
    from privacy.bounds import format_suggestions, suggest_bounds

    try:
        outcomes = suggest_bounds(settings, policy, release)
    except PolicyError as exc:
        raise UserError(f"cannot suggest bounds: {exc}") from None
    print(format_suggestions(outcomes, settings.lake.warehouse_path))
    return 1 if any(o.status == "refused" for o in outcomes) else 0


app.command("check-mapping")(cmd_check_mapping)


@app.command("retention")
def cmd_retention(
    as_of: Annotated[
        dt.date,
        typer.Option(parser=parse_day, metavar="YYYY-MM-DD", help="The day the retention periods count back from."),
    ],
    dry_run: Annotated[bool, typer.Option(help="Only print what would be deleted.")] = False,
) -> int:
    """Delete the partitions older than the policy's retention periods (recorded in the ledger first)."""
    from foundation.policy import load_policy
    from privacy.approval import PolicyNotApproved
    from privacy.retention import apply_retention
    from teamlens.run_lock import RunInProgress, exclusive_run

    settings = _settings()
    policy = load_policy(settings.policy_path)
    try:
        with exclusive_run(settings, f"teamlens retention as of {as_of}"):
            try:
                result = apply_retention(settings, policy, as_of, settings.run_by, dry_run=dry_run)
            finally:
                if not dry_run:
                    refresh_snapshot(settings)
    except (PolicyNotApproved, RunInProgress) as exc:
        raise UserError(str(exc)) from None
    verb = "would delete" if dry_run else "deleted"
    if not result["zones"]:
        print(f"Retention as of {as_of}: nothing is older than the retention periods; nothing {verb}.")
    for zone, z in result["zones"].items():
        days = z["days"]
        span = days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]}"
        print(
            f"{zone:>10}: {verb} {len(days)} day(s) {span} (older than {z['retention_days']} days, "
            f"kept from {z['oldest_kept_day']}): {z['folders']} folder(s), {z['files']} file(s), {z['bytes']:,} bytes"
        )
        for parent, parent_days in z["partitions"].items():
            print(f"{'':>12}{parent}: {len(parent_days)} day(s)")
    if result["entry_hash"]:
        print(f"Recorded in the privacy ledger before deleting: entry {result['entry_hash']}")
    leftovers = result["leftovers"]
    if leftovers["leftovers"]:
        counts = f"{leftovers.get('folders', 0)} folder(s), {leftovers.get('files', 0)} file(s)"
        done = "would remove" if dry_run else f"removed ({counts})"
        print(f"Leftovers of killed runs, {done}: {', '.join(leftovers['leftovers'])}")
    for link in result["refused_symlinks"]:
        print(f"not followed: {link} is a symlink leading out of {settings.data_root}", file=sys.stderr)
    return 1 if result["refused_symlinks"] else 0


@app.command("accept-bad-rows")
def cmd_accept_bad_rows(
    source: Annotated[str, typer.Option(help="The source, as the run's message names it (e.g. connect_ctr).")],
    day: Annotated[dt.date, typer.Option(parser=parse_day, metavar="YYYY-MM-DD", help="The day to accept.")],
    reason: Annotated[str, typer.Option(help="Why the day's quarantined records are acceptable.")],
) -> int:
    """Accept a source-day's quarantined records: left out of the bad-row limit from now on, still reported."""
    from foundation import bad_rows
    from teamlens.run_lock import RunInProgress, exclusive_run

    settings = _settings()
    try:
        with exclusive_run(settings, f"teamlens accept-bad-rows {source} {day}"):
            entry = bad_rows.accept(settings.lake, source, day, reason, settings.run_by)
    except (RunInProgress, ValueError) as exc:
        raise UserError(str(exc)) from None
    print(
        f"Accepted {entry['source']} {entry['day']} ({entry['by']}, {entry['at']}): {entry['reason']}. "
        f"Recorded in {bad_rows.accepted_file(settings.lake)}; the next run leaves it out of the bad-row limit."
    )
    return 0


@app.command("airflow")
def cmd_airflow(
    port: Annotated[int, typer.Option(min=1, max=65535, help="The UI's port on 127.0.0.1.")] = 8080,
) -> int:
    """Start Airflow's UI (scheduler, DAG processor, API server) on 127.0.0.1; Ctrl-C stops it all."""
    from teamlens.airflow_ui import serve_until_interrupted

    env = airflow_env(_settings())
    ensure_airflow_db(env)
    return serve_until_interrupted(env, port)


@app.command("dashboard")
def cmd_dashboard(
    host: Annotated[str, typer.Option(help="The address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port.")] = 8050,
) -> int:
    """Serve the read-only dashboard (managers' figures, the works council's audit) until Ctrl-C."""
    from teamlens.dashboard.app import serve

    return serve(_settings(), host, port)


app.command("staffing")(cmd_staffing)


@app.command("statement")
def cmd_statement(
    month: Annotated[str, typer.Option(help="The month stated, YYYY-MM (it must be over).")],
    out: Annotated[Path | None, typer.Option(help="Folder for the files (default: statements/YYYY-MM).")] = None,
) -> int:
    """Write the works council's monthly statement (HTML + PDF) and record its SHA-256 in the ledger."""
    from teamlens.statement import print_statement

    return print_statement(_settings(), month, out)


from teamlens.personal_link import cmd_personal_link  # noqa: E402 (their bodies live there)
from teamlens.subject_access import cmd_subject_access  # noqa: E402

app.command("subject-access")(cmd_subject_access)
app.command("personal-link")(cmd_personal_link)

# --- policy approval ---------------------------------------------------------------------------------


@policy_app.command("approve")
def cmd_policy_approve(
    by: Annotated[str, typer.Option(help="The approving role, e.g. 'works council'.")],
    name: Annotated[str, typer.Option(help="A name or reference, e.g. the agreement or the minutes.")],
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="The policy file to approve (default: the current policy).")
    ] = None,
) -> int:
    """Record the policy's approval in the privacy ledger: by whom (a role and a name) and when."""
    from foundation.policy import PolicyError, load_policy
    from privacy.approval import approve_policy

    settings = _settings()
    try:
        policy = load_policy(policy_file or settings.policy_path)
        approval, new = approve_policy(settings.lake.warehouse_path, policy, by, name, settings.run_by)
    except (PolicyError, OSError, ValueError) as exc:
        raise UserError(f"not approved: {exc}") from None
    if new:
        refresh_snapshot(settings)
        print(f"Recorded in the privacy ledger: {approval.describe()}. The policy takes effect now.")
    else:
        print(f"Already approved, nothing recorded: {approval.describe()}.")
    return 0


@policy_app.command("show")
def cmd_policy_show() -> int:
    """The current policy's identity and whether, when and by whom it was approved (exit 1: not approved)."""
    from foundation.policy import load_policy
    from privacy.approval import approval_of, not_approved_message

    settings = _settings()
    policy = load_policy(settings.policy_path)
    print(f"policy {settings.policy_path}: version {policy.version}, identity {policy.sha256}")
    approval = approval_of(settings.lake.warehouse_path, policy)
    print(f"approved: {approval.describe()}" if approval else f"not approved: {not_approved_message(policy)}")
    return 0 if approval else 1


@policy_app.command("history")
def cmd_policy_history() -> int:
    """Every approval recorded in the privacy ledger, oldest first; the current policy's is marked *."""
    from foundation.policy import load_policy
    from privacy.approval import history

    settings = _settings()
    current = load_policy(settings.policy_path).sha256
    approvals = history(settings.lake.warehouse_path)
    if not approvals:
        print(f"No policy approval in the privacy ledger ({settings.lake.warehouse_path}).")
    for approval in approvals:
        print(("* " if approval.policy_sha256 == current else "  ") + approval.describe())
    return 0


# --- entry point -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code.

    A user's mistake is one line on stderr: a usage error (unknown option, a wrong date, a missing
    argument) names the command's --help; a bad setting or a missing key says how to provide it.
    A reader that closes the pipe early (`teamlens report | head`) ends the command quietly with
    exit code 1 (Click's handling of a broken pipe: stdout is pacified so the final flush cannot fail).
    """
    from foundation.policy import PolicyError
    from foundation.settings import MissingSecretError, SettingsError

    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    try:
        result: Any = command.main(args=args, prog_name="teamlens", standalone_mode=False)
    except UserError as exc:
        print(f"teamlens: {exc}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("teamlens: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # Click's usage errors (Typer bundles Click)
        context = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            return 0  # Typer has printed the help
        where = context.command_path if context is not None else "teamlens"
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"{where}: {message} (see `{where} --help`)", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except (SettingsError, MissingSecretError, PolicyError) as exc:
        print(f"teamlens: {exc}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
