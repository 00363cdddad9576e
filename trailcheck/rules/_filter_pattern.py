"""CloudWatch Logs filter patterns: parse, print and evaluate them in pure Python.

One language serves metric filters, subscription filters, FilterLogEvents and Live Tail. This
module reads all of its forms into a tree of frozen dataclasses, prints a canonical text back,
and evaluates a tree against one log event (for trailcheck: one CloudTrail record, which
CloudTrail delivers to CloudWatch Logs as one JSON log event).

Forms:
    JSON            ``{ $.a.b = "x" && ($.c[0] > 1 || $.d NOT EXISTS) }``
    terms           ``ERROR``, ``ERROR ARGUMENTS``, ``?A ?B``, ``"exact phrase"``, ``-TERM``
    regex           ``%ERR[0-9]+%``
    space-delimited ``[ip, user, ..., status = 4*, bytes > 100]``
    match all       empty text, blank text, or ``" "``

Public API: ``parse`` (cached; returns a tree or a ``ParseError`` value, never raises),
``to_text``, ``matches``, ``comparisons`` and ``comparison_matches``.

Documented behaviour implemented here (AWS "Filter pattern syntax" page):
    * precedence ``()`` > ``&&`` > ``||``; comparisons are case sensitive;
    * a selector that resolves to an object or array never matches;
    * ``*`` in a string value is a wildcard, quoted or not (``"AccessDenied*"``, ``123.123.*``);
    * numbers may carry a sign and an exponent and compare numerically;
    * ``IS NULL`` / ``IS TRUE`` / ``IS FALSE`` test JSON null / booleans;
      ``NOT EXISTS`` tests absence;
    * ``$.a[*]`` and ``$.*`` wildcard selectors, ``$.['k.x']`` bracket keys;
    * regex ``%...%`` restricted to the documented subset (no ``(``/``)``, no multi-byte
      characters);
    * ``?`` terms are ignored when mixed with other terms;
    * the pattern text is at most 1024 characters (API length constraint).

Decisions where the AWS documentation is silent (each checked against observed behaviour where
a public report exists; otherwise the conservative reading, i.e. the one that does not credit a
filter with matches it might not produce):
    1. Missing field: a comparison on an absent field is false for ``=`` and for ``!=`` (observed
       in the CloudWatch console tester, DataBiosphere/azul#5884; CIS relies on it by writing
       ``NOT EXISTS``). Only ``NOT EXISTS`` is true for an absent field.
    2. ``!=`` is true when the field resolves to a leaf (string, number, boolean, null) that ``=``
       would not match. So ``$.x != "a"`` is true for ``"x": null`` and ``"x": true``.
    3. Types: a string value (quoted, or an unquoted token that is not a number) matches JSON
       strings, and JSON numbers through their JSON text (the doc says ``*`` matches numbers);
       it never matches booleans or null. A number value matches JSON numbers numerically and
       never a JSON string (``$.id = 1`` does not match ``"id": "1"``). Booleans match only
       ``IS TRUE`` / ``IS FALSE`` (``$.readOnly = "false"`` and ``= false`` never match).
       ``<``, ``>``, ``<=``, ``>=`` need a number value (otherwise a parse error) and are false
       for non-number fields.
    4. ``*`` may appear anywhere in a string value, any number of times, and matches any
       sequence of characters including the empty one (``AccessDenied*`` matches
       ``AccessDenied``). There is no escape for a literal ``*``. Quoted strings accept ``\\"``
       and ``\\\\`` escapes; any other backslash is literal.
    5. Wildcard selectors are existential: the comparison is true if it holds for at least one
       element/field (also for ``!=``); ``NOT EXISTS`` is true when no element/field exists.
       A plain selector does not step through arrays implicitly (``$.resources.ARN`` does not
       look inside ``"resources": [...]``). Keywords (``IS``, ``NULL``, ``NOT`` ...) are upper
       case only. Quotas (wildcards and regexes per pattern) are not checked: AWS enforces them
       when the filter is created, so stored filters already respect them.
    6. Terms match whole words: a term or phrase matches where it is not glued to a letter,
       digit or ``_`` on a side where the term itself starts/ends with one (``ERROR`` matches
       ``[ERROR]`` and ``ERROR:`` but not ``ERRORS``). ``*`` in a term is literal. Blank quoted
       terms are dropped (so ``" "`` alone matches every event).
    7. Regex matches anywhere in the value (``re.search``; anchor with ``^``/``$``); ``\\d``,
       ``\\w``, ``\\s`` are ASCII classes. Escapes allowed: ``\\d \\D \\s \\S \\w \\W \\xhh`` and a
       backslash before any ASCII punctuation.
    8. Space-delimited events are split on spaces; a ``"..."`` or ``[...]`` part is one field,
       compared without its quotes/brackets. Without ``...`` the number of fields must be equal.
       A field's condition may name only that field. A number value compares numerically when
       the field text is a number (otherwise ``=`` is false and ``!=`` true).
    9. A JSON pattern on an event that is not a JSON object never matches. A dict event is
       serialised compactly (``json.dumps(..., separators=(",", ":"))``) for term, regex and
       delimited patterns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Any

from trailcheck.errors import InternalError

MAX_PATTERN_LENGTH = 1024


class Op(StrEnum):
    """Comparison operators (binary ones first, then the unary keyword forms)."""

    EQ = "="
    NE = "!="
    LT = "<"
    GT = ">"
    LE = "<="
    GE = ">="
    IS_NULL = "IS NULL"
    IS_TRUE = "IS TRUE"
    IS_FALSE = "IS FALSE"
    NOT_EXISTS = "NOT EXISTS"


UNARY_OPS = frozenset({Op.IS_NULL, Op.IS_TRUE, Op.IS_FALSE, Op.NOT_EXISTS})
RELATIONAL_OPS = frozenset({Op.LT, Op.GT, Op.LE, Op.GE})


# --- tree ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """Object field ``.name`` or ``['name']``."""

    name: str


@dataclass(frozen=True)
class Index:
    """Array element ``[n]``."""

    position: int


@dataclass(frozen=True)
class AnyKey:
    """Any object field ``.*``."""


@dataclass(frozen=True)
class AnyIndex:
    """Any array element ``[*]``."""


Segment = Key | Index | AnyKey | AnyIndex


@dataclass(frozen=True)
class Selector:
    """JSON property selector ``$.a.b[0]``."""

    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class FieldRef:
    """Named field of a space-delimited pattern."""

    name: str


@dataclass(frozen=True)
class StringValue:
    """String value; every ``*`` is a wildcard."""

    text: str


@dataclass(frozen=True)
class NumberValue:
    """Number value, kept as written (``-1``, ``1e+3``)."""

    text: str

    @property
    def number(self) -> Decimal:
        """The numeric value."""
        return Decimal(self.text)


@dataclass(frozen=True)
class RegexValue:
    """Regex value ``%source%``."""

    source: str


Value = StringValue | NumberValue | RegexValue


@dataclass(frozen=True)
class Comparison:
    """One leaf test: ``target op value`` or ``target IS NULL`` etc. (then value is None)."""

    target: Selector | FieldRef
    op: Op
    value: Value | None = None


@dataclass(frozen=True)
class And:
    """Conjunction of two or more expressions (never directly nested in another And)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """Disjunction of two or more expressions (never directly nested in another Or)."""

    items: tuple[Expr, ...]


