"""The steps of the trailcheck GitHub Action (action.yml) that are trailcheck's, as one script.

`python -m trailcheck.ci.github_action` scans with the job's AWS credentials, keeps a baseline
(the previous run's, fetched by the action; on the first run, adopted from this run's findings),
writes the Markdown summary to $GITHUB_STEP_SUMMARY and the step outputs to $GITHUB_OUTPUT.
It exits 0 when trailcheck ran (the outputs carry its exit code, so the SARIF upload and the
baseline artifact steps still run; the action's last step fails the job with that code), and
with trailcheck's code when it could not run at all.

Inputs come from the environment (the action maps its inputs to these):

| variable | meaning |
|---|---|
| TRAILCHECK_ARGS | extra `trailcheck scan` arguments (e.g. `--org --region us-east-1`) |
| TRAILCHECK_FAIL_ON | `--fail-on` (default: the config's, else low) |
| TRAILCHECK_STRICT | `true`: `--strict` |
| TRAILCHECK_OUTPUT_DIR | report directory (default trailcheck-report) |
| TRAILCHECK_BASELINE | baseline file to use and keep (empty: no baseline) |
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trailcheck.cli import main as trailcheck

FORMATS = "json,html,sarif,md"
DEFAULT_OUTPUT_DIR = "trailcheck-report"
# trailcheck's exit codes after which the reports were written (0 pass, 1 fail, 4 incomplete,
# 130 interrupted after collection); 2 and 3 mean it could not run
WROTE_REPORTS = (0, 1, 4, 130)


@dataclass(frozen=True)
class Inputs:
    args: list[str]
    fail_on: str | None
    strict: bool
    output_dir: Path
    baseline: Path | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Inputs:
        baseline = env.get("TRAILCHECK_BASELINE", "").strip()
        return cls(
            args=shlex.split(env.get("TRAILCHECK_ARGS", "")),
            fail_on=env.get("TRAILCHECK_FAIL_ON", "").strip() or None,
            strict=env.get("TRAILCHECK_STRICT", "").strip().lower() == "true",
            output_dir=Path(env.get("TRAILCHECK_OUTPUT_DIR", "").strip() or DEFAULT_OUTPUT_DIR),
            baseline=Path(baseline) if baseline else None,
        )


def _gate_flags(inputs: Inputs) -> list[str]:
    flags = ["--fail-on", inputs.fail_on] if inputs.fail_on else []
    return flags + (["--strict"] if inputs.strict else [])


def run(env: Mapping[str, str]) -> tuple[int, list[str]]:
    """Scan (and judge against the baseline); return trailcheck's exit code and the summary's
    extra lines. Files: the reports in the output dir, the baseline kept/adopted."""
    inputs = Inputs.from_env(env)
    out = inputs.output_dir
    notes: list[str] = []
    scan = ["scan", *inputs.args, "--format", FORMATS, "--output-dir", str(out)]
    scan += _gate_flags(inputs)
    baseline = inputs.baseline
    if baseline is None or baseline.exists():
        if baseline is not None:
            scan += ["--baseline", str(baseline)]
            notes.append(f"Compared with the baseline kept from an earlier run (`{baseline}`).")
        return trailcheck(scan), notes
    # First run: scan, adopt today's failures as the baseline, judge the same inventory
    # against it (no second scan).
    snapshot = out / "inventory.json"
    code = trailcheck([*scan, "--snapshot", str(snapshot), "-q"])
    if code not in WROTE_REPORTS or not snapshot.exists():
        return code, notes
    baseline.parent.mkdir(parents=True, exist_ok=True)
    created = trailcheck(["baseline", "create", str(out / "report.json"), "-o", str(baseline)])
    if created != 0:
        return created, notes
    judge = ["evaluate", str(snapshot), "--format", FORMATS, "--output-dir", str(out)]
    code = trailcheck([*judge, "--baseline", str(baseline), *_gate_flags(inputs)])
    notes.append(
        f"**No baseline yet: this run's failures were adopted as the baseline (`{baseline}`).** "
        "Later runs fail only on new failures; fix or waive the adopted ones."
    )
    return code, notes


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    code, notes = run(env)
    inputs = Inputs.from_env(env)
    report_md = inputs.output_dir / "report.md"
    if code not in WROTE_REPORTS or not report_md.exists():
        _append(env.get("GITHUB_STEP_SUMMARY"), f"## trailcheck could not run (exit {code})\n")
        return code
    summary = report_md.read_text(encoding="utf-8")
    _append(env.get("GITHUB_STEP_SUMMARY"), summary + "".join(f"\n{n}\n" for n in notes))
    outputs = {
        "exit-code": str(code),
        "report-dir": str(inputs.output_dir),
        "sarif": str(inputs.output_dir / "report.sarif"),
        "baseline": str(inputs.baseline or ""),
    }
    _append(env.get("GITHUB_OUTPUT"), "".join(f"{k}={v}\n" for k, v in outputs.items()))
    sys.stdout.write(f"trailcheck exit code {code} (the action's last step fails with it)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
