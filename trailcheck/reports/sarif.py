"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

- FAIL → `kind: "fail"`, `level` from the severity (critical/high error, medium warning,
  low/info note).
- ERROR → `kind: "open"` ("the rule was evaluated, and there was insufficient information to
  decide whether a problem exists", SARIF §3.27.9) with `level: "none"` (§3.27.10 requires
  `none` for any kind but `fail`).
- Waived → `suppressions: [{kind: "external", status: "accepted", justification}]`; the
  real kind stays.
- PASS and NOT_APPLICABLE are left out: code-scanning UIs treat every result as an alert.
- Each result has a stable `partialFingerprints` entry (rule + account + region + resource
  [+ sub-resource]), unique in the run,
  and with `--baseline` a `baselineState` (`new` / `unchanged`).
- Code scanning only accepts repository-relative locations, so each resource gets a stable
  pseudo path (`aws/ACCOUNT/REGION/SERVICE/RESOURCE`); the ARN is the logical location.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from trailcheck.baseline import baseline_states, fingerprint
from trailcheck.model import Finding, Report, RuleInfo, Severity, Status
from trailcheck.reports._stream import hole, json_pieces
from trailcheck.reports._util import (
    controls_text,
    incomplete_note,
    mapping_text,
    related_text,
    resource_label,
    resource_path,
    waiver_text,
)

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "trailcheckIdentity/v1"

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub maps security-severity to critical (>= 9.0), high (7.0-8.9), medium (4.0-6.9),
# low (0.1-3.9).
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.5",
}


class SarifReporter:
    """One run, one rule per rule that ran, one result per FAIL or ERROR finding."""

    name: ClassVar[str] = "sarif"
    filename: ClassVar[str] = "report.sarif"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))

    def chunks(self, report: Report) -> Iterator[str]:
        """The document, its results one at a time."""
        rule_ids = sorted(report.rules)
        index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
        states = baseline_states(report)
        results = (
            _result(f, index, states)
            for f in report.findings
            if f.status in (Status.FAIL, Status.ERROR) and f.rule_id in index
        )
        meta = report.metadata
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "trailcheck",
                    "version": meta.tool_version,
                    "rules": [_rule(report.rules[r]) for r in rule_ids],
                }
            },
            "invocations": [_invocation(report)],
            "columnKind": "utf16CodeUnits",
            "results": hole(),
            "properties": {
                "accounts": meta.accounts,
                "unreachableAccounts": meta.unreachable_accounts,
                "regions": meta.regions,
                "partition": meta.partition,
            },
        }
        document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
        return json_pieces(document, results, sort_keys=False)


def _rule(info: RuleInfo) -> dict[str, Any]:
    remedy = info.remediation
    text = [info.rationale, "", f"Fix: {remedy.summary}"]
    markdown = [info.rationale, "", "**How to fix.** " + remedy.summary]
    if remedy.console:
        text += ["", f"Console: {remedy.console}"]
        markdown += ["", f"Console: {remedy.console}"]
    if remedy.cli:
        text += ["", f"AWS CLI: {remedy.cli}"]
        markdown += ["", "AWS CLI:", "", "```sh", remedy.cli, "```"]
    if remedy.terraform:
        text += ["", f"Terraform: {remedy.terraform}"]
        markdown += ["", "Terraform:", "", "```hcl", remedy.terraform, "```"]
    if info.controls:
        controls = mapping_text(info.controls)
        text += ["", f"Decides controls: {controls}"]
        markdown += ["", f"Decides controls: {controls}"]
    if info.related_controls:
        related = mapping_text(info.related_controls)
        text += ["", f"Relates to (does not decide): {related}"]
        markdown += ["", f"Relates to (does not decide): {related}"]
    # Tags name deciding controls only: a tag is what a control filter or roll-up keys on.
    tags = ["security", "aws", "cloudtrail", "compliance"]
    tags += [f"{k}/{c}" for k, v in sorted(info.controls.items()) for c in v]
    return {
        "id": info.id,
        "name": _pascal(info.id),
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.rationale or info.title},
        "help": {"text": "\n".join(text), "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": LEVEL[info.severity]},
        "properties": {
            "tags": tags,
            "precision": "very-high",
            "problem.severity": _problem_severity(info.severity),
            "security-severity": SECURITY_SEVERITY[info.severity],
            "resourceType": info.resource_type,
            "controls": {k: list(v) for k, v in sorted(info.controls.items())},
            "relatedControls": {k: list(v) for k, v in sorted(info.related_controls.items())},
        },
    }


def _result(f: Finding, index: dict[str, int], states: dict[str, str]) -> dict[str, Any]:
    failed = f.status is Status.FAIL
    where = f"{resource_label(f)} (account {f.account_id}" + (f", {f.region})" if f.region else ")")
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": index[f.rule_id],
        "kind": "fail" if failed else "open",
        "level": LEVEL[f.severity] if failed else "none",
        "message": {
            "text": f"{f.reason} — {where}" if failed else f"Could not decide: {f.reason} — {where}"
        },
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": resource_path(f)},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [{"fullyQualifiedName": f.resource_arn, "kind": "resource"}],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f)},
        "properties": {
            "status": f.status.value,
            "severity": f.severity.value,
            "accountId": f.account_id,
            "region": f.region,
            "resourceArn": f.resource_arn,
            "resourceType": f.resource_type,
            "subResource": f.sub_resource,
            "controls": controls_text(f),
            "relatedControls": related_text(f),
            "evidence": f.evidence,
        },
    }
    state = states.get(fingerprint(f)) if failed else None
    if state is not None:
        result["baselineState"] = state
    if f.waiver is not None:
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": waiver_text(f)}
        ]
    return result


def _pascal(rule_id: str) -> str:
    return "".join(part.capitalize() for part in rule_id.replace("_", ".").split("."))


def _problem_severity(severity: Severity) -> str:
    return {"error": "error", "warning": "warning", "note": "recommendation"}[LEVEL[severity]]


def _utc(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _invocation(report: Report) -> dict[str, Any]:
    """The run's invocation: not successful, with a warning, when a stage was interrupted."""
    meta = report.metadata
    note = incomplete_note(report)
    invocation: dict[str, Any] = {
        "executionSuccessful": note is None,
        "startTimeUtc": _utc(meta.scan_started_at),
        "endTimeUtc": _utc(meta.scan_finished_at),
    }
    if note:
        invocation["toolExecutionNotifications"] = [{"level": "warning", "message": {"text": note}}]
    return invocation
