"""The report of `trailcheck verify-logs`: every (trail, account, region) checked, and why.

A `VerificationReport` is plain data (frozen pydantic): the same inputs give the same JSON
bytes (`dump_json`, sorted keys). Renderers in `trailcheck.reports.verification` only reshape it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trailcheck.model import SkippedAccount
from trailcheck.verify.results import TrailVerification, Window

VERIFICATION_KIND = "trailcheck-log-verification"
VERIFICATION_SCHEMA_VERSION = 1


class CheckStatus(StrEnum):
    """The verdict on one trail's logs for one account and region."""

    OK = "ok"
    """Every digest and log file of the window verified, and no stretch went uncovered."""
    FAILED = "failed"
    """Verified, and something is invalid, missing, modified, deleted, unverified or a gap."""
    VALIDATION_DISABLED = "validation_disabled"
    """The trail does not have log file validation on: there are no digests to prove anything."""
    ERROR = "error"
    """Could not be verified at all (the trail could not be described, no organization id)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrailCheck(_Frozen):
    """One trail's digest chain for one account and region (or why it was not verified)."""

    trail_arn: str
    trail_name: str
    trail_account_id: str
    home_region: str
    is_multi_region: bool
    is_organization_trail: bool
    account_id: str
    """The account whose log files and digests were verified (a member, for an org trail)."""
    region: str
    """The region whose digest chain was verified."""
    organization_id: str | None = None
    bucket: str | None = None
    prefix: str | None = None
    read_as: str | None = None
    """The account whose credentials read the bucket (its owner when the owner was scanned)."""
    status: CheckStatus
    reason: str | None = None
    note: str | None = None
    verification: TrailVerification | None = None

    def sort_key(self) -> tuple[str, str, str]:
        return (self.trail_arn, self.account_id, self.region)


class CheckError(_Frozen):
    """Something that kept part of the scope from being verified (an account, a key listing)."""

    subject: str
    """An account id, a trail ARN, or a region."""
    operation: str
    reason: str


class VerificationSummary(_Frozen):
    """Counts over every check."""

    trails: int
    checks: int
    ok: int
    failed: int
    validation_disabled: int
    error: int
    errors: int
    """Scope errors (accounts not entered, key listings refused, ...), see `errors`."""
    digests_valid: int = 0
    digests_invalid: int = 0
    digests_missing: int = 0
    digests_unverifiable: int = 0
    log_files_valid: int = 0
    log_files_modified: int = 0
    log_files_deleted: int = 0
    log_files_unverified: int = 0
    log_files_not_listed: int = 0
    gaps: int = 0
    problems: int = 0


class VerificationMetadata(_Frozen):
    tool_version: str
    now: datetime
    """The wall-clock time of the run: what decided whether the next digest was overdue."""
    window: Window
    partition: str = "aws"
    organization_id: str | None = None
    management_account_id: str | None = None
    accounts: tuple[str, ...] = ()
    skipped_accounts: tuple[SkippedAccount, ...] = ()
    requested_regions: tuple[str, ...] | None = None
    requested_trails: tuple[str, ...] = ()
    key_source: Literal["files", "ListPublicKeys"]
    key_fingerprints: tuple[str, ...] = ()
    """With --public-key: the canonical fingerprints of the keys given."""
    api_calls: dict[str, int] = Field(default_factory=dict)


class VerificationReport(_Frozen):
    """What `trailcheck verify-logs` found."""

    kind: Literal["trailcheck-log-verification"] = VERIFICATION_KIND
    schema_version: int = VERIFICATION_SCHEMA_VERSION
    metadata: VerificationMetadata
    summary: VerificationSummary
    checks: tuple[TrailCheck, ...]
    errors: tuple[CheckError, ...] = ()

    @property
    def ok(self) -> bool:
        """True only when something was checked and every check and the whole scope are ok."""
        return bool(self.checks) and self.summary.ok == len(self.checks) and not self.errors


def summarise(
    checks: list[TrailCheck], errors: list[CheckError]
) -> tuple[tuple[TrailCheck, ...], tuple[CheckError, ...], VerificationSummary]:
    """Sort the checks and errors and count them."""
    ordered = tuple(sorted(checks, key=TrailCheck.sort_key))
    ordered_errors = tuple(sorted(errors, key=lambda e: (e.subject, e.operation, e.reason)))
    by_status = {status: 0 for status in CheckStatus}
    for check in ordered:
        by_status[check.status] += 1
    totals: dict[str, int] = {}
    fields = (
        "digests_valid",
        "digests_invalid",
        "digests_missing",
        "digests_unverifiable",
        "log_files_valid",
        "log_files_modified",
        "log_files_deleted",
        "log_files_unverified",
        "log_files_not_listed",
    )
    for name in fields:
        totals[name] = sum(getattr(c.verification, name) for c in ordered if c.verification)
    summary = VerificationSummary(
        trails=len({c.trail_arn for c in ordered}),
        checks=len(ordered),
        ok=by_status[CheckStatus.OK],
        failed=by_status[CheckStatus.FAILED],
        validation_disabled=by_status[CheckStatus.VALIDATION_DISABLED],
        error=by_status[CheckStatus.ERROR],
        errors=len(ordered_errors),
        gaps=sum(len(c.verification.gaps) for c in ordered if c.verification),
        problems=sum(len(c.verification.problems) for c in ordered if c.verification),
        **totals,
    )
    return ordered, ordered_errors, summary
