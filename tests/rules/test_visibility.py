"""Unknown is always ERROR: what the scan could not see never reads PASS, FAIL or N/A.

Each test starts from `compliant()` (one account on which every rule passes) and takes one
thing away the way a scan loses it: a denied call, or a resource owned outside the scan.
"""

from __future__ import annotations

import json

import pytest
from factories import (
    ACCOUNT,
    REGION,
    compliant,
    denied,
    make_account,
    make_event_rule,
    make_inventory,
    make_key,
    make_log_group,
    make_topic,
    make_trail,
    with_monitoring,
)

from trailcheck.engine import evaluate, rule_context, run_rule
from trailcheck.model import EventTarget, Finding, Inventory, Status
from trailcheck.rules import kms, load_rules, monitoring
from trailcheck.rules.base import Rule, Visibility
from trailcheck.scanner.collectors.logs import unreadable_log_group

RULES = load_rules(include_plugins=False)
OUTSIDE = "999999999999"
BUCKET = f"logs-{ACCOUNT}"
GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:ct-main:*"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:security-alerts"
# Not requested in these inventories (no --confirm-filters-with-aws): NOT_APPLICABLE is right.
NOT_REQUESTED = "CT.MON.FILTER_CONFIRMED_BY_AWS"
MON = {r.id: r for r in monitoring.generated_rules()}
ROOT = MON["CT.MON.ROOT_USAGE"]
# Judged from the account's own s3control read, whatever its trails: still decided.
TRAIL_INDEPENDENT = {
    "CT.BUCKET.PUBLIC_ACCESS_BLOCK_ACCOUNT_LEVEL",
    "CT.LAKE.CMK_ENCRYPTED",
    "CT.LAKE.RETENTION",
    "CT.LAKE.TERMINATION_PROTECTION",
}


def run(rule: Rule, inventory: Inventory, params: dict | None = None) -> list[Finding]:
    return run_rule(rule, inventory, rule_context(rule, params))


def verdicts(inventory: Inventory) -> list[Finding]:
    return [f for f in evaluate(inventory, RULES).findings if f.rule_id != NOT_REQUESTED]


def test_the_compliant_inventory_passes_every_rule() -> None:
    statuses = {f.rule_id: f.status for f in verdicts(compliant())}
    assert len(statuses) == len(RULES) - 1
    assert statuses.pop("CT.BUCKET.SEPARATE_ACCOUNT") is Status.NOT_APPLICABLE  # one account
    # not an organization: no SCP to judge (who-can passes: the account has no principal)
    assert statuses.pop("CT.ORG.TAMPER_GUARDRAIL") is Status.NOT_APPLICABLE
    assert set(statuses.values()) == {Status.PASS}


def test_list_trails_denied_is_error_on_every_rule_never_not_applicable() -> None:
    inventory = compliant()
    account = inventory.accounts[ACCOUNT].model_copy(
        update={"trail_arns": denied("cloudtrail:ListTrails")}
    )
    # The scanner then knows no trail, and so no bucket, key or log group.
    inventory = inventory.model_copy(
        update={
            "accounts": {ACCOUNT: account},
            "trails": {},
            "buckets": {},
            "kms_keys": {},
            "log_groups": {},
        }
    )
    findings = verdicts(inventory)
    assert {f.rule_id for f in findings} == {r.id for r in RULES} - {NOT_REQUESTED}
    for finding in findings:
        if finding.rule_id in TRAIL_INDEPENDENT:
            assert finding.status is Status.PASS, finding.reason
            continue
        assert finding.status is Status.ERROR, (finding.rule_id, finding.reason)
        assert "cloudtrail:ListTrails failed: AccessDenied" in finding.reason, finding.rule_id


def test_describe_trails_denied_is_error_on_every_rule_never_fail() -> None:
    unknown = denied("cloudtrail:DescribeTrails")
    # What the scanner records for a trail ListTrails showed but DescribeTrails refused.
    undescribed = make_trail(
        is_multi_region=False,
        s3_bucket_name=None,
        kms_key_id=None,
        cloudwatch_logs_log_group_arn=None,
        log_file_validation_enabled=False,
        status=unknown,
        event_selectors=unknown,
        insight_selectors=unknown,
        describe_error=unknown,
    )
    inventory = compliant().model_copy(
        update={"trails": {undescribed.arn: undescribed}, "buckets": {}, "kms_keys": {}}
    )
    findings = verdicts(inventory)
    for finding in findings:
        if finding.rule_id in TRAIL_INDEPENDENT:
            assert finding.status is Status.PASS, finding.reason
            continue
        assert finding.status is Status.ERROR, (finding.rule_id, finding.reason)
        assert "cloudtrail:DescribeTrails failed" in finding.reason, finding.rule_id
    assert any(f.rule_id == "CT.MON.ROOT_USAGE" for f in findings)


