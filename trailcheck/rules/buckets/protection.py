"""Bucket rules about keeping the logs: versioning, MFA Delete, Object Lock, lifecycle,
encryption."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from trailcheck.model import (
    Bucket,
    BucketEncryption,
    Finding,
    Inventory,
    LifecycleRule,
    LifecycleTransition,
    ObjectLock,
    Severity,
    Status,
    Trail,
    Unknown,
    Versioning,
)
from trailcheck.rules.base import Remediation, RuleContext, rule
from trailcheck.rules.buckets._common import Verdict, _unread, judge_each_bucket

# ----------------------------------------------------------------------------- protection


@rule(
    id="CT.BUCKET.VERSIONING",
    change_events=("PutBucketVersioning",),
    title="Versioning is enabled on the CloudTrail log bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Decides S3.14: it fails a bucket whose versioning is not Enabled (never enabled or
    # suspended).
    controls={"aws-fsbp": ("S3.14",)},
    related_controls={"pci-dss-4.0": ("10.3.2",), "nist-800-53-r5": ("AU-9",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Enable versioning so an overwritten or deleted log file keeps its earlier "
        "version.",
        cli="aws s3api put-bucket-versioning --bucket {bucket} "
        "--versioning-configuration Status=Enabled",
        terraform='resource "aws_s3_bucket_versioning" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n"
        '  versioning_configuration {\n    status = "Enabled"\n  }\n}',
    ),
)
def versioning(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Without versioning, deleting or overwriting a log file destroys it: one s3:DeleteObject
    erases the evidence. Versioning keeps every earlier version (and is required for MFA
    Delete and Object Lock)."""

    yield from judge_each_bucket(inventory, ctx, ("versioning",), _versioning)


def _versioning(bucket: Bucket) -> Verdict:
    status = bucket.versioning.status if isinstance(bucket.versioning, Versioning) else None
    evidence: dict[str, JsonValue] = {"Status": status}
    if status == "Enabled":
        return Verdict(Status.PASS, "versioning is enabled", evidence)
    state = "suspended" if status == "Suspended" else "never enabled"
    return Verdict(Status.FAIL, f"versioning is {state}", evidence, ("bucket.versioning_off",))


class RetentionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_days: int = Field(
        default=365, ge=1, description="How long log files must be kept and protected."
    )


class MfaDeleteParams(RetentionParams):
    accept_object_lock: Literal[False] = Field(
        default=False,
        description="Deprecated, always false: this rule applies the CIS / S3.20 test (MFA "
        "Delete) literally. Object Lock COMPLIANCE in its place is judged by "
        "CT.BUCKET.DELETE_PROTECTION.",
    )


_MFA_DELETE_CONTROLS = {
    "cis-aws-1.4": ("2.1.3",),
    "cis-aws-3.0": ("2.1.2",),
    "cis-aws-5.0": ("2.1.2",),
    "aws-fsbp": ("S3.20",),
}
_DELETE_RELATED = {"pci-dss-4.0": ("10.3.2",), "nist-800-53-r5": ("AU-9",)}


