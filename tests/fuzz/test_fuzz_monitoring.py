"""Generated monitoring set-ups never make a monitoring rule raise (issue 10).

Filters with patterns built from CIS tokens (and broken ones), alarms with random metric names,
namespaces, statistics, thresholds and actions, topics with and without confirmed subscribers,
own and organization trails, and unknowns anywhere on the path. The rules are called directly
(not through the engine, which would turn a crash into an ERROR finding); every finding must
carry a valid status and a reason.
"""

from __future__ import annotations

import os
from typing import Any

from factories import (
    make_account,
    make_alarm,
    make_event_rule,
    make_filter,
    make_inventory,
    make_log_group,
    make_status,
    make_topic,
    make_trail,
    with_monitoring,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from trailcheck.engine import rule_context
from trailcheck.model import (
    AlarmMetric,
    EventTarget,
    Inventory,
    MetricTransformation,
    RegionalListing,
    SnsSubscription,
    Status,
    Unknown,
)
from trailcheck.rules import _filter_pattern as fp
from trailcheck.rules import monitoring
from trailcheck.rules._monitoring import controls

MANAGEMENT, MEMBER = "111111111111", "222222222222"
REGION = "us-east-1"
ALL_EVENTS_STATE = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
UNKNOWN = Unknown(operation="x:Describe", error_code="AccessDenied", message="denied")
RULES = [
    *monitoring.generated_rules(),
    monitoring.overbroad_filter,
    monitoring.filter_confirmed_by_aws,
]
SETTINGS = settings(
    max_examples=int(os.environ.get("TRAILCHECK_FUZZ_EXAMPLES", "40")), deadline=None
)


def _clauses() -> list[str]:
    """Every comparison of every CIS text, as text, plus narrowing ones."""
    found: set[str] = set()
    for control in controls().values():
        tree = fp.parse(control.recommended_pattern)
        if not isinstance(tree, fp.ParseError):
            for c in fp.comparisons(tree):
                found.add(fp.to_text(fp.JsonPattern(c))[2:-2])
    found |= {'$.awsRegion = "us-east-1"', '$.userIdentity.type = "IAMUser"', "$.x NOT EXISTS"}
    return sorted(found)


CLAUSES = _clauses()
CIS_TEXTS = sorted({c.recommended_pattern for c in controls().values()})
patterns = st.one_of(
    st.sampled_from(CIS_TEXTS),
    st.builds(
        lambda items, joiner: "{ " + joiner.join(f"({c})" for c in items) + " }",
        st.lists(st.sampled_from(CLAUSES), min_size=1, max_size=5),
        st.sampled_from([" || ", " && "]),
    ),
    st.sampled_from(["", "ERROR", "{ $.a = ", "[a, b]", "%x%"]),
)
NAMES = ["M1", "M2", "Root"]
NAMESPACES = ["CISBenchmark", "Custom"]
transformations = st.builds(
    MetricTransformation,
    metric_name=st.sampled_from(NAMES),
    metric_namespace=st.sampled_from(NAMESPACES),
    metric_value=st.sampled_from(["1", "0", "-1", "2.5", "$.count", "x"]),
    default_value=st.sampled_from([None, 0.0, 1.0, -3.0]),
    dimensions=st.sampled_from([{}, {"k": "$.v"}]),
)
filters = st.lists(
    st.builds(
        lambda name, pattern, ts: make_filter(name, pattern, transformations=tuple(ts)),
        st.sampled_from(["F1", "F2", "F3"]),
        patterns,
        st.lists(transformations, max_size=2),
    ),
    max_size=3,
    unique_by=lambda f: f.name,
)
TOPICS = [f"arn:aws:sns:{REGION}:{MANAGEMENT}:alerts", f"arn:aws:sns:{REGION}:{MEMBER}:alerts"]
subscriptions = st.one_of(
    st.just(UNKNOWN),
    st.lists(
        st.builds(
            lambda confirmed: SnsSubscription(
                arn="arn:aws:sns:us-east-1:111111111111:alerts:1" if confirmed else "Pending",
                protocol="email",
            ),
            st.booleans(),
        ),
        max_size=2,
    ).map(tuple),
)
topics = st.lists(
    st.builds(
        lambda arn, exists, subs: make_topic(arn, exists=exists, subscriptions=subs),
        st.sampled_from(TOPICS),
        st.sampled_from([True, False, UNKNOWN]),
        subscriptions,
    ),
    max_size=2,
    unique_by=lambda t: t.arn,
)


@st.composite
def alarms(draw: Any, account: str) -> list[Any]:
    made = []
    for number in range(draw(st.integers(0, 3))):
        math_alarm = draw(st.booleans())
        metric = AlarmMetric(
            namespace=draw(st.sampled_from(NAMESPACES)),
            name=draw(st.sampled_from(NAMES)),
            dimensions=draw(st.sampled_from([{}, {"k": "v"}])),
            query_id="m1" if math_alarm else None,
            return_data=not math_alarm,
        )
        made.append(
            make_alarm(
                metric.name,
                account_id=account,
                name=f"A{number}",
                metrics=(metric,),
                expression=draw(st.sampled_from(["m1 * 2", "METRICS()", "other"]))
                if math_alarm
                else None,
                actions_enabled=draw(st.booleans()),
                alarm_actions=tuple(
                    draw(st.lists(st.sampled_from([*TOPICS, "arn:aws:automate:x"]), max_size=2))
                ),
                statistic=draw(st.sampled_from([None, "Sum", "SampleCount", "Maximum", "p90"])),
                comparison_operator=draw(
                    st.sampled_from(
                        [None, "GreaterThanOrEqualToThreshold", "LessThanThreshold", "Odd"]
                    )
                ),
                threshold=draw(st.sampled_from([None, 0.0, 1.0, 5.0, -1.0])),
            )
        )
    return made


@st.composite
def setups(draw: Any) -> Inventory:
    org = draw(st.booleans())
    owner = MANAGEMENT
    trail = make_trail(
        "org" if org else "main",
        owner,
        is_organization_trail=org,
        is_multi_region=draw(st.booleans()),
        status=make_status(is_logging=draw(st.booleans())),
        cloudwatch_logs_log_group_arn=draw(
            st.sampled_from(
                [
                    f"arn:aws:logs:{REGION}:{owner}:log-group:ct:*",
                    f"arn:aws:logs:{REGION}:{MEMBER}:log-group:ct:*",
                    None,
                ]
            )
        ),
    )
    trails = [trail]
    if draw(st.booleans()):
        trails.append(make_trail("own", MEMBER))
    accounts = [
        make_account(MANAGEMENT, organization_id="o-1" if org else None),
        make_account(
            MEMBER,
            organization_id="o-1" if org else None,
            trail_arns=draw(st.sampled_from([(), UNKNOWN])),
        ),
    ]
    groups = []
    for t in trails:
        arn = t.cloudwatch_logs_log_group_arn
        if arn and draw(st.booleans()):
            groups.append(make_log_group(arn, exists=draw(st.sampled_from([True, False, UNKNOWN]))))
    inventory = make_inventory(trails, accounts, log_groups=groups)
    filter_map = {arn: draw(filters) for arn in inventory.log_groups}
    made_alarms = [*draw(alarms(MANAGEMENT)), *draw(alarms(MEMBER))]
    rules = [
        make_event_rule(
            f"R{n}",
            draw(
                st.sampled_from(
                    [
                        '{"source": ["aws.ec2"]}',
                        '{"detail": {"eventName": ["ConsoleLogin"]}}',
                        "not json",
                        '{"detail-type": ["AWS API Call via CloudTrail"]}',
                    ]
                )
            ),
            account_id=account,
            state=draw(st.sampled_from(["ENABLED", "DISABLED", ALL_EVENTS_STATE])),
            targets=draw(st.sampled_from([(EventTarget(id="1", arn=TOPICS[0]),), (), UNKNOWN])),
        )
        for n, account in enumerate(
            draw(st.lists(st.sampled_from([MANAGEMENT, MEMBER]), max_size=2))
        )
    ]
    inventory = with_monitoring(
        inventory,
        filters=filter_map,
        alarms=made_alarms,
        topics=draw(topics),
        event_rules=rules,
    )
    # unknown or unread listings and filter lists here and there
    listings = dict(inventory.regional_listings)
    for key, listing in list(listings.items()):
        change = draw(st.sampled_from(["keep", "alarms", "rules", "unread"]))
        if change == "alarms":
            listings[key] = listing.model_copy(update={"alarms": UNKNOWN})
        elif change == "rules":
            listings[key] = listing.model_copy(update={"event_rules": UNKNOWN})
        elif change == "unread":
            listings[key] = RegionalListing(account_id=listing.account_id, region=listing.region)
    groups_now = {
        arn: g.model_copy(
            update={"metric_filters": draw(st.sampled_from([g.metric_filters, UNKNOWN, None]))}
        )
        for arn, g in inventory.log_groups.items()
    }
    return inventory.model_copy(update={"regional_listings": listings, "log_groups": groups_now})


@SETTINGS
@given(inventory=setups())
def test_generated_monitoring_setups_never_make_a_rule_raise(inventory: Inventory) -> None:
    reachable = sorted(a.account_id for a in inventory.reachable_accounts())
    control_rules = {r.id for r in monitoring.generated_rules()}
    for rule in RULES:
        findings = list(rule.evaluate(inventory, rule_context(rule, None)))
        for finding in findings:
            assert finding.status in set(Status), (rule.id, finding)
            assert finding.reason.strip(), (rule.id, finding)
            assert finding.rule_id == rule.id
        if rule.id in control_rules:  # one verdict per reachable account
            assert sorted(f.account_id for f in findings) == reachable, rule.id
