"""Small hand-built inventories for rule tests: sensible, compliant defaults, override anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from trailcheck.model import (
    Account,
    AclGrant,
    Bucket,
    BucketAcl,
    BucketEncryption,
    Inventory,
    KeyMetadata,
    KmsKey,
    LoggingTarget,
    LogGroup,
    Notifications,
    ObjectLock,
    PublicAccessBlock,
    ScanMetadata,
    Trail,
    TrailStatus,
    Unknown,
    Versioning,
)
from trailcheck.scanner.collectors.cloudtrail import DEFAULT_SELECTORS

SCAN_TIME = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ACCOUNT = "111111111111"
REGION = "us-east-1"


def denied(operation: str) -> Unknown:
    return Unknown(operation=operation, error_code="AccessDenied", message="not authorized")


def make_status(**overrides: Any) -> TrailStatus:
    values: dict[str, Any] = {
        "is_logging": True,
        "latest_delivery_time": SCAN_TIME - timedelta(minutes=5),
        "latest_digest_delivery_time": SCAN_TIME - timedelta(minutes=30),
        "latest_cloudwatch_logs_delivery_time": SCAN_TIME - timedelta(minutes=2),
    }
    return TrailStatus(**(values | overrides))


def make_trail(name: str = "main", account_id: str = ACCOUNT, **overrides: Any) -> Trail:
    region = overrides.pop("home_region", REGION)
    arn = f"arn:aws:cloudtrail:{region}:{account_id}:trail/{name}"
    values: dict[str, Any] = {
        "arn": arn,
        "name": name,
        "account_id": account_id,
        "home_region": region,
        "is_multi_region": True,
        "s3_bucket_name": f"logs-{account_id}",
        "log_file_validation_enabled": True,
        "kms_key_id": f"arn:aws:kms:{region}:{account_id}:key/k-{name}",
        "cloudwatch_logs_log_group_arn": (
            f"arn:aws:logs:{region}:{account_id}:log-group:ct-{name}:*"
        ),
        "status": make_status(),
        "event_selectors": DEFAULT_SELECTORS,
    }
    return Trail(**(values | overrides))


def make_key(arn: str, **overrides: Any) -> KmsKey:
    parts = arn.split(":")
    values: dict[str, Any] = {
        "arn": arn,
        "account_id": parts[4],
        "region": parts[3],
        "metadata": KeyMetadata(key_state="Enabled", enabled=True, key_manager="CUSTOMER"),
        "rotation_enabled": True,
    }
    return KmsKey(**(values | overrides))


def make_log_group(arn: str, **overrides: Any) -> LogGroup:
    parts = arn.split(":")
    name = arn.split(":log-group:", 1)[1].removesuffix(":*")
    values: dict[str, Any] = {
        "arn": arn,
        "name": name,
        "account_id": parts[4],
        "region": parts[3],
        "exists": True,
    }
    return LogGroup(**(values | overrides))


def make_bucket(name: str, owner: str = ACCOUNT, **overrides: Any) -> Bucket:
    values: dict[str, Any] = {
        "name": name,
        "owner_account_id": owner,
        "region": REGION,
        "versioning": Versioning(status="Enabled", mfa_delete="Enabled"),
        "encryption": BucketEncryption(algorithm="aws:kms", kms_key_id="k"),
        "object_lock": ObjectLock(enabled=True, mode="COMPLIANCE", days=365),
        "policy": None,
        "public_access_block": PublicAccessBlock(
            block_public_acls=True,
            ignore_public_acls=True,
            block_public_policy=True,
            restrict_public_buckets=True,
        ),
        "policy_is_public": None,
        "acl": BucketAcl(
            owner_id="owner-canonical-id",
            grants=(
                AclGrant(
                    grantee_type="CanonicalUser",
                    grantee="owner-canonical-id",
                    permission="FULL_CONTROL",
                ),
            ),
        ),
        "lifecycle": None,
        "logging": LoggingTarget(target_bucket=f"access-logs-{owner}", target_prefix=f"{name}/"),
        "notifications": Notifications(eventbridge=True),
        "account_public_access_block": None,
    }
    return Bucket(**(values | overrides))


def make_account(account_id: str = ACCOUNT, **overrides: Any) -> Account:
    values: dict[str, Any] = {"account_id": account_id, "regions": (REGION, "eu-west-1")}
    return Account(**(values | overrides))


def make_inventory(
    trails: list[Trail] | None = None,
    accounts: list[Account] | None = None,
    *,
    with_resources: bool = True,
    buckets: list[Bucket] | None = None,
    keys: list[KmsKey] | None = None,
    log_groups: list[LogGroup] | None = None,
) -> Inventory:
    """An inventory of `accounts` (default: one) owning `trails` (default: one good trail).

    With `with_resources`, every KMS key and log group the trails name is added in a good
    state unless given explicitly.
    """
    trails = [make_trail()] if trails is None else trails
    if accounts is None:
        ids = sorted({t.account_id for t in trails} or {ACCOUNT})
        accounts = [make_account(a) for a in ids]
    accounts = [
        a
        if a.trail_arns
        else a.model_copy(
            update={"trail_arns": tuple(t.arn for t in trails if t.account_id == a.account_id)}
        )
        for a in accounts
    ]
    key_map = {k.arn: k for k in keys or []}
    group_map = {g.arn: g for g in log_groups or []}
    if with_resources:
        for t in trails:
            if t.kms_key_arn and t.kms_key_arn not in key_map:
                key_map[t.kms_key_arn] = make_key(t.kms_key_arn)
            arn = t.cloudwatch_logs_log_group_arn
            if arn and arn not in group_map:
                group_map[arn] = make_log_group(arn)
    return Inventory(
        metadata=ScanMetadata(
            tool_version="test", started_at=SCAN_TIME, finished_at=SCAN_TIME + timedelta(seconds=3)
        ),
        accounts={a.account_id: a for a in accounts},
        trails={t.arn: t for t in trails},
        buckets={b.name: b for b in buckets or []},
        kms_keys=key_map,
        log_groups=group_map,
    )
