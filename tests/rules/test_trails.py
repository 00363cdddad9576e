"""Coverage, logging and log-validation rules over hand-built inventories."""

from __future__ import annotations

import pytest
from factories import ACCOUNT, denied, make_account, make_inventory, make_status, make_trail

from trailcheck.engine import rule_context, run_rule
from trailcheck.model import (
    AdvancedEventSelector,
    BasicEventSelector,
    EventSelectors,
    FieldSelector,
    Finding,
    Inventory,
    Severity,
    Status,
)
from trailcheck.rules import trails as trail_rules
from trailcheck.rules.base import Rule


def run(rule: Rule, inventory: Inventory) -> list[Finding]:
    return run_rule(rule, inventory, rule_context(rule, None))


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def advanced(*fields: FieldSelector, name: str = "mgmt") -> EventSelectors:
    return EventSelectors(advanced=(AdvancedEventSelector(name=name, field_selectors=fields),))


MGMT = FieldSelector(field="eventCategory", equals=("Management",))


@pytest.mark.parametrize(
    ("overrides", "status", "reason_part"),
    [
        ({}, Status.PASS, "covered by its own trail"),
        ({"is_multi_region": False}, Status.FAIL, "single-region (home us-east-1)"),
        ({"status": make_status(is_logging=False)}, Status.FAIL, "not logging"),
        (
            {
                "event_selectors": EventSelectors(
                    basic=(BasicEventSelector(read_write_type="WriteOnly"),)
                )
            },
            Status.FAIL,
            "records only write management events",
        ),
        (
            {
                "event_selectors": EventSelectors(
                    basic=(BasicEventSelector(include_management_events=False),)
                )
            },
            Status.FAIL,
            "records no management events",
        ),
        ({"event_selectors": advanced(MGMT)}, Status.PASS, "covered"),
        (
            {"event_selectors": advanced(MGMT, name="a selector named ReadOnly")},
            Status.PASS,
            "covered",
        ),
        (
            {"event_selectors": advanced(MGMT, FieldSelector(field="readOnly", equals=("true",)))},
            Status.FAIL,
            "records only read management events",
        ),
        ({"status": denied("cloudtrail:GetTrailStatus")}, Status.ERROR, "AccessDenied"),
        (
            {"event_selectors": denied("cloudtrail:GetEventSelectors")},
            Status.ERROR,
            "GetEventSelectors",
        ),
    ],
)
def test_account_coverage(overrides: dict, status: Status, reason_part: str) -> None:
    finding = only(run(trail_rules.multi_region_trail, make_inventory([make_trail(**overrides)])))
    assert finding.status is status
    assert reason_part in finding.reason
    assert finding.account_id == ACCOUNT


def test_excluded_sources_fail_at_lower_severity_and_name_the_sources() -> None:
    basic = EventSelectors(
        basic=(BasicEventSelector(exclude_management_event_sources=("kms.amazonaws.com",)),)
    )
    finding = only(
        run(trail_rules.multi_region_trail, make_inventory([make_trail(event_selectors=basic)]))
    )
    assert finding.status is Status.FAIL
    assert finding.severity is Severity.MEDIUM
    assert "kms.amazonaws.com" in finding.reason
    assert finding.evidence["excluded_sources"] == ["kms.amazonaws.com"]


def test_advanced_selector_excluding_an_event_source_is_an_exclusion() -> None:
    selectors = advanced(
        MGMT, FieldSelector(field="eventSource", not_equals=("rdsdata.amazonaws.com",))
    )
    finding = only(
        run(trail_rules.multi_region_trail, make_inventory([make_trail(event_selectors=selectors)]))
    )
    assert (finding.status, finding.severity) == (Status.FAIL, Severity.MEDIUM)
    assert "rdsdata.amazonaws.com" in finding.reason


def test_a_second_selector_without_the_exclusion_restores_full_coverage() -> None:
    selectors = EventSelectors(
        basic=(
            BasicEventSelector(exclude_management_event_sources=("kms.amazonaws.com",)),
            BasicEventSelector(),
        )
    )
    finding = only(
        run(trail_rules.multi_region_trail, make_inventory([make_trail(event_selectors=selectors)]))
    )
    assert finding.status is Status.PASS


def test_read_and_write_split_across_two_selectors_counts_as_all() -> None:
    selectors = EventSelectors(
        basic=(
            BasicEventSelector(read_write_type="ReadOnly"),
            BasicEventSelector(read_write_type="WriteOnly"),
        )
    )
    finding = only(
        run(trail_rules.multi_region_trail, make_inventory([make_trail(event_selectors=selectors)]))
    )
    assert finding.status is Status.PASS


