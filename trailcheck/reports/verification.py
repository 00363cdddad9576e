"""Renderers of a `VerificationReport` (`trailcheck verify-logs`): JSON, HTML, terminal.

Pure: the report in, text (or console lines) out; nothing is re-judged here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from rich.console import Console

from trailcheck.errors import UserError
from trailcheck.model import dump_json
from trailcheck.reports._util import terminal_text
from trailcheck.verify.report import CheckStatus, TrailCheck, VerificationReport

# The scan report's badge/card classes, reused for the same look.
STATUS_CLASS = {
    CheckStatus.OK: "PASS",
    CheckStatus.FAILED: "FAIL",
    CheckStatus.VALIDATION_DISABLED: "FAIL",
    CheckStatus.ERROR: "ERROR",
}
STATUS_STYLE = {
    CheckStatus.OK: "green",
    CheckStatus.FAILED: "red",
    CheckStatus.VALIDATION_DISABLED: "red",
    CheckStatus.ERROR: "yellow",
}


def render_json(report: VerificationReport) -> str:
    """Deterministic JSON: sorted keys, two-space indent."""
    return dump_json(report)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_html(report: VerificationReport) -> str:
    """One self-contained, escaped page in the scan report's style."""
    env = Environment(
        loader=PackageLoader("trailcheck.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _utc
    css = env.loader.get_source(env, "report.css")[0]  # type: ignore[union-attr]
    return env.get_template("verification.html.j2").render(
        report=report, css=css, status_class=STATUS_CLASS
    )


FORMATS: dict[str, tuple[str, Callable[[VerificationReport], str]]] = {
    "json": ("report.json", render_json),
    "html": ("report.html", render_html),
}


def parse_formats(value: str) -> list[str]:
    """`json,html` -> ["json", "html"]; an unknown name is a UserError."""
    names = list(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise UserError(
            f"--format: unknown verify-logs format {(unknown or [value])[0]!r} "
            f"(choose from {', '.join(FORMATS)})"
        )
    return names


def _counts(check: TrailCheck) -> str:
    v = check.verification
    if v is None:
        return ""
    logs = v.log_files_valid + v.log_files_modified + v.log_files_deleted + v.log_files_unverified
    digests = f"digests {v.digests_valid}/{len(v.digests)} valid"
    return f"{digests}, log files {v.log_files_valid}/{logs} valid"


def print_verification(report: VerificationReport, console: Console, *, limit: int = 50) -> None:
    """One line per trail x account x region, then the problems (at most `limit`)."""
    meta, summary = report.metadata, report.summary
    console.print(
        f"[bold]trailcheck verify-logs[/] {meta.tool_version}: {_utc(meta.window.start)} → "
        f"{_utc(meta.window.end)}, {summary.trails} trail(s), {summary.checks} chain(s), "
        f"{sum(meta.api_calls.values())} API calls"
    )
    for check in report.checks:
        style = STATUS_STYLE[check.status]
        label = check.status.value.replace("_", " ").upper()
        details = "; ".join(part for part in (_counts(check), check.reason) if part)
        console.print(
            f"[{style}]{label:<8}[/] {terminal_text(check.trail_arn)} "
            f"{check.account_id} {check.region}"
            f"  [dim]{terminal_text(details)}[/]",
            soft_wrap=True,
        )
        if check.note:
            console.print(f"    [dim]{terminal_text(check.note)}[/]", soft_wrap=True)
    for error in report.errors:
        console.print(
            f"[yellow]NOT VERIFIED[/] {terminal_text(error.subject)}: "
            f"{terminal_text(error.reason)}",
            soft_wrap=True,
        )
    shown = 0
    for check in report.checks:
        v = check.verification
        if v is None:
            continue
        for gap in v.gaps:
            if shown < limit:
                console.print(
                    f"  [red]gap[/] {check.account_id} {check.region} {_utc(gap.start)} → "
                    f"{_utc(gap.end)}: {terminal_text(gap.reason)}",
                    soft_wrap=True,
                )
            shown += 1
        for problem in v.problems:
            if problem.status == "not_listed" and problem.kind == "log_file":
                continue  # informational; in the written reports
            if shown < limit:
                fingerprint = f" [key {problem.fingerprint}]" if problem.fingerprint else ""
                console.print(
                    f"  [red]{problem.kind.replace('_', ' ')} {problem.status}[/] "
                    f"{terminal_text(problem.s3_key)}: "
                    f"{terminal_text(problem.reason)}{fingerprint}",
                    soft_wrap=True,
                )
            shown += 1
    if shown > limit:
        console.print(f"… and {shown - limit} more in the written reports")
    verdict = "[green]OK[/]" if report.ok else "[red]NOT OK[/]"
    if not report.checks:
        verdict += " (no trail found to verify)"
    console.print(
        f"{verdict}: {summary.ok} ok, {summary.failed} failed, "
        f"{summary.validation_disabled} validation disabled, "
        f"{summary.error + summary.errors} not verified"
    )
