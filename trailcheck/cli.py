"""The `trailcheck` command line: parse options, run collect → evaluate → render, set the exit code.

Exit codes: 0 no unwaived FAIL at or above --fail-on (with --baseline: no new one); 1 there
are; 2 bad input (flag, config, snapshot, baseline, report); 3 the scan itself could not run
(no credentials, AWS unreachable).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
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
from rich.table import Table

from trailcheck import __version__
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
from trailcheck.engine import evaluate, failures_at_or_above
from trailcheck.errors import ScanError, UserError
from trailcheck.model import Inventory, Report, Severity, dump_json
from trailcheck.reports import available, get_reporters
from trailcheck.reports.diff import diff_markdown, print_diff
from trailcheck.reports.json_report import schema_text
from trailcheck.reports.terminal import print_summary
from trailcheck.rules import RuleSet, load_rules
from trailcheck.snapshot import load_inventory, load_report, write_text_atomic

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
    "1 = there are; 2 = bad input (flag, config, snapshot, baseline, report); "
    "3 = the scan could not run (no credentials, AWS unreachable).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DEFAULT_OUTPUT_DIR = Path("trailcheck-report")
DEFAULT_FORMATS = "json,html"
DEFAULT_FAIL_ON = "low"
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
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="Comma list of report formats: json, html, sarif, junit, md, csv, ocsf "
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


@dataclass(frozen=True)
class OutputOptions:
    formats: str
    output_dir: Path
    fail_on: Severity
    quiet: bool


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


REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def _regions(values: list[str] | None) -> tuple[str, ...] | None:
    if not values:
        return None
    bad = [v for v in values if not REGION_NAME.match(v)]
    if bad:
        raise UserError(f"--region: {bad[0]!r} is not a region name (like us-east-1)")
    return tuple(dict.fromkeys(values))


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
        return _observed_collect(
            session, regions, max_workers, quiet, rules, org, confirm_filters, runner
        )


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
    runner: Executor,
) -> Inventory:
    # Progress only for a person watching: not with --quiet, not when output is piped.
    if quiet or not (sys.stdout.isatty() and sys.stderr.isatty()):
        return _collect(session, regions, max_workers, rules, org, None, confirm_filters, runner)
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
        return _collect(
            session,
            regions,
            max_workers,
            rules,
            org,
            _RichObserver(progress),
            confirm_filters,
            runner,
        )


def _collect(
    session: AwsSession,
    regions: list[str] | None,
    max_workers: int,
    rules: RuleSet,
    org: OrgRequest | None,
    observer: ScanObserver | None,
    confirm_filters: bool = False,
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
    return collect(targets, session, options, observer, executor=runner, **extra)


def write_reports(report: Report, formats: str, output_dir: Path) -> list[Path]:
    """Render `report` in every requested format into `output_dir`; return the paths."""
    reporters = get_reporters(formats)
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output-dir: {output_dir} exists and is not a directory")
    written = []
    for reporter in reporters:
        path = output_dir / reporter.filename
        write_text_atomic(path, reporter.render(report))
        written.append(path)
    return written


def finish(report: Report, out: OutputOptions) -> int:
    """Write the reports, print the summary, and return the exit code."""
    paths = write_reports(report, out.formats, out.output_dir)
    console = _console(out.quiet)
    print_summary(report, console)
    _print_baseline(report, console)
    _warn_waivers(report, out.quiet)
    for path in paths:
        console.print(f"wrote {path}")
    failing = failures_at_or_above(report, out.fail_on)
    if failing:
        what = "new failure(s)" if report.baseline is not None else "failure(s)"
        console.print(f"{len(failing)} {what} at or above {out.fail_on.value}")
        return 1
    return 0


def _print_baseline(report: Report, console: Console) -> None:
    base = report.baseline
    if base is None:
        return
    console.print(
        f"baseline {base.baseline}: {len(base.new)} new failure(s), "
        f"{len(base.unchanged)} known, {len(base.resolved)} resolved"
    )
    for ref in base.resolved[:30]:
        console.print(f"  resolved: {ref.rule_id} {ref.account_id} {ref.resource_arn}")
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
        sys.stderr.write(f"warning: {message}\n")


def _output(
    formats: str | None,
    output_dir: Path | None,
    fail_on: str | None,
    quiet: bool,
    policy: Policy | None = None,
) -> OutputOptions:
    """Flags win over the config file, which wins over the defaults."""
    fmt = formats or (policy.formats if policy else None) or DEFAULT_FORMATS
    get_reporters(fmt)  # validate before any AWS call
    directory = output_dir or (policy.output_dir if policy else None) or DEFAULT_OUTPUT_DIR
    if fail_on is not None:
        threshold = _severity(fail_on)
    else:
        threshold = (policy.fail_on if policy else None) or Severity(DEFAULT_FAIL_ON)
    return OutputOptions(fmt, directory, threshold, quiet)


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
    org: OrgOpt = False,
    accounts: AccountsOpt = None,
    exclude_accounts: ExcludeAccountsOpt = None,
    ou: OuOpt = None,
    role_name: RoleNameOpt = None,
    role_path: RolePathOpt = None,
    external_id: ExternalIdOpt = None,
    role_arn_template: RoleArnTemplateOpt = None,
    confirm_filters_with_aws: ConfirmFiltersOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    """Scan the account of the current credentials (or, with --org, the whole organization)
    and write reports."""
    policy = _policy(config)
    out = _output(format, output_dir, fail_on, quiet, policy)
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
        executor,
    )
    if snapshot is not None:
        write_text_atomic(snapshot, dump_json(inventory))
    raise typer.Exit(finish(_judge(inventory, policy, baseline), out))


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
    executor: ExecutorOpt = "local",
) -> None:
    """Collect the inventory only and save it as a snapshot for `trailcheck evaluate`."""
    org_request = _org_request(
        org, accounts, exclude_accounts, ou, role_name, role_path, external_id, role_arn_template
    )
    inventory = _run_scan(
        profile,
        region,
        max_workers,
        quiet,
        load_rules(),
        org_request,
        confirm_filters_with_aws,
        executor,
    )
    write_text_atomic(output, dump_json(inventory))
    _console(quiet).print(
        f"wrote {output}: {len(inventory.accounts)} account(s), {len(inventory.trails)} trail(s), "
        f"{sum(inventory.metadata.api_calls.values())} API calls"
    )


@app.command("evaluate")
def evaluate_snapshot(
    snapshot: Annotated[Path, typer.Argument(help="A snapshot written by `trailcheck collect`.")],
    format: FormatOpt = None,
    output_dir: OutputDirOpt = None,
    fail_on: FailOnOpt = None,
    quiet: QuietOpt = False,
    config: ConfigOpt = None,
    baseline: BaselineOpt = None,
) -> None:
    """Judge a saved snapshot offline: the same findings the live scan gave."""
    policy = _policy(config)
    out = _output(format, output_dir, fail_on, quiet, policy)
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
    if output.exists() and not force:
        raise UserError(f"{output} already exists (use --force to overwrite it)")
    write_text_atomic(output, starter_config(load_rules()))
    sys.stdout.write(f"wrote {output}\n")


baseline_app = typer.Typer(
    help="Accept today's failures: later scans fail only on regressions.",
    no_args_is_help=True,
)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("create")
def baseline_create(
    report: Annotated[Path, typer.Argument(help="A JSON report (report.json).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the baseline (JSON).")
    ],
) -> None:
    """Record every unwaived FAIL of a report as known (`scan --baseline` then ignores them)."""
    created = create_baseline(load_report(report))
    write_text_atomic(output, dump_json(created))
    sys.stdout.write(f"wrote {output}: {len(created.entries)} known failure(s)\n")


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="The earlier JSON report.")],
    new: Annotated[Path, typer.Argument(help="The later JSON report.")],
    format: Annotated[
        str, typer.Option("--format", help="table (terminal), json or md.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Compare two reports: new, resolved, persistent and re-graded FAIL findings."""
    kind = format.strip().lower()
    if kind not in ("table", "json", "md"):
        raise UserError(f"--format: unknown diff format {format!r} (choose from table, json, md)")
    if kind == "table" and output is not None:
        raise UserError("--output: use --format json or md to write a file")
    result = diff_reports(load_report(old), load_report(new))
    if kind == "table":
        print_diff(result, Console(highlight=False))
        return
    text = dump_json(result) if kind == "json" else diff_markdown(result)
    if output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(output, text)


