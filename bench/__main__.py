"""`make bench` / `python -m bench`: the organization-scan, verify-logs and --who benchmarks.

Defaults finish in a few minutes: the organization scan at N = 10 and 50 (two regions and all
regions), then `verify-logs` on 2,000 log files (the verifier, the command, and the AWS CLI when
installed), the `scan --who` lookup stage on 200 accounts with 10 % failing resources, the
fault run (N = 50 through a fault-injecting proxy, 3 seeds, against a clean run), then
verify-logs on Dask: the local pool against 1, 2 and 4 worker processes (skipped when Dask is
not installed). `--full` runs the organization sweep N = 10, 50, 200; `--suite` picks the
benchmarks.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path


def cli() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--suite",
        default="org,verify-logs,who,faults,dask",
        help="comma list: org, verify-logs, who, faults, dask (default: all)",
    )
    parser.add_argument("--sizes", default="10,50", help="comma list of organization sizes")
    parser.add_argument("--full", action="store_true", help="N = 10, 50, 200")
    parser.add_argument(
        "--regions", default="2,all", help="'2' (us-east-1, eu-west-1), 'all', or both"
    )
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write the org results here")
    parser.add_argument("--who-accounts", type=int, default=200, help="who: organization size")
    parser.add_argument("--verify-files", type=int, default=2000, help="verify-logs: log files")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="verify-logs: added per S3 request"
    )
    args = parser.parse_args()
    suites = {s.strip() for s in args.suite.split(",") if s.strip()}
    unknown = suites - {"org", "verify-logs", "who", "faults", "dask"}
    if unknown:
        parser.error(
            f"--suite: unknown {sorted(unknown)[0]!r} "
            "(choose from org, verify-logs, who, faults, dask)"
        )
    code = 0
    if "org" in suites:
        from bench.org_bench import main

        sizes = [10, 50, 200] if args.full else [int(s) for s in args.sizes.split(",") if s]
        modes = [m.strip() for m in args.regions.split(",") if m.strip()]
        code |= main(sizes, modes, args.max_workers, args.json)
    if "verify-logs" in suites:
        from bench.verify_logs import main as verify_main

        code |= verify_main(
            [
                "--files", str(args.verify_files),
                "--workers", str(args.max_workers),
                "--latency-ms", str(args.latency_ms),
            ]
        )  # fmt: skip
    if "who" in suites:
        from bench.who_bench import main as who_main

        code |= who_main(
            ["--accounts", str(args.who_accounts), "--max-workers", str(args.max_workers)]
        )
    if "faults" in suites:
        from bench.fault_bench import main as fault_main

        code |= fault_main(["--accounts", "50", "--max-workers", str(args.max_workers)])
    if "dask" in suites:
        if importlib.util.find_spec("distributed") is None:
            print("dask benchmark skipped: pip install 'trailcheck[dask]'")
        else:
            from bench.dask_bench import main as dask_main

            code |= dask_main(["--files", str(min(args.verify_files, 2000))])
    return code


if __name__ == "__main__":
    raise SystemExit(cli())
