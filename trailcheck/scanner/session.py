"""The only place trailcheck touches boto3.

One `AwsSession` per scan: it shares one boto3 session (service models are loaded once),
makes a client per (credentials, region, service) once and hands the same client out again,
and registers two hooks on every client it makes:

* the read-only guard refuses any operation that is not a read before it is sent;
* the meter counts every call per `service:Operation` (paginators and waiters included).

`call()` and `paginate()` turn AWS errors into `Unknown` facts so collectors never raise.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore import xform_name
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.model import OperationModel

from trailcheck.model import Unknown

READ_PREFIXES = ("Describe", "Get", "List", "Lookup", "Head")
# Reads whose names do not say so; each checked against the API reference (no side effects).
READ_EXCEPTIONS = frozenset(
    {
        "sts:AssumeRole",
        "sts:GetCallerIdentity",
        "logs:TestMetricFilter",
        "events:TestEventPattern",
        "logs:FilterLogEvents",
    }
)
# Operations whose names look like reads but are not.
WRITE_EXCEPTIONS = frozenset({"s3:GetObjectTorrent"})


class ReadOnlyViolation(RuntimeError):
    """Raised before sending any AWS operation that could change something."""


def operation_id(service_name: str, operation_name: str) -> str:
    """`s3` + `GetBucketPolicy` → `s3:GetBucketPolicy` (the IAM-style name)."""
    return f"{service_name}:{operation_name}"


def is_read_only(service_name: str, operation_name: str) -> bool:
    """True when the operation only reads."""
    op = operation_id(service_name, operation_name)
    if op in WRITE_EXCEPTIONS:
        return False
    return op in READ_EXCEPTIONS or operation_name.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class Credentials:
    """Temporary or long-term credentials for one account."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


class ApiMeter:
    """Thread-safe count of API calls per `service:Operation`."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, op: str) -> None:
        with self._lock:
            self._counts[op] += 1

    def snapshot(self) -> dict[str, int]:
        """The counts so far, sorted by operation name."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


class AwsSession:
    """Shared boto3 session, client cache, read-only guard, retries and API meter."""

    def __init__(
        self,
        profile: str | None = None,
        *,
        max_attempts: int = 8,
        max_pool_connections: int = 32,
        boto_session: boto3.Session | None = None,
    ) -> None:
        self._boto = boto_session or boto3.Session(profile_name=profile)
        self._config = Config(
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            max_pool_connections=max_pool_connections,
            user_agent_extra="trailcheck",
        )
        self._clients: dict[tuple[Credentials | None, str, str], BaseClient] = {}
        self._lock = threading.Lock()
        self.meter = ApiMeter()

    @property
    def default_region(self) -> str | None:
        return self._boto.region_name

    def client(self, service: str, region: str, credentials: Credentials | None = None) -> Any:
        """The client for (credentials, region, service), made once; thread-safe."""
        key = (credentials, region, service)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                kwargs: dict[str, Any] = {"region_name": region, "config": self._config}
                if credentials is not None:
                    kwargs |= {
                        "aws_access_key_id": credentials.access_key_id,
                        "aws_secret_access_key": credentials.secret_access_key,
                        "aws_session_token": credentials.session_token,
                    }
                client = self._boto.client(service, **kwargs)
                client.meta.events.register("before-call", self._before_call)
                self._clients[key] = client
            return client

    def _before_call(self, model: OperationModel, **_: Any) -> None:
        service = model.service_model.service_name
        if not is_read_only(service, model.name):
            raise ReadOnlyViolation(
                f"trailcheck is read-only and refused {operation_id(service, model.name)}"
            )
        self.meter.record(operation_id(service, model.name))


def _unknown_from(exc: Exception, op: str) -> Unknown:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return Unknown(
            operation=op,
            error_code=str(error.get("Code") or "ClientError"),
            message=str(error.get("Message") or "")[:300],
        )
    return Unknown(operation=op, error_code=type(exc).__name__, message=str(exc)[:300])


def _op_id(client: Any, operation: str) -> str:
    return operation_id(client.meta.service_model.service_name, operation)


def call(
    client: Any, operation: str, *, absent: Iterable[str] = (), **params: Any
) -> dict[str, Any] | Unknown | None:
    """Call `operation` (CamelCase); an error code in `absent` means "AWS says none" → None.

    Any other AWS or transport error becomes an `Unknown`. `ReadOnlyViolation` is not caught:
    it is a bug, never a fact about the account.
    """
    op = _op_id(client, operation)
    method = getattr(client, xform_name(operation))
    try:
        response: dict[str, Any] = method(**params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in set(absent):
            return None
        return _unknown_from(exc, op)
    except BotoCoreError as exc:
        return _unknown_from(exc, op)
    response.pop("ResponseMetadata", None)
    return response


def paginate(client: Any, operation: str, result_key: str, **params: Any) -> list[Any] | Unknown:
    """All items of a paginated list operation, or `Unknown` if any page fails."""
    op = _op_id(client, operation)
    paginator = client.get_paginator(xform_name(operation))
    items: list[Any] = []
    try:
        for page in paginator.paginate(**params):
            items.extend(page.get(result_key, []))
    except (ClientError, BotoCoreError) as exc:
        return _unknown_from(exc, op)
    return items
