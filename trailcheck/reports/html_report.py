"""The HTML report: one self-contained file for people (auditors included)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trailcheck.model import AccountInfo, Finding, Report, Severity, Status
from trailcheck.reports._util import control_rollup, fill_placeholders, fix_for, incomplete_note
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


def _triage(items: list[Finding]) -> tuple[int, int]:
    """Worst first: unwaived FAIL before ERROR before the rest, then higher severity."""
    worst = min(items, key=lambda f: (STATUS_ORDER[f.status], -f.severity.rank))
    return (STATUS_ORDER[worst.status], -worst.severity.rank)


def group_findings(report: Report) -> list[tuple[str, list[tuple[str, list[Finding]]]]]:
    """account → rule → findings for the accounts that were scanned, accounts sorted, rules
    triage-first (worst status, then severity), worst status first within a rule."""
    unreachable = set(report.metadata.unreachable_accounts)
    tree: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for f in report.findings:
        if f.account_id not in unreachable:
            tree[f.account_id][f.rule_id].append(f)
    return [
        (
            account,
            [
                (rule_id, sorted(items, key=lambda f: (STATUS_ORDER[f.status], f.sort_key())))
                for rule_id, items in sorted(
                    rules.items(), key=lambda item: (_triage(item[1]), item[0])
                )
            ],
        )
        for account, rules in sorted(tree.items())
    ]


@dataclass(frozen=True)
class TopIssue:
    """One rule across the organization: in how many scanned accounts it fails."""

    rule_id: str
    title: str
    severity: str
    failing: int  # accounts with an unwaived FAIL of the rule
    judged: int  # scanned accounts the rule gave a verdict for (not only NOT_APPLICABLE)
    accounts: tuple[str, ...] = ()  # the failing accounts, sorted (the report links to each)


def top_issues(report: Report) -> list[TopIssue]:
    """Rules that fail somewhere, most severe first, then the most widespread."""
    unreachable = set(report.metadata.unreachable_accounts)
    failing: dict[str, set[str]] = defaultdict(set)
    judged: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        if f.account_id in unreachable or f.status is Status.NOT_APPLICABLE:
            continue
        judged[f.rule_id].add(f.account_id)
        if f.status is Status.FAIL and f.waiver is None:
            failing[f.rule_id].add(f.account_id)
    issues = [
        TopIssue(
            rule_id=rule_id,
            title=report.rules[rule_id].title if rule_id in report.rules else rule_id,
            severity=report.rules[rule_id].severity.value if rule_id in report.rules else "",
            failing=len(accounts),
            judged=len(judged[rule_id]),
            accounts=tuple(sorted(accounts)),
        )
        for rule_id, accounts in failing.items()
    ]
    rank = {s.value: s.rank for s in Severity}
    return sorted(issues, key=lambda i: (-rank.get(i.severity, 0), -i.failing, i.rule_id))


def unscanned_accounts(report: Report) -> list[tuple[str, str, str]]:
    """(account, name, why) for each account the scan could not enter: one block, not one
    section of identical ERROR findings per account."""
    why: dict[str, str] = {}
    for f in report.findings:
        if f.account_id in report.metadata.unreachable_accounts and f.status is Status.ERROR:
            why.setdefault(f.account_id, f.reason)
    return [
        (
            a,
            (report.metadata.account_info.get(a) or AccountInfo()).name or "",
            why.get(a, "not scanned"),
        )
        for a in sorted(report.metadata.unreachable_accounts)
    ]


def script_json(value: Any) -> str:
    """Compact JSON for a `<script type="application/json">` block: `<`, `>`, `&` and the
    line separators U+2028/U+2029 escaped, so no text can close the script element."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def evidence_island(report: Report) -> tuple[dict[int, int], str]:
    """Evidence shown on demand: finding index → position in one JSON array embedded once,
    each distinct evidence once (accounts failing the same way share it)."""
    positions: dict[int, int] = {}
    seen: dict[str, int] = {}
    for index, f in enumerate(report.findings):
        if f.evidence:
            text = json.dumps(f.evidence, sort_keys=True, ensure_ascii=False, default=str)
            positions[index] = seen.setdefault(text, len(seen))
    items = [json.loads(text) for text in seen]
    return positions, script_json(items)


