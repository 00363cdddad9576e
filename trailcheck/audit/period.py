"""The evidence of a period, as pieces of time: pure, no SQL, no clock.

One rule in one account is a list of observations (what each scan that ran the rule over the
account saw: pass, fail, unknown or not applicable) plus the successful change events that stop
or restore what it judges. `rule_pieces` turns them into pieces covering the period; `combine`
joins the pieces of several rules (a control's deciding rules) and `judge` reads a verdict,
the interruptions and the not-evidenced stretches off the result. docs/audit.md has the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

Kind = Literal["pass", "fail", "unknown", "na"]
# Two observations at the same instant: the worse one counts.
_RANK: dict[Kind, int] = {"fail": 0, "unknown": 1, "na": 2, "pass": 3}


@dataclass(frozen=True)
class Observation:
    """What one scan saw of one rule in one account."""

    time: datetime
    kind: Kind
    why: str = ""


@dataclass(frozen=True)
class Stop:
    """A successful change event that stops what a rule judges (StopLogging, DeleteTrail)."""

    time: datetime
    cause: str
    by: str
    names: frozenset[str]


@dataclass(frozen=True)
class Restore:
    """A successful change event that restores it (StartLogging, CreateTrail)."""

    time: datetime
    names: frozenset[str]


@dataclass(frozen=True)
class Piece:
    start: datetime
    end: datetime
    kind: Kind
    why: str
    since: datetime  # the observation (or event) this piece rests on
    by: str | None = None  # who, when a change event opened this failure


@dataclass(frozen=True)
class Run:
    """A failure: from its first FAIL until the first PASS after it (None: not seen to end).
    It ended between `ended_after` (the last observation that did not see it fixed) and `end`."""

    start: datetime
    end: datetime | None
    ended_after: datetime | None
    cause: str
    by: str | None
    held_before: datetime | None


@dataclass(frozen=True)
class Judgement:
    verdict: Literal["held", "interrupted", "failing", "not_evidenced"]
    runs: list[Run]
    gaps: list[Piece]  # unknown / not-applicable stretches outside failures
    pieces: list[Piece]


def _merged(observations: Iterable[Observation]) -> list[Observation]:
    by_time: dict[datetime, Observation] = {}
    for o in observations:
        seen = by_time.get(o.time)
        if seen is None or _RANK[o.kind] < _RANK[seen.kind]:
            by_time[o.time] = o
    return [by_time[t] for t in sorted(by_time)]


def _overlay(pieces: list[Piece], new: Piece) -> list[Piece]:
    """`pieces` with [new.start, new.end) replaced by `new`."""
    out: list[Piece] = []
    for p in pieces:
        if p.end <= new.start or p.start >= new.end:
            out.append(p)
            continue
        if p.start < new.start:
            out.append(replace(p, end=new.start))
        if p.end > new.end:
            out.append(replace(p, start=new.end))
    out.append(new)
    return sorted(out, key=lambda p: p.start)


def _closing(
    stop: Stop, observations: Sequence[Observation], restores: Sequence[Restore]
) -> datetime | None:
    """When a stop's failure ends: at the first PASS after it, or earlier at a restore of the
    same resource that the next deciding observation (a PASS) confirms."""
    after = [o for o in observations if o.time > stop.time]
    first_pass = next((o.time for o in after if o.kind == "pass"), None)
    if first_pass is None:
        return None
    for r in restores:
        if not stop.time < r.time <= first_pass:
            continue
        if stop.names and r.names and not stop.names & r.names:
            continue
        if not any(o.kind == "fail" and r.time < o.time < first_pass for o in after):
            return r.time
    return first_pass


def rule_pieces(
    observations: Iterable[Observation],
    stops: Sequence[Stop],
    restores: Sequence[Restore],
    start: datetime,
    end: datetime,
    cadence: timedelta,
) -> list[Piece]:
    """Pieces covering [start, end]: each observation speaks until the next one, for at most the
    cadence; before the first and past the cadence nothing does (unknown). The state at
    `start` is the last observation before it. A stop event fails the rule until it closes."""
    obs = _merged(o for o in observations if o.time <= end)
    before = [o for o in obs if o.time <= start]
    used = before[-1:] + [o for o in obs if o.time > start]
    pieces: list[Piece] = []
    first = used[0].time if used else end
    if first > start:
        why = f"no scan observed it before {first.isoformat()}" if used else "no scan observed it"
        pieces.append(Piece(start, first, "unknown", why, start))
    for o, following in zip(used, [*(u.time for u in used[1:]), end], strict=True):
        covered = min(following, o.time + cadence)
        if covered > max(o.time, start):
            pieces.append(Piece(max(o.time, start), covered, o.kind, o.why, o.time))
        if following > max(covered, start):
            pieces.append(
                Piece(
                    max(covered, start),
                    following,
                    "unknown",
                    f"no scan for longer than the cadence after {o.time.isoformat()}",
                    o.time,
                )
            )
    for stop in stops:
        if not start <= stop.time < end:
            continue
        until = _closing(stop, obs, restores) or end
        if until > stop.time:
            pieces = _overlay(
                pieces, Piece(stop.time, until, "fail", stop.cause, stop.time, stop.by)
            )
    return [p for p in pieces if p.end > p.start]


def combine(per_rule: Sequence[list[Piece]], start: datetime, end: datetime) -> list[Piece]:
    """One control from its rules: FAIL if any fails, else unknown if any is unknown, else PASS
    if any passes, else not applicable."""
    cuts = sorted({start, end, *(p.start for ps in per_rule for p in ps)})
    combined: list[Piece] = []
    for a, b in pairwise(cuts):
        here = [p for ps in per_rule for p in ps if p.start <= a < p.end]
        if not here:
            here = [Piece(a, b, "unknown", "no rule observed it", a)]
        kind = min((p.kind for p in here), key=lambda k: _RANK[k])
        chosen = [p for p in here if p.kind == kind]
        why = "; ".join(dict.fromkeys(p.why for p in chosen if p.why))
        by = ", ".join(dict.fromkeys(p.by for p in chosen if p.by)) or None
        piece = Piece(a, b, kind, why, max(p.since for p in chosen), by)
        last = combined[-1] if combined else None
        if last and (last.kind, last.why, last.by) == (kind, why, by):
            combined[-1] = replace(last, end=b, since=piece.since)
        else:
            combined.append(piece)
    return combined


def judge(pieces: list[Piece], pass_times: Sequence[datetime] = ()) -> Judgement:
    """Verdict, failures and not-evidenced stretches of pieces covering a period. Only a PASS
    ends a failure: unknown stretches inside one continue it. `pass_times`: the PASS
    observations (to say when the control was last seen to hold before a failure)."""
    runs: list[Run] = []
    gaps: list[Piece] = []
    current: list[Piece] = []

    def close(end: datetime | None) -> None:
        fails = [p for p in current if p.kind == "fail"]
        begin = fails[0].start
        held = [t for t in pass_times if t < begin]
        runs.append(
            Run(
                start=begin,
                end=end,
                ended_after=max(p.since for p in current) if end is not None else None,
                cause="; ".join(dict.fromkeys(p.why for p in fails if p.why)),
                by=", ".join(dict.fromkeys(p.by for p in fails if p.by)) or None,
                held_before=held[-1] if held else None,
            )
        )

    for p in pieces:
        if current and p.kind == "pass":
            close(p.start)
            current = []
        if current or p.kind == "fail":
            current.append(p)
        elif p.kind in ("unknown", "na"):
            gaps.append(p)
    if current:
        close(None)
    if runs and runs[-1].end is None:
        verdict: Literal["held", "interrupted", "failing", "not_evidenced"] = "failing"
    elif runs:
        verdict = "interrupted"
    elif gaps:
        verdict = "not_evidenced"
    else:
        verdict = "held"
    return Judgement(verdict, runs, gaps, pieces)
