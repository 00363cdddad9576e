"""EventBridge event patterns: parse and match them in pure Python, and wrap CloudTrail records.

Used to tell whether an EventBridge rule would fire for a CloudTrail event (coverage of a CIS
monitoring control "another way"). ``parse_event_pattern`` turns the rule's ``EventPattern``
text into a frozen tree (or a ``ParseError`` value); ``matches`` evaluates it against an event;
``cloudtrail_record_as_event`` builds the event CloudTrail puts on the default bus.

Language (EventBridge user guide "event patterns" / "content filtering", aws/event-ruler):
fields nest like the event and are ANDed; each leaf is a non-empty array whose entries are ORed;
an event array matches when any element matches. Entries: exact values (strings compare
character by character; numbers by their JSON text, so 300 and 300.0 differ; ``null`` and
``""`` are distinct), ``prefix``, ``suffix`` (each optionally ``{"equals-ignore-case": ...}``),
``equals-ignore-case``, ``wildcard``, ``anything-but`` (values, or prefix / suffix /
equals-ignore-case / wildcard), ``exists``, ``numeric``, ``cidr``, and ``"$or": [{...}, ...]``.

Decisions where the documentation is silent:
    * ``exists: false`` matches when no leaf value is present: field absent, an object, or an
      empty array (event-ruler: "exists:false also matches when the field is an object").
      ``exists: true`` matches any leaf, including ``null``.
    * ``anything-but`` needs a present string or number leaf: it never matches an absent field,
      ``null`` or a boolean. On an event array it matches when any element is not excluded.
    * A nested pattern over an array of objects matches when one element satisfies it as a whole
      (stricter than event-ruler's default flattening; never credits a rule with a match that
      needs two different elements).
    * ``numeric`` and exact numbers never match booleans; ``equals-ignore-case`` uses
      ``str.lower`` on both sides.
    * CloudTrail sign-in events: the EventBridge guide spells the detail-type "AWS Console Signin
      via CloudTrail", while rules in public code use "AWS Console Sign In via CloudTrail"; no
      captured event settles it. ``cloudtrail_record_as_event`` emits "Sign In" (the common
      spelling); ``matches_cloudtrail_record`` accepts a rule written with either spelling.
    * The event ``source`` is ``aws.`` plus the first label of ``eventSource``
      (``iam.amazonaws.com`` -> ``aws.iam``), true for every service the CIS controls name.
    * Not modelled here: which events reach the bus at all (read-only events need a rule state of
      ``ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS``; global services arrive in us-east-1).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

DETAIL_TYPE_API_CALL = "AWS API Call via CloudTrail"
DETAIL_TYPE_CONSOLE_SIGN_IN = "AWS Console Sign In via CloudTrail"
DETAIL_TYPE_CONSOLE_SIGNIN_DOCS = "AWS Console Signin via CloudTrail"
CONSOLE_SIGN_IN_DETAIL_TYPES = (DETAIL_TYPE_CONSOLE_SIGN_IN, DETAIL_TYPE_CONSOLE_SIGNIN_DOCS)
_DETAIL_TYPE_BY_EVENT_TYPE = {
    "AwsApiCall": DETAIL_TYPE_API_CALL,
    "AwsConsoleSignIn": DETAIL_TYPE_CONSOLE_SIGN_IN,
    "AwsConsoleAction": "AWS Console Action via CloudTrail",
    "AwsServiceEvent": "AWS Service Event via CloudTrail",
    "AwsCloudTrailInsight": "AWS Insight via CloudTrail",
}
_NUMERIC_OPS = frozenset({"=", "<", "<=", ">", ">="})
_NUMERIC_LIMIT = 5e9
Scalar = str | int | float | bool | None


# --- tree ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exact:
    """An exact value: string, number, boolean or null."""

    value: Scalar


@dataclass(frozen=True)
class Prefix:
    """``{"prefix": text}`` (or with ``equals-ignore-case`` inside)."""

    text: str
    ignore_case: bool = False


@dataclass(frozen=True)
class Suffix:
    """``{"suffix": text}`` (or with ``equals-ignore-case`` inside)."""

    text: str
    ignore_case: bool = False


@dataclass(frozen=True)
class EqualsIgnoreCase:
    """``{"equals-ignore-case": text}``."""

    text: str


@dataclass(frozen=True)
class Wildcard:
    """``{"wildcard": text}``: ``*`` is any run of characters, ``\\*`` a literal star."""

    text: str


@dataclass(frozen=True)
class Exists:
    """``{"exists": true|false}``."""

    present: bool


@dataclass(frozen=True)
class Numeric:
    """``{"numeric": [op, number, ...]}``: every condition must hold."""

    conditions: tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True)
class Cidr:
    """``{"cidr": "10.0.0.0/24"}`` (IPv4 or IPv6)."""

    network: str


@dataclass(frozen=True)
class AnythingBut:
    """``{"anything-but": ...}``: matches a present leaf that none of ``excluded`` matches."""

    excluded: tuple[Exact | Prefix | Suffix | EqualsIgnoreCase | Wildcard, ...]


Matcher = (
    Exact | Prefix | Suffix | EqualsIgnoreCase | Wildcard | Exists | Numeric | Cidr | AnythingBut
)


@dataclass(frozen=True)
class FieldRule:
    """A leaf of the pattern: the event value must satisfy at least one matcher."""

    matchers: tuple[Matcher, ...]


@dataclass(frozen=True)
class ObjectRule:
    """An object level: every field must match, and one branch of every ``$or``."""

    fields: tuple[tuple[str, FieldRule | ObjectRule], ...]
    any_of: tuple[tuple[ObjectRule, ...], ...] = ()


@dataclass(frozen=True)
class EventPattern:
    """A parsed EventBridge event pattern."""

    root: ObjectRule


@dataclass(frozen=True)
class ParseError:
    """Why an event pattern is invalid: ``path`` names the field, ``position`` is set for JSON
    syntax errors (0-based character offset)."""

    message: str
    path: str = ""
    position: int | None = None

    def __str__(self) -> str:
        where = self.path or (f"char {self.position}" if self.position is not None else "pattern")
        return f"{where}: {self.message}"


# --- parsing ---------------------------------------------------------------------------------


class _Fail(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _string(value: object, path: str, what: str) -> str:
    if not isinstance(value, str):
        raise _Fail(path, f"{what} needs a string")
    return value


def _check_wildcard(text: str, path: str) -> None:
    if "**" in text:
        raise _Fail(path, "wildcard may not contain consecutive '*'")
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if text[i + 1 : i + 2] not in ("*", "\\"):
                raise _Fail(path, "in a wildcard a backslash may only escape '*' or '\\'")
            i += 2
        else:
            i += 1


def _affix(operator: str, body: object, path: str) -> Prefix | Suffix:
    kind = Prefix if operator == "prefix" else Suffix
    if isinstance(body, dict):
        if set(body) != {"equals-ignore-case"}:
            raise _Fail(path, f"{operator} takes a string or {{'equals-ignore-case': string}}")
        return kind(_string(body["equals-ignore-case"], path, operator), ignore_case=True)
    return kind(_string(body, path, operator))


def _anything_but(body: object, path: str) -> AnythingBut:
    if _is_scalar(body) and not isinstance(body, bool) and body is not None:
        return AnythingBut((Exact(body),))  # type: ignore[arg-type]
    if isinstance(body, list):
        if not body or not (
            all(isinstance(v, str) for v in body) or all(_is_number(v) for v in body)
        ):
            raise _Fail(path, "anything-but list must be non-empty, all strings or all numbers")
        return AnythingBut(tuple(Exact(v) for v in body))
    if isinstance(body, dict) and len(body) == 1:
        ((operator, inner),) = body.items()
        if operator in ("prefix", "suffix"):
            return AnythingBut((_affix(operator, inner, path),))
        if operator in ("equals-ignore-case", "wildcard"):
            values = inner if isinstance(inner, list) else [inner]
            if not values:
                raise _Fail(path, f"anything-but {operator} list is empty")
            texts = [_string(v, path, operator) for v in values]
            if operator == "wildcard":
                for text in texts:
                    _check_wildcard(text, path)
                return AnythingBut(tuple(Wildcard(t) for t in texts))
            return AnythingBut(tuple(EqualsIgnoreCase(t) for t in texts))
    raise _Fail(path, "unsupported anything-but value")


def _numeric(body: object, path: str) -> Numeric:
    if not isinstance(body, list) or len(body) not in (2, 4):
        raise _Fail(path, "numeric takes [op, number] or [op, number, op, number]")
    conditions: list[tuple[str, Decimal]] = []
    for op, number in zip(body[::2], body[1::2], strict=True):
        if op not in _NUMERIC_OPS or not _is_number(number):
            raise _Fail(path, f"bad numeric condition {op!r} {number!r}")
        if abs(number) > _NUMERIC_LIMIT:
            raise _Fail(path, "numeric bound outside -5.0e9..5.0e9")
        conditions.append((op, Decimal(repr(number))))
    ops = [op for op, _ in conditions]
    if len(ops) == 2 and ("=" in ops or {ops[0][0], ops[1][0]} != {"<", ">"}):
        raise _Fail(path, "a numeric range needs one lower and one upper bound")
    return Numeric(tuple(conditions))


def _operator(entry: dict[str, Any], path: str) -> Matcher:
    if len(entry) != 1:
        raise _Fail(path, "an operator object must have exactly one key")
    ((operator, body),) = entry.items()
    if operator in ("prefix", "suffix"):
        return _affix(operator, body, path)
    if operator == "equals-ignore-case":
        return EqualsIgnoreCase(_string(body, path, operator))
    if operator == "wildcard":
        text = _string(body, path, operator)
        _check_wildcard(text, path)
        return Wildcard(text)
    if operator == "exists":
        if not isinstance(body, bool):
            raise _Fail(path, "exists takes true or false")
        return Exists(body)
    if operator == "numeric":
        return _numeric(body, path)
    if operator == "cidr":
        text = _string(body, path, operator)
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise _Fail(path, f"invalid cidr: {exc}") from None
        return Cidr(str(network))
    if operator == "anything-but":
        return _anything_but(body, path)
    raise _Fail(path, f"unknown operator {operator!r}")


def _field_rule(values: list[Any], path: str) -> FieldRule:
    if not values:
        raise _Fail(path, "a value array must not be empty")
    matchers: list[Matcher] = []
    for entry in values:
        if isinstance(entry, dict):
            matchers.append(_operator(entry, path))
        elif _is_scalar(entry):
            matchers.append(Exact(entry))
        else:
            raise _Fail(path, "array entries must be values or operator objects")
    return FieldRule(tuple(matchers))


def _object_rule(node: dict[str, Any], path: str) -> ObjectRule:
    if not node:
        raise _Fail(path, "an object in a pattern must not be empty")
    fields: list[tuple[str, FieldRule | ObjectRule]] = []
    any_of: list[tuple[ObjectRule, ...]] = []
    for key, value in node.items():
        child = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _Fail(child, "$or takes an array of at least two objects")
            if not all(isinstance(v, dict) for v in value):
                raise _Fail(child, "$or entries must be objects")
            any_of.append(tuple(_object_rule(v, child) for v in value))
        elif isinstance(value, dict):
            fields.append((key, _object_rule(value, child)))
        elif isinstance(value, list):
            fields.append((key, _field_rule(value, child)))
        else:
            raise _Fail(child, "pattern values must be arrays or objects")
    return ObjectRule(tuple(fields), tuple(any_of))


@lru_cache(maxsize=1024)
def parse_event_pattern(json_text: str) -> EventPattern | ParseError:
    """Parse an ``EventPattern`` JSON text; invalid input gives a ``ParseError`` value."""
    try:
        document = json.loads(json_text)
    except json.JSONDecodeError as exc:
        return ParseError(f"invalid JSON: {exc.msg}", position=exc.pos)
    except (TypeError, ValueError) as exc:
        return ParseError(f"invalid JSON: {exc}")
    if not isinstance(document, dict):
        return ParseError("an event pattern must be a JSON object")
    try:
        return EventPattern(_object_rule(document, ""))
    except _Fail as failure:
        return ParseError(failure.message, path=failure.path)
    except RecursionError:
        return ParseError("pattern nested too deeply")


# --- matching --------------------------------------------------------------------------------

_MISSING = object()


@lru_cache(maxsize=1024)
def _wildcard_regex(text: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            parts.append(re.escape(text[i + 1]))
            i += 2
        elif text[i] == "*":
            parts.append(".*")
            i += 1
        else:
            parts.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(parts), re.DOTALL)


def _leaves(value: object) -> list[object]:
    if value is _MISSING or isinstance(value, dict):
        return []
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _exact(expected: Scalar, leaf: object) -> bool:
    if expected is None or isinstance(expected, bool):
        return leaf is expected
    if isinstance(expected, str):
        return isinstance(leaf, str) and leaf == expected
    return _is_number(leaf) and json.dumps(leaf) == json.dumps(expected)


def _numeric_holds(conditions: tuple[tuple[str, Decimal], ...], leaf: object) -> bool:
    if not _is_number(leaf):
        return False
    number = Decimal(repr(leaf)) if isinstance(leaf, float) else Decimal(leaf)  # type: ignore[arg-type]
    if not number.is_finite():
        return False
    checks = {
        "=": lambda b: number == b,
        "<": lambda b: number < b,
        "<=": lambda b: number <= b,
        ">": lambda b: number > b,
        ">=": lambda b: number >= b,
    }
    return all(checks[op](bound) for op, bound in conditions)


def _in_cidr(network: str, leaf: object) -> bool:
    if not isinstance(leaf, str):
        return False
    try:
        return ipaddress.ip_address(leaf) in ipaddress.ip_network(network)
    except ValueError:
        return False


def _leaf_matches(matcher: Matcher, leaf: object) -> bool:
    match matcher:
        case Exact(expected):
            return _exact(expected, leaf)
        case Prefix(text, ignore_case):
            if not isinstance(leaf, str):
                return False
            return leaf.lower().startswith(text.lower()) if ignore_case else leaf.startswith(text)
        case Suffix(text, ignore_case):
            if not isinstance(leaf, str):
                return False
            return leaf.lower().endswith(text.lower()) if ignore_case else leaf.endswith(text)
        case EqualsIgnoreCase(text):
            return isinstance(leaf, str) and leaf.lower() == text.lower()
        case Wildcard(text):
            return isinstance(leaf, str) and _wildcard_regex(text).fullmatch(leaf) is not None
        case Numeric(conditions):
            return _numeric_holds(conditions, leaf)
        case Cidr(network):
            return _in_cidr(network, leaf)
        case AnythingBut(excluded):
            if not (isinstance(leaf, str) or _is_number(leaf)):
                return False
            return not any(_leaf_matches(e, leaf) for e in excluded)
    return False


def _field_matches(rule: FieldRule, value: object) -> bool:
    leaves = _leaves(value)
    for matcher in rule.matchers:
        if isinstance(matcher, Exists):
            if bool(leaves) == matcher.present:
                return True
        elif any(_leaf_matches(matcher, leaf) for leaf in leaves):
            return True
    return False


def _object_matches(rule: ObjectRule, node: object) -> bool:
    if isinstance(node, list):
        return any(_object_matches(rule, item) for item in node)
    for key, sub in rule.fields:
        child = node.get(key, _MISSING) if isinstance(node, dict) else _MISSING
        if isinstance(sub, ObjectRule):
            if not _object_matches(sub, child):
                return False
        elif not _field_matches(sub, child):
            return False
    return all(any(_object_matches(alt, node) for alt in branch) for branch in rule.any_of)


def matches(pattern: EventPattern, event: dict[str, Any]) -> bool:
    """True when EventBridge would deliver ``event`` to a rule with this pattern."""
    return _object_matches(pattern.root, event)


# --- CloudTrail events -----------------------------------------------------------------------


def cloudtrail_detail_type(record: dict[str, Any]) -> str:
    """The EventBridge ``detail-type`` of the event CloudTrail emits for ``record``."""
    if record.get("eventName") == "ConsoleLogin":
        return DETAIL_TYPE_CONSOLE_SIGN_IN
    return _DETAIL_TYPE_BY_EVENT_TYPE.get(str(record.get("eventType")), DETAIL_TYPE_API_CALL)


def cloudtrail_record_as_event(record: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """Wrap a CloudTrail record as the EventBridge event CloudTrail puts on the default bus."""
    service = str(record.get("eventSource", "")).split(".", 1)[0]
    return {
        "version": "0",
        "id": str(record.get("eventID", "")),
        "detail-type": cloudtrail_detail_type(record),
        "source": f"aws.{service}",
        "account": account,
        "time": str(record.get("eventTime", "")),
        "region": region,
        "resources": [],
        "detail": record,
    }


def matches_cloudtrail_record(
    pattern: EventPattern, record: dict[str, Any], region: str, account: str
) -> bool:
    """Whether a rule with ``pattern`` fires for ``record``; either sign-in spelling counts."""
    event = cloudtrail_record_as_event(record, region, account)
    if event["detail-type"] not in CONSOLE_SIGN_IN_DETAIL_TYPES:
        return matches(pattern, event)
    return any(
        matches(pattern, {**event, "detail-type": spelling})
        for spelling in CONSOLE_SIGN_IN_DETAIL_TYPES
    )
