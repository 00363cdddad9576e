"""Faults and throttling: an organization scan through a fault-injecting proxy in front of a
moto server gives the findings of a clean scan; past the retry budget the facts are unknown and
their rules say ERROR; one throttled account never spends the retries of another; an account
lost mid-scan and a failing region are isolated.

The faults come from `trailcheck.demo.faults.FaultProxy` (a loopback HTTP proxy, AWS's own
error answers per protocol); trailcheck's code is untouched. One moto server and one proxy
serve the whole module; each test swaps the proxy's policy.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from org_world import REGION, OrgWorld, build_org_world

from trailcheck.demo.faults import Fault, FaultProxy, Policy, Request, seeded_faults
from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.demo.verdict_change import duplicate_identities, verdict_violations
from trailcheck.engine import evaluate
from trailcheck.model import Inventory, Report, Status, Unknown
from trailcheck.rules import load_rules
from trailcheck.scanner.org import organization_targets
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession, Credentials, call

REGIONS = (REGION, "eu-west-1")
TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
BACKOFF = 0.0005  # retry delays scaled down: the same attempts, without the waiting


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Env:
    world: OrgWorld
    proxy: FaultProxy


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        mp.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        with faithful_moto():
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            try:
                world = build_org_world()
                with FaultProxy(f"http://127.0.0.1:{port}", slow_seconds=0.02) as proxy:
                    yield Env(world, proxy)
            finally:
                server.stop()


@pytest.fixture
def proxy(env: Env, monkeypatch: pytest.MonkeyPatch) -> FaultProxy:
    """The proxy, clean (no faults, counts reset), with AWS_ENDPOINT_URL pointing at it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", env.proxy.endpoint)
    env.proxy.policy = lambda request, attempt: None
    env.proxy.reset_counts()
    return env.proxy


@dataclass(frozen=True)
class Scan:
    inventory: Inventory
    report: Report
    session: AwsSession

    def findings(self) -> dict[tuple[str, str, str, str], dict[str, Any]]:
        """Each finding by identity; the delivery times moto stamps at each call masked."""
        return {
            (f.rule_id, f.account_id, f.region or "", f.resource_arn): json.loads(
                TIME.sub("<time>", json.dumps(f.model_dump(mode="json")))
            )
            for f in self.report.findings
        }


def org_scan(proxy: FaultProxy, policy: Policy | None = None, **policy_from_scope: Any) -> Scan:
    """Discover and enter the organization (no faults), then collect with `policy` on."""
    session = AwsSession(backoff_scale=BACKOFF)
    proxy.policy = lambda request, attempt: None
    scope = organization_targets(session, REGION, max_workers=4)
    if policy_from_scope:
        policy = policy_from_scope["make"](scope)
    proxy.reset_counts()
    proxy.policy = policy or (lambda request, attempt: None)
    options = ScanOptions(regions=REGIONS, api_region=REGION, max_workers=4)
    inventory = collect(
        scope.targets,
        session,
        options,
        organization_id=scope.organization.organization_id,
        management_account_id=scope.organization.management_account_id,
        skipped=scope.skipped,
    )
    return Scan(inventory, evaluate(inventory, load_rules()), session)


@pytest.fixture(scope="module")
def clean(env: Env) -> Scan:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", env.proxy.endpoint)
        scan = org_scan(env.proxy)
    assert scan.session.meter.retries() == {}
    return scan


def _assert_only_errors_changed(scan: Scan, clean: Scan) -> list[dict[str, Any]]:
    """Every verdict is the clean scan's, or ERROR: never a PASS or FAIL the clean scan did not
    give. (Evidence may show the unknown fact beside a verdict that does not depend on it.)"""
    mine, theirs = scan.findings(), clean.findings()
    assert mine.keys() == theirs.keys()
    changed = [mine[k] for k in mine if mine[k]["status"] != theirs[k]["status"]]
    assert all(f["status"] == Status.ERROR.value for f in changed), changed[:3]
    return changed


