"""Where work units run: a bounded thread pool in this process (the default), or a Dask cluster.

A work unit is a *shard*: plain data (account ids, the role to assume, names, times; never a
client, a credential or a lock) handed to a module-level function `fn(env, shard)`. The `env`
turns an `AccountEntry` into read access to that account where the shard runs: here, the
accesses the scan already opened; on a Dask worker, the worker's own session, entered from the
standard credential chain or by assuming the entry's role (`trailcheck.scanner.dask_executor`).
Both `scan`/`collect` and `verify-logs` run their work through an `Executor`, so the same
functions produce the same results on either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

from trailcheck.errors import UserError
from trailcheck.extras import require_extra
from trailcheck.scanner.collectors.base import AccountAccess
from trailcheck.scanner.session import AwsSession, Credentials

T = TypeVar("T")
R = TypeVar("R")

LOCAL = "local"
DASK_SCHEME = "dask://"


def run_all(fn: Callable[[T], R], items: Iterable[T], max_workers: int) -> list[R]:
    """`[fn(x) for x in items]`, run on at most `max_workers` threads, results in input order.

    An exception in any call is re-raised here: a crashed work unit is never silently dropped.
    """
    work = list(items)
    if max_workers <= 1 or len(work) <= 1:
        return [fn(item) for item in work]
    pool = ThreadPoolExecutor(max_workers=min(max_workers, len(work)))
    try:
        return list(pool.map(fn, work))
    finally:
        # On Ctrl-C (or a crash) the queued units are dropped, not run to the end first.
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class AccountEntry:
    """How to enter an account wherever a shard runs: plain data, never credentials.

    `role_arn` None: the credentials of the process itself (the caller's own account).
    """

    account_id: str
    role_arn: str | None = None
    external_id: str | None = None
    sts_region: str = "us-east-1"


@dataclass(frozen=True)
class ShardFailure:
    """A shard that failed for good (its worker lost past the retries, or it raised there).

    Whoever planned the shard turns this into ERROR for everything the shard covered.
    """

    reason: str


class Env(Protocol):
    """What a shard function gets: read access to the accounts its shard names."""

    def access(self, entry: AccountEntry) -> AccountAccess: ...


class LocalEnv:
    """The env of the local executor: the accounts this process has already entered."""

    def __init__(self, session: AwsSession, credentials: Mapping[str, Credentials | None]) -> None:
        self.session = session
        self._access = {
            account_id: AccountAccess(account_id, session, creds)
            for account_id, creds in credentials.items()
        }

    def access(self, entry: AccountEntry) -> AccountAccess:
        return self._access[entry.account_id]


class Executor(Protocol):
    """Runs shards, results in input order; `on_done` is called (in any thread) per shard."""

    name: str

    def map(
        self,
        fn: Callable[[Env, T], R],
        shards: Sequence[T],
        env: LocalEnv,
        *,
        parallel: int,
        on_done: Callable[[], None] | None = None,
    ) -> list[R | ShardFailure]: ...


class LocalExecutor:
    """Today's bounded thread pool, in this process. A shard that raises (a bug, a response no
    collector expected) fails for good, as on Dask: a `ShardFailure` naming the exception, so
    one account's crash is ERROR for what its shard covered, never a crashed scan."""

    name = LOCAL

    def map(
        self,
        fn: Callable[[Env, T], R],
        shards: Sequence[T],
        env: LocalEnv,
        *,
        parallel: int,
        on_done: Callable[[], None] | None = None,
    ) -> list[R | ShardFailure]:
        def one(shard: T) -> R | ShardFailure:
            try:
                result: R | ShardFailure = fn(env, shard)
            except Exception as exc:  # one shard, not the scan (Ctrl-C is not an Exception)
                text = " ".join(str(exc).split())[:300]
                result = ShardFailure(f"{type(exc).__name__}: {text}")
            if on_done is not None:
                on_done()
            return result

        return list(run_all(one, shards, parallel))


def parse_executor(value: str) -> str:
    """Check an --executor value: `local` or `dask://HOST:PORT` (returned unchanged)."""
    if value == LOCAL:
        return value
    if value.startswith(DASK_SCHEME):
        address = value[len(DASK_SCHEME) :]
        host, _, port = address.rpartition(":")
        if host and port.isdigit():
            require_extra("dask", "--executor dask://")  # before any AWS call
            return value
    raise UserError(f"--executor: {value!r} is not 'local' or 'dask://HOST:PORT'")


def open_executor(value: str, profile: str | None = None) -> Executor:
    """The executor an --executor value names (a Dask one connects to its scheduler now)."""
    if parse_executor(value) == LOCAL:
        return LocalExecutor()
    from trailcheck.scanner.dask_executor import DaskExecutor

    return DaskExecutor(value[len(DASK_SCHEME) :], profile=profile)
