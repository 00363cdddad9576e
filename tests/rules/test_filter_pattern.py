"""Tests for the CloudWatch Logs filter-pattern engine (trailcheck.rules._filter_pattern)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailcheck.rules._cis_controls import load_controls
from trailcheck.rules._filter_pattern import (
    And,
    AnyFields,
    AnyIndex,
    AnyKey,
    Comparison,
    DelimitedField,
    DelimitedPattern,
    FieldRef,
    Index,
    JsonPattern,
    Key,
    MatchAll,
    NumberValue,
    Op,
    Or,
    ParseError,
    Pattern,
    RegexPattern,
    RegexValue,
    Selector,
    StringValue,
    Term,
    TermKind,
    TermPattern,
    check_regex,
    comparison_matches,
    comparisons,
    make_and,
    make_or,
    matches,
    parse,
    to_text,
)

# The two test events of the AWS "Filter pattern syntax" page (facts.md §2.3).
DOC_COMPOUND_EVENT = json.loads(
    '{"user":{"id":1,"email":"John.Stiles@example.com"},'
    '"users":[{"id":2,"email":"John.Doe@example.com"},{"id":3,"email":"Jane.Doe@example.com"}],'
    '"actions":["GET","PUT","DELETE"],"coordinates":[[0,1,2],[4,5,6],[7,8,9]]}'
)
DOC_EVENT = json.loads(
    '{"eventType":"UpdateTrail","sourceIPAddress":"111.111.111.111",'
    '"arrayKey":["value","another value"],'
    '"objectList":[{"name":"a","id":1},{"name":"b","id":2}],'
    '"SomeObject":null,"cluster.name":"c"}'
)
APACHE_LINE = (
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534'
)
APACHE_404 = '127.0.0.2 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'


def tree(text: str) -> Pattern:
    result = parse(text)
    assert not isinstance(result, ParseError), f"{text!r}: {result}"
    return result


def check(text: str, event: dict[str, Any] | str) -> bool:
    return matches(tree(text), event)


# --- documented examples ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch"'
            ' && $.actions[2] = "nonmatch" }',
            True,
        ),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch")'
            ' && $.actions[2] = "nonmatch" }',
            False,
        ),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
        ("{ $.coordinates[0][1] = 1 }", True),
        ("{ $.users[1].id = 3 }", True),
    ],
)
def test_doc_compound_examples(text: str, expected: bool) -> None:
    assert check(text, DOC_COMPOUND_EVENT) is expected


@pytest.mark.parametrize(
    "text",
    [
        '{ $.eventType = "UpdateTrail" }',
        "{ $.sourceIPAddress != 123.123.* }",
        '{ $.arrayKey[0] = "value" }',
        "{ $.objectList[1].id = 2 }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        "{ $.['cluster.name'] = \"c\" }",
        "{ $.eventType = %Trail% }",
        "{ $.arrayKey[*] = %val.{2}% }",
        r"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }",
        '{ $.eventType = "*" && $.sourceIPAddress = "*" }',
        "{ $.objectList[*].name = b }",
    ],
)
def test_doc_json_examples_match(text: str) -> None:
    assert check(text, DOC_EVENT)


def test_doc_json_examples_on_a_json_string_event() -> None:
    assert check('{ $.eventType = "UpdateTrail" }', json.dumps(DOC_EVENT))
    assert not check('{ $.eventType = "UpdateTrail" }', "not json at all")
    assert not check('{ $.eventType = "UpdateTrail" }', "[1, 2]")


def test_numbers_with_sign_and_exponent() -> None:
    event = {"number": [1000, -5, 2.5], "text": "1000"}
    assert check("{ $.number[0] = 1e+3 }", event)
    assert check("{ $.number[0] = 1000.0 }", event)
    assert check("{ $.number[1] = -5 }", event)
    assert check("{ $.number[1] < -4.5 }", event)
    assert check("{ $.number[2] >= 2.5 && $.number[2] <= 2.5 }", event)
    assert check("{ $.number[0] > +999 }", event)
    assert not check("{ $.number[0] > 1000 }", event)
    # numbers compare with numbers only; a number-looking string is not a number
    assert not check("{ $.text = 1000 }", event)
    assert not check("{ $.text > 1 }", event)
    # a string value (quoted, or with a wildcard) compares with the number's text
    assert check('{ $.number[0] = "1000" }', event)
    assert check("{ $.number[0] = 10* }", event)
    assert check("{ $.number[0] = * }", event)


@pytest.mark.parametrize(
    ("text", "event", "expected"),
    [
        ("ERROR", "[ERROR] Caught IllegalArgumentException", True),
        ("ERROR", "ERROR: disk full", True),
        ("ERROR", "ERRORS: 0", False),
        ("ERROR", "error: lower case", False),
        ("ERROR ARGUMENTS", "ERROR with ARGUMENTS", True),
        ("ERROR ARGUMENTS", "ERROR alone", False),
        ("?ERROR ?ARGUMENTS", "only ARGUMENTS here", True),
        ("?ERROR ?ARGUMENTS", "nothing here", False),
        ("?ERROR ?ARGUMENTS REQUEST", "a REQUEST without the others", True),
        ("?ERROR ?ARGUMENTS REQUEST", "ERROR ARGUMENTS", False),
        ('"INTERNAL SERVER ERROR"', "500 INTERNAL SERVER ERROR at /", True),
        ('"INTERNAL SERVER ERROR"', "INTERNAL ERROR SERVER", False),
        ("ERROR -ARGUMENTS", "ERROR only", True),
        ("ERROR -ARGUMENTS", "ERROR and ARGUMENTS", False),
        ('" "', "anything", True),
        ("", "anything", True),
        ("   ", "anything", True),
    ],
)
def test_term_patterns(text: str, event: str, expected: bool) -> None:
    assert check(text, event) is expected


def test_blank_patterns_are_match_all() -> None:
    assert parse("") == MatchAll()
    assert parse('" "') == MatchAll()
    assert to_text(MatchAll()) == ""
    assert matches(MatchAll(), {"anything": 1})


def test_term_patterns_on_a_cloudtrail_record() -> None:
    record = {"eventName": "ConsoleLogin", "errorMessage": "Failed authentication"}
    assert check("ConsoleLogin", record)
    assert check('"Failed authentication"', record)
    assert not check("Console", record)


def test_standalone_regex_pattern() -> None:
    assert tree("%ERR[0-9]+%") == RegexPattern("ERR[0-9]+")
    assert check("%ERR[0-9]+%", "got ERR42 here")
    assert not check("%^ERR[0-9]+%", "got ERR42 here")
    assert isinstance(parse("%ERR% extra"), ParseError)


@pytest.mark.parametrize(
    ("text", "event", "expected"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", APACHE_LINE, True),
        ("[ip, user, username, timestamp, request, status_code]", APACHE_LINE, False),
        (
            r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*,"
            " status_code = 4*, bytes]",
            APACHE_404,
            True,
        ),
        (
            r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*,"
            " status_code = 4*, bytes]",
            APACHE_LINE,
            False,
        ),
        ("[..., request =*.html*, status_code = 4*, bytes]", APACHE_404, True),
        ("[..., status_code = 404 || status_code = 410, bytes]", APACHE_404, True),
        ("[..., status_code = 404 || status_code = 410, bytes]", APACHE_LINE, False),
        ("[..., status_code >= 200 && status_code < 300, bytes > 1000]", APACHE_LINE, True),
        ("[ip, ...]", APACHE_LINE, True),
        ('[..., request = "GET /apache_pb.gif HTTP/1.0", ...]', APACHE_LINE, True),
        ("[w1=ERROR, w2]", "ERROR Exception", True),
        ("[w1=ERROR, w2]", "WARNING Exception", False),
        ("[w1!=ERROR && w1!=WARNING, w2]", "INFO started", True),
        ("[w1!=ERROR && w1!=WARNING, w2]", "WARNING started", False),
    ],
)
def test_space_delimited_patterns(text: str, event: str, expected: bool) -> None:
    assert check(text, event) is expected


# --- semantics the docs leave open, decided in the module docstring --------------------------


def test_missing_field_is_false_for_equal_and_not_equal() -> None:
    # DataBiosphere/azul#5884: the console tester did not match this event.
    pattern = (
        '{($.errorCode = "AccessDenied") && '
        '($.userIdentity.invokedBy != "cloudfront.amazonaws.com")}'
    )
    event = {"errorCode": "AccessDenied", "userIdentity": {"accountId": "anonymous"}}
    assert not check(pattern, event)
    assert not check('{ $.missing = "x" }', event)
    assert not check('{ $.missing != "x" }', event)
    assert not check("{ $.missing > 1 }", event)
    assert not check("{ $.missing IS NULL }", event)
    assert check("{ $.missing NOT EXISTS }", event)
    assert not check("{ $.errorCode NOT EXISTS }", event)


def test_selector_on_object_or_array_never_matches() -> None:
    event = {"obj": {"a": 1}, "arr": [1, 2], "nul": None}
    for selector in ("$.obj", "$.arr"):
        assert not check(f'{{ {selector} = "*" }}', event)
        assert not check(f'{{ {selector} != "x" }}', event)
        assert not check(f"{{ {selector} IS NULL }}", event)
        assert not check(f"{{ {selector} NOT EXISTS }}", event)
    # no implicit stepping into arrays
    assert not check("{ $.arr.a = 1 }", event)


def test_null_and_boolean_leaves() -> None:
    event = {"nul": None, "yes": True, "no": False, "word": "true"}
    assert check("{ $.nul IS NULL }", event)
    assert not check("{ $.word IS NULL }", event)
    assert check("{ $.yes IS TRUE }", event)
    assert check("{ $.no IS FALSE }", event)
    assert not check("{ $.word IS TRUE }", event)
    # booleans only match IS TRUE / IS FALSE (ministryofjustice PR #1038)
    assert not check('{ $.no = "false" }', event)
    assert not check("{ $.no = false }", event)
    assert not check('{ $.nul = "*" }', event)
    # a present leaf that '=' does not match satisfies '!='
    assert check('{ $.nul != "x" }', event)
    assert check('{ $.yes != "true" }', event)


def test_case_sensitive() -> None:
    event = {"eventName": "ConsoleLogin", "additionalEventData": {"MFAUsed": "YES"}}
    assert check("{ $.eventName = ConsoleLogin }", event)
    assert not check("{ $.eventName = consolelogin }", event)
    assert not check("{ $.eventname = ConsoleLogin }", event)
    assert check('{ $.additionalEventData.MFAUsed != "Yes" }', event)


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        ('"*UnauthorizedOperation"', "Client.UnauthorizedOperation", True),
        ('"*UnauthorizedOperation"', "UnauthorizedOperation", True),
        ('"*UnauthorizedOperation"', "UnauthorizedOperationX", False),
        ('"AccessDenied*"', "AccessDenied", True),
        ('"AccessDenied*"', "AccessDeniedException", True),
        ('"AccessDenied*"', "accessDenied", False),
        ("AccessDenied*", "AccessDeniedException", True),
        ("123.123.*", "123.123.1.1", True),
        ("123.123.*", "123.124.1.1", False),
        ("*.html*", "/index.html?x=1", True),
        ('"Access*Exception"', "AccessDeniedException", True),
        ('"Access*Exception"', "AccessDenied", False),
        ('"*"', "", True),
        ('"a.c"', "abc", False),
        ('"x+"', "x+", True),
    ],
)
def test_wildcards(value: str, text: str, expected: bool) -> None:
    assert check(f"{{ $.v = {value} }}", {"v": text}) is expected


def test_single_quotes_are_not_string_delimiters() -> None:
    # terraform-provider-aws#2945: a root pattern written with 'Root' never matched
    assert not check("{ $.userIdentity.type = 'Root' }", {"userIdentity": {"type": "Root"}})


def test_quoted_string_escapes() -> None:
    assert tree(r'{ $.v = "say \"hi\" \\ now" }') == JsonPattern(
        Comparison(Selector((Key("v"),)), Op.EQ, StringValue('say "hi" \\ now'))
    )


def test_wildcard_selectors_are_existential() -> None:
    event = {"tags": ["a", "b"], "obj": {"x": "1", "y": "2"}}
    assert check('{ $.tags[*] = "b" }', event)
    assert check('{ $.tags[*] != "a" }', event)
    assert not check('{ $.tags[*] = "c" }', event)
    assert check('{ $.obj.* = "2" }', event)
    assert check("{ $.none[*] NOT EXISTS }", event)
    assert not check("{ $.tags[*] NOT EXISTS }", event)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{ $.a = 1 || $.b = 1 && $.c = 1 }", True),  # a || (b && c)
        ("{ ($.a = 1 || $.b = 1) && $.c = 1 }", False),
        ("{ $.b = 1 && $.c = 1 || $.a = 1 }", True),
        ("{ $.c = 1 && $.a = 1 || $.b = 1 }", False),
        ("{ (($.a = 1)) }", True),
    ],
)
def test_precedence(text: str, expected: bool) -> None:
    assert check(text, {"a": 1, "b": 0, "c": 0}) is expected


def test_precedence_tree_shape() -> None:
    a, b, c = (Comparison(Selector((Key(n),)), Op.EQ, NumberValue("1")) for n in "abc")
    assert tree("{ $.a = 1 || $.b = 1 && $.c = 1 }") == JsonPattern(Or((a, And((b, c)))))
    assert tree("{ ($.a = 1 || $.b = 1) && $.c = 1 }") == JsonPattern(And((Or((a, b)), c)))
    # parentheses and clause grouping do not change the normalised tree
    assert tree("{ (($.a = 1) && ($.b = 1)) && $.c = 1 }") == JsonPattern(And((a, b, c)))


def test_regex_values() -> None:
    event = {"ip": "10.10.0.1", "n": 404, "word": "Error"}
    assert check(r"{ $.ip = %10\.10\.0\.1% }", event)
    assert check(r"{ $.ip = %^10\.10\.0\.\d$% }", event)
    assert not check(r"{ $.ip = %^10\.10\.0\.\d\d$% }", event)
    assert check("{ $.word = %[Ee]rror% }", event)
    assert check("{ $.n = %^4[0-9]{2}$% }", event)
    assert check(r"{ $.ip = %10\x2E10% }", event)
    assert check("{ $.ip != %^192% }", event)
    assert check("{ $.ip = %1{,2}0% }", event)


@pytest.mark.parametrize(
    "source",
    ["a(b)", "a b", "something!", "caf\u00e9", r"a\qb", r"\x3", "[a-", "a**", ""],
)
def test_regex_outside_the_supported_subset(source: str) -> None:
    assert check_regex(source) is not None
    result = parse(f"{{ $.a = %{source}% }}")
    assert isinstance(result, ParseError)


@pytest.mark.parametrize("source", [r"\x3A", r"\d+\s\w", "^a|b$", "[a-z]{1,}", r"\.\-\/"])
def test_regex_inside_the_supported_subset(source: str) -> None:
    assert check_regex(source) is None


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("{ $.a = }", 8, "expected a value"),
        ("{ $.a }", 6, "expected an operator"),
        ('{ $.a = "x" ', 12, "expected '&&', '||' or '}'"),
        ('{ a = "x" }', 2, "property selector"),
        ('{ $a = "x" }', 3, "expected '.'"),
        ('{ $. = "x" }', 4, "field name"),
        ('{ $.a = "x }', 8, "unterminated string"),
        ("{ $.a IS MAYBE }", 9, "NULL, TRUE or FALSE"),
        ("{ $.a NOT THERE }", 10, "EXISTS"),
        ('{ ($.a = "x" }', 13, "')'"),
        ('{ $.a > "x" }', 8, "needs a number"),
        ('{ $.a[x] = "x" }', 6, "array index"),
        ('{ $.a = "x" } trailing', 14, "after '}'"),
        ("{ $.a = %abc }", 8, "unterminated regex"),
        ("{ $.a = %a(b)% }", 9, "parentheses"),
        ("{ $.['unterminated = 1 }", 6, "unterminated"),
        ("{ }", 2, "property selector"),
        ("[a, b", 5, "',' or ']'"),
        ("[a = 1, b = 2 || c = 3]", 8, "only its own field"),
        ("[, a]", 1, "field name"),
    ],
)
def test_parse_errors_have_positions(text: str, position: int, fragment: str) -> None:
    result = parse(text)
    assert isinstance(result, ParseError), result
    assert result.position == position, result
    assert fragment in result.message
    assert str(result).startswith(f"at {position}:")


def test_overlong_pattern_is_an_error() -> None:
    assert isinstance(parse("{ $.a = " + "x" * 1020 + " }"), ParseError)


def test_deep_nesting_is_an_error_value() -> None:
    result = parse("{ " + "(" * 5000 + "$.a = 1" + ")" * 5000 + " }")
    assert isinstance(result, ParseError)


# --- printing and inspection -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (
            '{($.eventName="ConsoleLogin")&&($.additionalEventData.MFAUsed!="Yes")}',
            '{ $.eventName = "ConsoleLogin" && $.additionalEventData.MFAUsed != "Yes" }',
        ),
        (
            "{ ($.a = 1 || $.b = 2) && $.c NOT EXISTS }",
            "{ ($.a = 1 || $.b = 2) && $.c NOT EXISTS }",
        ),
        ("{ $.['k.x'][*].* IS NULL }", "{ $.['k.x'][*].* IS NULL }"),
        ("{ $.x = %a\\.b% }", "{ $.x = %a\\.b% }"),
        ('?ERROR ?"bad thing" -"x y"', '?ERROR ?"bad thing" -"x y"'),
        ("[ip,...,  status=4*  ]", '[ip, ..., status = "4*"]'),
        ("%ab+%", "%ab+%"),
        ("", ""),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    assert to_text(tree(text)) == canonical
    assert tree(canonical) == tree(text)


def test_comparisons_lists_leaves_in_order() -> None:
    leaves = comparisons(tree('{ $.a = "x" || ($.b NOT EXISTS && $.c > 2) || $.d[0] = %r% }'))
    assert [(leaf.op, leaf.value) for leaf in leaves] == [
        (Op.EQ, StringValue("x")),
        (Op.NOT_EXISTS, None),
        (Op.GT, NumberValue("2")),
        (Op.EQ, RegexValue("r")),
    ]
    assert comparisons(tree("[a, b = 1 || b = 2]")) == [
        Comparison(FieldRef("b"), Op.EQ, NumberValue("1")),
        Comparison(FieldRef("b"), Op.EQ, NumberValue("2")),
    ]
    assert comparisons(tree("ERROR")) == []


def test_comparison_matches_explains_a_near_miss() -> None:
    record = {"eventName": "ConsoleLogin", "additionalEventData": {"MFAUsed": "Yes"}}
    leaves = comparisons(
        tree('{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }')
    )
    assert [comparison_matches(leaf, record) for leaf in leaves] == [True, False]
    with pytest.raises(ValueError):
        comparison_matches(Comparison(FieldRef("a"), Op.EQ, NumberValue("1")), record)


def test_parse_is_cached_and_trees_are_frozen() -> None:
    text = '{ $.eventName = "StopLogging" }'
    assert parse(text) is parse(text)
    with pytest.raises(AttributeError):
        parse(text).expr = None  # type: ignore[union-attr,misc]


# --- properties ------------------------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z0-9_\-]{1,6}", fullmatch=True)
_odd_names = st.text(
    st.characters(blacklist_characters="'", blacklist_categories=("Cs",)), min_size=1, max_size=6
)
_segments = st.one_of(
    _names.map(Key),
    _odd_names.map(Key),
    st.integers(0, 20).map(Index),
    st.just(AnyKey()),
    st.just(AnyIndex()),
)
_selectors = st.tuples(
    st.one_of(_names.map(Key), _odd_names.map(Key), st.just(AnyKey())),
    st.lists(_segments, max_size=3),
).map(lambda pair: Selector((pair[0], *pair[1])))
_numbers = st.from_regex(r"[+-]?(\d{1,4}(\.\d{0,3})?|\.\d{1,3})([eE][+-]?\d{1,2})?", fullmatch=True)
_regex_sources = st.lists(
    st.sampled_from(["a", "Z9", r"\d", r"\.", "[0-9]", "x+", "b?", ":", "@", "{1,2}", "^", "_"]),
    min_size=1,
    max_size=4,
).map("".join)
_strings = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
_values = st.one_of(
    _strings.map(StringValue), _numbers.map(NumberValue), _regex_sources.map(RegexValue)
)


def _valid_regex(source: str) -> bool:
    return check_regex(source) is None


_valid_values = _values.filter(lambda v: not isinstance(v, RegexValue) or _valid_regex(v.source))


@st.composite
def _json_comparisons(draw: st.DrawFn) -> Comparison:
    selector = draw(_selectors)
    op = draw(st.sampled_from(list(Op)))
    if op in (Op.IS_NULL, Op.IS_TRUE, Op.IS_FALSE, Op.NOT_EXISTS):
        return Comparison(selector, op)
    if op in (Op.LT, Op.GT, Op.LE, Op.GE):
        return Comparison(selector, op, NumberValue(draw(_numbers)))
    return Comparison(selector, op, draw(_valid_values))


def _expressions(leaves: st.SearchStrategy[Comparison]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=3).map(make_and),
            st.lists(children, min_size=2, max_size=3).map(make_or),
        ),
        max_leaves=6,
    )


_delimited_ops = st.sampled_from([Op.EQ, Op.NE, Op.LT, Op.GT, Op.LE, Op.GE])


@st.composite
def _field_comparisons(draw: st.DrawFn, name: str) -> Comparison:
    op = draw(_delimited_ops)
    value = draw(_valid_values) if op in (Op.EQ, Op.NE) else NumberValue(draw(_numbers))
    return Comparison(FieldRef(name), op, value)


@st.composite
def _delimited(draw: st.DrawFn) -> DelimitedPattern:
    fields: list[DelimitedField | AnyFields] = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            fields.append(AnyFields())
            continue
        name = draw(st.from_regex(r"[A-Za-z0-9_]{1,5}", fullmatch=True))
        condition = draw(st.none() | _expressions(_field_comparisons(name)))
        fields.append(DelimitedField(name, condition))
    return DelimitedPattern(tuple(fields))


_terms = st.builds(
    Term,
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(str.strip),
    st.sampled_from(list(TermKind)),
)
_patterns = st.one_of(
    _expressions(_json_comparisons()).map(JsonPattern),
    st.lists(_terms, min_size=1, max_size=4).map(lambda ts: TermPattern(tuple(ts))),
    _regex_sources.filter(_valid_regex).map(RegexPattern),
    _delimited(),
    st.just(MatchAll()),
)
_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2000, 2000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
_events = st.recursive(
    _json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)
_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_patterns)
def test_roundtrip_generated_trees(pattern: Pattern) -> None:
    text = to_text(pattern)
    if len(text) <= 1024:
        assert parse(text) == pattern


@_SETTINGS
@given(_patterns, _events)
def test_matching_never_raises(pattern: Pattern, event: Any) -> None:
    document = event if isinstance(event, dict) else {"v": event}
    assert matches(pattern, document) in (True, False)
    assert matches(pattern, json.dumps(document)) in (True, False)


@_SETTINGS
@given(
    st.one_of(
        st.text(max_size=60),
        st.text(alphabet='{}[]()$.*"%&|!=<> aZ09_-,?\\', max_size=60),
    )
)
def test_random_text_never_raises_and_reparses(text: str) -> None:
    result = parse(text)
    if not isinstance(result, ParseError):
        assert parse(to_text(result)) == result


def _all_cis_texts() -> list[str]:
    texts = []
    for control in load_controls():
        texts.append(control.recommended_pattern)
        texts.extend(control.accepted_patterns)
        texts.extend(h.pattern for h in control.historic_patterns)
    return texts


@pytest.mark.parametrize("text", _all_cis_texts())
def test_roundtrip_every_cis_pattern(text: str) -> None:
    parsed = tree(text)
    assert parse(to_text(parsed)) == parsed
