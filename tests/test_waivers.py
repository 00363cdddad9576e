"""Waivers and severity overrides in the engine: matching, expiry at the scan time, stale
waivers, and the status never overwritten."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from ci_samples import NO_TRAIL, OTHER, OU_PATH, UNREACHABLE, sample_inventory, waiver
from factories import ACCOUNT, SCAN_TIME, make_inventory, make_status, make_trail

from trailcheck.engine import evaluate, failures_at_or_above
from trailcheck.model import Finding, Report, Severity, Status
from trailcheck.rules import load_rules

STOPPED = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/stopped"


def judge(*waivers: Any, **kw: Any) -> Report:
    inventory = kw.pop("inventory", None) or sample_inventory()
    return evaluate(inventory, load_rules(), waivers=list(waivers), **kw)


def find(report: Report, rule_id: str, resource: str) -> Finding:
    (found,) = [f for f in report.findings if f.rule_id == rule_id and f.resource_arn == resource]
    return found


@pytest.mark.parametrize(
    ("scope", "matches"),
    [
        ({"accounts": [ACCOUNT]}, True),
        ({"accounts": ["*"]}, True),
        ({"accounts": [OTHER]}, False),
        ({"ous": ["ou-ab12-11111111"]}, True),  # a parent OU covers nested OUs
        ({"ous": ["ou-ab12-22222222"]}, True),
        ({"ous": ["r-ab12"]}, True),
        ({"ous": ["ou-ab12-33333333"]}, False),
        ({"ous": ["ou-ab12-1111"]}, False),  # no prefix match without a glob
        ({"ous": ["ou-ab12-1111*"]}, True),
        ({"regions": ["us-*"]}, True),
        ({"regions": ["eu-west-1"]}, False),
        ({"resources": ["*:trail/stopped"]}, True),
        ({"resources": ["*:trail/stop"]}, False),
        ({"resources": ["arn:aws:cloudtrail:*:*:trail/*"]}, True),
        ({"accounts": [ACCOUNT], "resources": ["*:trail/other"]}, False),  # every scope must match
        ({"accounts": [ACCOUNT], "regions": ["us-east-1"], "ous": ["r-ab12"]}, True),
    ],
)
def test_scope_matching(scope: dict[str, Any], matches: bool) -> None:
    w = waiver(**({"accounts": []} | scope))
    finding = find(judge(w), "CT.TRAIL.LOGGING", STOPPED)
    assert (finding.waiver is not None) is matches
    assert finding.status is Status.FAIL  # never overwritten


@pytest.mark.parametrize(
    ("rule", "matches"),
    [("CT.TRAIL.LOGGING", True), ("CT.TRAIL.*", True), ("CT.*", True), ("CT.TRAIL.LOG", False)],
)
def test_rule_id_or_glob(rule: str, matches: bool) -> None:
    finding = find(judge(waiver(rule=rule)), "CT.TRAIL.LOGGING", STOPPED)
    assert (finding.waiver is not None) is matches


def test_waived_finding_carries_the_waiver_and_leaves_the_gate() -> None:
    report = judge(waiver(resources=["*:trail/stopped"]))
    finding = find(report, "CT.TRAIL.LOGGING", STOPPED)
    assert finding.waiver is not None
    assert finding.waiver.model_dump() == {
        "reason": "decommissioning (CHG-1)",
        "owner": "platform",
        "expires": "2026-12-31",
        "expired": False,
    }
    assert report.summary.waived == 1
    assert report.summary.by_status["FAIL"] == judge().summary.by_status["FAIL"]
    assert finding not in failures_at_or_above(report, Severity.INFO)
    assert report.waivers[0].state == "applied" and report.waivers[0].matched == 1


@pytest.mark.parametrize(
    ("expires", "applies"),
    [
        (SCAN_TIME.date(), True),  # the expiry day itself still counts
        (date(2026, 11, 20), False),  # the day before the scan
        (date(2027, 1, 1), True),
    ],
)
def test_expiry_is_judged_at_the_scan_time(expires: date, applies: bool) -> None:
    report = judge(waiver(expires=expires))
    finding = find(report, "CT.TRAIL.LOGGING", STOPPED)
    assert (finding.waiver is not None) is applies
    if applies:
        assert report.waivers[0].state == "applied"
        return
    assert report.waivers[0].state == "expired"
    assert report.waivers[0].matched == 1
    assert finding.reason == (
        "the trail is not logging [waiver expired 2026-11-20, owner platform]"
    )
    assert finding.evidence["expired_waiver"] == {
        "reason": "decommissioning (CHG-1)",
        "owner": "platform",
        "expires": "2026-11-20",
        "expired": True,
    }
    assert finding in failures_at_or_above(report, Severity.HIGH)


def test_same_snapshot_same_verdicts_whatever_the_wall_clock() -> None:
    # No clock inside the engine: evaluating twice gives identical reports.
    w = waiver(expires=date(2026, 11, 21))
    assert judge(w) == judge(w)


def test_unused_waiver_is_reported_stale() -> None:
    report = judge(
        waiver(rule="CT.TRAIL.LOG_VALIDATION", accounts=[NO_TRAIL]),  # nothing fails there
        waiver(rule="CT.TRAIL.KMS_ENCRYPTION", accounts=[ACCOUNT, OTHER]),  # only PASSes there
    )
    assert [(w.state, w.matched) for w in report.waivers] == [("unused", 0), ("unused", 0)]
    assert report.summary.waived == 0


def test_first_active_waiver_wins_and_overlaps_are_not_stale() -> None:
    first = waiver(reason="first")
    second = waiver(reason="second", accounts=["*"])
    report = judge(first, second)
    assert find(report, "CT.TRAIL.LOGGING", STOPPED).waiver.reason == "first"  # type: ignore[union-attr]
    assert [w.state for w in report.waivers] == ["applied", "applied"]


def test_active_waiver_wins_over_an_expired_one() -> None:
    report = judge(waiver(expires=date(2020, 1, 1)), waiver(reason="renewed"))
    finding = find(report, "CT.TRAIL.LOGGING", STOPPED)
    assert finding.waiver is not None and finding.waiver.reason == "renewed"
    assert "expired_waiver" not in finding.evidence


def test_errors_can_be_waived_passes_are_never_touched() -> None:
    report = judge(waiver(rule="CT.*", accounts=[UNREACHABLE, ACCOUNT]))
    for f in report.findings:
        if f.account_id == UNREACHABLE:
            assert f.status is Status.ERROR and f.waiver is not None
        if f.status in (Status.PASS, Status.NOT_APPLICABLE):
            assert f.waiver is None


def test_ou_waiver_does_not_match_an_account_without_ou_path() -> None:
    inventory = make_inventory([make_trail("stopped", status=make_status(is_logging=False))])
    report = judge(waiver(accounts=[], ous=["r-*"]), inventory=inventory)
    assert find(report, "CT.TRAIL.LOGGING", STOPPED).waiver is None
    assert OU_PATH  # the sample inventory's accounts have one (see test_scope_matching)


def test_severity_override_applies_to_every_finding_of_the_rule() -> None:
    report = judge(severity={"CT.TRAIL.LOGGING": Severity.LOW})
    findings = [f for f in report.findings if f.rule_id == "CT.TRAIL.LOGGING"]
    assert {f.severity for f in findings} == {Severity.LOW}
    assert report.rules["CT.TRAIL.LOGGING"].severity is Severity.LOW
    stopped = find(report, "CT.TRAIL.LOGGING", STOPPED)
    assert stopped.evidence["configured_severity"] == {"rule_gave": "high", "config": "low"}
    assert stopped not in failures_at_or_above(report, Severity.MEDIUM)
    assert stopped in failures_at_or_above(report, Severity.LOW)
