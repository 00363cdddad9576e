"""Deny or lose each collector call in turn: nothing the scan could not read may turn into PASS
or N/A, vanish, or be given twice.

A small organization is built once in moto (management account with an organization trail,
its bucket, key, log group, the CIS monitoring set and an EventBridge rule; one member with a
trail of its own whose key and log group belong to an account outside the scan). It is
scanned once with full access, then once per operation the collectors declare with that
operation refused: AccessDenied is returned by a botocore `before-call` hook registered in
this test on the clients of trailcheck's real session layer, so everything from the session
up is the real code path. Then once per (operation, account) with the call *lost* in that
account only — every attempt answers as AWS does when it throttles, fails (503) or resets the
connection (a `before-send` hook, so the session's retries run and give up) — which reaches the
upstream calls whose loss concerns another account (a trail's owner vs its bucket's owner).
Compared with the full-access run (`trailcheck.demo.verdict_change`), a finding whose status
changed must now be ERROR, a new finding must be ERROR, a finding that disappeared must leave
an ERROR of the same rule in its account, and no identity may be given twice. A scan the loss stops
altogether (no credentials identity, no organization) must stop with a ScanError, never a
report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError
from moto import mock_aws

from trailcheck.demo.faults import Fault, error_response
from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.demo.organization import (
    add_cis_monitoring,
    cloudtrail_bucket_policy,
    member_session,
    protect_log_bucket,
)
from trailcheck.demo.verdict_change import verdict_violations
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


def build_world() -> dict[str, str]:
    """Inside an active moto mock: the organization described in the module docstring.
    Returns the account ids by role (management, member)."""
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
    return {"management": management, "member": member}


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, str]]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        with mock_aws(), faithful_moto():
            yield build_world()


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


class _Raw:
    """The raw body of a made-up HTTP answer, as botocore reads it."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


# The error answer each lost operation gets, by position: every kind of loss is exercised.
LOSSES = (Fault.THROTTLE, Fault.ERROR_503, Fault.RESET)
# moto's in-process stubber answers every request too (botocore runs all before-send hooks and
# takes the first answer) and raises for what it does not implement: a reset, raised by the
# hook, stops it first.
RESET_ONLY = frozenset({"logs:TestMetricFilter"})
# botocore's protocol names → the fault proxy's.
PROTOCOLS = {"smithy-rpc-v2-cbor": "cbor", "rest-json": "json"}


@dataclass
class Loss:
    """A `before-send` hook (ahead of moto) that loses `operation` in `account` on every
    attempt: AWS's throttling or 503 answer in the service's protocol (the fault proxy's
    `error_response`), or a reset connection. It also records which account made which call
    (by the access key that signed it): `keys` maps account ids to access keys."""

    keys: dict[str, str]
    # the service's name in event names (its hyphenized id) → (service name, protocol)
    services: dict[str, tuple[str, str]] = field(default_factory=dict)
    operation: str | None = None
    account: str | None = None
    fault: Fault = Fault.THROTTLE
    refused: int = 0
    seen: set[tuple[str, str]] = field(default_factory=set)

    def lose(self, operation: str | None, account: str | None = None) -> None:
        self.operation, self.account, self.refused = operation, account, 0
        if operation is not None:
            self.fault = LOSSES[OPERATIONS.index(operation) % len(LOSSES)]
            self.fault = Fault.RESET if operation in RESET_ONLY else self.fault

    def __call__(
        self, request: AWSPreparedRequest, event_name: str, **_: Any
    ) -> AWSResponse | None:
        service, protocol = self.services[event_name.split(".")[1]]
        called = f"{service}:{event_name.split('.')[2]}"
        signed = str(request.headers.get("Authorization", b""), "utf-8", "replace")
        account = next((a for a, k in self.keys.items() if f"Credential={k}/" in signed), "?")
        self.seen.add((account, called))
        if self.operation is None or (self.account is not None and account != self.account):
            return None
        if called not in (self.operation, TRIGGERED_BY.get(self.operation)):
            return None
        self.refused += called == self.operation
        if self.fault is Fault.RESET:
            raise ConnectionClosedError(endpoint_url=request.url)
        status, headers, body = error_response(self.fault, PROTOCOLS.get(protocol, protocol))
        return AWSResponse(request.url, status, headers, _Raw(body))


