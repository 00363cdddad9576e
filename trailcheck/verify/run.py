"""`trailcheck verify-logs` for an account or an organization: which trails, which chains,
read with whose credentials, with which keys; then every chain verified in a bounded pool.

Read-only and metered: every AWS call goes through the scanner's `AwsSession`. The IAM actions
are declared by `trailcheck.scanner.collectors.LOG_VERIFICATION` (and the trail, bucket-owner,
region and organization collectors it reuses).

1. Per account in scope (in parallel): ListTrails, ListBuckets (who owns which bucket, as the
   scanner finds it) and DescribeRegions (the enabled regions).
2. Each trail once, described (DescribeTrails) in its home region by its owner when the owner
   is in scope, else by the first account that sees it.
3. Checks: a trail without log file validation is one `validation_disabled` check. Otherwise one
   check per (account whose logs are verified, region whose chain is verified):
   - accounts: the trail's owner; for an organization trail in an organization run, every
     account in scope (their files are under `AWSLogs/<org-id>/<account>/`); an organization
     trail verified without --org covers its owner's chain only (the result says so);
   - regions: the home region of a single-region trail; every scanned region of a multi-region
     trail (the account's enabled regions, narrowed by --region).
4. Each bucket is located once (GetBucketLocation) and read with its owner's credentials when
   the owner is in scope, else the trail owner's, else the account that described the trail.
5. Keys: the --public-key files, or ListPublicKeys once per region (the region that delivered
   the digests and the trail's home region, with the caller's credentials).
6. Each check is split into shards, one per (trail, account, region, day-folder): a shard
   reads that day's digests (signatures checked) and hashes the log files they list, and returns
   plain data (no log contents). The `Executor` runs the shards (the local pool: `shards in
   parallel` at a time, each with `max_workers // that` readers, so S3 requests in flight stay
   near --max-workers; or Dask workers), and each check's shards are merged here: the digest
   chain is checked across the day boundaries, gaps and unlisted files are decided over the
   whole window. A shard that fails for good makes its check ERROR, never a shorter chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from botocore.exceptions import BotoCoreError, ClientError

from trailcheck import __version__
from trailcheck.errors import ScanError, UserError
from trailcheck.model import SkippedAccount, Unknown
from trailcheck.scanner.collectors import cloudtrail, regions, s3
from trailcheck.scanner.collectors.base import AccountAccess
from trailcheck.scanner.executor import (
    AccountEntry,
    Env,
    Executor,
    LocalEnv,
    LocalExecutor,
    ShardFailure,
    run_all,
)
from trailcheck.scanner.scan import AccountTarget
from trailcheck.scanner.session import AwsSession, call
from trailcheck.verify.chain import (
    RecordSink,
    Segment,
    merge_segments,
    segment_days,
    verify_segments,
)
from trailcheck.verify.keys import KeyRing, PublicKey, list_public_keys, load_der_key
from trailcheck.verify.layout import TrailLocation
from trailcheck.verify.report import (
    CheckError,
    CheckStatus,
    TrailCheck,
    VerificationMetadata,
    VerificationReport,
    summarise,
)
from trailcheck.verify.results import TrailVerification, Window
from trailcheck.verify.store import S3ObjectStore, StoreError

CHECK_WORKERS_DIVISOR = 4
"""Shards in parallel = max_workers // 4 (at least 1): each shard then gets >= 4 readers."""
DASK_READERS = 16
"""Readers per shard on a Dask worker (the worker's threads run several shards at once)."""


@dataclass(frozen=True)
class VerifyOptions:
    """What to verify and how hard to work (validated by the CLI before any AWS call)."""

    start: datetime
    end: datetime
    now: datetime
    api_region: str = "us-east-1"
    regions: tuple[str, ...] | None = None
    trail_arns: tuple[str, ...] = ()
    keys: KeyRing | None = None
    """Offline keys (--public-key); None: ListPublicKeys."""
    max_workers: int = 16
    partition: str = "aws"
    on_records: RecordSink | None = None
    """--extract-events: receives the records of each verified log file (same download)."""


