"""ChangeEvent from real-shaped CloudTrail records: every identity kind, and none."""

from __future__ import annotations

import json
from pathlib import Path

from trailcheck.changes.catalog import name_forms, short_name
from trailcheck.changes.model import ChangeEvent

SAMPLES = Path(__file__).parent / "data"
FIELDS = {
    "event_time",
    "event_name",
    "event_source",
    "account_id",
    "region",
    "principal_arn",
    "identity_type",
    "role_name",
    "session_name",
    "source_ip",
    "user_agent",
    "event_id",
    "is_root",
    "is_aws_service",
    "resources",
    "error_code",
    "error_message",
}


def _record(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "eventVersion": "1.09",
        "eventTime": "2026-11-03T10:22:07Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15",
        "requestParameters": {"name": "main"},
        "eventID": "e-1",
        "readOnly": False,
        "recipientAccountId": "111122223333",
    }
    return base | over


def test_fields_are_exactly_the_agreed_ones() -> None:
    assert set(ChangeEvent.model_fields) == FIELDS


def test_real_iam_user_record() -> None:
    record = json.loads((SAMPLES / "stratus_stop_logging.json").read_text())["Records"][0]
    event = ChangeEvent.from_record(record)
    assert event.identity_type == "IAMUser"
    assert event.principal_arn and event.principal_arn.endswith(":user/christophe")
    assert event.event_name == "StopLogging" and event.event_time.endswith("Z")
    assert not event.is_root and not event.is_aws_service and event.role_name is None


def test_assumed_role_gives_role_and_session() -> None:
    event = ChangeEvent.from_record(
        _record(
            userIdentity={
                "type": "AssumedRole",
                "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
                "accountId": "111122223333",
                "sessionContext": {"sessionIssuer": {"userName": "Admin"}},
            }
        )
    )
    assert (event.role_name, event.session_name) == ("Admin", "alice")
    assert "assumed-role/Admin/alice (StopLogging) at 2026-11-03T10:22:07Z from 203.0.113.7" in (
        event.sentence()
    )


def test_root_and_service_principals() -> None:
    root = ChangeEvent.from_record(
        _record(userIdentity={"type": "Root", "arn": "arn:aws:iam::111122223333:root"})
    )
    assert root.is_root and "root user" in root.sentence()
    service = ChangeEvent.from_record(
        _record(
            userIdentity={"type": "AWSService", "invokedBy": "config.amazonaws.com"},
            sourceIPAddress="config.amazonaws.com",
        )
    )
    assert service.is_aws_service and not service.is_root
    assert service.principal_arn == "config.amazonaws.com"
    assert "AWS service config.amazonaws.com" in service.sentence()


def test_record_without_user_identity_is_kept() -> None:
    event = ChangeEvent.from_record(_record())
    assert event.principal_arn is None and event.identity_type is None
    assert event.resources == ["main"]
    assert "unidentified caller" in event.sentence()


def test_name_forms_usual_form_first() -> None:
    assert name_forms("arn:aws:s3:::logs-bucket") == ["logs-bucket", "arn:aws:s3:::logs-bucket"]
    key = "arn:aws:kms:us-east-1:111122223333:key/abcd"
    assert name_forms(key) == [key, "abcd"]
    group = "arn:aws:logs:us-east-1:111122223333:log-group:trail-logs:*"
    assert name_forms(group)[0] == "trail-logs"
    assert short_name("arn:aws:cloudwatch:us-east-1:111122223333:alarm:cis-x") == "cis-x"
    assert short_name("arn:aws:sns:us-east-1:111122223333:alerts") == "alerts"