@rule(
    id="CT.BUCKET.MFA_DELETE",
    change_events=("PutBucketVersioning",),
    title="MFA Delete is enabled on the CloudTrail log bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Decides: CIS 2.1.3/2.1.2 and S3.20 test GetBucketVersioning's MFADelete = Enabled, and
    # nothing else (Object Lock does not count there; CT.BUCKET.DELETE_PROTECTION accepts it).
    controls=_MFA_DELETE_CONTROLS,
    related_controls=_DELETE_RELATED,
    requires={"trails", "buckets"},
    params=MfaDeleteParams,
    remediation=Remediation(
        summary="As the root user with an MFA device, enable MFA Delete (a lifecycle "
        "configuration must be removed first: S3 does not support both).",
        cli="aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration "
        'Status=Enabled,MFADelete=Enabled --mfa "arn:aws:iam::{bucket_owner}:mfa/'
        'root-account-mfa-device CODE"',
        terraform="# Terraform cannot enable MFA Delete without the root user's MFA code; use the "
        "CLI as root",
    ),
)
def mfa_delete(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """With MFA Delete, permanently deleting a log version or suspending versioning needs the
    root user and an MFA code: stolen administrator keys cannot erase the logs. The literal
    framework test: a bucket protected by Object Lock COMPLIANCE instead still fails here (at
    low severity, saying so) and passes CT.BUCKET.DELETE_PROTECTION."""
    params: MfaDeleteParams = ctx.params

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        versioning = bucket.versioning
        if isinstance(versioning, Unknown):
            yield _unread(ctx, bucket, writers, "versioning", versioning)
            return
        evidence: dict[str, Any] = {
            "MFADelete": versioning.mfa_delete,
            "versioning": versioning.status,
        }
        if versioning.mfa_delete == "Enabled":
            yield ctx.for_bucket(
                bucket, writers, Status.PASS, "MFA Delete is enabled", evidence=evidence
            )
            return
        reason = "MFA Delete is not enabled"
        if bucket.lifecycle and not isinstance(bucket.lifecycle, Unknown):
            reason += " (S3 does not support MFA Delete together with the lifecycle configuration)"
        lock = bucket.object_lock
        severity = None
        if not isinstance(lock, Unknown) and _locked(lock, "COMPLIANCE", params.retention_days):
            evidence["object_lock"] = lock.model_dump(mode="json") if lock else None
            reason += (
                "; Object Lock COMPLIANCE protects the log versions instead "
                "(CT.BUCKET.DELETE_PROTECTION), which this framework test does not count"
            )
            severity = Severity.LOW
        yield ctx.for_bucket(
            bucket,
            writers,
            Status.FAIL,
            reason,
            evidence=evidence,
            severity=severity,
            problems=["bucket.mfa_delete_off"],
        )

    yield from ctx.per_log_bucket(inventory, judge, needs=("versioning",))


@rule(
    id="CT.BUCKET.DELETE_PROTECTION",
    change_events=("PutBucketVersioning", "PutObjectLockConfiguration"),
    title="Log versions cannot be permanently deleted with administrator keys alone",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Relates only: trailcheck's own judgement accepts Object Lock COMPLIANCE in place of MFA
    # Delete, which CIS 2.1.3/2.1.2 and S3.20 do not (CT.BUCKET.MFA_DELETE decides them).
    controls={},
    related_controls={**_MFA_DELETE_CONTROLS, **_DELETE_RELATED},
    requires={"trails", "buckets"},
    params=RetentionParams,
    remediation=Remediation(
        summary="Protect log versions from deletion: Object Lock in COMPLIANCE mode with a "
        "default retention of at least the required days, or MFA Delete (as the root user; a "
        "lifecycle configuration must be removed first).",
        cli="aws s3api put-object-lock-configuration --bucket {bucket} "
        "--object-lock-configuration "
        "'ObjectLockEnabled=Enabled,Rule={DefaultRetention={Mode=COMPLIANCE,Days=365}}'",
        terraform='resource "aws_s3_bucket_object_lock_configuration" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n  rule {\n    default_retention {\n"
        '      mode = "COMPLIANCE"\n      days = 365\n    }\n  }\n}',
    ),
)
def delete_protection(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Stolen administrator keys must not be enough to erase the logs: MFA Delete (root user
    and an MFA code to delete a version or suspend versioning) or Object Lock in COMPLIANCE
    mode with at least the required default retention (nobody can delete a locked version)
    protects them. GOVERNANCE mode does not count: s3:BypassGovernanceRetention defeats it."""
    params: RetentionParams = ctx.params

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        versioning = bucket.versioning
        if isinstance(versioning, Unknown):  # per_log_bucket's `needs` already answered
            return
        lock = bucket.object_lock
        evidence: dict[str, Any] = {
            "MFADelete": versioning.mfa_delete,
            "object_lock": None
            if isinstance(lock, Unknown) or lock is None
            else lock.model_dump(mode="json"),
            "required_days": params.retention_days,
        }
        if versioning.mfa_delete == "Enabled":
            yield ctx.for_bucket(
                bucket, writers, Status.PASS, "MFA Delete is enabled", evidence=evidence
            )
        elif isinstance(lock, Unknown):
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.ERROR,
                f"MFA Delete is disabled and Object Lock is unknown: {lock.describe()}",
                evidence=evidence,
            )
        elif _locked(lock, "COMPLIANCE", params.retention_days) and lock is not None:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"Object Lock COMPLIANCE with {lock.retention_days} days of default retention "
                "keeps log versions from deletion (MFA Delete is disabled)",
                evidence=evidence,
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "neither MFA Delete nor Object Lock COMPLIANCE with at least "
                f"{params.retention_days} days of default retention protects the log versions",
                evidence=evidence,
                problems=["bucket.delete_unprotected"],
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("versioning",))


def _locked(lock: ObjectLock | None, mode: str, days: int) -> bool:
    if lock is None or not lock.enabled or lock.mode is None:
        return False
    mode_ok = lock.mode == "COMPLIANCE" or mode == "GOVERNANCE"
    return mode_ok and (lock.retention_days or 0) >= days


class ObjectLockParams(RetentionParams):
    mode: Literal["COMPLIANCE", "GOVERNANCE"] = Field(
        default="COMPLIANCE",
        description="The Object Lock mode required (GOVERNANCE can be bypassed by anyone with "
        "s3:BypassGovernanceRetention).",
    )


@rule(
    id="CT.BUCKET.OBJECT_LOCK",
    change_events=("PutObjectLockConfiguration",),
    title="Object Lock protects the logs for the required retention",
    severity=Severity.HIGH,
    resource_type="AWS::S3::Bucket",
    # Relates only: S3.15 passes any Object Lock (GOVERNANCE, no default retention, a short
    # one); this rule wants COMPLIANCE mode and the required retention.
    controls={},
    related_controls={
        "aws-fsbp": ("S3.15",),
        "pci-dss-4.0": ("10.3.2", "10.5.1"),
        "nist-800-53-r5": ("AU-9", "AU-11"),
    },
    requires={"trails", "buckets"},
    params=ObjectLockParams,
    remediation=Remediation(
        summary="Enable Object Lock (new buckets: at creation; existing ones: "
        "put-object-lock-configuration after enabling versioning) with a default retention in "
        "COMPLIANCE mode of at least the required days.",
        cli="aws s3api put-object-lock-configuration --bucket {bucket} "
        "--object-lock-configuration "
        "'ObjectLockEnabled=Enabled,Rule={DefaultRetention={Mode=COMPLIANCE,Days=365}}'",
        terraform='resource "aws_s3_bucket_object_lock_configuration" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n  rule {\n    default_retention {\n"
        '      mode = "COMPLIANCE"\n      days = 365\n    }\n  }\n}',
    ),
)
def object_lock(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Object Lock makes log versions immutable: in COMPLIANCE mode nobody, not even the root
    user, can delete or shorten them until the retention ends. GOVERNANCE mode can be bypassed
    by anyone holding s3:BypassGovernanceRetention and a short default retention leaves older
    logs unprotected: both fail, at a lower severity than no Object Lock at all."""
    params: ObjectLockParams = ctx.params

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        lock = bucket.object_lock
        if isinstance(lock, Unknown):
            yield _unread(ctx, bucket, writers, "Object Lock configuration", lock)
            return
        evidence: dict[str, Any] = {
            "object_lock": lock.model_dump(mode="json") if lock else None,
            "required_mode": params.mode,
            "required_days": params.retention_days,
        }
        if lock is None or not lock.enabled:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "Object Lock is not enabled",
                evidence=evidence,
                problems=["bucket.object_lock_off"],
            )
            return
        problems = []
        if lock.mode is None or lock.retention_days is None:
            problems.append("no default retention: new log files are not locked")
        else:
            if lock.mode == "GOVERNANCE" and params.mode == "COMPLIANCE":
                problems.append("GOVERNANCE mode can be bypassed with s3:BypassGovernanceRetention")
            if lock.retention_days < params.retention_days:
                problems.append(
                    f"default retention {lock.retention_days} days is shorter than "
                    f"{params.retention_days}"
                )
        if problems:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "Object Lock is enabled but " + "; ".join(problems),
                evidence=evidence,
                severity=Severity.MEDIUM,
                problems=["bucket.object_lock_off"],
            )
            return
        yield ctx.for_bucket(
            bucket,
            writers,
            Status.PASS,
            f"Object Lock {lock.mode} with {lock.retention_days} days of default retention",
            evidence=evidence,
        )

    yield from ctx.per_log_bucket(inventory, judge, needs=("object_lock",))


