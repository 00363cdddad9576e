"""`trailcheck history ...` and the `scan --history` hook. SQLAlchemy is imported only when a
history is really used, so the plain install runs every other command without the extra."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from trailcheck.history import check_url, require_history
from trailcheck.model import Inventory, Report, dump_json

history_app = typer.Typer(
    help="The scan history (a SQLite file or a PostgreSQL database) behind `trailcheck audit`.",
    no_args_is_help=True,
)

HistoryUrlArg = Annotated[
    str,
    typer.Option(
        "--history",
        help="History store: sqlite:///path/history.db or postgresql://user@host/db.",
    ),
]


def validate_history(url: str | None) -> None:
    """Fail before any AWS call when --history is unusable (no extra, malformed URL)."""
    if url is not None:
        require_history()
        check_url(url)


def record_scan(url: str, report: Report, inventory: Inventory | None, quiet: bool) -> None:
    """`scan --history`: record the report just written (and the snapshot's hash, if saved)."""
    from trailcheck.history.store import open_store, sha256_bytes

    store = open_store(url)
    try:
        snapshot_sha = (
            sha256_bytes(dump_json(inventory).encode("utf-8")) if inventory is not None else None
        )
        done = store.record(
            report,
            sha256_bytes(dump_json(report).encode("utf-8")),
            source="scan",
            snapshot_sha256=snapshot_sha,
        )
    finally:
        store.close()
    if not quiet:
        sys.stdout.write(
            f"history: scan {done.scan_id} recorded ({done.opened} opened, {done.closed} ended, "
            f"{done.extended} unchanged)\n"
        )


@history_app.command("import")
def history_import(
    reports: Annotated[list[Path], typer.Argument(help="JSON reports (report.json) to record.")],
    history: HistoryUrlArg,
) -> None:
    """Record existing JSON reports in the history (oldest scan first; already-recorded reports
    are recognised by their SHA-256 and skipped)."""
    validate_history(history)
    from trailcheck.history.store import open_store, record_files

    store = open_store(history)
    try:
        for path, done in record_files(store, reports):
            if done.new:
                sys.stdout.write(
                    f"{path}: scan {done.scan_id} recorded ({done.opened} opened, "
                    f"{done.closed} ended, {done.extended} unchanged)\n"
                )
            else:
                sys.stdout.write(f"{path}: already recorded (scan {done.scan_id})\n")
    finally:
        store.close()


@history_app.command("scans")
def history_scans(history: HistoryUrlArg) -> None:
    """List the recorded scans: id, time, accounts, report SHA-256."""
    validate_history(history)
    from trailcheck.history.store import open_store

    store = open_store(history)
    try:
        for scan in store.scans():
            sys.stdout.write(
                f"{scan.id}\t{scan.started_at.isoformat()}\t{len(scan.accounts)} account(s)\t"
                f"{scan.report_sha256}\t{scan.source}\n"
            )
    finally:
        store.close()
