"""Render the audit document: self-contained HTML (inline CSS/JS/SVG, no network; a print
stylesheet for the PDF) and JSON of the same content."""

from __future__ import annotations

import re
from datetime import datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from trailcheck.audit.model import VERDICT_TEXT, VERDICTS, AuditDocument, ControlResult, Segment
from trailcheck.model import dump_json

TIMELINE_WIDTH = 600
UNKNOWN_OU = "(OU unknown)"


_SPACES = re.compile(r"(\s+)")
# after '/', ',', '=', '@', and ':' unless a digit follows (12:00, :111122223333:)
_BREAK_AFTER = re.compile(r"(?<=[/,=@])|(?<=:)(?!\d)")


def breakable(text: str) -> Markup:
    """Escaped text that wraps only at spaces and after an ARN's separators, never inside a
    word, a date or an account id: each piece is a no-wrap span (a hyphen in
    `ct-main-111122223333` or `2026-07-01` is not a break), joined by <wbr>."""
    out = []
    for part in _SPACES.split(str(text)):
        if not part or part.isspace():
            out.append(str(escape(part)))
            continue
        pieces = [p for p in _BREAK_AFTER.split(part) if p]
        out.append("<wbr>".join(f'<span class="n">{escape(p)}</span>' for p in pieces))
    return Markup("".join(out))


def when(moment: datetime, seconds: bool = False) -> Markup:
    """A UTC time that never wraps."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return Markup(f'<span class="n">{text}</span>')


def day(moment: datetime) -> Markup:
    return Markup(f'<span class="n">{moment:%Y-%m-%d}</span>')


def render_json(doc: AuditDocument) -> str:
    """Deterministic JSON (sorted keys), the same content as the HTML."""
    return dump_json(doc)


def _asset(name: str) -> str:
    return (resources.files("trailcheck.audit") / "templates" / name).read_text(encoding="utf-8")


def _x(doc: AuditDocument, when: datetime) -> float:
    start, end = doc.cover.period_start, doc.cover.period_end
    span = (end - start).total_seconds() or 1.0
    fraction = (min(max(when, start), end) - start).total_seconds() / span
    return round(fraction * TIMELINE_WIDTH, 2)


def _bars(segments: list[Segment], doc: AuditDocument) -> list[dict[str, Any]]:
    return [
        {
            "x": _x(doc, s.start),
            "w": max(round(_x(doc, s.end) - _x(doc, s.start), 2), 0.5),
            "state": s.state,
            "label": f"{s.state}: {s.start:%Y-%m-%d %H:%M} to {s.end:%Y-%m-%d %H:%M} UTC",
        }
        for s in segments
    ]


def _ou_rows(doc: AuditDocument) -> list[dict[str, Any]]:
    """Per OU: share of (control, account) timelines held throughout."""
    groups: dict[str, dict[str, int]] = {}
    for a in doc.accounts:
        counts = groups.setdefault(a.ou_path or UNKNOWN_OU, dict.fromkeys(VERDICTS, 0))
        for verdict, n in a.counts.items():
            counts[verdict] += n
    rows = []
    for ou, counts in sorted(groups.items()):
        total = sum(counts.values())
        rows.append({"label": ou, "held": counts["held"], "total": total, "counts": counts})
    return rows


ACCOUNTS_SHOWN = 24
ACCOUNT_MARK = "{account}"  # in a grouped row's reason: each account's own id
QUIET = ("held", "supports", "not_covered")  # printed as one row each, not as a box


def _accounts(ids: list[str]) -> str:
    shown = ", ".join(ids[:ACCOUNTS_SHOWN])
    more = len(ids) - ACCOUNTS_SHOWN
    return f"{shown} and {more} more (see audit.json)" if more > 0 else shown


def grouped_gaps(ctl: ControlResult) -> list[dict[str, Any]]:
    """Not-evidenced stretches, one row per (when, why) with every account it applies to:
    six unreachable accounts are one row, not six (a reason naming the account's own
    resources reads `{account}` in place of its id)."""
    rows: dict[tuple[Any, ...], list[str]] = {}
    for g in ctl.gaps:
        why = g.why.replace(g.account_id, ACCOUNT_MARK)
        rows.setdefault((g.start, g.end, g.hours, why), []).append(g.account_id)
    return [
        {"start": k[0], "end": k[1], "hours": k[2], "why": k[3], "accounts": _accounts(v)}
        for k, v in rows.items()
    ]


def grouped_related(ctl: ControlResult) -> list[dict[str, Any]]:
    """Related rules' evidence that is not PASS throughout, one row per (rule, verdict,
    detail) with its accounts."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for r in ctl.related:
        if r.verdict != "held":
            detail = r.detail.replace(r.account_id, ACCOUNT_MARK)
            rows.setdefault((r.rule_id, r.verdict, detail), []).append(r.account_id)
    return [
        {"rule_id": k[0], "verdict": k[1], "detail": k[2], "accounts": _accounts(v)}
        for k, v in rows.items()
    ]


def same_as(doc: AuditDocument) -> dict[tuple[str, str], str]:
    """(framework, control) -> the control printed earlier with exactly the same evidence
    (CIS 1.4, 3.0 and 5.0 share most controls): the PDF prints it once and refers to it."""
    first: dict[str, str] = {}
    found: dict[tuple[str, str], str] = {}
    for c in doc.controls:
        if c.verdict in QUIET:
            continue
        key = c.model_dump_json(include={"rules", "accounts", "interruptions", "gaps", "related"})
        label = f"{c.framework} {c.control_id}"
        if key in first:
            found[(c.framework, c.control_id)] = first[key]
        else:
            first[key] = label
    return found


def render_html(doc: AuditDocument, *, print_mode: bool = False) -> str:
    """The audit document as one HTML file. `print_mode` opens every collapsible (for the PDF)."""
    env = Environment(
        loader=PackageLoader("trailcheck.audit", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["breakable"] = breakable
    env.filters["when"] = when
    env.filters["day"] = day
    events = {c.event_id: c for c in doc.changes}
    return env.get_template("audit.html.j2").render(
        doc=doc,
        css=_asset("audit.css"),
        js=_asset("audit.js"),
        print_mode=print_mode,
        verdicts=VERDICTS,
        verdict_text=VERDICT_TEXT,
        width=TIMELINE_WIDTH,
        bars=lambda segments: _bars(segments, doc),
        grouped_gaps=grouped_gaps,
        grouped_related=grouped_related,
        quiet=QUIET,
        same=same_as(doc) if print_mode else {},
        x=lambda when: _x(doc, when),
        events=events,
        ou_rows=_ou_rows(doc),
        resolved=[r for r in doc.remediation if r.resolved_at is not None],
        still_open=[r for r in doc.remediation if r.resolved_at is None],
    )
