"""CIS monitoring rules over hand-built inventories: coverage by meaning, the whole chain."""

from __future__ import annotations

import json
from typing import Any

import pytest
from factories import (
    ACCOUNT,
    REGION,
    TOPIC,
    denied,
    html_findings_strings,
    make_account,
    make_alarm,
    make_event_rule,
    make_filter,
    make_inventory,
    make_status,
    make_topic,
    make_trail,
    with_monitoring,
)

from trailcheck.engine import evaluate, rule_context, run_rule
from trailcheck.model import (
    AlarmMetric,
    FilterPatternTest,
    Finding,
    Inventory,
    RegionalListing,
    Severity,
    SnsSubscription,
    Status,
    Unknown,
)
from trailcheck.reports.html_report import HtmlReporter
from trailcheck.rules import load_rules, monitoring
from trailcheck.rules._monitoring import Coverage, controls
from trailcheck.rules.base import Rule

GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:ct-main:*"
RULES = {r.id: r for r in monitoring.generated_rules()}
ROOT = RULES["CT.MON.ROOT_USAGE"]
TRAIL_CHANGES = RULES["CT.MON.CLOUDTRAIL_CONFIG_CHANGES"]
MFA = RULES["CT.MON.CONSOLE_SIGNIN_WITHOUT_MFA"]
ORGS = RULES["CT.MON.ORGANIZATIONS_CHANGES"]
CIS = {key: c.recommended_pattern for key, c in controls().items()}


def run(rule: Rule, inventory: Inventory, params: dict | None = None) -> list[Finding]:
    return run_rule(rule, inventory, rule_context(rule, params))


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def coverage(finding: Finding) -> Coverage:
    return Coverage.model_validate(finding.evidence["coverage"])


def monitored(
    filters: list[Any],
    *,
    alarms: list[Any] | None = None,
    topics: list[Any] | None = None,
    trails: list[Any] | None = None,
    **kw: Any,
) -> Inventory:
    """One account, one good trail; `filters` on its log group, each alarmed to TOPIC."""
    if alarms is None:
        alarms = [make_alarm(t.metric_name) for f in filters for t in f.transformations]
    return with_monitoring(
        make_inventory(trails),
        filters={GROUP: filters},
        alarms=alarms,
        topics=[make_topic()] if topics is None else topics,
        **kw,
    )


def test_cis_text_with_a_working_chain_passes_and_names_the_path() -> None:
    finding = only(run(ROOT, monitored([make_filter("Root", CIS["root_usage"])])))
    assert finding.status is Status.PASS
    assert "trail main → log group ct-main → filter Root → alarm Root-alarm → topic" in (
        finding.reason
    )
    cov = coverage(finding)
    assert cov.verdict == "covered" and cov.counted_via == "metric_filter"
    assert {name: link.state for name, link in cov.links.items()} == dict.fromkeys(
        ("trail", "log_group", "metric_filter", "alarm", "subscriber"), "ok"
    )
    assert cov.filters[0].matched and cov.filters[0].positives == 4


@pytest.mark.parametrize(
    ("rule", "pattern"),
    [
        (
            ROOT,
            '{ $.eventType != "AwsServiceEvent" && $.userIdentity.invokedBy NOT EXISTS '
            '&& $.userIdentity.type = "Root" }',
        ),
        (
            TRAIL_CHANGES,
            '{($.eventName="StopLogging")||($.eventName="DeleteTrail")||($.eventName='
            '"UpdateTrail")||($.eventName="CreateTrail")||($.eventName="StartLogging")}',
        ),
        (MFA, '{ $.eventName = "ConsoleLogin" && $.additionalEventData.MFAUsed != "Yes" }'),
    ],
    ids=["root-reordered", "trail-reversed-quoted", "mfa-no-parentheses"],
)
def test_equivalent_rewrites_pass(rule: Rule, pattern: str) -> None:
    assert only(run(rule, monitored([make_filter("F", pattern)]))).status is Status.PASS


