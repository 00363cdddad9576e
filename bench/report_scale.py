"""The scan report HTML at organization scale: size and first paint in headless Chromium.

    python -m bench.report_scale --accounts 200,1000

Findings come from the real rules over N accounts with no trail (every account fails the same
way: the repeated-findings case), a tenth of them unreachable. First paint is Chromium's
`first-contentful-paint` for the file loaded from disk (Debian chromium via Playwright); then
the time to open one account (its findings are rendered on demand) and to search a rule id over
every account (which renders every matching account), as the page's own clock sees them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from trailcheck.engine import evaluate
from trailcheck.model import Account, Inventory, ScanMetadata, Unknown
from trailcheck.reports import builtin_reporters
from trailcheck.rules import load_rules

T0 = datetime(2026, 7, 1, 6, tzinfo=UTC)


def inventory(accounts: int) -> Inventory:
    denied = Unknown(operation="sts:AssumeRole", error_code="AccessDenied")
    return Inventory(
        metadata=ScanMetadata(
            tool_version="bench", started_at=T0, finished_at=T0, organization_id="o-bench"
        ),
        accounts={
            f"{100000000000 + i:012d}": Account(
                account_id=f"{100000000000 + i:012d}",
                name=f"account-{i}",
                ou_path=f"Root/OU{i % 10}",
                regions=("us-east-1", "eu-west-1"),
                access_error=denied if i % 10 == 9 else None,
            )
            for i in range(accounts)
        },
    )


# Milliseconds the page spends handling one click / one search input (handlers run synchronously).
TIMED = """selector => { const t = performance.now(); document.querySelector(selector).click();
  return new Promise(done => requestAnimationFrame(() => done(performance.now() - t))); }"""
SEARCH = """text => { const t = performance.now();
  const box = document.getElementById('finding-search'); box.value = text;
  box.dispatchEvent(new Event('input'));
  return new Promise(done => requestAnimationFrame(() => done(performance.now() - t))); }"""


SEARCHED = "CT.ACCOUNT.MULTI_REGION_TRAIL"  # fails in every scanned account


def first_paint(path: Path) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(120_000)
        page.goto(path.resolve().as_uri(), wait_until="load")
        paint = page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
        )
        nodes = page.evaluate("document.getElementsByTagName('*').length")
        opened = page.evaluate(TIMED, "section.account details.findings > summary")
        rows = page.locator(".finding").count()
        searched = page.evaluate(SEARCH, SEARCHED)
        shown = page.locator(".finding:not(.hidden)").count()
        browser.close()
    print(f"  DOM elements at load: {nodes}")
    print(f"  open the first account: {opened / 1000:.2f} s ({rows} findings rendered)")
    print(f"  search {SEARCHED!r} over every account: {searched / 1000:.2f} s ({shown} shown)")
    return float(paint) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report_scale", description=__doc__)
    parser.add_argument("--accounts", default="200,1000")
    args = parser.parse_args()
    rules = load_rules(include_plugins=False)
    folder = Path(tempfile.mkdtemp(prefix="trailcheck-report-scale-"))
    for n in [int(x) for x in args.accounts.split(",")]:
        report = evaluate(inventory(n), rules)
        started = time.perf_counter()
        html = builtin_reporters()["html"]().render(report)
        rendered = time.perf_counter() - started
        path = folder / f"report-{n}.html"
        path.write_text(html, encoding="utf-8")
        print(
            f"{n} accounts, {len(report.findings)} findings: {len(html.encode()) / 1e6:.1f} MB, "
            f"rendered in {rendered:.1f} s"
        )
        print(f"  first contentful paint: {first_paint(path):.2f} s")


if __name__ == "__main__":
    main()
