"""An optional extra that is not installed: every command that needs it says so in one line
naming the `pip install 'trailcheck[...]'` to run, and exits 2 (never a traceback, never 1)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from trailcheck.cli import main
from trailcheck.extras import EXTRA_MODULES, extra_of_module, install_hint

# Run the CLI in a fresh interpreter where the extra's module cannot be imported (None in
# sys.modules makes `import` raise ModuleNotFoundError, as on a plain install).
_RUN = (
    "import sys; sys.modules[sys.argv[1]] = None; from trailcheck.cli import main; "
    "sys.exit(main(sys.argv[2:]))"
)


def _without(module: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUN, module, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


CASES = [
    ("moto", "demo", ["demo", "--output-dir", "out"]),
    ("sqlalchemy", "history", ["scan", "--history", "sqlite:///h.db", "--region", "us-east-1"]),
    ("sqlalchemy", "history", ["history", "scans", "--history", "sqlite:///h.db"]),
    (
        "sqlalchemy",
        "history",
        ["audit", "--history", "sqlite:///h.db", "--from", "2026-01-01", "--to", "2026-02-01"],
    ),
    ("distributed", "dask", ["scan", "--executor", "dask://127.0.0.1:8786"]),
    ("distributed", "dask", ["verify-logs", "--executor", "dask://127.0.0.1:8786"]),
    ("yaml", "prowler", ["waivers", "import", "mutelist.yaml"]),
]


@pytest.mark.parametrize(("module", "extra", "args"), CASES, ids=lambda v: str(v))
def test_a_missing_extra_is_one_line_naming_the_pip_command_and_exit_2(
    module: str, extra: str, args: list[str], tmp_path: Path
) -> None:
    (tmp_path / "mutelist.yaml").write_text("Mutelist: {}\n")
    proc = _without(module, args, tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("trailcheck: error:")
    assert install_hint(extra) in lines[0]
    assert "Traceback" not in proc.stderr


def test_every_extra_in_pyproject_is_known_to_the_helper() -> None:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = set(project["project"]["optional-dependencies"]) - {"dev"}
    assert extras <= set(EXTRA_MODULES)
    assert extra_of_module("moto.server") == "demo"
    assert extra_of_module("json") is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_dask_scheduler_exits_3_not_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The scan cannot run (like AWS unreachable): exit 3, not 2 (bad input)."""
    port = _closed_port()
    code = main(
        [
            "scan",
            "--executor",
            f"dask://127.0.0.1:{port}",
            "--region",
            "us-east-1",
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert code == 3
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "cannot reach the Dask scheduler" in line
