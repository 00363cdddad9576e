"""Meta-tests over every rule, collector and reporter: the registry keeps its promises."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import trailcheck.rules as rules_package
from trailcheck import docgen
from trailcheck.reports import builtin_reporters
from trailcheck.rules import BUILTIN_MODULES, RuleSet, RuleSetError, frameworks, load_rules
from trailcheck.rules.base import RULE_ID
from trailcheck.scanner.collectors import all_collectors
from trailcheck.scanner.session import IAM_ACTION_OF, is_read_action

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules(include_plugins=False)


def test_builtin_modules_list_every_rule_module() -> None:
    found = {
        f"trailcheck.rules.{m.name}"
        for m in pkgutil.iter_modules(rules_package.__path__)
        if not m.name.startswith("_") and m.name != "base"
    }
    assert set(BUILTIN_MODULES) == found


@pytest.mark.parametrize("rule", list(RULES), ids=lambda r: r.id)
def test_rule_metadata_is_complete(rule) -> None:
    assert RULE_ID.match(rule.id)
    assert rule.title and rule.rationale and len(rule.rationale) > 40
    assert rule.remediation.summary and rule.remediation.cli and rule.remediation.terraform
    known = frameworks()
    for kind, mapping in (("controls", rule.controls), ("related_controls", rule.related_controls)):
        for framework, ids in mapping.items():
            assert framework in known, f"{rule.id}: unknown framework {framework} in {kind}"
            assert ids, f"{rule.id}: empty {kind} list for {framework}"
            for control in ids:
                assert control in known[framework], (
                    f"{rule.id}: unknown control {framework} {control} in {kind}"
                )
    for framework, ids in rule.controls.items():
        both = set(ids) & set(rule.related_controls.get(framework, ()))
        assert not both, f"{rule.id}: {framework} {both} both decided and related"


def test_every_rule_requirement_is_provided_by_a_collector() -> None:
    provided = frozenset().union(*(c.provides for c in all_collectors()))
    for rule in RULES:
        assert rule.requires <= provided, f"{rule.id} needs {rule.requires - provided}"


def test_every_collector_declares_only_read_permissions() -> None:
    for collector in all_collectors():
        assert collector.permissions, collector.name
        for permission in collector.permissions:
            assert is_read_action(permission), f"{collector.name} declares {permission}"


def test_every_renamed_iam_action_is_a_read() -> None:
    # The operations whose IAM action has another name map only to read actions.
    assert all(is_read_action(action) for action in IAM_ACTION_OF.values())


def test_management_policy_holds_only_what_the_caller_of_an_org_scan_needs() -> None:
    scanning = set(docgen.declared("account"))
    management = set(docgen.declared("management"))
    assert "sts:AssumeRole" in management and "sts:AssumeRole" not in scanning
    assert {"organizations:ListRoots", "organizations:ListAccountsForParent"} <= management
    assert not any(a.startswith("organizations:List") for a in scanning)


def test_rule_ids_are_unique_and_well_formed() -> None:
    rule = next(iter(RULES))
    with pytest.raises(RuleSetError, match="duplicate"):
        RuleSet((rule, rule))


def test_every_builtin_reporter_has_a_unique_file_name() -> None:
    names = [cls.filename for cls in builtin_reporters().values()]
    assert len(names) == len(set(names))


def test_generated_docs_are_current() -> None:
    for path, expected in docgen.expected_files(ROOT).items():
        assert path.exists(), f"{path} missing: run python -m trailcheck.docgen"
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.relative_to(ROOT)} is stale: run python -m trailcheck.docgen"
        )
