"""Build the audit document of a period from the history, change events and verify-logs runs.

`load_rows` reads what the history recorded (the only SQL); `judge_period` is a pure function
of those rows, the change events and the period. Each (account, rule) is a list of
observations: the scans that ran the rule over the account, and what they saw (pass, fail,
unknown: ERROR / unreachable / not run / nothing reported, or not applicable); period.py turns
them and the successful change events into pieces of time and reads verdicts off them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from itertools import pairwise
from typing import Any

from trailcheck import __version__
from trailcheck.audit.events import RESTORES, STOPS, affected_rules, resource_names
from trailcheck.audit.model import (
    VERDICTS,
    AccountRef,
    AccountSummary,
    AccountTimeline,
    Attempt,
    AuditDocument,
    Change,
    ControlResult,
    Cover,
    FrameworkSummary,
    Gap,
    InputFile,
    Interruption,
    RelatedEvidence,
    Remediation,
    Segment,
    Unseen,
    Verdict,
    WaiverEntry,
)
from trailcheck.audit.period import (
    Judgement,
    Kind,
    Observation,
    Piece,
    Restore,
    Stop,
    combine,
    judge,
    rule_pieces,
)
from trailcheck.errors import UserError
from trailcheck.history.store import HistoryStore, IntervalRecord, ScanRecord, sha256_bytes
from trailcheck.rules import frameworks as known_frameworks
from trailcheck.rules import load_rules
from trailcheck.verify.report import CheckStatus, VerificationReport

INTEGRITY_RULES = ("CT.TRAIL.LOG_VALIDATION",)
_WORST: tuple[Verdict, ...] = ("failing", "interrupted", "not_evidenced", "held")
# a scan's findings of a rule in an account, worst first: what the observation says
_DECIDING: tuple[tuple[str, Kind], ...] = (("FAIL", "fail"), ("ERROR", "unknown"), ("PASS", "pass"))


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


@dataclass(frozen=True)
class ScanView:
    """One recorded scan as the audit reads it: which rules it ran, which accounts it skipped."""

    record: ScanRecord
    rules: frozenset[str]
    skipped: dict[str, str]  # account id -> why it was not scanned


@dataclass(frozen=True)
class HistoryRows:
    """What the history holds for a period: the scans that evidence it (those inside it and,
    per account, the last one before it), the intervals they recorded, and the latest scan's
    rule catalogue, account names and waivers."""

    scans: list[ScanView]
    intervals: list[IntervalRecord]
    catalogue: dict[str, Any]
    account_doc: dict[str, Any]
    waivers: list[dict[str, Any]]


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _worst(verdicts: list[Verdict]) -> Verdict:
    present = set(verdicts)
    return next((v for v in _WORST if v in present), "held")


def load_rows(store: HistoryStore, inputs: AuditInputs) -> HistoryRows:
    """Read the period's evidence from the store (the audit's only SQL)."""
    if inputs.end <= inputs.start:
        raise UserError("--to must be after --from")
    every = store.scans(until=inputs.end)
    before: dict[str, ScanRecord] = {}
    for scan in every:
        if scan.started_at < inputs.start:
            for account in scan.accounts:
                before[account] = scan
    chosen = {s.id for s in every if s.started_at >= inputs.start}
    chosen |= {s.id for s in before.values()}
    used = [s for s in every if s.id in chosen]
    if not used:
        raise UserError(
            f"no recorded scan covers {inputs.start.date()} to {inputs.end.date()}: record scans "
            "with `trailcheck scan --history` or `trailcheck history import`"
        )
    documents: dict[str, Any] = {}

    def doc(sha: str) -> Any:
        if sha not in documents:
            documents[sha] = store.document(sha)
        return documents[sha]

    # every built-in rule is known even when no scan of the period ran it: a rule disabled
    # throughout still decides its controls, and is "not run" (not evidenced) in every scan
    catalogue: dict[str, Any] = {
        r.id: r.info().model_dump(mode="json") for r in load_rules(include_plugins=False)
    }
    views = []
    for s in used:
        rules = doc(s.rules_doc)
        catalogue.update(rules)
        skipped = {
            k["account_id"]: f"not scanned (account status {k['status']})"
            for k in doc(s.accounts_doc).get("skipped_accounts", [])
        }
        views.append(ScanView(s, frozenset(rules), skipped))
    latest = used[-1]
    return HistoryRows(
        scans=views,
        intervals=store.intervals(used[0].started_at, inputs.end),
        catalogue=catalogue,
        account_doc=doc(latest.accounts_doc),
        waivers=doc(latest.waivers_doc),
    )


def build_audit(store: HistoryStore, inputs: AuditInputs) -> AuditDocument:
    """The audit document of [inputs.start, inputs.end]."""
    return judge_period(load_rows(store, inputs), inputs)


def _who(event: dict[str, Any]) -> str:
    if event["is_root"]:
        return "root"
    return event.get("principal_arn") or event.get("role_name") or "unknown principal"


def _names_trail(text: str, names: list[str], account: str | None) -> bool:
    """Whether a finding's text names one of an event's trails (an ARN, or a name in the event's
    account)."""
    for name in names:
        needle = name if name.startswith("arn:") else f":{account}:trail/{name}"
        if needle in text:
            return True
    return False


class Evidence:
    """Observations and pieces of (account, rule), computed once each."""

    def __init__(self, rows: HistoryRows, inputs: AuditInputs) -> None:
        self.rows = rows
        self.inputs = inputs
        self.by_key: dict[tuple[str, str], list[IntervalRecord]] = defaultdict(list)
        self.by_account: dict[str, list[IntervalRecord]] = defaultdict(list)
        for i in rows.intervals:
            self.by_key[(i.account_id, i.rule_id)].append(i)
            self.by_account[i.account_id].append(i)
        events = [e for e in inputs.events if inputs.start <= e["event_time"] <= inputs.end]
        self.changes = [e for e in events if not e.get("error_code")]
        self.attempts = [e for e in events if e.get("error_code")]
        self.observations = cache(self._observations)
        self.pieces = cache(self._pieces)

    def _observations(self, account: str, rule: str) -> tuple[Observation, ...]:
        found = []
        for view in self.rows.scans:
            scan = view.record
            when = scan.started_at
            if account in view.skipped:
                found.append(Observation(when, "unknown", view.skipped[account]))
            elif account not in scan.accounts:
                continue
            elif not scan.accounts[account]:
                why = "account unreachable (the scan's role could not be assumed)"
                found.append(Observation(when, "unknown", why))
            elif rule not in view.rules:
                found.append(Observation(when, "unknown", f"{rule} not run (disabled)"))
            else:
                found.append(self._seen(account, rule, when))
        return tuple(found)

    def _seen(self, account: str, rule: str, when: datetime) -> Observation:
        here = [
            i for i in self.by_key.get((account, rule), ()) if i.first_seen <= when <= i.last_seen
        ]
        for status, kind in _DECIDING:
            matching = [i for i in here if i.status == status]
            if matching:
                why = "; ".join(dict.fromkeys(f"{i.rule_id}: {i.reason}" for i in matching))
                return Observation(when, kind, why[:500])
        na = [i for i in here if i.status == "NOT_APPLICABLE"]
        if na:
            return Observation(when, "na", f"{rule} not applicable: {na[0].reason}")
        return Observation(when, "unknown", f"{rule} reported nothing for the account")

    def has_finding(self, account: str, rule: str) -> bool:
        return bool(self.by_key.get((account, rule)))

    def covered_by(self, account: str, event: dict[str, Any]) -> bool:
        """The event is in this account, or on a trail that a finding of this account named
        (e.g. a member covered by the organization trail) when the event happened."""
        if event["account_id"] == account:
            return True
        names = resource_names(event)
        if not names or event.get("event_source") not in (None, "cloudtrail.amazonaws.com"):
            return False
        t = event["event_time"]
        return any(
            i.first_seen <= t
            and (i.ended_at is None or i.ended_at > t)
            and _names_trail(f"{i.resource_arn} {i.reason}", names, event["account_id"])
            for i in self.by_account.get(account, ())
        )

    def _pieces(self, account: str, rule: str) -> tuple[Piece, ...]:
        stops: list[Stop] = []
        restores: list[Restore] = []
        for e in self.changes:
            name = e["event_name"]
            if name not in STOPS and name not in RESTORES:
                continue
            if not affected_rules(name, [rule]) or not self.covered_by(account, e):
                continue
            names = frozenset(resource_names(e))
            if name in STOPS:
                cause = f"{name} {', '.join(sorted(names))}".strip()
                stops.append(Stop(e["event_time"], cause, _who(e), names))
            else:
                restores.append(Restore(e["event_time"], names))
        return tuple(
            rule_pieces(
                self.observations(account, rule),
                stops,
                restores,
                self.inputs.start,
                self.inputs.end,
                self.inputs.cadence,
            )
        )

    def judged(self, account: str, rules: list[str]) -> Judgement:
        pieces = combine(
            [list(self.pieces(account, r)) for r in rules], self.inputs.start, self.inputs.end
        )
        passes = sorted(
            o.time for r in rules for o in self.observations(account, r) if o.kind == "pass"
        )
        return judge(pieces, passes)


def _interruptions(account: str, j: Judgement, inputs: AuditInputs) -> list[Interruption]:
    return [
        Interruption(
            account_id=account,
            start=run.start,
            end=run.end,
            hours=_hours((run.end or inputs.end) - run.start),
            cause=run.cause[:500],
            by=run.by,
            held_before=run.held_before,
            ended_after=run.ended_after if run.ended_after != run.end else None,
        )
        for run in j.runs
    ]


def _gaps(account: str, j: Judgement) -> list[Gap]:
    return [
        Gap(
            account_id=account,
            start=p.start,
            end=p.end,
            hours=_hours(p.end - p.start),
            why=p.why[:300],
        )
        for p in j.gaps
    ]


def _segments(j: Judgement) -> list[Segment]:
    return [Segment(start=p.start, end=p.end, state=p.kind) for p in j.pieces]


def _detail(j: Judgement) -> str:
    """One line: what a rule's evidence says over the period."""
    if j.runs:
        run = j.runs[-1]
        end = f"{run.end:%Y-%m-%d %H:%M}" if run.end else "still at the end"
        by = f" by {run.by}" if run.by else ""
        return f"{run.start:%Y-%m-%d %H:%M} to {end}{by}: {run.cause}"[:300]
    if j.gaps:
        g = j.gaps[0]
        return f"{g.start:%Y-%m-%d %H:%M} to {g.end:%Y-%m-%d %H:%M}: {g.why}"[:300]
    return "PASS throughout"