Expr = Comparison | And | Or


@dataclass(frozen=True)
class JsonPattern:
    """``{ expression }``."""

    expr: Expr


class TermKind(StrEnum):
    """How a term counts: required (plain), optional (``?``) or excluded (``-``)."""

    REQUIRED = ""
    OPTIONAL = "?"
    EXCLUDED = "-"


@dataclass(frozen=True)
class Term:
    """A word or quoted phrase of an unstructured pattern."""

    text: str
    kind: TermKind = TermKind.REQUIRED


@dataclass(frozen=True)
class TermPattern:
    """Unstructured pattern: one or more terms."""

    terms: tuple[Term, ...]


@dataclass(frozen=True)
class RegexPattern:
    """Standalone regex pattern ``%source%``."""

    source: str


@dataclass(frozen=True)
class AnyFields:
    """``...`` in a space-delimited pattern: any number of fields."""


@dataclass(frozen=True)
class DelimitedField:
    """A named field of a space-delimited pattern, with an optional condition on it."""

    name: str
    condition: Expr | None = None


@dataclass(frozen=True)
class DelimitedPattern:
    """``[f1, f2 = x, ...]``."""

    fields: tuple[DelimitedField | AnyFields, ...]


@dataclass(frozen=True)
class MatchAll:
    """Empty or blank pattern: matches every event."""


