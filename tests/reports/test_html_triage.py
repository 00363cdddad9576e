"""The scan report's triage helpers: top issues, rule order, unscanned accounts, evidence island."""

from __future__ import annotations

import json

from history_world import DEV, PROD, T0, report_at

from trailcheck.model import Status
from trailcheck.reports.html_report import (
    evidence_island,
    group_findings,
    top_issues,
    unscanned_accounts,
)

OTHER = "333333333333"


def org_report():  # type: ignore[no-untyped-def]
    report = report_at(T0, logging={PROD: False, DEV: True, OTHER: False})
    meta = report.metadata.model_copy(update={"unreachable_accounts": [OTHER]})
    return report.model_copy(update={"metadata": meta})


def test_top_issues_count_failing_accounts_among_the_scanned_ones() -> None:
    issues = {i.rule_id: i for i in top_issues(org_report())}
    assert (issues["CT.TRAIL.LOGGING"].failing, issues["CT.TRAIL.LOGGING"].judged) == (1, 2)
    ranks = [i.severity for i in top_issues(org_report())]
    order = ["critical", "high", "medium", "low", "info"]
    assert ranks == sorted(ranks, key=order.index)


def test_rules_are_ordered_worst_first_and_unscanned_accounts_are_set_apart() -> None:
    report = org_report()
    groups = dict(group_findings(report))
    assert OTHER not in groups
    prod = groups[PROD]
    first_statuses = [findings[0].status for _, findings in prod]
    assert first_statuses[0] is Status.FAIL
    assert first_statuses.index(Status.FAIL) < len(first_statuses) - 1
    seen_non_fail = False
    for status in first_statuses:
        seen_non_fail |= status is not Status.FAIL
        assert not (seen_non_fail and status is Status.FAIL)  # every FAIL rule before the rest
    assert [a for a, _, _ in unscanned_accounts(report)] == [OTHER]


def test_the_evidence_island_cannot_close_its_script_element() -> None:
    report = org_report()
    finding = report.findings[0].model_copy(
        update={"evidence": {"name": "</script><img src=x onerror=alert(1)>&\u2028"}}
    )
    positions, text = evidence_island(report.model_copy(update={"findings": [finding]}))
    assert positions == {0: 0}
    assert not set(text) & {"<", ">", "&", "\u2028"}
    assert json.loads(text) == [{"name": "</script><img src=x onerror=alert(1)>&\u2028"}]
