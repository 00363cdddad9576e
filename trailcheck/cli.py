"""The `trailcheck` command line: parse options, run collect → evaluate → render, set the exit code.

Exit codes: 0 no unwaived FAIL at or above --fail-on (with --baseline: no new one); 1 there
are (with --strict: or an unwaived ERROR at or above it); 2 bad input (flag, config, snapshot,
baseline, report); 3 the scan itself could not run (no credentials, AWS unreachable) or could
judge nothing (every finding ERROR); 4 no such FAIL, but the scan was incomplete (API calls
still throttled or failing after every retry: their facts are unknown, their rules say ERROR;
see docs/reliability.md); 130 interrupted (Ctrl-C): during collection no report is written;
during the --who lookup (every account collected) the findings are written, marked incomplete.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from trailcheck import __version__
from trailcheck.audit.commands import audit as audit_command
from trailcheck.baseline import (
    compare_with_baseline,
    create_baseline,
    diff_reports,
    load_baseline,
)
from trailcheck.config import (
    CONFIG_FILENAME,
    Policy,
    default_policy,
    find_config,
    load_config,
    resolve,
    starter_config,
)
from trailcheck.engine import evaluate
from trailcheck.errors import Interrupted, ScanError, UserError
from trailcheck.export.commands import export_app
from trailcheck.extras import extra_of_module, missing_extra_message, require_extra
from trailcheck.gate import DEFAULT_FAIL_ON, EXIT_NOTHING_JUDGED, gate, gate_verdict
from trailcheck.history.commands import history_app, record_scan, validate_history
from trailcheck.migrate.commands import waivers_app
from trailcheck.model import Inventory, Report, Severity, dump_json, iter_json
from trailcheck.regions import not_enabled_warnings, parse_regions
from trailcheck.reports import available, get_reporters
from trailcheck.reports._util import printable, resource_label, terminal_text
from trailcheck.reports.base import Reporter
from trailcheck.reports.diff import diff_listing, diff_markdown, print_diff
from trailcheck.reports.json_report import schema_text
from trailcheck.reports.listing import Listing, emit, listing_format, render_csv
from trailcheck.reports.terminal import print_summary
from trailcheck.rules import RuleSet, load_rules
from trailcheck.snapshot import load_inventory, load_report, write_files_atomic, write_text_atomic

if TYPE_CHECKING:
    from trailcheck.scanner.executor import Executor
    from trailcheck.scanner.org import AccountSelection, RoleSpec
    from trailcheck.scanner.progress import ScanObserver
    from trailcheck.scanner.scan import AccountTarget
    from trailcheck.scanner.session import AwsSession
    from trailcheck.verify import KeyRing

app = typer.Typer(
    name="trailcheck",
    help="Evidence-based compliance checks for AWS CloudTrail, for one account or an "
    "Organization.\n\n"
    "Exit codes: 0 = no unwaived FAIL at or above --fail-on (with --baseline: no new one); "
    "1 = there are (with --strict: or an ERROR at or above it); 2 = bad input (flag, config, "
    "snapshot, baseline, report); 3 = the scan could not run (no credentials, AWS unreachable) "
    "or judged nothing (every finding ERROR); 4 = no such FAIL, but the scan was incomplete "
    "(calls failing after every retry); 130 = interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DEFAULT_OUTPUT_DIR = Path("trailcheck-report")
DEFAULT_FORMATS = "json,html"
EXPIRY_WARNING_DAYS = 14

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="AWS profile (default: standard chain).")
]
RegionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--region",
        help="Region to inspect (repeatable). Default: every region enabled for the account.",
    ),
]
ListingFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="table, csv (a header row) or json (default: table on a terminal, csv when piped).",
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="Comma list of report formats: json, html, sarif, junit, md, csv, ocsf, asff "
        "(default: the config's `formats`, else json,html).",
    ),
]
OutputDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--output-dir",
        help="Directory for report.<ext> files (default: the config's `output_dir`, "
        "else trailcheck-report).",
    ),
]
FailOnOpt = Annotated[
    str | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 on an unwaived FAIL at or above: info, low, medium, high, critical "
        "(default: the config's `fail_on`, else low).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help=f"Config file (default: ./{CONFIG_FILENAME} when present). See `trailcheck init`.",
    ),
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        help="Baseline from `trailcheck baseline create`: only FAILs not in it (regressions) "
        "fail; resolved ones are listed.",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (for CI).")]
StrictOpt = Annotated[
    bool | None,
    typer.Option(
        "--strict/--no-strict",
        help="Count unwaived ERROR findings (could not decide) at or above --fail-on like "
        "failures for the exit code (default: the config's `strict`, else off).",
    ),
]
WorkersOpt = Annotated[
    int, typer.Option("--max-workers", min=1, max=256, help="Concurrent AWS work units.")
]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where the work runs: local (a thread pool in this process) or dask://HOST:PORT "
        "(the workers of a Dask cluster; needs trailcheck[dask]).",
    ),
]
OrgOpt = Annotated[
    bool,
    typer.Option(
        "--org",
        help="Scan every account of the AWS Organization (run from the management account or "
        "a delegated administrator).",
    ),
]
AccountsOpt = Annotated[
    list[str] | None,
    typer.Option("--accounts", help="With --org: only these account ids (comma list, repeatable)."),
]
ExcludeAccountsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-accounts", help="With --org: leave out these account ids (comma list)."
    ),
]
OuOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ou",
        help="With --org: only accounts under this OU, by id (ou-...) or path (Workloads/Prod); "
        "repeatable.",
    ),
]
RoleNameOpt = Annotated[
    str | None,
    typer.Option(
        "--role-name",
        help="With --org: role to assume in each member account "
        "(default OrganizationAccountAccessRole).",
    ),
]
RolePathOpt = Annotated[
    str | None, typer.Option("--role-path", help="With --org: IAM path of that role (default /).")
]
ExternalIdOpt = Annotated[
    str | None, typer.Option("--external-id", help="With --org: external id for AssumeRole.")
]
RoleArnTemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--role-arn-template",
        help="With --org: role ARN with {account_id} (and {partition}), for unusual set-ups, "
        "e.g. arn:aws:iam::{account_id}:role/audit/Reader.",
    ),
]


@dataclass(frozen=True)
class OrgRequest:
    """What --org and its companion flags asked for (validated before any AWS call)."""

    selection: AccountSelection
    role: RoleSpec


def _org_request(
    org: bool,
    accounts: list[str] | None,
    exclude_accounts: list[str] | None,
    ou: list[str] | None,
    role_name: str | None,
    role_path: str | None,
    external_id: str | None,
    role_arn_template: str | None,
) -> OrgRequest | None:
    from trailcheck.scanner.org import AccountSelection, RoleSpec

    given = {
        "--accounts": accounts,
        "--exclude-accounts": exclude_accounts,
        "--ou": ou,
        "--role-name": role_name,
        "--role-path": role_path,
        "--external-id": external_id,
        "--role-arn-template": role_arn_template,
    }
    if not org:
        flag = next((name for name, value in given.items() if value), None)
        if flag:
            raise UserError(f"{flag}: only meaningful with --org")
        return None
    return OrgRequest(
        selection=AccountSelection.parse(accounts or (), exclude_accounts or (), ou or ()),
        role=RoleSpec.parse(role_name, role_path, external_id, role_arn_template),
    )


ConfirmFiltersOpt = Annotated[
    bool,
    typer.Option(
        "--confirm-filters-with-aws",
        help="Also send each metric-filter pattern with trailcheck's sample CloudTrail records "
        "to CloudWatch Logs TestMetricFilter (read-only) and report any disagreement.",
    ),
]


WhoOpt = Annotated[
    bool,
    typer.Option(
        "--who",
        help="For each FAIL/ERROR finding, look up who made the change (CloudTrail LookupEvents, "
        "read-only, last 90 days) and name it in the finding.",
    ),
]
WhoBudgetOpt = Annotated[
    int | None,
    typer.Option(
        "--who-budget",
        min=0,
        help="With --who: at most this many LookupEvents calls (default: no bound).",
    ),
]


@dataclass(frozen=True)
class WhoRequest:
    """--who: the lookup options and how to judge the inventory to find what failed."""

    budget: int | None
    judge: Callable[[Inventory], Report]
    rules: RuleSet


def _who_request(
    who: bool, budget: int | None, judge: Callable[[Inventory], Report], rules: RuleSet
) -> WhoRequest | None:
    if budget is not None and not who:
        raise UserError("--who-budget: only meaningful with --who")
    return WhoRequest(budget, judge, rules) if who else None


def _add_change_history(
    inventory: Inventory,
    targets: list[AccountTarget],
    session: AwsSession,
    who: WhoRequest,
    max_workers: int,
) -> Inventory:
    """The lookup stage of --who: judge, look up the changes behind FAIL/ERROR findings."""
    from trailcheck.changes.lookup import LookupOptions, with_change_history
    from trailcheck.scanner.collectors.base import AccountAccess

    access = {
        t.account_id: AccountAccess(t.account_id, session, t.credentials)
        for t in targets
        if t.access_error is None
    }
    report = who.judge(inventory)
    events = {r.id: r.change_events for r in who.rules}
    options = LookupOptions(budget=who.budget, max_workers=max_workers)
    return with_change_history(inventory, report.findings, events, access, options).inventory


@dataclass(frozen=True)
class OutputOptions:
    formats: str
    output_dir: Path
    fail_on: Severity
    quiet: bool
    strict: bool = False


def _severity(value: str) -> Severity:
    try:
        return Severity(value.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in Severity)
        raise UserError(f"--fail-on: unknown severity {value!r} (choose from {choices})") from None


def _console(quiet: bool) -> Console:
    return Console(stderr=False, quiet=quiet, highlight=False)


class _RichObserver:
    """Shows scan progress on stderr when it is a terminal."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: int | None = None

    def stage(self, name: str, total: int) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)  # type: ignore[arg-type]
        self._task = self._progress.add_task(name, total=total)  # type: ignore[assignment]

    def advance(self, done: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, done)  # type: ignore[arg-type]