Pattern = JsonPattern | TermPattern | RegexPattern | DelimitedPattern | MatchAll


@dataclass(frozen=True)
class ParseError:
    """Why a pattern text is invalid; ``position`` is a 0-based character offset."""

    position: int
    message: str

    def __str__(self) -> str:
        return f"at {self.position}: {self.message}"


def make_and(items: list[Expr] | tuple[Expr, ...]) -> Expr:
    """Build a normalised conjunction (flattened; a single item is returned as is)."""
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, And) else (item,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def make_or(items: list[Expr] | tuple[Expr, ...]) -> Expr:
    """Build a normalised disjunction (flattened; a single item is returned as is)."""
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Or) else (item,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


# --- lexical helpers -------------------------------------------------------------------------

_NAME_RE = re.compile(r"[A-Za-z0-9_\-]+")
_FIELD_NAME_RE = re.compile(r"[A-Za-z0-9_]+")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SIMPLE_TERM_RE = re.compile(r"[A-Za-z0-9_]+")
_INDEX_RE = re.compile(r"\d+")
_HEX2_RE = re.compile(r"[0-9A-Fa-f]{2}")
_JSON_VALUE_STOP = frozenset(' \t\r\n(){}&|"%=<>!')
_DELIMITED_VALUE_STOP = frozenset(' \t\r\n(){}&|"%=<>!,[]')
_REGEX_SYMBOLS = frozenset(":_#=@/;,-^$?[]{}|*+.")
_REGEX_CLASS_ESCAPES = frozenset("dDsSwW")
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def check_regex(source: str) -> str | None:
    """Return why ``source`` is outside the CloudWatch Logs regex subset, or None if valid."""
    if not source:
        return "empty regex"
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            nxt = source[i + 1 : i + 2]
            if not nxt:
                return "regex ends with a backslash"
            if nxt == "x":
                if not _HEX2_RE.fullmatch(source[i + 2 : i + 4]):
                    return "\\x needs two hex digits"
                i += 4
                continue
            if nxt not in _REGEX_CLASS_ESCAPES and nxt not in _PUNCTUATION:
                return f"unsupported regex escape \\{nxt}"
            i += 2
            continue
        if char in "()":
            return "parentheses are not supported in regex (use \\x28 and \\x29)"
        if not (char.isascii() and (char.isalnum() or char in _REGEX_SYMBOLS)):
            return f"character {char!r} is not supported in regex (use \\xhh)"
        i += 1
    try:
        re.compile(source, re.ASCII)
    except re.error as exc:
        return f"invalid regex: {exc.msg}"
    return None


class _Fail(Exception):
    """Internal parse failure; converted to ``ParseError`` by ``parse``."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


class _Parser:
    """Recursive-descent parser over one pattern text (state lives only for one parse)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # basic cursor operations
    def fail(self, message: str, position: int | None = None) -> _Fail:
        return _Fail(self.pos if position is None else position, message)

    def peek(self, size: int = 1) -> str:
        return self.text[self.pos : self.pos + size]

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def expect(self, literal: str, what: str) -> None:
        if not self.text.startswith(literal, self.pos):
            raise self.fail(f"expected {what}")
        self.pos += len(literal)

    def word(self, keyword: str) -> bool:
        """Consume ``keyword`` if it is next and stands alone as a word."""
        end = self.pos + len(keyword)
        if self.text.startswith(keyword, self.pos) and (
            end >= len(self.text) or not (self.text[end].isalnum() or self.text[end] == "_")
        ):
            self.pos = end
            return True
        return False

    # top level
    def pattern(self) -> Pattern:
        self.skip_ws()
        first = self.peek()
        if first == "{":
            return self.json_pattern()
        if first == "[":
            return self.delimited_pattern()
        if first == "%":
            source = self.regex_literal()
            self.skip_ws()
            if not self.at_end():
                raise self.fail("a regex pattern must be the whole pattern")
            return RegexPattern(source)
        return self.term_pattern()

    # JSON patterns
    def json_pattern(self) -> JsonPattern:
        self.expect("{", "'{'")
        expr = self.expression(self.json_comparison)
        self.skip_ws()
        self.expect("}", "'&&', '||' or '}'")
        self.skip_ws()
        if not self.at_end():
            raise self.fail("unexpected text after '}'")
        return JsonPattern(expr)

    def expression(self, comparison: Callable[[], Comparison]) -> Expr:
        items = [self.conjunction(comparison)]
        while True:
            self.skip_ws()
            if not self.text.startswith("||", self.pos):
                return make_or(items)
            self.pos += 2
            items.append(self.conjunction(comparison))

    def conjunction(self, comparison: Callable[[], Comparison]) -> Expr:
        items = [self.primary(comparison)]
        while True:
            self.skip_ws()
            if not self.text.startswith("&&", self.pos):
                return make_and(items)
            self.pos += 2
            items.append(self.primary(comparison))

    def primary(self, comparison: Callable[[], Comparison]) -> Expr:
        self.skip_ws()
        if self.peek() == "(":
            self.pos += 1
            expr = self.expression(comparison)
            self.skip_ws()
            self.expect(")", "')'")
            return expr
        return comparison()

    def json_comparison(self) -> Comparison:
        selector = self.selector()
        self.skip_ws()
        start = self.pos
        if self.word("IS"):
            self.skip_ws()
            for name, op in (("NULL", Op.IS_NULL), ("TRUE", Op.IS_TRUE), ("FALSE", Op.IS_FALSE)):
                if self.word(name):
                    return Comparison(selector, op)
            raise self.fail("expected NULL, TRUE or FALSE after IS")
        if self.word("NOT"):
            self.skip_ws()
            if self.word("EXISTS"):
                return Comparison(selector, Op.NOT_EXISTS)
            raise self.fail("expected EXISTS after NOT")
        op = self.operator()
        if op is None:
            raise self.fail("expected an operator (=, !=, <, >, <=, >=, IS, NOT EXISTS)", start)
        return Comparison(selector, op, self.value(op, _JSON_VALUE_STOP))

    def operator(self) -> Op | None:
        for op in (Op.NE, Op.LE, Op.GE, Op.EQ, Op.LT, Op.GT):
            if self.text.startswith(op.value, self.pos):
                self.pos += len(op.value)
                return op
        return None

    def selector(self) -> Selector:
        start = self.pos
        if self.peek() != "$":
            raise self.fail("expected a property selector starting with '$.'")
        self.pos += 1
        if self.peek() != ".":
            raise self.fail("expected '.' after '$'")
        segments: list[Segment] = []
        while True:
            char = self.peek()
            if char == ".":
                self.pos += 1
                if self.peek() == "*":
                    self.pos += 1
                    segments.append(AnyKey())
                elif self.peek(2) == "['":
                    segments.append(self.bracket_key())
                else:
                    match = _NAME_RE.match(self.text, self.pos)
                    if not match:
                        raise self.fail("expected a field name after '.'")
                    self.pos = match.end()
                    segments.append(Key(match.group()))
            elif char == "[":
                segments.append(self.bracket_segment())
            else:
                break
        if not segments:
            raise self.fail("empty property selector", start)
        return Selector(tuple(segments))

    def bracket_key(self) -> Key:
        self.pos += 2  # "['"
        end = self.text.find("']", self.pos)
        if end < 0:
            raise self.fail("unterminated ['...'] key")
        name = self.text[self.pos : end]
        if not name:
            raise self.fail("empty ['...'] key")
        self.pos = end + 2
        return Key(name)

    def bracket_segment(self) -> Segment:
        if self.peek(2) == "['":
            return self.bracket_key()
        self.pos += 1
        if self.peek(2) == "*]":
            self.pos += 2
            return AnyIndex()
        match = _INDEX_RE.match(self.text, self.pos)
        if not match:
            raise self.fail("expected an array index, '*' or a quoted key")
        self.pos = match.end()
        self.expect("]", "']'")
        return Index(int(match.group()))

    def value(self, op: Op, stop: frozenset[str]) -> Value:
        self.skip_ws()
        start = self.pos
        char = self.peek()
        value: Value
        if char == '"':
            value = StringValue(self.quoted())
        elif char == "%":
            value = RegexValue(self.regex_literal())
        else:
            end = self.pos
            while end < len(self.text) and self.text[end] not in stop:
                end += 1
            token = self.text[self.pos : end]
            if not token:
                raise self.fail("expected a value")
            self.pos = end
            value = NumberValue(token) if _NUMBER_RE.fullmatch(token) else StringValue(token)
        if op in RELATIONAL_OPS and not isinstance(value, NumberValue):
            raise self.fail(f"operator {op.value} needs a number", start)
        return value

    def quoted(self) -> str:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.peek(2)[1:] in ('"', "\\"):
                out.append(self.text[self.pos + 1])
                self.pos += 2
            elif char == '"':
                self.pos += 1
                return "".join(out)
            else:
                out.append(char)
                self.pos += 1
        raise self.fail("unterminated string", start)

    def regex_literal(self) -> str:
        start = self.pos
        end = self.text.find("%", self.pos + 1)
        if end < 0:
            raise self.fail("unterminated regex (missing closing '%')")
        source = self.text[self.pos + 1 : end]
        problem = check_regex(source)
        if problem:
            raise self.fail(problem, start + 1)
        self.pos = end + 1
        return source

    # space-delimited patterns
    def delimited_pattern(self) -> DelimitedPattern:
        self.expect("[", "'['")
        fields: list[DelimitedField | AnyFields] = []
        while True:
            fields.append(self.delimited_field())
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]", "',' or ']'")
            break
        self.skip_ws()
        if not self.at_end():
            raise self.fail("unexpected text after ']'")
        return DelimitedPattern(tuple(fields))

    def delimited_field(self) -> DelimitedField | AnyFields:
        self.skip_ws()
        start = self.pos
        if self.text.startswith("...", self.pos):
            self.pos += 3
            return AnyFields()
        match = _FIELD_NAME_RE.match(self.text, self.pos)
        if match:
            after = match.end()
            while after < len(self.text) and self.text[after].isspace():
                after += 1
            if self.text[after : after + 1] in (",", "]", ""):
                self.pos = match.end()
                return DelimitedField(match.group())
        elif self.peek() != "(":
            raise self.fail("expected a field name or '...'")
        condition = self.expression(self.delimited_comparison)
        names = {c.target.name for c in _leaves(condition) if isinstance(c.target, FieldRef)}
        if len(names) != 1:
            raise self.fail("a field condition may name only its own field", start)
        return DelimitedField(names.pop(), condition)

    def delimited_comparison(self) -> Comparison:
        match = _FIELD_NAME_RE.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a field name")
        self.pos = match.end()
        self.skip_ws()
        op = self.operator()
        if op is None:
            raise self.fail("expected an operator (=, !=, <, >, <=, >=)")
        return Comparison(FieldRef(match.group()), op, self.value(op, _DELIMITED_VALUE_STOP))

    # unstructured terms
    def term_pattern(self) -> Pattern:
        terms: list[Term] = []
        while True:
            self.skip_ws()
            if self.at_end():
                break
            kind = TermKind.REQUIRED
            if self.peek() in ("?", "-") and self.peek(2)[1:].strip():
                kind = TermKind(self.peek())
                self.pos += 1
            if self.peek() == '"':
                text = self.quoted()
                if self.pos < len(self.text) and not self.text[self.pos].isspace():
                    raise self.fail("expected a space after a quoted term")
            else:
                start = self.pos
                while self.pos < len(self.text) and not self.text[self.pos].isspace():
                    if self.text[self.pos] == '"':
                        raise self.fail("quote inside an unquoted term")
                    self.pos += 1
                text = self.text[start : self.pos]
            if text.strip():
                terms.append(Term(text, kind))
        return TermPattern(tuple(terms)) if terms else MatchAll()


