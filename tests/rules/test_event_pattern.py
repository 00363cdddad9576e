"""Tests for the EventBridge event-pattern matcher (trailcheck.rules._event_pattern)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailcheck.rules._cis_controls import load_controls
from trailcheck.rules._event_pattern import (
    CONSOLE_SIGN_IN_DETAIL_TYPES,
    DETAIL_TYPE_API_CALL,
    DETAIL_TYPE_CONSOLE_SIGN_IN,
    DETAIL_TYPE_CONSOLE_SIGNIN_DOCS,
    EventPattern,
    Exact,
    FieldRule,
    ObjectRule,
    ParseError,
    cloudtrail_detail_type,
    cloudtrail_record_as_event,
    matches,
    matches_cloudtrail_record,
    parse_event_pattern,
)

STOP_LOGGING = {
    "eventVersion": "1.10",
    "userIdentity": {"type": "IAMUser", "userName": "christophe"},
    "eventTime": "2024-07-31T13:06:24Z",
    "eventSource": "cloudtrail.amazonaws.com",
    "eventName": "StopLogging",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.1",
    "eventType": "AwsApiCall",
    "eventID": "10163ed2-2253-469d-a5ee-cbc6651f8934",
    "requestParameters": {"name": "trail"},
    "responseElements": None,
}
CONSOLE_LOGIN = {
    "eventVersion": "1.08",
    "userIdentity": {"type": "IAMUser", "userName": "alice"},
    "eventTime": "2024-08-02T08:53:24Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "eventType": "AwsConsoleSignIn",
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"MFAUsed": "No"},
}


def pattern(document: dict[str, Any]) -> EventPattern:
    result = parse_event_pattern(json.dumps(document))
    assert isinstance(result, EventPattern), result
    return result


def check(document: dict[str, Any], event: dict[str, Any]) -> bool:
    return matches(pattern(document), event)


# --- CloudTrail events -----------------------------------------------------------------------


def test_cloudtrail_rule_from_the_eventbridge_reference() -> None:
    rule = pattern(
        {
            "source": ["aws.cloudtrail"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["cloudtrail.amazonaws.com"],
                "eventName": ["StopLogging", "DeleteTrail"],
            },
        }
    )
    event = cloudtrail_record_as_event(STOP_LOGGING, "us-east-1", "111122223333")
    assert matches(rule, event)
    assert not matches(
        rule,
        cloudtrail_record_as_event(
            {**STOP_LOGGING, "eventName": "StartLogging"}, "us-east-1", "111122223333"
        ),
    )


def test_rule_without_source_still_matches() -> None:
    event = cloudtrail_record_as_event(STOP_LOGGING, "us-east-1", "111122223333")
    assert check({"detail": {"eventName": [{"prefix": "Stop"}]}}, event)


def test_record_as_event_shape() -> None:
    event = cloudtrail_record_as_event(STOP_LOGGING, "eu-west-1", "111122223333")
    assert event["detail-type"] == DETAIL_TYPE_API_CALL
    assert event["source"] == "aws.cloudtrail"
    assert event["account"] == "111122223333"
    assert event["region"] == "eu-west-1"
    assert event["time"] == "2024-07-31T13:06:24Z"
    assert event["id"] == STOP_LOGGING["eventID"]
    assert event["detail"] is STOP_LOGGING


def test_console_sign_in_detail_type_and_source() -> None:
    event = cloudtrail_record_as_event(CONSOLE_LOGIN, "us-east-1", "111122223333")
    assert (
        event["detail-type"] == DETAIL_TYPE_CONSOLE_SIGN_IN == "AWS Console Sign In via CloudTrail"
    )
    assert event["source"] == "aws.signin"
    assert CONSOLE_SIGN_IN_DETAIL_TYPES == (
        "AWS Console Sign In via CloudTrail",
        "AWS Console Signin via CloudTrail",
    )


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("AwsApiCall", "AWS API Call via CloudTrail"),
        ("AwsServiceEvent", "AWS Service Event via CloudTrail"),
        ("AwsConsoleAction", "AWS Console Action via CloudTrail"),
        ("AwsCloudTrailInsight", "AWS Insight via CloudTrail"),
        ("AwsConsoleSignIn", "AWS Console Sign In via CloudTrail"),
        ("SomethingNew", "AWS API Call via CloudTrail"),
    ],
)
def test_detail_type_by_event_type(event_type: str, expected: str) -> None:
    assert cloudtrail_detail_type({"eventName": "X", "eventType": event_type}) == expected


@pytest.mark.parametrize("spelling", CONSOLE_SIGN_IN_DETAIL_TYPES)
def test_either_sign_in_spelling_is_accepted(spelling: str) -> None:
    rule = pattern(
        {
            "source": ["aws.signin"],
            "detail-type": [spelling],
            "detail": {"eventName": ["ConsoleLogin"]},
        }
    )
    assert matches_cloudtrail_record(rule, CONSOLE_LOGIN, "us-east-1", "111122223333")
    raw = cloudtrail_record_as_event(CONSOLE_LOGIN, "us-east-1", "111122223333")
    assert matches(rule, raw) is (spelling == DETAIL_TYPE_CONSOLE_SIGN_IN)
    # an API call never takes a sign-in detail-type
    assert not matches_cloudtrail_record(rule, STOP_LOGGING, "us-east-1", "111122223333")


def test_docs_spelling_constant() -> None:
    assert DETAIL_TYPE_CONSOLE_SIGNIN_DOCS == "AWS Console Signin via CloudTrail"


def test_content_rule_with_the_docs_spelling() -> None:
    trail_rule = pattern({"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging"]}})
    mfa_rule = pattern(
        {
            "detail-type": [DETAIL_TYPE_CONSOLE_SIGNIN_DOCS],
            "detail": {"additionalEventData": {"MFAUsed": [{"anything-but": "Yes"}]}},
        }
    )
    assert matches_cloudtrail_record(trail_rule, STOP_LOGGING, "us-east-1", "1")
    assert matches_cloudtrail_record(mfa_rule, CONSOLE_LOGIN, "us-east-1", "1")
    assert not matches_cloudtrail_record(trail_rule, CONSOLE_LOGIN, "us-east-1", "1")


def test_rules_built_from_the_cis_event_names_cover_the_positives() -> None:
    for control in load_controls():
        if not control.event_source or not control.event_names:
            continue
        service = control.event_source.split(".")[0]
        rule = pattern(
            {
                "source": [f"aws.{service}"],
                "detail": {
                    "eventSource": [control.event_source],
                    "eventName": list(control.event_names),
                },
            }
        )
        for sample in control.positives:
            assert matches_cloudtrail_record(rule, sample.record, "us-east-1", "1"), (
                control.key,
                sample.name,
            )


# --- the pattern language --------------------------------------------------------------------

EVENT = {
    "source": "aws.ec2",
    "detail": {
        "state": "running",
        "name": "EventBridge-Test",
        "count": 300,
        "ratio": 0.5,
        "flag": True,
        "nothing": None,
        "empty": "",
        "tags": ["prod", "web"],
        "ip": "10.0.0.25",
        "ip6": "2001:db8::1",
        "path": "/usr/lib/x",
        "star": "a*b",
        "obj": {"k": "v"},
        "items": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
    },
}


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ({"state": ["running"]}, True),
        ({"state": ["stopped", "running"]}, True),
        ({"state": ["Running"]}, False),
        ({"missing": ["running"]}, False),
        ({"tags": ["web"]}, True),
        ({"tags": ["dev", "qa"]}, False),
        ({"count": [300]}, True),
        ({"count": [300.0]}, False),
        ({"count": ["300"]}, False),
        ({"ratio": [0.5]}, True),
        ({"flag": [True]}, True),
        ({"flag": ["true"]}, False),
        ({"nothing": [None]}, True),
        ({"nothing": [""]}, False),
        ({"empty": [""]}, True),
        ({"empty": [None]}, False),
        ({"state": [{"prefix": "run"}]}, True),
        ({"state": [{"prefix": "Run"}]}, False),
        ({"state": [{"prefix": {"equals-ignore-case": "RUN"}}]}, True),
        ({"state": [{"suffix": "ing"}]}, True),
        ({"state": [{"suffix": {"equals-ignore-case": "ING"}}]}, True),
        ({"name": [{"equals-ignore-case": "eventbridge-test"}]}, True),
        ({"name": [{"wildcard": "Event*Test"}]}, True),
        ({"name": [{"wildcard": "Event*test"}]}, False),
        ({"star": [{"wildcard": "a\\*b"}]}, True),
        ({"state": [{"wildcard": "a\\*b"}]}, False),
        ({"state": [{"anything-but": "stopped"}]}, True),
        ({"state": [{"anything-but": ["stopped", "running"]}]}, False),
        ({"count": [{"anything-but": [100, 200]}]}, True),
        ({"count": [{"anything-but": 300}]}, False),
        ({"state": [{"anything-but": {"prefix": "run"}}]}, False),
        ({"state": [{"anything-but": {"suffix": "ped"}}]}, True),
        ({"state": [{"anything-but": {"equals-ignore-case": ["RUNNING"]}}]}, False),
        ({"path": [{"anything-but": {"wildcard": "*/lib/*"}}]}, False),
        ({"missing": [{"anything-but": "x"}]}, False),
        ({"nothing": [{"anything-but": "x"}]}, False),
        ({"state": [{"exists": True}]}, True),
        ({"missing": [{"exists": False}]}, True),
        ({"missing": [{"exists": True}]}, False),
        ({"obj": [{"exists": False}]}, True),
        ({"nothing": [{"exists": True}]}, True),
        ({"count": [{"numeric": [">", 0, "<=", 300]}]}, True),
        ({"count": [{"numeric": [">", 300]}]}, False),
        ({"count": [{"numeric": ["=", 3.0e2]}]}, True),
        ({"ratio": [{"numeric": ["<", 1]}]}, True),
        ({"flag": [{"numeric": [">", 0]}]}, False),
        ({"state": [{"numeric": [">", 0]}]}, False),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, True),
        ({"ip": [{"cidr": "10.0.1.0/24"}]}, False),
        ({"ip6": [{"cidr": "2001:db8::/32"}]}, True),
        ({"state": [{"cidr": "10.0.0.0/8"}]}, False),
        ({"obj": {"k": ["v"]}}, True),
        ({"obj": {"k": ["w"]}}, False),
        ({"obj": ["v"]}, False),
        ({"missing": {"k": [{"exists": False}]}}, True),
        ({"items": {"a": [1], "b": ["x"]}}, True),
        ({"items": {"a": [1], "b": ["y"]}}, False),
        ({"state": ["running"], "count": [1]}, False),
    ],
)
def test_leaf_operators(detail: dict[str, Any], expected: bool) -> None:
    assert check({"detail": detail}, EVENT) is expected


def test_or_branches_nest() -> None:
    either = {
        "detail": {
            "$or": [
                {"state": ["stopped"]},
                {"$or": [{"count": [{"numeric": [">", 1000]}]}, {"tags": ["web"]}]},
            ]
        }
    }
    assert check(either, EVENT)
    neither = {"detail": {"$or": [{"state": ["stopped"]}, {"count": [1]}]}}
    assert not check(neither, EVENT)
    top = {"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["running"]}}]}
    assert check(top, EVENT)


def test_pattern_tree_is_frozen_and_cached() -> None:
    text = '{"source": ["aws.iam"]}'
    parsed = parse_event_pattern(text)
    assert parsed is parse_event_pattern(text)
    assert parsed == EventPattern(ObjectRule((("source", FieldRule((Exact("aws.iam"),))),)))


@pytest.mark.parametrize(
    ("text", "fragment", "path"),
    [
        ("{x", "invalid JSON", ""),
        ("[1]", "must be a JSON object", ""),
        ("{}", "must not be empty", ""),
        ('{"source": "aws.iam"}', "arrays or objects", "source"),
        ('{"source": []}', "must not be empty", "source"),
        ('{"detail": {}}', "must not be empty", "detail"),
        ('{"a": [[1]]}', "values or operator objects", "a"),
        ('{"a": [{"between": [1, 2]}]}', "unknown operator", "a"),
        ('{"a": [{"prefix": "x", "suffix": "y"}]}', "exactly one key", "a"),
        ('{"a": [{"prefix": 1}]}', "needs a string", "a"),
        ('{"a": [{"exists": "yes"}]}', "true or false", "a"),
        ('{"a": [{"numeric": [">", "1"]}]}', "bad numeric", "a"),
        ('{"a": [{"numeric": [">", 1, ">", 2]}]}', "lower and one upper", "a"),
        ('{"a": [{"numeric": ["=", 1, "<", 2]}]}', "lower and one upper", "a"),
        ('{"a": [{"numeric": [">", 6e9]}]}', "outside", "a"),
        ('{"a": [{"wildcard": "a**b"}]}', "consecutive", "a"),
        ('{"a": [{"wildcard": "a\\\\qb"}]}', "backslash", "a"),
        ('{"a": [{"anything-but": ["x", 1]}]}', "all strings or all numbers", "a"),
        ('{"a": [{"anything-but": {"numeric": [">", 1]}}]}', "unsupported", "a"),
        ('{"a": [{"cidr": "10.0.0.300/24"}]}', "invalid cidr", "a"),
        ('{"d": {"$or": [{"a": ["x"]}]}}', "at least two", "d.$or"),
        ('{"$or": [{"a": ["x"]}, "b"]}', "must be objects", "$or"),
    ],
)
def test_parse_errors(text: str, fragment: str, path: str) -> None:
    result = parse_event_pattern(text)
    assert isinstance(result, ParseError), result
    assert fragment in result.message
    assert result.path == path
    assert str(result)


def test_json_syntax_error_has_a_position() -> None:
    result = parse_event_pattern('{"a": [1,]}')
    assert isinstance(result, ParseError)
    assert result.position == 9


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["a", "b", "$or", "prefix", "numeric", "anything-but", "exists"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(_json_values, _json_values)
def test_parse_and_match_never_raise(document: Any, event: Any) -> None:
    result = parse_event_pattern(json.dumps(document))
    if isinstance(result, EventPattern):
        assert matches(result, event if isinstance(event, dict) else {"a": event}) in (True, False)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_random_text_never_raises(text: str) -> None:
    assert isinstance(parse_event_pattern(text), EventPattern | ParseError)
