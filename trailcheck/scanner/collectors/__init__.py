"""Collectors: one module per AWS service, each declaring what it provides and needs."""

from __future__ import annotations

from trailcheck.scanner.collectors import (
    cloudtrail,
    cloudwatch,
    events,
    iam,
    kms,
    lake,
    logs,
    organizations_policies,
    regions,
    s3,
    sns,
)
from trailcheck.scanner.collectors.base import CollectorSpec

# Who is scanning (scanner/accounts.py): every scan starts with it.
CALLER_IDENTITY = CollectorSpec(
    name="caller-identity",
    provides=frozenset({"accounts"}),
    permissions=("sts:GetCallerIdentity",),
)

# `--org` (scanner/org.py): the organization, its OU tree (ListAccounts when the tree cannot be
# read), and a role in each member. Only the caller needs these.
ACCOUNT_DISCOVERY = CollectorSpec(
    name="organizations",
    provides=frozenset({"accounts"}),
    permissions=(
        "organizations:DescribeOrganization",
        "organizations:ListAccounts",
        "organizations:ListRoots",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListAccountsForParent",
        "sts:AssumeRole",
    ),
    scope="management",
)

# `trailcheck verify-logs`: digests and log files are read from the trail buckets (ListObjectsV2
# is s3:ListBucket) and keys come from ListPublicKeys; DescribeOrganization (any member may call
# it) names the folder of an organization trail's files. Reading the log files of an SSE-KMS trail
# also needs kms:Decrypt on the trail's key (granted in the key policy; see docs/verify-logs.md).
LOG_VERIFICATION = CollectorSpec(
    name="verify-logs",
    provides=frozenset({"log_integrity"}),
    permissions=(
        "cloudtrail:ListPublicKeys",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:GetBucketLocation",
        "organizations:DescribeOrganization",
    ),
)

# `scan --who`: the management events behind each FAIL/ERROR finding (trailcheck.changes.lookup).
# `trailcheck events` reads log files with the LOG_VERIFICATION permissions.
CHANGE_LOOKUP = CollectorSpec(
    name="who",
    provides=frozenset({"change_history"}),
    permissions=("cloudtrail:LookupEvents",),
)


def all_collectors() -> tuple[CollectorSpec, ...]:
    """Every collector's declaration, for the IAM policy and the meta-tests."""
    return (
        CALLER_IDENTITY,
        ACCOUNT_DISCOVERY,
        regions.SPEC,
        cloudtrail.SPEC,
        cloudtrail.TAGS_SPEC,
        s3.SPEC,
        kms.SPEC,
        kms.POLICY_SPEC,
        iam.SPEC,
        organizations_policies.SPEC,
        logs.SPEC,
        cloudwatch.SPEC,
        sns.SPEC,
        sns.POLICY_SPEC,
        events.SPEC,
        lake.SPEC,
        logs.CONFIRM_SPEC,
        LOG_VERIFICATION,
        CHANGE_LOOKUP,
    )
