"""CloudTrail: every trail of an account, once, with its status and event selectors.

Calls per account: ListTrails once (it lists every trail the account sees, in all regions,
with each trail's home region); DescribeTrails once per home region (and ListTags, 20 ARNs a
call, when the tags are wanted); then per trail ARN, in its home region: GetTrailStatus,
GetEventSelectors, and GetInsightSelectors only when the trail says it has insight selectors.
Multi-region and organization trails appear in every region but are read once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trailcheck.model import (
    AdvancedEventSelector,
    BasicEventSelector,
    DataResource,
    EventSelectors,
    FieldSelector,
    Trail,
    TrailStatus,
    Unknown,
)
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call, paginate

SPEC = CollectorSpec(
    name="cloudtrail",
    provides=frozenset({"trails"}),
    permissions=(
        "cloudtrail:ListTrails",
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:GetEventSelectors",
        "cloudtrail:GetInsightSelectors",
    ),
)
# The trails' tags (CloudTrail.9): ListTags per (reading account, home region), 20 ARNs a call.
TAGS_SPEC = CollectorSpec(
    name="cloudtrail-tags",
    provides=frozenset({"trail_tags"}),
    permissions=("cloudtrail:ListTags",),
)
_TAGS_PER_CALL = 20


def list_trails(access: AccountAccess, api_region: str) -> dict[str, str] | Unknown:
    """ARN → home region of every trail the account sees (ListTrails, paginated)."""
    items = paginate(access.client("cloudtrail", api_region), "ListTrails", "Trails")
    if isinstance(items, Unknown):
        return items
    return {t["TrailARN"]: t["HomeRegion"] for t in items}


def describe_trails(
    access: AccountAccess, home_region: str, arns: list[str]
) -> dict[str, dict[str, Any]] | Unknown:
    """DescribeTrails in one home region for the given ARNs → ARN → description."""
    response = call(
        access.client("cloudtrail", home_region),
        "DescribeTrails",
        trailNameList=arns,
        includeShadowTrails=False,
    )
    if response is None:
        return {}
    if isinstance(response, Unknown):
        return response
    wanted = set(arns)
    return {t["TrailARN"]: t for t in response.get("trailList", []) if t["TrailARN"] in wanted}


def list_tags(
    access: AccountAccess, home_region: str, arns: list[str]
) -> dict[str, dict[str, str] | Unknown]:
    """ListTags in one home region → ARN → tags (each batch that fails: Unknown for its ARNs)."""
    client = access.client("cloudtrail", home_region)
    found: dict[str, dict[str, str] | Unknown] = {}
    for start in range(0, len(arns), _TAGS_PER_CALL):
        batch = arns[start : start + _TAGS_PER_CALL]
        response = call(client, "ListTags", ResourceIdList=batch)
        if isinstance(response, Unknown):
            found.update(dict.fromkeys(batch, response))
            continue
        listed = {
            r.get("ResourceId"): {t["Key"]: t.get("Value", "") for t in r.get("TagsList") or []}
            for r in (response or {}).get("ResourceTagList", [])
        }
        found.update({arn: listed.get(arn, {}) for arn in batch})
    return found


def collect_trail(access: AccountAccess, description: dict[str, Any], home_region: str) -> Trail:
    """Status, selectors and insight selectors of one described trail, read in its home region."""
    arn = description["TrailARN"]
    client = access.client("cloudtrail", home_region)
    status_response = call(client, "GetTrailStatus", Name=arn)
    selectors_response = call(client, "GetEventSelectors", TrailName=arn)
    has_custom = bool(description.get("HasCustomEventSelectors", False))
    has_insights = bool(description.get("HasInsightSelectors", False))
    insights: tuple[str, ...] | Unknown | None = None
    if has_insights:
        insights_response = call(
            client, "GetInsightSelectors", TrailName=arn, absent=("InsightNotEnabledException",)
        )
        insights = _parse_insights(insights_response)
    return Trail(
        arn=arn,
        name=description["Name"],
        account_id=arn.split(":")[4],
        home_region=description.get("HomeRegion", home_region),
        is_multi_region=bool(description.get("IsMultiRegionTrail", False)),
        is_organization_trail=bool(description.get("IsOrganizationTrail", False)),
        s3_bucket_name=description.get("S3BucketName") or None,
        s3_key_prefix=description.get("S3KeyPrefix") or None,
        sns_topic_arn=description.get("SnsTopicARN") or None,
        include_global_service_events=bool(description.get("IncludeGlobalServiceEvents", True)),
        log_file_validation_enabled=bool(description.get("LogFileValidationEnabled", False)),
        kms_key_id=description.get("KmsKeyId") or None,
        cloudwatch_logs_log_group_arn=description.get("CloudWatchLogsLogGroupArn") or None,
        cloudwatch_logs_role_arn=description.get("CloudWatchLogsRoleArn") or None,
        has_custom_event_selectors=has_custom,
        has_insight_selectors=has_insights,
        status=_parse_status(status_response),
        event_selectors=_parse_selectors(selectors_response, has_custom),
        insight_selectors=insights,
    )


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _text(value: Any) -> str | None:
    return str(value) if value else None


def _parse_status(response: dict[str, Any] | Unknown | None) -> TrailStatus | Unknown:
    if response is None:
        return Unknown(operation="cloudtrail:GetTrailStatus", error_code="EmptyResponse")
    if isinstance(response, Unknown):
        return response
    return TrailStatus(
        is_logging=bool(response.get("IsLogging", False)),
        latest_delivery_time=_time(response.get("LatestDeliveryTime")),
        latest_delivery_error=_text(response.get("LatestDeliveryError")),
        latest_digest_delivery_time=_time(response.get("LatestDigestDeliveryTime")),
        latest_digest_delivery_error=_text(response.get("LatestDigestDeliveryError")),
        latest_cloudwatch_logs_delivery_time=_time(
            response.get("LatestCloudWatchLogsDeliveryTime")
        ),
        latest_cloudwatch_logs_delivery_error=_text(
            response.get("LatestCloudWatchLogsDeliveryError")
        ),
        latest_notification_error=_text(response.get("LatestNotificationError")),
        start_logging_time=_time(response.get("StartLoggingTime")),
        stop_logging_time=_time(response.get("StopLoggingTime")),
    )


# A trail created without selectors records all management events, read and write (AWS's
# default). Some simulators answer GetEventSelectors with [] for such a trail.
DEFAULT_SELECTORS = EventSelectors(basic=(BasicEventSelector(),))


def _parse_selectors(
    response: dict[str, Any] | Unknown | None, has_custom: bool
) -> EventSelectors | Unknown:
    if response is None:
        return Unknown(operation="cloudtrail:GetEventSelectors", error_code="EmptyResponse")
    if isinstance(response, Unknown):
        return response
    basic = tuple(
        BasicEventSelector(
            read_write_type=s.get("ReadWriteType", "All"),
            include_management_events=bool(s.get("IncludeManagementEvents", True)),
            exclude_management_event_sources=tuple(s.get("ExcludeManagementEventSources", [])),
            data_resources=tuple(
                DataResource(type=d["Type"], values=tuple(d.get("Values", [])))
                for d in s.get("DataResources", [])
            ),
        )
        for s in response.get("EventSelectors") or []
    )
    advanced = tuple(
        AdvancedEventSelector(
            name=s.get("Name"),
            field_selectors=tuple(
                FieldSelector(
                    field=f["Field"],
                    equals=tuple(f.get("Equals", [])),
                    starts_with=tuple(f.get("StartsWith", [])),
                    ends_with=tuple(f.get("EndsWith", [])),
                    not_equals=tuple(f.get("NotEquals", [])),
                    not_starts_with=tuple(f.get("NotStartsWith", [])),
                    not_ends_with=tuple(f.get("NotEndsWith", [])),
                )
                for f in s.get("FieldSelectors", [])
            ),
        )
        for s in response.get("AdvancedEventSelectors") or []
    )
    if not basic and not advanced and not has_custom:
        return DEFAULT_SELECTORS
    return EventSelectors(basic=basic, advanced=advanced)


def _parse_insights(response: dict[str, Any] | Unknown | None) -> tuple[str, ...] | Unknown | None:
    if response is None or isinstance(response, Unknown):
        return response
    return tuple(sorted(s["InsightType"] for s in response.get("InsightSelectors", [])))
