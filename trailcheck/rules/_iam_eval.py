"""Effective permissions, offline: can this IAM user or role make this request?

AWS's policy evaluation logic for one request, three-valued like the bucket-policy evaluator it
builds on (`_policy.statement_matches`, the conditions of `_policy_conditions`):

1. An explicit Deny in any policy that applies (SCPs, RCPs, identity policies, the permissions
   boundary, the resource policy) wins.
2. Service control policies: the principal's account must be allowed at *every* level from the
   root through each OU down to the account itself (an Allow at each level). The management
   account is bound by no SCP; an organization without SCPs enabled passes `scp_levels=None`.
3. Resource control policies: the same, at every level above the *resource's* account (none for
   a resource of the management account), for the actions of the services RCPs apply to.
4. The principal side: an identity-policy Allow, limited by the permissions boundary when there
   is one. In the resource's own account a resource policy naming the principal itself also
   grants (limited by the boundary for roles, not for users); across accounts both an identity
   Allow and a resource-policy Allow (naming the principal or its account) are needed.
5. KMS: in the key's account the key policy must allow — naming the principal itself, or its
   account (then an identity Allow is needed too); across accounts as in 4. kms:ScheduleKeyDeletion,
   DisableKey and PutKeyPolicy are refused across accounts whatever the policies say.

Session policies and VPC endpoint policies are not modelled. Statements of identity policies,
boundaries and SCPs name no Principal: they apply to the principal that holds them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from trailcheck.rules._policy import (
    Principal,
    Request,
    Statement,
    StatementRef,
    _aws_entry_matches,
    _is_account_entry,
    _is_everyone,
    _principal_applies,
    parse_policy,
    statement_matches,
)
from trailcheck.rules._policy_conditions import ContextValue, KeyState, Tri, all3, any3, not3

# The services whose actions RCPs apply to (AWS Organizations user guide, "List of AWS services
# that support RCPs"); an RCP says nothing about, say, cloudtrail:StopLogging.
RCP_SERVICES = frozenset({"s3", "sts", "kms", "sqs", "secretsmanager"})
# Refused by KMS for a caller of another account, whatever the key policy grants.
KMS_SAME_ACCOUNT_ONLY = frozenset({"kms:schedulekeydeletion", "kms:disablekey", "kms:putkeypolicy"})
_EVERYONE: tuple[tuple[str, str], ...] = (("*", "*"),)


@dataclass(frozen=True)
class Doc:
    """A policy document and where it comes from (named in grants and denials)."""

    source: str
    statements: tuple[Statement, ...]

    @classmethod
    def attached(cls, source: str, document: Mapping[str, Any] | str | None) -> Doc:
        """An identity policy, boundary, SCP or RCP: it applies to whoever it is attached to
        (an RCP's own Principal, always "*" in AWS, is kept)."""
        statements = parse_policy(document)
        return cls(
            source,
            tuple(
                s
                if s.principals or s.not_principal
                else dataclasses.replace(s, principals=_EVERYONE)
                for s in statements
            ),
        )

    @classmethod
    def resource(cls, source: str, document: Mapping[str, Any] | str | None) -> Doc:
        """A resource policy (bucket, key, topic): its statements name their principals."""
        return cls(source, parse_policy(document))


@dataclass(frozen=True)
class Grant:
    """One statement of one policy."""

    source: str
    statement: StatementRef

    def __str__(self) -> str:
        return f"{self.source} statement {self.statement}"


Level = tuple[str, tuple[Doc, ...]]  # (root, OU or account id; the policies attached there)


@dataclass(frozen=True)
class Subject:
    """An IAM user or role: its identity policies and its permissions boundary (None: none)."""

    arn: str
    kind: Literal["user", "role"]
    identity: tuple[Doc, ...]
    boundary: tuple[Doc, ...] | None = None

    @property
    def account_id(self) -> str:
        return self.arn.split(":")[4]


@dataclass(frozen=True)
class OrgControls:
    """SCP levels binding the principal's account and RCP levels binding the resource's account,
    root first (None: not bound — the management account, or the policy type not enabled)."""

    scp_levels: tuple[Level, ...] | None = None
    rcp_levels: tuple[Level, ...] | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether the request is allowed: True, False, or None (depends on condition keys we do
    not know). `granted_by`: the Allow statements it rests on; `blocked_by`: why not."""

    allowed: Tri
    granted_by: tuple[Grant, ...] = ()
    denied_by: tuple[Grant, ...] = ()
    blocked_by: str = ""
    unknown_keys: tuple[str, ...] = ()


@dataclass
class _Layer:
    result: Tri = False
    sure: list[Grant] = dataclasses.field(default_factory=list)
    maybe: list[Grant] = dataclasses.field(default_factory=list)
    keys: set[str] = dataclasses.field(default_factory=set)

    @property
    def grants(self) -> list[Grant]:
        return self.sure + self.maybe


def principal_context(arn: str, organization_id: str | None = None) -> dict[str, ContextValue]:
    """The condition keys every request of this principal carries (others stay unknown)."""
    context: dict[str, ContextValue] = {
        "aws:PrincipalArn": arn,
        "aws:PrincipalAccount": arn.split(":")[4],
        "aws:PrincipalType": "User" if ":user/" in arn else "AssumedRole",
    }
    # Present only when a service acts for a resource (S3 notifying SNS, CloudTrail writing to
    # S3): never in a principal's own API call.
    for key in ("aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner"):
        context[key] = KeyState.ABSENT
    if organization_id:
        context["aws:PrincipalOrgID"] = organization_id
    return context


def _layer(
    docs: Iterable[Doc],
    effect: Literal["Allow", "Deny"],
    request: Request,
    context: Mapping[str, ContextValue],
    naming: Literal["any", "direct", "account"] = "any",
) -> _Layer:
    """Whether some `effect` statement of `docs` matches (Kleene OR), and which do."""
    layer = _Layer()
    for doc in docs:
        for statement in doc.statements:
            if statement.ref.effect != effect:
                continue
            if naming != "any" and _naming(statement, request.principal) != naming:
                continue
            result, keys = statement_matches(statement, request, context)
            if result is True:
                layer.sure.append(Grant(doc.source, statement.ref))
            elif result is None:
                layer.maybe.append(Grant(doc.source, statement.ref))
                layer.keys.update(keys)
    layer.result = True if layer.sure else (None if layer.maybe else False)
    return layer


def _naming(statement: Statement, principal: Principal) -> str | None:
    """How a resource-policy statement names the principal: "direct" (the principal itself,
    everyone, or NotPrincipal), "account" (its account only), or None (not at all)."""
    if not _principal_applies(statement, principal):
        return None
    if statement.not_principal:
        return "direct"
    direct = any(
        _is_everyone(kind, value)
        or (kind == "AWS" and not _is_account_entry(value) and _aws_entry_matches(value, principal))
        for kind, value in statement.principals
    )
    return "direct" if direct else "account"


def _levels(
    levels: tuple[Level, ...] | None,
    request: Request,
    context: Mapping[str, ContextValue],
    kind: str,
) -> tuple[Tri, str, set[str]]:
    """Allowed at every level (True when not bound); else the first level that allows nothing."""
    if levels is None:
        return True, "", set()
    results: list[Tri] = []
    keys: set[str] = set()
    for target, docs in levels:
        layer = _layer(docs, "Allow", request, context)
        results.append(layer.result)
        keys |= layer.keys
        if layer.result is False:
            return False, f"no {kind} attached to {target} allows it", keys
    return all3(results), "", keys


def org_allows(
    request: Request, org: OrgControls, context: Mapping[str, ContextValue] | None = None
) -> Verdict:
    """What the organization's SCPs and RCPs alone say about a request (a guardrail holds for
    it when this is False)."""
    ctx = _lower(request.context if context is None else context)
    if request.action.split(":")[0].lower() not in RCP_SERVICES:
        org = OrgControls(org.scp_levels, None)
    docs = [d for _, level in (org.scp_levels or ()) + (org.rcp_levels or ()) for d in level]
    deny = _layer(docs, "Deny", request, ctx)
    if deny.result is True:
        return Verdict(False, denied_by=tuple(deny.sure), blocked_by=_denied_text(deny.sure))
    scp, scp_why, scp_keys = _levels(org.scp_levels, request, ctx, "SCP")
    rcp, rcp_why, rcp_keys = _levels(org.rcp_levels, request, ctx, "RCP")
    allowed = all3((not3(deny.result), scp, rcp))
    return Verdict(
        allowed,
        blocked_by=scp_why or rcp_why,
        unknown_keys=tuple(sorted(deny.keys | scp_keys | rcp_keys)),
    )


def evaluate_access(
    request: Request,
    subject: Subject,
    *,
    resource_account: str,
    resource_policy: Sequence[Doc] | None = None,
    org: OrgControls | None = None,
    kms_key: bool = False,
) -> Verdict:
    """Whether `subject` can make `request` (its principal must be the subject), after every
    policy type; see the module docstring for the logic."""
    org = org or OrgControls()
    ctx = _lower(request.context)
    guard = org_allows(request, org, ctx)
    boundary_docs = subject.boundary or ()
    own = [*subject.identity, *boundary_docs, *(resource_policy or ())]
    deny = _layer(own, "Deny", request, ctx)
    if guard.allowed is False or deny.result is True:
        denied = guard.denied_by + tuple(deny.sure)
        return Verdict(
            False,
            denied_by=denied,
            blocked_by=_denied_text(list(denied)) if denied else guard.blocked_by,
        )
    identity = _layer(subject.identity, "Allow", request, ctx)
    boundary = (
        _layer(boundary_docs, "Allow", request, ctx)
        if subject.boundary is not None
        else _Layer(result=True)
    )
    cross = subject.account_id != resource_account
    resource = resource_policy or ()
    direct = _layer(resource, "Allow", request, ctx, naming="direct")
    by_account = _layer(resource, "Allow", request, ctx, naming="account")
    blocked = ""
    if kms_key and cross and request.action.lower() in KMS_SAME_ACCOUNT_ONLY:
        return Verdict(False, blocked_by="KMS refuses this action across accounts")
    via_resource = all3((direct.result, boundary.result if subject.kind == "role" else True))
    if kms_key and not cross:
        # the key policy decides: a grant to the principal, or to its account plus IAM
        path = any3((via_resource, all3((by_account.result, identity.result, boundary.result))))
        grants = direct.grants + by_account.grants + identity.grants
        if path is False:
            blocked = "the key policy does not allow it (to the principal, or its account "
            blocked += "with an identity-policy grant)"
    elif cross:
        path = all3((any3((direct.result, by_account.result)), identity.result, boundary.result))
        grants = direct.grants + by_account.grants + identity.grants
        if path is False:
            blocked = "across accounts both an identity policy and the resource policy must allow"
    else:
        path = any3((all3((identity.result, boundary.result)), via_resource))
        grants = identity.grants + direct.grants
        if path is False:
            blocked = (
                "the permissions boundary does not allow it"
                if identity.result is not False and boundary.result is False
                else "no identity or resource policy allows it"
            )
    allowed = all3((guard.allowed, not3(deny.result), path))
    keys = set(guard.unknown_keys) | deny.keys | identity.keys | boundary.keys | direct.keys
    keys |= by_account.keys
    return Verdict(
        allowed,
        granted_by=tuple(grants) if allowed is not False else (),
        blocked_by=blocked,
        unknown_keys=tuple(sorted(keys)) if allowed is None else (),
    )


def deny_candidates(docs: Iterable[Doc], request: Request) -> list[tuple[Grant, Statement]]:
    """Deny statements whose action and resource cover the request, conditions aside: what a
    guardrail meant to deny with."""
    bare = {k.lower(): v for k, v in request.context.items()}
    found = []
    for doc in docs:
        for statement in doc.statements:
            if statement.ref.effect != "Deny":
                continue
            unconditioned = dataclasses.replace(statement, conditions=())
            if statement_matches(unconditioned, request, bare)[0] is not False:
                found.append((Grant(doc.source, statement.ref), statement))
    return found


def _denied_text(grants: Sequence[Grant]) -> str:
    return "explicitly denied by " + ", ".join(str(g) for g in grants)


def _lower(context: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    return {key.lower(): value for key, value in context.items()}
