"""CloudWatch Logs: the log groups trails deliver to, each read once, with their metric filters.

Calls per log group: DescribeLogGroups (by name prefix) and, when metric filters are wanted,
DescribeMetricFilters (by log group name, paginated). With --confirm-filters-with-aws, each
distinct filter pattern is sent once to TestMetricFilter with trailcheck's sample records.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from trailcheck.model import (
    FilterPatternTest,
    LogGroup,
    MetricFilter,
    MetricTransformation,
    Unknown,
)
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call, paginate

SPEC = CollectorSpec(
    name="logs",
    provides=frozenset({"log_groups", "metric_filters"}),
    permissions=("logs:DescribeLogGroups", "logs:DescribeMetricFilters"),
)
CONFIRM_SPEC = CollectorSpec(
    name="logs-test-metric-filter",
    provides=frozenset({"filter_tests"}),
    permissions=("logs:TestMetricFilter",),
)

MAX_TEST_EVENTS = 50  # TestMetricFilter accepts 1..50 log event messages per call


def log_group_name(arn: str) -> str:
    """`arn:aws:logs:r:a:log-group:NAME:*` → NAME."""
    rest = arn.split(":log-group:", 1)[1]
    return rest[:-2] if rest.endswith(":*") else rest


def collect_log_group(access: AccountAccess, arn: str, *, metric_filters: bool = False) -> LogGroup:
    """DescribeLogGroups by name prefix, keeping the exact name; then its metric filters."""
    parts = arn.split(":")
    region, account_id = parts[3], parts[4]
    name = log_group_name(arn)
    client = access.client("logs", region)
    response = call(client, "DescribeLogGroups", logGroupNamePrefix=name)
    exists: bool | Unknown
    retention: int | None = None
    if response is None or isinstance(response, Unknown):
        exists = response or Unknown(operation="logs:DescribeLogGroups", error_code="EmptyResponse")
    else:
        match = next((g for g in response.get("logGroups", []) if g["logGroupName"] == name), None)
        exists = match is not None
        retention = match.get("retentionInDays") if match else None
    filters: tuple[MetricFilter, ...] | Unknown | None = None
    if metric_filters:
        filters = () if exists is False else _metric_filters(client, name)
    return LogGroup(
        arn=arn,
        name=name,
        account_id=account_id,
        region=region,
        exists=exists,
        retention_in_days=retention,
        metric_filters=filters,
    )


def unreadable_log_group(arn: str, *, metric_filters: bool = False) -> LogGroup:
    """A log group of an account the scan does not read: every fact unknown, no call made.

    CloudWatch Logs answers DescribeLogGroups only for the caller's own log groups, so asking
    with another account's access would report the group as absent.
    """
    parts = arn.split(":")
    region, account_id = parts[3], parts[4]
    unknown = Unknown(
        operation="logs:DescribeLogGroups",
        error_code="OwnerNotScanned",
        message=f"the log group belongs to account {account_id}, which this scan does not read",
    )
    return LogGroup(
        arn=arn,
        name=log_group_name(arn),
        account_id=account_id,
        region=region,
        exists=unknown,
        metric_filters=unknown if metric_filters else None,
    )


def _metric_filters(client: Any, name: str) -> tuple[MetricFilter, ...] | Unknown:
    items = paginate(client, "DescribeMetricFilters", "metricFilters", logGroupName=name)
    if isinstance(items, Unknown):
        return () if items.error_code == "ResourceNotFoundException" else items
    return tuple(
        MetricFilter(
            name=f.get("filterName", ""),
            pattern=f.get("filterPattern", ""),
            transformations=tuple(
                MetricTransformation(
                    metric_name=t["metricName"],
                    metric_namespace=t["metricNamespace"],
                    metric_value=str(t.get("metricValue", "1")),
                    default_value=t.get("defaultValue"),
                    dimensions=dict(t.get("dimensions") or {}),
                )
                for t in f.get("metricTransformations", [])
            ),
        )
        for f in sorted(items, key=lambda f: f.get("filterName", ""))
        # DescribeMetricFilters' logGroupName is exact, but keep only this group's filters
        if f.get("logGroupName", name) == name
    )


def test_pattern(
    access: AccountAccess, region: str, pattern: str, samples: Sequence[tuple[str, dict[str, Any]]]
) -> FilterPatternTest:
    """AWS's answer for `pattern` over `samples` (id, CloudTrail record), 50 records per call."""
    client = access.client("logs", region)
    ids = [sample_id for sample_id, _ in samples]
    matched: list[str] = []
    answer: tuple[str, ...] | Unknown = ()
    for start in range(0, len(samples), MAX_TEST_EVENTS):
        batch = samples[start : start + MAX_TEST_EVENTS]
        messages = [json.dumps(record, separators=(",", ":")) for _, record in batch]
        try:
            response = call(
                client, "TestMetricFilter", filterPattern=pattern, logEventMessages=messages
            )
        except NotImplementedError:  # a simulator without the operation (moto raises this)
            response = Unknown(
                operation="logs:TestMetricFilter",
                error_code="NotImplemented",
                message="the endpoint does not implement TestMetricFilter",
            )
        if response is None or isinstance(response, Unknown):
            answer = response or Unknown(
                operation="logs:TestMetricFilter", error_code="EmptyResponse"
            )
            break
        for match in response.get("matches", []):
            number = int(match.get("eventNumber", 0))  # 1-based within the call
            if 1 <= number <= len(batch):
                matched.append(batch[number - 1][0])
    else:
        answer = tuple(sorted(set(matched)))
    return FilterPatternTest(
        pattern=pattern,
        account_id=access.account_id,
        region=region,
        tested=tuple(ids),
        matched=answer,
    )