class _Table:
    """Distinct values, each once; callers keep the position (rows repeat across accounts)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._at: dict[str, int] = {}

    def __call__(self, value: Any) -> int:
        key = json.dumps(value, separators=(",", ":"))
        if key not in self._at:
            self._at[key] = len(self.items)
            self.items.append(value)
        return self._at[key]


class _Strings:
    """A string table: each distinct text once, rows refer to it by position (0 is "")."""

    def __init__(self) -> None:
        self.items: list[str] = [""]
        self._at: dict[str, int] = {"": 0}

    def __call__(self, text: object) -> int:
        key = "" if text is None else str(text)
        if key not in self._at:
            self._at[key] = len(self.items)
            self.items.append(key)
        return self._at[key]


FINDING_FIELDS = (
    "status", "severity", "resource", "sub", "region", "reason", "evidence", "waiver",
    "fix", "cli", "change_event", "change_by", "change_session", "change_time", "change_ip",
    "change_id",
)  # fmt: skip


def _mapping(mapping: dict[str, list[str]]) -> str:
    return "; ".join(f"{f} {', '.join(ids)}" for f, ids in mapping.items())


def findings_island(report: Report) -> str:
    """The findings of the scanned accounts, embedded once and rendered in the page on demand.

    Compact: every text is an index into one string table (`strings`), every distinct finding
    row (the values of `FINDING_FIELDS`, in that order) is once in `rows`, every distinct
    monitoring coverage table once in `coverage`. `accounts` lists, per account in
    `group_findings` order, its rule groups (rule position, row positions) and the position of
    its coverage table.
    """
    strings = _Strings()
    rows = _Table()
    tables = _Table()
    positions, _ = evidence_island(report)
    index = {id(f): i for i, f in enumerate(report.findings)}
    rule_ids = sorted(report.rules)
    rule_at = {r: i for i, r in enumerate(rule_ids)}
    rules = [
        [
            strings(r),
            strings(report.rules[r].title),
            strings(_mapping(report.rules[r].controls)),
            strings(_mapping(report.rules[r].related_controls)),
            strings(report.rules[r].remediation.summary),
        ]
        for r in rule_ids
    ]
    coverage = coverage_matrix(report)

    def row(f: Finding) -> list[int]:
        change = f.evidence.get("last_change")
        change = change if isinstance(change, dict) else {}
        remedy = fix_for(report, f) if f.status is Status.FAIL else None
        waiver = ""
        if f.waiver is not None:
            w = f.waiver
            waiver = f"Waiver: {w.reason}" + (f" (owner {w.owner})" if w.owner else "")
            waiver += f", expires {w.expires}" if w.expires else ""
        return [
            strings(f.status.value),
            strings(f.severity.value),
            strings(f.resource_arn),
            strings(f.sub_resource),
            strings(f.region),
            strings(f.reason),
            positions.get(index[id(f)], -1),
            strings(waiver),
            strings(remedy.summary if remedy and f.remediation else ""),
            strings(remedy.cli if remedy else ""),
            strings(change.get("event_name") if change else ""),
            strings((change.get("principal_arn") or change.get("identity_type")) if change else ""),
            strings(change.get("session_name")),
            strings(change.get("event_time")),
            strings(change.get("source_ip")),
            strings(change.get("event_id")),
        ]

    def coverage_row(item: dict[str, Any]) -> list[Any]:
        f: Finding = item["finding"]
        cells = [*item["cells"], item["eventbridge"]]
        return [
            strings(f.title),
            strings(f.rule_id),
            strings(item["cis"]),
            strings(f.status.value),
            int(item["counted_via"] == "eventbridge"),
            [[strings(c.get("state")), strings(c.get("detail"))] for c in cells],
        ]

    accounts = [
        [
            [[rule_at[rule_id], [rows(row(f)) for f in findings]] for rule_id, findings in groups],
            tables([coverage_row(item) for item in coverage.get(account, [])]),
        ]
        for account, groups in group_findings(report)
    ]
    return script_json(
        {
            "strings": strings.items,
            "rules": rules,
            "rows": rows.items,
            "coverage": tables.items,
            "accounts": accounts,
        }
    )


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

    def __init__(self, expand_up_to: int | None = None) -> None:
        """`expand_up_to`: open every account's findings on load when the report has at most
        this many findings (default `EXPAND_UP_TO`); larger reports render them on demand."""
        self.expand_up_to = EXPAND_UP_TO if expand_up_to is None else expand_up_to

    def render(self, report: Report) -> str:
        env = _environment()
        template = env.get_template("report.html.j2")
        _, evidence_json = evidence_island(report)
        groups = group_findings(report)
        return template.render(
            report=report,
            groups=groups,
            counts={account: _counts(rules) for account, rules in groups},
            expand=len(report.findings) <= self.expand_up_to,
            top_issues=top_issues(report),
            severities=SEVERITY_ORDER,
            incomplete=incomplete_note(report),
            top_issue_links=TOP_ISSUE_LINKS,
            unscanned=unscanned_accounts(report),
            evidence_json=evidence_json,
            findings_json=findings_island(report),
            org=org_summary(report),
            rollup=control_rollup(report),
            frameworks=frameworks(),
            css=env.loader.get_source(env, "report.css")[0],  # type: ignore[union-attr]
            js=env.loader.get_source(env, "report.js")[0],  # type: ignore[union-attr]
        )


# Most severe first: how every severity list of the page reads.
SEVERITY_ORDER = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))
# Accounts a top issue links to inline; the rest are one click away in a <details>.
TOP_ISSUE_LINKS = 10

# Reports with at most this many findings open every account's findings on load; larger ones
# render an account's findings when it is opened (or a search or filter asks for them).
EXPAND_UP_TO = 2000


def _counts(rules: list[tuple[str, list[Finding]]]) -> str:
    """`3 FAIL, 1 ERROR, 20 PASS, 4 NOT_APPLICABLE findings`: an account's collapsed line."""
    counts = Counter(f.status for _, findings in rules for f in findings)
    return ", ".join(f"{counts[s]} {s.value}" for s in CELL_ORDER if counts[s]) + " findings"
