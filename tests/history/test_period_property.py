"""Issue 17: the audit's period answer against a brute-force reference written here.

Hypothesis generates histories of a small organization (scan times, per-account per-rule
outcomes including ERROR and N/A, absent and unreachable accounts, disabled rules,
organization-trail coverage, StopLogging/StartLogging events including failed calls), records
them in the real store (SQLite and PostgreSQL) in a random order, and compares the audit of a
48-hour period with the reference: for each half-hour cell of the period, which observation
covers it and what it says, and which change events are in force."""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import _new_database
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from period_world import (
    ACCOUNTS,
    DECIDES,
    HOUR,
    LOGGING,
    MGMT,
    RULES,
    START,
    A,
    B,
    Scan,
    report,
    trail_of,
)

from trailcheck.audit.build import AuditInputs, build_audit
from trailcheck.history.store import open_store, sha256_bytes
from trailcheck.model import Status, dump_json

PERIOD = 48  # hours
END = START + PERIOD * HOUR
CELL = timedelta(minutes=30)
OUTCOMES = st.sampled_from([Status.PASS, Status.FAIL, Status.ERROR, Status.NOT_APPLICABLE, None])


@dataclass(frozen=True)
class Event:
    hour: int  # the event happens at hour:30, never at a scan's time
    name: str  # StopLogging | StartLogging
    account: str  # MGMT (the organization trail) or B (its own trail)
    failed: bool

    @property
    def time(self) -> datetime:
        return START + self.hour * HOUR + CELL

    def record(self, index: int) -> dict[str, Any]:
        return {
            "event_time": self.time,
            "event_name": self.name,
            "event_source": "cloudtrail.amazonaws.com",
            "account_id": self.account,
            "region": "us-east-1",
            "principal_arn": f"arn:aws:iam::{self.account}:user/u{index}",
            "identity_type": "IAMUser",
            "role_name": None,
            "session_name": None,
            "source_ip": "203.0.113.1",
            "user_agent": "aws-cli",
            "event_id": f"e{index}",
            "is_root": False,
            "is_aws_service": False,
            "resources": [trail_of(self.account)],
            "error_code": "AccessDenied" if self.failed else None,
            "error_message": "denied" if self.failed else None,
        }


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Scan], list[Event], int]:
    hours = draw(st.lists(st.integers(-30, PERIOD - 1), min_size=1, max_size=7, unique=True))
    scans = []
    for hour in hours:
        listed = tuple(sorted(draw(st.sets(st.sampled_from(ACCOUNTS), min_size=1))))
        unreachable = tuple(a for a in listed if draw(st.integers(0, 6)) == 0)
        ran = tuple(r for r in RULES if draw(st.integers(0, 5)) > 0)
        outcomes = {}
        for account in listed:
            for rule in RULES:
                if rule == LOGGING and account == A:
                    continue  # A has no trail of its own
                status = draw(OUTCOMES)
                if status is not None:
                    outcomes[(account, rule)] = status
        scans.append(Scan(hour, listed, unreachable, ran, outcomes))
    events = draw(
        st.lists(
            st.builds(
                Event,
                st.integers(0, PERIOD - 1),
                st.sampled_from(["StopLogging", "StartLogging"]),
                st.sampled_from([MGMT, B]),
                st.booleans(),
            ),
            max_size=4,
        )
    )
    return scans, events, draw(st.sampled_from([6, 12, 24]))


# ----------------------------------------------------------------------------- reference


def _kind(scan: Scan, account: str, rule: str) -> str:
    if account in scan.unreachable or rule not in scan.ran:
        return "unknown"
    status = scan.outcomes.get((account, rule))
    return {
        Status.PASS: "pass",
        Status.FAIL: "fail",
        Status.NOT_APPLICABLE: "na",
    }.get(status, "unknown")  # type: ignore[arg-type]


def _observations(scans: list[Scan], account: str, rule: str) -> list[tuple[datetime, str]]:
    return [
        (s.time, _kind(s, account, rule))
        for s in sorted(scans, key=lambda s: s.hour)
        if account in s.listed and s.time <= END
    ]


def _covers(scans: list[Scan], account: str, event: Event) -> bool:
    """The event's trail is this account's, or a finding of this account named it at the
    time: the last scan before the event that ran a rule over the account reported it."""
    if event.account == account:
        return True
    if trail_of(account) != trail_of(event.account):
        return False
    for rule in RULES:
        touching = [
            s for s in scans if s.time <= event.time and account in s.listed and rule in s.ran
        ]
        if touching:
            last = max(touching, key=lambda s: s.hour)
            if account not in last.unreachable and (account, rule) in last.outcomes:
                return True
    return False


def _state(
    x: datetime,
    obs: list[tuple[datetime, str]],
    stops: list[Event],
    restores: list[Event],
    cadence: timedelta,
) -> str:
    """What covers instant x: the last observation at or before it (for at most the cadence),
    unless a stop event is in force (no PASS since, no restore of the same trail that the next
    PASS-or-FAIL observation after it confirms as a PASS)."""
    seen = [(t, k) for t, k in obs if t <= x]
    state = "unknown" if not seen or x >= seen[-1][0] + cadence else seen[-1][1]
    for stop in stops:
        if not START <= stop.time <= x:
            continue
        if any(stop.time < t <= x and k == "pass" for t, k in obs):
            continue
        confirmed = False
        for r in restores:
            if trail_of(r.account) != trail_of(stop.account) or not stop.time < r.time <= x:
                continue
            decisive = [k for t, k in obs if t > r.time and k in ("pass", "fail")]
            confirmed = confirmed or (bool(decisive) and decisive[0] == "pass")
        if not confirmed:
            state = "fail"
    return state


