"""`scan --who` end to end against the `[demo]` moto server (issue 17, item 11).

The server records every call it serves as a CloudTrail record (in its WSGI dispatcher: a
server request never passes the in-process stubber), successful and failed, so LookupEvents
answers there: writes made through the server by IAM users are named by `scan --who`, a later
unrelated UpdateTrail is not blamed for "not logging", and a denied StopLogging never is.
moto enforces IAM after three requests, so the denied call is a real AccessDenied.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from trailcheck.cli import main
from trailcheck.demo.moto_server import MotoProcess, start_moto_server
from trailcheck.model import expand_shared_evidence

REGION = "us-east-1"
ACCOUNT = "123456789012"
TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/server-trail"


def _user(iam: Any, name: str, actions: list[str]) -> boto3.Session:
    iam.create_user(UserName=name)
    if actions:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[MotoProcess, boto3.Session]]:
    """A server where alice stopped the trail, bob then turned validation on, and mallory's
    StopLogging was denied; yields the server and the administrator's session."""
    process = start_moto_server({"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        root = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        iam = root.client("iam", endpoint_url=process.endpoint)
        iam.create_user(UserName="admin")
        everything = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="admin", PolicyName="all", PolicyDocument=json.dumps(everything)
        )
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        admin = boto3.Session(
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            region_name=REGION,
        )
        admin.client("s3", endpoint_url=process.endpoint).create_bucket(Bucket="server-trail-logs")
        trail = admin.client("cloudtrail", endpoint_url=process.endpoint)
        trail.create_trail(
            Name="server-trail", S3BucketName="server-trail-logs", IsMultiRegionTrail=True
        )
        trail.start_logging(Name="server-trail")
        trail.add_tags(ResourceId=TRAIL, TagsList=[{"Key": "team", "Value": "audit"}])
        admin_iam = admin.client("iam", endpoint_url=process.endpoint)
        alice = _user(admin_iam, "alice", ["cloudtrail:StopLogging"])
        bob = _user(admin_iam, "bob", ["cloudtrail:UpdateTrail"])
        mallory = _user(admin_iam, "mallory", [])
        alice.client("cloudtrail", endpoint_url=process.endpoint).stop_logging(Name="server-trail")
        bob.client("cloudtrail", endpoint_url=process.endpoint).update_trail(
            Name="server-trail", EnableLogFileValidation=True
        )
        with pytest.raises(Exception, match="AccessDenied"):
            mallory.client("cloudtrail", endpoint_url=process.endpoint).stop_logging(
                Name="server-trail"
            )
        yield process, admin
    finally:
        process.close()


def test_the_server_keeps_successful_and_failed_calls_as_aws_does(
    server: tuple[MotoProcess, boto3.Session],
) -> None:
    process, admin = server
    client = admin.client("cloudtrail", endpoint_url=process.endpoint)
    found = client.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "StopLogging"}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in found]
    assert [(r["userIdentity"]["userName"], r.get("errorCode")) for r in records] == [
        ("mallory", "AccessDenied"),
        ("alice", None),
    ]
    assert "errorMessage" in records[0]
    tagged = client.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": TRAIL}]
    )["Events"]
    assert "AddTags" in [e["EventName"] for e in tagged]  # AddTags names the trail


def test_scan_who_against_the_server_names_the_principal(
    server: tuple[MotoProcess, boto3.Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    process, admin = server
    credentials = admin.get_credentials()
    monkeypatch.setenv("AWS_ENDPOINT_URL", process.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    args = ["scan", "--region", REGION, "--who", "-q", "--format", "json"]
    assert main([*args, "--output-dir", str(tmp_path)]) == 1
    report = expand_shared_evidence(json.loads((tmp_path / "report.json").read_text()))
    by_rule = {
        f["rule_id"]: f
        for f in report["findings"]
        if f["resource_arn"] in (TRAIL, f"arn:aws:iam::{ACCOUNT}:root")
    }
    for rule_id in ("CT.TRAIL.LOGGING", "CT.ACCOUNT.MULTI_REGION_TRAIL"):
        finding = by_rule[rule_id]
        assert finding["status"] == "FAIL" and "trail.not_logging" in finding["problems"]
        change = finding["evidence"]["last_change"]
        assert change["event_name"] == "StopLogging", rule_id
        assert change["principal_arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice", rule_id
        assert "mallory" not in finding["reason"] and "bob" not in finding["reason"]
    assert report["metadata"]["api_calls"]["cloudtrail:LookupEvents"] >= 1
