"""Write a JSON document whose one big list is streamed item by item, with the bytes
`json.dumps(document, indent=2)` would give (a SARIF run's results, OCSF's events)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

# A string no report holds (a NUL is written escaped): marks where the items go.
_HOLE = "\x00trailcheck-streamed-items\x00"


def hole() -> list[str]:
    """The placeholder list to put in the document where the streamed items belong."""
    return [_HOLE]


def json_pieces(document: Any, items: Iterable[Any], *, sort_keys: bool) -> Iterator[str]:
    """`json.dumps(document, indent=2, ensure_ascii=False) + "\\n"` with the `hole()` list
    replaced by `items`, in pieces: only one item is ever held as text."""
    text = json.dumps(document, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n"
    marker = json.dumps(_HOLE)
    before, after = text.split(marker)  # exactly one hole
    indent = before[before.rindex("\n") + 1 :]  # the hole's line: the items' indentation
    head = before[: before.rindex("\n")]  # up to and including "["
    tail = after[after.index("\n") :]  # from the line break before "]"
    first = True
    for item in items:
        item_text = json.dumps(item, indent=2, sort_keys=sort_keys, ensure_ascii=False)
        yield (head + "\n" + indent if first else ",\n" + indent) + item_text.replace(
            "\n", "\n" + indent
        )
        first = False
    if first:  # no item: the list is "[]" as json.dumps writes an empty one
        yield head + tail.lstrip()
    else:
        yield tail
