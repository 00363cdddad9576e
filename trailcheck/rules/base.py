"""How a rule is declared, and the context that turns its judgements into findings.

`@rule(...)` only *declares*: it returns a frozen `Rule` and registers nothing. `load_rules()`
(in `trailcheck.rules`) collects rules from an explicit module list and entry points.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, JsonValue

from trailcheck.model import (
    Bucket,
    Finding,
    Inventory,
    RemediationInfo,
    RuleInfo,
    Severity,
    Status,
    Trail,
    Unknown,
)

RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(\.[A-Z][A-Z0-9_]*){2,3}$")


@dataclass(frozen=True)
class Remediation:
    """How to fix a FAIL. `{placeholders}` are filled from the finding's evidence when shown."""

    summary: str
    cli: str
    terraform: str
    console: str | None = None

    def info(self) -> RemediationInfo:
        return RemediationInfo(
            summary=self.summary, console=self.console, cli=self.cli, terraform=self.terraform
        )


class NoParams(BaseModel):
    """Parameters of a rule that has none."""

    model_config = {"extra": "forbid", "frozen": True}


Evaluate = Callable[[Inventory, "RuleContext"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """A declared rule: stable id, metadata, and a pure `evaluate(inventory, ctx)` function."""

    id: str
    title: str
    severity: Severity
    resource_type: str
    rationale: str
    remediation: Remediation
    controls: Mapping[str, tuple[str, ...]]
    requires: frozenset[str]
    evaluate: Evaluate
    params: type[BaseModel] = NoParams
    lifecycle: Literal["stable", "preview", "deprecated"] = "stable"
    # The management write events that can make a resource fail this rule (scan --who).
    change_events: tuple[str, ...] = ()

    def info(self) -> RuleInfo:
        return RuleInfo(
            id=self.id,
            title=self.title,
            severity=self.severity,
            resource_type=self.resource_type,
            rationale=self.rationale,
            remediation=self.remediation.info(),
            controls={k: list(v) for k, v in sorted(self.controls.items())},
        )


def rule(
    *,
    id: str,
    title: str,
    severity: Severity,
    resource_type: str,
    remediation: Remediation,
    controls: Mapping[str, tuple[str, ...]],
    requires: Iterable[str],
    params: type[BaseModel] = NoParams,
    lifecycle: Literal["stable", "preview", "deprecated"] = "stable",
    change_events: Iterable[str] = (),
) -> Callable[[Evaluate], Rule]:
    """Declare a rule; the decorated function's docstring is its rationale."""

    def declare(fn: Evaluate) -> Rule:
        return Rule(
            id=id,
            title=title,
            severity=severity,
            resource_type=resource_type,
            rationale=" ".join((fn.__doc__ or "").split()),
            remediation=remediation,
            controls=dict(controls),
            requires=frozenset(requires),
            evaluate=fn,
            params=params,
            lifecycle=lifecycle,
            change_events=tuple(change_events),
        )

    return declare


@dataclass(frozen=True)
class RuleContext:
    """Hands a rule its parameters and builds its findings with the rule's metadata filled in."""

    rule: Rule
    params: Any = field(default_factory=NoParams)

    def finding(
        self,
        status: Status,
        *,
        account_id: str,
        region: str | None,
        resource_arn: str,
        reason: str,
        evidence: Mapping[str, JsonValue] | None = None,
        severity: Severity | None = None,
        resource_type: str | None = None,
    ) -> Finding:
        return Finding(
            rule_id=self.rule.id,
            title=self.rule.title,
            status=status,
            severity=severity or self.rule.severity,
            account_id=account_id,
            region=region,
            resource_arn=resource_arn,
            resource_type=resource_type or self.rule.resource_type,
            reason=reason,
            evidence=dict(evidence or {}),
            controls={k: list(v) for k, v in sorted(self.rule.controls.items())},
        )

    def passed(self, **kw: Any) -> Finding:
        return self.finding(Status.PASS, **kw)

    def failed(self, **kw: Any) -> Finding:
        return self.finding(Status.FAIL, **kw)

    def error(self, **kw: Any) -> Finding:
        return self.finding(Status.ERROR, **kw)

    def not_applicable(self, **kw: Any) -> Finding:
        return self.finding(Status.NOT_APPLICABLE, **kw)

    # -- helpers for the most common shape: judge each trail an account owns --------------

    def for_trail(self, trail: Trail, status: Status, reason: str, **kw: Any) -> Finding:
        """A finding about `trail`, placed in its owner account and home region."""
        return self.finding(
            status,
            account_id=trail.account_id,
            region=trail.home_region,
            resource_arn=trail.arn,
            reason=reason,
            **kw,
        )

    def per_owned_trail(
        self, inventory: Inventory, judge: Callable[[Trail], Iterable[Finding]]
    ) -> Iterator[Finding]:
        """Run `judge` on every trail each reachable account owns (NOT_APPLICABLE if none).

        A trail whose DescribeTrails failed gets ERROR without being judged.
        """
        for account in inventory.reachable_accounts():
            owned = inventory.trails_owned_by(account.account_id)
            if not owned:
                yield self.not_applicable(
                    account_id=account.account_id,
                    region=None,
                    resource_arn=f"arn:{inventory.metadata.partition}:iam::{account.account_id}:root",
                    resource_type="AWS::::Account",
                    reason="the account owns no trail "
                    "(its coverage is judged by CT.ACCOUNT.MULTI_REGION_TRAIL)",
                )
                continue
            for trail in owned:
                if trail.describe_error is not None:
                    yield self.for_trail(
                        trail,
                        Status.ERROR,
                        f"cannot describe the trail: {trail.describe_error.describe()}",
                    )
                else:
                    yield from judge(trail)

    # -- helpers for the CloudTrail log buckets: judge each bucket once, in its owner -------

    def for_bucket(
        self,
        bucket: Bucket,
        writers: Sequence[Trail],
        status: Status,
        reason: str,
        *,
        account_id: str | None = None,
        evidence: Mapping[str, JsonValue] | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding about a log bucket, in its owner account (or `account_id`).

        The evidence always names the bucket, its owner and every trail (with its account)
        that writes there: each of those trails inherits the verdict.
        """
        owner = bucket.owner_account_id
        region = bucket.region if isinstance(bucket.region, str) else None
        base: dict[str, JsonValue] = {
            "bucket": bucket.name,
            "bucket_owner": owner if isinstance(owner, str) else None,
            "bucket_region": region,
            "written_by": [
                {"trail_arn": t.arn, "account_id": t.account_id, "s3_key_prefix": t.s3_key_prefix}
                for t in writers
            ],
        }
        return self.finding(
            status,
            account_id=account_id or (owner if isinstance(owner, str) else ""),
            region=region,
            resource_arn=bucket.arn,
            resource_type="AWS::S3::Bucket",
            reason=reason,
            evidence=base | dict(evidence or {}),
            severity=severity,
        )

    def per_log_bucket(
        self,
        inventory: Inventory,
        judge: Callable[[Bucket, list[Trail]], Iterable[Finding]],
        needs: Sequence[str] = (),
    ) -> Iterator[Finding]:
        """Run `judge(bucket, writers)` once per bucket a trail writes to, in the owner account.

        * A bucket whose owner is not a reachable scanned account (or unknown, or that was not
          collected) gets ERROR with a hint, placed in the account of the first trail that
          writes there; it is never judged on facts read from outside its owner.
        * A bucket with an unknown fact among `needs` (attribute names) gets ERROR naming the
          failed call, without being judged.
        * A reachable account that receives no finding gets NOT_APPLICABLE.
        """
        reachable = [a.account_id for a in inventory.reachable_accounts()]
        names = sorted({t.s3_bucket_name for t in inventory.trails.values() if t.s3_bucket_name})
        found: dict[str, list[Finding]] = defaultdict(list)
        for name in names:
            writers = inventory.trails_writing_to(name)
            bucket = inventory.buckets.get(name) or _uncollected_bucket(name)
            owner = bucket.owner_account_id
            if not isinstance(owner, str) or owner not in reachable:
                place = _placement(inventory, writers, reachable)
                if place is not None:
                    found[place].append(
                        self.for_bucket(
                            bucket,
                            writers,
                            Status.ERROR,
                            _outside_reason(bucket, name in inventory.buckets),
                            account_id=place,
                        )
                    )
                continue
            unknown = [
                (attr, value)
                for attr in needs
                if isinstance(value := getattr(bucket, attr), Unknown)
            ]
            if unknown:
                text = "; ".join(f"{a.replace('_', ' ')}: {u.describe()}" for a, u in unknown)
                found[owner].append(
                    self.for_bucket(
                        bucket, writers, Status.ERROR, f"cannot read the bucket's {text}"
                    )
                )
                continue
            found[owner].extend(judge(bucket, writers))
        for account_id in reachable:
            if found.get(account_id):
                yield from found[account_id]
                continue
            yield self.not_applicable(
                account_id=account_id,
                region=None,
                resource_arn=f"arn:{inventory.metadata.partition}:iam::{account_id}:root",
                resource_type="AWS::::Account",
                reason="the account owns no CloudTrail log bucket",
            )


def _uncollected_bucket(name: str) -> Bucket:
    missing = Unknown(operation="s3:ListBuckets", error_code="NotCollected")
    return Bucket(
        name=name,
        owner_account_id=missing,
        region=missing,
        versioning=missing,
        encryption=missing,
        object_lock=missing,
        policy=missing,
        public_access_block=missing,
    )


def _placement(inventory: Inventory, writers: Sequence[Trail], reachable: list[str]) -> str | None:
    """Where an unjudgeable bucket's ERROR goes: the first writer's account that was scanned."""
    for trail in writers:
        if trail.account_id in reachable:
            return trail.account_id
    for trail in writers:
        for account_id in reachable:
            shown = inventory.accounts[account_id].trail_arns
            if isinstance(shown, tuple) and trail.arn in shown:
                return account_id
    return reachable[0] if reachable else None


def _outside_reason(bucket: Bucket, collected: bool) -> str:
    owner, region = bucket.owner_account_id, bucket.region
    if not collected:
        return "the bucket was not collected (the scan skipped buckets or failed before them)"
    if isinstance(region, Unknown) and region.error_code == "NoSuchBucket":
        return (
            f"the bucket does not exist ({region.describe()}): CloudTrail cannot deliver, and "
            "anyone could create a bucket with this name and receive the logs"
        )
    if isinstance(owner, str):
        return f"bucket owned by {owner} is not in this scan: use --org or grant read access"
    seen = f" ({region.describe()})" if isinstance(region, Unknown) else ""
    return (
        f"the bucket's owner is not in this scan: no scanned account lists it{seen}; "
        "use --org or grant read access"
    )