def split_workers(max_workers: int, checks: int) -> tuple[int, int]:
    """(shards in parallel, readers per shard) with their product near `max_workers`."""
    outer = max(1, min(checks, max_workers // CHECK_WORKERS_DIVISOR))
    return outer, max(1, max_workers // outer)


@dataclass(frozen=True)
class _View:
    trails: dict[str, str] | Unknown
    buckets: tuple[str, ...] | Unknown
    regions: tuple[str, ...] | Unknown


@dataclass(frozen=True)
class _Trail:
    arn: str
    name: str
    owner: str
    home: str
    multi_region: bool
    organization: bool
    bucket: str | None
    prefix: str | None
    validation: bool
    described_by: str


@dataclass(frozen=True)
class _Unit:
    trail: _Trail
    account_id: str
    region: str
    organization_id: str | None
    reader: str
    bucket_region: str
    note: str | None


@dataclass
class _Scope:
    """What discovery found (built in the main thread only)."""

    access: dict[str, AccountAccess]
    views: dict[str, _View]
    errors: list[CheckError] = field(default_factory=list)
    checks: list[TrailCheck] = field(default_factory=list)


def verify_logs(
    targets: Sequence[AccountTarget],
    session: AwsSession,
    options: VerifyOptions,
    *,
    organization_id: str | None = None,
    management_account_id: str | None = None,
    skipped: Sequence[SkippedAccount] = (),
    executor: Executor | None = None,
) -> VerificationReport:
    """Verify the logs of every trail in scope (see the module doc) and report.

    `executor` (default: the local thread pool) runs the shards."""
    access = {
        t.account_id: AccountAccess(t.account_id, session, t.credentials)
        for t in targets
        if t.access_error is None
    }
    scope = _Scope(access=access, views={})
    for target in targets:
        if target.access_error is not None:
            scope.errors.append(
                CheckError(
                    subject=target.account_id,
                    operation=target.access_error.operation,
                    reason="account not entered, its own trails were not verified: "
                    + target.access_error.describe(),
                )
            )
    reachable = [t.account_id for t in targets if t.access_error is None]
    found = run_all(lambda a: _view(access[a], options), reachable, options.max_workers)
    scope.views = dict(zip(reachable, found, strict=True))
    for account_id, view in scope.views.items():
        if isinstance(view.trails, Unknown):
            scope.errors.append(
                CheckError(
                    subject=account_id,
                    operation=view.trails.operation,
                    reason="cannot list the account's trails: " + view.trails.describe(),
                )
            )

    trail_arns = _select_trails(scope, options, reachable)
    trails = _describe(scope, trail_arns, options)
    org_id = organization_id
    if org_id is None and any(t.organization and t.validation for t in trails):
        org_id = _organization_id(scope, reachable[0] if reachable else None, options)
    in_scope = [t.account_id for t in targets]
    units = _units(scope, trails, org_id, organization_id is not None, in_scope, options)
    rings = _key_rings(scope, session, units, options)

    scope.checks += _run_checks(
        executor or LocalExecutor(),
        LocalEnv(session, {t.account_id: t.credentials for t in targets if t.access_error is None}),
        _entries(targets, options),
        units,
        rings,
        options,
    )
    checks, errors, summary = summarise(scope.checks, scope.errors)
    return VerificationReport(
        metadata=VerificationMetadata(
            tool_version=__version__,
            now=options.now,
            window=Window(start=options.start, end=options.end),
            partition=options.partition,
            organization_id=organization_id,
            management_account_id=management_account_id,
            accounts=tuple(sorted(in_scope)),
            skipped_accounts=tuple(sorted(skipped, key=lambda s: s.account_id)),
            requested_regions=options.regions,
            requested_trails=options.trail_arns,
            key_source="files" if options.keys is not None else "ListPublicKeys",
            key_fingerprints=tuple(k.fingerprint for k in options.keys.keys_loaded)
            if options.keys is not None
            else (),
            api_calls=session.meter.snapshot(),
        ),
        summary=summary,
        checks=checks,
        errors=errors,
    )


# ----------------------------------------------------------------------------- discovery


def _view(access: AccountAccess, options: VerifyOptions) -> _View:
    return _View(
        trails=cloudtrail.list_trails(access, options.api_region),
        buckets=s3.list_bucket_names(access),
        regions=regions.enabled_regions(access, options.api_region),
    )


def _select_trails(
    scope: _Scope, options: VerifyOptions, reachable: list[str]
) -> dict[str, tuple[str, str]]:
    """Trail ARN -> (account that describes it, home region)."""
    reader: dict[str, tuple[str, str]] = {}
    for account_id, view in sorted(scope.views.items()):
        if isinstance(view.trails, Unknown):
            continue
        for arn, home in view.trails.items():
            owner = arn.split(":")[4]
            if arn not in reader or (owner == account_id and owner in scope.access):
                reader[arn] = (account_id, home)
    if not options.trail_arns:
        return reader
    caller = reachable[0]
    seen = scope.views[caller].trails
    if isinstance(seen, Unknown):
        raise ScanError(f"--trail: cannot list the trails of account {caller}: {seen.describe()}")
    for arn in options.trail_arns:
        if arn not in seen:
            raise UserError(
                f"--trail: {arn} is not a trail of account {caller} (ListTrails shows "
                f"{len(seen)} trail(s): {', '.join(sorted(seen)) or 'none'})"
            )
    return {arn: (caller, seen[arn]) for arn in options.trail_arns}


def _describe(
    scope: _Scope, selected: dict[str, tuple[str, str]], options: VerifyOptions
) -> list[_Trail]:
    groups: dict[tuple[str, str], list[str]] = {}
    for arn, key in sorted(selected.items()):
        groups.setdefault(key, []).append(arn)

    def describe(key: tuple[str, str]) -> dict[str, dict[str, object]] | Unknown:
        return cloudtrail.describe_trails(scope.access[key[0]], key[1], groups[key])

    answers = run_all(describe, sorted(groups), options.max_workers)
    trails: list[_Trail] = []
    for (reader, home), answer in zip(sorted(groups), answers, strict=True):
        for arn in groups[(reader, home)]:
            description = answer.get(arn) if isinstance(answer, dict) else None
            if description is None:
                reason = (
                    answer.describe()
                    if isinstance(answer, Unknown)
                    else "DescribeTrails did not return it"
                )
                scope.checks.append(_undescribed(arn, home, reader, reason))
                continue
            trails.append(_trail(arn, home, reader, description))
    return trails


def _trail(arn: str, home: str, reader: str, d: dict[str, object]) -> _Trail:
    return _Trail(
        arn=arn,
        name=str(d.get("Name") or arn.split("/", 1)[-1]),
        owner=arn.split(":")[4],
        home=str(d.get("HomeRegion") or home),
        multi_region=bool(d.get("IsMultiRegionTrail", False)),
        organization=bool(d.get("IsOrganizationTrail", False)),
        bucket=str(d["S3BucketName"]) if d.get("S3BucketName") else None,
        prefix=str(d["S3KeyPrefix"]) if d.get("S3KeyPrefix") else None,
        validation=bool(d.get("LogFileValidationEnabled", False)),
        described_by=reader,
    )


def _undescribed(arn: str, home: str, reader: str, reason: str) -> TrailCheck:
    return TrailCheck(
        trail_arn=arn,
        trail_name=arn.split("/", 1)[-1],
        trail_account_id=arn.split(":")[4],
        home_region=home,
        is_multi_region=False,
        is_organization_trail=False,
        account_id=arn.split(":")[4],
        region=home,
        read_as=reader,
        status=CheckStatus.ERROR,
        reason=f"cannot describe the trail: {reason}",
    )


def _organization_id(scope: _Scope, caller: str | None, options: VerifyOptions) -> str | None:
    """The caller's organization id (organization trails write under AWSLogs/<org-id>/)."""
    if caller is None:
        return None
    answer = call(
        scope.access[caller].client("organizations", options.api_region), "DescribeOrganization"
    )
    if isinstance(answer, dict):
        return str(answer["Organization"]["Id"])
    reason = answer.describe() if isinstance(answer, Unknown) else "no organization"
    scope.errors.append(
        CheckError(
            subject=caller,
            operation="organizations:DescribeOrganization",
            reason=f"cannot find the organization id for organization trails: {reason}",
        )
    )
    return None


def _scoped(view: _View | None, options: VerifyOptions) -> tuple[str, ...] | None:
    if view is None or isinstance(view.regions, Unknown):
        return options.regions
    if options.regions is None:
        return view.regions
    return tuple(r for r in options.regions if r in view.regions)


def _units(
    scope: _Scope,
    trails: list[_Trail],
    org_id: str | None,
    org_run: bool,
    in_scope: list[str],
    options: VerifyOptions,
) -> list[_Unit]:
    owners: dict[str, str] = {}
    for account_id, view in sorted(scope.views.items()):
        if isinstance(view.buckets, tuple):
            for name in view.buckets:
                owners.setdefault(name, account_id)
    bucket_regions: dict[tuple[str, str], str] = {}
    units: list[_Unit] = []
    for trail in trails:
        base = _base_check(trail)
        if not trail.validation:
            scope.checks.append(
                base.model_copy(
                    update={
                        "account_id": trail.owner,
                        "region": trail.home,
                        "status": CheckStatus.VALIDATION_DISABLED,
                        "reason": "log file validation is disabled: CloudTrail writes no digest "
                        "files, so nothing proves the log files were not changed",
                    }
                )
            )
            continue
        if trail.bucket is None:
            scope.checks.append(
                base.model_copy(
                    update={"status": CheckStatus.ERROR, "reason": "the trail names no S3 bucket"}
                )
            )
            continue
        if trail.organization and org_id is None:
            scope.checks.append(
                base.model_copy(
                    update={
                        "status": CheckStatus.ERROR,
                        "reason": "organization trail, but the organization id is unknown",
                    }
                )
            )
            continue
        reader = next(
            a
            for a in (owners.get(trail.bucket), trail.owner, trail.described_by)
            if a in scope.access
        )
        location = (reader, trail.bucket)
        if location not in bucket_regions:
            bucket_regions[location] = _bucket_region(
                scope.access[reader], trail.bucket, trail.home
            )
        accounts = [trail.owner]
        note = None
        if trail.organization and org_run:
            accounts = sorted(set(in_scope))
        elif trail.organization:
            note = (
                "organization trail: only its owner's chain was verified; use --org to verify "
                "every member account's chain"
            )
        for account_id in accounts:
            view = scope.views.get(account_id) or scope.views.get(trail.owner)
            regions_here = (trail.home,) if not trail.multi_region else _scoped(view, options)
            if regions_here is None:
                regions_here = (trail.home,)
                scope.errors.append(
                    CheckError(
                        subject=account_id,
                        operation="ec2:DescribeRegions",
                        reason=f"enabled regions unknown: only the home region of {trail.arn} "
                        "was verified (give --region to name the regions)",
                    )
                )
            for region in regions_here:
                units.append(
                    _Unit(
                        trail=trail,
                        account_id=account_id,
                        region=region,
                        organization_id=org_id if trail.organization else None,
                        reader=reader,
                        bucket_region=bucket_regions[location],
                        note=note,
                    )
                )
    return units


def _base_check(trail: _Trail) -> TrailCheck:
    return TrailCheck(
        trail_arn=trail.arn,
        trail_name=trail.name,
        trail_account_id=trail.owner,
        home_region=trail.home,
        is_multi_region=trail.multi_region,
        is_organization_trail=trail.organization,
        account_id=trail.owner,
        region=trail.home,
        bucket=trail.bucket,
        prefix=trail.prefix,
        status=CheckStatus.ERROR,
    )


def _bucket_region(access: AccountAccess, bucket: str, fallback: str) -> str:
    answer = call(access.client("s3", s3.GLOBAL_REGION), "GetBucketLocation", Bucket=bucket)
    if not isinstance(answer, dict):
        return fallback  # S3 redirects a request sent to the wrong region
    return str(answer.get("LocationConstraint") or "us-east-1")


# ----------------------------------------------------------------------------- keys


def _key_rings(
    scope: _Scope, session: AwsSession, units: list[_Unit], options: VerifyOptions
) -> dict[str, KeyRing]:
    """Region -> the keys to verify its digests with."""
    needed = sorted({u.region for u in units} | {u.trail.home for u in units})
    if options.keys is not None:
        return dict.fromkeys(needed, options.keys)

    def listed(region: str) -> list[PublicKey] | CheckError:
        client = session.client("cloudtrail", region)
        try:
            return list_public_keys(client, options.start, options.end)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            reason = f"{code}: digests of this region are unverifiable"
        except (BotoCoreError, ValueError) as exc:
            reason = f"{exc}; digests of this region are unverifiable"
        return CheckError(subject=region, operation="cloudtrail:ListPublicKeys", reason=reason)

    answers = run_all(listed, needed, options.max_workers)
    by_region: dict[str, list[PublicKey]] = {}
    for region, answer in zip(needed, answers, strict=True):
        if isinstance(answer, CheckError):
            scope.errors.append(answer)
            by_region[region] = []
        else:
            by_region[region] = answer
    homes: dict[str, set[str]] = {}
    for unit in units:
        homes.setdefault(unit.region, set()).add(unit.trail.home)
    return {
        region: KeyRing(
            [*by_region.get(region, []), *(k for h in homes.get(region, ()) for k in by_region[h])]
        )
        for region in needed
    }


# ----------------------------------------------------------------------------- checks


def _entries(targets: Sequence[AccountTarget], options: VerifyOptions) -> dict[str, AccountEntry]:
    return {
        t.account_id: AccountEntry(
            t.account_id, t.role_arn, t.external_id, sts_region=options.api_region
        )
        for t in targets
        if t.access_error is None
    }


_KeyMaterial = tuple[bytes, datetime | None, datetime | None]


@dataclass(frozen=True)
class _SegmentShard:
    """One (trail, account, region) and some of its days: plain data, the keys as bytes."""

    entry: AccountEntry
    bucket: str
    bucket_region: str
    location: TrailLocation
    keys: tuple[_KeyMaterial, ...]
    start: datetime
    end: datetime
    days: tuple[date, ...]
    readers: int
    # --extract-events, local executor only (a callable never travels to a Dask worker).
    on_records: RecordSink | None = field(default=None, compare=False)


@dataclass(frozen=True)
class _SegmentError:
    """The shard's reads stopped on an AWS or store error (as a local run would)."""

    reason: str


def _run_checks(
    executor: Executor,
    env: LocalEnv,
    entries: dict[str, AccountEntry],
    units: list[_Unit],
    rings: dict[str, KeyRing],
    options: VerifyOptions,
) -> list[TrailCheck]:
    """Every unit's day shards through `executor`, merged back into one check per unit."""
    material = {
        region: tuple((k.pkcs1_der, k.valid_from, k.valid_to) for k in ring.keys_loaded)
        for region, ring in rings.items()
    }
    days_ = tuple(segment_days(options.start, options.end))
    # On Dask a shard is one day (many small tasks spread over the workers); locally one shard
    # covers a check's days with one pool, so its readers never idle on a short day.
    local = executor.name == LocalExecutor.name
    if options.on_records is not None and not local:
        raise UserError(
            "--extract-events: reads the log files in this process; use --executor local"
        )
    groups = [days_] if local else [(day,) for day in days_]
    outer, inner = split_workers(options.max_workers, len(units) * len(groups))
    if not local:
        inner = DASK_READERS
    shards = [
        _SegmentShard(
            entry=entries[unit.reader],
            bucket=unit.trail.bucket or "",
            bucket_region=unit.bucket_region,
            location=_location(unit),
            keys=material[unit.region],
            start=options.start,
            end=options.end,
            days=group,
            readers=inner,
            on_records=options.on_records,
        )
        for unit in units
        for group in groups
    ]
    results = iter(executor.map(_verify_shard, shards, env, parallel=outer))
    return [_merge(unit, [next(results) for _ in groups], options) for unit in units]


def _location(unit: _Unit) -> TrailLocation:
    return TrailLocation(
        trail_arn=unit.trail.arn,
        prefix=unit.trail.prefix,
        account_id=unit.account_id,
        organization_id=unit.organization_id,
        region=unit.region,
    )


def _verify_shard(env: Env, shard: _SegmentShard) -> list[Segment] | _SegmentError:
    """Where the shard runs: read and check its days of one chain."""
    keys = KeyRing(
        load_der_key(der, valid_from=valid_from, valid_to=valid_to)
        for der, valid_from, valid_to in shard.keys
    )
    store = S3ObjectStore(env.access(shard.entry).client("s3", shard.bucket_region), shard.bucket)
    try:
        return verify_segments(
            store,
            shard.location,
            keys,
            shard.start,
            shard.end,
            shard.days,
            max_workers=shard.readers,
            on_records=shard.on_records,
        )
    except (BotoCoreError, ClientError, StoreError) as exc:
        return _SegmentError(f"verification stopped: {exc}")


def _merge(
    unit: _Unit, results: list[list[Segment] | _SegmentError | ShardFailure], options: VerifyOptions
) -> TrailCheck:
    trail = unit.trail
    base = _base_check(trail).model_copy(
        update={
            "account_id": unit.account_id,
            "region": unit.region,
            "organization_id": unit.organization_id,
            "read_as": unit.reader,
            "note": unit.note,
        }
    )
    for result in results:
        if isinstance(result, _SegmentError):
            return base.model_copy(update={"status": CheckStatus.ERROR, "reason": result.reason})
        if isinstance(result, ShardFailure):
            return base.model_copy(
                update={
                    "status": CheckStatus.ERROR,
                    "reason": f"a shard of this check failed for good ({result.reason}): the "
                    "chain was not verified",
                }
            )
    segments = [segment for result in results if isinstance(result, list) for segment in result]
    result = merge_segments(
        trail.bucket or "", _location(unit), options.start, options.end, options.now, segments
    )
    status = CheckStatus.OK if result.ok else CheckStatus.FAILED
    return base.model_copy(
        update={"status": status, "reason": _failure_reason(result), "verification": result}
    )


def _failure_reason(result: TrailVerification) -> str | None:
    if result.ok:
        return None
    parts = [
        f"{count} {label}"
        for count, label in (
            (result.digests_invalid, "invalid digest(s)"),
            (result.digests_missing, "missing digest(s)"),
            (result.digests_unverifiable, "unverifiable digest(s)"),
            (result.log_files_modified, "modified log file(s)"),
            (result.log_files_deleted, "deleted log file(s)"),
            (result.log_files_unverified, "unverified log file(s)"),
            (len(result.gaps), "gap(s)"),
            (sum(1 for p in result.problems if p.kind == "listing"), "listing error(s)"),
        )
        if count
    ]
    return ", ".join(parts)
