"""Monitoring collectors against moto: metric filters, alarms, SNS subscriptions, EventBridge."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from trailcheck.engine import rule_context, run_rule
from trailcheck.model import Unknown
from trailcheck.rules import monitoring
from trailcheck.scanner.accounts import current_account
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")
GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:trail-group:*"
ROOT = (
    '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
    '&& $.eventType != "AwsServiceEvent" }'
)


def build(boto: boto3.Session) -> str:
    boto.client("s3").create_bucket(Bucket="trail-logs")
    logs = boto.client("logs")
    logs.create_log_group(logGroupName="trail-group")
    for name, pattern in (("Root", ROOT), ("Trail", "{ $.eventName = StopLogging }")):
        logs.put_metric_filter(
            logGroupName="trail-group",
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[
                {"metricName": name, "metricNamespace": "CIS", "metricValue": "1"}
            ],
        )
    logs.create_log_group(logGroupName="unrelated")  # not a trail's: never read
    ct = boto.client("cloudtrail")
    ct.create_trail(
        Name="main",
        S3BucketName="trail-logs",
        IsMultiRegionTrail=True,
        CloudWatchLogsLogGroupArn=GROUP,
        CloudWatchLogsRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ct",
    )
    ct.start_logging(Name="main")
    sns = boto.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    unused = sns.create_topic(Name="unused")["TopicArn"]
    queue = boto.client("sqs").create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = boto.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="sec@example.com")
    cw = boto.client("cloudwatch")
    common = {
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    cw.put_metric_alarm(
        AlarmName="root",
        MetricName="Root",
        Namespace="CIS",
        Statistic="Sum",
        Period=300,
        AlarmActions=[topic],
        **common,
    )
    cw.put_metric_alarm(
        AlarmName="trail-math",
        Metrics=[
            {
                "Id": "t",
                "MetricStat": {
                    "Metric": {"Namespace": "CIS", "MetricName": "Trail"},
                    "Period": 300,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "e", "Expression": "t * 1", "ReturnData": True},
        ],
        AlarmActions=[topic],
        **common,
    )
    cw.put_metric_alarm(  # an alarm on something else entirely: not kept
        AlarmName="cpu",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=300,
        AlarmActions=[unused],
        **common,
    )
    events = boto.client("events")
    events.put_rule(Name="ct", EventPattern=json.dumps({"source": ["aws.cloudtrail"]}))
    events.put_targets(Rule="ct", Targets=[{"Id": "1", "Arn": topic}])
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    events.put_rule(Name="app", EventPattern=json.dumps({"source": ["com.example.orders"]}))
    return topic


def scan(aws: AwsSession, **options: object):
    targets, _ = current_account(aws, "us-east-1")
    return collect(targets, aws, ScanOptions(regions=REGIONS, max_workers=1, **options))


def test_monitoring_facts_are_collected_once_each(aws: AwsSession, boto: boto3.Session) -> None:
    topic = build(boto)
    inventory = scan(aws)
    group = inventory.log_groups[GROUP]
    assert isinstance(group.metric_filters, tuple)
    assert [f.name for f in group.metric_filters] == ["Root", "Trail"]
    assert group.metric_filters[0].pattern == ROOT
    transformation = group.metric_filters[0].transformations[0]
    assert (transformation.metric_namespace, transformation.metric_name) == ("CIS", "Root")

    alarms = {a.name: a for a in inventory.alarms.values()}
    assert set(alarms) == {"root", "trail-math"}  # the CPU alarm watches no filter metric
    assert alarms["root"].actions_enabled and alarms["root"].alarm_actions == (topic,)
    math = alarms["trail-math"]
    assert math.expression == "t * 1"
    assert [(m.namespace, m.name, m.query_id) for m in math.metrics] == [("CIS", "Trail", "t")]

    assert set(inventory.sns_topics) == {topic}  # only topics of kept alarms
    subscriptions = inventory.sns_topics[topic].subscriptions
    assert isinstance(subscriptions, tuple)
    confirmed = {s.protocol: s.confirmed for s in subscriptions}
    assert confirmed == {"sqs": True, "email": False}  # e-mail waits for the recipient (AWS)

    rules = {r.name: r for r in inventory.event_rules.values() if r.region == "us-east-1"}
    assert set(rules) == {"ct", "nightly", "app"}
    assert rules["ct"].targets is not None and [t.arn for t in rules["ct"].targets] == [topic]
    assert rules["nightly"].targets is None and rules["app"].targets is None  # not read

    listing = inventory.regional_listing(ACCOUNT, "us-east-1")
    assert listing is not None and listing.alarms == tuple(sorted(a.arn for a in alarms.values()))
    eu = inventory.regional_listing(ACCOUNT, "eu-west-1")
    assert eu is not None and eu.alarms is None and eu.event_rules == ()

    calls = inventory.metadata.api_calls
    assert calls["logs:DescribeMetricFilters"] == 1
    assert calls["cloudwatch:DescribeAlarms"] == 1  # one (account, region) holds a trail group
    assert calls["sns:ListSubscriptionsByTopic"] == 1
    assert calls["events:ListRules"] == 2  # one per scanned region
    assert calls["events:ListTargetsByRule"] == 1  # only the rule that can see CloudTrail


def test_collected_chain_is_judged_end_to_end(aws: AwsSession, boto: boto3.Session) -> None:
    build(boto)
    inventory = scan(aws)
    rule = next(r for r in monitoring.generated_rules() if r.id == "CT.MON.ROOT_USAGE")
    [finding] = run_rule(rule, inventory, rule_context(rule, None))
    assert finding.status.value == "PASS", finding.reason
    assert "filter Root → alarm root → topic alerts" in finding.reason


def test_unselected_collections_are_not_collected(aws: AwsSession, boto: boto3.Session) -> None:
    build(boto)
    inventory = scan(aws, collections=frozenset({"regions", "trails", "log_groups"}))
    calls = inventory.metadata.api_calls
    for op in (
        "logs:DescribeMetricFilters",
        "cloudwatch:DescribeAlarms",
        "sns:ListSubscriptionsByTopic",
        "events:ListRules",
    ):
        assert op not in calls
    assert inventory.log_groups[GROUP].metric_filters is None  # not collected, not "none"
    assert not inventory.alarms and not inventory.regional_listings


def test_access_denied_on_metric_filters_is_an_unknown_and_an_error(
    aws: AwsSession, boto: boto3.Session
) -> None:
    build(boto)

    def deny(**_: object) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeMetricFilters"
        )

    client = aws.client("logs", "us-east-1")
    client.meta.events.register("before-call.cloudwatch-logs.DescribeMetricFilters", deny)
    inventory = scan(aws)
    filters = inventory.log_groups[GROUP].metric_filters
    assert isinstance(filters, Unknown) and filters.operation == "logs:DescribeMetricFilters"
    rule = next(r for r in monitoring.generated_rules() if r.id == "CT.MON.ROOT_USAGE")
    [finding] = run_rule(rule, inventory, rule_context(rule, None))
    assert finding.status.value == "ERROR"
    assert "logs:DescribeMetricFilters failed: AccessDeniedException" in finding.reason


def test_confirm_filters_records_that_moto_cannot_answer(
    aws: AwsSession, boto: boto3.Session
) -> None:
    build(boto)
    assert scan(aws).filter_tests is None  # off by default: no TestMetricFilter call
    inventory = scan(aws, confirm_filters_with_aws=True)
    assert inventory.filter_tests is not None
    assert set(inventory.filter_tests) == {ROOT, "{ $.eventName = StopLogging }"}
    test = inventory.filter_tests[ROOT]
    assert len(test.tested) > 100  # every control's positive and negative records
    # moto does not implement TestMetricFilter: recorded as unknown, never guessed
    assert isinstance(test.matched, Unknown) and test.matched.error_code == "NotImplemented"
    rule = monitoring.filter_confirmed_by_aws
    findings = run_rule(rule, inventory, rule_context(rule, None))
    assert {f.status.value for f in findings} == {"ERROR"}


@pytest.mark.parametrize("protocol", ["email", "email-json", "https"])
def test_faithful_moto_leaves_recipient_confirmed_protocols_pending(
    boto: boto3.Session, protocol: str
) -> None:
    sns = boto.client("sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    endpoint = "https://example.com/hook" if protocol == "https" else "a@example.com"
    sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["SubscriptionArn"] == "PendingConfirmation"
