"""A pure evaluator of S3 bucket policies, ACLs and Public Access Block for CloudTrail log buckets.

Why our own evaluator: the PyPI libraries do other jobs. policyuniverse (last release 2023) says
whether a policy is "internet accessible" from a fixed list of condition keys but does not
evaluate a request, has no Deny precedence, NotPrincipal semantics, ACLs or Public Access
Block; parliament lints policies; policy_sentry writes them. Our questions are "can *this*
request succeed", "can an outsider succeed for *some* value of what we do not know", and "is the
CloudTrail grant scoped to our trail": that needs a small three-valued evaluator.

Semantics (resource policy only; identity policies and SCPs are not seen here):

- A Deny statement that matches wins; else an Allow that matches allows; else implicit deny.
- A statement matches when Principal, Action, Resource and every Condition match. Each test is
  three-valued: a condition on a key the request context does not give answers "unknown", so a
  :class:`Decision` says both its ``effect`` and whether the request ``could_allow`` for some
  value of the unknown keys (Kleene logic; it can over-report "could", never under-report).
- ``"*"`` and ``{"AWS": "*"}`` are everyone, anonymous and service principals included. An
  account id and ``arn:aws:iam::<id>:root`` name every principal of that account. A role ARN
  matches its assumed-role sessions. NotPrincipal excludes an IAM user or role only when its
  account is listed too (AWS evaluates the principal and its account).
- Actions match case-insensitively, resources case-sensitively, ``*`` and ``?`` as globs.
  Policy variables (``${aws:username}``) resolve from the request context, else "unknown".
- Public means what an outsider can do: the caller is anonymous and every "who" key
  (aws:SourceArn, SourceAccount, SourceOrgID, PrincipalOrgID, PrincipalAccount, PrincipalArn,
  SourceVpc(e), SourceIp, userid...) is :attr:`KeyState.OUTSIDER`. An Allow narrowed to fixed
  values of such a key is not public; aws:SecureTransport, Referer or UserAgent never narrow.
- Public Access Block (bucket OR account setting): IgnorePublicAcls neutralises public ACL
  grants; RestrictPublicBuckets limits a bucket with a public policy to service principals and
  the owner account, which neutralises the public statements and also every cross-account
  grant. BlockPublicAcls and BlockPublicPolicy only reject *new* public ACLs and policies
  ("Enabling this setting doesn't affect existing policies or ACLs", S3 API reference): a public
  policy already in place stays public under BlockPublicPolicy alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from trailcheck.rules._policy_conditions import (
    Condition,
    ContextValue,
    KeyState,
    Tri,
    all3,
    any3,
    evaluate_condition,
    glob_match,
    has_variable,
    not3,
    parse_conditions,
)

Effect = Literal["allow", "deny", "implicit_deny", "unknown"]
PrincipalKind = Literal["anonymous", "aws", "service", "canonical_user", "federated"]
AccessKind = Literal["read", "list", "write", "policy_change"]
ACCESS_KINDS: tuple[AccessKind, ...] = ("read", "list", "write", "policy_change")

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_S3_ARN = re.compile(r"^arn:([^:]+):s3:::([^/*?$]+)(?:/|$)")
_ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
_AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
CLOUDTRAIL_SERVICE = "cloudtrail.amazonaws.com"
# Keys that identify *who* calls: fixed values of these narrow an Allow to named callers.
NARROWING_KEYS: tuple[str, ...] = (
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceOwner",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceIp",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:userid",
    "s3:DataAccessPointArn",
    "s3:DataAccessPointAccount",
)
_DELIVERY_SCOPE_KEYS: tuple[str, ...] = ("aws:SourceArn", "aws:SourceAccount", "aws:SourceOrgID")
# Keys a CloudTrail service-principal request does not carry.
_ABSENT_FOR_SERVICE: tuple[str, ...] = (
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:userid",
    "aws:username",
)
# (kind, action, on object?) probes: the actions that stand for each kind of access.
_KIND_PROBES: tuple[tuple[AccessKind, str, bool], ...] = (
    ("read", "s3:GetObject", True),
    ("read", "s3:GetObjectVersion", True),
    ("list", "s3:ListBucket", False),
    ("list", "s3:ListBucketVersions", False),
    ("write", "s3:PutObject", True),
    ("write", "s3:DeleteObject", True),
    ("write", "s3:DeleteObjectVersion", True),
    ("write", "s3:PutObjectRetention", True),
    ("write", "s3:BypassGovernanceRetention", True),
    ("write", "s3:PutLifecycleConfiguration", False),
    ("write", "s3:DeleteBucket", False),
    ("policy_change", "s3:PutBucketPolicy", False),
    ("policy_change", "s3:DeleteBucketPolicy", False),
    ("policy_change", "s3:PutBucketAcl", False),
    ("policy_change", "s3:PutObjectAcl", True),
    ("policy_change", "s3:PutBucketPublicAccessBlock", False),
    ("policy_change", "s3:PutBucketOwnershipControls", False),
)
# An action no policy names: only s3:*, s3:Put* style wildcards, * or NotAction cover it.
_UNNAMED_ACTION = "s3:TrailcheckUnnamedAction"
_ACL_KINDS: tuple[tuple[str, tuple[AccessKind, ...]], ...] = (
    ("READ", ("list",)),
    ("WRITE", ("write",)),
    ("READ_ACP", ()),
    ("WRITE_ACP", ("policy_change",)),
    ("FULL_CONTROL", ("list", "write", "policy_change")),
)
_PROBE_ACCOUNT = "000000000000"


class PolicyError(ValueError):
    """The policy document is not valid JSON or not a valid policy shape."""


# --- the policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRef:
    """Which statement: its position in the Statement list, its Sid, its Effect."""

    index: int
    sid: str | None
    effect: Literal["Allow", "Deny"]

    def __str__(self) -> str:
        return f"#{self.index} ({self.sid})" if self.sid else f"#{self.index}"


@dataclass(frozen=True)
class Statement:
    """One parsed statement; ``principals`` holds (type, value) pairs, type "*" for ``"*"``."""

    ref: StatementRef
    principals: tuple[tuple[str, str], ...]
    not_principal: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...]


PolicyInput = Mapping[str, Any] | str | Sequence[Statement] | None


def parse_policy(policy: Mapping[str, Any] | str | None) -> tuple[Statement, ...]:
    """Parse a policy document (dict or JSON text; None or "" is no policy)."""
    if policy is None or policy == "":
        return ()
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError as error:
            raise PolicyError(f"policy is not valid JSON: {error}") from error
    if not isinstance(policy, Mapping):
        raise PolicyError("policy must be a JSON object")
    raw = policy.get("Statement", [])
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list):
        raise PolicyError("Statement must be an object or a list")
    return tuple(_parse_statement(i, item) for i, item in enumerate(items))


def _parse_statement(index: int, raw: Any) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"statement #{index} is not an object")
    effect: Literal["Allow", "Deny"]
    match str(raw.get("Effect", "")).capitalize():
        case "Allow":
            effect = "Allow"
        case "Deny":
            effect = "Deny"
        case _:
            raise PolicyError(f"statement #{index} has Effect {raw.get('Effect')!r}")
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyError(f"statement #{index} has both Principal and NotPrincipal")
    sid = raw.get("Sid")
    ref = StatementRef(index, str(sid) if sid not in (None, "") else None, effect)
    try:
        conditions = parse_conditions(raw.get("Condition"))
    except ValueError as error:
        raise PolicyError(f"statement #{index}: {error}") from error
    return Statement(
        ref=ref,
        principals=_parse_principals(raw.get("Principal", raw.get("NotPrincipal"))),
        not_principal="NotPrincipal" in raw,
        actions=_strings(raw.get("Action", raw.get("NotAction"))),
        not_action="NotAction" in raw,
        resources=_strings(raw.get("Resource", raw.get("NotResource"))),
        not_resource="NotResource" in raw,
        conditions=conditions,
    )


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def _parse_principals(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if value == "*":
        return (("*", "*"),)
    if not isinstance(value, Mapping):
        raise PolicyError(f'Principal must be "*" or an object, not {value!r}')
    return tuple((str(kind), v) for kind, values in value.items() for v in _strings(values))


def _statements(policy: PolicyInput) -> tuple[Statement, ...]:
    if policy is None or isinstance(policy, str | Mapping):
        return parse_policy(policy)
    if isinstance(policy, Sequence) and all(isinstance(s, Statement) for s in policy):
        return tuple(policy)
    raise PolicyError("policy must be a JSON object, JSON text or parsed statements")


# --- the request ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who makes a request: anonymous, an AWS account (its root) or IAM ARN, a service..."""

    kind: PrincipalKind
    value: str = ""

    @classmethod
    def anonymous(cls) -> Principal:
        """An unauthenticated caller (matched only by ``*``)."""
        return cls("anonymous")

    @classmethod
    def aws(cls, account_or_arn: str) -> Principal:
        """A 12-digit account id (its root), or a user, role or assumed-role session ARN."""
        return cls("aws", account_or_arn)

    @classmethod
    def service(cls, name: str) -> Principal:
        """A service principal, e.g. ``cloudtrail.amazonaws.com``."""
        return cls("service", name)

    @property
    def account_id(self) -> str | None:
        """The account of an AWS principal, else None."""
        if self.kind != "aws":
            return None
        if _ACCOUNT_ID.match(self.value):
            return self.value
        parts = self.value.split(":", 5)
        return parts[4] if len(parts) == 6 else None

    @property
    def is_account(self) -> bool:
        """Whether this is an account as a whole (id or ``:root`` ARN)."""
        return self.kind == "aws" and (
            _ACCOUNT_ID.match(self.value) is not None or self.value.endswith(":root")
        )