def test_each_fault_kind_is_retried_and_survived(proxy: FaultProxy) -> None:
    """Every protocol family the scanner uses recognises each injected answer as retryable."""
    calls = [
        ("cloudtrail", "DescribeTrails"),  # JSON
        ("cloudwatch", "DescribeAlarms"),  # CBOR
        ("sts", "GetCallerIdentity"),  # query
        ("ec2", "DescribeRegions"),  # EC2
        ("s3", "ListBuckets"),  # REST-XML
    ]
    aws = AwsSession(backoff_scale=BACKOFF)
    for fault in Fault:
        if fault is Fault.DENY:
            continue
        proxy.policy = lambda request, attempt, fault=fault: fault if attempt % 2 else None
        before = sum(aws.meter.retries().values())
        for service, operation in calls:
            answer = call(aws.client(service, REGION), operation)
            assert isinstance(answer, dict), (fault, service, answer)
        expected = 0 if fault is Fault.SLOW else len(calls)
        assert sum(aws.meter.retries().values()) - before == expected, fault
        assert proxy.stats[fault.value] == len(calls)
        proxy.reset_counts()
    assert aws.meter.lost() == {}


def test_seeded_faults_leave_the_findings_unchanged(proxy: FaultProxy, clean: Scan) -> None:
    """10 % throttling (400 and 429), 2 % 500/503, 1 % resets, 2 % slow answers."""
    scan = org_scan(proxy, seeded_faults(seed=11))
    assert scan.findings() == clean.findings()
    assert scan.session.meter.lost() == {}
    retries = sum(scan.session.meter.retries().values())
    injected = sum(proxy.stats[f.value] for f in Fault if f is not Fault.SLOW)
    assert retries == injected > 0
    assert scan.report.metadata.api_retries == scan.session.meter.retries()
    assert scan.report.metadata.api_calls == clean.report.metadata.api_calls


def test_past_the_retry_budget_facts_are_unknown_and_rules_say_error(
    proxy: FaultProxy, clean: Scan
) -> None:
    def always_throttle_status(request: Request, attempt: int) -> Fault | None:
        return Fault.THROTTLE if request.operation == "GetTrailStatus" else None

    scan = org_scan(proxy, always_throttle_status)
    trails = scan.inventory.trails
    read = [t for t in trails.values() if t.describe_error is None]
    assert read and all(isinstance(t.status, Unknown) for t in read)
    assert {t.status.error_code for t in read if isinstance(t.status, Unknown)} == {
        "ThrottlingException"
    }
    assert scan.report.metadata.api_calls_lost == {"cloudtrail:GetTrailStatus": len(read)}
    # 8 attempts each: 7 retries per lost call
    assert scan.report.metadata.api_retries == {"cloudtrail:GetTrailStatus": 7 * len(read)}
    changed = _assert_only_errors_changed(scan, clean)
    assert changed and any("ThrottlingException" in f["reason"] for f in changed)


def test_a_lost_describe_trails_upstream_makes_the_central_buckets_rules_error(
    env: Env, proxy: FaultProxy, clean: Scan
) -> None:
    """The management account's DescribeTrails is throttled past every retry: which bucket the
    organization trail writes to is unknown. log-archive (which owns the central bucket) must
    not read "owns no CloudTrail log bucket" (NOT_APPLICABLE), and the central bucket's own
    findings must not vanish without an ERROR of their rule in log-archive."""

    def lose_org_trail(request: Request, attempt: int) -> Fault | None:
        lost = request.operation == "DescribeTrails" and b"org-trail" in request.body
        return Fault.THROTTLE if lost else None

    scan = org_scan(proxy, lose_org_trail)
    assert scan.report.metadata.api_calls_lost == {"cloudtrail:DescribeTrails": 1}
    archive = env.world.accounts["log-archive"]
    bucket_rules = {
        f.rule_id for f in clean.report.findings if f.resource_type == "AWS::S3::Bucket"
    }
    theirs = [f for f in scan.report.findings if f.account_id == archive]
    assert {f.rule_id for f in theirs if f.status is Status.ERROR} >= bucket_rules
    assert not [
        f for f in theirs if f.rule_id in bucket_rules and f.status is Status.NOT_APPLICABLE
    ]
    assert verdict_violations(clean.report.findings, scan.report.findings) == []