def test_one_good_trail_is_enough_and_is_named_as_evidence() -> None:
    bad = make_trail("regional", is_multi_region=False)
    good = make_trail("everywhere")
    finding = only(run(trail_rules.multi_region_trail, make_inventory([bad, good])))
    assert finding.status is Status.PASS
    assert finding.evidence["covering_trail"] == good.arn


def test_unknown_trail_beats_a_failing_one_so_the_verdict_is_error_not_fail() -> None:
    bad = make_trail("regional", is_multi_region=False)
    unreadable = make_trail("central", status=denied("cloudtrail:GetTrailStatus"))
    finding = only(run(trail_rules.multi_region_trail, make_inventory([bad, unreadable])))
    assert finding.status is Status.ERROR


def test_no_trail_at_all_fails() -> None:
    finding = only(run(trail_rules.multi_region_trail, make_inventory([])))
    assert finding.status is Status.FAIL
    assert "no CloudTrail trail" in finding.reason


def test_trail_list_unreadable_is_error() -> None:
    inventory = make_inventory([], [make_account(trail_arns=denied("cloudtrail:ListTrails"))])
    finding = only(run(trail_rules.multi_region_trail, inventory))
    assert finding.status is Status.ERROR
    assert "ListTrails" in finding.reason


def test_member_is_covered_by_the_organization_trail_of_its_management_account() -> None:
    org_trail = make_trail("org", account_id="999999999999", is_organization_trail=True)
    accounts = [
        make_account("999999999999", organization_id="o-abc"),
        make_account(ACCOUNT, organization_id="o-abc"),
    ]
    findings = {
        f.account_id: f
        for f in run(trail_rules.multi_region_trail, make_inventory([org_trail], accounts))
    }
    member = findings[ACCOUNT]
    assert member.status is Status.PASS
    assert "organization trail of account 999999999999" in member.reason
    assert member.evidence["covering_trail"] == org_trail.arn


def test_organization_trail_of_another_organization_does_not_cover() -> None:
    org_trail = make_trail("org", account_id="999999999999", is_organization_trail=True)
    accounts = [
        make_account("999999999999", organization_id="o-other"),
        make_account(ACCOUNT, organization_id="o-abc"),
    ]
    findings = {
        f.account_id: f
        for f in run(trail_rules.multi_region_trail, make_inventory([org_trail], accounts))
    }
    assert findings[ACCOUNT].status is Status.FAIL


def test_unreachable_account_gets_error_from_the_engine() -> None:
    accounts = [make_account(), make_account("222222222222", access_error=denied("sts:AssumeRole"))]
    findings = {
        f.account_id: f
        for f in run(trail_rules.multi_region_trail, make_inventory([make_trail()], accounts))
    }
    assert findings["222222222222"].status is Status.ERROR
    assert "sts:AssumeRole" in findings["222222222222"].reason


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (make_status(), Status.PASS),
        (make_status(is_logging=False), Status.FAIL),
        (denied("cloudtrail:GetTrailStatus"), Status.ERROR),
    ],
)
def test_trail_logging(status, expected: Status) -> None:
    finding = only(run(trail_rules.trail_logging, make_inventory([make_trail(status=status)])))
    assert finding.status is expected
    assert finding.resource_arn.endswith(":trail/main")


def test_trail_rules_are_not_applicable_to_an_account_without_trails() -> None:
    finding = only(run(trail_rules.trail_logging, make_inventory([])))
    assert finding.status is Status.NOT_APPLICABLE


def test_undescribed_trail_is_error_for_per_trail_rules() -> None:
    trail = make_trail(describe_error=denied("cloudtrail:DescribeTrails"))
    finding = only(run(trail_rules.log_validation, make_inventory([trail])))
    assert finding.status is Status.ERROR
    assert "DescribeTrails" in finding.reason


@pytest.mark.parametrize(("enabled", "expected"), [(True, Status.PASS), (False, Status.FAIL)])
def test_log_validation(enabled: bool, expected: Status) -> None:
    finding = only(
        run(
            trail_rules.log_validation,
            make_inventory([make_trail(log_file_validation_enabled=enabled)]),
        )
    )
    assert finding.status is expected
    assert finding.evidence["LogFileValidationEnabled"] is enabled
    assert finding.controls["aws-fsbp"] == ["CloudTrail.4"]
