"""AWS Organizations: find the accounts of the organization, choose some, enter each with a role.

Discovery runs with the caller's credentials, in the management account or a delegated
administrator: DescribeOrganization, then the OU tree top-down (ListRoots, and for each parent
ListOrganizationalUnitsForParent and ListAccountsForParent, one tree level at a time in
parallel). The tree gives every account with its OU path in O(number of OUs) calls, where
ListAccounts + ListParents would cost one call per account; when the tree cannot be read,
ListAccounts is the fallback (OU paths then unknown).

Accounts that are not ACTIVE (SUSPENDED, PENDING_CLOSURE, ...) are skipped and listed as such.
Every other selected account is entered with `sts:AssumeRole` (the caller's own account with the
caller's credentials); an account whose role cannot be assumed stays in the scan with the error,
so every rule reports ERROR for it instead of silently leaving it out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trailcheck.errors import ScanError, UserError
from trailcheck.model import SkippedAccount, Unknown
from trailcheck.scanner.accounts import caller_identity
from trailcheck.scanner.executor import run_all
from trailcheck.scanner.progress import ScanObserver, SilentObserver
from trailcheck.scanner.scan import AccountTarget
from trailcheck.scanner.session import AwsSession, Credentials, call, paginate

DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"
SESSION_NAME = "trailcheck"  # shows as the session name in the member accounts' CloudTrail
ACTIVE = "ACTIVE"

ACCOUNT_ID = re.compile(r"^\d{12}$")
OU_ID = re.compile(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
ROLE_PATH = re.compile(r"^/([\x21-\x7e]{1,510}/)?$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
ROLE_ARN = re.compile(r"^arn:[a-z-]+:iam::\d{12}:role/[\x21-\x7e]+$")


@dataclass(frozen=True)
class OrgAccount:
    account_id: str
    name: str
    status: str
    ou_path: str | None = None  # "Root/Workloads/Prod"; None when the OU tree was not read
    parent_ids: tuple[str, ...] = ()  # root id, then each OU id down to the direct parent


@dataclass(frozen=True)
class Organization:
    organization_id: str
    management_account_id: str
    accounts: tuple[OrgAccount, ...]
    ou_paths: dict[str, str] = field(default_factory=dict)  # root/OU id → path
    tree_error: Unknown | None = None  # why OU paths are unknown


@dataclass(frozen=True)
class RoleSpec:
    """How to enter a member account: role name and path, or an ARN template."""

    name: str = DEFAULT_ROLE_NAME
    path: str = "/"
    external_id: str | None = None
    arn_template: str | None = None  # e.g. "arn:aws:iam::{account_id}:role/audit/Reader"

    @classmethod
    def parse(
        cls,
        name: str | None = None,
        path: str | None = None,
        external_id: str | None = None,
        arn_template: str | None = None,
    ) -> RoleSpec:
        """Validated options; a bad value is a UserError naming the flag."""
        if arn_template is not None and (name is not None or path is not None):
            raise UserError("--role-arn-template: give it instead of --role-name/--role-path")
        name = DEFAULT_ROLE_NAME if name is None else name
        if not ROLE_NAME.match(name):
            raise UserError(f"--role-name: {name!r} is not a valid IAM role name")
        if path is None:
            path = "/"
        else:
            path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
            if not ROLE_PATH.match(path):
                raise UserError(f"--role-path: {path!r} is not a valid IAM path")
        if external_id is not None and not EXTERNAL_ID.match(external_id):
            raise UserError("--external-id: 2 to 1224 characters of letters, digits and +=,.@:/-")
        spec = cls(name=name, path=path, external_id=external_id, arn_template=arn_template)
        if arn_template is not None:
            if "{account_id}" not in arn_template:
                raise UserError("--role-arn-template: must contain {account_id}")
            try:
                example = spec.arn("123456789012", "aws")
            except (KeyError, IndexError, ValueError) as exc:
                raise UserError(
                    f"--role-arn-template: unknown placeholder {exc} (use {{account_id}}, "
                    "{partition}, {role_name})"
                ) from None
            if not ROLE_ARN.match(example):
                raise UserError(
                    f"--role-arn-template: {arn_template!r} does not make an IAM role ARN "
                    "(arn:PARTITION:iam::{account_id}:role/NAME)"
                )
        return spec

    def arn(self, account_id: str, partition: str) -> str:
        """The role ARN to assume in `account_id`."""
        if self.arn_template is not None:
            return self.arn_template.format(
                account_id=account_id, partition=partition, role_name=self.name
            )
        return f"arn:{partition}:iam::{account_id}:role{self.path}{self.name}"


@dataclass(frozen=True)
class AccountSelection:
    """--accounts / --exclude-accounts / --ou: which accounts of the organization to scan.

    An account is selected when it is listed in `accounts` (if any are given) and sits under
    one of `ous` (if any are given), and is not in `exclude`.
    """

    accounts: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    ous: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls, accounts: Iterable[str] = (), exclude: Iterable[str] = (), ous: Iterable[str] = ()
    ) -> AccountSelection:
        """Comma lists or repeated flags; a malformed id is a UserError naming the flag."""
        return cls(
            accounts=frozenset(_account_ids("--accounts", accounts)),
            exclude=frozenset(_account_ids("--exclude-accounts", exclude)),
            ous=tuple(v for v in _split(ous)),
        )


@dataclass(frozen=True)
class OrgScope:
    """What `organization_targets` found: the accounts to scan, entered, and the rest."""

    organization: Organization
    targets: list[AccountTarget]
    skipped: tuple[SkippedAccount, ...]
    partition: str


def _split(values: Iterable[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _account_ids(flag: str, values: Iterable[str]) -> list[str]:
    ids = _split(values)
    for value in ids:
        if not ACCOUNT_ID.match(value):
            raise UserError(f"{flag}: {value!r} is not a 12-digit AWS account id")
    return ids


# ----------------------------------------------------------------------------- discovery


def describe_organization(session: AwsSession, region: str, max_workers: int = 16) -> Organization:
    """DescribeOrganization and every account with its OU path (caller's credentials)."""
    client = session.client("organizations", region)
    described = call(client, "DescribeOrganization")
    if described is None or isinstance(described, Unknown):
        reason = described.describe() if described else "empty answer"
        raise ScanError(f"--org: cannot describe the organization ({reason})")
    org = described["Organization"]
    tree = _walk_tree(client, max_workers)
    if isinstance(tree, Unknown):
        listed = paginate(client, "ListAccounts", "Accounts")
        if isinstance(listed, Unknown):
            raise ScanError(
                f"--org: cannot list the organization's accounts ({listed.describe()}); run "
                "from the management account or a delegated administrator"
            )
        accounts = [OrgAccount(a["Id"], a.get("Name", ""), _state(a)) for a in listed]
        ou_paths: dict[str, str] = {}
    else:
        accounts, ou_paths = tree
    return Organization(
        organization_id=org["Id"],
        management_account_id=org["MasterAccountId"],
        accounts=tuple(sorted(accounts, key=lambda a: a.account_id)),
        ou_paths=ou_paths,
        tree_error=tree if isinstance(tree, Unknown) else None,
    )


def _state(account: dict[str, Any]) -> str:
    # `State` replaces the deprecated `Status` (same values for what we need).
    return str(account.get("State") or account.get("Status") or ACTIVE)


_Parent = tuple[str, str, tuple[str, ...]]  # id, path, ids from the root down to it


def _walk_tree(client: Any, max_workers: int) -> tuple[list[OrgAccount], dict[str, str]] | Unknown:
    """The OU tree top-down, one level at a time (the parents of a level in parallel)."""
    roots = paginate(client, "ListRoots", "Roots")
    if isinstance(roots, Unknown):
        return roots
    level: list[_Parent] = [(r["Id"], r.get("Name") or "Root", (r["Id"],)) for r in roots]
    accounts: list[OrgAccount] = []
    paths: dict[str, str] = {}

    def children(parent: _Parent) -> tuple[list[Any] | Unknown, list[Any] | Unknown]:
        pid = parent[0]
        ous = paginate(
            client, "ListOrganizationalUnitsForParent", "OrganizationalUnits", ParentId=pid
        )
        members = paginate(client, "ListAccountsForParent", "Accounts", ParentId=pid)
        return ous, members

    while level:
        results = run_all(children, level, max_workers)
        next_level: list[_Parent] = []
        for (pid, path, ids), (ous, members) in zip(level, results, strict=True):
            if isinstance(ous, Unknown):
                return ous
            if isinstance(members, Unknown):
                return members
            paths[pid] = path
            accounts.extend(
                OrgAccount(a["Id"], a.get("Name", ""), _state(a), path, ids) for a in members
            )
            next_level.extend(
                (ou["Id"], f"{path}/{ou.get('Name') or ou['Id']}", (*ids, ou["Id"])) for ou in ous
            )
        level = next_level
    return accounts, paths


# ----------------------------------------------------------------------------- selection


def select_accounts(
    org: Organization, selection: AccountSelection
) -> tuple[list[OrgAccount], list[OrgAccount]]:
    """(ACTIVE accounts to scan, selected accounts skipped because they are not ACTIVE)."""
    known = {a.account_id for a in org.accounts}
    for flag, ids in (
        ("--accounts", selection.accounts),
        ("--exclude-accounts", selection.exclude),
    ):
        missing = sorted(ids - known)
        if missing:
            raise UserError(
                f"{flag}: {missing[0]} is not an account of organization {org.organization_id}"
            )
    ou_ids = {_resolve_ou(org, value) for value in selection.ous}
    chosen = [
        a
        for a in org.accounts
        if (not selection.accounts or a.account_id in selection.accounts)
        and a.account_id not in selection.exclude
        and (not ou_ids or bool(ou_ids & set(a.parent_ids)))
    ]
    return [a for a in chosen if a.status == ACTIVE], [a for a in chosen if a.status != ACTIVE]


def _resolve_ou(org: Organization, value: str) -> str:
    """An OU (or root) id, or a path of OU names (`Workloads/Prod`, `Root/Workloads/Prod`)."""
    if org.tree_error is not None:
        raise ScanError(f"--ou: cannot read the OU tree ({org.tree_error.describe()})")
    if OU_ID.match(value):
        if value not in org.ou_paths:
            raise UserError(f"--ou: {value} is not an OU of organization {org.organization_id}")
        return value
    parts = [p for p in value.split("/") if p]
    roots = sorted(path for path in org.ou_paths.values() if "/" not in path)
    if roots and (not parts or parts[0] not in roots):
        parts.insert(0, roots[0])  # a path relative to the root
    wanted = "/".join(parts)
    by_path = {path: ou for ou, path in org.ou_paths.items()}
    if wanted in by_path:
        return by_path[wanted]
    folded = [ou for path, ou in by_path.items() if path.casefold() == wanted.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise UserError(
        f"--ou: no OU {value!r} in organization {org.organization_id} "
        "(give an OU id like ou-ab12-cdef3456 or a path like Workloads/Prod)"
    )


# ----------------------------------------------------------------------------- access


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
    role: RoleSpec | None = None,
    selection: AccountSelection | None = None,
    max_workers: int = 16,
    observer: ScanObserver | None = None,
) -> OrgScope:
    """The selected ACTIVE accounts of the caller's organization, each entered (or its error)."""
    role = role or RoleSpec()
    observer = observer or SilentObserver()
    caller, partition = caller_identity(session, region)
    org = describe_organization(session, region, max_workers)
    active, skipped = select_accounts(org, selection or AccountSelection())

    def enter(account: OrgAccount) -> AccountTarget:
        common: dict[str, Any] = {
            "account_id": account.account_id,
            "name": account.name or None,
            "organization_id": org.organization_id,
            "ou_path": account.ou_path,
            "parent_ids": account.parent_ids or None,
        }
        if account.account_id == caller:
            target = AccountTarget(**common)
        else:
            role_arn = role.arn(account.account_id, partition)
            creds = assume_role(session, region, role_arn, role.external_id)
            if isinstance(creds, Unknown):
                target = AccountTarget(**common, access_error=creds)
            else:
                target = AccountTarget(
                    **common, credentials=creds, role_arn=role_arn, external_id=role.external_id
                )
        observer.advance()
        return target

    observer.stage("roles", len(active))
    targets = run_all(enter, active, max_workers)
    return OrgScope(
        organization=org,
        targets=targets,
        skipped=tuple(
            SkippedAccount(account_id=a.account_id, name=a.name or None, status=a.status)
            for a in skipped
        ),
        partition=partition,
    )
