"""Bucket rules about the bucket around the logs: server access logging, notifications,
separate account."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import JsonValue

from trailcheck.model import (
    Bucket,
    Finding,
    Inventory,
    LoggingTarget,
    Severity,
    Status,
    Trail,
    Unknown,
)
from trailcheck.rules.base import Remediation, RuleContext, rule
from trailcheck.rules.buckets._common import Verdict, _unread, judge_each_bucket

_ACCESS_LOGGING_CONTROLS = {
    "cis-aws-1.4": ("3.6",),
    "cis-aws-3.0": ("3.4",),
    "cis-aws-5.0": ("3.4",),
    "cis-aws-6.0": ("4.4",),
    "cis-aws-7.0": ("4.4",),
    "aws-fsbp": ("CloudTrail.7", "S3.9"),
}
_ACCESS_LOGGING_RELATED = {"pci-dss-4.0": ("10.2.1.3",), "nist-800-53-r5": ("AU-9",)}
_ACCESS_LOGGING_FIX = Remediation(
    summary="Send the log bucket's server access logs to a separate bucket (which grants "
    "logging.s3.amazonaws.com PutObject).",
    cli="aws s3api put-bucket-logging --bucket {bucket} --bucket-logging-status "
    '\'{"LoggingEnabled":{"TargetBucket":"ACCESS_LOG_BUCKET","TargetPrefix":"{bucket}/"}}\'',
    terraform='resource "aws_s3_bucket_logging" "logs" {\n'
    "  bucket        = aws_s3_bucket.logs.id\n"
    "  target_bucket = aws_s3_bucket.access_logs.id\n"
    '  target_prefix = "cloudtrail-bucket/"\n}',
)


@rule(
    id="CT.BUCKET.ACCESS_LOGGING_ENABLED",
    change_events=("PutBucketLogging",),
    title="Server access logging is enabled on the CloudTrail log bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Decides: CIS 3.6/3.4, CloudTrail.7 and S3.9 test that GetBucketLogging returns a
    # LoggingEnabled block, whatever its target.
    controls=_ACCESS_LOGGING_CONTROLS,
    related_controls=_ACCESS_LOGGING_RELATED,
    requires={"trails", "buckets"},
    remediation=_ACCESS_LOGGING_FIX,
)
def access_logging_enabled(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """The framework reading of server access logging on the CloudTrail bucket: logging is
    on. Where the access logs go (another bucket, not the log bucket itself) is judged by
    CT.BUCKET.ACCESS_LOGGING."""

    yield from judge_each_bucket(inventory, ctx, ("logging",), _logging_enabled)


def _logging_enabled(bucket: Bucket) -> Verdict:
    target = bucket.logging if isinstance(bucket.logging, LoggingTarget) else None
    evidence: dict[str, JsonValue] = {"logging": target.model_dump(mode="json") if target else None}
    if target is None:
        return Verdict(
            Status.FAIL,
            "server access logging is disabled",
            evidence,
            ("bucket.access_logging_off",),
        )
    return Verdict(
        Status.PASS, f"server access logging is enabled (to {target.target_bucket})", evidence
    )


@rule(
    id="CT.BUCKET.ACCESS_LOGGING",
    change_events=("PutBucketLogging",),
    title="Server access logging is enabled on the CloudTrail log bucket, to another bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Relates only: CIS 3.6/3.4, CloudTrail.7 and S3.9 pass a bucket that logs into itself;
    # CT.BUCKET.ACCESS_LOGGING_ENABLED decides them.
    controls={},
    related_controls={**_ACCESS_LOGGING_CONTROLS, **_ACCESS_LOGGING_RELATED},
    requires={"trails", "buckets"},
    remediation=_ACCESS_LOGGING_FIX,
)
def access_logging(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Server access logs record who read, listed or deleted log files (CloudTrail data events
    on the log bucket are rarely on). Logging a bucket into itself loops: every log delivery
    writes a new access-log object."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        target = bucket.logging
        if isinstance(target, Unknown):
            yield _unread(ctx, bucket, writers, "access logging", target)
            return
        evidence = {"logging": target.model_dump(mode="json") if target else None}
        if target is None:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "server access logging is disabled",
                evidence=evidence,
                problems=["bucket.access_logging_off"],
            )
        elif target.target_bucket == bucket.name:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "server access logs are written into the log bucket itself (use another bucket)",
                evidence=evidence,
                problems=["bucket.access_logging_off"],
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"server access logs go to {target.target_bucket}/{target.target_prefix}",
                evidence=evidence,
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("logging",))


@rule(
    id="CT.BUCKET.NOTIFICATIONS",
    change_events=("PutBucketNotification",),
    title="New log files are announced (S3 event notifications or the trail's SNS topic)",
    severity=Severity.INFO,
    resource_type="AWS::S3::Bucket",
    # Relates only: S3.11 looks at the bucket's event notifications alone; this rule also
    # passes a trail that announces each log file on its SNS topic.
    controls={},
    related_controls={"aws-fsbp": ("S3.11",), "nist-800-53-r5": ("AU-6",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Tell a SIEM or pipeline about new log files: an SNS topic on the trail, or S3 "
        "event notifications (SNS, SQS, Lambda or EventBridge) on the bucket.",
        cli="aws s3api put-bucket-notification-configuration --bucket {bucket} "
        "--notification-configuration '{\"EventBridgeConfiguration\":{}}'",
        terraform='resource "aws_s3_bucket_notification" "logs" {\n'
        "  bucket      = aws_s3_bucket.logs.id\n  eventbridge = true\n}",
    ),
)
def notifications(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Informational: a notification on each new log file lets a SIEM ingest logs within
    minutes and lets a missing delivery be noticed. Reported with the targets."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        config = bucket.notifications
        if isinstance(config, Unknown):
            yield _unread(ctx, bucket, writers, "notification configuration", config)
            return
        targets = [f"{t.kind} {t.arn}" for t in config.targets]
        if config.eventbridge:
            targets.append("EventBridge")
        topics = [f"SNS {t.sns_topic_arn} (trail {t.name})" for t in writers if t.sns_topic_arn]
        evidence = {"s3_event_targets": targets, "trail_sns_topics": topics}
        if targets or topics:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"new log files are announced to {', '.join(targets + topics)}",
                evidence=evidence,
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "no S3 event notification on the bucket and no SNS topic on its trails",
                evidence=evidence,
                problems=["bucket.notifications_off"],
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("notifications",))


@rule(
    id="CT.BUCKET.SEPARATE_ACCOUNT",
    title="Logs land in a separate log-archive account",
    severity=Severity.INFO,
    resource_type="AWS::S3::Bucket",
    controls={},
    related_controls={"pci-dss-4.0": ("10.3.3",), "nist-800-53-r5": ("AU-9(2)",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="In a multi-account set-up, deliver the trails to a bucket in a dedicated "
        "log-archive account that workload administrators cannot change.",
        cli="aws cloudtrail update-trail --name TRAIL --s3-bucket-name LOG_ARCHIVE_BUCKET",
        terraform="s3_bucket_name = var.log_archive_bucket  # in the aws_cloudtrail resource",
    ),
)
def separate_account(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Informational: when the logs live in the account that produces them, an administrator
    of that account can change the bucket that holds the evidence of what they did. The
    security/log-archive account pattern keeps them apart; the owner account is the evidence."""
    multi_account = len(inventory.reachable_accounts()) > 1

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        owner = bucket.owner_account_id
        same = [t.arn for t in writers if t.account_id == owner]
        evidence = {"writers_in_owner_account": same}
        if not same:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"the logs land in account {owner}, apart from the accounts whose trails write "
                "there",
                evidence=evidence,
            )
        elif not multi_account and not any(t.is_organization_trail for t in writers):
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.NOT_APPLICABLE,
                "single-account scan: the log-archive account pattern applies to "
                "multi-account set-ups",
                evidence=evidence,
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"the bucket is in account {owner}, the same account as trail(s) {', '.join(same)}",
                evidence=evidence,
                problems=["bucket.same_account"],
            )

    yield from ctx.per_log_bucket(inventory, judge, needs_writers=True)
