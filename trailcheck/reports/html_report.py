"""The HTML report: one self-contained file for people (auditors included)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any, ClassVar

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trailcheck.model import Finding, Report, Status

STATUS_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.PASS: 2, Status.NOT_APPLICABLE: 3}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("trailcheck.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = _pretty
    env.filters["fill"] = fill_placeholders
    return env


PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def fill_placeholders(text: str, finding: Finding) -> str:
    """Put a finding's facts into a remediation command: `{trail_arn}` → the trail's ARN."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = finding.evidence.get(name)
        if isinstance(found, str):
            return found
        return finding.resource_arn if name.endswith("_arn") else match.group(0)

    return PLACEHOLDER.sub(value, text)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def group_findings(report: Report) -> list[tuple[str, list[tuple[str, list[Finding]]]]]:
    """account → rule → findings, accounts sorted, worst status first within a rule."""
    tree: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for f in report.findings:
        tree[f.account_id][f.rule_id].append(f)
    return [
        (
            account,
            [
                (rule_id, sorted(items, key=lambda f: (STATUS_ORDER[f.status], f.sort_key())))
                for rule_id, items in sorted(rules.items())
            ],
        )
        for account, rules in sorted(tree.items())
    ]


class HtmlReporter:
    """Summary first, then findings grouped by account and rule, filterable in the page."""

    name: ClassVar[str] = "html"
    filename: ClassVar[str] = "report.html"

    def render(self, report: Report) -> str:
        env = _environment()
        template = env.get_template("report.html.j2")
        return template.render(
            report=report,
            groups=group_findings(report),
            css=env.loader.get_source(env, "report.css")[0],  # type: ignore[union-attr]
            js=env.loader.get_source(env, "report.js")[0],  # type: ignore[union-attr]
        )
