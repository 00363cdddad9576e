"""Benchmark the log-integrity verifier (and `aws cloudtrail validate-logs`) on a moto S3 server.

    python bench/verify_logs.py --files 10000 [--per-digest 100] [--workers 16] [--latency-ms 20]
    python -m bench --suite verify-logs --verify-files 2000     # the same, from `make bench`

Starts moto's ThreadedMotoServer on 127.0.0.1 (a free port, in a child process so the
verifier's memory is measured alone), writes `--files` small log files and hourly signed digests
with the test writer, then times `verify_trail_logs` and reports files/second and peak memory
(tracemalloc peak of a second, traced run; and the process's max RSS).

Then the command itself, `python -m trailcheck verify-logs --trail ARN --public-key PEM ...`, is
timed on the same chain in a subprocess (its endpoint is the moto server: session set-up,
ListTrails, DescribeTrails, the bucket owner, then the same verification; `--no-command` skips
it). If the `aws` CLI is on PATH it is timed on the same chain. moto does not implement CloudTrail
ListPublicKeys, so the CLI's CloudTrail endpoint (AWS_ENDPOINT_URL_CLOUDTRAIL) is a tiny local
HTTP server that answers that one call with the test key; S3 goes to moto (AWS_ENDPOINT_URL_S3).

`--latency-ms` adds a delay to every S3 request of both tools, through one loopback proxy in
front of moto (the same path for both, so the comparison stays fair).

Prints one JSON line with the results on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "bench-trail-bucket"
ACCOUNT = "123456789012"  # moto's default account: the caller of the command
REGION = "us-east-1"
TRAIL = "bench-trail"
FIRST_END = datetime(2026, 1, 5, 1, 1, 31, tzinfo=UTC)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def _serve_moto(port: int, stop: Any) -> None:
    """Child process: run moto's threaded server until `stop` is set."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stop.wait()
    server.stop()


