"""Source 1: CloudTrail LookupEvents, in each failing resource's account and region.

The lookup stage of `scan --who` runs after the inventory is collected and judged: the FAIL
and ERROR findings say which resources to look up (`plan_lookups`), `lookup_changes` asks
LookupEvents about each of them, and the answers are stored in the inventory
(`Inventory.change_history`), from which the pure `enrich` step fills the findings.

LookupEvents' limits are respected: at most 90 days back, one lookup attribute per call
(ResourceName or EventName), at most 50 events per page, 2 requests per second per account and
region, retries included (a token bucket per account-region that every attempt waits on, in
botocore's before-sign hook; throttling is retried by the session layer and, if it persists,
recorded as an unknown, never fatal). Every call goes through the metered, read-only
session layer; `LookupOptions.budget` bounds how many are made.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trailcheck.changes.catalog import name_forms
from trailcheck.changes.enrich import (
    EVENT_SUBJECT,
    LOOKUP_DAYS,
    history_key,
    subjects,
    wanted_events,
)
from trailcheck.changes.model import ChangeEvent, iso_z
from trailcheck.model import ChangeHistory, Finding, Inventory, Status, Unknown
from trailcheck.scanner.collectors.base import AccountAccess
from trailcheck.scanner.executor import run_all
from trailcheck.scanner.session import call

PAGE_SIZE = 50
RATE_PER_SECOND = 2.0


@dataclass(frozen=True)
class LookupOptions:
    """How hard the lookup stage may work."""

    budget: int | None = None  # most LookupEvents calls in all; None: no bound
    rate: float = RATE_PER_SECOND  # per account and region
    max_workers: int = 16
    days: int = LOOKUP_DAYS


@dataclass(frozen=True)
class LookupRequest:
    """One resource to look up, and the groups of event names its failing rules follow."""

    account_id: str
    region: str
    arn: str  # a resource ARN, or `event:<Name>` (an account-wide lookup by event name)
    # One set per failing finding kind: its problem codes (or, without codes, its rule's event
    # names); each needs its latest successful event that can cause one of them.
    wanted: tuple[frozenset[str], ...]
    rank: int = 0  # higher first when the budget is short (the findings' top severity)
    names: frozenset[str] = frozenset()  # the event names to keep

    @property
    def key(self) -> str:
        return history_key(self.account_id, self.region, self.arn)

    @property
    def event_names(self) -> list[str]:
        """The event names to keep (default: the names in `wanted`)."""
        return sorted(self.names or set().union(*self.wanted))

    @property
    def lookup(self) -> tuple[str, list[str]]:
        """The LookupEvents attribute key and the values to try, in order."""
        if self.arn.startswith(EVENT_SUBJECT):
            return "EventName", [self.arn.removeprefix(EVENT_SUBJECT)]
        return "ResourceName", name_forms(self.arn)


def plan_lookups(
    findings: Iterable[Finding], change_events: Mapping[str, Sequence[str]], inventory: Inventory
) -> list[LookupRequest]:
    """The resources to look up for the FAIL/ERROR findings (each resource once), most severe
    first. `change_events`: rule id → the rule's change events."""
    wanted: dict[tuple[str, str, str], set[frozenset[str]]] = {}
    rank: dict[tuple[str, str, str], int] = {}
    keep: dict[tuple[str, str, str], set[str]] = {}
    for finding in findings:
        rule_events = tuple(change_events.get(finding.rule_id, ()))
        names = wanted_events(finding, rule_events)
        if not names:
            continue
        group = frozenset(finding.problems) if finding.status is Status.FAIL else frozenset()
        for subject in subjects(finding, rule_events, inventory):
            wanted.setdefault(subject, set()).add(group or names)
            keep.setdefault(subject, set()).update(names)
            rank[subject] = max(rank.get(subject, 0), finding.severity.rank)
    requests = [
        LookupRequest(
            a, r, arn, tuple(sorted(sets, key=sorted)), rank[(a, r, arn)], frozenset(keep[key])
        )
        for key, sets in wanted.items()
        for a, r, arn in [key]
    ]
    return sorted(requests, key=lambda q: (-q.rank, q.key))


class TokenBucket:
    """`rate` tokens per second, at most one in store (no burst: any one-second window holds
    at most `rate` calls, however AWS counts it); `take()` waits for one."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._clock = clock
        self._tokens = 1.0
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(1.0, self._tokens + (now - self._last) * self._rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self._rate
            time.sleep(wait)


class _Limits:
    """The shared budget and one token bucket per account-region (thread-safe)."""

    def __init__(self, options: LookupOptions) -> None:
        self._options = options
        self._left = options.budget
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def spend(self) -> bool:
        """False when the budget is used up (a call, however many attempts it takes)."""
        with self._lock:
            if self._left is not None:
                if self._left <= 0:
                    return False
                self._left -= 1
        return True

    def bucket(self, account_id: str, region: str) -> TokenBucket:
        """The account-region's token bucket: every attempt, retries included, takes one."""
        with self._lock:
            return self._buckets.setdefault((account_id, region), TokenBucket(self._options.rate))


# The token bucket of the LookupEvents call in progress on this thread (None: not ours).
_PACE: ContextVar[TokenBucket | None] = ContextVar("trailcheck_lookup_pace", default=None)
_PACE_EVENT = "before-sign.cloudtrail.LookupEvents"


