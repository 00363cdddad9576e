"""Benchmark of `trailcheck scan --org` against a local moto server.

For each size N it starts a moto server (a child process, inside `faithful_moto()`, so it
answers like AWS), builds an organization of N accounts with a realistic mix, runs the real
CLI in a subprocess and measures: wall time, CPU time of trailcheck and of the moto server
(to show who the bottleneck is), peak memory (max RSS) of trailcheck, and API calls (total,
per account) against the lower bound of docs/org-scanning.md, computed here from the set-up.

The organization (N accounts, the management account included):
* management: organization trail (multi-region, validation, KMS with rotation, CloudWatch
  Logs) writing to the central bucket of log-archive;
* log-archive (OU Security): the central bucket;
* one SUSPENDED account (skipped);
* the other members, spread over Workloads/Prod, Workloads/Dev and Sandbox:
  every 5th has its own multi-region trail and bucket; every 10th (offset 3) a broken
  single-region trail (not logging, no validation) writing to the central bucket; every
  25th (offset 7) has lost its access role (ERROR, the scan goes on).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from trailcheck.demo.moto_server import MotoProcess, start_moto_server
from trailcheck.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ROLE = "OrganizationAccountAccessRole"
PAGE = 20  # Organizations list pages hold at most 20 items
KEY = "testing"


# ----------------------------------------------------------------------------- moto server


# One server for every benchmark and test that needs one: trailcheck.demo.moto_server (faithful
# moto in a child process). The names below are what bench/ and tests/ import.
MotoServer = MotoProcess
start_server = start_moto_server


# ----------------------------------------------------------------------------- organization


@dataclass
class Setup:
    """What was built, as the lower-bound formula needs it."""

    accounts: int = 0  # in the organization, all states
    active: int = 0
    reachable: int = 0
    parents: dict[str, tuple[int, int]] = field(default_factory=dict)  # id → (OUs, accounts)
    trail_homes: set[tuple[str, str]] = field(default_factory=set)  # (owner, home region)
    trails: int = 0
    buckets: int = 0
    customer_keys: int = 0
    log_groups: int = 0
    buckets_with_policy: int = 0
    # SCPs and RCPs of the organization: moto makes FullAWSAccess and RCPFullAWSAccess
    org_policies: int = 2

    def lower_bound(self, collections: frozenset[str], regions_scanned: int) -> dict[str, int]:
        """The fewest calls that answer what the selected rules need (docs/org-scanning.md)."""
        parents = self.parents.values()
        bound = {
            "discovery": 3
            + sum(max(1, math.ceil(ous / PAGE)) for ous, _ in parents)
            + sum(max(1, math.ceil(accounts / PAGE)) for _, accounts in parents),
            "sts:AssumeRole": self.active - 1,
            # DescribeRegions, ListTrails (, ListBuckets and the account-level Public Access
            # Block, read in every entered account)
            "per account": (2 + 2 * ("buckets" in collections)) * self.reachable,
            "cloudtrail:DescribeTrails": len(self.trail_homes),
            # the trails' tags, with DescribeTrails: per (reader, home region)
            "cloudtrail:ListTags": len(self.trail_homes) * ("trail_tags" in collections),
            "per trail": 2 * self.trails,
        }
        if "buckets" in collections:
            # 10 reads per bucket, policy status where there is a policy
            bound["per bucket"] = 10 * self.buckets + self.buckets_with_policy
        if "kms_keys" in collections:
            bound["per KMS key"] = 2 * self.customer_keys
        if "key_policies" in collections:
            bound["kms:GetKeyPolicy"] = self.customer_keys
        if "iam" in collections:
            bound["iam:GetAccountAuthorizationDetails"] = self.reachable
        if "org_policies" in collections:
            # ListPolicies per type; DescribePolicy and ListTargetsForPolicy per policy
            bound["organization policies"] = 2 + 2 * self.org_policies
        if "log_groups" in collections:
            bound["per log group"] = self.log_groups
        if "metric_filters" in collections:
            bound["logs:DescribeMetricFilters"] = self.log_groups
        if "event_rules" in collections:
            # EventBridge rules live per region: one ListRules per entered account and region
            bound["events:ListRules"] = self.reachable * regions_scanned
        if "event_data_stores" in collections:
            # CloudTrail Lake: one ListEventDataStores per entered account and region (the
            # generated organizations hold no store, so no GetEventDataStore)
            bound["cloudtrail:ListEventDataStores"] = self.reachable * regions_scanned
        return bound


def _session(endpoint: str, creds: dict[str, str] | None = None) -> boto3.Session:
    if creds is None:
        return boto3.Session(aws_access_key_id=KEY, aws_secret_access_key=KEY, region_name=REGION)
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def build_organization(endpoint: str, n: int) -> Setup:
    """Build the organization described in the module doc in the server at `endpoint`."""
    from trailcheck.demo.organization import cloudtrail_bucket_policy

    base = _session(endpoint)

    def client(session: boto3.Session, service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)

    org = client(base, "organizations")
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    ous = {
        "Security": "",
        "Workloads": "",
        "Workloads/Prod": "",
        "Workloads/Dev": "",
        "Sandbox": "",
    }
    parent_of: dict[str, str] = {}
    for path in ous:
        parent = ous[path.rsplit("/", 1)[0]] if "/" in path else root
        ous[path] = org.create_organizational_unit(ParentId=parent, Name=path.split("/")[-1])[
            "OrganizationalUnit"
        ]["Id"]
        parent_of[ous[path]] = parent
    setup = Setup(accounts=n)
    placed: dict[str, int] = {root: 1}  # the management account sits in the root
    management = client(base, "sts").get_caller_identity()["Account"]

    def create(name: str, ou: str) -> str:
        account_id = org.create_account(Email=f"{name}@example.com", AccountName=name)[
            "CreateAccountStatus"
        ]["AccountId"]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ous[ou])
        placed[ous[ou]] = placed.get(ous[ou], 0) + 1
        return account_id

    def enter(account_id: str) -> boto3.Session:
        creds = client(base, "sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}", RoleSessionName="bench-builder"
        )["Credentials"]
        return _session(endpoint, creds)

    archive_id = create("log-archive", "Security")
    archive = enter(archive_id)
    central = f"org-trail-logs-{archive_id}"
    s3 = client(archive, "s3")
    s3.create_bucket(Bucket=central)
    s3.put_bucket_versioning(Bucket=central, VersioningConfiguration={"Status": "Enabled"})
    org_trail = f"arn:aws:cloudtrail:{REGION}:{management}:trail/org-trail"
    s3.put_bucket_policy(
        Bucket=central,
        Policy=cloudtrail_bucket_policy(
            central, [f"AWSLogs/{management}", f"AWSLogs/{org_id}"], [org_trail]
        ),
    )
    kms = client(base, "kms")
    key = kms.create_key(Description="org trail")["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key)
    client(base, "logs").create_log_group(logGroupName="org-trail")
    ct = client(base, "cloudtrail")
    ct.create_trail(
        Name="org-trail",
        S3BucketName=central,
        IsMultiRegionTrail=True,
        IsOrganizationTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{management}:log-group:org-trail:*",
        CloudWatchLogsRoleArn=f"arn:aws:iam::{management}:role/CloudTrailToLogs",
    )
    ct.start_logging(Name="org-trail")
    setup.trail_homes.add((management, REGION))
    setup.trails, setup.buckets, setup.customer_keys, setup.log_groups = 1, 1, 1, 1
    setup.buckets_with_policy = 1

    suspended = create("closed", "Sandbox") if n >= 3 else None
    if suspended:
        org.close_account(AccountId=suspended)
    members = n - 2 - (1 if suspended else 0)
    unreachable = 0
    for i in range(members):
        ou = ("Workloads/Prod", "Workloads/Dev", "Sandbox")[i % 3]
        account_id = create(f"member-{i:04d}", ou)
        if i % 5 == 0:
            session = enter(account_id)
            bucket = f"own-trail-{account_id}"
            client(session, "s3").create_bucket(Bucket=bucket)
            own = client(session, "cloudtrail")
            own.create_trail(Name="own", S3BucketName=bucket, IsMultiRegionTrail=True)
            own.start_logging(Name="own")
            setup.trail_homes.add((account_id, REGION))
            setup.trails += 1
            setup.buckets += 1
        elif i % 10 == 3:
            session = enter(account_id)
            home = "eu-west-1"
            broken = session.client("cloudtrail", endpoint_url=endpoint, region_name=home)
            broken.create_trail(Name="legacy", S3BucketName=central)  # stopped, no validation
            setup.trail_homes.add((account_id, home))
            setup.trails += 1
        elif i % 25 == 7:
            client(enter(account_id), "iam").delete_role(RoleName=ROLE)
            unreachable += 1
    setup.active = n - (1 if suspended else 0)
    setup.reachable = setup.active - unreachable
    for ou_id in [root, *ous.values()]:
        children = sum(1 for p in parent_of.values() if p == ou_id)
        setup.parents[ou_id] = (children, placed.get(ou_id, 0))
    return setup


# ----------------------------------------------------------------------------- scan


@dataclass(frozen=True)
class Result:
    accounts: int
    regions: str
    wall_s: float
    trailcheck_cpu_s: float
    moto_cpu_s: float
    peak_rss_mb: float
    api_calls: int
    lower_bound: int
    api_calls_by_op: dict[str, int]
    bound_parts: dict[str, int]
    exit_code: int
    build_s: float = 0.0  # building the organization in moto (once per size)
    report_json_bytes: int = 0

    def row(self) -> str:
        over = 100 * (self.api_calls - self.lower_bound) / self.lower_bound
        return (
            f"| {self.accounts} | {self.regions} | {self.wall_s:.1f} | "
            f"{1000 * self.wall_s / self.accounts:.0f} | {self.trailcheck_cpu_s:.1f} | "
            f"{self.moto_cpu_s:.1f} ({100 * self.moto_cpu_s / self.wall_s:.0f}%) | "
            f"{self.api_calls} | {self.lower_bound} | {over:+.1f}% | "
            f"{self.api_calls / self.accounts:.2f} | {self.peak_rss_mb:.0f} | "
            f"{1000 * self.trailcheck_cpu_s / self.accounts:.1f} | "
            f"{self.report_json_bytes / 1024 / self.accounts:.1f} | {self.build_s:.0f} |"
        )


HEADER = (
    "| accounts | regions | wall s | ms/account | trailcheck CPU s | moto CPU s (busy) | "
    "API calls | lower bound | over bound | calls/account | peak RSS MB | "
    "trailcheck CPU ms/account | report.json KB/account | org build s |\n"
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def run_scan(
    server: MotoServer, regions: list[str] | None, workers: int
) -> tuple[float, float, float, int, dict[str, Any], int]:
    """Run the real CLI once; (wall s, CPU s, peak RSS MB, exit code, JSON report, its bytes)."""
    out = Path(tempfile.mkdtemp(prefix="trailcheck-bench-"))
    argv = [sys.executable, "-m", "trailcheck", "scan", "--org", "--format", "json", "-q"]
    argv += ["--output-dir", str(out), "--max-workers", str(workers)]
    for region in regions or []:
        argv += ["--region", region]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/bench-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/bench-credentials",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    if code not in (0, 1):
        raise RuntimeError(f"trailcheck exited {code}")
    path = out / "report.json"
    report = json.loads(path.read_text())
    size = path.stat().st_size
    shutil.rmtree(out)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code, report, size


def bench_size(n: int, region_modes: list[str], workers: int) -> list[Result]:
    server = start_server()
    try:
        built = time.perf_counter()
        setup = build_organization(server.endpoint, n)
        build_s = time.perf_counter() - built
        print(f"  built {n} accounts in {build_s:.1f} s", file=sys.stderr)
        results = []
        collections = load_rules().requires()
        for mode in region_modes:
            regions = [REGION, "eu-west-1"] if mode == "2" else None
            moto_before = server.cpu_seconds()
            wall, cpu, rss, code, report, size = run_scan(server, regions, workers)
            moto_cpu = server.cpu_seconds() - moto_before
            bound = setup.lower_bound(collections, len(report["metadata"]["regions"]))
            results.append(
                Result(
                    accounts=n,
                    regions="2" if regions else f"all ({len(report['metadata']['regions'])})",
                    wall_s=wall,
                    trailcheck_cpu_s=cpu,
                    moto_cpu_s=moto_cpu,
                    peak_rss_mb=rss,
                    api_calls=report["metadata"]["api_calls_total"],
                    lower_bound=sum(bound.values()),
                    api_calls_by_op=report["metadata"]["api_calls"],
                    bound_parts=bound,
                    exit_code=code,
                    build_s=build_s,
                    report_json_bytes=size,
                )
            )
            print("  " + results[-1].row(), file=sys.stderr)
        return results
    finally:
        server.close()


def main(sizes: list[int], region_modes: list[str], workers: int, json_path: Path | None) -> int:
    print(
        f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", file=sys.stderr
    )
    results = []
    for n in sizes:
        print(f"N={n}", file=sys.stderr)
        results.extend(bench_size(n, region_modes, workers))
    print(HEADER)
    for r in results:
        print(r.row())
    print(f"\nload average after: {os.getloadavg()[0]:.2f}; max-workers {workers}")
    if json_path is not None:
        json_path.write_text(
            json.dumps([r.__dict__ for r in results], indent=2, sort_keys=True) + "\n"
        )
    return 0
