"""Tests for the bucket-policy evaluator: real policy shapes, each with its exact outcome.

The case tables keep one case per line (``fmt: off``), so they read as tables.
"""
# ruff: noqa: E501

from __future__ import annotations

import json
from typing import Any

import pytest

from trailcheck.rules._policy import (
    PolicyError,
    Principal,
    Request,
    cloudtrail_delivery,
    denies_insecure_transport,
    evaluate,
    parse_policy,
    public_access,
    readers,
)
from trailcheck.rules._policy_conditions import KeyState, evaluate_condition, parse_conditions

OWNER = "111122223333"
OTHER = "444455556666"
BUCKET = "trail-logs"
B_ARN = f"arn:aws:s3:::{BUCKET}"
OBJECTS = f"{B_ARN}/*"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{OWNER}:trail/main"
ORG = "o-exampleorgid"
LOG_KEY = f"{B_ARN}/AWSLogs/{OWNER}/CloudTrail/us-east-1/2024/01/01/f.json.gz"
AUDITOR = f"arn:aws:iam::{OTHER}:role/Auditor"
ROLE_SESSION = f"arn:aws:sts::{OTHER}:assumed-role/Auditor/alice"
OWNER_ROOT = f"arn:aws:iam::{OWNER}:root"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
ANON = Principal.anonymous()
ABSENT, OUTSIDER = KeyState.ABSENT, KeyState.OUTSIDER


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def deny(principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Deny",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def without(statement: dict[str, Any], element: str, **extra: Any) -> dict[str, Any]:
    """A copy of a statement with one element dropped (to swap Principal for NotPrincipal...)."""
    return {**{k: v for k, v in statement.items() if k != element}, **extra}


# --- real policy shapes -----------------------------------------------------------------------

CT = {"Service": "cloudtrail.amazonaws.com"}
SOURCE_ARN = {"aws:SourceArn": TRAIL}
ACL_CHECK = allow(CT, "s3:GetBucketAcl", B_ARN, Sid="AWSCloudTrailAclCheck")
ACL_CHECK_SCOPED = {**ACL_CHECK, "Condition": {"StringEquals": SOURCE_ARN}}
WRITE = allow(
    CT,
    "s3:PutObject",
    f"{B_ARN}/AWSLogs/{OWNER}/*",
    Sid="AWSCloudTrailWrite",
    Condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
)


def write_with(**condition: dict[str, Any]) -> dict[str, Any]:
    """The CloudTrail write statement with extra conditions (merged per operator)."""
    merged: dict[str, dict[str, Any]] = {
        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}
    }
    for operator, keys in condition.items():
        merged[operator] = {**merged.get(operator, {}), **keys}
    return {**WRITE, "Condition": merged}


# AWS docs, "Amazon S3 bucket policy for CloudTrail", with the aws:SourceArn condition.
DOCS_CT = policy(ACL_CHECK_SCOPED, write_with(StringEquals=SOURCE_ARN))
# The legacy policy: no aws:Source* condition at all.
LEGACY_CT = policy(ACL_CHECK, WRITE)
# AWS docs, organization trail bucket policy.
ORG_CT = policy(
    ACL_CHECK_SCOPED,
    write_with(StringEquals=SOURCE_ARN),
    {
        **write_with(StringEquals=SOURCE_ARN),
        "Sid": "AWSCloudTrailOrganizationWrite",
        "Resource": f"{B_ARN}/AWSLogs/{ORG}/*",
    },
)
DENY_HTTP = deny(
    "*",
    "s3:*",
    [B_ARN, OBJECTS],
    Sid="DenyInsecureTransport",
    Condition={"Bool": {"aws:SecureTransport": "false"}},
)
TLS_VERSION = deny(
    "*", "s3:*", [B_ARN, OBJECTS], Condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}}
)
PUBLIC_READ = allow("*", "s3:GetObject", OBJECTS, Sid="PublicRead")


def public_read_when(**condition: dict[str, Any]) -> dict[str, Any]:
    return policy({**PUBLIC_READ, "Condition": condition})


def http_deny(**changes: Any) -> dict[str, Any]:
    return policy({**DENY_HTTP, **changes})


def deny_all_when(**condition: dict[str, Any]) -> dict[str, Any]:
    return deny("*", "s3:*", "*", Condition=condition)


# --- conditions -------------------------------------------------------------------------------