def _regions(values: list[str] | None) -> tuple[str, ...] | None:
    return parse_regions(values)


class _RateColumn(ProgressColumn):
    """Work units per second of the current stage."""

    def render(self, task: Task) -> str:  # type: ignore[override]
        return f"{task.speed:.1f}/s" if task.speed else "-/s"


def _run_scan(
    profile: str | None,
    regions: list[str] | None,
    max_workers: int,
    quiet: bool,
    rules: RuleSet,
    org: OrgRequest | None = None,
    confirm_filters: bool = False,
    who: WhoRequest | None = None,
    executor: str = "local",
) -> Inventory:
    from trailcheck.scanner.executor import parse_executor
    from trailcheck.scanner.session import AwsSession

    _regions(regions)  # a malformed --region fails before any AWS call
    parse_executor(executor)
    try:
        session = AwsSession(profile, max_pool_connections=max(32, max_workers))
    except Exception as exc:  # botocore's ProfileNotFound and friends
        raise UserError(f"--profile: {exc}") from None
    with _executor(executor, profile) as runner:
        inventory = _observed_collect(
            session, regions, max_workers, quiet, rules, org, confirm_filters, who, runner
        )
    if not quiet:
        for line in not_enabled_warnings(inventory):
            sys.stderr.write(f"warning: {line}\n")
    return inventory


