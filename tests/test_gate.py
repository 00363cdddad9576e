"""The exit code and the one failure count: --strict, a scan that judged nothing, and the same
numbers on the terminal, in Markdown and in report.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import ACCOUNT, denied, make_account, make_inventory, make_trail

from trailcheck.cli import main
from trailcheck.gate import EXIT_NOTHING_JUDGED
from trailcheck.model import Inventory, dump_json

UNREACHABLE = "999999999999"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, inventory: Inventory) -> Path:
    path.write_text(dump_json(inventory), encoding="utf-8")
    return path


def errors_only(workdir: Path) -> Path:
    """No FAIL, but the trail's bucket is not in the scan: its rules and monitoring say ERROR."""
    return write(workdir / "errors.json", make_inventory())


def nothing_seen(workdir: Path) -> Path:
    """The only account could not be entered: every finding is ERROR."""
    account = make_account(UNREACHABLE, access_error=denied("sts:AssumeRole"))
    return write(workdir / "blind.json", make_inventory([], [account]))


def test_errors_pass_by_default_and_fail_with_strict(workdir: Path) -> None:
    snap = errors_only(workdir)
    assert main(["evaluate", str(snap), "-q"]) == 0
    assert main(["evaluate", str(snap), "-q", "--strict"]) == 1
    # --strict counts ERRORs at or above --fail-on only, like failures
    low = workdir / "low.toml"
    low.write_text('[rules.severity]\n"*" = "low"\n', encoding="utf-8")
    assert main(["evaluate", str(snap), "-q", "--strict", "--config", str(low)]) == 1
    strict_medium = ["--strict", "--fail-on", "medium", "--config", str(low)]
    assert main(["evaluate", str(snap), "-q", *strict_medium]) == 0


def test_strict_from_the_config_and_the_flag_wins(workdir: Path) -> None:
    snap = errors_only(workdir)
    (workdir / "trailcheck.toml").write_text("strict = true\n", encoding="utf-8")
    assert main(["evaluate", str(snap), "-q"]) == 1
    assert main(["evaluate", str(snap), "-q", "--no-strict"]) == 0
    (workdir / "trailcheck.toml").write_text('strict = "yes"\n', encoding="utf-8")
    assert main(["evaluate", str(snap), "-q"]) == 2


def test_a_scan_that_judged_nothing_exits_3_and_still_writes_its_report(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = nothing_seen(workdir)
    assert main(["evaluate", str(snap), "-q", "--format", "json"]) == EXIT_NOTHING_JUDGED
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["trailcheck: error: nothing could be judged: every finding of the 1 account(s) "
                   "is ERROR"]  # fmt: skip
    report = json.loads((workdir / "trailcheck-report" / "report.json").read_text())
    assert report["gate"]["accounts_not_judged"] == [UNREACHABLE]
    assert report["gate"]["exit_code"] == EXIT_NOTHING_JUDGED


def test_one_count_on_the_terminal_in_markdown_and_in_the_json(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trails = [
        make_trail("a", log_file_validation_enabled=False),  # medium FAIL
        make_trail("b", log_file_validation_enabled=False),
    ]
    accounts = [make_account(ACCOUNT), make_account(UNREACHABLE, access_error=denied("sts:X"))]
    snap = write(workdir / "snap.json", make_inventory(trails, accounts))
    code = main(["evaluate", str(snap), "--format", "md,json", "--fail-on", "medium"])
    assert code == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads((workdir / "trailcheck-report" / "report.json").read_text())
    failures = report["gate"]["failures"]
    assert last == f"{failures} failure(s) at or above medium"
    markdown = (workdir / "trailcheck-report" / "report.md").read_text()
    assert markdown.splitlines()[0] == f"## trailcheck: ❌ {last}"
    # how much could not be judged, said the same way in both
    g = report["gate"]
    unjudged = (
        f"could not judge (ERROR): {len(g['rules_with_errors'])} rule(s) in 2 of 2 account(s); "
        f"not at all: {UNREACHABLE} (--strict makes ERROR fail the run)"
    )
    assert g["accounts_not_judged"] == [UNREACHABLE]
    assert f"**{unjudged}**" in markdown
    out = capsys.readouterr().out
    assert out == ""  # everything was read above
    main(["evaluate", str(snap), "--format", "json", "--fail-on", "medium"])
    assert unjudged in " ".join(capsys.readouterr().out.split())
