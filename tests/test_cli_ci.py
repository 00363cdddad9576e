"""The CI gate end to end through `main()`: exit codes 0/1/2/3, config, waivers, baselines,
`init`, `baseline create`, `diff`, and the report files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from factories import make_inventory, make_status, make_trail

from trailcheck.cli import main
from trailcheck.model import dump_json
from trailcheck.rules import load_rules

WAIVE_VALIDATION = """
[[waivers]]
rule = "CT.TRAIL.LOG_VALIDATION"
accounts = ["111111111111"]
reason = "legacy trail, replaced in Q1 (CHG-7)"
owner = "platform"
expires = {expires}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(path: Path, *trails: object) -> Path:
    path.write_text(dump_json(make_inventory(list(trails))), encoding="utf-8")  # type: ignore[arg-type]
    return path


def medium_failure(workdir: Path) -> Path:
    """One FAIL, medium (log file validation off)."""
    return snapshot(workdir / "snap.json", make_trail("old", log_file_validation_enabled=False))


def run(*args: str) -> int:
    return main(list(args))


def test_exit_1_on_failures_and_every_format_written(workdir: Path) -> None:
    snap = medium_failure(workdir)
    code = run("evaluate", str(snap), "--format", "json,html,sarif,junit,md,csv,ocsf", "-q")
    assert code == 1
    assert sorted(p.name for p in (workdir / "trailcheck-report").iterdir()) == [
        "report.csv",
        "report.html",
        "report.json",
        "report.junit.xml",
        "report.md",
        "report.ocsf.json",
        "report.sarif",
    ]


@pytest.mark.parametrize(("fail_on", "code"), [("info", 1), ("medium", 1), ("high", 0)])
def test_fail_on_threshold(workdir: Path, fail_on: str, code: int) -> None:
    assert run("evaluate", str(medium_failure(workdir)), "--fail-on", fail_on, "-q") == code


def test_config_sets_defaults_and_flags_win(workdir: Path) -> None:
    snap = medium_failure(workdir)
    (workdir / "trailcheck.toml").write_text(
        'fail_on = "high"\nformats = ["md"]\noutput_dir = "ci-out"\n', encoding="utf-8"
    )
    assert run("evaluate", str(snap), "-q") == 0  # found in the working directory
    assert [p.name for p in (workdir / "ci-out").iterdir()] == ["report.md"]
    assert run("evaluate", str(snap), "-q", "--fail-on", "low", "--format", "csv") == 1
    assert (workdir / "ci-out" / "report.csv").exists()


def test_config_disable_and_severity(workdir: Path) -> None:
    snap = medium_failure(workdir)
    cfg = workdir / "other.toml"
    cfg.write_text('[rules]\ndisable = ["CT.TRAIL.LOG_VALIDATION"]\n', encoding="utf-8")
    assert run("evaluate", str(snap), "-q", "--config", str(cfg)) == 0
    cfg.write_text('[rules.severity]\n"CT.TRAIL.LOG_VALIDATION" = "info"\n', encoding="utf-8")
    assert run("evaluate", str(snap), "-q", "--config", str(cfg), "--fail-on", "low") == 0


