"""Collectors: one module per AWS service, each declaring what it provides and needs."""

from __future__ import annotations

from trailcheck.scanner.collectors import (
    cloudtrail,
    cloudwatch,
    events,
    kms,
    logs,
    regions,
    s3,
    sns,
)
from trailcheck.scanner.collectors.base import CollectorSpec

ACCOUNT_DISCOVERY = CollectorSpec(
    name="organizations",
    provides=frozenset({"accounts"}),
    permissions=(
        "sts:GetCallerIdentity",
        "organizations:DescribeOrganization",
        "organizations:ListAccounts",
        "organizations:ListRoots",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListAccountsForParent",
    ),
)

# `trailcheck verify-logs`: digests and log files are read from the trail buckets (ListObjectsV2
# is s3:ListBucket) and keys come from ListPublicKeys. Reading the log files of an SSE-KMS trail
# also needs kms:Decrypt on the trail's key (granted in the key policy; see docs/verify-logs.md).
LOG_VERIFICATION = CollectorSpec(
    name="verify-logs",
    provides=frozenset({"log_integrity"}),
    permissions=(
        "cloudtrail:ListPublicKeys",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:GetBucketLocation",
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
        ACCOUNT_DISCOVERY,
        regions.SPEC,
        cloudtrail.SPEC,
        s3.SPEC,
        kms.SPEC,
        logs.SPEC,
        cloudwatch.SPEC,
        sns.SPEC,
        events.SPEC,
        logs.CONFIRM_SPEC,
        LOG_VERIFICATION,
        CHANGE_LOOKUP,
    )