@lru_cache(maxsize=4096)
def parse(text: str) -> Pattern | ParseError:
    """Parse a filter pattern text; invalid text gives a ``ParseError`` value (never raises)."""
    if len(text) > MAX_PATTERN_LENGTH:
        return ParseError(MAX_PATTERN_LENGTH, f"pattern longer than {MAX_PATTERN_LENGTH} chars")
    parser = _Parser(text)
    try:
        return parser.pattern()
    except _Fail as failure:
        return ParseError(failure.position, failure.message)
    except RecursionError:
        return ParseError(parser.pos, "pattern nested too deeply")


# --- printing --------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _segment_text(segment: Segment) -> str:
    match segment:
        case Key(name) if _NAME_RE.fullmatch(name):
            return "." + name
        case Key(name):
            return f".['{name}']"
        case Index(position):
            return f"[{position}]"
        case AnyKey():
            return ".*"
        case AnyIndex():
            return "[*]"
    raise TypeError(segment)


def _value_text(value: Value) -> str:
    match value:
        case StringValue(text):
            return _quote(text)
        case NumberValue(text):
            return text
        case RegexValue(source):
            return f"%{source}%"
    raise TypeError(value)


def _comparison_text(comparison: Comparison) -> str:
    target = comparison.target
    left = (
        target.name
        if isinstance(target, FieldRef)
        else "$" + "".join(_segment_text(s) for s in target.segments)
    )
    if comparison.value is None:
        return f"{left} {comparison.op.value}"
    return f"{left} {comparison.op.value} {_value_text(comparison.value)}"


