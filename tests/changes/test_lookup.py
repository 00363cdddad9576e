"""LookupEvents source against moto (made faithful: event history + LookupEvents)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from factories import make_bucket, make_inventory
from moto import mock_aws

from trailcheck.changes.enrich import locate
from trailcheck.changes.lookup import LookupOptions, LookupRequest, lookup_changes
from trailcheck.demo.moto_event_history import EventHistory
from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.model import ChangeHistory
from trailcheck.scanner.collectors.base import AccountAccess
from trailcheck.scanner.session import AwsSession

ACCOUNT = "123456789012"
REGION = "us-east-1"


class Clock:
    """The simulated CloudTrail's clock: a test moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def history(clock: Clock) -> Iterator[EventHistory]:
    recorded = EventHistory(clock=clock)
    with mock_aws(), faithful_moto(event_history=recorded):
        yield recorded


@pytest.fixture
def boto(history: EventHistory) -> boto3.Session:
    return boto3.Session(region_name=REGION)


def _lookup(
    arn: str, *events: str, options: LookupOptions | None = None, region: str = REGION
) -> ChangeHistory:
    session = AwsSession()
    request = LookupRequest(ACCOUNT, region, arn, (frozenset(events),))
    access = {ACCOUNT: AccountAccess(ACCOUNT, session, None)}
    found = lookup_changes([request], access, datetime.now(UTC) + timedelta(minutes=1), options)
    return found[request.key]


def _trail(s: boto3.Session) -> str:
    s.client("s3").create_bucket(Bucket="trail-bucket-who")
    ct = s.client("cloudtrail")
    arn: str = ct.create_trail(Name="main-trail", S3BucketName="trail-bucket-who")["TrailARN"]
    ct.start_logging(Name="main-trail")
    ct.stop_logging(Name="main-trail")
    return arn


def _bucket(s: boto3.Session) -> str:
    s3 = s.client("s3")
    s3.create_bucket(Bucket="logs-bucket-who")
    s3.put_bucket_versioning(
        Bucket="logs-bucket-who", VersioningConfiguration={"Status": "Suspended"}
    )
    return "arn:aws:s3:::logs-bucket-who"


def _key(s: boto3.Session) -> str:
    kms = s.client("kms")
    meta = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=meta["KeyId"])
    return str(meta["Arn"])


def _log_group(s: boto3.Session) -> str:
    logs = s.client("logs")
    logs.create_log_group(logGroupName="trail-logs")
    logs.put_metric_filter(
        logGroupName="trail-logs",
        filterName="RootUsage",
        filterPattern='{ $.userIdentity.type = "Root" }',
        metricTransformations=[{"metricName": "R", "metricNamespace": "N", "metricValue": "1"}],
    )
    logs.delete_metric_filter(logGroupName="trail-logs", filterName="RootUsage")
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:trail-logs:*"


def _alarm(s: boto3.Session) -> str:
    cw = s.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="cis-root",
        MetricName="R",
        Namespace="N",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cw.disable_alarm_actions(AlarmNames=["cis-root"])
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:cis-root"


