"""Issue 17, `--who` by cause: one test per item of the issue (6, 7, 8, 10) that failed before.

Item 6: the newest event that can cause the finding's problem is named, not the newest write.
Item 7: a failed call (errorCode) is never blamed, and `trailcheck events` keeps it marked.
Item 8: `trailcheck events` extracts the restores (StartLogging, CreateTrail) and accepts
`--event-name StartLogging`.
Item 10: deleting the only trail is attributed (an account-wide lookup of DeleteTrail).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from factories import ACCOUNT, REGION, make_inventory, make_status, make_trail
from verify.cloudtrail_writer import CloudTrailWriter, new_private_key, s3_put

from trailcheck.changes.enrich import history_key
from trailcheck.changes.model import ChangeEvent
from trailcheck.cli import main
from trailcheck.engine import evaluate
from trailcheck.model import ChangeHistory, Inventory, expand_shared_evidence
from trailcheck.rules import load_rules

RULES = load_rules(include_plugins=False)
TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"


def record(name: str, when: str, who: str, **over: Any) -> dict[str, Any]:
    """A CloudTrail record by the IAM user `who` on the trail `main`."""
    return {
        "eventVersion": "1.09",
        "eventTime": when,
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "recipientAccountId": ACCOUNT,
        "eventID": f"{name}-{who}-{when}",
        "readOnly": False,
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{who}",
            "accountId": ACCOUNT,
            "userName": who,
        },
        "requestParameters": {"name": "main"},
        **over,
    }


def with_history(inventory: Inventory, subject: str, records: list[dict[str, Any]]) -> Inventory:
    events = sorted(
        (ChangeEvent.from_record(r) for r in records), key=lambda e: e.event_time, reverse=True
    )
    history = ChangeHistory(
        resource_arn=subject,
        account_id=ACCOUNT,
        region=REGION,
        names=["main"],
        event_names=sorted({e.event_name for e in events}),
        start_time="2026-08-01T00:00:00Z",
        end_time="2026-11-21T00:00:00Z",
        calls=1,
        complete=True,
        events=events,
    )
    return inventory.model_copy(
        update={"change_history": {history_key(ACCOUNT, REGION, subject): history}}
    )


def stopped() -> Inventory:
    """One multi-region trail with validation on, stopped."""
    trail = make_trail(
        arn=TRAIL,
        is_multi_region=True,
        log_file_validation_enabled=True,
        status=make_status(is_logging=False),
    )
    return make_inventory([trail])


def finding(inventory: Inventory, rule_id: str) -> Any:
    (found,) = [f for f in evaluate(inventory, RULES).findings if f.rule_id == rule_id]
    return found


def test_item6_a_later_unrelated_update_trail_is_not_blamed_for_not_logging() -> None:
    records = [
        record("StopLogging", "2026-11-20T10:00:00Z", "alice"),
        # bob turns validation on later: a write to the same trail that cannot stop it
        record(
            "UpdateTrail",
            "2026-11-20T11:00:00Z",
            "bob",
            requestParameters={"name": "main", "enableLogFileValidation": True},
        ),
    ]
    inventory = with_history(stopped(), TRAIL, records)
    for rule_id in ("CT.ACCOUNT.MULTI_REGION_TRAIL", "CT.TRAIL.LOGGING"):
        found = finding(inventory, rule_id)
        assert "trail.not_logging" in found.problems, rule_id
        assert found.evidence["last_change"]["principal_arn"].endswith(":user/alice"), rule_id
        assert "(StopLogging)" in found.reason


def test_item7_a_denied_stop_logging_is_never_blamed() -> None:
    records = [
        record("StopLogging", "2026-11-20T10:00:00Z", "alice"),
        record(
            "StopLogging",
            "2026-11-20T12:00:00Z",
            "mallory",
            errorCode="AccessDenied",
            errorMessage="User: mallory is not authorized to perform: cloudtrail:StopLogging",
        ),
    ]
    found = finding(with_history(stopped(), TRAIL, records), "CT.TRAIL.LOGGING")
    assert found.evidence["last_change"]["principal_arn"].endswith(":user/alice")
    only_denied = finding(with_history(stopped(), TRAIL, records[1:]), "CT.TRAIL.LOGGING")
    assert only_denied.evidence["last_change"] is None
    assert "no matching change in the last 90 days" in only_denied.reason
    assert "mallory" not in only_denied.reason


def test_item7_a_failed_call_is_marked_and_changes_nothing() -> None:
    denied = ChangeEvent.from_record(
        record("StopLogging", "2026-11-20T12:00:00Z", "mallory", errorCode="AccessDenied")
    )
    assert denied.error_code == "AccessDenied" and not denied.succeeded
    assert denied.causes == [] and denied.restores == []
    assert "tried StopLogging" in denied.sentence() and "failed: AccessDenied" in denied.sentence()
    done = ChangeEvent.from_record(record("StopLogging", "2026-11-20T12:00:00Z", "alice"))
    assert "trail.not_logging" in done.causes and done.succeeded


def test_item8_events_extracts_restores_and_keeps_failed_calls_marked(
    boto: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = "who-events-logs"
    s3 = boto.client("s3")
    s3.create_bucket(Bucket=bucket)
    delivered = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    writer = CloudTrailWriter(
        put=s3_put(s3, bucket),
        bucket=bucket,
        account_id=ACCOUNT,
        region=REGION,
        trail_name="main",
        private_key=new_private_key(),
        organization_id=None,
        seed=7,
    )
    writer.write_log(
        delivered,
        records=[
            record("CreateTrail", "2026-11-20T09:00:00Z", "admin"),
            record("StopLogging", "2026-11-20T10:00:00Z", "alice"),
            record("StopLogging", "2026-11-20T10:30:00Z", "mallory", errorCode="AccessDenied"),
            record("StartLogging", "2026-11-20T12:00:00Z", "bob"),
        ],
    )
    window = ["--start", "2026-11-20T12:00:00Z", "--end", "2026-11-20T14:00:00Z"]
    args = ["events", "--trail", TRAIL, "--bucket", bucket, "--output-dir", str(tmp_path)]
    assert main([*args, *window, "--event-name", "StartLogging,StopLogging,CreateTrail"]) == 0
    capsys.readouterr()
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["event_name"], e["error_code"]) for e in lines] == [
        ("CreateTrail", None),
        ("StopLogging", None),
        ("StopLogging", "AccessDenied"),
        ("StartLogging", None),
    ]
    assert "trail.not_logging" in lines[-1]["restores"]
    html = (tmp_path / "timeline.html").read_text()
    assert html.count("failed: AccessDenied") == 1  # the attempt is marked, not a change
    assert lines[2]["causes"] == [] and "trail.not_logging" in lines[1]["causes"]
    assert main([*args, *window, "--event-name", "StartLogging"]) == 0
    (only,) = (tmp_path / "events.jsonl").read_text().splitlines()
    assert json.loads(only)["principal_arn"].endswith(":user/bob")


def test_item10_deleting_the_only_trail_is_attributed(boto: boto3.Session, tmp_path: Path) -> None:
    boto.client("s3").create_bucket(Bucket="who-gone-logs")
    iam = boto.client("iam")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    ct = boto.client("cloudtrail")
    ct.create_trail(Name="main", S3BucketName="who-gone-logs", IsMultiRegionTrail=True)
    ct.start_logging(Name="main")
    alice = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )
    alice.client("cloudtrail").delete_trail(Name="main")
    args = ["scan", "--region", REGION, "--who", "-q", "--format", "json"]
    assert main([*args, "--output-dir", str(tmp_path)]) == 1
    report = expand_shared_evidence(json.loads((tmp_path / "report.json").read_text()))
    (account,) = [f for f in report["findings"] if f["rule_id"] == "CT.ACCOUNT.MULTI_REGION_TRAIL"]
    assert account["status"] == "FAIL" and account["problems"] == ["trail.no_trail"]
    change = account["evidence"]["last_change"]
    assert change["event_name"] == "DeleteTrail"
    assert change["principal_arn"] == "arn:aws:iam::123456789012:user/alice"
    assert "event:DeleteTrail" in account["evidence"]["change_lookup"]["resources"]


def test_item11_cloudwatch_logs_stale_after_stop_logging_is_attributed() -> None:
    """CT.TRAIL.CLOUDWATCH_LOGS fails after a StopLogging (nothing is delivered): the
    StopLogging is its cause, not a later unrelated UpdateTrail."""
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:trail-logs:*"
    trail = make_trail(
        arn=TRAIL,
        cloudwatch_logs_log_group_arn=group,
        status=make_status(
            is_logging=False,
            latest_cloudwatch_logs_delivery_time=datetime(2026, 11, 17, tzinfo=UTC),
        ),
    )
    records = [
        record("StopLogging", "2026-11-17T00:05:00Z", "alice"),
        record(
            "UpdateTrail",
            "2026-11-18T00:00:00Z",
            "bob",
            requestParameters={"name": "main", "enableLogFileValidation": True},
        ),
    ]
    inventory = with_history(make_inventory([trail]), TRAIL, records)
    found = finding(inventory, "CT.TRAIL.CLOUDWATCH_LOGS")
    assert found.status.value == "FAIL"
    assert found.problems == ["trail.cloudwatch_delivery_stale"]
    assert found.evidence["last_change"]["principal_arn"].endswith(":user/alice")
