"""The pure --who step: which change explains a finding (no AWS, hand-built inventory)."""

from __future__ import annotations

from factories import ACCOUNT, REGION, make_filter, make_inventory, make_log_group

from trailcheck.changes.enrich import attach_changes, history_key
from trailcheck.changes.model import ChangeEvent
from trailcheck.model import ChangeHistory, Finding, Inventory, Severity, Status
from trailcheck.rules import load_rules

GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:trail-logs:*"


def _event(name: str, filter_name: str, when: str) -> ChangeEvent:
    return ChangeEvent.from_record(
        {
            "eventTime": when,
            "eventName": name,
            "eventSource": "logs.amazonaws.com",
            "awsRegion": REGION,
            "recipientAccountId": ACCOUNT,
            "eventID": f"{name}-{filter_name}",
            "userIdentity": {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"},
            "requestParameters": {"logGroupName": "trail-logs", "filterName": filter_name},
        }
    )


def _inventory(events: list[ChangeEvent] | None) -> Inventory:
    group = make_log_group(GROUP, metric_filters=(make_filter("Kept", "{ $.x = 1 }"),))
    inventory = make_inventory(log_groups=[group])
    if events is None:
        return inventory
    history = ChangeHistory(
        resource_arn=GROUP,
        account_id=ACCOUNT,
        region=REGION,
        names=["trail-logs"],
        event_names=["DeleteMetricFilter", "PutMetricFilter"],
        start_time="2026-08-23T12:00:00Z",
        end_time="2026-11-21T12:00:03Z",
        calls=1,
        complete=True,
        events=events,
    )
    return inventory.model_copy(
        update={"change_history": {history_key(ACCOUNT, REGION, GROUP): history}}
    )


def _finding(evidence: dict) -> Finding:
    return Finding(
        rule_id="CT.MON.ROOT_USAGE",
        title="t",
        status=Status.FAIL,
        severity=Severity.HIGH,
        account_id=ACCOUNT,
        region=None,
        resource_arn=f"arn:aws:iam::{ACCOUNT}:root",
        resource_type="AWS::::Account",
        reason="no working filter",
        evidence=evidence,
    )


RULES = {r.id: r for r in load_rules(include_plugins=False)}
EVENTS = [
    _event("PutMetricFilter", "Kept", "2026-11-20T10:00:00Z"),
    _event("DeleteMetricFilter", "Gone", "2026-11-19T10:00:00Z"),
]


def test_a_deleted_filter_explains_an_account_finding_over_an_unrelated_put() -> None:
    (found,) = attach_changes([_finding({"links": {"arns": [GROUP]}})], RULES, _inventory(EVENTS))
    assert found.evidence["last_change"]["event_name"] == "DeleteMetricFilter"
    assert found.reason.startswith("no working filter; changed by the root user")


def test_a_deleted_filter_never_explains_a_chain_broken_at_the_alarm() -> None:
    # A working filter exists (the chain breaks at its alarm): the deleted one is not the cause.
    evidence = {"links": {"arns": [GROUP]}, "coverage": {"broken_link": "alarm"}}
    (found,) = attach_changes([_finding(evidence)], RULES, _inventory(EVENTS[1:]))
    assert found.evidence["last_change"] is None
    at_filter = {"links": {"arns": [GROUP]}, "coverage": {"broken_link": "metric_filter"}}
    (found,) = attach_changes([_finding(at_filter)], RULES, _inventory(EVENTS[1:]))
    assert found.evidence["last_change"]["event_name"] == "DeleteMetricFilter"


def test_a_put_of_the_filter_the_finding_names_counts() -> None:
    evidence = {"links": {"arns": [GROUP]}, "filters": [{"name": "Kept"}]}
    (found,) = attach_changes([_finding(evidence)], RULES, _inventory(EVENTS))
    assert found.evidence["last_change"]["event_name"] == "PutMetricFilter"


def test_without_histories_nothing_changes_and_pass_is_never_touched() -> None:
    finding = _finding({"links": {"arns": [GROUP]}})
    assert attach_changes([finding], RULES, _inventory(None)) == [finding]
    passed = finding.model_copy(update={"status": Status.PASS})
    assert attach_changes([passed], RULES, _inventory(EVENTS)) == [passed]


def test_not_looked_up_is_said_not_guessed() -> None:
    inventory = _inventory([]).model_copy(update={"change_history": {}})
    (found,) = attach_changes([_finding({"arn": GROUP})], RULES, inventory)
    assert found.evidence["last_change"] is None
    assert found.evidence["change_lookup"]["state"] == "incomplete"
    assert "not looked up (budget)" in found.reason
