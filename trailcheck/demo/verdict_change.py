"""What a scan that could not read something may change against one that could.

Losing a call (denied, or lost after every retry) may turn verdicts into ERROR and nothing else:
never PASS/FAIL into NOT_APPLICABLE or into another verdict, never a finding that vanishes
without an ERROR of its rule in its account, never two findings with one identity. Tests and
benchmarks only (like `faults.py`): the denial meta-test (tests/scanner/test_denied_calls.py),
the fault tests (tests/scanner/test_faults.py), the absence property (tests/rules/
test_absence.py) and `bench/fault_bench.py` judge a degraded scan against a clean one with it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from trailcheck.baseline import identity
from trailcheck.model import Finding, Status

Key = tuple[str, str, str, str]


def key(finding: Finding) -> Key:
    """A finding compared across scans: its identity without the region (a bucket whose
    GetBucketLocation was lost is judged in no region; its region is not what changed)."""
    return (finding.rule_id, finding.account_id, finding.resource_arn, finding.sub_resource or "")


def duplicate_identities(findings: Iterable[Finding]) -> list[tuple[str, ...]]:
    """Identities (rule, account, region, resource[, sub-resource]) given more than once."""
    counts = Counter(identity(f) for f in findings)
    return sorted(i for i, n in counts.items() if n > 1)


def verdict_violations(before: Iterable[Finding], after: Iterable[Finding]) -> list[str]:
    """What `after` (a scan that lost calls) changed against `before` (a full scan) other than
    turning verdicts into ERROR; empty when nothing else changed."""
    before, after = list(before), list(after)
    problems = [f"identity given twice: {i}" for i in duplicate_identities(after)]
    was: dict[Key, set[Status]] = defaultdict(set)
    now: dict[Key, set[Status]] = defaultdict(set)
    for finding in before:
        was[key(finding)].add(finding.status)
    for finding in after:
        now[key(finding)].add(finding.status)
    errors = {(f.rule_id, f.account_id) for f in after if f.status is Status.ERROR}
    for k, statuses in sorted(now.items()):
        changed = statuses - was.get(k, set())
        if changed - {Status.ERROR}:
            problems.append(f"{k}: {_shown(was.get(k, set()))} became {_shown(statuses)}")
    for k, statuses in sorted(was.items()):
        if k not in now and k[:2] not in errors:  # (a changed status is reported above)
            problems.append(f"{k}: {_shown(statuses)} vanished without an ERROR of its rule there")
    return problems


def _shown(statuses: set[Status]) -> str:
    return "/".join(sorted(s.value for s in statuses)) or "nothing"
