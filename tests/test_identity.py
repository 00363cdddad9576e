"""Finding identity is unique in a report: no two findings share a fingerprint, so a baseline,
a diff, SARIF (code scanning) and OCSF (a SIEM) never merge two different findings."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest
from factories import (
    ACCOUNT,
    REGION,
    denied,
    make_account,
    make_alarm,
    make_bucket,
    make_filter,
    make_inventory,
    make_status,
    make_topic,
    make_trail,
    with_monitoring,
)

from trailcheck.baseline import create_baseline, fingerprint, identity
from trailcheck.engine import evaluate
from trailcheck.model import FilterPatternTest, Inventory, Report, Severity, Status
from trailcheck.reports.ocsf import OcsfReporter
from trailcheck.reports.sarif import FINGERPRINT_KEY, SarifReporter
from trailcheck.rules import load_rules
from trailcheck.rules._monitoring import controls

CIS = {key: c.recommended_pattern for key, c in controls().items()}
NOISY_ROOT = '{ $.userIdentity.type = "Root" }'  # also counts service-invoked root calls
SECURITY_HUB_UNAUTHORIZED = (
    '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}'
)
MEMBER = "222222222222"


def assert_unique_identities(report: Report) -> None:
    """Every finding has its own identity, fingerprint, SARIF and OCSF id."""
    ids = Counter(identity(f) for f in report.findings)
    assert [k for k, n in ids.items() if n > 1] == []
    prints = {fingerprint(f) for f in report.findings}
    assert len(prints) == len(report.findings)
    sarif = json.loads(SarifReporter().render(report))
    sarif_prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in sarif["runs"][0]["results"]]
    assert len(sarif_prints) == len(set(sarif_prints))
    ocsf = json.loads(OcsfReporter().render(report))
    uids = [event["finding_info"]["uid"] for event in ocsf]
    assert len(uids) == len(set(uids))
    failing = [f for f in report.findings if f.status is Status.FAIL and f.waiver is None]
    assert len(create_baseline(report).entries) == len(failing)


def two_overbroad_filters_on_one_group() -> Inventory:
    trail = make_trail()
    group = trail.cloudwatch_logs_log_group_arn
    assert group is not None
    filters = [
        make_filter("Unauthorized", SECURITY_HUB_UNAUTHORIZED),
        make_filter("Root", NOISY_ROOT),
        make_filter("RootCis", CIS["root_usage"]),
    ]
    inventory = with_monitoring(
        make_inventory([trail]),
        filters={group: filters},
        alarms=[make_alarm(t.metric_name) for f in filters for t in f.transformations],
        topics=[make_topic()],
    )
    # --confirm-filters-with-aws answered for some patterns, not for others: one finding each
    tests = {
        CIS["root_usage"]: FilterPatternTest(
            pattern=CIS["root_usage"], account_id=ACCOUNT, region=REGION, tested=(), matched=()
        )
    }
    return inventory.model_copy(update={"filter_tests": tests})


def organization_with_broken_parts() -> Inventory:
    org_trail = make_trail("org", ACCOUNT, is_organization_trail=True)
    own = make_trail("own", MEMBER, s3_bucket_name="shared-logs", log_file_validation_enabled=False)
    stopped = make_trail(
        "stopped", MEMBER, s3_bucket_name="shared-logs", status=make_status(is_logging=False)
    )
    accounts = [
        make_account(ACCOUNT, organization_id="o-1"),
        make_account(MEMBER, organization_id="o-1"),
        make_account("333333333333", access_error=denied("sts:AssumeRole")),
    ]
    return make_inventory(
        [org_trail, own, stopped],
        accounts,
        buckets=[
            make_bucket(f"logs-{ACCOUNT}"),
            make_bucket("shared-logs", MEMBER, object_lock=None, versioning=denied("s3:Get")),
        ],
    )


@pytest.mark.parametrize(
    "build", [two_overbroad_filters_on_one_group, organization_with_broken_parts, make_inventory]
)
def test_every_finding_has_its_own_identity(build) -> None:  # type: ignore[no-untyped-def]
    report = evaluate(build(), load_rules())
    assert_unique_identities(report)


def test_two_overbroad_filters_on_one_log_group_are_two_findings_of_their_own() -> None:
    report = evaluate(two_overbroad_filters_on_one_group(), load_rules())
    over = [f for f in report.findings if f.rule_id == "CT.MON.OVERBROAD_FILTER"]
    assert {f.sub_resource for f in over} == {"metric-filter/Unauthorized", "metric-filter/Root"}
    assert len({fingerprint(f) for f in over}) == 2
    confirmed = [f for f in report.findings if f.rule_id == "CT.MON.FILTER_CONFIRMED_BY_AWS"]
    assert len(confirmed) == 3 and len({fingerprint(f) for f in confirmed}) == 3


def test_findings_without_a_sub_resource_keep_their_fingerprint() -> None:
    """Baselines written before sub-resources existed still match."""
    report = evaluate(make_inventory([make_trail(log_file_validation_enabled=False)]), load_rules())
    finding = next(f for f in report.findings if f.rule_id == "CT.TRAIL.LOG_VALIDATION")
    assert finding.sub_resource is None
    v1 = "\x1f".join(
        ("trailcheck/v1", finding.rule_id, ACCOUNT, finding.region or "", finding.resource_arn)
    )
    assert fingerprint(finding) == hashlib.sha256(v1.encode()).hexdigest()[:32]


def _twice(statuses: tuple[Status, ...]):  # type: ignore[no-untyped-def]
    """A rule (as a plug-in might be written) that judges the account once per status given."""
    from trailcheck.rules.base import Remediation, rule

    @rule(
        id="TEST.TWICE.ACCOUNT",
        title="judges one account more than once",
        severity=Severity.LOW,
        resource_type="AWS::::Account",
        remediation=Remediation(summary="fix the rule", cli="-", terraform="-"),
        controls={},
        requires={"trails"},
    )
    def twice(inventory: Inventory, ctx):  # type: ignore[no-untyped-def]
        for status in statuses:
            yield ctx.for_account(inventory, ACCOUNT, status, f"said {status.value}")

    return twice


def test_a_rule_giving_one_identity_two_verdicts_gets_one_error_naming_both() -> None:
    report = evaluate(make_inventory(), [_twice((Status.PASS, Status.ERROR))])
    assert_unique_identities(report)
    [finding] = report.findings
    assert finding.status is Status.ERROR
    assert "2 different findings" in finding.reason
    assert "PASS (said PASS)" in finding.reason and "ERROR (said ERROR)" in finding.reason
    said = finding.evidence["conflicting_findings"]
    assert [c["status"] for c in said] == ["PASS", "ERROR"]  # type: ignore[index]


def test_a_rule_repeating_one_finding_gives_it_once() -> None:
    report = evaluate(make_inventory(), [_twice((Status.PASS, Status.PASS))])
    assert [(f.status, f.reason) for f in report.findings] == [(Status.PASS, "said PASS")]
