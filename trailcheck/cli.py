"""The `trailcheck` command line: parse options, run collect → evaluate → render, set the exit code.

Exit codes: 0 no unwaived FAIL at or above --fail-on; 1 there are; 2 bad input (flag, config,
snapshot, baseline); 3 the scan itself could not run (no credentials, AWS unreachable).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trailcheck import __version__
from trailcheck.engine import evaluate, failures_at_or_above
from trailcheck.errors import ScanError, UserError
from trailcheck.model import Inventory, Report, Severity, dump_json
from trailcheck.reports import available, get_reporters
from trailcheck.reports.json_report import schema_text
from trailcheck.reports.terminal import print_summary
from trailcheck.rules import RuleSet, load_rules
from trailcheck.snapshot import load_inventory, write_text_atomic

app = typer.Typer(
    name="trailcheck",
    help="Evidence-based compliance checks for AWS CloudTrail, for one account or an "
    "Organization.\n\n"
    "Exit codes: 0 = no failure at or above --fail-on; 1 = failures; 2 = bad input; "
    "3 = the scan could not run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DEFAULT_OUTPUT_DIR = Path("trailcheck-report")

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
    str, typer.Option("--format", help="Comma list of report formats, e.g. json,html.")
]
OutputDirOpt = Annotated[
    Path, typer.Option("--output-dir", help="Directory for report.<ext> files.")
]
FailOnOpt = Annotated[
    str,
    typer.Option(
        "--fail-on",
        help="Exit 1 on an unwaived FAIL at or above: info, low, medium, high, critical.",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (for CI).")]
WorkersOpt = Annotated[
    int, typer.Option("--max-workers", min=1, max=256, help="Concurrent AWS work units.")
]
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


def _run_scan(
    profile: str | None,
    regions: list[str] | None,
    max_workers: int,
    quiet: bool,
    rules: RuleSet,
    confirm_filters: bool = False,
) -> Inventory:
    from trailcheck.scanner.accounts import current_account
    from trailcheck.scanner.scan import ScanOptions, collect
    from trailcheck.scanner.session import AwsSession

    try:
        session = AwsSession(profile)
    except Exception as exc:  # botocore's ProfileNotFound and friends
        raise UserError(f"--profile: {exc}") from None
    api_region = (regions or [None])[0] or session.default_region or "us-east-1"
    targets, partition = current_account(session, api_region)
    options = ScanOptions(
        regions=tuple(regions) if regions else None,
        api_region=api_region,
        max_workers=max_workers,
        collections=rules.requires() | {"regions"},
        partition=partition,
        confirm_filters_with_aws=confirm_filters,
    )
    if quiet or not sys.stderr.isatty():
        return collect(targets, session, options)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        return collect(targets, session, options, _RichObserver(progress))


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
    for path in paths:
        console.print(f"wrote {path}")
    failing = failures_at_or_above(report, out.fail_on)
    if failing:
        console.print(f"{len(failing)} failure(s) at or above {out.fail_on.value}")
        return 1
    return 0


def _output(formats: str, output_dir: Path, fail_on: str, quiet: bool) -> OutputOptions:
    get_reporters(formats)  # validate before any AWS call
    return OutputOptions(formats, output_dir, _severity(fail_on), quiet)


@app.command()
def scan(
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    format: FormatOpt = "json,html",
    output_dir: OutputDirOpt = DEFAULT_OUTPUT_DIR,
    fail_on: FailOnOpt = "low",
    quiet: QuietOpt = False,
    max_workers: WorkersOpt = 16,
    snapshot: Annotated[
        Path | None,
        typer.Option("--snapshot", help="Also save the inventory here (as `collect -o`)."),
    ] = None,
    confirm_filters_with_aws: ConfirmFiltersOpt = False,
) -> None:
    """Scan the account of the current credentials and write reports."""
    out = _output(format, output_dir, fail_on, quiet)
    rules = load_rules()
    inventory = _run_scan(profile, region, max_workers, quiet, rules, confirm_filters_with_aws)
    if snapshot is not None:
        write_text_atomic(snapshot, dump_json(inventory))
    raise typer.Exit(finish(evaluate(inventory, rules), out))


@app.command()
def collect(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the snapshot (JSON).")
    ],
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    quiet: QuietOpt = False,
    max_workers: WorkersOpt = 16,
    confirm_filters_with_aws: ConfirmFiltersOpt = False,
) -> None:
    """Collect the inventory only and save it as a snapshot for `trailcheck evaluate`."""
    inventory = _run_scan(
        profile, region, max_workers, quiet, load_rules(), confirm_filters_with_aws
    )
    write_text_atomic(output, dump_json(inventory))
    _console(quiet).print(
        f"wrote {output}: {len(inventory.accounts)} account(s), {len(inventory.trails)} trail(s), "
        f"{sum(inventory.metadata.api_calls.values())} API calls"
    )


@app.command("evaluate")
def evaluate_snapshot(
    snapshot: Annotated[Path, typer.Argument(help="A snapshot written by `trailcheck collect`.")],
    format: FormatOpt = "json,html",
    output_dir: OutputDirOpt = DEFAULT_OUTPUT_DIR,
    fail_on: FailOnOpt = "low",
    quiet: QuietOpt = False,
) -> None:
    """Judge a saved snapshot offline: the same findings the live scan gave."""
    out = _output(format, output_dir, fail_on, quiet)
    inventory = load_inventory(snapshot)
    raise typer.Exit(finish(evaluate(inventory, load_rules()), out))


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


@app.command()
def demo(
    output_dir: OutputDirOpt = Path("demo-report"),
    format: FormatOpt = "json,html",
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
        sys.stderr.write(f"trailcheck: error: {' '.join(message.split())}\n")
        return int(getattr(exc, "exit_code", 2))
    except (UserError, ScanError) as exc:
        sys.stderr.write(f"trailcheck: error: {exc}\n")
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
