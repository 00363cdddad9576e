"""`trailcheck events` piped: the change events as CSV with a header (or JSON) on stdout, the
status lines on stderr; times and ARNs whole."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import boto3
import pytest
from test_logfiles import BUCKET, MEMBER_A, MEMBER_B, ORG, TRAIL_ARN, write_org_logs
from verify.cloudtrail_writer import s3_put

from trailcheck.cli import main

WINDOW = ["--start", "2026-11-03T09:00:00Z", "--end", "2026-11-03T12:00:00Z"]


def _args(tmp_path: Path) -> list[str]:
    args = ["events", "--trail", TRAIL_ARN, "--bucket", BUCKET, "--organization-id", ORG]
    return [*args, "--account", f"{MEMBER_A},{MEMBER_B}", "--output-dir", str(tmp_path), *WINDOW]


@pytest.fixture
def logs(boto: boto3.Session) -> None:
    s3 = boto.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    write_org_logs(s3_put(s3, BUCKET))


def test_events_piped_is_csv_with_a_header_and_whole_values(
    logs: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(tmp_path)) == 0
    out = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.out)))
    saved = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [r["when_utc"] for r in rows] == [e["event_time"] for e in saved]
    assert [r["event"] for r in rows] == [e["event_name"] for e in saved]
    assert all(r["when_utc"].endswith("Z") and len(r["when_utc"]) >= 20 for r in rows)
    assert "change event(s) from" in out.err  # status lines kept off stdout


def test_events_as_json(logs: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_args(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and set(rows[0]) == {
        "when_utc",
        "event",
        "failed",
        "who",
        "from",
        "account",
        "region",
        "resources",
    }
