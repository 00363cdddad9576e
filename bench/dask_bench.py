"""Benchmark `verify-logs` on Dask: 1, 2 and 4 worker processes against the local pool.

    python -m bench.dask_bench [--files 2000] [--per-digest 10] [--workers 1,2,4] [--threads 4]
    python -m bench --suite dask                   # the same, from `make bench`

Starts a moto server (a child process), writes one trail's signed chain (`--files` log files,
`--per-digest` per hourly digest, so the window spans several day-folders: one shard each),
then runs the real `trailcheck.verify.run.verify_logs` (discovery, sharding, merge) with the
local executor and with a `distributed.LocalCluster` of N worker processes for each N. For each
run: wall time, log files per second, shards, the peak RSS of each worker process, and whether
the report is byte-identical to the local one. Then the scheduler's overhead per shard: empty
shards through the same `DaskExecutor.map` path (plugin lookup, per-shard meter, result
gathering included).

Everything runs on this machine: the moto server is one process and is usually the bottleneck,
so the curve over N measures trailcheck's overhead and the server's limit, not S3's.
docs/scale.md explains how to project to a cluster. Prints one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EMPTY_SHARDS = 400


def _noop(env: Any, shard: int) -> int:
    return shard


def _max_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it does not inherit the
    peak of the process a worker was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _verify(executor: Any, key: Any, start: Any, end: Any, workers: int) -> tuple[Any, float]:
    from cloudtrail_writer import pkcs1_der

    from trailcheck.scanner.accounts import current_account
    from trailcheck.scanner.session import AwsSession
    from trailcheck.verify.keys import KeyRing, load_der_key
    from trailcheck.verify.run import VerifyOptions, verify_logs

    session = AwsSession(max_pool_connections=max(32, 2 * workers))
    began = time.perf_counter()
    targets, partition = current_account(session, "us-east-1")
    options = VerifyOptions(
        start=start,
        end=end,
        now=end + timedelta(hours=6),
        regions=("us-east-1",),
        keys=KeyRing([load_der_key(pkcs1_der(key))]),
        max_workers=workers,
        partition=partition,
    )
    report = verify_logs(targets, session, options, executor=executor)
    return report, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="log files to write")
    parser.add_argument("--per-digest", type=int, default=10, help="log files per digest")
    parser.add_argument("--workers", default="1,2,4", help="worker processes to try")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--max-workers", type=int, default=16, help="the local pool's size")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "verify")]
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    import boto3
    from distributed import Client, LocalCluster

    from bench.verify_logs import BUCKET, REGION, TRAIL, moto_server, write_chain
    from trailcheck.reports.verification import render_json
    from trailcheck.scanner.dask_executor import DaskExecutor
    from trailcheck.scanner.executor import LocalEnv, LocalExecutor
    from trailcheck.scanner.session import AwsSession
    from trailcheck.verify.chain import segment_days

    with moto_server() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint  # worker processes inherit it
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        _log(f"writing {args.files} log files ...")
        _, key, start, end = write_chain(s3, args.files, args.per_digest)
        boto3.client("cloudtrail", region_name=REGION).create_trail(
            Name=TRAIL, S3BucketName=BUCKET, EnableLogFileValidation=True
        )
        _log("local executor ...")
        _verify(LocalExecutor(), key, start, end, args.max_workers)  # warm moto up
        local, local_seconds = _verify(LocalExecutor(), key, start, end, args.max_workers)
        files = local.summary.log_files_valid
        units = sum(1 for c in local.checks if c.verification is not None)
        shards = units * len(segment_days(start, end))
        expected = render_json(local)
        runs: list[dict[str, Any]] = [
            {
                "executor": "local",
                "max_workers": args.max_workers,
                "seconds": round(local_seconds, 3),
                "files_per_second": round(files / local_seconds, 1),
                "peak_rss_mb": round(_max_rss_mb(), 1),
            }
        ]
        overhead: dict[str, Any] = {}
        for count in [int(n) for n in args.workers.split(",") if n]:
            _log(f"dask, {count} worker process(es) x {args.threads} threads ...")
            with LocalCluster(
                n_workers=count,
                processes=True,
                threads_per_worker=args.threads,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster, Client(cluster) as client:  # fmt: skip
                executor = DaskExecutor("", client=client)
                _verify(executor, key, start, end, args.max_workers)  # workers import, enter
                cpu_before = sum(client.run(_cpu_seconds).values())
                report, seconds = _verify(executor, key, start, end, args.max_workers)
                cpu = sum(client.run(_cpu_seconds).values()) - cpu_before
                rss = client.run(_max_rss_mb)
                runs.append(
                    {
                        "executor": "dask",
                        "worker_processes": count,
                        "threads_per_worker": args.threads,
                        "seconds": round(seconds, 3),
                        "files_per_second": round(files / seconds, 1),
                        "peak_rss_mb_per_worker": sorted(round(v, 1) for v in rss.values()),
                        "worker_cpu_ms_per_file": round(cpu * 1000 / files, 2),
                        "identical_to_local": render_json(report) == expected,
                    }
                )
                if count == max(int(n) for n in args.workers.split(",") if n):
                    env = LocalEnv(AwsSession(), {})
                    began = time.perf_counter()
                    executor.map(_noop, list(range(EMPTY_SHARDS)), env, parallel=1)
                    per_shard = (time.perf_counter() - began) / EMPTY_SHARDS
                    overhead = {
                        "empty_shards": EMPTY_SHARDS,
                        "worker_processes": count,
                        "ms_per_shard": round(per_shard * 1000, 2),
                    }
            _log(json.dumps(runs[-1]))
    result = {
        "files": files,
        "digests": local.summary.digests_valid,
        "shards": shards,
        "runs": runs,
        "scheduler_overhead": overhead,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result))
    return 0 if all(r.get("identical_to_local", True) for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
