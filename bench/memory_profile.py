"""Where the memory of `trailcheck scan --org` goes, stage by stage (tracemalloc).

`python -m bench.memory_profile --accounts 1000` starts a moto server, builds the benchmark
organization (bench/org_bench.py) and runs the scan's stages in a child process with
tracemalloc on: collect (the inventory), evaluate (the report), the JSON report, the HTML
report. After each stage it prints the live Python memory by module (the file that allocated
it, grouped by package) and by type of the live objects the stage left behind, the stage's
tracemalloc peak and the process RSS. tracemalloc slows the scan ~2x: the numbers are memory,
not time (bench/org_bench.py measures time).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

from bench.org_bench import KEY, REGION, ROOT, build_organization, start_server

MB = 1024 * 1024
FRAMES = 8  # stack depth kept per allocation (to find the owner under json/copy)


def _rss_mb() -> float:
    """Current resident set of this process (MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@cache
def _module_of(filename: str) -> str:
    """A file path as the package that owns it (trailcheck.scanner, botocore, pydantic, ...)."""
    parts = Path(filename).parts
    for anchor in ("site-packages", "wt", "lib"):
        if anchor in parts:
            rest = parts[parts.index(anchor) + 1 :]
            if anchor == "wt":
                rest = rest[1:]  # the worktree's name
            if anchor == "lib":
                rest = rest[1:]  # python3.11
            if not rest:
                break
            names = [p for p in rest[:-1]] + [Path(rest[-1]).stem]
            if names[0] == "trailcheck":
                return ".".join(names[:3])
            return names[0]
    return Path(filename).name


_STDLIB = {
    *("json", "copy", "dataclasses", "abc", "functools", "threading", "typing", "enum"),
    "pathlib",
}


def _owner(traceback: tracemalloc.Traceback) -> str:
    """The innermost non-standard-library module on the allocation's stack."""
    names = [_module_of(frame.filename) for frame in reversed(traceback)]
    for name in names:
        if name not in _STDLIB and not name.startswith("<"):
            return name
    return names[0]


def _by_module(snapshot: tracemalloc.Snapshot, top: int) -> list[tuple[str, float]]:
    sizes: Counter[str] = Counter()
    for stat in snapshot.statistics("traceback"):
        sizes[_owner(stat.traceback)] += stat.size
    return [(name, size / MB) for name, size in sizes.most_common(top)]


def _by_type(top: int) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter(type(o).__name__ for o in gc.get_objects())
    return counts.most_common(top)


def _stage(name: str, started: float, top: int, keep: dict[str, Any]) -> None:
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()
    keep[name] = {
        "seconds": round(time.perf_counter() - started, 1),
        "traced_mb": round(current / MB, 1),
        "stage_peak_mb": round(peak / MB, 1),
        "rss_mb": round(_rss_mb(), 1),
        "by_module": [(m, round(s, 1)) for m, s in _by_module(snapshot, top)],
        "objects_by_type": _by_type(top),
    }
    print(
        f"{name}: traced {current / MB:.1f} MB (stage peak {peak / MB:.1f} MB), "
        f"RSS {_rss_mb():.0f} MB",
        file=sys.stderr,
    )
    tracemalloc.reset_peak()


def profile(regions: list[str], workers: int, top: int) -> dict[str, Any]:
    """Run the scan's stages in this process (AWS_ENDPOINT_URL set by the parent)."""
    from trailcheck.cli import _collect, _org_request
    from trailcheck.engine import evaluate
    from trailcheck.reports.html_report import HtmlReporter
    from trailcheck.reports.json_report import JsonReporter
    from trailcheck.rules import load_rules
    from trailcheck.scanner.executor import LocalExecutor
    from trailcheck.scanner.session import AwsSession
    from trailcheck.snapshot import write_files_atomic

    stages: dict[str, Any] = {}
    tracemalloc.start(FRAMES)
    started = time.perf_counter()
    rules = load_rules()
    session = AwsSession(None, max_pool_connections=max(32, workers))
    _stage("start (imports, rules, session)", started, top, stages)
    org = _org_request(True, None, None, None, None, None, None, None)
    inventory = _collect(session, regions, workers, rules, org, None, runner=LocalExecutor())
    _stage("collect (inventory held)", started, top, stages)
    report = evaluate(inventory, rules)
    _stage("evaluate (inventory + report held)", started, top, stages)
    out = Path(tempfile.mkdtemp(prefix="trailcheck-memory-")) / "report.json"
    write_files_atomic([(out, JsonReporter().chunks(report))])  # as the CLI writes it
    json_size = out.stat().st_size
    _stage("report.json written (streamed)", started, top, stages)
    html_size = len(HtmlReporter().render(report))
    _stage("report.html rendered (text dropped)", started, top, stages)
    stages["sizes"] = {
        "accounts": len(inventory.accounts),
        "findings": len(report.findings),
        "report_json_bytes": json_size,
        "report_html_bytes": html_size,
    }
    stages["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_profile", description=__doc__)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--top", type=int, default=12, help="rows per breakdown")
    parser.add_argument("--json", type=Path, help="also write the breakdown here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    regions = [REGION, "eu-west-1"]
    if args.child:
        print(json.dumps(profile(regions, args.max_workers, args.top)))
        return 0
    server = start_server()
    try:
        built = time.perf_counter()
        build_organization(server.endpoint, args.accounts)
        print(
            f"built {args.accounts} accounts in {time.perf_counter() - built:.1f} s",
            file=sys.stderr,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
            "AWS_ENDPOINT_URL": server.endpoint,
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/nonexistent/bench-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/bench-credentials",
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        argv_child = [sys.executable, "-m", "bench.memory_profile", "--child"]
        argv_child += ["--max-workers", str(args.max_workers), "--top", str(args.top)]
        done = subprocess.run(
            argv_child, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True
        )
    finally:
        server.close()
    result = json.loads(done.stdout)
    for name, stage in result.items():
        if not isinstance(stage, dict) or "by_module" not in stage:
            continue
        print(
            f"\n## {name}: {stage['seconds']} s, traced {stage['traced_mb']} MB, "
            f"stage peak {stage['stage_peak_mb']} MB, RSS {stage['rss_mb']} MB"
        )
        print("by module (MB): " + ", ".join(f"{m} {s}" for m, s in stage["by_module"]))
        print("objects by type: " + ", ".join(f"{t} {n}" for t, n in stage["objects_by_type"]))
    print(f"\nsizes: {result['sizes']}; peak RSS {result['peak_rss_mb']} MB")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
