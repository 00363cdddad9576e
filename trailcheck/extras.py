"""The optional extras (`pip install 'trailcheck[...]'`): which modules each brings, and one
helper every command uses to say, in one line, which extra to install when one is missing."""

from __future__ import annotations

import importlib

from trailcheck.errors import UserError

# extra -> the top-level modules it installs that trailcheck imports
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "demo": ("moto",),
    "history": ("sqlalchemy", "alembic"),
    "dask": ("distributed", "dask"),
    "postgresql": ("psycopg",),
    "prowler": ("yaml",),
}
# psycopg comes with the `history` extra
INSTALLED_BY: dict[str, str] = {"postgresql": "history"}


def install_hint(extra: str) -> str:
    """The pip command that installs `extra`."""
    return f"pip install 'trailcheck[{INSTALLED_BY.get(extra, extra)}]'"


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported."""
    missing = []
    for module in EXTRA_MODULES[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    return missing


def require_extra(extra: str, needed_by: str) -> None:
    """Raise a one-line `UserError` (exit 2) naming the pip command when `extra` is missing.

    `needed_by` is what the user asked for (a command or a flag), e.g. "trailcheck demo".
    """
    missing = missing_modules(extra)
    if missing:
        raise UserError(missing_extra_message(extra, needed_by, missing))


def missing_extra_message(extra: str, needed_by: str, missing: list[str]) -> str:
    """The one line said when `extra` (its modules `missing`) is not installed."""
    install = INSTALLED_BY.get(extra, extra)
    return f"{needed_by} needs the {install} extra ({', '.join(missing)}): {install_hint(extra)}"


def extra_of_module(name: str | None) -> str | None:
    """The extra that installs module `name` (a dotted name counts by its top level)."""
    top = (name or "").split(".")[0]
    return next((extra for extra, mods in EXTRA_MODULES.items() if top in mods), None)
