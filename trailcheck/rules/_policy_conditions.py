"""Matching primitives for the bucket-policy evaluator: globs, policy variables, Condition blocks.

Every answer is three-valued: ``True``, ``False`` or ``None`` ("depends on a request value we do
not know"), combined with Kleene logic (:func:`all3`, :func:`any3`, :func:`not3`).

A request context maps lower-cased condition keys to a value (``str`` or a sequence of ``str``
for multivalued keys) or a :class:`KeyState`. A key missing from the context is *unknown*: any
condition on it answers ``None``. :attr:`KeyState.OUTSIDER` stands for "a caller the policy
does not name": the key is absent (when a request can lack it) or holds a value other than
the policy's fixed values. That is what makes ``StringEquals aws:PrincipalOrgID o-abc`` narrow
(False for every outsider) while ``StringLike aws:PrincipalOrgID o-*`` does not (None).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from types import MappingProxyType
from typing import Any

Tri = bool | None


class KeyState(Enum):
    """A context value that is not a concrete string."""

    ABSENT = "absent"  # the request does not carry this key
    OUTSIDER = "outsider"  # absent, or any value the policy does not pin


ContextValue = str | Sequence[str] | KeyState
Context = Mapping[str, ContextValue]

# Keys that every request carries, so an outsider cannot make them absent.
_ALWAYS_PRESENT_FOR_OUTSIDERS = frozenset({"aws:sourceip"})
# Keys whose values are ARNs: a wildcard pattern still narrows when its account field is fixed.
_ARN_KEYS = frozenset({"aws:sourcearn", "aws:principalarn", "s3:dataaccesspointarn"})

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_VARIABLES = MappingProxyType({"*": "*", "?": "?", "$": "$"})
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def all3(values: Iterable[Tri]) -> Tri:
    """Kleene AND: False wins, then None, else True (True for no values)."""
    result: Tri = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def any3(values: Iterable[Tri]) -> Tri:
    """Kleene OR: True wins, then None, else False (False for no values)."""
    result: Tri = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def not3(value: Tri) -> Tri:
    """Kleene NOT."""
    return None if value is None else not value


def has_wildcard(pattern: str) -> bool:
    """Whether a pattern holds a glob wildcard (``*`` or ``?``) outside a ``${...}`` escape."""
    plain = _VARIABLE.sub("", pattern)
    return "*" in plain or "?" in plain


def has_variable(pattern: str) -> bool:
    """Whether a pattern holds a real policy variable such as ``${aws:username}``."""
    return any(m.group(1) not in _LITERAL_VARIABLES for m in _VARIABLE.finditer(pattern))


def _variable_value(name: str, context: Context) -> str | None:
    """The value of ``${name}`` (optionally ``${name, 'default'}``), or None when unknown."""
    key, _, default = name.partition(",")
    value = context.get(key.strip().lower())
    if isinstance(value, str):
        return value
    default = default.strip()
    if value is KeyState.ABSENT and len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1]
    return None


def glob_regex(pattern: str, context: Context, *, wildcards: bool = True) -> str | None:
    """Translate an IAM pattern to a regex; None when it uses a variable we cannot resolve.

    ``*`` matches any run of characters (including ``/`` and ``:``), ``?`` one character;
    ``[`` has no special meaning (unlike :mod:`fnmatch`). ``${*}``, ``${?}``, ``${$}`` are
    literal characters. With ``wildcards=False`` the pattern is literal (StringEquals).
    """
    parts: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(pattern):
        parts.append(_translate(pattern[position : match.start()], wildcards))
        name = match.group(1)
        if name in _LITERAL_VARIABLES:
            parts.append(re.escape(_LITERAL_VARIABLES[name]))
        else:
            value = _variable_value(name, context)
            if value is None:
                return None
            parts.append(re.escape(value))
        position = match.end()
    parts.append(_translate(pattern[position:], wildcards))
    return "".join(parts)


@lru_cache(maxsize=8192)
def _translate(text: str, wildcards: bool) -> str:
    """A literal piece of a pattern as a regex (cached: the who-can rules match the same few
    patterns hundreds of thousands of times)."""
    if not wildcards:
        return re.escape(text)
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def glob_match(
    pattern: str,
    value: str,
    context: Context | None = None,
    *,
    ignore_case: bool = False,
    wildcards: bool = True,
) -> Tri:
    """Whether ``value`` matches an IAM pattern; None when a variable in it is unknown."""
    regex = glob_regex(pattern, context or {}, wildcards=wildcards)
    if regex is None:
        return None
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.fullmatch(regex, value, flags) is not None


def arn_match(pattern: str, value: str, context: Context | None = None) -> Tri:
    """ArnEquals/ArnLike: each of the six colon-separated ARN fields matched as a glob."""
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return glob_match(pattern, value, context)
    return all3(glob_match(p, v, context) for p, v in zip(pattern_parts, value_parts, strict=True))


@dataclass(frozen=True)
class Condition:
    """One operator/key pair of a Condition block, with its policy values."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written, e.g. "aws:SourceArn"
    values: tuple[str, ...]

    @property
    def qualifier(self) -> str | None:
        """The set qualifier, lower-cased: "foranyvalue", "forallvalues" or None."""
        head, sep, _ = self.operator.partition(":")
        return head.lower() if sep else None

    @property
    def base(self) -> str:
        """The operator without set qualifier and IfExists, lower-cased (e.g. "stringlike")."""
        name = self.operator.partition(":")[2] or self.operator
        name = name.lower()
        return name.removesuffix("ifexists") if name != "null" else name

    @property
    def if_exists(self) -> bool:
        """Whether the operator ends with IfExists."""
        return self.operator.lower().endswith("ifexists")

    @property
    def key_lower(self) -> str:
        """The condition key, lower-cased (keys are case-insensitive)."""
        return self.key.lower()


def parse_conditions(raw: Any) -> tuple[Condition, ...]:
    """Flatten a statement's Condition block into :class:`Condition` items."""
    if not raw:
        return ()
    if not isinstance(raw, Mapping):
        raise ValueError(f"Condition must be an object, not {type(raw).__name__}")
    conditions = []
    for operator, keys in raw.items():
        if not isinstance(keys, Mapping):
            raise ValueError(f"Condition operator {operator!r} must map keys to values")
        for key, values in keys.items():
            items = values if isinstance(values, list | tuple) else [values]
            conditions.append(Condition(str(operator), str(key), tuple(_text(v) for v in items)))
    return tuple(conditions)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# base operator -> (family, negated)
_OPERATORS: Mapping[str, tuple[str, bool]] = MappingProxyType(
    {
        "stringequals": ("equals", False),
        "stringnotequals": ("equals", True),
        "stringequalsignorecase": ("equals_ci", False),
        "stringnotequalsignorecase": ("equals_ci", True),
        "stringlike": ("like", False),
        "stringnotlike": ("like", True),
        "arnequals": ("arn", False),
        "arnlike": ("arn", False),
        "arnnotequals": ("arn", True),
        "arnnotlike": ("arn", True),
        "bool": ("bool", False),
        "ipaddress": ("ip", False),
        "notipaddress": ("ip", True),
        "numericequals": ("num_eq", False),
        "numericnotequals": ("num_eq", True),
        "numericlessthan": ("num_lt", False),
        "numericlessthanequals": ("num_le", False),
        "numericgreaterthan": ("num_gt", False),
        "numericgreaterthanequals": ("num_ge", False),
    }
)


def evaluate_condition(condition: Condition, context: Context) -> Tri:
    """Evaluate one condition against a request context (keys lower-cased)."""
    if condition.base != "null" and condition.base not in _OPERATORS:
        return None  # Date*, Binary*, unknown operators: we do not decide
    value = context.get(condition.key_lower)
    if value is None:
        return None
    if value is KeyState.OUTSIDER:
        return _evaluate_outsider(condition)
    if value is KeyState.ABSENT:
        return _evaluate_absent(condition)
    values = (value,) if isinstance(value, str) else tuple(value)
    if not values:
        return _evaluate_absent(condition)
    if condition.base == "null":
        return any3(not3(_null_expects_absent(v)) for v in condition.values)
    per_value = [_value_result(condition, v, context) for v in values]
    return all3(per_value) if condition.qualifier == "forallvalues" else any3(per_value)


def _null_expects_absent(policy_value: str) -> bool | None:
    lowered = policy_value.lower()
    return True if lowered == "true" else False if lowered == "false" else None


def _evaluate_absent(condition: Condition) -> Tri:
    if condition.base == "null":
        return any3(_null_expects_absent(v) for v in condition.values)
    if condition.if_exists or condition.qualifier == "forallvalues":
        return True
    if condition.qualifier == "foranyvalue":
        return False
    return _OPERATORS[condition.base][1]  # negated operators are true on a missing key


def _value_result(condition: Condition, value: str, context: Context) -> Tri:
    family, negated = _OPERATORS[condition.base]
    matched = any3(_match(family, p, value, context) for p in condition.values)
    return not3(matched) if negated else matched


def _match(family: str, policy_value: str, value: str, context: Context) -> Tri:
    if family == "equals":
        return glob_match(policy_value, value, context, wildcards=False)
    if family == "equals_ci":
        return glob_match(policy_value, value, context, wildcards=False, ignore_case=True)
    if family == "like":
        return glob_match(policy_value, value, context)
    if family == "arn":
        return arn_match(policy_value, value, context)
    if family == "bool":
        return policy_value.lower() == value.lower()
    if family == "ip":
        return _ip_in(value, policy_value)
    return _numeric(family, value, policy_value)


def _ip_in(address: str, cidr: str) -> Tri:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        ip = ipaddress.ip_address(address.split("/")[0])
    except ValueError:
        return None
    return ip.version == network.version and ip in network


def _numeric(family: str, value: str, policy_value: str) -> Tri:
    try:
        left, right = float(value), float(policy_value)
    except ValueError:
        return None
    return {
        "num_eq": left == right,
        "num_lt": left < right,
        "num_le": left <= right,
        "num_gt": left > right,
        "num_ge": left >= right,
    }[family]


def is_fixed_value(condition: Condition, policy_value: str) -> bool:
    """Whether a policy value names specific callers (no wildcard, no variable).

    ARN patterns with a wildcard still count as fixed when their account field is a literal
    12-digit id (only that account's resources or principals match); ``aws:userid`` values
    of the form ``AROLEID:*`` are fixed (AWS's own rule), and so are org paths that start with
    a literal ``o-id/``; an ``aws:SourceIp`` CIDR is fixed when it is no broader than /8
    (IPv4) or /32 (IPv6).
    """
    family = _OPERATORS.get(condition.base, ("", False))[0]
    if has_variable(policy_value):
        return False
    if family == "ip":
        try:
            network = ipaddress.ip_network(policy_value, strict=False)
        except ValueError:
            return False
        return network.prefixlen >= (8 if network.version == 4 else 32)
    if family in ("equals", "equals_ci") or not has_wildcard(policy_value):
        return True
    if condition.key_lower in _ARN_KEYS or family == "arn":
        parts = policy_value.split(":", 5)
        return len(parts) == 6 and _ACCOUNT_ID.match(parts[4]) is not None
    head = re.split(r"[*?]", policy_value, maxsplit=1)[0]
    if condition.key_lower == "aws:userid":
        return ":" in head and not head.startswith(":")
    if condition.key_lower.endswith("orgpaths"):
        return head.startswith("o-") and "/" in head  # pinned to one organization
    return False


def _evaluate_outsider(condition: Condition) -> Tri:
    """True/False when the condition holds/fails for every outsider, else None."""
    outcomes: list[Tri] = []
    if condition.key_lower not in _ALWAYS_PRESENT_FOR_OUTSIDERS:
        outcomes.append(_evaluate_absent(condition))
    if condition.base == "null":
        outcomes.append(any3(not3(_null_expects_absent(v)) for v in condition.values))
    else:
        family, negated = _OPERATORS[condition.base]
        if family in ("bool", "num_eq", "num_lt", "num_le", "num_gt", "num_ge"):
            outcomes.append(None)
        elif all(is_fixed_value(condition, v) for v in condition.values):
            outcomes.append(negated)  # a foreign value equals none of the fixed values
        else:
            outcomes.append(None)
    if all(o is True for o in outcomes):
        return True
    if all(o is False for o in outcomes):
        return False
    return None