def test_overbroad_filter_is_error_not_pass_when_the_filters_could_not_be_read() -> None:
    inventory = compliant()
    group = inventory.log_groups[GROUP].model_copy(
        update={"metric_filters": denied("logs:DescribeMetricFilters")}
    )
    inventory = inventory.model_copy(update={"log_groups": {GROUP: group}})
    findings = run(monitoring.overbroad_filter, inventory)
    assert [f.status for f in findings] == [Status.ERROR]
    assert "logs:DescribeMetricFilters failed: AccessDenied" in findings[0].reason
    assert findings[0].resource_arn == GROUP


def test_overbroad_filter_judges_a_readable_group_beside_an_unreadable_one() -> None:
    other = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:ct-b:*"
    inventory = compliant()
    second = make_trail("b", s3_bucket_name=BUCKET, cloudwatch_logs_log_group_arn=other)
    unreadable = make_log_group(other, metric_filters=denied("logs:DescribeMetricFilters"))
    inventory = inventory.model_copy(
        update={
            "trails": inventory.trails | {second.arn: second},
            "log_groups": inventory.log_groups | {other: unreadable},
        }
    )
    by_group = {f.resource_arn: f.status for f in run(monitoring.overbroad_filter, inventory)}
    assert by_group == {GROUP: Status.PASS, other: Status.ERROR}


def _key_outside(**key: object) -> Inventory:
    arn = f"arn:aws:kms:{REGION}:{OUTSIDE}:key/theirs"
    # Read from the scanned account (the key policy allowed it): the facts look fine.
    return compliant(kms_key_id=arn).model_copy(update={"kms_keys": {arn: make_key(arn, **key)}})


def test_kms_encryption_with_a_key_outside_the_scan_is_error_naming_the_account() -> None:
    [finding] = run(kms.kms_encryption, _key_outside())
    assert finding.status is Status.ERROR
    assert f"add account {OUTSIDE} to the scan" in finding.reason
    assert finding.evidence["add_to_scan"] == OUTSIDE


def test_key_outside_the_scan_with_rotation_off_is_named_and_not_judged() -> None:
    key = f"arn:aws:kms:{REGION}:{OUTSIDE}:key/theirs"
    [finding] = run(kms.key_rotation, _key_outside(rotation_enabled=False))
    assert finding.status is Status.ERROR
    assert finding.account_id == ACCOUNT and finding.resource_arn == key
    assert f"key {key} is owned by account {OUTSIDE}, which is not in this scan" in (finding.reason)
    assert "automatic rotation disabled" in finding.reason
    assert finding.evidence["used_by"] == [TRAIL_ARN]


def test_key_owned_by_an_account_that_could_not_be_entered_is_error() -> None:
    arn = f"arn:aws:kms:{REGION}:{OUTSIDE}:key/theirs"
    inventory = _key_outside()
    locked = make_account(OUTSIDE, access_error=denied("sts:AssumeRole"))
    inventory = inventory.model_copy(update={"accounts": inventory.accounts | {OUTSIDE: locked}})
    findings = {f.account_id: f for f in run(kms.key_rotation, inventory)}
    assert findings[ACCOUNT].status is Status.ERROR and findings[ACCOUNT].resource_arn == arn
    assert f"account {OUTSIDE} could not be entered: sts:AssumeRole failed" in (
        findings[ACCOUNT].reason
    )


def test_monitoring_chain_through_a_topic_outside_the_scan_is_error_naming_the_account() -> None:
    theirs = f"arn:aws:sns:{REGION}:{OUTSIDE}:central-alerts"
    inventory = compliant()
    alarms = {
        arn: alarm.model_copy(update={"alarm_actions": (theirs,)})
        for arn, alarm in inventory.alarms.items()
    }
    # The scan read the topic with the alarm owner's access: it shows a confirmed subscriber.
    inventory = inventory.model_copy(
        update={"alarms": alarms, "sns_topics": {theirs: make_topic(theirs)}}
    )
    [finding] = run(ROOT, inventory)
    assert finding.status is Status.ERROR
    assert f"topic {theirs} is owned by account {OUTSIDE}" in finding.reason
    assert f"add account {OUTSIDE} to the scan" in finding.reason


def test_log_group_outside_the_scan_is_error_for_delivery_and_monitoring() -> None:
    theirs = f"arn:aws:logs:{REGION}:{OUTSIDE}:log-group:central:*"
    inventory = compliant(cloudwatch_logs_log_group_arn=theirs)
    inventory = inventory.model_copy(
        update={"log_groups": {theirs: unreadable_log_group(theirs, metric_filters=True)}}
    )
    by_rule = {f.rule_id: f for f in verdicts(inventory)}
    for rule_id in ("CT.TRAIL.CLOUDWATCH_LOGS", "CT.MON.ROOT_USAGE", "CT.MON.OVERBROAD_FILTER"):
        assert by_rule[rule_id].status is Status.ERROR, rule_id
        assert f"add account {OUTSIDE} to the scan" in by_rule[rule_id].reason, rule_id


