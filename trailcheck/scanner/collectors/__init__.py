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
        "organizations:ListParents",
        "organizations:DescribeOrganizationalUnit",
    ),
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
    )
