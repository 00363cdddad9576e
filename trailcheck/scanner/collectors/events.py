"""EventBridge: the rules of the default event bus of one (account, region).

Calls: ListRules once per (account, region), paginated; ListTargetsByRule once per enabled rule
whose pattern could match a CloudTrail event (it names an `aws.*` source, a "via CloudTrail"
detail-type, or CloudTrail record fields). Scheduled rules and rules for application events are
listed but their targets are not read.
"""

from __future__ import annotations

import re

from trailcheck.model import EventRule, EventTarget, Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import paginate

SPEC = CollectorSpec(
    name="events",
    provides=frozenset({"event_rules"}),
    permissions=("events:ListRules", "events:ListTargetsByRule"),
)

_CLOUDTRAIL_HINT = re.compile(r'"aws\.|via CloudTrail|"eventName"|"eventSource"|"userIdentity"')


def may_match_cloudtrail(pattern: str | None) -> bool:
    """A cheap text test: could a rule with this pattern fire for a CloudTrail event?"""
    return bool(pattern) and _CLOUDTRAIL_HINT.search(pattern or "") is not None


def collect_rules(access: AccountAccess, region: str) -> list[EventRule] | Unknown:
    """Rules of the default bus, with targets for the enabled ones that may see CloudTrail."""
    client = access.client("events", region)
    items = paginate(client, "ListRules", "Rules", EventBusName="default")
    if isinstance(items, Unknown):
        return items
    rules = []
    for raw in items:
        pattern = raw.get("EventPattern")
        state = raw.get("State", "")
        targets: tuple[EventTarget, ...] | Unknown | None = None
        if state.startswith("ENABLED") and may_match_cloudtrail(pattern):
            found = paginate(client, "ListTargetsByRule", "Targets", Rule=raw["Name"])
            targets = (
                found
                if isinstance(found, Unknown)
                else tuple(EventTarget(id=t.get("Id", ""), arn=t.get("Arn", "")) for t in found)
            )
        rules.append(
            EventRule(
                arn=raw["Arn"],
                name=raw["Name"],
                account_id=access.account_id,
                region=region,
                state=state,
                event_bus_name=raw.get("EventBusName", "default"),
                event_pattern=pattern,
                targets=targets,
            )
        )
    return rules
