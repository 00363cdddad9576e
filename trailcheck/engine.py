"""Run rules over an inventory and build the `Report`.

Silence never reads as compliance: a rule that raises, or that says nothing about an account
in scope, gets an ERROR finding for that account. Findings are sorted so the same inventory
always gives the same report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from trailcheck.errors import UserError
from trailcheck.model import (
    AccountInfo,
    Finding,
    Inventory,
    Report,
    ReportMetadata,
    Severity,
    Status,
    Summary,
    Unknown,
)
from trailcheck.rules.base import Rule, RuleContext


def rule_context(rule: Rule, params: Mapping[str, Any] | None) -> RuleContext:
    """The context for `rule` with its parameters validated (bad values are a UserError)."""
    try:
        return RuleContext(rule=rule, params=rule.params.model_validate(dict(params or {})))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise UserError(f"rule {rule.id}: parameter {where}: {first['msg']}") from None


def run_rule(rule: Rule, inventory: Inventory, ctx: RuleContext) -> list[Finding]:
    """Findings of one rule, with ERROR findings for a crash and for each silent account."""
    try:
        findings = list(rule.evaluate(inventory, ctx))
    except Exception as exc:  # a crashed rule must be visible, never silent
        reason = f"rule crashed: {type(exc).__name__}: {exc}"
        return [_account_error(ctx, inventory, a, reason) for a in sorted(inventory.accounts)]
    judged = {f.account_id for f in findings}
    for account_id, account in sorted(inventory.accounts.items()):
        if account_id in judged:
            continue
        if account.access_error is not None:
            reason = f"account not scanned: {account.access_error.describe()}"
        else:
            reason = "the rule gave no verdict for this account"
        findings.append(_account_error(ctx, inventory, account_id, reason))
    return findings


def _account_error(ctx: RuleContext, inventory: Inventory, account_id: str, reason: str) -> Finding:
    return ctx.error(
        account_id=account_id,
        region=None,
        resource_arn=f"arn:{inventory.metadata.partition}:iam::{account_id}:root",
        resource_type="AWS::::Account",
        reason=reason,
    )


def evaluate(
    inventory: Inventory,
    rules: Iterable[Rule],
    rule_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Report:
    """Judge `inventory` with `rules` and return the sorted, summarised report."""
    rule_params = rule_params or {}
    rules = list(rules)
    findings: list[Finding] = []
    for rule in rules:
        findings.extend(run_rule(rule, inventory, rule_context(rule, rule_params.get(rule.id))))
    findings.sort(key=Finding.sort_key)
    return build_report(inventory, rules, findings)


def build_report(inventory: Inventory, rules: Iterable[Rule], findings: list[Finding]) -> Report:
    """Wrap sorted findings with the scan's metadata and summary counts."""
    meta = inventory.metadata
    regions = sorted(
        {
            r
            for a in inventory.accounts.values()
            if not isinstance(a.regions, Unknown)
            for r in a.regions
        }
    )
    return Report(
        metadata=ReportMetadata(
            tool_version=meta.tool_version,
            scan_started_at=meta.started_at,
            scan_finished_at=meta.finished_at,
            partition=meta.partition,
            accounts=sorted(inventory.accounts),
            unreachable_accounts=sorted(
                a for a, acc in inventory.accounts.items() if acc.access_error is not None
            ),
            regions=regions,
            api_calls=dict(sorted(meta.api_calls.items())),
            api_calls_total=sum(meta.api_calls.values()),
            organization_id=meta.organization_id,
            management_account_id=meta.management_account_id,
            account_info={
                a: AccountInfo(name=acc.name, ou_path=acc.ou_path)
                for a, acc in sorted(inventory.accounts.items())
                if acc.name or acc.ou_path
            },
            skipped_accounts=sorted(meta.skipped_accounts, key=lambda s: s.account_id),
        ),
        summary=summarize(findings),
        rules={r.id: r.info() for r in sorted(rules, key=lambda r: r.id)},
        findings=findings,
    )


def summarize(findings: Iterable[Finding]) -> Summary:
    """Counts by status, failures by severity (waived failures counted apart)."""
    findings = list(findings)
    by_status = Counter(f.status.value for f in findings)
    failures = Counter(
        f.severity.value for f in findings if f.status is Status.FAIL and f.waiver is None
    )
    return Summary(
        total=len(findings),
        by_status={s.value: by_status.get(s.value, 0) for s in Status},
        failures_by_severity={s.value: failures.get(s.value, 0) for s in Severity},
        waived=sum(1 for f in findings if f.waiver is not None),
    )


def failures_at_or_above(report: Report, threshold: Severity) -> list[Finding]:
    """Unwaived FAIL findings whose severity is at least `threshold` (the exit-code test)."""
    return [
        f
        for f in report.findings
        if f.status is Status.FAIL and f.waiver is None and f.severity.rank >= threshold.rank
    ]