# ----------------------------------------------------------------------------- retention


def _log_root(trail: Trail) -> str:
    prefix = (trail.s3_key_prefix or "").strip("/")
    return f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"


def _applies_to_logs(lifecycle_rule: LifecycleRule, roots: Sequence[str]) -> bool:
    """Whether the rule can act on some log file (CloudTrail writes untagged objects)."""
    if not lifecycle_rule.enabled or lifecycle_rule.tags:
        return False
    prefix = lifecycle_rule.prefix
    return any(root.startswith(prefix) or prefix.startswith(root) for root in roots)


def _transition_text(t: LifecycleTransition, noncurrent: bool = False) -> str:
    when = f"after {t.days} days" if t.days is not None else f"on {t.date}"
    return f"{'noncurrent versions ' if noncurrent else ''}{t.storage_class} {when}"


@rule(
    id="CT.BUCKET.LIFECYCLE",
    change_events=("PutBucketLifecycle", "DeleteBucketLifecycle"),
    title="Lifecycle rules keep the logs for the required retention",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    controls={},
    related_controls={
        "pci-dss-4.0": ("10.5.1",),
        "nist-800-53-r5": ("AU-11",),
        "iso-27001-2022": ("A.8.15",),
    },
    requires={"trails", "buckets"},
    params=RetentionParams,
    remediation=Remediation(
        summary="Make every lifecycle rule that applies to AWSLogs/ expire current and "
        "noncurrent log versions only after the required retention (and after the Object Lock "
        "retention); transitions to cheaper storage classes are fine.",
        cli="aws s3api put-bucket-lifecycle-configuration --bucket {bucket} "
        "--lifecycle-configuration file://lifecycle.json",
        terraform='rule {\n  id     = "cloudtrail-retention"\n  status = "Enabled"\n'
        '  filter {\n    prefix = "AWSLogs/"\n  }\n'
        '  transition {\n    days          = 90\n    storage_class = "GLACIER"\n  }\n'
        "  expiration {\n    days = 2555\n  }\n"
        "  noncurrent_version_expiration {\n    noncurrent_days = 365\n  }\n}",
    ),
)
def lifecycle(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """A lifecycle rule that expires log files (or their noncurrent versions, which is what an
    overwritten or deleted log becomes) before the required retention destroys evidence on a
    schedule. Transitions to cheaper storage classes are reported, not judged. A lifecycle
    that expires logs before the Object Lock retention ends contradicts it: S3 keeps the
    locked versions, but someone expected them gone or locked for less."""
    params: RetentionParams = ctx.params

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        rules = bucket.lifecycle
        if isinstance(rules, Unknown):
            yield _unread(ctx, bucket, writers, "lifecycle configuration", rules)
            return
        if not rules:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                "no lifecycle configuration: log files are kept until someone deletes them",
                evidence={"lifecycle_rules": []},
            )
            return
        roots = sorted({_log_root(t) for t in writers})
        applying = [r for r in rules if _applies_to_logs(r, roots)]
        lock = bucket.object_lock if isinstance(bucket.object_lock, ObjectLock) else None
        lock_days = lock.retention_days if lock and lock.enabled else None
        problems: list[str] = []
        contradictions: list[str] = []
        transitions: list[str] = []
        for r in applying:
            name = f"rule '{r.id or 'unnamed'}'"
            expirations = [("log files", r.expiration_days)]
            expirations.append(("noncurrent log versions", r.noncurrent_expiration_days))
            for what, days in expirations:
                if days is None:
                    continue
                if days < params.retention_days:
                    problems.append(f"{name} expires {what} after {days} days")
                if lock_days is not None and days < lock_days:
                    contradictions.append(
                        f"{name} expires {what} after {days} days, before the Object Lock "
                        f"retention of {lock_days} days ends"
                    )
            if r.expiration_date:
                problems.append(f"{name} expires log files on {r.expiration_date}, whatever age")
            transitions += [_transition_text(t) for t in r.transitions]
            transitions += [_transition_text(t, True) for t in r.noncurrent_transitions]
        evidence: dict[str, Any] = {
            "log_prefixes": roots,
            "lifecycle_rules": [r.model_dump(mode="json") for r in rules],
            "rules_applying_to_logs": [r.id for r in applying],
            "transitions": transitions,
            "object_lock_retention_days": lock_days,
            "required_days": params.retention_days,
        }
        moves = f"; transitions: {', '.join(transitions)}" if transitions else ""
        if problems:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"logs are not kept {params.retention_days} days: {'; '.join(problems)}"
                + (
                    f" (it also contradicts Object Lock: {contradictions[0]})"
                    if contradictions
                    else ""
                ),
                evidence=evidence | {"contradictions": contradictions},
                problems=["bucket.lifecycle_expires"],
            )
        elif contradictions:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"the lifecycle contradicts Object Lock: {'; '.join(contradictions)}",
                evidence=evidence | {"contradictions": contradictions},
                severity=Severity.LOW,
                problems=["bucket.lifecycle_expires"],
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"no lifecycle rule expires logs before {params.retention_days} days{moves}",
                evidence=evidence,
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("lifecycle",))


