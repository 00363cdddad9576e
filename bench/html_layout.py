"""The scan report's HTML layout in headless Chromium: how wide its tables are and how far the
page scrolls sideways, at given window widths, with every <details> open.

    python -m bench.html_layout demo-report/report.json [--widths 1300,800]

Needs the system's chromium and playwright (dev extra). The organization matrix is left out of
"widest table": it sits in its own scroll box by design (sticky account and rule headers).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

MEASURE = """() => ({
  widest: Math.max(0, ...[...document.querySelectorAll('table')]
    .filter(t => !t.closest('.matrix-wrap'))
    .map(t => t.getBoundingClientRect().width)),
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
})"""


def measure(report_json: Path, widths: list[int]) -> list[tuple[int, float, int]]:
    """(window width, widest table px, sideways scroll px) per width."""
    from playwright.sync_api import sync_playwright

    from trailcheck.reports.html_report import HtmlReporter
    from trailcheck.snapshot import load_report

    html = HtmlReporter().render(load_report(report_json))
    results = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        for width in widths:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(page_file.resolve().as_uri())
            page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(500)  # the findings of opened accounts render in a task
            found = page.evaluate(MEASURE)
            results.append((width, float(found["widest"]), int(found["overflow"])))
            page.close()
        browser.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.html_layout", description=__doc__)
    parser.add_argument("report", type=Path, help="a report.json")
    parser.add_argument("--widths", default="1300,800", help="window widths in px")
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",") if w.strip()]
    for width, widest, overflow in measure(args.report, widths):
        print(f"window {width}px: widest table {widest:.0f}px, page scrolls sideways {overflow}px")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
