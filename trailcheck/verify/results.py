"""The verdict of a log-integrity verification: frozen pydantic models, JSON-ready."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class DigestStatus(StrEnum):
    """What was found for one digest file."""

    VALID = "valid"
    """Signature verified and consistent with its successor in the chain."""
    INVALID = "invalid"
    """Bad format, moved, bad or missing signature, or contradicted by its successor's link."""
    MISSING = "missing"
    """Expected (named by a successor, or no digest at all in the window) but not in the bucket."""
    UNVERIFIABLE = "unverifiable"
    """Could not be checked: key fingerprint not in the key ring, or the object was unreadable."""


class LogFileStatus(StrEnum):
    """What was found for one log file."""

    VALID = "valid"
    """SHA-256 of the uncompressed content equals the hash its verified digest lists."""
    MODIFIED = "modified"
    """Hash mismatch, or not a single valid gzip stream."""
    DELETED = "deleted"
    """Listed by a verified digest, but not in the bucket."""
    UNVERIFIED = "unverified"
    """Listed by a digest whose signature could not be verified, or unreadable."""
    NOT_LISTED = "not_listed"
    """In the bucket, in the window, but listed by no digest read (informational)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Window(_Frozen):
    """The verified time window (aware UTC, by CloudTrail delivery time)."""

    start: datetime
    end: datetime


class Gap(_Frozen):
    """A stretch of the window that no digest in the bucket covers."""

    start: datetime
    end: datetime
    reason: str


class Problem(_Frozen):
    """One digest or log file that is not valid, with the reason."""

    kind: Literal["digest", "log_file", "listing"]
    status: str
    s3_key: str
    reason: str
    fingerprint: str | None = None
    digest_key: str | None = None
    """For a log file: the digest that lists it."""


class DigestResult(_Frozen):
    """One digest of the window (evidence: which digests were checked and how)."""

    s3_key: str
    status: DigestStatus
    start: datetime | None = None
    end: datetime | None = None
    fingerprint: str | None = None
    log_files: int = 0
    reason: str | None = None


class TrailVerification(_Frozen):
    """Everything found when verifying one trail's logs in one region and window."""

    trail_arn: str
    bucket: str
    account_id: str
    region: str
    organization_id: str | None
    window: Window
    digests_valid: int
    digests_invalid: int
    digests_missing: int
    digests_unverifiable: int
    log_files_valid: int
    log_files_modified: int
    log_files_deleted: int
    log_files_unverified: int
    log_files_not_listed: int
    gaps: tuple[Gap, ...]
    digests: tuple[DigestResult, ...]
    problems: tuple[Problem, ...]
    """Every digest and log file that is not valid (not-listed log files included), by key."""

    @property
    def ok(self) -> bool:
        """True only if every digest and log file verified and no stretch went uncovered."""
        return not (
            self.digests_invalid
            or self.digests_missing
            or self.digests_unverifiable
            or self.log_files_modified
            or self.log_files_deleted
            or self.log_files_unverified
            or self.gaps
            or any(problem.kind == "listing" for problem in self.problems)
        )
