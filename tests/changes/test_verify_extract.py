"""verify-logs --extract-events: the change events come from the verification's own download."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from moto import mock_aws
from verify.cloudtrail_writer import CloudTrailWriter, new_private_key, pkcs1_der, s3_put

from trailcheck.cli import main
from trailcheck.demo.moto_fidelity import SigningPublicKey, faithful_moto

ACCOUNT = "123456789012"  # moto's caller
REGION = "us-east-1"
END = datetime(2026, 11, 3, 11, 1, 31, tzinfo=UTC)


def test_extract_events_in_the_same_pass(tmp_path: Path) -> None:
    key = new_private_key()
    public = SigningPublicKey(pkcs1_der(key), END - timedelta(days=30), END + timedelta(days=1))
    with mock_aws(), faithful_moto(public_keys={REGION: [public]}):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="verify-extract-logs")
        ct = boto3.client("cloudtrail", region_name=REGION)
        ct.create_trail(
            Name="main", S3BucketName="verify-extract-logs", EnableLogFileValidation=True
        )
        writer = CloudTrailWriter(
            put=s3_put(s3, "verify-extract-logs"),
            bucket="verify-extract-logs",
            account_id=ACCOUNT,
            region=REGION,
            trail_name="main",
            private_key=key,
        )
        stop = {
            "eventVersion": "1.09",
            "eventTime": "2026-11-03T10:22:07Z",
            "eventSource": "cloudtrail.amazonaws.com",
            "eventName": "StopLogging",
            "awsRegion": REGION,
            "readOnly": False,
            "eventID": "stop-1",
            "recipientAccountId": ACCOUNT,
            "userIdentity": {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"},
        }
        log = writer.write_log(END - timedelta(minutes=20), records=[stop])
        writer.write_digest(END - timedelta(hours=1), END, [log])
        out, events = tmp_path / "out", tmp_path / "changes.jsonl"
        args = ["verify-logs", "--region", REGION, "--output-dir", str(out), "-q"]
        args += ["--start", "2026-11-03T10:00:00Z", "--end", "2026-11-03T11:00:00Z"]
        main([*args, "--extract-events", str(events)])  # (the window's edges are gaps)
    (line,) = events.read_text().splitlines()
    event = json.loads(line)
    assert (event["event_name"], event["is_root"], event["event_id"]) == (
        "StopLogging",
        True,
        "stop-1",
    )
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["log_files_valid"] == 1
    assert report["metadata"]["api_calls"]["s3:GetObject"] == 2  # digest and log file, once each