def _topic(s: boto3.Session) -> str:
    sns = s.client("sns")
    arn: str = sns.create_topic(Name="alerts")["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="x")
    return arn


def _rule(s: boto3.Session) -> str:
    events = s.client("events")
    pattern = '{"source": ["aws.organizations"]}'
    arn: str = events.put_rule(Name="org-changes", EventPattern=pattern)["RuleArn"]
    events.disable_rule(Name="org-changes")
    return arn


@pytest.mark.parametrize(
    ("make", "event"),
    [
        (_trail, "StopLogging"),
        (_bucket, "PutBucketVersioning"),
        (_key, "DisableKey"),
        (_log_group, "DeleteMetricFilter"),
        (_alarm, "DisableAlarmActions"),
        (_topic, "SetTopicAttributes"),
        (_rule, "DisableRule"),
    ],
    ids=["cloudtrail", "s3", "kms", "logs", "cloudwatch", "sns", "events"],
)
def test_each_family_names_who_changed_it(
    boto: boto3.Session, make: Callable[[boto3.Session], str], event: str
) -> None:
    arn = make(boto)
    found = _lookup(arn, event)
    assert found.complete and found.error is None
    assert [e.event_name for e in found.events] == [event]
    latest = found.events[0]
    assert latest.is_root and latest.principal_arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert latest.region == REGION and latest.account_id == ACCOUNT
    assert latest.event_time.endswith("Z") and latest.event_id and latest.user_agent
    assert found.calls == 1  # the service's usual name form answered at once


def test_trail_changed_by_arn_is_found_under_the_other_name_form(boto: boto3.Session) -> None:
    boto.client("s3").create_bucket(Bucket="trail-bucket-who")
    ct = boto.client("cloudtrail")
    arn = ct.create_trail(Name="main-trail", S3BucketName="trail-bucket-who")["TrailARN"]
    ct.update_trail(Name=arn, EnableLogFileValidation=False)  # by ARN this time
    found = _lookup(arn, "UpdateTrail")
    assert found.names == ["main-trail", arn] and found.calls == 2
    assert [e.event_name for e in found.events] == ["UpdateTrail"]


def test_assumed_role_and_iam_user(boto: boto3.Session) -> None:
    arn = _bucket(boto)
    iam = boto.client("iam")
    iam.create_user(UserName="ops-bob")
    key = iam.create_access_key(UserName="ops-bob")["AccessKey"]
    bob = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )
    bob.client("s3").put_bucket_policy(
        Bucket="logs-bucket-who", Policy=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    iam.create_role(RoleName="Admin", AssumeRolePolicyDocument="{}")
    creds = boto.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Admin", RoleSessionName="alice"
    )["Credentials"]
    alice = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )
    alice.client("s3").delete_bucket_policy(Bucket="logs-bucket-who")
    found = _lookup(arn, "PutBucketPolicy", "DeleteBucketPolicy")
    newest, older = found.events[0], found.events[1]
    assert (newest.event_name, newest.identity_type) == ("DeleteBucketPolicy", "AssumedRole")
    assert (newest.role_name, newest.session_name) == ("Admin", "alice")
    assert newest.principal_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"
    assert (older.event_name, older.principal_arn) == (
        "PutBucketPolicy",
        f"arn:aws:iam::{ACCOUNT}:user/ops-bob",
    )


def test_paging_past_50_read_events(boto: boto3.Session, clock: Clock) -> None:
    arn = _bucket(boto)
    s3 = boto.client("s3")
    clock.now += timedelta(minutes=1)
    for _ in range(60):  # read-only events are in the history but never count
        s3.get_bucket_versioning(Bucket="logs-bucket-who")
    found = _lookup(arn, "PutBucketVersioning")
    assert found.calls == 2 and found.complete
    assert [e.event_name for e in found.events] == ["PutBucketVersioning"]


def test_nothing_in_90_days(boto: boto3.Session, clock: Clock) -> None:
    clock.now -= timedelta(days=91)
    arn = _bucket(boto)  # the change is older than the event history keeps
    clock.now += timedelta(days=91)
    found = _lookup(arn, "PutBucketVersioning")
    assert found.complete and found.events == []


def _found_at_once(boto: boto3.Session) -> list[LookupRequest]:
    """Three resources whose asked-for change is on the first page of the first name form."""
    changes = {_bucket(boto): "PutBucketVersioning", _key(boto): "DisableKey"}
    changes[_topic(boto)] = "SetTopicAttributes"
    return [LookupRequest(ACCOUNT, REGION, a, (frozenset({e}),)) for a, e in changes.items()]


def test_throttling_is_retried_never_fatal(history: EventHistory, boto: boto3.Session) -> None:
    history.lookup_rate = 1  # the simulated limit, below what trailcheck is told to use
    requests = _found_at_once(boto)[:2]
    access = {ACCOUNT: AccountAccess(ACCOUNT, AwsSession(), None)}
    end = datetime.now(UTC) + timedelta(minutes=1)
    found = lookup_changes(requests, access, end, LookupOptions(rate=50))
    assert history.throttled > 0
    assert all(h.complete and h.error is None and h.events for h in found.values())


