"""CloudTrail.3 (a trail logging in every region), Insights and CloudTrail.9 (tags)."""

from __future__ import annotations

import pytest
from factories import ACCOUNT, REGION, denied, make_account, make_inventory, make_status, make_trail

from trailcheck.engine import evaluate, rule_context, run_rule
from trailcheck.errors import UserError
from trailcheck.model import Finding, Inventory, Status
from trailcheck.reports._util import control_rollup
from trailcheck.rules import trail_options, trails
from trailcheck.rules.base import Rule

BOTH = ("ApiCallRateInsight", "ApiErrorRateInsight")


def run(rule: Rule, inventory: Inventory, params: dict | None = None) -> Finding:
    findings = run_rule(rule, inventory, rule_context(rule, params))
    assert len(findings) == 1, findings
    return findings[0]


def test_cloudtrail_3_passes_a_single_region_trail_where_the_account_uses_one_region() -> None:
    trail = make_trail(is_multi_region=False)
    inventory = make_inventory([trail], [make_account(regions=(REGION,))])
    report = evaluate(inventory, [trail_options.trail_enabled, trails.multi_region_trail])
    rolled = {(r.framework, r.control): r.status for r in control_rollup(report)}
    assert rolled[("aws-fsbp", "CloudTrail.3")] == "PASS"
    assert rolled[("aws-fsbp", "CloudTrail.1")] == "FAIL"


def test_cloudtrail_3_fails_the_regions_no_logging_trail_records() -> None:
    trail = make_trail(is_multi_region=False)
    finding = run(trail_options.trail_enabled, make_inventory([trail]))  # us-east-1, eu-west-1
    assert finding.status is Status.FAIL and "eu-west-1" in finding.reason
    assert finding.problems == ["trail.none_enabled"]
    stopped = make_trail(status=make_status(is_logging=False))
    assert run(trail_options.trail_enabled, make_inventory([stopped])).status is Status.FAIL


def test_cloudtrail_3_unknown_status_is_error() -> None:
    trail = make_trail(status=denied("cloudtrail:GetTrailStatus"))
    finding = run(trail_options.trail_enabled, make_inventory([trail]))
    assert finding.status is Status.ERROR and "GetTrailStatus" in finding.reason


def test_cloudtrail_3_an_undescribed_trail_is_error_not_a_dark_region() -> None:
    """A trail whose DescribeTrails was lost may be the multi-region trail that logs in the
    regions nothing else covers: ERROR, never FAIL (found by the fault test, issue 17)."""
    homed = make_trail(name="homed", is_multi_region=False)  # covers us-east-1 only
    lost = make_trail(
        name="lost",
        is_multi_region=False,
        describe_error=denied("cloudtrail:DescribeTrails"),
    )
    finding = run(trail_options.trail_enabled, make_inventory([homed, lost]))
    assert finding.status is Status.ERROR and "lost" in finding.reason


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"insight_selectors": BOTH}, Status.PASS),
        ({"insight_selectors": ("ApiCallRateInsight",)}, Status.FAIL),
        ({"insight_selectors": None}, Status.FAIL),
        ({"insight_selectors": BOTH, "status": make_status(is_logging=False)}, Status.FAIL),
        ({"insight_selectors": BOTH, "is_multi_region": False}, Status.FAIL),
        ({"insight_selectors": denied("cloudtrail:GetInsightSelectors")}, Status.ERROR),
    ],
)
def test_insights(overrides: dict, status: Status) -> None:
    finding = run(trail_options.insights, make_inventory([make_trail(**overrides)]))
    assert finding.status is status, finding.reason
    if status is Status.FAIL:
        assert finding.problems == ["trail.no_insights"]


def test_insights_of_an_org_trail_are_credited_to_members() -> None:
    org = make_trail("org", is_organization_trail=True, insight_selectors=BOTH)
    accounts = [
        make_account(ACCOUNT, organization_id="o-1"),
        make_account("222222222222", organization_id="o-1"),
    ]
    report = evaluate(make_inventory([org], accounts), [trail_options.insights])
    assert {f.account_id: f.status for f in report.findings} == {
        ACCOUNT: Status.PASS,
        "222222222222": Status.PASS,
    }


@pytest.mark.parametrize(
    ("tags", "params", "status"),
    [
        ({"owner": "sec"}, {}, Status.PASS),
        ({}, {}, Status.FAIL),
        ({"aws:cloudformation:stack-name": "x"}, {}, Status.FAIL),  # system tags do not count
        ({"owner": "sec"}, {"required_tag_keys": ["owner", "cost-center"]}, Status.FAIL),
        ({"owner": "sec", "cost-center": "1"}, {"required_tag_keys": ["owner"]}, Status.PASS),
        (denied("cloudtrail:ListTags"), {}, Status.ERROR),
    ],
)
def test_cloudtrail_9_tags(tags: object, params: dict, status: Status) -> None:
    finding = run(trail_options.trail_tagged, make_inventory([make_trail(tags=tags)]), params)
    assert finding.status is status, finding.reason
    if status is Status.FAIL:
        assert finding.problems == ["trail.untagged"]


def test_cloudtrail_9_bad_parameter_is_a_user_error() -> None:
    with pytest.raises(UserError, match="required_tag_keys"):
        rule_context(trail_options.trail_tagged, {"required_tag_keys": "owner"})


def test_required_tag_keys_come_from_the_config_file(tmp_path) -> None:
    from trailcheck.config import load_config, resolve
    from trailcheck.rules import load_rules

    path = tmp_path / "trailcheck.toml"
    path.write_text('[params."CT.TRAIL.TAGGED"]\nrequired_tag_keys = ["owner", "cost-center"]\n')
    rules = load_rules(include_plugins=False)
    policy = resolve(load_config(path), rules, path)
    params = policy.params["CT.TRAIL.TAGGED"]
    inventory = make_inventory([make_trail(tags={"owner": "sec"})])
    assert run(trail_options.trail_tagged, inventory, params).status is Status.FAIL
    path.write_text('[params."CT.TRAIL.TAGGED"]\nrequired_tag_keys = "owner"\n')
    with pytest.raises(UserError, match="required_tag_keys"):
        resolve(load_config(path), rules, path)