@contextmanager
def _executor(value: str, profile: str | None) -> Iterator[Executor]:
    """The --executor (a Dask one is connected now and disconnected at the end)."""
    from trailcheck.scanner.executor import open_executor

    runner = open_executor(value, profile)
    try:
        yield runner
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()


def _observed_collect(
    session: AwsSession,
    regions: list[str] | None,
    max_workers: int,
    quiet: bool,
    rules: RuleSet,
    org: OrgRequest | None,
    confirm_filters: bool,
    who: WhoRequest | None,
    runner: Executor,
) -> Inventory:
    # Progress only for a person watching: not with --quiet, not when output is piped.
    if quiet or not (sys.stdout.isatty() and sys.stderr.isatty()):
        return _interruptible(
            session, regions, max_workers, rules, org, None, confirm_filters, who, runner
        )
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        return _interruptible(
            session,
            regions,
            max_workers,
            rules,
            org,
            _RichObserver(progress),
            confirm_filters,
            who,
            runner,
        )


def _interruptible(
    session: AwsSession,
    regions: list[str] | None,
    max_workers: int,
    rules: RuleSet,
    org: OrgRequest | None,
    observer: ScanObserver | None,
    confirm_filters: bool,
    who: WhoRequest | None,
    runner: Executor,
) -> Inventory:
    """`_collect`; Ctrl-C ends it with one line saying where it stopped (no report)."""
    from trailcheck.scanner.progress import StageLog

    log = StageLog(observer)
    try:
        return _collect(
            session, regions, max_workers, rules, org, log, confirm_filters, who, runner
        )
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted {log.describe()}; no report written") from None


def _collect(
    session: AwsSession,
    regions: list[str] | None,
    max_workers: int,
    rules: RuleSet,
    org: OrgRequest | None,
    observer: ScanObserver | None,
    confirm_filters: bool = False,
    who: WhoRequest | None = None,
    runner: Executor | None = None,
) -> Inventory:
    from trailcheck.scanner.accounts import current_account
    from trailcheck.scanner.org import organization_targets
    from trailcheck.scanner.scan import ScanOptions, collect

    requested = _regions(regions)
    api_region = (requested or (None,))[0] or session.default_region or "us-east-1"
    extra: dict[str, Any] = {}
    if org is None:
        targets, partition = current_account(session, api_region)
    else:
        scope = organization_targets(
            session,
            api_region,
            role=org.role,
            selection=org.selection,
            max_workers=max_workers,
            observer=observer,
        )
        targets, partition = scope.targets, scope.partition
        extra = {
            "organization_id": scope.organization.organization_id,
            "management_account_id": scope.organization.management_account_id,
            "skipped": scope.skipped,
        }
    options = ScanOptions(
        regions=requested,
        api_region=api_region,
        max_workers=max_workers,
        collections=rules.requires() | {"regions"},
        partition=partition,
        confirm_filters_with_aws=confirm_filters,
    )
    inventory = collect(targets, session, options, observer, executor=runner, **extra)
    if who is not None:
        if observer is not None:
            observer.stage("who changed it (LookupEvents)", 1)
        try:
            inventory = _add_change_history(inventory, targets, session, who, max_workers)
        except KeyboardInterrupt:
            # Every account was collected: keep the findings, say the lookup was cut short.
            note = "the who-lookup (--who, CloudTrail LookupEvents) was interrupted (Ctrl-C)"
            meta = inventory.metadata.model_copy(update={"interrupted": note})
            return inventory.model_copy(update={"metadata": meta})
        if observer is not None:
            observer.advance()
    return inventory


def _exit_interrupted(inventory: Inventory, code: int) -> int:
    """130 after the files were written when a stage after collection was cut short."""
    if inventory.metadata.interrupted is None:
        return code
    sys.stderr.write(
        f"trailcheck: error: {inventory.metadata.interrupted}; the findings were written, "
        "marked incomplete\n"
    )
    return Interrupted.exit_code


def check_writable_dir(flag: str, directory: Path) -> None:
    """Fail now, before any AWS call, when `directory` cannot receive files: a long
    collection must never be lost to a typo or a read-only path at the end."""
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{flag}: {directory} exists and is not a directory")
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{flag}: {directory}: {probe} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise UserError(f"{flag}: {directory}: not writable ({exc.strerror or exc})") from None


def check_writable_file(flag: str, path: Path) -> None:
    """Fail now when the file `path` cannot be written (a directory, an unwritable place)."""
    if path.is_dir():
        raise UserError(f"{flag}: {path} is a directory, not a file")
    check_writable_dir(flag, path.parent)


def write_file(flag: str, path: Path, text: str | Iterable[str]) -> None:
    """Write `text` (or its pieces) to `path` atomically; a failure is one line naming the
    flag (exit 2)."""
    write_files(flag, [(path, (text,) if isinstance(text, str) else text)])


def write_files(flag: str, files: list[tuple[Path, Iterable[str]]]) -> None:
    """Write every file atomically (all or none replaced); a failure is one line naming the flag."""
    try:
        write_files_atomic(files)
    except OSError as exc:
        path = exc.filename or (files[0][0] if files else "")
        raise UserError(f"{flag}: cannot write {path}: {exc.strerror or exc}") from None


def _pieces(reporter: Reporter, report: Report) -> Iterator[str]:
    """A reporter's text in pieces: streamed when it can (`chunks`), else its whole render."""
    chunks = getattr(reporter, "chunks", None)
    if chunks is not None:
        yield from chunks(report)
    else:
        yield reporter.render(report)


