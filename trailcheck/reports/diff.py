"""Render a `ReportDiff` (from `trailcheck diff`): a terminal table or Markdown."""

from __future__ import annotations

from rich.console import Console

from trailcheck.baseline import ReportDiff
from trailcheck.model import FindingRef
from trailcheck.reports._util import resource_label
from trailcheck.reports.listing import Listing, print_table
from trailcheck.reports.markdown import cell, code, table

DIFF_COLUMNS = ("change", "severity", "rule", "account", "region", "resource", "reason", "note")


def _counts(diff: ReportDiff) -> str:
    return (
        f"{len(diff.new_failures)} new, {len(diff.resolved)} resolved, "
        f"{len(diff.persistent)} persistent, {len(diff.changed_severity)} changed severity"
    )


def diff_markdown(diff: ReportDiff) -> str:
    """GitHub-flavoured Markdown, capped tables (the JSON form has everything)."""
    lines = [
        f"## trailcheck diff: {_counts(diff)}",
        "",
        f"From the scan of {diff.old.scan_started_at.isoformat()} to the scan of "
        f"{diff.new.scan_started_at.isoformat()}.",
    ]

    def section(title: str, headers: list[str], rows: list[list[str]]) -> None:
        if rows:
            lines.extend(["", f"### {title}", "", *table(headers, rows, len(rows))])

    def ref_row(r: FindingRef) -> list[str]:
        return [
            r.severity.value,
            code(r.rule_id),
            r.account_id,
            cell(r.region or "—"),
            code(resource_label(r)),
            cell(r.reason + (" (waived)" if r.waived else "")),
        ]

    headers = ["Severity", "Rule", "Account", "Region", "Resource", "Reason"]
    section("New failures", headers, [ref_row(r) for r in diff.new_failures])
    section(
        "Resolved",
        [*headers[:5], "Now"],
        [[*ref_row(r.finding)[:5], r.now] for r in diff.resolved],
    )
    section(
        "Changed severity",
        ["Was", "Now", "Rule", "Account", "Resource"],
        [
            [
                c.old_severity.value,
                c.finding.severity.value,
                code(c.finding.rule_id),
                c.finding.account_id,
                code(resource_label(c.finding)),
            ]
            for c in diff.changed_severity
        ],
    )
    section("Persistent failures", headers, [ref_row(r) for r in diff.persistent])
    lines.append("")
    return "\n".join(lines)


def diff_listing(diff: ReportDiff) -> Listing:
    """Every changed or persistent FAIL finding, new first: one row each, ids whole."""
    rows: list[tuple[str, FindingRef, str]] = []
    rows += [("new", r, "") for r in diff.new_failures]
    rows += [("resolved", r.finding, f"now {r.now}") for r in diff.resolved]
    rows += [
        ("severity", c.finding, f"{c.old_severity.value} → {c.finding.severity.value}")
        for c in diff.changed_severity
    ]
    changed = {c.finding.fingerprint for c in diff.changed_severity}
    rows += [("persistent", r, "") for r in diff.persistent if r.fingerprint not in changed]
    return Listing(
        columns=DIFF_COLUMNS,
        rows=[
            (
                change,
                ref.severity.value,
                ref.rule_id,
                ref.account_id,
                ref.region or "",
                resource_label(ref),
                ref.reason + (" (waived)" if ref.waived else ""),
                note,
            )
            for change, ref, note in rows
        ],
        keys=frozenset({"change", "severity", "rule", "account"}),
        title=f"trailcheck diff: {_counts(diff)}",
    )


def print_diff(diff: ReportDiff, console: Console) -> None:
    """For a terminal: the counts, then every row (a table, or blocks when narrow)."""
    print_table(diff_listing(diff), console)
