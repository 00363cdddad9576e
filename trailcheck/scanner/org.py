"""AWS Organizations: list the accounts of the organization and enter each with a role.

The management account (or a delegated administrator) lists the accounts; every other account
is entered with `sts:AssumeRole`. An account whose role cannot be assumed stays in the scan
with its error, so every rule reports ERROR for it instead of silently skipping it.
"""

from __future__ import annotations

from dataclasses import dataclass

from trailcheck.errors import ScanError
from trailcheck.model import Unknown
from trailcheck.scanner.accounts import caller_identity
from trailcheck.scanner.scan import AccountTarget
from trailcheck.scanner.session import AwsSession, Credentials, call, paginate

DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"
SESSION_NAME = "trailcheck"


@dataclass(frozen=True)
class OrgAccount:
    account_id: str
    name: str
    status: str


@dataclass(frozen=True)
class Organization:
    organization_id: str
    management_account_id: str
    accounts: tuple[OrgAccount, ...]


def describe_organization(session: AwsSession, region: str) -> Organization:
    """DescribeOrganization + ListAccounts with the caller's credentials."""
    client = session.client("organizations", region)
    described = call(client, "DescribeOrganization")
    if described is None or isinstance(described, Unknown):
        reason = described.describe() if described else "empty answer"
        raise ScanError(f"--org: cannot describe the organization ({reason})")
    accounts = paginate(client, "ListAccounts", "Accounts")
    if isinstance(accounts, Unknown):
        raise ScanError(
            f"--org: cannot list the organization's accounts ({accounts.describe()}); run from "
            "the management account or a delegated administrator"
        )
    org = described["Organization"]
    return Organization(
        organization_id=org["Id"],
        management_account_id=org["MasterAccountId"],
        accounts=tuple(
            sorted(
                (
                    OrgAccount(a["Id"], a.get("Name", ""), a.get("Status", "ACTIVE"))
                    for a in accounts
                ),
                key=lambda a: a.account_id,
            )
        ),
    )


def assume_role(
    session: AwsSession, region: str, role_arn: str, external_id: str | None = None
) -> Credentials | Unknown:
    """Temporary credentials for `role_arn`, or the error as an Unknown."""
    params: dict[str, object] = {"RoleArn": role_arn, "RoleSessionName": SESSION_NAME}
    if external_id:
        params["ExternalId"] = external_id
    response = call(session.client("sts", region), "AssumeRole", **params)
    if response is None or isinstance(response, Unknown):
        return response or Unknown(operation="sts:AssumeRole", error_code="EmptyResponse")
    creds = response["Credentials"]
    return Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def organization_targets(
    session: AwsSession,
    region: str,
    *,
    role_name: str = DEFAULT_ROLE_NAME,
    external_id: str | None = None,
) -> tuple[list[AccountTarget], Organization, str]:
    """Every ACTIVE account of the caller's organization, entered; plus the org and partition."""
    caller, partition = caller_identity(session, region)
    org = describe_organization(session, region)
    targets = []
    for account in org.accounts:
        if account.status != "ACTIVE":
            continue
        common = {
            "account_id": account.account_id,
            "name": account.name,
            "organization_id": org.organization_id,
        }
        if account.account_id == caller:
            targets.append(AccountTarget(**common))
            continue
        role_arn = f"arn:{partition}:iam::{account.account_id}:role/{role_name}"
        creds = assume_role(session, region, role_arn, external_id)
        if isinstance(creds, Unknown):
            targets.append(AccountTarget(**common, access_error=creds))
        else:
            targets.append(AccountTarget(**common, credentials=creds))
    return targets, org, partition
