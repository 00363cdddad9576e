"""Pages of the audit PDF for a day of N accounts (issue 17: "a day of six accounts is not
159 pages").

    python -m bench.audit_pages --accounts 6

Records four scans (18 h before the day, then 00:00, 06:00, 12:00) of N accounts judged by the
real rules (the second account stops logging at 06:00; no bucket, key or log group is collected,
so most controls are not evidenced: a noisy day), audits the day with --pdf (headless Chromium)
and prints the page count and the size of each output.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trailcheck.cli import main as cli
from trailcheck.engine import evaluate
from trailcheck.model import Account, Inventory, ScanMetadata, Trail, TrailStatus, dump_json
from trailcheck.rules import load_rules
from trailcheck.scanner.collectors.cloudtrail import DEFAULT_SELECTORS

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def arn_of(account: str) -> str:
    return f"arn:aws:cloudtrail:us-east-1:{account}:trail/main-{account}"


def report_json(accounts: list[str], when: datetime) -> str:
    trails = {}
    stop = T0 + timedelta(hours=6)
    for a in accounts:
        arn = arn_of(a)
        trails[arn] = Trail(
            arn=arn,
            name=f"main-{a}",
            account_id=a,
            home_region="us-east-1",
            is_multi_region=True,
            s3_bucket_name=f"logs-{a}",
            log_file_validation_enabled=True,
            status=TrailStatus(is_logging=not (a == accounts[1] and when >= stop)),
            event_selectors=DEFAULT_SELECTORS,
        )
    inventory = Inventory(
        metadata=ScanMetadata(tool_version="bench", started_at=when, finished_at=when),
        accounts={
            a: Account(
                account_id=a,
                regions=("us-east-1",),
                trail_arns=(f"arn:aws:cloudtrail:us-east-1:{a}:trail/main-{a}",),
            )
            for a in accounts
        },
        trails=trails,
    )
    return dump_json(evaluate(inventory, load_rules(include_plugins=False)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=6)
    args = parser.parse_args()
    accounts = [f"{100000000000 + i:012d}" for i in range(args.accounts)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = []
        for hours in (-18, 0, 6, 12):
            path = root / f"r{hours}.json"
            path.write_text(report_json(accounts, T0 + timedelta(hours=hours)), encoding="utf-8")
            paths.append(str(path))
        url = f"sqlite:///{root / 'h.db'}"
        assert cli(["history", "import", *paths, "--history", url]) == 0
        out = root / "out"
        day = ["--from", "2026-07-01", "--to", "2026-07-01"]
        assert cli(["audit", *day, "--history", url, "--output-dir", str(out), "--pdf", "-q"]) == 0
        info = subprocess.run(
            ["pdfinfo", str(out / "audit.pdf")], capture_output=True, text=True, check=True
        ).stdout
        pages = next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages"))
        print(f"{args.accounts} accounts, one day, 4 scans: {pages} PDF pages")
        for name in ("audit.pdf", "audit.html", "audit.json"):
            print(f"  {name}: {(out / name).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