@pytest.mark.parametrize(
    ("rule", "pattern", "named"),
    [
        (
            MFA,
            '{ ($.eventName = "consoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }',
            '`$.eventName = "consoleLogin"`',
        ),
        (
            MFA,
            '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.mfaUsed != "Yes") }',
            '`$.additionalEventData.mfaUsed != "Yes"`',
        ),
        (
            ROOT,
            '{ $.userIdentity.type = "Root" || $.userIdentity.invokedBy NOT EXISTS '
            '|| $.eventType != "AwsServiceEvent" }',
            None,  # over-broad, still covers (checked below)
        ),
        (
            TRAIL_CHANGES,
            "{ ($.eventName = CreateTrail) && ($.eventName = UpdateTrail) && "
            "($.eventName = DeleteTrail) && ($.eventName = StartLogging) && "
            "($.eventName = StopLogging) }",
            "CreateTrail (",
        ),
    ],
    ids=["wrong-case", "wrong-field-path", "or-for-and", "and-for-or"],
)
def test_look_alikes_fail_naming_the_missed_event(rule: Rule, pattern: str, named: str) -> None:
    finding = only(run(rule, monitored([make_filter("Lookalike", pattern)])))
    if named is None:
        assert finding.status is Status.PASS
        return
    assert finding.status is Status.FAIL
    assert "closest is filter Lookalike" in finding.reason
    assert named in finding.reason
    cov = coverage(finding)
    assert cov.broken_link == "metric_filter" and cov.missed_events


def test_a_filter_for_another_control_is_not_the_closest() -> None:
    inventory = monitored([make_filter("Root", CIS["root_usage"])])
    finding = only(run(RULES["CT.MON.VPC_CHANGES"], inventory))
    assert finding.status is Status.FAIL
    assert "no metric filter on log group ct-main matches any vpc changes event" in finding.reason


def test_two_alarmed_filters_share_the_work() -> None:
    first = (
        "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || "
        "($.eventName = DeleteTrail) }"
    )
    second = "{ ($.eventName = StartLogging) || ($.eventName = StopLogging) }"
    inventory = monitored([make_filter("A", first), make_filter("B", second)])
    finding = only(run(TRAIL_CHANGES, inventory))
    assert finding.status is Status.PASS
    assert "together, 2 filters" in finding.reason
    assert {f.filter_name for f in coverage(finding).filters} == {"A", "B"}
    # one half alone does not cover
    half = monitored([make_filter("A", first)])
    finding = only(run(TRAIL_CHANGES, half))
    assert finding.status is Status.FAIL and "misses 2 of 5" in finding.reason


def _root(**alarm: Any) -> list[Any]:
    return [make_alarm("Root", **alarm)]


@pytest.mark.parametrize(
    ("inventory_kw", "link", "reason_part"),
    [
        ({"alarms": []}, "alarm", "no alarm watches metric CISBenchmark/Root"),
        ({"alarms": _root(namespace="Custom")}, "alarm", "in namespace Custom"),
        ({"alarms": _root(actions_enabled=False)}, "alarm", "actions disabled"),
        ({"alarms": _root(alarm_actions=())}, "alarm", "has no alarm actions"),
        (
            {"alarms": _root(alarm_actions=("arn:aws:automate:us-east-1:ec2:stop",))},
            "alarm",
            "no SNS topic among its alarm actions",
        ),
        ({"topics": [make_topic(confirmed=False)]}, "subscriber", "1 PendingConfirmation"),
        ({"topics": [make_topic(subscriptions=())]}, "subscriber", "has no subscription"),
        ({"topics": [make_topic(exists=False, subscriptions=())]}, "subscriber", "does not exist"),
        (
            {"trails": [make_trail(is_multi_region=False)]},
            "trail",
            "single-region",
        ),
        (
            {"trails": [make_trail(status=make_status(is_logging=False))]},
            "trail",
            "not logging",
        ),
    ],
    ids=[
        "no-alarm",
        "wrong-namespace",
        "actions-disabled",
        "no-actions",
        "no-sns-action",
        "pending-only",
        "no-subscription",
        "topic-gone",
        "single-region-trail",
        "trail-not-logging",
    ],
)
def test_broken_chain_fails_at_the_first_broken_link(
    inventory_kw: dict, link: str, reason_part: str
) -> None:
    inventory = monitored([make_filter("Root", CIS["root_usage"])], **inventory_kw)
    finding = only(run(ROOT, inventory))
    assert finding.status is Status.FAIL, finding.reason
    assert f"the {link.replace('_', ' ')} link is broken" in finding.reason
    assert reason_part in finding.reason
    assert coverage(finding).broken_link == link


