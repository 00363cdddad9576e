"""The audit's verdicts over a period, from a real history of reports judged by the real rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from history_world import DAY, DEV, PROD, T0, daily, report_at

from trailcheck.audit.build import AuditInputs, build_audit
from trailcheck.audit.events import load_events
from trailcheck.audit.model import AuditDocument, ControlResult
from trailcheck.audit.render import render_html, render_json
from trailcheck.config import WaiverConfig
from trailcheck.errors import UserError
from trailcheck.rules import frameworks
from trailcheck.verify.report import (
    CheckStatus,
    TrailCheck,
    VerificationMetadata,
    VerificationReport,
    summarise,
)
from trailcheck.verify.results import Gap, TrailVerification, Window

START = datetime(2026, 7, 1, tzinfo=UTC)
END = datetime(2026, 7, 10, 23, 59, 59, tzinfo=UTC)
DAYS = range(-1, 10)  # one scan a day at 06:00, June 30 (the state at --from) to July 10


def inputs(**overrides: Any) -> AuditInputs:
    values: dict[str, Any] = {
        "start": START,
        "end": END,
        "history_label": "test",
        "frameworks": ["cis-aws-3.0"],
    }
    return AuditInputs(**(values | overrides))


def control(doc: AuditDocument, framework: str, control_id: str) -> ControlResult:
    return next(c for c in doc.controls if c.framework == framework and c.control_id == control_id)


def timeline(ctl: ControlResult, account: str):  # type: ignore[no-untyped-def]
    return next(t for t in ctl.accounts if t.account_id == account)


def test_held_throughout_and_related_controls_evidenced(fill) -> None:  # type: ignore[no-untyped-def]
    doc = build_audit(fill(daily(DAYS)), inputs())
    ctl = control(doc, "cis-aws-3.0", "3.1")
    assert ctl.verdict == "held" and ctl.held_accounts == 2
    assert not ctl.interruptions and not ctl.gaps
    assert timeline(ctl, PROD).segments[-1].state == "pass"
    undecided = [c for c in doc.controls if not c.rules]
    assert undecided and all(
        c.verdict in ("supports", "contradicts", "not_evidenced", "not_covered") for c in undecided
    )
    assert all(c.verdict == "not_covered" for c in undecided if not c.related_rules)
    assert {c.control_id for c in doc.controls} == set(frameworks()["cis-aws-3.0"])
    assert doc.cover.scans == 10 and [a.account_id for a in doc.cover.accounts] == [PROD, DEV]


def test_a_failure_between_scans_is_an_interruption_with_its_length(fill) -> None:  # type: ignore[no-untyped-def]
    reports = daily(DAYS, logging_for=lambda d: {PROD: d not in (3, 4, 5), DEV: True})
    doc = build_audit(fill(reports), inputs())
    ctl = control(doc, "cis-aws-3.0", "3.1")
    assert ctl.verdict == "interrupted"
    assert [(i.account_id, i.start, i.end, i.hours) for i in ctl.interruptions] == [
        (PROD, T0 + 3 * DAY, T0 + 6 * DAY, 72.0)
    ]
    assert "not logging" in ctl.interruptions[0].cause
    assert ctl.interruptions[0].held_before == T0 + 2 * DAY  # it began after the last pass
    assert timeline(ctl, PROD).verdict == "interrupted" and timeline(ctl, DEV).verdict == "held"
    fixed = [r for r in doc.remediation if r.rule_id == "CT.TRAIL.LOGGING"]
    assert [(r.account_id, r.resolved_at, r.days) for r in fixed] == [(PROD, T0 + 6 * DAY, 3.0)]


def test_still_failing_at_the_end_of_the_period_is_failing(fill) -> None:  # type: ignore[no-untyped-def]
    reports = daily(DAYS, logging_for=lambda d: {PROD: d < 8, DEV: True})
    doc = build_audit(fill(reports), inputs())
    ctl = control(doc, "cis-aws-3.0", "3.1")
    assert ctl.verdict == "failing"
    assert ctl.interruptions[0].end is None
    still = [
        r for r in doc.remediation if r.rule_id == "CT.TRAIL.LOGGING" and r.resolved_at is None
    ]
    assert [r.failing_since for r in still] == [T0 + 8 * DAY]


def test_a_gap_longer_than_the_cadence_is_not_evidenced(fill) -> None:  # type: ignore[no-untyped-def]
    reports = [r for d, r in zip(DAYS, daily(DAYS), strict=True) if d not in (4, 5, 6)]
    store = fill(reports)
    doc = build_audit(store, inputs())
    ctl = control(doc, "cis-aws-3.0", "3.1")
    assert ctl.verdict == "not_evidenced"
    # the scan of day 3 speaks for one cadence (a day); nothing speaks from then to day 7
    assert {(g.account_id, g.start, g.end, g.hours) for g in ctl.gaps} == {
        (a, T0 + 4 * DAY, T0 + 7 * DAY, 72.0) for a in (PROD, DEV)
    }
    assert any("expected cadence" in u.why for u in doc.unseen)
    # a weekly cadence accepts the same history
    relaxed = build_audit(store, inputs(cadence=timedelta(days=7)))
    assert control(relaxed, "cis-aws-3.0", "3.1").verdict == "held"


def _event(name: str, when: str, who: str, event_id: str) -> dict[str, Any]:
    return {
        "event_time": when,
        "event_name": name,
        "event_source": "cloudtrail.amazonaws.com",
        "account_id": DEV,
        "region": "us-east-1",
        "principal_arn": who,
        "identity_type": "IAMUser",
        "role_name": None,
        "session_name": None,
        "source_ip": "203.0.113.9",
        "user_agent": "aws-cli/2",
        "event_id": event_id,
        "is_root": False,
        "is_aws_service": False,
        "resources": [f"arn:aws:cloudtrail:us-east-1:{DEV}:trail/main-{DEV}"],
    }


def write_events(path: Path, *events: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def test_stop_logging_between_passing_scans_interrupts_the_control(fill, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_events(
        tmp_path / "changes.jsonl",
        _event("StopLogging", "2026-07-04T01:00:00Z", f"arn:aws:iam::{DEV}:user/mallory", "e1"),
        _event("StartLogging", "2026-07-04T03:30:00Z", f"arn:aws:iam::{DEV}:user/ops", "e2"),
        _event("StopLogging", "2026-08-20T00:00:00Z", "outside the period", "e3"),
    )
    events = load_events([path, path])  # the same events twice count once
    doc = build_audit(fill(daily(DAYS)), inputs(events=events, event_files=[(str(path), "x")]))
    ctl = control(doc, "cis-aws-3.0", "3.1")
    assert ctl.verdict == "interrupted"
    [stop] = ctl.interruptions
    assert (stop.account_id, stop.hours, stop.by) == (DEV, 2.5, f"arn:aws:iam::{DEV}:user/mallory")
    assert timeline(ctl, DEV).events == ["e1", "e2"] and timeline(ctl, PROD).events == []
    assert [c.event_id for c in doc.changes] == ["e1", "e2"]
    assert "cis-aws-3.0 3.1" in doc.changes[0].controls
    assert control(doc, "cis-aws-3.0", "3.5").verdict == "held"  # KMS encryption: not touched


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{", "not valid JSON"),
        ('{"event_name": "StopLogging"}', "missing event_time"),
        (json.dumps(_event("StopLogging", "yesterday", "x", "e")), "not an ISO 8601 time"),
        (
            json.dumps(_event("StopLogging", "2026-07-04T01:00:00Z", "x", "e") | {"extra": 1}),
            "unknown field",
        ),
    ],
)
def test_a_bad_event_line_is_one_clear_error(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=message) as caught:
        load_events([path])
    assert str(caught.value).startswith(f"{path}:1: ")


def _verification(gap: bool, modified: int) -> VerificationReport:
    window = Window(start=START, end=END)
    verification = TrailVerification(
        trail_arn=f"arn:aws:cloudtrail:us-east-1:{DEV}:trail/main-{DEV}",
        bucket=f"logs-{DEV}",
        account_id=DEV,
        region="us-east-1",
        organization_id=None,
        window=window,
        digests_valid=200,
        digests_invalid=0,
        digests_missing=0,
        digests_unverifiable=0,
        log_files_valid=900,
        log_files_modified=modified,
        log_files_deleted=0,
        log_files_unverified=0,
        log_files_not_listed=0,
        gaps=(Gap(start=T0 + DAY, end=T0 + DAY + timedelta(hours=3), reason="no digest"),)
        if gap
        else (),
        digests=(),
        problems=(),
    )
    check = TrailCheck(
        trail_arn=verification.trail_arn,
        trail_name=f"main-{DEV}",
        trail_account_id=DEV,
        home_region="us-east-1",
        is_multi_region=True,
        is_organization_trail=False,
        account_id=DEV,
        region="us-east-1",
        status=CheckStatus.FAILED,
        verification=verification,
    )
    checks, errors, summary = summarise([check], [])
    return VerificationReport(
        metadata=VerificationMetadata(
            tool_version="test", now=END, window=window, key_source="ListPublicKeys"
        ),
        summary=summary,
        checks=checks,
        errors=errors,
    )


@pytest.mark.parametrize(
    ("gap", "modified", "verdict"), [(True, 0, "interrupted"), (False, 2, "failing")]
)
def test_verify_logs_results_decide_the_integrity_control(
    fill, gap: bool, modified: int, verdict: str
) -> None:  # type: ignore[no-untyped-def]
    report = _verification(gap, modified)
    doc = build_audit(fill(daily(DAYS)), inputs(verifications=[("verify.json", "sha", report)]))
    ctl = control(doc, "cis-aws-3.0", "3.2")  # log file validation
    assert ctl.verdict == verdict
    assert timeline(ctl, DEV).verdict == verdict and timeline(ctl, PROD).verdict == "held"
    assert ctl.verification and ctl.verification[0].startswith(DEV)
    assert control(doc, "cis-aws-3.0", "3.1").verdict == "held"


def test_waiver_register_counts_days_left_at_the_end_of_the_period(fill) -> None:  # type: ignore[no-untyped-def]
    waiver = WaiverConfig(
        rule="CT.TRAIL.LOGGING",
        accounts=[PROD],
        reason="migration",
        owner="platform-team",
        expires="2026-07-31",
    )
    reports = daily(DAYS, logging_for=lambda d: {PROD: False, DEV: True}, waivers=[waiver])
    doc = build_audit(fill(reports), inputs())
    [entry] = doc.waivers
    assert (entry.owner, entry.days_left, entry.state, entry.used_by) == (
        "platform-team",
        21,
        "applied",
        1,
    )
    assert entry.scope == f"accounts: {PROD}"


def test_no_scan_in_the_period_and_unknown_framework_are_user_errors(fill) -> None:  # type: ignore[no-untyped-def]
    store = fill([report_at(T0 + 40 * DAY)])
    with pytest.raises(UserError, match="no recorded scan covers"):
        build_audit(store, inputs())
    with pytest.raises(UserError, match="unknown framework 'nope'"):
        build_audit(store, inputs(frameworks=["nope"], start=START + 40 * DAY, end=END + 40 * DAY))


def test_json_carries_the_same_content_and_html_escapes_every_name(fill, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hostile = "<img src=x onerror=alert(1)>"
    reports = daily(
        DAYS,
        trail_name=hostile,
        account_name=hostile,
        logging_for=lambda d: {PROD: d != 2, DEV: True},
    )
    path = write_events(
        tmp_path / "e.jsonl", _event("StopLogging", "2026-07-04T01:00:00Z", hostile, "e1")
    )
    doc = build_audit(fill(reports), inputs(events=load_events([path])))
    data = json.loads(render_json(doc))
    assert AuditDocument.model_validate(data) == doc
    assert render_json(doc) == render_json(AuditDocument.model_validate(data))
    html = render_html(doc)
    assert hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_audit_reads_what_trailcheck_events_writes(tmp_path: Path) -> None:
    """The JSON Lines of `trailcheck events` (and `verify-logs --extract-events`) load as is."""
    from trailcheck.changes.logfiles import jsonl
    from trailcheck.changes.model import ChangeEvent

    written = ChangeEvent.model_validate(
        _event("StopLogging", "2026-07-04T01:00:00Z", f"arn:aws:iam::{DEV}:user/mallory", "e1")
    )
    path = tmp_path / "events.jsonl"
    path.write_text(jsonl([written]), encoding="utf-8")
    [event] = load_events([path])
    assert event["event_time"] == datetime(2026, 7, 4, 1, tzinfo=UTC)
    assert {k: v for k, v in event.items() if k != "event_time"} == {
        k: v for k, v in written.model_dump().items() if k != "event_time"
    }
