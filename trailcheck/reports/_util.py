"""Small helpers the CI-facing reporters share (pure functions of findings)."""

from __future__ import annotations

import re
from urllib.parse import quote

from rich.markup import escape

from trailcheck.model import Finding, FindingRef, Report, Severity

# Characters XML 1.0 cannot carry at all (a control character in an AWS name or message).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Control characters (C0, DEL, C1), zero-width and bidirectional-override characters: in AWS
# names, policies or messages they could move the cursor, clear the screen, set the window
# title or reorder what a reader sees.
# Lone surrogates are bytes that were not UTF-8 (kept by Python's surrogateescape, or a JSON
# escape like "\udcff"): no terminal or UTF-8 file can hold them raw.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(value: object) -> str:
    """`value` as text with every control, zero-width and bidi character shown as an escape
    (`\\x1b`, `\\u202e`, `\\n`): the one sanitizer for AWS-supplied text on a terminal and in
    one-line text formats (Markdown, CSV)."""
    text = "" if value is None else str(value)
    return _UNPRINTABLE.sub(lambda m: _escape_char(m.group(0)), text)


def _escape_char(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def terminal_text(value: object) -> str:
    """AWS-supplied text for a rich console: `printable`, with rich markup escaped."""
    return escape(printable(value))


def display_status(finding: Finding) -> str:
    """The status a person sees: `WAIVED` for a waived finding, else the real status."""
    return "WAIVED" if finding.waiver is not None else finding.status.value


def status_counts(report: Report) -> list[tuple[str, int]]:
    """The verdict census every summary shows, in one order: FAIL, ERROR, PASS,
    NOT APPLICABLE (each with waived findings included) and WAIVED."""
    by = report.summary.by_status
    return [
        ("FAIL", by["FAIL"]),
        ("ERROR", by["ERROR"]),
        ("PASS", by["PASS"]),
        ("NOT APPLICABLE", by["NOT_APPLICABLE"]),
        ("WAIVED", report.summary.waived),
    ]


def controls_text(finding: Finding) -> str:
    """`cis-aws-3.0 3.1; aws-fsbp CloudTrail.1` (frameworks sorted)."""
    return "; ".join(f"{k} {', '.join(v)}" for k, v in sorted(finding.controls.items()))


def waiver_text(finding: Finding) -> str:
    """`reason (owner X, expires 2026-12-31)` or an empty string."""
    w = finding.waiver
    if w is None:
        return ""
    details = [
        p
        for p in (
            f"owner {w.owner}" if w.owner else "",
            f"expires {w.expires}" if w.expires else "",
        )
        if p
    ]
    return f"{w.reason} ({', '.join(details)})" if details else w.reason


def resource_label(finding: Finding | FindingRef) -> str:
    """The resource ARN, with the judged part of it when there is one:
    `arn:aws:logs:…:log-group:ct:* (metric-filter/Root)`."""
    if finding.sub_resource is None:
        return finding.resource_arn
    return f"{finding.resource_arn} ({finding.sub_resource})"


def resource_path(finding: Finding) -> str:
    """A stable, repository-style path for a cloud resource (SARIF needs a relative URI).

    `arn:aws:cloudtrail:us-east-1:111122223333:trail/main` in account 111122223333 →
    `aws/111122223333/us-east-1/cloudtrail/trail/main` (a sub-resource is one more segment).
    """
    parts = finding.resource_arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        service, resource = parts[2], parts[5].replace(":", "/")
        tail = f"{service}/{resource}" if service else resource
    else:
        tail = finding.resource_arn
    path = f"{parts[1] if len(parts) > 1 else 'aws'}/{finding.account_id}/"
    path += f"{finding.region or 'global'}/{tail}"
    if finding.sub_resource is not None:
        path += f"/{finding.sub_resource}"
    return quote(path, safe="/-_.~", errors="surrogatepass")


def xml_text(value: str) -> str:
    """`value` without the characters XML 1.0 forbids."""
    return _XML_INVALID.sub("\ufffd", value)


SEVERITY_TITLE = {
    Severity.INFO: "Informational",
    Severity.LOW: "Low",
    Severity.MEDIUM: "Medium",
    Severity.HIGH: "High",
    Severity.CRITICAL: "Critical",
}
