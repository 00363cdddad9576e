"""The offline IAM evaluator (rules/_iam_eval.py) against a brute-force reference.

The reference below is written from AWS's documented evaluation logic, independently of the
evaluator: plain regular expressions for globs, dictionaries for policies, no shared helper.
Hypothesis generates policy sets (identity policies, a permissions boundary, SCP levels, RCP
levels, a resource policy) and a request; both must agree on allow/deny. Conditions are on
aws:PrincipalArn only, which the request context always carries, so every answer is decided.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trailcheck.rules._iam_eval import (
    Doc,
    OrgControls,
    Subject,
    evaluate_access,
    org_allows,
    principal_context,
)
from trailcheck.rules._policy import Principal, Request

A, B = "111111111111", "222222222222"
PRINCIPALS = [
    f"arn:aws:iam::{A}:role/Admin",
    f"arn:aws:iam::{A}:role/App",
    f"arn:aws:iam::{A}:user/alice",
    f"arn:aws:iam::{B}:role/Admin",
    f"arn:aws:iam::{B}:user/bob",
]
RESOURCES = {  # resource ARN → (its account, is a KMS key)
    f"arn:aws:cloudtrail:us-east-1:{A}:trail/org": (A, False),
    "arn:aws:s3:::logs/AWSLogs/x.json.gz": (A, False),
    "arn:aws:s3:::logs": (A, False),
    f"arn:aws:kms:us-east-1:{A}:key/k1": (A, True),
}
ACTIONS = [
    "cloudtrail:StopLogging",
    "s3:DeleteObject",
    "s3:PutBucketPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:Encrypt",
]
ACTION_PATTERNS = [
    "*",
    "cloudtrail:*",
    "s3:Delete*",
    "s3:Get*",
    "kms:*",
    "KMS:schedule*",
    "s3:PutBucket?olicy",
    *ACTIONS,
]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::logs/*",
    "arn:aws:s3:::logs",
    "arn:aws:kms:*",
    f"arn:aws:cloudtrail:*:{A}:trail/*",
    *RESOURCES,
]
ARN_PATTERNS = [
    "arn:aws:iam::*:role/*Admin*",
    f"arn:aws:iam::{A}:*",
    "arn:aws:iam::*:user/*",
    *PRINCIPALS,
]
OPERATORS = [
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "ArnLike",
    "ArnNotLike",
]


# -- the reference ------------------------------------------------------------------------------


def ref_glob(pattern: str, value: str, *, fold: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if fold else 0) is not None


def ref_listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def ref_condition(condition: dict[str, Any] | None, arn: str) -> bool:
    for operator, block in (condition or {}).items():
        for _key, values in block.items():  # the key is always aws:PrincipalArn
            values = ref_listed(values)
            if operator == "StringEquals":
                ok = arn in values
            elif operator == "StringNotEquals":
                ok = arn not in values
            elif operator in ("StringLike", "ArnLike"):
                ok = any(ref_glob(v, arn) for v in values)
            else:  # StringNotLike, ArnNotLike
                ok = not any(ref_glob(v, arn) for v in values)
            if not ok:
                return False
    return True


def ref_names(statement: dict[str, Any], arn: str) -> str | None:
    """How a resource-policy statement names the caller: "direct", "account", or None."""
    principal = statement.get("Principal")
    if principal is None:
        return "direct"  # identity policy, boundary, SCP: applies to its holder
    if principal == "*":
        return "direct"
    account = arn.split(":")[4]
    kinds = set()
    for value in ref_listed(principal.get("AWS", [])):
        if value == "*" or value == arn:
            kinds.add("direct")
        elif value in (account, f"arn:aws:iam::{account}:root"):
            kinds.add("account")
    return "direct" if "direct" in kinds else ("account" if kinds else None)


def ref_applies(statement: dict[str, Any], action: str, resource: str, arn: str) -> bool:
    if ref_names(statement, arn) is None:
        return False
    named = any(
        ref_glob(p, action, fold=True)
        for p in ref_listed(statement.get("Action", statement.get("NotAction")))
    )
    if ("NotAction" in statement) == named:
        return False
    hit = any(
        ref_glob(p, resource)
        for p in ref_listed(statement.get("Resource", statement.get("NotResource")))
    )
    if ("NotResource" in statement) == hit:
        return False
    return ref_condition(statement.get("Condition"), arn)


def ref_any(
    policies: list[dict[str, Any]],
    effect: str,
    action: str,
    resource: str,
    arn: str,
    naming: str | None = None,
) -> bool:
    return any(
        s["Effect"] == effect
        and ref_applies(s, action, resource, arn)
        and (naming is None or ref_names(s, arn) == naming)
        for p in policies
        for s in p["Statement"]
    )


def reference(case: dict[str, Any]) -> bool:
    arn, action, resource = case["principal"], case["action"], case["resource"]
    resource_account, kms = RESOURCES[resource]
    subject_account = arn.split(":")[4]
    scp = case["scp"]
    # RCPs bind only the actions of S3, STS, KMS, SQS and Secrets Manager
    rcp = (
        case["rcp"]
        if action.split(":")[0] in ("s3", "sts", "kms", "sqs", "secretsmanager")
        else None
    )
    everything = (
        case["identity"]
        + (case["boundary"] or [])
        + [p for level in scp or [] for p in level]
        + [p for level in rcp or [] for p in level]
        + (case["resource_policy"] or [])
    )
    if ref_any(everything, "Deny", action, resource, arn):
        return False
    for levels in (scp, rcp):
        for level in levels or []:
            if not ref_any(level, "Allow", action, resource, arn):
                return False
    identity = ref_any(case["identity"], "Allow", action, resource, arn)
    boundary = case["boundary"] is None or ref_any(case["boundary"], "Allow", action, resource, arn)
    policy = case["resource_policy"] or []
    direct = ref_any(policy, "Allow", action, resource, arn, "direct")
    by_account = ref_any(policy, "Allow", action, resource, arn, "account")
    cross = subject_account != resource_account
    is_role = ":role/" in arn
    if (
        kms
        and cross
        and action in ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy")
    ):
        return False
    if kms and not cross:  # only the key policy can open a key, IAM only through it
        return (direct and (boundary or not is_role)) or (by_account and identity and boundary)
    if cross:
        return (direct or by_account) and identity and boundary
    return (identity and boundary) or (direct and (boundary or not is_role))


# -- generated cases ----------------------------------------------------------------------------


def statements(with_principal: bool) -> st.SearchStrategy[dict[str, Any]]:
    principal = st.one_of(
        st.just("*"),
        st.sampled_from([A, B]).map(lambda a: {"AWS": a}),
        st.sampled_from([A, B]).map(lambda a: {"AWS": f"arn:aws:iam::{a}:root"}),
        st.lists(st.sampled_from(PRINCIPALS), min_size=1, max_size=2).map(lambda v: {"AWS": v}),
    )
    condition = st.one_of(
        st.none(),
        st.builds(
            lambda op, values: {op: {"aws:PrincipalArn": values}},
            st.sampled_from(OPERATORS),
            st.lists(st.sampled_from(ARN_PATTERNS), min_size=1, max_size=2),
        ),
    )

    def build(effect, not_action, actions, not_resource, resources, cond, who) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "Effect": effect,
            "NotAction" if not_action else "Action": actions,
            "NotResource" if not_resource else "Resource": resources,
        }
        if cond is not None:
            statement["Condition"] = cond
        if who is not None:
            statement["Principal"] = who
        return statement

    return st.builds(
        build,
        st.sampled_from(["Allow", "Allow", "Deny"]),
        st.booleans(),
        st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=2),
        st.sampled_from([False, False, False, True]),
        st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2),
        condition,
        principal if with_principal else st.none(),
    )


def policies(with_principal: bool = False, min_size: int = 0) -> st.SearchStrategy[list[Any]]:
    return st.lists(
        st.lists(statements(with_principal), min_size=1, max_size=3).map(
            lambda s: {"Version": "2012-10-17", "Statement": s}
        ),
        min_size=min_size,
        max_size=2,
    )


def rcp_policies() -> st.SearchStrategy[list[Any]]:
    def everyone(policy: dict[str, Any]) -> dict[str, Any]:
        return {**policy, "Statement": [{**s, "Principal": "*"} for s in policy["Statement"]]}

    return policies(min_size=1).map(lambda ps: [everyone(p) for p in ps])


CASES = st.fixed_dictionaries(
    {
        "principal": st.sampled_from(PRINCIPALS),
        "action": st.sampled_from(ACTIONS),
        "resource": st.sampled_from(list(RESOURCES)),
        "identity": policies(),
        "boundary": st.one_of(st.none(), policies(min_size=1)),
        "scp": st.one_of(st.none(), st.lists(policies(min_size=1), min_size=1, max_size=3)),
        "rcp": st.one_of(st.none(), st.lists(rcp_policies(), min_size=1, max_size=2)),
        "resource_policy": st.one_of(st.none(), policies(with_principal=True, min_size=1)),
    }
)


def run_evaluator(case: dict[str, Any]) -> Any:
    arn = case["principal"]
    resource_account, kms = RESOURCES[case["resource"]]

    def docs(name: str, items: list[Any], attached: bool = True) -> tuple[Doc, ...]:
        make = Doc.attached if attached else Doc.resource
        return tuple(make(f"{name}{i}", p) for i, p in enumerate(items))

    subject = Subject(
        arn,
        "role" if ":role/" in arn else "user",
        docs("identity", case["identity"]),
        docs("boundary", case["boundary"]) if case["boundary"] is not None else None,
    )
    org = OrgControls(
        tuple((f"level{i}", docs("scp", level)) for i, level in enumerate(case["scp"]))
        if case["scp"] is not None
        else None,
        tuple((f"level{i}", docs("rcp", level)) for i, level in enumerate(case["rcp"]))
        if case["rcp"] is not None
        else None,
    )
    request = Request(Principal.aws(arn), case["action"], case["resource"], principal_context(arn))
    return evaluate_access(
        request,
        subject,
        resource_account=resource_account,
        resource_policy=docs("resource", case["resource_policy"], attached=False)
        if case["resource_policy"] is not None
        else None,
        org=org,
        kms_key=kms,
    )


@settings(max_examples=600, deadline=None)
@given(CASES)
def test_evaluator_agrees_with_the_brute_force_reference(case: dict[str, Any]) -> None:
    verdict = run_evaluator(case)
    assert verdict.allowed is reference(case), case
    if verdict.allowed:
        assert verdict.granted_by  # an allow always names the statements it rests on
    else:
        assert verdict.blocked_by or verdict.denied_by


def test_management_account_is_bound_by_no_scp() -> None:
    """An SCP denying everything binds members; the management account passes scp_levels=None."""
    deny_all = Doc.attached(
        "SCP deny", {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    )
    arn = f"arn:aws:iam::{A}:role/Admin"
    request = Request(
        Principal.aws(arn),
        "cloudtrail:StopLogging",
        f"arn:aws:cloudtrail:us-east-1:{A}:trail/t",
        principal_context(arn),
    )
    assert org_allows(request, OrgControls(scp_levels=(("r-root", (deny_all,)),))).allowed is False
    assert org_allows(request, OrgControls(scp_levels=None)).allowed is True


def test_unknown_condition_keys_make_the_answer_unknown() -> None:
    arn = f"arn:aws:iam::{A}:role/Admin"
    mfa = Doc.attached(
        "identity",
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                }
            ]
        },
    )
    request = Request(
        Principal.aws(arn),
        "cloudtrail:StopLogging",
        f"arn:aws:cloudtrail:us-east-1:{A}:trail/t",
        principal_context(arn),
    )
    verdict = evaluate_access(request, Subject(arn, "role", (mfa,)), resource_account=A)
    assert verdict.allowed is None
    assert verdict.unknown_keys == ("aws:MultiFactorAuthPresent",)


def _policy(*statements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


def _allow(action: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": "*", **extra}


def _deny(action: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": "*", **extra}


def test_evaluator_agrees_with_the_reference_on_every_small_case() -> None:
    """Exhaustive over a small universe (45,000 cases): each policy kind absent, granting the
    action, granting something else or denying it; resource-policy grants to the principal
    itself, to its account, to another account. Reaches the rare combinations random policies
    seldom meet (a resource-policy grant to a bounded role, a key-policy grant across accounts)."""
    other = "sns:Publish"
    checked = 0
    for arn in PRINCIPALS:
        account = arn.split(":")[4]
        stranger = B if account == A else A
        for action in ACTIONS:
            identities = [
                [],
                _policy(_allow(action)),
                _policy(_allow("*")),
                _policy(_allow(other)),
                _policy(_allow("*"), _deny(action)),
            ]
            boundaries = [None, _policy(_allow(action)), _policy(_allow(other))]
            resource_policies = [
                None,
                _policy(_allow(action, Principal={"AWS": arn})),
                _policy(_allow(action, Principal={"AWS": f"arn:aws:iam::{account}:root"})),
                _policy(_allow(action, Principal={"AWS": stranger})),
                _policy(_allow("*", Principal="*"), _deny(action, Principal={"AWS": arn})),
            ]
            rcp_allow = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
            rcp_deny = {"Effect": "Deny", "Principal": "*", "Action": action, "Resource": "*"}
            organizations = [  # (SCP levels, RCP levels)
                (None, None),
                ([_policy(_allow("*"))], None),
                ([_policy(_allow("*")), _policy(_deny(action))], None),
                ([_policy(_allow("*")), _policy(_allow(other))], None),
                (None, [_policy(rcp_allow), _policy(rcp_allow, rcp_deny)]),
                (None, [_policy({**rcp_allow, "Action": other})]),
            ]
            for resource in RESOURCES:
                for identity in identities:
                    for boundary in boundaries:
                        for resource_policy in resource_policies:
                            for scp, rcp in organizations:
                                case = {
                                    "principal": arn,
                                    "action": action,
                                    "resource": resource,
                                    "identity": identity,
                                    "boundary": boundary,
                                    "scp": scp,
                                    "rcp": rcp,
                                    "resource_policy": resource_policy,
                                }
                                assert run_evaluator(case).allowed is reference(case), case
                                checked += 1
    assert checked == 45_000
