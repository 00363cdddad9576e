"""Least privilege, proven: a scan by a principal holding only docs/iam-policy.json, against a
moto server that enforces IAM authorization, gives the findings of a full-access scan; with any
one action removed, the rules that needed it say ERROR (never PASS, never a crash).

moto enforces IAM after `INITIAL_NO_AUTH_ACTION_COUNT` requests: the first three create an
administrator, who builds the account and the scanning user; every later request is signed
and evaluated against the caller's policies. One server serves the module; each case only
rewrites the scanning user's inline policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from trailcheck import docgen
from trailcheck.demo.moto_server import MotoProcess, start_moto_server
from trailcheck.demo.organization import add_cis_monitoring, cloudtrail_bucket_policy
from trailcheck.engine import evaluate
from trailcheck.model import Status
from trailcheck.rules import load_rules
from trailcheck.scanner.accounts import current_account
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession, iam_action

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parent.parent
POLICY = json.loads((ROOT / "docs" / "iam-policy.json").read_text())
SCANNING_ACTIONS = tuple(POLICY["Statement"][0]["Action"])
TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
# AWS authorizes sts:GetCallerIdentity for every principal: no policy can deny it.
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}
# Actions the scan uses whose denial is recorded as unknown but on which, in this set-up, no
# verdict depends (so every finding stays the same).
NO_VERDICT_DEPENDS = {
    "ec2:DescribeRegions": "the regions are given (--region): enabled regions only narrow them",
    "events:ListRules": "EventBridge coverage does not satisfy a CIS control by default",
    "events:ListTargetsByRule": "EventBridge coverage does not satisfy a CIS control by default",
    "s3:GetBucketLocation": "the bucket is then read through the us-east-1 endpoint (botocore "
    "follows S3's redirects); its findings lose only their region",
}


@dataclass
class World:
    server: MotoProcess
    admin: boto3.Session
    scanner_keys: tuple[str, str]
    trail_arn: str

    def put_scanner_policy(self, actions: list[str]) -> None:
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        self.admin.client("iam", endpoint_url=self.server.endpoint).put_user_policy(
            UserName="scanner", PolicyName="trailcheck", PolicyDocument=json.dumps(document)
        )


def _session(keys: tuple[str, str]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name=REGION
    )


def _build(admin: boto3.Session, endpoint: str) -> str:
    """One account using every read the scanner makes: an encrypted multi-region trail with
    insights and CloudWatch Logs, a protected bucket with a policy, CIS monitoring with
    alarms, an SNS topic and an EventBridge rule."""

    def client(service: str) -> Any:
        return admin.client(service, endpoint_url=endpoint)

    account = client("sts").get_caller_identity()["Account"]
    bucket = f"trail-logs-{account}"
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{account}:trail/main"
    s3.put_bucket_policy(
        Bucket=bucket, Policy=cloudtrail_bucket_policy(bucket, [f"AWSLogs/{account}"], [trail_arn])
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    key = client("kms").create_key(Description="trail")["KeyMetadata"]["Arn"]
    client("kms").enable_key_rotation(KeyId=key)
    client("logs").create_log_group(logGroupName="trail")
    cloudtrail = client("cloudtrail")
    cloudtrail.create_trail(
        Name="main",
        S3BucketName=bucket,
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{account}:log-group:trail:*",
        CloudWatchLogsRoleArn=f"arn:aws:iam::{account}:role/CloudTrailToLogs",
    )
    cloudtrail.put_insight_selectors(
        TrailName="main", InsightSelectors=[{"InsightType": "ApiCallRateInsight"}]
    )
    cloudtrail.start_logging(Name="main")
    add_cis_monitoring(admin, "trail", with_gaps=True)
    return trail_arn


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    server = start_moto_server({"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        iam = boto3.Session(
            aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap", region_name=REGION
        ).client("iam", endpoint_url=server.endpoint)
        # The three unauthenticated requests: an administrator and its key.
        iam.create_user(UserName="admin")
        iam.put_user_policy(
            UserName="admin",
            PolicyName="all",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AWS_ENDPOINT_URL", server.endpoint)  # add_cis_monitoring's clients
            admin = _session((key["AccessKeyId"], key["SecretAccessKey"]))
            trail_arn = _build(admin, server.endpoint)
        admin_iam = admin.client("iam", endpoint_url=server.endpoint)
        admin_iam.create_user(UserName="scanner")
        scanner = admin_iam.create_access_key(UserName="scanner")["AccessKey"]
        yield World(server, admin, (scanner["AccessKeyId"], scanner["SecretAccessKey"]), trail_arn)
    finally:
        server.close()


@dataclass(frozen=True)
class Result:
    findings: dict[tuple[str, str, str], dict[str, Any]]
    calls: dict[str, int]


def scan(session: AwsSession) -> Result:
    """Scan the account as `session`'s caller; the calls this scan made."""
    before = session.meter.snapshot()
    targets, partition = current_account(session, REGION)
    options = ScanOptions(regions=(REGION,), api_region=REGION, max_workers=4, partition=partition)
    report = evaluate(collect(targets, session, options), load_rules())
    calls = {
        op: n - before.get(op, 0)
        for op, n in session.meter.snapshot().items()
        if n - before.get(op, 0)
    }
    # By rule, account and resource (a bucket whose region is unknown has no region).
    findings = {
        (f.rule_id, f.account_id, f.resource_arn): json.loads(
            TIME.sub("<time>", json.dumps(f.model_dump(mode="json")))
        )
        for f in report.findings
    }
    return Result(findings, calls)