# ----------------------------------------------------------------------------- encryption


@rule(
    id="CT.BUCKET.ENCRYPTION",
    change_events=("PutBucketEncryption", "DeleteBucketEncryption"),
    title="The CloudTrail log bucket has default encryption",
    severity=Severity.LOW,
    resource_type="AWS::S3::Bucket",
    # Decides CIS 1.4 2.1.1: default encryption (SSE-S3 or SSE-KMS) configured on the bucket.
    controls={"cis-aws-1.4": ("2.1.1",)},
    related_controls={"nist-800-53-r5": ("AU-9",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Set default encryption on the bucket (SSE-KMS with a customer-managed key, "
        "bucket key on), and encrypt the trail itself with SSE-KMS (CT.TRAIL.KMS_ENCRYPTION).",
        cli="aws s3api put-bucket-encryption --bucket {bucket} "
        '--server-side-encryption-configuration \'{"Rules":[{"ApplyServerSideEncryptionBy'
        'Default":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"KEY_ARN"},'
        '"BucketKeyEnabled":true}]}\'',
        terraform='resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n  rule {\n"
        "    apply_server_side_encryption_by_default {\n"
        '      sse_algorithm     = "aws:kms"\n      kms_master_key_id = aws_kms_key.logs.arn\n'
        "    }\n    bucket_key_enabled = true\n  }\n}",
    ),
)
def encryption(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Reports how log files end up encrypted: a trail with a KMS key encrypts its own files
    (SSE-KMS) whatever the bucket default; otherwise the bucket's default encryption (SSE-S3 or
    SSE-KMS) applies. Every bucket has had SSE-S3 by default since January 2023, so a bucket
    without default encryption is old and unmanaged."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        enc = bucket.encryption
        if isinstance(enc, Unknown):
            yield _unread(ctx, bucket, writers, "default encryption", enc)
            return
        if enc is None:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "the bucket has no default encryption",
                evidence={"default_encryption": None},
                problems=["bucket.encryption_weak"],
            )
            return
        kind = "SSE-S3" if enc.algorithm == "AES256" else f"SSE-KMS ({enc.algorithm})"
        default = kind + (f" with key {enc.kms_key_id}" if enc.kms_key_id else "")
        default += ", bucket key on" if enc.bucket_key_enabled else ""
        effective = {
            t.arn: f"SSE-KMS with the trail's key {t.kms_key_arn}"
            if t.kms_key_arn
            else f"bucket default {kind}"
            for t in writers
        }
        notes = [
            f"{t.name} uses its own key"
            for t in writers
            if t.kms_key_arn and enc.kms_key_id and not _same_key(t.kms_key_arn, enc.kms_key_id)
        ]
        reason = f"default encryption {default}"
        if notes:
            reason += f"; {', '.join(notes)} (the bucket default does not apply to its logs)"
        yield ctx.for_bucket(
            bucket,
            writers,
            Status.PASS,
            reason,
            evidence={
                "default_encryption": enc.model_dump(mode="json"),
                "log_encryption": effective,
            },
        )

    yield from ctx.per_log_bucket(inventory, judge, needs=("encryption",))


def _same_key(a: str, b: str) -> bool:
    return a == b or a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]


