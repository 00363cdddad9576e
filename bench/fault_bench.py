"""Fault benchmark: `trailcheck scan --org` through a fault-injecting proxy, against a clean run.

Builds the organization of bench/org_bench.py (N accounts) in a moto server, puts
`trailcheck.demo.faults.FaultProxy` in front of it and runs the real CLI (a subprocess, with
its real retry settings: 8 attempts, standard backoff) once clean and once per seed with
seeded faults (default 10 % throttling — half 400 ThrottlingException/SlowDown, half 429 —,
2 % 500/503, 1 % connection resets, 2 % slow answers). For each run: wall time, exit code,
requests seen by the proxy, faults injected, retries and lost calls from the report's
metadata, and whether the findings equal the clean run's (delivery times moto stamps at each
call masked).

    python -m bench.fault_bench --accounts 50 --seeds 1,2,3
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
    "retries | lost calls | findings = clean |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _row(
    name: str, wall: float, code: int, proxy: FaultProxy, meta: dict[str, Any], same: bool
) -> str:
    s = proxy.stats
    return (
        f"| {name} | {wall:.1f} | {code} | {s['requests']} | "
        f"{s[Fault.THROTTLE.value] + s[Fault.TOO_MANY.value]} "
        f"({s[Fault.THROTTLE.value]}/{s[Fault.TOO_MANY.value]}) | "
        f"{s[Fault.ERROR_500.value] + s[Fault.ERROR_503.value]} "
        f"({s[Fault.ERROR_500.value]}/{s[Fault.ERROR_503.value]}) | {s[Fault.RESET.value]} | "
        f"{s[Fault.SLOW.value]} | {sum(meta.get('api_retries', {}).values())} | "
        f"{sum(meta.get('api_calls_lost', {}).values())} | {'yes' if same else 'NO'} |"
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
    args = parser.parse_args(argv)
    server = start_server()
    try:
        build_organization(server.endpoint, args.accounts)
        with FaultProxy(server.endpoint, slow_seconds=args.slow_seconds) as proxy:
            rows = []
            wall, code, clean = run(proxy.endpoint, args.max_workers)
            rows.append(_row("clean", wall, code, proxy, clean["metadata"], True))
            print(rows[-1], file=sys.stderr)
            lost = 0
            for seed in (int(s) for s in args.seeds.split(",") if s.strip()):
                proxy.reset_counts()
                policy: Policy = seeded_faults(
                    seed,
                    throttle=args.throttle,
                    server=args.server,
                    reset=args.reset,
                    slow=args.slow,
                )
                proxy.policy = policy
                wall, code, faulty = run(proxy.endpoint, args.max_workers)
                same = _findings(faulty) == _findings(clean)
                lost += 0 if same else 1
                rows.append(_row(f"seed {seed}", wall, code, proxy, faulty["metadata"], same))
                print(rows[-1], file=sys.stderr)
                proxy.policy = lambda request, attempt: None
    finally:
        server.close()
    print(
        f"{args.accounts} accounts, 2 regions, max-workers {args.max_workers}; faults: "
        f"throttle {args.throttle:.0%}, 5xx {args.server:.0%}, resets {args.reset:.0%}, "
        f"slow {args.slow:.0%} ({args.slow_seconds} s)"
    )
    print(HEADER)
    for row in rows:
        print(row)
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
