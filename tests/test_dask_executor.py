"""`--executor dask://`: scans and verify-logs on a real Dask cluster of worker *processes*.

One moto server (a child process, faithful to AWS) holds the organization of `org_world` plus
signed digest chains of the organization trail for four member accounts across midnight,
with tampering that only the merge of day shards can see (a deleted digest and a broken link,
both at a day boundary). One `LocalCluster` with two worker processes serves the module. Each
result is compared with the local executor's on the same input: inventories and findings of
an organization scan, and the verification report byte for byte (once with a worker killed
mid-run). Workers reach the server through AWS_ENDPOINT_URL and enter member accounts by
assuming roles themselves: nothing but plain shard data travels to them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from org_world import REGION, OrgWorld, build_org_world

from bench.org_bench import MotoServer, start_server
from trailcheck.engine import evaluate
from trailcheck.model import Inventory, Status, Unknown, iter_json
from trailcheck.reports.json_report import JsonReporter
from trailcheck.reports.verification import render_json
from trailcheck.rules import load_rules
from trailcheck.scanner.executor import Executor, LocalExecutor
from trailcheck.scanner.org import OrgScope, organization_targets
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession
from trailcheck.snapshot import load_inventory, load_report, write_files_atomic
from trailcheck.verify.keys import KeyRing, load_der_key
from trailcheck.verify.report import VerificationReport
from trailcheck.verify.run import VerifyOptions, verify_logs

distributed = pytest.importorskip("distributed")
from verify.cloudtrail_writer import CloudTrailWriter, new_private_key, pkcs1_der, s3_put  # noqa: E402

from trailcheck.scanner.dask_executor import DaskExecutor  # noqa: E402

FIRST_END = datetime(2026, 3, 1, 19, 0, 0, tzinfo=UTC)
HOURS = 10  # crosses midnight: two day-folders, so each chain is two shards
START = FIRST_END - timedelta(hours=1)
END = FIRST_END + timedelta(hours=HOURS - 2)
NOW = END + timedelta(hours=6)
CHAINS = ("management", "prod-a", "prod-b", "dev-a")


@dataclass(frozen=True)
class Stack:
    server: MotoServer
    world: OrgWorld
    key: rsa.RSAPrivateKey
    client: Any
    dask: DaskExecutor
    tampered: dict[str, str]


def _environment(mp: pytest.MonkeyPatch, endpoint: str) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        mp.delenv(name, raising=False)
    mp.setenv("AWS_ENDPOINT_URL", endpoint)
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", REGION)
    mp.setenv("AWS_CONFIG_FILE", "/nonexistent/trailcheck-test-config")
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/trailcheck-test-credentials")


def _write_chains(world: OrgWorld, key: rsa.RSAPrivateKey) -> dict[str, str]:
    """Signed hourly chains of the organization trail; returns what was tampered with."""
    archive = boto3.Session(region_name=REGION)
    s3 = _member_s3(archive, world.accounts["log-archive"])
    # moto's server applies the bucket policy (CloudTrail's only) to the owner's own reads and
    # writes, where AWS would let the owner in: this world's central bucket has none.
    s3.delete_bucket_policy(Bucket=world.central_bucket)
    tampered: dict[str, str] = {}  # account name -> S3 keys
    for name in CHAINS:
        writer = CloudTrailWriter(
            put=s3_put(s3, world.central_bucket),
            bucket=world.central_bucket,
            account_id=world.accounts[name],
            region=REGION,
            trail_name="org-trail",
            private_key=key,
            organization_id=world.organization_id,
        )
        digests = writer.write_hours(FIRST_END, HOURS, 2)
        before_midnight = next(d for d in digests if d.end.hour == 23)
        if name == "prod-a":  # the last digest of a day deleted: its successor is in the next
            s3.delete_object(Bucket=world.central_bucket, Key=before_midnight.key)
            tampered[name] = before_midnight.key
        if name == "prod-b":  # the first digest of a day records a wrong previous hash
            after = digests[digests.index(before_midnight) + 1]
            writer.previous = before_midnight
            writer.write_digest(after.start, after.end, [], previous_hash="0" * 64)
            # Invalid: the predecessor its link contradicts, and itself (rewritten, so its
            # successor's recorded hash no longer matches).
            tampered[name] = f"{before_midnight.key} {after.key}"
        if name == "dev-a":  # a log file rewritten
            log = digests[3].logs[0]
            s3.put_object(Bucket=world.central_bucket, Key=log.key, Body=b"tampered")
            tampered[name] = log.key
    return tampered


def _member_s3(base: boto3.Session, account_id: str) -> Any:
    from org_world import member

    return member(base, account_id).client("s3")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    server = start_server()
    with pytest.MonkeyPatch.context() as mp, ThreadPoolExecutor(1) as builder:
        _environment(mp, server.endpoint)
        key = new_private_key()
        # The world is built (HTTP calls to moto) while the cluster starts.
        built = builder.submit(lambda: _with_chains(build_org_world(), key))
        # Worker processes inherit this environment: the endpoint and the caller's chain.
        cluster = distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=2,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )
        client = distributed.Client(cluster)
        try:
            world, tampered = built.result()
            yield Stack(server, world, key, client, DaskExecutor("", client=client), tampered)
        finally:
            client.shutdown()
            client.close()
            cluster.close()
            server.close()


def _with_chains(world: OrgWorld, key: rsa.RSAPrivateKey) -> tuple[OrgWorld, dict[str, str]]:
    return world, _write_chains(world, key)


@pytest.fixture
def aws(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> AwsSession:
    _environment(monkeypatch, stack.server.endpoint)
    return AwsSession()


def _scope(session: AwsSession) -> OrgScope:
    return organization_targets(session, REGION, max_workers=4)


def _scan(executor: Executor, scope: OrgScope | None = None) -> tuple[Inventory, list[Any]]:
    session = AwsSession()
    scope = scope or _scope(session)
    inventory = collect(
        scope.targets,
        session,
        ScanOptions(regions=(REGION,), api_region=REGION, max_workers=4),
        organization_id=scope.organization.organization_id,
        management_account_id=scope.organization.management_account_id,
        skipped=scope.skipped,
        executor=executor,
    )
    return inventory, list(evaluate(inventory, load_rules()).findings)


def _timeless(inventory: Inventory) -> dict[str, Any]:
    """The inventory without the clock: scan times, and the delivery times moto's simulated
    trails report (it answers "now" for a logging trail)."""
    data = inventory.model_dump(mode="json")
    for name in ("started_at", "finished_at"):
        data["metadata"].pop(name)
    for trail in data["trails"].values():
        if isinstance(trail["status"], dict):
            for name in [n for n in trail["status"] if n.startswith("latest_")]:
                trail["status"][name] = trail["status"][name] and "<time>"
    return data


def _verdicts(findings: list[Any]) -> list[tuple[str, ...]]:
    """Each finding's verdict, with the moto delivery times in reasons masked."""
    return [
        (
            f.rule_id,
            f.status,
            f.account_id,
            f.region or "",
            f.resource_arn or "",
            _TIME.sub("<time>", f.reason),
        )
        for f in findings
    ]


