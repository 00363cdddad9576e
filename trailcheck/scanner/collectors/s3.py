"""S3: the buckets trails write to, each read once from the account that owns it.

Per bucket (owner scanned): GetBucketLocation, then with a client in the bucket's region
GetBucketVersioning, GetBucketEncryption, GetObjectLockConfiguration, GetBucketPolicy,
GetBucketPolicyStatus (only when there is a policy), GetPublicAccessBlock, GetBucketAcl,
GetBucketLifecycleConfiguration, GetBucketLogging, GetBucketNotificationConfiguration: 10 or 11
calls. Per owner account, once: S3 Control GetPublicAccessBlock (the account-level setting).
A bucket no scanned account owns gets one GetBucketLocation (to tell NoSuchBucket from
AccessDenied) and every fact unknown: its owner must be scanned for it to be judged.
"""

from __future__ import annotations

import json
from typing import Any

from trailcheck.model import (
    AclGrant,
    Bucket,
    BucketAcl,
    BucketEncryption,
    LifecycleRule,
    LifecycleTransition,
    LoggingTarget,
    Notifications,
    NotificationTarget,
    ObjectLock,
    PublicAccessBlock,
    Unknown,
    Versioning,
)
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call

SPEC = CollectorSpec(
    name="s3",
    provides=frozenset({"buckets"}),
    permissions=(
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
        "s3:GetBucketVersioning",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketPolicy",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetBucketPolicyStatus",
        "s3:GetBucketAcl",
        "s3:GetLifecycleConfiguration",
        "s3:GetBucketLogging",
        "s3:GetBucketNotification",
        "s3:GetAccountPublicAccessBlock",
    ),
)

GLOBAL_REGION = "us-east-1"


def list_bucket_names(access: AccountAccess) -> tuple[str, ...] | Unknown:
    """ListBuckets: the names of the buckets the account owns (tells us who owns a bucket)."""
    listed = list_buckets(access)
    return listed if isinstance(listed, Unknown) else tuple(sorted(listed))


def list_buckets(access: AccountAccess) -> dict[str, str | None] | Unknown:
    """ListBuckets: name → region (`BucketRegion`, which AWS returns since 2024; None when an
    endpoint does not) of every bucket the account owns."""
    response = call(access.client("s3", GLOBAL_REGION), "ListBuckets")
    if response is None:
        return {}
    if isinstance(response, Unknown):
        return response
    return {b["Name"]: b.get("BucketRegion") for b in response.get("Buckets", [])}


def collect_bucket(access: AccountAccess, name: str, owner: str | Unknown) -> Bucket:
    """Read one bucket's configuration with `access` (the owner's, when the owner is scanned).

    The account-level Public Access Block is read apart, once per owner account
    (`account_public_access_block`), and attached by the scan.
    """
    region = _bucket_region(access, name)
    if isinstance(owner, Unknown):
        return unreadable_bucket(name, owner, region)
    client = access.client("s3", region if isinstance(region, str) else GLOBAL_REGION)
    policy = _policy(call(client, "GetBucketPolicy", Bucket=name, absent=("NoSuchBucketPolicy",)))
    policy_is_public: bool | Unknown | None = policy if isinstance(policy, Unknown) else None
    if policy is not None and not isinstance(policy, Unknown):
        policy_is_public = _policy_status(
            call(client, "GetBucketPolicyStatus", Bucket=name, absent=("NoSuchBucketPolicy",))
        )
    return Bucket(
        name=name,
        owner_account_id=owner,
        region=region,
        versioning=_versioning(call(client, "GetBucketVersioning", Bucket=name)),
        encryption=_encryption(
            call(
                client,
                "GetBucketEncryption",
                Bucket=name,
                absent=("ServerSideEncryptionConfigurationNotFoundError",),
            )
        ),
        object_lock=_object_lock(
            call(
                client,
                "GetObjectLockConfiguration",
                Bucket=name,
                absent=("ObjectLockConfigurationNotFoundError",),
            )
        ),
        policy=policy,
        public_access_block=_public_access_block(
            call(
                client,
                "GetPublicAccessBlock",
                Bucket=name,
                absent=("NoSuchPublicAccessBlockConfiguration",),
            )
        ),
        policy_is_public=policy_is_public,
        acl=_acl(call(client, "GetBucketAcl", Bucket=name)),
        lifecycle=_lifecycle(
            call(
                client,
                "GetBucketLifecycleConfiguration",
                Bucket=name,
                absent=("NoSuchLifecycleConfiguration",),
            )
        ),
        logging=_logging(call(client, "GetBucketLogging", Bucket=name)),
        notifications=_notifications(
            call(client, "GetBucketNotificationConfiguration", Bucket=name)
        ),
    )


