"""The HTML report: one self-contained file for people (auditors included)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trailcheck.model import Finding, Report, Status
from trailcheck.reports._util import control_rollup, fill_placeholders, fix_for
from trailcheck.rules import frameworks

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


# Worst first: the status a matrix cell shows when an account has several findings for a rule.
CELL_ORDER = (Status.FAIL, Status.ERROR, Status.PASS, Status.NOT_APPLICABLE)
UNKNOWN_OU = "(OU unknown)"


@dataclass(frozen=True)
class MatrixCell:
    status: str  # worst status of the account's findings for the rule, "" when none
    title: str  # e.g. "2 FAIL, 1 PASS"


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    name: str
    ou_path: str
    unreachable: bool
    worst: str
    cells: list[MatrixCell]


@dataclass(frozen=True)
class OrgSummary:
    """The accounts x rules matrix and the accounts grouped by OU (organization reports)."""

    rule_ids: list[str]
    rows: list[AccountRow]
    by_ou: list[tuple[str, list[AccountRow]]]


def _cell(findings: list[Finding]) -> MatrixCell:
    if not findings:
        return MatrixCell("", "no finding")
    counts = Counter(f.status for f in findings)
    worst = next(s for s in CELL_ORDER if counts[s])
    title = ", ".join(f"{counts[s]} {s.value}" for s in CELL_ORDER if counts[s])
    waived = sum(1 for f in findings if f.waiver is not None)
    return MatrixCell(worst.value, f"{title}, {waived} waived" if waived else title)


def org_summary(report: Report) -> OrgSummary | None:
    """The organization summary, or None for a report of one account."""
    meta = report.metadata
    if len(meta.accounts) <= 1:
        return None
    rule_ids = sorted(report.rules)
    by_cell: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_cell[(f.account_id, f.rule_id)].append(f)
    unreachable = set(meta.unreachable_accounts)
    rows = []
    for account_id in meta.accounts:
        info = meta.account_info.get(account_id)
        cells = [_cell(by_cell[(account_id, r)]) for r in rule_ids]
        statuses = {c.status for c in cells}
        worst = next((s.value for s in CELL_ORDER if s.value in statuses), "")
        rows.append(
            AccountRow(
                account_id=account_id,
                name=(info.name if info else None) or "",
                ou_path=(info.ou_path if info else None) or UNKNOWN_OU,
                unreachable=account_id in unreachable,
                worst=worst,
                cells=cells,
            )
        )
    groups: dict[str, list[AccountRow]] = defaultdict(list)
    for row in rows:
        groups[row.ou_path].append(row)
    return OrgSummary(rule_ids=rule_ids, rows=rows, by_ou=sorted(groups.items()))


COVERAGE_COLUMNS = ("trail", "log_group", "metric_filter", "alarm", "subscriber")


def _control_order(finding: Finding) -> tuple[int, ...]:
    ids = finding.controls.get("cis-aws-5.0") or ["99"]
    return tuple(int(part) for part in ids[0].split(".") if part.isdigit())


def coverage_matrix(report: Report) -> dict[str, list[dict[str, Any]]]:
    """account → one row per monitoring control, from the findings' `evidence["coverage"]`.

    Pure reshaping of what the rules decided: the status is the finding's, the cells are the
    chain links the rule recorded (trail → log group → filter → alarm → subscriber) and the
    EventBridge assessment.
    """
    rows: dict[str, list[tuple[tuple[int, ...], dict[str, Any]]]] = defaultdict(list)
    for f in report.findings:
        coverage = f.evidence.get("coverage")
        if not isinstance(coverage, dict):
            continue
        links = coverage.get("links")
        bridge = coverage.get("eventbridge")
        row = {
            "finding": f,
            "cis": " · ".join(
                f"{label} {cis[key]}"
                for key, label in (
                    ("cis-aws-5.0", "CIS 5.0"),
                    ("aws-fsbp", "relates to Security Hub"),
                )
                if isinstance(cis := coverage.get("cis"), dict) and key in cis
            ),
            "cells": [
                links.get(name, {}) if isinstance(links, dict) else {} for name in COVERAGE_COLUMNS
            ],
            "eventbridge": bridge if isinstance(bridge, dict) else {},
            "counted_via": coverage.get("counted_via"),
        }
        rows[f.account_id].append((_control_order(f), row))
    return {
        account: [
            row for _, row in sorted(items, key=lambda item: (item[0], item[1]["finding"].rule_id))
        ]
        for account, items in sorted(rows.items())
    }


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
            org=org_summary(report),
            coverage=coverage_matrix(report),
            rollup=control_rollup(report),
            frameworks=frameworks(),
            fix=lambda f: fix_for(report, f),
            css=env.loader.get_source(env, "report.css")[0],  # type: ignore[union-attr]
            js=env.loader.get_source(env, "report.js")[0],  # type: ignore[union-attr]
        )