def test_a_lost_bucket_list_leaves_the_owner_unknown_never_outside_the_scan(
    env: Env, proxy: FaultProxy, clean: Scan
) -> None:
    """log-archive's ListBuckets is lost past the retries: the central bucket's owner is
    unknown — not "outside the scan, add it" — and log-archive cannot say it owns no bucket."""
    archive = env.world.accounts["log-archive"]

    def make(scope: Any) -> Policy:
        [target] = [t for t in scope.targets if t.account_id == archive]
        key = target.credentials.access_key_id

        def policy(request: Request, attempt: int) -> Fault | None:
            listing = request.service == "s3" and request.operation.startswith("GET / ")
            return Fault.ERROR_503 if listing and request.access_key == key else None

        return policy

    scan = org_scan(proxy, make=make)
    assert scan.report.metadata.api_calls_lost == {"s3:ListBuckets": 1}
    owner = scan.inventory.buckets[env.world.central_bucket].owner_account_id
    assert isinstance(owner, Unknown) and owner.error_code == "OwnerUnknown"
    assert archive in (owner.message or "")
    central = [f for f in scan.report.findings if f.resource_arn.endswith(env.world.central_bucket)]
    assert central and all(f.status is Status.ERROR for f in central)
    assert all("owner is unknown" in f.reason and "add the owner" not in f.reason for f in central)
    theirs = [f for f in scan.report.findings if f.account_id == archive]
    assert not [f for f in theirs if f.status is Status.NOT_APPLICABLE and "bucket" in f.reason]
    assert verdict_violations(clean.report.findings, scan.report.findings) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ninety_percent_cloudtrail_throttling_turns_only_verdicts_into_error(
    proxy: FaultProxy, clean: Scan, seed: int
) -> None:
    """An independent proxy throttles 90 % of CloudTrail attempts (many calls are lost after
    8 attempts, in every account): verdicts may only turn into ERROR; no finding vanishes
    without an ERROR of its rule in its account; no identity is given twice."""
    only_cloudtrail = seeded_faults(
        seed, throttle=0.9, server=0, reset=0, slow=0, only=lambda r: r.service == "cloudtrail"
    )
    scan = org_scan(proxy, only_cloudtrail)
    assert scan.session.meter.lost()  # the faults did outlast the retries
    assert duplicate_identities(scan.report.findings) == []
    assert verdict_violations(clean.report.findings, scan.report.findings) == []


def test_one_throttled_account_does_not_spend_the_retries_of_another(proxy: FaultProxy) -> None:
    """botocore keeps one retry quota per client; our clients are shared by every account, so
    the quota must be per account: A's endless throttling must leave B's retries alone."""
    a = Credentials("AKIAAAAAAAAAAAAAAAAA", "secret-a")
    b = Credentials("AKIABBBBBBBBBBBBBBBB", "secret-b")

    def policy(request: Request, attempt: int) -> Fault | None:
        if request.access_key == a.access_key_id:
            return Fault.THROTTLE
        return Fault.THROTTLE if attempt % 2 == 1 else None  # each call: throttled once

    proxy.policy = policy
    aws = AwsSession(backoff_scale=BACKOFF)
    shared_a = aws.client("sts", REGION, a)
    # 20 calls x 7 retries is more than a quota of 500 units (5 per throttled retry) holds.
    a_results = [call(shared_a, "GetCallerIdentity") for _ in range(20)]
    assert all(isinstance(r, Unknown) for r in a_results)
    b_results = [call(aws.client("sts", REGION, b), "GetCallerIdentity") for _ in range(10)]
    assert all(isinstance(r, dict) for r in b_results), b_results
    assert aws.client_count == 1  # one shared client, two budgets
    # A's budget ran out after 100 retries (fewer than 20 x 7); B retried each call once.
    assert aws.meter.retries()["sts:GetCallerIdentity"] == 100 + 10
    assert aws.meter.lost() == {"sts:GetCallerIdentity": 20}


LOST_REGION = "eu-west-1"


@pytest.fixture(scope="module")
def lost_scan(env: Env) -> Scan:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", env.proxy.endpoint)
        return _lose(env.world, env.proxy)


def _lose(world: OrgWorld, proxy: FaultProxy) -> Scan:
    """A scan in which dev-a's role disappears after its first call (every later call:
    AccessDenied) and every call to eu-west-1 answers 503, past the retries."""
    lost_account = world.accounts["dev-a"]

    def make(scope: Any) -> Policy:
        [target] = [t for t in scope.targets if t.account_id == lost_account]
        key = target.credentials.access_key_id
        seen: dict[str, int] = {}

        def policy(request: Request, attempt: int) -> Fault | None:
            if request.access_key == key:
                seen["n"] = seen.get("n", 0) + 1
                return Fault.DENY if seen["n"] > 1 else None
            return Fault.ERROR_503 if request.region == LOST_REGION else None

        return policy

    return org_scan(proxy, make=make)


