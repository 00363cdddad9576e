"""CloudWatch: the metric alarms of one (account, region) where a trail log group lives.

Calls: DescribeAlarms once per (account, region), paginated, metric alarms only. Alarms read
either one metric (MetricName + Namespace) or, as metric-math alarms, a `Metrics` list whose
MetricStat entries name the metrics. Only alarms that watch a metric some trail log group's
metric filter publishes are kept, so a region with thousands of alarms does not bloat the
snapshot. Alarms are kept by metric *name* (the namespace is judged by the rules, so an
alarm in the wrong namespace can be named in a finding).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from trailcheck.model import Alarm, AlarmMetric, Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import paginate

SPEC = CollectorSpec(
    name="cloudwatch",
    provides=frozenset({"alarms"}),
    permissions=("cloudwatch:DescribeAlarms",),
)


def _dimensions(raw: list[dict[str, Any]] | None) -> dict[str, str]:
    return {d["Name"]: str(d.get("Value", "")) for d in raw or []}


def parse_alarm(raw: dict[str, Any], account_id: str, region: str) -> Alarm:
    """One DescribeAlarms `MetricAlarms` entry."""
    metrics: list[AlarmMetric] = []
    expression: str | None = None
    if raw.get("MetricName"):
        metrics.append(
            AlarmMetric(
                namespace=raw.get("Namespace", ""),
                name=raw["MetricName"],
                dimensions=_dimensions(raw.get("Dimensions")),
            )
        )
    for query in raw.get("Metrics") or []:
        stat = query.get("MetricStat")
        if stat:
            metric = stat.get("Metric", {})
            metrics.append(
                AlarmMetric(
                    namespace=metric.get("Namespace", ""),
                    name=metric.get("MetricName", ""),
                    dimensions=_dimensions(metric.get("Dimensions")),
                    query_id=query.get("Id"),
                    return_data=bool(query.get("ReturnData", False)),
                )
            )
        elif query.get("Expression") and query.get("ReturnData", True):
            expression = str(query["Expression"])
    threshold = raw.get("Threshold")
    return Alarm(
        arn=raw["AlarmArn"],
        name=raw["AlarmName"],
        account_id=account_id,
        region=region,
        actions_enabled=bool(raw.get("ActionsEnabled", False)),
        alarm_actions=tuple(raw.get("AlarmActions") or ()),
        metrics=tuple(metrics),
        expression=expression,
        statistic=raw.get("Statistic") or raw.get("ExtendedStatistic"),
        threshold=float(threshold) if threshold is not None else None,
        comparison_operator=raw.get("ComparisonOperator"),
        state_value=raw.get("StateValue"),
    )


def collect_alarms(
    access: AccountAccess, region: str, metric_names: Collection[str] | None
) -> list[Alarm] | Unknown:
    """Metric alarms of the region that read a metric named in `metric_names`; None: all."""
    items = paginate(
        access.client("cloudwatch", region),
        "DescribeAlarms",
        "MetricAlarms",
        AlarmTypes=["MetricAlarm"],
    )
    if isinstance(items, Unknown):
        return items
    alarms = [parse_alarm(raw, access.account_id, region) for raw in items]
    if metric_names is None:
        return alarms
    wanted = set(metric_names)
    return [a for a in alarms if any(m.name in wanted for m in a.metrics)]
