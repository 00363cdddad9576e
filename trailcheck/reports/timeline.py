"""Renderers of a change timeline (`trailcheck events`): JSON, HTML, terminal.

Pure: the events in, text (or console lines) out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from rich.console import Console
from rich.table import Table

from trailcheck.changes.model import ChangeEvent

TERMINAL_ROWS = 50


def render_json(events: Sequence[ChangeEvent], title: str) -> str:
    """`{"title": ..., "events": [...]}`, sorted keys, oldest event first."""
    data = {"title": title, "events": [e.model_dump(mode="json") for e in events]}
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def render_html(events: Sequence[ChangeEvent], title: str) -> str:
    """One self-contained, escaped page in the scan report's style."""
    env = Environment(
        loader=PackageLoader("trailcheck.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    css = env.loader.get_source(env, "report.css")[0]  # type: ignore[union-attr]
    return env.get_template("timeline.html.j2").render(events=events, title=title, css=css)


def print_timeline(events: Sequence[ChangeEvent], title: str, console: Console) -> None:
    """Who, what, when, from where: the newest `TERMINAL_ROWS` events, oldest first."""
    shown = list(events)[-TERMINAL_ROWS:]
    table = Table(title=title, show_header=True, header_style="bold", expand=True)
    for column in ("when (UTC)", "what", "who", "from", "account/region", "resources"):
        table.add_column(column)
    for e in shown:
        table.add_row(
            e.event_time,
            e.event_name + (f" (failed: {e.error_code})" if e.error_code else ""),
            e.who(),
            e.source_ip or "",
            f"{e.account_id}/{e.region}",
            ", ".join(e.resources[:3]),
        )
    console.print(table)
    if len(events) > len(shown):
        console.print(f"… {len(events) - len(shown)} older event(s) in the JSON Lines file")
