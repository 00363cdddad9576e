"""Source 2: change events from the trail's own gzip log files (organization layout)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from verify.cloudtrail_writer import CloudTrailWriter, new_private_key, s3_put

from trailcheck.changes.logfiles import EventFilter, extract_events
from trailcheck.changes.model import ChangeEvent
from trailcheck.cli import main
from trailcheck.verify import MemoryObjectStore, TrailLocation

ORG = "o-a1b2c3d4e5"
MANAGEMENT, MEMBER_A, MEMBER_B = "111111111111", "222222222222", "333333333333"
BUCKET = "org-trail-logs"
TRAIL_ARN = f"arn:aws:cloudtrail:us-east-1:{MANAGEMENT}:trail/org-trail"
DELIVERED = datetime(2026, 11, 3, 10, 30, tzinfo=UTC)
KEY = new_private_key()


def _record(account: str, name: str, **over: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": "2026-11-03T10:22:07Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15",
        "readOnly": False,
        "eventID": f"{account}-{name}",
        "recipientAccountId": account,
        **over,
    }


def _assumed(account: str, role: str, session: str) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "sessionContext": {"sessionIssuer": {"userName": role}},
    }


def write_org_logs(put: Any) -> None:
    """Member A: its trail stopped by an assumed role, a read, a record without userIdentity;
    member B: a bucket policy put by an IAM user, and a truncated file."""

    def writer(account: str, seed: int) -> CloudTrailWriter:
        return CloudTrailWriter(
            put=put,
            bucket=BUCKET,
            account_id=account,
            region="us-east-1",
            trail_name="org-trail",
            private_key=KEY,
            organization_id=ORG,
            seed=seed,
        )

    member_trail = f"arn:aws:cloudtrail:us-east-1:{MEMBER_A}:trail/member-trail"
    writer(MEMBER_A, 1).write_log(
        DELIVERED,
        records=[
            _record(
                MEMBER_A,
                "StopLogging",
                userIdentity=_assumed(MEMBER_A, "Admin", "alice"),
                requestParameters={"name": member_trail},
            ),
            _record(MEMBER_A, "DescribeTrails", readOnly=True),
            _record(
                MEMBER_A,
                "DeleteTrail",
                eventTime="2026-11-03T10:25:00Z",
                requestParameters={"name": "old-trail"},
            ),  # no userIdentity at all
            _record(MEMBER_A, "CreateBucket", eventSource="s3.amazonaws.com"),  # not followed
        ],
    )
    b = writer(MEMBER_B, 2)
    b.write_log(
        DELIVERED,
        records=[
            _record(
                MEMBER_B,
                "PutBucketPolicy",
                eventSource="s3.amazonaws.com",
                userIdentity={
                    "type": "IAMUser",
                    "arn": f"arn:aws:iam::{MEMBER_B}:user/ops-bob",
                    "accountId": MEMBER_B,
                    "userName": "ops-bob",
                },
                requestParameters={"bucketName": "legacy-logs"},
            )
        ],
    )
    b.write_log(DELIVERED + timedelta(minutes=5), records=[_record(MEMBER_B, "X")], truncate=True)


def _locations() -> list[TrailLocation]:
    return [
        TrailLocation(trail_arn=TRAIL_ARN, account_id=a, organization_id=ORG, region="us-east-1")
        for a in (MEMBER_A, MEMBER_B)
    ]


def _extract(keep: EventFilter | None = None) -> tuple[list[ChangeEvent], list[str]]:
    store = MemoryObjectStore(BUCKET)
    write_org_logs(lambda key, data, meta: store.put(key, data, meta))
    found = extract_events(
        store,
        _locations(),
        DELIVERED - timedelta(hours=1),
        DELIVERED + timedelta(hours=1),
        keep or EventFilter(),
    )
    return found.events, [p.reason for p in found.problems]


def test_every_member_change_of_the_window_truncated_file_reported() -> None:
    events, problems = _extract()
    assert [(e.account_id, e.event_name) for e in events] == [
        (MEMBER_A, "StopLogging"),
        (MEMBER_B, "PutBucketPolicy"),
        (MEMBER_A, "DeleteTrail"),
    ]
    stop, policy, delete = events
    assert (stop.role_name, stop.session_name) == ("Admin", "alice")
    assert policy.principal_arn == f"arn:aws:iam::{MEMBER_B}:user/ops-bob"
    assert delete.principal_arn is None and delete.identity_type is None  # kept, unattributed
    assert problems == ["unreadable log file: gzip stream is truncated"]


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        (EventFilter(accounts=frozenset({MEMBER_B})), ["PutBucketPolicy"]),
        (
            EventFilter(
                resources=frozenset({f"arn:aws:cloudtrail:us-east-1:{MEMBER_A}:trail/old-trail"})
            ),
            ["DeleteTrail"],
        ),
        (EventFilter(event_names=frozenset({"StopLogging"})), ["StopLogging"]),
        (EventFilter(principals=frozenset({"ops-bob"})), ["PutBucketPolicy"]),
        (EventFilter(principals=frozenset({"alice"})), ["StopLogging"]),
    ],
    ids=["account", "resource-by-arn-short-name", "event-name", "user", "session"],
)
def test_filters(keep: EventFilter, expected: list[str]) -> None:
    assert [e.event_name for e in _extract(keep)[0]] == expected


def test_events_command_writes_jsonl_and_timeline(
    boto: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    write_org_logs(s3_put(s3, BUCKET))
    window = ["--start", "2026-11-03T09:00:00Z", "--end", "2026-11-03T12:00:00Z"]
    args = ["events", "--trail", TRAIL_ARN, "--bucket", BUCKET, "--organization-id", ORG]
    args += ["--account", f"{MEMBER_A},{MEMBER_B}", "--output-dir", str(tmp_path), *window]
    args += ["--format", "table"]  # piped stdout defaults to csv
    member_trail = f"arn:aws:cloudtrail:us-east-1:{MEMBER_A}:trail/member-trail"
    assert main([*args, "--resource", member_trail]) == 0
    out = capsys.readouterr()
    assert out.out.startswith(f"Change timeline of {member_trail}")
    assert "1 change event(s) from 2 log file(s); 1 unreadable" in out.out
    assert "gzip stream is truncated" in out.err
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    (only,) = [json.loads(line) for line in lines]
    assert only["event_name"] == "StopLogging" and only["session_name"] == "alice"
    assert set(only) == set(ChangeEvent.model_fields)
    html = (tmp_path / "timeline.html").read_text()
    assert "assumed-role/Admin/alice" in html and "<script" not in html
    timeline = json.loads((tmp_path / "timeline.json").read_text())
    assert [e["event_id"] for e in timeline["events"]] == [only["event_id"]]


def test_events_command_bad_input_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["events", "--trail", TRAIL_ARN, "--bucket", BUCKET, "--event-name", "GetObject"]
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("trailcheck: error: --event-name: 'GetObject'")