_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\+00:00|Z)?")


def _verify(stack: Stack, executor: Executor) -> VerificationReport:
    session = AwsSession()
    scope = _scope(session)
    options = VerifyOptions(
        start=START,
        end=END,
        now=NOW,
        api_region=REGION,
        regions=(REGION,),
        keys=KeyRing([load_der_key(pkcs1_der(stack.key))]),
        max_workers=8,
        partition=scope.partition,
    )
    return verify_logs(
        scope.targets,
        session,
        options,
        organization_id=scope.organization.organization_id,
        management_account_id=scope.organization.management_account_id,
        skipped=scope.skipped,
        executor=executor,
    )


@pytest.fixture(scope="module")
def local_report(stack: Stack) -> str:
    """The verification report of the local executor (once for the module)."""
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, stack.server.endpoint)
        return render_json(_verify(stack, LocalExecutor()))


@pytest.fixture(scope="module")
def local_scan(stack: Stack) -> tuple[Inventory, list[Any]]:
    """The organization scanned by the local executor (once for the module)."""
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, stack.server.endpoint)
        return _scan(LocalExecutor())


def test_organization_scan_on_dask_equals_local(
    stack: Stack, aws: AwsSession, local_scan: tuple[Inventory, list[Any]]
) -> None:
    local_inventory, local_findings = local_scan
    remote_inventory, remote_findings = _scan(stack.dask)

    assert _timeless(remote_inventory) == _timeless(local_inventory)
    assert _verdicts(remote_findings) == _verdicts(local_findings)
    # The scan really read the members through their roles (not only the caller's account).
    assert stack.world.central_bucket in remote_inventory.buckets
    assert remote_inventory.metadata.api_calls["cloudtrail:ListTrails"] == 5  # entered accounts


