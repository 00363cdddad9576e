"""The scan HTML reads well: severity critical first, top issues link to the accounts that fail
them, and (in a real headless Chromium) no table widens the page, the search placeholder shows
whole."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from audit.test_browser import browser  # noqa: F401  (the Debian-chromium fixture)
from factories import (
    make_alarm,
    make_filter,
    make_inventory,
    make_topic,
    make_trail,
    with_monitoring,
)
from history_world import T0, report_at

from trailcheck.engine import evaluate
from trailcheck.model import Report, Severity
from trailcheck.reports.html_report import TOP_ISSUE_LINKS, HtmlReporter, top_issues
from trailcheck.rules import load_rules

ACCOUNTS = [f"{n:012d}" for n in range(100000000001, 100000000001 + TOP_ISSUE_LINKS + 8)]


def _org_report() -> Report:
    """An organization where most accounts' trails are not logging (one top issue)."""
    return report_at(T0, logging={a: i % 5 == 0 for i, a in enumerate(ACCOUNTS)})


def test_failures_by_severity_read_critical_first() -> None:
    report = _org_report()
    counts = {s.value: 1 for s in Severity}
    summary = report.summary.model_copy(update={"failures_by_severity": counts})
    html = HtmlReporter().render(report.model_copy(update={"summary": summary}))
    header = re.search(r"<tr><th>Failures by severity</th>(.*?)</tr>", html)
    assert header is not None
    assert re.findall(r"<th>(\w+)</th>", header.group(1)) == [
        "critical",
        "high",
        "medium",
        "low",
        "info",
    ]


def test_top_issues_link_to_every_account_that_fails_them() -> None:
    report = _org_report()
    html = HtmlReporter().render(report)
    section = html[html.index('<section id="top-issues">') : html.index("</section>")]
    for issue in top_issues(report):
        failing = {
            f.account_id
            for f in report.findings
            if f.rule_id == issue.rule_id and f.status == "FAIL" and f.waiver is None
        }
        assert set(issue.accounts) == failing
        row = section[section.index(issue.rule_id) :].split("</tr>")[0]
        linked = set(re.findall(r'href="#account-(\d{12})"', row))
        assert linked == failing, issue.rule_id
        for account in linked:  # every link lands on a section of the page
            assert f'id="account-{account}"' in html
    logging = next(i for i in top_issues(report) if i.rule_id == "CT.TRAIL.LOGGING")
    assert logging.failing > TOP_ISSUE_LINKS  # the rest sit behind "N more"
    assert f"{logging.failing - TOP_ISSUE_LINKS} more</summary>" in html


LONG = "x" * 120


def _wide_report() -> Report:
    """One account whose monitoring chain has long names everywhere (the 3.5k px table)."""
    trail = make_trail("organization-trail-" + LONG)
    pattern = '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }'
    inventory = with_monitoring(
        make_inventory([trail]),
        filters={
            trail.cloudwatch_logs_log_group_arn: [
                make_filter("unauthorized-api-calls-" + LONG, pattern, metric="m-" + LONG)
            ]
        },
        alarms=[make_alarm("m-" + LONG, name="alarm-" + LONG)],
        topics=[make_topic()],
    )
    return evaluate(inventory, load_rules(include_plugins=False))


@pytest.mark.parametrize("width", [1300, 700])
def test_no_table_widens_the_page_and_the_search_placeholder_fits(
    request: pytest.FixtureRequest, tmp_path: Path, width: int
) -> None:
    chromium = request.getfixturevalue("browser")
    path = tmp_path / "report.html"
    path.write_text(HtmlReporter().render(_wide_report()), encoding="utf-8")
    page = chromium.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(path.resolve().as_uri())
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        page.wait_for_selector("table.coverage-table", state="attached")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
        fits = page.evaluate(
            """() => {
              const input = document.getElementById('finding-search');
              const style = getComputedStyle(input);
              const ctx = document.createElement('canvas').getContext('2d');
              ctx.font = style.font;
              const text = ctx.measureText(input.placeholder).width;
              const room = input.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
              return [text, room];
            }"""
        )
        if width >= 1000:  # on a wide page the whole placeholder shows
            assert fits[0] <= fits[1], fits
    finally:
        page.close()
