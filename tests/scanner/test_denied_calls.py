"""Deny each collector call in turn: nothing the scan could not read may turn into PASS or N/A.

A small organization is built once in moto (management account with an organization trail,
its bucket, key, log group, the CIS monitoring set and an EventBridge rule; one member with a
trail of its own whose key and log group belong to an account outside the scan). It is
scanned once with full access, then once per operation the collectors declare with that
operation refused: AccessDenied is returned by a botocore `before-call` hook registered in
this test on the clients of trailcheck's real session layer, so everything from the session
up is the real code path. Compared with the full-access run, a finding whose status changed
must now be ERROR, a new finding must be ERROR, and a finding that disappeared must leave an
ERROR of the same rule in its account. A scan the denial stops altogether (no credentials
identity, no organization) must stop with a ScanError, never a report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.demo.organization import (
    add_cis_monitoring,
    cloudtrail_bucket_policy,
    member_session,
    protect_log_bucket,
)
from trailcheck.engine import evaluate
from trailcheck.errors import ScanError
from trailcheck.model import Finding, Status
from trailcheck.rules import load_rules
from trailcheck.scanner.collectors import CHANGE_LOOKUP, LOG_VERIFICATION, all_collectors
from trailcheck.scanner.org import organization_targets
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession

REGION = "us-east-1"
OUTSIDE = "999999999999"  # owns the member trail's key and log group; never scanned
RULES = load_rules(include_plugins=False)
OPTIONS = ScanOptions(
    regions=(REGION,), api_region=REGION, max_workers=2, confirm_filters_with_aws=True
)

# Operations only `trailcheck verify-logs` makes (it writes no findings of rules).
VERIFY_ONLY = frozenset(LOG_VERIFICATION.operations) - {
    op for c in all_collectors() if c is not LOG_VERIFICATION for op in c.operations
}
# Called by the scan but granted by the member roles' trust, not by the scanner's policy.
UNDECLARED = ("sts:AssumeRole",)
# Fallbacks made only when another call failed: denied together with the call that triggers them.
TRIGGERED_BY = {"organizations:ListAccounts": "organizations:ListRoots"}
# Operations only `scan --who` makes: they explain findings (evidence.last_change), never decide.
WHO_ONLY = frozenset(CHANGE_LOOKUP.operations)
OPERATIONS = sorted(
    {op for c in all_collectors() for op in c.operations} - VERIFY_ONLY - WHO_ONLY | set(UNDECLARED)
)


def build_world() -> None:
    """Inside an active moto mock: the organization described in the module docstring."""
    base = boto3.Session(region_name=REGION)
    org = base.client("organizations")
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    management = base.client("sts").get_caller_identity()["Account"]
    member = org.create_account(Email="w@example.com", AccountName="workload")[
        "CreateAccountStatus"
    ]["AccountId"]

    s3 = base.client("s3")
    bucket = f"org-trail-{management}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    protect_log_bucket(s3, bucket, f"access-logs-{management}")
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{management}:trail/org-trail"
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=cloudtrail_bucket_policy(
            bucket,
            [f"AWSLogs/{management}", f"AWSLogs/{org_id}", f"AWSLogs/{member}"],
            [trail_arn, f"arn:aws:cloudtrail:{REGION}:{member}:trail/own"],
        ),
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    kms = base.client("kms")
    key = kms.create_key(Description="trail")["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key)
    base.client("logs").create_log_group(logGroupName="org-trail")
    ct = base.client("cloudtrail")
    ct.create_trail(
        Name="org-trail",
        S3BucketName=bucket,
        IsMultiRegionTrail=True,
        IsOrganizationTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{management}:log-group:org-trail:*",
        CloudWatchLogsRoleArn=f"arn:aws:iam::{management}:role/CloudTrailToLogs",
    )
    ct.put_insight_selectors(
        TrailName="org-trail", InsightSelectors=[{"InsightType": "ApiCallRateInsight"}]
    )
    ct.start_logging(Name="org-trail")
    ct.create_event_data_store(Name="lake")  # CloudTrail Lake (AWS owned key: CloudTrail.10 FAIL)
    add_cis_monitoring(base, "org-trail", with_gaps=True)

    own = member_session(base, member).client("cloudtrail")
    own.create_trail(
        Name="own",
        S3BucketName=bucket,
        KmsKeyId=f"arn:aws:kms:{REGION}:{OUTSIDE}:key/theirs",
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{OUTSIDE}:log-group:central:*",
        CloudWatchLogsRoleArn=f"arn:aws:iam::{member}:role/CloudTrailToLogs",
    )
    own.start_logging(Name="own")


@pytest.fixture(scope="module")
def world() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        with mock_aws(), faithful_moto():
            build_world()
            yield


class Denial:
    """A before-call hook that refuses `operation` (None: nothing) with AccessDenied."""

    def __init__(self) -> None:
        self.operation: str | None = None
        self.refused = 0

    def deny(self, operation: str | None) -> None:
        self.operation, self.refused = operation, 0

    def __call__(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if self.operation is None:
            return None
        called = f"{model.service_model.service_name}:{model.name}"
        if called not in (self.operation, TRIGGERED_BY.get(self.operation)):
            return None
        self.refused += called == self.operation
        error = {"Code": "AccessDenied", "Message": f"denied by the test: {called}"}
        return AWSResponse(REGION, 403, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }


@dataclass(frozen=True)
class Scanner:
    """One session for every scan of the module (service models load once), with the hook
    on each of its clients: they are shared, so the scan uses these very clients."""

    session: AwsSession
    denial: Denial

    def scan(self) -> list[Finding]:
        scope = organization_targets(self.session, REGION, max_workers=2)
        inventory = collect(
            scope.targets,
            self.session,
            OPTIONS,
            organization_id=scope.organization.organization_id,
            management_account_id=scope.organization.management_account_id,
        )
        return evaluate(inventory, RULES).findings


@pytest.fixture(scope="module")
def scanner(world: None) -> Scanner:
    session, denial = AwsSession(max_attempts=1), Denial()
    for service in {op.split(":")[0] for op in OPERATIONS}:
        session.client(service, REGION).meta.events.register("before-call", denial)
    return Scanner(session, denial)


@pytest.fixture(scope="module")
def full_access(scanner: Scanner) -> tuple[list[Finding], dict[str, int]]:
    scanner.denial.deny(None)
    return scanner.scan(), scanner.session.meter.snapshot()


def _key(finding: Finding) -> tuple[str, str, str, str]:
    # Not the region: a bucket whose GetBucketLocation was denied is judged the same, in no
    # region. CT.MON.OVERBROAD_FILTER gives one finding per filter of a log group.
    filter_name = str(finding.evidence.get("filter_name", ""))
    return (finding.rule_id, finding.account_id, finding.resource_arn, filter_name)


def _by_key(findings: list[Finding]) -> dict[tuple, set[Status]]:
    grouped: dict[tuple, set[Status]] = defaultdict(set)
    for finding in findings:
        grouped[_key(finding)].add(finding.status)
    return grouped


def test_the_world_reaches_every_verdict_and_calls_every_operation(
    full_access: tuple[list[Finding], dict[str, int]],
) -> None:
    findings, calls = full_access
    assert {f.status for f in findings} == set(Status)
    assert set(OPERATIONS) - set(TRIGGERED_BY) <= set(calls), sorted(set(OPERATIONS) - set(calls))
    declared = {op for c in all_collectors() for op in c.operations} - WHO_ONLY | set(UNDECLARED)
    assert set(calls) <= declared, f"undeclared calls: {sorted(set(calls) - declared)}"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_denied_call_never_becomes_pass_or_not_applicable(
    operation: str, scanner: Scanner, full_access: tuple[list[Finding], dict[str, int]]
) -> None:
    scanner.denial.deny(operation)
    try:
        findings = scanner.scan()
    except ScanError as exc:  # the scan cannot start: one clear line, no report at all
        assert scanner.denial.refused and "\n" not in str(exc)
        return
    finally:
        refused = scanner.denial.refused
        scanner.denial.deny(None)
    assert refused, f"{operation} was never asked: the test denies nothing"
    before, after = _by_key(full_access[0]), _by_key(findings)
    errors = {(f.rule_id, f.account_id) for f in findings if f.status is Status.ERROR}
    for key, statuses in after.items():
        changed = statuses - before.get(key, set())
        assert changed <= {Status.ERROR}, (key, before.get(key), statuses)
    for key, statuses in before.items():
        if statuses - after.get(key, set()):
            assert key[:2] in errors, (key, statuses, "vanished without an ERROR")
