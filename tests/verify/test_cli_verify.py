"""`trailcheck verify-logs` end to end: moto CloudTrail and S3 through our session layer, digest
chains written and signed by `cloudtrail_writer`, the real CLI entry point.

ListPublicKeys (moto: not implemented) answers through `faithful_moto(public_keys=...)` with the
public half of the key the writer signs with, as AWS answers with the key CloudTrail signs with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from cloudtrail_writer import (
    CloudTrailWriter,
    WrittenDigest,
    key_fingerprint,
    pkcs1_der,
    s3_put,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws
from verify_scenario import FIRST_END, REGION

from trailcheck.cli import main
from trailcheck.demo.moto_fidelity import SigningPublicKey, faithful_moto
from trailcheck.reports.verification import render_json
from trailcheck.verify.report import VerificationReport
from trailcheck.verify.run import split_workers

ACCOUNT = "123456789012"  # moto's default account: the caller
BUCKET = "verify-cli-bucket"
TRAIL = "main"
HOURS = 3
LOGS_PER_HOUR = 2
START = FIRST_END - timedelta(hours=1)
END = FIRST_END + timedelta(hours=HOURS - 1)
WINDOW = ["--start", f"{START:%Y-%m-%dT%H:%M:%SZ}", "--end", f"{END:%Y-%m-%dT%H:%M:%SZ}"]


@dataclass(frozen=True)
class World:
    s3: Any
    trail_arn: str
    digests: list[WrittenDigest]


@pytest.fixture
def registered_key(signing_key: rsa.RSAPrivateKey) -> rsa.RSAPrivateKey | None:
    """The key ListPublicKeys returns in REGION (override with parametrize: None = no key)."""
    return signing_key


@pytest.fixture
def world(
    signing_key: rsa.RSAPrivateKey, registered_key: rsa.RSAPrivateKey | None
) -> Iterator[World]:
    """One trail with validation on and three hours of signed digests in moto."""
    keys = {}
    if registered_key is not None:
        public = SigningPublicKey(
            pkcs1_der(registered_key), FIRST_END - timedelta(days=30), FIRST_END + timedelta(days=1)
        )
        keys = {REGION: [public]}
    with mock_aws(), faithful_moto(public_keys=keys):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        cloudtrail = boto3.client("cloudtrail", region_name=REGION)
        created = cloudtrail.create_trail(
            Name=TRAIL, S3BucketName=BUCKET, EnableLogFileValidation=True
        )
        arn = created["TrailARN"]
        writer = CloudTrailWriter(
            put=s3_put(s3, BUCKET),
            bucket=BUCKET,
            account_id=ACCOUNT,
            region=REGION,
            trail_name=TRAIL,
            private_key=signing_key,
        )
        yield World(s3, arn, writer.write_hours(FIRST_END, HOURS, LOGS_PER_HOUR))


def _run(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "out"
    code = main(["verify-logs", *args, "--region", REGION, "--output-dir", str(out)])
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return code, report


def _pem(tmp_path: Path, key: rsa.RSAPrivateKey) -> str:
    path = tmp_path / "key.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return str(path)


def test_all_valid_exit_0_with_counts_and_list_public_keys(
    world: World, tmp_path: Path, signing_key: rsa.RSAPrivateKey, capsys: Any
) -> None:
    code, report = _run(tmp_path, *WINDOW)

    assert code == 0
    summary = report["summary"]
    assert (summary["checks"], summary["ok"], summary["errors"]) == (1, 1, 0)
    assert summary["digests_valid"] == HOURS
    assert summary["log_files_valid"] == HOURS * LOGS_PER_HOUR
    (check,) = report["checks"]
    assert (check["trail_arn"], check["account_id"], check["region"]) == (
        world.trail_arn,
        ACCOUNT,
        REGION,
    )
    assert check["status"] == "ok" and check["read_as"] == ACCOUNT
    assert {d["fingerprint"] for d in check["verification"]["digests"]} == {
        key_fingerprint(signing_key)
    }
    meta = report["metadata"]
    assert meta["key_source"] == "ListPublicKeys"
    assert meta["window"] == {"start": "2026-02-28T21:01:31Z", "end": "2026-03-01T00:01:31Z"}
    assert meta["api_calls"]["cloudtrail:ListPublicKeys"] == 1
    assert meta["api_calls"]["s3:GetObject"] == HOURS + HOURS * LOGS_PER_HOUR
    # The JSON is the model's deterministic rendering, and the HTML is escaped and offline.
    text = (tmp_path / "out" / "report.json").read_text()
    assert render_json(VerificationReport.model_validate_json(text)) == text
    html = (tmp_path / "out" / "report.html").read_text()
    assert world.trail_arn in html and "<script" not in html
    assert f"OK       {world.trail_arn} {ACCOUNT} {REGION}" in capsys.readouterr().out


def test_one_log_byte_changed_exit_1_naming_the_key(
    world: World, tmp_path: Path, signing_key: rsa.RSAPrivateKey, capsys: Any
) -> None:
    import gzip

    tampered = world.digests[1].logs[0].key
    body = gzip.decompress(world.s3.get_object(Bucket=BUCKET, Key=tampered)["Body"].read())
    world.s3.put_object(
        Bucket=BUCKET, Key=tampered, Body=gzip.compress(body.replace(b"GetObject", b"GetObjecT", 1))
    )

    code, report = _run(tmp_path, *WINDOW)

    assert code == 1
    assert report["summary"]["log_files_modified"] == 1
    (problem,) = report["checks"][0]["verification"]["problems"]
    assert problem["s3_key"] == tampered and problem["status"] == "modified"
    assert problem["fingerprint"] == key_fingerprint(signing_key)
    assert "hash value doesn't match" in problem["reason"]
    out = capsys.readouterr().out
    assert "FAILED" in out and tampered in out


def test_public_key_pem_verifies_offline(
    world: World, tmp_path: Path, signing_key: rsa.RSAPrivateKey
) -> None:
    code, report = _run(tmp_path, *WINDOW, "--public-key", _pem(tmp_path, signing_key))

    assert code == 0
    assert report["metadata"]["key_source"] == "files"
    assert report["metadata"]["key_fingerprints"] == [key_fingerprint(signing_key)]
    assert "cloudtrail:ListPublicKeys" not in report["metadata"]["api_calls"]


def test_key_given_is_not_the_signing_key_digests_unverifiable(
    world: World, tmp_path: Path, other_key: rsa.RSAPrivateKey
) -> None:
    code, report = _run(tmp_path, *WINDOW, "--public-key", _pem(tmp_path, other_key))

    assert code == 1
    summary = report["summary"]
    assert (summary["digests_unverifiable"], summary["digests_valid"]) == (HOURS, 0)
    assert summary["log_files_unverified"] == HOURS * LOGS_PER_HOUR
    assert summary["log_files_valid"] == 0


@pytest.mark.parametrize("registered_key", [None])
def test_no_public_key_in_the_region_digests_unverifiable(world: World, tmp_path: Path) -> None:
    code, report = _run(tmp_path, *WINDOW)

    assert code == 1
    assert report["summary"]["digests_unverifiable"] == HOURS
    problem = report["checks"][0]["verification"]["problems"][0]
    assert "public key not found for fingerprint" in problem["reason"]


def test_empty_window_is_missing_and_exit_1(world: World, tmp_path: Path) -> None:
    code, report = _run(
        tmp_path, "--start", "2026-02-20T00:00:00Z", "--end", "2026-02-20T06:00:00+00:00"
    )

    assert code == 1
    (check,) = report["checks"]
    assert check["status"] == "failed"
    assert report["summary"]["digests_missing"] == 1 and report["summary"]["gaps"] == 1
    assert "no digest file found" in check["verification"]["problems"][0]["reason"]


def test_unknown_trail_arn_is_a_clear_error(world: World, tmp_path: Path, capsys: Any) -> None:
    unknown = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/nope"

    code, _ = _run(tmp_path, *WINDOW, "--trail", unknown)

    assert code == 2
    err = capsys.readouterr().err
    assert f"--trail: {unknown} is not a trail of account {ACCOUNT}" in err
    assert world.trail_arn in err and err.count("\n") == 1


def test_trail_flag_verifies_only_that_trail(world: World, tmp_path: Path) -> None:
    boto3.client("cloudtrail", region_name=REGION).create_trail(Name="other", S3BucketName=BUCKET)

    code, report = _run(tmp_path, *WINDOW, "--trail", world.trail_arn)

    assert code == 0
    assert [c["trail_arn"] for c in report["checks"]] == [world.trail_arn]
    assert report["metadata"]["requested_trails"] == [world.trail_arn]


def test_trail_without_validation_is_reported_not_ok(world: World, tmp_path: Path) -> None:
    other = boto3.client("cloudtrail", region_name=REGION).create_trail(
        Name="plain", S3BucketName=BUCKET
    )["TrailARN"]

    code, report = _run(tmp_path, *WINDOW)

    assert code == 1
    statuses = {c["trail_arn"]: c["status"] for c in report["checks"]}
    assert statuses == {world.trail_arn: "ok", other: "validation_disabled"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "yesterday"], "--start: 'yesterday' is not an ISO 8601 time"),
        (["--start", "2026-11-21T10:00:00"], "needs a time and a zone"),
        (["--end", "2026-11-21"], "--end: '2026-11-21' needs a time and a zone"),
        (
            ["--start", "2026-11-21T10:00:00Z", "--end", "2026-11-21T09:00:00Z"],
            "is not before --end",
        ),
        (["--trail", "arn:aws:s3:::bucket"], "--trail: 'arn:aws:s3:::bucket' is not a trail ARN"),
        (
            ["--org", "--trail", f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/x"],
            "--trail: not with --org",
        ),
        (["--public-key", "/nonexistent/key.pem"], "--public-key: /nonexistent/key.pem:"),
        (["--format", "sarif"], "--format: unknown verify-logs format 'sarif'"),
        (["--accounts", "111111111111"], "--accounts: only meaningful with --org"),
        (["--region", "mars"], "--region: 'mars' is not an AWS region"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, capsys: Any) -> None:
    assert main(["verify-logs", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_file_that_is_not_a_key_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")

    assert main(["verify-logs", "--public-key", str(bad)]) == 2
    assert "--public-key" in capsys.readouterr().err


def test_split_workers_keeps_requests_in_flight_near_max_workers() -> None:
    assert split_workers(16, 1) == (1, 16)
    assert split_workers(16, 2) == (2, 8)
    assert split_workers(16, 100) == (4, 4)
    assert split_workers(2, 100) == (1, 2)


def test_org_trail_verified_per_member_account(
    tmp_path: Path, signing_key: rsa.RSAPrivateKey
) -> None:
    from org_world import build_org_world, member

    with mock_aws(), faithful_moto():
        world = build_org_world()
        accounts = world.accounts
        archive_s3 = member(boto3.Session(region_name=REGION), accounts["log-archive"]).client("s3")
        # moto judges the policy's aws:SecureTransport deny true for its in-process requests;
        # the policy is not what this test is about.
        archive_s3.delete_bucket_policy(Bucket=world.central_bucket)
        for name in ("management", "prod-a"):
            CloudTrailWriter(
                put=s3_put(archive_s3, world.central_bucket),
                bucket=world.central_bucket,
                account_id=accounts[name],
                region=REGION,
                trail_name="org-trail",
                private_key=signing_key,
                organization_id=world.organization_id,
            ).write_hours(FIRST_END, HOURS, 1)

        code, report = _run(tmp_path, *WINDOW, "--org", "--public-key", _pem(tmp_path, signing_key))

    assert code == 1
    org_checks = {
        c["account_id"]: c for c in report["checks"] if c["trail_arn"] == world.org_trail_arn
    }
    # Every ACTIVE account's chain, the unreachable one included (read from the bucket owner).
    expected = {accounts[n] for n in ("management", "log-archive", "prod-a", "prod-b", "dev-a")}
    assert set(org_checks) == expected | {accounts["orphan"]}
    assert {a for a, c in org_checks.items() if c["status"] == "ok"} == {
        accounts["management"],
        accounts["prod-a"],
    }
    for check in org_checks.values():
        assert check["read_as"] == accounts["log-archive"]
        assert check["organization_id"] == world.organization_id
        assert check["verification"]["bucket"] == world.central_bucket
    missing = org_checks[accounts["prod-b"]]
    assert missing["status"] == "failed" and missing["verification"]["digests_missing"] == 1
    assert (
        f"AWSLogs/{world.organization_id}/{accounts['prod-b']}/CloudTrail-Digest/"
        in (missing["verification"]["problems"][0]["s3_key"])
    )
    dev = next(c for c in report["checks"] if c["trail_arn"] == world.dev_trail_arn)
    assert dev["status"] == "validation_disabled"
    assert [e["subject"] for e in report["errors"]] == [accounts["orphan"]]
    assert report["metadata"]["organization_id"] == world.organization_id
    assert [s["account_id"] for s in report["metadata"]["skipped_accounts"]] == [accounts["closed"]]