def unreadable_bucket(name: str, owner: Unknown, region: str | Unknown) -> Bucket:
    """A bucket whose owner is not scanned: every fact unknown, with the reason.

    When GetBucketLocation already failed (NoSuchBucket, AccessDenied) that error is the reason;
    otherwise the owner's absence from the scan is.
    """
    reason = region if isinstance(region, Unknown) else owner
    return Bucket(
        name=name,
        owner_account_id=owner,
        region=region,
        versioning=reason,
        encryption=reason,
        object_lock=reason,
        policy=reason,
        public_access_block=reason,
        policy_is_public=reason,
        acl=reason,
        lifecycle=reason,
        logging=reason,
        notifications=reason,
        account_public_access_block=reason,
    )


def account_public_access_block(
    access: AccountAccess, account_id: str
) -> PublicAccessBlock | Unknown | None:
    """S3 Control GetPublicAccessBlock: the account-level setting of `account_id` (once each)."""
    client = access.client("s3control", GLOBAL_REGION)
    return _public_access_block(
        call(
            client,
            "GetPublicAccessBlock",
            AccountId=account_id,
            absent=("NoSuchPublicAccessBlockConfiguration",),
        )
    )


def _bucket_region(access: AccountAccess, name: str) -> str | Unknown:
    response = call(access.client("s3", GLOBAL_REGION), "GetBucketLocation", Bucket=name)
    if response is None or isinstance(response, Unknown):
        return response or Unknown(operation="s3:GetBucketLocation", error_code="EmptyResponse")
    # S3 answers null for us-east-1 and "EU" for the oldest eu-west-1 buckets.
    location = response.get("LocationConstraint") or GLOBAL_REGION
    return "eu-west-1" if location == "EU" else str(location)


def _versioning(response: dict[str, Any] | Unknown | None) -> Versioning | Unknown:
    if isinstance(response, Unknown):
        return response
    response = response or {}
    return Versioning(status=response.get("Status"), mfa_delete=response.get("MFADelete"))


def _encryption(response: dict[str, Any] | Unknown | None) -> BucketEncryption | Unknown | None:
    if response is None or isinstance(response, Unknown):
        return response
    rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    if not rules:
        return None
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    return BucketEncryption(
        algorithm=default.get("SSEAlgorithm", "AES256"),
        kms_key_id=default.get("KMSMasterKeyID") or None,
        bucket_key_enabled=bool(rules[0].get("BucketKeyEnabled", False)),
    )


def _object_lock(response: dict[str, Any] | Unknown | None) -> ObjectLock | Unknown | None:
    if response is None or isinstance(response, Unknown):
        return response
    config = response.get("ObjectLockConfiguration", {})
    retention = config.get("Rule", {}).get("DefaultRetention", {})
    return ObjectLock(
        enabled=config.get("ObjectLockEnabled") == "Enabled",
        mode=retention.get("Mode"),
        # AWS gives Days or Years (each at least 1); a 0 is "not set" (moto answers Days 0).
        days=retention.get("Days") or None,
        years=retention.get("Years") or None,
    )


def _policy(response: dict[str, Any] | Unknown | None) -> dict[str, Any] | Unknown | None:
    if response is None or isinstance(response, Unknown):
        return response
    try:
        document = json.loads(response.get("Policy", ""))
    except json.JSONDecodeError as exc:
        return Unknown(operation="s3:GetBucketPolicy", error_code="InvalidJson", message=str(exc))
    if not isinstance(document, dict):
        return Unknown(operation="s3:GetBucketPolicy", error_code="InvalidJson")
    return document


def _public_access_block(
    response: dict[str, Any] | Unknown | None,
) -> PublicAccessBlock | Unknown | None:
    if response is None or isinstance(response, Unknown):
        return response
    config = response.get("PublicAccessBlockConfiguration", {})
    return PublicAccessBlock(
        block_public_acls=bool(config.get("BlockPublicAcls", False)),
        ignore_public_acls=bool(config.get("IgnorePublicAcls", False)),
        block_public_policy=bool(config.get("BlockPublicPolicy", False)),
        restrict_public_buckets=bool(config.get("RestrictPublicBuckets", False)),
    )


