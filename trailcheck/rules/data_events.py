"""Data-event rules: S3 object-level and Lambda invoke events, each framework's own test
beside trailcheck's strict one.

* Security Hub S3.22 / S3.23 (Config `cloudtrail-all-write|read-s3-data-event-check`): some
  multi-Region trail that is logging records write (read) data events for all current and
  future buckets.
* CIS 3.10/3.11 (1.4), 3.8/3.9 (3.0, 5.0), 4.8/4.9 (6.0, 7.0): the audit goes bucket by bucket
  and region by region: every bucket of the account is named by a selector of some trail that
  records in the bucket's region; it asks neither for a multi-Region trail nor for logging.
* CT.ACCOUNT.S3_DATA_EVENTS (strict): read *and* write events of every current and future
  bucket, recorded by multi-Region trails that are logging.

Selectors are read by `_selectors` (the evaluator the management-events rule uses too); the
evidence lists, per trail, which selector records what and which record only part.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from trailcheck.model import Account, Finding, Inventory, Severity, Trail, Unknown
from trailcheck.rules._selectors import LAMBDA_FUNCTION, S3_OBJECT, DataCoverage, data_events
from trailcheck.rules._trails import trails_covering
from trailcheck.rules.base import Remediation, RuleContext, Unseen, Visibility, rule

Kind = Literal["read", "write"]


@dataclass(frozen=True)
class TrailData:
    """One trail covering an account, and what it records of one resource type."""

    trail: Trail
    coverage: DataCoverage | None  # None: the selectors could not be read
    problems: tuple[str, ...]  # why it does not count for the strict/FSBP test
    unknowns: tuple[str, ...]

    def evidence(self) -> dict[str, object]:
        return {
            "trail_arn": self.trail.arn,
            "is_multi_region": self.trail.is_multi_region,
            "home_region": self.trail.home_region,
            "problems": list(self.problems),
            "unknowns": list(self.unknowns),
            "selectors": self.coverage.evidence() if self.coverage else None,
        }


def _all_prefix(inventory: Inventory, resource_type: str) -> str:
    partition = inventory.metadata.partition
    return f"arn:{partition}:s3:::" if resource_type == S3_OBJECT else f"arn:{partition}:lambda:"


def trail_data(trail: Trail, resource_type: str, prefix: str) -> TrailData:
    """What `trail` records of `resource_type` under `prefix`, and whether it is multi-region
    and logging."""
    problems: list[str] = []
    unknowns: list[str] = []
    if trail.describe_error is not None:
        unknowns.append(trail.describe_error.describe())
    elif not trail.is_multi_region:
        problems.append(f"single-region (home {trail.home_region})")
    if isinstance(trail.status, Unknown):
        unknowns.append(trail.status.describe())
    elif not trail.status.is_logging:
        problems.append("not logging")
    coverage = None
    if isinstance(trail.event_selectors, Unknown):
        unknowns.append(trail.event_selectors.describe())
    else:
        coverage = data_events(trail.event_selectors, resource_type, prefix)
    return TrailData(trail, coverage, tuple(problems), tuple(unknowns))


def _judge_account(
    inventory: Inventory,
    ctx: RuleContext,
    kinds: tuple[Kind, ...],
    resource_type: str,
    what: str,
    problem: str,
) -> Iterator[Finding]:
    """PASS when multi-region, logging trails covering the account record every one of
    `kinds` for all resources of `resource_type`; ERROR when that turns on an unknown."""
    prefix = _all_prefix(inventory, resource_type)
    visibility = Visibility(inventory)
    for account in inventory.reachable_accounts():
        base = _account_base(inventory, account)
        trails = trails_covering(inventory, account.account_id)
        unlisted = visibility.trail_list(account.account_id)
        if isinstance(trails, Unknown):
            yield ctx.unseen(unlisted or Unseen(f"cannot list trails: {trails.describe()}"), **base)
            continue
        judged = [trail_data(t, resource_type, prefix) for t in trails]
        evidence = {"trails": [j.evidence() for j in judged]}
        counted = [
            (j.trail, j.coverage)
            for j in judged
            if not j.problems and not j.unknowns and j.coverage
        ]
        by: dict[Kind, list[str]] = {
            kind: [
                f"{trail.arn}: {label}"
                for trail, coverage in counted
                for label in getattr(coverage, kind)
            ]
            for kind in kinds
        }
        missing = [kind for kind in kinds if not by[kind]]
        if not missing:
            yield ctx.passed(
                **base,
                reason=f"{' and '.join(kinds)} {what} recorded by a multi-region, logging trail",
                evidence={"covered_by": {k: v for k, v in by.items()}, **evidence},
            )
            continue
        undecided = [j for j in judged if j.unknowns and not j.problems]
        if unlisted is not None or undecided:
            why = unlisted.reason if unlisted else "; ".join(undecided[0].unknowns)
            yield ctx.error(
                **base,
                reason=f"cannot tell whether {' and '.join(kinds)} {what} are recorded: {why}",
                evidence=evidence,
            )
            continue
        gaps = "; ".join(
            f"{j.trail.name}: {', '.join(j.problems) or _partial_text(j)}" for j in judged
        )
        yield ctx.failed(
            **base,
            reason=f"no multi-region, logging trail records {' and '.join(missing)} {what}"
            + (f" ({gaps})" if gaps else " (no trail covers the account)"),
            evidence={"missing": list(missing), **evidence},
            problems=[problem.format(kind=k) for k in missing],
        )


def _partial_text(j: TrailData) -> str:
    if j.coverage is None:
        return "selectors unknown"
    if j.coverage.partial:
        return "; ".join(j.coverage.partial)
    return "records no such data events"


def _account_base(inventory: Inventory, account: Account) -> dict[str, object]:
    resource = f"arn:{inventory.metadata.partition}:iam::{account.account_id}:root"
    return {"account_id": account.account_id, "region": None, "resource_arn": resource}


_S3_FIX = Remediation(
    summary="Record S3 data events for all current and future buckets on a multi-region trail "
    "that is logging (an organization trail covers every member).",
    cli="aws cloudtrail put-event-selectors --trail-name TRAIL --advanced-event-selectors "
    '\'[{"Name":"Management","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]},'
    '{"Name":"S3 objects","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},'
    '{"Field":"resources.type","Equals":["AWS::S3::Object"]}]}]\'',
    terraform='advanced_event_selector {\n  name = "S3 objects"\n'
    '  field_selector {\n    field  = "eventCategory"\n    equals = ["Data"]\n  }\n'
    '  field_selector {\n    field  = "resources.type"\n    equals = ["AWS::S3::Object"]\n  }\n}',
)
_CIS_WRITE = {
    "cis-aws-1.4": ("3.10",),
    "cis-aws-3.0": ("3.8",),
    "cis-aws-5.0": ("3.8",),
    "cis-aws-6.0": ("4.8",),
    "cis-aws-7.0": ("4.8",),
}
_CIS_READ = {
    "cis-aws-1.4": ("3.11",),
    "cis-aws-3.0": ("3.9",),
    "cis-aws-5.0": ("3.9",),
    "cis-aws-6.0": ("4.9",),
    "cis-aws-7.0": ("4.9",),
}
_OTHER = {"nist-800-53-r5": ("AU-2", "AU-12"), "pci-dss-4.0": ("10.2.1",)}
_SELECTOR_EVENTS = ("PutEventSelectors", "StopLogging", "DeleteTrail", "UpdateTrail")


def _merge(*maps: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for m in maps:
        for framework, ids in m.items():
            merged[framework] = tuple(dict.fromkeys(merged.get(framework, ()) + ids))
    return merged


@rule(
    id="CT.ACCOUNT.S3_WRITE_DATA_EVENTS",
    change_events=_SELECTOR_EVENTS,
    title="A multi-region trail records S3 write data events for all buckets",
    severity=Severity.MEDIUM,
    resource_type="AWS::::Account",
    # Decides S3.22: Config's cloudtrail-all-write-s3-data-event-check (a multi-Region trail,
    # enabled, logging write S3 data events for all current and future buckets).
    controls={"aws-fsbp": ("S3.22",)},
    related_controls=_merge(_CIS_WRITE, _OTHER),
    requires={"trails"},
    remediation=_S3_FIX,
)
def s3_write_data_events(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Without S3 write data events nobody can tell who put, overwrote or deleted an object:
    management events record bucket settings, not the objects."""
    yield from _judge_account(
        inventory, ctx, ("write",), S3_OBJECT, "S3 data events", "trail.no_s3_{kind}_data_events"
    )