def write_reports(report: Report, formats: str, output_dir: Path) -> list[Path]:
    """Render `report` in every requested format into `output_dir`; return the paths."""
    reporters = get_reporters(formats)
    check_writable_dir("--output-dir", output_dir)
    # Each format is streamed to a temporary file and every file is renamed only when all are
    # written: an error or Ctrl-C while rendering leaves the previous set whole.
    files = [(output_dir / r.filename, _pieces(r, report)) for r in reporters]
    write_files("--output-dir", files)
    return [path for path, _ in files]


def with_gate(report: Report, out: OutputOptions) -> Report:
    """`report` with its CI-gate outcome (what the exit code says), as written to every file."""
    if report.gate is not None:
        return report
    return report.model_copy(update={"gate": gate(report, out.fail_on, out.strict)})


def finish(report: Report, out: OutputOptions) -> int:
    """Write the reports, print the summary, and return the exit code (see trailcheck.gate)."""
    report = with_gate(report, out)
    outcome = report.gate
    assert outcome is not None  # set by with_gate
    paths = write_reports(report, out.formats, out.output_dir)
    console = _console(out.quiet)
    print_summary(report, console)
    _print_baseline(report, console)
    _warn_waivers(report, out.quiet)
    for path in paths:
        console.print(f"wrote {path}")
    if outcome.exit_code == EXIT_NOTHING_JUDGED:
        sys.stderr.write(f"trailcheck: error: {gate_verdict(report)}\n")
    else:
        console.print(gate_verdict(report))
    return outcome.exit_code


def _print_baseline(report: Report, console: Console) -> None:
    base = report.baseline
    if base is None:
        return
    console.print(
        f"baseline {terminal_text(base.baseline)}: {len(base.new)} new failure(s), "
        f"{len(base.unchanged)} known, {len(base.resolved)} resolved"
    )
    for ref in base.resolved[:30]:
        console.print(
            f"  resolved: {terminal_text(ref.rule_id)} {terminal_text(ref.account_id)} "
            f"{terminal_text(resource_label(ref))}"
        )
    if len(base.resolved) > 30:
        console.print(f"  … and {len(base.resolved) - 30} more resolved")


def _warn_waivers(report: Report, quiet: bool) -> None:
    """Warn on stderr about expired, unused and soon-expiring waivers (judged at scan time)."""
    if quiet:
        return
    soon = report.metadata.scan_started_at.date() + timedelta(days=EXPIRY_WARNING_DAYS)
    for w in report.waivers:
        label = f"waivers[{w.index}] ({w.rule}, owner {w.owner})"
        if w.state == "expired":
            effect = f"its {w.matched} finding(s) count again" if w.matched else "matches nothing"
            message = f"{label} expired on {w.expires}; {effect}"
        elif w.state == "unused":
            message = f"{label} matched no finding: remove it if the issue is fixed"
        elif date.fromisoformat(w.expires) <= soon:
            message = f"{label} expires on {w.expires}"
        else:
            continue
        sys.stderr.write(f"warning: {printable(message)}\n")


def _output(
    formats: str | None,
    output_dir: Path | None,
    fail_on: str | None,
    quiet: bool,
    policy: Policy | None = None,
    strict: bool | None = None,
) -> OutputOptions:
    """Flags win over the config file, which wins over the defaults."""
    fmt = formats or (policy.formats if policy else None) or DEFAULT_FORMATS
    get_reporters(fmt)  # validate before any AWS call
    directory = output_dir or (policy.output_dir if policy else None) or DEFAULT_OUTPUT_DIR
    if fail_on is not None:
        threshold = _severity(fail_on)
    else:
        threshold = (policy.fail_on if policy else None) or DEFAULT_FAIL_ON
    if strict is None:
        strict = bool(policy.strict) if policy else False
    return OutputOptions(fmt, directory, threshold, quiet, strict)


def _policy(config: Path | None) -> Policy:
    """The config file (given, or ./trailcheck.toml) resolved against the rule set."""
    rules = load_rules()
    path = find_config(config)
    if path is None:
        return default_policy(rules)
    return resolve(load_config(path), rules, path)


def _judge(inventory: Inventory, policy: Policy, baseline: Path | None) -> Report:
    report = evaluate(
        inventory,
        policy.rules,
        policy.params,
        severity=policy.severity,
        waivers=policy.waivers,
    )
    if baseline is not None:
        report = compare_with_baseline(report, load_baseline(baseline), str(baseline))
    return report


@app.command()
def scan(
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    format: FormatOpt = None,
    output_dir: OutputDirOpt = None,
    fail_on: FailOnOpt = None,
    quiet: QuietOpt = False,
    max_workers: WorkersOpt = 16,
    snapshot: Annotated[
        Path | None,
        typer.Option("--snapshot", help="Also save the inventory here (as `collect -o`)."),
    ] = None,
    config: ConfigOpt = None,
    baseline: BaselineOpt = None,
    strict: StrictOpt = None,
    org: OrgOpt = False,
    accounts: AccountsOpt = None,
    exclude_accounts: ExcludeAccountsOpt = None,
    ou: OuOpt = None,
    role_name: RoleNameOpt = None,
    role_path: RolePathOpt = None,
    external_id: ExternalIdOpt = None,
    role_arn_template: RoleArnTemplateOpt = None,
    confirm_filters_with_aws: ConfirmFiltersOpt = False,
    who: WhoOpt = False,
    who_budget: WhoBudgetOpt = None,
    history: Annotated[
        str | None,
        typer.Option(
            "--history",
            help="Also record this scan in a history store (sqlite:///path or "
            "postgresql://...) for `trailcheck audit`; needs trailcheck[history].",
        ),
    ] = None,
    executor: ExecutorOpt = "local",
) -> None:
    """Scan the account of the current credentials (or, with --org, the whole organization)
    and write reports."""
    validate_history(history)
    policy = _policy(config)
    who_request = _who_request(who, who_budget, lambda inv: _judge(inv, policy, None), policy.rules)
    out = _output(format, output_dir, fail_on, quiet, policy, strict)
    check_writable_dir("--output-dir", out.output_dir)
    if snapshot is not None:
        check_writable_file("--snapshot", snapshot)
    if baseline is not None:
        load_baseline(baseline)  # a bad baseline fails before any AWS call
    org_request = _org_request(
        org, accounts, exclude_accounts, ou, role_name, role_path, external_id, role_arn_template
    )
    inventory = _run_scan(
        profile,
        region,
        max_workers,
        quiet,
        policy.rules,
        org_request,
        confirm_filters_with_aws,
        who_request,
        executor,
    )
    if snapshot is not None:
        write_file("--snapshot", snapshot, iter_json(inventory))
    report = with_gate(_judge(inventory, policy, baseline), out)
    code = finish(report, out)
    if history is not None:
        record_scan(history, report, inventory if snapshot is not None else None, quiet)
    raise typer.Exit(_exit_interrupted(inventory, code))


