"""The audit document as data: the HTML, the PDF and the JSON all show this, nothing else."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AUDIT_KIND = "trailcheck-audit"
AUDIT_SCHEMA_VERSION = 2

# A control some rule decides: held / interrupted / failing / not evidenced. A control rules only
# relate to: the evidence supports or contradicts it, or does not evidence it (the auditor
# decides). A control no rule even relates to: not covered by trailcheck.
Verdict = Literal[
    "held",
    "interrupted",
    "failing",
    "not_evidenced",
    "supports",
    "contradicts",
    "not_covered",
]
RuleVerdict = Literal["held", "interrupted", "failing", "not_evidenced"]
VERDICTS: tuple[Verdict, ...] = (
    "held",
    "interrupted",
    "failing",
    "not_evidenced",
    "supports",
    "contradicts",
    "not_covered",
)
VERDICT_TEXT = {
    "held": "held throughout",
    "interrupted": "interrupted",
    "failing": "failing",
    "not_evidenced": "not evidenced",
    "supports": "evidence supports (auditor decides)",
    "contradicts": "evidence contradicts (auditor decides)",
    "not_covered": "no trailcheck rule relates (evidence from elsewhere)",
}
# pass: a PASS saw it; fail: a FAIL (or a stop event); unknown: nothing or only ERROR /
# unreachable / rule not run saw it; na: only NOT_APPLICABLE (never evidence of "held")
State = Literal["pass", "fail", "unknown", "na"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputFile(_Frozen):
    kind: Literal["scan report", "snapshot", "verification", "events"]
    name: str
    sha256: str
    time: datetime | None = None


class AccountRef(_Frozen):
    account_id: str
    name: str | None = None
    ou_path: str | None = None


class Cover(_Frozen):
    organization_id: str | None
    period_start: datetime
    period_end: datetime
    tool_version: str
    history: str  # the store URL, password hidden
    frameworks: list[str]
    accounts: list[AccountRef]
    regions: list[str]
    scans: int
    cadence_hours: float
    inputs: list[InputFile]
    inputs_sha256: str  # SHA-256 of the manifest: one "sha256  kind  name" line per input


class Segment(_Frozen):
    start: datetime
    end: datetime
    state: State


class Interruption(_Frozen):
    account_id: str
    start: datetime
    end: datetime | None  # None: not over at the end of the period
    hours: float
    cause: str  # the failing rule(s), or the change event
    by: str | None = None  # who (principal), for an event
    # the last scan that saw the control hold before a failure: it began after this time
    held_before: datetime | None = None
    # the last observation that did not see it fixed: it ended between this and `end`
    ended_after: datetime | None = None


class Gap(_Frozen):
    """A stretch nothing evidenced (no scan, ERROR, unreachable, rule not run, N/A only)."""

    account_id: str
    start: datetime
    end: datetime
    hours: float
    why: str = ""


class RelatedEvidence(_Frozen):
    """One rule that relates to (does not decide) a control, in one account, over the period."""

    rule_id: str
    account_id: str
    verdict: RuleVerdict
    detail: str


class AccountTimeline(_Frozen):
    account_id: str
    verdict: Verdict
    segments: list[Segment]
    events: list[str] = Field(default_factory=list)  # event ids placed on this timeline
    reasons: list[str] = Field(default_factory=list)  # the deciding findings' last reasons


class ControlResult(_Frozen):
    framework: str
    control_id: str
    title: str
    verdict: Verdict
    rules: list[str]
    held_accounts: int = 0
    accounts: list[AccountTimeline] = Field(default_factory=list)  # every judged account
    interruptions: list[Interruption] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)
    verification: list[str] = Field(default_factory=list)
    related_rules: list[str] = Field(default_factory=list)
    related: list[RelatedEvidence] = Field(default_factory=list)


class FrameworkSummary(_Frozen):
    framework: str
    title: str
    counts: dict[str, int]  # verdict -> controls


class AccountSummary(_Frozen):
    account_id: str
    name: str | None
    ou_path: str | None
    counts: dict[str, int]  # verdict -> (control) timelines of this account


class Change(_Frozen):
    time: datetime
    event_name: str
    account_id: str
    region: str | None
    who: str
    source_ip: str | None
    resources: list[str]
    controls: list[str]  # "framework control" ids whose timeline shows it
    event_id: str


class Attempt(_Frozen):
    """A call that failed (its record has an errorCode): never a change, shown as an attempt."""

    time: datetime
    event_name: str
    account_id: str
    region: str | None
    who: str
    source_ip: str | None
    resources: list[str]
    error_code: str
    error_message: str | None
    event_id: str


class Remediation(_Frozen):
    rule_id: str
    title: str
    account_id: str
    region: str | None
    resource_arn: str
    severity: str
    failing_since: datetime
    resolved_at: datetime | None
    days: float  # to remediate, or open so far at the end of the period
    reason: str
    # why an unresolved failure is not counted as fixed (e.g. no longer reported, never PASS)
    note: str | None = None


class WaiverEntry(_Frozen):
    rule: str
    owner: str
    reason: str
    expires: str
    days_left: int  # at the end of the period (negative: expired)
    state: str
    used_by: int
    scope: str


class Unseen(_Frozen):
    what: str
    why: str
    account_id: str | None = None


class AuditDocument(_Frozen):
    kind: Literal["trailcheck-audit"] = AUDIT_KIND
    schema_version: int = AUDIT_SCHEMA_VERSION
    cover: Cover
    frameworks: list[FrameworkSummary]
    accounts: list[AccountSummary]
    controls: list[ControlResult]
    changes: list[Change]
    attempts: list[Attempt] = Field(default_factory=list)
    remediation: list[Remediation]
    waivers: list[WaiverEntry]
    unseen: list[Unseen]
    extra: dict[str, Any] = Field(default_factory=dict)