# ----------------------------------------------------------------------------- logging, events


# ----------------------------------------------------------------------------- exact tests
# Security Hub's own tests beside trailcheck's stricter rules above (which only relate).


def _lifecycle_configured(bucket: Bucket) -> Verdict:
    rules = bucket.lifecycle if isinstance(bucket.lifecycle, tuple) else ()
    enabled = [r.id or "unnamed" for r in rules if r.enabled]
    evidence: dict[str, JsonValue] = {"enabled_rules": list(enabled), "rules": len(rules)}
    if enabled:
        return Verdict(Status.PASS, f"{len(enabled)} enabled lifecycle rule(s)", evidence)
    why = "no lifecycle configuration" if not rules else "no enabled lifecycle rule"
    return Verdict(Status.FAIL, why, evidence, ("bucket.no_lifecycle",))


@rule(
    id="CT.BUCKET.LIFECYCLE_CONFIGURED",
    change_events=("PutBucketLifecycle", "DeleteBucketLifecycle"),
    title="The CloudTrail log bucket has a lifecycle configuration (Security Hub test)",
    severity=Severity.LOW,
    resource_type="AWS::S3::Bucket",
    # Decides S3.13 (s3-lifecycle-policy-check): some lifecycle rule is enabled, whatever it
    # does. CT.BUCKET.LIFECYCLE judges whether the rules keep the logs long enough.
    controls={"aws-fsbp": ("S3.13",)},
    related_controls={"nist-800-53-r5": ("AU-11",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Add a lifecycle rule (for example a transition of old logs to a colder "
        "storage class, never an expiration shorter than the retention).",
        cli="aws s3api put-bucket-lifecycle-configuration --bucket {bucket} "
        '--lifecycle-configuration \'{"Rules":[{"ID":"archive","Status":"Enabled",'
        '"Filter":{},"Transitions":[{"Days":90,"StorageClass":"GLACIER"}]}]}\'',
        terraform='resource "aws_s3_bucket_lifecycle_configuration" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n"
        '  rule {\n    id     = "archive"\n    status = "Enabled"\n    filter {}\n'
        '    transition {\n      days          = 90\n      storage_class = "GLACIER"\n'
        "    }\n  }\n}",
    ),
)
def lifecycle_configured(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Security Hub's reading of S3.13: the bucket has an enabled lifecycle rule, so its
    storage is managed; whether that rule deletes logs too early is CT.BUCKET.LIFECYCLE's."""
    yield from judge_each_bucket(inventory, ctx, ("lifecycle",), _lifecycle_configured)


def _object_lock_enabled(bucket: Bucket) -> Verdict:
    lock = bucket.object_lock
    evidence: dict[str, JsonValue] = {
        "object_lock": lock.model_dump(mode="json") if isinstance(lock, ObjectLock) else None
    }
    if isinstance(lock, ObjectLock) and lock.enabled:
        return Verdict(Status.PASS, "Object Lock is enabled", evidence)
    return Verdict(Status.FAIL, "Object Lock is not enabled", evidence, ("bucket.no_object_lock",))


@rule(
    id="CT.BUCKET.OBJECT_LOCK_ENABLED",
    change_events=("PutObjectLockConfiguration",),
    title="Object Lock is enabled on the CloudTrail log bucket (Security Hub test)",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Decides S3.15 (s3-bucket-default-lock-enabled): Object Lock enabled, any mode, any or no
    # default retention. CT.BUCKET.OBJECT_LOCK asks COMPLIANCE mode and the retention.
    controls={"aws-fsbp": ("S3.15",)},
    related_controls={"nist-800-53-r5": ("AU-9",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Enable Object Lock on the log bucket (and give it a COMPLIANCE default "
        "retention: see CT.BUCKET.OBJECT_LOCK).",
        cli="aws s3api put-object-lock-configuration --bucket {bucket} "
        '--object-lock-configuration \'{"ObjectLockEnabled":"Enabled","Rule":'
        '{"DefaultRetention":{"Mode":"COMPLIANCE","Days":365}}}\'',
        terraform='resource "aws_s3_bucket_object_lock_configuration" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n"
        '  rule {\n    default_retention {\n      mode = "COMPLIANCE"\n      days = 365\n'
        "    }\n  }\n}",
    ),
)
def object_lock_enabled(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Security Hub's reading of S3.15: Object Lock is on. A GOVERNANCE lock or no default
    retention passes here and fails trailcheck's CT.BUCKET.OBJECT_LOCK."""
    yield from judge_each_bucket(inventory, ctx, ("object_lock",), _object_lock_enabled)


def _kms_encrypted(bucket: Bucket) -> Verdict:
    enc = bucket.encryption
    evidence: dict[str, JsonValue] = {
        "default_encryption": enc.model_dump(mode="json")
        if isinstance(enc, BucketEncryption)
        else None
    }
    if isinstance(enc, BucketEncryption) and enc.algorithm in ("aws:kms", "aws:kms:dsse"):
        return Verdict(Status.PASS, f"default encryption is {enc.algorithm}", evidence)
    what = enc.algorithm if isinstance(enc, BucketEncryption) else "not configured"
    return Verdict(
        Status.FAIL,
        f"default encryption is {what}, not SSE-KMS",
        evidence,
        ("bucket.not_kms_encrypted",),
    )


@rule(
    id="CT.BUCKET.DEFAULT_ENCRYPTION_KMS",
    change_events=("PutBucketEncryption", "DeleteBucketEncryption"),
    title="The CloudTrail log bucket's default encryption is SSE-KMS (Security Hub test)",
    severity=Severity.LOW,
    resource_type="AWS::S3::Bucket",
    # Decides S3.17 (s3-default-encryption-kms): the default encryption algorithm is aws:kms
    # (DSSE-KMS too), whichever key. CT.BUCKET.ENCRYPTION judges the logs' actual encryption.
    controls={"aws-fsbp": ("S3.17",)},
    related_controls={"nist-800-53-r5": ("AU-9",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Set the bucket's default encryption to SSE-KMS with a customer managed key.",
        cli="aws s3api put-bucket-encryption --bucket {bucket} "
        '--server-side-encryption-configuration \'{"Rules":[{"ApplyServerSideEncryptionBy'
        'Default":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"KEY_ARN"},'
        '"BucketKeyEnabled":true}]}\'',
        terraform='resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n"
        "  rule {\n    apply_server_side_encryption_by_default {\n"
        '      sse_algorithm     = "aws:kms"\n      kms_master_key_id = aws_kms_key.logs.arn\n'
        "    }\n  }\n}",
    ),
)
def default_encryption_kms(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Security Hub's reading of S3.17: the bucket encrypts new objects with KMS by default.
    CloudTrail's own SSE-KMS (the trail's key) makes the logs KMS-encrypted even on an
    SSE-S3 bucket, which CT.BUCKET.ENCRYPTION accepts and this test does not."""
    yield from judge_each_bucket(inventory, ctx, ("encryption",), _kms_encrypted)
