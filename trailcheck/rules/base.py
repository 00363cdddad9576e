"""How a rule is declared, and the context that turns its judgements into findings.

`@rule(...)` only *declares*: it returns a frozen `Rule` and registers nothing. `load_rules()`
(in `trailcheck.rules`) collects rules from an explicit module list and entry points.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
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
    # Controls the rule only relates to; `controls` holds those it decides (SEMANTICS.md).
    related_controls: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
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
            related_controls={k: list(v) for k, v in sorted(self.related_controls.items())},
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
    related_controls: Mapping[str, tuple[str, ...]] | None = None,
    change_events: Iterable[str] = (),
) -> Callable[[Evaluate], Rule]:
    """Declare a rule; the decorated function's docstring is its rationale.

    `controls`: the framework controls the rule *decides* (its test is the framework's exact
    test, so its verdict is the control's verdict); `related_controls`: those it only relates
    to (a stronger, partial or different test). A control is never in both.
    """
    related = dict(related_controls or {})
    both = sorted(
        f"{framework} {c}"
        for framework, ids in controls.items()
        for c in ids
        if c in related.get(framework, ())
    )
    if both:
        raise ValueError(f"{id}: a control is decided or related, never both: {', '.join(both)}")

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
            related_controls=related,
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
        remediation: Remediation | None = None,
        problems: Sequence[str] = (),
    ) -> Finding:
        """A finding of this rule; `remediation` replaces the rule's fix for this state;
        `problems` names the machine-readable causes of a FAIL (see `Finding.problems`)."""
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
            related_controls={k: list(v) for k, v in sorted(self.rule.related_controls.items())},
            remediation=remediation.info() if remediation else None,
            problems=list(problems),
        )

    def passed(self, **kw: Any) -> Finding:
        return self.finding(Status.PASS, **kw)

    def failed(self, **kw: Any) -> Finding:
        return self.finding(Status.FAIL, **kw)

    def error(self, **kw: Any) -> Finding:
        return self.finding(Status.ERROR, **kw)

    def not_applicable(self, **kw: Any) -> Finding:
        return self.finding(Status.NOT_APPLICABLE, **kw)

    def unseen(self, unseen: Unseen, **kw: Any) -> Finding:
        """ERROR for something `Visibility` says cannot be judged (reason and evidence filled)."""
        evidence = dict(kw.pop("evidence", None) or {}) | unseen.evidence()
        return self.finding(Status.ERROR, reason=unseen.reason, evidence=evidence, **kw)

    def for_account(
        self, inventory: Inventory, account_id: str, status: Status, reason: str, **kw: Any
    ) -> Finding:
        """A finding about the account as a whole (its root ARN, no region)."""
        return self.finding(
            status,
            account_id=account_id,
            region=None,
            resource_arn=f"arn:{inventory.metadata.partition}:iam::{account_id}:root",
            resource_type="AWS::::Account",
            reason=reason,
            **kw,
        )

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
        """Run `judge` on every trail each reachable account owns.

        ERROR for an account whose trails could not be listed and for a trail that could not
        be described (never judged); NOT_APPLICABLE for an account that owns no trail.
        """
        seen = Visibility(inventory)
        for account in inventory.reachable_accounts():
            owned = inventory.trails_owned_by(account.account_id)
            unlisted = seen.trail_list(account.account_id)
            if unlisted is not None:
                yield self.for_account(
                    inventory,
                    account.account_id,
                    Status.ERROR,
                    f"{unlisted.reason}: its trails cannot be judged",
                    evidence=unlisted.evidence(),
                )
            elif not owned:
                yield self.for_account(
                    inventory,
                    account.account_id,
                    Status.NOT_APPLICABLE,
                    "the account owns no trail "
                    "(its coverage is judged by CT.ACCOUNT.MULTI_REGION_TRAIL)",
                )
            for trail in owned:
                undescribed = seen.trail(trail)
                if undescribed is not None:
                    yield self.unseen(
                        undescribed,
                        account_id=trail.account_id,
                        region=trail.home_region,
                        resource_arn=trail.arn,
                        resource_type="AWS::CloudTrail::Trail",
                    )
                else:
                    yield from judge(trail)

    # -- helpers for what trails use (buckets, keys, log groups): judged once, in the owner --

    def per_used_resource(
        self,
        inventory: Inventory,
        uses: Callable[[Trail], str | None],
        owner_of: Callable[[str], str | Unknown | None],
        seen: Callable[[str], Unseen | None],
        judge: Callable[[str, list[Trail]], Iterable[Finding]],
        cannot_judge: Callable[[str, list[Trail], Unseen, str], Finding],
        *,
        kind: str,
        noun: str,
        owned_list: Callable[[str], Unseen | None] | None = None,
    ) -> Iterator[Finding]:
        """Judge each resource trails use (`uses(trail)`: a bucket name, key or group ARN)
        once, in the account that owns it, with `judge(resource, users)`. `kind` names the
        resource in ERROR reasons ("log bucket"), `noun` in NOT_APPLICABLE ones.

        * A resource `seen` says cannot be judged gets `cannot_judge(resource, users, unseen,
          account)`: an ERROR in its owner when the owner was entered, else in the account
          `Visibility.place` picks; it is never judged on facts read from outside its owner.
        * A trail that could not be described (which resource it uses is unknown) and an
          account whose trails could not be listed get ERROR: something of theirs is unjudged.
        * A reachable account that receives no finding gets NOT_APPLICABLE ("owns no `noun`"),
          unless `owned_list(account)` says its own list of such resources could not be read
          (ownership not told by an ARN, as for buckets): then ERROR.
        """
        visibility = Visibility(inventory)
        found: dict[str, list[Finding]] = defaultdict(list)
        for account in inventory.reachable_accounts():
            unlisted = visibility.trail_list(account.account_id)
            if unlisted is not None:
                found[account.account_id].append(
                    self.for_account(
                        inventory,
                        account.account_id,
                        Status.ERROR,
                        f"{unlisted.reason}: the {kind}s its trails use cannot be judged",
                        evidence=unlisted.evidence(),
                    )
                )
        users: dict[str, list[Trail]] = defaultdict(list)
        for _, trail in sorted(inventory.trails.items()):
            undescribed = visibility.trail(trail)
            if undescribed is None:
                if (resource := uses(trail)) is not None:
                    users[resource].append(trail)
                continue
            place = visibility.place([trail])
            if place is not None:
                found[place].append(
                    self.unseen(
                        Unseen(f"cannot tell which {kind} the trail uses: {undescribed.reason}"),
                        account_id=place,
                        region=trail.home_region,
                        resource_arn=trail.arn,
                        resource_type="AWS::CloudTrail::Trail",
                    )
                )
        for resource, trails in sorted(users.items()):
            unseen = seen(resource)
            owner = owner_of(resource)
            if unseen is None and isinstance(owner, str):
                found[owner].extend(judge(resource, trails))
                continue
            unseen = unseen or Unseen(f"the owner of {resource} is unknown")
            place = (
                owner
                if isinstance(owner, str) and visibility.reachable(owner)
                else visibility.place(trails)
            )
            if place is not None:
                found[place].append(cannot_judge(resource, trails, unseen, place))
        for account in inventory.reachable_accounts():
            unlisted = owned_list(account.account_id) if owned_list else None
            if found.get(account.account_id):
                yield from found[account.account_id]
            elif unlisted is not None:
                yield self.for_account(
                    inventory,
                    account.account_id,
                    Status.ERROR,
                    f"{unlisted.reason}: whether it owns a {kind} is unknown",
                    evidence=unlisted.evidence(),
                )
            else:
                yield self.for_account(
                    inventory,
                    account.account_id,
                    Status.NOT_APPLICABLE,
                    f"the account owns no {noun}",
                )

    # -- the CloudTrail log buckets -------------------------------------------------------

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
        remediation: Remediation | None = None,
        problems: Sequence[str] = (),
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
            remediation=remediation,
            problems=problems,
        )

    def per_log_bucket(
        self,
        inventory: Inventory,
        judge: Callable[[Bucket, list[Trail]], Iterable[Finding]],
        needs: Sequence[str] = (),
    ) -> Iterator[Finding]:
        """Run `judge(bucket, writers)` once per bucket a trail writes to, in the owner account
        (`per_used_resource`); a bucket `Visibility` cannot judge, or with an unknown fact
        among `needs` (attribute names), gets ERROR without being judged."""
        visibility = Visibility(inventory)

        def bucket_of(name: str) -> Bucket:
            return inventory.buckets.get(name) or _uncollected_bucket(name)

        def cannot_judge(name: str, writers: list[Trail], unseen: Unseen, place: str) -> Finding:
            return self.for_bucket(
                bucket_of(name),
                writers,
                Status.ERROR,
                unseen.reason,
                account_id=place,
                evidence=unseen.evidence(),
            )

        yield from self.per_used_resource(
            inventory,
            lambda trail: trail.s3_bucket_name,
            lambda name: bucket_of(name).owner_account_id,
            lambda name: visibility.bucket(name, needs),
            lambda name, writers: judge(inventory.buckets[name], writers),
            cannot_judge,
            kind="log bucket",
            noun="CloudTrail log bucket",
            owned_list=visibility.bucket_list,
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


# ----------------------------------------------------------------------------- visibility


@dataclass(frozen=True)
class Unseen:
    """Why something cannot be judged from what the scan saw: a rule that needs it says ERROR.

    `add_to_scan` names the account to add to the scan when the thing belongs to an account
    outside it.
    """

    reason: str
    add_to_scan: str | None = None

    def evidence(self) -> dict[str, JsonValue]:
        """The evidence every ERROR built from this carries."""
        shown: dict[str, JsonValue] = {"cannot_judge": self.reason}
        if self.add_to_scan:
            shown["add_to_scan"] = self.add_to_scan
        return shown


class Visibility:
    """The one place that answers "can this be judged from what was seen?" (SEMANTICS.md).

    Each method returns None when the thing can be judged, or the `Unseen` reason a rule puts in
    its ERROR: an account not entered, a trail list or description that could not be read, a
    bucket, KMS key, log group or SNS topic whose owner is outside the scan (or could not be
    entered), that was not collected, or whose needed facts are unknown. A resource is judged
    only from its owner: facts read from elsewhere never make it judgeable.
    """

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    @cached_property
    def _reachable(self) -> frozenset[str]:
        return frozenset(a.account_id for a in self.inventory.reachable_accounts())

    def reachable(self, account_id: str) -> bool:
        """The account is in the scan and was entered."""
        return account_id in self._reachable

    # -- accounts and trails --------------------------------------------------------------

    def account(self, account_id: str) -> Unseen | None:
        """Whether the account is in the scan and could be entered."""
        account = self.inventory.accounts.get(account_id)
        if account is None:
            skipped = {s.account_id: s.status for s in self.inventory.metadata.skipped_accounts}
            state = f" ({skipped[account_id]})" if account_id in skipped else ""
            return Unseen(
                f"account {account_id}{state} is not in this scan: add account {account_id} to "
                "the scan (use --org or grant read access)",
                add_to_scan=account_id,
            )
        if account.access_error is not None:
            return Unseen(
                f"account {account_id} could not be entered: {account.access_error.describe()}"
            )
        return None

    def owner(self, account_id: str | Unknown, what: str) -> Unseen | None:
        """Whether `what` (e.g. "key arn:...") can be judged from its owner `account_id`."""
        if isinstance(account_id, Unknown):
            return Unseen(f"the owner of {what} is unknown ({account_id.describe()})")
        if account_id not in self.inventory.accounts:
            return Unseen(
                f"{what} is owned by account {account_id}, which is not in this scan: add "
                f"account {account_id} to the scan (use --org or grant read access)",
                add_to_scan=account_id,
            )
        unseen = self.account(account_id)
        if unseen is not None:
            return Unseen(f"{what} is owned by {unseen.reason}")
        return None

    def trail_list(self, account_id: str) -> Unseen | None:
        """Whether the account's ListTrails was read (and the account entered)."""
        return self._listing(account_id, "trail_arns", "trails")

    def bucket_list(self, account_id: str) -> Unseen | None:
        """Whether the account's ListBuckets was read (it tells which buckets it owns)."""
        return self._listing(account_id, "bucket_names", "buckets")

    def _listing(self, account_id: str, attr: str, noun: str) -> Unseen | None:
        unseen = self.account(account_id)
        if unseen is not None:
            return unseen
        listed = getattr(self.inventory.accounts[account_id], attr)
        if isinstance(listed, Unknown):
            return Unseen(f"cannot list the {noun} of account {account_id}: {listed.describe()}")
        return None

    def trail(self, trail: Trail) -> Unseen | None:
        """Whether the trail was described (DescribeTrails): its settings are known."""
        if trail.describe_error is not None:
            return Unseen(f"cannot describe trail {trail.arn}: {trail.describe_error.describe()}")
        return None

    def place(self, trails: Sequence[Trail]) -> str | None:
        """Where an ERROR about something these trails use goes when its owner cannot judge
        it: the first trail's owner that was entered, else the first entered account that
        lists one of the trails, else the first entered account."""
        for trail in trails:
            if self.reachable(trail.account_id):
                return trail.account_id
        ordered = sorted(self._reachable)
        for trail in trails:
            for account_id in ordered:
                shown = self.inventory.accounts[account_id].trail_arns
                if isinstance(shown, tuple) and trail.arn in shown:
                    return account_id
        return ordered[0] if ordered else None

    # -- shared resources -----------------------------------------------------------------

    def bucket(self, name: str, needs: Sequence[str] = ()) -> Unseen | None:
        """A trail's log bucket: collected, owned by an entered account, `needs` facts known."""
        bucket = self.inventory.buckets.get(name)
        if bucket is None:
            return Unseen(
                "the bucket was not collected (the scan skipped buckets or failed before them)"
            )
        owner, region = bucket.owner_account_id, bucket.region
        if isinstance(region, Unknown) and region.error_code == "NoSuchBucket":
            return Unseen(
                f"the bucket does not exist ({region.describe()}): CloudTrail cannot deliver, "
                "and anyone could create a bucket with this name and receive the logs"
            )
        if isinstance(owner, Unknown):
            seen = f" ({region.describe()})" if isinstance(region, Unknown) else ""
            return Unseen(
                f"the bucket's owner is not in this scan: no scanned account lists it{seen}; "
                "add the owner account to the scan (use --org or grant read access)"
            )
        unseen = self.owner(owner, f"bucket {name}")
        if unseen is not None:
            return unseen
        return _facts("the bucket's", bucket, needs)

    def kms_key(self, arn: str, needs: Sequence[str] = ("metadata",)) -> Unseen | None:
        """A trail's KMS key: owned by an entered account, collected, `needs` facts known."""
        owner = arn.split(":")[4] if arn.count(":") >= 5 else ""
        unseen = self.owner(owner, f"key {arn}")
        if unseen is not None:
            return unseen
        key = self.inventory.kms_keys.get(arn)
        if key is None:
            return Unseen(f"key {arn} was not collected")
        return _facts(f"key {arn}", key, needs)

    def log_group(self, arn: str, needs: Sequence[str] = ("exists",)) -> Unseen | None:
        """A trail's log group: owned by an entered account, collected, `needs` facts known
        (`metric_filters` None counts as not collected)."""
        unseen = self.owner(arn.split(":")[4], f"log group {arn}")
        if unseen is not None:
            return unseen
        group = self.inventory.log_groups.get(arn)
        if group is None:
            return Unseen(f"log group {arn} was not collected")
        if "metric_filters" in needs and group.metric_filters is None and group.exists is True:
            return Unseen(f"the metric filters of log group {group.name} were not collected")
        return _facts(f"log group {group.name}", group, needs)

    def sns_topic(
        self, arn: str, needs: Sequence[str] = ("exists", "subscriptions")
    ) -> Unseen | None:
        """An SNS topic an alarm notifies: owned by an entered account, read, facts known."""
        unseen = self.owner(arn.split(":")[4], f"topic {arn}")
        if unseen is not None:
            return unseen
        topic = self.inventory.sns_topics.get(arn)
        if topic is None:
            return Unseen(f"topic {arn} was not read")
        return _facts(f"topic {arn.split(':')[-1]}", topic, needs)


def _facts(label: str, item: object, needs: Sequence[str]) -> Unseen | None:
    """Unseen when any attribute in `needs` of `item` is an `Unknown` fact.

    `label` starts the reason: "the bucket's" gives "cannot read the bucket's policy: ...",
    "key K" gives "cannot read key K (metadata): ...".
    """
    unknown = [(a, v) for a in needs if isinstance(v := getattr(item, a), Unknown)]
    if not unknown:
        return None
    if label.endswith("'s"):
        text = "; ".join(f"{a.replace('_', ' ')}: {u.describe()}" for a, u in unknown)
        return Unseen(f"cannot read {label} {text}")
    attrs = ", ".join(a.replace("_", " ") for a, _ in unknown)
    causes = "; ".join(dict.fromkeys(u.describe() for _, u in unknown))
    return Unseen(f"cannot read {label} ({attrs}): {causes}")
