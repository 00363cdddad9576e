"""Fault benchmark: `trailcheck scan --org` through a fault-injecting proxy, against a clean run.

Builds the organization of bench/org_bench.py (N accounts) in a moto server, puts
`trailcheck.demo.faults.FaultProxy` in front of it and runs the real CLI (a subprocess, with
its real retry settings: 8 attempts, standard backoff) once clean and once per seed with
seeded faults (default 10 % throttling — half 400 ThrottlingException/SlowDown, half 429 —,
2 % 500/503, 1 % connection resets, 2 % slow answers). For each run: wall time, exit code,
requests seen by the proxy, faults injected, retries and lost calls from the report's
metadata, whether the findings equal the clean run's (delivery times moto stamps at each
call masked), and whether only verdicts turned into ERROR (`trailcheck.demo.verdict_change`:
no PASS/FAIL turned NOT_APPLICABLE or into another verdict, no finding vanished without an
ERROR of its rule in its account, no identity given twice; the count of violations otherwise).
`--only-service` limits the faults to one service (as an independent proxy throttling
CloudTrail alone would).

    python -m bench.fault_bench --accounts 50 --seeds 1,2,3
    python -m bench.fault_bench --accounts 20 --seeds 1 --throttle 0.9 --server 0 --reset 0 \
        --slow 0 --only-service cloudtrail
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.org_bench import KEY, REGION, ROOT, build_organization, start_server
from trailcheck.demo.faults import Fault, FaultProxy, Policy, seeded_faults
from trailcheck.demo.verdict_change import verdict_violations
from trailcheck.model import Report

TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _findings(report: dict[str, Any]) -> list[str]:
    return sorted(TIME.sub("<time>", json.dumps(f, sort_keys=True)) for f in report["findings"])


def run(endpoint: str, workers: int) -> tuple[float, int, dict[str, Any]]:
    """The CLI once through `endpoint`: (wall s, exit code, JSON report)."""
    out = Path(tempfile.mkdtemp(prefix="trailcheck-faults-"))
    argv = [sys.executable, "-m", "trailcheck", "scan", "--org", "--format", "json", "-q"]
    argv += ["--output-dir", str(out), "--max-workers", str(workers)]
    argv += ["--region", REGION, "--region", "eu-west-1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/bench-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/bench-credentials",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    started = time.perf_counter()
    code = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - started
    return wall, code, json.loads((out / "report.json").read_text())


HEADER = (
    "| run | wall s | exit | requests | throttled (400/429) | 5xx (500/503) | resets | slow | "
    "retries | lost calls | findings = clean | only ERRORs changed |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
)


def _violations(report: dict[str, Any], clean: dict[str, Any]) -> list[str]:
    """What `report` changed against the clean run other than verdicts turned ERROR."""
    mine, theirs = Report.from_document(report), Report.from_document(clean)
    return verdict_violations(theirs.findings, mine.findings)


def _row(
    name: str,
    wall: float,
    code: int,
    proxy: FaultProxy,
    meta: dict[str, Any],
    same: bool,
    violations: list[str],
) -> str:
    s = proxy.stats
    return (
        f"| {name} | {wall:.1f} | {code} | {s['requests']} | "
        f"{s[Fault.THROTTLE.value] + s[Fault.TOO_MANY.value]} "
        f"({s[Fault.THROTTLE.value]}/{s[Fault.TOO_MANY.value]}) | "
        f"{s[Fault.ERROR_500.value] + s[Fault.ERROR_503.value]} "
        f"({s[Fault.ERROR_500.value]}/{s[Fault.ERROR_503.value]}) | {s[Fault.RESET.value]} | "
        f"{s[Fault.SLOW.value]} | {sum(meta.get('api_retries', {}).values())} | "
        f"{sum(meta.get('api_calls_lost', {}).values())} | {'yes' if same else 'no'} | "
        f"{'yes' if not violations else f'NO ({len(violations)})'} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fault_bench", description=__doc__)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--throttle", type=float, default=0.10)
    parser.add_argument("--server", type=float, default=0.02)
    parser.add_argument("--reset", type=float, default=0.01)
    parser.add_argument("--slow", type=float, default=0.02)
    parser.add_argument("--slow-seconds", type=float, default=1.0)
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument(
        "--only-service", default=None, help="inject faults into this service's calls only"
    )
    args = parser.parse_args(argv)
    service = args.only_service
    server = start_server()
    try:
        build_organization(server.endpoint, args.accounts)
        with FaultProxy(server.endpoint, slow_seconds=args.slow_seconds) as proxy:
            rows = []
            wall, code, clean = run(proxy.endpoint, args.max_workers)
            rows.append(_row("clean", wall, code, proxy, clean["metadata"], True, []))
            print(rows[-1], file=sys.stderr)
            broken = 0  # seeded runs that changed more than verdicts into ERROR
            for seed in (int(s) for s in args.seeds.split(",") if s.strip()):
                proxy.reset_counts()
                policy: Policy = seeded_faults(
                    seed,
                    throttle=args.throttle,
                    server=args.server,
                    reset=args.reset,
                    slow=args.slow,
                    only=(lambda request: request.service == service) if service else None,
                )
                proxy.policy = policy
                wall, code, faulty = run(proxy.endpoint, args.max_workers)
                same = _findings(faulty) == _findings(clean)
                violations = _violations(faulty, clean)
                for line in violations[:5]:
                    print(f"  seed {seed}: {line}", file=sys.stderr)
                broken += 1 if violations else 0
                row = _row(f"seed {seed}", wall, code, proxy, faulty["metadata"], same, violations)
                rows.append(row)
                print(rows[-1], file=sys.stderr)
                proxy.policy = lambda request, attempt: None
    finally:
        server.close()
    print(
        f"{args.accounts} accounts, 2 regions, max-workers {args.max_workers}; faults: "
        f"throttle {args.throttle:.0%}, 5xx {args.server:.0%}, resets {args.reset:.0%}, "
        f"slow {args.slow:.0%} ({args.slow_seconds} s)"
        + (f"; {service} calls only" if service else "")
    )
    print(HEADER)
    for row in rows:
        print(row)
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
