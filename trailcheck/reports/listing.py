"""Tabular command output (`rules`, `diff`, `events`) for a terminal of any width and for pipes.

One `Listing` (column names, rows of text) renders three ways: `table` for a person at a
terminal (ids whole, long text wrapped; on a narrow terminal one block per row instead of
squeezed columns), and `csv` (with a header row) or `json` (a list of objects) for programs.
Piped output defaults to csv, so `trailcheck rules | ...` is never a truncated table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from rich.text import Text

from trailcheck.errors import UserError
from trailcheck.reports._util import printable

LISTING_FORMATS = ("table", "csv", "json")
# Below this width a table of several text columns squeezes each into a sliver: print one
# block per row (ids on the first line, each other column wrapped under it).
WIDE_ENOUGH = 120


@dataclass(frozen=True)
class Listing:
    """Rows of text under named columns; `keys` name the id columns (never cut or wrapped)."""

    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    keys: frozenset[str] = field(default_factory=frozenset)
    title: str | None = None


def listing_format(value: str | None, is_terminal: bool, extra: Sequence[str] = ()) -> str:
    """The --format asked for, or by default `table` on a terminal and `csv` in a pipe."""
    if value is None:
        return "table" if is_terminal else "csv"
    kind = value.strip().lower()
    choices = (*LISTING_FORMATS, *extra)
    if kind not in choices:
        raise UserError(f"--format: unknown format {value!r} (choose from {', '.join(choices)})")
    return kind


def render_csv(listing: Listing) -> str:
    """RFC 4180 CSV, a header row first; cells as printable text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(listing.columns)
    writer.writerows([printable(v) for v in row] for row in listing.rows)
    return buffer.getvalue()


def render_json(listing: Listing) -> str:
    """A JSON array with one object per row, keyed by column name."""
    data = [dict(zip(listing.columns, row, strict=True)) for row in listing.rows]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def print_table(listing: Listing, console: Console) -> None:
    """For a person: a table when the terminal is wide enough, else one block per row."""
    if listing.title:
        console.print(Text(listing.title, style="bold"))
    if not listing.rows:
        return
    if console.width >= WIDE_ENOUGH:
        console.print(_table(listing))
        return
    for row in listing.rows:
        ids = [v for c, v in zip(listing.columns, row, strict=True) if c in listing.keys and v]
        _wrapped(console, Text("  ".join(printable(v) for v in ids), style="bold"), 0)
        for column, value in zip(listing.columns, row, strict=True):
            if column in listing.keys or not value:
                continue
            label = Text(f"{column}: ", style="dim")
            if len(label) + len(printable(value)) + 2 > console.width and " " not in value:
                # one long id (an ARN): on a line of its own, so it is cut only when it is
                # longer than the terminal is wide
                _wrapped(console, label, 2)
                _wrapped(console, Text(printable(value)), 4)
            else:
                _wrapped(console, label + Text(printable(value)), 2)


def _wrapped(console: Console, text: Text, indent: int) -> None:
    """`text` wrapped at the console's width, every line indented, no trailing blanks."""
    for line in text.wrap(console, max(20, console.width - indent), overflow="fold"):
        line.rstrip()
        console.print(Text(" " * indent) + line, soft_wrap=True)


def _table(listing: Listing) -> Table:
    table = Table(show_header=True, header_style="bold", expand=True)
    for i, column in enumerate(listing.columns):
        if column in listing.keys:
            width = max([len(column), *(len(printable(r[i])) for r in listing.rows)])
            table.add_column(column, no_wrap=True, min_width=width)
        else:
            table.add_column(column, overflow="fold", ratio=1)
    for row in listing.rows:
        table.add_row(*(Text(printable(v)) for v in row))
    return table


def emit(listing: Listing, kind: str, console: Console) -> str | None:
    """Print a `table` to `console`; return the csv/json text for the caller to write."""
    if kind == "table":
        print_table(listing, console)
        return None
    return render_csv(listing) if kind == "csv" else render_json(listing)
