"""The only place trailcheck touches boto3.

One `AwsSession` per scan: it shares one boto3 session (service models are loaded once) and
makes one client per (region, service), shared by every account of the scan: each call is
signed with the credentials of the account it is made for (`AccountClient` binds them; the
session's credentials object hands the bound ones to the signer). A botocore client costs
about 2 MB and 20 ms to build, so a client per account would make an organization scan grow
by hundreds of MB and seconds per account, and open a connection pool per account; shared
clients keep memory flat and connections warm. Hooks on the session's event system (so every
client it makes carries them, raw clients and waiters included):

* the read-only guard refuses, before it is sent, any operation whose IAM action is not in the
  allow-list: the permissions the collectors declare (the same list the published IAM policy
  is generated from), so the scanner can only do what the policy lets it do;
* the meter counts every call per `service:Operation` (paginators and waiters included), and
  every retry;
* retries (standard mode: backoff with jitter on throttling, 5xx and connection errors) draw
  on a retry quota per account, so one throttled account cannot spend the retries of the
  other accounts that share the client.

`call()` and `paginate()` turn AWS errors into `Unknown` facts so collectors never raise; a
transient error that outlived the retries is also counted as a lost call (the scan was
incomplete).
"""

from __future__ import annotations

import os
import random
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
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.model import OperationModel
from botocore.retries import quota, standard

from trailcheck.model import Unknown

# API operations whose IAM action has another name (Service Authorization Reference); every
# other operation `Op` of service `svc` is authorized by the action `svc:Op`.
IAM_ACTION_OF = {
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3control:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
}
# botocore service names whose IAM prefix differs.
IAM_PREFIX_OF = {"s3control": "s3"}

# Declared permissions must be reads: a Describe/Get/List/Lookup name, or one of these reviewed
# exceptions (none changes anything in the account)...
READ_PREFIXES = ("Describe", "Get", "List", "Lookup")
READ_EXCEPTIONS = frozenset(
    {
        "sts:AssumeRole",  # enters a member account; changes nothing there
        "logs:TestMetricFilter",  # evaluates a pattern over sample text; touches nothing
        "events:TestEventPattern",
    }
)
# ...and never one of these, whose names look like reads but that mint credentials, hand out
# secrets or write (checked against the AWS API references).
NOT_READS = frozenset(
    {
        "sts:GetSessionToken",
        "sts:GetFederationToken",
        "sts:GetServiceBearerToken",
        "sts:GetWebIdentityToken",
        "sso:GetRoleCredentials",
        "ecr:GetAuthorizationToken",
        "ecr-public:GetAuthorizationToken",
        "codeartifact:GetAuthorizationToken",
        "redshift:GetClusterCredentials",
        "redshift:GetClusterCredentialsWithIAM",
        "redshift-serverless:GetCredentials",
        "cognito-identity:GetCredentialsForIdentity",
        "cognito-identity:GetOpenIdToken",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "kms:GetParametersForImport",
        "s3:GetObjectTorrent",
        "ec2:GetPasswordData",
        "lambda:GetFunction",  # returns a pre-signed URL to the code
        "iam:GetCredentialReport",
    }
)


def operation_id(service_name: str, operation_name: str) -> str:
    """`s3` + `GetBucketPolicy` → `s3:GetBucketPolicy` (botocore service and operation)."""
    return f"{service_name}:{operation_name}"


def iam_action(service_name: str, operation_name: str) -> str:
    """The IAM action that authorizes an API operation: `s3` + `ListBuckets` →
    `s3:ListAllMyBuckets`."""
    prefix = IAM_PREFIX_OF.get(service_name, service_name)
    return IAM_ACTION_OF.get(
        operation_id(service_name, operation_name), f"{prefix}:{operation_name}"
    )


def is_read_action(action: str) -> bool:
    """True when an IAM action may be declared by a read-only collector (see NOT_READS)."""
    if action in NOT_READS:
        return False
    name = action.split(":", 1)[1]
    return action in READ_EXCEPTIONS or name.startswith(READ_PREFIXES)


def declared_actions() -> frozenset[str]:
    """Every IAM action some collector declares: the guard's allow-list."""
    from trailcheck.scanner.collectors import all_collectors  # collectors import this module

    return frozenset(p for c in all_collectors() for p in c.permissions)


