"""Baselines and diffs: stable identity, regressions vs known failures, resolved, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ci_samples import sample_inventory, waiver
from factories import ACCOUNT, make_inventory, make_status, make_trail

from trailcheck.baseline import (
    compare_with_baseline,
    create_baseline,
    diff_reports,
    fingerprint,
    load_baseline,
)
from trailcheck.config import Config, resolve
from trailcheck.engine import evaluate, failures_at_or_above
from trailcheck.errors import UserError
from trailcheck.model import Report, Severity, Status, dump_json
from trailcheck.reports.diff import diff_markdown
from trailcheck.rules import load_rules


def report_of(*trails: object, **kw: object) -> Report:
    return evaluate(make_inventory(list(trails)), load_rules(), **kw)  # type: ignore[arg-type]


def fail_ids(report: Report) -> set[tuple[str, str]]:
    return {(f.rule_id, f.resource_arn) for f in report.findings if f.status is Status.FAIL}


def test_fingerprint_is_identity_not_text_or_position() -> None:
    a = report_of(make_trail("t", log_file_validation_enabled=False))
    (fa,) = [f for f in a.findings if f.status is Status.FAIL]
    reworded = fa.model_copy(update={"reason": "other words", "severity": Severity.LOW})
    assert fingerprint(reworded) == fingerprint(fa)
    assert fingerprint(fa.model_copy(update={"region": "eu-west-1"})) != fingerprint(fa)
    assert fingerprint(fa.model_copy(update={"account_id": "2" * 12})) != fingerprint(fa)
    assert fingerprint(fa.model_copy(update={"rule_id": "CT.X.Y"})) != fingerprint(fa)
    assert len(fingerprint(fa)) == 32
    # position: more findings before it change nothing
    b = report_of(
        make_trail("a", log_file_validation_enabled=False),
        make_trail("t", log_file_validation_enabled=False),
    )
    assert fingerprint(fa) in {fingerprint(f) for f in b.findings}


def test_baseline_holds_unwaived_failures_only() -> None:
    policy = resolve(Config(waivers=[waiver(resources=["*:trail/stopped"])]), load_rules())
    report = evaluate(sample_inventory(), policy.rules, waivers=policy.waivers)
    baseline = create_baseline(report)
    arns = {e.resource_arn for e in baseline.entries}
    assert not any(a.endswith(":trail/stopped") for a in arns)  # waived: governed by its waiver
    assert {(e.rule_id, e.resource_arn) for e in baseline.entries} == {
        (f.rule_id, f.resource_arn)
        for f in report.findings
        if f.status is Status.FAIL and f.waiver is None
    }
    assert baseline.created_from.scan_started_at == report.metadata.scan_started_at


def test_regressions_fail_known_failures_do_not_resolved_are_listed() -> None:
    before = report_of(
        make_trail("known", log_file_validation_enabled=False),
        make_trail("fixed", log_file_validation_enabled=False),
    )
    after = report_of(
        make_trail("known", log_file_validation_enabled=False),
        make_trail("fixed"),
        make_trail("broken", status=make_status(is_logging=False)),
    )
    compared = compare_with_baseline(after, create_baseline(before), "b.json")
    base = compared.baseline
    assert base is not None
    failing = {fingerprint(f): f for f in after.findings if f.status is Status.FAIL}
    assert {failing[fp].resource_arn.rsplit("/", 1)[1] for fp in base.new} == {"broken"}
    assert {failing[fp].resource_arn.rsplit("/", 1)[1] for fp in base.unchanged} == {"known"}
    assert [r.resource_arn.rsplit("/", 1)[1] for r in base.resolved] == ["fixed"]
    gate = failures_at_or_above(compared, Severity.INFO)
    assert [f.resource_arn.rsplit("/", 1)[1] for f in gate] == ["broken"]
    # without the baseline both would fail
    assert len(failures_at_or_above(after, Severity.INFO)) == 2


def test_nothing_new_means_no_failure() -> None:
    report = report_of(make_trail("known", log_file_validation_enabled=False))
    compared = compare_with_baseline(report, create_baseline(report), "b.json")
    assert failures_at_or_above(compared, Severity.INFO) == []
    assert compared.baseline is not None and compared.baseline.resolved == []


def test_baseline_round_trips_through_its_file(tmp_path: Path) -> None:
    baseline = create_baseline(report_of(make_trail("t", log_file_validation_enabled=False)))
    path = tmp_path / "baseline.json"
    path.write_text(dump_json(baseline), encoding="utf-8")
    assert load_baseline(path) == baseline


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON (line 1, column 2)"),
        (
            '{"kind": "trailcheck-report", "schema_version": 1}',
            'not a trailcheck baseline (expected "kind": "trailcheck-baseline")',
        ),
        (
            '{"kind": "trailcheck-baseline", "schema_version": 99}',
            "baseline schema version 99 is newer than this trailcheck reads",
        ),
        (
            '{"kind": "trailcheck-baseline", "schema_version": 1, "entries": []}',
            "invalid baseline at created_from: Field required",
        ),
    ],
)
def test_bad_baseline_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_baseline(path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert path.read_text(encoding="utf-8") == content


def test_diff_new_resolved_persistent_changed_severity() -> None:
    old = report_of(
        make_trail("same", log_file_validation_enabled=False),
        make_trail("fixed", log_file_validation_enabled=False),
        make_trail("regraded", status=make_status(is_logging=False)),
    )
    new = report_of(
        make_trail("same", log_file_validation_enabled=False),
        make_trail("fixed"),
        make_trail("regraded", status=make_status(is_logging=False)),
        make_trail("broken", log_file_validation_enabled=False),
        severity={"CT.TRAIL.LOGGING": Severity.CRITICAL},
    )
    d = diff_reports(old, new)
    name = lambda arn: arn.rsplit("/", 1)[1]  # noqa: E731
    assert [name(r.resource_arn) for r in d.new_failures] == ["broken"]
    assert [(name(r.finding.resource_arn), r.now) for r in d.resolved] == [("fixed", "PASS")]
    assert sorted(name(r.resource_arn) for r in d.persistent) == ["regraded", "same"]
    assert [
        (name(c.finding.resource_arn), c.old_severity, c.finding.severity)
        for c in d.changed_severity
    ] == [("regraded", Severity.HIGH, Severity.CRITICAL)]
    # an account that vanished: its failures are resolved as "absent"
    gone = diff_reports(old, report_of(make_trail("other", account_id="2" * 12)))
    assert {r.now for r in gone.resolved} == {"absent"}
    # JSON and Markdown forms
    data = json.loads(dump_json(d))
    assert data["kind"] == "trailcheck-diff" and len(data["new_failures"]) == 1
    md = diff_markdown(d)
    assert md.startswith("## trailcheck diff: 1 new, 1 resolved, 2 persistent, 1 changed severity")
    for title in ("### New failures", "### Resolved", "### Changed severity", "### Persistent"):
        assert title in md


def test_identity_ignores_account_order_and_report_order() -> None:
    a = report_of(make_trail("x", log_file_validation_enabled=False))
    assert diff_reports(a, a).new_failures == []
    assert fail_ids(a) == {
        ("CT.TRAIL.LOG_VALIDATION", f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/x")
    }