# fmt: off
CONDITION_CASES = [
    # (operator, key, policy values, context, expected)
    ("StringEquals", "aws:SourceAccount", [OWNER], {"aws:sourceaccount": OWNER}, True),
    ("StringEquals", "aws:SourceAccount", [OTHER], {"aws:sourceaccount": OWNER}, False),
    ("StringEquals", "aws:SourceAccount", [OTHER, OWNER], {"aws:sourceaccount": OWNER}, True),
    ("StringEquals", "s3:x-amz-acl", ["Bucket-Owner-Full-Control"], {"s3:x-amz-acl": "bucket-owner-full-control"}, False),
    ("StringEqualsIgnoreCase", "s3:x-amz-acl", ["BUCKET-owner-full-control"], {"s3:x-amz-acl": "bucket-owner-full-control"}, True),
    ("StringNotEqualsIgnoreCase", "s3:x-amz-acl", ["PRIVATE"], {"s3:x-amz-acl": "private"}, False),
    ("StringEquals", "aws:SourceAccount", ["1111*"], {"aws:sourceaccount": OWNER}, False),
    ("StringLike", "aws:SourceAccount", ["1111*"], {"aws:sourceaccount": OWNER}, True),
    ("StringLike", "aws:UserAgent", ["[a]?"], {"aws:useragent": "[a]b"}, True),
    ("StringNotEquals", "aws:SourceAccount", [OWNER], {"aws:sourceaccount": OTHER}, True),
    ("StringNotLike", "aws:SourceAccount", ["1111*"], {"aws:sourceaccount": OWNER}, False),
    # a key missing from the request
    ("StringEquals", "aws:PrincipalOrgID", [ORG], {"aws:principalorgid": ABSENT}, False),
    ("StringNotEquals", "aws:PrincipalOrgID", [ORG], {"aws:principalorgid": ABSENT}, True),
    ("StringEqualsIfExists", "aws:PrincipalOrgID", [ORG], {"aws:principalorgid": ABSENT}, True),
    ("StringEqualsIfExists", "aws:PrincipalOrgID", [ORG], {"aws:principalorgid": "o-other"}, False),
    ("Bool", "aws:SecureTransport", ["false"], {"aws:securetransport": ABSENT}, False),
    ("BoolIfExists", "aws:SecureTransport", ["false"], {"aws:securetransport": ABSENT}, True),
    ("ArnNotEquals", "aws:SourceArn", [TRAIL], {"aws:sourcearn": ABSENT}, True),
    # set operators
    ("ForAnyValue:StringEquals", "aws:PrincipalOrgPaths", ["o-a/r-b/"], {"aws:principalorgpaths": ABSENT}, False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {"aws:tagkeys": ABSENT}, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {"aws:tagkeys": []}, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:tagkeys": ["a", "b"]}, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {"aws:tagkeys": ["a", "c"]}, False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {"aws:tagkeys": ["c", "a"]}, True),
    ("ForAnyValue:StringLike", "aws:TagKeys", ["x*"], {"aws:tagkeys": ["c", "a"]}, False),
    # ARN, Bool, IP, Null, numeric
    ("ArnLike", "aws:SourceArn", [f"arn:aws:cloudtrail:*:{OWNER}:trail/*"], {"aws:sourcearn": TRAIL}, True),
    ("ArnLike", "aws:SourceArn", [f"arn:aws:cloudtrail:*:{OTHER}:trail/*"], {"aws:sourcearn": TRAIL}, False),
    ("ArnEquals", "aws:SourceArn", [TRAIL], {"aws:sourcearn": TRAIL}, True),
    ("ArnNotLike", "aws:SourceArn", [f"arn:aws:cloudtrail:*:{OTHER}:*"], {"aws:sourcearn": TRAIL}, True),
    ("Bool", "aws:SecureTransport", ["false"], {"aws:securetransport": "false"}, True),
    ("Bool", "aws:SecureTransport", ["False"], {"aws:securetransport": "false"}, True),
    ("Bool", "aws:SecureTransport", [False], {"aws:securetransport": "true"}, False),
    ("IpAddress", "aws:SourceIp", ["203.0.113.0/24"], {"aws:sourceip": "203.0.113.9"}, True),
    ("IpAddress", "aws:SourceIp", ["203.0.113.0/24"], {"aws:sourceip": "198.51.100.1"}, False),
    ("IpAddress", "aws:SourceIp", ["203.0.113.0/24"], {"aws:sourceip": "2001:db8::1"}, False),
    ("IpAddress", "aws:SourceIp", ["not-a-cidr"], {"aws:sourceip": "203.0.113.9"}, None),
    ("NotIpAddress", "aws:SourceIp", ["203.0.113.0/24"], {"aws:sourceip": "198.51.100.1"}, True),
    ("NotIpAddress", "aws:SourceIp", ["203.0.113.0/24"], {"aws:sourceip": ABSENT}, True),
    ("Null", "aws:PrincipalOrgID", ["true"], {"aws:principalorgid": ABSENT}, True),
    ("Null", "aws:PrincipalOrgID", ["false"], {"aws:principalorgid": ABSENT}, False),
    ("Null", "aws:PrincipalOrgID", ["true"], {"aws:principalorgid": ORG}, False),
    ("Null", "aws:PrincipalOrgID", ["false"], {"aws:principalorgid": ORG}, True),
    ("NumericLessThan", "s3:TlsVersion", ["1.2"], {"s3:tlsversion": "1.1"}, True),
    ("NumericLessThan", "s3:TlsVersion", ["1.2"], {"s3:tlsversion": ABSENT}, False),
    ("NumericGreaterThanEquals", "s3:max-keys", ["10"], {"s3:max-keys": "10"}, True),
    ("NumericEquals", "s3:max-keys", ["ten"], {"s3:max-keys": "10"}, None),
    ("DateGreaterThan", "aws:CurrentTime", ["2020-01-01T00:00:00Z"], {"aws:currenttime": "x"}, None),
    ("StringEquals", "aws:SourceAccount", [OWNER], {}, None),
    # policy variables in condition values
    ("StringEquals", "s3:prefix", ["home/${aws:username}/"], {"s3:prefix": "home/ana/", "aws:username": "ana"}, True),
    ("StringEquals", "s3:prefix", ["home/${aws:username}/"], {"s3:prefix": "home/ana/"}, None),
    ("StringEquals", "s3:prefix", ["home/${aws:username, 'x'}/"], {"s3:prefix": "home/x/", "aws:username": ABSENT}, True),
    ("StringLike", "s3:prefix", ["a${*}"], {"s3:prefix": "a*"}, True),
    ("StringLike", "s3:prefix", ["a${*}"], {"s3:prefix": "ab"}, False),
    # OUTSIDER: a caller the policy does not name (key absent, or any unpinned value)
    ("StringEquals", "aws:PrincipalOrgID", [ORG], {"aws:principalorgid": OUTSIDER}, False),
    ("StringLike", "aws:PrincipalOrgID", ["o-*"], {"aws:principalorgid": OUTSIDER}, None),
    ("StringNotEquals", "aws:PrincipalOrgID", [ORG], {"aws:principalorgid": OUTSIDER}, True),
    ("StringEqualsIfExists", "aws:SourceVpce", ["vpce-1"], {"aws:sourcevpce": OUTSIDER}, None),
    ("ArnLike", "aws:PrincipalArn", [f"arn:aws:iam::{OTHER}:role/*"], {"aws:principalarn": OUTSIDER}, False),
    ("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::*:role/x"], {"aws:principalarn": OUTSIDER}, None),
    ("StringLike", "aws:userid", ["AROAEXAMPLE:*"], {"aws:userid": OUTSIDER}, False),
    ("StringLike", "aws:PrincipalOrgPaths", [f"{ORG}/r-ab12/*"], {"aws:principalorgpaths": OUTSIDER}, False),
    ("IpAddress", "aws:SourceIp", ["203.0.113.0/24"], {"aws:sourceip": OUTSIDER}, False),
    ("IpAddress", "aws:SourceIp", ["0.0.0.0/0"], {"aws:sourceip": OUTSIDER}, None),
    ("IpAddress", "aws:SourceIp", ["not-a-cidr"], {"aws:sourceip": OUTSIDER}, None),
    ("NotIpAddress", "aws:SourceIp", ["203.0.113.0/24"], {"aws:sourceip": OUTSIDER}, True),
    ("Null", "aws:SourceIp", ["true"], {"aws:sourceip": OUTSIDER}, False),
    ("Null", "aws:PrincipalOrgID", ["false"], {"aws:principalorgid": OUTSIDER}, None),
    ("Bool", "aws:PrincipalIsAWSService", ["false"], {"aws:principalisawsservice": OUTSIDER}, None),
    ("StringEquals", "aws:SourceAccount", ["${aws:PrincipalAccount}"], {"aws:sourceaccount": OUTSIDER}, None),
]
# fmt: on


