"""Print the audit HTML to PDF with the system's headless Chromium (Debian `chromium`)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from trailcheck.errors import UserError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The first Chromium-family browser on PATH, or None."""
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def print_pdf(html: Path, pdf: Path, *, timeout: float = 120.0) -> None:
    """Render `html` (a local file) to `pdf`; a clear UserError when it cannot be done."""
    browser = find_chromium()
    if browser is None:
        raise UserError(
            "--pdf needs Chromium (apt-get install chromium); the HTML was written, print it "
            "from a browser instead"
        )
    with tempfile.TemporaryDirectory(prefix="trailcheck-chromium-") as profile:
        args = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf.resolve()}",
            html.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise UserError(f"--pdf: Chromium did not finish within {timeout:.0f} s") from None
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"--pdf: Chromium failed (exit {done.returncode}): {last}")
