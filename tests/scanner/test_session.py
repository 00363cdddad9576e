"""The session layer: read-only guard, API meter, client cache, errors as Unknown."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from trailcheck.model import Unknown
from trailcheck.scanner.session import (
    AwsSession,
    ReadOnlyViolation,
    call,
    iam_action,
    is_read_only,
    paginate,
)


@pytest.mark.parametrize(
    ("service", "operation", "allowed"),
    [
        ("cloudtrail", "DescribeTrails", True),
        ("s3", "GetBucketPolicy", True),
        ("s3", "ListObjectsV2", True),
        ("s3", "ListBuckets", True),
        ("s3control", "GetPublicAccessBlock", True),
        ("sts", "AssumeRole", True),
        ("sts", "GetCallerIdentity", True),
        ("logs", "TestMetricFilter", True),
        ("cloudtrail", "LookupEvents", True),  # declared by scan --who
        # Reads by name, but no collector declares them: an allow-list, not a prefix.
        ("logs", "FilterLogEvents", False),
        ("s3", "HeadBucket", True),  # authorized by s3:ListBucket, which verify-logs declares
        ("ec2", "DescribeInstances", False),
        ("iam", "GetUser", False),
        # Get* calls that mint credentials or hand out secrets.
        ("sts", "GetSessionToken", False),
        ("sts", "GetFederationToken", False),
        ("ecr", "GetAuthorizationToken", False),
        ("secretsmanager", "GetSecretValue", False),
        ("cloudtrail", "StopLogging", False),
        ("cloudtrail", "DeleteTrail", False),
        ("s3", "PutBucketPolicy", False),
        ("s3", "GetObjectTorrent", False),
        ("kms", "ScheduleKeyDeletion", False),
        ("iam", "CreateAccessKey", False),
    ],
)
def test_is_read_only(service: str, operation: str, allowed: bool) -> None:
    assert is_read_only(service, operation) is allowed


def test_iam_action_names() -> None:
    assert iam_action("s3", "ListBuckets") == "s3:ListAllMyBuckets"
    assert iam_action("s3control", "GetPublicAccessBlock") == "s3:GetAccountPublicAccessBlock"
    assert iam_action("cloudtrail", "GetTrailStatus") == "cloudtrail:GetTrailStatus"


def test_a_declared_non_read_is_still_refused(moto: None) -> None:
    """The name rules are a second line: even an allow-list holding GetSessionToken refuses it."""
    aws = AwsSession(allowed_actions={"sts:GetSessionToken", "sts:GetCallerIdentity"})
    with pytest.raises(ReadOnlyViolation, match="sts:GetSessionToken"):
        aws.client("sts", "us-east-1").get_session_token()
    assert aws.meter.snapshot() == {}


def test_guard_refuses_credential_minting_get_calls(aws: AwsSession) -> None:
    with pytest.raises(ReadOnlyViolation, match="sts:GetSessionToken"):
        aws.client("sts", "us-east-1").get_session_token()
    with pytest.raises(ReadOnlyViolation, match="sts:GetFederationToken"):
        aws.client("sts", "us-east-1").get_federation_token(Name="sneaky")


def test_waiters_and_raw_clients_cannot_bypass_the_guard(aws: AwsSession) -> None:
    account = aws.client("ec2", "us-east-1")
    # A waiter polls DescribeInstances: a read by name, but not declared.
    with pytest.raises(ReadOnlyViolation, match="ec2:DescribeInstances"):
        account.get_waiter("instance_running").wait(InstanceIds=["i-1"])
    # The raw botocore client behind the account client, and a client made straight from the
    # session's boto3 session, carry the same guard.
    with pytest.raises(ReadOnlyViolation, match="ec2:TerminateInstances"):
        account._client.terminate_instances(InstanceIds=["i-1"])
    raw = aws._boto.client("iam", region_name="us-east-1")
    with pytest.raises(ReadOnlyViolation, match="iam:CreateUser"):
        raw.create_user(UserName="sneaky")
    assert aws.meter.snapshot() == {}


def test_guard_refuses_a_write_before_it_reaches_aws(aws: AwsSession, boto: boto3.Session) -> None:
    boto.client("s3").create_bucket(Bucket="trail-logs")
    client = aws.client("cloudtrail", "us-east-1")
    with pytest.raises(ReadOnlyViolation, match="cloudtrail:CreateTrail"):
        client.create_trail(Name="sneaky", S3BucketName="trail-logs")
    assert boto.client("cloudtrail").describe_trails()["trailList"] == []
    assert "cloudtrail:CreateTrail" not in aws.meter.snapshot()


def test_guard_covers_every_service_including_paginators(aws: AwsSession) -> None:
    with pytest.raises(ReadOnlyViolation):
        aws.client("s3", "us-east-1").delete_bucket(Bucket="x")
    pages = aws.client("cloudtrail", "us-east-1").get_paginator("list_trails").paginate()
    assert [t for p in pages for t in p["Trails"]] == []
    assert aws.meter.snapshot() == {"cloudtrail:ListTrails": 1}


def test_meter_counts_calls_per_operation(aws: AwsSession) -> None:
    client = aws.client("cloudtrail", "us-east-1")
    call(client, "DescribeTrails")
    call(client, "DescribeTrails")
    call(aws.client("ec2", "eu-west-1"), "DescribeRegions")
    assert aws.meter.snapshot() == {"cloudtrail:DescribeTrails": 2, "ec2:DescribeRegions": 1}
    assert aws.meter.total == 3


def test_one_underlying_client_per_region_and_service_shared_by_accounts(aws: AwsSession) -> None:
    from trailcheck.scanner.session import Credentials

    aws.client("s3", "us-east-1")
    aws.client("s3", "us-east-1", Credentials("AKIAOTHER", "secret", "token"))
    assert aws.client_count == 1
    aws.client("s3", "eu-west-1")
    assert aws.client_count == 2


def test_absent_error_codes_mean_none_others_become_unknown(
    aws: AwsSession, boto: boto3.Session
) -> None:
    boto.client("s3").create_bucket(Bucket="plain")
    client = aws.client("s3", "us-east-1")
    assert call(client, "GetBucketPolicy", Bucket="plain", absent=("NoSuchBucketPolicy",)) is None
    unknown = call(client, "GetBucketPolicy", Bucket="plain")
    assert isinstance(unknown, Unknown)
    assert (unknown.operation, unknown.error_code) == ("s3:GetBucketPolicy", "NoSuchBucketPolicy")


def test_access_denied_becomes_unknown(aws: AwsSession, monkeypatch: pytest.MonkeyPatch) -> None:
    client = aws.client("cloudtrail", "us-east-1")

    def deny(**_: object) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListTrails")

    # Inject AWS's answer at botocore's event layer (as AWS would send it), not in our code.
    client.meta.events.register("before-call.cloudtrail.ListTrails", deny)
    result = paginate(client, "ListTrails", "Trails")
    assert isinstance(result, Unknown)
    assert result.error_code == "AccessDenied"
    assert result.describe() == "cloudtrail:ListTrails failed: AccessDenied (no)"


def test_s3_control_reaches_a_custom_endpoint_without_the_account_host_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a custom endpoint (here moto's server) `<account>.127.0.0.1` would not resolve."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        account = "123456789012"
        aws = AwsSession(max_attempts=1)
        result = call(
            aws.client("s3control", "us-east-1"),
            "GetPublicAccessBlock",
            AccountId=account,
            absent=("NoSuchPublicAccessBlockConfiguration",),
        )
        # Reaching the server is the point: AWS's "none configured" answer, not a DNS failure.
        assert result is None
    finally:
        server.stop()