def test_waiver_silences_and_expired_waiver_fails(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = medium_failure(workdir)
    cfg = workdir / "trailcheck.toml"
    cfg.write_text(WAIVE_VALIDATION.format(expires="2026-12-31"), encoding="utf-8")
    assert run("evaluate", str(snap), "--format", "json") == 0
    report = json.loads((workdir / "trailcheck-report" / "report.json").read_text())
    (waived,) = [f for f in report["findings"] if f["waiver"]]
    assert waived["status"] == "FAIL"
    assert "expires on 2026-12-31" not in capsys.readouterr().err  # not within 14 days

    cfg.write_text(WAIVE_VALIDATION.format(expires="2026-11-30"), encoding="utf-8")
    assert run("evaluate", str(snap), "--format", "json") == 0
    assert (
        "warning: waivers[0] (CT.TRAIL.LOG_VALIDATION, owner platform) expires on "
        "2026-11-30" in capsys.readouterr().err
    )

    cfg.write_text(WAIVE_VALIDATION.format(expires="2026-11-01"), encoding="utf-8")
    assert run("evaluate", str(snap), "--format", "json") == 1
    err = capsys.readouterr().err
    assert "expired on 2026-11-01; its 1 finding(s) count again" in err


def test_unused_waiver_is_reported(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = snapshot(workdir / "snap.json", make_trail())
    (workdir / "trailcheck.toml").write_text(
        WAIVE_VALIDATION.format(expires="2026-12-31"), encoding="utf-8"
    )
    assert run("evaluate", str(snap), "--format", "md") == 0
    assert "matched no finding: remove it if the issue is fixed" in capsys.readouterr().err
    assert "matched nothing: remove it" in (workdir / "trailcheck-report" / "report.md").read_text()


def test_baseline_gate(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(
        workdir / "before.json",
        make_trail("known", log_file_validation_enabled=False),
        make_trail("fixed", log_file_validation_enabled=False),
    )
    assert run("evaluate", str(before), "--format", "json", "-q", "--output-dir", "r1") == 1
    assert run("baseline", "create", "r1/report.json", "-o", "baseline.json") == 0
    assert "wrote baseline.json: 2 known failure(s)" in capsys.readouterr().out
    assert json.loads((workdir / "baseline.json").read_text())["kind"] == "trailcheck-baseline"

    # same failures: quiet; one fixed: listed as resolved
    same = snapshot(
        workdir / "same.json",
        make_trail("known", log_file_validation_enabled=False),
        make_trail("fixed"),
    )
    assert run("evaluate", str(same), "--baseline", "baseline.json", "--format", "sarif") == 0
    out = capsys.readouterr().out
    assert "baseline baseline.json: 0 new failure(s), 1 known, 1 resolved" in out
    assert "resolved: CT.TRAIL.LOG_VALIDATION 111111111111" in out and "trail/fixed" in out
    sarif = json.loads((workdir / "trailcheck-report" / "report.sarif").read_text())
    failures = [r for r in sarif["runs"][0]["results"] if r["kind"] == "fail"]
    assert [r["baselineState"] for r in failures] == ["unchanged"]

    # a regression fails, whatever the baseline holds
    worse = snapshot(
        workdir / "worse.json",
        make_trail("known", log_file_validation_enabled=False),
        make_trail("new", status=make_status(is_logging=False)),
    )
    assert run("evaluate", str(worse), "--baseline", "baseline.json", "--format", "md") == 1
    out = capsys.readouterr().out
    assert "1 new failure(s) at or above low" in out


def test_diff_command(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = snapshot(workdir / "old.json", make_trail("a", log_file_validation_enabled=False))
    new = snapshot(workdir / "new.json", make_trail("b", log_file_validation_enabled=False))
    run("evaluate", str(old), "--format", "json", "-q", "--output-dir", "old")
    run("evaluate", str(new), "--format", "json", "-q", "--output-dir", "new")
    capsys.readouterr()
    assert run("diff", "old/report.json", "new/report.json", "--format", "table") == 0
    assert "1 new, 1 resolved, 0 persistent, 0 changed severity" in capsys.readouterr().out
    assert run("diff", "old/report.json", "new/report.json") == 0  # piped: csv, a header row
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["change"] for r in rows) == ["new", "resolved"]
    assert run("diff", "old/report.json", "new/report.json", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "trailcheck-diff"
    assert run("diff", "old/report.json", "new/report.json", "--format", "md", "-o", "d.md") == 0
    assert (workdir / "d.md").read_text().startswith("## trailcheck diff: 1 new, 1 resolved")


def test_init_writes_a_valid_starter(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("init") == 0
    assert (workdir / "trailcheck.toml").read_text().startswith("# trailcheck configuration")
    assert run("evaluate", str(snapshot(workdir / "s.json", make_trail())), "-q") == 0
    capsys.readouterr()
    assert run("init") == 2
    assert capsys.readouterr().err == (
        "trailcheck: error: trailcheck.toml already exists (use --force to overwrite it)\n"
    )
    assert run("init", "--force", "-o", "x/custom.toml") == 0


@pytest.mark.parametrize(
    ("args", "files", "message"),
    [
        (
            ["--config", "bad.toml"],
            {"bad.toml": "fail_on = 'severe'\n"},
            "bad.toml: fail_on: expected one of info, low, medium, high, critical, got 'severe'",
        ),
        (
            [],
            {"trailcheck.toml": "[rules]\ndisable = ['CT.GONE.RULE']\n"},
            "trailcheck.toml: rules.disable[0]: unknown rule id 'CT.GONE.RULE' "
            "(see `trailcheck rules`)",
        ),
        (["--config", "missing.toml"], {}, "--config: missing.toml: no such file"),
        (
            ["--baseline", "b.json"],
            {"b.json": "[]"},
            'b.json: not a trailcheck baseline (expected "kind": "trailcheck-baseline")',
        ),
        (
            ["--format", "json,pdf"],
            {},
            "--format: unknown format 'pdf' (choose from asff, csv, html, json, junit, md, ocsf, "
            "sarif)",
        ),
        (
            ["--fail-on", "urgent"],
            {},
            "--fail-on: unknown severity 'urgent' (choose from info, low, medium, high, critical)",
        ),
    ],
)
def test_usage_and_config_errors_exit_2_with_one_line(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    files: dict[str, str],
    message: str,
) -> None:
    for name, text in files.items():
        (workdir / name).write_text(text, encoding="utf-8")
    snap = medium_failure(workdir)
    assert run("evaluate", str(snap), *args) == 2
    assert capsys.readouterr().err == f"trailcheck: error: {message}\n"
    for name, text in files.items():
        assert (workdir / name).read_text(encoding="utf-8") == text  # never modified


@pytest.mark.parametrize(
    "args",
    [
        ["baseline", "create", "nope.json", "-o", "b.json"],
        ["diff", "nope.json", "nope.json"],
        ["diff", "a", "b", "--format", "xml"],
        ["baseline", "create"],
    ],
)
def test_bad_baseline_and_diff_input_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert run(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("trailcheck: error: ") and err.count("\n") == 1


def test_no_credentials_exit_3(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance role
    for name in (
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    assert run("scan", "-q", "--region", "us-east-1") == 3
    err = capsys.readouterr().err
    assert err.startswith("trailcheck: error: ") and err.count("\n") == 1


def test_live_scan_with_config_and_baseline(
    workdir: Path, moto: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A moto account with no trail: FAIL; baseline it; the next scan passes the gate."""
    assert run("scan", "-q", "--region", "us-east-1", "--format", "json,sarif,junit") == 1
    assert run("baseline", "create", "trailcheck-report/report.json", "-o", "base.json") == 0
    assert run("scan", "-q", "--region", "us-east-1", "--baseline", "base.json") == 0
    (workdir / "trailcheck.toml").write_text(
        '[rules]\nenable = ["CT.ACCOUNT.*"]\n', encoding="utf-8"
    )
    assert run("scan", "-q", "--region", "us-east-1", "--format", "json") == 1
    report = json.loads((workdir / "trailcheck-report" / "report.json").read_text())
    account_rules = {
        r.id for r in load_rules(include_plugins=False) if r.id.startswith("CT.ACCOUNT.")
    }
    assert "CT.ACCOUNT.MULTI_REGION_TRAIL" in account_rules
    assert set(report["rules"]) == account_rules
