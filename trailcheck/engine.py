"""Run rules over an inventory and build the `Report`.

Silence never reads as compliance: a rule that raises, or that says nothing about an account
in scope, gets an ERROR finding for that account. A rule that says two different things about
one finding identity gets one ERROR naming both. Findings are sorted so the same inventory
always gives the same report.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from trailcheck.baseline import identity
from trailcheck.changes.enrich import attach_changes
from trailcheck.errors import UserError
from trailcheck.gate import failures_at_or_above as failures_at_or_above  # re-exported
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
    Waiver,
    WaiverUse,
)
from trailcheck.rules.base import Rule, RuleContext
from trailcheck.strict import validate_strictly

if TYPE_CHECKING:
    from trailcheck.config import WaiverConfig

WAIVABLE = (Status.FAIL, Status.ERROR)


def rule_context(rule: Rule, params: Mapping[str, Any] | None) -> RuleContext:
    """The context for `rule` with its parameters validated (bad values are a UserError)."""
    try:
        return RuleContext(rule=rule, params=validate_strictly(rule.params, dict(params or {})))
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
    return one_per_identity(findings)


def one_per_identity(findings: Sequence[Finding]) -> list[Finding]:
    """Each finding identity once (`baseline.identity`): identical copies collapse into one;
    different findings with one identity become one ERROR listing what each said (which of
    them is true cannot be told, and a report must never carry both)."""
    groups: dict[tuple[str, ...], list[Finding]] = {}
    for finding in findings:
        same = groups.setdefault(identity(finding), [])
        if finding not in same:
            same.append(finding)
    return [same[0] if len(same) == 1 else _conflict(same) for same in groups.values()]


def _conflict(same: list[Finding]) -> Finding:
    said = "; ".join(f"{f.status.value} ({f.reason})" for f in same)
    evidence: dict[str, Any] = {
        "conflicting_findings": [
            {"status": f.status.value, "reason": f.reason, "evidence": f.evidence} for f in same
        ]
    }
    return same[0].model_copy(
        update={
            "status": Status.ERROR,
            "reason": f"the rule gave {len(same)} different findings for this resource: {said}",
            "evidence": evidence,
            "remediation": None,
            "problems": [],
        }
    )


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
    *,
    severity: Mapping[str, Severity] | None = None,
    waivers: Sequence[WaiverConfig] = (),
) -> Report:
    """Judge `inventory` with `rules` and return the sorted, summarised report.

    `severity` (rule id → severity, from the config) sets the severity of every finding of
    a rule; `waivers` are then applied (see `apply_waivers`).
    """
    rule_params = rule_params or {}
    severity = severity or {}
    rules = list(rules)
    findings: list[Finding] = []
    pool = SharedValues()
    for rule in rules:
        found = run_rule(rule, inventory, rule_context(rule, rule_params.get(rule.id)))
        if rule.id in severity:
            found = [_with_severity(f, severity[rule.id]) for f in found]
        findings.extend(pool.share(f) for f in found)
    findings = attach_changes(findings, {r.id: r for r in rules}, inventory)
    findings, uses = apply_waivers(findings, waivers, inventory)
    findings.sort(key=Finding.sort_key)
    shown = [replace(r, severity=severity[r.id]) if r.id in severity else r for r in rules]
    return build_report(inventory, shown, findings, uses)


class SharedValues:
    """Equal JSON values held once: every member account's monitoring findings carry the
    same organization-trail coverage, and every finding of a rule the same control lists.

    `share` returns the finding with each evidence value (and its control maps) replaced by
    the first equal one seen, so 10,000 accounts hold one copy, not 10,000. The values are
    equal, so every report is byte-identical; they are never mutated after judgement (a
    finding is changed only by building a new evidence dict, see `_with_severity`).
    """

    def __init__(self) -> None:
        self._held: dict[str, Any] = {}

    def one(self, value: Any) -> Any:
        if not isinstance(value, dict | list) or not value:
            return value
        key = json.dumps(value, sort_keys=True, ensure_ascii=False)
        return self._held.setdefault(key, value)

    def share(self, finding: Finding) -> Finding:
        return finding.model_copy(
            update={
                "evidence": {k: self.one(v) for k, v in finding.evidence.items()},
                "controls": self.one(finding.controls),
                "related_controls": self.one(finding.related_controls),
            }
        )


def _with_severity(finding: Finding, level: Severity) -> Finding:
    if finding.severity is level:
        return finding
    evidence = {
        **finding.evidence,
        "configured_severity": {"rule_gave": finding.severity.value, "config": level.value},
    }
    return finding.model_copy(update={"severity": level, "evidence": evidence})


def apply_waivers(
    findings: Iterable[Finding], waivers: Sequence[WaiverConfig], inventory: Inventory
) -> tuple[list[Finding], list[WaiverUse]]:
    """Attach the first matching, unexpired waiver to each FAIL/ERROR finding.

    The status is never changed. Expiry is judged at the scan time stored in the inventory
    (never the wall clock), so re-evaluating a snapshot gives the same report. A finding
    only an expired waiver matches keeps counting, and says so in its reason and evidence.
    Returns the findings and, per waiver, what it did (`applied`, `unused`, `expired`).
    """
    scan_date = inventory.scan_time.date()
    matched = [0] * len(waivers)
    result: list[Finding] = []
    for finding in findings:
        if finding.status not in WAIVABLE or not waivers:
            result.append(finding)
            continue
        account = inventory.accounts.get(finding.account_id)
        ou_path = account.ou_path if account else None
        hits = [i for i, w in enumerate(waivers) if w.matches(finding, ou_path)]
        for i in hits:
            matched[i] += 1
        active = [i for i in hits if not waivers[i].expired_at(scan_date)]
        if active:
            w = waivers[active[0]]
            waiver = Waiver(reason=w.reason, owner=w.owner, expires=w.expires.isoformat())
            result.append(finding.model_copy(update={"waiver": waiver}))
        elif hits:
            w = waivers[hits[0]]
            expired = Waiver(
                reason=w.reason, owner=w.owner, expires=w.expires.isoformat(), expired=True
            )
            result.append(
                finding.model_copy(
                    update={
                        "reason": f"{finding.reason} [waiver expired {w.expires.isoformat()}, "
                        f"owner {w.owner}]",
                        "evidence": {
                            **finding.evidence,
                            "expired_waiver": expired.model_dump(mode="json"),
                        },
                    }
                )
            )
        else:
            result.append(finding)
    uses = [
        WaiverUse(
            index=i,
            rule=w.rule,
            accounts=list(w.accounts),
            ous=list(w.ous),
            regions=list(w.regions),
            resources=list(w.resources),
            reason=w.reason,
            owner=w.owner,
            expires=w.expires.isoformat(),
            state="expired" if w.expired_at(scan_date) else ("applied" if matched[i] else "unused"),
            matched=matched[i],
        )
        for i, w in enumerate(waivers)
    ]
    return result, uses


def build_report(
    inventory: Inventory,
    rules: Iterable[Rule],
    findings: list[Finding],
    waivers: Sequence[WaiverUse] = (),
) -> Report:
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
            api_retries=dict(sorted(meta.api_retries.items())),
            api_calls_lost=dict(sorted(meta.api_calls_lost.items())),
            organization_id=meta.organization_id,
            management_account_id=meta.management_account_id,
            account_info={
                a: AccountInfo(name=acc.name, ou_path=acc.ou_path)
                for a, acc in sorted(inventory.accounts.items())
                if acc.name or acc.ou_path
            },
            skipped_accounts=sorted(meta.skipped_accounts, key=lambda s: s.account_id),
            interrupted=meta.interrupted,
        ),
        summary=summarize(findings),
        rules={r.id: r.info() for r in sorted(rules, key=lambda r: r.id)},
        findings=findings,
        waivers=list(waivers),
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
