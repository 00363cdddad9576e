"""A Prowler mutelist (or v3 allowlist) → trailcheck waivers, and what could not be carried over.

Pure: the parsed YAML in, `Conversion` out. Prowler mutes by account, check, region, resource
(regular expressions searched in the resource's id or ARN) and tag, with exceptions; trailcheck
waives by rule (id or glob), account, OU, region and resource ARN glob, with a reason, an owner
and an expiry. What maps:

- checks → the trailcheck rules that test the same thing (rules/data/prowler_checks.json);
  `*` or a pattern → every mapped check it matches;
- accounts `*` or a 12-digit id; regions `*` (no region scope) or names;
- resources: `*`, plain names and simple patterns (`.*`, `^`, `$`, `\\.`) → ARN globs that
  match what Prowler's search matches;
- `Exceptions.Regions` under `Regions: ["*"]` → every other region botocore knows.

Not mapped, each listed with why: tags (trailcheck has no tag scope), other exceptions (a waiver
has no "all but"), patterns a glob cannot express, checks no trailcheck rule tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

from trailcheck.config import WaiverConfig

DATA = "prowler_checks.json"
# Characters that make a pattern more than literal text, `.`, `.*` and anchors (or that a
# glob would read as its own syntax)
_REGEX_OR_GLOB_META = frozenset("\\^$*+?()[]{}|")


@dataclass(frozen=True)
class Unmapped:
    where: str  # "Accounts.<acct>.Checks.<check>" (and the field)
    what: str
    why: str

    def line(self) -> str:
        return f"{self.where}: {self.what}: {self.why}"


@dataclass
class Conversion:
    waivers: list[WaiverConfig] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)


@dataclass(frozen=True)
class CheckMap:
    mapped: dict[str, list[str]]
    not_mapped: dict[str, str]


def load_check_map() -> CheckMap:
    """Prowler check id → trailcheck rule ids, from the package data."""
    text = resources.files("trailcheck.rules").joinpath("data", DATA).read_text("utf-8")
    data = json.loads(text)
    return CheckMap(mapped=data["mapped"], not_mapped=data["not_mapped"])


def resource_glob(pattern: str) -> str | None:
    """An ARN glob matching exactly the strings Prowler's `re.search(pattern, ...)` matches,
    or None when a glob cannot express the pattern.

    Carried over: literal text, `.*` (any text), `.` (any one character), `\\.` (a dot) and the
    `^`/`$` anchors; anything else (groups, classes, alternation, repeats) is not.
    """
    if pattern in ("*", ".*"):
        return "*"
    start = pattern.startswith("^")
    end = pattern.endswith("$") and not pattern.endswith("\\$")
    body = pattern[1 if start else 0 : len(pattern) - 1 if end else len(pattern)]
    glob = []
    i = 0
    while i < len(body):
        if body.startswith("\\.", i):
            glob.append(".")
            i += 2
        elif body.startswith(".*", i):
            glob.append("*")
            i += 2
        elif body[i] == ".":
            glob.append("?")
            i += 1
        elif body[i] in _REGEX_OR_GLOB_META:
            return None
        else:
            glob.append(body[i])
            i += 1
    return ("" if start else "*") + "".join(glob) + ("" if end else "*")


def _checks(key: str, check_map: CheckMap) -> tuple[list[str], str | None]:
    """(rule ids or globs, why not) for a mutelist check key."""
    if key in ("*", ".*"):
        return ["*"], None
    if key in check_map.mapped:
        return check_map.mapped[key], None
    if key in check_map.not_mapped:
        return [], check_map.not_mapped[key]
    try:
        pattern = re.compile(key.replace("*", ".*") if ".*" not in key else key)
    except re.error:
        return [], "not a check id or pattern"
    matched = [c for c in sorted(check_map.mapped) if pattern.fullmatch(c)]
    rules = sorted({r for c in matched for r in check_map.mapped[c]})
    if rules:
        return rules, None
    return [], "no trailcheck rule tests what this Prowler check tests (not a CloudTrail check)"


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, Iterable) else [str(value)]


def convert(
    document: Mapping[str, Any],
    *,
    owner: str,
    expires: date,
    known_regions: Iterable[str],
    check_map: CheckMap | None = None,
) -> Conversion:
    """The waivers a mutelist document becomes, and what it could not carry over."""
    check_map = check_map or load_check_map()
    root = document.get("Mutelist") or document.get("Allowlist") or {}
    accounts = root.get("Accounts") if isinstance(root, Mapping) else None
    out = Conversion()
    if not isinstance(accounts, Mapping):
        out.unmapped.append(Unmapped("Mutelist", "Accounts", "no Mutelist.Accounts mapping"))
        return out
    for account, entry in accounts.items():
        account = str(account)
        where = f"Accounts.{account}"
        if account != "*" and not re.fullmatch(r"\d{12}", account):
            out.unmapped.append(Unmapped(where, account, "not a 12-digit account id or *"))
            continue
        checks = (entry or {}).get("Checks") if isinstance(entry, Mapping) else None
        for check, body in (checks or {}).items():
            _convert_check(
                out,
                f"{where}.Checks.{check}",
                account,
                str(check),
                body or {},
                owner,
                expires,
                sorted(known_regions),
                check_map,
            )
    return out


def _convert_check(
    out: Conversion,
    where: str,
    account: str,
    check: str,
    body: Mapping[str, Any],
    owner: str,
    expires: date,
    known_regions: list[str],
    check_map: CheckMap,
) -> None:
    rules, why = _checks(check, check_map)
    if not rules:
        out.unmapped.append(Unmapped(where, check, why or "not mapped"))
        return
    regions = _strings(body.get("Regions")) or ["*"]
    exceptions = body.get("Exceptions") or {}
    if regions == ["*"]:
        regions = []
    skip = set(_strings(exceptions.get("Regions")))
    if skip:
        if regions:
            regions = [r for r in regions if r not in skip]
        else:
            regions = [r for r in known_regions if r not in skip]
        if not regions:
            out.unmapped.append(Unmapped(where, "Exceptions.Regions", "excepts every region"))
            return
    for name in ("Accounts", "Resources", "Tags"):
        values = _strings(exceptions.get(name))
        if values:
            out.unmapped.append(
                Unmapped(
                    f"{where}.Exceptions.{name}",
                    ", ".join(values),
                    "a waiver has no exceptions; the waiver below is wider than the mute — "
                    "narrow it by hand",
                )
            )
    tags = _strings(body.get("Tags"))
    if tags:
        out.unmapped.append(
            Unmapped(
                f"{where}.Tags",
                ", ".join(tags),
                "trailcheck waivers do not match tags: no waiver made for this mute",
            )
        )
        return
    globs: list[str] = []
    every_resource = False
    for pattern in _strings(body.get("Resources")) or ["*"]:
        glob = resource_glob(pattern)
        if glob is None:
            out.unmapped.append(
                Unmapped(f"{where}.Resources", pattern, "a regular expression no glob expresses")
            )
        elif glob == "*":
            every_resource = True
        else:
            globs.append(glob)
    if every_resource:
        globs = []
    elif not globs:
        return  # no pattern could be carried over: never a waiver wider than the mute
    reason = str(body.get("Description") or f"Prowler mutelist: {check}")
    for rule in rules:
        out.waivers.append(
            WaiverConfig(
                rule=rule,
                accounts=[account],
                regions=regions,
                resources=globs,
                reason=f"{reason} (from Prowler {check})",
                owner=owner,
                expires=expires,
            )
        )


def waivers_toml(waivers: Iterable[WaiverConfig]) -> str:
    """`[[waivers]]` tables to paste into (or keep beside) trailcheck.toml."""

    def value(v: Any) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(json.dumps(x) for x in v) + "]"
        if isinstance(v, date):
            return v.isoformat()
        return json.dumps(v)

    blocks = []
    for w in waivers:
        lines = ["[[waivers]]"]
        for name in ("rule", "accounts", "regions", "resources", "reason", "owner", "expires"):
            item = getattr(w, name)
            if item or name in ("rule", "reason", "owner", "expires"):
                lines.append(f"{name} = {value(item)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
