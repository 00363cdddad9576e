"""KMS rules: logs encrypted with a usable customer-managed key, and that key rotated."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import JsonValue

from trailcheck.model import (
    Finding,
    Inventory,
    KeyMetadata,
    KmsKey,
    Severity,
    Status,
    Trail,
    Unknown,
)
from trailcheck.rules.base import Remediation, RuleContext, Unseen, Visibility, rule

SSE_KMS_CONTROLS = {
    "cis-aws-1.4": ("3.7",),
    "cis-aws-3.0": ("3.5",),
    "cis-aws-5.0": ("3.5",),
    "cis-aws-6.0": ("4.5",),
    "cis-aws-7.0": ("4.5",),
    "aws-fsbp": ("CloudTrail.2",),
}
_ENCRYPT = Remediation(
    summary="Encrypt the trail's log files with a customer-managed KMS key whose policy "
    "lets CloudTrail encrypt and your readers decrypt; keep the key enabled.",
    cli="aws cloudtrail update-trail --name {trail_arn} --kms-key-id {key_arn}",
    terraform="kms_key_id = aws_kms_key.cloudtrail.arn  # in the aws_cloudtrail resource",
)


@rule(
    id="CT.TRAIL.SSE_KMS",
    change_events=("UpdateTrail",),
    title="The trail is configured to encrypt its log files with SSE-KMS",
    severity=Severity.MEDIUM,
    resource_type="AWS::CloudTrail::Trail",
    # Decides: CIS 3.7/3.5 and CloudTrail.2 test only that the trail has a KmsKeyId. Whether
    # that key can still encrypt is CT.TRAIL.KMS_ENCRYPTION's own judgement.
    controls=SSE_KMS_CONTROLS,
    related_controls={"pci-dss-4.0": ("10.3.1",), "nist-800-53-r5": ("AU-9",)},
    requires={"trails"},
    remediation=_ENCRYPT,
)
def sse_kms(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """The framework reading of log encryption: the trail names a KMS key (KmsKeyId), so
    CloudTrail encrypts each log file with SSE-KMS and reading it needs kms:Decrypt too."""

    def judge(trail: Trail) -> Iterator[Finding]:
        evidence = {"trail_arn": trail.arn, "KmsKeyId": trail.kms_key_arn}
        if trail.kms_key_arn:
            yield ctx.for_trail(
                trail,
                Status.PASS,
                f"the trail encrypts with SSE-KMS (key {trail.kms_key_arn})",
                evidence=evidence,
            )
        else:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                "the trail has no KmsKeyId: log files get S3 default encryption only",
                evidence=evidence,
                problems=["trail.no_kms"],
            )

    yield from ctx.per_owned_trail(inventory, judge)


@rule(
    id="CT.TRAIL.KMS_ENCRYPTION",
    change_events=("UpdateTrail", "DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"),
    title="Logs are encrypted with SSE-KMS using an enabled key",
    severity=Severity.MEDIUM,
    resource_type="AWS::CloudTrail::Trail",
    # Relates only: CIS 3.7/3.5 and CloudTrail.2 pass a trail whose key is disabled or pending
    # deletion (they test KmsKeyId alone); CT.TRAIL.SSE_KMS decides them.
    controls={},
    # It also relates to KMS.3 (no key scheduled for deletion), which looks at every key,
    # not at whether a trail can still encrypt with it.
    related_controls={
        **SSE_KMS_CONTROLS,
        "aws-fsbp": ("CloudTrail.2", "KMS.3"),
        "pci-dss-4.0": ("10.3.1",),
        "nist-800-53-r5": ("AU-9",),
    },
    requires={"trails", "kms_keys"},
    remediation=_ENCRYPT,
)
def kms_encryption(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """SSE-KMS adds a second, separately audited permission (kms:Decrypt) to read the logs. A
    key that is disabled or pending deletion stops delivery of new logs and, once deleted,
    makes every log encrypted with it unreadable."""

    visibility = Visibility(inventory)

    def judge(trail: Trail) -> Iterator[Finding]:
        key_arn = trail.kms_key_arn
        if not key_arn:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                "log files are not encrypted with SSE-KMS (S3 default encryption only)",
                evidence={"trail_arn": trail.arn, "KmsKeyId": None},
                problems=["trail.no_kms"],
            )
            return
        evidence = {"trail_arn": trail.arn, "KmsKeyId": key_arn, "key_arn": key_arn}
        unseen = visibility.kms_key(key_arn)
        if unseen is not None:
            yield ctx.unseen(
                _with_outside_view(unseen, inventory.kms_keys.get(key_arn)),
                account_id=trail.account_id,
                region=trail.home_region,
                resource_arn=trail.arn,
                evidence=evidence,
            )
            return
        key = inventory.kms_keys[key_arn]
        metadata: KeyMetadata = key.metadata  # type: ignore[assignment]  # known: Visibility
        evidence |= {"key_state": metadata.key_state, "key_account": key.account_id}
        if metadata.key_state == "PendingDeletion" or not metadata.enabled:
            when = metadata.deletion_date
            suffix = f" (deletion on {when.date().isoformat()})" if when else ""
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                f"key {key_arn} is {metadata.key_state}{suffix}: "
                "CloudTrail cannot encrypt new logs",
                severity=Severity.HIGH,
                evidence=evidence,
                remediation=_key_fix(key.metadata.key_state),
                problems=["trail.kms_key_unusable"],
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
    # Decides: CIS 3.8/3.6 and KMS.4 test KeyRotationEnabled on each customer-managed
    # symmetric key (judged here for the keys trails use).
    controls={
        "cis-aws-1.4": ("3.8",),
        "cis-aws-3.0": ("3.6",),
        "cis-aws-5.0": ("3.6",),
        "cis-aws-6.0": ("4.6",),
        "cis-aws-7.0": ("4.6",),
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
    visibility = Visibility(inventory)

    def cannot_judge(arn: str, users: list[Trail], unseen: Unseen, place: str) -> Finding:
        key = inventory.kms_keys.get(arn)
        return ctx.unseen(
            _with_outside_view(unseen, key),
            account_id=place,
            region=arn.split(":")[3] or None,
            resource_arn=arn,
            evidence={"key_arn": arn, "used_by": [t.arn for t in users]},
        )

    yield from ctx.per_used_resource(
        inventory,
        lambda trail: trail.kms_key_arn,
        lambda arn: arn.split(":")[4],
        lambda arn: visibility.kms_key(arn, needs=("metadata", "rotation_enabled")),
        lambda arn, users: [_rotation_finding(ctx, inventory.kms_keys[arn])],
        cannot_judge,
        kind="KMS key",
        noun="KMS key used by a trail",
    )


def _rotation_finding(ctx: RuleContext, key: KmsKey) -> Finding:
    """The verdict on a key whose facts `Visibility.kms_key` found known."""
    base = {"account_id": key.account_id, "region": key.region, "resource_arn": key.arn}
    metadata: KeyMetadata = key.metadata  # type: ignore[assignment]
    evidence: dict[str, JsonValue] = {
        "key_arn": key.arn,
        "key_manager": metadata.key_manager,
        "key_spec": metadata.key_spec,
    }
    if key.rotation_enabled is None:
        return ctx.not_applicable(
            **base,
            reason=f"rotation is managed by AWS or not supported ({metadata.key_manager}, "
            f"{metadata.key_spec})",
            evidence=evidence,
        )
    evidence["KeyRotationEnabled"] = key.rotation_enabled
    if key.rotation_enabled:
        return ctx.passed(**base, reason="automatic key rotation is enabled", evidence=evidence)
    return ctx.failed(
        **base,
        reason="automatic key rotation is disabled",
        evidence=evidence,
        problems=["kms.rotation_off"],
    )


def _key_fix(state: str) -> Remediation:
    """The fix for a trail key that cannot encrypt: cancel a scheduled deletion (which leaves
    the key Disabled) and enable it, or enable a disabled key."""
    if state == "PendingDeletion":
        return Remediation(
            summary="Cancel the scheduled deletion of the key, then enable it again (a "
            "cancelled key stays Disabled): once deleted, every log file encrypted with it is "
            "unreadable for good.",
            cli="aws kms cancel-key-deletion --key-id {key_arn} && "
            "aws kms enable-key --key-id {key_arn}",
            terraform="# remove the pending destroy of the aws_kms_key (or restore the resource "
            "in code), then: is_enabled = true  # in the aws_kms_key resource",
        )
    return Remediation(
        summary="Enable the key again so CloudTrail can encrypt new log files (and readers can "
        "decrypt the old ones).",
        cli="aws kms enable-key --key-id {key_arn}",
        terraform="is_enabled = true  # in the aws_kms_key resource",
    )


def _with_outside_view(unseen: Unseen, key: KmsKey | None) -> Unseen:
    """Add what a scanned account could read of a key its owner could not judge."""
    if key is None or isinstance(key.metadata, Unknown) or not unseen.add_to_scan:
        return unseen
    rotation = key.rotation_enabled
    view = f"{key.metadata.key_state}"
    if isinstance(rotation, bool):
        view += f", automatic rotation {'enabled' if rotation else 'disabled'}"
    return Unseen(f"{unseen.reason}; as read from a scanned account: {view}", unseen.add_to_scan)