def _policy_status(response: dict[str, Any] | Unknown | None) -> bool | Unknown | None:
    if response is None or isinstance(response, Unknown):
        return response
    return bool(response.get("PolicyStatus", {}).get("IsPublic", False))


def _acl(response: dict[str, Any] | Unknown | None) -> BucketAcl | Unknown:
    if isinstance(response, Unknown):
        return response
    response = response or {}
    grants = []
    for grant in response.get("Grants", []):
        grantee = grant.get("Grantee", {})
        kind = str(grantee.get("Type", "CanonicalUser"))
        who = grantee.get("URI") or grantee.get("ID") or grantee.get("EmailAddress") or ""
        grants.append(
            AclGrant(
                grantee_type=kind,
                grantee=str(who),
                permission=str(grant.get("Permission", "")),
                display_name=grantee.get("DisplayName"),
            )
        )
    return BucketAcl(owner_id=response.get("Owner", {}).get("ID"), grants=tuple(grants))


def _transitions(items: list[dict[str, Any]], days_key: str) -> tuple[LifecycleTransition, ...]:
    result = []
    for item in items:
        date = item.get("Date")
        result.append(
            LifecycleTransition(
                storage_class=str(item.get("StorageClass", "")),
                days=item.get(days_key),
                date=date.date().isoformat() if hasattr(date, "date") else date,
            )
        )
    return tuple(result)


def _lifecycle(
    response: dict[str, Any] | Unknown | None,
) -> tuple[LifecycleRule, ...] | Unknown | None:
    if response is None or isinstance(response, Unknown):
        return response
    rules = []
    for raw in response.get("Rules", []):
        filt = raw.get("Filter") or {}
        inner = filt.get("And") or filt
        tags = [inner["Tag"]] if "Tag" in inner else list(inner.get("Tags", []))
        expiration = raw.get("Expiration") or {}
        exp_date = expiration.get("Date")
        noncurrent = raw.get("NoncurrentVersionExpiration") or {}
        rules.append(
            LifecycleRule(
                id=raw.get("ID"),
                enabled=raw.get("Status") == "Enabled",
                prefix=str(inner.get("Prefix", raw.get("Prefix", "")) or ""),
                tags=tuple(f"{t.get('Key')}={t.get('Value')}" for t in tags),
                object_size_greater_than=inner.get("ObjectSizeGreaterThan"),
                object_size_less_than=inner.get("ObjectSizeLessThan"),
                expiration_days=expiration.get("Days"),
                expiration_date=exp_date.date().isoformat()
                if hasattr(exp_date, "date")
                else exp_date,
                expired_object_delete_marker=bool(
                    expiration.get("ExpiredObjectDeleteMarker", False)
                ),
                noncurrent_expiration_days=noncurrent.get("NoncurrentDays"),
                newer_noncurrent_versions=noncurrent.get("NewerNoncurrentVersions"),
                transitions=_transitions(raw.get("Transitions", []), "Days"),
                noncurrent_transitions=_transitions(
                    raw.get("NoncurrentVersionTransitions", []), "NoncurrentDays"
                ),
            )
        )
    return tuple(rules)


def _logging(response: dict[str, Any] | Unknown | None) -> LoggingTarget | Unknown | None:
    if response is None or isinstance(response, Unknown):
        return response
    enabled = response.get("LoggingEnabled")
    if not enabled:
        return None
    return LoggingTarget(
        target_bucket=str(enabled.get("TargetBucket", "")),
        target_prefix=str(enabled.get("TargetPrefix", "")),
    )


_NOTIFICATION_KINDS = (
    ("TopicConfigurations", "TopicArn", "SNS"),
    ("QueueConfigurations", "QueueArn", "SQS"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn", "Lambda"),
)


def _notifications(response: dict[str, Any] | Unknown | None) -> Notifications | Unknown:
    if isinstance(response, Unknown):
        return response
    response = response or {}
    targets = []
    for list_key, arn_key, kind in _NOTIFICATION_KINDS:
        for item in response.get(list_key, []):
            rules = item.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            by_name = {str(r.get("Name", "")).lower(): r.get("Value") for r in rules}
            targets.append(
                NotificationTarget(
                    kind=kind,  # type: ignore[arg-type]
                    arn=str(item.get(arn_key, "")),
                    events=tuple(item.get("Events", [])),
                    prefix=by_name.get("prefix"),
                    suffix=by_name.get("suffix"),
                )
            )
    return Notifications(targets=tuple(targets), eventbridge="EventBridgeConfiguration" in response)