@pytest.fixture(scope="module")
def endpoint(world: World) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", world.server.endpoint)
        yield


def _aws(keys: tuple[str, str]) -> AwsSession:
    return AwsSession(boto_session=_session(keys), backoff_scale=0.001)


@pytest.fixture(scope="module")
def full_access(world: World, endpoint: None) -> Result:
    admin = world.admin.get_credentials()
    return scan(_aws((admin.access_key, admin.secret_key)))


@pytest.fixture(scope="module")
def scanner(world: World, endpoint: None) -> AwsSession:
    """One session for every case: only the user's policy changes between them."""
    return _aws(world.scanner_keys)


@pytest.fixture(autouse=True)
def _endpoint(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", world.server.endpoint)


@pytest.fixture(scope="module")
def used_actions(full_access: Result) -> set[str]:
    """The IAM actions the full-access scan needed."""
    return {iam_action(*op.split(":")) for op in full_access.calls}


def test_the_policy_file_is_the_generated_one() -> None:
    assert docgen.iam_policy() == POLICY


def test_the_generated_policy_gives_the_findings_of_full_access(
    world: World, full_access: Result, used_actions: set[str], scanner: AwsSession
) -> None:
    assert used_actions <= set(SCANNING_ACTIONS)
    world.put_scanner_policy(list(SCANNING_ACTIONS))
    least = scan(scanner)
    assert least.findings == full_access.findings
    assert least.calls == full_access.calls
    statuses = {f["status"] for f in least.findings.values()}
    assert {Status.PASS.value, Status.FAIL.value} <= statuses
    # The world really exercises what the scan can read (verify-logs, --org discovery and
    # --confirm-filters-with-aws actions are proven by their own tests).
    assert Status.ERROR.value not in statuses


@pytest.mark.parametrize(
    "removed",
    [a for a in SCANNING_ACTIONS if a not in ALWAYS_ALLOWED],
    ids=str,
)
def test_without_any_one_action_its_rules_say_error(
    world: World,
    full_access: Result,
    used_actions: set[str],
    removed: str,
    scanner: AwsSession,
) -> None:
    world.put_scanner_policy([a for a in SCANNING_ACTIONS if a != removed])
    result = scan(scanner)
    before = full_access.findings
    # A finding that changes or appears is ERROR; one that disappears (an unjudgeable resource
    # is reported where it can be placed) leaves an ERROR of the same rule in its account.
    changed = {
        key: f
        for key, f in result.findings.items()
        if key not in before or f["status"] != before[key]["status"]
    }
    assert all(f["status"] == Status.ERROR.value for f in changed.values()), changed
    errors = {(k[0], k[1]) for k, f in result.findings.items() if f["status"] == "ERROR"}
    gone = [k for k in before if k not in result.findings]
    assert all((k[0], k[1]) in errors for k in gone), gone
    changed |= {k: before[k] for k in gone}
    if removed in used_actions and removed not in NO_VERDICT_DEPENDS:
        assert changed, f"no rule noticed that {removed} was denied"
    else:
        assert not changed
