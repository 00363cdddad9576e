"""S3: the buckets trails write to, each read once from the account that owns it."""

from __future__ import annotations

import json
from typing import Any

from trailcheck.model import (
    Bucket,
    BucketEncryption,
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
    ),
)

GLOBAL_REGION = "us-east-1"


def list_bucket_names(access: AccountAccess) -> tuple[str, ...] | Unknown:
    """ListBuckets: the names of the buckets the account owns (tells us who owns a bucket)."""
    response = call(access.client("s3", GLOBAL_REGION), "ListBuckets")
    if response is None:
        return ()
    if isinstance(response, Unknown):
        return response
    return tuple(sorted(b["Name"] for b in response.get("Buckets", [])))


def collect_bucket(access: AccountAccess, name: str, owner: str | Unknown) -> Bucket:
    """Read one bucket's configuration with `access` (the owner's, when the owner is scanned)."""
    region = _bucket_region(access, name)
    client = access.client("s3", region if isinstance(region, str) else GLOBAL_REGION)
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
        policy=_policy(
            call(client, "GetBucketPolicy", Bucket=name, absent=("NoSuchBucketPolicy",))
        ),
        public_access_block=_public_access_block(
            call(
                client,
                "GetPublicAccessBlock",
                Bucket=name,
                absent=("NoSuchPublicAccessBlockConfiguration",),
            )
        ),
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
        days=retention.get("Days"),
        years=retention.get("Years"),
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
