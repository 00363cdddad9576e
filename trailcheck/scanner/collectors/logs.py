"""CloudWatch Logs: the log groups trails deliver to, each read once."""

from __future__ import annotations

from trailcheck.model import LogGroup, Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call

SPEC = CollectorSpec(
    name="logs",
    provides=frozenset({"log_groups"}),
    permissions=("logs:DescribeLogGroups",),
)


def log_group_name(arn: str) -> str:
    """`arn:aws:logs:r:a:log-group:NAME:*` → NAME."""
    rest = arn.split(":log-group:", 1)[1]
    return rest[:-2] if rest.endswith(":*") else rest


def collect_log_group(access: AccountAccess, arn: str) -> LogGroup:
    """DescribeLogGroups by name prefix, keeping the exact name."""
    parts = arn.split(":")
    region, account_id = parts[3], parts[4]
    name = log_group_name(arn)
    response = call(access.client("logs", region), "DescribeLogGroups", logGroupNamePrefix=name)
    exists: bool | Unknown
    retention: int | None = None
    if response is None or isinstance(response, Unknown):
        exists = response or Unknown(operation="logs:DescribeLogGroups", error_code="EmptyResponse")
    else:
        match = next((g for g in response.get("logGroups", []) if g["logGroupName"] == name), None)
        exists = match is not None
        retention = match.get("retentionInDays") if match else None
    return LogGroup(
        arn=arn,
        name=name,
        account_id=account_id,
        region=region,
        exists=exists,
        retention_in_days=retention,
    )