def _reference(cells: list[str]) -> tuple[str, list[tuple[datetime, datetime | None]]]:
    runs: list[tuple[datetime, datetime | None]] = []
    gaps = False
    opened: datetime | None = None
    for index, state in enumerate(cells):
        at = START + index * CELL
        if opened is not None and state == "pass":
            runs.append((opened, at))
            opened = None
        elif opened is None and state == "fail":
            opened = at
        elif opened is None and state in ("unknown", "na"):
            gaps = True
    if opened is not None:
        runs.append((opened, None))
        return "failing", runs
    return ("interrupted" if runs else "not_evidenced" if gaps else "held"), runs


def reference(
    scans: list[Scan], events: list[Event], cadence: timedelta, account: str, rule: str
) -> tuple[str, list[tuple[datetime, datetime | None]]]:
    obs = _observations(scans, account, rule)
    done = [e for e in events if not e.failed and _covers(scans, account, e)]
    stops = [e for e in done if e.name == "StopLogging"]
    restores = [e for e in done if e.name == "StartLogging"]
    cells = [
        _state(START + i * CELL + CELL / 2, obs, stops, restores, cadence)
        for i in range(PERIOD * 2)
    ]
    return _reference(cells)


# A restore the next scan contradicts (FAIL after StartLogging) does not end the outage.
_OK = {(MGMT, DECIDES): Status.PASS, (MGMT, LOGGING): Status.PASS}
RESTORE_THEN_FAIL = (
    [
        Scan(-1, (MGMT,), outcomes=_OK),
        Scan(10, (MGMT,), outcomes={(MGMT, DECIDES): Status.FAIL}),
        Scan(20, (MGMT,), outcomes=_OK),
    ],
    [Event(5, "StopLogging", MGMT, False), Event(7, "StartLogging", MGMT, False)],
    24,
)


# ----------------------------------------------------------------------------- the test


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_audit_agrees_with_the_reference(kind: str, request: pytest.FixtureRequest) -> None:
    base = request.getfixturevalue("postgres_server") if kind == "postgresql" else None

    def url() -> str:
        if base is not None:
            return _new_database(base)
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix='tc-period-')) / 'h.db'}"

    @settings(
        max_examples=20 if kind == "postgresql" else 80,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(history=histories(), order=st.randoms(use_true_random=False))
    @example(history=RESTORE_THEN_FAIL, order=random.Random(0))
    def check(history: tuple[list[Scan], list[Event], int], order: Any) -> None:
        scans, events, cadence_hours = history
        cadence = timedelta(hours=cadence_hours)
        shuffled = list(scans)
        order.shuffle(shuffled)
        store = open_store(url())
        try:
            for scan in shuffled:
                r = report(scan)
                store.record(r, sha256_bytes(dump_json(r).encode()), source=f"h{scan.hour}")
            doc = build_audit(
                store,
                AuditInputs(
                    start=START,
                    end=END,
                    history_label="test",
                    frameworks=["cis-aws-3.0", "pci-dss-4.0"],
                    cadence=cadence,
                    events=[e.record(i) for i, e in enumerate(events)],
                ),
            )
        finally:
            store.close()
        [decided] = [
            c for c in doc.controls if (c.framework, c.control_id) == ("cis-aws-3.0", "3.1")
        ]
        assert decided.rules == [DECIDES]
        for timeline in decided.accounts:
            verdict, runs = reference(scans, events, cadence, timeline.account_id, DECIDES)
            got = sorted(
                (i.start, i.end)
                for i in decided.interruptions
                if i.account_id == timeline.account_id
            )
            assert (timeline.verdict, got) == (verdict, runs), timeline.account_id
        reported = {
            a
            for s in scans
            if s.hour >= 0 and DECIDES in s.ran
            for a in s.listed
            if a not in s.unreachable and (a, DECIDES) in s.outcomes
        }
        assert reported <= {t.account_id for t in decided.accounts}
        [related] = [
            c for c in doc.controls if (c.framework, c.control_id) == ("pci-dss-4.0", "10.2.1")
        ]
        assert not related.rules and set(related.related_rules) >= {DECIDES, LOGGING}
        verdicts = set()
        for ev in related.related:
            if ev.rule_id in (DECIDES, LOGGING):
                expected, _ = reference(scans, events, cadence, ev.account_id, ev.rule_id)
                assert ev.verdict == expected, (ev.rule_id, ev.account_id)
            verdicts.add(ev.verdict)
        if verdicts & {"failing", "interrupted"}:
            assert related.verdict == "contradicts"
        elif "not_evidenced" in verdicts or not verdicts:
            assert related.verdict == "not_evidenced"
        else:
            assert related.verdict == "supports"
        assert {a.event_id for a in doc.attempts} == {
            f"e{i}" for i, e in enumerate(events) if e.failed
        }
        assert {c.event_id for c in doc.changes} == {
            f"e{i}" for i, e in enumerate(events) if not e.failed
        }

    check()
