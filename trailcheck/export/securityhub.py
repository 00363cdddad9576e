"""`trailcheck export securityhub report.json`: import a report's findings into AWS Security Hub.

This is the one place trailcheck writes to AWS, and it writes only to Security Hub (never to a
scanned resource). It does not use the scanner's read-only session layer
(trailcheck/scanner/session.py refuses every write by design): it has its own small boto3 path
whose calls are exactly `EXPORT_ACTIONS`, and docs/iam-policy-securityhub-export.json (generated
by trailcheck.docgen) is the policy it needs.

Security Hub accepts findings with an account's default product only from that account, so
the findings are grouped by account: the caller's own are imported directly; with `role_name`
each other account's are imported through AssumeRole into that role there; without it they are
listed as not sent. Findings go 100 per BatchImportFindings call (the API's limit).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from trailcheck.errors import ScanError, UserError
from trailcheck.model import Report
from trailcheck.reports.asff import asff_findings

# Every AWS call this module makes, as IAM actions (the generated policy is built from these).
IMPORT_ACTION = "securityhub:BatchImportFindings"
IDENTITY_ACTION = "sts:GetCallerIdentity"
ASSUME_ACTION = "sts:AssumeRole"
EXPORT_ACTIONS = (IMPORT_ACTION, IDENTITY_ACTION, ASSUME_ACTION)
# The role name the generated policy names for --role-name (any name works).
SUGGESTED_ROLE_NAME = "trailcheck-securityhub-import"
BATCH_SIZE = 100  # BatchImportFindings accepts at most 100 findings per call
SESSION_NAME = "trailcheck-securityhub-export"


@dataclass(frozen=True)
class AccountResult:
    """What happened to one account's findings."""

    account_id: str
    findings: int
    imported: int = 0
    failed: list[str] = field(default_factory=list)  # "Id: ErrorCode ErrorMessage"
    not_sent: str | None = None  # why none was sent (another account without a role, ...)


@dataclass(frozen=True)
class ExportResult:
    hub_region: str
    accounts: list[AccountResult]

    @property
    def complete(self) -> bool:
        return all(a.imported == a.findings for a in self.accounts)

    def lines(self) -> list[str]:
        """One line per account, for the terminal."""
        out = []
        for a in self.accounts:
            if a.not_sent is not None:
                out.append(f"{a.account_id}: {a.findings} finding(s) not sent: {a.not_sent}")
                continue
            text = f"{a.account_id}: {a.imported}/{a.findings} finding(s) imported"
            if a.failed:
                text += f"; {len(a.failed)} refused, e.g. {a.failed[0]}"
            out.append(text)
        return out


def by_account(findings: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """ASFF findings grouped by the account they are about (sorted)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in findings:
        groups.setdefault(item["AwsAccountId"], []).append(item)
    return dict(sorted(groups.items()))


def plan(report: Report, hub_region: str) -> dict[str, list[dict[str, Any]]]:
    """What would be sent: every finding in ASFF for `hub_region`, by account."""
    return by_account(asff_findings(report, hub_region))


def _batches(items: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), BATCH_SIZE):
        yield items[start : start + BATCH_SIZE]


def _error(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return f"{error.get('Code') or type(exc).__name__}: {error.get('Message') or exc}"


def export(
    groups: dict[str, list[dict[str, Any]]],
    hub_region: str,
    *,
    profile: str | None = None,
    role_name: str | None = None,
    partition: str = "aws",
) -> ExportResult:
    """Import `groups` (account → ASFF findings) into Security Hub in `hub_region`."""
    import boto3
    import botocore.exceptions

    try:
        boto = boto3.Session(profile_name=profile, region_name=hub_region)
    except botocore.exceptions.ProfileNotFound as exc:
        raise UserError(f"--profile: {exc}") from None
    try:
        caller = boto.client("sts", region_name=hub_region).get_caller_identity()["Account"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise ScanError(f"cannot reach AWS to import into Security Hub: {_error(exc)}") from None
    results = []
    for account_id, items in groups.items():
        client, why_not = _client_for(boto, account_id, caller, hub_region, role_name, partition)
        if client is None:
            results.append(AccountResult(account_id, len(items), not_sent=why_not))
            continue
        results.append(_import(client, account_id, items))
    return ExportResult(hub_region, results)


def _client_for(
    boto: Any, account_id: str, caller: str, region: str, role_name: str | None, partition: str
) -> tuple[Any, str | None]:
    """A Security Hub client acting in `account_id`, or None and the reason."""
    import botocore.exceptions

    if account_id == caller:
        return boto.client("securityhub", region_name=region), None
    if role_name is None:
        return None, (
            f"Security Hub takes an account's findings only from that account (the caller is "
            f"{caller}); give --role-name to import through a role in each account"
        )
    role_arn = f"arn:{partition}:iam::{account_id}:role/{role_name}"
    try:
        creds = boto.client("sts", region_name=region).assume_role(
            RoleArn=role_arn, RoleSessionName=SESSION_NAME
        )["Credentials"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        return None, f"cannot assume {role_arn}: {_error(exc)}"
    client = boto.client(
        "securityhub",
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    return client, None


def _import(client: Any, account_id: str, items: list[dict[str, Any]]) -> AccountResult:
    import botocore.exceptions

    imported = 0
    failed: list[str] = []
    for batch in _batches(items):
        try:
            answer = client.batch_import_findings(Findings=list(batch))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            why = _error(exc)
            if "InvalidAccess" in why:
                why += " (is Security Hub enabled in this account and region?)"
            return AccountResult(account_id, len(items), imported, failed, not_sent=why)
        imported += int(answer.get("SuccessCount", 0))
        failed += [
            f"{f.get('Id')}: {f.get('ErrorCode')} {f.get('ErrorMessage')}"
            for f in answer.get("FailedFindings", [])
        ]
    return AccountResult(account_id, len(items), imported, failed)
