"""Where change events of each service live and how they name resources.

Which events matter for a rule is data beside the rule (`Rule.change_events`); this module
knows the services: the event source of each followed event name, the resource-name forms
LookupEvents may hold for a resource (the ARN for some services, the short name for others —
both are tried, the usual form first), and the region whose event history holds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# event source → the management write events trailcheck follows there.
EVENTS_BY_SOURCE: Mapping[str, tuple[str, ...]] = {
    "cloudtrail.amazonaws.com": (
        "StopLogging",
        "DeleteTrail",
        "UpdateTrail",
        "PutEventSelectors",
        "PutInsightSelectors",
    ),
    "s3.amazonaws.com": (
        "PutBucketPolicy",
        "DeleteBucketPolicy",
        "PutBucketAcl",
        "PutBucketVersioning",
        "PutBucketLifecycle",  # the event name of PutBucketLifecycleConfiguration
        "DeleteBucketLifecycle",
        "PutBucketEncryption",
        "DeleteBucketEncryption",
        "PutObjectLockConfiguration",
        "PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
        "PutBucketLogging",
        "PutBucketNotification",
    ),
    "kms.amazonaws.com": (
        "DisableKey",
        "ScheduleKeyDeletion",
        "DisableKeyRotation",
        "PutKeyPolicy",
    ),
    "logs.amazonaws.com": ("PutMetricFilter", "DeleteMetricFilter", "DeleteLogGroup"),
    "monitoring.amazonaws.com": ("PutMetricAlarm", "DeleteAlarms", "DisableAlarmActions"),
    "sns.amazonaws.com": ("Unsubscribe", "DeleteTopic", "SetTopicAttributes"),
    "events.amazonaws.com": ("DeleteRule", "DisableRule", "RemoveTargets"),
}
CHANGE_EVENTS: frozenset[str] = frozenset(n for names in EVENTS_BY_SOURCE.values() for n in names)
SOURCE_OF_EVENT: Mapping[str, str] = {
    name: source for source, names in EVENTS_BY_SOURCE.items() for name in names
}
# ARN service → event source
SOURCE_OF_SERVICE: Mapping[str, str] = {
    "cloudtrail": "cloudtrail.amazonaws.com",
    "s3": "s3.amazonaws.com",
    "kms": "kms.amazonaws.com",
    "logs": "logs.amazonaws.com",
    "cloudwatch": "monitoring.amazonaws.com",
    "sns": "sns.amazonaws.com",
    "events": "events.amazonaws.com",
}
# Services whose events LookupEvents usually names by ARN (the others: by short name).
ARN_FIRST = frozenset({"kms", "sns"})
# Where the event history of resources without a region (global services) lives.
GLOBAL_REGION = "us-east-1"


def arn_service(arn: str) -> str | None:
    """`arn:aws:s3:::b` → `s3`; None when `arn` is not an ARN."""
    parts = arn.split(":")
    return parts[2] if len(parts) >= 6 and parts[0] == "arn" else None


def short_name(arn: str) -> str:
    """The resource's short name inside its ARN (trail, bucket, key id, log group, alarm,
    topic or rule name)."""
    service = arn_service(arn)
    resource = arn.split(":", 5)[5] if service else arn
    if service == "logs" and resource.startswith("log-group:"):
        return resource.split(":")[1]
    if service == "cloudwatch" and resource.startswith("alarm:"):
        return resource.split(":", 1)[1]
    if service == "sns":
        return resource
    return resource.split("/", 1)[1] if "/" in resource else resource


def name_forms(arn: str) -> list[str]:
    """The ResourceName values to try for `arn`, the service's usual form first."""
    short = short_name(arn)
    service = arn_service(arn)
    full = arn.removesuffix(":*") if service == "logs" else arn
    forms = [full, short] if service in ARN_FIRST else [short, full]
    return list(dict.fromkeys(f for f in forms if f))


def sources_of(event_names: Iterable[str]) -> frozenset[str]:
    """The event sources of `event_names` (names trailcheck does not know are ignored)."""
    return frozenset(SOURCE_OF_EVENT[n] for n in event_names if n in SOURCE_OF_EVENT)


def arns_in(value: Any) -> Iterator[str]:
    """Every ARN-looking string inside a JSON value (evidence), in order."""
    if isinstance(value, str):
        if value.startswith("arn:") and arn_service(value):
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from arns_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from arns_in(item)
