"""Small helpers the CI-facing reporters share (pure functions of findings)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from rich.markup import escape

from trailcheck.model import Finding, FindingRef, RemediationInfo, Report, Severity, Status

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


def incomplete_note(report: Report) -> str | None:
    """`incomplete: <what was interrupted>` when a stage after collection was cut short."""
    what = report.metadata.interrupted
    return None if what is None else f"incomplete: {what}; findings name no change author"


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


def mapping_text(mapping: Mapping[str, Sequence[str]]) -> str:
    """`cis-aws-3.0 3.1; aws-fsbp CloudTrail.1` (frameworks sorted)."""
    return "; ".join(f"{k} {', '.join(v)}" for k, v in sorted(mapping.items()) if v)


def controls_text(finding: Finding) -> str:
    """The controls the finding *decides* (the only ones a control roll-up counts)."""
    return mapping_text(finding.controls)


def related_text(finding: Finding) -> str:
    """The controls the finding only relates to (never rolled up)."""
    return mapping_text(finding.related_controls)


PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def fill_placeholders(text: str, finding: Finding) -> str:
    """Put a finding's facts into remediation text: `{bucket}` → the bucket's name.

    A placeholder is filled from the evidence value of the same name (a string), or
    `{resource_arn}` from the finding; one the finding does not know becomes `BUCKET`-style
    capitals, so a command never shows braces.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = finding.evidence.get(name)
        if isinstance(found, str) and found:
            return found
        if name == "resource_arn":
            return finding.resource_arn
        return name.upper()

    return PLACEHOLDER.sub(value, text)


def fix_for(report: Report, finding: Finding) -> RemediationInfo | None:
    """The fix shown for a finding: its own (state-specific) remediation, else its rule's,
    with the finding's known names filled in."""
    info = finding.remediation
    if info is None:
        rule = report.rules.get(finding.rule_id)
        info = rule.remediation if rule else None
    if info is None:
        return None
    return RemediationInfo(
        summary=fill_placeholders(info.summary, finding),
        console=fill_placeholders(info.console, finding) if info.console else None,
        cli=fill_placeholders(info.cli, finding) if info.cli else None,
        terraform=fill_placeholders(info.terraform, finding) if info.terraform else None,
    )


ROLLUP_ORDER = (Status.FAIL, Status.ERROR, Status.PASS, Status.NOT_APPLICABLE)


@dataclass(frozen=True)
class ControlRollup:
    """One framework control: its verdict from the findings that decide it (worst first:
    FAIL, ERROR, PASS, NOT_APPLICABLE; "" when no finding decides it) and the findings that
    only relate to it (shown, never counted)."""

    framework: str
    control: str
    status: str
    deciding: tuple[Finding, ...]
    related: tuple[Finding, ...]


def control_rollup(report: Report) -> list[ControlRollup]:
    """Every control some finding names, with its verdict from deciding findings only."""
    deciding: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    related: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in report.findings:
        for framework, ids in f.controls.items():
            for control in ids:
                deciding[(framework, control)].append(f)
        for framework, ids in f.related_controls.items():
            for control in ids:
                related[(framework, control)].append(f)
    rows = []
    for key in sorted(set(deciding) | set(related), key=_control_sort_key):
        found = {f.status for f in deciding.get(key, [])}
        status = next((s.value for s in ROLLUP_ORDER if s in found), "")
        rows.append(
            ControlRollup(
                key[0], key[1], status, tuple(deciding.get(key, ())), tuple(related.get(key, ()))
            )
        )
    return rows


def _control_sort_key(key: tuple[str, str]) -> tuple[str, list[tuple[int, str]]]:
    parts = re.split(r"[.()-]", key[1])
    return key[0], [(int(p), "") if p.isdigit() else (-1, p) for p in parts if p]


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