@pytest.mark.parametrize(("operator", "key", "values", "context", "expected"), CONDITION_CASES)
def test_condition(
    operator: str, key: str, values: list[Any], context: dict[str, Any], expected: bool | None
) -> None:
    (condition,) = parse_conditions({operator: {key: values}})
    assert evaluate_condition(condition, context) is expected


# --- evaluate: the core -----------------------------------------------------------------------

NOT_ACTION_DELETE = {
    "Effect": "Allow",
    "Principal": "*",
    "NotAction": "s3:Delete*",
    "Resource": "*",
}
BY_USERNAME = allow("*", "s3:GetObject", f"{B_ARN}/${{aws:username}}/*")
ORG_AND_VPCE = public_read_when(
    StringEquals={"aws:PrincipalOrgID": ORG, "aws:SourceVpce": "vpce-1"}
)
OTHER_ANY = allow({"AWS": OTHER}, "s3:*", "*")
ALLOW_ALL = allow("*", "s3:*", "*")

# fmt: off
EVALUATE_CASES = [
    # (id, policy, principal, action, resource, context, effect, could_allow, matched indexes)
    ("statement-object", {"Statement": PUBLIC_READ}, ANON, "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("no-policy", None, ANON, "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("deny-wins", policy(allow("*", "s3:*", OBJECTS), deny("*", "s3:GetObject", OBJECTS)), ANON, "s3:GetObject", LOG_KEY, {}, "deny", False, (1,)),
    ("implicit-deny", policy(PUBLIC_READ), ANON, "s3:PutObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("action-case", policy(allow("*", "S3:getobject", OBJECTS)), ANON, "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("action-star", policy(allow("*", "*", OBJECTS)), ANON, "s3:DeleteObject", LOG_KEY, {}, "allow", True, (0,)),
    ("action-prefix", policy(allow("*", "s3:Get*", OBJECTS)), ANON, "s3:PutObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("not-action", policy(NOT_ACTION_DELETE), ANON, "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("not-action-excluded", policy(NOT_ACTION_DELETE), ANON, "s3:DeleteObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("resource-case", policy(allow("*", "s3:GetObject", "arn:aws:s3:::Trail-Logs/*")), ANON, "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("resource-bucket-not-object", policy(allow("*", "s3:GetObject", B_ARN)), ANON, "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("not-resource", policy(without(ALLOW_ALL, "Resource", NotResource=f"{B_ARN}/private/*")), ANON, "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("not-resource-excluded", policy(without(ALLOW_ALL, "Resource", NotResource=f"{B_ARN}/AWSLogs/*")), ANON, "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("resource-variable-known", policy(BY_USERNAME), ANON, "s3:GetObject", f"{B_ARN}/ana/x", {"aws:username": "ana"}, "allow", True, (0,)),
    ("resource-variable-unknown", policy(BY_USERNAME), ANON, "s3:GetObject", f"{B_ARN}/ana/x", {}, "unknown", True, ()),
    ("deny-variable-unknown", policy(ALLOW_ALL, deny("*", "s3:*", f"{B_ARN}/${{aws:username}}/*")), ANON, "s3:GetObject", f"{B_ARN}/ana/x", {}, "unknown", True, (0,)),
    ("unknown-key-allow", public_read_when(StringEquals={"aws:PrincipalOrgID": ORG}), ANON, "s3:GetObject", LOG_KEY, {}, "unknown", True, ()),
    ("unknown-key-deny-only", policy(deny_all_when(Bool={"aws:SecureTransport": "false"})), ANON, "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("keys-and-both", ORG_AND_VPCE, ANON, "s3:GetObject", LOG_KEY, {"aws:PrincipalOrgID": ORG, "aws:SourceVpce": "vpce-1"}, "allow", True, (0,)),
    ("keys-and-one-fails", ORG_AND_VPCE, ANON, "s3:GetObject", LOG_KEY, {"aws:PrincipalOrgID": ORG, "aws:SourceVpce": "vpce-2"}, "implicit_deny", False, ()),
    ("keys-and-one-unknown", ORG_AND_VPCE, ANON, "s3:GetObject", LOG_KEY, {"aws:PrincipalOrgID": ORG}, "unknown", True, ()),
    ("condition-key-case", public_read_when(StringEquals={"AWS:principalorgid": ORG}), ANON, "s3:GetObject", LOG_KEY, {"aws:PrincipalOrgId": ORG}, "allow", True, (0,)),
    ("operator-case", public_read_when(stringequals={"aws:PrincipalOrgID": ORG}), ANON, "s3:GetObject", LOG_KEY, {"aws:PrincipalOrgID": ORG}, "allow", True, (0,)),
    # principals
    ("account-id-matches-role", policy(allow({"AWS": OTHER}, "s3:GetObject", "*")), Principal.aws(AUDITOR), "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("root-arn-matches-role", policy(allow({"AWS": f"arn:aws:iam::{OTHER}:root"}, "s3:GetObject", "*")), Principal.aws(AUDITOR), "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("root-arn-matches-account", policy(allow({"AWS": [f"arn:aws:iam::{OTHER}:root"]}, "s3:GetObject", "*")), Principal.aws(OTHER), "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("role-arn-not-account", policy(allow({"AWS": AUDITOR}, "s3:GetObject", "*")), Principal.aws(OTHER), "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("role-arn-matches-session", policy(allow({"AWS": f"arn:aws:iam::{OTHER}:role/path/Auditor"}, "s3:GetObject", "*")), Principal.aws(ROLE_SESSION), "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("other-role", policy(allow({"AWS": f"arn:aws:iam::{OTHER}:role/Other"}, "s3:GetObject", "*")), Principal.aws(AUDITOR), "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("other-account", policy(allow({"AWS": OWNER}, "s3:GetObject", "*")), Principal.aws(AUDITOR), "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("anonymous-not-account", policy(allow({"AWS": OWNER}, "s3:GetObject", "*")), ANON, "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("aws-star-anonymous", policy(allow({"AWS": "*"}, "s3:GetObject", "*")), ANON, "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("star-service", policy(allow("*", "s3:GetObject", "*")), Principal.service("athena.amazonaws.com"), "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("service", policy(ACL_CHECK), Principal.service("CloudTrail.amazonaws.com"), "s3:GetBucketAcl", B_ARN, {}, "allow", True, (0,)),
    ("service-not-aws", policy(ACL_CHECK), Principal.aws(OWNER), "s3:GetBucketAcl", B_ARN, {}, "implicit_deny", False, ()),
    ("canonical-user", policy(allow({"CanonicalUser": "abc123"}, "s3:GetObject", "*")), Principal("canonical_user", "abc123"), "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("federated", policy(allow({"Federated": "cognito-identity.amazonaws.com"}, "s3:GetObject", "*")), Principal("federated", "cognito-identity.amazonaws.com"), "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("no-principal-element", policy(without(ALLOW_ALL, "Principal")), ANON, "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("no-action-element", policy(without(ALLOW_ALL, "Action")), ANON, "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("deleted-principal-unique-id", policy(allow({"AWS": "AROAEXAMPLEID1234567"}, "s3:*", "*")), Principal.aws(AUDITOR), "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("user-arn-not-role-session", policy(allow({"AWS": f"arn:aws:iam::{OTHER}:user/Auditor"}, "s3:*", "*")), Principal.aws(ROLE_SESSION), "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("role-arn-not-user", policy(allow({"AWS": AUDITOR}, "s3:*", "*")), Principal.aws(f"arn:aws:iam::{OTHER}:user/Auditor"), "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    # NotPrincipal
    ("allow-notprincipal-anyone", policy(without(PUBLIC_READ, "Principal", NotPrincipal={"AWS": OWNER})), ANON, "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("allow-notprincipal-listed", policy(without(PUBLIC_READ, "Principal", NotPrincipal={"AWS": OWNER})), Principal.aws(OWNER), "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("allow-notprincipal-star", policy(without(PUBLIC_READ, "Principal", NotPrincipal="*")), ANON, "s3:GetObject", LOG_KEY, {}, "implicit_deny", False, ()),
    ("deny-notprincipal-role-and-account", policy(OTHER_ANY, without(deny("*", "s3:*", "*"), "Principal", NotPrincipal={"AWS": [AUDITOR, f"arn:aws:iam::{OTHER}:root"]})), Principal.aws(AUDITOR), "s3:GetObject", LOG_KEY, {}, "allow", True, (0,)),
    ("deny-notprincipal-role-only", policy(OTHER_ANY, without(deny("*", "s3:*", "*"), "Principal", NotPrincipal={"AWS": [AUDITOR]})), Principal.aws(AUDITOR), "s3:GetObject", LOG_KEY, {}, "deny", False, (1,)),
    ("deny-notprincipal-others", policy(ALLOW_ALL, without(deny("*", "s3:*", "*"), "Principal", NotPrincipal={"AWS": OWNER})), ANON, "s3:GetObject", LOG_KEY, {}, "deny", False, (1,)),
    ("deny-notprincipal-service", policy(ALLOW_ALL, without(deny("*", "s3:*", "*"), "Principal", NotPrincipal=CT)), Principal.service("cloudtrail.amazonaws.com"), "s3:PutObject", LOG_KEY, {}, "allow", True, (0,)),
]
# fmt: on


@pytest.mark.parametrize(
    ("policy_doc", "principal", "action", "resource", "context", "effect", "could", "matched"),
    [pytest.param(*case[1:], id=case[0]) for case in EVALUATE_CASES],
)
def test_evaluate(
    policy_doc: Any,
    principal: Principal,
    action: str,
    resource: str,
    context: dict[str, Any],
    effect: str,
    could: bool,
    matched: tuple[int, ...],
) -> None:
    decision = evaluate(policy_doc, Request(principal, action, resource, context))
    assert decision.effect == effect
    assert decision.could_allow is could
    assert tuple(r.index for r in decision.denied_by or decision.allowed_by) == matched


def test_evaluate_reports_unknown_keys_and_undecided_statements() -> None:
    doc = policy(
        {**PUBLIC_READ, "Sid": "Org", "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}},
        deny(
            "*",
            "s3:*",
            OBJECTS,
            Sid="Vpce",
            Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}},
        ),
    )
    decision = evaluate(doc, Request(ANON, "s3:GetObject", LOG_KEY))
    assert decision.effect == "unknown"
    assert decision.could_allow is True
    assert [str(r) for r in decision.undecided] == ["#0 (Org)", "#1 (Vpce)"]
    assert decision.unknown_keys == ("aws:PrincipalOrgID", "aws:SourceVpce")
    assert [r.sid for r in decision.allow_statements] == ["Org"]


def test_evaluate_accepts_json_text_and_parsed_statements() -> None:
    text = json.dumps(policy(PUBLIC_READ))
    request = Request(ANON, "s3:GetObject", LOG_KEY)
    assert evaluate(text, request).allowed
    assert evaluate(parse_policy(text), request).allowed
    assert evaluate("", request).effect == "implicit_deny"


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        "[]",
        {"Statement": "x"},
        {"Statement": ["x"]},
        {"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*", "NotPrincipal": "*", "Action": "*"}]},
        {"Statement": [{"Effect": "Allow", "Principal": ["*"], "Action": "*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": ["x"]}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Condition": {"Bool": "x"}}]},
    ],
)
def test_parse_policy_rejects_invalid_documents(bad: Any) -> None:
    with pytest.raises(PolicyError):
        parse_policy(bad)


def test_evaluate_rejects_other_inputs() -> None:
    with pytest.raises(PolicyError):
        evaluate([1, 2], Request(ANON, "s3:GetObject", LOG_KEY))  # type: ignore[list-item]


# --- public access ----------------------------------------------------------------------------

PAB_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ACL_OWNER = {"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"}
ACL_ALL_READ = {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}
ACL_AUTH_WRITE = {"Grantee": {"Type": "Group", "URI": AUTH_USERS}, "Permission": "WRITE"}
ACL_ALL_READ_ACP = {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ_ACP"}
ACL_ALL_FULL = {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "FULL_CONTROL"}
ALL_KINDS = ("read", "list", "write", "policy_change")
BOTH = [B_ARN, OBJECTS]
NOT_GET = {"Effect": "Allow", "Principal": "*", "NotAction": "s3:Get*", "Resource": BOTH}
DENY_OUTSIDE_VPCE = deny(
    "*", "s3:*", OBJECTS, Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}
)

# fmt: off
PUBLIC_CASES = [
    # (id, policy, acl grants, bucket pab, account pab, is_public, kinds, statements, neutralised)
    ("docs-cloudtrail", DOCS_CT, [ACL_OWNER], None, None, False, (), (), ()),
    ("legacy-cloudtrail", LEGACY_CT, [], None, None, False, (), (), ()),
    ("no-policy", None, [], None, None, False, (), (), ()),
    ("public-read", policy(PUBLIC_READ), [], None, None, True, ("read",), (0,), ()),
    ("public-read-json-text", json.dumps(policy(PUBLIC_READ)), [], None, None, True, ("read",), (0,), ()),
    ("aws-star", policy(allow({"AWS": "*"}, "s3:GetObject", OBJECTS)), [], None, None, True, ("read",), (0,), ()),
    ("aws-star-list", policy(allow({"AWS": ["*"]}, "s3:GetObject", OBJECTS)), [], None, None, True, ("read",), (0,), ()),
    ("s3-star", policy(allow("*", "s3:*", BOTH)), [], None, None, True, ALL_KINDS, (0,), ()),
    ("get-star", policy(allow("*", "s3:Get*", BOTH)), [], None, None, True, ("read",), (0,), ()),
    ("list-bucket", policy(allow("*", "s3:ListBucket", B_ARN)), [], None, None, True, ("list",), (0,), ()),
    ("put-object", policy(allow("*", "s3:PutObject", OBJECTS)), [], None, None, True, ("write",), (0,), ()),
    ("put-bucket-acl", policy(allow("*", "s3:PutBucketAcl", B_ARN)), [], None, None, True, ("policy_change",), (0,), ()),
    ("not-action", policy(NOT_GET), [], None, None, True, ("list", "write", "policy_change"), (0,), ()),
    ("not-resource", policy(without(PUBLIC_READ, "Resource", NotResource=f"{B_ARN}/private/*")), [], None, None, True, ("read",), (0,), ()),
    ("not-resource-all-objects", policy(without(PUBLIC_READ, "Resource", NotResource=OBJECTS)), [], None, None, False, (), (), ()),
    ("prefix-only", policy(allow("*", "s3:GetObject", f"{B_ARN}/public/*")), [], None, None, True, ("read",), (0,), ()),
    ("allow-notprincipal", policy(without(PUBLIC_READ, "Principal", NotPrincipal={"AWS": OWNER_ROOT})), [], None, None, True, ("read",), (0,), ()),
    ("specific-account", policy(allow({"AWS": OTHER}, "s3:GetObject", OBJECTS)), [], None, None, False, (), (), ()),
    # narrowing conditions: not public
    ("org-id", public_read_when(StringEquals={"aws:PrincipalOrgID": ORG}), [], None, None, False, (), (), ()),
    ("org-id-key-case", public_read_when(StringEquals={"AWS:PrincipalOrgId": ORG}), [], None, None, False, (), (), ()),
    ("aws-star-source-account", policy(allow({"AWS": "*"}, "s3:GetObject", OBJECTS, Condition={"StringEquals": {"aws:SourceAccount": OWNER}})), [], None, None, False, (), (), ()),
    ("source-arn", public_read_when(ArnEquals={"aws:SourceArn": TRAIL}), [], None, None, False, (), (), ()),
    ("principal-account", public_read_when(StringEquals={"aws:PrincipalAccount": [OWNER, OTHER]}), [], None, None, False, (), (), ()),
    ("source-vpce", public_read_when(StringEquals={"aws:SourceVpce": "vpce-1a2b3c4d"}), [], None, None, False, (), (), ()),
    ("source-ip-narrow", public_read_when(IpAddress={"aws:SourceIp": ["203.0.113.0/24"]}), [], None, None, False, (), (), ()),
    ("principal-arn-account", public_read_when(ArnLike={"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/*"}), [], None, None, False, (), (), ()),
    ("userid-role", public_read_when(StringLike={"aws:userid": "AROAEXAMPLEID:*"}), [], None, None, False, (), (), ()),
    ("for-any-value-org-paths", public_read_when(**{"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{ORG}/r-ab12/ou-ab12-11111111/*"}}), [], None, None, False, (), (), ()),
    ("secure-transport-and-org", public_read_when(Bool={"aws:SecureTransport": "true"}, StringEquals={"aws:PrincipalOrgID": ORG}), [], None, None, False, (), (), ()),
    # conditions that do not narrow: public
    ("secure-transport-only", public_read_when(Bool={"aws:SecureTransport": "true"}), [], None, None, True, ("read",), (0,), ()),
    ("referer", public_read_when(StringLike={"aws:Referer": "https://example.com/*"}), [], None, None, True, ("read",), (0,), ()),
    ("org-id-wildcard", public_read_when(StringLike={"aws:PrincipalOrgID": "o-*"}), [], None, None, True, ("read",), (0,), ()),
    ("org-id-if-exists", public_read_when(StringEqualsIfExists={"aws:PrincipalOrgID": ORG}), [], None, None, True, ("read",), (0,), ()),
    ("org-id-not-equals", public_read_when(StringNotEquals={"aws:PrincipalOrgID": ORG}), [], None, None, True, ("read",), (0,), ()),
    ("org-id-not-null", public_read_when(Null={"aws:PrincipalOrgID": "false"}), [], None, None, True, ("read",), (0,), ()),
    ("for-all-values-trap", public_read_when(**{"ForAllValues:StringLike": {"aws:PrincipalOrgPaths": f"{ORG}/*"}}), [], None, None, True, ("read",), (0,), ()),
    ("source-ip-any", public_read_when(IpAddress={"aws:SourceIp": "0.0.0.0/0"}), [], None, None, True, ("read",), (0,), ()),
    ("not-ip-address", public_read_when(NotIpAddress={"aws:SourceIp": "203.0.113.0/24"}), [], None, None, True, ("read",), (0,), ()),
    ("principal-arn-any-account", public_read_when(ArnLike={"aws:PrincipalArn": "arn:aws:iam::*:role/Reader"}), [], None, None, True, ("read",), (0,), ()),
    ("source-account-variable", public_read_when(StringEquals={"aws:SourceAccount": "${aws:PrincipalAccount}"}), [], None, None, True, ("read",), (0,), ()),
    # denies next to a public allow
    ("deny-outside-vpce", policy(PUBLIC_READ, DENY_OUTSIDE_VPCE), [], None, None, False, (), (), ()),
    ("deny-http-keeps-public", policy(PUBLIC_READ, DENY_HTTP), [], None, None, True, ("read",), (0,), ()),
    ("deny-all-get", policy(PUBLIC_READ, deny({"AWS": "*"}, "s3:Get*", "*")), [], None, None, False, (), (), ()),
    # ACLs and Public Access Block
    ("acl-all-users-read", None, [ACL_OWNER, ACL_ALL_READ], None, None, True, ("list",), (), ()),
    ("acl-ignored-by-bucket", None, [ACL_ALL_READ], {"IgnorePublicAcls": True}, None, False, (), (), ("IgnorePublicAcls",)),
    ("acl-ignored-by-account", None, [ACL_ALL_READ], None, {"IgnorePublicAcls": True}, False, (), (), ("IgnorePublicAcls",)),
    ("acl-block-new-only", None, [ACL_ALL_READ], {"BlockPublicAcls": True}, None, True, ("list",), (), ()),
    ("acl-authenticated-write", None, [ACL_AUTH_WRITE], None, None, True, ("write",), (), ()),
    ("acl-read-acp", None, [ACL_ALL_READ_ACP], None, None, True, (), (), ()),
    ("acl-full-control", None, [ACL_ALL_FULL], None, None, True, ("list", "write", "policy_change"), (), ()),
    ("policy-restricted-by-bucket", policy(PUBLIC_READ), [], {"RestrictPublicBuckets": True}, None, False, (), (0,), ("RestrictPublicBuckets",)),
    ("policy-restricted-by-account", policy(PUBLIC_READ), [], {"RestrictPublicBuckets": False}, {"RestrictPublicBuckets": True}, False, (), (0,), ("RestrictPublicBuckets",)),
    ("policy-block-new-only", policy(PUBLIC_READ), [], {"BlockPublicPolicy": True}, None, True, ("read",), (0,), ()),
    ("policy-restricted-acl-still-public", policy(PUBLIC_READ), [ACL_ALL_READ], {"RestrictPublicBuckets": True}, None, True, ("list",), (0,), ("RestrictPublicBuckets",)),
    ("all-blocked", policy(PUBLIC_READ), [ACL_ALL_READ], PAB_ALL, None, False, (), (0,), ("RestrictPublicBuckets", "IgnorePublicAcls")),
]
# fmt: on


@pytest.mark.parametrize(
    ("policy_doc", "acl", "bucket_pab", "account_pab", "public", "kinds", "refs", "neutralised"),
    [pytest.param(*case[1:], id=case[0]) for case in PUBLIC_CASES],
)
def test_public_access(
    policy_doc: Any,
    acl: list[dict[str, Any]],
    bucket_pab: dict[str, bool] | None,
    account_pab: dict[str, bool] | None,
    public: bool,
    kinds: tuple[str, ...],
    refs: tuple[int, ...],
    neutralised: tuple[str, ...],
) -> None:
    result = public_access(policy_doc, acl, bucket_pab, account_pab)
    assert result.is_public is public
    assert result.kinds == kinds
    assert tuple(r.index for r in result.policy_statements) == refs
    assert result.neutralised_by == neutralised
    assert result.explanation.endswith(
        "The bucket is public." if public else "The bucket is not public."
    )


def test_public_access_explains_what_and_why() -> None:
    result = public_access(policy(PUBLIC_READ), [ACL_ALL_READ], {"BlockPublicPolicy": True})
    assert result.policy_public and result.acl_public
    assert result.acl_grants == ("AllUsers:READ",)
    assert result.explanation == (
        "The bucket policy lets anyone read (statements #0 (PublicRead)). "
        "BlockPublicPolicy only rejects new public policies; this one stays. "
        "The bucket ACL grants AllUsers:READ. The bucket is public."
    )


def test_public_access_with_explicit_bucket_name() -> None:
    doc = policy(allow("*", "s3:GetObject", "arn:aws:s3:::*"))
    assert public_access(doc, bucket_name=BUCKET).kinds == ("read",)
    assert public_access(doc).kinds == ("read",)


# --- TLS --------------------------------------------------------------------------------------

# fmt: off
TLS_CASES = [
    # (id, policy, enforced, denying statements, tls-version statements)
    ("docs", policy(DENY_HTTP), True, (0,), ()),
    ("with-cloudtrail-statements", policy(*DOCS_CT["Statement"], DENY_HTTP), True, (2,), ()),
    ("statement-object", {"Statement": DENY_HTTP}, True, (0,), ()),
    ("bool-if-exists", http_deny(Condition={"BoolIfExists": {"aws:SecureTransport": "false"}}), True, (0,), ()),
    ("key-and-value-case", http_deny(Condition={"Bool": {"AWS:securetransport": "False"}}), True, (0,), ()),
    ("json-bool", http_deny(Condition={"Bool": {"aws:SecureTransport": False}}), True, (0,), ()),
    ("aws-star", http_deny(Principal={"AWS": "*"}), True, (0,), ()),
    ("action-star", http_deny(Action="*"), True, (0,), ()),
    ("resource-star", http_deny(Resource="*"), True, (0,), ()),
    ("plus-tls-version", policy(DENY_HTTP, TLS_VERSION), True, (0,), (1,)),
    ("none", None, False, (), ()),
    ("only-objects", http_deny(Resource=OBJECTS), False, (0,), ()),
    ("only-bucket", http_deny(Resource=B_ARN), False, (0,), ()),
    ("only-get-object", http_deny(Action="s3:GetObject"), False, (0,), ()),
    ("named-actions", http_deny(Action=["s3:GetObject", "s3:PutObject", "s3:ListBucket"]), False, (0,), ()),
    ("wrong-value", http_deny(Condition={"Bool": {"aws:SecureTransport": "true"}}), False, (), ()),
    ("allow-instead-of-deny", policy({**DENY_HTTP, "Effect": "Allow", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}), False, (), ()),
    ("extra-condition", http_deny(Condition={"Bool": {"aws:SecureTransport": "false"}, "NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}), False, (), ()),
    ("one-account", http_deny(Principal={"AWS": OWNER_ROOT}), False, (0,), ()),
    ("notprincipal-exempts-owner", policy(without(DENY_HTTP, "Principal", NotPrincipal={"AWS": OWNER_ROOT})), False, (0,), ()),
    ("not-action", policy(without(DENY_HTTP, "Action", NotAction="s3:GetObject")), False, (0,), ()),
    ("tls-version-only", policy(TLS_VERSION), False, (), (0,)),
    ("other-bucket", http_deny(Resource=["arn:aws:s3:::other", "arn:aws:s3:::other/*"]), False, (), ()),
]
# fmt: on


@pytest.mark.parametrize(
    ("policy_doc", "enforced", "refs", "tls_refs"),
    [pytest.param(*case[1:], id=case[0]) for case in TLS_CASES],
)
def test_denies_insecure_transport(
    policy_doc: Any, enforced: bool, refs: tuple[int, ...], tls_refs: tuple[int, ...]
) -> None:
    result = denies_insecure_transport(policy_doc, BUCKET)
    assert result.enforced is enforced
    assert tuple(r.index for r in result.statements) == refs
    assert tuple(r.index for r in result.tls_version_statements) == tls_refs
    assert bool(result.gaps) is not enforced


def test_tls_explains_gaps_and_tls_version() -> None:
    result = denies_insecure_transport(policy(TLS_VERSION), BUCKET)
    assert result.gaps[0] == (
        "anonymous s3:GetObject on arn:aws:s3:::trail-logs/trailcheck-probe-object over HTTP is not denied"
    )
    assert "does not deny plain HTTP" in result.explanation
    ok = denies_insecure_transport(policy(DENY_HTTP), BUCKET)
    assert (
        ok.explanation
        == "Requests without TLS are denied by statements #0 (DenyInsecureTransport)."
    )


# --- CloudTrail delivery ----------------------------------------------------------------------

NOT_CORP_IP = {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
SSE_KMS_ONLY = deny(
    "*",
    "s3:PutObject",
    OBJECTS,
    Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
)
ORG_WRITE = {**WRITE, "Resource": f"{B_ARN}/AWSLogs/{ORG}/*"}

# fmt: off
DELIVERY_CASES = [
    # (id, policy, kwargs, allowed, open_to_any_trail, scoped_by)
    ("docs-source-arn", DOCS_CT, {}, True, False, ("aws:SourceArn",)),
    ("docs-plus-deny-http", policy(*DOCS_CT["Statement"], DENY_HTTP), {}, True, False, ("aws:SourceArn",)),
    ("legacy-unscoped", LEGACY_CT, {}, True, True, ()),
    ("source-account", policy(ACL_CHECK, write_with(StringEquals={"aws:SourceAccount": OWNER})), {}, True, False, ("aws:SourceAccount",)),
    ("source-arn-like-account", policy(ACL_CHECK, write_with(ArnLike={"aws:SourceArn": f"arn:aws:cloudtrail:*:{OWNER}:trail/*"})), {}, True, False, ("aws:SourceArn",)),
    ("source-arn-like-any", policy(ACL_CHECK, write_with(ArnLike={"aws:SourceArn": "arn:aws:cloudtrail:*"})), {}, True, True, ("aws:SourceArn",)),
    ("source-arn-if-exists", policy(ACL_CHECK, write_with(StringEqualsIfExists=SOURCE_ARN)), {}, True, True, ()),
    ("wrong-trail", policy(ACL_CHECK, write_with(StringEquals={"aws:SourceArn": f"arn:aws:cloudtrail:us-east-1:{OWNER}:trail/old"})), {}, False, False, ()),
    ("no-acl-check", policy(write_with(StringEquals=SOURCE_ARN)), {}, False, False, ("aws:SourceArn",)),
    ("no-policy", None, {}, False, False, ()),
    ("wrong-account-path", policy(ACL_CHECK, {**WRITE, "Resource": f"{B_ARN}/AWSLogs/{OTHER}/*"}), {}, False, False, ()),
    ("logs-but-not-digests", policy(ACL_CHECK, {**WRITE, "Resource": f"{B_ARN}/AWSLogs/{OWNER}/CloudTrail/*"}), {}, False, True, ()),
    ("whole-bucket", policy(ACL_CHECK, {**WRITE, "Resource": OBJECTS}), {}, True, True, ()),
    ("acl-value-required", policy(ACL_CHECK, {**WRITE, "Condition": {"StringEquals": {"s3:x-amz-acl": "private"}}}), {}, False, False, ()),
    ("prefix-matches", policy(ACL_CHECK, {**WRITE, "Resource": f"{B_ARN}/org/prefix/AWSLogs/{OWNER}/*"}), {"prefix": "/org/prefix/"}, True, True, ()),
    ("prefix-missing-in-policy", LEGACY_CT, {"prefix": "org"}, False, False, ()),
    ("deny-not-ip-blocks-service", policy(*LEGACY_CT["Statement"], deny_all_when(**NOT_CORP_IP)), {}, False, False, ()),
    ("deny-not-ip-exempts-services", policy(*LEGACY_CT["Statement"], deny_all_when(**NOT_CORP_IP, Bool={"aws:PrincipalIsAWSService": "false"})), {}, True, True, ()),
    ("deny-outside-org-blocks-service", policy(*DOCS_CT["Statement"], deny_all_when(StringNotEquals={"aws:PrincipalOrgID": ORG})), {}, False, False, ("aws:SourceArn",)),
    ("deny-outside-org-if-exists-blocks-too", policy(*DOCS_CT["Statement"], deny_all_when(StringNotEqualsIfExists={"aws:PrincipalOrgID": ORG})), {}, False, False, ("aws:SourceArn",)),
    ("deny-notprincipal-owner", policy(*DOCS_CT["Statement"], without(deny("*", "s3:*", "*"), "Principal", NotPrincipal={"AWS": OWNER_ROOT})), {}, False, False, ("aws:SourceArn",)),
    ("deny-depends-on-unknown-key", policy(*DOCS_CT["Statement"], SSE_KMS_ONLY), {}, None, False, ("aws:SourceArn",)),
    # organization trails
    ("org-docs", ORG_CT, {"org_id": ORG}, True, False, ("aws:SourceArn",)),
    ("org-source-org-id", policy(ACL_CHECK, {**write_with(StringEquals={"aws:SourceOrgID": ORG}), "Resource": f"{B_ARN}/AWSLogs/{ORG}/*"}), {"org_id": ORG}, True, False, ("aws:SourceOrgID",)),
    ("org-without-org-statement", DOCS_CT, {"org_id": ORG}, False, False, ()),
    ("org-one-member-only", policy(ACL_CHECK_SCOPED, {**write_with(StringEquals=SOURCE_ARN), "Resource": f"{B_ARN}/AWSLogs/{ORG}/{OWNER}/*"}), {"org_id": ORG}, False, False, ("aws:SourceArn",)),
    ("org-unscoped", policy(ACL_CHECK, ORG_WRITE), {"org_id": ORG}, True, True, ()),
]
# fmt: on


@pytest.mark.parametrize(
    ("policy_doc", "kwargs", "allowed", "open_to_any", "scoped_by"),
    [pytest.param(*case[1:], id=case[0]) for case in DELIVERY_CASES],
)
def test_cloudtrail_delivery(
    policy_doc: Any,
    kwargs: dict[str, Any],
    allowed: bool | None,
    open_to_any: bool,
    scoped_by: tuple[str, ...],
) -> None:
    result = cloudtrail_delivery(
        policy_doc, BUCKET, kwargs.get("prefix"), OWNER, TRAIL, kwargs.get("org_id")
    )
    assert result.allowed is allowed
    assert result.open_to_any_trail is open_to_any
    assert result.scoped_by == scoped_by


def test_delivery_evidence() -> None:
    result = cloudtrail_delivery(LEGACY_CT, BUCKET, None, OWNER, TRAIL, trail_region="eu-west-1")
    assert [str(r) for r in result.statements] == [
        "#0 (AWSCloudTrailAclCheck)",
        "#1 (AWSCloudTrailWrite)",
    ]
    assert [key for key, _ in result.put_object] == [
        f"AWSLogs/{OWNER}/CloudTrail/eu-west-1/2024/01/01/{OWNER}_CloudTrail_eu-west-1_20240101T0000Z_x.json.gz",
        f"AWSLogs/{OWNER}/CloudTrail-Digest/eu-west-1/2024/01/01/{OWNER}_CloudTrail-Digest_eu-west-1_main_eu-west-1_20240101T000000Z.json.gz",
    ]
    assert result.explanation.startswith(
        "CloudTrail can read the bucket ACL and write log and digest files."
    )
    assert "not scoped to this trail" in result.explanation


def test_delivery_org_keys_cover_two_members() -> None:
    result = cloudtrail_delivery(ORG_CT, BUCKET, None, OWNER, TRAIL, ORG)
    assert [key.split("/CloudTrail")[0] for key, _ in result.put_object] == [
        f"AWSLogs/{ORG}/{OWNER}",
        f"AWSLogs/{ORG}/{OWNER}",
        f"AWSLogs/{ORG}/999999999999",
        f"AWSLogs/{ORG}/999999999999",
    ]


def test_delivery_names_unknown_keys_and_denials() -> None:
    unknown = cloudtrail_delivery(
        policy(*DOCS_CT["Statement"], SSE_KMS_ONLY), BUCKET, None, OWNER, TRAIL
    )
    assert unknown.unknown_keys == ("s3:x-amz-server-side-encryption",)
    assert "cannot know: s3:x-amz-server-side-encryption" in unknown.explanation
    denied = cloudtrail_delivery(
        policy(write_with(StringEquals=SOURCE_ARN)), BUCKET, None, OWNER, TRAIL
    )
    assert denied.explanation == (
        "s3:GetBucketAcl for CloudTrail: implicit_deny. The grant is scoped by aws:SourceArn."
    )


# --- readers ----------------------------------------------------------------------------------

LOG_SERVICE = {"Service": "logging.s3.amazonaws.com"}

# fmt: off
READER_CASES = [
    # (id, policy, bucket pab, [(principal, wildcard, public, conditional, neutralised)])
    ("docs-cloudtrail", DOCS_CT, None, []),
    ("cross-account-role", policy(allow({"AWS": AUDITOR}, "s3:GetObject", OBJECTS)), None, [(AUDITOR, False, False, False, False)]),
    ("account-id-and-root", policy(allow({"AWS": [OTHER, "arn:aws:iam::555566667777:root"]}, ["s3:GetObject", "s3:ListBucket"], BOTH)), None, [(OTHER, False, False, False, False), ("arn:aws:iam::555566667777:root", False, False, False, False)]),
    ("owner-principals-excluded", policy(allow({"AWS": [OWNER, f"arn:aws:iam::{OWNER}:role/Ops"]}, "s3:GetObject", OBJECTS)), None, []),
    ("member-own-logs", policy(allow({"AWS": OTHER}, "s3:GetObject", f"{B_ARN}/AWSLogs/{OTHER}/*")), None, [(OTHER, False, False, False, False)]),
    ("list-only", policy(allow({"AWS": OTHER}, "s3:ListBucket", B_ARN)), None, []),
    ("read-via-s3-star", policy(allow({"AWS": AUDITOR}, "s3:*", OBJECTS)), None, [(AUDITOR, False, False, False, False)]),
    ("denied-role", policy(allow({"AWS": AUDITOR}, "s3:GetObject", OBJECTS), deny({"AWS": AUDITOR}, "s3:*", "*")), None, []),
    ("public", policy(PUBLIC_READ), None, [("*", True, True, False, False)]),
    ("org-restricted-wildcard", public_read_when(StringEquals={"aws:PrincipalOrgID": ORG}), None, [("*", True, False, True, False)]),
    ("allow-notprincipal", policy(without(PUBLIC_READ, "Principal", NotPrincipal={"AWS": OWNER})), None, [("*", True, True, False, False)]),
    ("service", policy(allow(LOG_SERVICE, "s3:GetObject", OBJECTS)), None, [("logging.s3.amazonaws.com", False, False, False, False)]),
    ("canonical-user", policy(allow({"CanonicalUser": "79a59df900b949e5"}, "s3:GetObject", OBJECTS)), None, [("79a59df900b949e5", False, False, False, False)]),
    ("federated", policy(allow({"Federated": "accounts.google.com"}, "s3:GetObject", OBJECTS)), None, [("accounts.google.com", False, False, False, False)]),
    ("unknown-principal-type", policy(allow({"Unknown": "x"}, "s3:GetObject", OBJECTS)), None, []),
    ("deleted-principal-unique-id", policy(allow({"AWS": "AROAEXAMPLEID1234567"}, "s3:GetObject", OBJECTS)), None, []),
    ("conditional-role", policy(allow({"AWS": AUDITOR}, "s3:GetObject", OBJECTS, Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})), None, [(AUDITOR, False, False, True, False)]),
    ("rpb-with-public-policy", policy(PUBLIC_READ, allow({"AWS": AUDITOR}, "s3:GetObject", OBJECTS), allow(LOG_SERVICE, "s3:GetObject", OBJECTS)), {"RestrictPublicBuckets": True}, [("*", True, True, False, True), (AUDITOR, False, False, False, True), ("logging.s3.amazonaws.com", False, False, False, False)]),
    ("rpb-without-public-policy", policy(allow({"AWS": AUDITOR}, "s3:GetObject", OBJECTS)), {"RestrictPublicBuckets": True}, [(AUDITOR, False, False, False, False)]),
]
# fmt: on


@pytest.mark.parametrize(
    ("policy_doc", "pab", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in READER_CASES],
)
def test_readers(
    policy_doc: Any, pab: dict[str, bool] | None, expected: list[tuple[str, bool, bool, bool, bool]]
) -> None:
    grants = readers(policy_doc, BUCKET, OWNER, bucket_pab=pab)
    got = [(g.principal, g.wildcard, g.public, g.conditional, g.neutralised_by_pab) for g in grants]
    assert sorted(got) == sorted(expected)


def test_reader_evidence() -> None:
    (grant,) = readers(public_read_when(StringEquals={"aws:PrincipalOrgID": ORG}), BUCKET, OWNER)
    assert grant.principal_type == "*"
    assert grant.condition_keys == ("aws:PrincipalOrgID",)
    assert [str(r) for r in grant.statements] == ["#0 (PublicRead)"]
    assert grant.explanation == (
        "any principal meeting the conditions can s3:GetObject log objects "
        "(statements #0 (PublicRead)) only when its conditions on aws:PrincipalOrgID hold."
    )
    (role,) = readers(policy(allow({"AWS": AUDITOR}, "s3:GetObject", OBJECTS)), BUCKET, OWNER)
    assert role.account_id == OTHER
    assert role.principal_type == "AWS"
    assert role.explanation == f"{AUDITOR} can s3:GetObject log objects (statements #0)."
