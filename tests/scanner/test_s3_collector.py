"""The S3 collector against moto, through the real session layer: every bucket fact, once."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from trailcheck.demo.organization import cloudtrail_bucket_policy
from trailcheck.model import (
    AclGrant,
    Inventory,
    LifecycleTransition,
    LoggingTarget,
    NotificationTarget,
    ObjectLock,
    PublicAccessBlock,
    Unknown,
)
from trailcheck.scanner.accounts import current_account
from trailcheck.scanner.org import organization_targets
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession

ACCOUNT = "123456789012"  # moto's default account
BUCKET = "full-trail-logs"
OPTIONS = ScanOptions(regions=("us-east-1",), max_workers=1)
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
BUCKET_CALLS = (
    "s3:GetBucketLocation",
    "s3:GetBucketVersioning",
    "s3:GetBucketEncryption",
    "s3:GetObjectLockConfiguration",
    "s3:GetBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:GetPublicAccessBlock",
    "s3:GetBucketAcl",
    "s3:GetBucketLifecycleConfiguration",
    "s3:GetBucketLogging",
    "s3:GetBucketNotificationConfiguration",
)


def build_bucket(s3, name: str = BUCKET, account: str = ACCOUNT) -> None:
    """A bucket with every configuration trailcheck reads."""
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(
        Bucket=name,
        VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
        MFA="arn:aws:iam::000000000000:mfa/root 123456",
    )
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 2}},
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/logs",
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    trail = f"arn:aws:cloudtrail:us-east-1:{account}:trail/main"
    s3.put_bucket_policy(
        Bucket=name, Policy=cloudtrail_bucket_policy(name, [f"AWSLogs/{account}"], [trail])
    )
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True},
    )
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "archive",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "AWSLogs/"},
                    "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}],
                    "Expiration": {"Days": 2555},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 400},
                },
                {
                    "ID": "tmp",
                    "Status": "Disabled",
                    "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "t", "Value": "1"}]}},
                    "Expiration": {"Days": 1},
                },
            ]
        },
    )
    s3.create_bucket(Bucket=f"{name}-access")
    s3.put_bucket_acl(Bucket=f"{name}-access", ACL="log-delivery-write")
    s3.put_bucket_logging(
        Bucket=name,
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": f"{name}-access", "TargetPrefix": "x/"}
        },
    )


def add_queue_notification(boto: boto3.Session, name: str = BUCKET) -> str:
    sqs = boto.client("sqs")
    url = sqs.create_queue(QueueName="new-logs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto.client("s3").put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "AWSLogs/"}]}},
                }
            ],
            "EventBridgeConfiguration": {},
        },
    )
    return arn


def trails_to(boto: boto3.Session, bucket: str, names: tuple[str, ...] = ("main",)) -> None:
    ct = boto.client("cloudtrail")
    for name in names:
        ct.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True)


def scan(aws: AwsSession) -> Inventory:
    targets, _ = current_account(aws, "us-east-1")
    return collect(targets, aws, OPTIONS)


def test_every_bucket_fact_is_collected(aws: AwsSession, boto: boto3.Session) -> None:
    s3 = boto.client("s3")
    build_bucket(s3)
    queue = add_queue_notification(boto)
    boto.client("s3control").put_public_access_block(
        AccountId=ACCOUNT,
        PublicAccessBlockConfiguration={"BlockPublicPolicy": True, "RestrictPublicBuckets": True},
    )
    trails_to(boto, BUCKET)
    bucket = scan(aws).buckets[BUCKET]

    assert (bucket.owner_account_id, bucket.region) == (ACCOUNT, "us-east-1")
    assert not isinstance(bucket.versioning, Unknown)
    assert (bucket.versioning.status, bucket.versioning.mfa_delete) == ("Enabled", "Enabled")
    assert bucket.object_lock == ObjectLock(enabled=True, mode="GOVERNANCE", years=2)
    assert not isinstance(bucket.encryption, Unknown) and bucket.encryption is not None
    assert (bucket.encryption.algorithm, bucket.encryption.kms_key_id) == ("aws:kms", "alias/logs")
    assert bucket.encryption.bucket_key_enabled
    assert isinstance(bucket.policy, dict) and len(bucket.policy["Statement"]) == 3
    assert bucket.policy_is_public is False
    assert bucket.public_access_block == PublicAccessBlock(
        block_public_acls=True, ignore_public_acls=True
    )
    assert bucket.account_public_access_block == PublicAccessBlock(
        block_public_policy=True, restrict_public_buckets=True
    )
    assert not isinstance(bucket.acl, Unknown)
    assert AclGrant(grantee_type="Group", grantee=ALL_USERS, permission="READ") in bucket.acl.grants
    assert isinstance(bucket.lifecycle, tuple)
    archive, tmp = bucket.lifecycle
    assert (archive.id, archive.enabled, archive.prefix) == ("archive", True, "AWSLogs/")
    assert archive.transitions == (LifecycleTransition(storage_class="GLACIER", days=90),)
    assert (archive.expiration_days, archive.noncurrent_expiration_days) == (2555, 400)
    assert (tmp.enabled, tmp.prefix, tmp.tags, tmp.expiration_days) == (False, "tmp/", ("t=1",), 1)
    assert bucket.logging == LoggingTarget(target_bucket=f"{BUCKET}-access", target_prefix="x/")
    assert not isinstance(bucket.notifications, Unknown)
    assert bucket.notifications.eventbridge
    assert bucket.notifications.targets == (
        NotificationTarget(
            kind="SQS", arn=queue, events=("s3:ObjectCreated:*",), prefix="AWSLogs/"
        ),
    )


def test_absent_configurations_are_none_not_unknown(aws: AwsSession, boto: boto3.Session) -> None:
    boto.client("s3").create_bucket(Bucket="bare-logs")
    trails_to(boto, "bare-logs")
    inventory = scan(aws)
    bucket = inventory.buckets["bare-logs"]
    assert bucket.policy is None and bucket.policy_is_public is None
    assert bucket.lifecycle is None and bucket.logging is None and bucket.object_lock is None
    assert bucket.public_access_block is None and bucket.account_public_access_block is None
    assert not isinstance(bucket.versioning, Unknown) and bucket.versioning.mfa_delete is None
    # every bucket has had SSE-S3 by default since 2023 (moto made faithful)
    assert bucket.encryption is not None and not isinstance(bucket.encryption, Unknown)
    assert bucket.encryption.algorithm == "AES256"
    assert "s3:GetBucketPolicyStatus" not in inventory.metadata.api_calls  # no policy, no call


def test_a_bucket_shared_by_two_trails_is_read_once(aws: AwsSession, boto: boto3.Session) -> None:
    build_bucket(boto.client("s3"))
    trails_to(boto, BUCKET, ("first", "second"))
    calls = scan(aws).metadata.api_calls
    for op in BUCKET_CALLS:
        assert calls[op] == 1, op
    assert calls["s3control:GetPublicAccessBlock"] == 1  # once per entered account


@pytest.mark.parametrize(
    ("operation", "fact"),
    [
        ("GetBucketLifecycleConfiguration", "lifecycle"),
        ("GetBucketAcl", "acl"),
        ("GetBucketNotificationConfiguration", "notifications"),
        ("GetBucketLogging", "logging"),
        ("GetBucketPolicyStatus", "policy_is_public"),
    ],
)
def test_access_denied_on_one_call_is_unknown_for_that_fact_only(
    aws: AwsSession, boto: boto3.Session, operation: str, fact: str
) -> None:
    build_bucket(boto.client("s3"))
    trails_to(boto, BUCKET)

    def deny(**_: object) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, operation)

    # AWS's refusal is injected at botocore's event layer of the client our session makes.
    aws.client("s3", "us-east-1").meta.events.register(f"before-call.s3.{operation}", deny)
    bucket = scan(aws).buckets[BUCKET]
    value = getattr(bucket, fact)
    assert isinstance(value, Unknown)
    assert (value.operation, value.error_code) == (f"s3:{operation}", "AccessDenied")
    others = {"policy", "versioning", "acl", "lifecycle", "logging", "notifications"} - {fact}
    for other in others:
        assert not isinstance(getattr(bucket, other), Unknown), other


def test_account_public_access_block_denied_is_unknown(
    aws: AwsSession, boto: boto3.Session
) -> None:
    build_bucket(boto.client("s3"))
    trails_to(boto, BUCKET)

    def deny(**_: object) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied"}}, "GetPublicAccessBlock")

    client = aws.client("s3control", "us-east-1")
    client.meta.events.register("before-call.s3-control.GetPublicAccessBlock", deny)
    bucket = scan(aws).buckets[BUCKET]
    assert isinstance(bucket.account_public_access_block, Unknown)
    assert bucket.account_public_access_block.operation == "s3control:GetPublicAccessBlock"
    assert not isinstance(bucket.public_access_block, Unknown)


def _org_with_archive(boto: boto3.Session) -> tuple[str, boto3.Session]:
    org = boto.client("organizations")
    org.create_organization(FeatureSet="ALL")
    archive = org.create_account(Email="a@example.com", AccountName="log-archive")[
        "CreateAccountStatus"
    ]["AccountId"]
    creds = boto.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{archive}:role/OrganizationAccountAccessRole",
        RoleSessionName="build",
    )["Credentials"]
    member = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    return archive, member


def test_bucket_in_a_second_account_is_read_from_its_owner(
    aws: AwsSession, boto: boto3.Session
) -> None:
    archive, member = _org_with_archive(boto)
    build_bucket(member.client("s3"), "archive-trail-logs", account=ACCOUNT)
    trails_to(boto, "archive-trail-logs", ("first", "second"))  # trails in the management account
    scope = organization_targets(aws, "us-east-1")
    inventory = collect(scope.targets, aws, OPTIONS)

    bucket = inventory.buckets["archive-trail-logs"]
    assert bucket.owner_account_id == archive
    assert not isinstance(bucket.versioning, Unknown) and bucket.versioning.mfa_delete == "Enabled"
    assert isinstance(bucket.policy, dict)
    assert bucket.account_public_access_block is None  # read in the archive account
    calls = inventory.metadata.api_calls
    # The account-level Block Public Access: once in each entered account (S3.1 everywhere).
    assert calls["s3:GetBucketPolicy"] == 1
    assert calls["s3control:GetPublicAccessBlock"] == len(inventory.reachable_accounts()) == 2
    assert inventory.accounts[archive].public_access_block is None


def test_bucket_outside_the_scan_is_unknown_per_fact_with_the_reason(
    aws: AwsSession, boto: boto3.Session
) -> None:
    _archive, member = _org_with_archive(boto)
    build_bucket(member.client("s3"), "archive-trail-logs", account=ACCOUNT)
    trails_to(boto, "archive-trail-logs")
    inventory = scan(aws)  # the management account only: the archive account is not scanned

    bucket = inventory.buckets["archive-trail-logs"]
    assert isinstance(bucket.owner_account_id, Unknown)
    assert bucket.owner_account_id.error_code == "OwnerNotScanned"
    for fact in ("versioning", "policy", "acl", "lifecycle", "logging", "notifications"):
        value = getattr(bucket, fact)
        assert isinstance(value, Unknown) and value.error_code == "OwnerNotScanned", fact
    calls = inventory.metadata.api_calls
    assert calls["s3:GetBucketLocation"] == 1
    assert "s3:GetBucketPolicy" not in calls  # never judged on facts read from outside


def test_a_trail_writing_to_a_missing_bucket_records_no_such_bucket(
    aws: AwsSession, boto: boto3.Session
) -> None:
    boto.client("s3").create_bucket(Bucket="soon-gone")
    trails_to(boto, "soon-gone")
    boto.client("s3").delete_bucket(Bucket="soon-gone")
    bucket = scan(aws).buckets["soon-gone"]
    assert isinstance(bucket.region, Unknown) and bucket.region.error_code == "NoSuchBucket"
    assert isinstance(bucket.policy, Unknown) and bucket.policy.error_code == "NoSuchBucket"


def test_faithful_moto_returns_mfa_delete_as_aws_does(moto: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="mfa-bucket")
    s3.put_bucket_versioning(Bucket="mfa-bucket", VersioningConfiguration={"Status": "Enabled"})
    assert "MFADelete" not in s3.get_bucket_versioning(Bucket="mfa-bucket")  # never configured
    s3.put_bucket_versioning(
        Bucket="mfa-bucket",
        VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
        MFA="serial 123456",
    )
    answer = s3.get_bucket_versioning(Bucket="mfa-bucket")
    assert (answer["Status"], answer["MFADelete"]) == ("Enabled", "Enabled")
