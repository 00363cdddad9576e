"""KMS: the keys trails encrypt their logs with, each read once in its own account and region."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from trailcheck.model import KeyMetadata, KmsKey, Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call

SPEC = CollectorSpec(
    name="kms",
    provides=frozenset({"kms_keys"}),
    permissions=("kms:DescribeKey", "kms:GetKeyRotationStatus"),
)
# The key policy (who can disable, delete or re-permission the key): read for the who-can rules.
POLICY_SPEC = CollectorSpec(
    name="kms-key-policy",
    provides=frozenset({"key_policies"}),
    permissions=("kms:GetKeyPolicy",),
)


def collect_key(access: AccountAccess, arn: str, *, policy: bool = False) -> KmsKey:
    """DescribeKey, then GetKeyRotationStatus for customer-managed symmetric keys, and the key
    policy (GetKeyPolicy) when `policy`."""
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
    key = KmsKey(
        arn=arn, account_id=account_id, region=region, metadata=metadata, rotation_enabled=rotation
    )
    return key.model_copy(update={"policy": key_policy(client, arn)}) if policy else key


def key_policy(client: Any, arn: str) -> dict[str, Any] | Unknown:
    """The key's default policy document, or why it could not be read."""
    response = call(client, "GetKeyPolicy", KeyId=arn, PolicyName="default")
    if response is None or isinstance(response, Unknown):
        return response or Unknown(operation="kms:GetKeyPolicy", error_code="EmptyResponse")
    try:
        document = json.loads(response.get("Policy") or "")
    except json.JSONDecodeError as error:
        return Unknown(operation="kms:GetKeyPolicy", error_code="InvalidPolicy", message=str(error))
    if not isinstance(document, dict):
        return Unknown(operation="kms:GetKeyPolicy", error_code="InvalidPolicy")
    return document
