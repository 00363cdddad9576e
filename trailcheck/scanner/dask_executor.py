"""`--executor dask://HOST:PORT`: shards run on the workers of a Dask distributed cluster.

Needs the optional extra `trailcheck[dask]`; imported only when asked for. What travels to a
worker is a shard (plain data) and a reference to a module-level function; the worker plugin
(registered once per run, itself plain data: a profile name and a pool size) builds the worker's
own `AwsSession` on first use and enters accounts from the standard credential chain or by
assuming the shard's role, keeping assumed credentials in the worker process only.

Failure semantics: Dask re-runs a shard whose worker died (up to the scheduler's
`allowed-failures`); a shard lost past that, or that raised on its worker, comes back as a
`ShardFailure`, which the caller turns into ERROR for what the shard covered. Losing the
scheduler or an interrupt ends the run with an error: no report is written.

Each shard counts its own API calls (a per-task meter) and returns them with its result, so the
report's call counts are the same as a local run's. A worker's own sts:AssumeRole calls to enter
accounts are not counted (the local run assumed the same roles once, up front, and counted them).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from distributed import Client, WorkerPlugin, as_completed, get_worker
from distributed.client import FutureCancelledError

from trailcheck.errors import ScanError
from trailcheck.model import Unknown
from trailcheck.scanner.collectors.base import AccountAccess
from trailcheck.scanner.executor import AccountEntry, Env, LocalEnv, ShardFailure
from trailcheck.scanner.session import ApiMeter, AwsSession, Credentials, call

T = TypeVar("T")
R = TypeVar("R")

PLUGIN_NAME = "trailcheck"
CREDENTIALS_REFRESH_SECONDS = 45 * 60
"""Assumed-role credentials last an hour by default: a worker re-assumes after 45 minutes."""
CONNECT_TIMEOUT = "10s"

_TASK_CALLS: ContextVar[_Calls | None] = ContextVar("trailcheck_task_calls", default=None)


class _Calls:
    """The API calls of one shard (its verifier's reader threads included)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, op: str) -> None:
        with self._lock:
            self._counts[op] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class _TaskMeter(ApiMeter):
    """The worker session's meter: also counts each call for the shard making it."""

    def record(self, op: str) -> None:
        super().record(op)
        calls = _TASK_CALLS.get()
        if calls is not None:
            calls.add(op)


class EnterError(RuntimeError):
    """A worker could not enter the account a shard names."""


class WorkerEnv:
    """A worker process's env: its own session, accounts entered on demand."""

    def __init__(self, profile: str | None, max_pool_connections: int) -> None:
        self._profile = profile
        self._pool = max_pool_connections
        self._session: AwsSession | None = None
        self._entered: dict[AccountEntry, tuple[float, Credentials]] = {}
        self._own_account: str | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> AwsSession:
        with self._lock:
            if self._session is None:
                self._session = AwsSession(self._profile, max_pool_connections=self._pool)
                self._session.meter = _TaskMeter()
            return self._session

    def access(self, entry: AccountEntry) -> AccountAccess:
        session = self.session
        if entry.role_arn is None:
            # The caller's own account, read with the worker's own chain: refuse to read
            # another account in its place when the worker's credentials are not the caller's.
            own = self._own(session, entry)
            if own != entry.account_id:
                raise EnterError(
                    f"worker credentials are for account {own}, not {entry.account_id}: give "
                    "the workers credentials of the caller's account"
                )
            return AccountAccess(entry.account_id, session, None)
        return AccountAccess(entry.account_id, session, self._credentials(session, entry))

    def _own(self, session: AwsSession, entry: AccountEntry) -> str:
        with self._lock:
            known = self._own_account
        if known is not None:
            return known
        token = _TASK_CALLS.set(None)  # the worker's cost, not the shard's
        try:
            answer = call(session.client("sts", entry.sts_region), "GetCallerIdentity")
        finally:
            _TASK_CALLS.reset(token)
        if not isinstance(answer, dict):
            reason = answer.describe() if isinstance(answer, Unknown) else "empty answer"
            raise EnterError(f"worker cannot identify its own credentials: {reason}")
        with self._lock:
            self._own_account = str(answer["Account"])
        return str(answer["Account"])

    def _credentials(self, session: AwsSession, entry: AccountEntry) -> Credentials:
        from trailcheck.scanner.org import assume_role

        now = time.monotonic()
        with self._lock:
            cached = self._entered.get(entry)
        if cached is not None and now - cached[0] < CREDENTIALS_REFRESH_SECONDS:
            return cached[1]
        token = _TASK_CALLS.set(None)  # entering is the worker's cost, not the shard's
        try:
            answer = assume_role(session, entry.sts_region, entry.role_arn or "", entry.external_id)
        finally:
            _TASK_CALLS.reset(token)
        if isinstance(answer, Unknown):
            raise EnterError(f"worker cannot enter account {entry.account_id}: {answer.describe()}")
        with self._lock:
            self._entered[entry] = (now, answer)
        return answer


class TrailcheckWorkerPlugin(WorkerPlugin):
    """Gives each worker process its `WorkerEnv` (built there; only these settings travel)."""

    name = PLUGIN_NAME

    def __init__(self, profile: str | None, max_pool_connections: int) -> None:
        self.profile = profile
        self.max_pool_connections = max_pool_connections

    def setup(self, worker: Any) -> None:
        self.env = WorkerEnv(self.profile, self.max_pool_connections)


def run_shard(shard: Any, fn: Callable[[Env, Any], Any]) -> tuple[Any, dict[str, int]]:
    """On a worker: `fn(env, shard)` and the API calls it made."""
    plugin = get_worker().plugins[PLUGIN_NAME]
    calls = _Calls()
    token = _TASK_CALLS.set(calls)
    try:
        result = fn(plugin.env, shard)
    finally:
        _TASK_CALLS.reset(token)
    return result, calls.snapshot()


class DaskExecutor:
    """Shards as Dask tasks on the cluster whose scheduler is at `address` (HOST:PORT)."""

    name = "dask"

    def __init__(
        self,
        address: str,
        *,
        profile: str | None = None,
        max_pool_connections: int = 32,
        client: Client | None = None,
    ) -> None:
        if client is None:
            try:
                client = Client(f"tcp://{address}", timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                # not bad input: the scan cannot run (like AWS unreachable), exit 3
                raise ScanError(
                    f"--executor: cannot reach the Dask scheduler at {address}: {exc}"
                ) from None
        self.client = client
        self.client.register_plugin(
            TrailcheckWorkerPlugin(profile, max_pool_connections), name=PLUGIN_NAME
        )

    def map(
        self,
        fn: Callable[[Env, T], R],
        shards: Sequence[T],
        env: LocalEnv,
        *,
        parallel: int,
        on_done: Callable[[], None] | None = None,
    ) -> list[R | ShardFailure]:
        if not shards:
            return []
        futures = self.client.map(run_shard, list(shards), fn=fn, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[R | ShardFailure | None] = [None] * len(futures)
        try:
            for future in as_completed(futures):
                results[index[future.key]] = self._outcome(future, env)
                if on_done is not None:
                    on_done()
        except (FutureCancelledError, OSError, TimeoutError) as exc:
            raise ScanError(
                f"the Dask cluster was lost mid-run ({exc}); no report written"
            ) from None
        finally:
            self.client.cancel(futures)
        return [r if r is not None else ShardFailure("no result") for r in results]

    @staticmethod
    def _outcome(future: Any, env: LocalEnv) -> Any:
        if future.status == "cancelled":
            raise FutureCancelledError(future.key, "cancelled", None)
        error = future.exception() if future.status == "error" else None
        if error is not None:
            return ShardFailure(f"{type(error).__name__}: {error}")
        result, calls = future.result()
        env.session.meter.add(calls)
        return result

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        self.client.close()
