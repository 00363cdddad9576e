"""The history store on SQLite and on a real PostgreSQL server: intervals hold changes only,
scope-aware endings, idempotent imports, migrations, two concurrent writer processes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from history_world import DEV, PROD, report_at

from trailcheck.errors import UserError
from trailcheck.history.store import (
    HistoryStore,
    _alembic_config,
    _engine,
    _write,
    open_store,
    schema_head,
    sha256_bytes,
)
from trailcheck.model import dump_json

T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
LOGGING = "CT.TRAIL.LOGGING"


def record(store: HistoryStore, report, source: str = "test"):  # type: ignore[no-untyped-def]
    return store.record(report, sha256_bytes(dump_json(report).encode()), source=source)


def logging_intervals(store: HistoryStore, account: str):  # type: ignore[no-untyped-def]
    return [
        i
        for i in store.intervals(T0 - DAY, T0 + 100 * DAY)
        if i.rule_id == LOGGING and i.account_id == account
    ]


def test_a_status_that_holds_is_one_interval_and_a_change_starts_another(history_url: str) -> None:
    store = open_store(history_url)
    reports = [
        report_at(T0),
        report_at(T0 + DAY),
        report_at(T0 + 2 * DAY, logging={PROD: False, DEV: True}),
        report_at(T0 + 3 * DAY),
        report_at(T0 + 4 * DAY),
    ]
    results = [record(store, r) for r in reports]
    per_scan = len(reports[0].findings)
    assert results[0].opened == per_scan
    assert results[1].opened == 0 and results[1].extended == per_scan
    assert results[2].opened == results[2].closed >= 1  # PROD's logging changed (and related)

    prod = logging_intervals(store, PROD)
    assert [(i.status, i.first_seen, i.last_seen, i.ended_at) for i in prod] == [
        ("PASS", T0, T0 + DAY, T0 + 2 * DAY),
        ("FAIL", T0 + 2 * DAY, T0 + 2 * DAY, T0 + 3 * DAY),
        ("PASS", T0 + 3 * DAY, T0 + 4 * DAY, None),
    ]
    dev = logging_intervals(store, DEV)
    assert [(i.status, i.first_seen, i.last_seen, i.ended_at) for i in dev] == [
        ("PASS", T0, T0 + 4 * DAY, None)
    ]
    # changes, not copies: far fewer interval rows than findings recorded
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM intervals")).scalar_one()
    assert rows < 2 * per_scan < 5 * per_scan
    scans = store.scans()
    assert [s.started_at for s in scans] == [r.metadata.scan_started_at for r in reports]
    assert scans[0].accounts == {PROD: True, DEV: True}
    assert store.document(scans[0].rules_doc)[LOGGING]["related_controls"]["cis-aws-3.0"] == ["3.1"]
    store.close()


def test_a_scan_ends_only_the_intervals_of_accounts_it_covered(history_url: str) -> None:
    store = open_store(history_url)
    record(store, report_at(T0))
    record(store, report_at(T0 + DAY, logging={DEV: True}))  # PROD not scanned: stays open
    assert [i.ended_at for i in logging_intervals(store, PROD)] == [None]
    assert logging_intervals(store, PROD)[0].last_seen == T0
    # a scan that covers PROD and no longer has the finding ends it (the trail is gone)
    gone = report_at(T0 + 2 * DAY, logging={DEV: True}).model_copy(deep=True)
    meta = gone.metadata.model_copy(update={"accounts": [DEV, PROD]})
    record(store, gone.model_copy(update={"metadata": meta}))
    assert [i.ended_at for i in logging_intervals(store, PROD)] == [T0 + 2 * DAY]
    store.close()


def test_recording_the_same_report_twice_changes_nothing(history_url: str) -> None:
    store = open_store(history_url)
    report = report_at(T0)
    first, again = record(store, report), record(store, report)
    assert first.new and not again.new and again.scan_id == first.scan_id
    assert len(store.scans()) == 1
    store.close()


def test_a_long_scan_recorded_after_a_quicker_later_one_is_kept(history_url: str) -> None:
    """Issue 17 item 9: an --org scan started at 10:00 finishes after a CI scan of one account
    started at 11:00 was recorded; both are kept and the intervals are those of time order
    (formerly refused as "older than a recorded scan")."""
    store = open_store(history_url)
    record(store, report_at(T0))
    record(store, report_at(T0 + DAY + timedelta(hours=5), logging={PROD: False}), "ci.json")
    late = record(store, report_at(T0 + DAY + timedelta(hours=4)), "org.json")
    assert late.new
    assert [s.source for s in store.scans()] == ["test", "org.json", "ci.json"]
    prod = logging_intervals(store, PROD)
    assert [(i.status, i.first_seen, i.last_seen, i.ended_at) for i in prod] == [
        ("PASS", T0, T0 + DAY + timedelta(hours=4), T0 + DAY + timedelta(hours=5)),
        ("FAIL", T0 + DAY + timedelta(hours=5), T0 + DAY + timedelta(hours=5), None),
    ]
    [dev] = logging_intervals(store, DEV)
    assert (dev.status, dev.last_seen, dev.ended_at) == (
        "PASS",
        T0 + DAY + timedelta(hours=4),
        None,
    )
    store.close()


def test_a_report_of_another_organization_is_refused_in_one_line(history_url: str) -> None:
    store = open_store(history_url)
    record(store, report_at(T0, organization_id="o-aaaaaaaaaa"))
    with pytest.raises(
        UserError, match="organization o-bbbbbbbbbb, but this history records o-aaaaaaaaaa"
    ) as caught:
        record(store, report_at(T0 + DAY, organization_id="o-bbbbbbbbbb"), source="other.json")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("other.json: ")
    assert len(store.scans()) == 1
    store.close()


def test_a_store_of_an_older_schema_is_upgraded_without_losing_anything(history_url: str) -> None:
    engine = _engine(history_url)
    with _write(engine) as conn:
        command.upgrade(_alembic_config(conn), "0001")
    old = HistoryStore(engine)
    record(old, report_at(T0))
    assert old.revision() == "0001"
    old.close()

    store = open_store(history_url)
    assert store.revision() == schema_head() != "0001"
    assert [s.started_at for s in store.scans()] == [T0]
    assert len(logging_intervals(store, PROD)) == 1
    with store.engine.connect() as conn:
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("intervals")}
    assert "ix_intervals_open" in indexes
    store.close()


def test_a_store_from_a_newer_trailcheck_is_refused(history_url: str) -> None:
    open_store(history_url).close()
    engine = _engine(history_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(UserError, match="newer than this trailcheck"):
        open_store(history_url)


def _import_command(url: str, paths: list[Path]) -> list[str]:
    code = "import sys; from trailcheck.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, "history", "import", *map(str, paths), "--history", url]


def test_two_writer_processes_at_once_both_land_whole(history_url: str, tmp_path: Path) -> None:
    """Two CI jobs (two OS processes) import into one brand-new store at the same time."""
    jobs = []
    for name, account in (("a", PROD), ("b", DEV)):
        paths = []
        for day in range(4):
            logging = {account: day % 2 == 0, f"9{name * 11}": True}
            report = report_at(T0 + day * DAY + timedelta(minutes=ord(name)), logging=logging)
            path = tmp_path / f"{name}{day}.json"
            path.write_text(dump_json(report), encoding="utf-8")
            paths.append(path)
        jobs.append(paths)
    procs = [
        subprocess.Popen(
            _import_command(history_url, p), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for p in jobs
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert out.decode().count("recorded") == 4
    store = open_store(history_url)
    assert len(store.scans()) == 8
    for account in (PROD, DEV):
        statuses = [i.status for i in logging_intervals(store, account)]
        assert statuses == ["PASS", "FAIL"] * 2  # every change of each job, in order
    store.close()


def test_history_without_the_extra_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['sqlalchemy'] = None; from trailcheck.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    url = f"sqlite:///{tmp_path}/h.db"
    proc = subprocess.run(
        [sys.executable, "-c", code, "history", "scans", "--history", url],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "trailcheck: error: --history needs the history extra (sqlalchemy, alembic): "
        "pip install 'trailcheck[history]'"
    ]


@pytest.mark.parametrize("url", ["mysql://x/y", "history.db", "sqlite://relative"])
def test_a_url_that_is_not_a_history_store_is_refused(url: str) -> None:
    from trailcheck.cli import main

    assert main(["history", "scans", "--history", url]) == 2
