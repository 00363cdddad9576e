"""The pure step of `--who`: which resources a finding's change lives on, and its last change.

`subjects()` says which resources to look up for a FAIL/ERROR finding (the scanner's lookup
stage asks it); `attach_changes()` reads the histories stored in the inventory and puts the
latest relevant change into each finding (`evidence.last_change`, and one line in the reason).
No I/O, no clock: `evaluate` of a snapshot collected with `--who` gives the same findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from trailcheck.changes.catalog import (
    GLOBAL_REGION,
    SOURCE_OF_SERVICE,
    arn_service,
    arns_in,
    short_name,
    sources_of,
)
from trailcheck.changes.model import ChangeEvent
from trailcheck.model import ChangeHistory, Finding, Inventory, Status

if TYPE_CHECKING:
    from trailcheck.rules.base import Rule

LOOKED_UP = (Status.FAIL, Status.ERROR)
LOOKUP_DAYS = 90
NONE_FOUND = f"no change in the last {LOOKUP_DAYS} days; LookupEvents keeps {LOOKUP_DAYS} days"


def history_key(account_id: str, region: str, arn: str) -> str:
    """The key of a resource's history in `Inventory.change_history`."""
    return f"{account_id}/{region}/{arn}"


def locate(arn: str, inventory: Inventory, fallback_account: str) -> tuple[str, str]:
    """(account, region) whose event history holds `arn`'s changes.

    The ARN's own account and region; a bucket's owner and region from the inventory; a
    resource with no region (a global service) in us-east-1.
    """
    parts = arn.split(":")
    account, region = parts[4], parts[3]
    if arn_service(arn) == "s3":
        bucket = inventory.buckets.get(short_name(arn))
        if bucket is not None and isinstance(bucket.owner_account_id, str):
            account = bucket.owner_account_id
        if bucket is not None and isinstance(bucket.region, str):
            region = bucket.region
    return (account or fallback_account), (region or GLOBAL_REGION)


def subjects(
    finding: Finding, change_events: Iterable[str], inventory: Inventory
) -> list[tuple[str, str, str]]:
    """(account, region, ARN) of each resource whose changes can explain `finding`.

    The finding's own resource, and the ARNs its evidence names, kept when their service
    records one of the rule's change events and their account was scanned and reachable.
    """
    if finding.status not in LOOKED_UP:
        return []
    sources = sources_of(change_events)
    reachable = {a.account_id for a in inventory.reachable_accounts()}
    found: dict[str, tuple[str, str, str]] = {}
    for arn in [finding.resource_arn, *arns_in(finding.evidence)]:
        service = arn_service(arn)
        if service is None or SOURCE_OF_SERVICE.get(service) not in sources or arn in found:
            continue
        account, region = locate(arn, inventory, finding.account_id)
        if account in reachable:
            found[arn] = (account, region, arn)
    return list(found.values())


def attach_changes(
    findings: Iterable[Finding], rules: Mapping[str, Rule], inventory: Inventory
) -> list[Finding]:
    """Each FAIL/ERROR finding with its latest relevant change (when the inventory holds
    histories: a scan with `--who`); other findings unchanged."""
    result = list(findings)
    if inventory.change_history is None:
        return result
    return [_enrich(f, rules.get(f.rule_id), inventory.change_history, inventory) for f in result]


def _enrich(
    finding: Finding,
    rule: Rule | None,
    histories: Mapping[str, ChangeHistory],
    inventory: Inventory,
) -> Finding:
    if rule is None or not rule.change_events:
        return finding
    where = subjects(finding, rule.change_events, inventory)
    if not where:
        return finding
    wanted = set(rule.change_events)
    found: list[ChangeHistory] = [
        h for key in (history_key(*s) for s in where) if (h := histories.get(key)) is not None
    ]
    named = set(_strings(finding.evidence))
    filters = _existing_filters(inventory)
    filter_link = _filter_link_broken(finding)
    events = sorted(
        (
            e
            for h in found
            for e in h.events
            if e.event_name in wanted and _relevant(e, named, filters, filter_link)
        ),
        key=lambda e: e.event_time,
        reverse=True,
    )
    lookup: dict[str, Any] = {
        "resources": [arn for _, _, arn in where],
        "event_names": sorted(wanted),
        "source": "cloudtrail:LookupEvents",
    }
    if events:
        latest: ChangeEvent = events[0]
        lookup["state"] = "found"
        line = latest.sentence()
        last: dict[str, Any] | None = latest.model_dump(mode="json")
    else:
        last = None
        missing = [arn for a, r, arn in where if history_key(a, r, arn) not in histories]
        failed = [h for h in found if not h.complete]
        if missing or failed:
            lookup["state"] = "incomplete"
            why = [f"{arn}: not looked up (budget)" for arn in missing] + [
                f"{h.resource_arn}: {h.error.describe() if h.error else 'stopped by the budget'}"
                for h in failed
            ]
            lookup["detail"] = why
            line = "who changed it is unknown (" + "; ".join(why[:2]) + ")"
        else:
            lookup["state"] = "none_in_90_days"
            line = NONE_FOUND
    evidence = {**finding.evidence, "last_change": last, "change_lookup": lookup}
    return finding.model_copy(update={"reason": f"{finding.reason}; {line}", "evidence": evidence})


_FILTER_EVENTS = frozenset({"PutMetricFilter", "DeleteMetricFilter"})


def _relevant(
    event: ChangeEvent, named: set[str], existing_filters: set[str], filter_link: bool
) -> bool:
    """A metric-filter event counts for a finding when the finding names that filter, or
    the filter was deleted and is gone while the finding's chain breaks at the filter (it may
    have been the missing one: a deleted filter cannot explain a broken alarm or topic); other
    events on the finding's resources always count."""
    if event.event_name not in _FILTER_EVENTS or len(event.resources) < 2:
        return True
    name = event.resources[-1]  # record_resources: the log group, then the filter name
    if name in named:
        return True
    return filter_link and event.event_name == "DeleteMetricFilter" and name not in existing_filters


def _filter_link_broken(finding: Finding) -> bool:
    """Whether the finding's monitoring chain breaks at the metric filter (True when the
    finding carries no coverage evidence: nothing says the filters were fine)."""
    coverage = finding.evidence.get("coverage")
    if not isinstance(coverage, Mapping):
        return True
    return coverage.get("broken_link") in (None, "metric_filter")


def _existing_filters(inventory: Inventory) -> set[str]:
    return {
        f.name
        for g in inventory.log_groups.values()
        if isinstance(g.metric_filters, tuple)
        for f in g.metric_filters
    }


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []
