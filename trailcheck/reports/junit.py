"""JUnit XML (the Jenkins / Surefire structure) for CI test-result views (Jenkins, GitLab).

One `<testsuite>` per rule, one `<testcase>` per rule and resource:
PASS → a passing testcase; FAIL → `<failure>`; ERROR → `<error>`; waived (any status) and
NOT_APPLICABLE → `<skipped>` with the reason. The classname is the rule id, the test name the
resource (and region), so CI groups findings by rule.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import ClassVar

from trailcheck.model import Finding, Report, Status
from trailcheck.reports._util import (
    controls_text,
    fix_for,
    incomplete_note,
    related_text,
    resource_label,
    waiver_text,
    xml_text,
)


class JunitReporter:
    """A test report: failures fail the CI test view exactly as they fail the exit code."""

    name: ClassVar[str] = "junit"
    filename: ClassVar[str] = "report.junit.xml"

    def render(self, report: Report) -> str:
        by_rule: dict[str, list[Finding]] = {}
        for f in report.findings:
            by_rule.setdefault(f.rule_id, []).append(f)
        root = ET.Element("testsuites", name="trailcheck")
        totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        timestamp = report.metadata.scan_started_at.replace(tzinfo=None).isoformat()
        for rule_id in sorted(by_rule):
            findings = by_rule[rule_id]
            counts = {"tests": len(findings), "failures": 0, "errors": 0, "skipped": 0}
            suite = ET.SubElement(root, "testsuite", name=rule_id)
            for f in findings:
                case = ET.SubElement(
                    suite,
                    "testcase",
                    name=xml_text(resource_label(f) + (f" [{f.region}]" if f.region else "")),
                    classname=rule_id,
                    time="0",
                )
                outcome = _add_outcome(case, f, report)
                if outcome is not None:
                    counts[outcome] += 1
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
            suite.set("time", "0")
            suite.set("timestamp", timestamp)
        note = incomplete_note(report)
        if note:  # an incomplete scan is an error of its own in the CI test view
            suite = ET.SubElement(root, "testsuite", name="trailcheck", tests="1", errors="1")
            suite.set("failures", "0")
            suite.set("skipped", "0")
            case = ET.SubElement(suite, "testcase", name="scan complete", classname="trailcheck")
            ET.SubElement(case, "error", message=xml_text(note), type="INCOMPLETE")
            totals["tests"] += 1
            totals["errors"] += 1
        for key, value in totals.items():
            root.set(key, str(value))
        root.set("time", "0")
        ET.indent(root)
        body = ET.tostring(root, encoding="unicode")
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _add_outcome(case: ET.Element, f: Finding, report: Report) -> str | None:
    """Add the outcome element; return the counter it belongs to (None for a pass)."""
    if f.waiver is not None:
        ET.SubElement(case, "skipped", message=xml_text(f"waived: {waiver_text(f)}"))
        return "skipped"
    if f.status is Status.NOT_APPLICABLE:
        ET.SubElement(case, "skipped", message=xml_text(f"not applicable: {f.reason}"))
        return "skipped"
    if f.status is Status.PASS:
        return None
    element = "failure" if f.status is Status.FAIL else "error"
    outcome = ET.SubElement(
        case,
        element,
        message=xml_text(f.reason),
        type=f"{f.status.value}.{f.severity.value}",
    )
    lines = [
        f"{f.status.value} ({f.severity.value}) {f.rule_id}: {f.title}",
        f"account {f.account_id}, region {f.region or '-'}",
        f"resource {resource_label(f)}",
        f"reason: {f.reason}",
    ]
    if f.controls:
        lines.append(f"decides controls: {controls_text(f)}")
    if f.related_controls:
        lines.append(f"relates to (does not decide): {related_text(f)}")
    remedy = fix_for(report, f) if f.status is Status.FAIL else None
    if remedy is not None:
        lines.append(f"fix: {remedy.summary}")
        if remedy.cli:
            lines.append(f"fix (CLI): {remedy.cli}")
    if f.evidence:
        lines += ["evidence:", json.dumps(f.evidence, indent=2, sort_keys=True)]
    outcome.text = xml_text("\n".join(lines))
    return "failures" if f.status is Status.FAIL else "errors"