def _expr_text(expr: Expr) -> str:
    match expr:
        case Comparison():
            return _comparison_text(expr)
        case And(items):
            return " && ".join(
                f"({_expr_text(i)})" if isinstance(i, Or) else _expr_text(i) for i in items
            )
        case Or(items):
            return " || ".join(_expr_text(i) for i in items)
    raise TypeError(expr)


def _term_text(term: Term) -> str:
    body = term.text if _SIMPLE_TERM_RE.fullmatch(term.text) else _quote(term.text)
    return term.kind.value + body


def to_text(tree: Pattern) -> str:
    """Print a tree as canonical pattern text (``parse(to_text(t)) == t``)."""
    match tree:
        case MatchAll():
            return ""
        case JsonPattern(expr):
            return "{ " + _expr_text(expr) + " }"
        case TermPattern(terms):
            return " ".join(_term_text(t) for t in terms)
        case RegexPattern(source):
            return f"%{source}%"
        case DelimitedPattern(fields):
            parts = [
                "..."
                if isinstance(f, AnyFields)
                else f.name
                if f.condition is None
                else _expr_text(f.condition)
                for f in fields
            ]
            return "[" + ", ".join(parts) + "]"
    raise TypeError(tree)


# --- inspection ------------------------------------------------------------------------------


