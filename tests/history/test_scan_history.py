"""`trailcheck scan --history` end to end against moto: each scan recorded with the SHA-256 of
the report (and snapshot) it wrote, a logging change as a new interval."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import pytest
from test_cli import good_account

from trailcheck.cli import main
from trailcheck.history.store import open_store


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_scans_are_recorded_with_their_hashes_and_changes(
    boto: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good_account(boto)
    url = f"sqlite:///{tmp_path / 'history.db'}"
    scan = ["scan", "--region", "us-east-1", "--history", url]
    assert main([*scan, "--output-dir", str(tmp_path / "a")]) == 0
    assert "history: scan 1 recorded" in capsys.readouterr().out
    boto.client("cloudtrail").stop_logging(Name="main")
    snapshot = tmp_path / "snap.json"
    code = main([*scan, "--output-dir", str(tmp_path / "b"), "--snapshot", str(snapshot), "-q"])
    assert code == 1  # the trail stopped logging
    assert capsys.readouterr().out == ""

    store = open_store(url)
    first, second = store.scans()
    assert first.report_sha256 == sha(tmp_path / "a" / "report.json")
    assert first.snapshot_sha256 is None
    assert second.report_sha256 == sha(tmp_path / "b" / "report.json")
    assert second.snapshot_sha256 == sha(snapshot)
    logging = [
        i
        for i in store.intervals(first.started_at, second.started_at)
        if i.rule_id == "CT.TRAIL.LOGGING"
    ]
    assert [(i.status, i.ended_at) for i in logging] == [
        ("PASS", second.started_at),
        ("FAIL", None),
    ]
    store.close()


def test_a_bad_history_url_fails_before_any_aws_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--history", "mysql://db/x"]) == 2
    assert "is not a history URL" in capsys.readouterr().err
