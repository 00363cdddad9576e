"""`make bench` / `python -m bench`: the organization-scan benchmark.

Defaults finish in a few minutes (N = 10 and 50, two regions and all regions); `--full`
runs the issue's sweep (N = 10, 50, 200).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.org_bench import main


def cli() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="10,50", help="comma list of organization sizes")
    parser.add_argument("--full", action="store_true", help="N = 10, 50, 200")
    parser.add_argument(
        "--regions", default="2,all", help="'2' (us-east-1, eu-west-1), 'all', or both"
    )
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    sizes = [10, 50, 200] if args.full else [int(s) for s in args.sizes.split(",") if s]
    modes = [m.strip() for m in args.regions.split(",") if m.strip()]
    return main(sizes, modes, args.max_workers, args.json)


if __name__ == "__main__":
    raise SystemExit(cli())