def _leaves(expr: Expr) -> list[Comparison]:
    if isinstance(expr, Comparison):
        return [expr]
    return [leaf for item in expr.items for leaf in _leaves(item)]


def comparisons(tree: Pattern) -> list[Comparison]:
    """All leaf comparisons of a pattern, in text order (empty for term/regex/match-all)."""
    match tree:
        case JsonPattern(expr):
            return _leaves(expr)
        case DelimitedPattern(fields):
            return [
                leaf
                for f in fields
                if isinstance(f, DelimitedField) and f.condition is not None
                for leaf in _leaves(f.condition)
            ]
    return []


# --- evaluation ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _wildcard_regex(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)


@lru_cache(maxsize=1024)
def _compiled_regex(source: str) -> re.Pattern[str]:
    return re.compile(source, re.ASCII)


@lru_cache(maxsize=1024)
def _term_regex(text: str) -> re.Pattern[str]:
    head = r"(?<![A-Za-z0-9_])" if _SIMPLE_TERM_RE.match(text[0]) else ""
    tail = r"(?![A-Za-z0-9_])" if _SIMPLE_TERM_RE.match(text[-1]) else ""
    return re.compile(head + re.escape(text) + tail)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_text(value: int | float) -> str:
    return json.dumps(value)


def _string_matches(pattern: str, text: str) -> bool:
    if "*" not in pattern:
        return pattern == text
    return _wildcard_regex(pattern).fullmatch(text) is not None