def _pace(**_: Any) -> None:
    """botocore signs every attempt (retries re-sign): each waits for a token, so retries
    count against the 2-per-second limit of the account-region like any call."""
    bucket = _PACE.get()
    if bucket is not None:
        bucket.take()


def lookup_changes(
    requests: Sequence[LookupRequest],
    access: Mapping[str, AccountAccess],
    end: datetime,
    options: LookupOptions | None = None,
) -> dict[str, ChangeHistory]:
    """Ask LookupEvents about each resource; its history keyed by `history_key`.

    A resource whose account has no access is skipped (no history: "not looked up").
    """
    options = options or LookupOptions()
    limits = _Limits(options)
    start = end - timedelta(days=options.days)
    todo = [q for q in requests if q.account_id in access]

    def one(request: LookupRequest) -> ChangeHistory:
        return _lookup_one(request, access[request.account_id], start, end, limits)

    found = run_all(one, todo, options.max_workers)
    return {h_key: h for h_key, h in sorted((q.key, h) for q, h in zip(todo, found, strict=True))}


def _lookup_one(
    request: LookupRequest,
    access: AccountAccess,
    start: datetime,
    end: datetime,
    limits: _Limits,
) -> ChangeHistory:
    client = access.client("cloudtrail", request.region)
    client.meta.events.register(_PACE_EVENT, _pace, unique_id="trailcheck-lookup-pace")
    bucket = limits.bucket(request.account_id, request.region)
    attribute, names = request.lookup
    all_names = set(request.event_names)
    events: dict[str, ChangeEvent] = {}
    calls = 0
    error: Unknown | None = None
    complete = True
    asked: list[str] = []

    def satisfied() -> bool:
        seen = {t for e in events.values() if e.succeeded for t in (e.event_name, *e.causes)}
        return all(group & seen for group in request.wanted)

    for name in names:
        if satisfied():
            break
        asked.append(name)
        token: str | None = None
        while True:
            if not limits.spend():
                complete = False
                break
            params: dict[str, Any] = {
                "LookupAttributes": [{"AttributeKey": attribute, "AttributeValue": name}],
                "StartTime": start,
                "EndTime": end,
                "MaxResults": PAGE_SIZE,
            }
            if token:
                params["NextToken"] = token
            paced = _PACE.set(bucket)
            try:
                page = call(client, "LookupEvents", **params)
            finally:
                _PACE.reset(paced)
            calls += 1
            if not isinstance(page, dict):  # an Unknown: throttled past retries, denied, ...
                error = page
                complete = False
                break
            for item in page.get("Events", []):
                event = _change_event(item, all_names)
                if event is not None:
                    events.setdefault(event.event_id or f"{name}/{len(events)}", event)
            token = page.get("NextToken")
            if not token or satisfied():
                break
        if not complete:
            break
    # Newest first; equal times keep LookupEvents' own (newest-first) order.
    ordered = sorted(events.values(), key=lambda e: e.event_time, reverse=True)
    return ChangeHistory(
        resource_arn=request.arn,
        account_id=request.account_id,
        region=request.region,
        names=asked,
        event_names=request.event_names,
        start_time=iso_z(start),
        end_time=iso_z(end),
        calls=calls,
        complete=complete,
        error=error,
        events=ordered,
    )


def _change_event(item: Mapping[str, Any], wanted: set[str]) -> ChangeEvent | None:
    """The change event of one LookupEvents entry, if it is a write event asked for."""
    if str(item.get("ReadOnly", "")).lower() == "true" or item.get("EventName") not in wanted:
        return None
    try:
        record = json.loads(item.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    if record.get("readOnly") is True:
        return None
    record.setdefault("eventName", item.get("EventName"))
    record.setdefault("eventSource", item.get("EventSource"))
    record.setdefault("eventID", item.get("EventId"))
    if "eventTime" not in record and item.get("EventTime") is not None:
        record["eventTime"] = item["EventTime"]
    return ChangeEvent.from_record(record)


@dataclass(frozen=True)
class WhoResult:
    """The inventory with its change histories, and what the lookup stage cost."""

    inventory: Inventory
    requests: int  # resources to look up
    calls: int  # LookupEvents calls made
    skipped: int = 0  # resources in accounts without access (not looked up)


def with_change_history(
    inventory: Inventory,
    findings: Iterable[Finding],
    change_events: Mapping[str, Sequence[str]],
    access: Mapping[str, AccountAccess],
    options: LookupOptions | None = None,
) -> WhoResult:
    """Look up the changes behind `findings` (judged from `inventory`) and store them in a
    copy of the inventory (`change_history`), with the API call counts updated."""
    requests = plan_lookups(findings, change_events, inventory)
    histories = lookup_changes(requests, access, inventory.metadata.finished_at, options)
    calls = sum(h.calls for h in histories.values())
    metadata = inventory.metadata
    if access:  # every account's access shares the scan's session: its meter has every call
        meter = next(iter(access.values())).session.meter
        metadata = metadata.model_copy(update={"api_calls": meter.snapshot()})
    updated = inventory.model_copy(update={"change_history": histories, "metadata": metadata})
    skipped = sum(1 for q in requests if q.key not in histories)
    return WhoResult(updated, len(requests), calls, skipped)
