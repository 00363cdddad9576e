"""Organizations: the SCPs and RCPs of the organization, each with its document and targets.

Calls, with the caller's (management or delegated administrator) credentials: ListPolicies once
per policy type (paginated), then DescribePolicy and ListTargetsForPolicy once per policy. That
is fewer calls than ListPoliciesForTarget per root, OU and account when, as usual, policies are
fewer than targets. Whether a policy type is enabled is read from the same answers: AWS keeps
at least one policy of an enabled type attached to the root (FullAWSAccess, RCPFullAWSAccess).
"""

from __future__ import annotations

import json
from typing import Any

from trailcheck.model import OrgPolicies, OrgPolicy, Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call, paginate

SPEC = CollectorSpec(
    name="organization-policies",
    provides=frozenset({"org_policies"}),
    permissions=(
        "organizations:ListPolicies",
        "organizations:DescribePolicy",
        "organizations:ListTargetsForPolicy",
    ),
    scope="management",
)
POLICY_TYPES = ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")


def collect_policies(access: AccountAccess, region: str) -> OrgPolicies:
    """Every SCP and RCP; a type that cannot be listed is recorded as unknown."""
    client = access.client("organizations", region)
    policies: dict[str, OrgPolicy] = {}
    listing: dict[str, Unknown | None] = {}
    for policy_type in POLICY_TYPES:
        listed = paginate(client, "ListPolicies", "Policies", Filter=policy_type)
        if isinstance(listed, Unknown):
            listing[policy_type] = listed
            continue
        listing[policy_type] = None
        for summary in listed:
            policies[summary["Id"]] = _policy(client, summary, policy_type)
    return OrgPolicies(
        policies=dict(sorted(policies.items())),
        scp_listing=listing["SERVICE_CONTROL_POLICY"],
        rcp_listing=listing["RESOURCE_CONTROL_POLICY"],
    )


def _policy(client: Any, summary: dict[str, Any], policy_type: str) -> OrgPolicy:
    policy_id = summary["Id"]
    described = call(client, "DescribePolicy", PolicyId=policy_id)
    content: dict[str, Any] | Unknown
    if described is None or isinstance(described, Unknown):
        content = described or Unknown(operation="organizations:DescribePolicy", error_code="Empty")
    else:
        try:
            content = json.loads(described["Policy"]["Content"])
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            content = Unknown(
                operation="organizations:DescribePolicy",
                error_code="InvalidContent",
                message=str(error),
            )
    targets = paginate(client, "ListTargetsForPolicy", "Targets", PolicyId=policy_id)
    return OrgPolicy(
        id=policy_id,
        name=summary.get("Name", policy_id),
        type=policy_type,  # type: ignore[arg-type]  # one of POLICY_TYPES
        aws_managed=bool(summary.get("AwsManaged", False)),
        content=content,
        targets=targets
        if isinstance(targets, Unknown)
        else tuple(sorted(t["TargetId"] for t in targets)),
    )
