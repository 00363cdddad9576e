"""Build the audit document of a period from the history, change events and verify-logs runs.

A control's timeline in one account is read from the scans that covered the account: the state
a scan saw (from the intervals of the control's deciding findings) holds until the next scan,
for at most the expected cadence; past that nothing evidences it. Change events are placed on
the timelines of the controls whose rules they can affect, and a StopLogging/DeleteTrail opens
an interruption even when every scan of the period happened to pass.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from trailcheck import __version__
from trailcheck.audit.events import RESTORES, STOPS, affected_rules, resource_names
from trailcheck.audit.model import (
    AccountRef,
    AccountSummary,
    AccountTimeline,
    AuditDocument,
    Change,
    ControlResult,
    Cover,
    FrameworkSummary,
    Gap,
    InputFile,
    Interruption,
    Remediation,
    Segment,
    State,
    Unseen,
    Verdict,
    WaiverEntry,
)
from trailcheck.errors import UserError
from trailcheck.history.store import HistoryStore, IntervalRecord, ScanRecord, sha256_bytes
from trailcheck.rules import frameworks as known_frameworks
from trailcheck.verify.report import CheckStatus, VerificationReport

INTEGRITY_RULES = ("CT.TRAIL.LOG_VALIDATION",)
_WORST: tuple[Verdict, ...] = ("failing", "interrupted", "not_evidenced", "held")


@dataclass
class AuditInputs:
    """Everything `trailcheck audit` was given (already read and hashed)."""

    start: datetime
    end: datetime
    history_label: str
    frameworks: list[str] | None = None
    cadence: timedelta = timedelta(days=1)
    verifications: list[tuple[str, str, VerificationReport]] = field(default_factory=list)
    event_files: list[tuple[str, str]] = field(default_factory=list)  # (name, sha256)
    events: list[dict[str, Any]] = field(default_factory=list)


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _worst(verdicts: Iterable[Verdict]) -> Verdict:
    present = set(verdicts)
    return next((v for v in _WORST if v in present), "held")


def _state(statuses: set[str]) -> State:
    if "FAIL" in statuses:
        return "fail"
    if "ERROR" in statuses:
        return "error"
    return "pass" if statuses else "none"


@dataclass
class _Account:
    """The evidence points of one account: the times of the scans that covered it."""

    times: list[datetime]  # scans of the period, after the latest one before it (if any)
    before: datetime | None  # the latest scan before the period
    gaps: list[Gap]


def _accounts(scans: list[ScanRecord], inputs: AuditInputs) -> dict[str, _Account]:
    times: dict[str, list[datetime]] = defaultdict(list)
    before: dict[str, datetime] = {}
    for scan in scans:
        for account in scan.accounts:
            if scan.started_at < inputs.start:
                before[account] = scan.started_at
            elif scan.started_at <= inputs.end:
                times[account].append(scan.started_at)
    result = {}
    for account in sorted(set(times) | set(before)):
        points = [before.get(account, inputs.start), *times[account], inputs.end]
        gaps = [
            Gap(account_id=account, start=max(a, inputs.start), end=b, hours=_hours(b - a))
            for a, b in pairwise(points)
            if b - a > inputs.cadence
        ]
        result[account] = _Account(times[account], before.get(account), gaps)
    return result


class _Timelines:
    """State of a set of rules in one account at each scan that covered it."""

    def __init__(self, found: list[IntervalRecord]) -> None:
        self.by_key: dict[tuple[str, str], list[IntervalRecord]] = defaultdict(list)
        for interval in found:
            self.by_key[(interval.account_id, interval.rule_id)].append(interval)

    def at(self, account: str, rules: list[str], when: datetime) -> tuple[State, list[str]]:
        statuses: set[str] = set()
        failing: list[str] = []
        for rule in rules:
            for i in self.by_key.get((account, rule), ()):
                if i.first_seen <= when <= i.last_seen:
                    statuses.add(i.status)
                    if i.status in ("FAIL", "ERROR"):
                        failing.append(f"{i.rule_id}: {i.reason}")
        return _state(statuses), failing


def _segments(
    acct: _Account, states: list[tuple[datetime, State]], inputs: AuditInputs
) -> list[Segment]:
    segments: list[Segment] = []
    points: list[tuple[datetime, State]] = [*states, (inputs.end, "none")]
    cursor = inputs.start
    if not states or states[0][0] > inputs.start:
        first = states[0][0] if states else inputs.end
        segments.append(Segment(start=inputs.start, end=first, state="none"))
        cursor = first
    for (when, state), (following, _) in pairwise(points):
        begin = max(when, inputs.start)
        held_until = min(following, when + inputs.cadence, inputs.end)
        if held_until > begin:
            segments.append(Segment(start=begin, end=held_until, state=state))
        if following > held_until and following > begin:
            segments.append(Segment(start=max(held_until, begin), end=following, state="none"))
        cursor = following
    del cursor
    merged: list[Segment] = []
    for s in segments:
        if merged and merged[-1].state == s.state and merged[-1].end == s.start:
            merged[-1] = Segment(start=merged[-1].start, end=s.end, state=s.state)
        elif s.end > s.start:
            merged.append(s)
    return merged


def _who(event: dict[str, Any]) -> str:
    if event["is_root"]:
        return "root"
    return event.get("principal_arn") or event.get("role_name") or "unknown principal"


def _event_interruptions(
    events: list[dict[str, Any]], account: str, rules: list[str], acct: _Account, end: datetime
) -> list[Interruption]:
    """StopLogging/DeleteTrail up to the matching restore (same resource), else to the next scan
    of the account (which saw the state anew) or the end of the period."""
    mine = [
        e for e in events if e["account_id"] == account and affected_rules(e["event_name"], rules)
    ]
    found = []
    for index, event in enumerate(mine):
        if event["event_name"] not in STOPS:
            continue
        names = set(resource_names(event))
        restore = next(
            (
                e
                for e in mine[index + 1 :]
                if e["event_name"] in RESTORES and (not names or names & set(resource_names(e)))
            ),
            None,
        )
        stop = event["event_time"]
        until = (
            restore["event_time"] if restore else next((t for t in acct.times if t > stop), None)
        )
        found.append(
            Interruption(
                account_id=account,
                start=stop,
                end=until,
                hours=_hours((until or end) - stop),
                cause=f"{event['event_name']} {', '.join(sorted(names)) or ''}".strip()
                + (f" (until {restore['event_name']})" if restore else ""),
                by=_who(event),
            )
        )
    return found


def _fail_interruptions(
    account: str, states: list[tuple[datetime, State, list[str]]], inputs: AuditInputs
) -> list[Interruption]:
    """From the first scan that saw the failure to the first that saw it fixed; the scan
    before it (when it saw the control hold) bounds how early the failure may have begun."""
    found = []
    opened: tuple[datetime, list[str], datetime | None] | None = None
    previous: tuple[datetime, State] | None = None

    def close(end: datetime | None) -> None:
        assert opened is not None
        start, reasons, after = opened
        found.append(
            Interruption(
                account_id=account,
                start=start,
                end=end,
                hours=_hours((end or inputs.end) - start),
                cause="; ".join(sorted(set(reasons)))[:500],
                held_before=after,
            )
        )

    for when, state, reasons in states:
        if state == "fail" and opened is None:
            after = previous[0] if previous and previous[1] == "pass" else None
            opened = (max(when, inputs.start), reasons, after)
        elif state != "fail" and opened is not None:
            close(when)
            opened = None
        previous = (when, state)
    if opened is not None:
        close(None)
    return found


def _verification_lines(
    reports: list[tuple[str, str, VerificationReport]], inputs: AuditInputs
) -> dict[str, list[tuple[str, Verdict]]]:
    """Account -> (what verify-logs found, the verdict it implies) for the period."""
    found: dict[str, list[tuple[str, Verdict]]] = defaultdict(list)
    for name, _, report in reports:
        window = report.metadata.window
        if window.end < inputs.start or window.start > inputs.end:
            continue
        for check in report.checks:
            v = check.verification
            where = f"{check.trail_name} {check.region} ({name})"
            if v is None:
                if check.status is CheckStatus.ERROR:
                    found[check.account_id].append(
                        (f"{where}: not verified: {check.reason}", "not_evidenced")
                    )
                continue
            tampered = v.log_files_modified + v.log_files_deleted + v.digests_invalid
            if tampered:
                found[check.account_id].append(
                    (
                        f"{where}: {v.log_files_modified} log file(s) modified, "
                        f"{v.log_files_deleted} deleted, {v.digests_invalid} digest(s) invalid",
                        "failing",
                    )
                )
            for gap in v.gaps:
                found[check.account_id].append(
                    (
                        f"{where}: digest chain gap {gap.start.isoformat()} to "
                        f"{gap.end.isoformat()}: {gap.reason}",
                        "interrupted",
                    )
                )
            if v.digests_missing:
                found[check.account_id].append(
                    (f"{where}: {v.digests_missing} digest(s) missing", "interrupted")
                )
    return found


def build_audit(store: HistoryStore, inputs: AuditInputs) -> AuditDocument:
    """The audit document of [inputs.start, inputs.end]."""
    if inputs.end <= inputs.start:
        raise UserError("--to must be after --from")
    all_scans = store.scans(until=inputs.end)
    accounts = _accounts(all_scans, inputs)
    used = [
        s
        for s in all_scans
        if s.started_at >= inputs.start
        or any(accounts[a].before == s.started_at for a in s.accounts if a in accounts)
    ]
    if not used:
        raise UserError(
            f"no recorded scan covers {inputs.start.date()} to {inputs.end.date()}: record scans "
            "with `trailcheck scan --history` or `trailcheck history import`"
        )
    catalogue: dict[str, Any] = {}
    for sha in dict.fromkeys(s.rules_doc for s in used):
        catalogue.update(store.document(sha))
    latest = used[-1]
    account_doc = store.document(latest.accounts_doc)
    info = account_doc.get("account_info", {})
    known = known_frameworks()
    chosen = inputs.frameworks or sorted(known)
    unknown = [f for f in chosen if f not in known]
    if unknown:
        raise UserError(
            f"--framework: unknown framework {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    earliest = min(s.started_at for s in used)
    found = store.intervals(earliest, inputs.end)
    timelines = _Timelines(found)
    verification = _verification_lines(inputs.verifications, inputs)
    events = [e for e in inputs.events if inputs.start <= e["event_time"] <= inputs.end]

    controls: list[ControlResult] = []
    per_account: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_WORST, 0))
    event_controls: dict[str, list[str]] = defaultdict(list)
    for framework in chosen:
        for control_id, title in known[framework].items():
            rules = sorted(
                r
                for r, info_ in catalogue.items()
                if control_id in info_["controls"].get(framework, [])
            )
            if not rules:
                controls.append(
                    ControlResult(
                        framework=framework,
                        control_id=control_id,
                        title=title,
                        verdict="manual",
                        rules=[],
                    )
                )
                continue
            timelines_here: list[AccountTimeline] = []
            interruptions: list[Interruption] = []
            gaps: list[Gap] = []
            lines: list[str] = []
            for account, acct in accounts.items():
                points = ([acct.before] if acct.before else []) + acct.times
                observed = [(t, *timelines.at(account, rules, t)) for t in points]
                if all(state == "none" for _, state, _ in observed):
                    continue  # no deciding finding in this account: not judged here
                verdicts: list[Verdict] = ["held"]
                in_period = [o for o in observed if o[0] >= inputs.start] or observed[-1:]
                if in_period[-1][1] == "fail":
                    verdicts.append("failing")
                fails = _fail_interruptions(account, observed, inputs)
                fails = [i for i in fails if i.end is None or i.end > inputs.start]
                stops = _event_interruptions(events, account, rules, acct, inputs.end)
                if fails or stops:
                    verdicts.append("interrupted")
                if acct.gaps or any(state in ("error", "none") for _, state, _ in in_period):
                    verdicts.append("not_evidenced")
                if any(r in INTEGRITY_RULES for r in rules):
                    for text, implied in verification.get(account, []):
                        lines.append(f"{account}: {text}")
                        verdicts.append(implied)
                verdict = _worst(verdicts)
                placed = [
                    e["event_id"]
                    for e in events
                    if e["account_id"] == account and affected_rules(e["event_name"], rules)
                ]
                for event_id in placed:
                    event_controls[event_id].append(f"{framework} {control_id}")
                timelines_here.append(
                    AccountTimeline(
                        account_id=account,
                        verdict=verdict,
                        segments=_segments(acct, [(t, s) for t, s, _ in observed], inputs),
                        events=placed,
                        reasons=sorted(set(observed[-1][2]))[:10],
                    )
                )
                per_account[account][verdict] += 1
                interruptions.extend(fails + stops)
                gaps.extend(acct.gaps)
            verdict = (
                _worst(t.verdict for t in timelines_here) if timelines_here else "not_evidenced"
            )
            controls.append(
                ControlResult(
                    framework=framework,
                    control_id=control_id,
                    title=title,
                    verdict=verdict,
                    rules=rules,
                    held_accounts=sum(t.verdict == "held" for t in timelines_here),
                    accounts=timelines_here,
                    interruptions=sorted(interruptions, key=lambda i: (i.start, i.account_id)),
                    gaps=gaps,
                    verification=lines,
                )
            )
    return AuditDocument(
        cover=_cover(inputs, used, accounts, info, chosen, latest),
        frameworks=[
            FrameworkSummary(
                framework=f,
                title=f,
                counts={
                    v: sum(1 for c in controls if c.framework == f and c.verdict == v)
                    for v in ("held", "interrupted", "failing", "not_evidenced", "manual")
                },
            )
            for f in chosen
        ],
        accounts=[
            AccountSummary(
                account_id=a,
                name=(info.get(a) or {}).get("name"),
                ou_path=(info.get(a) or {}).get("ou_path"),
                counts=dict(per_account[a]),
            )
            for a in accounts
        ],
        controls=controls,
        changes=[
            Change(
                time=e["event_time"],
                event_name=e["event_name"],
                account_id=e["account_id"],
                region=e.get("region"),
                who=_who(e),
                source_ip=e.get("source_ip"),
                resources=resource_names(e),
                controls=event_controls.get(e["event_id"], []),
                event_id=e["event_id"],
            )
            for e in events
        ],
        remediation=_remediation(found, inputs, catalogue),
        waivers=_waivers(store.document(latest.waivers_doc), inputs.end.date()),
        unseen=_unseen(used, accounts, inputs, account_doc, timelines),
    )


def _cover(
    inputs: AuditInputs,
    used: list[ScanRecord],
    accounts: dict[str, _Account],
    info: dict[str, Any],
    chosen: list[str],
    latest: ScanRecord,
) -> Cover:
    files: list[InputFile] = []
    for s in used:
        files.append(
            InputFile(
                kind="scan report",
                name=f"scan {s.id} ({s.source})",
                sha256=s.report_sha256,
                time=s.started_at,
            )
        )
        if s.snapshot_sha256:
            files.append(
                InputFile(
                    kind="snapshot",
                    name=f"scan {s.id} snapshot",
                    sha256=s.snapshot_sha256,
                    time=s.started_at,
                )
            )
    files += [
        InputFile(kind="verification", name=n, sha256=sha) for n, sha, _ in inputs.verifications
    ]
    files += [InputFile(kind="events", name=n, sha256=sha) for n, sha in inputs.event_files]
    manifest = "".join(f"{f.sha256}  {f.kind}  {f.name}\n" for f in files)
    return Cover(
        organization_id=latest.organization_id,
        period_start=inputs.start,
        period_end=inputs.end,
        tool_version=__version__,
        history=inputs.history_label,
        frameworks=chosen,
        accounts=[
            AccountRef(
                account_id=a,
                name=(info.get(a) or {}).get("name"),
                ou_path=(info.get(a) or {}).get("ou_path"),
            )
            for a in accounts
        ],
        regions=sorted({r for s in used for r in s.regions}),
        scans=sum(1 for s in used if s.started_at >= inputs.start),
        cadence_hours=_hours(inputs.cadence),
        inputs=files,
        inputs_sha256=sha256_bytes(manifest.encode("utf-8")),
    )


def _remediation(
    found: list[IntervalRecord], inputs: AuditInputs, catalogue: dict[str, Any]
) -> list[Remediation]:
    """FAIL intervals that overlap the period: resolved in it, or still open at its end."""
    rows = []
    for i in found:
        if i.status != "FAIL" or (i.ended_at is not None and i.ended_at < inputs.start):
            continue
        resolved = i.ended_at if i.ended_at is not None and i.ended_at <= inputs.end else None
        rows.append(
            Remediation(
                rule_id=i.rule_id,
                title=(catalogue.get(i.rule_id) or {}).get("title", i.rule_id),
                account_id=i.account_id,
                region=i.region,
                resource_arn=i.resource_arn,
                severity=i.severity,
                failing_since=i.first_seen,
                resolved_at=resolved,
                days=round(((resolved or inputs.end) - i.first_seen).total_seconds() / 86400, 1),
                reason=i.reason,
            )
        )
    return sorted(
        rows, key=lambda r: (r.resolved_at is not None, r.failing_since, r.account_id, r.rule_id)
    )


def _waivers(waivers: list[dict[str, Any]], end: date) -> list[WaiverEntry]:
    entries = []
    for w in waivers:
        scope = "; ".join(
            f"{k}: {', '.join(w.get(k) or [])}"
            for k in ("accounts", "ous", "regions", "resources")
            if w.get(k)
        )
        entries.append(
            WaiverEntry(
                rule=w["rule"],
                owner=w["owner"],
                reason=w["reason"],
                expires=w["expires"],
                days_left=(date.fromisoformat(w["expires"]) - end).days,
                state=w["state"],
                used_by=w["matched"],
                scope=scope or "everywhere",
            )
        )
    return sorted(entries, key=lambda e: (e.days_left, e.rule))


def _unseen(
    used: list[ScanRecord],
    accounts: dict[str, _Account],
    inputs: AuditInputs,
    account_doc: dict[str, Any],
    timelines: _Timelines,
) -> list[Unseen]:
    found: list[Unseen] = []
    for account, acct in accounts.items():
        for gap in acct.gaps:
            found.append(
                Unseen(
                    account_id=account,
                    what=f"{gap.start.isoformat()} to {gap.end.isoformat()} ({gap.hours} h)",
                    why="no scan covered the account for longer than the expected cadence "
                    f"({_hours(inputs.cadence)} h)",
                )
            )
        unreachable = [s for s in used if s.accounts.get(account) is False]
        if unreachable:
            found.append(
                Unseen(
                    account_id=account,
                    what=f"{len(unreachable)} scan(s) could not enter the account",
                    why="the scan's role could not be assumed (see the scan reports)",
                )
            )
    for skipped in account_doc.get("skipped_accounts", []):
        found.append(
            Unseen(
                account_id=skipped["account_id"],
                what="not scanned",
                why=f"account status {skipped['status']}",
            )
        )
    errors: dict[tuple[str, str], str] = {}
    for (account, _rule), items in timelines.by_key.items():
        for i in items:
            if i.status == "ERROR" and (i.ended_at is None or i.ended_at >= inputs.start):
                errors[(account, f"{i.rule_id} {i.resource_arn}")] = i.reason
    for (account, what), why in sorted(errors.items()):
        found.append(Unseen(account_id=account, what=what, why=why))
    for name, _, report in inputs.verifications:
        for err in report.errors:
            found.append(
                Unseen(
                    what=f"verify-logs ({name}): {err.subject}",
                    why=f"{err.operation}: {err.reason}",
                )
            )
    return found
