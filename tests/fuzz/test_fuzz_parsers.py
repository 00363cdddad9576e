"""Fuzzing the parsers and evaluators that read text trailcheck does not control.

On arbitrary input each returns its result or its own documented error, never anything else:

* filter patterns (``_filter_pattern``): ``parse`` returns a tree or a ``ParseError`` value;
  a tree prints to a text that parses to the same tree; ``matches`` answers for any event;
* EventBridge patterns (``_event_pattern``): a pattern or a ``ParseError`` value; matching
  any event answers;
* bucket policies (``_policy``): results or ``PolicyError``;
* CloudTrail digests (``verify.digest``): results or ``DigestFormatError``;
* snapshots (``snapshot.load_inventory``): an ``Inventory`` or ``UserError``.

Runs are small (a few seconds in all; TRAILCHECK_FUZZ_EXAMPLES=5000 for a deeper local run); a
failure prints the shrunk input to add as a regression case.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailcheck.errors import UserError
from trailcheck.model import INVENTORY_KIND, SCHEMA_VERSION, Inventory
from trailcheck.rules import _event_pattern as eb
from trailcheck.rules import _filter_pattern as fp
from trailcheck.rules import _policy as pol
from trailcheck.snapshot import load_inventory
from trailcheck.verify import digest as dg

FAST = settings(
    max_examples=int(os.environ.get("TRAILCHECK_FUZZ_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# --- JSON values -------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["ConsoleLogin", "Root", "AccessDenied", "us-east-1", "*", "", "1"]),
)
keys = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["eventName", "userIdentity", "type", "errorCode", "a", "b", "0"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
events = st.dictionaries(keys, json_values, max_size=6)

# --- filter patterns ---------------------------------------------------------------------------

FILTER_TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "$.",
    "$.a",
    "$.a.b",
    "$.a[0]",
    "$.a[*]",
    "$.*",
    "$.['k.x']",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "IS NULL",
    "IS TRUE",
    "IS FALSE",
    "NOT EXISTS",
    '"x"',
    '"a*b"',
    '"\\""',
    "\\",
    "*",
    "1",
    "-1.5e3",
    "0x1",
    "%",
    "%ab[0-9]+%",
    "%\\d%",
    "?",
    "-",
    "...",
    ",",
    "ERROR",
    '"two words"',
    "$.eventName",
    "ConsoleLogin",
    " ",
    "\t",
    "\n",
    "é",
    "\x00",
]
filter_texts = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(FILTER_TOKENS), max_size=14).map("".join),
    st.lists(st.sampled_from(FILTER_TOKENS), max_size=14).map(" ".join),
)


@FAST
@given(text=filter_texts, event=events, line=st.text(max_size=40))
def test_filter_patterns_parse_print_and_match_without_raising(
    text: str, event: dict[str, Any], line: str
) -> None:
    tree = fp.parse(text)
    if isinstance(tree, fp.ParseError):
        assert str(tree)
        return
    printed = fp.to_text(tree)
    again = fp.parse(printed)
    assert again == tree, (text, printed, again)
    assert isinstance(fp.matches(tree, event), bool)
    assert isinstance(fp.matches(tree, line), bool)
    for comparison in fp.comparisons(tree):
        if isinstance(comparison.target, fp.Selector):
            assert isinstance(fp.comparison_matches(comparison, event), bool)


# --- EventBridge patterns ----------------------------------------------------------------------

EB_KEYS = st.sampled_from(
    ["source", "detail-type", "detail", "eventName", "userIdentity", "type", "$or", "a"]
)
operators = st.one_of(
    st.builds(
        lambda op, body: {op: body},
        st.sampled_from(
            [
                "prefix",
                "suffix",
                "equals-ignore-case",
                "wildcard",
                "anything-but",
                "exists",
                "numeric",
                "cidr",
                "unknown",
            ]
        ),
        st.one_of(
            json_values,
            st.lists(st.one_of(st.sampled_from(["<", ">=", "="]), st.integers(-10, 10))),
            st.sampled_from(["10.0.0.0/8", "::1/128", "bad/99", "a**b", "a\\b"]),
        ),
    ),
    scalars,
)
eb_patterns = st.recursive(
    st.lists(operators, max_size=3),
    lambda inner: st.dictionaries(EB_KEYS, inner | st.lists(inner, max_size=2), max_size=3),
    max_leaves=12,
)


@FAST
@given(
    pattern=st.one_of(eb_patterns.map(json.dumps), st.text(max_size=30)),
    event=events,
    record=events,
)
def test_event_patterns_parse_and_match_without_raising(
    pattern: str, event: dict[str, Any], record: dict[str, Any]
) -> None:
    parsed = eb.parse_event_pattern(pattern)
    if isinstance(parsed, eb.ParseError):
        assert str(parsed)
        return
    assert isinstance(eb.matches(parsed, event), bool)
    assert isinstance(eb.matches_cloudtrail_record(parsed, record, "us-east-1", "1" * 12), bool)


# --- bucket policies ---------------------------------------------------------------------------

POLICY_STRINGS = st.sampled_from(
    [
        "*",
        "s3:GetObject",
        "s3:*",
        "s3:PutObject",
        "arn:aws:s3:::logs/*",
        "arn:aws:s3:::logs",
        "111122223333",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:role/r",
        "cloudtrail.amazonaws.com",
        "${aws:username}",
        "o-abc",
        "bucket-owner-full-control",
        "arn:aws:cloudtrail:us-east-1:111122223333:trail/t",
        "false",
        "true",
        "10.0.0.0/8",
        "",
    ]
)
CONDITION_OPERATORS = st.sampled_from(
    [
        "StringEquals",
        "StringLike",
        "StringNotEquals",
        "ArnLike",
        "ArnEquals",
        "Bool",
        "BoolIfExists",
        "IpAddress",
        "NotIpAddress",
        "Null",
        "NumericLessThan",
        "ForAnyValue:StringEquals",
        "ForAllValues:StringLike",
        "StringEqualsIfExists",
        "Bogus",
    ]
)
CONDITION_KEYS = st.sampled_from(
    [
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:SecureTransport",
        "aws:PrincipalOrgID",
        "aws:SourceIp",
        "s3:x-amz-acl",
        "s3:TlsVersion",
        "aws:userid",
        "aws:SourceOrgID",
        "x",
    ]
)
loose = st.one_of(POLICY_STRINGS, st.lists(POLICY_STRINGS, max_size=3), json_values)
statements = st.fixed_dictionaries(
    {},
    optional={
        "Sid": st.text(max_size=4),
        "Effect": st.sampled_from(["Allow", "Deny", "allow", 1]),
        "Principal": st.one_of(
            st.just("*"), st.dictionaries(st.sampled_from(["AWS", "Service", "X"]), loose)
        ),
        "NotPrincipal": st.dictionaries(st.sampled_from(["AWS", "Service"]), loose),
        "Action": loose,
        "NotAction": loose,
        "Resource": loose,
        "NotResource": loose,
        "Condition": st.one_of(
            json_values,
            st.dictionaries(CONDITION_OPERATORS, st.dictionaries(CONDITION_KEYS, loose)),
        ),
    },
)
policies = st.one_of(
    st.builds(
        lambda s: {"Version": "2012-10-17", "Statement": s}, st.lists(statements, max_size=3)
    ),
    st.builds(lambda s: {"Statement": s}, statements),
    json_values,
    st.text(max_size=20),
)
pabs = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {}, optional={k: st.booleans() for k in ("IgnorePublicAcls", "RestrictPublicBuckets")}
    ),
)
grants = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "Grantee": st.dictionaries(st.sampled_from(["Type", "URI", "ID"]), loose, max_size=3),
            "Permission": st.sampled_from(["READ", "WRITE", "FULL_CONTROL", "READ_ACP", "X"]),
        },
    ),
    max_size=3,
)


@FAST
@given(policy=policies, acl=grants, bucket_pab=pabs, account_pab=pabs)
def test_bucket_policy_evaluator_raises_only_policy_error(
    policy: Any, acl: list[dict[str, Any]], bucket_pab: Any, account_pab: Any
) -> None:
    calls = [
        lambda: pol.parse_policy(policy),
        lambda: pol.evaluate(
            policy,
            pol.Request(pol.Principal.anonymous(), "s3:GetObject", "arn:aws:s3:::logs/x", {}),
        ),
        lambda: pol.public_access(policy, acl, bucket_pab, account_pab, bucket_name="logs"),
        lambda: pol.denies_insecure_transport(policy, "logs"),
        lambda: pol.cloudtrail_delivery(
            policy,
            "logs",
            None,
            "111122223333",
            "arn:aws:cloudtrail:us-east-1:111122223333:trail/t",
            "o-abc",
            "us-east-1",
        ),
        lambda: pol.readers(policy, "logs", "111122223333", bucket_pab=bucket_pab),
    ]
    for call in calls:
        with contextlib.suppress(pol.PolicyError):
            call()


# --- CloudTrail digests ------------------------------------------------------------------------

DIGEST_FIELDS = {
    "awsAccountId": st.text(max_size=12),
    "digestStartTime": st.sampled_from(["2024-05-01T12:00:00Z", "2024-13-01T00:00:00Z", "x"]),
    "digestEndTime": st.one_of(st.sampled_from(["2024-05-01T13:00:00Z"]), json_values),
    "digestS3Bucket": st.text(max_size=8),
    "digestS3Object": st.text(max_size=8),
    "digestPublicKeyFingerprint": st.text(max_size=8),
    "digestSignatureAlgorithm": st.sampled_from(["SHA256withRSA", "x"]),
    "previousDigestS3Bucket": st.none() | st.text(max_size=4),
    "previousDigestS3Object": st.none() | st.text(max_size=4),
    "previousDigestHashValue": st.none() | st.text(max_size=4),
    "previousDigestHashAlgorithm": st.none() | st.text(max_size=4),
    "previousDigestSignature": st.none() | st.text(max_size=4),
    "logFiles": st.one_of(
        st.lists(
            st.dictionaries(
                st.sampled_from(["s3Bucket", "s3Object", "hashValue", "hashAlgorithm"]), json_values
            ),
            max_size=2,
        ),
        json_values,
    ),
}
digest_documents = st.fixed_dictionaries({}, optional=DIGEST_FIELDS)


@FAST
@given(
    content=st.one_of(
        digest_documents.map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=64),
        json_values.map(lambda v: json.dumps(v).encode()),
    ),
    compress=st.sampled_from(["gzip", "raw", "truncated", "trailing"]),
    signature=st.text(max_size=16),
    algorithm=st.sampled_from(["SHA256withRSA", "MD5"]),
)
def test_digest_parsing_raises_only_digest_format_error(
    content: bytes, compress: str, signature: str, algorithm: str, rsa_key: Any
) -> None:
    data = {
        "gzip": gzip.compress(content),
        "raw": content,
        "truncated": gzip.compress(content)[:-5],
        "trailing": gzip.compress(content) + b"x",
    }[compress]
    try:
        unpacked = dg.gunzip(data)
        parsed = dg.parse_digest(unpacked)
    except dg.DigestFormatError:
        return
    assert parsed.start <= parsed.end or parsed.start > parsed.end  # both parse as times
    message = dg.signing_string(parsed, dg.content_sha256(unpacked))
    try:
        assert dg.verify_signature(rsa_key, message, signature, algorithm) is False
    except ValueError:
        assert algorithm != dg.SIGNATURE_ALGORITHM  # the one documented ValueError


# --- snapshots ---------------------------------------------------------------------------------

inventory_like = st.fixed_dictionaries(
    {
        "kind": st.sampled_from([INVENTORY_KIND, "x"]),
        "schema_version": st.sampled_from([SCHEMA_VERSION, 0, 99, "1"]),
    },
    optional={
        "metadata": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {
                    "tool_version": st.text(max_size=3),
                    "started_at": st.sampled_from(["2024-01-01T00:00:00Z", "x"]),
                    "finished_at": json_values,
                }
            ),
        ),
        "accounts": st.dictionaries(st.text(max_size=3), json_values, max_size=2),
        "trails": json_values,
        "buckets": json_values,
        "log_groups": json_values,
    },
)


@FAST
@given(
    document=st.one_of(
        inventory_like.map(json.dumps),
        json_values.map(json.dumps),
        st.text(max_size=40),
    ),
    raw=st.binary(max_size=20),
)
def test_snapshot_loader_raises_only_user_error(document: str, raw: bytes, tmp_path: Path) -> None:
    for name, data in (("doc.json", document.encode()), ("raw.json", raw)):
        path = tmp_path / name
        path.write_bytes(data)
        try:
            assert isinstance(load_inventory(path), Inventory)
        except UserError as error:
            assert str(error).startswith(str(path))