def _to_decimal(value: int | float) -> Decimal | None:
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _equals(leaf: object, value: Value) -> bool:
    """``leaf = value`` for a JSON leaf (string, number, boolean or None)."""
    if isinstance(value, NumberValue):
        if not _is_number(leaf):
            return False
        number = _to_decimal(leaf)  # type: ignore[arg-type]
        return number is not None and number == value.number
    if isinstance(leaf, str):
        text = leaf
    elif _is_number(leaf):
        text = _number_text(leaf)  # type: ignore[arg-type]
    else:
        return False
    if isinstance(value, RegexValue):
        return _compiled_regex(value.source).search(text) is not None
    return _string_matches(value.text, text)


def _compare_leaf(leaf: object, op: Op, value: Value | None) -> bool:
    if isinstance(leaf, dict | list):
        return False
    if op is Op.IS_NULL:
        return leaf is None
    if op is Op.IS_TRUE:
        return leaf is True
    if op is Op.IS_FALSE:
        return leaf is False
    if value is None:
        raise InternalError(f"comparison {op} has no value")
    if op is Op.EQ:
        return _equals(leaf, value)
    if op is Op.NE:
        return not _equals(leaf, value)
    if not _is_number(leaf) or not isinstance(value, NumberValue):
        return False
    number = _to_decimal(leaf)  # type: ignore[arg-type]
    if number is None:
        return False
    return _compare_numbers(number, op, value.number)


def _compare_numbers(number: Decimal, op: Op, bound: Decimal) -> bool:
    if op is Op.EQ:
        return number == bound
    if op is Op.NE:
        return number != bound
    if op is Op.LT:
        return number < bound
    if op is Op.GT:
        return number > bound
    if op is Op.LE:
        return number <= bound
    return number >= bound


def _resolve(document: object, segments: tuple[Segment, ...]) -> list[object]:
    nodes = [document]
    for segment in segments:
        found: list[object] = []
        for node in nodes:
            match segment:
                case Key(name) if isinstance(node, dict) and name in node:
                    found.append(node[name])
                case Index(position) if isinstance(node, list) and position < len(node):
                    found.append(node[position])
                case AnyKey() if isinstance(node, dict):
                    found.extend(node.values())
                case AnyIndex() if isinstance(node, list):
                    found.extend(node)
        nodes = found
        if not nodes:
            break
    return nodes


