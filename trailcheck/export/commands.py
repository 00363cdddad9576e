"""`trailcheck export securityhub`: parse the options, read the report, send or show."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from trailcheck.errors import ScanError

export_app = typer.Typer(
    help="Send a report's findings to another tool (AWS Security Hub).", no_args_is_help=True
)


@export_app.command("securityhub")
def securityhub(
    report: Annotated[Path, typer.Argument(help="A JSON report (report.json).")],
    region: Annotated[
        str | None,
        typer.Option(
            "--region", help="Security Hub region to import into (default: the scan's first)."
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the BatchImportFindings requests (JSON); send nothing."
        ),
    ] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile (default: standard chain).")
    ] = None,
    role_name: Annotated[
        str | None,
        typer.Option(
            "--role-name",
            help="Import each other account's findings through this role in that account "
            "(Security Hub takes an account's findings only from itself).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Import the findings of a report into AWS Security Hub (ASFF, BatchImportFindings): FAIL
    and ERROR active, PASS archived; the next run updates the same findings."""
    from trailcheck.export.securityhub import BATCH_SIZE, export, plan
    from trailcheck.regions import parse_regions
    from trailcheck.reports.asff import hub_region_of
    from trailcheck.snapshot import load_report

    loaded = load_report(report)
    hub_region = region.strip() if region else hub_region_of(loaded)
    parse_regions([hub_region], "--region")  # a typo is exit 2 with the nearest names
    groups = plan(loaded, hub_region)
    total = sum(len(items) for items in groups.values())
    if dry_run:
        requests = [
            {"account": account, "region": hub_region, "Findings": items[i : i + BATCH_SIZE]}
            for account, items in groups.items()
            for i in range(0, len(items), BATCH_SIZE)
        ]
        sys.stdout.write(json.dumps(requests, indent=2, ensure_ascii=False) + "\n")
        if not quiet:
            sys.stderr.write(
                f"dry run: {total} finding(s) of {len(groups)} account(s) in "
                f"{len(requests)} BatchImportFindings call(s) to {hub_region}; nothing sent\n"
            )
        return
    result = export(
        groups,
        hub_region,
        profile=profile,
        role_name=role_name,
        partition=loaded.metadata.partition,
    )
    if not quiet:
        for line in result.lines():
            sys.stdout.write(line + "\n")
    if not result.complete:
        imported = sum(a.imported for a in result.accounts)
        raise ScanError(
            f"{total - imported} of {total} finding(s) were not imported into Security Hub "
            f"({hub_region}); see the lines above"
        )