def test_trail_without_cloudwatch_logs_and_log_group_without_filters() -> None:
    finding = only(
        run(ROOT, monitored([], trails=[make_trail(cloudwatch_logs_log_group_arn=None)]))
    )
    assert finding.status is Status.FAIL
    assert "does not deliver to CloudWatch Logs" in finding.reason
    finding = only(run(ROOT, monitored([])))
    assert finding.status is Status.FAIL and coverage(finding).broken_link == "metric_filter"


def test_metric_math_alarm_is_understood() -> None:
    math = make_alarm(
        "Root",
        metrics=(
            AlarmMetric(namespace="CISBenchmark", name="Root", query_id="root", return_data=False),
        ),
        expression="root * 1",
    )
    assert (
        only(run(ROOT, monitored([make_filter("Root", CIS["root_usage"])], alarms=[math]))).status
        is Status.PASS
    )
    unused = math.model_copy(update={"expression": "other * 2"})
    finding = only(run(ROOT, monitored([make_filter("Root", CIS["root_usage"])], alarms=[unused])))
    assert finding.status is Status.FAIL and "does not use it" in finding.reason


def test_confirmed_subscription_among_pending_ones_is_enough() -> None:
    topic = make_topic(
        subscriptions=(
            SnsSubscription(arn="PendingConfirmation", protocol="email", endpoint="a@example.com"),
            SnsSubscription(arn=f"{TOPIC}:abc", protocol="lambda", endpoint="arn:aws:lambda:x"),
        )
    )
    inventory = monitored([make_filter("Root", CIS["root_usage"])], topics=[topic])
    assert only(run(ROOT, inventory)).status is Status.PASS


MANAGEMENT, MEMBER = "111111111111", "222222222222"


def organization(*, org_trail_logging: bool = True) -> Inventory:
    org_trail = make_trail(
        "org",
        MANAGEMENT,
        is_organization_trail=True,
        status=make_status(is_logging=org_trail_logging),
    )
    group = org_trail.cloudwatch_logs_log_group_arn
    assert group is not None
    accounts = [
        make_account(MANAGEMENT, organization_id="o-1"),
        make_account(MEMBER, organization_id="o-1", trail_arns=()),
    ]
    return with_monitoring(
        make_inventory([org_trail], accounts),
        filters={group: [make_filter("Root", CIS["root_usage"])]},
        alarms=[make_alarm("Root", account_id=MANAGEMENT)],
        topics=[make_topic()],
    )


def test_member_is_covered_through_the_organization_trail() -> None:
    findings = {f.account_id: f for f in run(ROOT, organization())}
    assert findings[MEMBER].status is Status.PASS
    assert f"organization trail org (account {MANAGEMENT}) → log group ct-org" in (
        findings[MEMBER].reason
    )
    assert findings[MANAGEMENT].status is Status.PASS
    broken = {f.account_id: f for f in run(ROOT, organization(org_trail_logging=False))}
    assert broken[MEMBER].status is Status.FAIL and "not logging" in broken[MEMBER].reason


ORG_RULE_PATTERN = json.dumps(
    {"source": ["aws.organizations"], "detail-type": ["AWS API Call via CloudTrail"]}
)


def test_eventbridge_is_coverage_another_way_counted_only_when_asked() -> None:
    rule = make_event_rule("org-changes", ORG_RULE_PATTERN)
    inventory = monitored([], event_rules=[rule])
    off = only(run(ORGS, inventory))
    assert off.status is Status.FAIL
    assert "covered another way by EventBridge rule(s) org-changes (us-east-1)" in off.reason
    assert coverage(off).eventbridge.state == "covers"
    on = only(run(ORGS, inventory, {"eventbridge_counts": True}))
    assert on.status is Status.PASS and coverage(on).counted_via == "eventbridge"
    # without a target, or disabled, it does not count
    for broken in (
        rule.model_copy(update={"targets": ()}),
        rule.model_copy(update={"state": "DISABLED"}),
    ):
        finding = only(run(ORGS, monitored([], event_rules=[broken]), {"eventbridge_counts": True}))
        assert finding.status is Status.FAIL
        assert coverage(finding).eventbridge.state == "none"


