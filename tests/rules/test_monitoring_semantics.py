"""Monitoring semantics: split coverage, alarms that can never fire, narrowed filters, and the
CIS event sets applied exactly (issue 10)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from factories import ACCOUNT, make_alarm, make_filter, make_inventory, make_topic, with_monitoring

import trailcheck
from trailcheck.engine import rule_context
from trailcheck.model import (
    FilterPatternTest,
    Finding,
    Inventory,
    MetricTransformation,
    Severity,
    Status,
)
from trailcheck.rules import _filter_pattern as fp
from trailcheck.rules import monitoring
from trailcheck.rules._monitoring import controls, match_sets, never_fires
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


# --- positives vary every field a real event varies -------------------------------------------

CATALOGUE = controls()
CIS_KEYS = [k for k, c in CATALOGUE.items() if c.extends is None]
GLOBAL = {"iam_policy_changes", "organizations_changes"}  # CloudTrail delivers them in us-east-1
KEY_OF = {rule_id: key for key, rule_id, _ in monitoring.CONTROL_RULES}
FIXED_IDENTITY = {"root_usage", "console_signin_without_mfa", "console_auth_failures"}


def cis_texts(key: str) -> list[str]:
    """Every text a CIS version or Security Hub prescribes for the control."""
    control = CATALOGUE[key]
    return [
        control.recommended_pattern,
        *control.accepted_patterns,
        *(
            h.pattern
            for h in control.historic_patterns
            if h.versions or h.label.startswith("SecurityHub")
        ),
    ]


def narrowed(pattern: str, clause: str) -> str:
    body = pattern.strip().removeprefix("{").removesuffix("}")
    return f"{{ ({body}) && {clause} }}"


def missed(key: str, pattern: str) -> list[str]:
    tree = fp.parse(pattern)
    assert not isinstance(tree, fp.ParseError), tree
    return [s.name for s in CATALOGUE[key].required if not fp.matches(tree, s.record)]


def test_variants_vary_region_identity_and_client() -> None:
    for key in CIS_KEYS:
        control = CATALOGUE[key]
        records = [s.record for s in control.required]
        assert len(control.variants) >= 5 * len(control.positives), key
        assert all(s.base in {p.name for p in control.positives} for s in control.variants)
        regions = {r["awsRegion"] for r in records}
        types = {r["userIdentity"]["type"] for r in records}
        agents = {r["userAgent"] for r in records}
        assert len(agents) >= 4 and any(":" in r["sourceIPAddress"] for r in records), key
        if key in GLOBAL:
            assert regions == {"us-east-1"}, key
        else:
            assert len(regions) >= 5, key
        if key not in FIXED_IDENTITY:
            assert {"Root", "IAMUser", "AssumedRole", "FederatedUser"} <= types, key
            assert any("AWSReservedSSO" in r["userIdentity"].get("arn", "") for r in records)
            assert any("invokedBy" in r["userIdentity"] for r in records), key
    # the controls whose CIS text fixes the identity keep it
    assert {s.record["userIdentity"]["type"] for s in CATALOGUE["root_usage"].required} == {"Root"}
    mfa = CATALOGUE["console_signin_without_mfa"].required
    assert {s.record["userIdentity"]["type"] for s in mfa} == {"IAMUser"}
    # AWS services are denied too (AWS Config writing to a bucket it may not): CIS counts them
    unauthorized = CATALOGUE["unauthorized_api_calls"].required
    assert "AWSService" in {s.record["userIdentity"]["type"] for s in unauthorized}
    assert "AWSService" not in {
        s.record["userIdentity"]["type"] for s in CATALOGUE["vpc_changes"].required
    }
    # the unauthorized-calls meaning (an authorization error) is kept in every variant
    for sample in CATALOGUE["unauthorized_api_calls"].required:
        assert sample.record["errorCode"] in {
            "Client.UnauthorizedOperation",
            "AccessDenied",
            "AccessDeniedException",
        }
        assert sample.record["sourceIPAddress"] != "delivery.logs.amazonaws.com"
    for sample in CATALOGUE["console_auth_failures"].required:
        assert sample.record["errorMessage"] == "Failed authentication"


@pytest.mark.parametrize("key", CIS_KEYS)
def test_every_cis_text_of_every_version_covers_every_variant(key: str) -> None:
    for text in cis_texts(key):
        assert missed(key, text) == [], text


NARROWING = {
    "region": ['$.awsRegion = "us-east-1"', '$.awsRegion = "*-1"'],
    "identity": [
        '$.userIdentity.type = "IAMUser"',
        '$.userIdentity.type != "Root"',
        '$.userIdentity.type != "FederatedUser"',
        '$.userIdentity.arn != "*AWSReservedSSO*"',
        "$.userIdentity.invokedBy NOT EXISTS",
    ],
    "client": [
        '$.sourceIPAddress != "*:*"',
        '$.userAgent != "*Terraform*"',
        '$.sourceIPAddress != "*.amazonaws.com"',
    ],
}


@pytest.mark.parametrize("key", CIS_KEYS)
def test_a_cis_text_narrowed_to_one_region_identity_or_client_does_not_cover(key: str) -> None:
    axes = ["client"]
    if key not in GLOBAL:
        axes.append("region")
    if key not in FIXED_IDENTITY:
        axes.append("identity")
    for axis in axes:
        for clause in NARROWING[axis]:
            text = narrowed(CATALOGUE[key].recommended_pattern, clause)
            assert missed(key, text), (key, clause)


@pytest.mark.parametrize(
    ("rule_id", "clause"),
    [
        ("CT.MON.CLOUDTRAIL_CONFIG_CHANGES", '$.userIdentity.type = "IAMUser"'),
        ("CT.MON.CLOUDTRAIL_CONFIG_CHANGES", '$.awsRegion = "us-east-1"'),
        ("CT.MON.IAM_POLICY_CHANGES", '$.userIdentity.type = "IAMUser"'),
        ("CT.MON.UNAUTHORIZED_API_CALLS", '$.awsRegion = "eu-west-1"'),
        ("CT.MON.UNAUTHORIZED_API_CALLS", '$.userIdentity.type != "AWSService"'),
        ("CT.MON.ROOT_USAGE", '$.awsRegion = "us-east-1"'),
        ("CT.MON.CONSOLE_SIGNIN_WITHOUT_MFA", '$.userAgent = "Mozilla/5.0 (X11*"'),
        ("CT.MON.SECURITY_GROUP_CHANGES", "$.userIdentity.invokedBy NOT EXISTS"),
    ],
)
def test_narrowed_filters_fail_naming_the_variant_and_the_clause(rule_id: str, clause: str) -> None:
    key = KEY_OF[rule_id]
    pattern = narrowed(CATALOGUE[key].recommended_pattern, clause)
    (finding,) = judge(RULES[rule_id], monitored([make_filter("Narrow", pattern)]))
    assert finding.status is Status.FAIL, finding.reason
    assert "closest is filter Narrow" in finding.reason
    assert "~" in finding.reason  # a variant record (base~profile) is named ...
    assert f"false: `{clause}`" in finding.reason  # ... with the clause that rejects it


@pytest.mark.parametrize("key", CIS_KEYS)
def test_each_cis_version_text_passes_its_rule(key: str) -> None:
    rule = RULES[next(rule_id for rule_id, k in KEY_OF.items() if k == key)]
    for number, text in enumerate(cis_texts(key)):
        (finding,) = judge(rule, monitored([make_filter(f"F{number}", text)]))
        assert finding.status is Status.PASS, (text, finding.reason)


# --- the CIS event set exactly; trailcheck's stronger judgement as its own rule ----------------

SG = RULES["CT.MON.SECURITY_GROUP_CHANGES"]
SG_RULES = RULES["CT.MON.SECURITY_GROUP_RULE_CHANGES"]


def sg_text(label_start: str) -> str:
    control = CATALOGUE["security_group_changes"]
    return next(h.pattern for h in control.historic_patterns if h.label.startswith(label_start))


@pytest.mark.parametrize("label", ["CIS 1.2.0", "SecurityHub CloudWatch.10", "CIS 5.0.0"])
def test_security_group_cis_rule_applies_the_cis_event_set(label: str) -> None:
    (finding,) = judge(SG, monitored([make_filter("SG", sg_text(label))]))
    assert finding.status is Status.PASS, finding.reason


def test_modify_security_group_rules_is_a_separate_rule_deciding_only_cis_5() -> None:
    # CIS 1.2.0-4.0.1 and CloudWatch.10 name six events; CIS 5.0.0+ add ModifySecurityGroupRules.
    assert SG_RULES.severity is Severity.LOW
    assert SG_RULES.controls == {
        "cis-aws-5.0": ("4.10",),
        "cis-aws-6.0": ("5.10",),
        "cis-aws-7.0": ("5.10",),
    }
    assert SG.controls == {"cis-aws-1.4": ("4.10",), "cis-aws-3.0": ("4.10",)}
    assert SG.related_controls["cis-aws-5.0"] == ("4.10",)
    assert SG.related_controls["aws-fsbp"] == ("CloudWatch.10",)
    assert SG_RULES.related_controls["cis-aws-3.0"] == ("4.10",)
    (old,) = judge(SG_RULES, monitored([make_filter("SG", sg_text("CIS 1.2.0"))]))
    assert old.status is Status.FAIL
    assert "ModifySecurityGroupRules" in old.reason and "misses 1 of 7" in old.reason
    (new,) = judge(SG_RULES, monitored([make_filter("SG", sg_text("CIS 5.0.0"))]))
    assert new.status is Status.PASS, new.reason
    assert new.evidence["coverage"]["cis"]["cis-aws-5.0"] == "4.10"


def test_no_cis_control_requires_an_event_its_cis_texts_do_not_count() -> None:
    """The same problem as ModifySecurityGroupRules, for every control: each positive record
    is counted by the text of every CIS version and the Security Hub control."""
    for key in CIS_KEYS:
        for text in cis_texts(key):
            tree = fp.parse(text)
            assert not isinstance(tree, fp.ParseError)
            names = [s.name for s in CATALOGUE[key].positives if not fp.matches(tree, s.record)]
            assert names == [], (key, text)


# --- an alarm that can never fire is not coverage ---------------------------------------------

GE, GT, LT, LE = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)


@pytest.mark.parametrize(
    ("value", "default", "statistic", "operator", "threshold", "never"),
    [
        ("1", None, "Sum", GE, 1, None),  # the CIS alarm
        ("1", None, "Sum", GT, 5, None),  # six events in a period fire it
        ("0", None, "Sum", GE, 1, "Sum in a period with events is always 0, never >= 1"),
        ("0", 0.0, "Sum", GT, 0, "(defaultValue 0)"),
        ("1", None, "Sum", LT, 1, "Sum in a period with events is at least 1, never < 1"),
        ("1", 0.0, "Sum", LE, 0, "at least 1, never <= 0"),
        ("-1", None, "Sum", LT, 0, None),
        ("1", None, "Maximum", GT, 1, "Maximum in a period with events is always 1, never > 1"),
        ("1", None, "Maximum", GE, 1, None),
        ("1", 5.0, "Maximum", GT, 1, None),  # a default datapoint of 5 can make it fire
        ("2", 0.0, "Minimum", GT, 2, "between 0 and 2, never > 2"),
        ("1", 0.0, "Minimum", LT, 1, None),
        ("0", None, "SampleCount", GE, 1, None),  # a value of 0 is still a datapoint
        ("1", None, "SampleCount", LT, 1, "at least 1, never < 1"),
        ("1", None, "Average", LT, 1, "always 1, never < 1"),
        ("1", None, "p99", GT, 1, "p99 in a period with events is always 1"),
        ("1", None, "p99", GE, 1, None),
        ("$.bytes", None, "Sum", GE, 1, None),  # a field's value: any number
        ("1", None, "PR(0:1)", GT, 100, None),  # not modelled: nothing claimed
        ("1", None, None, GE, 1, None),  # metric-math alarms carry no statistic
    ],
)
def test_alarms_that_can_never_fire(
    value: str,
    default: float | None,
    statistic: str | None,
    operator: str,
    threshold: float,
    never: str | None,
) -> None:
    transformation = MetricTransformation(
        metric_name="Root",
        metric_namespace="CISBenchmark",
        metric_value=value,
        default_value=default,
    )
    alarm = make_alarm(
        "Root", statistic=statistic, comparison_operator=operator, threshold=float(threshold)
    )
    why = never_fires(alarm, transformation)
    if never is None:
        assert why is None
    else:
        assert why is not None and never in why


def test_metric_value_zero_is_not_coverage_and_the_finding_says_why() -> None:
    pattern = CATALOGUE["root_usage"].recommended_pattern
    zero = MetricTransformation(
        metric_name="Root", metric_namespace="CISBenchmark", metric_value="0"
    )
    alarm = make_alarm(
        "Root", statistic="Sum", comparison_operator=GE, threshold=1.0, name="root-alarm"
    )
    inventory = monitored([make_filter("Root", pattern, transformations=(zero,))], alarms=[alarm])
    (finding,) = judge(RULES["CT.MON.ROOT_USAGE"], inventory)
    assert finding.status is Status.FAIL
    assert "the alarm link is broken: alarm root-alarm can never fire" in finding.reason
    assert "metricValue 0" in finding.reason and "never >= 1" in finding.reason
    assert finding.evidence["coverage"]["broken_link"] == "alarm"
    # the same chain with metricValue 1 passes
    one = zero.model_copy(update={"metric_value": "1"})
    inventory = monitored([make_filter("Root", pattern, transformations=(one,))], alarms=[alarm])
    (finding,) = judge(RULES["CT.MON.ROOT_USAGE"], inventory)
    assert finding.status is Status.PASS, finding.reason


def test_a_working_alarm_beside_one_that_never_fires_covers() -> None:
    pattern = CATALOGUE["root_usage"].recommended_pattern
    bad = make_alarm("Root", statistic="Sum", comparison_operator=LT, threshold=1.0, name="bad")
    good = make_alarm("Root", statistic="Sum", comparison_operator=GE, threshold=1.0, name="good")
    inventory = monitored([make_filter("Root", pattern)], alarms=[bad, good])
    (finding,) = judge(RULES["CT.MON.ROOT_USAGE"], inventory)
    assert finding.status is Status.PASS and "alarm good" in finding.reason


def test_the_stronger_rule_uses_its_cis_controls_aws_answers_and_look_alikes() -> None:
    sg = CATALOGUE["security_group_changes"]
    pattern = sg_text("CIS 5.0.0")
    ids = tuple(f"security_group_changes/positive/{s.name}" for s in sg.positives)
    test = FilterPatternTest(
        pattern=pattern, account_id=ACCOUNT, region="us-east-1", tested=ids, matched=ids[1:]
    )
    inventory = monitored([make_filter("SG", pattern)]).model_copy(
        update={"filter_tests": {pattern: test}}
    )
    (finding,) = judge(SG_RULES, inventory)  # AWS says the first record is not counted
    assert finding.status is Status.ERROR and "TestMetricFilter" in finding.reason
    # a noisy security-group filter is reported once, under the CIS control
    noisy = pattern[:-1] + "|| ($.eventName = DescribeSecurityGroups) }"
    (over,) = judge(monitoring.overbroad_filter, monitored([make_filter("SG", noisy)]))
    assert over.status is Status.FAIL and set(over.evidence["controls"]) == {
        "security_group_changes"
    }


@pytest.mark.parametrize(
    "clause",
    [
        '$.awsRegion = "us-east-1"',
        '$.userIdentity.type = "IAMUser"',
        '$.*.type = "Root"',
        "$.eventID NOT EXISTS",
        '$.eventSource = "*.amazonaws.com"',
    ],
)
def test_match_sets_shortcut_agrees_with_evaluating_every_variant(clause: str) -> None:
    """match_sets skips variants whose changed fields the pattern does not read."""
    for key in CATALOGUE:
        for text in (
            CATALOGUE[key].recommended_pattern,
            narrowed(CATALOGUE[key].recommended_pattern, clause),
            "Root",  # a text pattern reads everything
        ):
            tree = fp.parse(text)
            assert not isinstance(tree, fp.ParseError)
            expected = {s.name for s in CATALOGUE[key].required if fp.matches(tree, s.record)}
            assert match_sets(text, key).positives == expected, (key, text)
