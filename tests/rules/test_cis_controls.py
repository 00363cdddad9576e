"""Tests for the CIS monitoring catalogue and for judging filters by meaning against it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import pytest

from trailcheck.rules._cis_controls import MonitoringControl, load_catalogue_json, load_controls
from trailcheck.rules._filter_pattern import (
    And,
    Comparison,
    Expr,
    JsonPattern,
    Or,
    ParseError,
    Pattern,
    matches,
    parse,
    to_text,
)

CONTROLS = load_controls()
BY_KEY = {control.key: control for control in CONTROLS}
KEYS = [control.key for control in CONTROLS]


def tree(text: str) -> Pattern:
    result = parse(text)
    assert not isinstance(result, ParseError), f"{text!r}: {result}"
    return result


def missed_positives(control: MonitoringControl, texts: Sequence[str]) -> list[str]:
    trees = [tree(t) for t in texts]
    return [s.name for s in control.positives if not any(matches(t, s.record) for t in trees)]


def matched_negatives(control: MonitoringControl, texts: Sequence[str]) -> list[str]:
    trees = [tree(t) for t in texts]
    return [s.name for s in control.negatives if any(matches(t, s.record) for t in trees)]


def covers(control: MonitoringControl, *texts: str) -> bool:
    return not missed_positives(control, texts)


# --- the catalogue ---------------------------------------------------------------------------


def test_fifteen_controls_with_their_security_hub_ids() -> None:
    assert KEYS == [
        "unauthorized_api_calls",
        "console_signin_without_mfa",
        "root_usage",
        "iam_policy_changes",
        "cloudtrail_config_changes",
        "console_auth_failures",
        "cmk_disable_or_deletion",
        "s3_bucket_policy_changes",
        "aws_config_changes",
        "security_group_changes",
        "nacl_changes",
        "network_gateway_changes",
        "route_table_changes",
        "vpc_changes",
        "organizations_changes",
    ]
    hub = {c.key: c.security_hub_id for c in CONTROLS}
    assert hub.pop("organizations_changes") is None
    assert sorted(hub.values(), key=lambda v: int(str(v).split(".")[1])) == [
        f"CloudWatch.{n}" for n in range(1, 15)
    ]
    assert hub["root_usage"] == "CloudWatch.1"
    assert hub["unauthorized_api_calls"] == "CloudWatch.2"


@pytest.mark.parametrize("key", KEYS)
def test_cis_ids_by_version(key: str) -> None:
    ids = BY_KEY[key].cis_ids
    for version in ("1.4.0", "3.0.0", "5.0.0"):
        assert ids[version].startswith("4.")
    for version in ("6.0.0", "7.0.0"):
        assert ids[version].startswith("5.")
    if key != "organizations_changes":
        assert ids["1.2.0"].startswith("3.")
    else:
        assert "1.2.0" not in ids


def test_ids_follow_the_benchmark_numbering() -> None:
    for number, control in enumerate(CONTROLS, start=1):
        assert control.cis_ids["5.0.0"] == f"4.{number}"
        assert control.cis_ids["7.0.0"] == f"5.{number}"


def test_loading_returns_fresh_records() -> None:
    first, second = load_controls(), load_controls()
    assert first == second
    first[0].positives[0].record["eventName"] = "Tampered"
    assert second[0].positives[0].record["eventName"] != "Tampered"
    assert load_controls()[0].positives[0].record["eventName"] != "Tampered"


def test_catalogue_documents_its_decisions() -> None:
    document = load_catalogue_json()
    assert document["schema_version"] == 1
    for topic in ("unauthorized_api_calls", "console_signin_without_mfa", "recommended_pattern"):
        assert document["decisions"][topic]
    assert "over-broad" in BY_KEY["unauthorized_api_calls"].notes
    yes = [s for s in BY_KEY["console_signin_without_mfa"].neutrals if "YES" in s.name]
    assert yes and yes[0].record["additionalEventData"]["MFAUsed"] == "YES"


@pytest.mark.parametrize("key", KEYS)
def test_records_are_realistic(key: str) -> None:
    control = BY_KEY[key]
    samples = [*control.positives, *control.negatives, *control.neutrals]
    assert len(control.positives) >= 1 and len(control.negatives) >= 2
    for sample in samples:
        record = sample.record
        for field in ("eventVersion", "eventTime", "eventSource", "eventName", "awsRegion"):
            assert isinstance(record[field], str), (sample.name, field)
        assert "sourceIPAddress" in record and "eventID" in record
        assert record["userIdentity"]["type"] in {"IAMUser", "AssumedRole", "Root", "AWSService"}
        assert record["eventSource"].endswith(".amazonaws.com")
        assert json.loads(json.dumps(record)) == record
    names = [s.name for s in samples]
    assert len(names) == len(set(names))
    event_ids = [s.record["eventID"] for s in samples]
    assert len(event_ids) == len(set(event_ids))


@pytest.mark.parametrize("key", KEYS)
def test_every_listed_event_name_has_a_positive_record(key: str) -> None:
    control = BY_KEY[key]
    positive_names = {s.record["eventName"] for s in control.positives}
    assert set(control.event_names) <= positive_names
    if control.event_source:
        assert {s.record["eventSource"] for s in control.positives} == {control.event_source}


def test_unauthorized_positives_cover_the_error_codes() -> None:
    codes = {s.record["errorCode"] for s in BY_KEY["unauthorized_api_calls"].positives}
    assert codes == {"Client.UnauthorizedOperation", "AccessDenied", "AccessDeniedException"}
    negatives = BY_KEY["unauthorized_api_calls"].negatives
    assert {s.basis for s in negatives} == {"look_alike", "cis_exclusion"}
    assert any("errorCode" not in s.record for s in negatives)


def test_console_sign_in_records_have_the_sign_in_shape() -> None:
    for sample in BY_KEY["console_auth_failures"].positives:
        record = sample.record
        assert record["eventType"] == "AwsConsoleSignIn"
        assert record["responseElements"] == {"ConsoleLogin": "Failure"}
        assert record["errorMessage"] == "Failed authentication"
        assert "accessKeyId" not in record["userIdentity"]


# --- every CIS text parses; recommended texts are exact --------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_all_texts_parse(key: str) -> None:
    control = BY_KEY[key]
    for text in (
        control.recommended_pattern,
        *control.accepted_patterns,
        *(h.pattern for h in control.historic_patterns),
    ):
        tree(text)


@pytest.mark.parametrize("key", KEYS)
def test_recommended_pattern_matches_all_positives_and_no_negatives(key: str) -> None:
    control = BY_KEY[key]
    for text in (control.recommended_pattern, *control.accepted_patterns):
        assert missed_positives(control, [text]) == []
        assert matched_negatives(control, [text]) == []


@pytest.mark.parametrize(
    ("key", "label"),
    [(c.key, h.label) for c in CONTROLS for h in c.historic_patterns],
)
def test_historic_patterns_behave_as_declared(key: str, label: str) -> None:
    control = BY_KEY[key]
    (historic,) = [h for h in control.historic_patterns if h.label == label]
    missed = missed_positives(control, [historic.pattern])
    over = matched_negatives(control, [historic.pattern])
    behaviour = "incomplete" if missed else "over_broad" if over else "equivalent"
    assert behaviour == historic.behaviour, (missed, over)


def test_unauthorized_precedence_reading() -> None:
    control = BY_KEY["unauthorized_api_calls"]
    expr = tree(control.recommended_pattern)
    assert isinstance(expr, JsonPattern) and isinstance(expr.expr, Or)
    first, second = expr.expr.items
    assert isinstance(first, Comparison) and isinstance(second, And)
    # the 1.3-1.5 text counts ordinary successful calls
    (old,) = [h for h in control.historic_patterns if h.label.startswith("CIS 1.3.0")]
    assert "successful_read" in matched_negatives(control, [old.pattern])


def test_mfa_uppercase_yes_nuance() -> None:
    control = BY_KEY["console_signin_without_mfa"]
    (yes,) = [s for s in control.neutrals if s.name == "root_success_with_mfa_YES_uppercase"]
    assert matches(tree(control.recommended_pattern), yes.record)
    assert not matches(tree(control.accepted_patterns[0]), yes.record)
    assert not matches(
        tree('{ $.eventName = "ConsoleLogin" && $.additionalEventData.MFAUsed = "No" }'),
        yes.record,
    )


# --- judged by meaning: equivalent rewrites cover --------------------------------------------


def _reverse(expr: Expr) -> Expr:
    if isinstance(expr, And):
        return And(tuple(_reverse(i) for i in reversed(expr.items)))
    if isinstance(expr, Or):
        return Or(tuple(_reverse(i) for i in reversed(expr.items)))
    return expr


def _over_parenthesised(expr: Expr) -> str:
    if isinstance(expr, Comparison):
        return "(" + to_text(JsonPattern(expr))[2:-2] + ")"
    joiner = " && " if isinstance(expr, And) else " || "
    return "(" + joiner.join(_over_parenthesised(i) for i in expr.items) + ")"


@pytest.mark.parametrize("key", KEYS)
def test_reordered_clauses_are_equivalent(key: str) -> None:
    control = BY_KEY[key]
    parsed = tree(control.recommended_pattern)
    assert isinstance(parsed, JsonPattern)
    rewritten = to_text(JsonPattern(_reverse(parsed.expr)))
    assert rewritten != to_text(parsed) or not isinstance(parsed.expr, And | Or)
    assert missed_positives(control, [rewritten]) == []
    assert matched_negatives(control, [rewritten]) == []


@pytest.mark.parametrize("key", KEYS)
def test_extra_parentheses_and_spacing_are_equivalent(key: str) -> None:
    control = BY_KEY[key]
    parsed = tree(control.recommended_pattern)
    assert isinstance(parsed, JsonPattern)
    heavy = "{(" + _over_parenthesised(parsed.expr) + ")}"
    compact = to_text(parsed)
    for spaced in (" = ", " != ", " && ", " || ", "{ ", " }"):
        compact = compact.replace(spaced, spaced.strip())
    for text in (heavy, compact):
        assert tree(text) == parsed
        assert covers(control, text)


@pytest.mark.parametrize("key", [c.key for c in CONTROLS if len(c.event_names) > 1])
def test_a_control_split_across_two_filters(key: str) -> None:
    control = BY_KEY[key]
    names = list(control.event_names)
    half = len(names) // 2 or 1

    def build(part: list[str]) -> str:
        clauses = " || ".join(f'$.eventName = "{n}"' for n in part)
        return f'{{ $.eventSource = "{control.event_source}" && ({clauses}) }}'

    first, second = build(names[:half]), build(names[half:])
    if len(names) > 1:
        assert not covers(control, first)
        assert not covers(control, second)
    assert covers(control, first, second)
    assert matched_negatives(control, [first, second]) == []


def test_unauthorized_split_across_two_filters() -> None:
    control = BY_KEY["unauthorized_api_calls"]
    ec2 = '{ $.errorCode = "*UnauthorizedOperation" }'
    denied = (
        '{ $.errorCode = "AccessDenied*" && $.sourceIPAddress != "delivery.logs.amazonaws.com"'
        ' && $.eventName != "HeadBucket" }'
    )
    assert not covers(control, ec2)
    assert not covers(control, denied)
    assert covers(control, ec2, denied)
    assert matched_negatives(control, [ec2, denied]) == []


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (
            "cloudtrail_config_changes",
            '{($.eventName="StopLogging")||($.eventName="StartLogging")||($.eventName="DeleteTrail")'
            '||($.eventName="UpdateTrail")||($.eventName="CreateTrail")}',
        ),
        (
            "cloudtrail_config_changes",
            "{ ($.eventSource = cloudtrail.amazonaws.com) && (($.eventName = *Trail) || "
            "($.eventName = StartLogging) || ($.eventName = StopLogging)) }",
        ),
        (
            "console_signin_without_mfa",
            '{ $.eventName = "ConsoleLogin" && $.additionalEventData.MFAUsed != "Yes" }',
        ),
        (
            "root_usage",
            '{ $.eventType != "AwsServiceEvent" && $.userIdentity.invokedBy NOT EXISTS'
            ' && $.userIdentity.type = "Root" }',
        ),
        ("console_auth_failures", '{ $.errorMessage = "Failed authentication" }'),
        (
            "cmk_disable_or_deletion",
            "{ $.eventSource = %^kms\\.% && ($.eventName = DisableKey ||"
            " $.eventName = ScheduleKeyDeletion) }",
        ),
    ],
)
def test_other_equivalent_rewrites_cover(key: str, text: str) -> None:
    assert covers(BY_KEY[key], text)


def test_a_broader_filter_covers_but_is_over_broad() -> None:
    control = BY_KEY["console_auth_failures"]
    broad = '{ $.eventName = "ConsoleLogin" }'
    assert covers(control, broad)
    assert matched_negatives(control, [broad])


# --- look right, never match -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text"),
    [
        # && where || was meant: one record never has two event names
        (
            "cloudtrail_config_changes",
            "{ ($.eventName = CreateTrail) && ($.eventName = UpdateTrail) && "
            "($.eventName = DeleteTrail) && ($.eventName = StartLogging) && "
            "($.eventName = StopLogging) }",
        ),
        (
            "cmk_disable_or_deletion",
            "{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)&&"
            "($.eventName=ScheduleKeyDeletion)) }",
        ),
        # wrong field path
        (
            "cloudtrail_config_changes",
            "{ ($.eventname = StopLogging) || ($.eventname = DeleteTrail) }",
        ),
        (
            "console_signin_without_mfa",
            '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.mfaUsed != "Yes") }',
        ),
        (
            "unauthorized_api_calls",
            '{ ($.errorcode = "*UnauthorizedOperation") || ($.errorcode = "AccessDenied*") }',
        ),
        ("root_usage", '{ $.userIdentity.Type = "Root" && $.userIdentity.invokedBy NOT EXISTS }'),
        ("unauthorized_api_calls", '{ $.Records[0].errorCode = "AccessDenied*" }'),
        # wrong case in the value
        (
            "console_auth_failures",
            '{ ($.eventName = consolelogin) && ($.errorMessage = "Failed authentication") }',
        ),
        ("root_usage", '{ $.userIdentity.type = "root" && $.userIdentity.invokedBy NOT EXISTS }'),
        (
            "console_auth_failures",
            '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "failed authentication") }',
        ),
        # single quotes are literal characters
        ("root_usage", "{ $.userIdentity.type = 'Root' && $.userIdentity.invokedBy NOT EXISTS }"),
        # '!=' on a field that is absent is false: the CIS author needed NOT EXISTS
        (
            "root_usage",
            '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy != "x.amazonaws.com" }',
        ),
        # a string never equals a JSON boolean
        (
            "cmk_disable_or_deletion",
            '{ $.eventSource = kms.amazonaws.com && $.readOnly = "false" && '
            "($.eventName = DisableKey || $.eventName = ScheduleKeyDeletion) }",
        ),
        # a neutered clause
        (
            "cloudtrail_config_changes",
            "{ (($.eventName = StopLogging) || ($.eventName = DeleteTrail)) && "
            '$.userIdentity.arn = "arn:aws:iam::111122223333:user/nobody" }',
        ),
        # the wrong event source
        (
            "iam_policy_changes",
            '{ $.eventSource = "organizations.amazonaws.com" && ($.eventName = CreatePolicy || '
            "$.eventName = DeletePolicy) }",
        ),
    ],
)
def test_look_right_but_miss_positives(key: str, text: str) -> None:
    control = BY_KEY[key]
    missed = missed_positives(control, [text])
    assert missed, text


def test_never_matching_patterns_match_nothing_at_all() -> None:
    and_instead_of_or = tree("{ ($.eventName = CreateTrail) && ($.eventName = UpdateTrail) }")
    records = [s.record for c in CONTROLS for s in (*c.positives, *c.negatives, *c.neutrals)]
    assert not any(matches(and_instead_of_or, r) for r in records)


@pytest.mark.parametrize(
    "text",
    [
        # Prowler 4.0+ transcriptions strip quotes: not a valid pattern
        "{ ($.eventName = ConsoleLogin) && ($.errorMessage = Failed authentication) }",
        # Steampipe PDF line-break artifact
        "{($.eventNa me=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)}",
        # Steampipe v600 Organizations text lacks one quote
        '{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake) }',
    ],
)
def test_transcription_artifacts_do_not_parse(text: str) -> None:
    assert isinstance(parse(text), ParseError)


# --- speed -----------------------------------------------------------------------------------


def test_evaluating_many_filters_is_fast() -> None:
    texts = []
    for control in CONTROLS:
        parsed = tree(control.recommended_pattern)
        assert isinstance(parsed, JsonPattern)
        for variant in range(7):
            texts.append(to_text(parsed) + " " * variant)  # distinct texts, same meaning
    records = [s.record for c in CONTROLS for s in (*c.positives, *c.negatives, *c.neutrals)]
    start = time.perf_counter()
    for control in CONTROLS:
        trees = [tree(t) for t in texts]
        for sample in (*control.positives, *control.negatives):
            any(matches(t, sample.record) for t in trees)
    assert len(texts) >= 100 and len(records) > 150
    assert time.perf_counter() - start < 5.0