def _json_comparison(comparison: Comparison, document: object) -> bool:
    if not isinstance(comparison.target, Selector):
        raise InternalError("a JSON comparison needs a $. selector")
    nodes = _resolve(document, comparison.target.segments)
    if comparison.op is Op.NOT_EXISTS:
        return not nodes
    return any(_compare_leaf(node, comparison.op, comparison.value) for node in nodes)


def _field_comparison(comparison: Comparison, text: str) -> bool:
    value = comparison.value
    if value is None:
        raise InternalError(f"field comparison {comparison.op} has no value")
    if isinstance(value, NumberValue):
        if not _NUMBER_RE.fullmatch(text):
            return comparison.op is Op.NE
        return _compare_numbers(Decimal(text), comparison.op, value.number)
    return _compare_leaf(text, comparison.op, value)


def _eval(expr: Expr, leaf_test: Callable[[Comparison], bool]) -> bool:
    if isinstance(expr, Comparison):
        return leaf_test(expr)
    if isinstance(expr, And):
        return all(_eval(item, leaf_test) for item in expr.items)
    return any(_eval(item, leaf_test) for item in expr.items)


_DELIMITED_TOKEN_RE = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')


def _split_fields(text: str) -> list[str]:
    fields = []
    for token in _DELIMITED_TOKEN_RE.findall(text):
        if len(token) >= 2 and token[0] + token[-1] in ('""', "[]"):
            token = token[1:-1]
        fields.append(token)
    return fields


def _delimited_matches(fields: tuple[DelimitedField | AnyFields, ...], values: list[str]) -> bool:
    if not fields:
        return not values
    head, rest = fields[0], fields[1:]
    if isinstance(head, AnyFields):
        return any(_delimited_matches(rest, values[skip:]) for skip in range(len(values) + 1))
    if not values:
        return False
    value = values[0]
    if head.condition is not None and not _eval(
        head.condition, lambda c: _field_comparison(c, value)
    ):
        return False
    return _delimited_matches(rest, values[1:])


def _terms_match(terms: tuple[Term, ...], text: str) -> bool:
    def found(term: Term) -> bool:
        return _term_regex(term.text).search(text) is not None

    required = [t for t in terms if t.kind is TermKind.REQUIRED]
    excluded = [t for t in terms if t.kind is TermKind.EXCLUDED]
    if required or excluded:  # '?' terms are ignored when mixed with other terms
        return all(found(t) for t in required) and not any(found(t) for t in excluded)
    return any(found(t) for t in terms)


def _event_text(event: dict[str, Any] | str) -> str:
    if isinstance(event, str):
        return event
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def _event_document(event: dict[str, Any] | str) -> object:
    if not isinstance(event, str):
        return event
    try:
        return json.loads(event)
    except ValueError:
        return None


def comparison_matches(comparison: Comparison, event: dict[str, Any] | str) -> bool:
    """Evaluate one JSON leaf comparison against an event (for explaining near misses)."""
    if isinstance(comparison.target, FieldRef):
        raise ValueError("comparison_matches takes JSON comparisons only")
    document = _event_document(event)
    return isinstance(document, dict) and _json_comparison(comparison, document)


def matches(tree: Pattern, event: dict[str, Any] | str) -> bool:
    """True when CloudWatch Logs would count ``event`` (a JSON record or a raw line)."""
    match tree:
        case MatchAll():
            return True
        case JsonPattern(expr):
            document = _event_document(event)
            if not isinstance(document, dict):
                return False
            return _eval(expr, lambda c: _json_comparison(c, document))
        case TermPattern(terms):
            return _terms_match(terms, _event_text(event))
        case RegexPattern(source):
            return _compiled_regex(source).search(_event_text(event)) is not None
        case DelimitedPattern(fields):
            return _delimited_matches(fields, _split_fields(_event_text(event)))
    raise TypeError(tree)
