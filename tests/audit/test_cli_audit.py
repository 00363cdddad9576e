"""`trailcheck history import` then `trailcheck audit` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from history_world import DAY, PROD, T0, report_at

from trailcheck.cli import main
from trailcheck.model import dump_json


@pytest.fixture
def history(tmp_path: Path) -> str:
    paths = []
    for day in range(5):
        report = report_at(T0 + day * DAY, logging={PROD: day != 2})
        path = tmp_path / f"report-{day}.json"
        path.write_text(dump_json(report), encoding="utf-8")
        paths.append(path)
    url = f"sqlite:///{tmp_path / 'h.db'}"
    assert main(["history", "import", *map(str, reversed(paths)), "--history", url]) == 0
    return url


def test_import_then_audit_writes_html_and_json(history: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "audit"
    args = ["audit", "--from", "2026-07-01", "--to", "2026-07-05", "--history", history]
    assert main([*args, "--framework", "cis-aws-3.0", "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cis-aws-3.0:" in printed and "interrupted" in printed
    data = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    assert data["kind"] == "trailcheck-audit" and data["cover"]["scans"] == 5
    assert data["cover"]["inputs"][0]["name"].endswith("report-0.json)")
    assert (out / "audit.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--from", "2026-13-01", "--to", "2026-07-05"], "--from: '2026-13-01' is not a date"),
        (["--from", "2026-07-05", "--to", "2026-07-01"], "--to must be after --from"),
        (["--from", "2026-07-01", "--to", "2026-07-05", "--cadence", "0h"], "--cadence"),
        (
            ["--from", "2026-07-01", "--to", "2026-07-05", "--events", "/nonexistent.jsonl"],
            "--events",
        ),
        (["--from", "2026-07-01", "--to", "2026-07-05", "--framework", "pci"], "unknown framework"),
    ],
)
def test_bad_audit_input_is_one_line_and_exit_2(
    history: str, extra: list[str], message: str, capsys
) -> None:  # type: ignore[no-untyped-def]
    assert main(["audit", "--history", history, *extra, "--output-dir", "/tmp/unused-audit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_reimporting_is_recognised_by_hash(history: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    assert main(["history", "import", str(tmp_path / "report-0.json"), "--history", history]) == 0
    assert "already recorded (scan 1)" in capsys.readouterr().out


def test_importing_another_organization_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'org.db'}"
    paths = []
    for day, org in ((0, "o-aaaaaaaaaa"), (1, "o-bbbbbbbbbb")):
        path = tmp_path / f"{org}.json"
        path.write_text(dump_json(report_at(T0 + day * DAY, organization_id=org)), "utf-8")
        paths.append(path)
    assert main(["history", "import", str(paths[0]), "--history", url]) == 0
    capsys.readouterr()
    assert main(["history", "import", str(paths[1]), "--history", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "use one --history per organization" in err[0]