@app.command()
def collect(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the snapshot (JSON).")
    ],
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    quiet: QuietOpt = False,
    max_workers: WorkersOpt = 16,
    org: OrgOpt = False,
    accounts: AccountsOpt = None,
    exclude_accounts: ExcludeAccountsOpt = None,
    ou: OuOpt = None,
    role_name: RoleNameOpt = None,
    role_path: RolePathOpt = None,
    external_id: ExternalIdOpt = None,
    role_arn_template: RoleArnTemplateOpt = None,
    confirm_filters_with_aws: ConfirmFiltersOpt = False,
    who: WhoOpt = False,
    who_budget: WhoBudgetOpt = None,
    executor: ExecutorOpt = "local",
) -> None:
    """Collect the inventory only and save it as a snapshot for `trailcheck evaluate`."""
    rules = load_rules()
    who_request = _who_request(who, who_budget, lambda inv: evaluate(inv, rules), rules)
    check_writable_file("--output", output)
    org_request = _org_request(
        org, accounts, exclude_accounts, ou, role_name, role_path, external_id, role_arn_template
    )
    inventory = _run_scan(
        profile,
        region,
        max_workers,
        quiet,
        rules,
        org_request,
        confirm_filters_with_aws,
        who_request,
        executor,
    )
    write_file("--output", output, iter_json(inventory))
    _console(quiet).print(
        f"wrote {output}: {len(inventory.accounts)} account(s), {len(inventory.trails)} trail(s), "
        f"{sum(inventory.metadata.api_calls.values())} API calls"
    )
    raise typer.Exit(_exit_interrupted(inventory, 0))


@app.command("evaluate")
def evaluate_snapshot(
    snapshot: Annotated[Path, typer.Argument(help="A snapshot written by `trailcheck collect`.")],
    format: FormatOpt = None,
    output_dir: OutputDirOpt = None,
    fail_on: FailOnOpt = None,
    quiet: QuietOpt = False,
    config: ConfigOpt = None,
    baseline: BaselineOpt = None,
    strict: StrictOpt = None,
) -> None:
    """Judge a saved snapshot offline: the same findings the live scan gave."""
    policy = _policy(config)
    out = _output(format, output_dir, fail_on, quiet, policy, strict)
    check_writable_dir("--output-dir", out.output_dir)
    inventory = load_inventory(snapshot)
    raise typer.Exit(finish(_judge(inventory, policy, baseline), out))


@app.command()
def init(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the starter config.")
    ] = Path(CONFIG_FILENAME),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config (every rule's parameters, a sample waiver)."""
    check_writable_file("--output", output)
    if output.exists() and not force:
        raise UserError(f"{output} already exists (use --force to overwrite it)")
    write_file("--output", output, starter_config(load_rules()))
    sys.stdout.write(f"wrote {output}\n")


baseline_app = typer.Typer(
    help="Accept today's failures: later scans fail only on regressions.",
    no_args_is_help=True,
)
app.add_typer(baseline_app, name="baseline")
app.add_typer(history_app, name="history")
app.command("audit")(audit_command)
app.add_typer(export_app, name="export")
app.add_typer(waivers_app, name="waivers")


@baseline_app.command("create")
def baseline_create(
    report: Annotated[Path, typer.Argument(help="A JSON report (report.json).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the baseline (JSON).")
    ],
) -> None:
    """Record every unwaived FAIL of a report as known (`scan --baseline` then ignores them)."""
    check_writable_file("--output", output)
    created = create_baseline(load_report(report))
    write_file("--output", output, dump_json(created))
    sys.stdout.write(f"wrote {output}: {len(created.entries)} known failure(s)\n")


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="The earlier JSON report.")],
    new: Annotated[Path, typer.Argument(help="The later JSON report.")],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table (terminal), csv (a header row), json or md (default: table on a "
            "terminal, csv when piped).",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Compare two reports: new, resolved, persistent and re-graded FAIL findings."""
    kind = listing_format(format, sys.stdout.isatty(), extra=("md",))
    if output is not None and (kind == "table" or format is None):
        raise UserError("--output: use --format csv, json or md to write a file")
    if output is not None:
        check_writable_file("--output", output)
    result = diff_reports(load_report(old), load_report(new))
    if kind == "table":
        print_diff(result, Console(highlight=False))
        return
    if kind == "json":
        text = dump_json(result)
    elif kind == "md":
        text = diff_markdown(result)
    else:
        text = render_csv(diff_listing(result))
    if output is None:
        sys.stdout.write(text)
    else:
        write_file("--output", output, text)


@app.command("rules")
def list_rules(format: ListingFormatOpt = None) -> None:
    """List every rule: id, severity, title, the controls it decides and those it relates to."""
    kind = listing_format(format, sys.stdout.isatty())
    listing = Listing(
        columns=("id", "severity", "title", "decides", "relates_to"),
        rows=[
            (
                r.id,
                r.severity.value,
                r.title,
                "; ".join(f"{k} {', '.join(v)}" for k, v in sorted(r.controls.items())),
                "; ".join(f"{k} {', '.join(v)}" for k, v in sorted(r.related_controls.items())),
            )
            for r in load_rules()
        ],
        keys=frozenset({"id", "severity"}),
    )
    text = emit(listing, kind, Console(highlight=False))
    if text is not None:
        sys.stdout.write(text)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the JSON report."""
    sys.stdout.write(schema_text())


@app.command()
def formats(format: ListingFormatOpt = None) -> None:
    """List the report formats and the file each writes."""
    kind = listing_format(format, sys.stdout.isatty())
    listing = Listing(
        columns=("format", "file"),
        rows=[(name, cls.filename) for name, cls in sorted(available().items())],
        keys=frozenset({"format", "file"}),
    )
    text = emit(listing, kind, Console(highlight=False))
    if text is not None:
        sys.stdout.write(text)


TrailOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--trail",
        help="Trail ARN to verify (repeatable), as the caller's account sees it. Default: every "
        "trail of the account (with --org: of every account).",
    ),
]
TimeHelp = "ISO 8601 UTC time, e.g. 2026-11-21T10:00:00Z"
PublicKeyOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--public-key",
        help="CloudTrail public key file, PEM or DER (repeatable): verify offline with these "
        "keys instead of calling ListPublicKeys.",
    ),
]
DEFAULT_VERIFY_OUTPUT_DIR = Path("trailcheck-verify")
DEFAULT_VERIFY_WINDOW = timedelta(hours=24)


