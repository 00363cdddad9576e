"""A fault-injecting HTTP proxy for a simulated AWS endpoint (tests and benchmarks only).

`FaultProxy` listens on 127.0.0.1 and forwards every request to an upstream endpoint (a moto
server), except the ones its policy picks, for which it answers as AWS does when it is
overloaded or broken:

* `THROTTLE` — the service's throttling error in its own protocol (JSON and CBOR
  `ThrottlingException`, query `Throttling`, EC2 `RequestLimitExceeded`, S3 `503 SlowDown`);
* `TOO_MANY` — HTTP 429 `TooManyRequestsException`;
* `ERROR_500` / `ERROR_503` — `InternalError` / `ServiceUnavailable`;
* `RESET` — the connection is reset before any answer (TCP RST);
* `SLOW` — the request is forwarded after a delay;
* `DENY` — `AccessDenied` (403), as when a role was deleted or an account suspended mid-scan.

The policy is a function of what the proxy sees of a request (`Request`: the signer's access
key, region and service from the SigV4 credential scope, the operation) and of how many times
this same request was seen before, so a retried request gets a fresh draw. `seeded_faults()`
draws from a hash of (seed, request, attempt): the same seed gives the same faults for the
same requests, whatever the thread timing. trailcheck's code is never touched: the scanner
talks to the proxy as it would to AWS (`AWS_ENDPOINT_URL`).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Fault(StrEnum):
    THROTTLE = "throttle"
    TOO_MANY = "429"
    ERROR_500 = "500"
    ERROR_503 = "503"
    RESET = "reset"
    SLOW = "slow"
    DENY = "deny"


@dataclass(frozen=True)
class Request:
    """What the proxy knows of a request."""

    method: str
    path: str
    access_key: str
    region: str
    service: str
    operation: str
    protocol: str  # json, cbor, query, ec2, rest-xml
    body: bytes

    @property
    def key(self) -> str:
        """Identifies the same request across its retries (signatures and dates excluded)."""
        digest = hashlib.sha256(self.body).hexdigest()[:16]
        return f"{self.access_key}|{self.region}|{self.service}|{self.method}|{self.path}|{digest}"


Policy = Callable[[Request, int], Fault | None]  # (request, attempt 1..) → fault or None

_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


def _parse(method: str, path: str, headers: Any, body: bytes) -> Request:
    scope = _SCOPE.search(headers.get("Authorization", ""))
    access_key, region, service = scope.groups() if scope else ("", "", "")
    target = headers.get("X-Amz-Target")
    if headers.get("Smithy-Protocol") == "rpc-v2-cbor":
        protocol, operation = "cbor", path.rsplit("/", 1)[-1]
    elif target:
        protocol, operation = "json", target.rsplit(".", 1)[-1]
    elif body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        form = parse_qs(body.decode("utf-8", "replace"))
        operation = form.get("Action", [""])[0]
        protocol = "ec2" if service == "ec2" else "query"
    else:
        protocol = "rest-xml"
        query = urlsplit(path).query
        operation = f"{method} {urlsplit(path).path} ?{query.split('=')[0] if query else ''}"
    return Request(method, path, access_key, region, service, operation, protocol, body)


def seeded_faults(
    seed: int,
    *,
    throttle: float = 0.10,
    server: float = 0.02,
    reset: float = 0.01,
    slow: float = 0.02,
    only: Callable[[Request], bool] | None = None,
) -> Policy:
    """Faults on a seeded random fraction of attempts: `throttle` (half as 400 throttling
    errors, half as 429), `server` (half 500, half 503), `reset`, `slow`."""

    def policy(request: Request, attempt: int) -> Fault | None:
        if only is not None and not only(request):
            return None
        draw = hashlib.sha256(f"{seed}|{request.key}|{attempt}".encode()).digest()
        u = int.from_bytes(draw[:8], "big") / 2**64
        bands = (
            (throttle / 2, Fault.THROTTLE),
            (throttle / 2, Fault.TOO_MANY),
            (server / 2, Fault.ERROR_500),
            (server / 2, Fault.ERROR_503),
            (reset, Fault.RESET),
            (slow, Fault.SLOW),
        )
        edge = 0.0
        for width, fault in bands:
            edge += width
            if u < edge:
                return fault
        return None

    return policy


# ----------------------------------------------------------------------------- error bodies


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    if len(data) < 24:
        return bytes([0x60 + len(data)]) + data
    if len(data) < 256:
        return bytes([0x78, len(data)]) + data
    return bytes([0x79]) + struct.pack(">H", len(data)) + data


def _cbor_error(code: str, message: str) -> bytes:
    return (
        bytes([0xA2])
        + _cbor_text("__type")
        + _cbor_text(code)
        + _cbor_text("message")
        + _cbor_text(message)
    )


# Per fault: HTTP status and error code, by protocol family.
_ERRORS: dict[Fault, tuple[int, dict[str, str]]] = {
    Fault.THROTTLE: (
        400,
        {
            "json": "ThrottlingException",
            "cbor": "ThrottlingException",
            "query": "Throttling",
            "ec2": "RequestLimitExceeded",
            "rest-xml": "SlowDown",
        },
    ),
    Fault.TOO_MANY: (429, {"*": "TooManyRequestsException"}),
    Fault.ERROR_500: (500, {"*": "InternalError"}),
    Fault.ERROR_503: (503, {"*": "ServiceUnavailable"}),
    Fault.DENY: (
        403,
        {"json": "AccessDeniedException", "cbor": "AccessDeniedException", "*": "AccessDenied"},
    ),
}
_MESSAGES = {
    Fault.THROTTLE: "Rate exceeded",
    Fault.TOO_MANY: "Too many requests",
    Fault.ERROR_500: "We encountered an internal error. Please try again.",
    Fault.ERROR_503: "Service is unavailable. Please try again.",
    Fault.DENY: "User is not authorized to perform this operation (injected by the fault proxy)",
}


def error_response(fault: Fault, protocol: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the AWS error `fault` stands for, in `protocol`."""
    status, codes = _ERRORS[fault]
    code = codes.get(protocol) or codes["*"]
    if fault is Fault.THROTTLE and protocol == "rest-xml":
        status = 503  # S3 throttles with 503 SlowDown
    message = _MESSAGES[fault]
    request_id = "f4u17000-0000-0000-0000-000000000000"
    headers = {"x-amzn-RequestId": request_id}
    if protocol == "json":
        headers["Content-Type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "cbor":
        headers["Content-Type"] = "application/cbor"
        headers["smithy-protocol"] = "rpc-v2-cbor"
        body = _cbor_error(code, message)
    elif protocol == "ec2":
        headers["Content-Type"] = "text/xml"
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
    elif protocol == "query":
        headers["Content-Type"] = "text/xml"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
            f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    else:
        headers["Content-Type"] = "application/xml"
        body = (
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
    return status, headers, body


# ----------------------------------------------------------------------------- the proxy

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultProxy:
    """A loopback proxy in front of `upstream` (http://127.0.0.1:PORT) injecting `policy`.

    Use as a context manager; `endpoint` is what AWS_ENDPOINT_URL should point to. `policy`
    may be swapped between scans (`proxy.policy = ...`); `stats` counts requests and faults.
    """

    def __init__(self, upstream: str, policy: Policy | None = None, slow_seconds: float = 0.05):
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.policy: Policy = policy or (lambda request, attempt: None)
        self.slow_seconds = slow_seconds
        self.stats: Counter[str] = Counter()
        self.faults_by_access_key: Counter[str] = Counter()
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset_counts(self) -> None:
        """Forget the attempts seen and the statistics (a new run)."""
        with self._lock:
            self.stats.clear()
            self.faults_by_access_key.clear()
            self._seen.clear()

    def __enter__(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, request: Request) -> Fault | None:
        with self._lock:
            self._seen[request.key] += 1
            attempt = self._seen[request.key]
        fault = self.policy(request, attempt)
        with self._lock:
            self.stats["requests"] += 1
            if fault is not None:
                self.stats[fault.value] += 1
                if fault is not Fault.SLOW:
                    self.faults_by_access_key[request.access_key] += 1
        return fault

    def _forward(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            forwarded["Host"] = headers.get("Host", "")
            connection.request(method, path, body=body or None, headers=forwarded)
            response = connection.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, kept, data
        finally:
            connection.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:  # quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = _parse(self.command, self.path, self.headers, body)
                fault = proxy._decide(request)
                if fault is Fault.RESET:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is Fault.SLOW:
                    time.sleep(proxy.slow_seconds)
                if fault is None or fault is Fault.SLOW:
                    status, headers, data = proxy._forward(
                        self.command, self.path, self.headers, body
                    )
                    header_items = headers
                else:
                    status, error_headers, data = error_response(fault, request.protocol)
                    header_items = list(error_headers.items())
                self.send_response(status)
                for name, value in header_items:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        return Handler
