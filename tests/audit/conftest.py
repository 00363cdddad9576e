"""Audit fixtures: a SQLite history filled with reports judged by the real rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trailcheck.history.store import HistoryStore, open_store, sha256_bytes
from trailcheck.model import Report, dump_json


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    opened = open_store(f"sqlite:///{tmp_path / 'history.db'}")
    yield opened
    opened.close()


@pytest.fixture
def fill(store: HistoryStore) -> Callable[[list[Report]], HistoryStore]:
    def _fill(reports: list[Report]) -> HistoryStore:
        for r in reports:
            store.record(
                r, sha256_bytes(dump_json(r).encode()), source=str(r.metadata.scan_started_at)
            )
        return store

    return _fill
