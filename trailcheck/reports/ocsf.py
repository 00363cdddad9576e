"""OCSF Compliance Finding events (class 2003), for a SIEM or Amazon Security Lake.

A JSON array with one event per finding (PASS included: compliance posture is the point).
Written to OCSF 1.5.0 with the `cloud` profile. The mapping:

- `compliance.status_id`: PASS → 1 Pass, FAIL → 3 Fail, ERROR → 2 Warning ("did not yield a
  result due to missing information"), NOT_APPLICABLE → 99 Other (`checks[].status` says which).
- `status_id` (the finding's workflow state): 1 New, or 3 Suppressed for a waived finding
  (the waiver goes in `status_detail` and `unmapped.waiver`); the verdict is never changed.
- `compliance.standards` / `requirements`: only the controls the finding *decides*; controls
  it merely relates to go in `unmapped.related_controls` (they never change a control's status).
- `severity_id`: info 1, low 2, medium 3, high 4, critical 5.
- `finding_info.uid` and `metadata.uid`: the stable fingerprint (rule + account + region +
  resource), so a SIEM can follow one finding across scans.
- `time`: the scan start (epoch milliseconds): re-rendering a report gives the same bytes.

The events are built as plain data (no runtime dependency); the tests validate every event
against the `py-ocsf-models` ComplianceFinding model (Prowler's maintained OCSF models).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from trailcheck.baseline import baseline_states, fingerprint
from trailcheck.model import Finding, Report, Severity, Status
from trailcheck.reports._stream import hole, json_pieces
from trailcheck.reports._util import SEVERITY_TITLE, fix_for, incomplete_note, waiver_text

OCSF_VERSION = "1.5.0"
CLASS_UID = 2003  # Compliance Finding
CATEGORY_UID = 2  # Findings
ACTIVITY_CREATE = 1
SEVERITY_ID = {
    Severity.INFO: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}
COMPLIANCE_STATUS_ID = {Status.PASS: 1, Status.FAIL: 3, Status.ERROR: 2, Status.NOT_APPLICABLE: 99}
AWS_ACCOUNT_TYPE_ID = 10


class OcsfReporter:
    name: ClassVar[str] = "ocsf"
    filename: ClassVar[str] = "report.ocsf.json"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))

    def chunks(self, report: Report) -> Iterator[str]:
        """The events array, one event at a time."""
        states = baseline_states(report)
        events = (_event(report, f, states) for f in report.findings)
        return json_pieces(hole(), events, sort_keys=True)


def _event(report: Report, f: Finding, states: dict[str, str]) -> dict[str, Any]:
    meta = report.metadata
    info = report.rules.get(f.rule_id)
    uid = fingerprint(f)
    time_ms = int(meta.scan_started_at.timestamp() * 1000)
    status_id = COMPLIANCE_STATUS_ID[f.status]
    standards = sorted(f.controls) or ["trailcheck"]
    requirements = [f"{k} {c}" for k, v in sorted(f.controls.items()) for c in v]
    compliance: dict[str, Any] = {
        "control": f.rule_id,
        "standards": standards,
        "status_id": status_id,
        "checks": [
            {
                "uid": f.rule_id,
                "name": f.title,
                "status": f.status.value,
                "status_id": status_id,
                "severity": SEVERITY_TITLE[f.severity],
                "severity_id": SEVERITY_ID[f.severity],
                "standards": standards,
            }
        ],
    }
    if requirements:
        compliance["requirements"] = requirements
    if info is not None and info.rationale:
        compliance["desc"] = info.rationale
    event: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "time": time_ms,
        "time_dt": meta.scan_started_at.isoformat(),
        "severity_id": SEVERITY_ID[f.severity],
        "severity": SEVERITY_TITLE[f.severity],
        "status_id": 3 if f.waiver is not None else 1,
        "status": "Suppressed" if f.waiver is not None else "New",
        "status_code": f.status.value,
        "message": f.reason,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": uid,
            "event_code": f.rule_id,
            "profiles": ["cloud"],
            **({"labels": [note]} if (note := incomplete_note(report)) else {}),
            "product": {
                "name": "trailcheck",
                "vendor_name": "trailcheck",
                "version": meta.tool_version,
            },
        },
        "finding_info": {
            "uid": uid,
            "title": f.title,
            "desc": f.reason,
            "types": [f.resource_type],
            "created_time": time_ms,
        },
        "compliance": compliance,
        "resources": [
            {
                "uid": f.resource_arn,
                "type": f.resource_type,
                "cloud_partition": meta.partition,
                **({"region": f.region} if f.region else {}),
            }
        ],
        "cloud": {
            "provider": "AWS",
            "account": {
                "uid": f.account_id,
                "name": f.account_id,
                "type": "AWS Account",
                "type_id": AWS_ACCOUNT_TYPE_ID,
            },
            **({"region": f.region} if f.region else {}),
        },
    }
    if f.evidence:
        event["evidences"] = [{"name": "observed", "data": f.evidence}]
    remedy = fix_for(report, f) if f.status is Status.FAIL else None
    if remedy is not None:
        event["remediation"] = {"desc": remedy.summary}
    unmapped: dict[str, Any] = {}
    if f.related_controls:
        # Controls the finding relates to but does not decide: never in `compliance`.
        unmapped["related_controls"] = [
            f"{k} {c}" for k, v in sorted(f.related_controls.items()) for c in v
        ]
    if f.waiver is not None:
        event["status_detail"] = f"waived: {waiver_text(f)}"
        unmapped["waiver"] = f.waiver.model_dump(mode="json")
    state = states.get(uid) if f.status is Status.FAIL else None
    if state is not None:
        unmapped["baseline_state"] = state
    if unmapped:
        event["unmapped"] = unmapped
    return event
