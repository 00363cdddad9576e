"""The JSON and HTML reporters: deterministic JSON, self-contained and escaped HTML."""

from __future__ import annotations

import json
import re

from factories import html_findings_strings, make_account, make_inventory, make_trail

from trailcheck.engine import evaluate
from trailcheck.model import Report
from trailcheck.reports import builtin_reporters, get_reporters
from trailcheck.reports.html_report import HtmlReporter
from trailcheck.reports.json_report import JsonReporter
from trailcheck.rules import load_rules

HOSTILE = '<script>alert("x")</script>'


def sample_report() -> Report:
    trails = [
        make_trail("good"),
        make_trail(
            "bad", is_multi_region=False, log_file_validation_enabled=False, kms_key_id=None
        ),
    ]
    return evaluate(make_inventory(trails, [make_account()]), load_rules(include_plugins=False))


def test_every_builtin_reporter_renders_the_sample_report() -> None:
    report = sample_report()
    for name, cls in builtin_reporters().items():
        text = cls().render(report)
        assert text.strip(), name
    assert [r.name for r in get_reporters("html, json,html")] == ["html", "json"]


def test_json_report_is_deterministic_and_carries_the_contract() -> None:
    first = JsonReporter().render(sample_report())
    assert first == JsonReporter().render(sample_report())
    data = json.loads(first)
    finding = data["findings"][0]
    for key in (
        "rule_id",
        "status",
        "severity",
        "account_id",
        "region",
        "resource_arn",
        "reason",
        "evidence",
        "controls",
        "related_controls",
    ):
        assert key in finding
    # "bad": no validation; no KMS key (CT.TRAIL.SSE_KMS decides CloudTrail.2, and
    # CT.TRAIL.KMS_ENCRYPTION, which relates to it, fails too). The account-level failures
    # (no data events, no Insights: neither trail records them) are counted apart.
    bad = [f for f in data["findings"] if f["resource_arn"].endswith(":trail/bad")]
    assert sum(f["status"] == "FAIL" for f in bad) == 3
    assert data["summary"]["by_status"]["FAIL"] == sum(
        f["status"] == "FAIL" for f in data["findings"]
    )
    assert set(data["metadata"]) >= {"tool_version", "accounts", "regions", "api_calls"}
    assert Report.from_document(data) == sample_report()


def test_html_is_self_contained() -> None:
    html = HtmlReporter().render(sample_report())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html
    assert "Content-Security-Policy" in html


def test_html_escapes_attacker_controlled_strings() -> None:
    report = sample_report()
    finding = report.findings[0].model_copy(
        update={"reason": HOSTILE, "resource_arn": HOSTILE, "evidence": {"policy": HOSTILE}}
    )
    hostile = report.model_copy(update={"findings": [finding, *report.findings[1:]]})
    html = HtmlReporter().render(hostile)
    assert HOSTILE not in html
    # the findings travel as escaped JSON data, rendered as text (tests/audit/test_browser.py)
    assert "\\u003cscript\\u003ealert(" in html
    assert HOSTILE in html_findings_strings(html)


def test_html_shows_remediation_with_the_resource_filled_in() -> None:
    html = HtmlReporter().render(sample_report())
    assert (
        "aws cloudtrail update-trail --name arn:aws:cloudtrail:us-east-1:111111111111:trail/bad"
        in html
    )
