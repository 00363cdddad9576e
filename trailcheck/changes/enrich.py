"""The pure step of `--who`: which resources a finding's change lives on, and its last change.

`subjects()` says which resources to look up for a FAIL/ERROR finding (the scanner's lookup
stage asks it); `attach_changes()` reads the histories stored in the inventory and puts the
newest successful event that can cause the finding's problems into it (`evidence.last_change`,
and one line in the reason); a failed call never takes blame.
No I/O, no clock: `evaluate` of a snapshot collected with `--who` gives the same findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from trailcheck.changes.catalog import (
    GLOBAL_REGION,
    PROBLEMS,
    SOURCE_OF_SERVICE,
    arn_service,
    arns_in,
    problem_events,
    short_name,
    sources_of,
)
from trailcheck.changes.model import ChangeEvent
from trailcheck.model import ChangeHistory, Finding, Inventory, Status

if TYPE_CHECKING:
    from trailcheck.rules.base import Rule

LOOKED_UP = (Status.FAIL, Status.ERROR)
LOOKUP_DAYS = 90
NO_CAUSING_EVENT = "no single change causes this (a design choice: nothing to look up)"
NOTHING_TO_LOOK_UP = (
    "could not look up: no scanned resource of the finding records the events that cause it"
)
NONE_FOUND = (
    f"no matching change in the last {LOOKUP_DAYS} days; LookupEvents keeps {LOOKUP_DAYS} days"
)


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


EVENT_SUBJECT = "event:"  # a lookup by event name in an account-region, not by resource


def event_subject(event_name: str) -> str:
    """The subject of an account-wide lookup of `event_name` (LookupEvents' EventName)."""
    return f"{EVENT_SUBJECT}{event_name}"


def wanted_events(finding: Finding, change_events: Iterable[str]) -> frozenset[str]:
    """The event names that can explain `finding`: those that can cause its problems (a FAIL
    with problem codes), else the rule's change events (an ERROR; a FAIL of a rule that names
    no problems)."""
    if finding.status is Status.FAIL and finding.problems:
        return problem_events(finding.problems)
    return frozenset(change_events)


def subjects(
    finding: Finding, change_events: Iterable[str], inventory: Inventory
) -> list[tuple[str, str, str]]:
    """(account, region, subject) of each history that can explain `finding`.

    A subject is a resource ARN: the finding's own resource, and the ARNs its evidence names,
    kept when their service records one of the events wanted and their account was scanned
    and reachable. A problem of account scope (no trail at all) adds the account-wide lookup
    of each of its events (`event:<Name>`) in every region scanned in the account.
    """
    if finding.status not in LOOKED_UP:
        return []
    names = wanted_events(finding, change_events)
    sources = sources_of(names)
    reachable = {a.account_id: a for a in inventory.reachable_accounts()}
    found: dict[str, tuple[str, str, str]] = {}
    for arn in [finding.resource_arn, *arns_in(finding.evidence)]:
        service = arn_service(arn)
        if service is None or SOURCE_OF_SERVICE.get(service) not in sources or arn in found:
            continue
        account, region = locate(arn, inventory, finding.account_id)
        if account in reachable:
            found[arn] = (account, region, arn)
    account = reachable.get(finding.account_id)
    if finding.status is Status.FAIL and account is not None:
        for code in finding.problems:
            problem = PROBLEMS.get(code)
            if problem is None or problem.scope != "account":
                continue
            regions = account.regions if isinstance(account.regions, tuple) else ()
            regions = regions or inventory.metadata.requested_regions or (GLOBAL_REGION,)
            regions = (problem.region,) if problem.region else regions
            for name in sorted(problem.event_names):
                for region in regions:
                    subject = event_subject(name)
                    found[f"{region}/{subject}"] = (finding.account_id, region, subject)
    return list(found.values())


def attach_changes(
    findings: Iterable[Finding], rules: Mapping[str, Rule], inventory: Inventory
) -> list[Finding]:
    """Each FAIL/ERROR finding with its newest causing change (when the inventory holds
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
    if rule is None:
        return finding
    wanted = wanted_events(finding, rule.change_events)
    coded = finding.status is Status.FAIL and bool(finding.problems)
    if coded and not wanted:
        return _told(finding, {"state": "no_causing_event"}, None, NO_CAUSING_EVENT)
    where = subjects(finding, rule.change_events, inventory)
    if coded and not where:
        return _told(finding, {"state": "nothing_to_look_up"}, None, NOTHING_TO_LOOK_UP)
    if not where:
        return finding
    found: list[ChangeHistory] = [
        h for key in (history_key(*s) for s in where) if (h := histories.get(key)) is not None
    ]
    named = set(_strings(finding.evidence))
    filters = _existing_filters(inventory)
    filter_link = _filter_link_broken(finding)
    puts, control = _puts(found), _control(finding)
    events = sorted(
        (
            e
            for h in found
            for e in h.events
            if explains(e, finding, wanted)
            and _relevant(e, named, filters, filter_link, puts, control)
        ),
        key=lambda e: e.event_time,
        reverse=True,
    )
    lookup: dict[str, Any] = {
        "resources": sorted({subject for _, _, subject in where}),
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
        missing = [s for a, r, s in where if history_key(a, r, s) not in histories]
        failed = [h for h in found if not h.complete]
        if missing or failed:
            lookup["state"] = "incomplete"
            why = [f"{s}: not looked up (budget)" for s in missing] + [
                f"{h.resource_arn}: {h.error.describe() if h.error else 'stopped by the budget'}"
                for h in failed
            ]
            lookup["detail"] = why
            line = "could not look up: " + "; ".join(why[:2])
        else:
            lookup["state"] = "none_in_90_days"
            line = NONE_FOUND
    return _told(finding, lookup, last, line)


def _told(
    finding: Finding, lookup: dict[str, Any], last: dict[str, Any] | None, line: str
) -> Finding:
    """`finding` with what the lookup found (`evidence.last_change`, `change_lookup` with the
    problem codes) and its one line appended to the reason."""
    if finding.problems:
        lookup = {**lookup, "problems": list(finding.problems)}
    evidence = {**finding.evidence, "last_change": last, "change_lookup": lookup}
    return finding.model_copy(update={"reason": f"{finding.reason}; {line}", "evidence": evidence})


def explains(event: ChangeEvent, finding: Finding, wanted: frozenset[str]) -> bool:
    """Whether `event` can have caused `finding`: a successful call (a failed one changes
    nothing), and — for a FAIL with problem codes — one that can cause one of them (an
    UpdateTrail turning validation on never explains "validation off"); else one of the
    rule's change events."""
    if not event.succeeded or event.event_name not in wanted:
        return False
    if finding.status is Status.FAIL and finding.problems:
        return bool(set(event.causes) & set(finding.problems))
    return True


_FILTER_EVENTS = frozenset({"PutMetricFilter", "DeleteMetricFilter"})


def _relevant(
    event: ChangeEvent,
    named: set[str],
    existing_filters: set[str],
    filter_link: bool,
    puts: Mapping[str, list[ChangeEvent]],
    control: str | None,
) -> bool:
    """A metric-filter event counts for a finding when the finding names that filter, or
    the filter was deleted and is gone while the finding's chain breaks at the filter and the
    filter was meant for the finding's control (the PutMetricFilter that made it, in the same
    history, has a pattern written for that control: deleting another control's filter never
    explains this one; with no such record it is not blamed). Other events on the finding's
    resources always count."""
    if event.event_name not in _FILTER_EVENTS or len(event.resources) < 2:
        return True
    name = event.resources[-1]  # record_resources: the log group, then the filter name
    if name in named:
        return True
    if not (
        filter_link and event.event_name == "DeleteMetricFilter" and name not in existing_filters
    ):
        return False
    if control is None:  # no coverage evidence: nothing says which control it serves
        return True
    made = [p for p in puts.get(name, ()) if p.event_time <= event.event_time and p.filter_pattern]
    if not made:
        return False
    from trailcheck.rules.monitoring import meant_for

    return control in meant_for(made[0].filter_pattern or "")


def _puts(histories: Iterable[ChangeHistory]) -> dict[str, list[ChangeEvent]]:
    """Successful PutMetricFilter events by filter name, newest first."""
    found: dict[str, list[ChangeEvent]] = {}
    for h in histories:
        for e in h.events:
            if e.event_name == "PutMetricFilter" and e.succeeded and len(e.resources) >= 2:
                found.setdefault(e.resources[-1], []).append(e)
    return {k: sorted(v, key=lambda e: e.event_time, reverse=True) for k, v in found.items()}


def _control(finding: Finding) -> str | None:
    coverage = finding.evidence.get("coverage")
    control = coverage.get("control") if isinstance(coverage, Mapping) else None
    return control if isinstance(control, str) else None


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