@contextmanager
def moto_server() -> Iterator[str]:
    """Run ThreadedMotoServer in a child process; yield its endpoint URL."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    port = _free_port()
    process = context.Process(target=_serve_moto, args=(port, stop), daemon=True)
    process.start()
    try:
        _wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        process.join(timeout=10)


def _http_server(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def latency_proxy(
    target: str, latency_ms: float, cache_objects: bool = False
) -> tuple[ThreadingHTTPServer, str]:
    """A loopback HTTP proxy that sleeps `latency_ms` then forwards each request to `target`.

    `cache_objects`: a successful GET of an object (a path with no query string: S3 GetObject,
    path style) is answered from memory after its first fetch, so the simulated S3 costs the
    latency alone and not moto's CPU (which shares this machine's cores with the tool timed).
    Listings, digests' neighbours and every other call still go to moto.
    """
    host, port = target.removeprefix("http://").split(":")
    cache: dict[str, tuple[int, str, list[tuple[str, str]], bytes]] = {}

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers+body writes stall on delayed ACKs

        def _forward(self) -> None:
            time.sleep(latency_ms / 1000)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            cacheable = cache_objects and self.command == "GET" and "?" not in self.path
            answer = cache.get(self.path) if cacheable else None
            if answer is None:
                upstream = http.client.HTTPConnection(host, int(port), timeout=60)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                response = upstream.getresponse()
                answer = (response.status, response.reason, response.getheaders(), response.read())
                upstream.close()
                if cacheable and response.status == 200:
                    cache[self.path] = answer
            status, reason, headers, payload = answer
            self.send_response(status, reason)
            for name, value in headers:
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return _http_server(Forward)


def public_keys_endpoint(der: bytes, fingerprint: str) -> tuple[ThreadingHTTPServer, str]:
    """A CloudTrail endpoint that answers only ListPublicKeys (JSON protocol) with one key."""
    answer = json.dumps(
        {
            "PublicKeyList": [
                {
                    "Value": base64.b64encode(der).decode(),
                    "ValidityStartTime": (FIRST_END - timedelta(days=30)).timestamp(),
                    "ValidityEndTime": (FIRST_END + timedelta(days=365)).timestamp(),
                    "Fingerprint": fingerprint,
                }
            ]
        }
    ).encode()

    class CloudTrail(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers+body writes stall on delayed ACKs

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target", "")
            ok = target.endswith(".ListPublicKeys")
            body = answer if ok else json.dumps({"__type": "UnsupportedOperation"}).encode()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return _http_server(CloudTrail)


def write_chain(s3: Any, files: int, per_digest: int) -> tuple[Any, Any, datetime, datetime]:
    """Write `files` log files and their hourly digests; return writer, key and the window."""
    from cloudtrail_writer import CloudTrailWriter, new_private_key

    key = new_private_key()
    pending: list[Future[Any]] = []
    with ThreadPoolExecutor(max_workers=16) as pool:

        def put(object_key: str, body: bytes, metadata: Mapping[str, str]) -> None:
            pending.append(
                pool.submit(
                    s3.put_object, Bucket=BUCKET, Key=object_key, Body=body, Metadata=metadata
                )
            )

        writer = CloudTrailWriter(
            put=put,
            bucket=BUCKET,
            account_id=ACCOUNT,
            region=REGION,
            trail_name=TRAIL,
            private_key=key,
        )
        hours, rest = divmod(files, per_digest)
        writer.write_hours(FIRST_END, hours, per_digest)
        if rest:
            writer.write_hours(FIRST_END + timedelta(hours=hours), 1, rest)
            hours += 1
    for future in pending:
        future.result()
    return writer, key, FIRST_END - timedelta(hours=1), FIRST_END + timedelta(hours=hours - 1)


def run_verifier(s3: Any, writer: Any, key: Any, start: datetime, end: datetime, workers: int):
    """Time one verification; measure the tracemalloc peak in a second run."""
    from cloudtrail_writer import pkcs1_der

    from trailcheck.verify import KeyRing, S3ObjectStore, TrailLocation, load_der_key
    from trailcheck.verify import verify_trail_logs as verify

    trail = TrailLocation(trail_arn=writer.trail_arn)
    keys = KeyRing([load_der_key(pkcs1_der(key))])
    store = S3ObjectStore(s3, BUCKET)
    began = time.perf_counter()
    result = verify(store, trail, keys, start, end, max_workers=workers)
    seconds = time.perf_counter() - began
    tracemalloc.start()
    verify(store, trail, keys, start, end, max_workers=workers)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def _vm_hwm_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "")
    return int(line.split()[1]) if line else 0


def run_cli(
    s3_endpoint: str, writer: Any, key: Any, start: datetime, end: datetime
) -> dict[str, Any]:
    """Time `aws cloudtrail validate-logs` on the same chain, if the CLI is installed."""
    from cloudtrail_writer import key_fingerprint, pkcs1_der

    aws = shutil.which("aws")
    if aws is None:
        return {"skipped": "aws CLI not on PATH (pip install awscli to compare)"}
    server, cloudtrail_endpoint = public_keys_endpoint(pkcs1_der(key), key_fingerprint(key))
    env = {
        **os.environ,
        **CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_ENDPOINT_URL_CLOUDTRAIL": cloudtrail_endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    command = [
        aws, "cloudtrail", "validate-logs",
        "--trail-arn", writer.trail_arn,
        "--start-time", start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--end-time", end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--s3-bucket", BUCKET,
    ]  # fmt: skip
    began = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak_kb = 0
    while process.poll() is None:  # VmHWM: this process's own peak RSS (Linux)
        peak_kb = max(peak_kb, _vm_hwm_kb(process.pid))
        time.sleep(0.05)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - began
    server.shutdown()
    summary = [line for line in stdout.splitlines() if "files" in line or "No " in line]
    version = subprocess.run([aws, "--version"], capture_output=True, text=True, check=False)
    return {
        "version": (version.stdout or version.stderr).strip(),
        "exit_code": process.returncode,
        "seconds": round(seconds, 3),
        "summary": summary,
        "stderr_tail": stderr.strip().splitlines()[-3:],
        "peak_rss_mb": round(peak_kb / 1024, 1) if peak_kb else None,
    }


def run_command(
    endpoint: str, writer: Any, key: Any, start: datetime, end: datetime, workers: int
) -> dict[str, Any]:
    """Time `trailcheck verify-logs` (offline key, so moto needs no ListPublicKeys) end to end."""
    import tempfile

    from cryptography.hazmat.primitives import serialization

    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        pem = Path(tmp) / "key.pem"
        pem.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        out = Path(tmp) / "out"
        env = {
            **os.environ,
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PYTHONPATH": str(ROOT),
        }
        command = [
            sys.executable, "-m", "trailcheck", "verify-logs",
            "--trail", writer.trail_arn, "--public-key", str(pem), "--region", REGION,
            "--start", start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--end", end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--format", "json", "--output-dir", str(out), "--quiet",
            "--max-workers", str(workers),
        ]  # fmt: skip
        began = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - began
        report = json.loads((out / "report.json").read_text()) if done.returncode < 2 else {}
    summary = report.get("summary", {})
    return {
        "exit_code": done.returncode,
        "seconds": round(seconds, 3),
        "log_files_valid": summary.get("log_files_valid"),
        "api_calls": sum(report.get("metadata", {}).get("api_calls", {}).values()),
        "stderr_tail": done.stderr.strip().splitlines()[-3:],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="log files to write")
    parser.add_argument("--per-digest", type=int, default=100, help="log files per hourly digest")
    parser.add_argument("--workers", type=int, default=16, help="verifier max_workers")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added per S3 request")
    parser.add_argument("--no-cli", action="store_true", help="skip the aws CLI comparison")
    parser.add_argument(
        "--no-command", action="store_true", help="skip timing `trailcheck verify-logs` itself"
    )
    parser.add_argument(
        "--cache-objects",
        action="store_true",
        help="the latency proxy answers repeated object GETs from memory (a warm-up pass fills "
        "it): the simulated S3 then costs the latency, not moto's CPU",
    )
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "verify")]
    os.environ.update(CREDENTIALS)
    import boto3
    from botocore.config import Config

    with moto_server() as moto_endpoint:
        config = Config(max_pool_connections=max(args.workers, 16), retries={"mode": "standard"})
        writer_s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint,
                                 config=config)  # fmt: skip
        writer_s3.create_bucket(Bucket=BUCKET)
        _log(f"writing {args.files} log files to {moto_endpoint} ...")
        began = time.perf_counter()
        writer, key, start, end = write_chain(writer_s3, args.files, args.per_digest)
        write_seconds = time.perf_counter() - began
        boto3.client("cloudtrail", region_name=REGION, endpoint_url=moto_endpoint).create_trail(
            Name=TRAIL, S3BucketName=BUCKET, EnableLogFileValidation=True
        )

        endpoint, proxy = moto_endpoint, None
        if args.latency_ms > 0:
            proxy, endpoint = latency_proxy(moto_endpoint, args.latency_ms, args.cache_objects)
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint, config=config)
        if args.cache_objects:
            _log("warm-up pass (fills the proxy's object cache) ...")
            run_verifier(s3, writer, key, start, end, args.workers)
        _log(f"verifying with max_workers={args.workers} via {endpoint} ...")
        result, seconds, peak = run_verifier(s3, writer, key, start, end, args.workers)
        files = result.log_files_valid + result.log_files_modified + result.log_files_deleted
        command: dict[str, Any] = {"skipped": "--no-command"}
        if not args.no_command:
            _log("running trailcheck verify-logs ...")
            command = run_command(endpoint, writer, key, start, end, args.workers)
            command["files_per_second"] = round(args.files / command["seconds"], 1)
        cli: dict[str, Any] = {"skipped": "--no-cli"}
        if not args.no_cli:
            _log("running aws cloudtrail validate-logs ...")
            cli = run_cli(endpoint, writer, key, start, end)
            if "seconds" in cli:
                cli["files_per_second"] = round(args.files / cli["seconds"], 1)
        if proxy is not None:
            proxy.shutdown()

    report = {
        "files": args.files,
        "digests": result.digests_valid,
        "workers": args.workers,
        "latency_ms": args.latency_ms,
        "cache_objects": args.cache_objects,
        "write_seconds": round(write_seconds, 3),
        "verify_seconds": round(seconds, 3),
        "files_per_second": round(files / seconds, 1),
        "verify_tracemalloc_peak_mb": round(peak / 2**20, 2),
        "process_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "ok": result.ok,
        "log_files_valid": result.log_files_valid,
        "trailcheck_verify_logs": command,
        "aws_cli": cli,
    }
    print(json.dumps(report))
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