def test_retries_wait_for_the_rate_too(history: EventHistory, boto: boto3.Session) -> None:
    """Never more than 2 LookupEvents per second per account-region, retries included: a
    simulated limit of 1 per second throttles, and every attempt the session layer retries
    still waits for a token (issue 17)."""
    history.lookup_rate = 1
    access = {ACCOUNT: AccountAccess(ACCOUNT, AwsSession(), None)}
    end = datetime.now(UTC) + timedelta(minutes=1)
    found = lookup_changes(_found_at_once(boto), access, end)
    assert history.throttled > 0  # retries happened
    assert all(h.complete and h.events for h in found.values())
    (times,) = history.lookup_times.values()
    # any three consecutive attempts span at least one second: at most two in any second
    # (less a little for the time a request spends between the token and the simulator)
    assert all(later - first >= 0.95 for first, later in zip(times, times[2:], strict=False))


def test_token_bucket_keeps_under_the_limit(history: EventHistory, boto: boto3.Session) -> None:
    session = AwsSession()
    access = {ACCOUNT: AccountAccess(ACCOUNT, session, None)}
    end = datetime.now(UTC) + timedelta(minutes=1)
    found = lookup_changes(_found_at_once(boto), access, end)
    assert history.throttled == 0 and history.lookups == 3
    assert session.meter.snapshot()["cloudtrail:LookupEvents"] == 3
    assert all(h.calls == 1 and h.complete for h in found.values())


def test_budget_bounds_the_calls(boto: boto3.Session) -> None:
    session = AwsSession()
    access = {ACCOUNT: AccountAccess(ACCOUNT, session, None)}
    end = datetime.now(UTC) + timedelta(minutes=1)
    found = lookup_changes(_found_at_once(boto), access, end, LookupOptions(budget=1))
    assert sum(h.calls for h in found.values()) == 1
    assert sorted(h.complete for h in found.values()) == [False, False, True]
    assert session.meter.snapshot()["cloudtrail:LookupEvents"] == 1


def test_global_service_events_live_in_us_east_1(history: EventHistory) -> None:
    boto3.Session(region_name="eu-west-1").client("iam").create_user(UserName="someone")
    created = [r for r in history.all_records() if r["eventName"] == "CreateUser"]
    assert [r["awsRegion"] for r in created] == ["us-east-1"]
    # a resource whose region is unknown is looked up where global events live
    inv = make_inventory(buckets=[make_bucket("bucket-b", region=_unknown())])
    assert locate("arn:aws:s3:::bucket-b", inv, ACCOUNT)[1] == "us-east-1"


def _unknown() -> Any:
    from trailcheck.model import Unknown

    return Unknown(operation="s3:GetBucketLocation", error_code="AccessDenied")


def test_lookup_events_itself_follows_aws_limits(boto: boto3.Session) -> None:
    ct = boto.client("cloudtrail")
    with pytest.raises(ct.exceptions.ClientError, match="InvalidLookupAttributes"):
        ct.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "StopLogging"},
                {"AttributeKey": "ReadOnly", "AttributeValue": "false"},
            ]
        )
    with pytest.raises(ct.exceptions.ClientError, match="InvalidMaxResults"):
        ct.lookup_events(MaxResults=51)
    _bucket(boto)
    in_eu = boto3.Session(region_name="eu-west-1").client("cloudtrail")
    assert (
        in_eu.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "logs-bucket-who"}]
        )["Events"]
        == []
    )  # per-region scope


def test_recorded_events_have_the_shape_of_real_records(boto: boto3.Session) -> None:
    _trail(boto)
    ct = boto.client("cloudtrail")
    answer = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "StopLogging"}]
    )
    (entry,) = answer["Events"]
    record = json.loads(entry["CloudTrailEvent"])
    real = {  # the top-level fields of the real StopLogging sample (shared/sample_events)
        "awsRegion", "eventCategory", "eventID", "eventName", "eventSource", "eventTime",
        "eventType", "eventVersion", "managementEvent", "readOnly", "recipientAccountId",
        "requestID", "requestParameters", "responseElements", "sourceIPAddress", "userAgent",
        "userIdentity",
    }  # fmt: skip
    assert real <= set(record) and not any(k.startswith("_") for k in record)
    assert record["requestParameters"] == {"name": "main-trail"}
    assert record["userIdentity"]["type"] == "Root" and record["readOnly"] is False
    assert entry["ReadOnly"] == "false" and entry["Resources"] == [
        {"ResourceType": "AWS::CloudTrail::Trail", "ResourceName": "main-trail"}
    ]
