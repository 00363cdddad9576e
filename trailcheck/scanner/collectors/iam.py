"""IAM: each account's users, roles, groups and their policies, in one paginated call.

GetAccountAuthorizationDetails returns every user, group and role with its inline policies,
attached managed policies and permissions boundary, and every managed policy in use with its
versions. moto's answer lacks PolicyName/PolicyId in `Policies[]`, so policies are keyed by ARN.
Policy documents may come URL-encoded (the IAM API's wire form); both forms are read.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from trailcheck.model import (
    IamAuthorization,
    IamGroup,
    IamManagedPolicy,
    IamPrincipal,
    InlinePolicy,
    Unknown,
)
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call

SPEC = CollectorSpec(
    name="iam",
    provides=frozenset({"iam"}),
    permissions=("iam:GetAccountAuthorizationDetails",),
)
_FILTER = ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]


def collect_authorization(access: AccountAccess, region: str) -> IamAuthorization | Unknown:
    """The account's authorization details (every page), or why they could not be read."""
    client = access.client("iam", region)
    pages: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        params: dict[str, Any] = {"Filter": _FILTER}
        if marker:
            params["Marker"] = marker
        page = call(client, "GetAccountAuthorizationDetails", **params)
        if page is None or isinstance(page, Unknown):
            return page or Unknown(
                operation="iam:GetAccountAuthorizationDetails", error_code="EmptyResponse"
            )
        pages.append(page)
        marker = page.get("Marker") if page.get("IsTruncated") else None
        if not marker:
            break
    try:
        return _details(access.account_id, pages)
    except (KeyError, TypeError, ValueError) as error:
        return Unknown(
            operation="iam:GetAccountAuthorizationDetails",
            error_code="UnreadableAnswer",
            message=f"{type(error).__name__}: {error}",
        )


def _document(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        loaded = json.loads(unquote(raw))
        if not isinstance(loaded, dict):
            raise ValueError("policy document is not a JSON object")
        return loaded
    if not isinstance(raw, dict):
        raise ValueError("policy document is not a JSON object")
    return raw


def _inline(items: list[dict[str, Any]]) -> tuple[InlinePolicy, ...]:
    return tuple(
        InlinePolicy(name=i["PolicyName"], document=_document(i["PolicyDocument"]))
        for i in sorted(items, key=lambda i: i["PolicyName"])
    )


def _managed(items: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted(i["PolicyArn"] for i in items))


def _details(account_id: str, pages: list[dict[str, Any]]) -> IamAuthorization:
    principals: list[IamPrincipal] = []
    groups: dict[str, IamGroup] = {}
    policies: dict[str, IamManagedPolicy] = {}
    for page in pages:
        for user in page.get("UserDetailList", []):
            principals.append(
                IamPrincipal(
                    arn=user["Arn"],
                    kind="user",
                    inline=_inline(user.get("UserPolicyList", [])),
                    managed=_managed(user.get("AttachedManagedPolicies", [])),
                    groups=tuple(sorted(user.get("GroupList", []))),
                    boundary=(user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
                )
            )
        for role in page.get("RoleDetailList", []):
            principals.append(
                IamPrincipal(
                    arn=role["Arn"],
                    kind="role",
                    inline=_inline(role.get("RolePolicyList", [])),
                    managed=_managed(role.get("AttachedManagedPolicies", [])),
                    boundary=(role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
                )
            )
        for group in page.get("GroupDetailList", []):
            groups[group["GroupName"]] = IamGroup(
                arn=group["Arn"],
                name=group["GroupName"],
                inline=_inline(group.get("GroupPolicyList", [])),
                managed=_managed(group.get("AttachedManagedPolicies", [])),
            )
        for policy in page.get("Policies", []):
            default = next(
                (v for v in policy.get("PolicyVersionList", []) if v.get("IsDefaultVersion")),
                None,
            )
            arn = policy["Arn"]
            policies[arn] = IamManagedPolicy(
                arn=arn,
                document=_document(default["Document"]) if default else None,
                aws_managed=arn.split(":")[4] == "aws",
            )
    return IamAuthorization(
        account_id=account_id,
        principals=tuple(sorted(principals, key=lambda p: p.arn)),
        groups=dict(sorted(groups.items())),
        policies=dict(sorted(policies.items())),
    )
