"""Save and load inventories (snapshots) and reports, safely.

Loading a file that is not ours, is corrupt, or was written by a newer trailcheck is a
`UserError` naming the file; writing never leaves a half-written file behind. Documents are
validated strictly, as the JSON they are: a boolean is not a number (`"schema_version": true`
and `"days": true` are refused, never read as 1), a number is not a text; timestamps, enums
and arrays are read from their JSON forms.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from trailcheck.errors import UserError
from trailcheck.model import (
    INVENTORY_KIND,
    REPORT_KIND,
    REPORT_SCHEMA_VERSION,
    SCHEMA_VERSION,
    Inventory,
    Report,
    expand_shared_evidence,
)

M = TypeVar("M", bound=BaseModel)

# A \uD800-\uDFFF escape: pydantic's JSON parser refuses a lone one, but a snapshot keeps
# bytes that were not UTF-8 (an AWS name) as lone surrogates, written as these escapes.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename (no torn files)."""
    write_files_atomic([(path, (text,))])


def write_files_atomic(files: Sequence[tuple[Path, Iterable[str]]]) -> None:
    """Write each file's pieces to a temporary file beside it, then rename them all: an error
    or Ctrl-C while any piece is produced leaves every previous file whole and no temporary
    file behind. The pieces are written as they come (a big report is never one string)."""
    written: list[tuple[str, Path]] = []
    try:
        for path, pieces in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Not mkstemp: its 0600 would make reports unreadable to others; O_EXCL with 0666
            # gets the mode a plain write gives (the umask applies).
            tmp = str(path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            written.append((tmp, path))
            # backslashreplace: a lone surrogate (bytes that were not UTF-8) becomes `\udcff`,
            # which is also its JSON escape, instead of a crash at the end of a long scan.
            with os.fdopen(
                fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n"
            ) as handle:
                for piece in pieces:
                    handle.write(piece)
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, what: str) -> Any:
    """Parse a JSON file; any problem is one UserError line naming the file."""
    return _parse_json(path, _read_text(path, what), what)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read {what}: {exc}") from None


def _parse_json(path: Path, text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    except RecursionError:
        raise UserError(f"{path}: not a trailcheck {what}: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise UserError(f"{path}: not valid JSON: {_first_line(str(exc))}") from None


def _first_line(text: str, limit: int = 200) -> str:
    """`text` as one line of at most `limit` characters (for one-line errors)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _load(path: Path, model: type[M], kind: str, what: str, newest: int = SCHEMA_VERSION) -> M:
    text = _read_text(path, what)
    data = _parse_json(path, text, what)  # the clear messages, and no pydantic on deep JSON
    if isinstance(data, dict) and "shared_evidence" in data:
        # a version 2 report: its evidence table is expanded first, so the strict check
        # below sees the document as JSON (a model validator would see Python objects)
        try:
            data = expand_shared_evidence(data)
        except ValueError as exc:
            raise UserError(f"{path}: invalid {what}: {_first_line(str(exc))}") from None
        text = json.dumps(data)
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise UserError(f'{path}: not a trailcheck {what} (expected "kind": "{kind}")')
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserError(f"{path}: {what} has no integer schema_version")
    if version > newest:
        raise UserError(
            f"{path}: {what} schema version {version} is newer than this trailcheck reads "
            f"({newest}); upgrade trailcheck"
        )
    try:
        # Types are checked strictly on the JSON (surrogates stood in for: a text stays a
        # text); a document holding surrogates is then built from what json.loads read.
        checked = model.model_validate_json(_SURROGATE_ESCAPE.sub(r"\\ufffd", text), strict=True)
        return model.model_validate(data) if _SURROGATE_ESCAPE.search(text) else checked
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _first_line(".".join(str(p) for p in first["loc"]), 120)
        raise UserError(f"{path}: invalid {what} at {where}: {_first_line(first['msg'])}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid {what}: nested too deeply") from None


def load_document(path: Path, model: type[M], kind: str, what: str) -> M:
    """Read any trailcheck JSON document with a `kind` and `schema_version` (e.g. a baseline)."""
    return _load(path, model, kind, what)


def load_inventory(path: Path) -> Inventory:
    """Read a snapshot written by `trailcheck collect`."""
    return _load(path, Inventory, INVENTORY_KIND, "snapshot")


def load_report(path: Path) -> Report:
    """Read a JSON report written by trailcheck."""
    return _load(path, Report, REPORT_KIND, "report", REPORT_SCHEMA_VERSION)
