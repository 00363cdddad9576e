"""Baselines and diffs: which FAIL findings are new, which are resolved, which persist.

A finding's identity is its rule id, account, region, resource ARN and, when one resource holds
several judged parts (the metric filters of a log group), the sub-resource — never its position
in a report or the wording of its reason, which may improve between versions. No two findings
of a report share an identity. `fingerprint()` hashes it; SARIF, OCSF and CSV carry it, so a
SIEM or code scanning can follow a finding across runs too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trailcheck.model import (
    SCHEMA_VERSION,
    BaselineComparison,
    Finding,
    FindingRef,
    Report,
    Severity,
    Status,
)
from trailcheck.snapshot import load_document

BASELINE_KIND = "trailcheck-baseline"
DIFF_KIND = "trailcheck-diff"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def identity(finding: Finding | FindingRef) -> tuple[str, ...]:
    """(rule id, account, region, resource ARN[, sub-resource]): what makes two findings the
    same finding. The sub-resource is left out when there is none, so findings without one keep
    the fingerprints (and baselines) of earlier versions."""
    base = (finding.rule_id, finding.account_id, finding.region or "", finding.resource_arn)
    return base if finding.sub_resource is None else (*base, finding.sub_resource)


def fingerprint(finding: Finding | FindingRef) -> str:
    """A stable hex digest of the identity (32 hex digits, 128 bits)."""
    text = "\x1f".join(("trailcheck/v1", *identity(finding)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def finding_ref(finding: Finding) -> FindingRef:
    return FindingRef(
        fingerprint=fingerprint(finding),
        rule_id=finding.rule_id,
        account_id=finding.account_id,
        region=finding.region,
        resource_arn=finding.resource_arn,
        severity=finding.severity,
        reason=finding.reason,
        waived=finding.waiver is not None,
        sub_resource=finding.sub_resource,
    )


def _ref_key(ref: FindingRef) -> tuple[str, str, str, str, str]:
    return (ref.account_id, ref.region or "", ref.rule_id, ref.resource_arn, ref.sub_resource or "")


# ----------------------------------------------------------------------------- baselines


class ReportSource(_Frozen):
    """Which report a baseline or diff side was made from."""

    tool_version: str
    scan_started_at: datetime


class Baseline(_Frozen):
    """Accepted FAIL findings: `scan --baseline` fails only on FAILs not listed here."""

    kind: Literal["trailcheck-baseline"] = BASELINE_KIND
    schema_version: int = SCHEMA_VERSION
    created_from: ReportSource
    entries: list[FindingRef]


def create_baseline(report: Report) -> Baseline:
    """Every unwaived FAIL finding of `report` (waived ones stay governed by their waiver,
    so an expiring waiver still fails CI)."""
    refs = {
        fingerprint(f): finding_ref(f)
        for f in report.findings
        if f.status is Status.FAIL and f.waiver is None
    }
    return Baseline(
        created_from=_source(report),
        entries=sorted(refs.values(), key=_ref_key),
    )


def load_baseline(path: Path) -> Baseline:
    """Read a baseline written by `trailcheck baseline create` (bad file: UserError)."""
    return load_document(path, Baseline, BASELINE_KIND, "baseline")


def compare_with_baseline(report: Report, baseline: Baseline, source: str) -> Report:
    """The report with its FAIL findings sorted into new / unchanged, and resolved entries."""
    known = {e.fingerprint: e for e in baseline.entries}
    failing = {fingerprint(f): f for f in report.findings if f.status is Status.FAIL}
    comparison = BaselineComparison(
        baseline=source,
        baseline_scan_started_at=baseline.created_from.scan_started_at,
        new=sorted(fp for fp in failing if fp not in known),
        unchanged=sorted(fp for fp in failing if fp in known),
        resolved=sorted((e for fp, e in known.items() if fp not in failing), key=_ref_key),
    )
    return report.model_copy(update={"baseline": comparison})


def baseline_states(report: Report) -> dict[str, Literal["new", "unchanged"]]:
    """Fingerprint → `new` / `unchanged` for the FAIL findings of a report compared with a
    baseline (empty without a baseline)."""
    if report.baseline is None:
        return {}
    states: dict[str, Literal["new", "unchanged"]] = dict.fromkeys(report.baseline.new, "new")
    states.update(dict.fromkeys(report.baseline.unchanged, "unchanged"))
    return states


# ----------------------------------------------------------------------------- diffs


class ResolvedRef(_Frozen):
    finding: FindingRef
    now: Literal["PASS", "ERROR", "NOT_APPLICABLE", "absent"]


class SeverityChange(_Frozen):
    finding: FindingRef
    old_severity: Severity


class ReportDiff(_Frozen):
    """FAIL findings of two reports compared by identity."""

    kind: Literal["trailcheck-diff"] = DIFF_KIND
    schema_version: int = SCHEMA_VERSION
    old: ReportSource
    new: ReportSource
    new_failures: list[FindingRef] = Field(default_factory=list)
    resolved: list[ResolvedRef] = Field(default_factory=list)
    persistent: list[FindingRef] = Field(default_factory=list)
    changed_severity: list[SeverityChange] = Field(default_factory=list)


def diff_reports(old: Report, new: Report) -> ReportDiff:
    """New, resolved, persistent and re-graded FAIL findings from `old` to `new`."""
    old_fail = _failing(old.findings)
    new_fail = _failing(new.findings)
    new_status = {fingerprint(f): f.status for f in new.findings}
    resolved = []
    for fp, f in old_fail.items():
        if fp not in new_fail:
            status = new_status.get(fp)
            now = status.value if status is not None else "absent"
            resolved.append(ResolvedRef(finding=finding_ref(f), now=now))  # type: ignore[arg-type]
    persistent = [finding_ref(f) for fp, f in new_fail.items() if fp in old_fail]
    changed = [
        SeverityChange(finding=finding_ref(f), old_severity=old_fail[fp].severity)
        for fp, f in new_fail.items()
        if fp in old_fail and old_fail[fp].severity is not f.severity
    ]
    return ReportDiff(
        old=_source(old),
        new=_source(new),
        new_failures=sorted(
            (finding_ref(f) for fp, f in new_fail.items() if fp not in old_fail), key=_ref_key
        ),
        resolved=sorted(resolved, key=lambda r: _ref_key(r.finding)),
        persistent=sorted(persistent, key=_ref_key),
        changed_severity=sorted(changed, key=lambda c: _ref_key(c.finding)),
    )


def _failing(findings: Iterable[Finding]) -> dict[str, Finding]:
    return {fingerprint(f): f for f in findings if f.status is Status.FAIL}


def _source(report: Report) -> ReportSource:
    return ReportSource(
        tool_version=report.metadata.tool_version,
        scan_started_at=report.metadata.scan_started_at,
    )
