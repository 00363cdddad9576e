"""Issue 17 item 9: the history accepts scans in any order. Whatever order the reports are
recorded in, the intervals are those of recording them oldest first (property-based, on SQLite
and on the PostgreSQL server the tests start)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from conftest import _new_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from period_world import ACCOUNTS, RULES, Scan, report

from trailcheck.history.store import HistoryStore, open_store, sha256_bytes
from trailcheck.model import Status, dump_json

OUTCOMES = st.sampled_from([Status.PASS, Status.FAIL, Status.ERROR, Status.NOT_APPLICABLE, None])


@st.composite
def scans(draw: st.DrawFn) -> list[Scan]:
    hours = draw(st.lists(st.integers(0, 40), min_size=1, max_size=6, unique=True))
    found = []
    for hour in hours:
        listed = tuple(sorted(draw(st.sets(st.sampled_from(ACCOUNTS), min_size=1))))
        unreachable = tuple(a for a in listed if draw(st.integers(0, 5)) == 0)
        ran = tuple(r for r in RULES if draw(st.integers(0, 4)) > 0)
        outcomes = {(a, r): s for a in listed for r in RULES if (s := draw(OUTCOMES)) is not None}
        found.append(Scan(hour, listed, unreachable, ran, outcomes))
    return found


def _record_all(store: HistoryStore, order: list[Scan]) -> None:
    for scan in order:
        r = report(scan)
        store.record(r, sha256_bytes(dump_json(r).encode()), source=f"h{scan.hour}")


def _intervals(store: HistoryStore) -> list[tuple[object, ...]]:
    return sorted(
        (
            i.fingerprint,
            i.status,
            i.severity,
            i.reason,
            i.first_seen,
            i.last_seen,
            i.ended_at or "open",
        )
        for i in store.intervals(Scan(-1000, ()).time, Scan(1000, ()).time)
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_any_recording_order_gives_the_intervals_of_time_order(
    kind: str, request: pytest.FixtureRequest
) -> None:
    base = request.getfixturevalue("postgres_server") if kind == "postgresql" else None

    def url() -> str:
        if base is not None:
            return _new_database(base)
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix='tc-order-')) / 'h.db'}"

    @settings(
        max_examples=25 if kind == "postgresql" else 60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(history=scans(), order=st.randoms(use_true_random=False))
    def check(history: list[Scan], order: object) -> None:
        shuffled = list(history)
        order.shuffle(shuffled)  # type: ignore[attr-defined]
        in_order, any_order = open_store(url()), open_store(url())
        try:
            _record_all(in_order, sorted(history, key=lambda s: s.hour))
            _record_all(any_order, shuffled)
            assert _intervals(any_order) == _intervals(in_order)
            assert [s.started_at for s in any_order.scans()] == sorted(s.time for s in history)
        finally:
            in_order.close()
            any_order.close()

    check()
