"""The only place trailcheck touches boto3.

One `AwsSession` per scan: it shares one boto3 session (service models are loaded once) and
makes one client per (region, service), shared by every account of the scan: each call is
signed with the credentials of the account it is made for (`AccountClient` binds them; the
session's credentials object hands the bound ones to the signer). A botocore client costs
about 2 MB and 20 ms to build, so a client per account would make an organization scan grow
by hundreds of MB and seconds per account, and open a connection pool per account; shared
clients keep memory flat and connections warm. It registers two hooks on every client:

* the read-only guard refuses any operation that is not a read before it is sent;
* the meter counts every call per `service:Operation` (paginators and waiters included).

`call()` and `paginate()` turn AWS errors into `Unknown` facts so collectors never raise.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.credentials
import botocore.session
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

    def add(self, counts: dict[str, int]) -> None:
        """Add calls counted elsewhere (a shard run on another process)."""
        with self._lock:
            self._counts.update(counts)

    def snapshot(self) -> dict[str, int]:
        """The counts so far, sorted by operation name."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


# The account credentials of the call in progress on this thread (None: the caller's own).
_ACTIVE: ContextVar[Credentials | None] = ContextVar("trailcheck_credentials", default=None)


class _PerCallCredentials(botocore.credentials.Credentials):
    """What the signer of every shared client reads: the credentials bound to the call.

    botocore asks `get_frozen_credentials()` each time it signs a request (retries included),
    in the thread that makes the call; `AccountClient` sets the bound credentials around it.
    The caller's own credentials (profile, environment, SSO...) are resolved once, lazily.
    """

    def __init__(self, boto: boto3.Session) -> None:
        self._source = boto
        self._default: botocore.credentials.Credentials | None = None
        self._resolved = False
        self._resolve_lock = threading.Lock()
        self.method = "trailcheck"
        self.account_id = None

    def _caller(self) -> botocore.credentials.Credentials | None:
        with self._resolve_lock:
            if not self._resolved:
                self._default = self._source.get_credentials()
                self._resolved = True
            return self._default

    def get_frozen_credentials(self) -> botocore.credentials.ReadOnlyCredentials | None:  # type: ignore[override]
        bound = _ACTIVE.get()
        if bound is not None:
            return botocore.credentials.ReadOnlyCredentials(
                bound.access_key_id, bound.secret_access_key, bound.session_token
            )
        caller = self._caller()
        return caller.get_frozen_credentials() if caller is not None else None

    # Attribute access some botocore paths use instead of the frozen form.
    @property  # type: ignore[override]
    def access_key(self) -> str | None:
        frozen = self.get_frozen_credentials()
        return frozen.access_key if frozen else None

    @property  # type: ignore[override]
    def secret_key(self) -> str | None:
        frozen = self.get_frozen_credentials()
        return frozen.secret_key if frozen else None

    @property  # type: ignore[override]
    def token(self) -> str | None:
        frozen = self.get_frozen_credentials()
        return frozen.token if frozen else None


class _Bound:
    """Runs calls with `credentials` bound for the signer (reset afterwards, even on error)."""

    def __init__(self, credentials: Credentials | None) -> None:
        self._credentials = credentials

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        token = _ACTIVE.set(self._credentials)
        try:
            return fn(*args, **kwargs)
        finally:
            _ACTIVE.reset(token)

    def iterate(self, iterable: Any) -> Iterator[Any]:
        iterator = self.run(iter, iterable)
        while True:
            token = _ACTIVE.set(self._credentials)
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                _ACTIVE.reset(token)
            yield item


class _AccountPageIterator:
    def __init__(self, pages: Any, bound: _Bound) -> None:
        self._pages = pages
        self._bound = bound

    def __iter__(self) -> Iterator[Any]:
        return self._bound.iterate(self._pages)

    def build_full_result(self) -> Any:
        return self._bound.run(self._pages.build_full_result)

    def search(self, expression: str) -> Iterator[Any]:
        return self._bound.iterate(self._pages.search(expression))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pages, name)


