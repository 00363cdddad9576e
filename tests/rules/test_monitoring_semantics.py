"""Monitoring semantics: split coverage, alarms that can never fire, narrowed filters, and the
CIS event sets applied exactly (issue 10)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from factories import ACCOUNT, make_alarm, make_filter, make_inventory, make_topic, with_monitoring

import trailcheck
from trailcheck.engine import rule_context
from trailcheck.model import Finding, Inventory, Status
from trailcheck.rules import monitoring
from trailcheck.rules.base import Rule

GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:ct-main:*"
RULES = {r.id: r for r in monitoring.generated_rules()}
TRAIL_CHANGES = RULES["CT.MON.CLOUDTRAIL_CONFIG_CHANGES"]
FIRST_HALF = (
    "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) }"
)
SECOND_HALF = "{ ($.eventName = StartLogging) || ($.eventName = StopLogging) }"


def monitored(filters: list[Any], *, alarms: list[Any] | None = None, **kw: Any) -> Inventory:
    if alarms is None:
        alarms = [make_alarm(t.metric_name) for f in filters for t in f.transformations]
    return with_monitoring(
        make_inventory(), filters={GROUP: filters}, alarms=alarms, topics=[make_topic()], **kw
    )


def judge(rule: Rule, inventory: Inventory) -> list[Finding]:
    """The rule's own evaluate, not the engine's crash catcher."""
    return list(rule.evaluate(inventory, rule_context(rule, None)))


# --- no assert for control flow --------------------------------------------------------------


def test_split_coverage_with_one_broken_chain_fails_naming_the_broken_filter() -> None:
    inventory = monitored(
        [make_filter("A", FIRST_HALF), make_filter("B", SECOND_HALF)],
        alarms=[make_alarm("A")],  # B's metric has no alarm
    )
    (finding,) = judge(TRAIL_CHANGES, inventory)
    assert finding.status is Status.FAIL
    assert "filter B on log group ct-main matches 2 of the control's events" in finding.reason
    assert "no working filter counts" in finding.reason
    assert "alarm link is broken: no alarm watches metric CISBenchmark/B" in finding.reason


def test_rules_use_no_assert_for_control_flow() -> None:
    folder = Path(trailcheck.__file__).parent / "rules"
    found = [
        f"{path.name}:{node.lineno}"
        for path in sorted(folder.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert found == []
