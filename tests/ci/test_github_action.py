"""The GitHub Action: its script (the steps that are trailcheck's) run as the action runs it,
in a subprocess against a moto server; and action.yml wires that script, SARIF upload, the
baseline artifact and the failing step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml

from trailcheck.demo.moto_server import MotoProcess, start_moto_server

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@pytest.fixture(scope="module")
def server() -> Iterator[MotoProcess]:
    started = start_moto_server()
    try:
        yield started
    finally:
        started.close()


def _aws(server: MotoProcess) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


def _trail(server: MotoProcess, name: str, *, logging: bool) -> None:
    boto = _aws(server)
    s3 = boto.client("s3", endpoint_url=server.endpoint)
    s3.create_bucket(Bucket=f"{name}-logs")
    ct = boto.client("cloudtrail", endpoint_url=server.endpoint)
    ct.create_trail(Name=name, S3BucketName=f"{name}-logs", IsMultiRegionTrail=True)
    if logging:
        ct.start_logging(Name=name)


def _run_action(server: MotoProcess, work: Path, **inputs: str) -> tuple[int, dict[str, str]]:
    """Run the action's scan step: `python -m trailcheck.ci.github_action` with its env."""
    summary, outputs = work / "summary.md", work / "outputs.txt"
    summary.write_text("")
    outputs.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(work),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/trailcheck-test-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/trailcheck-test-credentials",
        "AWS_ENDPOINT_URL": server.endpoint,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "TRAILCHECK_ARGS": f"--region {REGION}",
        "TRAILCHECK_OUTPUT_DIR": "trailcheck-report",
        "TRAILCHECK_BASELINE": ".trailcheck-baseline/baseline.json",
        **inputs,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "trailcheck.ci.github_action"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = outputs.read_text().splitlines()
    return proc.returncode, dict(line.split("=", 1) for line in lines if "=" in line)


def test_first_run_adopts_the_baseline_later_runs_fail_only_on_new_failures(
    server: MotoProcess, tmp_path: Path
) -> None:
    _trail(server, "stopped", logging=False)
    code, outputs = _run_action(server, tmp_path)
    assert code == 0
    assert outputs["exit-code"] == "0"  # today's failures adopted: nothing new
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## trailcheck")
    assert "this run's failures were adopted as the baseline" in summary
    baseline = tmp_path / ".trailcheck-baseline" / "baseline.json"
    kept = baseline.read_bytes()
    assert json.loads(kept)["entries"]  # the stopped trail's failures
    sarif = json.loads((tmp_path / outputs["sarif"]).read_text())
    assert sarif["runs"][0]["results"]  # uploaded to code scanning by the next step

    _trail(server, "second", logging=False)  # a regression
    code, outputs = _run_action(server, tmp_path)
    assert code == 0 and outputs["exit-code"] == "1"  # the last step fails the job with 1
    summary = (tmp_path / "summary.md").read_text()
    assert "new failure(s)" in summary and "kept from an earlier run" in summary
    assert baseline.read_bytes() == kept  # the baseline is kept, never re-adopted


def test_without_baseline_every_failure_counts_and_fail_on_is_honoured(
    server: MotoProcess, tmp_path: Path
) -> None:
    _trail(server, "plain", logging=False)
    code, outputs = _run_action(server, tmp_path, TRAILCHECK_BASELINE="")
    assert code == 0 and outputs["exit-code"] == "1"
    code, outputs = _run_action(
        server, tmp_path, TRAILCHECK_BASELINE="", TRAILCHECK_FAIL_ON="critical"
    )
    assert outputs["exit-code"] in ("0", "4")  # nothing critical fails (4: a call was lost)


def test_bad_input_fails_the_step_and_says_so_in_the_summary(
    server: MotoProcess, tmp_path: Path
) -> None:
    code, outputs = _run_action(server, tmp_path, TRAILCHECK_FAIL_ON="bogus")
    assert code == 2 and outputs == {}
    assert "could not run (exit 2)" in (tmp_path / "summary.md").read_text()


def test_action_yml_wires_the_script_sarif_baseline_and_the_failing_step() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    scan = next(s for s in steps if s.get("id") == "scan")
    assert scan["run"] == "python -m trailcheck.ci.github_action"
    script = (ROOT / "trailcheck" / "ci" / "github_action.py").read_text()
    read = {name for name in scan["env"] if name in script}
    assert read == set(scan["env"])  # every input the step passes, the script reads
    uses = {s.get("uses", "").split("@")[0] for s in steps}
    assert {"github/codeql-action/upload-sarif", "actions/upload-artifact"} <= uses
    keep = next(s for s in steps if s.get("name") == "Keep the baseline")
    assert keep["with"]["name"] == "trailcheck-baseline"
    assert steps[-1]["run"] == 'exit "${CODE:-3}"'
    example = yaml.safe_load((ROOT / "docs" / "examples" / "github-workflow.yml").read_text())
    assert example["permissions"]["id-token"] == "write"
    job_steps = example["jobs"]["trailcheck"]["steps"]
    assert job_steps[0]["uses"].startswith("aws-actions/configure-aws-credentials@")