@dataclass(frozen=True)
class Scanner:
    """One session for every scan of the module (service models load once), with the hook
    on each of its clients: they are shared, so the scan uses these very clients."""

    session: AwsSession
    denial: Denial
    loss: Loss | None = None

    def scan(self) -> list[Finding]:
        scope = organization_targets(self.session, REGION, max_workers=2)
        if self.loss is not None:  # the members' keys are new at each AssumeRole
            self.loss.keys.update(
                (t.account_id, t.credentials.access_key_id)
                for t in scope.targets
                if t.credentials is not None
            )
        inventory = collect(
            scope.targets,
            self.session,
            OPTIONS,
            organization_id=scope.organization.organization_id,
            management_account_id=scope.organization.management_account_id,
        )
        return evaluate(inventory, RULES).findings


SERVICES = sorted({op.split(":")[0] for op in OPERATIONS})


@pytest.fixture(scope="module")
def scanner(world: dict[str, str]) -> Scanner:
    session, denial = AwsSession(max_attempts=1), Denial()
    for service in SERVICES:
        session.client(service, REGION).meta.events.register("before-call", denial)
    return Scanner(session, denial)


@pytest.fixture(scope="module")
def losing(world: dict[str, str]) -> Scanner:
    """A session with real retries (3 attempts, delays scaled down) and the `Loss` hook ahead
    of moto's on each client; the caller's own key is the management account's."""
    session = AwsSession(max_attempts=3, backoff_scale=0.0001)
    loss = Loss(keys={world["management"]: os.environ["AWS_ACCESS_KEY_ID"]})
    for service in SERVICES:
        client = session.client(service, REGION)
        model = client.meta.service_model
        loss.services[model.service_id.hyphenize()] = (model.service_name, model.protocol)
        client.meta.events.register_first("before-send", loss)
    return Scanner(session, Denial(), loss)


@pytest.fixture(scope="module")
def full_access(scanner: Scanner) -> tuple[list[Finding], dict[str, int]]:
    scanner.denial.deny(None)
    return scanner.scan(), scanner.session.meter.snapshot()


@pytest.fixture(scope="module")
def full_access_losing(losing: Scanner) -> list[Finding]:
    assert losing.loss is not None
    losing.loss.lose(None)
    return losing.scan()


def test_the_world_reaches_every_verdict_and_calls_every_operation(
    full_access: tuple[list[Finding], dict[str, int]],
) -> None:
    findings, calls = full_access
    assert {f.status for f in findings} == set(Status)
    assert set(OPERATIONS) - set(TRIGGERED_BY) <= set(calls), sorted(set(OPERATIONS) - set(calls))
    declared = {op for c in all_collectors() for op in c.operations} - WHO_ONLY | set(UNDECLARED)
    assert set(calls) <= declared, f"undeclared calls: {sorted(set(calls) - declared)}"


def test_the_lossy_session_sees_the_same_world_and_both_accounts(
    world: dict[str, str],
    losing: Scanner,
    full_access: tuple[list[Finding], dict[str, int]],
    full_access_losing: list[Finding],
) -> None:
    assert losing.loss is not None
    assert verdict_violations(full_access[0], full_access_losing) == []
    assert verdict_violations(full_access_losing, full_access[0]) == []
    callers = {account for account, _ in losing.loss.seen}
    assert callers == set(world.values()), callers  # every call attributed to its account


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
    assert verdict_violations(full_access[0], findings) == []


@pytest.mark.parametrize("role", ["management", "member"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_call_lost_after_retries_in_one_account_turns_only_verdicts_into_error(
    operation: str,
    role: str,
    world: dict[str, str],
    losing: Scanner,
    full_access_losing: list[Finding],
) -> None:
    """`operation` lost in one account only, past the retries: in that account and in every
    other (the owner of a bucket another account's trail writes to) only ERRORs may appear."""
    loss = losing.loss
    assert loss is not None
    account = world[role]
    if (account, operation) not in loss.seen:
        pytest.skip(f"{operation} is not called in the {role} account")
    lost_before = losing.session.meter.lost().get(operation, 0)
    loss.lose(operation, account)
    try:
        findings = losing.scan()
    except ScanError as exc:  # the scan cannot start: one clear line, no report at all
        assert loss.refused and "\n" not in str(exc)
        return
    finally:
        refused = loss.refused
        loss.lose(None)
    assert refused >= 3, f"{operation} was not retried (asked {refused} times)"
    assert losing.session.meter.lost().get(operation, 0) > lost_before  # lost, not denied
    assert verdict_violations(full_access_losing, findings) == []