def test_eventbridge_for_regional_events_needs_every_region() -> None:
    pattern = json.dumps({"source": ["aws.cloudtrail"]})
    one_region = monitored([], event_rules=[make_event_rule("ct", pattern)])
    finding = only(run(TRAIL_CHANGES, one_region, {"eventbridge_counts": True}))
    assert finding.status is Status.FAIL
    assert coverage(finding).eventbridge.state == "partial" and "eu-west-1" in finding.reason
    both = monitored(
        [],
        event_rules=[
            make_event_rule("ct", pattern),
            make_event_rule("ct", pattern, region="eu-west-1"),
        ],
    )
    assert only(run(TRAIL_CHANGES, both, {"eventbridge_counts": True})).status is Status.PASS


@pytest.mark.parametrize(
    ("change", "operation"),
    [
        ("filters", "logs:DescribeMetricFilters failed: AccessDenied"),
        ("alarms", "cloudwatch:DescribeAlarms failed: AccessDenied"),
        ("topic", "sns:ListSubscriptionsByTopic failed: AccessDenied"),
        ("trail", "cloudtrail:GetTrailStatus failed: AccessDenied"),
    ],
)
def test_unknown_facts_on_the_path_are_errors_naming_the_call(change: str, operation: str) -> None:
    filters = [make_filter("Root", CIS["root_usage"])]
    inventory = monitored(filters)
    if change == "filters":
        groups = {
            GROUP: inventory.log_groups[GROUP].model_copy(
                update={"metric_filters": denied("logs:DescribeMetricFilters")}
            )
        }
        inventory = inventory.model_copy(update={"log_groups": groups})
    elif change == "alarms":
        listing = RegionalListing(
            account_id=ACCOUNT, region=REGION, alarms=denied("cloudwatch:DescribeAlarms")
        )
        inventory = inventory.model_copy(
            update={"regional_listings": {f"{ACCOUNT}/{REGION}": listing}}
        )
    elif change == "topic":
        blocked = denied("sns:ListSubscriptionsByTopic")
        inventory = monitored(filters, topics=[make_topic(exists=blocked, subscriptions=blocked)])
    else:
        inventory = monitored(
            filters, trails=[make_trail(status=denied("cloudtrail:GetTrailStatus"))]
        )
    finding = only(run(ROOT, inventory))
    assert finding.status is Status.ERROR
    assert operation in finding.reason
    assert coverage(finding).verdict == "unknown"


def test_every_control_rule_judges_every_reachable_account() -> None:
    inventory = organization()
    for rule in RULES.values():
        findings = run(rule, inventory)
        assert sorted(f.account_id for f in findings) == [MANAGEMENT, MEMBER], rule.id
        assert all("gave no verdict" not in f.reason for f in findings)


def test_overbroad_filters_are_a_separate_lower_severity_finding() -> None:
    security_hub_text = '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}'
    noisy_root = '{ $.userIdentity.type = "Root" }'  # also counts service-invoked root calls
    inventory = monitored(
        [
            make_filter("Unauthorized", security_hub_text),
            make_filter("Root", noisy_root),
            make_filter("Trail", CIS["cloudtrail_config_changes"]),
        ]
    )
    findings = run(monitoring.overbroad_filter, inventory)
    by_filter = {f.evidence["filter_name"]: f for f in findings}
    assert set(by_filter) == {"Unauthorized", "Root"}
    assert by_filter["Unauthorized"].severity is Severity.INFO  # only CIS's own exclusions
    assert "HeadBucket" in by_filter["Unauthorized"].reason
    assert by_filter["Root"].severity is Severity.LOW
    assert "root_invoked_by_service" in by_filter["Root"].reason
    # the over-broad Root filter still covers the control
    assert only(run(ROOT, inventory)).status is Status.PASS
    clean = only(
        run(monitoring.overbroad_filter, monitored([make_filter("T", CIS["vpc_changes"])]))
    )
    assert clean.status is Status.PASS
    assert only(run(monitoring.overbroad_filter, monitored([]))).status is Status.NOT_APPLICABLE


