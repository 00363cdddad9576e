"""Ctrl-C during `scan --who` after every account was collected: the findings are written in
every format, marked incomplete, the who-lookup said to be interrupted; exit 130."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.cloudtrail import responses as ct_responses
from test_cli_who import stopped_trail

from trailcheck.cli import main

FORMATS = "json,html,sarif,junit,md,csv,ocsf"


def _press_ctrl_c_on_lookup(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The simulated AWS: the user presses Ctrl-C while LookupEvents is being answered (the
    interrupt reaches trailcheck where a real one would: in the call that is waiting)."""
    calls: list[int] = []

    def interrupted(self: Any) -> Any:
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(ct_responses.CloudTrailResponse, "lookup_events", interrupted)
    return calls


def test_ctrl_c_in_the_who_lookup_writes_every_format_marked_incomplete(
    boto: boto3.Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopped_trail(boto)
    calls = _press_ctrl_c_on_lookup(monkeypatch)
    out = tmp_path / "out"
    args = ["scan", "--region", "us-east-1", "--who", "--output-dir", str(out)]
    assert main([*args, "--format", FORMATS]) == 130
    assert calls  # the lookup had started: collection was complete
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "trailcheck: error: the who-lookup (--who, CloudTrail LookupEvents) was interrupted "
        "(Ctrl-C); the findings were written, marked incomplete"
    )
    report = json.loads((out / "report.json").read_text())
    assert "who-lookup" in report["metadata"]["interrupted"]
    logging = next(f for f in report["findings"] if f["rule_id"] == "CT.TRAIL.LOGGING")
    assert logging["status"] == "FAIL"  # judged from the complete collection
    assert "last_change" not in logging["evidence"]  # no half-answered lookup is shown
    note = "incomplete: the who-lookup"
    assert note in (out / "report.html").read_text()
    assert note in (out / "report.md").read_text()
    sarif = json.loads((out / "report.sarif").read_text())
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert note in invocation["toolExecutionNotifications"][0]["message"]["text"]
    junit = ET.fromstring((out / "report.junit.xml").read_text())
    (error,) = junit.findall("testsuite[@name='trailcheck']/testcase/error")
    assert error.get("message", "").startswith(note)
    events = json.loads((out / "report.ocsf.json").read_text())
    assert all(note in " ".join(e["metadata"]["labels"]) for e in events)
    assert (out / "report.csv").read_text().count("CT.TRAIL.LOGGING") >= 1


def test_ctrl_c_in_collect_who_writes_the_snapshot_marked_and_exits_130(
    boto: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped_trail(boto)
    _press_ctrl_c_on_lookup(monkeypatch)
    snap = tmp_path / "snap.json"
    assert main(["collect", "--region", "us-east-1", "--who", "-q", "-o", str(snap)]) == 130
    assert "who-lookup" in json.loads(snap.read_text())["metadata"]["interrupted"]
