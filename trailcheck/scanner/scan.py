"""The scan orchestrator: accounts → trails → the resources trails use → an `Inventory`.

Work is done in stages so that every shared thing is read once:

1. per account: enabled regions, the trails it sees (ListTrails), the buckets it owns;
2. per trail ARN (de-duplicated across accounts): describe, status, selectors — read with the
   owner's access when the owner is scanned;
3. per bucket name / key ARN / log-group ARN referenced by any trail: one read, from the
   owning account when it is scanned, otherwise with the referencing account's access (and
   the facts become `Unknown` when that is denied); a log group of an account not scanned is
   not asked at all (CloudWatch Logs would answer for the asking account): it is `Unknown`;
4. monitoring: alarms once per (account, region) where a trail log group lives, EventBridge
   rules once per scanned (account, region), then each SNS topic those alarms notify once;
5. optionally (--confirm-filters-with-aws) each distinct filter pattern once through
   logs:TestMetricFilter.

The main thread merges results; worker threads only call collectors and return values. A work
unit that raises an unexpected exception (a bug, a response no collector expected) does not
crash the scan: the account whose access ran it gets that error as its access error (with the
exception type), so every rule says ERROR for it, and the unit's facts become unknown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from trailcheck import __version__
from trailcheck.model import (
    Account,
    Alarm,
    Bucket,
    EventRule,
    FilterPatternTest,
    Inventory,
    KmsKey,
    LogGroup,
    PublicAccessBlock,
    RegionalListing,
    ScanMetadata,
    SkippedAccount,
    SnsTopic,
    Trail,
    Unknown,
)
from trailcheck.scanner.collectors import (
    cloudtrail,
    cloudwatch,
    events,
    kms,
    logs,
    regions,
    s3,
    sns,
)
from trailcheck.scanner.collectors.base import AccountAccess
from trailcheck.scanner.executor import run_all
from trailcheck.scanner.progress import ScanObserver, SilentObserver
from trailcheck.scanner.session import AwsSession, Credentials

ALL_COLLECTIONS = frozenset(
    {
        "regions",
        "trails",
        "buckets",
        "kms_keys",
        "log_groups",
        "metric_filters",
        "alarms",
        "sns_topics",
        "event_rules",
    }
)
# Collections that hang off the trails: listing the trails is needed for any of them.
_TRAIL_DEPENDENT = frozenset(ALL_COLLECTIONS - {"regions"})

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class AccountTarget:
    """An account to scan and how to enter it (credentials None: the caller's own)."""

    account_id: str
    credentials: Credentials | None = None
    name: str | None = None
    organization_id: str | None = None
    ou_path: str | None = None
    access_error: Unknown | None = None


@dataclass(frozen=True)
class ScanOptions:
    """What to collect and how hard to work."""

    regions: tuple[str, ...] | None = None  # None: every region enabled for each account
    api_region: str = "us-east-1"  # where account-wide calls (ListTrails, DescribeRegions) go
    max_workers: int = 16
    collections: frozenset[str] = field(default_factory=lambda: ALL_COLLECTIONS)
    partition: str = "aws"
    # Send each distinct metric-filter pattern with trailcheck's sample records to AWS's own
    # evaluator (logs:TestMetricFilter) and record the answers.
    confirm_filters_with_aws: bool = False


@dataclass(frozen=True)
class _AccountView:
    regions: tuple[str, ...] | Unknown
    trails: dict[str, str] | Unknown  # ARN → home region
    bucket_names: tuple[str, ...] | Unknown | None


def collect(
    targets: Sequence[AccountTarget],
    session: AwsSession,
    options: ScanOptions,
    observer: ScanObserver | None = None,
    *,
    organization_id: str | None = None,
    management_account_id: str | None = None,
    skipped: Sequence[SkippedAccount] = (),
) -> Inventory:
    """Scan `targets` read-only and return everything seen, unknowns included.

    An organization scan passes the organization's ids and the accounts it skipped (not
    ACTIVE) so the inventory records them.
    """
    observer = observer or SilentObserver()
    started = datetime.now(UTC)
    access = {
        t.account_id: AccountAccess(t.account_id, session, t.credentials)
        for t in targets
        if t.access_error is None
    }
    reachable = [t for t in targets if t.access_error is None]

    crashes: dict[str, Unknown] = {}  # account id → the first unexpected error of its work
    views = _stage(
        observer,
        "accounts",
        reachable,
        options,
        lambda t: _view(access[t.account_id], options),
        crashes=crashes,
        owner=lambda t: t.account_id,
        fallback=lambda t, unknown: _AccountView(unknown, unknown, unknown),
    )
    view_of = {t.account_id: v for t, v in zip(reachable, views, strict=True) if v is not None}

    trails = _collect_trails(observer, view_of, access, options, crashes)
    owners = _bucket_owners(view_of)
    buckets, keys, groups = _collect_resources(observer, trails, owners, access, options, crashes)
    scoped = {
        account_id: _scope_regions(view.regions, options) for account_id, view in view_of.items()
    }
    alarms, topics, event_rules, listings = _collect_monitoring(
        observer, groups, scoped, access, options, crashes
    )
    filter_tests = (
        _confirm_filters(observer, groups, access, options, crashes)
        if options.confirm_filters_with_aws
        else None
    )

    accounts = {}
    for target in targets:
        view = view_of.get(target.account_id)
        accounts[target.account_id] = Account(
            account_id=target.account_id,
            name=target.name,
            organization_id=target.organization_id,
            ou_path=target.ou_path,
            access_error=target.access_error or crashes.get(target.account_id),
            regions=_scope_regions(view.regions, options) if view else (),
            trail_arns=tuple(sorted(view.trails))
            if view and isinstance(view.trails, dict)
            else (view.trails if view else ()),
            bucket_names=view.bucket_names if view else None,
        )
    return Inventory(
        metadata=ScanMetadata(
            tool_version=__version__,
            started_at=started,
            finished_at=datetime.now(UTC),
            partition=options.partition,
            requested_regions=options.regions,
            api_calls=session.meter.snapshot(),
            api_retries=session.meter.retries(),
            api_calls_lost=session.meter.lost(),
            organization_id=organization_id,
            management_account_id=management_account_id,
            skipped_accounts=tuple(sorted(skipped, key=lambda s: s.account_id)),
        ),
        accounts=accounts,
        trails=dict(sorted(trails.items())),
        buckets=dict(sorted(buckets.items())),
        kms_keys=dict(sorted(keys.items())),
        log_groups=dict(sorted(groups.items())),
        alarms=dict(sorted(alarms.items())),
        sns_topics=dict(sorted(topics.items())),
        event_rules=dict(sorted(event_rules.items())),
        regional_listings=dict(sorted(listings.items())),
        filter_tests=filter_tests,
    )


@dataclass(frozen=True)
class _Crash:
    """A work unit that raised: the exception as an unknown fact."""

    unknown: Unknown


def _stage(
    observer: ScanObserver,
    name: str,
    items: Sequence[T],
    options: ScanOptions,
    fn: Callable[[T], R],
    *,
    crashes: dict[str, Unknown],
    owner: Callable[[T], str],
    fallback: Callable[[T, Unknown], R | None] = lambda item, unknown: None,
) -> list[R | None]:
    """`fn` over `items` on the worker pool, results in order. A unit that raises is recorded
    in `crashes` against the account `owner(item)` whose access ran it, and its result is
    `fallback(item, unknown)` (default None: nothing seen)."""
    observer.stage(name, len(items))

    def unit(item: T) -> R | _Crash:
        try:
            result: R | _Crash = fn(item)
        except Exception as exc:  # a bug or an unexpected response: one account, not the scan
            result = _Crash(
                Unknown(
                    operation=f"trailcheck:collect {name}",
                    error_code=type(exc).__name__,
                    message=" ".join(str(exc).split())[:300],
                )
            )
        observer.advance()
        return result

    results: list[R | None] = []
    for item, result in zip(items, run_all(unit, items, options.max_workers), strict=True):
        if isinstance(result, _Crash):
            crashes.setdefault(owner(item), result.unknown)
            results.append(fallback(item, result.unknown))
        else:
            results.append(result)
    return results


def _scope_regions(
    enabled: tuple[str, ...] | Unknown, options: ScanOptions
) -> tuple[str, ...] | Unknown:
    if options.regions is None:
        return enabled
    if isinstance(enabled, Unknown):
        return tuple(sorted(options.regions))
    # A requested region the account has not enabled is not in scope for that account.
    return tuple(sorted(set(options.regions) & set(enabled)))


def _view(access: AccountAccess, options: ScanOptions) -> _AccountView:
    wanted = options.collections
    enabled: tuple[str, ...] | Unknown = ()
    if "regions" in wanted or options.regions is None:
        enabled = regions.enabled_regions(access, options.api_region)
    trail_map: dict[str, str] | Unknown = {}
    if wanted & _TRAIL_DEPENDENT:
        trail_map = cloudtrail.list_trails(access, options.api_region)
    names = s3.list_bucket_names(access) if "buckets" in wanted else None
    return _AccountView(regions=enabled, trails=trail_map, bucket_names=names)


def _collect_trails(
    observer: ScanObserver,
    view_of: dict[str, _AccountView],
    access: dict[str, AccountAccess],
    options: ScanOptions,
    crashes: dict[str, Unknown],
) -> dict[str, Trail]:
    # Each trail is read by one account: its owner when scanned, else the first that sees it.
    reader: dict[str, tuple[str, str]] = {}
    for account_id, view in sorted(view_of.items()):
        if isinstance(view.trails, Unknown):
            continue
        for arn, home in view.trails.items():
            owner = arn.split(":")[4]
            if arn not in reader or (owner == account_id and owner in access):
                reader[arn] = (account_id, home)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for arn, (account_id, home) in sorted(reader.items()):
        groups[(account_id, home)].append(arn)

    def read_group(key: tuple[str, str]) -> list[Trail]:
        account_id, home = key
        described = cloudtrail.describe_trails(access[account_id], home, groups[key])
        if isinstance(described, Unknown):
            return [_undescribed_trail(arn, home, described) for arn in groups[key]]
        return [
            cloudtrail.collect_trail(access[account_id], described[arn], home)
            if arn in described
            else _undescribed_trail(
                arn, home, Unknown(operation="cloudtrail:DescribeTrails", error_code="NotReturned")
            )
            for arn in groups[key]
        ]

    results = _stage(
        observer,
        "trails",
        sorted(groups),
        options,
        read_group,
        crashes=crashes,
        owner=lambda key: key[0],
        fallback=lambda key, unknown: [_undescribed_trail(a, key[1], unknown) for a in groups[key]],
    )
    return {t.arn: t for group in results for t in group or ()}


def _undescribed_trail(arn: str, home: str, unknown: Unknown) -> Trail:
    """A trail ListTrails showed but DescribeTrails could not describe: every fact unknown."""
    return Trail(
        arn=arn,
        name=arn.split("/", 1)[-1],
        account_id=arn.split(":")[4],
        home_region=home,
        is_multi_region=False,
        status=unknown,
        event_selectors=unknown,
        insight_selectors=unknown,
        describe_error=unknown,
    )


def _bucket_owners(view_of: dict[str, _AccountView]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for account_id, view in sorted(view_of.items()):
        if isinstance(view.bucket_names, tuple):
            for name in view.bucket_names:
                owners.setdefault(name, account_id)
    return owners


def _collect_resources(
    observer: ScanObserver,
    trails: dict[str, Trail],
    bucket_owners: dict[str, str],
    access: dict[str, AccountAccess],
    options: ScanOptions,
    crashes: dict[str, Unknown],
) -> tuple[dict[str, Bucket], dict[str, KmsKey], dict[str, LogGroup]]:
    wanted = options.collections
    # (kind, id) → the account whose access reads it
    units: dict[tuple[str, str], str] = {}
    for trail in trails.values():
        fallback = trail.account_id if trail.account_id in access else next(iter(access))
        if "buckets" in wanted and trail.s3_bucket_name:
            owner = bucket_owners.get(trail.s3_bucket_name)
            units.setdefault(("bucket", trail.s3_bucket_name), owner or fallback)
        if "kms_keys" in wanted and trail.kms_key_id:
            key_arn = trail.kms_key_arn or ""
            key_account = key_arn.split(":")[4]
            units.setdefault(("key", key_arn), key_account if key_account in access else fallback)
        if wanted & {"log_groups", "metric_filters"} and trail.cloudwatch_logs_log_group_arn:
            arn = trail.cloudwatch_logs_log_group_arn
            group_account = arn.split(":")[4]
            units.setdefault(
                ("log_group", arn), group_account if group_account in access else fallback
            )

    # The account-level Public Access Block: once per account owning a trail's bucket.
    for (kind, ident), account_id in list(units.items()):
        if kind == "bucket" and ident in bucket_owners:
            units.setdefault(("account_pab", account_id), account_id)

    def read(
        unit: tuple[tuple[str, str], str],
    ) -> Bucket | KmsKey | LogGroup | tuple[str, PublicAccessBlock | Unknown | None]:
        (kind, ident), account_id = unit
        reader = access[account_id]
        if kind == "account_pab":
            return (ident, s3.account_public_access_block(reader, ident))
        if kind == "bucket":
            owner: str | Unknown = bucket_owners.get(ident) or Unknown(
                operation="s3:ListBuckets",
                error_code="OwnerNotScanned",
                message="no scanned account owns this bucket",
            )
            return s3.collect_bucket(reader, ident, owner)
        if kind == "key":
            return kms.collect_key(reader, ident)
        with_filters = "metric_filters" in wanted
        if ident.split(":")[4] != account_id:  # another account's access would see it absent
            return logs.unreadable_log_group(ident, metric_filters=with_filters)
        return logs.collect_log_group(reader, ident, metric_filters=with_filters)

    results = _stage(
        observer,
        "resources",
        sorted(units.items()),
        options,
        read,
        crashes=crashes,
        owner=lambda unit: unit[1],
    )
    account_pabs = dict(r for r in results if isinstance(r, tuple))
    buckets = {
        r.name: r.model_copy(
            update={"account_public_access_block": account_pabs[r.owner_account_id]}
        )
        if isinstance(r.owner_account_id, str) and r.owner_account_id in account_pabs
        else r
        for r in results
        if isinstance(r, Bucket)
    }
    keys = {r.arn: r for r in results if isinstance(r, KmsKey)}
    groups = {r.arn: r for r in results if isinstance(r, LogGroup)}
    return buckets, keys, groups


def _filter_metric_names(group: LogGroup) -> set[str]:
    if not isinstance(group.metric_filters, tuple):
        return set()
    return {t.metric_name for f in group.metric_filters for t in f.transformations}


@dataclass(frozen=True)
class _RegionalResult:
    listing: RegionalListing
    alarms: list[Alarm]
    rules: list[EventRule]


def _collect_monitoring(
    observer: ScanObserver,
    groups: dict[str, LogGroup],
    scoped_regions: dict[str, tuple[str, ...] | Unknown],
    access: dict[str, AccountAccess],
    options: ScanOptions,
    crashes: dict[str, Unknown],
) -> tuple[dict[str, Alarm], dict[str, SnsTopic], dict[str, EventRule], dict[str, RegionalListing]]:
    wanted = options.collections
    # (account, region) → metric names the trail log groups' filters publish there
    alarm_scopes: dict[tuple[str, str], set[str]] = {}
    if "alarms" in wanted:
        for group in groups.values():
            if group.account_id in access:
                scope = alarm_scopes.setdefault((group.account_id, group.region), set())
                scope |= _filter_metric_names(group)
    rule_scopes: set[tuple[str, str]] = set()
    if "event_rules" in wanted:
        for account_id, regions_in_scope in scoped_regions.items():
            if isinstance(regions_in_scope, tuple):
                rule_scopes |= {(account_id, r) for r in regions_in_scope}
    units = sorted(set(alarm_scopes) | rule_scopes)

    def read(unit: tuple[str, str]) -> _RegionalResult:
        account_id, region = unit
        reader = access[account_id]
        alarm_arns: tuple[str, ...] | Unknown | None = None
        found_alarms: list[Alarm] = []
        if unit in alarm_scopes:
            metrics = alarm_scopes[unit]
            # No filter publishes a metric here: no alarm can watch one, nothing to ask.
            read_alarms = cloudwatch.collect_alarms(reader, region, metrics) if metrics else []
            if isinstance(read_alarms, Unknown):
                alarm_arns = read_alarms
            else:
                found_alarms = read_alarms
                alarm_arns = tuple(sorted(a.arn for a in read_alarms))
        rule_arns: tuple[str, ...] | Unknown | None = None
        found_rules: list[EventRule] = []
        if unit in rule_scopes:
            read_rules = events.collect_rules(reader, region)
            if isinstance(read_rules, Unknown):
                rule_arns = read_rules
            else:
                found_rules = read_rules
                rule_arns = tuple(sorted(r.arn for r in read_rules))
        listing = RegionalListing(
            account_id=account_id, region=region, alarms=alarm_arns, event_rules=rule_arns
        )
        return _RegionalResult(listing, found_alarms, found_rules)

    def unread(unit: tuple[str, str], unknown: Unknown) -> _RegionalResult:
        account_id, region = unit
        listing = RegionalListing(
            account_id=account_id,
            region=region,
            alarms=unknown if unit in alarm_scopes else None,
            event_rules=unknown if unit in rule_scopes else None,
        )
        return _RegionalResult(listing, [], [])

    read_all = (
        _stage(
            observer,
            "monitoring",
            units,
            options,
            read,
            crashes=crashes,
            owner=lambda unit: unit[0],
            fallback=unread,
        )
        if units
        else []
    )
    results = [r for r in read_all if r is not None]
    alarms = {a.arn: a for r in results for a in r.alarms}
    rules = {e.arn: e for r in results for e in r.rules}
    listings = {f"{r.listing.account_id}/{r.listing.region}": r.listing for r in results}

    topic_readers: dict[str, str] = {}
    if "sns_topics" in wanted:
        for alarm in sorted(alarms.values(), key=lambda a: a.arn):
            for action in alarm.alarm_actions:
                if action.split(":")[2:3] == ["sns"]:
                    owner = action.split(":")[4]
                    topic_readers.setdefault(action, owner if owner in access else alarm.account_id)

    def read_topic(unit: tuple[str, str]) -> SnsTopic:
        arn, account_id = unit
        return sns.collect_topic(access[account_id], arn)

    topic_units = sorted(topic_readers.items())
    topics = (
        _stage(
            observer,
            "topics",
            topic_units,
            options,
            read_topic,
            crashes=crashes,
            owner=lambda unit: unit[1],
        )
        if topic_units
        else []
    )
    return alarms, {t.arn: t for t in topics if t is not None}, rules, listings


def _confirm_filters(
    observer: ScanObserver,
    groups: dict[str, LogGroup],
    access: dict[str, AccountAccess],
    options: ScanOptions,
    crashes: dict[str, Unknown],
) -> dict[str, FilterPatternTest]:
    """Each distinct filter pattern once through logs:TestMetricFilter, with the CIS samples."""
    from trailcheck.rules._cis_controls import load_controls  # sample data, no rule logic

    samples = [
        (f"{control.key}/{kind}/{sample.name}", sample.record)
        for control in load_controls()
        for kind, items in (("positive", control.positives), ("negative", control.negatives))
        for sample in items
    ]
    askers: dict[str, tuple[str, str]] = {}
    for _, group in sorted(groups.items()):
        if group.account_id in access and isinstance(group.metric_filters, tuple):
            for f in group.metric_filters:
                askers.setdefault(f.pattern, (group.account_id, group.region))

    def ask(unit: tuple[str, tuple[str, str]]) -> FilterPatternTest:
        pattern, (account_id, region) = unit
        return logs.test_pattern(access[account_id], region, pattern, samples)

    units = sorted(askers.items())
    results = (
        _stage(
            observer,
            "confirm filters",
            units,
            options,
            ask,
            crashes=crashes,
            owner=lambda unit: unit[1][0],
        )
        if units
        else []
    )
    return {r.pattern: r for r in results if r is not None}
