"""The embedded sample organization: built in moto with plain boto3 calls, as a user would.

Accounts (names are what the report shows):
* management — organization trail (multi-region, validation, SSE-KMS with rotation, CloudWatch
  Logs), writing to the central bucket of the log-archive account. Covers every member. Its log
  group carries the CIS metric filters (`add_cis_monitoring`), some rewritten with the same
  meaning, alarmed to an SNS topic with a confirmed (SQS) subscriber; with realistic gaps: the
  sign-in-without-MFA filter has the wrong case and never matches, the IAM-policy alarm has no
  actions, Organizations changes are watched only by an EventBridge rule, and the root user
  deleted the filter for disabled or deleted KMS keys.

Who did what is on record: moto (made faithful) keeps every call as a CloudTrail event, so
`scan --who` names the principal behind each failure.
* log-archive — owns the central, locked-down log bucket: scoped CloudTrail grant, TLS only,
  Block Public Access, versioning, Object Lock COMPLIANCE 365 days, lifecycle to Glacier after
  90 days and no expiration before 7 years, SSE-KMS, access logs to a separate bucket,
  EventBridge notifications. (No MFA Delete: S3 does not support it with a lifecycle; Object
  Lock COMPLIANCE protects more.)
* workload-prod — no trail of its own: covered by the organization trail.
* workload-legacy — its own single-region trail, stopped (by the assumed role Admin, session
  alice), no validation, no KMS; its bucket is the classic legacy one: public-read ACL, the old
  unscoped CloudTrail statement (put by the IAM user ops-bob), no TLS deny, no versioning, a
  lifecycle that expires logs after 30 days.
* sandbox — its own multi-region trail that excludes KMS events, encrypted with a key that is
  pending deletion; its bucket has versioning with MFA Delete but Object Lock only in
  GOVERNANCE mode for 30 days, and grants a cross-account role read access.
* acquired — its access role was removed: the scan cannot enter it (every rule says ERROR).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "us-east-1"
DEMO_KEY = "testing"  # moto accepts any credentials; these never leave the process
ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True)
class DemoOrganization:
    management_account_id: str
    accounts: dict[str, str]  # name → account id


def _caller_session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=DEMO_KEY, aws_secret_access_key=DEMO_KEY, region_name=REGION
    )


def member_session(base: boto3.Session, account_id: str) -> boto3.Session:
    """A boto3 session inside member `account_id`, through its organization access role."""
    creds = base.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}", RoleSessionName="demo-builder"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def cloudtrail_bucket_policy(bucket: str, prefix_paths: list[str], source_arns: list[str]) -> str:
    """The bucket policy AWS documents for CloudTrail, scoped with aws:SourceArn."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSCloudTrailAclCheck",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": f"arn:aws:s3:::{bucket}",
                    "Condition": {"StringEquals": {"aws:SourceArn": source_arns}},
                },
                {
                    "Sid": "AWSCloudTrailWrite",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": [f"arn:aws:s3:::{bucket}/{p}/*" for p in prefix_paths],
                    "Condition": {
                        "StringEquals": {
                            "s3:x-amz-acl": "bucket-owner-full-control",
                            "aws:SourceArn": source_arns,
                        }
                    },
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def legacy_cloudtrail_bucket_policy(bucket: str, account_id: str) -> str:
    """The bucket policy AWS documented before 2022: no aws:SourceArn, no TLS deny."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSCloudTrailAclCheck",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": f"arn:aws:s3:::{bucket}",
                },
                {
                    "Sid": "AWSCloudTrailWrite",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{account_id}/*",
                    "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
                },
            ],
        }
    )


def protect_log_bucket(s3: Any, bucket: str, access_log_bucket: str) -> None:
    """Versioning, Object Lock COMPLIANCE 365 days, Block Public Access, access logging.

    The bucket must have been created with ObjectLockEnabledForBucket; `access_log_bucket` is
    created here (with the log-delivery ACL S3 server access logging needs).
    """
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}},
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.create_bucket(Bucket=access_log_bucket)
    s3.put_bucket_acl(Bucket=access_log_bucket, ACL="log-delivery-write")
    s3.put_bucket_logging(
        Bucket=bucket,
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": access_log_bucket, "TargetPrefix": f"{bucket}/"}
        },
    )


def _iam_user_session(account: boto3.Session, user_name: str) -> boto3.Session:
    """A session with the access key of a new IAM user `user_name` of `account`."""
    iam = account.client("iam")
    iam.create_user(UserName=user_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )


def _role_session(
    base: boto3.Session, account: boto3.Session, account_id: str, role: str, session_name: str
) -> boto3.Session:
    """A session of role `role` (created in `account`), assumed as `session_name`."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    account.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    creds = base.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{role}", RoleSessionName=session_name
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def _kms_key(session: boto3.Session, *, rotate: bool) -> str:
    kms = session.client("kms")
    arn: str = kms.create_key(Description="CloudTrail logs")["KeyMetadata"]["Arn"]
    if rotate:
        kms.enable_key_rotation(KeyId=arn)
    return arn


def _bucket(session: boto3.Session, name: str, **create: Any) -> None:
    session.client("s3").create_bucket(Bucket=name, **create)


CIS_NAMESPACE = "CISBenchmark"
# Same meaning as the CIS text, written differently: the report shows they pass.
EQUIVALENT_REWRITES = {
    "root_usage": '{ $.eventType != "AwsServiceEvent" && $.userIdentity.invokedBy NOT EXISTS '
    '&& $.userIdentity.type = "Root" }',
    "cloudtrail_config_changes": '{($.eventName="StopLogging")||($.eventName="DeleteTrail")||'
    '($.eventName="UpdateTrail")||($.eventName="CreateTrail")||($.eventName="StartLogging")}',
    # The CIS 1.2.0 / Security Hub text: covers, but also counts HeadBucket noise (over-broad).
    "unauthorized_api_calls": '{($.errorCode="*UnauthorizedOperation") || '
    '($.errorCode="AccessDenied*")}',
}
# Looks right, never matches: event names are case sensitive.
WRONG_CASE_MFA = '{ ($.eventName = "consoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }'
# Route-table changes split over two filters, read by one metric-math alarm.
ROUTE_TABLE_SPLIT = (
    "{ ($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || "
    "($.eventName = ReplaceRoute) }",
    "{ ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || "
    "($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable) }",
)


def _metric(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def add_cis_monitoring(session: boto3.Session, log_group: str, *, with_gaps: bool = False) -> str:
    """Put the CIS monitoring set on `log_group`: metric filters, alarms, an SNS topic with a
    confirmed SQS subscriber (SQS subscriptions need no confirmation in AWS). `with_gaps` adds
    the demo's realistic mistakes (see the module doc). Returns the topic ARN."""
    from trailcheck.rules._cis_controls import load_controls

    logs = session.client("logs")
    cloudwatch = session.client("cloudwatch")
    sns = session.client("sns")
    topic = sns.create_topic(Name="security-alerts")["TopicArn"]
    queue = session.client("sqs").create_queue(QueueName="security-alerts")["QueueUrl"]
    queue_arn = session.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def put_filter(name: str, pattern: str) -> None:
        logs.put_metric_filter(
            logGroupName=log_group,
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[
                {"metricName": name, "metricNamespace": CIS_NAMESPACE, "metricValue": "1"}
            ],
        )

    def put_alarm(name: str, *, actions: bool = True) -> None:
        cloudwatch.put_metric_alarm(
            AlarmName=f"cis-{name}",
            MetricName=name,
            Namespace=CIS_NAMESPACE,
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[topic] if actions else [],
        )

    for control in load_controls():
        name = _metric(control.key)
        if with_gaps and control.key == "organizations_changes":
            continue  # watched by EventBridge below
        if with_gaps and control.key == "route_table_changes":
            for part, pattern in enumerate(ROUTE_TABLE_SPLIT, start=1):
                put_filter(f"{name}Part{part}", pattern)
            cloudwatch.put_metric_alarm(
                AlarmName=f"cis-{name}",
                Metrics=[
                    {
                        "Id": f"p{part}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": CIS_NAMESPACE,
                                "MetricName": f"{name}Part{part}",
                            },
                            "Period": 300,
                            "Stat": "Sum",
                        },
                        "ReturnData": False,
                    }
                    for part in (1, 2)
                ]
                + [{"Id": "total", "Expression": "p1 + p2", "ReturnData": True}],
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                AlarmActions=[topic],
            )
            continue
        pattern = control.recommended_pattern
        if with_gaps:
            pattern = EQUIVALENT_REWRITES.get(control.key, pattern)
            if control.key == "console_signin_without_mfa":
                pattern = WRONG_CASE_MFA
        put_filter(name, pattern)
        put_alarm(name, actions=not (with_gaps and control.key == "iam_policy_changes"))

    if with_gaps:
        events = session.client("events")
        events.put_rule(
            Name="organizations-changes",
            EventPattern=json.dumps(
                {
                    "source": ["aws.organizations"],
                    "detail-type": ["AWS API Call via CloudTrail"],
                    "detail": {"eventSource": ["organizations.amazonaws.com"]},
                }
            ),
        )
        events.put_targets(Rule="organizations-changes", Targets=[{"Id": "alerts", "Arn": topic}])
    return topic


ORG_SELECTORS: list[dict[str, Any]] = [
    {
        "Name": "Management",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
    },
    {
        "Name": "S3 object writes",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "readOnly", "Equals": ["false"]},
        ],
    },
    {
        "Name": "Lambda invocations",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]},
        ],
    },
]


def build_demo_organization() -> DemoOrganization:
    """Create the sample organization inside an active moto mock and return its account ids."""
    base = _caller_session()
    org = base.client("organizations")
    org.create_organization(FeatureSet="ALL")
    org_id = org.describe_organization()["Organization"]["Id"]
    management = base.client("sts").get_caller_identity()["Account"]
    accounts = {"management": management}
    for name in ("log-archive", "workload-prod", "workload-legacy", "sandbox", "acquired"):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)
        accounts[name] = status["CreateAccountStatus"]["AccountId"]
    sessions = {n: member_session(base, a) for n, a in accounts.items() if n != "management"}
    sessions["management"] = base

    # log-archive: the central bucket, versioned, locked, encrypted, private.
    central = f"demo-org-cloudtrail-{accounts['log-archive']}"
    archive = sessions["log-archive"]
    _bucket(archive, central, ObjectLockEnabledForBucket=True)
    s3 = archive.client("s3")
    protect_log_bucket(s3, central, f"demo-org-access-logs-{accounts['log-archive']}")
    s3.put_bucket_lifecycle_configuration(
        Bucket=central,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "archive-then-expire",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "AWSLogs/"},
                    "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}],
                    "Expiration": {"Days": 2555},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 400},
                }
            ]
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket=central, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    # The log-archive account blocks public access account-wide (S3.1); the others do not.
    archive.client("s3control").put_public_access_block(
        AccountId=accounts["log-archive"],
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    org_trail_arn = f"arn:aws:cloudtrail:{REGION}:{management}:trail/org-trail"
    s3.put_bucket_policy(
        Bucket=central,
        Policy=cloudtrail_bucket_policy(
            central, [f"AWSLogs/{management}", f"AWSLogs/{org_id}"], [org_trail_arn]
        ),
    )

    # management: the organization trail.
    mgmt = sessions["management"]
    key = _kms_key(mgmt, rotate=True)
    s3.put_bucket_encryption(
        Bucket=central,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    logs = mgmt.client("logs")
    logs.create_log_group(logGroupName="aws-cloudtrail-logs-org")
    group_arn = f"arn:aws:logs:{REGION}:{management}:log-group:aws-cloudtrail-logs-org:*"
    cloudtrail = mgmt.client("cloudtrail")
    cloudtrail.create_trail(
        Name="org-trail",
        S3BucketName=central,
        IsMultiRegionTrail=True,
        IsOrganizationTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=f"arn:aws:iam::{management}:role/CloudTrailToCloudWatch",
    )
    cloudtrail.start_logging(Name="org-trail")
    # All management events, S3 object writes (not reads) of every bucket, Lambda invocations;
    # both kinds of Insights; tagged. An analytics Lake store with AWS's key and a short life.
    cloudtrail.put_event_selectors(TrailName="org-trail", AdvancedEventSelectors=ORG_SELECTORS)
    cloudtrail.put_insight_selectors(
        TrailName="org-trail",
        InsightSelectors=[
            {"InsightType": "ApiCallRateInsight"},
            {"InsightType": "ApiErrorRateInsight"},
        ],
    )
    cloudtrail.add_tags(ResourceId=org_trail_arn, TagsList=[{"Key": "owner", "Value": "security"}])
    cloudtrail.create_event_data_store(Name="org-audit-lake", KmsKeyId=key)
    cloudtrail.create_event_data_store(
        Name="analytics", RetentionPeriod=90, TerminationProtectionEnabled=False
    )
    add_cis_monitoring(mgmt, "aws-cloudtrail-logs-org", with_gaps=True)
    # Someone with the root user's keys removes one filter: its control stops being watched.
    logs.delete_metric_filter(
        logGroupName="aws-cloudtrail-logs-org", filterName=_metric("cmk_disable_or_deletion")
    )

    # workload-legacy: a stopped single-region trail on an unversioned bucket of its own.
    legacy = sessions["workload-legacy"]
    legacy_bucket = f"legacy-trail-logs-{accounts['workload-legacy']}"
    _bucket(legacy, legacy_bucket)
    legacy_s3 = legacy.client("s3")
    legacy_s3.put_bucket_acl(Bucket=legacy_bucket, ACL="public-read")
    # An IAM user of the account puts the old, unscoped policy back.
    ops_bob = _iam_user_session(legacy, "ops-bob")
    ops_bob.client("s3").put_bucket_policy(
        Bucket=legacy_bucket,
        Policy=legacy_cloudtrail_bucket_policy(legacy_bucket, accounts["workload-legacy"]),
    )
    legacy_s3.put_bucket_lifecycle_configuration(
        Bucket=legacy_bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "save-money",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": 30},
                }
            ]
        },
    )
    legacy_trail = legacy.client("cloudtrail")
    legacy_trail.create_trail(Name="legacy-trail", S3BucketName=legacy_bucket)
    legacy_trail.start_logging(Name="legacy-trail")
    # An administrator (assumed role Admin, session alice) stops it.
    alice = _role_session(base, legacy, accounts["workload-legacy"], "Admin", "alice")
    alice.client("cloudtrail").stop_logging(Name="legacy-trail")

    # sandbox: multi-region, but KMS events excluded and its key scheduled for deletion.
    sandbox = sessions["sandbox"]
    sandbox_bucket = f"sandbox-trail-{accounts['sandbox']}"
    _bucket(sandbox, sandbox_bucket, ObjectLockEnabledForBucket=True)
    sandbox_s3 = sandbox.client("s3")
    sandbox_s3.put_bucket_versioning(
        Bucket=sandbox_bucket,
        VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
        MFA="arn:aws:iam::000000000000:mfa/root-account-mfa-device 123456",
    )
    sandbox_s3.put_object_lock_configuration(
        Bucket=sandbox_bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}},
        },
    )
    sandbox_arn = f"arn:aws:cloudtrail:{REGION}:{accounts['sandbox']}:trail/sandbox-trail"
    policy = json.loads(
        cloudtrail_bucket_policy(sandbox_bucket, [f"AWSLogs/{accounts['sandbox']}"], [sandbox_arn])
    )
    policy["Statement"].append(
        {
            "Sid": "AuditorsRead",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{accounts['workload-prod']}:role/Auditor"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{sandbox_bucket}/*",
        }
    )
    sandbox_s3.put_bucket_policy(Bucket=sandbox_bucket, Policy=json.dumps(policy))
    sandbox_key = _kms_key(sandbox, rotate=False)
    trail = sandbox.client("cloudtrail")
    trail.create_trail(
        Name="sandbox-trail",
        S3BucketName=sandbox_bucket,
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=sandbox_key,
    )
    trail.put_event_selectors(
        TrailName="sandbox-trail",
        AdvancedEventSelectors=[
            {
                "Name": "Management events without KMS",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]},
                ],
            }
        ],
    )
    trail.start_logging(Name="sandbox-trail")
    sandbox.client("kms").schedule_key_deletion(
        KeyId=sandbox_key.split("/")[-1], PendingWindowInDays=7
    )

    add_trail_guardrails(base, sessions, accounts)

    # acquired: the access role is gone, so the scanner cannot enter the account.
    sessions["acquired"].client("iam").delete_role(RoleName=ROLE)
    return DemoOrganization(management_account_id=management, accounts=accounts)


# ----------------------------------------------------------------------------- guardrails
# Who can still stop the logs (CT.ORG.TAMPER_GUARDRAIL, CT.IAM.WHO_CAN_TAMPER).

BREAK_GLASS = "arn:aws:iam::*:role/BreakGlass"
# The rule parameters the demo is judged with: the organization's named break-glass role.
DEMO_RULE_PARAMS = {"CT.ORG.TAMPER_GUARDRAIL": {"break_glass_principals": [BREAK_GLASS]}}
_ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
_TAMPER_ACTIONS = [
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:PutInsightSelectors",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketObjectLockConfiguration",
    "s3:BypassGovernanceRetention",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:DeleteBucket",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
]


def trail_guardrail_scp(exception: str) -> str:
    """An SCP denying the tamper actions to everyone whose ARN is not like `exception`."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ProtectOrganizationTrail",
                    "Effect": "Deny",
                    "Action": _TAMPER_ACTIONS,
                    "Resource": "*",
                    "Condition": {"ArnNotLike": {"aws:PrincipalArn": exception}},
                }
            ],
        }
    )


def _admin_role(session: boto3.Session, name: str) -> None:
    iam = session.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    iam.put_role_policy(RoleName=name, PolicyName="admin", PolicyDocument=json.dumps(_ADMIN))


def add_trail_guardrails(
    base: boto3.Session, sessions: dict[str, boto3.Session], accounts: dict[str, str]
) -> None:
    """One guardrail that holds and one that leaks.

    * `protect-org-trail` (exception: exactly the BreakGlass role) is attached to log-archive
      and workload-prod: it holds there.
    * `protect-org-trail-sandbox` was written with the exception `*Admin*`: in sandbox it also
      exempts the ordinary role DevOpsAdmin, which can stop the organization trail's logging.
    * workload-legacy has no guardrail; its Admin role (the one that stopped its trail) holds
      administrator rights.
    """
    org = base.client("organizations")
    for name in ("workload-prod", "sandbox"):
        _admin_role(sessions[name], "BreakGlass")
    _admin_role(sessions["sandbox"], "DevOpsAdmin")
    sessions["workload-legacy"].client("iam").put_role_policy(
        RoleName="Admin", PolicyName="admin", PolicyDocument=json.dumps(_ADMIN)
    )
    for name, exception, targets in (
        ("protect-org-trail", BREAK_GLASS, ("log-archive", "workload-prod")),
        ("protect-org-trail-sandbox", "arn:aws:iam::*:role/*Admin*", ("sandbox",)),
    ):
        policy_id = org.create_policy(
            Content=trail_guardrail_scp(exception),
            Description="Deny changes to the organization trail, its bucket and key",
            Name=name,
            Type="SERVICE_CONTROL_POLICY",
        )["Policy"]["PolicySummary"]["Id"]
        for target in targets:
            org.attach_policy(PolicyId=policy_id, TargetId=accounts[target])
