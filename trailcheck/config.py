"""The config file (`trailcheck.toml`): rule selection, severities, parameters, waivers, outputs.

Loading is two steps. `load_config(path)` parses TOML and validates its *shape* with pydantic
(`extra="forbid"` everywhere; strict types, see `trailcheck.strict`: `true` is no number).
`resolve(config, rules)` then checks everything that depends on the loaded rule set (rule
ids and globs, each rule's own parameter model) and returns a `Policy` the CLI and the
engine use. Every problem is one `UserError` line that names the
file, the key and what was expected: `trailcheck.toml: waivers[0].expires: expected a date
(YYYY-MM-DD), got 'soon'`.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from trailcheck.errors import UserError
from trailcheck.model import Finding, Severity
from trailcheck.reports import available
from trailcheck.rules import RuleSet
from trailcheck.rules.base import Rule
from trailcheck.strict import validate_strictly

CONFIG_FILENAME = "trailcheck.toml"
ACCOUNT_PATTERN = r"^(\d{12}|\*)$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSelection(_Strict):
    """Which rules run, and at which severity."""

    enable: list[str] = Field(
        default_factory=lambda: ["*"], description="Rule ids or globs to run (default: all)."
    )
    disable: list[str] = Field(
        default_factory=list, description="Rule ids or globs to skip (wins over enable)."
    )
    severity: dict[str, Severity] = Field(
        default_factory=dict,
        description="Rule id or glob → severity for every finding of the rule.",
    )


class WaiverConfig(_Strict):
    """An accepted finding: which rule, where, why, who owns it, and until when."""

    rule: str = Field(description="Rule id or glob.")
    accounts: list[str] = Field(default_factory=list, description='Account ids, or "*".')
    ous: list[str] = Field(
        default_factory=list, description="OU ids (or root id); nested OUs are included."
    )
    regions: list[str] = Field(default_factory=list, description="Region names or globs.")
    resources: list[str] = Field(default_factory=list, description="Resource ARN globs.")
    reason: str = Field(min_length=1, description="Why the finding is accepted.")
    owner: str = Field(min_length=1, description="Who answers for it (team, person).")
    expires: date = Field(description="Last day (UTC) the waiver applies, YYYY-MM-DD.")

    @field_validator("accounts")
    @classmethod
    def _account_ids(cls, value: list[str]) -> list[str]:
        for account in value:
            if account != "*" and not (len(account) == 12 and account.isdigit()):
                raise ValueError(f'expected a 12-digit account id or "*", got {account!r}')
        return value

    @field_validator("reason", "owner")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a non-empty text")
        return value

    @model_validator(mode="after")
    def _has_scope(self) -> WaiverConfig:
        if not (self.accounts or self.ous or self.regions or self.resources):
            raise ValueError(
                'expected a scope: accounts, ous, regions or resources (accounts = ["*"] '
                "for every account)"
            )
        return self

    def matches(self, finding: Finding, ou_path: str | None) -> bool:
        """True when the finding is of this waiver's rule and inside every scope it gives."""
        if not fnmatch.fnmatchcase(finding.rule_id, self.rule):
            return False
        if self.accounts and not any(a == "*" or a == finding.account_id for a in self.accounts):
            return False
        if self.ous:
            segments = [s for s in (ou_path or "").split("/") if s]
            if not any(fnmatch.fnmatchcase(s, ou) for ou in self.ous for s in segments):
                return False
        if self.regions and not any(
            fnmatch.fnmatchcase(finding.region or "", r) for r in self.regions
        ):
            return False
        return not self.resources or any(
            fnmatch.fnmatchcase(finding.resource_arn, r) for r in self.resources
        )

    def expired_at(self, scan_date: date) -> bool:
        """Expired once the scan's (UTC) date is after `expires` (the last valid day)."""
        return scan_date > self.expires


class Config(_Strict):
    """The whole file. Every key is optional; defaults match the command-line defaults."""

    fail_on: Severity | None = Field(
        default=None, description="Exit 1 on an unwaived FAIL at or above this severity."
    )
    strict: StrictBool | None = Field(
        default=None,
        description="Count unwaived ERROR findings at or above fail_on like failures.",
    )
    formats: list[str] | None = Field(
        default=None, description="Report formats to write (see `trailcheck formats`)."
    )
    output_dir: str | None = Field(default=None, description="Directory for the reports.")
    rules: RuleSelection = Field(default_factory=RuleSelection)
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Rule id → that rule's parameters."
    )
    waivers: list[WaiverConfig] = Field(default_factory=list)


