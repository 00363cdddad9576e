"""Install trailcheck as a user does and run it: the wheel, a fresh venv, no extras.

Run from .ci/run with the dev environment's Python (`.venv/bin/python .ci/clean_install_check.py`):

1. builds the wheel (`pip wheel --no-deps .`);
2. installs it, with no extras, into a new venv that holds nothing else;
3. runs `trailcheck --help` and `trailcheck --version` from that venv;
4. starts a moto server from the dev environment (bench.org_bench.start_server: a child
   process inside faithful_moto), builds one account with a weak trail in it, runs
   `trailcheck scan` from the clean venv against it (AWS_ENDPOINT_URL, fake credentials) and
   checks the exit code (1: a FAIL at or above low), that report.json was written and that it
   judged the trail: CT.TRAIL.LOG_VALIDATION FAIL names it.

Any deviation raises SystemExit with a message: CI fails loudly. The server is always stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
TRAIL = "ci-weak-trail"
BUCKET = "ci-clean-install-logs"


def fail(message: str) -> None:
    raise SystemExit(f"clean-install check FAILED: {message}")


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output, print what ran."""
    print("+ " + " ".join(argv), flush=True)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)


def must(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = run(argv, env)
    if result.returncode != 0:
        fail(f"{argv[0]} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def build_wheel(out: Path) -> Path:
    must([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)])
    wheels = sorted(out.glob("trailcheck-*.whl"))
    if len(wheels) != 1:
        fail(f"expected one trailcheck wheel in {out}, found {wheels}")
    return wheels[0]


def clean_venv(where: Path, wheel: Path) -> Path:
    """A venv with only the wheel and its declared dependencies; returns its bin directory."""
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    bin_dir = where / "bin"
    must([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)])
    installed = must([str(bin_dir / "python"), "-m", "pip", "list", "--format", "freeze"]).stdout
    names = {line.split("==")[0].lower() for line in installed.splitlines()}
    if "moto" in names:  # the check is meaningless if the demo extra came along
        fail("moto is installed in the clean venv")
    return bin_dir


def build_account(endpoint: str) -> None:
    """One account: a trail that logs but has no log file validation (a FAIL)."""
    import boto3

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    trails = session.client("cloudtrail", endpoint_url=endpoint)
    trails.create_trail(Name=TRAIL, S3BucketName=BUCKET, IsMultiRegionTrail=True)
    trails.start_logging(Name=TRAIL)


def scan(bin_dir: Path, endpoint: str, out: Path) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/ci-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/ci-credentials",
    }
    env.pop("PYTHONPATH", None)  # nothing from the checkout may leak into the clean venv
    argv = [str(bin_dir / "trailcheck"), "scan", "--region", REGION, "--format", "json,html"]
    result = run([*argv, "--output-dir", str(out)], env)
    if "Traceback" in result.stderr or result.returncode not in (0, 1):
        fail(f"scan exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.returncode


def check_report(out: Path, code: int) -> None:
    path = out / "report.json"
    if not path.is_file():
        fail(f"{path} was not written")
    if not (out / "report.html").is_file():
        fail(f"{out / 'report.html'} was not written")
    report = json.loads(path.read_text(encoding="utf-8"))
    hits = [
        f
        for f in report["findings"]
        if f["rule_id"] == "CT.TRAIL.LOG_VALIDATION" and TRAIL in (f.get("resource_arn") or "")
    ]
    if [f["status"] for f in hits] != ["FAIL"]:
        fail(f"expected one CT.TRAIL.LOG_VALIDATION FAIL on {TRAIL}, got {hits}")
    if code != 1:
        fail(f"scan with a FAIL at or above low exited {code}, expected 1")
    print(f"clean install: scan exited {code}, {len(report['findings'])} findings in {path}")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.org_bench import start_server

    with tempfile.TemporaryDirectory(prefix="trailcheck-clean-install-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "dist")
        bin_dir = clean_venv(work / "venv", wheel)
        must([str(bin_dir / "trailcheck"), "--help"])
        version = must([str(bin_dir / "trailcheck"), "--version"]).stdout.strip()
        print(f"clean install: {wheel.name} -> {version}")
        server = start_server()
        try:
            build_account(server.endpoint)
            code = scan(bin_dir, server.endpoint, work / "report")
        finally:
            server.close()
        check_report(work / "report", code)


if __name__ == "__main__":
    main()