@dataclass(frozen=True)
class Request:
    """One request: principal, action, resource ARN and condition context.

    ``context`` maps condition keys (any case) to a string, a list of strings, or a
    :class:`KeyState`; keys it does not give are unknown.
    """

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The outcome of a request under a policy.

    ``effect`` is "unknown" when it depends on unknown context keys; ``could_allow`` is true
    when some value of those keys lets the request through. ``allowed_by``/``denied_by`` are
    the statements that surely match, ``undecided`` those that match only for some values.
    """

    effect: Effect
    could_allow: bool
    allowed_by: tuple[StatementRef, ...]
    denied_by: tuple[StatementRef, ...]
    undecided: tuple[StatementRef, ...]
    unknown_keys: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        """True only when the request is surely allowed."""
        return self.effect == "allow"

    @property
    def allow_statements(self) -> tuple[StatementRef, ...]:
        """The Allow statements that match surely or possibly."""
        return self.allowed_by + tuple(r for r in self.undecided if r.effect == "Allow")


def evaluate(policy: PolicyInput, request: Request) -> Decision:
    """Evaluate a request against a bucket policy: explicit Deny, then Allow, else implicit."""
    statements = _statements(policy)
    context = {key.lower(): value for key, value in request.context.items()}
    matches: list[tuple[StatementRef, Tri]] = []
    unknown: set[str] = set()
    for statement in statements:
        result, keys = statement_matches(statement, request, context)
        matches.append((statement.ref, result))
        if result is None:
            unknown.update(keys)
    allowed_by = tuple(r for r, m in matches if m is True and r.effect == "Allow")
    denied_by = tuple(r for r, m in matches if m is True and r.effect == "Deny")
    undecided = tuple(r for r, m in matches if m is None)
    maybe_deny = any(r.effect == "Deny" for r in undecided)
    maybe_allow = any(r.effect == "Allow" for r in undecided)
    could_allow = not denied_by and bool(allowed_by or maybe_allow)
    effect: Effect
    if denied_by:
        effect = "deny"
    elif not could_allow:
        effect = "implicit_deny"
    elif allowed_by and not maybe_deny:
        effect = "allow"
    else:
        effect = "unknown"
    return Decision(effect, could_allow, allowed_by, denied_by, undecided, tuple(sorted(unknown)))


def statement_matches(
    statement: Statement, request: Request, context: Mapping[str, ContextValue]
) -> tuple[Tri, tuple[str, ...]]:
    """Whether one statement applies to a request (context keys lower-cased).

    Returns the three-valued answer and, when it is None, the keys it depends on.
    """
    if not _principal_applies(statement, request.principal):
        return False, ()
    if not _action_applies(statement, request.action):
        return False, ()
    results: list[Tri] = [_resource_applies(statement, request.resource, context)]
    unknown: list[str] = [] if results[0] is not None else ["(policy variable in Resource)"]
    for condition in statement.conditions:
        result = evaluate_condition(condition, context)
        results.append(result)
        if result is None:
            unknown.append(condition.key)
    outcome = all3(results)
    return outcome, tuple(unknown) if outcome is None else ()


def _action_applies(statement: Statement, action: str) -> bool:
    named = any(glob_match(a, action, ignore_case=True) for a in statement.actions)
    return not named if statement.not_action else named


def _resource_applies(statement: Statement, resource: str, context: Mapping[str, Any]) -> Tri:
    named = any3(glob_match(r, resource, context) for r in statement.resources)
    if statement.not_resource:
        return not3(named)
    return named


def _principal_applies(statement: Statement, principal: Principal) -> bool:
    if not statement.principals:
        return statement.not_principal  # "NotPrincipal": {} excludes nobody
    if statement.not_principal:
        return not _not_principal_excludes(statement.principals, principal)
    return any(_entry_matches(kind, value, principal) for kind, value in statement.principals)


def _is_everyone(kind: str, value: str) -> bool:
    return kind == "*" or (kind == "AWS" and value == "*")


def _entry_matches(kind: str, value: str, principal: Principal) -> bool:
    if _is_everyone(kind, value):
        return True
    if kind == "AWS" and principal.kind == "aws":
        return _aws_entry_matches(value, principal)
    if kind == "Service" and principal.kind == "service":
        return bool(glob_match(value, principal.value, ignore_case=True))
    if kind == "CanonicalUser" and principal.kind == "canonical_user":
        return bool(glob_match(value, principal.value))
    if kind == "Federated" and principal.kind == "federated":
        return bool(glob_match(value, principal.value))
    return False


def _is_account_entry(value: str) -> bool:
    return _ACCOUNT_ID.match(value) is not None or value.endswith(":root")


def _aws_entry_matches(value: str, principal: Principal) -> bool:
    account = principal.account_id or ""
    if _ACCOUNT_ID.match(value):
        return value == account
    parts = value.split(":", 5)
    if len(parts) != 6:
        return False
    if parts[5] == "root":
        return bool(glob_match(parts[4], account))
    if principal.is_account:
        return False
    if glob_match(value, principal.value):
        return True
    return _role_matches_session(parts, principal.value)


def _role_matches_session(role_parts: list[str], session_arn: str) -> bool:
    """Whether ``arn:aws:iam::A:role/[path/]R`` is the role of session ``...:assumed-role/R/S``."""
    session = session_arn.split(":", 5)
    if len(session) != 6 or not session[5].startswith("assumed-role/"):
        return False
    if not role_parts[5].startswith("role/"):
        return False
    role_name = role_parts[5].rsplit("/", 1)[-1]
    return role_parts[4] == session[4] and session[5].split("/")[1] == role_name


def _not_principal_excludes(entries: tuple[tuple[str, str], ...], principal: Principal) -> bool:
    """Whether NotPrincipal lists this principal (a user or role needs its account listed too)."""
    if any(_is_everyone(kind, value) for kind, value in entries):
        return True
    if principal.kind == "aws" and not principal.is_account:
        aws = [value for kind, value in entries if kind == "AWS"]
        specific = any(_aws_entry_matches(v, principal) for v in aws if not _is_account_entry(v))
        account = any(_aws_entry_matches(v, principal) for v in aws if _is_account_entry(v))
        return specific and account
    return any(_entry_matches(kind, value, principal) for kind, value in entries)


# --- shared helpers for the questions --------------------------------------------------------


@dataclass(frozen=True)
class PublicAccessBlock:
    """The four Public Access Block switches (already combined bucket OR account)."""

    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False


def effective_public_access_block(
    bucket_pab: Mapping[str, bool] | None, account_pab: Mapping[str, bool] | None
) -> PublicAccessBlock:
    """Combine bucket and account settings (AWS API key names); None means not configured."""
    bucket, account = bucket_pab or {}, account_pab or {}

    def either(name: str) -> bool:
        return bool(bucket.get(name)) or bool(account.get(name))

    return PublicAccessBlock(
        block_public_acls=either("BlockPublicAcls"),
        ignore_public_acls=either("IgnorePublicAcls"),
        block_public_policy=either("BlockPublicPolicy"),
        restrict_public_buckets=either("RestrictPublicBuckets"),
    )


def outsider_context(**extra: ContextValue) -> dict[str, ContextValue]:
    """A context for "any caller the policy does not name": every narrowing key is OUTSIDER."""
    context: dict[str, ContextValue] = {key.lower(): KeyState.OUTSIDER for key in NARROWING_KEYS}
    context.update({key.lower(): value for key, value in extra.items()})
    return context


def _bucket_arn(statements: Iterable[Statement], bucket_name: str | None, partition: str) -> str:
    if bucket_name:
        return f"arn:{partition}:s3:::{bucket_name}"
    for statement in statements:
        for resource in statement.resources:
            found = _S3_ARN.match(resource)
            if found:
                return f"arn:{found.group(1)}:s3:::{found.group(2)}"
    return f"arn:{partition}:s3:::trailcheck-unnamed-bucket"


def _object_witnesses(statements: Iterable[Statement], bucket_arn: str) -> tuple[str, ...]:
    """Concrete object ARNs to probe: a generic key plus one per object pattern in the policy."""
    witnesses = [f"{bucket_arn}/trailcheck-probe-object"]
    for statement in statements:
        for resource in statement.resources:
            if resource.startswith(f"{bucket_arn}/") and not has_variable(resource):
                concrete = resource.replace("*", "x").replace("?", "x")
                if concrete not in witnesses:
                    witnesses.append(concrete)
    return tuple(witnesses)


def _unique(refs: Iterable[StatementRef]) -> tuple[StatementRef, ...]:
    return tuple(sorted(set(refs), key=lambda r: r.index))


def _refs(refs: Iterable[StatementRef]) -> str:
    return ", ".join(str(r) for r in refs) or "none"


def _ordered(kinds: Iterable[AccessKind]) -> tuple[AccessKind, ...]:
    present = set(kinds)
    return tuple(k for k in ACCESS_KINDS if k in present)


# --- public access ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicAccessResult:
    """Whether the bucket is effectively public, what kinds of access, and through what."""

    is_public: bool
    kinds: tuple[AccessKind, ...]
    policy_public: bool
    policy_kinds: tuple[AccessKind, ...]
    policy_statements: tuple[StatementRef, ...]
    acl_public: bool
    acl_kinds: tuple[AccessKind, ...]
    acl_grants: tuple[str, ...]
    neutralised_by: tuple[str, ...]
    explanation: str


def public_access(
    policy: PolicyInput,
    acl_grants: Sequence[Mapping[str, Any]] = (),
    bucket_pab: Mapping[str, bool] | None = None,
    account_pab: Mapping[str, bool] | None = None,
    *,
    bucket_name: str | None = None,
    partition: str = "aws",
) -> PublicAccessResult:
    """Is the bucket effectively public through its policy or ACL, after Public Access Block?

    ``acl_grants`` is GetBucketAcl's ``Grants`` list. Bucket ACL grants only (object ACLs are
    not seen); a bucket ACL READ lets anyone list, not read, the objects.
    """
    statements = _statements(policy)
    pab = effective_public_access_block(bucket_pab, account_pab)
    policy_kinds, policy_refs = _public_policy(statements, bucket_name, partition)
    acl_kinds, acl_descriptions = _public_acl(acl_grants)
    policy_public, acl_public = bool(policy_refs), bool(acl_descriptions)

    neutralised: list[str] = []
    lines: list[str] = []
    kinds: list[AccessKind] = []
    if policy_public:
        lines.append(
            f"The bucket policy lets anyone {_kinds_text(policy_kinds)} "
            f"(statements {_refs(policy_refs)})."
        )
        if pab.restrict_public_buckets:
            neutralised.append("RestrictPublicBuckets")
            lines.append("RestrictPublicBuckets limits it to the owner account and AWS services.")
        else:
            kinds.extend(policy_kinds)
            if pab.block_public_policy:
                lines.append("BlockPublicPolicy only rejects new public policies; this one stays.")
    if acl_public:
        lines.append(f"The bucket ACL grants {', '.join(acl_descriptions)}.")
        if pab.ignore_public_acls:
            neutralised.append("IgnorePublicAcls")
            lines.append("IgnorePublicAcls makes S3 ignore these grants.")
        else:
            kinds.extend(acl_kinds)
            if pab.block_public_acls:
                lines.append("BlockPublicAcls only rejects new public ACLs; these stay.")
    is_public = (policy_public and not pab.restrict_public_buckets) or (
        acl_public and not pab.ignore_public_acls
    )
    if not lines:
        lines.append("Neither the bucket policy nor the bucket ACL grants access to the public.")
    lines.append("The bucket is public." if is_public else "The bucket is not public.")
    return PublicAccessResult(
        is_public=is_public,
        kinds=_ordered(kinds),
        policy_public=policy_public,
        policy_kinds=policy_kinds,
        policy_statements=policy_refs,
        acl_public=acl_public,
        acl_kinds=acl_kinds,
        acl_grants=acl_descriptions,
        neutralised_by=tuple(neutralised),
        explanation=" ".join(lines),
    )


def _kinds_text(kinds: Sequence[AccessKind]) -> str:
    return ", ".join(k.replace("_", " ") for k in kinds) if kinds else "act on the bucket"


def _public_policy(
    statements: tuple[Statement, ...], bucket_name: str | None, partition: str
) -> tuple[tuple[AccessKind, ...], tuple[StatementRef, ...]]:
    bucket_arn = _bucket_arn(statements, bucket_name, partition)
    objects = _object_witnesses(statements, bucket_arn)
    kinds: list[AccessKind] = []
    refs: list[StatementRef] = []
    context = outsider_context()
    for kind, action, on_object in _KIND_PROBES:
        for resource in objects if on_object else (bucket_arn,):
            decision = evaluate(
                statements, Request(Principal.anonymous(), action, resource, context)
            )
            if decision.could_allow:
                kinds.append(kind)
                refs.extend(decision.allow_statements)
    return _ordered(kinds), _unique(refs)


def _public_acl(
    grants: Sequence[Mapping[str, Any]],
) -> tuple[tuple[AccessKind, ...], tuple[str, ...]]:
    kinds: list[AccessKind] = []
    descriptions: list[str] = []
    for grant in grants:
        uri = str((grant.get("Grantee") or {}).get("URI", ""))
        if uri not in (_ALL_USERS, _AUTHENTICATED_USERS):
            continue
        permission = str(grant.get("Permission", ""))
        descriptions.append(f"{uri.rsplit('/', 1)[-1]}:{permission}")
        for name, granted in _ACL_KINDS:
            if name == permission:
                kinds.extend(granted)
    return _ordered(kinds), tuple(descriptions)


# --- TLS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsResult:
    """Whether every plain-HTTP request to the bucket and its objects is explicitly denied."""

    enforced: bool
    statements: tuple[StatementRef, ...]
    gaps: tuple[str, ...]
    tls_version_statements: tuple[StatementRef, ...]
    explanation: str


def denies_insecure_transport(
    policy: PolicyInput, bucket_name: str, *, partition: str = "aws"
) -> TlsResult:
    """Does the policy deny every principal every S3 action on bucket and objects without TLS?

    Probes anonymous, another account's role, a service principal and every principal the
    policy names (so NotPrincipal exemptions show), for named and unnamed actions, with
    ``aws:SecureTransport=false`` and every other key unknown: only a Deny that matches
    whatever the other keys are counts (``Bool`` or ``BoolIfExists`` both do).
    ``s3:TlsVersion`` denies are another control (minimum TLS version): a plain-HTTP request
    carries no TLS version, so ``NumericLessThan s3:TlsVersion`` does not deny it.
    """
    statements = _statements(policy)
    bucket_arn = f"arn:{partition}:s3:::{bucket_name}"
    object_arn = f"{bucket_arn}/trailcheck-probe-object"
    principals = [
        Principal.anonymous(),
        Principal.aws(f"arn:{partition}:iam::{_PROBE_ACCOUNT}:role/trailcheck-probe"),
        Principal.service(CLOUDTRAIL_SERVICE),
    ]
    for statement in statements:  # the principals a policy names are the ones it may exempt
        for kind, value in statement.principals:
            named = _candidate_principal(kind, value)
            if named is not None and named not in principals:
                principals.append(named)
    probes = (
        ("s3:GetObject", object_arn),
        ("s3:PutObject", object_arn),
        ("s3:DeleteObject", object_arn),
        (_UNNAMED_ACTION, object_arn),
        ("s3:ListBucket", bucket_arn),
        ("s3:PutBucketPolicy", bucket_arn),
        (_UNNAMED_ACTION, bucket_arn),
    )
    context = {"aws:SecureTransport": "false", "s3:TlsVersion": KeyState.ABSENT}
    gaps: list[str] = []
    refs: list[StatementRef] = []
    for principal in principals:
        for action, resource in probes:
            decision = evaluate(statements, Request(principal, action, resource, context))
            refs.extend(decision.denied_by)
            if decision.effect != "deny":
                who = principal.value or principal.kind
                gaps.append(f"{who} {action} on {resource} over HTTP is not denied")
    tls_version = _unique(
        s.ref
        for s in statements
        if s.ref.effect == "Deny" and any(c.key_lower == "s3:tlsversion" for c in s.conditions)
    )
    enforced = not gaps
    if enforced:
        explanation = f"Requests without TLS are denied by statements {_refs(_unique(refs))}."
    else:
        explanation = (
            "No Deny covers every principal, every S3 action, the bucket and its objects when "
            f"aws:SecureTransport is false ({len(gaps)} probes not denied, e.g. {gaps[0]})."
        )
    if tls_version:
        explanation += (
            f" Statements {_refs(tls_version)} set a minimum s3:TlsVersion, a separate control"
            " that does not deny plain HTTP."
        )
    return TlsResult(enforced, _unique(refs), tuple(gaps), tls_version, explanation)


# --- CloudTrail delivery ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    """Whether CloudTrail can write this trail's logs, and whether the grant is scoped.

    ``allowed`` is None when the answer depends on condition keys we cannot know
    (``unknown_keys``). ``open_to_any_trail`` is true when a trail of *another* account could
    write under the log prefix (confused deputy); ``scoped_by`` names the aws:Source* keys the
    allowing statements use.
    """

    allowed: bool | None
    get_bucket_acl: Decision
    put_object: tuple[tuple[str, Decision], ...]
    open_to_any_trail: bool
    scoped_by: tuple[str, ...]
    statements: tuple[StatementRef, ...]
    unknown_keys: tuple[str, ...]
    explanation: str


def cloudtrail_delivery(
    policy: PolicyInput,
    bucket_name: str,
    prefix: str | None,
    account_id: str,
    trail_arn: str,
    org_id: str | None = None,
    trail_region: str | None = None,
) -> DeliveryResult:
    """Can cloudtrail.amazonaws.com GetBucketAcl and PutObject this trail's log and digest files?

    The request context is what CloudTrail sends: aws:SourceArn (the trail), aws:SourceAccount,
    aws:SourceOrgID (when ``org_id`` is given), aws:SecureTransport=true, s3:x-amz-acl =
    bucket-owner-full-control; principal keys (PrincipalOrgID, PrincipalAccount, SourceIp,
    SourceVpce...) are absent for a service principal; any other key is unknown. For an
    organization trail (``org_id``) the keys are ``AWSLogs/<org_id>/<account>/...`` for this
    and another member account.
    """
    statements = _statements(policy)
    arn_parts = trail_arn.split(":")
    partition = arn_parts[1] if len(arn_parts) > 4 else "aws"
    region = trail_region or (arn_parts[3] if len(arn_parts) > 4 and arn_parts[3] else "us-east-1")
    bucket_arn = f"arn:{partition}:s3:::{bucket_name}"
    service = Principal.service(CLOUDTRAIL_SERVICE)

    context: dict[str, ContextValue] = {key: KeyState.ABSENT for key in _ABSENT_FOR_SERVICE}
    context.update(
        {
            "aws:SourceArn": trail_arn,
            "aws:SourceAccount": account_id,
            "aws:SecureTransport": "true",
            "aws:PrincipalIsAWSService": "true",
            "aws:PrincipalServiceName": CLOUDTRAIL_SERVICE,
            "s3:x-amz-acl": KeyState.ABSENT,
        }
    )
    if org_id:
        context["aws:SourceOrgID"] = org_id
    acl = evaluate(statements, Request(service, "s3:GetBucketAcl", bucket_arn, context))

    put_context = {**context, "s3:x-amz-acl": "bucket-owner-full-control"}
    writes = tuple(
        (
            key,
            evaluate(
                statements, Request(service, "s3:PutObject", f"{bucket_arn}/{key}", put_context)
            ),
        )
        for key in _log_keys(prefix, account_id, org_id, region, trail_arn)
    )
    outsider = {**put_context, **{k: KeyState.OUTSIDER for k in _DELIVERY_SCOPE_KEYS}}
    first_key = writes[0][0]
    foreign = evaluate(
        statements, Request(service, "s3:PutObject", f"{bucket_arn}/{first_key}", outsider)
    )

    decisions = [acl, *(d for _, d in writes)]
    allowed: bool | None
    if all(d.allowed for d in decisions):
        allowed = True
    elif any(not d.could_allow for d in decisions):
        allowed = False
    else:
        allowed = None
    allow_refs = _unique(r for d in decisions for r in d.allow_statements)
    put_refs = {r.index for _, d in writes for r in d.allow_statements}
    scoped_by = tuple(
        key
        for key in _DELIVERY_SCOPE_KEYS
        if any(
            c.key_lower == key.lower() and not c.if_exists
            for s in statements
            if s.ref.index in put_refs
            for c in s.conditions
        )
    )
    unknown = tuple(sorted({k for d in decisions for k in d.unknown_keys}))
    explanation = _delivery_text(acl, writes, allowed, foreign.could_allow, scoped_by, unknown)
    return DeliveryResult(
        allowed=allowed,
        get_bucket_acl=acl,
        put_object=writes,
        open_to_any_trail=foreign.could_allow,
        scoped_by=scoped_by,
        statements=allow_refs,
        unknown_keys=unknown,
        explanation=explanation,
    )


def _log_keys(
    prefix: str | None, account_id: str, org_id: str | None, region: str, trail_arn: str
) -> tuple[str, ...]:
    """Sample object keys of a log file and a digest file, as CloudTrail names them."""
    head = f"{prefix.strip('/')}/" if prefix and prefix.strip("/") else ""
    name = trail_arn.rsplit("/", 1)[-1]
    stamp = "20240101T0000Z"
    accounts = (account_id,) if not org_id else (account_id, _other_member(account_id))
    keys: list[str] = []
    for account in accounts:
        root = f"{head}AWSLogs/{org_id}/{account}" if org_id else f"{head}AWSLogs/{account}"
        keys.append(
            f"{root}/CloudTrail/{region}/2024/01/01/{account}_CloudTrail_{region}_{stamp}_x.json.gz"
        )
        keys.append(
            f"{root}/CloudTrail-Digest/{region}/2024/01/01/"
            f"{account}_CloudTrail-Digest_{region}_{name}_{region}_20240101T000000Z.json.gz"
        )
    return tuple(keys)


def _other_member(account_id: str) -> str:
    return "999999999999" if account_id != "999999999999" else "888888888888"


def _delivery_text(
    acl: Decision,
    writes: tuple[tuple[str, Decision], ...],
    allowed: bool | None,
    open_to_any: bool,
    scoped_by: tuple[str, ...],
    unknown: tuple[str, ...],
) -> str:
    lines: list[str] = []
    if allowed is True:
        lines.append("CloudTrail can read the bucket ACL and write log and digest files.")
    else:
        if not acl.allowed:
            lines.append(f"s3:GetBucketAcl for CloudTrail: {acl.effect}.")
        for key, decision in writes:
            if not decision.allowed:
                lines.append(f"s3:PutObject of {key}: {decision.effect}.")
        if allowed is None:
            lines.append(
                f"The answer depends on condition keys we cannot know: {', '.join(unknown)}."
            )
    if open_to_any:
        lines.append(
            "The grant is not scoped to this trail: a trail in any account could write here "
            "(a trail's S3 key prefix can reproduce this path); add an aws:SourceArn or "
            "aws:SourceAccount condition."
        )
    elif scoped_by:
        lines.append(f"The grant is scoped by {', '.join(scoped_by)}.")
    return " ".join(lines)


# --- readers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderGrant:
    """A principal outside the owner account that can (or could) s3:GetObject log objects."""

    principal: str  # as in the policy: "*", an account id, an ARN, a service name...
    principal_type: str  # "*", "AWS", "Service", "CanonicalUser", "Federated", "NotPrincipal"
    account_id: str | None
    wildcard: bool
    public: bool
    conditional: bool  # allowed only for some values of condition keys (see condition_keys)
    condition_keys: tuple[str, ...]
    statements: tuple[StatementRef, ...]
    neutralised_by_pab: bool
    explanation: str


def readers(
    policy: PolicyInput,
    bucket_name: str,
    owner_account: str,
    *,
    bucket_pab: Mapping[str, bool] | None = None,
    account_pab: Mapping[str, bool] | None = None,
    partition: str = "aws",
) -> list[ReaderGrant]:
    """Every principal outside the owner account the policy lets s3:GetObject the bucket's logs.

    Candidates come from the Allow statements' principals; each is then evaluated (so a Deny
    removes it). Under RestrictPublicBuckets a public policy grants nothing cross-account except
    to AWS services: such grants are kept with ``neutralised_by_pab``.
    """
    statements = _statements(policy)
    bucket_arn = f"arn:{partition}:s3:::{bucket_name}"
    objects = (
        f"{bucket_arn}/AWSLogs/{owner_account}/CloudTrail/us-east-1/2024/01/01/"
        f"{owner_account}_CloudTrail_us-east-1_20240101T0000Z_x.json.gz",
        *_object_witnesses(statements, bucket_arn),
    )
    pab = effective_public_access_block(bucket_pab, account_pab)
    restricted = (
        pab.restrict_public_buckets
        and public_access(statements, bucket_name=bucket_name, partition=partition).policy_public
    )
    grants: list[ReaderGrant] = []
    seen: set[tuple[str, str]] = set()
    for kind, value, principal in _reader_candidates(statements, owner_account):
        if (kind, value) in seen:
            continue
        seen.add((kind, value))
        grant = _reader_grant(statements, objects, kind, value, principal, restricted)
        if grant is not None:
            grants.append(grant)
    return sorted(grants, key=lambda g: (g.principal_type, g.principal))


def _reader_candidates(
    statements: tuple[Statement, ...], owner_account: str
) -> list[tuple[str, str, Principal]]:
    candidates: list[tuple[str, str, Principal]] = []
    for statement in statements:
        if statement.ref.effect != "Allow":
            continue
        if statement.not_principal:
            candidates.append(("NotPrincipal", "*", Principal.anonymous()))
            continue
        for kind, value in statement.principals:
            principal = _candidate_principal(kind, value)
            if principal is None or principal.account_id == owner_account:
                continue
            candidates.append((kind, value, principal))
    return candidates


def _candidate_principal(kind: str, value: str) -> Principal | None:
    if _is_everyone(kind, value) or "*" in value or "?" in value:
        return Principal.anonymous()
    if kind == "AWS":
        return Principal.aws(value)
    if kind == "Service":
        return Principal.service(value)
    if kind == "CanonicalUser":
        return Principal("canonical_user", value)
    if kind == "Federated":
        return Principal("federated", value)
    return None


def _reader_grant(
    statements: tuple[Statement, ...],
    objects: tuple[str, ...],
    kind: str,
    value: str,
    principal: Principal,
    restricted: bool,
) -> ReaderGrant | None:
    wildcard = principal.kind == "anonymous"
    decisions = [
        evaluate(statements, Request(principal, "s3:GetObject", resource)) for resource in objects
    ]
    possible = [d for d in decisions if d.could_allow]
    if not possible:
        return None
    public = wildcard and any(
        evaluate(statements, Request(principal, "s3:GetObject", r, outsider_context())).could_allow
        for r in objects
    )
    conditional = not any(d.allowed for d in possible)
    keys = tuple(sorted({k for d in possible for k in d.unknown_keys}))
    refs = _unique(r for d in possible for r in d.allow_statements)
    neutralised = restricted and principal.kind != "service"
    who = "anyone" if public else ("any principal meeting the conditions" if wildcard else value)
    text = f"{who} can s3:GetObject log objects (statements {_refs(refs)})"
    if conditional:
        text += f" only when its conditions on {', '.join(keys)} hold"
    if neutralised:
        text += "; RestrictPublicBuckets blocks this cross-account access"
    return ReaderGrant(
        principal=value,
        principal_type=kind,
        account_id=principal.account_id,
        wildcard=wildcard,
        public=public,
        conditional=conditional,
        condition_keys=keys,
        statements=refs,
        neutralised_by_pab=neutralised,
        explanation=text + ".",
    )
