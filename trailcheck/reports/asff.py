"""AWS Security Finding Format (ASFF): the findings as AWS Security Hub imports them.

One ASFF finding per trailcheck finding, every status (so Security Hub can archive what was
fixed): FAIL → Compliance FAILED, PASS → PASSED, ERROR (could not decide) → WARNING,
NOT_APPLICABLE → NOT_AVAILABLE. PASS and NOT_APPLICABLE are sent with RecordState ARCHIVED, FAIL
and ERROR ACTIVE. A waived finding keeps its real Compliance status; its Workflow is SUPPRESSED
and a Note says why.

`Id` is `trailcheck/<fingerprint>` (rule, account, region, resource: the baseline identity), so
the next import of the same finding updates it instead of adding another. `ProductArn` is the
default product of the finding's account in the Security Hub region (`hub_region`): Security
Hub accepts findings with the default product only from the account they are about.
`trailcheck export securityhub` sends these with BatchImportFindings.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from trailcheck.baseline import fingerprint
from trailcheck.model import Finding, Report, Severity, Status
from trailcheck.reports._util import fix_for, incomplete_note, waiver_text

SCHEMA_VERSION = "2018-10-08"
DEFAULT_HUB_REGION = "us-east-1"
FINDING_TYPE = "Software and Configuration Checks/Industry and Regulatory Standards"
COMPLIANCE = {
    Status.FAIL: "FAILED",
    Status.PASS: "PASSED",
    Status.ERROR: "WARNING",
    Status.NOT_APPLICABLE: "NOT_AVAILABLE",
}
LABEL = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFO: "INFORMATIONAL",
}
# Limits of the ASFF fields (BatchImportFindings input shape)
TITLE_MAX, DESCRIPTION_MAX, RECOMMENDATION_MAX, NOTE_MAX = 256, 1024, 512, 512
REQUIREMENTS_MAX = 32


def hub_region_of(report: Report) -> str:
    """The Security Hub region an `asff` file targets by default: the scan's first region."""
    return report.metadata.regions[0] if report.metadata.regions else DEFAULT_HUB_REGION


def product_arn(partition: str, region: str, account_id: str) -> str:
    """The default product of `account_id` in `region` (where its own findings go)."""
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def asff_id(finding: Finding) -> str:
    """The stable finding Id: the same resource's verdict of the same rule, scan after scan."""
    return f"trailcheck/{fingerprint(finding)}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _resource_type(aws_type: str) -> str:
    """`AWS::S3::Bucket` → `AwsS3Bucket`, `AWS::::Account` → `AwsAccount` (ASFF's names)."""
    parts = [p for p in aws_type.split("::") if p]
    if not parts or parts[0] != "AWS":
        return "Other"
    return "Aws" + "".join(parts[1:])


def asff_finding(report: Report, finding: Finding, hub_region: str) -> dict[str, Any]:
    """One finding in ASFF."""
    meta = report.metadata
    when = meta.scan_started_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    status = finding.status
    requirements = [
        f"{framework} {control}"
        for framework, controls in sorted(finding.controls.items())
        for control in controls
    ][:REQUIREMENTS_MAX]
    fields: dict[str, str] = {
        "trailcheck/RuleId": finding.rule_id,
        "trailcheck/Status": status.value,
        "trailcheck/Version": meta.tool_version,
    }
    if finding.sub_resource:
        fields["trailcheck/SubResource"] = finding.sub_resource
    note = incomplete_note(report)
    if note:
        fields["trailcheck/Incomplete"] = note
    item: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": asff_id(finding),
        "ProductArn": product_arn(meta.partition, hub_region, finding.account_id),
        "ProductName": "trailcheck",
        "CompanyName": "trailcheck",
        "GeneratorId": f"trailcheck/{finding.rule_id}",
        "AwsAccountId": finding.account_id,
        "Region": hub_region,
        "Types": [FINDING_TYPE],
        "FirstObservedAt": when,
        "LastObservedAt": when,
        "CreatedAt": when,
        "UpdatedAt": when,
        "Severity": {"Label": LABEL[finding.severity], "Original": finding.severity.value},
        "Title": _cut(finding.title, TITLE_MAX),
        "Description": _cut(finding.reason or finding.title, DESCRIPTION_MAX),
        "ProductFields": fields,
        "Resources": [
            {
                "Type": _resource_type(finding.resource_type),
                "Id": finding.resource_arn,
                "Partition": meta.partition,
                "Region": finding.region or hub_region,
            }
        ],
        "Compliance": {"Status": COMPLIANCE[status]}
        | ({"RelatedRequirements": requirements} if requirements else {}),
        "RecordState": "ACTIVE" if status in (Status.FAIL, Status.ERROR) else "ARCHIVED",
    }
    fix = fix_for(report, finding) if status is Status.FAIL else None
    if fix is not None:
        item["Remediation"] = {"Recommendation": {"Text": _cut(fix.summary, RECOMMENDATION_MAX)}}
    if finding.waiver is not None:
        item["Workflow"] = {"Status": "SUPPRESSED"}
        item["Note"] = {
            "Text": _cut(f"waived: {waiver_text(finding)}", NOTE_MAX),
            "UpdatedBy": "trailcheck",
            "UpdatedAt": when,
        }
    return item


def asff_findings(report: Report, hub_region: str | None = None) -> list[dict[str, Any]]:
    """Every finding of `report` in ASFF, in the report's order."""
    region = hub_region or hub_region_of(report)
    return [asff_finding(report, f, region) for f in report.findings]


class AsffReporter:
    """`report.asff.json`: a JSON array of ASFF findings (BatchImportFindings' `Findings`)."""

    name: ClassVar[str] = "asff"
    filename: ClassVar[str] = "report.asff.json"

    def render(self, report: Report) -> str:
        return json.dumps(asff_findings(report), indent=2, ensure_ascii=False) + "\n"
