"""The CloudTrail log bucket rules over hand-built inventories: every PASS/FAIL/ERROR/N-A path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from factories import ACCOUNT, denied, make_account, make_bucket, make_inventory, make_trail

from trailcheck.demo.organization import cloudtrail_bucket_policy, legacy_cloudtrail_bucket_policy
from trailcheck.engine import rule_context, run_rule
from trailcheck.model import (
    AclGrant,
    BucketAcl,
    BucketEncryption,
    Finding,
    Inventory,
    LifecycleRule,
    LifecycleTransition,
    LoggingTarget,
    Notifications,
    NotificationTarget,
    ObjectLock,
    PublicAccessBlock,
    Severity,
    Status,
    Unknown,
    Versioning,
)
from trailcheck.rules import buckets, rules_in
from trailcheck.rules.base import Rule

BUCKET = f"logs-{ACCOUNT}"
TRAIL_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/main"
OTHER = "222222222222"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
FULL_PAB = PublicAccessBlock(
    block_public_acls=True,
    ignore_public_acls=True,
    block_public_policy=True,
    restrict_public_buckets=True,
)


def good_policy(bucket: str = BUCKET, paths: list[str] | None = None) -> dict[str, Any]:
    return json.loads(
        cloudtrail_bucket_policy(bucket, paths or [f"AWSLogs/{ACCOUNT}"], [TRAIL_ARN])
    )


def with_statement(statement: dict[str, Any], policy: dict[str, Any] | None = None) -> dict:
    policy = policy or good_policy()
    return {**policy, "Statement": [*policy["Statement"], statement]}


def read_statement(principal: Any, condition: dict | None = None) -> dict[str, Any]:
    statement = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    return statement | ({"Condition": condition} if condition else {})


def lifecycle_rule(**overrides: Any) -> LifecycleRule:
    return LifecycleRule(**({"id": "r", "prefix": "AWSLogs/"} | overrides))


def run(rule: Rule, inventory: Inventory, params: dict | None = None) -> list[Finding]:
    return run_rule(rule, inventory, rule_context(rule, params))


def bucket_finding(findings: list[Finding]) -> Finding:
    found = [f for f in findings if f.resource_type == "AWS::S3::Bucket"]
    assert len(found) == 1, findings
    return found[0]


def one_bucket(bucket_overrides: dict, trail_overrides: dict | None = None) -> Inventory:
    bucket = make_bucket(BUCKET, **({"policy": good_policy()} | bucket_overrides))
    return make_inventory([make_trail(**(trail_overrides or {}))], buckets=[bucket])


ACL_PUBLIC = BucketAcl(
    owner_id="o",
    grants=(
        AclGrant(grantee_type="CanonicalUser", grantee="o", permission="FULL_CONTROL"),
        AclGrant(grantee_type="Group", grantee=ALL_USERS, permission="READ"),
    ),
)
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k-main"

# (id, rule, bucket overrides, trail overrides, params, status, severity or None, reason part)
CASES: list[tuple[str, Rule, dict, dict, dict, Status, Severity | None, str]] = [
    # --- not public
    ("public-ok", buckets.not_public, {}, {}, {}, Status.PASS, None, "not public"),
    (
        "public-acl",
        buckets.not_public,
        {"acl": ACL_PUBLIC, "public_access_block": None},
        {},
        {},
        Status.FAIL,
        Severity.CRITICAL,
        "AllUsers:READ",
    ),
    (
        "public-acl-ignored-by-account-pab",
        buckets.not_public,
        {
            "acl": ACL_PUBLIC,
            "public_access_block": None,
            "account_public_access_block": PublicAccessBlock(ignore_public_acls=True),
        },
        {},
        {},
        Status.PASS,
        None,
        "IgnorePublicAcls",
    ),
    (
        "public-policy",
        buckets.not_public,
        {"policy": with_statement(read_statement("*")), "public_access_block": None},
        {},
        {},
        Status.FAIL,
        Severity.CRITICAL,
        "lets anyone read",
    ),
    (
        "policy-narrowed-to-org",
        buckets.not_public,
        {
            "policy": with_statement(
                read_statement("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}})
            ),
            "public_access_block": None,
        },
        {},
        {},
        Status.PASS,
        None,
        "not public",
    ),
    (
        "s3-policy-status-public",
        buckets.not_public,
        {"policy_is_public": True, "public_access_block": None},
        {},
        {},
        Status.FAIL,
        Severity.CRITICAL,
        "GetBucketPolicyStatus",
    ),
    (
        "public-acl-unknown",
        buckets.not_public,
        {"acl": denied("s3:GetBucketAcl")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketAcl failed: AccessDenied",
    ),
    (
        "public-bad-policy",
        buckets.not_public,
        {"policy": {"Statement": [{"Effect": "Maybe"}]}},
        {},
        {},
        Status.ERROR,
        None,
        "cannot be evaluated",
    ),
    # --- Block Public Access at bucket level (S3.8)
    (
        "pab-bucket-level-ok",
        buckets.public_access_block_bucket_level,
        {},
        {},
        {},
        Status.PASS,
        None,
        "on at bucket level",
    ),
    (
        "pab-bucket-level-none-account-full",  # effective PASS, S3.8 FAIL
        buckets.public_access_block_bucket_level,
        {"public_access_block": None, "account_public_access_block": FULL_PAB},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "no Block Public Access configuration",
    ),
    (
        "pab-bucket-level-partial",
        buckets.public_access_block_bucket_level,
        {"public_access_block": PublicAccessBlock(block_public_acls=True)},
        {},
        {},
        Status.FAIL,
        None,
        "IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets off at bucket level",
    ),
    (
        "pab-bucket-level-unknown",
        buckets.public_access_block_bucket_level,
        {"public_access_block": denied("s3:GetBucketPublicAccessBlock")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketPublicAccessBlock failed",
    ),
    # --- Block Public Access, effective (either level, per setting)
    ("pab-bucket", buckets.public_access_block, {}, {}, {}, Status.PASS, None, "bucket level"),
    (
        "pab-account",
        buckets.public_access_block,
        {"public_access_block": None, "account_public_access_block": FULL_PAB},
        {},
        {},
        Status.PASS,
        None,
        "account level",
    ),
    (
        "pab-none",
        buckets.public_access_block,
        {"public_access_block": PublicAccessBlock(block_public_acls=True)},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets off",
    ),
    (
        "pab-bucket-full-account-unknown",
        buckets.public_access_block,
        {"account_public_access_block": denied("s3control:GetPublicAccessBlock")},
        {},
        {},
        Status.PASS,
        None,
        "bucket level",
    ),
    (
        "pab-partial-account-unknown",
        buckets.public_access_block,
        {
            "public_access_block": None,
            "account_public_access_block": denied("s3control:GetPublicAccessBlock"),
        },
        {},
        {},
        Status.ERROR,
        None,
        "s3control:GetPublicAccessBlock failed",
    ),
    # --- TLS
    ("tls-ok", buckets.tls_only, {}, {}, {}, Status.PASS, None, "DenyInsecureTransport"),
    ("tls-no-policy", buckets.tls_only, {"policy": None}, {}, {}, Status.FAIL, None, "no policy"),
    (
        "tls-no-deny",
        buckets.tls_only,
        {"policy": json.loads(legacy_cloudtrail_bucket_policy(BUCKET, ACCOUNT))},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "No Deny covers",
    ),
    (
        "tls-unknown",
        buckets.tls_only,
        {"policy": denied("s3:GetBucketPolicy")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketPolicy failed",
    ),
    ("s3.5-ok", buckets.ssl_requests_only, {}, {}, {}, Status.PASS, None, "without TLS"),
    (
        "s3.5-no-policy",
        buckets.ssl_requests_only,
        {"policy": None},
        {},
        {},
        Status.FAIL,
        None,
        "no bucket policy",
    ),
    (
        "s3.5-no-deny",
        buckets.ssl_requests_only,
        {"policy": json.loads(legacy_cloudtrail_bucket_policy(BUCKET, ACCOUNT))},
        {},
        {},
        Status.FAIL,
        None,
        "aws:SecureTransport is false",
    ),
    (
        "s3.5-unknown",
        buckets.ssl_requests_only,
        {"policy": denied("s3:GetBucketPolicy")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketPolicy failed",
    ),
    # --- CloudTrail delivery
    ("delivery-ok", buckets.delivery_scoped, {}, {}, {}, Status.PASS, None, "aws:SourceArn"),
    (
        "delivery-no-policy",
        buckets.delivery_scoped,
        {"policy": None},
        {},
        {},
        Status.FAIL,
        Severity.HIGH,
        "cannot deliver",
    ),
    (
        "delivery-unscoped",
        buckets.delivery_scoped,
        {"policy": json.loads(legacy_cloudtrail_bucket_policy(BUCKET, ACCOUNT))},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "not scoped",
    ),
    (
        "delivery-wrong-prefix",
        buckets.delivery_scoped,
        {},
        {"s3_key_prefix": "custom"},
        {},
        Status.FAIL,
        Severity.HIGH,
        "does not let CloudTrail deliver",
    ),
    (
        "delivery-prefix-covered",
        buckets.delivery_scoped,
        {"policy": good_policy(paths=[f"custom/AWSLogs/{ACCOUNT}"])},
        {"s3_key_prefix": "custom"},
        {},
        Status.PASS,
        None,
        "may deliver",
    ),
    (
        "delivery-unknown",
        buckets.delivery_scoped,
        {"policy": denied("s3:GetBucketPolicy")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketPolicy failed",
    ),
    # --- readers
    ("readers-none", buckets.log_readers, {}, {}, {}, Status.PASS, None, "no principal outside"),
    (
        "readers-cross-account-role",
        buckets.log_readers,
        {"policy": with_statement(read_statement({"AWS": f"arn:aws:iam::{OTHER}:role/Audit"}))},
        {},
        {},
        Status.PASS,
        None,
        f"1 principal(s) outside the owner account can read the logs: arn:aws:iam::{OTHER}",
    ),
    (
        "readers-wildcard",
        buckets.log_readers,
        {"policy": with_statement(read_statement("*")), "public_access_block": None},
        {},
        {},
        Status.FAIL,
        Severity.HIGH,
        "wildcard principal",
    ),
    (
        "readers-wildcard-narrowed-to-org",
        buckets.log_readers,
        {
            "policy": with_statement(
                read_statement({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}})
            ),
            "public_access_block": None,
        },
        {},
        {},
        Status.PASS,
        None,
        "2 principal(s) outside the owner account can read the logs: *, cloudtrail",  # via *
    ),
    (
        "readers-wildcard-neutralised",
        buckets.log_readers,
        {"policy": with_statement(read_statement("*"))},  # RestrictPublicBuckets is on
        {},
        {},
        Status.PASS,
        None,
        # RestrictPublicBuckets leaves AWS service principals their access through "*"
        "1 principal(s) outside the owner account can read the logs: cloudtrail.amazonaws.com",
    ),
    (
        "readers-unknown-pab",
        buckets.log_readers,
        {"public_access_block": denied("s3:GetBucketPublicAccessBlock")},
        {},
        {},
        Status.ERROR,
        None,
        "public access block: s3:GetBucketPublicAccessBlock failed",
    ),
    # --- versioning
    ("versioning-on", buckets.versioning, {}, {}, {}, Status.PASS, None, "enabled"),
    (
        "versioning-suspended",
        buckets.versioning,
        {"versioning": Versioning(status="Suspended")},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "suspended",
    ),
    (
        "versioning-never",
        buckets.versioning,
        {"versioning": Versioning()},
        {},
        {},
        Status.FAIL,
        None,
        "never enabled",
    ),
    (
        "versioning-unknown",
        buckets.versioning,
        {"versioning": denied("s3:GetBucketVersioning")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketVersioning failed",
    ),
    # --- MFA Delete
    ("mfa-on", buckets.mfa_delete, {}, {}, {}, Status.PASS, None, "MFA Delete is enabled"),
    (
        # S3.20 / CIS 2.1.2 count MFA Delete only: Object Lock lowers the severity, not the verdict
        "mfa-off-object-lock-compliance",
        buckets.mfa_delete,
        {"versioning": Versioning(status="Enabled", mfa_delete="Disabled")},
        {},
        {},
        Status.FAIL,
        Severity.LOW,
        "Object Lock COMPLIANCE protects the log versions instead",
    ),
    (
        "mfa-off-literal-cis",  # the deprecated parameter still loads with its only value
        buckets.mfa_delete,
        {"versioning": Versioning(status="Enabled", mfa_delete="Disabled"), "object_lock": None},
        {},
        {"accept_object_lock": False},
        Status.FAIL,
        Severity.MEDIUM,
        "MFA Delete is not enabled",
    ),
    (
        "mfa-off-governance",
        buckets.mfa_delete,
        {
            "versioning": Versioning(status="Enabled"),
            "object_lock": ObjectLock(enabled=True, mode="GOVERNANCE", days=400),
            "lifecycle": (lifecycle_rule(expiration_days=4000),),
        },
        {},
        {},
        Status.FAIL,
        None,
        "does not support MFA Delete together with the lifecycle",
    ),
    (
        "mfa-off-lock-unknown",
        buckets.mfa_delete,
        {
            "versioning": Versioning(status="Enabled"),
            "object_lock": denied("s3:GetObjectLockConfiguration"),
        },
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "MFA Delete is not enabled",
    ),
    (
        "mfa-versioning-unknown",
        buckets.mfa_delete,
        {"versioning": denied("s3:GetBucketVersioning")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketVersioning failed",
    ),
    # --- deletion protection: MFA Delete or Object Lock COMPLIANCE (trailcheck's own reading)
    ("delprot-mfa", buckets.delete_protection, {}, {}, {}, Status.PASS, None, "MFA Delete"),
    (
        "delprot-object-lock-compliance",
        buckets.delete_protection,
        {"versioning": Versioning(status="Enabled", mfa_delete="Disabled")},
        {},
        {},
        Status.PASS,
        None,
        "Object Lock COMPLIANCE with 365 days",
    ),
    (
        "delprot-governance",
        buckets.delete_protection,
        {
            "versioning": Versioning(status="Enabled"),
            "object_lock": ObjectLock(enabled=True, mode="GOVERNANCE", days=400),
        },
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "neither MFA Delete nor Object Lock COMPLIANCE",
    ),
    (
        "delprot-short-retention",
        buckets.delete_protection,
        {"versioning": Versioning(status="Enabled")},
        {},
        {"retention_days": 400},
        Status.FAIL,
        None,
        "at least 400 days",
    ),
    (
        "delprot-lock-unknown",
        buckets.delete_protection,
        {
            "versioning": Versioning(status="Enabled"),
            "object_lock": denied("s3:GetObjectLockConfiguration"),
        },
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetObjectLockConfiguration failed",
    ),
    (
        "delprot-versioning-unknown",
        buckets.delete_protection,
        {"versioning": denied("s3:GetBucketVersioning")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketVersioning failed",
    ),
    # --- Object Lock
    ("lock-ok", buckets.object_lock, {}, {}, {}, Status.PASS, None, "COMPLIANCE with 365"),
    (
        "lock-years",
        buckets.object_lock,
        {"object_lock": ObjectLock(enabled=True, mode="COMPLIANCE", years=1)},
        {},
        {},
        Status.PASS,
        None,
        "365 days",
    ),
    (
        "lock-none",
        buckets.object_lock,
        {"object_lock": None},
        {},
        {},
        Status.FAIL,
        Severity.HIGH,
        "not enabled",
    ),
    (
        "lock-governance",
        buckets.object_lock,
        {"object_lock": ObjectLock(enabled=True, mode="GOVERNANCE", days=365)},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "GOVERNANCE mode can be bypassed",
    ),
    (
        "lock-governance-accepted",
        buckets.object_lock,
        {"object_lock": ObjectLock(enabled=True, mode="GOVERNANCE", days=365)},
        {},
        {"mode": "GOVERNANCE"},
        Status.PASS,
        None,
        "GOVERNANCE",
    ),
    (
        "lock-short",
        buckets.object_lock,
        {"object_lock": ObjectLock(enabled=True, mode="COMPLIANCE", days=30)},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "30 days is shorter than 365",
    ),
    (
        "lock-longer-requirement",
        buckets.object_lock,
        {},
        {},
        {"retention_days": 730},
        Status.FAIL,
        Severity.MEDIUM,
        "shorter than 730",
    ),
    (
        "lock-no-default-retention",
        buckets.object_lock,
        {"object_lock": ObjectLock(enabled=True)},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "no default retention",
    ),
    (
        "lock-unknown",
        buckets.object_lock,
        {"object_lock": denied("s3:GetObjectLockConfiguration")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetObjectLockConfiguration failed",
    ),
    # --- lifecycle
    ("lifecycle-none", buckets.lifecycle, {}, {}, {}, Status.PASS, None, "no lifecycle"),
    (
        "lifecycle-expires-early",
        buckets.lifecycle,
        {"lifecycle": (lifecycle_rule(prefix="", expiration_days=30),)},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "expires log files after 30 days",
    ),
    (
        "lifecycle-noncurrent-early",
        buckets.lifecycle,
        {"lifecycle": (lifecycle_rule(noncurrent_expiration_days=30),)},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "noncurrent log versions after 30 days",
    ),
    (
        "lifecycle-date",
        buckets.lifecycle,
        {"lifecycle": (lifecycle_rule(expiration_date="2027-01-01"),)},
        {},
        {},
        Status.FAIL,
        None,
        "on 2027-01-01",
    ),
    (
        "lifecycle-transition-reported",
        buckets.lifecycle,
        {
            "lifecycle": (
                lifecycle_rule(
                    expiration_days=2555,
                    transitions=(
                        LifecycleTransition(storage_class="STANDARD_IA", days=30),
                        LifecycleTransition(storage_class="GLACIER", days=90),
                    ),
                ),
            )
        },
        {},
        {},
        Status.PASS,
        None,
        "transitions: STANDARD_IA after 30 days, GLACIER after 90 days",
    ),
    (
        "lifecycle-other-prefix",
        buckets.lifecycle,
        {"lifecycle": (lifecycle_rule(prefix="tmp/", expiration_days=1),)},
        {},
        {},
        Status.PASS,
        None,
        "no lifecycle rule expires logs",
    ),
    (
        "lifecycle-narrower-prefix-applies",
        buckets.lifecycle,
        {"lifecycle": (lifecycle_rule(prefix=f"AWSLogs/{ACCOUNT}/", expiration_days=7),)},
        {},
        {},
        Status.FAIL,
        None,
        "after 7 days",
    ),
    (
        "lifecycle-trail-prefix",
        buckets.lifecycle,
        {"lifecycle": (lifecycle_rule(prefix="ct/", expiration_days=7),)},
        {"s3_key_prefix": "ct"},
        {},
        Status.FAIL,
        None,
        "after 7 days",
    ),
    (
        "lifecycle-tag-filter-skips-logs",
        buckets.lifecycle,
        {"lifecycle": (lifecycle_rule(tags=("tmp=yes",), expiration_days=1),)},
        {},
        {},
        Status.PASS,
        None,
        "no lifecycle rule expires logs",
    ),
    (
        "lifecycle-disabled-rule",
        buckets.lifecycle,
        {"lifecycle": (lifecycle_rule(enabled=False, expiration_days=1),)},
        {},
        {},
        Status.PASS,
        None,
        "no lifecycle rule expires logs",
    ),
    (
        "lifecycle-contradicts-lock",
        buckets.lifecycle,
        {
            "lifecycle": (lifecycle_rule(expiration_days=400),),
            "object_lock": ObjectLock(enabled=True, mode="COMPLIANCE", days=730),
        },
        {},
        {},
        Status.FAIL,
        Severity.LOW,
        "contradicts Object Lock",
    ),
    (
        "lifecycle-unknown",
        buckets.lifecycle,
        {"lifecycle": denied("s3:GetBucketLifecycleConfiguration")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketLifecycleConfiguration failed",
    ),
    # --- encryption
    ("enc-kms", buckets.encryption, {}, {}, {}, Status.PASS, None, "SSE-KMS"),
    (
        "enc-sse-s3",
        buckets.encryption,
        {"encryption": BucketEncryption(algorithm="AES256")},
        {"kms_key_id": None},
        {},
        Status.PASS,
        None,
        "default encryption SSE-S3",
    ),
    (
        "enc-own-key",
        buckets.encryption,
        {"encryption": BucketEncryption(algorithm="aws:kms", kms_key_id="other")},
        {},
        {},
        Status.PASS,
        None,
        "main uses its own key",
    ),
    (
        "enc-same-key",
        buckets.encryption,
        {"encryption": BucketEncryption(algorithm="aws:kms", kms_key_id=KEY)},
        {},
        {},
        Status.PASS,
        None,
        f"with key {KEY}",
    ),
    ("enc-none", buckets.encryption, {"encryption": None}, {}, {}, Status.FAIL, Severity.LOW, "no"),
    (
        "enc-unknown",
        buckets.encryption,
        {"encryption": denied("s3:GetBucketEncryption")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketEncryption failed",
    ),
    # --- access logging, the framework reading (LoggingEnabled present, any target)
    (
        "logging-enabled-ok",
        buckets.access_logging_enabled,
        {},
        {},
        {},
        Status.PASS,
        None,
        "enabled (to access-logs-",
    ),
    (
        "logging-enabled-off",
        buckets.access_logging_enabled,
        {"logging": None},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "disabled",
    ),
    (
        "logging-enabled-to-itself",  # CIS 3.4 / CloudTrail.7 / S3.9 pass it; ACCESS_LOGGING fails
        buckets.access_logging_enabled,
        {"logging": LoggingTarget(target_bucket=BUCKET)},
        {},
        {},
        Status.PASS,
        None,
        f"to {BUCKET}",
    ),
    (
        "logging-enabled-unknown",
        buckets.access_logging_enabled,
        {"logging": denied("s3:GetBucketLogging")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketLogging failed",
    ),
    # --- access logging, to another bucket
    ("logging-ok", buckets.access_logging, {}, {}, {}, Status.PASS, None, "access-logs-"),
    (
        "logging-off",
        buckets.access_logging,
        {"logging": None},
        {},
        {},
        Status.FAIL,
        Severity.MEDIUM,
        "disabled",
    ),
    (
        "logging-to-itself",
        buckets.access_logging,
        {"logging": LoggingTarget(target_bucket=BUCKET)},
        {},
        {},
        Status.FAIL,
        None,
        "itself",
    ),
    (
        "logging-unknown",
        buckets.access_logging,
        {"logging": denied("s3:GetBucketLogging")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketLogging failed",
    ),
    # --- notifications
    ("notify-eventbridge", buckets.notifications, {}, {}, {}, Status.PASS, None, "EventBridge"),
    (
        "notify-sqs",
        buckets.notifications,
        {
            "notifications": Notifications(
                targets=(NotificationTarget(kind="SQS", arn="arn:aws:sqs:us-east-1:1:q"),)
            )
        },
        {},
        {},
        Status.PASS,
        None,
        "SQS arn:aws:sqs:us-east-1:1:q",
    ),
    (
        "notify-trail-topic",
        buckets.notifications,
        {"notifications": Notifications()},
        {"sns_topic_arn": "arn:aws:sns:us-east-1:1:t"},
        {},
        Status.PASS,
        None,
        "SNS arn:aws:sns:us-east-1:1:t (trail main)",
    ),
    (
        "notify-none",
        buckets.notifications,
        {"notifications": Notifications()},
        {},
        {},
        Status.FAIL,
        Severity.INFO,
        "no S3 event notification",
    ),
    (
        "notify-unknown",
        buckets.notifications,
        {"notifications": denied("s3:GetBucketNotificationConfiguration")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketNotificationConfiguration failed",
    ),
    # --- Security Hub's exact tests (S3.13, S3.15, S3.17)
    (
        "s3.13-pass",
        buckets.lifecycle_configured,
        {"lifecycle": (LifecycleRule(id="x", expiration_days=3650),)},
        {},
        {},
        Status.PASS,
        None,
        "enabled lifecycle rule",
    ),
    (
        "s3.13-none",
        buckets.lifecycle_configured,
        {"lifecycle": None},
        {},
        {},
        Status.FAIL,
        None,
        "no lifecycle configuration",
    ),
    (
        "s3.13-disabled",
        buckets.lifecycle_configured,
        {"lifecycle": (LifecycleRule(id="x", enabled=False, expiration_days=30),)},
        {},
        {},
        Status.FAIL,
        None,
        "no enabled lifecycle rule",
    ),
    (
        "s3.13-unknown",
        buckets.lifecycle_configured,
        {"lifecycle": denied("s3:GetBucketLifecycleConfiguration")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketLifecycleConfiguration failed",
    ),
    (
        "s3.15-governance",
        buckets.object_lock_enabled,
        {"object_lock": ObjectLock(enabled=True, mode="GOVERNANCE")},
        {},
        {},
        Status.PASS,
        None,
        "Object Lock is enabled",
    ),
    (
        "s3.15-none",
        buckets.object_lock_enabled,
        {"object_lock": None},
        {},
        {},
        Status.FAIL,
        None,
        "not enabled",
    ),
    (
        "s3.15-unknown",
        buckets.object_lock_enabled,
        {"object_lock": denied("s3:GetObjectLockConfiguration")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetObjectLockConfiguration failed",
    ),
    ("s3.17-kms", buckets.default_encryption_kms, {}, {}, {}, Status.PASS, None, "aws:kms"),
    (
        "s3.17-sse-s3",
        buckets.default_encryption_kms,
        {"encryption": BucketEncryption(algorithm="AES256")},
        {},
        {},
        Status.FAIL,
        None,
        "AES256, not SSE-KMS",
    ),
    (
        "s3.17-unknown",
        buckets.default_encryption_kms,
        {"encryption": denied("s3:GetBucketEncryption")},
        {},
        {},
        Status.ERROR,
        None,
        "s3:GetBucketEncryption failed",
    ),
    # --- separate account (single-account scan)
    (
        "separate-single-account",
        buckets.separate_account,
        {},
        {},
        {},
        Status.NOT_APPLICABLE,
        None,
        "single-account scan",
    ),
]


@pytest.mark.parametrize(
    ("rule", "bucket_overrides", "trail_overrides", "params", "status", "severity", "part"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bucket_rule_paths(
    rule: Rule,
    bucket_overrides: dict,
    trail_overrides: dict,
    params: dict,
    status: Status,
    severity: Severity | None,
    part: str,
) -> None:
    finding = bucket_finding(run(rule, one_bucket(bucket_overrides, trail_overrides), params))
    assert finding.status is status, finding.reason
    assert part in finding.reason
    if severity is not None:
        assert finding.severity is severity
    assert finding.account_id == ACCOUNT
    assert finding.resource_arn == f"arn:aws:s3:::{BUCKET}"
    assert finding.evidence["written_by"] == [
        {
            "trail_arn": TRAIL_ARN,
            "account_id": ACCOUNT,
            "s3_key_prefix": trail_overrides.get("s3_key_prefix"),
        }
    ]


ALL_BUCKET_RULES = rules_in("trailcheck.rules.buckets")


BUCKET_RESOURCE_RULES = [r for r in ALL_BUCKET_RULES if r.resource_type == "AWS::S3::Bucket"]


def test_every_bucket_rule_has_a_table_row_and_all_are_listed() -> None:
    account_level = {buckets.public_access_block_account_level.id}  # tests in test_crosswalk
    assert {r.id for r in ALL_BUCKET_RULES} == {case[1].id for case in CASES} | account_level


# --- shared buckets, other accounts, what the scan could not see ------------------------------


def central_inventory(**bucket_overrides: Any) -> Inventory:
    """Account A (management, organization trail) and B (its own trail) write to a bucket of C."""
    archive = "333333333333"
    org_trail = make_trail("org", ACCOUNT, s3_bucket_name="central", is_organization_trail=True)
    member = make_trail("own", OTHER, s3_bucket_name="central")
    policy = json.loads(
        cloudtrail_bucket_policy(
            "central",
            [f"AWSLogs/{ACCOUNT}", "AWSLogs/o-abc", f"AWSLogs/{OTHER}"],
            [org_trail.arn, member.arn],
        )
    )
    bucket = make_bucket("central", archive, **({"policy": policy} | bucket_overrides))
    accounts = [
        make_account(ACCOUNT, organization_id="o-abc"),
        make_account(OTHER, organization_id="o-abc"),
        make_account(archive, organization_id="o-abc"),
    ]
    return make_inventory([org_trail, member], accounts, buckets=[bucket])


@pytest.mark.parametrize("rule", BUCKET_RESOURCE_RULES, ids=lambda r: r.id)
def test_shared_bucket_is_judged_once_in_its_owner_and_names_every_writer(rule: Rule) -> None:
    findings = run(rule, central_inventory())
    by_account = {f.account_id: f for f in findings}
    assert len(findings) == 3  # one per account: never "the rule gave no verdict"
    judged = by_account["333333333333"]
    assert judged.resource_arn == "arn:aws:s3:::central"
    assert judged.evidence["bucket_owner"] == "333333333333"
    writers = {(w["trail_arn"], w["account_id"]) for w in judged.evidence["written_by"]}
    assert writers == {
        (f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org", ACCOUNT),
        (f"arn:aws:cloudtrail:us-east-1:{OTHER}:trail/own", OTHER),
    }
    for account in (ACCOUNT, OTHER):
        assert by_account[account].status is Status.NOT_APPLICABLE
        assert by_account[account].reason == "the account owns no CloudTrail log bucket"


def test_central_bucket_passes_delivery_for_the_org_trail_and_a_member_trail() -> None:
    finding = bucket_finding(run(buckets.delivery_scoped, central_inventory()))
    assert finding.status is Status.PASS, finding.reason
    trails = {t["trail_arn"]: t for t in finding.evidence["trails"]}
    assert trails[f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org"]["organization_id"] == "o-abc"
    assert all(t["allowed"] for t in trails.values())


def test_central_bucket_missing_the_org_path_fails_delivery() -> None:
    org_arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org"
    policy = json.loads(cloudtrail_bucket_policy("central", [f"AWSLogs/{OTHER}"], [org_arn]))
    finding = bucket_finding(run(buckets.delivery_scoped, central_inventory(policy=policy)))
    assert finding.status is Status.FAIL and finding.severity is Severity.HIGH
    assert org_arn in finding.reason


def test_separate_account_passes_for_a_log_archive_and_fails_beside_the_trail() -> None:
    assert bucket_finding(run(buckets.separate_account, central_inventory())).status is (
        Status.PASS
    )
    own = make_bucket(f"logs-{OTHER}", OTHER)
    inventory = make_inventory(
        [make_trail(), make_trail("b", OTHER)],
        buckets=[make_bucket(BUCKET), own],
    )
    findings = {f.account_id: f for f in run(buckets.separate_account, inventory)}
    assert findings[ACCOUNT].status is Status.FAIL and findings[ACCOUNT].severity is Severity.INFO
    assert TRAIL_ARN in findings[ACCOUNT].reason


# Every bucket rule but S3.1's, which judges each scanned account's own setting, bucket or not.
PER_BUCKET_RULES = [
    r for r in ALL_BUCKET_RULES if r is not buckets.public_access_block_account_level
]


@pytest.mark.parametrize("rule", PER_BUCKET_RULES, ids=lambda r: r.id)
def test_bucket_owned_outside_the_scan_is_error_with_a_hint_in_the_writers_account(
    rule: Rule,
) -> None:
    bucket = make_bucket("elsewhere", "999999999999")
    inventory = make_inventory([make_trail(s3_bucket_name="elsewhere")], buckets=[bucket])
    finding = only_finding(run(rule, inventory))
    assert finding.status is Status.ERROR
    assert finding.account_id == ACCOUNT
    assert (
        "owned by account 999999999999, which is not in this scan: add account 999999999999 "
        "to the scan" in finding.reason
    )
    assert finding.evidence["add_to_scan"] == "999999999999"


def only_finding(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


@pytest.mark.parametrize(
    ("region", "part"),
    [
        ("us-east-1", "the bucket's owner is not in this scan: no scanned account lists it"),
        (
            Unknown(operation="s3:GetBucketLocation", error_code="NoSuchBucket"),
            "the bucket does not exist",
        ),
        (denied("s3:GetBucketLocation"), "s3:GetBucketLocation failed: AccessDenied"),
    ],
)
def test_bucket_with_unknown_owner_is_error_never_pass(region: Any, part: str) -> None:
    from trailcheck.scanner.collectors.s3 import unreadable_bucket

    owner = Unknown(operation="s3:ListBuckets", error_code="OwnerNotScanned")
    bucket = unreadable_bucket(BUCKET, owner, region)
    for rule in PER_BUCKET_RULES:
        finding = only_finding(run(rule, make_inventory(buckets=[bucket])))
        assert finding.status is Status.ERROR, rule.id
        assert part in finding.reason


def test_bucket_not_collected_is_error() -> None:
    finding = only_finding(run(buckets.versioning, make_inventory()))
    assert finding.status is Status.ERROR
    assert "not collected" in finding.reason


def test_facts_missing_from_an_older_snapshot_are_errors_not_passes() -> None:
    old = make_bucket(BUCKET).model_dump(
        exclude={"acl", "lifecycle", "logging", "notifications", "policy_is_public"}
    )
    inventory = make_inventory(buckets=[type(make_bucket(BUCKET)).model_validate(old)])
    finding = only_finding(run(buckets.access_logging, inventory))
    assert finding.status is Status.ERROR
    assert "s3:GetBucketLogging failed: NotCollected" in finding.reason


def test_account_owning_no_log_bucket_is_not_applicable() -> None:
    inventory = make_inventory(
        [make_trail(s3_bucket_name=None)], buckets=[], accounts=[make_account()]
    )
    finding = only_finding(run(buckets.object_lock, inventory))
    assert finding.status is Status.NOT_APPLICABLE
    assert finding.reason == "the account owns no CloudTrail log bucket"


def test_unreachable_account_keeps_the_engine_error() -> None:
    unreachable = make_account(OTHER, access_error=denied("sts:AssumeRole"))
    inventory = make_inventory(
        [make_trail()],
        [make_account(), unreachable],
        buckets=[make_bucket(BUCKET, policy=good_policy())],
    )
    findings = {f.account_id: f for f in run(buckets.tls_only, inventory)}
    assert findings[ACCOUNT].status is Status.PASS
    assert findings[OTHER].status is Status.ERROR
    assert "account not scanned" in findings[OTHER].reason
