"""Issue 17, one test per reproduced item of the period answer (each failed on the main
branch before this change): real rules judge hand-built inventories, the real store records the
reports, the real audit reads them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from factories import make_account, make_bucket, make_inventory, make_status, make_trail
from history_world import DEV, PROD

from trailcheck.audit.build import AuditInputs, build_audit
from trailcheck.audit.model import AuditDocument, ControlResult
from trailcheck.audit.render import render_html
from trailcheck.engine import evaluate
from trailcheck.history.store import HistoryStore
from trailcheck.model import PublicAccessBlock, Report, ScanMetadata, Unknown
from trailcheck.rules import load_rules

DAY = timedelta(days=1)
T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)  # scans at 06:00
START = datetime(2026, 7, 2, tzinfo=UTC)  # the period: July 2 to 8; T0 is the scan before it
END = datetime(2026, 7, 8, 23, 59, 59, tzinfo=UTC)
DENIED = Unknown(operation="cloudtrail:GetTrailStatus", error_code="AccessDenied")
NO_ROLE = Unknown(operation="sts:AssumeRole", error_code="AccessDenied")
ALL_ON = PublicAccessBlock(
    block_public_acls=True,
    ignore_public_acls=True,
    block_public_policy=True,
    restrict_public_buckets=True,
)


def scan(
    when: datetime, prod: str = "on", *, skip_rules: tuple[str, ...] = (), dev_bucket: bool = True
) -> Report:
    """A scan of PROD and DEV by the real rules. prod: on | off | denied (GetTrailStatus) |
    unreachable (the role cannot be assumed). Without dev_bucket DEV's trail writes to PROD's
    bucket, so DEV owns no log bucket."""
    status = {"on": make_status(), "off": make_status(is_logging=False), "denied": DENIED}
    own = {} if dev_bucket else {"s3_bucket_name": f"logs-{PROD}"}
    trails = [make_trail(f"main-{DEV}", DEV, **own)]
    accounts = [make_account(DEV)]
    if prod == "unreachable":
        accounts.append(make_account(PROD, access_error=NO_ROLE))
    else:
        trails.append(make_trail(f"main-{PROD}", PROD, status=status[prod]))
        accounts.append(make_account(PROD))
    owners = [PROD, DEV] if dev_bucket else [PROD]
    buckets = [make_bucket(f"logs-{a}", a, account_public_access_block=ALL_ON) for a in owners]
    inventory = make_inventory(trails, accounts, buckets=buckets)
    inventory = inventory.model_copy(
        update={
            "metadata": ScanMetadata(
                tool_version="test", started_at=when, finished_at=when + timedelta(minutes=2)
            )
        }
    )
    rules = [r for r in load_rules(include_plugins=False) if r.id not in skip_rules]
    return evaluate(inventory, rules)


def audit(
    fill: Callable[[list[Report]], HistoryStore], reports: list[Report], **extra: Any
) -> AuditDocument:
    values: dict[str, Any] = {"start": START, "end": END, "history_label": "t"}
    return build_audit(fill(reports), AuditInputs(**(values | extra)))


def control(doc: AuditDocument, framework: str, control_id: str) -> ControlResult:
    return next(c for c in doc.controls if (c.framework, c.control_id) == (framework, control_id))


def verdict_of(ctl: ControlResult, account: str) -> str:
    return next(t.verdict for t in ctl.accounts if t.account_id == account)


def days(states: list[str], **kwargs: Any) -> list[Report]:
    """One scan a day from T0 (the day before the period) with PROD in each state."""
    return [scan(T0 + i * DAY, s, **kwargs) for i, s in enumerate(states)]


def test_item1_a_failure_seen_only_as_errors_afterwards_is_never_fixed(fill) -> None:  # type: ignore[no-untyped-def]
    doc = audit(fill, days(["on", "on", "off", "denied", "unreachable", "off", "denied", "denied"]))
    ctl = control(doc, "cis-aws-3.0", "3.1")
    assert verdict_of(ctl, PROD) == "failing"
    rows = [i for i in ctl.interruptions if i.account_id == PROD]
    assert [(i.start, i.end) for i in rows] == [(T0 + 2 * DAY, None)]  # one, never seen to end
    assert not [r for r in doc.remediation if r.account_id == PROD and r.resolved_at]


def test_item1_fail_error_pass_ended_between_the_error_and_the_pass(fill) -> None:  # type: ignore[no-untyped-def]
    doc = audit(fill, days(["on", "on", "off", "denied", "on", "on", "on", "on"]))
    ctl = control(doc, "cis-aws-3.0", "3.1")
    [row] = [i for i in ctl.interruptions if i.account_id == PROD]
    assert (row.start, row.ended_after, row.end) == (T0 + 2 * DAY, T0 + 3 * DAY, T0 + 4 * DAY)
    assert verdict_of(ctl, PROD) == "interrupted"
    [fixed] = [
        r for r in doc.remediation if r.account_id == PROD and r.rule_id == "CT.TRAIL.LOGGING"
    ]
    assert fixed.resolved_at == T0 + 4 * DAY  # the PASS, not the ERROR
    text = re.sub(r"<[^>]+>", "", render_html(doc))
    assert "between 2026-07-04 06:00 and 2026-07-05 06:00" in text


def test_item3_an_error_before_the_period_and_a_first_scan_22_hours_in_is_not_held(fill) -> None:  # type: ignore[no-untyped-def]
    first = START + timedelta(hours=22)
    reports = [scan(START - timedelta(hours=2), "denied")]
    reports += [scan(first + i * DAY) for i in range(7)]
    ctl = control(audit(fill, reports), "cis-aws-3.0", "3.1")
    assert verdict_of(ctl, PROD) == "not_evidenced"
    [gap] = [g for g in ctl.gaps if g.account_id == PROD]
    assert (gap.start, gap.end) == (START, first)
    assert "GetTrailStatus" in gap.why or "cannot" in gap.why
    assert verdict_of(ctl, DEV) == "held"  # its PASS 2 hours before speaks for a day


def test_item4_a_rule_disabled_for_days_is_a_gap_of_that_rule(fill) -> None:  # type: ignore[no-untyped-def]
    off = ("CT.ACCOUNT.MULTI_REGION_TRAIL", "CT.TRAIL.LOGGING")
    reports = [
        scan(
            T0 + i * DAY,
            "off" if i in (3, 4) else "on",
            skip_rules=off if i in (2, 3, 4, 5) else (),
        )
        for i in range(9)
    ]
    doc = audit(fill, reports)
    ctl = control(doc, "cis-aws-3.0", "3.1")
    assert verdict_of(ctl, PROD) == "not_evidenced" and verdict_of(ctl, DEV) == "not_evidenced"
    [gap] = [g for g in ctl.gaps if g.account_id == PROD]
    assert (gap.start, gap.end) == (T0 + 2 * DAY, T0 + 6 * DAY)
    assert "not run" in gap.why
    assert any("not run" in u.why or "not run" in u.what for u in doc.unseen)


def test_item5_not_applicable_is_never_held(fill) -> None:  # type: ignore[no-untyped-def]
    doc = audit(fill, [scan(T0 + i * DAY, dev_bucket=False) for i in range(9)])
    ctl = control(doc, "aws-fsbp", "S3.9")
    assert verdict_of(ctl, PROD) == "held"
    # DEV owns no log bucket: S3.9 (access logging on the CloudTrail bucket) is
    # NOT_APPLICABLE there, which is never evidence that it held
    assert verdict_of(ctl, DEV) == "not_evidenced"
    [gap] = [g for g in ctl.gaps if g.account_id == DEV]
    assert "not applicable" in gap.why
    # S3.1 is judged in every account now (issue 18); where its read is missing it is
    # unknown, not held
    assert verdict_of(control(doc, "aws-fsbp", "S3.1"), DEV) != "held"


def _event(name: str, when: datetime, who: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_time": when,
        "event_name": name,
        "event_source": "cloudtrail.amazonaws.com",
        "account_id": PROD,
        "region": "us-east-1",
        "principal_arn": f"arn:aws:iam::{PROD}:user/{who}",
        "identity_type": "IAMUser",
        "role_name": None,
        "session_name": None,
        "source_ip": "203.0.113.9",
        "user_agent": "aws-cli/2",
        "event_id": f"{name}-{when:%d%H}",
        "is_root": False,
        "is_aws_service": False,
        "resources": [f"arn:aws:cloudtrail:us-east-1:{PROD}:trail/main-{PROD}"],
        "error_code": None,
        "error_message": None,
    } | extra


def test_item7_a_denied_stop_logging_interrupts_nothing_and_is_an_attempt(fill) -> None:  # type: ignore[no-untyped-def]
    denied = _event(
        "StopLogging", T0 + 3 * DAY + timedelta(hours=1), "mallory", error_code="AccessDenied"
    )
    doc = audit(fill, days(["on"] * 9), events=[denied])
    ctl = control(doc, "cis-aws-3.0", "3.1")
    assert verdict_of(ctl, PROD) == "held" and not ctl.interruptions
    assert not doc.changes
    [attempt] = doc.attempts
    assert (attempt.event_name, attempt.error_code) == ("StopLogging", "AccessDenied")
    assert "Attempted changes that failed (1)" in render_html(doc)


def test_item8_one_outage_is_one_row_with_its_by(fill) -> None:  # type: ignore[no-untyped-def]
    stop = _event("StopLogging", T0 + 3 * DAY + timedelta(hours=-5), "mallory")
    doc = audit(fill, days(["on", "on", "on", "off", "off", "on", "on", "on"]), events=[stop])
    ctl = control(doc, "cis-aws-3.0", "3.1")
    [row] = [i for i in ctl.interruptions if i.account_id == PROD]
    assert (row.start, row.end) == (stop["event_time"], T0 + 5 * DAY)
    assert row.by == f"arn:aws:iam::{PROD}:user/mallory"


def test_item8_a_restore_confirmed_by_the_next_pass_ends_the_outage(fill) -> None:  # type: ignore[no-untyped-def]
    stop = _event("StopLogging", T0 + 3 * DAY + timedelta(hours=1), "mallory")
    start = _event("StartLogging", T0 + 3 * DAY + timedelta(hours=3), "ops")
    doc = audit(fill, days(["on"] * 9), events=[stop, start])
    [row] = control(doc, "cis-aws-3.0", "3.1").interruptions
    assert (row.start, row.end, row.hours) == (stop["event_time"], start["event_time"], 2.0)


def test_item8_a_restore_the_next_scan_contradicts_does_not_end_the_outage(fill) -> None:  # type: ignore[no-untyped-def]
    stop = _event("StopLogging", T0 + 3 * DAY - timedelta(hours=5), "mallory")
    start = _event("StartLogging", T0 + 3 * DAY - timedelta(hours=3), "ops")
    doc = audit(fill, days(["on", "on", "on", "off", "on", "on", "on", "on"]), events=[stop, start])
    [row] = control(doc, "cis-aws-3.0", "3.1").interruptions
    assert (row.start, row.end) == (stop["event_time"], T0 + 4 * DAY)
    assert row.by == f"arn:aws:iam::{PROD}:user/mallory"


def test_item2_stop_logging_on_the_organization_trail_interrupts_its_members(fill) -> None:  # type: ignore[no-untyped-def]
    from period_world import DECIDES, LOGGING, MGMT, ORG_TRAIL, A, B, Scan, report
    from period_world import START as P0

    from trailcheck.model import Status

    every = {(a, DECIDES): Status.PASS for a in (MGMT, A, B)}
    every |= {(MGMT, LOGGING): Status.PASS, (B, LOGGING): Status.PASS}
    reports = [report(Scan(h, (MGMT, A, B), outcomes=every)) for h in (-6, 6, 30, 54)]
    stop = _event("StopLogging", P0 + timedelta(hours=10), "alice") | {
        "account_id": MGMT,
        "principal_arn": f"arn:aws:iam::{MGMT}:user/alice",
        "resources": [ORG_TRAIL],
    }
    doc = build_audit(
        fill(reports),
        AuditInputs(start=P0, end=P0 + timedelta(hours=60), history_label="t", events=[stop]),
    )
    ctl = control(doc, "cis-aws-3.0", "3.1")
    rows = {(i.account_id, i.start, i.end, i.by) for i in ctl.interruptions}
    who = f"arn:aws:iam::{MGMT}:user/alice"
    assert rows == {
        (account, P0 + timedelta(hours=10), P0 + timedelta(hours=30), who) for account in (MGMT, A)
    }
    assert verdict_of(ctl, B) == "held"  # its own trail; the organization trail never named


def test_item12_controls_rules_only_relate_to_are_evidenced_per_rule(fill) -> None:  # type: ignore[no-untyped-def]
    doc = audit(fill, days(["on", "on", "on", "off", "on", "on", "on", "on"]))
    pci = [c for c in doc.controls if c.framework == "pci-dss-4.0"]
    assert pci and all(c.verdict != "manual" for c in pci)
    ctl = control(doc, "pci-dss-4.0", "10.2.1")
    assert not ctl.rules and "CT.TRAIL.LOGGING" in ctl.related_rules
    assert ctl.verdict == "contradicts"
    logging = {(r.account_id, r.verdict) for r in ctl.related if r.rule_id == "CT.TRAIL.LOGGING"}
    assert logging == {(PROD, "interrupted"), (DEV, "held")}
    html = render_html(doc)
    assert "evidence contradicts (auditor decides)" in html and "manual" not in html