def is_read_only(
    service_name: str, operation_name: str, allowed: frozenset[str] | None = None
) -> bool:
    """True when the guard lets the operation through: its IAM action is declared (and is a
    read by the rules above, a second line of defence)."""
    action = iam_action(service_name, operation_name)
    allowed = declared_actions() if allowed is None else allowed
    return action in allowed and is_read_action(action)


class ReadOnlyViolation(RuntimeError):
    """Raised before sending any AWS operation that could change something."""


@dataclass(frozen=True)
class Credentials:
    """Temporary or long-term credentials for one account."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


class ApiMeter:
    """Thread-safe count of API calls, retries and lost calls per `service:Operation`.

    A call is counted once however many attempts it took; `retries` counts the extra attempts;
    `lost` counts calls that failed with a transient error (throttling, 5xx, connection) after
    the retry budget was spent: the facts they were to read are unknown.
    """

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._retries: Counter[str] = Counter()
        self._lost: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, op: str) -> None:
        with self._lock:
            self._counts[op] += 1

    def record_retry(self, op: str) -> None:
        with self._lock:
            self._retries[op] += 1

    def record_lost(self, op: str) -> None:
        with self._lock:
            self._lost[op] += 1

    def add(self, counts: dict[str, int]) -> None:
        """Add calls counted elsewhere (a shard run on another process)."""
        with self._lock:
            self._counts.update(counts)

    def snapshot(self) -> dict[str, int]:
        """The counts so far, sorted by operation name."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def retries(self) -> dict[str, int]:
        """Retries so far per operation, sorted."""
        with self._lock:
            return dict(sorted(self._retries.items()))

    def lost(self) -> dict[str, int]:
        """Calls lost to transient errors after retries, per operation, sorted."""
        with self._lock:
            return dict(sorted(self._lost.items()))

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


class _AccountWaiter:
    def __init__(self, waiter: Any, bound: _Bound) -> None:
        self._waiter = waiter
        self._bound = bound

    def wait(self, **kwargs: Any) -> None:
        self._bound.run(self._waiter.wait, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._waiter, name)


class AccountClient:
    """A shared (region, service) client bound to one account's credentials.

    Behaves like the boto3 client for what collectors use: operation methods, `get_paginator`,
    `meta`, `exceptions`. Every call it makes is signed for its account.
    """

    def __init__(
        self, client: BaseClient, credentials: Credentials | None, meter: ApiMeter | None = None
    ) -> None:
        self._client = client
        self._bound = _Bound(credentials)
        self._meter = meter

    def note_lost(self, op: str) -> None:
        """Count a call lost to a transient error after its retries."""
        if self._meter is not None:
            self._meter.record_lost(op)

    def get_paginator(self, operation_name: str) -> _AccountPaginator:
        return _AccountPaginator(self._client.get_paginator(operation_name), self._bound)

    def get_waiter(self, waiter_name: str) -> _AccountWaiter:
        return _AccountWaiter(self._client.get_waiter(waiter_name), self._bound)

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


# Error codes AWS uses for throttling and for transient server trouble (botocore's standard
# retry mode retries these, HTTP 429/5xx and connection errors).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


