"""How a rule is declared, and the context that turns its judgements into findings.

`@rule(...)` only *declares*: it returns a frozen `Rule` and registers nothing. `load_rules()`
(in `trailcheck.rules`) collects rules from an explicit module list and entry points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, JsonValue

from trailcheck.model import (
    Finding,
    Inventory,
    RemediationInfo,
    RuleInfo,
    Severity,
    Status,
    Trail,
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