def test_an_account_lost_mid_scan_and_a_failing_region_are_isolated(
    env: Env, lost_scan: Scan, clean: Scan
) -> None:
    lost_account = env.world.accounts["dev-a"]
    scan = lost_scan
    lost = scan.inventory.accounts[lost_account]
    assert isinstance(lost.trail_arns, Unknown) and lost.trail_arns.error_code.startswith("Access")
    mine, theirs = scan.findings(), clean.findings()
    others = {k for k in theirs if k[1] != lost_account}
    assert others <= mine.keys()
    assert verdict_violations(clean.report.findings, scan.report.findings) == []
    for key in others:
        if key[2] == LOST_REGION:
            assert mine[key]["status"] in (theirs[key]["status"], Status.ERROR.value), key
        elif mine[key]["status"] != theirs[key]["status"]:
            # Only what dev-a's unknown trails may touch (whether an account owns a key or log
            # group they use; who writes to a bucket): ERROR, naming dev-a (issue 17).
            assert mine[key]["status"] == Status.ERROR.value, key
            assert lost_account in mine[key]["reason"], key
        else:
            assert mine[key]["reason"] == theirs[key]["reason"], key
    # only the failing region's regional lists were lost (503 past the retries)
    assert set(scan.session.meter.lost()) == {"events:ListRules", "cloudtrail:ListEventDataStores"}
    assert all(
        isinstance(listing.event_rules, Unknown)
        for listing in scan.inventory.regional_listings.values()
        if listing.region == LOST_REGION and listing.account_id != lost_account
    )


def test_a_lost_accounts_trail_rules_say_error(env: Env, lost_scan: Scan, clean: Scan) -> None:
    lost_account = env.world.accounts["dev-a"]
    scan = lost_scan
    theirs = clean.findings()
    for key, finding in scan.findings().items():
        if key[1] == lost_account and key[0].startswith("CT.TRAIL."):
            assert finding["status"] in (theirs.get(key, {}).get("status"), "ERROR"), finding


def test_sigint_leaves_the_previous_report_whole_and_says_where_it_stopped(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    """Ctrl-C in the middle of a scan: exit 130, one line saying where the scan stopped, the
    previous report untouched, no temporary file left behind."""
    out = tmp_path / "reports"
    out.mkdir()
    previous = '{"previous": "complete report"}\n'
    (out / "report.json").write_text(previous)
    proxy.slow_seconds = 0.3
    proxy.policy = lambda request, attempt: Fault.SLOW  # every answer takes 0.3 s
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_ENDPOINT_URL": proxy.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    }
    argv = [sys.executable, "-m", "trailcheck", "scan", "--region", REGION, "--format"]
    argv += ["json,html", "--output-dir", str(out), "--max-workers", "2"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while proxy.stats["requests"] < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        proxy.slow_seconds = 0.02
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 130, lines
    assert len(lines) == 1 and lines[0].startswith("trailcheck: error: interrupted during stage")
    assert "no report written" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert (out / "report.json").read_text() == previous


def test_a_scan_that_lost_calls_exits_4_and_says_so(
    proxy: FaultProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No FAIL at the threshold, but a call still failed after every retry: exit code 4."""
    from trailcheck.cli import main
    from trailcheck.gate import EXIT_INCOMPLETE

    def unavailable(request: Request, attempt: int) -> Fault | None:
        return Fault.ERROR_503 if request.operation == "GetKeyRotationStatus" else None

    proxy.policy = unavailable
    argv = ["scan", "--region", REGION, "--format", "json", "--output-dir", str(tmp_path)]
    code = main([*argv, "--fail-on", "critical"])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["metadata"]["api_calls_lost"] == {"kms:GetKeyRotationStatus": 1}
    assert report["metadata"]["api_retries"] == {"kms:GetKeyRotationStatus": 7}
    rotation = [f for f in report["findings"] if f["rule_id"] == "CT.KMS.ROTATION"]
    assert rotation and all(f["status"] == "ERROR" for f in rotation)
    assert code == EXIT_INCOMPLETE == 4
    printed = " ".join(capsys.readouterr().out.split())
    assert "scan incomplete: 1 call(s) still failed after retries" in printed