def _utc_time(flag: str, value: str) -> datetime:
    """An ISO 8601 time with a zone (`Z` or an offset), as aware UTC; else a UserError."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{flag}: {value!r} is not an ISO 8601 time ({TimeHelp})") from None
    if parsed.tzinfo is None or "T" not in text.upper():
        raise UserError(f"{flag}: {value!r} needs a time and a zone ({TimeHelp})")
    return parsed.astimezone(UTC)


def _window(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    """--start/--end, by default the 24 hours before now."""
    last = _utc_time("--end", end) if end else now
    first = _utc_time("--start", start) if start else last - DEFAULT_VERIFY_WINDOW
    if first >= last:
        raise UserError(
            f"--start: {first:%Y-%m-%dT%H:%M:%SZ} is not before --end {last:%Y-%m-%dT%H:%M:%SZ}"
        )
    return first, last


def _trail_arns(values: list[str] | None, org: OrgRequest | None) -> tuple[str, ...]:
    from pydantic import ValidationError

    from trailcheck.verify import TrailLocation

    arns = tuple(dict.fromkeys(v.strip() for v in values or () if v.strip()))
    if arns and org is not None:
        raise UserError("--trail: not with --org (--trail names trails of the caller's account)")
    for arn in arns:
        try:
            TrailLocation(trail_arn=arn)
        except ValidationError:
            raise UserError(
                f"--trail: {arn!r} is not a trail ARN "
                "(arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME)"
            ) from None
    return arns


def _key_ring(paths: list[Path] | None) -> KeyRing | None:
    from trailcheck.verify import KeyRing, load_key_file

    if not paths:
        return None
    keys = []
    for path in paths:
        try:
            keys.append(load_key_file(path))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise UserError(f"--public-key: {path}: {reason}") from None
    return KeyRing(keys)


@app.command("verify-logs")
def verify_logs(
    trail: TrailOpt = None,
    start: Annotated[
        str | None, typer.Option("--start", help=f"Window start, {TimeHelp} (default: end - 24 h).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help=f"Window end, {TimeHelp} (default: now).")
    ] = None,
    public_key: PublicKeyOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    format: Annotated[
        str, typer.Option("--format", help="Comma list of report formats: json, html.")
    ] = DEFAULT_FORMATS,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Directory for report.json / report.html.")
    ] = DEFAULT_VERIFY_OUTPUT_DIR,
    quiet: QuietOpt = False,
    max_workers: WorkersOpt = 16,
    org: OrgOpt = False,
    accounts: AccountsOpt = None,
    exclude_accounts: ExcludeAccountsOpt = None,
    ou: OuOpt = None,
    role_name: RoleNameOpt = None,
    role_path: RolePathOpt = None,
    external_id: ExternalIdOpt = None,
    role_arn_template: RoleArnTemplateOpt = None,
    extract_events: Annotated[
        Path | None,
        typer.Option(
            "--extract-events",
            help="Also write the change events of every verified log file to this JSON Lines "
            "file (read in the same pass: one download).",
        ),
    ] = None,
    executor: ExecutorOpt = "local",
) -> None:
    """Prove the trails' log files were not touched: verify the signed digest chains and every
    log file they list, per trail, account and region, for a time window.

    Exit codes: 0 = every chain verified; 1 = something is invalid, missing, modified, deleted,
    unverified, a gap, validation disabled, or not verified; 2 = bad input; 3 = could not run.
    """
    from trailcheck.reports.verification import FORMATS, parse_formats, print_verification
    from trailcheck.scanner.executor import parse_executor
    from trailcheck.verify.run import VerifyOptions
    from trailcheck.verify.run import verify_logs as run_verification

    now = datetime.now(UTC)  # the one wall-clock read: it places the default window
    first, last = _window(start, end, now)
    org_request = _org_request(
        org, accounts, exclude_accounts, ou, role_name, role_path, external_id, role_arn_template
    )
    arns = _trail_arns(trail, org_request)
    keys = _key_ring(public_key)
    names = parse_formats(format)
    requested = _regions(region)
    parse_executor(executor)
    if extract_events is not None and executor != "local":
        raise UserError(
            "--extract-events: reads the log files in this process; use --executor local"
        )
    check_writable_dir("--output-dir", output_dir)
    session = _session(profile, max_workers)
    api_region = (requested or (None,))[0] or session.default_region or "us-east-1"
    scope = _targets(session, api_region, org_request, max_workers)
    extraction = _EventSink() if extract_events is not None else None
    options = VerifyOptions(
        start=first,
        end=last,
        now=now,
        api_region=api_region,
        regions=requested,
        trail_arns=arns,
        keys=keys,
        max_workers=max_workers,
        partition=scope.partition,
        on_records=extraction.add if extraction is not None else None,
    )
    with _executor(executor, profile) as runner:
        report = run_verification(scope.targets, session, options, executor=runner, **scope.extra)
    if extraction is not None and extract_events is not None:
        from trailcheck.changes.logfiles import jsonl

        events = extraction.events()
        write_text_atomic(extract_events, jsonl(events))
        _console(quiet).print(f"wrote {extract_events}: {len(events)} change event(s)")
    console = _console(quiet)
    print_verification(report, console)
    for name in names:
        filename, render = FORMATS[name]
        write_file("--output-dir", output_dir / filename, render(report))
        console.print(f"wrote {output_dir / filename}")
    raise typer.Exit(0 if report.ok else 1)


class _EventSink:
    """Collects the change events of the log files verify-logs read (thread-safe)."""

    def __init__(self) -> None:
        import threading

        from trailcheck.changes.logfiles import EventFilter, Extraction

        self._found = Extraction()
        self._keep = EventFilter()
        self._lock = threading.Lock()

    def add(self, key: str, records: list[Any]) -> None:
        from trailcheck.changes.logfiles import change_events_in

        found = list(change_events_in(records, self._keep))
        with self._lock:
            self._found.events.extend(found)
            self._found.files_read += 1

    def events(self) -> list[Any]:
        with self._lock:
            return self._found.sorted_events()


DEFAULT_EVENTS_OUTPUT_DIR = Path("trailcheck-events")


def _comma_list(values: list[str] | None) -> frozenset[str]:
    return frozenset(v.strip() for item in values or () for v in item.split(",") if v.strip())


@app.command("events")
def events_command(
    trail: Annotated[
        str,
        typer.Option(
            "--trail",
            help="The trail whose log files to read (its ARN: owner account and home region).",
        ),
    ],
    bucket: Annotated[str, typer.Option("--bucket", help="The trail's S3 bucket.")],
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="The trail's S3 key prefix, if any.")
    ] = None,
    organization_id: Annotated[
        str | None,
        typer.Option(
            "--organization-id",
            help="For an organization trail: the o-... id in the key layout "
            "(AWSLogs/o-.../ACCOUNT/...).",
        ),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(
            "--account",
            help="Accounts whose log files to read and keep (comma list, repeatable; default: "
            "the trail's owner).",
        ),
    ] = None,
    region: RegionOpt = None,
    start: Annotated[
        str | None, typer.Option("--start", help=f"Window start, {TimeHelp} (default: end - 24 h).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help=f"Window end, {TimeHelp} (default: now).")
    ] = None,
    resource: Annotated[
        list[str] | None,
        typer.Option("--resource", help="Keep changes of this resource (ARN or name; repeatable)."),
    ] = None,
    event_name: Annotated[
        list[str] | None,
        typer.Option("--event-name", help="Keep these event names (comma list, repeatable)."),
    ] = None,
    principal: Annotated[
        list[str] | None,
        typer.Option(
            "--principal",
            help="Keep changes by this principal ARN, role, user or session name (repeatable).",
        ),
    ] = None,
    output_dir: Annotated[
        Path,
        typer.Option(
            "--output-dir", help="Directory for events.jsonl, timeline.json and timeline.html."
        ),
    ] = DEFAULT_EVENTS_OUTPUT_DIR,
    profile: ProfileOpt = None,
    quiet: QuietOpt = False,
    max_workers: WorkersOpt = 16,
    format: ListingFormatOpt = None,
) -> None:
    """Who changed what, from the trail's own log files in S3 (any age, every member of an
    organization trail): the change events of a window as JSON Lines and a timeline."""
    from trailcheck.changes.catalog import CHANGE_EVENTS
    from trailcheck.changes.logfiles import EventFilter, extract_events, jsonl
    from trailcheck.reports import timeline
    from trailcheck.verify import S3ObjectStore, TrailLocation

    kind = listing_format(format, sys.stdout.isatty())
    now = datetime.now(UTC)
    first, last = _window(start, end, now)
    arns = _trail_arns([trail], None)
    probe = TrailLocation(trail_arn=arns[0])
    accounts = _comma_list(account) or frozenset({probe.log_account})
    bad = sorted(a for a in accounts if not re.fullmatch(r"\d{12}", a))
    if bad:
        raise UserError(f"--account: {bad[0]!r} is not a 12-digit account id")
    names = _comma_list(event_name)
    unknown = sorted(names - CHANGE_EVENTS)
    if unknown:
        raise UserError(
            f"--event-name: {unknown[0]!r} is not a change event trailcheck follows "
            f"(e.g. {', '.join(sorted(CHANGE_EVENTS)[:4])})"
        )
    regions = _regions(region) or (probe.home_region,)
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output-dir: {output_dir} exists and is not a directory")
    keep = EventFilter(
        accounts=accounts,
        resources=frozenset(v.strip() for v in resource or () if v.strip()),
        event_names=names or CHANGE_EVENTS,
        principals=frozenset(v.strip() for v in principal or () if v.strip()),
    )
    locations = [
        TrailLocation(
            trail_arn=arns[0],
            prefix=prefix,
            account_id=a,
            organization_id=organization_id,
            region=r,
        )
        for a in sorted(accounts)
        for r in regions
    ]
    session = _session(profile, max_workers)
    store = S3ObjectStore(session.client("s3", regions[0]), bucket)
    found = extract_events(store, locations, first, last, keep, max_workers=max_workers)
    title = (
        f"Change timeline of {', '.join(sorted(keep.resources))}"
        if keep.resources
        else f"Change events in s3://{bucket}"
    )
    # stdout carries the table, or the csv/json rows alone (then the status lines go to stderr)
    console = _console(quiet) if kind == "table" else Console(stderr=True, quiet=quiet)
    events = found.events
    if kind == "table":
        timeline.print_timeline(events, title, console)
    else:
        sys.stdout.write(emit(timeline.timeline_listing(events, title), kind, console) or "")
    for problem in found.problems:
        sys.stderr.write(f"warning: {problem.s3_key}: {problem.reason}\n")
    outputs = {
        "events.jsonl": jsonl(events),
        "timeline.json": timeline.render_json(events, title),
        "timeline.html": timeline.render_html(events, title),
    }
    for filename, text in outputs.items():
        write_text_atomic(output_dir / filename, text)
        console.print(f"wrote {output_dir / filename}")
    console.print(
        f"{len(events)} change event(s) from {found.files_read} log file(s); "
        f"{len(found.problems)} unreadable; "
        f"{sum(session.meter.snapshot().values())} API calls"
    )


def _session(profile: str | None, max_workers: int) -> AwsSession:
    from trailcheck.scanner.session import AwsSession

    try:
        return AwsSession(profile, max_pool_connections=max(32, 2 * max_workers))
    except Exception as exc:  # botocore's ProfileNotFound and friends
        raise UserError(f"--profile: {exc}") from None


@dataclass(frozen=True)
class _Targets:
    targets: list[AccountTarget]
    partition: str
    extra: dict[str, Any]


def _targets(
    session: AwsSession, api_region: str, org: OrgRequest | None, max_workers: int
) -> _Targets:
    """The caller's account, or every selected account of the organization (entered)."""
    from trailcheck.scanner.accounts import current_account
    from trailcheck.scanner.org import organization_targets

    if org is None:
        targets, partition = current_account(session, api_region)
        return _Targets(targets, partition, {})
    scope = organization_targets(
        session, api_region, role=org.role, selection=org.selection, max_workers=max_workers
    )
    extra = {
        "organization_id": scope.organization.organization_id,
        "management_account_id": scope.organization.management_account_id,
        "skipped": scope.skipped,
    }
    return _Targets(scope.targets, scope.partition, extra)


