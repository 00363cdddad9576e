"""CloudTrail Lake: CloudTrail.10 (customer managed key), retention, termination protection:
over hand-built inventories, and through the scanner against moto (made faithful: moto has no
CloudTrail Lake)."""

from __future__ import annotations

import boto3
import pytest
from factories import ACCOUNT, REGION, compliant, denied

from trailcheck.engine import evaluate, rule_context, run_rule
from trailcheck.model import Inventory, RegionalListing, Status
from trailcheck.reports._util import control_rollup
from trailcheck.rules import lake
from trailcheck.rules.base import Rule
from trailcheck.scanner.accounts import current_account
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession

STORE = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:eventdatastore/lake"
RULES = (lake.lake_cmk_encrypted, lake.lake_retention, lake.lake_termination_protection)


def with_store(**fields: object) -> Inventory:
    inventory = compliant()
    store = inventory.event_data_stores[STORE].model_copy(update=fields)
    return inventory.model_copy(update={"event_data_stores": {STORE: store}})


def status(rule: Rule, inventory: Inventory, params: dict | None = None) -> Status:
    (finding,) = run_rule(rule, inventory, rule_context(rule, params))
    return finding.status


@pytest.mark.parametrize(
    ("rule", "fields", "params", "expected"),
    [
        (lake.lake_cmk_encrypted, {}, None, Status.PASS),
        (lake.lake_cmk_encrypted, {"kms_key_id": None}, None, Status.FAIL),
        (
            lake.lake_cmk_encrypted,
            {"kms_key_id": denied("cloudtrail:GetEventDataStore")},
            None,
            Status.ERROR,
        ),
        (lake.lake_retention, {}, None, Status.PASS),
        (lake.lake_retention, {"retention_days": 90}, None, Status.FAIL),
        (lake.lake_retention, {"retention_days": 90}, {"retention_days": 30}, Status.PASS),
        (
            lake.lake_retention,
            {"retention_days": denied("cloudtrail:GetEventDataStore")},
            None,
            Status.ERROR,
        ),
        (lake.lake_termination_protection, {}, None, Status.PASS),
        (lake.lake_termination_protection, {"termination_protection": False}, None, Status.FAIL),
    ],
)
def test_store_rules(rule: Rule, fields: dict, params: dict | None, expected: Status) -> None:
    assert status(rule, with_store(**fields), params) is expected


def test_cloudtrail_10_is_decided_by_the_key_alone() -> None:
    # An AWS owned key fails CloudTrail.10 whatever else the store does well.
    report = evaluate(with_store(kms_key_id=None), list(RULES))
    rolled = {(r.framework, r.control): r.status for r in control_rollup(report)}
    assert rolled[("aws-fsbp", "CloudTrail.10")] == "FAIL"
    (cmk,) = [f for f in report.findings if f.rule_id == lake.lake_cmk_encrypted.id]
    assert cmk.problems == ["lake.not_cmk_encrypted"]


def test_no_store_is_not_applicable_and_an_unread_region_is_error() -> None:
    empty = compliant().model_copy(update={"event_data_stores": {}})
    assert status(lake.lake_cmk_encrypted, empty) is Status.NOT_APPLICABLE
    listing = RegionalListing(
        account_id=ACCOUNT,
        region="eu-west-1",
        event_data_stores=denied("cloudtrail:ListEventDataStores"),
    )
    listings = dict(empty.regional_listings) | {f"{ACCOUNT}/eu-west-1": listing}
    unread = empty.model_copy(update={"regional_listings": listings})
    rule = lake.lake_cmk_encrypted
    findings = run_rule(rule, unread, rule_context(rule, None))
    # ERROR where the list is unknown; the region read still says it holds no store
    assert {(f.region, f.status) for f in findings} == {
        ("eu-west-1", Status.ERROR),
        (None, Status.NOT_APPLICABLE),
    }


def test_scanned_from_moto(aws: AwsSession, boto: boto3.Session) -> None:
    ct = boto.client("cloudtrail")
    ct.create_event_data_store(Name="good", KmsKeyId=f"arn:aws:kms:{REGION}:123456789012:key/k")
    ct.create_event_data_store(Name="weak", RetentionPeriod=30, TerminationProtectionEnabled=False)
    targets, _ = current_account(aws, REGION)
    inventory = collect(targets, aws, ScanOptions(regions=(REGION,), max_workers=1))
    stores = {s.name: s for s in inventory.event_data_stores.values()}
    assert stores["good"].kms_key_id and stores["good"].retention_days == 2557
    assert stores["weak"].kms_key_id is None and stores["weak"].termination_protection is False
    calls = inventory.metadata.api_calls
    assert calls["cloudtrail:ListEventDataStores"] == 1
    assert calls["cloudtrail:GetEventDataStore"] == 2
    report = evaluate(inventory, list(RULES))
    verdicts = {(f.rule_id, f.resource_arn.rsplit("/", 1)[-1]): f.status for f in report.findings}
    assert verdicts[(lake.lake_cmk_encrypted.id, "good")] is Status.PASS
    assert verdicts[(lake.lake_cmk_encrypted.id, "weak")] is Status.FAIL
    assert verdicts[(lake.lake_retention.id, "weak")] is Status.FAIL
    assert verdicts[(lake.lake_termination_protection.id, "good")] is Status.PASS
    assert verdicts[(lake.lake_termination_protection.id, "weak")] is Status.FAIL
