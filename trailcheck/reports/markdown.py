"""Markdown summary for a pull-request comment or `$GITHUB_STEP_SUMMARY` (GitHub-flavoured).

Short by design: counts, then the unwaived failures worst first, errors, baseline changes and
waivers that need attention, each table capped (the HTML/JSON reports have everything).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from trailcheck.baseline import baseline_states, fingerprint
from trailcheck.gate import EXIT_OK, gate, gate_verdict, unjudged_text
from trailcheck.model import FindingRef, Report, Severity, Status
from trailcheck.reports._util import (
    incomplete_note,
    printable,
    resource_label,
    status_counts,
    waiver_text,
)

ROW_LIMIT = 50


def cell(text: object) -> str:
    """Text safe inside a GFM table cell: no pipes, newlines, HTML tags or control
    characters."""
    value = "" if text is None else " ".join(str(text).split())
    value = printable(value).replace("\\", "\\\\").replace("|", "\\|")
    return value.replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """An inline code span that survives any backticks inside `text`."""
    text = printable(" ".join(text.split())).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], total: int) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    shown = 0
    for row in rows:
        if shown == ROW_LIMIT:
            break
        lines.append("| " + " | ".join(row) + " |")
        shown += 1
    if total > shown:
        lines.append("")
        lines.append(f"… and {total - shown} more in the full report.")
    return lines


class MarkdownReporter:
    name: ClassVar[str] = "md"
    filename: ClassVar[str] = "report.md"

    def render(self, report: Report) -> str:
        meta = report.metadata
        summary = report.summary
        failures = sorted(
            (f for f in report.findings if f.status is Status.FAIL and f.waiver is None),
            key=lambda f: (-f.severity.rank, f.sort_key()),
        )
        errors = [f for f in report.findings if f.status is Status.ERROR and f.waiver is None]
        waived = [f for f in report.findings if f.waiver is not None]
        states = baseline_states(report)
        regressions = [f for f in failures if states.get(fingerprint(f)) == "new"]

        outcome = report.gate or gate(report)
        mark = "✅" if outcome.exit_code == EXIT_OK else "❌"
        verdict = f"{mark} {cell(gate_verdict(report))}"
        by_sev = ", ".join(
            f"{n} {sev}"
            for sev, n in sorted(
                summary.failures_by_severity.items(), key=lambda kv: -Severity(kv[0]).rank
            )
            if n
        )
        census = status_counts(report)
        lines = [
            f"## trailcheck: {verdict}",
            "",
            f"{len(meta.accounts)} account(s), {len(meta.regions)} region(s), scan "
            f"{meta.scan_started_at.isoformat()} (trailcheck {cell(meta.tool_version)})."
            + (f" Failures by severity: {by_sev}." if by_sev else ""),
            "",
            "| " + " | ".join(label for label, _ in census) + " |",
            "|" + "---:|" * len(census),
            "| " + " | ".join(str(n) for _, n in census) + " |",
        ]
        note = incomplete_note(report)
        if note:
            lines += ["", f"**{cell(note)}**"]
        unjudged = unjudged_text(report)
        if unjudged:
            lines += ["", f"**{cell(unjudged)}**"]
        if meta.unreachable_accounts:
            lines += [
                "",
                "**Accounts that could not be scanned:** " + ", ".join(meta.unreachable_accounts),
            ]
        if report.baseline is not None:
            lines += self._baseline(report, len(regressions))
        if failures:
            headers = ["Severity", "Rule", "Account", "Region", "Resource", "Reason"]
            if report.baseline is not None:
                headers.append("Baseline")
            rows = (
                [
                    f.severity.value,
                    code(f.rule_id),
                    f.account_id,
                    cell(f.region or "—"),
                    code(resource_label(f)),
                    cell(f.reason),
                ]
                + ([states.get(fingerprint(f), "")] if report.baseline is not None else [])
                for f in failures
            )
            lines += ["", "### Failures", "", *table(headers, rows, len(failures))]
        if errors:
            rows = (
                [code(f.rule_id), f.account_id, code(resource_label(f)), cell(f.reason)]
                for f in errors
            )
            lines += [
                "",
                "### Could not decide (ERROR)",
                "",
                *table(["Rule", "Account", "Resource", "Reason"], rows, len(errors)),
            ]
        if waived:
            rows = (
                [
                    f.status.value,
                    code(f.rule_id),
                    f.account_id,
                    code(resource_label(f)),
                    cell(waiver_text(f)),
                ]
                for f in waived
            )
            lines += [
                "",
                f"<details><summary>Waived findings ({len(waived)})</summary>",
                "",
                *table(["Verdict", "Rule", "Account", "Resource", "Waiver"], rows, len(waived)),
                "",
                "</details>",
            ]
        attention = [w for w in report.waivers if w.state != "applied"]
        if attention:
            rows = (
                [
                    f"waivers[{w.index}]",
                    w.state,
                    code(w.rule),
                    cell(w.owner),
                    w.expires,
                    "expired: findings count again"
                    if w.state == "expired"
                    else "matched nothing: remove it",
                ]
                for w in attention
            )
            lines += [
                "",
                "### Waivers that need attention",
                "",
                *table(
                    ["Waiver", "State", "Rule", "Owner", "Expires", "Meaning"], rows, len(attention)
                ),
            ]
        lines += ["", "_Full details: report.html / report.json._", ""]
        return "\n".join(lines)

    def _baseline(self, report: Report, regressions: int) -> list[str]:
        base = report.baseline
        assert base is not None
        lines = [
            "",
            f"**Baseline** {code(base.baseline)}: {regressions} new failure(s), "
            f"{len(base.unchanged)} known, {len(base.resolved)} resolved.",
        ]
        if base.resolved:
            lines += [
                "",
                "### Resolved since the baseline",
                "",
                *table(
                    ["Rule", "Account", "Region", "Resource"],
                    _ref_rows(base.resolved),
                    len(base.resolved),
                ),
            ]
        return lines


def _ref_rows(refs: Iterable[FindingRef]) -> Iterable[list[str]]:
    for r in refs:
        yield [code(r.rule_id), r.account_id, cell(r.region or "—"), code(resource_label(r))]
