"""The rule set: built-in rule modules (an explicit list) plus `trailcheck.rules` entry points."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points

from trailcheck.rules.base import RULE_ID, Rule

BUILTIN_MODULES = (
    "trailcheck.rules.trails",
    "trailcheck.rules.kms",
    "trailcheck.rules.cloudwatch_logs",
    "trailcheck.rules.buckets",
    "trailcheck.rules.monitoring",
    "trailcheck.rules.guardrails",
    "trailcheck.rules.data_events",
    "trailcheck.rules.trail_options",
    "trailcheck.rules.lake",
)
ENTRY_POINT_GROUP = "trailcheck.rules"


class RuleSetError(ValueError):
    """Two rules share an id, or a rule id is malformed."""


@dataclass(frozen=True)
class RuleSet:
    """An ordered, validated collection of rules, keyed by id."""

    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for r in self.rules:
            if not RULE_ID.match(r.id):
                raise RuleSetError(f"malformed rule id {r.id!r}")
            if r.id in seen:
                raise RuleSetError(f"duplicate rule id {r.id!r}")
            seen.add(r.id)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def requires(self) -> frozenset[str]:
        """Every inventory collection some rule of the set needs."""
        return frozenset().union(*(r.requires for r in self.rules))


def rules_in(module_name: str) -> list[Rule]:
    """The `Rule` objects a module defines at top level, in definition order, then those its
    `generated_rules()` function returns (rules made from data, e.g. one per CIS control)."""
    module = importlib.import_module(module_name)
    found = [v for v in vars(module).values() if isinstance(v, Rule)]
    generate = getattr(module, "generated_rules", None)
    if callable(generate):
        found.extend(generate())
    return found


def load_rules(
    *, include_plugins: bool = True, modules: Iterable[str] = BUILTIN_MODULES
) -> RuleSet:
    """Built-in rules, then rules published by installed plugins, sorted by id."""
    found: list[Rule] = [r for name in modules for r in rules_in(name)]
    if include_plugins:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            loaded = ep.load()
            found.extend(loaded if isinstance(loaded, list | tuple) else [loaded])
    return RuleSet(tuple(sorted(found, key=lambda r: r.id)))


def frameworks() -> dict[str, dict[str, str]]:
    """Known framework → control id → title (from rules/frameworks/*.json)."""
    folder = resources.files("trailcheck.rules") / "frameworks"
    result: dict[str, dict[str, str]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            result[data["framework"]] = data["controls"]
    return result
