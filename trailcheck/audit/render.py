"""Render the audit document: self-contained HTML (inline CSS/JS/SVG, no network; a print
stylesheet for the PDF) and JSON of the same content."""

from __future__ import annotations

import re
from datetime import datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from trailcheck.audit.model import VERDICT_TEXT, VERDICTS, AuditDocument, Segment
from trailcheck.model import dump_json

TIMELINE_WIDTH = 600
UNKNOWN_OU = "(OU unknown)"


_SEPARATORS = re.compile(r"([:/,=@])")


def breakable(text: str) -> Markup:
    """Escaped text that may wrap after an ARN's separators (':' '/' ...) and at spaces, never
    inside a word or an account id (the table CSS forbids breaking anywhere else)."""
    return Markup(_SEPARATORS.sub(r"\1<wbr>", str(escape(text))))


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
        x=lambda when: _x(doc, when),
        events=events,
        ou_rows=_ou_rows(doc),
        resolved=[r for r in doc.remediation if r.resolved_at is not None],
        still_open=[r for r in doc.remediation if r.resolved_at is None],
    )