@app.command("rules")
def list_rules() -> None:
    """List every rule: id, severity, title and control mappings (tab-separated when piped)."""
    rows = [
        (
            r.id,
            r.severity.value,
            r.title,
            "; ".join(f"{k} {', '.join(v)}" for k, v in sorted(r.controls.items())),
        )
        for r in load_rules()
    ]
    if not sys.stdout.isatty():
        sys.stdout.writelines("\t".join(row) + "\n" for row in rows)
        return
    table = Table(show_header=True, header_style="bold", expand=True)
    for column in ("id", "severity", "title", "controls"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the JSON report."""
    sys.stdout.write(schema_text())


@app.command()
def formats() -> None:
    """List the report formats."""
    for name, cls in sorted(available().items()):
        sys.stdout.write(f"{name}\t{cls.filename}\n")


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
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output-dir: {output_dir} exists and is not a directory")
    session = _session(profile, max_workers)
    api_region = (requested or (None,))[0] or session.default_region or "us-east-1"
    scope = _targets(session, api_region, org_request, max_workers)
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
    )
    with _executor(executor, profile) as runner:
        report = run_verification(scope.targets, session, options, executor=runner, **scope.extra)
    console = _console(quiet)
    print_verification(report, console)
    for name in names:
        filename, render = FORMATS[name]
        write_text_atomic(output_dir / filename, render(report))
        console.print(f"wrote {output_dir / filename}")
    raise typer.Exit(0 if report.ok else 1)


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
    try:
        from trailcheck.demo.run import run_demo
    except ImportError as exc:
        raise UserError(f"the demo needs moto: pip install 'trailcheck[demo]' ({exc})") from None
    out = _output(format, output_dir, "low", quiet)
    report = run_demo()
    finish(report, out)
    _console(quiet).print(
        "demo: failures above are deliberate (broken accounts in the sample organization)"
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
    except (click.exceptions.Abort, typer.Abort):
        sys.stderr.write("trailcheck: aborted\n")
        return 130
    except (click.ClickException, typer.TyperException) as exc:
        # typer vendors click: its exceptions are not click's, so both are handled.
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # `trailcheck` alone: the help text
            sys.stderr.write(message + "\n")
            return 2
        sys.stderr.write(f"trailcheck: error: {' '.join(message.split())}\n")
        return int(getattr(exc, "exit_code", 2))
    except (UserError, ScanError) as exc:
        sys.stderr.write(f"trailcheck: error: {exc}\n")
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
