"""What every collector declares, and the per-account handle collectors receive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from trailcheck.scanner.session import AwsSession, Credentials

# IAM actions whose API operation is named otherwise (every other action is `service:Operation`
# of the API it allows). From the Service Authorization Reference (Amazon S3 actions).
OPERATIONS_OF_ACTION: dict[str, tuple[str, ...]] = {
    "s3:ListAllMyBuckets": ("s3:ListBuckets",),
    "s3:GetEncryptionConfiguration": ("s3:GetBucketEncryption",),
    "s3:GetBucketObjectLockConfiguration": ("s3:GetObjectLockConfiguration",),
    "s3:GetBucketPublicAccessBlock": ("s3:GetPublicAccessBlock",),
    "s3:GetLifecycleConfiguration": ("s3:GetBucketLifecycleConfiguration",),
    "s3:GetBucketNotification": ("s3:GetBucketNotificationConfiguration",),
    "s3:GetAccountPublicAccessBlock": ("s3control:GetPublicAccessBlock",),
    "s3:ListBucket": ("s3:ListObjectsV2",),
}


@dataclass(frozen=True)
class CollectorSpec:
    """A collector's contract: the inventory collections it fills and the IAM actions it needs.

    The published least-privilege policies are generated from these, and the session's
    read-only guard lets through only the API calls these actions authorize. `scope` says
    who needs them: "account" — the scanning principal in every scanned account
    (docs/iam-policy.json); "management" — only the caller of an organization scan, in the
    management account or a delegated administrator (docs/iam-policy-management.json).
    """

    name: str
    provides: frozenset[str]
    permissions: tuple[str, ...]
    scope: Literal["account", "management"] = "account"

    @property
    def operations(self) -> tuple[str, ...]:
        """The API operations (`service:Operation`, as the API meter counts them) the
        permissions allow."""
        return tuple(op for p in self.permissions for op in OPERATIONS_OF_ACTION.get(p, (p,)))


@dataclass(frozen=True)
class AccountAccess:
    """Read access to one account: its id, the shared session and the credentials to use."""

    account_id: str
    session: AwsSession
    credentials: Credentials | None = None

    def client(self, service: str, region: str) -> Any:
        """A cached, metered, read-only boto3 client for this account."""
        return self.session.client(service, region, self.credentials)
