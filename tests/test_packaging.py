"""What `pip install trailcheck` gives: every module the package imports is installed with it.

The dev environment holds much more (moto brings Flask, which brings click), so a missing
dependency never shows in the other tests; `.ci/clean_install_check.sh` proves it for real.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "trailcheck"
# Modules only the optional extras provide, and where they may be imported.
EXTRA_ONLY = {
    "moto": "trailcheck/demo/",  # [demo]
    "sqlalchemy": "trailcheck/history/",  # [history]
    "alembic": "trailcheck/history/",
    "psycopg": "trailcheck/history/",
    "distributed": "trailcheck/scanner/dask_executor.py",  # [dask]
    "dask": "trailcheck/scanner/dask_executor.py",
    "yaml": "trailcheck/migrate/commands.py",  # [prowler]
}


def _closure(names: list[str]) -> set[str]:
    """Canonical names of these distributions and everything they require (no extras)."""
    seen: set[str] = set()
    todo = [canonicalize_name(Requirement(n).name) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in requires(name) or ():
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def _imported_top_level_modules() -> dict[str, set[str]]:
    """Third-party top-level module -> files of trailcheck that import it."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top != "trailcheck":
                    found.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_every_import_comes_with_the_declared_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    installed = _closure(project["dependencies"])
    providers = packages_distributions()
    missing = []
    for module, files in sorted(_imported_top_level_modules().items()):
        if module in EXTRA_ONLY:
            assert all(f.startswith(EXTRA_ONLY[module]) for f in files), (module, files)
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & installed:
            missing.append(f"{module} (imported by {', '.join(sorted(files))})")
    assert not missing, f"not installed by `pip install trailcheck`: {missing}"
