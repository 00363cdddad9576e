"""Renderers of a change timeline (`trailcheck events`): JSON, HTML, terminal.

Pure: the events in, text (or console lines) out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from rich.console import Console

from trailcheck.changes.model import ChangeEvent
from trailcheck.reports.listing import Listing, print_table

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


def timeline_listing(events: Sequence[ChangeEvent], title: str) -> Listing:
    """Who, what, when, from where: one row per event, oldest first, times and ARNs whole."""
    return Listing(
        columns=("when_utc", "event", "failed", "who", "from", "account", "region", "resources"),
        rows=[
            (
                e.event_time,
                e.event_name,
                e.error_code or "",
                e.who(),
                e.source_ip or "",
                e.account_id or "",
                e.region or "",
                " ".join(e.resources),
            )
            for e in events
        ],
        keys=frozenset({"when_utc", "event", "account", "region"}),
        title=title,
    )


def print_timeline(events: Sequence[ChangeEvent], title: str, console: Console) -> None:
    """The newest `TERMINAL_ROWS` events, oldest first (the files hold them all)."""
    shown = list(events)[-TERMINAL_ROWS:]
    print_table(timeline_listing(shown, title), console)
    if len(events) > len(shown):
        console.print(f"… {len(events) - len(shown)} older event(s) in the JSON Lines file")