@rule(
    id="CT.ACCOUNT.S3_READ_DATA_EVENTS",
    change_events=_SELECTOR_EVENTS,
    title="A multi-region trail records S3 read data events for all buckets",
    severity=Severity.LOW,
    resource_type="AWS::::Account",
    # Decides S3.23: Config's cloudtrail-all-read-s3-data-event-check.
    controls={"aws-fsbp": ("S3.23",)},
    related_controls=_merge(_CIS_READ, _OTHER),
    requires={"trails"},
    remediation=_S3_FIX,
)
def s3_read_data_events(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Without S3 read data events an exfiltration (GetObject) of sensitive objects leaves no
    record."""
    yield from _judge_account(
        inventory, ctx, ("read",), S3_OBJECT, "S3 data events", "trail.no_s3_{kind}_data_events"
    )


@rule(
    id="CT.ACCOUNT.S3_DATA_EVENTS",
    change_events=_SELECTOR_EVENTS,
    title="S3 read and write data events of every current and future bucket are recorded",
    severity=Severity.MEDIUM,
    resource_type="AWS::::Account",
    # Relates only: trailcheck's strict reading. It asks for read and write together, on
    # multi-region trails that are logging, for all current and future buckets; CIS passes a
    # single-region or stopped trail naming today's buckets, S3.22/S3.23 each ask one kind.
    controls={},
    related_controls=_merge(_CIS_WRITE, _CIS_READ, {"aws-fsbp": ("S3.22", "S3.23")}, _OTHER),
    requires={"trails"},
    remediation=_S3_FIX,
)
def s3_data_events(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Object-level activity (who read, wrote or deleted which object) is only in S3 data
    events; a selector scoped to some buckets misses every bucket created later, a read-only
    selector misses deletions, and a stopped or single-region trail misses the rest."""
    yield from _judge_account(
        inventory,
        ctx,
        ("read", "write"),
        S3_OBJECT,
        "S3 data events",
        "trail.no_s3_{kind}_data_events",
    )


@rule(
    id="CT.ACCOUNT.LAMBDA_DATA_EVENTS",
    change_events=_SELECTOR_EVENTS,
    title="A multi-region trail records Lambda invoke data events for all functions",
    severity=Severity.LOW,
    resource_type="AWS::::Account",
    # Relates only (no framework control asks it; Prowler's
    # awslambda_function_invoke_api_operations_cloudtrail_logging_enabled is a peer check).
    controls={},
    related_controls=_OTHER,
    requires={"trails"},
    remediation=Remediation(
        summary="Record Lambda data events (Invoke) for all functions on a multi-region trail "
        "that is logging.",
        cli="aws cloudtrail put-event-selectors --trail-name TRAIL --advanced-event-selectors "
        '\'[{"Name":"Management","FieldSelectors":[{"Field":"eventCategory","Equals":'
        '["Management"]}]},{"Name":"Lambda","FieldSelectors":[{"Field":"eventCategory",'
        '"Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::Lambda::Function"]}]}]\'',
        terraform='advanced_event_selector {\n  name = "Lambda"\n'
        '  field_selector {\n    field  = "eventCategory"\n    equals = ["Data"]\n  }\n'
        '  field_selector {\n    field  = "resources.type"\n'
        '    equals = ["AWS::Lambda::Function"]\n  }\n}',
    ),
)
def lambda_data_events(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Lambda Invoke calls are data events: without them nobody can tell who ran which function
    (a common way to act with the function's role)."""
    yield from _judge_account(
        inventory,
        ctx,
        ("write",),
        LAMBDA_FUNCTION,
        "Lambda data events (Invoke)",
        "trail.no_lambda_data_events",
    )


# ----------------------------------------------------------------------------- CIS per bucket


def _cis_per_bucket(inventory: Inventory, ctx: RuleContext, kind: Kind) -> Iterator[Finding]:
    """CIS's audit: for each bucket the account lists, some trail that records in the bucket's
    region has a selector naming that bucket (or all buckets) for `kind` events."""
    partition = inventory.metadata.partition
    visibility = Visibility(inventory)
    for account in inventory.reachable_accounts():
        base = _account_base(inventory, account)
        trails = trails_covering(inventory, account.account_id)
        if isinstance(trails, Unknown):
            yield ctx.unseen(
                visibility.trail_list(account.account_id)
                or Unseen(f"cannot list trails: {trails.describe()}"),
                **base,
            )
            continue
        names = account.bucket_names
        unlisted = visibility.bucket_list(account.account_id)
        if names is None or isinstance(names, Unknown):
            why = names.describe() if isinstance(names, Unknown) else "ListBuckets not read"
            yield ctx.unseen(
                unlisted or Unseen(f"cannot list the account's buckets: {why}"), **base
            )
            continue
        if not names:
            yield ctx.not_applicable(**base, reason="the account owns no S3 bucket")
            continue
        covered: dict[str, str] = {}
        uncovered: list[str] = []
        undecided: list[str] = []
        for name in names:
            verdict = _bucket_covered(inventory, trails, name, kind, partition)
            if verdict.startswith("?"):
                undecided.append(f"{name}: {verdict[1:]}")
            elif verdict:
                covered[name] = verdict
            else:
                uncovered.append(name)
        evidence = {
            "buckets": len(names),
            # which trail and selector covers each bucket (the first 50 shown)
            "covered": dict(list(covered.items())[:50]),
            "covered_count": len(covered),
            "not_covered": uncovered,
            "trails": [t.arn for t in trails],
        }
        if uncovered:
            shown = ", ".join(uncovered[:5]) + (" ..." if len(uncovered) > 5 else "")
            yield ctx.failed(
                **base,
                reason=f"{len(uncovered)} of {len(names)} buckets have no trail selector "
                f"recording their {kind} data events in their region: {shown}",
                evidence=evidence,
                problems=[f"trail.no_s3_{kind}_data_events"],
            )
        elif undecided:
            yield ctx.error(
                **base,
                reason=f"cannot tell whether {undecided[0]}",
                evidence={"undecided": undecided, **evidence},
            )
        else:
            yield ctx.passed(
                **base,
                reason=f"every bucket ({len(names)}) has {kind} data events recorded by a "
                "trail selector in its region",
                evidence=evidence,
            )


def _bucket_covered(
    inventory: Inventory, trails: list[Trail], name: str, kind: Kind, partition: str
) -> str:
    """The trail and selector recording `kind` events of bucket `name` ("" none; "?why" when
    only a single-region trail names it and the bucket's region is not known)."""
    prefix = f"arn:{partition}:s3:::{name}/"
    bucket = inventory.buckets.get(name)
    owner = next((a for a in inventory.accounts.values() if name in a.bucket_regions), None)
    region = owner.bucket_regions[name] if owner else (bucket.region if bucket else None)
    unsure = ""
    for trail in trails:
        if isinstance(trail.event_selectors, Unknown):
            unsure = unsure or f"?{trail.arn}: {trail.event_selectors.describe()}"
            continue
        labels = getattr(data_events(trail.event_selectors, S3_OBJECT, prefix), kind)
        if not labels:
            continue
        if trail.is_multi_region or region == trail.home_region:
            return f"{trail.arn}: {labels[0]}"
        if not isinstance(region, str):
            unsure = unsure or f"?{name} is named by single-region {trail.arn}; region unknown"
    return unsure


_CIS_FIX = Remediation(
    summary="Add an S3 data-event selector for every bucket (or all buckets) to a trail that "
    "records in the bucket's region; a multi-region trail covers every region.",
    cli=_S3_FIX.cli,
    terraform=_S3_FIX.terraform,
)


@rule(
    id="CT.ACCOUNT.S3_OBJECT_WRITE_LOGGING",
    change_events=_SELECTOR_EVENTS,
    title="Every S3 bucket has object-level logging of write events (CIS audit)",
    severity=Severity.MEDIUM,
    resource_type="AWS::::Account",
    # Decides CIS 3.10 (1.4), 3.8 (3.0, 5.0), 4.8 (6.0, 7.0): the benchmark's audit per bucket
    # and region; neither a multi-region trail nor logging is asked.
    controls=_CIS_WRITE,
    related_controls={"aws-fsbp": ("S3.22",)},
    requires={"trails", "buckets"},
    remediation=_CIS_FIX,
)
def s3_object_write_logging(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """CIS asks that each bucket's object-level write events (PutObject, DeleteObject) are
    logged by some trail in the bucket's region, so changes to stored data can be traced."""
    yield from _cis_per_bucket(inventory, ctx, "write")


@rule(
    id="CT.ACCOUNT.S3_OBJECT_READ_LOGGING",
    change_events=_SELECTOR_EVENTS,
    title="Every S3 bucket has object-level logging of read events (CIS audit)",
    severity=Severity.LOW,
    resource_type="AWS::::Account",
    # Decides CIS 3.11 (1.4), 3.9 (3.0, 5.0), 4.9 (6.0, 7.0).
    controls=_CIS_READ,
    related_controls={"aws-fsbp": ("S3.23",)},
    requires={"trails", "buckets"},
    remediation=_CIS_FIX,
)
def s3_object_read_logging(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """CIS asks that each bucket's object-level read events (GetObject) are logged by some
    trail in the bucket's region, so access to stored data can be traced."""
    yield from _cis_per_bucket(inventory, ctx, "read")