def _tested(inventory: Inventory, matched: tuple[str, ...] | Unknown) -> Inventory:
    pattern = CIS["root_usage"]
    ids = tuple(
        f"root_usage/{kind}/{s.name}"
        for kind, samples in (
            ("positive", controls()["root_usage"].positives),
            ("negative", controls()["root_usage"].negatives),
        )
        for s in samples
    )
    test = FilterPatternTest(
        pattern=pattern, account_id=ACCOUNT, region=REGION, tested=ids, matched=matched
    )
    return inventory.model_copy(update={"filter_tests": {pattern: test}})


def test_aws_confirmation_agreement_disagreement_and_no_answer() -> None:
    base = monitored([make_filter("Root", CIS["root_usage"])])
    confirm = monitoring.filter_confirmed_by_aws
    assert only(run(confirm, base)).status is Status.NOT_APPLICABLE
    positives = tuple(f"root_usage/positive/{s.name}" for s in controls()["root_usage"].positives)
    agree = _tested(base, positives)
    assert only(run(confirm, agree)).status is Status.PASS
    assert coverage(only(run(ROOT, agree))).aws_check["state"] == "agrees"
    disagree = _tested(base, positives[1:])
    finding = only(run(confirm, disagree))
    assert finding.status is Status.ERROR and "disagree on 1 record" in finding.reason
    control = only(run(ROOT, disagree))
    assert control.status is Status.ERROR and "TestMetricFilter" in control.reason
    missing = _tested(base, Unknown(operation="logs:TestMetricFilter", error_code="NotImplemented"))
    finding = only(run(confirm, missing))
    assert finding.status is Status.ERROR and "NotImplemented" in finding.reason
    assert only(run(ROOT, missing)).status is Status.PASS  # no answer is not a disagreement


def test_coverage_shape_in_the_json_report_and_html_matrix() -> None:
    inventory = monitored([make_filter("Root", CIS["root_usage"])])
    report = evaluate(inventory, load_rules(include_plugins=False))
    data = json.loads(report.model_dump_json())
    rows = [
        f["evidence"]["coverage"]
        for f in data["findings"]
        if f["rule_id"] in RULES and f["account_id"] == ACCOUNT
    ]
    assert len(rows) == len(RULES) == 16  # 15 CIS controls + CT.MON.SECURITY_GROUP_RULE_CHANGES
    assert all(row["cis"] for row in rows)  # the stronger rule decides CIS 5.0 4.10
    for row in rows:
        assert set(row) == {
            "control",
            "cis",
            "verdict",
            "counted_via",
            "path",
            "broken_link",
            "links",
            "filters",
            "missed_events",
            "eventbridge",
            "aws_check",
        }
        assert list(row["links"]) == ["trail", "log_group", "metric_filter", "alarm", "subscriber"]
        assert set(row["eventbridge"]) >= {"state", "detail", "rules"}
        assert not row["cis"] or row["cis"]["cis-aws-5.0"].startswith("4.")
    html = HtmlReporter().render(report)
    assert "Monitoring coverage" in html and "CT.MON.ROOT_USAGE" in html


def test_html_matrix_escapes_values() -> None:
    inventory = monitored([make_filter("<script>x</script>", CIS["root_usage"])])
    html = HtmlReporter().render(evaluate(inventory, [ROOT]))
    assert "<script>x</script>" not in html
    assert any("<script>x</script>" in text for text in html_findings_strings(html))


def test_eventbridge_unread_region_makes_counted_coverage_an_error() -> None:
    pattern = json.dumps({"source": ["aws.cloudtrail"]})
    inventory = monitored([], event_rules=[make_event_rule("ct", pattern)])
    listings = dict(inventory.regional_listings)
    listings[f"{ACCOUNT}/eu-west-1"] = RegionalListing(
        account_id=ACCOUNT, region="eu-west-1", event_rules=denied("events:ListRules")
    )
    inventory = inventory.model_copy(update={"regional_listings": listings})
    finding = only(run(TRAIL_CHANGES, inventory, {"eventbridge_counts": True}))
    assert finding.status is Status.ERROR and "events:ListRules failed" in finding.reason
    assert only(run(TRAIL_CHANGES, inventory)).status is Status.FAIL  # not counted: still FAIL
