"""CloudWatch Logs integration and trail delivery health."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from trailcheck.model import Finding, Inventory, Severity, Status, Trail, Unknown
from trailcheck.rules.base import Remediation, RuleContext, Unseen, Visibility, rule


class CloudWatchParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_delivery_age_hours: int = Field(
        default=24, ge=1, description="A delivery older than this (before the scan time) is stale."
    )


_SEND_TO_CWL = Remediation(
    summary="Send the trail to a CloudWatch Logs log group (with a role CloudTrail can "
    "assume) so metric filters and alarms can watch it in near real time.",
    cli="aws cloudtrail update-trail --name {trail_arn} --cloud-watch-logs-log-group-arn "
    "{log_group_arn} --cloud-watch-logs-role-arn {role_arn}",
    terraform='cloud_watch_logs_group_arn = "${aws_cloudwatch_log_group.trail.arn}:*"\n'
    "cloud_watch_logs_role_arn  = aws_iam_role.cloudtrail_to_cwl.arn",
)
_MONITORING_RELATED = {
    "pci-dss-4.0": ("10.4.1",),
    "nist-800-53-r5": ("AU-6", "SI-4"),
    "soc2": ("CC7.2",),
    "iso-27001-2022": ("A.8.16",),
}


@rule(
    id="CT.TRAIL.CLOUDWATCH_LOGS_CONFIGURED",
    change_events=("UpdateTrail",),
    title="The trail is configured to send its events to CloudWatch Logs",
    severity=Severity.MEDIUM,
    resource_type="AWS::CloudTrail::Trail",
    # Decides: CloudTrail.5 fails exactly when the trail's CloudWatchLogsLogGroupArn is empty.
    controls={"aws-fsbp": ("CloudTrail.5",)},
    # CIS 1.4 3.4 also wants a delivery within about a day: CT.TRAIL.CLOUDWATCH_LOGS.
    related_controls={"cis-aws-1.4": ("3.4",), **_MONITORING_RELATED},
    requires={"trails"},
    remediation=_SEND_TO_CWL,
)
def cloudwatch_logs_configured(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """The framework reading of CloudWatch Logs integration: the trail names a log group
    (CloudWatchLogsLogGroupArn). Whether events really arrive there is judged by
    CT.TRAIL.CLOUDWATCH_LOGS."""

    def judge(trail: Trail) -> Iterator[Finding]:
        arn = trail.cloudwatch_logs_log_group_arn
        evidence = {"trail_arn": trail.arn, "CloudWatchLogsLogGroupArn": arn}
        if arn:
            yield ctx.for_trail(
                trail,
                Status.PASS,
                f"the trail sends its events to log group {arn}",
                evidence=evidence | {"log_group_arn": arn},
            )
        else:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                "the trail has no CloudWatch Logs log group",
                evidence=evidence,
                problems=["trail.no_cloudwatch_logs"],
            )

    yield from ctx.per_owned_trail(inventory, judge)


@rule(
    id="CT.TRAIL.CLOUDWATCH_LOGS",
    change_events=("UpdateTrail", "DeleteLogGroup", "StopLogging"),
    title="The trail delivers to CloudWatch Logs, recently",
    severity=Severity.MEDIUM,
    resource_type="AWS::CloudTrail::Trail",
    # Relates only: CloudTrail.5 passes a configured log group however stale or failing its
    # delivery, and CIS 1.4 3.4 does not look at delivery errors or a deleted log group;
    # CT.TRAIL.CLOUDWATCH_LOGS_CONFIGURED decides CloudTrail.5.
    controls={},
    related_controls={
        "cis-aws-1.4": ("3.4",),
        "aws-fsbp": ("CloudTrail.5",),
        **_MONITORING_RELATED,
    },
    requires={"trails", "log_groups"},
    params=CloudWatchParams,
    remediation=_SEND_TO_CWL,
)
def cloudwatch_logs(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Log files in S3 are read after the fact; CloudWatch Logs lets alarms fire within minutes
    of a root login or a StopLogging call. Configured is not enough: the role or the log group
    can break silently, so the last delivery must be recent (relative to the scan time)."""
    max_age = timedelta(hours=ctx.params.max_delivery_age_hours)
    visibility = Visibility(inventory)

    def judge(trail: Trail) -> Iterator[Finding]:
        arn = trail.cloudwatch_logs_log_group_arn
        evidence: dict[str, object] = {
            "trail_arn": trail.arn,
            "CloudWatchLogsLogGroupArn": arn,
            "log_group_arn": arn,
            "role_arn": trail.cloudwatch_logs_role_arn,
        }
        if not arn:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                "the trail does not deliver to CloudWatch Logs",
                evidence=evidence,
                problems=["trail.no_cloudwatch_logs"],
            )
            return
        group = inventory.log_groups.get(arn)
        unseen = visibility.log_group(arn)
        if unseen is None and group is not None and group.exists is False:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                f"log group {group.name} does not exist",
                evidence=evidence,
                problems=["trail.cloudwatch_log_group_missing"],
            )
            return
        if isinstance(trail.status, Unknown):
            yield ctx.for_trail(
                trail,
                Status.ERROR,
                f"cannot read status: {trail.status.describe()}",
                evidence=evidence,
            )
            return
        last = trail.status.latest_cloudwatch_logs_delivery_time
        error = trail.status.latest_cloudwatch_logs_delivery_error
        evidence |= {
            "LatestCloudWatchLogsDeliveryTime": last.isoformat() if last else None,
            "LatestCloudWatchLogsDeliveryError": error,
            "scan_time": inventory.scan_time.isoformat(),
            "max_delivery_age_hours": ctx.params.max_delivery_age_hours,
        }
        if error:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                f"delivery to CloudWatch Logs fails: {error}",
                evidence=evidence,
                problems=["trail.cloudwatch_delivery_error"],
            )
        elif last is None:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                "CloudTrail has never delivered to the log group",
                evidence=evidence,
                problems=["trail.cloudwatch_delivery_stale"],
            )
        elif inventory.scan_time - last > max_age:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                f"last delivery to CloudWatch Logs was {last.isoformat()}, more than "
                f"{ctx.params.max_delivery_age_hours} h before the scan",
                evidence=evidence,
                problems=["trail.cloudwatch_delivery_stale"],
            )
        elif unseen is not None:
            yield ctx.unseen(
                Unseen(
                    f"{unseen.reason} (CloudTrail last delivered at {last.isoformat()})",
                    unseen.add_to_scan,
                ),
                account_id=trail.account_id,
                region=trail.home_region,
                resource_arn=trail.arn,
                evidence=evidence,
            )
        else:
            yield ctx.for_trail(
                trail,
                Status.PASS,
                f"delivered to CloudWatch Logs at {last.isoformat()}",
                evidence=evidence,
            )

    yield from ctx.per_owned_trail(inventory, judge)


