"""What every collector declares, and the per-account handle collectors receive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from trailcheck.scanner.session import AwsSession, Credentials


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


@dataclass(frozen=True)
class AccountAccess:
    """Read access to one account: its id, the shared session and the credentials to use."""

    account_id: str
    session: AwsSession
    credentials: Credentials | None = None

    def client(self, service: str, region: str) -> Any:
        """A cached, metered, read-only boto3 client for this account."""
        return self.session.client(service, region, self.credentials)
