"""The `teamlens` command line: generate data, run the pipeline through Airflow, read the results.

teamlens generate   write a synthetic contact center into the landing zone
teamlens run        run the daily DAG over a span of days with `airflow dags test`
teamlens demo       generate + run + report, as `make demo` does
teamlens report     published figures with their 95% intervals, and the budget spent
teamlens verify     recompute the privacy ledger's hash chain and check the tables against it (exit 1: what is
                    wrong); --checkpoint FILE: also prove that the ledger extends a signed checkpoint
teamlens checkpoint sign a checkpoint of the ledger; write it to FILE and its verifier key to FILE.pub
teamlens paths      where every zone lives
teamlens plan       predicted 95% intervals and budget per month of every release for the current roster
teamlens check-mapping  parse a sample of a flat call export with its mapping file, before a run
teamlens retention  delete the partitions older than the policy's retention periods (or --dry-run)
teamlens policy approve --by ROLE --name NAME   record the policy's approval (it takes effect only once approved)
teamlens policy show     the current policy's identity and its approval (exit 1: not approved)
teamlens policy history  every approval in the privacy ledger
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

from foundation import lake
from foundation.settings import REPO_ROOT, Settings, load_settings

DAG_ID = "teamlens_daily"


def airflow_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Airflow on one machine: SQLite metadata in var/airflow, our DAGs, loopback only."""
    env = dict(os.environ if base is None else base)
    env.setdefault("AIRFLOW_HOME", str(REPO_ROOT / "var" / "airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "2")
    env.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env["TEAMLENS_DATA_ROOT"] = str(settings.data_root)
    return env


def _airflow(args: list[str], env: dict[str, str]) -> int:
    airflow = Path(sys.executable).parent / "airflow"
    return subprocess.call([str(airflow), *args], env=env)


def ensure_airflow_db(env: dict[str, str]) -> None:
    """Create or upgrade Airflow's SQLite metadata database once (skipped when up to date)."""
    home = Path(env["AIRFLOW_HOME"])
    stamp = home / ".teamlens-db-migrated"
    if stamp.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    rc = _airflow(["db", "migrate"], env)
    if rc != 0:
        raise SystemExit(f"airflow db migrate failed with exit code {rc}")
    stamp.write_text("ok\n")


def run_dag(settings: Settings, first_day: dt.date, last_day: dt.date) -> int:
    """One DAG run over [first_day, last_day] in one process (one Spark session)."""
    env = airflow_env(settings)
    ensure_airflow_db(env)
    conf = json.dumps({"first_day": first_day.isoformat(), "last_day": last_day.isoformat()})
    logical = dt.datetime.combine(last_day, dt.time(), tzinfo=dt.UTC).isoformat()
    print(f"Running DAG {DAG_ID} over {first_day} .. {last_day} (airflow dags test) ...", flush=True)
    return _airflow(["dags", "test", DAG_ID, logical, "--conf", conf], env)


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from teamlens.generator import generate_center

    counts = generate_center(
        settings.lake.landing,
        agents=args.agents,
        teams=args.teams,
        sites=args.sites,
        days=args.days,
        start=args.start,
        seed=args.seed,
    )
    print(f"Generated a demo center in {settings.lake.landing}:")
    for name, value in counts.items():
        print(f"  {name:>24}: {value:,}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from teamlens.run_summary import print_run_summary

    started_at = dt.datetime.now(dt.UTC)
    rc = run_dag(settings, args.first_day, args.last_day)
    print_run_summary(settings, args.first_day, args.last_day, started_at)
    return rc


def run_demo_dag(settings: Settings, first_day: dt.date, last_day: dt.date) -> int:
    """The demo's DAG run: like run_dag, but its output goes to var/logs/demo-<time>.log and the
    terminal shows one line per task and the warnings that concern the user (teamlens.demo_run)."""
    from teamlens.demo_run import run_with_progress

    env = airflow_env(settings)
    ensure_airflow_db(env)
    # The log file gets the steps' outcome lines (INFO); the terminal only progress and warnings.
    env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
    conf = json.dumps({"first_day": first_day.isoformat(), "last_day": last_day.isoformat()})
    logical = dt.datetime.combine(last_day, dt.time(), tzinfo=dt.UTC).isoformat()
    log_file = REPO_ROOT / "var" / "logs" / f"demo-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
    print(f"Running DAG {DAG_ID} over {first_day} .. {last_day} (airflow dags test); full log: {log_file}", flush=True)
    airflow = Path(sys.executable).parent / "airflow"
    command = [str(airflow), "dags", "test", DAG_ID, logical, "--conf", conf]
    rc = run_with_progress(command, env, DAG_ID, log_file, echo=lambda line: print(line, flush=True))
    print(f"The DAG run {'finished' if rc == 0 else f'failed (exit code {rc})'}; full log: {log_file}")
    return rc


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    # A deprecation inside Airflow's imports, not the demo user's business.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    os.environ.setdefault("TEAMLENS_DEMO", "1")
    settings = load_settings()
    marker = settings.lake.demo_center_marker
    params = {k: str(getattr(args, k)) for k in ("agents", "teams", "sites", "days", "start", "seed")}
    if marker.exists() and json.loads(marker.read_text()) == params:
        print(f"The landing zone already holds this demo center ({settings.lake.landing}); not generating it again.")
    else:
        cmd_generate(args, settings)
        lake.write_json_atomic(marker, params, indent=None)
    if settings.demo:
        _demo_approval(settings)
    last_day = args.start + dt.timedelta(days=args.days - 1)
    from teamlens.run_summary import print_run_summary

    started_at = dt.datetime.now(dt.UTC)
    rc = run_demo_dag(settings, args.start, last_day)
    print_run_summary(settings, args.start, last_day, started_at)
    if rc != 0:
        print(f"The DAG run failed (exit code {rc}); see its log named above.", file=sys.stderr)
        return rc
    from teamlens.report import print_report

    print_report(settings)
    return 0


def _demo_approval(settings: Settings) -> None:
    """The demo approves its own policy (role 'demo', not a works agreement) and says so in one line."""
    from foundation.policy import load_policy
    from privacy.approval import DEMO_NAME, DEMO_ROLE, approve_policy

    policy = load_policy(settings.policy_path)
    approval, new = approve_policy(settings.lake.warehouse_path, policy, DEMO_ROLE, DEMO_NAME, settings.run_by)
    if new:
        print(
            f"The demo approves its own policy (version {policy.version}, {policy.sha256[:12]}) as "
            f"{DEMO_ROLE!r}, {DEMO_NAME!r}; a real deployment records the works council's approval with "
            "`teamlens policy approve`."
        )
    else:
        print(f"The demo's policy is already approved: {approval.describe()}.")


def cmd_policy_approve(args: argparse.Namespace, settings: Settings) -> int:
    """Record the approval of the current policy (or --policy FILE) in the privacy ledger."""
    from foundation.policy import PolicyError, load_policy
    from privacy.approval import approve_policy

    try:
        policy = load_policy(Path(args.policy) if args.policy else settings.policy_path)
        approval, new = approve_policy(settings.lake.warehouse_path, policy, args.by, args.name, settings.run_by)
    except (PolicyError, OSError, ValueError) as exc:
        print(f"not approved: {exc}", file=sys.stderr)
        return 2
    if new:
        print(f"Recorded in the privacy ledger: {approval.describe()}. The policy takes effect now.")
    else:
        print(f"Already approved, nothing recorded: {approval.describe()}.")
    return 0


def cmd_policy_show(args: argparse.Namespace, settings: Settings) -> int:
    """The current policy's identity and whether, when and by whom it was approved (exit 1: not approved)."""
    from foundation.policy import load_policy
    from privacy.approval import approval_of, not_approved_message

    policy = load_policy(settings.policy_path)
    print(f"policy {settings.policy_path}: version {policy.version}, identity {policy.sha256}")
    approval = approval_of(settings.lake.warehouse_path, policy)
    print(f"approved: {approval.describe()}" if approval else f"not approved: {not_approved_message(policy)}")
    return 0 if approval else 1


def cmd_policy_history(args: argparse.Namespace, settings: Settings) -> int:
    """Every approval recorded in the privacy ledger, oldest first; the current policy's is marked."""
    from foundation.policy import load_policy
    from privacy.approval import history

    current = load_policy(settings.policy_path).sha256
    approvals = history(settings.lake.warehouse_path)
    if not approvals:
        print(f"No policy approval in the privacy ledger ({settings.lake.warehouse_path}).")
    for approval in approvals:
        print(("* " if approval.policy_sha256 == current else "  ") + approval.describe())
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from teamlens.report import print_report

    print_report(settings, release_name=args.release)
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from privacy.verify import verify_ledger

    if args.checkpoint is None:
        result = verify_ledger(settings.lake.warehouse_path)
    else:
        note_file = Path(args.checkpoint)
        key_file = Path(args.public_key) if args.public_key else lake.public_key_path(note_file)
        if not key_file.exists():
            print(f"no verifier key at {key_file}: pass --public-key FILE", file=sys.stderr)
            return 2
        note = note_file.read_text(encoding="utf-8")
        result = verify_ledger(settings.lake.warehouse_path, note, key_file.read_text(encoding="utf-8"))
    print(result.message)
    return 0 if result.ok else 1


def cmd_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    """Sign a checkpoint of the ledger as it is now (C2SP signed note); FILE.pub gets the verifier key."""
    from privacy.verify import write_signed_checkpoint

    out = Path(args.out) if args.out else settings.lake.latest_checkpoint
    if not settings.lake.warehouse_path.exists():
        print(f"no warehouse at {settings.lake.warehouse_path}: nothing to checkpoint", file=sys.stderr)
        return 2
    checkpoint = write_signed_checkpoint(settings.lake.warehouse_path, settings.checkpoint_key_text(), out)
    print(f"Signed checkpoint of the ledger's {checkpoint.size} entries: {out}")
    print(f"Verifier key (give it to the works council): {lake.public_key_path(out)}")
    return 0


def cmd_paths(args: argparse.Namespace, settings: Settings) -> int:
    for name in ("landing", "staged", "quarantine", "metrics", "reports"):
        print(f"{name:>10}: {settings.lake.zone(name)}")
    print(f"{'warehouse':>10}: {settings.lake.warehouse_path}")
    print(f"{'policy':>10}: {settings.policy_path}")
    return 0


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    """The accuracy planner: exit 1 when a release would be refused (too imprecise, or over the budget cap)."""
    from foundation.policy import PolicyError, load_policy
    from foundation.settings import MissingSecretError
    from privacy.planner import current_roster, format_plan, plan_json, plan_policy

    policy = load_policy(settings.policy_path)
    try:
        roster, source = current_roster(settings)
        plan = plan_policy(policy, roster, args.release, source)
    except (PolicyError, FileNotFoundError, ValueError, MissingSecretError) as exc:
        print(f"cannot plan: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(plan_json(plan), indent=2) if args.json else format_plan(plan))
    return 0 if plan.ok else 1


def cmd_check_mapping(args: argparse.Namespace, settings: Settings) -> int:
    """Show the canonical rows a flat export's sample file gives under its mapping."""
    from foundation.spark import spark_session
    from jobs.flat_mapping import MappingError, load_mapping
    from jobs.source_flat import preview

    mapping_path = Path(args.mapping)
    try:
        load_mapping(mapping_path)
    except (MappingError, OSError) as exc:
        print(f"mapping not usable: {exc}", file=sys.stderr)
        return 2
    sample = Path(args.sample) if args.sample else None
    if sample is None:
        days = lake.partition_days(mapping_path.parent)
        found = [
            p
            for folder in lake.partition_paths(mapping_path.parent, days)
            for p in sorted(folder.iterdir())
            if p.suffix in (".csv", ".tsv", ".txt")
        ]
        if not found:
            where = mapping_path.parent / f"{lake.PARTITION_PREFIX}YYYY-MM-DD"
            print(f"mapping ok; no sample: put an export under {where}/ or pass one")
            return 0
        sample = found[0]
    try:
        rows = preview(spark_session(settings, app_name="teamlens-check-mapping"), mapping_path, sample, args.limit)
    except ValueError as exc:
        print(f"sample not usable: {exc}", file=sys.stderr)
        return 2
    shown = ("source_line", "contact_id", "agent_key", "queue", "initiation_ts", "queue_seconds", "talk_seconds")
    print(f"{sample} under {mapping_path} (first {len(rows)} rows; times in UTC):")
    for r in rows:
        flags = [f for f in ("abandoned", "transferred_out") if r.get(f)]
        cells = [str(r.get(c)) for c in shown] + flags + ([f"QUARANTINED: {r['reason']}"] if r.get("reason") else [])
        print("  " + " | ".join(cells))
    bad = sum(1 for r in rows if r.get("reason"))
    print(f"{len(rows) - bad} rows parse, {bad} would be quarantined")
    return 1 if bad else 0


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the retention periods as of a day; print per zone what was (or would be) deleted."""
    from foundation.policy import load_policy
    from privacy.approval import PolicyNotApproved
    from privacy.retention import apply_retention

    policy = load_policy(settings.policy_path)
    try:
        result = apply_retention(settings, policy, args.as_of, settings.run_by, dry_run=args.dry_run)
    except PolicyNotApproved as exc:
        print(str(exc), file=sys.stderr)
        return 2
    verb = "would delete" if args.dry_run else "deleted"
    if not result["zones"]:
        print(f"Retention as of {args.as_of}: nothing is older than the retention periods; nothing {verb}.")
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
    for link in result["refused_symlinks"]:
        print(f"not followed: {link} is a symlink leading out of {settings.data_root}", file=sys.stderr)
    return 1 if result["refused_symlinks"] else 0


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="teamlens", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def center_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--agents", type=int, default=200)
        p.add_argument("--teams", type=int, default=14)
        p.add_argument("--sites", type=int, default=2)
        p.add_argument("--days", type=int, default=35, help="number of days (default: 5 weeks)")
        p.add_argument(
            "--start",
            type=_date,
            default=dt.date(2026, 9, 28),
            help="first day (default: Monday 2026-09-28, so that October and five weeks are whole)",
        )
        p.add_argument("--seed", type=int, default=7)

    p = sub.add_parser("generate", help="write a synthetic contact center into the landing zone")
    center_args(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("run", help="run the daily DAG over a span of days through Airflow")
    p.add_argument("--first-day", type=_date, required=True)
    p.add_argument("--last-day", type=_date, required=True)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="generate a demo center, run the pipeline, print the report")
    center_args(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("report", help="published figures with 95%% intervals and the budget spent")
    p.add_argument("--release", help="only this release")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("verify", help="verify the privacy ledger's hash chain and the tables against it")
    p.add_argument("--checkpoint", help="a signed checkpoint the ledger must extend (teamlens checkpoint)")
    p.add_argument("--public-key", help="its verifier key (default: the checkpoint file + .pub)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("checkpoint", help="sign a checkpoint of the ledger (FILE) with its verifier key (FILE.pub)")
    p.add_argument("--out", help="where to write it (default: reports/checkpoints/latest.txt in the lake)")
    p.set_defaults(func=cmd_checkpoint)

    p = sub.add_parser("paths", help="where the zones and the warehouse live")
    p.set_defaults(func=cmd_paths)

    p = sub.add_parser("plan", help="predicted accuracy and budget per month of the releases (exit 1: refused)")
    p.add_argument("--release", help="only this release")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("check-mapping", help="parse a flat call export's sample with its mapping file")
    p.add_argument("mapping", help="landing/flat_calls/<export>/mapping.yaml")
    p.add_argument("sample", nargs="?", help="an export file (default: the first one under the mapping's folder)")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_check_mapping)

    p = sub.add_parser("retention", help="delete the partitions older than the policy's retention periods")
    p.add_argument("--as-of", type=_date, required=True, help="the day the periods are counted back from")
    p.add_argument("--dry-run", action="store_true", help="only print what would be deleted")
    p.set_defaults(func=cmd_retention)

    p = sub.add_parser("policy", help="approve the policy, show it and its approval, list approvals")
    policy_sub = p.add_subparsers(dest="policy_command", required=True)
    p = policy_sub.add_parser("approve", help="record the policy's approval: by whom (a role and a name) and when")
    p.add_argument("--by", required=True, help="the approving role, e.g. 'works council'")
    p.add_argument("--name", required=True, help="a name or reference, e.g. the agreement or minutes")
    p.add_argument("--policy", help="the policy file to approve (default: the current policy)")
    p.set_defaults(func=cmd_policy_approve)
    p = policy_sub.add_parser("show", help="the current policy's identity and its approval (exit 1: not approved)")
    p.set_defaults(func=cmd_policy_show)
    p = policy_sub.add_parser("history", help="every approval recorded in the privacy ledger")
    p.set_defaults(func=cmd_policy_history)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args, load_settings()))


if __name__ == "__main__":
    raise SystemExit(main())