@rule(
    id="CT.TRAIL.DELIVERY_HEALTH",
    change_events=(
        "UpdateTrail",
        "PutBucketPolicy",
        "DeleteBucketPolicy",
        "PutKeyPolicy",
        "DisableKey",
        "ScheduleKeyDeletion",
    ),
    title="The trail's latest deliveries succeeded",
    severity=Severity.HIGH,
    resource_type="AWS::CloudTrail::Trail",
    controls={},
    related_controls={"pci-dss-4.0": ("10.7.2",), "iso-27001-2022": ("A.8.15",)},
    requires={"trails"},
    remediation=Remediation(
        summary="Fix what the error names: usually the bucket policy, the KMS key policy, the "
        "CloudWatch Logs role or the SNS topic policy no longer lets CloudTrail deliver.",
        cli="aws cloudtrail get-trail-status --name {trail_arn}",
        terraform="# compare the aws_s3_bucket_policy / aws_kms_key policy with the CloudTrail "
        "documentation's required statements",
    ),
)
def delivery_health(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """A trail can be logging while every delivery fails (a changed bucket or key policy): the
    events are then lost. GetTrailStatus keeps the latest error of each delivery path."""

    def judge(trail: Trail) -> Iterator[Finding]:
        if isinstance(trail.status, Unknown):
            yield ctx.for_trail(
                trail, Status.ERROR, f"cannot read status: {trail.status.describe()}"
            )
            return
        status = trail.status
        errors = {
            "LatestDeliveryError (S3)": status.latest_delivery_error,
            "LatestDigestDeliveryError": status.latest_digest_delivery_error,
            "LatestCloudWatchLogsDeliveryError": status.latest_cloudwatch_logs_delivery_error,
            "LatestNotificationError (SNS)": status.latest_notification_error,
        }
        failing = {k: v for k, v in errors.items() if v}
        evidence = {"trail_arn": trail.arn, **{k: v for k, v in errors.items()}}
        if failing:
            text = "; ".join(f"{k}: {v}" for k, v in failing.items())
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                f"delivery errors: {text}",
                evidence=evidence,
                problems=["trail.delivery_errors"],
            )
        else:
            yield ctx.for_trail(trail, Status.PASS, "no delivery error reported", evidence=evidence)

    yield from ctx.per_owned_trail(inventory, judge)
