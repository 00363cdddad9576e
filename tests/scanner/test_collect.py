"""The scan orchestrator and collectors against moto, through the real session layer."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from trailcheck.model import Unknown
from trailcheck.scanner.accounts import current_account
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession

ACCOUNT = "123456789012"  # moto's default account
OPTIONS = ScanOptions(regions=("us-east-1", "eu-west-1"), max_workers=1)


def build_account(boto: boto3.Session) -> dict[str, str]:
    s3 = boto.client("s3")
    s3.create_bucket(Bucket="central-trail-logs")
    s3.put_bucket_versioning(
        Bucket="central-trail-logs", VersioningConfiguration={"Status": "Enabled"}
    )
    s3.put_bucket_encryption(
        Bucket="central-trail-logs",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_policy(
        Bucket="central-trail-logs",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    kms = boto.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key)
    boto.client("logs").create_log_group(logGroupName="trail-group")
    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:trail-group:*"
    ct = boto.client("cloudtrail")
    ct.create_trail(
        Name="main",
        S3BucketName="central-trail-logs",
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=group,
        CloudWatchLogsRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ct",
    )
    ct.start_logging(Name="main")
    ct.put_event_selectors(
        TrailName="main",
        EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}],
    )
    eu = boto.client("cloudtrail", region_name="eu-west-1")
    eu.create_trail(Name="regional", S3BucketName="central-trail-logs")
    return {"key": key, "group": group}


def scan(aws: AwsSession):
    targets, _partition = current_account(aws, "us-east-1")
    return collect(targets, aws, OPTIONS)


def test_collects_every_trail_once_with_status_and_selectors(
    aws: AwsSession, boto: boto3.Session
) -> None:
    build_account(boto)
    inventory = scan(aws)
    assert set(inventory.accounts) == {ACCOUNT}
    main = inventory.trails[f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/main"]
    regional = inventory.trails[f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/regional"]
    assert main.is_multi_region and main.log_file_validation_enabled
    assert not isinstance(main.status, Unknown) and main.status.is_logging
    assert not isinstance(main.event_selectors, Unknown)
    assert main.event_selectors.basic[0].read_write_type == "WriteOnly"
    assert regional.home_region == "eu-west-1" and not regional.is_multi_region
    assert not isinstance(regional.status, Unknown) and not regional.status.is_logging
    # no custom selectors: AWS's default (all management events), whatever moto answers
    assert not isinstance(regional.event_selectors, Unknown)
    assert regional.event_selectors.basic[0].read_write_type == "All"


def test_each_resource_is_read_once_with_the_fewest_calls(
    aws: AwsSession, boto: boto3.Session
) -> None:
    build_account(boto)
    inventory = scan(aws)
    calls = inventory.metadata.api_calls
    assert calls["cloudtrail:ListTrails"] == 1
    assert calls["cloudtrail:DescribeTrails"] == 2  # one per home region
    assert calls["cloudtrail:GetTrailStatus"] == 2  # one per trail, not per region
    assert calls["cloudtrail:GetEventSelectors"] == 2
    assert "cloudtrail:GetInsightSelectors" not in calls  # no trail has insight selectors
    assert calls["s3:GetBucketPolicy"] == 1  # one bucket shared by two trails
    assert calls["kms:DescribeKey"] == 1
    assert calls["logs:DescribeLogGroups"] == 1


def test_resources_are_collected_with_absent_and_present_facts(
    aws: AwsSession, boto: boto3.Session
) -> None:
    ids = build_account(boto)
    inventory = scan(aws)
    bucket = inventory.buckets["central-trail-logs"]
    assert bucket.owner_account_id == ACCOUNT
    assert bucket.region == "us-east-1"
    assert not isinstance(bucket.versioning, Unknown) and bucket.versioning.status == "Enabled"
    assert bucket.encryption is not None and not isinstance(bucket.encryption, Unknown)
    assert bucket.encryption.algorithm == "AES256"
    assert bucket.object_lock is None  # AWS says there is none
    assert bucket.public_access_block is None
    assert bucket.policy == {"Version": "2012-10-17", "Statement": []}
    key = inventory.kms_keys[ids["key"]]
    assert not isinstance(key.metadata, Unknown) and key.metadata.key_state == "Enabled"
    assert key.rotation_enabled is True
    assert inventory.log_groups[ids["group"]].exists is True


def test_access_denied_on_one_call_becomes_an_unknown_fact(
    aws: AwsSession, boto: boto3.Session
) -> None:
    build_account(boto)

    def deny(**_: object) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetBucketPolicy"
        )

    # AWS's refusal is injected at botocore's event layer of the client our session makes.
    aws.client("s3", "us-east-1").meta.events.register("before-call.s3.GetBucketPolicy", deny)
    inventory = scan(aws)
    policy = inventory.buckets["central-trail-logs"].policy
    assert isinstance(policy, Unknown)
    assert (policy.operation, policy.error_code) == ("s3:GetBucketPolicy", "AccessDenied")
    assert inventory.buckets["central-trail-logs"].versioning != policy  # the rest still read


def test_regions_default_to_those_enabled_and_requested_ones_are_intersected(
    aws: AwsSession,
) -> None:
    targets, _ = current_account(aws, "us-east-1")
    everything = collect(targets, aws, ScanOptions(max_workers=1))
    regions = everything.accounts[ACCOUNT].regions
    assert isinstance(regions, tuple) and "eu-west-1" in regions and len(regions) > 10
    scoped = collect(
        targets, aws, ScanOptions(regions=("eu-west-1", "xx-nowhere-1"), max_workers=1)
    )
    assert scoped.accounts[ACCOUNT].regions == ("eu-west-1",)


def test_parallel_and_serial_scans_see_the_same_inventory(
    aws: AwsSession, boto: boto3.Session
) -> None:
    build_account(boto)
    targets, _ = current_account(aws, "us-east-1")
    serial = collect(targets, aws, OPTIONS)
    parallel = collect(targets, AwsSession(), ScanOptions(regions=OPTIONS.regions, max_workers=8))

    # moto moves a logging trail's delivery times on every call: compare all but those.
    def comparable(inv):
        data = inv.model_dump(exclude={"metadata"})
        for trail in data["trails"].values():
            trail["status"] = {"is_logging": trail["status"]["is_logging"]}
        return data

    assert comparable(serial) == comparable(parallel)


def test_no_credentials_is_a_scan_error(monkeypatch: pytest.MonkeyPatch, moto: None) -> None:
    from trailcheck.errors import ScanError

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ScanError, match="no AWS credentials"):
        current_account(AwsSession(), "us-east-1")


def test_log_group_of_an_account_outside_the_scan_is_unknown_never_absent(
    aws: AwsSession, boto: boto3.Session
) -> None:
    from trailcheck.engine import evaluate
    from trailcheck.model import Status
    from trailcheck.rules import load_rules

    outside = "999999999999"
    group = f"arn:aws:logs:us-east-1:{outside}:log-group:central:*"
    boto.client("s3").create_bucket(Bucket="trail-logs")
    ct = boto.client("cloudtrail")
    ct.create_trail(
        Name="main",
        S3BucketName="trail-logs",
        IsMultiRegionTrail=True,
        CloudWatchLogsLogGroupArn=group,
        CloudWatchLogsRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ct",
    )
    ct.start_logging(Name="main")
    inventory = scan(aws)
    seen = inventory.log_groups[group]
    # Asked with the scanned account's access, CloudWatch Logs would answer "no such group".
    assert isinstance(seen.exists, Unknown) and seen.exists.error_code == "OwnerNotScanned"
    assert isinstance(seen.metric_filters, Unknown)
    assert "logs:DescribeLogGroups" not in inventory.metadata.api_calls
    findings = evaluate(inventory, load_rules(include_plugins=False)).findings
    judged = {f.rule_id: f for f in findings if f.rule_id.startswith(("CT.MON.", "CT.TRAIL.CL"))}
    for rule_id in ("CT.TRAIL.CLOUDWATCH_LOGS", "CT.MON.ROOT_USAGE", "CT.MON.OVERBROAD_FILTER"):
        assert judged[rule_id].status is Status.ERROR, judged[rule_id].reason
        assert f"add account {outside} to the scan" in judged[rule_id].reason
