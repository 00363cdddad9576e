"""`scan --who` end to end against moto, and `evaluate` of its snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from trailcheck.cli import main
from trailcheck.model import expand_shared_evidence


def stopped_trail(boto: boto3.Session) -> None:
    boto.client("s3").create_bucket(Bucket="who-trail-logs")
    ct = boto.client("cloudtrail")
    ct.create_trail(Name="main", S3BucketName="who-trail-logs")
    ct.start_logging(Name="main")
    ct.stop_logging(Name="main")


def _finding(report: dict, rule_id: str) -> dict:
    return next(f for f in report["findings"] if f["rule_id"] == rule_id)


def test_scan_who_names_the_change_in_every_format(
    boto: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stopped_trail(boto)
    out, snap = tmp_path / "out", tmp_path / "snap.json"
    args = ["scan", "--region", "us-east-1", "--who", "-q", "--output-dir", str(out)]
    args += ["--format", "json,sarif,md,ocsf,html", "--snapshot", str(snap)]
    assert main(args) == 1
    # report.json v2: a change shared by findings of one trail is stated once; read expanded
    report = expand_shared_evidence(json.loads((out / "report.json").read_text()))
    logging = _finding(report, "CT.TRAIL.LOGGING")
    change = logging["evidence"]["last_change"]
    assert change["event_name"] == "StopLogging" and change["is_root"] is True
    assert change["principal_arn"] == "arn:aws:iam::123456789012:root"
    assert "changed by the root user" in logging["reason"]
    assert logging["evidence"]["change_lookup"]["state"] == "found"
    # created without validation, never changed: the CreateTrail is the cause (issue 17:
    # blame by cause; before, the rule followed UpdateTrail only and found nothing)
    validation = _finding(report, "CT.TRAIL.LOG_VALIDATION")
    assert validation["evidence"]["last_change"]["event_name"] == "CreateTrail"
    assert validation["problems"] == ["trail.validation_off"]
    assert report["metadata"]["api_calls"]["cloudtrail:LookupEvents"] >= 1
    for name in ("report.sarif", "report.md", "report.ocsf.json", "report.html"):
        assert "StopLogging" in (out / name).read_text(), name
    # the snapshot carries the histories: evaluating it offline gives the same findings
    again = tmp_path / "again"
    assert main(["evaluate", str(snap), "-q", "--format", "json", "--output-dir", str(again)]) == 1
    offline = expand_shared_evidence(json.loads((again / "report.json").read_text()))
    assert offline["findings"] == report["findings"]


def test_who_budget_zero_says_who_is_unknown(boto: boto3.Session, tmp_path: Path) -> None:
    stopped_trail(boto)
    args = ["scan", "--region", "us-east-1", "--who", "--who-budget", "0", "-q"]
    assert main([*args, "--format", "json", "--output-dir", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    logging = _finding(report, "CT.TRAIL.LOGGING")
    assert logging["evidence"]["change_lookup"]["state"] == "incomplete"
    assert "could not look up: " in logging["reason"]  # issue 17's wording
    assert "cloudtrail:LookupEvents" not in report["metadata"]["api_calls"]


def test_who_budget_without_who_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["scan", "--who-budget", "5", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "trailcheck: error: --who-budget: only meaningful with --who"
