"""The problem codes and their events; where change events live and how they name resources.

Each FAIL names its causes as problem codes (`Finding.problems`); `PROBLEMS` maps each code to
the successful events that can cause (and undo) it, testing the request where the event name
is not enough. `Rule.change_events` remain for ERROR findings and docs/rules.md. This module
also knows the services: the event source of each followed event name, the resource-name forms
LookupEvents may hold for a resource (the ARN for some services, the short name for others —
both are tried, the usual form first), and the region whose event history holds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# event source → the management write events trailcheck follows there: every event that can
# cause or undo a problem (`PROBLEMS`, below), and those the rules' `change_events` name.
EVENTS_BY_SOURCE: Mapping[str, tuple[str, ...]] = {
    "cloudtrail.amazonaws.com": (
        "StopLogging",
        "DeleteTrail",
        "UpdateTrail",
        "PutEventSelectors",
        "PutInsightSelectors",
        # restores (the audit's "until StartLogging")
        "StartLogging",
        "CreateTrail",
        "AddTags",
        "RemoveTags",
        "CreateEventDataStore",
        "UpdateEventDataStore",
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
        "PutAccountPublicAccessBlock",
        "DeleteAccountPublicAccessBlock",
    ),
    "kms.amazonaws.com": (
        "DisableKey",
        "ScheduleKeyDeletion",
        "DisableKeyRotation",
        "PutKeyPolicy",
        "EnableKey",
        "CancelKeyDeletion",
        "EnableKeyRotation",
    ),
    "logs.amazonaws.com": ("PutMetricFilter", "DeleteMetricFilter", "DeleteLogGroup"),
    "monitoring.amazonaws.com": (
        "PutMetricAlarm",
        "DeleteAlarms",
        "DisableAlarmActions",
        "EnableAlarmActions",
    ),
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


# ----------------------------------------------------------------------------- problems
#
# A FAIL finding names its causes as problem codes (`Finding.problems`); each code lists the
# successful events that can cause it (and those that undo it). `--who` names the newest
# successful event on the finding's resources that can cause one of its problems; the audit
# reads `ChangeEvent.causes`/`restores`. A cause may test the request: an UpdateTrail that
# turns validation on never explains "validation off".

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Cause:
    """An event that can cause (or undo) a problem; `when` tests its requestParameters."""

    event: str
    when: Callable[[Params], bool] | None = None
    note: str = ""  # the condition, for docs/who.md

    def matches(self, event_name: str, params: Params) -> bool:
        return event_name == self.event and (self.when is None or self.when(params))

    def describe(self) -> str:
        return f"{self.event} ({self.note})" if self.note else self.event


@dataclass(frozen=True)
class Problem:
    """A machine-readable cause of a FAIL: what it means, what causes and undoes it, and
    where its events are looked up (`resource`: on the finding's resources; `account`: by
    event name in every scanned region of the finding's account)."""

    code: str
    meaning: str
    causes: tuple[Cause, ...]
    restores: tuple[Cause, ...] = ()
    scope: Literal["resource", "account"] = "resource"
    region: str | None = None  # account scope: the one region to look in (else every scanned)

    @property
    def event_names(self) -> frozenset[str]:
        return frozenset(c.event for c in self.causes)


def _false(key: str) -> Callable[[Params], bool]:
    return lambda p: str(p.get(key)).lower() == "false"


def _true(key: str) -> Callable[[Params], bool]:
    return lambda p: str(p.get(key)).lower() == "true"


def _not_true(key: str) -> Callable[[Params], bool]:
    return lambda p: str(p.get(key)).lower() != "true"


def _empty(key: str) -> Callable[[Params], bool]:
    return lambda p: key in p and not p.get(key)


def _set(key: str) -> Callable[[Params], bool]:
    return lambda p: bool(p.get(key))


def _absent(key: str) -> Callable[[Params], bool]:
    return lambda p: not p.get(key)


def _any_of(*keys: str) -> Callable[[Params], bool]:
    return lambda p: any(k in p for k in keys)


def _selectors(p: Params) -> list[Mapping[str, Any]]:
    found = [*(p.get("eventSelectors") or ()), *(p.get("advancedEventSelectors") or ())]
    return [s for s in found if isinstance(s, Mapping)]


def _records_all_management(p: Params) -> bool:
    """Whether PutEventSelectors' request records read and write management events (basic:
    ReadWriteType All with management events; advanced: a Management selector without a
    readOnly field) — exclusions aside."""
    for s in _selectors(p):
        if "fieldSelectors" in s or "FieldSelectors" in s:
            fields = s.get("fieldSelectors") or s.get("FieldSelectors") or []
            names = {str(f.get("field") or f.get("Field")): f for f in fields}
            category = names.get("eventCategory") or {}
            equals = category.get("equals") or category.get("Equals") or []
            if "Management" in equals and "readOnly" not in names:
                return True
        else:
            rw = s.get("readWriteType") or s.get("ReadWriteType") or "All"
            include = s.get("includeManagementEvents", s.get("IncludeManagementEvents", True))
            if rw == "All" and str(include).lower() != "false":
                return True
    return False


def _excludes_sources(p: Params) -> bool:
    for s in _selectors(p):
        if s.get("excludeManagementEventSources") or s.get("ExcludeManagementEventSources"):
            return True
        for f in s.get("fieldSelectors") or s.get("FieldSelectors") or []:
            field_name = f.get("field") or f.get("Field")
            if field_name == "eventSource" and (f.get("notEquals") or f.get("NotEquals")):
                return True
    return False


_CWL = ("cloudWatchLogsLogGroupArn", "cloudWatchLogsRoleArn")
_PAB = (Cause("PutBucketPublicAccessBlock"), Cause("DeleteBucketPublicAccessBlock"))
_POLICY = (Cause("PutBucketPolicy"), Cause("DeleteBucketPolicy"))

PROBLEMS: Mapping[str, Problem] = {
    p.code: p
    for p in (
        Problem(
            "trail.no_trail",
            "no trail records the account's activity",
            (
                Cause("DeleteTrail"),
                Cause("StopLogging"),
                Cause("UpdateTrail", _false("isOrganizationTrail"), "no longer an org trail"),
            ),
            (Cause("CreateTrail"), Cause("StartLogging")),
            scope="account",
        ),
        Problem(
            "trail.not_logging",
            "the trail is not logging",
            (Cause("StopLogging"), Cause("CreateTrail", note="a new trail logs only once started")),
            (Cause("StartLogging"),),
        ),
        Problem(
            "trail.single_region",
            "the trail records one region only",
            (
                Cause("UpdateTrail", _false("isMultiRegionTrail"), "isMultiRegionTrail false"),
                Cause("CreateTrail", _not_true("isMultiRegionTrail"), "not multi-region"),
            ),
            (Cause("UpdateTrail", _true("isMultiRegionTrail"), "isMultiRegionTrail true"),),
        ),
        Problem(
            "trail.selectors_exclude_management",
            "the trail's selectors leave out read or write management events",
            (
                Cause(
                    "PutEventSelectors",
                    lambda p: not _records_all_management(p),
                    "selectors without all management events",
                ),
            ),
            (
                Cause(
                    "PutEventSelectors",
                    _records_all_management,
                    "selectors with all management events",
                ),
            ),
        ),
        Problem(
            "trail.selectors_exclude_sources",
            "the trail's selectors exclude management event sources",
            (Cause("PutEventSelectors", _excludes_sources, "excluded event sources"),),
            (Cause("PutEventSelectors", lambda p: not _excludes_sources(p), "no exclusions"),),
        ),
        Problem(
            "trail.validation_off",
            "log file validation is disabled",
            (
                Cause(
                    "UpdateTrail",
                    _false("enableLogFileValidation"),
                    "enableLogFileValidation false",
                ),
                Cause("CreateTrail", _not_true("enableLogFileValidation"), "without validation"),
            ),
            (
                Cause(
                    "UpdateTrail", _true("enableLogFileValidation"), "enableLogFileValidation true"
                ),
            ),
        ),
        Problem(
            "trail.no_kms",
            "the trail does not encrypt with SSE-KMS",
            (
                Cause("UpdateTrail", _empty("kmsKeyId"), "kmsKeyId removed"),
                Cause("CreateTrail", _absent("kmsKeyId"), "without kmsKeyId"),
            ),
            (Cause("UpdateTrail", _set("kmsKeyId"), "kmsKeyId set"),),
        ),
        Problem(
            "trail.kms_key_unusable",
            "the trail's KMS key is disabled or pending deletion",
            (
                Cause("DisableKey"),
                Cause("ScheduleKeyDeletion"),
                Cause("UpdateTrail", _set("kmsKeyId"), "kmsKeyId changed"),
            ),
            (Cause("EnableKey"), Cause("CancelKeyDeletion")),
        ),
        Problem(
            "trail.no_cloudwatch_logs",
            "the trail does not send its events to CloudWatch Logs",
            (
                Cause("UpdateTrail", _empty("cloudWatchLogsLogGroupArn"), "log group removed"),
                Cause("CreateTrail", _absent("cloudWatchLogsLogGroupArn"), "without log group"),
            ),
            (Cause("UpdateTrail", _set("cloudWatchLogsLogGroupArn"), "log group set"),),
        ),
        Problem(
            "trail.cloudwatch_log_group_missing",
            "the trail's CloudWatch Logs log group does not exist",
            (Cause("DeleteLogGroup"), Cause("UpdateTrail", _any_of(*_CWL), "log group changed")),
        ),
        Problem(
            "trail.cloudwatch_delivery_stale",
            "CloudTrail has not delivered to CloudWatch Logs recently (or ever)",
            (
                Cause("StopLogging", note="a stopped trail delivers nothing"),
                Cause("UpdateTrail", _any_of(*_CWL), "log group or role changed"),
                Cause("DeleteLogGroup"),
            ),
            (Cause("StartLogging"),),
        ),
        Problem(
            "trail.cloudwatch_delivery_error",
            "delivery to CloudWatch Logs fails",
            (
                Cause("UpdateTrail", _any_of(*_CWL), "log group or role changed"),
                Cause("DeleteLogGroup"),
            ),
        ),
        Problem(
            "trail.delivery_errors",
            "the trail's latest deliveries failed",
            (
                Cause("UpdateTrail"),
                *_POLICY,
                Cause("PutKeyPolicy"),
                Cause("DisableKey"),
                Cause("ScheduleKeyDeletion"),
            ),
        ),
        Problem(
            "kms.rotation_off",
            "automatic key rotation is disabled",
            (Cause("DisableKeyRotation"),),
            (Cause("EnableKeyRotation"),),
        ),
        Problem(
            "bucket.acl_public",
            "the bucket's ACL grants everyone (or any AWS user) access",
            (Cause("PutBucketAcl"), *_PAB),
        ),
        Problem(
            "bucket.policy_public",
            "the bucket's policy grants public access",
            (Cause("PutBucketPolicy"), *_PAB),
        ),
        Problem(
            "bucket.public_access_block_off",
            "the bucket's Block Public Access settings are not all on",
            _PAB,
        ),
        Problem(
            "account.public_access_block_off",
            "the account's Block Public Access settings are not all on",
            (Cause("PutAccountPublicAccessBlock"), Cause("DeleteAccountPublicAccessBlock")),
            scope="account",
            region=GLOBAL_REGION,  # an account-wide setting, usually changed through us-east-1
        ),
        Problem("bucket.policy_no_tls", "the bucket policy does not deny plain HTTP", _POLICY),
        Problem(
            "bucket.delivery_unscoped",
            "the bucket policy's CloudTrail grant is not scoped to the trails",
            _POLICY,
        ),
        Problem(
            "bucket.readers",
            "principals outside the expected readers can read the logs",
            (*_POLICY, Cause("PutBucketAcl")),
        ),
        Problem(
            "bucket.versioning_off", "versioning is not enabled", (Cause("PutBucketVersioning"),)
        ),
        Problem(
            "bucket.mfa_delete_off", "MFA Delete is not enabled", (Cause("PutBucketVersioning"),)
        ),
        Problem(
            "bucket.delete_unprotected",
            "log files can be deleted or overwritten",
            (Cause("PutBucketVersioning"), Cause("PutObjectLockConfiguration")),
        ),
        Problem(
            "bucket.object_lock_off",
            "Object Lock is not enabled or too weak",
            (Cause("PutObjectLockConfiguration"),),
        ),
        Problem(
            "bucket.lifecycle_expires",
            "a lifecycle rule expires logs too early",
            (Cause("PutBucketLifecycle"), Cause("DeleteBucketLifecycle")),
        ),
        Problem(
            "bucket.encryption_weak",
            "default encryption is missing or not SSE-KMS",
            (Cause("PutBucketEncryption"), Cause("DeleteBucketEncryption")),
        ),
        Problem(
            "bucket.access_logging_off",
            "server access logging is off or misdirected",
            (Cause("PutBucketLogging"),),
        ),
        Problem(
            "bucket.notifications_off",
            "the bucket sends no event notifications",
            (Cause("PutBucketNotification"),),
        ),
        Problem(
            "bucket.same_account",
            "the log bucket is in the account whose activity it logs (a design choice: "
            "no single change causes it)",
            (),
        ),
        Problem(
            "bucket.no_lifecycle",
            "the bucket has no lifecycle configuration",
            (Cause("DeleteBucketLifecycle"),),
            (Cause("PutBucketLifecycle"),),
        ),
        Problem(
            "bucket.no_object_lock",
            "Object Lock is not enabled on the bucket",
            (Cause("PutObjectLockConfiguration"),),
        ),
        Problem(
            "bucket.not_kms_encrypted",
            "default encryption is not SSE-KMS",
            (Cause("PutBucketEncryption"), Cause("DeleteBucketEncryption")),
        ),
        Problem(
            "trail.none_enabled",
            "no trail of the account is logging",
            (Cause("StopLogging"), Cause("DeleteTrail")),
            (Cause("StartLogging"), Cause("CreateTrail")),
            scope="account",
        ),
        Problem(
            "trail.no_s3_write_data_events",
            "no qualifying trail records S3 write data events for all buckets",
            (Cause("PutEventSelectors"), Cause("StopLogging"), Cause("DeleteTrail")),
            (Cause("PutEventSelectors"), Cause("StartLogging")),
            scope="account",
        ),
        Problem(
            "trail.no_s3_read_data_events",
            "no qualifying trail records S3 read data events for all buckets",
            (Cause("PutEventSelectors"), Cause("StopLogging"), Cause("DeleteTrail")),
            (Cause("PutEventSelectors"), Cause("StartLogging")),
            scope="account",
        ),
        Problem(
            "trail.no_lambda_data_events",
            "no qualifying trail records Lambda invoke data events for all functions",
            (Cause("PutEventSelectors"), Cause("StopLogging"), Cause("DeleteTrail")),
            (Cause("PutEventSelectors"), Cause("StartLogging")),
            scope="account",
        ),
        Problem(
            "trail.no_insights",
            "no logging trail records CloudTrail Insights",
            (Cause("PutInsightSelectors"), Cause("StopLogging"), Cause("DeleteTrail")),
            (Cause("PutInsightSelectors"), Cause("StartLogging")),
            scope="account",
        ),
        Problem(
            "trail.untagged",
            "the trail lacks the required tags",
            (Cause("RemoveTags"), Cause("CreateTrail", note="created without the tags")),
            (Cause("AddTags"),),
        ),
        Problem(
            "lake.not_cmk_encrypted",
            "the CloudTrail Lake event data store is not encrypted with a customer managed key",
            (Cause("CreateEventDataStore"), Cause("UpdateEventDataStore")),
        ),
        Problem(
            "lake.short_retention",
            "the event data store keeps events for less than the required period",
            (Cause("CreateEventDataStore"), Cause("UpdateEventDataStore")),
        ),
        Problem(
            "lake.no_termination_protection",
            "the event data store can be deleted (termination protection off)",
            (Cause("CreateEventDataStore"), Cause("UpdateEventDataStore")),
        ),
        # Guardrails and effective permissions come from many policies (SCPs in the management
        # account, identity policies, boundaries, resource policies): no single change causes
        # them, and their events are not in the member's own event history.
        Problem(
            "guardrail.scp_missing",
            "no SCP/RCP denies the tamper actions (a design gap: no single change causes it)",
            (),
        ),
        Problem(
            "guardrail.not_attached",
            "the guardrail policy is not attached on the account's path from the root",
            (),
        ),
        Problem(
            "guardrail.exception_too_wide",
            "the guardrail's exception admits principals beyond the break-glass list",
            (),
        ),
        Problem(
            "guardrail.condition_never_matches",
            "the guardrail's condition never matches, so it denies nothing",
            (),
        ),
        Problem(
            "guardrail.condition_unknown",
            "the guardrail depends on a condition trailcheck cannot evaluate offline",
            (),
        ),
        Problem(
            "permissions.can_tamper",
            "principals beyond the allowed list can tamper with the trail set-up",
            (),
        ),
        Problem(
            "permissions.can_stop_logging",
            "principals beyond the allowed list can stop or delete the trail",
            (),
        ),
        Problem(
            "monitoring.no_chain",
            "no trail of the account delivers to a CloudWatch Logs log group (looked up on the "
            "trails that record the account)",
            (
                Cause("UpdateTrail", _any_of(*_CWL), "log group changed"),
                Cause("StopLogging"),
            ),
        ),
        Problem(
            "monitoring.trail_unqualified",
            "the trail carrying the alarms is not multi-region, logging, all management events",
            (
                Cause("StopLogging"),
                Cause("UpdateTrail", _false("isMultiRegionTrail"), "isMultiRegionTrail false"),
                Cause(
                    "PutEventSelectors",
                    lambda p: not _records_all_management(p),
                    "selectors without all management events",
                ),
            ),
            (Cause("StartLogging"),),
        ),
        Problem(
            "monitoring.log_group_missing",
            "the monitoring log group does not exist",
            (Cause("DeleteLogGroup"), Cause("UpdateTrail", _any_of(*_CWL), "log group changed")),
        ),
        Problem(
            "monitoring.filter_missing",
            "no metric filter matches the control's events",
            (
                Cause("DeleteMetricFilter", note="of a filter now gone that was meant for it"),
                Cause("PutMetricFilter", note="of a filter the finding names"),
            ),
        ),
        Problem(
            "monitoring.alarm_missing",
            "no working alarm watches the filter's metric",
            (Cause("PutMetricAlarm"), Cause("DeleteAlarms"), Cause("DisableAlarmActions")),
            (Cause("EnableAlarmActions"),),
        ),
        Problem(
            "monitoring.subscriber_missing",
            "the alarm's topic has no confirmed subscriber",
            (Cause("Unsubscribe"), Cause("DeleteTopic"), Cause("SetTopicAttributes")),
        ),
        Problem(
            "monitoring.filter_overbroad",
            "the metric filter also counts benign look-alikes",
            (Cause("PutMetricFilter", note="of that filter"),),
        ),
    )
}


def problem_events(codes: Iterable[str]) -> frozenset[str]:
    """Every event name that can cause one of `codes` (unknown codes: none)."""
    return frozenset(n for c in codes if c in PROBLEMS for n in PROBLEMS[c].event_names)


def _effects(record: Mapping[str, Any], restores: bool) -> list[str]:
    if record.get("errorCode"):
        return []  # a failed call changes nothing
    name = record.get("eventName")
    params = record.get("requestParameters")
    params = params if isinstance(params, Mapping) else {}
    return [
        p.code
        for p in PROBLEMS.values()
        if any(c.matches(str(name), params) for c in (p.restores if restores else p.causes))
    ]


def causes_of(record: Mapping[str, Any]) -> list[str]:
    """The problem codes a CloudTrail record can cause (none for a failed call)."""
    return _effects(record, restores=False)


def restores_of(record: Mapping[str, Any]) -> list[str]:
    """The problem codes a CloudTrail record can undo (none for a failed call)."""
    return _effects(record, restores=True)


def problems_markdown() -> str:
    """The table of problem codes and their events (docs/who.md, generated)."""
    lines = [
        "| problem | meaning | caused by (successful calls) | undone by | looked up |",
        "|---|---|---|---|---|",
    ]
    for code, p in sorted(PROBLEMS.items()):
        causes = ", ".join(f"`{c.describe()}`" for c in p.causes) or "no single change"
        restores = ", ".join(f"`{c.describe()}`" for c in p.restores) or "—"
        where = "on the resources"
        if p.scope == "account":
            where = f"by event name in the account ({p.region or 'every scanned region'})"
        lines.append(f"| `{code}` | {p.meaning} | {causes} | {restores} | {where} |")
    return "\n".join(lines) + "\n"
