"""The audit document and the scan report in a real headless Chromium (Debian's `chromium`,
driven by Playwright; no browser is ever downloaded): no console errors, no network requests,
hostile names render as text and nothing executes, filters/search/collapsibles work, and the
PDF has the expected pages. A screenshot of the first page of each document is written to the
test artifacts dir (TRAILCHECK_TEST_ARTIFACTS, default ./test-artifacts) for people to look at.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import (
    make_alarm,
    make_bucket,
    make_filter,
    make_inventory,
    make_topic,
    make_trail,
    with_monitoring,
)
from history_world import DAY, DEV, PROD, T0, report_at

from trailcheck.cli import main
from trailcheck.engine import evaluate
from trailcheck.model import dump_json
from trailcheck.reports import builtin_reporters
from trailcheck.reports.html_report import HtmlReporter
from trailcheck.rules import load_rules

CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<img src=x onerror=alert(1)>"
ARTIFACTS = Path(os.environ.get("TRAILCHECK_TEST_ARTIFACTS", "test-artifacts"))


def _need(tool: str) -> None:
    if shutil.which(tool) is None and not Path(tool).exists():
        reason = f"{tool} not installed (run `make test-deps`)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need(CHROMIUM)
    try:
        from playwright import sync_api
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("playwright is not installed (it is in the dev extra)")
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


class Watched:
    """A page and everything it tried: console errors, requests, dialogs."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1300, "height": 1000})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.dialogs == []  # alert(1) never ran
        assert self.requests == [self.url]  # the file itself, nothing else
        assert self.page.evaluate("document.querySelectorAll('img').length") == 0

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name))


