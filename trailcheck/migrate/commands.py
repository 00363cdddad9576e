"""`trailcheck waivers import`: read a Prowler mutelist, write trailcheck waivers, list the rest."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from trailcheck.errors import UserError
from trailcheck.extras import require_extra

DEFAULT_OWNER = "prowler-mutelist"
DEFAULT_DAYS = 90  # Prowler mutes never expire; trailcheck waivers must

waivers_app = typer.Typer(help="Waivers: bring them from other tools.", no_args_is_help=True)


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UserError(f"{path}: not valid YAML{where}") from None


@waivers_app.command("import")
def import_mutelist(
    mutelist: Annotated[Path, typer.Argument(help="A Prowler mutelist (or allowlist) YAML.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the waivers here (a new file; default stdout)."),
    ] = None,
    owner: Annotated[
        str, typer.Option("--owner", help="Owner of every waiver made (Prowler has none).")
    ] = DEFAULT_OWNER,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            help=f"Last day of every waiver, YYYY-MM-DD (default: {DEFAULT_DAYS} days from today).",
        ),
    ] = None,
) -> None:
    """Turn a Prowler mutelist into trailcheck waivers (TOML [[waivers]] tables) for the
    matching rules; list on stderr what could not be carried over and why."""
    require_extra("prowler", "trailcheck waivers import")
    from trailcheck.cli import check_writable_file, write_file
    from trailcheck.migrate.prowler import convert, waivers_toml
    from trailcheck.regions import known_regions

    if not owner.strip():
        raise UserError("--owner: expected a non-empty text")
    if expires is None:
        last = datetime.now(UTC).date() + timedelta(days=DEFAULT_DAYS)
    else:
        try:
            last = date.fromisoformat(expires.strip())
        except ValueError:
            raise UserError(f"--expires: {expires!r} is not a date (YYYY-MM-DD)") from None
    if output is not None:
        check_writable_file("--output", output)
        if output.exists():
            raise UserError(f"--output: {output} exists; give a new file (it is never overwritten)")
    document = _read_yaml(mutelist)
    if not isinstance(document, dict):
        raise UserError(f"{mutelist}: not a Prowler mutelist (expected a Mutelist: mapping)")
    result = convert(document, owner=owner, expires=last, known_regions=known_regions())
    text = waivers_toml(result.waivers)
    if output is None:
        sys.stdout.write(text)
    else:
        write_file("--output", output, text)
    for item in result.unmapped:
        sys.stderr.write(f"not mapped: {item.line()}\n")
    sys.stderr.write(
        f"{len(result.waivers)} waiver(s) made (expire {last.isoformat()}, owner {owner}); "
        f"{len(result.unmapped)} item(s) not mapped\n"
    )
