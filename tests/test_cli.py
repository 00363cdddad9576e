"""The command line end to end: exit codes, one-line errors, files written, snapshot round trip."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from test_identity import assert_unique_identities

from trailcheck.cli import main
from trailcheck.demo.organization import (
    add_cis_monitoring,
    cloudtrail_bucket_policy,
    protect_log_bucket,
)
from trailcheck.model import SCHEMA_VERSION, Report, expand_shared_evidence


def good_account(boto: boto3.Session) -> None:
    s3 = boto.client("s3")
    s3.create_bucket(Bucket="acct-trail-logs", ObjectLockEnabledForBucket=True)
    protect_log_bucket(s3, "acct-trail-logs", "acct-access-logs")
    # What Security Hub's S3.20 and S3.1 test (the demo protects its buckets with Object Lock
    # and bucket-level Block Public Access, which trailcheck's own rules accept).
    s3.put_bucket_versioning(
        Bucket="acct-trail-logs",
        VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
        MFA="arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456",
    )
    boto.client("s3control").put_public_access_block(
        AccountId="123456789012",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_policy(
        Bucket="acct-trail-logs",
        Policy=cloudtrail_bucket_policy(
            "acct-trail-logs",
            ["AWSLogs/123456789012"],
            ["arn:aws:cloudtrail:us-east-1:123456789012:trail/main"],
        ),
    )
    kms = boto.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key)
    s3.put_bucket_encryption(  # Security Hub S3.17: SSE-KMS by default
        Bucket="acct-trail-logs",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key,
                    }
                }
            ]
        },
    )
    boto.client("logs").create_log_group(logGroupName="ct")
    ct = boto.client("cloudtrail")
    ct.create_trail(
        Name="main",
        S3BucketName="acct-trail-logs",
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn="arn:aws:logs:us-east-1:123456789012:log-group:ct:*",
        CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/ct",
    )
    ct.start_logging(Name="main")
    # All management events, S3 object and Lambda data events; both Insights; a tag.
    ct.put_event_selectors(
        TrailName="main",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]},
                    {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
                ],
            }
        ],
    )
    ct.put_insight_selectors(
        TrailName="main",
        InsightSelectors=[
            {"InsightType": "ApiCallRateInsight"},
            {"InsightType": "ApiErrorRateInsight"},
        ],
    )
    ct.add_tags(
        ResourceId="arn:aws:cloudtrail:us-east-1:123456789012:trail/main",
        TagsList=[{"Key": "owner", "Value": "security"}],
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket="acct-trail-logs",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "archive",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}],
                }
            ]
        },
    )
    add_cis_monitoring(boto, "ct")  # CIS metric filters, alarms, a confirmed SNS subscriber


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("trailcheck: error:"), err
    return err


def test_scan_of_a_compliant_account_exits_0_and_writes_both_reports(
    boto: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good_account(boto)
    code = main(["scan", "--region", "us-east-1", "--output-dir", str(tmp_path), "--quiet"])
    assert code == 0
    assert capsys.readouterr().out == ""
    report = json.loads((tmp_path / "report.json").read_text())
    statuses = {f["rule_id"]: f["status"] for f in report["findings"]}
    assert statuses["CT.ACCOUNT.MULTI_REGION_TRAIL"] == "PASS"
    assert statuses["CT.TRAIL.LOG_VALIDATION"] == "PASS"
    assert report["metadata"]["api_calls"]["cloudtrail:ListTrails"] == 1
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_scan_exit_code_follows_fail_on(boto: boto3.Session, tmp_path: Path) -> None:
    boto.client("s3").create_bucket(Bucket="acct-trail-logs")
    boto.client("cloudtrail").create_trail(Name="weak", S3BucketName="acct-trail-logs")
    args = [
        "scan",
        "--region",
        "us-east-1",
        "--output-dir",
        str(tmp_path),
        "--quiet",
        "--format",
        "json",
    ]
    assert main(args) == 1  # high-severity failures (not logging) at or above "low"
    assert main([*args, "--fail-on", "critical"]) == 0
    assert not (tmp_path / "report.html").exists()


def test_snapshot_round_trip_gives_byte_identical_reports(
    boto: boto3.Session, tmp_path: Path
) -> None:
    good_account(boto)
    snap = tmp_path / "snap.json"
    live, offline = tmp_path / "live", tmp_path / "offline"
    main(
        ["scan", "--region", "us-east-1", "--output-dir", str(live), "--snapshot", str(snap), "-q"]
    )
    main(["evaluate", str(snap), "--output-dir", str(offline), "-q"])
    assert (live / "report.json").read_bytes() == (offline / "report.json").read_bytes()
    main(["evaluate", str(snap), "--output-dir", str(offline), "-q"])
    assert (live / "report.json").read_bytes() == (offline / "report.json").read_bytes()


def test_collect_writes_a_snapshot(boto: boto3.Session, tmp_path: Path) -> None:
    good_account(boto)
    snap = tmp_path / "inventory.json"
    assert main(["collect", "-o", str(snap), "--region", "us-east-1", "-q"]) == 0
    data = json.loads(snap.read_text())
    assert data["kind"] == "trailcheck-inventory" and data["schema_version"] == SCHEMA_VERSION
    assert len(data["trails"]) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON (line 1"),
        ('{"kind": "something-else"}', "not a trailcheck snapshot"),
        (
            json.dumps({"kind": "trailcheck-inventory", "schema_version": 99}),
            "schema version 99 is newer",
        ),
        (
            json.dumps({"kind": "trailcheck-inventory", "schema_version": 1}),
            "invalid snapshot at metadata",
        ),
        ("[]", "not a trailcheck snapshot"),
    ],
)
def test_bad_snapshot_is_one_line_and_exit_2_and_file_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    snap = tmp_path / "snap.json"
    snap.write_text(content)
    assert main(["evaluate", str(snap), "--output-dir", str(tmp_path / "out")]) == 2
    assert message in one_line_error(capsys)
    assert snap.read_text() == content


def test_missing_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(tmp_path / "nope.json")]) == 2
    assert "no such snapshot file" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "--format", "pdf"], "unknown format 'pdf'"),
        (["scan", "--fail-on", "severe"], "unknown severity 'severe'"),
        (["scan", "--max-workers", "0"], "--max-workers"),
        (["scan", "--region", "moon-1"], "'moon-1' is not an AWS region"),
        (["scan", "--no-such-flag"], "No such option"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 2
    assert message in one_line_error(capsys)


def test_output_dir_that_is_a_file_is_rejected(
    boto: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good_account(boto)
    target = tmp_path / "file"
    target.write_text("keep me")
    assert main(["scan", "--region", "us-east-1", "--output-dir", str(target), "-q"]) == 2
    assert "not a directory" in one_line_error(capsys)
    assert target.read_text() == "keep me"


def test_no_credentials_exits_3(
    moto: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(["scan", "--output-dir", str(tmp_path)]) == 3
    assert "no AWS credentials" in one_line_error(capsys)


def test_unknown_profile_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--profile", "does-not-exist"]) == 2
    assert "does-not-exist" in one_line_error(capsys)


def test_schema_validates_a_real_report(boto: boto3.Session, tmp_path: Path, capsys) -> None:
    import jsonschema

    good_account(boto)
    main(["scan", "--region", "us-east-1", "--output-dir", str(tmp_path), "-q", "--format", "json"])
    capsys.readouterr()
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.validate(json.loads((tmp_path / "report.json").read_text()), schema)


def test_rules_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    assert "CT.TRAIL.LOG_VALIDATION" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("trailcheck ")


def test_demo_scans_the_sample_organization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--output-dir", str(tmp_path), "-q"]) == 0
    # report.json v2: repeated large evidence values are stated once; read them expanded
    report = expand_shared_evidence(json.loads((tmp_path / "report.json").read_text()))
    assert_unique_identities(Report.from_document(report))
    assert len(report["metadata"]["accounts"]) == 6
    assert len(report["metadata"]["unreachable_accounts"]) == 1
    by = {(f["rule_id"], f["status"]) for f in report["findings"]}
    assert ("CT.TRAIL.LOGGING", "FAIL") in by
    assert ("CT.ACCOUNT.MULTI_REGION_TRAIL", "PASS") in by
    assert ("CT.TRAIL.KMS_ENCRYPTION", "ERROR") in by  # the unreachable account
    # the log buckets: central one good, legacy one public and expiring logs, sandbox weak lock
    assert ("CT.BUCKET.NOT_PUBLIC", "PASS") in by and ("CT.BUCKET.NOT_PUBLIC", "FAIL") in by
    assert ("CT.BUCKET.LIFECYCLE", "FAIL") in by and ("CT.BUCKET.LIFECYCLE", "PASS") in by
    assert ("CT.BUCKET.MFA_DELETE", "PASS") in by
    assert ("CT.BUCKET.DELIVERY_SCOPED", "FAIL") in by
    # issue 18's rules: the organization trail records S3 writes (not reads), Lambda, Insights
    for rule_id in (
        "CT.ACCOUNT.S3_WRITE_DATA_EVENTS",
        "CT.ACCOUNT.S3_OBJECT_WRITE_LOGGING",
        "CT.ACCOUNT.INSIGHTS",
        "CT.ACCOUNT.LAMBDA_DATA_EVENTS",
        "CT.ACCOUNT.TRAIL_ENABLED",
    ):
        assert (rule_id, "PASS") in by, rule_id
    for rule_id in ("CT.ACCOUNT.S3_READ_DATA_EVENTS", "CT.ACCOUNT.S3_DATA_EVENTS"):
        assert (rule_id, "FAIL") in by, rule_id
    for rule_id in (
        "CT.TRAIL.TAGGED",
        "CT.LAKE.CMK_ENCRYPTED",
        "CT.LAKE.RETENTION",
        "CT.LAKE.TERMINATION_PROTECTION",
        "CT.BUCKET.PUBLIC_ACCESS_BLOCK_ACCOUNT_LEVEL",
        "CT.BUCKET.SSL_REQUESTS_ONLY",
        "CT.BUCKET.LIFECYCLE_CONFIGURED",
        "CT.BUCKET.OBJECT_LOCK_ENABLED",
        "CT.BUCKET.DEFAULT_ENCRYPTION_KMS",
    ):
        assert {(rule_id, "PASS"), (rule_id, "FAIL")} <= by, rule_id
    locks = {f["severity"] for f in report["findings"] if f["rule_id"] == "CT.BUCKET.OBJECT_LOCK"}
    assert {"high", "medium"} <= locks  # none (legacy) vs GOVERNANCE 30 days (sandbox)
    # the demo scans with --who: the story's three changes are named in their findings
    who = {
        (f["rule_id"], f["evidence"]["last_change"]["principal_arn"].split(":", 5)[5])
        for f in report["findings"]
        if f["status"] == "FAIL" and (f["evidence"].get("last_change") or {}).get("principal_arn")
    }
    assert ("CT.TRAIL.LOGGING", "assumed-role/Admin/alice") in who
    assert ("CT.BUCKET.DELIVERY_SCOPED", "user/ops-bob") in who
    assert ("CT.MON.CMK_DISABLE_OR_DELETION", "root") in who
    # issue 17 item 6: blame by cause. The CRITICAL public ACL was set with PutBucketAcl (not
    # the later PutBucketPolicy); the root user's deletion of the KMS-key filter explains only
    # the KMS-key control, never the other monitoring failures.
    changes = {
        (f["rule_id"], f["account_id"]): (f["evidence"].get("last_change") or {}).get("event_name")
        for f in report["findings"]
        if f["status"] == "FAIL"
    }
    critical = [
        f for f in report["findings"] if f["severity"] == "critical" and f["status"] == "FAIL"
    ]
    assert {f["rule_id"] for f in critical} == {"CT.BUCKET.NOT_PUBLIC"}
    for public in critical:
        assert public["evidence"]["last_change"]["event_name"] == "PutBucketAcl"
        assert public["problems"] == ["bucket.acl_public"]
    deletions = {r for (r, _), name in changes.items() if name == "DeleteMetricFilter"}
    assert deletions == {"CT.MON.CMK_DISABLE_OR_DELETION"}
    # who can still stop the logs: one guardrail holds, one leaks and names the principal
    guardrails = [f for f in report["findings"] if f["rule_id"] == "CT.ORG.TAMPER_GUARDRAIL"]
    assert "PASS" in {f["status"] for f in guardrails}
    leaks = [f for f in guardrails if "guardrail.exception_too_wide" in f["problems"]]
    assert leaks and "role/DevOpsAdmin" in leaks[0]["reason"]


def test_reports_get_the_mode_a_plain_write_gives(tmp_path: Path) -> None:
    """Atomic writes go through a temporary file: it must not leave reports 0600."""
    import os

    from trailcheck.snapshot import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "report.json", "{}\n")
    finally:
        os.umask(old)
    assert (tmp_path / "report.json").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