def _hostile_events(path: Path) -> Path:
    event = {
        "event_time": "2026-07-03T01:00:00Z",
        "event_name": "StopLogging",
        "event_source": "cloudtrail.amazonaws.com",
        "account_id": DEV,
        "region": "us-east-1",
        "principal_arn": f"arn:aws:iam::{DEV}:user/{HOSTILE}",
        "identity_type": "IAMUser",
        "role_name": None,
        "session_name": None,
        "source_ip": "203.0.113.9",
        "user_agent": HOSTILE,
        "event_id": "e1",
        "is_root": False,
        "is_aws_service": False,
        "resources": [HOSTILE],
    }
    path.write_text(json.dumps(event) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An audit of 8 days (PROD stops logging on days 2-3; a hostile event in DEV), with PDF."""
    _need("pdftotext")
    root = tmp_path_factory.mktemp("audit")
    paths = []
    for day in range(8):
        report = report_at(
            T0 + day * DAY,
            logging={PROD: day not in (2, 3), DEV: True},
            trail_name=HOSTILE + "{account}",
            account_name=HOSTILE,
        )
        path = root / f"r{day}.json"
        path.write_text(dump_json(report), encoding="utf-8")
        paths.append(path)
    url = f"sqlite:///{root / 'h.db'}"
    assert main(["history", "import", *map(str, paths), "--history", url]) == 0
    events = _hostile_events(root / "events.jsonl")
    code = main(
        [
            "audit", "--from", "2026-07-01", "--to", "2026-07-08", "--history", url,
            "--events", str(events), "--output-dir", str(root / "out"), "--pdf", "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    return root / "out"


def test_audit_html_is_quiet_offline_and_inert(browser: Any, audit_dir: Path) -> None:
    watched = Watched(browser, audit_dir / "audit.html")
    watched.screenshot("audit-html-first-page.png")
    watched.assert_clean()
    body = watched.page.inner_text("body")
    assert HOSTILE in body  # shown as text


def test_audit_filters_search_and_collapsibles(browser: Any, audit_dir: Path) -> None:
    page = Watched(browser, audit_dir / "audit.html").page
    controls = page.locator("details.control")
    total = controls.count()
    visible = "details.control:not([hidden])"
    assert page.inner_text("#shown") == str(total) > "0"

    page.uncheck("input.verdict[value=interrupted]")
    shown = page.locator(visible)
    assert 0 < shown.count() < total
    verdicts = {shown.nth(i).get_attribute("data-verdict") for i in range(shown.count())}
    assert "interrupted" not in verdicts
    assert page.inner_text("#shown") == str(shown.count())
    page.check("input.verdict[value=interrupted]")

    page.select_option("#framework", "cis-aws-3.0")
    frameworks = {
        page.locator(visible).nth(i).get_attribute("data-framework")
        for i in range(page.locator(visible).count())
    }
    assert frameworks == {"cis-aws-3.0"}
    page.select_option("#framework", "")

    page.fill("#search", "log file validation")
    found = page.locator(visible)
    assert 0 < found.count() < total
    assert all("validation" in found.nth(i).inner_text().lower() for i in range(found.count()))
    page.fill("#search", "")

    page.click("#collapse")
    assert page.locator("details.control[open]").count() == 0
    page.click("#expand")
    assert page.locator("details.control[open]").count() == total
    assert page.locator("details.control[open] svg rect").count() > 0  # timelines drawn


def _page_texts(pdf: Path) -> list[str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")


def test_audit_pdf_has_the_expected_pages(audit_dir: Path) -> None:
    pages = [p for p in _page_texts(audit_dir / "audit.pdf") if p.strip()]
    assert "CloudTrail audit report" in pages[0] and "Inputs" in pages[0]
    assert "Contents" in pages[1] and "Executive summary" in pages[1]
    starts = {
        title: next(i for i, p in enumerate(pages) if p.lstrip().startswith(title))
        for title in (
            "Executive summary",
            "Controls",
            "Changes and who made them",
            "Resolved and still open",
            "Waiver register",
            "Appendix: what could not be seen",
            "Appendix: every input",
        )
    }
    assert list(starts.values()) == sorted(starts.values())  # each section starts a page, in order
    assert starts["Executive summary"] == 2
    text = "\n".join(pages)
    assert "StopLogging" in text and HOSTILE in text  # printed as text
    assert "search controls" not in text  # the toolbar is not printed
    if shutil.which("pdftoppm"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile",
             str(audit_dir / "audit.pdf"), str(ARTIFACTS / "audit-pdf-first-page")],
            check=True,
        )  # fmt: skip


def test_scan_report_with_hostile_names_is_quiet_offline_and_inert(
    browser: Any, tmp_path: Path
) -> None:
    """A filter name, an alarm name and a bucket policy Sid carrying markup."""
    trail = make_trail(HOSTILE)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": HOSTILE,
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{trail.s3_bucket_name}/*",
            }
        ],
    }
    inventory = make_inventory([trail], buckets=[make_bucket(trail.s3_bucket_name, policy=policy)])
    inventory = with_monitoring(
        inventory,
        filters={
            trail.cloudwatch_logs_log_group_arn: [
                make_filter(HOSTILE, '{ ($.errorCode = "*UnauthorizedOperation") }', metric="m1")
            ]
        },
        alarms=[make_alarm("m1", name=HOSTILE)],
        topics=[make_topic()],
    )
    report = evaluate(inventory, load_rules(include_plugins=False))
    path = tmp_path / "report.html"
    path.write_text(builtin_reporters()["html"]().render(report), encoding="utf-8")
    watched = Watched(browser, path)
    watched.screenshot("scan-report-html-first-page.png")
    watched.assert_clean()
    before = watched.page.inner_text("body").count(HOSTILE)
    assert before >= 2
    # evidence (with the Sid, filter and alarm names) rendered on demand: as text too
    watched.page.evaluate(
        "document.querySelectorAll('details.evidence').forEach(d => { d.open = true; })"
    )
    watched.page.wait_for_function(
        "[...document.querySelectorAll('details.evidence pre')].every(p => p.textContent)"
    )
    assert watched.page.inner_text("body").count(HOSTILE) > before
    watched.assert_clean()


def test_scan_report_triage_search_and_evidence_on_demand(browser: Any, tmp_path: Path) -> None:
    """An organization report: top issues with counts, unscanned accounts in one block, search,
    and evidence rendered (as text) only when opened."""
    from history_world import report_at as org_report

    report = org_report(T0, logging={PROD: False, DEV: True, "333333333333": False})
    meta = report.metadata.model_copy(update={"unreachable_accounts": ["333333333333"]})
    report = report.model_copy(update={"metadata": meta})
    path = tmp_path / "report.html"
    path.write_text(builtin_reporters()["html"]().render(report), encoding="utf-8")
    watched = Watched(browser, path)
    page = watched.page
    top = page.inner_text("#top-issues")
    assert "CT.TRAIL.LOGGING" in top and "fails in 1/2 accounts" in top  # the unreachable one aside
    assert page.locator("#unscanned tr").count() == 2  # header + the one account
    assert page.locator("#account-333333333333").count() == 0

    page.fill("#finding-search", "not logging")
    visible = page.locator(".finding:not(.hidden)")
    assert visible.count() >= 1
    assert all("not logging" in visible.nth(i).inner_text() for i in range(visible.count()))
    page.fill("#finding-search", "")

    first = page.locator("details.evidence").first
    assert first.locator("pre").inner_text() == ""
    first.locator("summary").click()
    first.locator("pre", has_text="{").wait_for()  # rendered by the `toggle` task
    shown = first.locator("pre").inner_text()
    assert shown.startswith("{") and json.loads(shown)
    watched.assert_clean()


def test_large_scan_report_renders_findings_only_when_asked(browser: Any, tmp_path: Path) -> None:
    """Past the expand limit every account starts collapsed and holds no finding in the DOM;
    opening one renders its findings (with "How to fix" and the last change, as text), and a
    search opens the accounts that match."""
    from history_world import report_at as org_report

    report = org_report(T0, logging={PROD: False, DEV: True})
    change = {
        "event_name": "StopLogging",
        "principal_arn": f"arn:aws:iam::{PROD}:user/{HOSTILE}",
        "identity_type": "IAMUser",
        "session_name": None,
        "event_time": "2026-07-01T05:00:00Z",
        "source_ip": "192.0.2.7",
        "event_id": "ev-1",
    }
    findings = [
        f.model_copy(update={"evidence": {**f.evidence, "last_change": change}})
        if f.rule_id == "CT.TRAIL.LOGGING" and f.status == "FAIL"
        else f
        for f in report.findings
    ]
    report = report.model_copy(update={"findings": findings})
    path = tmp_path / "report.html"
    path.write_text(HtmlReporter(expand_up_to=0).render(report), encoding="utf-8")
    watched = Watched(browser, path)
    page = watched.page
    assert page.locator(".finding").count() == 0
    assert "FAIL" in page.inner_text(f"#account-{PROD} details.findings > summary")

    page.click(f"#account-{PROD} details.findings > summary")
    # <details> fires `toggle` in a task of its own: wait for the rendering it starts.
    page.wait_for_selector(f"#account-{PROD} .finding", state="attached")
    logging = page.locator(".finding", has_text="Last change:")
    assert logging.count() == 1
    text = logging.inner_text()
    assert f"Last change: StopLogging by arn:aws:iam::{PROD}:user/{HOSTILE} at " in text
    assert "How to fix" in text and page.locator(f"#account-{DEV} .finding").count() == 0

    page.fill("#finding-search", "not logging")
    assert page.locator(f"#account-{DEV}").is_hidden()
    visible = page.locator(".finding:not(.hidden)")
    assert visible.count() >= 1
    assert all("not logging" in visible.nth(i).inner_text() for i in range(visible.count()))
    page.fill("#finding-search", "")
    assert page.locator(f"#account-{PROD} details.findings").evaluate(
        "d => d.open"
    )  # opened by hand
    page.check("input[data-filter=status][value=PASS]")
    page.click(f"#account-{DEV} details.findings > summary")
    page.wait_for_selector(f"#account-{DEV} .finding[data-status=PASS]", state="attached")
    assert page.locator(f"#account-{DEV} .finding[data-status=PASS]").count() >= 1
    watched.assert_clean()


SIX = [str(i) * 12 for i in range(1, 7)]


def _six_accounts_day(root: Path) -> Path:
    """A day of six accounts (issue 17 item 8): the sixth cannot be entered, the second
    stops logging at noon. Scans at -18 h (the state at --from), 00:00, 06:00, 12:00."""
    from datetime import timedelta

    from factories import make_account, make_status

    from trailcheck.model import ScanMetadata, Unknown

    denied = Unknown(operation="sts:AssumeRole", error_code="AccessDenied")
    paths = []
    for hour in (-18, 0, 6, 12):
        trails = [
            make_trail(
                f"main-{a}", a, status=make_status(is_logging=not (a == SIX[1] and hour >= 12))
            )
            for a in SIX[:5]
        ]
        accounts = [make_account(a) for a in SIX[:5]] + [make_account(SIX[5], access_error=denied)]
        when = T0 + timedelta(hours=hour)
        inventory = make_inventory(
            trails, accounts, buckets=[make_bucket(f"logs-{a}", a) for a in SIX[:5]]
        )
        inventory = inventory.model_copy(
            update={"metadata": ScanMetadata(tool_version="t", started_at=when, finished_at=when)}
        )
        path = root / f"six{hour}.json"
        path.write_text(dump_json(evaluate(inventory, load_rules(include_plugins=False))), "utf-8")
        paths.append(path)
    url = f"sqlite:///{root / 'six.db'}"
    assert main(["history", "import", *map(str, paths), "--history", url]) == 0
    out = root / "six"
    args = ["audit", "--from", "2026-07-01", "--to", "2026-07-01", "--history", url]
    assert main([*args, "--output-dir", str(out), "--pdf", "--quiet"]) == 0
    return out


def test_audit_pdf_is_proportional_and_never_breaks_a_token(tmp_path: Path) -> None:
    """Issue 17 item 8: pages as images (nothing runs off the page), no id or date broken
    across lines, one appendix row for an unreachable account, a page count that follows
    what happened (was 174 pages for this day before)."""
    _need("pdftotext")
    _need("pdftoppm")
    out = _six_accounts_day(tmp_path)
    pdf = out / "audit.pdf"
    pages = [p for p in _page_texts(pdf) if p.strip()]
    # 59 pages when this bound was set; issue 18 then added 16 rules and the CIS 6.0 and 7.0
    # crosswalks (two more frameworks, each failing or unevidenced control printed once):
    # 69. Still well under the 174 of before; the bound keeps it from growing unnoticed.
    assert len(pages) <= 72
    raw = subprocess.run(
        ["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    lines = [line.rstrip() for line in raw.splitlines() if line.strip()]
    for a, b in itertools.pairwise(lines):
        assert not re.search(r"\d-$", a), a  # a date or a name broken at its hyphen
        tail, head = re.search(r"\d*$", a).group(), re.match(r"\d*", b.lstrip()).group()
        assert not (tail and head and len(tail) + len(head) == 12), (a, b)  # an account id
    data = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    whole = [
        u for u in data["unseen"] if u["account_id"] == SIX[5] and "whole account" in u["what"]
    ]
    assert len(whole) == 1 and "role could not be assumed" in whole[0]["why"]
    images = tmp_path / "pages"
    images.mkdir()
    subprocess.run(["pdftoppm", "-gray", "-r", "40", str(pdf), str(images / "p")], check=True)
    rendered = sorted(images.glob("p*.pgm"))
    assert len(rendered) == int(_pdfinfo(pdf)["Pages"]) >= len(pages)
    for image in rendered:
        width, height, pixels = _pgm(image)
        margin = width // 30  # nothing may run into the right page margin
        ink = [pixels[y * width + x] for y in range(height) for x in range(width - margin, width)]
        assert min(ink) > 200, f"{image.name}: ink in the right margin"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "5", "-l", "5", "-singlefile", str(pdf),
         str(ARTIFACTS / "audit-six-accounts-page-5")],
        check=True,
    )  # fmt: skip


def _pdfinfo(pdf: Path) -> dict[str, str]:
    text = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition(":") for line in text.stdout.splitlines())
    )


def _pgm(path: Path) -> tuple[int, int, bytes]:
    """A binary PGM (P5, 8-bit) as width, height and its pixels (0 black .. 255 white)."""
    data = path.read_bytes()
    fields = data.split(maxsplit=4)
    assert fields[0] == b"P5" and fields[3] == b"255"
    width, height = int(fields[1]), int(fields[2])
    return width, height, fields[4][-width * height :]