def test_a_log_group_read_as_absent_from_outside_its_owner_is_never_trusted() -> None:
    # An older snapshot read the other account's log group with the wrong access: "absent".
    theirs = f"arn:aws:logs:{REGION}:{OUTSIDE}:log-group:central:*"
    inventory = compliant(cloudwatch_logs_log_group_arn=theirs)
    wrong = make_log_group(theirs, exists=False, metric_filters=())
    inventory = inventory.model_copy(update={"log_groups": {theirs: wrong}})
    for rule in (RULES.get("CT.TRAIL.CLOUDWATCH_LOGS"), ROOT):
        assert rule is not None
        [finding] = run(rule, inventory)
        assert finding.status is Status.ERROR, rule.id


def test_eventbridge_targets_not_read_are_unknown_not_absent() -> None:
    pattern = json.dumps(
        {"source": ["aws.organizations"], "detail-type": ["AWS API Call via CloudTrail"]}
    )
    rule = make_event_rule("org-changes", pattern, targets=None)
    inventory = with_monitoring(make_inventory(), event_rules=[rule])
    orgs = MON["CT.MON.ORGANIZATIONS_CHANGES"]
    [counted] = run(orgs, inventory, {"eventbridge_counts": True})
    assert counted.status is Status.ERROR
    assert counted.evidence["coverage"]["eventbridge"]["state"] == "unknown"
    assert "targets of org-changes: not read" in counted.reason
    # With its targets read, the same rule covers the control another way.
    read = rule.model_copy(update={"targets": (EventTarget(id="1", arn=TOPIC),)})
    inventory = with_monitoring(make_inventory(), event_rules=[read])
    [covered] = run(orgs, inventory, {"eventbridge_counts": True})
    assert covered.status is Status.PASS


def test_own_trails_unlisted_but_an_org_trail_seen_is_error_not_fail() -> None:
    # The member's ListTrails failed; the management account's org trail is seen and is
    # not logging: the member's own (unseen) trail may qualify.
    management, member = "333333333333", ACCOUNT
    org_trail = make_trail("org", management, is_organization_trail=True)
    stopped = org_trail.model_copy(
        update={"status": org_trail.status.model_copy(update={"is_logging": False})}
    )
    accounts = [
        make_account(management, organization_id="o-1"),
        make_account(member, organization_id="o-1", trail_arns=denied("cloudtrail:ListTrails")),
    ]
    inventory = make_inventory([stopped], accounts)
    for rule_id in ("CT.ACCOUNT.MULTI_REGION_TRAIL", "CT.MON.ROOT_USAGE"):
        rule = next(r for r in RULES if r.id == rule_id)
        findings = {f.account_id: f for f in run(rule, inventory)}
        assert findings[management].status is Status.FAIL, rule_id
        assert findings[member].status is Status.ERROR, rule_id
        assert "cloudtrail:ListTrails failed" in findings[member].reason, rule_id


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        (ACCOUNT, None),
        (OUTSIDE, f"add account {OUTSIDE} to the scan"),
    ],
)
def test_visibility_of_a_topic_depends_on_its_owner(owner: str, expected: str | None) -> None:
    arn = f"arn:aws:sns:{REGION}:{owner}:alerts"
    inventory = with_monitoring(make_inventory(), topics=[make_topic(arn)])
    unseen = Visibility(inventory).sns_topic(arn)
    if expected is None:
        assert unseen is None
    else:
        assert unseen is not None and expected in unseen.reason
        assert unseen.add_to_scan == OUTSIDE


def test_visibility_of_facts_names_the_failed_call() -> None:
    inventory = compliant()
    topic = make_topic(TOPIC, subscriptions=denied("sns:ListSubscriptionsByTopic"))
    inventory = inventory.model_copy(update={"sns_topics": {TOPIC: topic}})
    unseen = Visibility(inventory).sns_topic(TOPIC)
    assert unseen is not None
    assert unseen.reason == (
        "cannot read topic security-alerts (subscriptions): "
        "sns:ListSubscriptionsByTopic failed: AccessDenied (not authorized)"
    )
    assert unseen.add_to_scan is None


def test_an_account_whose_buckets_could_not_be_listed_never_owns_no_bucket() -> None:
    # Found by the denied-calls meta-test: with ListBuckets denied, a bucket's owner is
    # unknown, so "the account owns no CloudTrail log bucket" cannot be claimed.
    inventory = compliant()
    account = inventory.accounts[ACCOUNT].model_copy(
        update={"bucket_names": denied("s3:ListBuckets")}
    )
    other = make_account("222222222222", bucket_names=denied("s3:ListBuckets"))
    inventory = inventory.model_copy(
        update={"accounts": {ACCOUNT: account, other.account_id: other}}
    )
    versioning = next(r for r in RULES if r.id == "CT.BUCKET.VERSIONING")
    findings = {f.account_id: f for f in run(versioning, inventory)}
    assert findings["222222222222"].status is Status.ERROR
    assert "s3:ListBuckets failed: AccessDenied" in findings["222222222222"].reason
