"""One bounded worker pool for a scan; a serial mode for tests and --debug."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_all(fn: Callable[[T], R], items: Iterable[T], max_workers: int) -> list[R]:
    """`[fn(x) for x in items]`, run on at most `max_workers` threads, results in input order.

    An exception in any call is re-raised here: a crashed work unit is never silently dropped.
    """
    work = list(items)
    if max_workers <= 1 or len(work) <= 1:
        return [fn(item) for item in work]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(work))) as pool:
        return list(pool.map(fn, work))
