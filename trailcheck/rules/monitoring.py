"""CIS monitoring controls (metric filter → alarm → subscriber), judged by meaning, per account.

One rule per CIS monitoring control (`CT.MON.<CONTROL>`), generated from the catalogue in
`rules/data/cis_monitoring.json` by `generated_rules()`: ids and severities are pinned in
`CONTROL_RULES` so they never change when the catalogue is edited. Each finding carries
`evidence["coverage"]`, one row of the per-account coverage matrix (shape: `Coverage` in
`rules/_monitoring.py`).

Two further rules: `CT.MON.OVERBROAD_FILTER` (a covering filter that also counts benign
look-alikes: noise, not a gap; judged once per filter, in the account that owns the log group)
and `CT.MON.FILTER_CONFIRMED_BY_AWS` (with `--confirm-filters-with-aws`: AWS's TestMetricFilter
agrees with trailcheck's evaluator).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trailcheck.model import Finding, Inventory, Severity, Status, Trail, Unknown
from trailcheck.rules._monitoring import (
    LINKS,
    NOT_REACHED,
    Analysis,
    Coverage,
    EventBridgeResult,
    analyse,
    aws_disagreements,
    controls,
    eventbridge_coverage,
    match_sets,
)
from trailcheck.rules._trails import trails_covering
from trailcheck.rules.base import Remediation, Rule, RuleContext, Unseen, Visibility, rule

# control key → (rule id, severity). Ids are released API: never rename, never reuse.
CONTROL_RULES: tuple[tuple[str, str, Severity], ...] = (
    ("unauthorized_api_calls", "CT.MON.UNAUTHORIZED_API_CALLS", Severity.MEDIUM),
    ("console_signin_without_mfa", "CT.MON.CONSOLE_SIGNIN_WITHOUT_MFA", Severity.MEDIUM),
    ("root_usage", "CT.MON.ROOT_USAGE", Severity.HIGH),
    ("iam_policy_changes", "CT.MON.IAM_POLICY_CHANGES", Severity.MEDIUM),
    ("cloudtrail_config_changes", "CT.MON.CLOUDTRAIL_CONFIG_CHANGES", Severity.HIGH),
    ("console_auth_failures", "CT.MON.CONSOLE_AUTH_FAILURES", Severity.LOW),
    ("cmk_disable_or_deletion", "CT.MON.CMK_DISABLE_OR_DELETION", Severity.MEDIUM),
    ("s3_bucket_policy_changes", "CT.MON.S3_BUCKET_POLICY_CHANGES", Severity.MEDIUM),
    ("aws_config_changes", "CT.MON.CONFIG_CHANGES", Severity.MEDIUM),
    ("security_group_changes", "CT.MON.SECURITY_GROUP_CHANGES", Severity.MEDIUM),
    ("nacl_changes", "CT.MON.NACL_CHANGES", Severity.LOW),
    ("network_gateway_changes", "CT.MON.NETWORK_GATEWAY_CHANGES", Severity.LOW),
    ("route_table_changes", "CT.MON.ROUTE_TABLE_CHANGES", Severity.LOW),
    ("vpc_changes", "CT.MON.VPC_CHANGES", Severity.LOW),
    ("organizations_changes", "CT.MON.ORGANIZATIONS_CHANGES", Severity.MEDIUM),
)
# trailcheck's stronger judgements built on a CIS control (catalogue `stronger_controls`): they
# decide no framework control (their `controls` mapping is empty).
STRONGER_RULES: tuple[tuple[str, str, Severity], ...] = (
    # relates: cis 4.10 / CloudWatch.10 (CIS 5.0.0+ name ModifySecurityGroupRules in 4.10/5.10)
    ("security_group_rule_changes", "CT.MON.SECURITY_GROUP_RULE_CHANGES", Severity.LOW),
)
REQUIRES = frozenset(
    {"trails", "log_groups", "metric_filters", "alarms", "sns_topics", "event_rules"}
)
FRAMEWORK_VERSIONS = {
    "cis-aws-1.4": "1.4.0",
    "cis-aws-3.0": "3.0.0",
    "cis-aws-5.0": "5.0.0",
    "cis-aws-6.0": "6.0.0",
    "cis-aws-7.0": "7.0.0",
}
NAMESPACE = "CISBenchmark"
# The writes that break a monitoring chain: trail, filter, log group, alarm, topic, rule.
CHAIN_CHANGE_EVENTS = (
    "StopLogging",
    "UpdateTrail",
    "PutEventSelectors",
    "PutMetricFilter",
    "DeleteMetricFilter",
    "DeleteLogGroup",
    "PutMetricAlarm",
    "DeleteAlarms",
    "DisableAlarmActions",
    "Unsubscribe",
    "DeleteTopic",
    "SetTopicAttributes",
    "DeleteRule",
    "DisableRule",
    "RemoveTargets",
)


class MonitoringParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    eventbridge_counts: bool = Field(
        default=False,
        description="Count an enabled EventBridge rule with a target that matches every event "
        "of the control (in every region its events arrive) as covering it. Off: such a rule "
        "is reported as coverage another way, but the control still fails.",
    )


def _metric_name(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def _remediation(key: str) -> Remediation:
    control = controls()[key]
    metric = _metric_name(key)
    pattern = control.recommended_pattern
    return Remediation(
        summary="On the CloudWatch Logs log group of a multi-region, logging trail that records "
        "all management events (an organization trail's group covers every member), add a "
        "metric filter that counts these events (the CIS text, or any rewrite with the same "
        "meaning), an alarm on its metric (same name and namespace) with actions enabled and an "
        "SNS topic among its alarm actions, and a confirmed subscription to the topic.",
        cli="aws logs put-metric-filter --log-group-name {log_group} "
        f"--filter-name {metric} "
        f"--metric-transformations metricName={metric},metricNamespace={NAMESPACE},"
        f"metricValue=1 --filter-pattern '{pattern}'\n"
        f"aws cloudwatch put-metric-alarm --alarm-name {metric} --metric-name {metric} "
        f"--namespace {NAMESPACE} --statistic Sum --period 300 --threshold 1 "
        "--comparison-operator GreaterThanOrEqualToThreshold --evaluation-periods 1 "
        "--alarm-actions {sns_topic_arn}\n"
        "aws sns subscribe --topic-arn {sns_topic_arn} --protocol email "
        "--notification-endpoint SECURITY_TEAM_EMAIL  # then confirm the e-mail",
        terraform=f'resource "aws_cloudwatch_log_metric_filter" "{key}" {{\n'
        f'  name           = "{metric}"\n'
        "  log_group_name = aws_cloudwatch_log_group.trail.name\n"
        f"  pattern        = {json.dumps(pattern)}\n"
        "  metric_transformation {\n"
        f'    name      = "{metric}"\n    namespace = "{NAMESPACE}"\n    value     = "1"\n'
        "  }\n}\n"
        f'resource "aws_cloudwatch_metric_alarm" "{key}" {{\n'
        f'  alarm_name          = "{metric}"\n'
        f'  metric_name         = "{metric}"\n  namespace           = "{NAMESPACE}"\n'
        '  statistic           = "Sum"\n  period              = 300\n'
        "  threshold           = 1\n  evaluation_periods  = 1\n"
        '  comparison_operator = "GreaterThanOrEqualToThreshold"\n'
        "  alarm_actions       = [aws_sns_topic.security_alerts.arn]\n}",
    )


def _title(key: str) -> str:
    text = controls()[key].title.removeprefix("Ensure ")
    return text[:1].upper() + text[1:]


def _rationale(key: str) -> str:
    control = controls()[key]
    events = sorted({str(s.record.get("eventName")) for s in control.positives})
    shown = ", ".join(events[:4]) + (f" and {len(events) - 4} more" if len(events) > 4 else "")
    if control.extends is not None:
        lead = (
            f"trailcheck's own judgement, stronger than the CIS control it builds on "
            f"({_title(control.extends).lower()}); it decides no framework control. "
            f"{control.notes} A metric filter and alarm should make {shown} events reach a "
            "person within minutes."
        )
    else:
        lead = (
            f"CIS asks for a metric filter and alarm so that {shown} events reach a person "
            "within minutes."
        )
    if "identity" in control.vary:
        varied = (
            "and each as other callers make it (root, an IAM Identity Center user, a federated "
            "user, a role running Terraform or acting through CloudFormation) and in other "
            "regions"
        )
    else:
        varied = "and each from other regions and clients (the caller the CIS text names stays)"
    return (
        f"{lead} Judged by meaning, not text: each of the control's {len(control.positives)} "
        f"sample CloudTrail records, {varied}, must be counted by a metric filter (several may "
        "share the work): a filter narrowed to one region or identity type does not cover. The "
        "filter sits on the log group of a multi-region, logging trail with all management "
        "events, and is watched by an alarm on the same metric name and namespace, with actions "
        "enabled, that can fire on the filter's values and notifies an SNS topic with a "
        "confirmed subscription. An equivalent rewrite of the CIS pattern passes; one with the "
        "wrong case, field path or &&/|| logic fails, naming the event it misses. Member "
        "accounts are covered through a qualifying organization trail."
    )


def _control_mappings(key: str) -> dict[str, tuple[str, ...]]:
    """The CIS controls the rule decides: CIS's audit asks that the control's events reach an
    alarm with a subscriber through a metric filter on a qualifying trail's log group, and the
    rule applies that test to the meaning of the filters (SEMANTICS.md: an equivalent rewrite
    of the CIS pattern passes; the evidence names the filters and the path). A CIS version
    whose text names more events (CIS 5.0 4.10 adds ModifySecurityGroupRules) is decided by
    the stronger control built for it, and the base control only relates to it."""
    control = controls()[key]
    return {
        framework: (control.cis_ids[version],)
        for framework, version in FRAMEWORK_VERSIONS.items()
        if version in control.cis_ids and version not in control.superseded_in
    }


# Monitoring contributes to these requirements; none of them is a metric-filter test.
MONITORING_RELATED: dict[str, tuple[str, ...]] = {
    "pci-dss-4.0": ("10.4.1",),
    "nist-800-53-r5": ("AU-6", "SI-4"),
    "soc2": ("CC7.2", "CC7.3"),
    "iso-27001-2022": ("A.8.16",),
}


def _related_mappings(key: str) -> dict[str, tuple[str, ...]]:
    """Controls the rule relates to: Security Hub's CloudWatch.x fail unless the exact CIS
    pattern text is used and give NO_DATA to members of an organization trail, where this
    rule judges by meaning and follows the organization trail; and the wider frameworks."""
    control = controls()[key]
    related = dict(MONITORING_RELATED)
    if control.security_hub_id:
        related["aws-fsbp"] = (control.security_hub_id,)
    base = controls().get(control.extends) if control.extends else None
    for framework, version in FRAMEWORK_VERSIONS.items():
        if version in control.superseded_in:
            related[framework] = (control.cis_ids[version],)
        elif base is not None and version in base.cis_ids and version not in control.cis_ids:
            related[framework] = (base.cis_ids[version],)
    if base is not None and base.security_hub_id:
        related["aws-fsbp"] = (base.security_hub_id,)
    return related


def control_rule(key: str, rule_id: str, severity: Severity) -> Rule:
    """The rule for one monitoring control (all CIS and stronger ones are made here)."""

    def evaluate(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
        yield from judge_control(inventory, ctx, key)

    return Rule(
        id=rule_id,
        title=_title(key),
        severity=severity,
        resource_type="AWS::::Account",
        rationale=_rationale(key),
        remediation=_remediation(key),
        controls=_control_mappings(key),
        related_controls=_related_mappings(key),
        requires=REQUIRES,
        evaluate=evaluate,
        params=MonitoringParams,
        change_events=CHAIN_CHANGE_EVENTS,
    )


def generated_rules() -> list[Rule]:
    """The 15 CIS control rules and the stronger ones (collected by `load_rules`)."""
    return [
        control_rule(key, rule_id, severity)
        for key, rule_id, severity in (*CONTROL_RULES, *STRONGER_RULES)
    ]


def _aws_check(inventory: Inventory, analysis: Analysis, key: str) -> dict[str, Any]:
    chains = [*analysis.used, *([analysis.shown] if analysis.shown else [])]
    patterns = [c.filter.pattern for c in chains if c.filter is not None]
    # a stronger control's records are its CIS control's (the scanner sends those)
    found = aws_disagreements(inventory, patterns, controls()[key].extends or key)
    if found is None:
        return {"state": "not_requested"}
    if isinstance(found, Unknown):
        return {"state": "unavailable", "detail": found.describe()}
    if found:
        return {"state": "disagrees", "disagreements": found}
    return {"state": "agrees", "patterns": len(set(patterns))}


def judge_control(inventory: Inventory, ctx: RuleContext, key: str) -> Iterator[Finding]:
    """One finding per reachable account: covered (PASS), not (FAIL) or cannot tell (ERROR)."""
    control = controls()[key]
    mapped = _control_mappings(key) | {
        f: ids
        for f, ids in _related_mappings(key).items()
        if f == "aws-fsbp" or f in FRAMEWORK_VERSIONS
    }
    cis = {f: ids[0] for f, ids in mapped.items()}
    partition = inventory.metadata.partition
    visibility = Visibility(inventory)
    for account in inventory.reachable_accounts():
        base: dict[str, Any] = {
            "account_id": account.account_id,
            "region": None,
            "resource_arn": f"arn:{partition}:iam::{account.account_id}:root",
        }
        analysis = analyse(inventory, account.account_id, key)
        bridge = eventbridge_coverage(inventory, account.account_id, key)
        unlisted = visibility.trail_list(account.account_id)
        if isinstance(analysis, Unknown):
            analysis = Analysis(
                "unknown", unlisted.reason if unlisted else f"cannot list: {analysis.describe()}"
            )
        elif unlisted is not None and analysis.verdict == "not_covered":
            # a trail of the account's own, unseen, may carry a working chain
            analysis = replace(
                analysis, verdict="unknown", reason=f"{analysis.reason}; and {unlisted.reason}"
            )
        aws_check = _aws_check(inventory, analysis, key)
        status, reason, via = _verdict(analysis, bridge, ctx.params.eventbridge_counts)
        if aws_check["state"] == "disagrees" and status is not Status.ERROR:
            first = aws_check["disagreements"][0]
            status = Status.ERROR
            reason = (
                f"cannot decide: AWS's TestMetricFilter says {first['record']} is "
                f"{'' if first['aws'] else 'not '}counted by {first['pattern']!r}, trailcheck "
                f"says the opposite (trailcheck's verdict was: {reason})"
            )
        shown = analysis.shown
        links = {name: (shown.links[name] if shown else NOT_REACHED).shape() for name in LINKS}
        broken = shown.first("broken") if shown else None
        coverage = Coverage(
            control=key,
            cis=cis,
            verdict=analysis.verdict if via != "eventbridge" else "covered",
            counted_via=via,
            path="; ".join(c.path() for c in analysis.used) if analysis.used else "",
            broken_link=broken[0] if broken and analysis.verdict == "not_covered" else None,
            links=links,
            filters=[use for c in analysis.used if (use := c.filter_use(control)) is not None],
            missed_events=list(analysis.missed),
            eventbridge=bridge.shape(),
            aws_check=aws_check,
        )
        covering = _covering(inventory, account.account_id, shown)
        yield ctx.finding(
            status,
            **base,
            reason=reason,
            evidence={
                "coverage": coverage.model_dump(mode="json"),
                **_known_names(shown),
                **covering,
            },
            problems=[_problem(coverage.broken_link, shown, covering)]
            if status is Status.FAIL
            else [],
        )


def _covering(inventory: Inventory, account_id: str, shown: Any) -> dict[str, list[str]]:
    """With no chain at all, the trails that record the account (none of them delivers to a
    log group): where `--who` looks for the change that broke the chain."""
    if shown is not None:
        return {}
    trails = trails_covering(inventory, account_id)
    return {} if isinstance(trails, Unknown) else {"covering_trails": [t.arn for t in trails]}


# the first broken link of a monitoring chain → its problem code (changes/catalog.py)
_LINK_PROBLEMS = {
    "trail": "monitoring.trail_unqualified",
    "log_group": "monitoring.log_group_missing",
    "metric_filter": "monitoring.filter_missing",
    "alarm": "monitoring.alarm_missing",
    "subscriber": "monitoring.subscriber_missing",
}


def _problem(broken_link: str | None, shown: Any, covering: dict[str, list[str]]) -> str:
    """The problem code of a failing control: where its best chain breaks; no chain at all:
    `monitoring.no_chain` (no trail delivers to a log group), or `trail.no_trail` when no
    trail records the account; a chain that works but whose filters miss some events:
    `monitoring.filter_missing`."""
    if shown is None:
        return "monitoring.no_chain" if covering.get("covering_trails") else "trail.no_trail"
    return _LINK_PROBLEMS.get(broken_link or "metric_filter", "monitoring.filter_missing")


def _known_names(chain: Any) -> dict[str, str]:
    """The names the remediation can fill in: the log group (and its trail) the best chain
    reached, and the SNS topic its alarm notifies."""
    if chain is None:
        return {}
    names = {"trail_arn": chain.trail.arn}
    if chain.group is not None:
        names["log_group"] = chain.group.name
    topics = chain.links["subscriber"].arns if "subscriber" in chain.links else ()
    if topics:
        names["sns_topic_arn"] = topics[0]
    return names


def _verdict(
    analysis: Analysis, bridge: EventBridgeResult, eventbridge_counts: bool
) -> tuple[Status, str, str | None]:
    if analysis.verdict == "covered":
        return Status.PASS, analysis.reason, "metric_filter"
    if bridge.state == "covers" and eventbridge_counts:
        return (
            Status.PASS,
            f"covered via {bridge.detail} (parameter eventbridge_counts); no working metric "
            f"filter chain: {analysis.reason}",
            "eventbridge",
        )
    if analysis.verdict == "unknown":
        note = f"; covered another way by {bridge.detail}" if bridge.state == "covers" else ""
        return Status.ERROR, analysis.reason + note, None
    if eventbridge_counts and bridge.state == "unknown":
        return Status.ERROR, f"{analysis.reason}; and EventBridge: {bridge.detail}", None
    if bridge.state == "covers":
        note = (
            f"; covered another way by {bridge.detail}, which this rule does not count "
            "(set the parameter eventbridge_counts to accept it)"
        )
    elif bridge.state == "partial":
        note = f"; {bridge.detail}"
    else:
        note = ""
    return Status.FAIL, analysis.reason + note, None


# ----------------------------------------------------------------------------- over-broad


def on_filter(name: str, finding: Finding) -> Finding:
    """`finding` as one about the metric filter `name` of its log group: filters have no ARN,
    and each filter of a group gets a finding of its own, with an identity of its own."""
    return finding.model_copy(update={"sub_resource": f"metric-filter/{name}"})


def meant_for(pattern: str) -> list[str]:
    """The controls a filter is written for: those whose events it counts the largest share of.

    A filter is judged over-broad only against them: the IAM-policy text also counts the
    Organizations CreatePolicy call (same name, no eventSource clause), but it is not an
    Organizations filter. A filter that counts everything is meant for (and noisy in) all.
    """
    shares: dict[str, float] = {}
    for key, control in controls().items():
        if control.extends is not None:
            continue  # a stronger control shares its CIS control's look-alikes: judged there
        sets = match_sets(pattern, key)
        if sets.error is None and sets.positives:
            shares[key] = len(sets.positives) / len(control.required)
    best = max(shares.values(), default=0.0)
    return [key for key, share in shares.items() if share == best]


@rule(
    id="CT.MON.OVERBROAD_FILTER",
    change_events=("PutMetricFilter",),
    title="Monitoring metric filters do not count benign look-alike events",
    severity=Severity.LOW,
    resource_type="AWS::Logs::LogGroup",
    controls={},
    requires={"log_groups", "metric_filters"},
    remediation=Remediation(
        summary="Narrow the filter so it counts only the control's events (compare it with the "
        "CIS text); an alarm that fires on routine reads trains people to ignore it.",
        cli="aws logs describe-metric-filters --log-group-name {log_group} --filter-name-prefix "
        "{filter_name}  # then put-metric-filter with the narrowed --filter-pattern",
        terraform="# tighten `pattern` in the aws_cloudwatch_log_metric_filter resource",
    ),
)
def overbroad_filter(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """A metric filter that counts a control's events but also benign look-alikes (a successful
    read, a Describe call, an unrelated service's same-named call) still covers the control, yet
    its alarm fires on noise, and noisy alarms get muted. Judged once per filter, in the account
    that owns the trail log group. Records CIS itself chose to exclude (HeadBucket and
    log-delivery AccessDenied, which the CIS 1.2.0 / Security Hub text still counts) give an
    informational note, not a finding of low severity."""
    catalogue = controls()

    def judge(arn: str, users: list[Trail]) -> Iterator[Finding]:
        group = inventory.log_groups[arn]
        filters = group.metric_filters if isinstance(group.metric_filters, tuple) else ()
        where: dict[str, Any] = {
            "account_id": group.account_id,
            "region": group.region,
            "resource_arn": group.arn,
        }
        over = 0
        for flt in filters:
            noisy: dict[str, Any] = {}
            for key in meant_for(flt.pattern):
                sets = match_sets(flt.pattern, key)
                if not sets.negatives:
                    continue
                basis = {s.name: s.basis for s in catalogue[key].negatives}
                noisy[key] = {
                    "negatives": sorted(sets.negatives),
                    "look_alikes": sorted(n for n in sets.negatives if basis[n] == "look_alike"),
                }
            if not noisy:
                continue
            over += 1
            look_alike = any(v["look_alikes"] for v in noisy.values())
            examples = []
            for key, info in noisy.items():
                names = info["look_alikes"] or info["negatives"]
                records = {s.name: s for s in catalogue[key].negatives}
                examples.append(
                    f"{key.replace('_', ' ')}: "
                    + ", ".join(f"{records[n].record.get('eventName')} ({n})" for n in names[:2])
                )
            text = "; ".join(examples[:3]) + (
                f" (+{len(examples) - 3} controls)" if len(examples) > 3 else ""
            )
            if look_alike:
                reason = f"filter {flt.name} also counts benign look-alikes: {text}"
            else:
                reason = (
                    f"filter {flt.name} counts records the newest CIS text excludes ({text}), "
                    "as the CIS 1.2.0 / Security Hub text does: expect some alarm noise"
                )
            finding = ctx.failed(
                **where,
                severity=Severity.LOW if look_alike else Severity.INFO,
                reason=reason,
                evidence={
                    "log_group_arn": group.arn,
                    "log_group": group.name,
                    "filter_name": flt.name,
                    "pattern": flt.pattern,
                    "controls": noisy,
                },
                problems=["monitoring.filter_overbroad"],
            )
            yield on_filter(flt.name, finding)
        if filters and not over:
            yield ctx.passed(
                **where,
                reason=f"none of the {len(filters)} metric filter(s) on log group {group.name} "
                "counts a benign look-alike",
                evidence={"log_group_arn": group.arn, "filters": [f.name for f in filters]},
            )

    yield from per_trail_log_group(inventory, ctx, judge)


def per_trail_log_group(
    inventory: Inventory,
    ctx: RuleContext,
    judge: Callable[[str, list[Trail]], Iterable[Finding]],
) -> Iterator[Finding]:
    """Run `judge(log group ARN, trails)` once per trail log group whose metric filters are
    known, in the account that owns it; `Visibility` decides which cannot be judged (ERROR)."""
    visibility = Visibility(inventory)

    def cannot_judge(arn: str, users: list[Trail], unseen: Unseen, place: str) -> Finding:
        return ctx.unseen(
            unseen,
            account_id=place,
            region=arn.split(":")[3] or None,
            resource_arn=arn,
            evidence={"log_group_arn": arn, "trails": [t.arn for t in users]},
        )

    yield from ctx.per_used_resource(
        inventory,
        lambda trail: trail.cloudwatch_logs_log_group_arn,
        lambda arn: arn.split(":")[4],
        lambda arn: visibility.log_group(arn, needs=("exists", "metric_filters")),
        judge,
        cannot_judge,
        kind="log group",
        noun="trail log group with metric filters",
    )


# ----------------------------------------------------------------------------- AWS's answer


@rule(
    id="CT.MON.FILTER_CONFIRMED_BY_AWS",
    title="AWS's TestMetricFilter agrees with trailcheck on each metric filter",
    severity=Severity.MEDIUM,
    resource_type="AWS::Logs::LogGroup",
    controls={},
    requires={"log_groups", "metric_filters", "filter_tests"},
    remediation=Remediation(
        summary="A disagreement means trailcheck's reading of the pattern differs from "
        "CloudWatch Logs': trust AWS's answer for that filter, and report the pattern and "
        "record to trailcheck so the evaluator can be fixed.",
        cli="aws logs test-metric-filter --filter-pattern 'PATTERN' "
        "--log-event-messages 'RECORD_JSON'",
        terraform="# no change: this is a check of trailcheck's own evaluator",
    ),
)
def filter_confirmed_by_aws(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """trailcheck evaluates filter patterns itself, so a scan needs no write access and a
    snapshot can be judged offline. With --confirm-filters-with-aws the scan also sends the CIS
    sample records with each filter pattern to CloudWatch Logs' own evaluator (TestMetricFilter,
    a read-only call); any difference between the two answers is reported here, and the
    affected control's verdict becomes ERROR."""
    if inventory.filter_tests is None:
        for account in inventory.reachable_accounts():
            yield ctx.for_account(
                inventory,
                account.account_id,
                Status.NOT_APPLICABLE,
                "not requested (scan with --confirm-filters-with-aws)",
            )
        return
    tests = inventory.filter_tests

    def judge(arn: str, users: list[Trail]) -> Iterator[Finding]:
        group = inventory.log_groups[arn]
        for flt in group.metric_filters or ():
            where = {"account_id": group.account_id, "region": group.region}
            evidence = {
                "log_group_arn": group.arn,
                "filter_name": flt.name,
                "pattern": flt.pattern,
            }
            found = aws_disagreements(inventory, [flt.pattern])
            if isinstance(found, Unknown) or found is None:
                detail = found.describe() if found else "not tested"
                yield on_filter(
                    flt.name,
                    ctx.error(
                        **where,
                        resource_arn=group.arn,
                        evidence=evidence,
                        reason=f"filter {flt.name}: AWS could not confirm: {detail}",
                    ),
                )
            elif found:
                first = found[0]
                yield on_filter(
                    flt.name,
                    ctx.error(
                        **where,
                        resource_arn=group.arn,
                        evidence=evidence | {"disagreements": found},
                        reason=f"filter {flt.name}: AWS and trailcheck disagree on "
                        f"{len(found)} record(s), e.g. {first['record']}: AWS "
                        f"{'counts' if first['aws'] else 'does not count'} it",
                    ),
                )
            else:
                tested = len(tests[flt.pattern].tested)
                yield on_filter(
                    flt.name,
                    ctx.passed(
                        **where,
                        resource_arn=group.arn,
                        evidence=evidence,
                        reason=f"filter {flt.name}: AWS agrees with trailcheck on all "
                        f"{tested} sample records",
                    ),
                )

    yield from per_trail_log_group(inventory, ctx, judge)
