"""What every bucket rule shares: the one way to emit a per-bucket finding (`judge_each_bucket`),
Public Access Block key names, policy-error and unread-fact findings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import JsonValue

from trailcheck.model import (
    Bucket,
    Finding,
    Inventory,
    PublicAccessBlock,
    Status,
    Trail,
    Unknown,
)
from trailcheck.rules._policy import (
    PolicyError,
)
from trailcheck.rules.base import RuleContext

T = TypeVar("T")
_PAB_KEYS = (
    ("BlockPublicAcls", "block_public_acls"),
    ("IgnorePublicAcls", "ignore_public_acls"),
    ("BlockPublicPolicy", "block_public_policy"),
    ("RestrictPublicBuckets", "restrict_public_buckets"),
)


# CIS 2.1.5 (1.4) / 2.1.4 (3.0, 5.0) pass a bucket whose Block Public Access is fully on at
# the bucket level *or* at the account level: none of the three Block Public Access rules
# applies that test (the effective rule mixes levels per switch), so all three only relate.
_PAB_FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "cis-aws-1.4": ("2.1.5",),
    "cis-aws-3.0": ("2.1.4",),
    "cis-aws-5.0": ("2.1.4",),
    "pci-dss-4.0": ("10.3.1",),
    "nist-800-53-r5": ("AU-9",),
}


def _pab(value: PublicAccessBlock | Unknown | None) -> dict[str, bool] | None:
    """A Public Access Block in the AWS key names the policy evaluator reads."""
    if not isinstance(value, PublicAccessBlock):
        return None
    return {aws: getattr(value, attr) for aws, attr in _PAB_KEYS}


def _policy_error(
    ctx: RuleContext, bucket: Bucket, writers: list[Trail], fn: Callable[[], T]
) -> T | Finding:
    """Run a policy question; an unparseable policy is an ERROR finding, not a crash."""
    try:
        return fn()
    except PolicyError as exc:
        return ctx.for_bucket(
            bucket, writers, Status.ERROR, f"the bucket policy cannot be evaluated: {exc}"
        )


def _unread(
    ctx: RuleContext, bucket: Bucket, writers: list[Trail], what: str, value: Unknown
) -> Finding:
    """ERROR for a fact that could not be read (``per_log_bucket(needs=...)`` screens these out
    first; this keeps each rule safe on its own instead of asserting)."""
    return ctx.for_bucket(
        bucket, writers, Status.ERROR, f"cannot read the bucket's {what}: {value.describe()}"
    )


def _refs(refs: Sequence[object]) -> list[str]:
    return [str(r) for r in refs]


@dataclass(frozen=True)
class Verdict:
    """What a bucket rule decides about one bucket: the rest of the finding is shared."""

    status: Status
    reason: str
    evidence: dict[str, JsonValue] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def judge_each_bucket(
    inventory: Inventory,
    ctx: RuleContext,
    needs: tuple[str, ...],
    decide: Callable[[Bucket], Verdict],
) -> Iterator[Finding]:
    """The one way a bucket rule emits its findings: each log bucket once, in its owner
    account, ERROR for an unreadable fact among `needs`, else `decide(bucket)`'s verdict."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        for need in needs:
            value = getattr(bucket, need)
            if isinstance(value, Unknown):
                yield _unread(ctx, bucket, writers, need.replace("_", " "), value)
                return
        v = decide(bucket)
        yield ctx.for_bucket(
            bucket, writers, v.status, v.reason, evidence=v.evidence, problems=v.problems
        )

    yield from ctx.per_log_bucket(inventory, judge, needs=needs)