@app.command()
def demo(
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Directory for report.<ext> files.")
    ] = Path("demo-report"),
    format: Annotated[
        str, typer.Option("--format", help="Comma list of report formats, e.g. json,html.")
    ] = "json,html",
    quiet: QuietOpt = False,
) -> None:
    """Build a small simulated organization in moto, scan it like a real one, write reports."""
    require_extra("demo", "trailcheck demo")
    from trailcheck.demo.run import run_demo

    out = _output(format, output_dir, "low", quiet)
    report = run_demo()
    finish(report, out)
    console = _console(quiet)
    _print_who(report, console)
    console.print(
        "demo: failures above are deliberate (broken accounts in the sample organization)"
    )


def _print_who(report: Report, console: Console) -> None:
    """Each change behind the failures once (scanned with --who): who, what, when."""
    changes: dict[str, tuple[dict[str, Any], set[str]]] = {}
    for f in report.findings:
        change = f.evidence.get("last_change") if f.status.value == "FAIL" else None
        if isinstance(change, dict) and change.get("event_id"):
            entry = changes.setdefault(str(change["event_id"]), (change, set()))
            entry[1].add(f.rule_id)
    if not changes:
        return
    console.print("[bold]who changed it[/] (CloudTrail LookupEvents):")
    for change, rules in sorted(changes.values(), key=lambda c: str(c[0]["event_time"])):
        what = ", ".join(str(r) for r in change.get("resources") or [])  # whole ARNs
        console.print(
            f"  {change['event_time']}  {change['event_name']} {what} by "
            f"{change.get('principal_arn') or change.get('identity_type')} "
            f"[dim]({len(rules)} failing rule(s): {', '.join(sorted(rules)[:3])})[/]",
            soft_wrap=True,
            highlight=False,
            markup=True,
        )


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        sys.stdout.write(f"trailcheck {__version__}\n")
        raise typer.Exit(0)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one line on stderr and exit 2/3 for errors a user can cause or fix."""
    try:
        result = app(args=argv, standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("trailcheck: aborted\n")
        return 130
    except typer.TyperException as exc:
        # Since typer 0.28 every usage error (vendored click's too) is a TyperException.
        message = exc.format_message()
        if type(exc).__name__ == "NoArgsIsHelpError":  # `trailcheck` alone: the help text
            sys.stderr.write(message + "\n")
            return 2
        sys.stderr.write(f"trailcheck: error: {' '.join(message.split())}\n")
        return int(getattr(exc, "exit_code", 2))
    except (UserError, ScanError, Interrupted) as exc:
        sys.stderr.write(f"trailcheck: error: {exc}\n")
        return exc.exit_code
    except ModuleNotFoundError as exc:
        # Any command that reaches a module of an extra that is not installed: the same one
        # line as require_extra (each command checks first; this is the net under all of them).
        extra = extra_of_module(exc.name)
        if extra is None:
            raise
        message = missing_extra_message(extra, "this command", [exc.name or extra])
        sys.stderr.write(f"trailcheck: error: {message}\n")
        return UserError.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
