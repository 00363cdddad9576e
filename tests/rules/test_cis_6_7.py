"""CIS AWS 6.0 and 7.0: Logging renumbered 4.x, Monitoring 5.x; Manual items say so."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from factories import compliant

from trailcheck.engine import evaluate
from trailcheck.reports._util import control_rollup
from trailcheck.reports.html_report import HtmlReporter
from trailcheck.rules import data_events, frameworks, kms, load_rules, trails
from trailcheck.rules.monitoring import generated_rules

VERSIONS = ("cis-aws-6.0", "cis-aws-7.0")


@pytest.mark.parametrize("framework", VERSIONS)
def test_logging_is_4_x_and_monitoring_5_x(framework: str) -> None:
    assert trails.multi_region_trail.controls[framework] == ("4.1",)
    assert trails.log_validation.controls[framework] == ("4.2",)
    assert kms.key_rotation.controls[framework] == ("4.6",)
    assert data_events.s3_object_write_logging.controls[framework] == ("4.8",)
    assert data_events.s3_object_read_logging.controls[framework] == ("4.9",)
    root = {r.id: r for r in generated_rules()}["CT.MON.ROOT_USAGE"]
    assert root.controls[framework] == ("5.3",)


@pytest.mark.parametrize("framework", VERSIONS)
def test_manual_items_are_marked_in_their_titles(framework: str) -> None:
    folder = resources.files("trailcheck.rules") / "frameworks"
    data = json.loads((folder / f"{framework}.json").read_text(encoding="utf-8"))
    titles = frameworks()[framework]
    assert set(data["manual"]) == {"4.1", "4.4"} | {f"5.{i}" for i in range(1, 16)}
    for control in data["manual"]:
        assert "(Manual" in titles[control], control
    assert "Manual" not in titles["4.2"]
    assert "external SIEM" in titles["5.1"]


def test_the_report_shows_the_manual_marker_beside_the_verdict() -> None:
    report = evaluate(compliant(), load_rules(include_plugins=False))
    rows = {(r.framework, r.control): r.status for r in control_rollup(report)}
    assert rows[("cis-aws-7.0", "5.1")] == "PASS"  # trailcheck's evidence still decides it
    html = HtmlReporter().render(report)
    assert "Ensure unauthorized API calls are monitored (Manual: CloudWatch Logs or an " in html
