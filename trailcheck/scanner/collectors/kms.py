"""KMS: the keys trails encrypt their logs with, each read once in its own account and region."""

from __future__ import annotations

from datetime import datetime

from trailcheck.model import KeyMetadata, KmsKey, Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call

SPEC = CollectorSpec(
    name="kms",
    provides=frozenset({"kms_keys"}),
    permissions=("kms:DescribeKey", "kms:GetKeyRotationStatus"),
)


def collect_key(access: AccountAccess, arn: str) -> KmsKey:
    """DescribeKey, then GetKeyRotationStatus for customer-managed symmetric keys."""
    parts = arn.split(":")
    region, account_id = parts[3], parts[4]
    client = access.client("kms", region)
    described = call(client, "DescribeKey", KeyId=arn)
    metadata: KeyMetadata | Unknown
    rotation: bool | Unknown | None = None
    if described is None or isinstance(described, Unknown):
        metadata = described or Unknown(operation="kms:DescribeKey", error_code="EmptyResponse")
        rotation = metadata
    else:
        raw = described["KeyMetadata"]
        deletion = raw.get("DeletionDate")
        metadata = KeyMetadata(
            key_state=raw.get("KeyState", "Unknown"),
            enabled=bool(raw.get("Enabled", False)),
            key_manager=raw.get("KeyManager", "CUSTOMER"),
            key_spec=raw.get("KeySpec") or raw.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT",
            deletion_date=deletion if isinstance(deletion, datetime) else None,
            multi_region=raw.get("MultiRegion"),
        )
        if metadata.key_manager == "CUSTOMER" and metadata.key_spec == "SYMMETRIC_DEFAULT":
            response = call(client, "GetKeyRotationStatus", KeyId=arn)
            if response is None or isinstance(response, Unknown):
                rotation = response or Unknown(
                    operation="kms:GetKeyRotationStatus", error_code="EmptyResponse"
                )
            else:
                rotation = bool(response.get("KeyRotationEnabled", False))
    return KmsKey(
        arn=arn, account_id=account_id, region=region, metadata=metadata, rotation_enabled=rotation
    )
