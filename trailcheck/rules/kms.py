"""KMS rules: logs encrypted with a usable customer-managed key, and that key rotated."""

from __future__ import annotations

from collections.abc import Iterator

from trailcheck.model import Finding, Inventory, KmsKey, Severity, Status, Trail, Unknown
from trailcheck.rules.base import Remediation, RuleContext, rule


@rule(
    id="CT.TRAIL.KMS_ENCRYPTION",
    change_events=("UpdateTrail", "DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"),
    title="Logs are encrypted with SSE-KMS using an enabled key",
    severity=Severity.MEDIUM,
    resource_type="AWS::CloudTrail::Trail",
    controls={
        "cis-aws-1.4": ("3.7",),
        "cis-aws-3.0": ("3.5",),
        "cis-aws-5.0": ("3.5",),
        "aws-fsbp": ("CloudTrail.2",),
    },
    requires={"trails", "kms_keys"},
    remediation=Remediation(
        summary="Encrypt the trail's log files with a customer-managed KMS key whose policy "
        "lets CloudTrail encrypt and your readers decrypt; keep the key enabled.",
        cli="aws cloudtrail update-trail --name {trail_arn} --kms-key-id KEY_ARN",
        terraform="kms_key_id = aws_kms_key.cloudtrail.arn  # in the aws_cloudtrail resource",
    ),
)
def kms_encryption(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """SSE-KMS adds a second, separately audited permission (kms:Decrypt) to read the logs. A
    key that is disabled or pending deletion stops delivery of new logs and, once deleted,
    makes every log encrypted with it unreadable."""

    def judge(trail: Trail) -> Iterator[Finding]:
        key_arn = trail.kms_key_arn
        if not key_arn:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                "log files are not encrypted with SSE-KMS (S3 default encryption only)",
                evidence={"trail_arn": trail.arn, "KmsKeyId": None},
            )
            return
        key = inventory.kms_keys.get(key_arn)
        evidence = {"trail_arn": trail.arn, "KmsKeyId": key_arn}
        if key is None:
            yield ctx.for_trail(
                trail, Status.ERROR, f"key {key_arn} was not collected", evidence=evidence
            )
            return
        if isinstance(key.metadata, Unknown):
            yield ctx.for_trail(
                trail,
                Status.ERROR,
                f"cannot read key {key_arn}: {key.metadata.describe()}"
                + _outside_hint(inventory, key.account_id),
                evidence=evidence,
            )
            return
        evidence |= {"key_state": key.metadata.key_state, "key_account": key.account_id}
        if key.metadata.key_state == "PendingDeletion" or not key.metadata.enabled:
            when = key.metadata.deletion_date
            suffix = f" (deletion on {when.date().isoformat()})" if when else ""
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                f"key {key_arn} is {key.metadata.key_state}{suffix}: "
                "CloudTrail cannot encrypt new logs",
                severity=Severity.HIGH,
                evidence=evidence,
            )
            return
        yield ctx.for_trail(
            trail, Status.PASS, f"encrypted with enabled key {key_arn}", evidence=evidence
        )

    yield from ctx.per_owned_trail(inventory, judge)


@rule(
    id="CT.KMS.ROTATION",
    change_events=("DisableKeyRotation",),
    title="Customer-managed keys that encrypt CloudTrail logs rotate automatically",
    severity=Severity.MEDIUM,
    resource_type="AWS::KMS::Key",
    controls={
        "cis-aws-1.4": ("3.8",),
        "cis-aws-3.0": ("3.6",),
        "cis-aws-5.0": ("3.6",),
        "aws-fsbp": ("KMS.4",),
    },
    requires={"trails", "kms_keys"},
    remediation=Remediation(
        summary="Enable automatic rotation of the customer-managed key.",
        cli="aws kms enable-key-rotation --key-id {key_arn}",
        terraform="enable_key_rotation = true  # in the aws_kms_key resource",
    ),
)
def key_rotation(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Rotation limits how much data one key version protects and how long a leaked key stays
    useful. Judged once per key, in the account that owns it."""
    used = {t.kms_key_arn for t in inventory.trails.values() if t.kms_key_arn}
    for account in inventory.reachable_accounts():
        keys = [
            k
            for arn, k in sorted(inventory.kms_keys.items())
            if arn in used and k.account_id == account.account_id
        ]
        if not keys:
            yield ctx.not_applicable(
                account_id=account.account_id,
                region=None,
                resource_arn=f"arn:{inventory.metadata.partition}:iam::{account.account_id}:root",
                resource_type="AWS::::Account",
                reason="the account owns no KMS key used by a trail",
            )
            continue
        for key in keys:
            yield _rotation_finding(ctx, key)


def _rotation_finding(ctx: RuleContext, key: KmsKey) -> Finding:
    base = {"account_id": key.account_id, "region": key.region, "resource_arn": key.arn}
    evidence = {"key_arn": key.arn}
    if isinstance(key.metadata, Unknown):
        return ctx.error(
            **base, reason=f"cannot describe the key: {key.metadata.describe()}", evidence=evidence
        )
    evidence |= {"key_manager": key.metadata.key_manager, "key_spec": key.metadata.key_spec}
    if key.rotation_enabled is None:
        return ctx.not_applicable(
            **base,
            reason=f"rotation is managed by AWS or not supported ({key.metadata.key_manager}, "
            f"{key.metadata.key_spec})",
            evidence=evidence,
        )
    if isinstance(key.rotation_enabled, Unknown):
        return ctx.error(
            **base,
            reason=f"cannot read rotation status: {key.rotation_enabled.describe()}",
            evidence=evidence,
        )
    evidence["KeyRotationEnabled"] = key.rotation_enabled
    if key.rotation_enabled:
        return ctx.passed(**base, reason="automatic key rotation is enabled", evidence=evidence)
    return ctx.failed(**base, reason="automatic key rotation is disabled", evidence=evidence)


def _outside_hint(inventory: Inventory, account_id: str) -> str:
    if account_id in inventory.accounts:
        return ""
    return (
        f" (the key is owned by {account_id}, which is not in this scan: "
        "use --org or grant read access)"
    )