def _accounts_of(rows: HistoryRows) -> list[str]:
    seen: dict[str, None] = {}
    for view in rows.scans:
        for account in view.record.accounts:
            seen.setdefault(account, None)
    return list(seen)


def judge_period(rows: HistoryRows, inputs: AuditInputs) -> AuditDocument:
    """The audit document of [inputs.start, inputs.end]: a pure function of the rows, the
    change events and the period."""
    if inputs.end <= inputs.start:
        raise UserError("--to must be after --from")
    known = known_frameworks()
    chosen = inputs.frameworks or sorted(known)
    unknown = [f for f in chosen if f not in known]
    if unknown:
        raise UserError(
            f"--framework: unknown framework {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    evidence = Evidence(rows, inputs)
    accounts = _accounts_of(rows)
    unseen_accounts = {a for a in accounts if not evidence.by_account.get(a)}
    info = rows.account_doc.get("account_info", {})
    verification = _verification_lines(inputs.verifications, inputs)
    catalogue = rows.catalogue

    def rules_for(framework: str, control_id: str, key: str) -> list[str]:
        return sorted(
            r
            for r, meta in catalogue.items()
            if control_id in (meta.get(key) or {}).get(framework, [])
        )

    def judged_in(rule_ids: list[str]) -> list[str]:
        return [
            a
            for a in accounts
            if a in unseen_accounts or any(evidence.has_finding(a, r) for r in rule_ids)
        ]

    controls: list[ControlResult] = []
    per_account: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_WORST, 0))
    event_controls: dict[str, list[str]] = defaultdict(list)
    for framework in chosen:
        for control_id, title in known[framework].items():
            rules = rules_for(framework, control_id, "controls")
            related_rules = [
                r for r in rules_for(framework, control_id, "related_controls") if r not in rules
            ]
            related = [
                RelatedEvidence(rule_id=r, account_id=a, verdict=j.verdict, detail=_detail(j))
                for r in related_rules
                for a in judged_in([r])
                for j in [evidence.judged(a, [r])]
            ]
            timelines: list[AccountTimeline] = []
            interruptions: list[Interruption] = []
            gaps: list[Gap] = []
            lines: list[str] = []
            for account in judged_in(rules) if rules else []:
                j = evidence.judged(account, rules)
                verdicts: list[Verdict] = [j.verdict]
                if any(r in INTEGRITY_RULES for r in rules):
                    for text, implied in verification.get(account, []):
                        lines.append(f"{account}: {text}")
                        verdicts.append(implied)
                verdict = _worst(verdicts)
                placed = [
                    e["event_id"]
                    for e in evidence.changes
                    if affected_rules(e["event_name"], rules) and evidence.covered_by(account, e)
                ]
                for event_id in placed:
                    event_controls[event_id].append(f"{framework} {control_id}")
                last = j.pieces[-1] if j.pieces else None
                timelines.append(
                    AccountTimeline(
                        account_id=account,
                        verdict=verdict,
                        segments=_segments(j),
                        events=placed,
                        reasons=[last.why[:300]]
                        if last and last.kind != "pass" and last.why
                        else [],
                    )
                )
                per_account[account][verdict] += 1
                interruptions.extend(_interruptions(account, j, inputs))
                gaps.extend(_gaps(account, j))
            if rules:
                verdict = _worst([t.verdict for t in timelines]) if timelines else "not_evidenced"
            elif related_rules:
                kinds = {r.verdict for r in related}
                verdict = (
                    "contradicts"
                    if kinds & {"failing", "interrupted"}
                    else "not_evidenced"
                    if "not_evidenced" in kinds or not related
                    else "supports"
                )
            else:
                verdict = "not_covered"
            controls.append(
                ControlResult(
                    framework=framework,
                    control_id=control_id,
                    title=title,
                    verdict=verdict,
                    rules=rules,
                    held_accounts=sum(t.verdict == "held" for t in timelines),
                    accounts=timelines,
                    interruptions=sorted(interruptions, key=lambda i: (i.start, i.account_id)),
                    gaps=gaps,
                    verification=lines,
                    related_rules=related_rules,
                    related=related,
                )
            )
    used = [v.record for v in rows.scans]
    return AuditDocument(
        cover=_cover(inputs, used, accounts, info, chosen, used[-1]),
        frameworks=[
            FrameworkSummary(
                framework=f,
                title=f,
                counts={
                    v: sum(1 for c in controls if c.framework == f and c.verdict == v)
                    for v in VERDICTS
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
            for e in evidence.changes
        ],
        attempts=[
            Attempt(
                time=e["event_time"],
                event_name=e["event_name"],
                account_id=e["account_id"],
                region=e.get("region"),
                who=_who(e),
                source_ip=e.get("source_ip"),
                resources=resource_names(e),
                error_code=e["error_code"],
                error_message=e.get("error_message"),
                event_id=e["event_id"],
            )
            for e in evidence.attempts
        ],
        remediation=_remediation(rows.intervals, inputs, catalogue),
        waivers=_waivers(rows.waivers, inputs.end.date()),
        unseen=_unseen(rows, accounts, inputs, evidence),
    )


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


def _cover(
    inputs: AuditInputs,
    used: list[ScanRecord],
    accounts: list[str],
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
    """Failures that overlap the period. A failure is resolved only by a PASS of the same
    finding: ERROR or NOT_APPLICABLE in between continue it, and a finding no longer reported
    is not a fix (its row says so)."""
    by_fp: dict[str, list[IntervalRecord]] = defaultdict(list)
    for i in found:
        by_fp[i.fingerprint].append(i)
    rows = []
    for items in by_fp.values():
        items.sort(key=lambda i: i.first_seen)
        opened: IntervalRecord | None = None
        for index, i in enumerate(items):
            if i.status == "FAIL" and opened is None:
                opened = i
            if opened is None:
                continue
            following = items[index + 1] if index + 1 < len(items) else None
            if following is not None and following.status != "PASS":
                continue  # FAIL -> ERROR -> ...: the same failure until a PASS
            resolved = following.first_seen if following is not None else None
            if resolved is not None and resolved < inputs.start:
                opened = None
                continue
            if resolved is not None and resolved > inputs.end:
                resolved = None
            note = None
            if resolved is None and i.ended_at is not None and i.ended_at <= inputs.end:
                note = (
                    f"not reported since {i.ended_at:%Y-%m-%d %H:%M} "
                    f"(last seen {i.status}): never seen fixed"
                )
            elif resolved is None and i.status != "FAIL":
                note = f"last seen {i.status}: never seen fixed"
            rows.append(
                Remediation(
                    rule_id=opened.rule_id,
                    title=(catalogue.get(opened.rule_id) or {}).get("title", opened.rule_id),
                    account_id=opened.account_id,
                    region=opened.region,
                    resource_arn=opened.resource_arn,
                    severity=opened.severity,
                    failing_since=opened.first_seen,
                    resolved_at=resolved,
                    days=round(
                        ((resolved or inputs.end) - opened.first_seen).total_seconds() / 86400, 1
                    ),
                    reason=opened.reason,
                    note=note,
                )
            )
            opened = None
    return sorted(
        rows, key=lambda r: (r.resolved_at is not None, r.failing_since, r.account_id, r.rule_id)
    )


def _scan_gaps(
    rows: HistoryRows, account: str, inputs: AuditInputs
) -> list[tuple[datetime, datetime]]:
    """Stretches longer than the cadence with no scan listing the account."""
    times = [v.record.started_at for v in rows.scans if account in v.record.accounts]
    before = [t for t in times if t < inputs.start]
    points = [before[-1] if before else inputs.start]
    points += [t for t in times if t >= inputs.start] + [inputs.end]
    return [(max(a, inputs.start), b) for a, b in pairwise(points) if b - a > inputs.cadence]


def _unseen(
    rows: HistoryRows, accounts: list[str], inputs: AuditInputs, evidence: Evidence
) -> list[Unseen]:
    """What could not be seen, each thing once: an unreachable account is one row (not one
    per rule), a rule that some scans did not run is one row."""
    found: list[Unseen] = []
    for account in accounts:
        for start, end in _scan_gaps(rows, account, inputs):
            found.append(
                Unseen(
                    account_id=account,
                    what=f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} "
                    f"({_hours(end - start)} h)",
                    why="no scan covered the account for longer than the expected cadence "
                    f"({_hours(inputs.cadence)} h)",
                )
            )
        unreachable = [
            v.record.started_at for v in rows.scans if v.record.accounts.get(account) is False
        ]
        if unreachable:
            when = ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in unreachable[:3])
            more = f" and {len(unreachable) - 3} more" if len(unreachable) > 3 else ""
            found.append(
                Unseen(
                    account_id=account,
                    what=f"the whole account in {len(unreachable)} scan(s): {when}{more}",
                    why="the scan's role could not be assumed (see the scan reports)",
                )
            )
    skipped: dict[str, str] = {}
    for v in rows.scans:
        skipped.update(v.skipped)
    for account, why in sorted(skipped.items()):
        found.append(Unseen(account_id=account, what="the whole account", why=why))
    ran_by: dict[str, int] = defaultdict(int)
    for v in rows.scans:
        for rule in v.rules:
            ran_by[rule] += 1
    for rule, n in sorted(ran_by.items()):
        missing = [v.record.started_at for v in rows.scans if rule not in v.rules]
        if missing:
            found.append(
                Unseen(
                    what=f"{rule} in {len(missing)} scan(s), {missing[0]:%Y-%m-%d %H:%M} to "
                    f"{missing[-1]:%Y-%m-%d %H:%M}",
                    why=f"the rule was not run (disabled in the config); {n} scan(s) ran it",
                )
            )
    errors: dict[tuple[str, str], str] = {}
    for (account, _rule), items in evidence.by_key.items():
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
