"""Benchmark of the `scan --who` lookup stage: LookupEvents calls and wall time.

An organization of N accounts (default 200) is built in in-process moto (made faithful: the
calls moto serves are recorded as CloudTrail events and LookupEvents answers from them, with
AWS's 2 requests per second per account and region). Every account has its own trail and log
bucket; 10 % of the resources fail: every 20th account (offset 0) had its trail stopped by an
assumed role (CloudTrail family), every 20th (offset 10) had its bucket's versioning suspended
by an IAM user (S3 family). The scan collects trails and buckets through the real scanner,
judges them with CT.TRAIL.LOGGING and CT.BUCKET.VERSIONING, then runs the real lookup stage.

The target: at most one LookupEvents call per failing resource per event family. Reported:
calls, the target, wall time of the lookup stage, throttled calls (should be 0: the token
bucket keeps each account-region under its limit), and whether every failing finding names
the principal that made the change.

    python -m bench.who_bench [--accounts 200]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from typing import Any

import boto3

ROLE = "OrganizationAccountAccessRole"
REGION = "us-east-1"
KEY = "testing"
RULES = ("CT.TRAIL.LOGGING", "CT.BUCKET.VERSIONING")


class _As:
    """Clients with given credentials, made from one boto3 session (models loaded once)."""

    def __init__(self, base: boto3.Session, creds: dict[str, str] | None = None) -> None:
        self._base = base
        self._creds = creds

    def client(self, service: str) -> Any:
        if self._creds is None:
            return self._base.client(service)
        return self._base.client(
            service,
            aws_access_key_id=self._creds["AccessKeyId"],
            aws_secret_access_key=self._creds["SecretAccessKey"],
            aws_session_token=self._creds.get("SessionToken"),
        )


def build(accounts: int, same_account: int = 0) -> dict[str, Any]:
    """The organization inside an active moto mock; returns the expected failures.

    `same_account`: that many more failing buckets, all in the management account and region
    (the rate limit of one account-region then bounds the wall time)."""
    base = boto3.Session(aws_access_key_id=KEY, aws_secret_access_key=KEY, region_name=REGION)
    org = base.client("organizations")
    org.create_organization(FeatureSet="ALL")
    ids = [base.client("sts").get_caller_identity()["Account"]]
    for n in range(1, accounts):
        status = org.create_account(Email=f"a{n}@example.com", AccountName=f"acct-{n}")
        ids.append(status["CreateAccountStatus"]["AccountId"])
    stopped, suspended = [], []
    sts = base.client("sts")
    for n, account_id in enumerate(ids):
        if n == 0:
            session = _As(base)
        else:
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}", RoleSessionName="builder"
            )["Credentials"]
            session = _As(base, creds)
        bucket = f"who-bench-{account_id}"
        s3 = session.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        trail = session.client("cloudtrail")
        trail.create_trail(Name="account-trail", S3BucketName=bucket)
        trail.start_logging(Name="account-trail")
        if n % 20 == 0:
            iam = session.client("iam")
            iam.create_role(RoleName="Admin", AssumeRolePolicyDocument="{}")
            admin = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/Admin", RoleSessionName="mallory"
            )["Credentials"]
            _As(base, admin).client("cloudtrail").stop_logging(Name="account-trail")
            stopped.append(account_id)
        if n % 20 == 10:
            iam = session.client("iam")
            iam.create_user(UserName="ops")
            key = iam.create_access_key(UserName="ops")["AccessKey"]
            _As(base, key).client("s3").put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
            )
            suspended.append(account_id)
    if same_account:
        iam = base.client("iam")
        iam.create_user(UserName="bulk-ops")
        key = iam.create_access_key(UserName="bulk-ops")["AccessKey"]
        bulk = _As(base, key).client("s3")
        for n in range(same_account):
            bucket = f"who-bench-extra-{n}-{ids[0]}"
            base.client("s3").create_bucket(Bucket=bucket)
            trail = base.client("cloudtrail")
            trail.create_trail(Name=f"extra-{n}", S3BucketName=bucket)
            trail.start_logging(Name=f"extra-{n}")
            bulk.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
            )
            suspended.append(bucket)
    return {"accounts": ids, "stopped": stopped, "suspended": suspended}


def run(accounts: int, max_workers: int, same_account: int = 0) -> dict[str, Any]:
    """Build, scan, judge, look up; the measurements."""
    from moto import mock_aws

    from trailcheck.changes.lookup import LookupOptions, with_change_history
    from trailcheck.demo.moto_fidelity import faithful_moto
    from trailcheck.engine import evaluate
    from trailcheck.model import Status
    from trailcheck.rules import load_rules
    from trailcheck.scanner.collectors.base import AccountAccess
    from trailcheck.scanner.org import organization_targets
    from trailcheck.scanner.scan import ScanOptions, collect
    from trailcheck.scanner.session import AwsSession

    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    with mock_aws(), faithful_moto() as history, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Exception\(STSClientError\)")
        started = time.perf_counter()
        world = build(accounts, same_account)
        built = time.perf_counter() - started
        boto = boto3.Session(aws_access_key_id=KEY, aws_secret_access_key=KEY, region_name=REGION)
        session = AwsSession(boto_session=boto, max_pool_connections=64)
        scope = organization_targets(session, REGION, max_workers=max_workers)
        options = ScanOptions(
            regions=(REGION,),
            api_region=REGION,
            max_workers=max_workers,
            collections=frozenset({"trails", "buckets"}),  # no DescribeRegions: one region given
        )
        started = time.perf_counter()
        inventory = collect(scope.targets, session, options)
        scanned = time.perf_counter() - started
        rules = [r for r in load_rules(include_plugins=False) if r.id in RULES]
        findings = evaluate(inventory, rules).findings
        access = {
            t.account_id: AccountAccess(t.account_id, session, t.credentials)
            for t in scope.targets
            if t.access_error is None
        }
        events = {r.id: r.change_events for r in rules}
        started = time.perf_counter()
        result = with_change_history(
            inventory, findings, events, access, LookupOptions(max_workers=max_workers)
        )
        looked = time.perf_counter() - started
        report = evaluate(result.inventory, rules)
        failing = [f for f in report.findings if f.status is Status.FAIL]
        named = [f for f in failing if (f.evidence.get("last_change") or {}).get("principal_arn")]
        expected_principals = all(
            ":assumed-role/Admin/mallory" in f.evidence["last_change"]["principal_arn"]
            if f.rule_id == "CT.TRAIL.LOGGING"
            else f.evidence["last_change"]["principal_arn"].endswith((":user/ops", "/bulk-ops"))
            for f in named
        )
        families = {
            (f.resource_arn, "cloudtrail" if f.rule_id.startswith("CT.TRAIL") else "s3")
            for f in failing
        }
        return {
            "accounts": accounts,
            "same_account_extra": same_account,
            "failing_resources": len({f.resource_arn for f in failing}),
            "target_calls": len(families),
            "lookup_calls": result.calls,
            "lookup_seconds": round(looked, 2),
            "throttled": history.throttled,
            "failing_findings": len(failing),
            "named": len(named),
            "right_principal": expected_principals,
            "scan_seconds": round(scanned, 2),
            "build_seconds": round(built, 2),
            "recorded_events": len(history.all_records()),
            "expected_failures": len(world["stopped"]) + len(world["suspended"]),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.who_bench", description=__doc__)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument(
        "--same-account",
        type=int,
        default=0,
        help="also this many failing buckets in one account-region (rate-limit bound)",
    )
    args = parser.parse_args(argv)
    result = run(args.accounts, args.max_workers, args.same_account)
    print(json.dumps(result, indent=2))
    ok = (
        result["lookup_calls"] <= result["target_calls"]
        and result["named"] == result["failing_findings"] == result["expected_failures"]
        and result["right_principal"]
        and result["throttled"] == 0
    )
    print(
        f"who: {result['lookup_calls']} LookupEvents call(s) for {result['failing_resources']} "
        f"failing resource(s) (target <= {result['target_calls']}), "
        f"{result['lookup_seconds']} s, {result['throttled']} throttled: "
        + ("OK" if ok else "OVER TARGET OR WRONG")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
