"""KMS encryption, key rotation, CloudWatch Logs delivery and delivery-health rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import (
    SCAN_TIME,
    denied,
    make_inventory,
    make_key,
    make_log_group,
    make_status,
    make_trail,
)

from trailcheck.engine import rule_context, run_rule
from trailcheck.model import Finding, Inventory, KeyMetadata, Severity, Status
from trailcheck.rules import cloudwatch_logs, kms
from trailcheck.rules.base import Rule

KEY = "arn:aws:kms:us-east-1:111111111111:key/k-main"
GROUP = "arn:aws:logs:us-east-1:111111111111:log-group:ct-main:*"


def run(rule: Rule, inventory: Inventory, params: dict | None = None) -> list[Finding]:
    return run_rule(rule, inventory, rule_context(rule, params))


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


@pytest.mark.parametrize(
    ("trail_overrides", "key", "status", "reason_part"),
    [
        ({}, None, Status.PASS, "encrypted with enabled key"),
        ({"kms_key_id": None}, None, Status.FAIL, "not encrypted with SSE-KMS"),
        (
            {},
            make_key(
                KEY,
                metadata=KeyMetadata(
                    key_state="PendingDeletion", enabled=False, key_manager="CUSTOMER"
                ),
            ),
            Status.FAIL,
            "PendingDeletion",
        ),
        (
            {},
            make_key(
                KEY,
                metadata=KeyMetadata(key_state="Disabled", enabled=False, key_manager="CUSTOMER"),
            ),
            Status.FAIL,
            "Disabled",
        ),
        (
            {},
            make_key(KEY, metadata=denied("kms:DescribeKey")),
            Status.ERROR,
            "kms:DescribeKey failed",
        ),
    ],
)
def test_kms_encryption(trail_overrides: dict, key, status: Status, reason_part: str) -> None:
    inventory = make_inventory([make_trail(**trail_overrides)], keys=[key] if key else None)
    finding = only(run(kms.kms_encryption, inventory))
    assert finding.status is status
    assert reason_part in finding.reason


def test_unusable_key_is_high_severity() -> None:
    key = make_key(
        KEY,
        metadata=KeyMetadata(key_state="PendingDeletion", enabled=False, key_manager="CUSTOMER"),
    )
    finding = only(run(kms.kms_encryption, make_inventory([make_trail()], keys=[key])))
    assert finding.severity is Severity.HIGH


def test_key_not_collected_is_error_never_pass() -> None:
    finding = only(run(kms.kms_encryption, make_inventory([make_trail()], with_resources=False)))
    assert finding.status is Status.ERROR


def test_key_in_an_account_outside_the_scan_hints_how_to_fix() -> None:
    foreign = "arn:aws:kms:us-east-1:555555555555:key/x"
    trail = make_trail(kms_key_id=foreign)
    inventory = make_inventory(
        [trail], keys=[make_key(foreign, metadata=denied("kms:DescribeKey"))]
    )
    finding = only(run(kms.kms_encryption, inventory))
    assert finding.status is Status.ERROR
    assert "555555555555, which is not in this scan" in finding.reason


@pytest.mark.parametrize(
    ("key", "status"),
    [
        (make_key(KEY), Status.PASS),
        (make_key(KEY, rotation_enabled=False), Status.FAIL),
        (make_key(KEY, rotation_enabled=denied("kms:GetKeyRotationStatus")), Status.ERROR),
        (make_key(KEY, metadata=denied("kms:DescribeKey"), rotation_enabled=None), Status.ERROR),
        (
            make_key(
                KEY,
                metadata=KeyMetadata(key_state="Enabled", enabled=True, key_manager="AWS"),
                rotation_enabled=None,
            ),
            Status.NOT_APPLICABLE,
        ),
    ],
)
def test_key_rotation(key, status: Status) -> None:
    finding = only(run(kms.key_rotation, make_inventory([make_trail()], keys=[key])))
    assert finding.status is status
    assert finding.resource_arn == KEY if status is not Status.NOT_APPLICABLE else True


def test_rotation_not_applicable_without_keys() -> None:
    finding = only(run(kms.key_rotation, make_inventory([make_trail(kms_key_id=None)])))
    assert finding.status is Status.NOT_APPLICABLE


@pytest.mark.parametrize(
    ("trail_overrides", "group", "status", "reason_part"),
    [
        ({}, None, Status.PASS, "delivered to CloudWatch Logs"),
        ({"cloudwatch_logs_log_group_arn": None}, None, Status.FAIL, "does not deliver"),
        ({}, make_log_group(GROUP, exists=False), Status.FAIL, "does not exist"),
        (
            {
                "status": make_status(
                    latest_cloudwatch_logs_delivery_time=SCAN_TIME - timedelta(hours=30)
                )
            },
            None,
            Status.FAIL,
            "more than 24 h before the scan",
        ),
        (
            {"status": make_status(latest_cloudwatch_logs_delivery_time=None)},
            None,
            Status.FAIL,
            "never delivered",
        ),
        (
            {"status": make_status(latest_cloudwatch_logs_delivery_error="AccessDeniedException")},
            None,
            Status.FAIL,
            "AccessDeniedException",
        ),
        ({"status": denied("cloudtrail:GetTrailStatus")}, None, Status.ERROR, "cannot read status"),
    ],
)
def test_cloudwatch_logs(trail_overrides: dict, group, status: Status, reason_part: str) -> None:
    inventory = make_inventory(
        [make_trail(**trail_overrides)], log_groups=[group] if group else None
    )
    finding = only(run(cloudwatch_logs.cloudwatch_logs, inventory))
    assert finding.status is status
    assert reason_part in finding.reason


def test_cloudwatch_freshness_window_is_a_parameter_and_uses_scan_time() -> None:
    trail = make_trail(
        status=make_status(latest_cloudwatch_logs_delivery_time=SCAN_TIME - timedelta(hours=30))
    )
    finding = only(
        run(
            cloudwatch_logs.cloudwatch_logs, make_inventory([trail]), {"max_delivery_age_hours": 48}
        )
    )
    assert finding.status is Status.PASS


def test_bad_parameter_is_a_user_error() -> None:
    from trailcheck.errors import UserError

    with pytest.raises(UserError, match="max_delivery_age_hours"):
        rule_context(cloudwatch_logs.cloudwatch_logs, {"max_delivery_age_hours": 0})


@pytest.mark.parametrize(
    ("status", "expected", "reason_part"),
    [
        (make_status(), Status.PASS, "no delivery error"),
        (
            make_status(latest_delivery_error="AccessDenied"),
            Status.FAIL,
            "LatestDeliveryError (S3): AccessDenied",
        ),
        (
            make_status(latest_digest_delivery_error="NoSuchBucket"),
            Status.FAIL,
            "LatestDigestDeliveryError",
        ),
        (make_status(latest_notification_error="AuthorizationError"), Status.FAIL, "SNS"),
        (denied("cloudtrail:GetTrailStatus"), Status.ERROR, "cannot read status"),
    ],
)
def test_delivery_health(status, expected: Status, reason_part: str) -> None:
    finding = only(
        run(cloudwatch_logs.delivery_health, make_inventory([make_trail(status=status)]))
    )
    assert finding.status is expected
    assert reason_part in finding.reason
