"""The framework crosswalk: a finding decides a control only when its rule applies that
framework's exact test, and a control's roll-up counts deciding findings only.

Each deciding mapping is tested on a case where the framework's test and trailcheck's own
judgement differ: the control's roll-up follows the framework, never trailcheck's other rule.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from factories import (
    ACCOUNT,
    SCAN_TIME,
    denied,
    html_findings_strings,
    make_bucket,
    make_inventory,
    make_key,
    make_log_group,
    make_status,
    make_trail,
)

from trailcheck.engine import evaluate
from trailcheck.model import (
    KeyMetadata,
    LoggingTarget,
    PublicAccessBlock,
    Report,
    Severity,
    Status,
    Versioning,
)
from trailcheck.reports._util import control_rollup, fix_for
from trailcheck.reports.csv_report import CsvReporter
from trailcheck.reports.html_report import HtmlReporter
from trailcheck.reports.junit import JunitReporter
from trailcheck.reports.ocsf import OcsfReporter
from trailcheck.reports.sarif import SarifReporter
from trailcheck.rules import buckets, cloudwatch_logs, kms, load_rules, trails
from trailcheck.rules.base import Remediation, Rule, rule
from trailcheck.rules.monitoring import generated_rules

RULES = load_rules(include_plugins=False)
FULL = PublicAccessBlock(
    block_public_acls=True,
    ignore_public_acls=True,
    block_public_policy=True,
    restrict_public_buckets=True,
)
BUCKET = f"logs-{ACCOUNT}"


def judge(inventory: Any, *rules: Rule) -> Report:
    return evaluate(inventory, rules)


def verdict(report: Report, framework: str, control: str) -> str:
    """The roll-up verdict of one control ("" when no finding decides it)."""
    for row in control_rollup(report):
        if (row.framework, row.control) == (framework, control):
            return row.status
    raise AssertionError(f"{framework} {control} not in the report")


def status_of(report: Report, rule: Rule) -> Status:
    found = {f.status for f in report.findings if f.rule_id == rule.id}
    assert len(found) == 1, found
    return found.pop()


# ----------------------------------------------------------------------------- CIS 3.1


def test_a_stopped_extra_trail_does_not_fail_cis_3_1() -> None:
    stopped = make_trail("extra", status=make_status(is_logging=False))
    report = judge(make_inventory([make_trail(), stopped]), *RULES_31)
    assert [f.status for f in report.findings if f.rule_id == "CT.TRAIL.LOGGING"].count(
        Status.FAIL
    ) == 1
    for framework in ("cis-aws-1.4", "cis-aws-3.0", "cis-aws-5.0"):
        assert verdict(report, framework, "3.1") == "PASS"
    assert verdict(report, "aws-fsbp", "CloudTrail.1") == "PASS"


def test_a_logging_single_region_trail_does_not_pass_cis_3_1() -> None:
    report = judge(make_inventory([make_trail(is_multi_region=False)]), *RULES_31)
    assert status_of(report, trails.trail_logging) is Status.PASS
    assert verdict(report, "cis-aws-3.0", "3.1") == "FAIL"
    assert verdict(report, "aws-fsbp", "CloudTrail.1") == "FAIL"
    logging = next(f for f in report.findings if f.rule_id == "CT.TRAIL.LOGGING")
    assert logging.controls == {} and logging.related_controls["cis-aws-3.0"] == ["3.1"]


RULES_31 = (trails.multi_region_trail, trails.trail_logging)


# ----------------------------------------------------------------------------- S3.1 / S3.8


def test_account_level_block_public_access_decides_s3_1_and_bucket_level_s3_8() -> None:
    rules = (
        buckets.public_access_block,
        buckets.public_access_block_bucket_level,
        buckets.public_access_block_account_level,
    )
    account_only = make_bucket(BUCKET, public_access_block=None, account_public_access_block=FULL)
    report = judge(make_inventory(buckets=[account_only]), *rules)
    assert status_of(report, buckets.public_access_block) is Status.PASS  # effective
    assert verdict(report, "aws-fsbp", "S3.8") == "FAIL"
    assert verdict(report, "aws-fsbp", "S3.1") == "PASS"
    assert verdict(report, "cis-aws-5.0", "2.1.4") == ""  # related only, never rolled up

    bucket_only = make_bucket(BUCKET, account_public_access_block=None)
    report = judge(make_inventory(buckets=[bucket_only]), *rules)
    assert status_of(report, buckets.public_access_block) is Status.PASS
    assert verdict(report, "aws-fsbp", "S3.8") == "PASS"
    assert verdict(report, "aws-fsbp", "S3.1") == "FAIL"


def test_account_level_rule_judges_each_owner_account_once() -> None:
    second = "logs-second"
    inventory = make_inventory(
        [make_trail(), make_trail("b", s3_bucket_name=second)],
        buckets=[
            make_bucket(BUCKET, account_public_access_block=PublicAccessBlock()),
            make_bucket(second, account_public_access_block=PublicAccessBlock()),
        ],
    )
    report = judge(inventory, buckets.public_access_block_account_level)
    [finding] = report.findings
    assert finding.status is Status.FAIL
    assert finding.resource_arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert finding.evidence["log_buckets"] == [BUCKET, second]
    assert finding.controls == {"aws-fsbp": ["S3.1"]}
    fix = fix_for(report, finding)
    assert fix is not None and f"--account-id {ACCOUNT}" in (fix.cli or "")


@pytest.mark.parametrize(
    ("value", "status", "part"),
    [
        (FULL, Status.PASS, "all four"),
        (None, Status.FAIL, "no account-level Block Public Access"),
        (denied("s3control:GetPublicAccessBlock"), Status.ERROR, "s3control:GetPublicAccessBlock"),
    ],
)
def test_account_level_rule_paths(value: Any, status: Status, part: str) -> None:
    bucket = make_bucket(BUCKET, account_public_access_block=value)
    [finding] = judge(
        make_inventory(buckets=[bucket]), buckets.public_access_block_account_level
    ).findings
    assert finding.status is status and part in finding.reason


def test_s3_1_is_decided_in_an_account_without_a_log_bucket() -> None:
    # Security Hub judges S3.1 in every account; it used to read NOT_APPLICABLE here.
    inventory = make_inventory([make_trail(s3_bucket_name=None)])
    for pab, status in ((None, "FAIL"), (FULL, "PASS")):
        account = inventory.accounts[ACCOUNT].model_copy(update={"public_access_block": pab})
        world = inventory.model_copy(update={"accounts": {ACCOUNT: account}})
        report = judge(world, buckets.public_access_block_account_level)
        assert verdict(report, "aws-fsbp", "S3.1") == status


# ----------------------------------------------------------------------------- S3.20


def test_object_lock_in_place_of_mfa_delete_fails_s3_20_but_passes_trailcheck() -> None:
    bucket = make_bucket(BUCKET, versioning=Versioning(status="Enabled", mfa_delete="Disabled"))
    report = judge(make_inventory(buckets=[bucket]), buckets.mfa_delete, buckets.delete_protection)
    assert status_of(report, buckets.delete_protection) is Status.PASS
    assert verdict(report, "aws-fsbp", "S3.20") == "FAIL"
    assert verdict(report, "cis-aws-3.0", "2.1.2") == "FAIL"
    mfa = next(f for f in report.findings if f.rule_id == buckets.mfa_delete.id)
    assert mfa.severity is Severity.LOW  # protected another way: the risk is low, the test fails


# ----------------------------------------------------------------------------- CloudTrail.2


def test_a_key_pending_deletion_passes_cloudtrail_2_and_is_told_to_cancel_the_deletion() -> None:
    trail = make_trail()
    key = make_key(
        trail.kms_key_arn or "",
        metadata=KeyMetadata(
            key_state="PendingDeletion",
            enabled=False,
            key_manager="CUSTOMER",
            deletion_date=SCAN_TIME + timedelta(days=7),
        ),
    )
    report = judge(make_inventory([trail], keys=[key]), kms.sse_kms, kms.kms_encryption)
    assert verdict(report, "aws-fsbp", "CloudTrail.2") == "PASS"
    assert verdict(report, "cis-aws-5.0", "3.5") == "PASS"
    failed = next(f for f in report.findings if f.rule_id == kms.kms_encryption.id)
    assert failed.status is Status.FAIL
    fix = fix_for(report, failed)
    assert fix is not None and fix.cli is not None
    assert fix.cli.startswith(f"aws kms cancel-key-deletion --key-id {trail.kms_key_arn}")
    assert "enable-key" in fix.cli and "Cancel the scheduled deletion" in fix.summary
    assert "update-trail" not in fix.cli  # the generic "encrypt the trail" fix is not shown


def test_a_disabled_key_is_told_to_enable_it() -> None:
    trail = make_trail()
    key = make_key(
        trail.kms_key_arn or "",
        metadata=KeyMetadata(key_state="Disabled", enabled=False, key_manager="CUSTOMER"),
    )
    report = judge(make_inventory([trail], keys=[key]), kms.kms_encryption)
    fix = fix_for(report, report.findings[0])
    assert fix is not None and fix.cli == f"aws kms enable-key --key-id {trail.kms_key_arn}"


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({}, Status.PASS),
        ({"kms_key_id": None}, Status.FAIL),
        ({"describe_error": denied("cloudtrail:DescribeTrails")}, Status.ERROR),
    ],
)
def test_sse_kms_paths(overrides: dict[str, Any], status: Status) -> None:
    report = judge(make_inventory([make_trail(**overrides)]), kms.sse_kms)
    assert status_of(report, kms.sse_kms) is status


# ----------------------------------------------------------------------------- CloudTrail.5


def test_a_stale_log_group_passes_cloudtrail_5_and_fails_trailcheck_freshness() -> None:
    stale = make_status(latest_cloudwatch_logs_delivery_time=SCAN_TIME - timedelta(days=3))
    report = judge(
        make_inventory([make_trail(status=stale)]),
        cloudwatch_logs.cloudwatch_logs_configured,
        cloudwatch_logs.cloudwatch_logs,
    )
    assert status_of(report, cloudwatch_logs.cloudwatch_logs) is Status.FAIL
    assert verdict(report, "aws-fsbp", "CloudTrail.5") == "PASS"
    assert verdict(report, "cis-aws-1.4", "3.4") == ""  # neither rule is CIS's exact test


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({}, Status.PASS),
        ({"cloudwatch_logs_log_group_arn": None}, Status.FAIL),
        ({"describe_error": denied("cloudtrail:DescribeTrails")}, Status.ERROR),
    ],
)
def test_cloudwatch_logs_configured_paths(overrides: dict[str, Any], status: Status) -> None:
    rule_ = cloudwatch_logs.cloudwatch_logs_configured
    assert status_of(judge(make_inventory([make_trail(**overrides)]), rule_), rule_) is status


def test_stale_delivery_fix_names_the_trail_and_its_log_group() -> None:
    trail = make_trail(status=make_status(latest_cloudwatch_logs_delivery_time=None))
    report = judge(make_inventory([trail]), cloudwatch_logs.cloudwatch_logs)
    fix = fix_for(report, report.findings[0])
    assert fix is not None and fix.cli is not None
    assert f"--name {trail.arn}" in fix.cli
    assert f"--cloud-watch-logs-log-group-arn {trail.cloudwatch_logs_log_group_arn}" in fix.cli
    assert "--cloud-watch-logs-role-arn ROLE_ARN" in fix.cli  # unknown names read as capitals


# ----------------------------------------------------------------------------- CloudTrail.7, .6


def test_access_logs_into_the_bucket_itself_pass_cloudtrail_7_and_fail_trailcheck() -> None:
    bucket = make_bucket(BUCKET, logging=LoggingTarget(target_bucket=BUCKET))
    report = judge(
        make_inventory(buckets=[bucket]), buckets.access_logging_enabled, buckets.access_logging
    )
    assert status_of(report, buckets.access_logging) is Status.FAIL
    for framework, control in (("aws-fsbp", "CloudTrail.7"), ("aws-fsbp", "S3.9")):
        assert verdict(report, framework, control) == "PASS"
    assert verdict(report, "cis-aws-5.0", "3.4") == "PASS"


def public_statement(condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    return statement | ({"Condition": condition} if condition else {})


def policy_with(statement: dict[str, Any]) -> dict[str, Any]:
    delivery = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:GetBucketAcl",
        "Resource": f"arn:aws:s3:::{BUCKET}",
    }
    return {"Version": "2012-10-17", "Statement": [delivery, statement]}


def test_an_allow_narrowed_to_the_organization_passes_cloudtrail_6_and_cis_3_3_is_not_decided():
    narrowed = public_statement({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}})
    bucket = make_bucket(BUCKET, policy=policy_with(narrowed), public_access_block=None)
    report = judge(make_inventory(buckets=[bucket]), buckets.not_public)
    assert verdict(report, "aws-fsbp", "CloudTrail.6") == "PASS"
    # CIS 1.4 3.3's audit fails any Allow to "*": trailcheck does not claim that verdict
    assert verdict(report, "cis-aws-1.4", "3.3") == ""


def test_a_policy_public_bucket_is_told_which_statement_to_remove() -> None:
    bucket = make_bucket(BUCKET, policy=policy_with(public_statement()), public_access_block=None)
    report = judge(make_inventory(buckets=[bucket]), buckets.not_public)
    finding = report.findings[0]
    assert finding.status is Status.FAIL
    fix = fix_for(report, finding)
    assert fix is not None and fix.cli is not None
    assert 'Statement[1] (Sid "PublicRead")' in fix.summary
    assert f"On bucket {BUCKET}:" in fix.summary
    assert f"get-bucket-policy --bucket {BUCKET}" in fix.cli
    assert "put-bucket-acl" not in fix.cli  # the ACL is private: nothing to remove there
    unnamed = {k: v for k, v in public_statement().items() if k != "Sid"}
    bucket = make_bucket(BUCKET, policy=policy_with(unnamed), public_access_block=None)
    report = judge(make_inventory(buckets=[bucket]), buckets.not_public)
    fix = fix_for(report, report.findings[0])
    assert fix is not None and "remove bucket policy Statement[1] (or narrow" in fix.summary


# ----------------------------------------------------------------------------- monitoring


@pytest.mark.parametrize("monitoring", generated_rules(), ids=lambda r: r.id)
def test_monitoring_rules_decide_cis_and_only_relate_to_security_hub(monitoring: Rule) -> None:
    # Security Hub's CloudWatch.x want the exact CIS text and give members of an organization
    # trail NO_DATA; the rule judges the filters' meaning and follows the organization trail.
    assert "aws-fsbp" not in monitoring.controls
    newer = {"cis-aws-5.0", "cis-aws-6.0", "cis-aws-7.0"}
    cis = {"cis-aws-1.4", "cis-aws-3.0"} | newer
    decided = set(monitoring.controls)
    if monitoring.id == "CT.MON.SECURITY_GROUP_CHANGES":  # CIS 5.0+ 4.10/5.10 name one more
        assert decided == cis - newer
    elif monitoring.id == "CT.MON.SECURITY_GROUP_RULE_CHANGES":  # ... which this rule requires
        assert decided == newer
    else:
        assert decided == cis
    assert decided | (cis & set(monitoring.related_controls)) == cis
    if monitoring.id != "CT.MON.ORGANIZATIONS_CHANGES":  # no Security Hub control
        assert monitoring.related_controls["aws-fsbp"][0].startswith("CloudWatch.")
    assert monitoring.related_controls["soc2"] == ("CC7.2", "CC7.3")


def test_monitoring_fix_names_the_log_group_the_chain_reached() -> None:
    trail = make_trail()
    group = make_log_group(trail.cloudwatch_logs_log_group_arn or "", metric_filters=())
    rule_ = next(r for r in generated_rules() if r.id == "CT.MON.ROOT_USAGE")
    report = judge(make_inventory([trail], log_groups=[group]), rule_)
    finding = report.findings[0]
    assert finding.status is Status.FAIL  # no metric filter at all
    fix = fix_for(report, finding)
    assert fix is not None and "--log-group-name ct-main " in (fix.cli or "")
    assert "--alarm-actions SNS_TOPIC_ARN" in (fix.cli or "")


# ----------------------------------------------------------------------------- the mechanism


def test_a_control_cannot_be_both_decided_and_related() -> None:
    remedy = Remediation(summary="s", cli="c", terraform="t")
    with pytest.raises(ValueError, match=r"decided or related, never both: aws-fsbp S3\.1"):
        rule(
            id="X.Y.Z",
            title="t",
            severity=Severity.LOW,
            resource_type="AWS::::Account",
            remediation=remedy,
            controls={"aws-fsbp": ("S3.1",)},
            related_controls={"aws-fsbp": ("S3.1",)},
            requires=(),
        )


def test_every_framework_control_some_rule_names_is_decided_or_says_why_not() -> None:
    """Only controls whose exact test some rule applies are decided; docs say which."""
    decided = {(fw, c) for r in RULES for fw, ids in r.controls.items() for c in ids}
    for fw in ("pci-dss-4.0", "soc2", "nist-800-53-r5", "iso-27001-2022"):
        assert not any(d[0] == fw for d in decided), f"{fw}: a process control is not a config test"
    assert ("aws-fsbp", "S3.1") in decided and ("aws-fsbp", "S3.8") in decided


def test_reporters_keep_related_controls_out_of_control_fields() -> None:
    stopped = make_trail("extra", status=make_status(is_logging=False))
    report = judge(make_inventory([make_trail(), stopped]), *RULES_31)
    row = next(
        r
        for r in csv.DictReader(io.StringIO(CsvReporter().render(report)))
        if r["rule_id"] == "CT.TRAIL.LOGGING" and r["verdict"] == "FAIL"
    )
    assert row["controls"] == "" and "cis-aws-3.0 3.1" in row["related_controls"]
    sarif = json.loads(SarifReporter().render(report))
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert not any(t.startswith("cis-") for t in rules["CT.TRAIL.LOGGING"]["properties"]["tags"])
    assert "cis-aws-3.0/3.1" in rules["CT.ACCOUNT.MULTI_REGION_TRAIL"]["properties"]["tags"]
    [result] = sarif["runs"][0]["results"]
    assert result["properties"]["controls"] == ""
    assert "cis-aws-3.0 3.1" in result["properties"]["relatedControls"]
    events = json.loads(OcsfReporter().render(report))
    logging_fail = next(
        e
        for e in events
        if e["metadata"]["event_code"] == "CT.TRAIL.LOGGING" and e["status_code"] == "FAIL"
    )
    assert "requirements" not in logging_fail["compliance"]
    assert "cis-aws-3.0 3.1" in logging_fail["unmapped"]["related_controls"]
    html = HtmlReporter().render(report)
    assert any(s.startswith("aws-fsbp CloudTrail.1;") for s in html_findings_strings(html))
    rollup = html[html.index('id="controls"') : html.index('class="filters"')]
    assert "<code>3.1</code>" in rollup and "CT.TRAIL.LOGGING" in rollup  # listed as related
    assert f"aws cloudtrail start-logging --name {stopped.arn}" in html
    junit = JunitReporter().render(report)
    assert "relates to (does not decide): aws-fsbp CloudTrail.1" in junit
    assert f"aws cloudtrail start-logging --name {stopped.arn}" in junit


def test_old_reports_without_related_controls_still_load() -> None:
    report = judge(make_inventory(), trails.trail_logging)
    data = json.loads(report.model_dump_json())
    for finding in data["findings"]:
        del finding["related_controls"], finding["remediation"]
    for info in data["rules"].values():
        del info["related_controls"]
    old = Report.model_validate(data)
    assert old.findings[0].related_controls == {} and old.findings[0].remediation is None
