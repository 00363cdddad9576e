"""History store at scale: record a daily scan of N accounts for D days (1 % of findings change
status each day), then build the audit of the whole period.

    python -m bench.history_bench --accounts 500 --days 30 [--url postgresql://...]

Prints the time per recording, the store's size (SQLite file) and interval rows, and the time to
build the audit document. The findings come from the real rules over an inventory of N accounts
with no trail (every account fails or errs the same way), then drift day by day.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trailcheck.audit.build import AuditInputs, build_audit
from trailcheck.engine import evaluate
from trailcheck.history.store import open_store, sha256_bytes
from trailcheck.model import Account, Inventory, Report, ScanMetadata, Status, dump_json
from trailcheck.rules import load_rules

T0 = datetime(2026, 7, 1, 6, tzinfo=UTC)
FLIP = {Status.PASS: Status.FAIL, Status.FAIL: Status.PASS, Status.ERROR: Status.PASS}


def base_report(accounts: int) -> Report:
    ids = [f"{100000000000 + i:012d}" for i in range(accounts)]
    inventory = Inventory(
        metadata=ScanMetadata(tool_version="bench", started_at=T0, finished_at=T0),
        accounts={
            a: Account(account_id=a, regions=("us-east-1",), ou_path=f"Root/OU{i % 10}")
            for i, a in enumerate(ids)
        },
    )
    return evaluate(inventory, load_rules(include_plugins=False))


def drift(report: Report, day: int, rng: random.Random, share: float) -> Report:
    findings = list(report.findings)
    for index in rng.sample(range(len(findings)), int(len(findings) * share)):
        f = findings[index]
        findings[index] = f.model_copy(update={"status": FLIP.get(f.status, Status.FAIL)})
    when = T0 + timedelta(days=day)
    meta = report.metadata.model_copy(update={"scan_started_at": when, "scan_finished_at": when})
    return report.model_copy(update={"findings": findings, "metadata": meta})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.history_bench", description=__doc__)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--change", type=float, default=0.01, help="share of findings flipped a day"
    )
    parser.add_argument("--url", help="history URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="trailcheck-history-bench-"))
    url = args.url or f"sqlite:///{folder / 'history.db'}"
    report = base_report(args.accounts)
    print(f"{args.accounts} accounts, {len(report.findings)} findings per scan, {args.days} days")
    store = open_store(url)
    rng = random.Random(7)
    times = []
    for day in range(args.days):
        report = drift(report, day, rng, args.change if day else 0.0)
        sha = sha256_bytes(dump_json(report).encode("utf-8"))
        started = time.perf_counter()
        store.record(report, sha, source=f"day {day}")
        times.append(time.perf_counter() - started)
    with store.engine.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(text("SELECT count(*) FROM intervals")).scalar_one()
    print(
        f"record: first {times[0]:.2f} s, median of the rest {statistics.median(times[1:]):.2f} s"
        if len(times) > 1
        else f"record: {times[0]:.2f} s"
    )
    print(f"interval rows: {rows} (one per finding plus one per change)")
    if url.startswith("sqlite:"):
        size = sum(p.stat().st_size for p in folder.glob("history.db*"))
        print(f"store size: {size / 1e6:.1f} MB (SQLite file with its WAL)")
    started = time.perf_counter()
    doc = build_audit(
        store,
        AuditInputs(
            start=T0.replace(hour=0),
            end=T0 + timedelta(days=args.days),
            history_label="bench",
            frameworks=["cis-aws-3.0"],
        ),
    )
    print(
        f"audit of the period (cis-aws-3.0): {time.perf_counter() - started:.2f} s, "
        f"{len(doc.controls)} controls"
    )
    store.close()


if __name__ == "__main__":
    main()