class _AccountPaginator:
    def __init__(self, paginator: Any, bound: _Bound) -> None:
        self._paginator = paginator
        self._bound = bound

    def paginate(self, **kwargs: Any) -> _AccountPageIterator:
        return _AccountPageIterator(self._paginator.paginate(**kwargs), self._bound)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._paginator, name)


class AccountClient:
    """A shared (region, service) client bound to one account's credentials.

    Behaves like the boto3 client for what collectors use: operation methods, `get_paginator`,
    `meta`, `exceptions`. Every call it makes is signed for its account.
    """

    def __init__(self, client: BaseClient, credentials: Credentials | None) -> None:
        self._client = client
        self._bound = _Bound(credentials)

    def get_paginator(self, operation_name: str) -> _AccountPaginator:
        return _AccountPaginator(self._client.get_paginator(operation_name), self._bound)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or name in ("meta", "exceptions") or not callable(attr):
            return attr

        def bound_call(*args: Any, **kwargs: Any) -> Any:
            return self._bound.run(attr, *args, **kwargs)

        return bound_call


def custom_endpoint() -> bool:
    """True when boto3 is pointed at a custom endpoint through the environment."""
    return any(name.startswith("AWS_ENDPOINT_URL") and value for name, value in os.environ.items())


def _drop_account_host(request: Any, **_: Any) -> None:
    """S3 Control puts the account id in front of the host (`<account>.<endpoint>`); a custom
    endpoint (a simulator, a proxy) has no such DNS names, so send to the endpoint itself. The
    account id still travels in the x-amz-account-id header. Done before signing."""
    parts = urlsplit(request.url)
    account = request.headers.get("x-amz-account-id")
    account = account.decode() if isinstance(account, bytes) else account
    if account and parts.netloc.startswith(f"{account}."):
        netloc = parts.netloc[len(account) + 1 :]
        request.url = urlunsplit(parts._replace(netloc=netloc))


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
        source = boto_session or boto3.Session(profile_name=profile)
        # Our own botocore session (same profile, so the same config and endpoints), whose
        # only credentials are the per-call ones.
        named = source.profile_name if source.profile_name in source.available_profiles else None
        core = botocore.session.Session(profile=named)
        core.register_component(
            "credential_provider",
            botocore.credentials.CredentialResolver([_StaticProvider(_PerCallCredentials(source))]),
        )
        self._boto = boto3.Session(botocore_session=core, region_name=source.region_name)
        # Standard mode: exponential backoff with jitter on throttling, per request. (Adaptive
        # mode's client-side rate limiter would let one throttled account slow every account
        # that shares the client.)
        self._config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            max_pool_connections=max_pool_connections,
            user_agent_extra="trailcheck",
        )
        self._clients: dict[tuple[str, str], BaseClient] = {}
        self._lock = threading.Lock()
        self.meter = ApiMeter()

    @property
    def default_region(self) -> str | None:
        return self._boto.region_name

    def client(
        self, service: str, region: str, credentials: Credentials | None = None
    ) -> AccountClient:
        """A client for `service` in `region` whose calls are made with `credentials`
        (None: the caller's own). The underlying client is made once per (region, service)
        and shared by every account; thread-safe."""
        key = (region, service)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._boto.client(service, region_name=region, config=self._config)
                client.meta.events.register("before-call", self._before_call)
                if service == "s3control" and custom_endpoint():
                    client.meta.events.register("before-sign.s3-control", _drop_account_host)
                self._clients[key] = client
        return AccountClient(client, credentials)

    @property
    def client_count(self) -> int:
        """How many botocore clients the session made (for the benchmark)."""
        with self._lock:
            return len(self._clients)

    def _before_call(self, model: OperationModel, **_: Any) -> None:
        service = model.service_model.service_name
        if not is_read_only(service, model.name):
            raise ReadOnlyViolation(
                f"trailcheck is read-only and refused {operation_id(service, model.name)}"
            )
        self.meter.record(operation_id(service, model.name))


class _StaticProvider(botocore.credentials.CredentialProvider):
    METHOD = "trailcheck"
    CANONICAL_NAME = "trailcheck"

    def __init__(self, credentials: botocore.credentials.Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> botocore.credentials.Credentials:
        return self._credentials


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