def is_transient(exc: Exception) -> bool:
    """True for an error that retrying may cure: throttling, 5xx, a broken connection."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in THROTTLING_CODES or code in TRANSIENT_CODES or status in TRANSIENT_STATUS
    return isinstance(exc, BotoCoreError) and not isinstance(exc, NoCredentialsError)


def _account_key() -> str:
    bound = _ACTIVE.get()
    return bound.access_key_id if bound is not None else ""


class _AccountRetries:
    """botocore's standard retry mode, with a retry quota per account instead of per client.

    botocore gives each client one retry quota (500 units; a throttled retry costs 5, another
    retry 14, a success refunds). Our clients are shared by every account, so one throttled
    account would spend the quota of all of them; here each account (each set of bound
    credentials) has its own quota in each client, chosen in the calling thread.
    """

    def __init__(
        self, service_event_name: str, max_attempts: int, backoff_scale: float, meter: ApiMeter
    ) -> None:
        self._adapter = standard.RetryEventAdapter()
        self._detector = standard.ThrottlingErrorDetector(self._adapter)
        self._policy = standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=max_attempts),
            retry_backoff=standard.ExponentialBackoff(
                random=lambda: backoff_scale * random.random(),
                service_name=service_event_name,
                throttling_detector=self._detector,
            ),
        )
        self._quotas: dict[str, standard.RetryQuotaChecker] = {}
        self._lock = threading.Lock()
        self._meter = meter

    def _quota(self) -> standard.RetryQuotaChecker:
        key = _account_key()
        with self._lock:
            checker = self._quotas.get(key)
            if checker is None:
                checker = standard.RetryQuotaChecker(quota.RetryQuota(), self._detector)
                self._quotas[key] = checker
            return checker

    def needs_retry(self, **kwargs: Any) -> float | None:
        """The `needs-retry` hook: the delay before the next attempt, or None (no retry)."""
        context = self._adapter.create_retry_context(**kwargs)
        delay: float | None = None
        if self._policy.should_retry(context) and self._quota().acquire_retry_quota(context):
            delay = self._policy.compute_retry_delay(context)
            model = kwargs["operation"]
            self._meter.record_retry(operation_id(model.service_model.service_name, model.name))
        self._adapter.adapt_retry_response_from_context(context)
        return delay

    def release(self, context: Any, http_response: Any, **_: Any) -> None:
        """The `after-call` hook: a success gives retry capacity back to its account."""
        self._quota().release_retry_quota(context, http_response)


class AwsSession:
    """Shared boto3 session, client cache, read-only guard, retries and API meter.

    `allowed_actions` is the guard's allow-list (default: every permission the collectors
    declare); `backoff_scale` scales the retry delays (1.0 as AWS SDKs; tests and benchmarks
    of fault handling use less).
    """

    def __init__(
        self,
        profile: str | None = None,
        *,
        max_attempts: int = 8,
        max_pool_connections: int = 32,
        boto_session: boto3.Session | None = None,
        allowed_actions: Iterable[str] | None = None,
        backoff_scale: float = 1.0,
        connect_timeout: float = 10,
        read_timeout: float = 30,
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
        self.allowed_actions = frozenset(
            declared_actions() if allowed_actions is None else allowed_actions
        )
        self.meter = ApiMeter()
        # On the session, before any client exists: every client made from it (through
        # `client()` or not) checks and counts each call, waiters and paginators included.
        core.register("before-call", self._before_call, unique_id="trailcheck-read-only-guard")
        self._boto = boto3.Session(botocore_session=core, region_name=source.region_name)
        # Standard mode: exponential backoff with jitter on throttling, 5xx and connection
        # errors, done by `_AccountRetries` (botocore's own handler is left one attempt, so it
        # never retries and never touches its per-client quota). Adaptive mode's client-side
        # rate limiter would let one throttled account slow every account sharing the client.
        self._max_attempts = max_attempts
        self._backoff_scale = backoff_scale
        self._config = Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=max_pool_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent_extra="trailcheck",
        )
        self._clients: dict[tuple[str, str], BaseClient] = {}
        self._lock = threading.Lock()

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
                event = client.meta.service_model.service_id.hyphenize()
                # botocore's own handler (one attempt: it never retries) has nothing to do.
                client.meta.events.unregister(
                    f"needs-retry.{event}", unique_id=f"retry-config-{event}"
                )
                retries = _AccountRetries(
                    event, self._max_attempts, self._backoff_scale, self.meter
                )
                client.meta.events.register(
                    f"needs-retry.{event}", retries.needs_retry, unique_id="trailcheck-retries"
                )
                client.meta.events.register(
                    f"after-call.{event}", retries.release, unique_id="trailcheck-retry-quota"
                )
                if service == "s3control" and custom_endpoint():
                    client.meta.events.register("before-sign.s3-control", _drop_account_host)
                self._clients[key] = client
        return AccountClient(client, credentials, self.meter)

    @property
    def client_count(self) -> int:
        """How many botocore clients the session made (for the benchmark)."""
        with self._lock:
            return len(self._clients)

    def _before_call(self, model: OperationModel, **_: Any) -> None:
        service = model.service_model.service_name
        if not is_read_only(service, model.name, self.allowed_actions):
            raise ReadOnlyViolation(
                f"trailcheck is read-only and refused {operation_id(service, model.name)} "
                f"(IAM action {iam_action(service, model.name)} is not a declared read)"
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


def _lost(client: Any, exc: Exception, op: str) -> Unknown:
    """The error as an Unknown; a transient one (retries spent) is counted as a lost call."""
    if is_transient(exc) and isinstance(client, AccountClient):
        client.note_lost(op)
    return _unknown_from(exc, op)


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
        return _lost(client, exc, op)
    except BotoCoreError as exc:
        return _lost(client, exc, op)
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
        return _lost(client, exc, op)
    return items