@dataclass(frozen=True)
class Policy:
    """A config resolved against the rule set: what the CLI and the engine apply."""

    rules: RuleSet
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    severity: dict[str, Severity] = field(default_factory=dict)
    waivers: tuple[WaiverConfig, ...] = ()
    fail_on: Severity | None = None
    strict: bool | None = None
    formats: str | None = None
    output_dir: Path | None = None
    source: Path | None = None


# ----------------------------------------------------------------------------- loading


def find_config(explicit: Path | None, cwd: Path | None = None) -> Path | None:
    """`--config PATH` if given (it must exist), else `./trailcheck.toml` if present."""
    if explicit is not None:
        if not explicit.exists():
            raise UserError(f"--config: {explicit}: no such file")
        return explicit
    candidate = cwd / CONFIG_FILENAME if cwd is not None else Path(CONFIG_FILENAME)
    return candidate if candidate.is_file() else None


def load_config(path: Path) -> Config:
    """Parse and validate the shape of a config file (rule ids are checked by `resolve`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read config: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UserError(f"{path}: not a config file: TOML nested too deeply") from None
    try:
        return validate_strictly(Config, data)
    except ValidationError as exc:
        raise UserError(_validation_message(path, exc, Config)) from None


def resolve(config: Config, rules: RuleSet, source: Path | None = None) -> Policy:
    """Check rule ids, globs and parameters against `rules`; select the rules to run."""
    where = str(source) if source else CONFIG_FILENAME

    def fail(key: str, message: str) -> UserError:
        return UserError(f"{where}: {key}: {message}")

    def expand(pattern: str, key: str) -> list[str]:
        ids = [r.id for r in rules]
        if any(ch in pattern for ch in "*?["):
            found = [i for i in ids if fnmatch.fnmatchcase(i, pattern)]
            if not found:
                raise fail(key, f"pattern {pattern!r} matches no rule (see `trailcheck rules`)")
            return found
        if pattern not in ids:
            raise fail(key, f"unknown rule id {pattern!r} (see `trailcheck rules`)")
        return [pattern]

    enabled: set[str] = set()
    for i, pattern in enumerate(config.rules.enable):
        enabled.update(expand(pattern, f"rules.enable[{i}]"))
    for i, pattern in enumerate(config.rules.disable):
        enabled.difference_update(expand(pattern, f"rules.disable[{i}]"))

    severity: dict[str, Severity] = {}
    # Exact ids win over globs, whatever the order in the file.
    for pattern, level in sorted(
        config.rules.severity.items(), key=lambda kv: not any(c in kv[0] for c in "*?[")
    ):
        for rule_id in expand(pattern, f"rules.severity.{_key(pattern)}"):
            severity[rule_id] = level

    params: dict[str, dict[str, Any]] = {}
    for rule_id, values in config.params.items():
        key = f"params.{_key(rule_id)}"
        if any(ch in rule_id for ch in "*?["):
            raise fail(key, "expected an exact rule id (parameters differ from rule to rule)")
        rule = rules.get(rule_id)
        if rule is None:
            raise fail(key, f"unknown rule id {rule_id!r} (see `trailcheck rules`)")
        params[rule_id] = _check_params(rule, values, key, where)

    for i, waiver in enumerate(config.waivers):
        expand(waiver.rule, f"waivers[{i}].rule")

    known = available()  # built-in reporters and plugins
    for i, name in enumerate(config.formats or []):
        if name not in known:
            raise fail(
                f"formats[{i}]",
                f"unknown format {name!r} (expected one of: {', '.join(sorted(known))})",
            )

    return Policy(
        rules=RuleSet(tuple(r for r in rules if r.id in enabled)),
        params=params,
        severity=severity,
        waivers=tuple(config.waivers),
        fail_on=config.fail_on,
        strict=config.strict,
        formats=",".join(config.formats) if config.formats is not None else None,
        output_dir=Path(config.output_dir) if config.output_dir else None,
        source=source,
    )


def default_policy(rules: RuleSet) -> Policy:
    """The policy when there is no config file: every rule, defaults everywhere."""
    return Policy(rules=rules)


def _check_params(rule: Rule, values: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    allowed = set(rule.params.model_fields)
    for name in values:
        if name not in allowed:
            expected = ", ".join(sorted(allowed)) or "none: the rule has no parameters"
            raise UserError(f"{where}: {key}.{name}: unknown parameter (expected {expected})")
    try:
        validate_strictly(rule.params, values)
    except ValidationError as exc:
        raise UserError(_validation_message(Path(where), exc, rule.params, prefix=key)) from None
    return dict(values)


# ----------------------------------------------------------------------------- messages


def _key(part: str | int) -> str:
    """One path element as TOML writes it: `[0]`, `name`, or `"CT.TRAIL.LOGGING"`."""
    if isinstance(part, int):
        return f"[{part}]"
    if part and all(c.isalnum() or c in "_-" for c in part):
        return part
    return f'"{part}"'


def _dotted(loc: Sequence[str | int], prefix: str = "") -> str:
    text = prefix
    for part in loc:
        piece = _key(part)
        text += piece if piece.startswith("[") or not text else f".{piece}"
    return text or "(top level)"


def _fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys the model allows at `loc` (for an 'unknown key' message)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part)
            if info is None:
                return []
            current = _model_in(info.annotation)
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside `list[Model]`, `Model | None`, etc. (or the annotation)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


EXPECTED = {
    "string_type": "expected a text (in quotes)",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": 'expected a list, e.g. ["a", "b"]',
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "date_type": "expected a date (YYYY-MM-DD)",
    "date_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "expected a date (YYYY-MM-DD) without a time",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
}


def _validation_message(
    path: Path, exc: ValidationError, model: type[BaseModel], prefix: str = ""
) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = [p for p in first["loc"] if isinstance(p, str | int)]
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        expected = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        message = f"unknown key{expected}"
    elif kind == "missing":
        message = "missing required key"
    elif kind == "enum":
        choices = ", ".join(s.value for s in Severity)
        message = f"expected one of {choices}, got {first['input']!r}"
    elif kind == "value_error":
        message = str(first["ctx"]["error"]) if "ctx" in first else first["msg"]
    elif kind in EXPECTED:
        message = f"{EXPECTED[kind]}, got {_shown(first['input'])}"
    else:
        text = first["msg"]
        message = f"{text[:1].lower()}{text[1:]}, got {_shown(first['input'])}"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{path}: {_dotted(loc, prefix)}: {message}{more}"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as TOML writes it
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


# ----------------------------------------------------------------------------- `init`


def starter_config(rules: Iterable[Rule]) -> str:
    """A commented starter `trailcheck.toml` listing every rule and its parameters."""
    lines = [
        "# trailcheck configuration. Every key is optional; the values shown are the defaults.",
        "# Reference: docs/configuration.md. Validate with: trailcheck scan --config THIS_FILE",
        "",
        "# Exit 1 when an unwaived FAIL at or above this severity remains",
        "# (info, low, medium, high, critical). --fail-on overrides it.",
        'fail_on = "low"',
        "",
        "# Count ERROR findings (trailcheck could not decide: access denied, account",
        "# unreachable) at or above fail_on like failures. --strict / --no-strict override it.",
        "strict = false",
        "",
        "# Reports to write (json, html, sarif, junit, md, csv, ocsf). --format overrides it.",
        'formats = ["json", "html"]',
        'output_dir = "trailcheck-report"',
        "",
        "[rules]",
        "# Rule ids or globs. disable wins over enable.",
        'enable = ["*"]',
        "disable = []",
        "",
        "[rules.severity]",
        "# Severity for every finding of a rule (id or glob); exact ids win over globs.",
        '# "CT.TRAIL.CLOUDWATCH_LOGS" = "low"',
        "",
        "# Rule parameters, one table per rule id.",
    ]
    for rule in rules:
        fields = rule.params.model_fields
        if not fields:
            continue
        lines.append(f'# [params."{rule.id}"]')
        for name, info in fields.items():
            if info.description:
                lines.append(f"# {name}: {info.description}")
            lines.append(f"# {name} = {_toml_value(info.default)}")
        lines.append("")
    lines += [
        "# Waivers: accepted findings. A waiver needs a rule (id or glob), a scope (accounts,",
        "# ous, regions and/or resources: all given must match), a reason, an owner and an",
        "# expiry date (the last day it applies, judged at the scan time). A waived finding",
        "# keeps its real status and shows as WAIVED; an expired waiver stops applying; a",
        "# waiver that matched nothing is reported so it can be removed.",
        "#",
        "# [[waivers]]",
        '# rule = "CT.TRAIL.CLOUDWATCH_LOGS"',
        '# accounts = ["123456789012"]',
        '# resources = ["arn:aws:cloudtrail:*:123456789012:trail/sandbox-*"]',
        '# reason = "Sandbox trails are not monitored in real time (RISK-42)"',
        '# owner = "platform-team@example.com"',
        "# expires = 2026-12-31",
        "",
    ]
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return f'"{value}"'
