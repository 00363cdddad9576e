"""The terminal summary (rich): counts, then the failures and errors, worst first."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from trailcheck.gate import unjudged_text
from trailcheck.model import Report, Severity, Status
from trailcheck.reports._util import incomplete_note, resource_label, status_counts, terminal_text

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def print_summary(report: Report, console: Console, *, limit: int = 30) -> None:
    """Print the summary table and the first `limit` failures/errors."""
    meta = report.metadata
    console.print(
        f"[bold]trailcheck[/] {meta.tool_version}: {len(meta.accounts)} account(s), "
        f"{len(meta.regions)} region(s), {meta.api_calls_total} API calls"
    )
    if meta.api_retries or meta.api_calls_lost:
        lost = sum(meta.api_calls_lost.values())
        console.print(
            f"{sum(meta.api_retries.values())} retries (throttling, server or network errors)"
            + (
                f"; [yellow]scan incomplete[/]: {lost} call(s) still failed after retries, "
                "their rules say ERROR"
                if lost
                else ""
            )
        )
    note = incomplete_note(report)
    if note:
        console.print(f"[yellow]{terminal_text(note)}[/]")
    counts = Table(show_header=True, header_style="bold")
    census = status_counts(report)
    for label, _ in census:
        counts.add_column(label, justify="right")
    counts.add_row(*(str(n) for _, n in census))
    console.print(counts)
    unjudged = unjudged_text(report)
    if unjudged:
        console.print(f"[yellow]{terminal_text(unjudged)}[/]", soft_wrap=True)
    unreachable = set(meta.unreachable_accounts)
    for account in sorted(unreachable):
        reasons = {f.reason for f in report.findings if f.account_id == account}
        console.print(
            f"[yellow]ERROR[/]  account {terminal_text(account)} could not be scanned: "
            f"{terminal_text(min(reasons) if reasons else 'unknown reason')}",
            soft_wrap=True,
        )
    problems = [
        f
        for f in report.findings
        if f.status in (Status.FAIL, Status.ERROR) and f.account_id not in unreachable
    ]
    if not problems:
        return
    problems.sort(key=lambda f: (f.status is not Status.FAIL, -f.severity.rank, f.sort_key()))
    for f in problems[:limit]:
        status = f"{f.status.value}{' (waived)' if f.waiver else ''}"
        color = "red" if f.status is Status.FAIL else "yellow"
        console.print(
            f"[{color}]{status:<6}[/] [{SEVERITY_STYLE[f.severity]}]{f.severity.value:<8}[/] "
            f"{terminal_text(f.account_id)} [bold]{terminal_text(f.rule_id)}[/]\n"
            f"    {terminal_text(resource_label(f))}\n"
            f"    [dim]{terminal_text(f.reason)}[/]",
            soft_wrap=True,
        )
    if len(problems) > limit:
        console.print(f"… and {len(problems) - limit} more in the written reports")
