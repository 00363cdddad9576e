"""Which accounts a scan covers and how to enter them (single account: the caller's own)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from trailcheck.errors import ScanError
from trailcheck.scanner.scan import AccountTarget
from trailcheck.scanner.session import AwsSession


def caller_identity(session: AwsSession, region: str) -> tuple[str, str]:
    """(account id, partition) of the caller; a missing or broken credential is a ScanError."""
    try:
        identity = session.client("sts", region).get_caller_identity()
    except NoCredentialsError:
        raise ScanError(
            "no AWS credentials found: set AWS_PROFILE, use --profile, or export AWS_ACCESS_KEY_ID"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ScanError(
            f"cannot identify the caller: {error.get('Code')}: {error.get('Message')}"
        ) from None
    except BotoCoreError as exc:
        raise ScanError(f"cannot reach AWS STS: {exc}") from None
    arn = identity["Arn"]
    return identity["Account"], arn.split(":")[1]


def current_account(session: AwsSession, region: str) -> tuple[list[AccountTarget], str]:
    """The single-account scope: the caller's own account, with its own credentials."""
    account_id, partition = caller_identity(session, region)
    return [AccountTarget(account_id=account_id)], partition
