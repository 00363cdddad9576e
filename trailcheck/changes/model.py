"""The change-event record and what a lookup found for one resource.

`ChangeEvent` has exactly the fields every consumer relies on (findings' `evidence.last_change`
and each line of a `trailcheck events` JSON Lines file). It is built from a raw CloudTrail record
(`from_record`), the same whether the record came from LookupEvents (its `CloudTrailEvent`) or
from a log file in S3.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChangeEvent(BaseModel):
    """One management write event: who did what to which resources, when and from where."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_time: str  # ISO 8601 UTC with 'Z'
    event_name: str
    event_source: str
    account_id: str | None
    region: str | None
    principal_arn: str | None
    identity_type: str | None
    role_name: str | None = None  # assumed roles only
    session_name: str | None = None  # assumed roles only
    source_ip: str | None
    user_agent: str | None
    event_id: str | None
    is_root: bool
    is_aws_service: bool
    resources: list[str] = Field(default_factory=list)
    # a failed call (AWS records those too): never a change, never blamed, never interrupts
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ChangeEvent:
        """The change event of one CloudTrail record (a record without userIdentity is kept,
        with the identity fields empty)."""
        identity = record.get("userIdentity")
        identity = identity if isinstance(identity, Mapping) else {}
        kind = _text(identity.get("type"))
        principal = _text(identity.get("arn"))
        role_name = session_name = None
        if kind == "AssumedRole":
            issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
            role_name = _text(issuer.get("userName"))
            if principal and ":assumed-role/" in principal:
                parts = principal.split(":assumed-role/", 1)[1].split("/")
                role_name = role_name or parts[0]
                session_name = parts[1] if len(parts) > 1 else None
        invoked_by = _text(identity.get("invokedBy"))
        source_ip = _text(record.get("sourceIPAddress"))
        is_service = (
            kind == "AWSService"
            or (invoked_by or "").endswith(".amazonaws.com")
            or (source_ip or "").endswith(".amazonaws.com")
        )
        if principal is None and kind == "AWSService":
            principal = invoked_by
        return cls(
            event_time=iso_z(record.get("eventTime")),
            event_name=_text(record.get("eventName")) or "",
            event_source=_text(record.get("eventSource")) or "",
            account_id=_text(record.get("recipientAccountId")) or _text(identity.get("accountId")),
            region=_text(record.get("awsRegion")),
            principal_arn=principal,
            identity_type=kind,
            role_name=role_name,
            session_name=session_name,
            source_ip=source_ip,
            user_agent=_text(record.get("userAgent")),
            event_id=_text(record.get("eventID")),
            is_root=kind == "Root",
            is_aws_service=is_service,
            resources=record_resources(record),
        )

    def who(self) -> str:
        """The actor in a few words: ARN (root / AWS service marked)."""
        if self.is_root:
            return f"the root user ({self.principal_arn or self.account_id})"
        if self.is_aws_service and self.identity_type == "AWSService":
            return f"AWS service {self.principal_arn or self.source_ip}"
        return (
            self.principal_arn
            or f"an unidentified caller ({self.identity_type or 'no userIdentity'})"
        )

    def sentence(self) -> str:
        """`changed by <who> (<EventName>) at <time> from <ip>` for a finding's reason."""
        where = f" from {self.source_ip}" if self.source_ip else ""
        return f"changed by {self.who()} ({self.event_name}) at {self.event_time}{where}"


def iso_z(value: Any) -> str:
    """ISO 8601 UTC with 'Z' for a datetime or CloudTrail time text ('' when missing)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and value:
        try:
            return iso_z(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return ""


def record_resources(record: Mapping[str, Any]) -> list[str]:
    """ARNs or names of the resources a record names (its `resources`, else the request)."""
    found: list[str] = []
    for item in record.get("resources") or ():
        if isinstance(item, Mapping):
            name = item.get("ARN") or item.get("arn") or item.get("resourceName")
            if isinstance(name, str) and name not in found:
                found.append(name)
    params = record.get("requestParameters")
    if isinstance(params, Mapping):
        for key in REQUEST_RESOURCE_KEYS:
            value = params.get(key)
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, str) and v and v not in found:
                    found.append(v)
    return found


# requestParameters keys that name the resource of the change events trailcheck follows.
REQUEST_RESOURCE_KEYS = (
    "name",  # cloudtrail: trail name or ARN; events: rule name
    "trailName",  # cloudtrail PutEventSelectors / PutInsightSelectors
    "bucketName",  # s3
    "keyId",  # kms
    "logGroupName",  # logs
    "filterName",  # logs metric filters
    "alarmName",  # cloudwatch PutMetricAlarm
    "alarmNames",  # cloudwatch DeleteAlarms / DisableAlarmActions
    "topicArn",  # sns
    "subscriptionArn",  # sns Unsubscribe
    "rule",  # events RemoveTargets
)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