def test_a_dask_scan_streams_byte_identical_snapshots_and_reports(
    stack: Stack, aws: AwsSession, tmp_path: Path
) -> None:
    """On Dask workers too, the streamed files are the in-memory documents: the snapshot
    byte for byte, the report through a snapshot (the offline path) byte for byte, and a
    version 1 report the very bytes of one `json.dumps` of the whole model."""
    inventory, _ = _scan(stack.dask)
    snapshot, live, offline = tmp_path / "snap.json", tmp_path / "live", tmp_path / "offline"
    write_files_atomic([(snapshot, iter_json(inventory))])
    whole = inventory.model_dump(mode="json")
    assert (
        snapshot.read_text()
        == json.dumps(whole, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    )
    report = evaluate(inventory, load_rules())
    again = evaluate(load_inventory(snapshot), load_rules())
    write_files_atomic([(live / "report.json", JsonReporter().chunks(report))])
    write_files_atomic([(offline / "report.json", JsonReporter().chunks(again))])
    assert (live / "report.json").read_bytes() == (offline / "report.json").read_bytes()
    assert load_report(live / "report.json") == report
    shared = json.loads((live / "report.json").read_text())["shared_evidence"]
    assert shared, "the members' views of the organization trail are stated once"
    v1 = report.model_copy(update={"schema_version": 1})
    in_memory = (
        json.dumps(v1.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    )
    assert "".join(JsonReporter().chunks(v1)) == in_memory


def test_verify_logs_on_dask_is_byte_identical_and_sees_cross_day_tampering(
    stack: Stack, aws: AwsSession, local_report: str
) -> None:
    remote = _verify(stack, stack.dask)

    assert render_json(remote) == local_report
    checks = {(c.account_id, c.trail_arn): c for c in remote.checks if c.verification is not None}
    ids = stack.world.accounts
    trail = stack.world.org_trail_arn
    management = checks[(ids["management"], trail)].verification
    assert management is not None and management.ok and management.digests_valid == HOURS
    prod_a = checks[(ids["prod-a"], trail)].verification
    prod_b = checks[(ids["prod-b"], trail)].verification
    dev_a = checks[(ids["dev-a"], trail)].verification
    assert prod_a is not None and prod_b is not None and dev_a is not None
    deleted = {p.s3_key: p.status for p in prod_a.problems if p.kind == "digest"}
    assert deleted == {stack.tampered["prod-a"]: "missing"}
    broken = {p.s3_key: p.status for p in prod_b.problems if p.kind == "digest"}
    assert broken == dict.fromkeys(stack.tampered["prod-b"].split(), "invalid")
    assert [p.s3_key for p in dev_a.problems] == [stack.tampered["dev-a"]]
    assert dev_a.log_files_modified == 1


def test_verify_logs_survives_a_worker_killed_mid_run(
    stack: Stack, aws: AwsSession, local_report: str
) -> None:
    before = stack.client.run(os.getpid)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["report"] = _verify(stack, stack.dask)
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and thread.is_alive() and time.monotonic() < deadline:
        busy = [w for w, keys in stack.client.processing().items() if keys]
        if busy and busy[0] in before:
            victim = busy[0]
        else:
            time.sleep(0.005)
    assert victim is not None, "no shard was ever seen running"
    os.kill(before[victim], signal.SIGKILL)
    thread.join(120)

    assert "error" not in outcome, outcome.get("error")
    assert render_json(outcome["report"]) == local_report
    assert before[victim] not in stack.client.run(os.getpid).values()


def test_a_shard_its_worker_cannot_enter_is_error_never_a_gap(
    stack: Stack, aws: AwsSession, local_scan: tuple[Inventory, list[Any]]
) -> None:
    session = AwsSession()
    scope = _scope(session)
    archive = stack.world.accounts["log-archive"]
    # The client entered log-archive, but the role the workers are told to assume is gone.
    targets = [
        replace(t, role_arn=f"arn:aws:iam::{archive}:role/Gone") if t.account_id == archive else t
        for t in scope.targets
    ]
    inventory, findings = _scan(stack.dask, replace(scope, targets=targets))

    owned = inventory.accounts[archive].bucket_names
    assert isinstance(owned, Unknown) and owned.error_code == "ShardFailed"
    assert "worker cannot enter account " + archive in owned.message
    # The central bucket's owner is unknown now: each of its verdicts is ERROR, none a guess.
    central = f"arn:aws:s3:::{stack.world.central_bucket}"
    remote = {f.rule_id: f.status for f in findings if f.resource_arn == central}
    local = {f.rule_id: f.status for f in local_scan[1] if f.resource_arn == central}
    # Every verdict the local scan gave is there (an unjudgeable bucket may add the ERROR of a
    # rule that is otherwise placed on its owner account).
    assert remote.keys() >= local.keys() and len(remote) > 5
    assert set(remote.values()) == {Status.ERROR}
    assert Status.ERROR not in local.values()


def test_workers_never_read_their_own_account_in_place_of_another(
    stack: Stack, aws: AwsSession
) -> None:
    scope = _scope(AwsSession())
    prod_a = stack.world.accounts["prod-a"]
    # Entered by the client, but with no role for the workers: they would use their own chain,
    # which is the management account's. They must refuse, not scan management as prod-a.
    (target,) = [replace(t, role_arn=None) for t in scope.targets if t.account_id == prod_a]
    inventory, _ = _scan(stack.dask, replace(scope, targets=[target]))

    trails = inventory.accounts[prod_a].trail_arns
    assert isinstance(trails, Unknown) and trails.error_code == "ShardFailed"
    assert f"worker credentials are for account {stack.world.management}" in trails.message
