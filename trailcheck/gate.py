"""What fails a run: the one count behind the exit code, the terminal verdict and Markdown's.

Exit codes of a judged report: 0 nothing fails; 1 an unwaived FAIL at or above `--fail-on`
(with a baseline: a new one), or with `--strict` an unwaived ERROR at or above it; 3 nothing
could be judged at all (every finding of every account is ERROR): a scan that saw nothing is
not a pass; 4 nothing fails, but the scan was incomplete (API calls still throttled or failing
after every retry: their facts are unknown and their rules say ERROR).
"""

from __future__ import annotations

from trailcheck.baseline import fingerprint
from trailcheck.model import Finding, Gate, Report, Severity, Status

DEFAULT_FAIL_ON = Severity.LOW
EXIT_OK, EXIT_FAILED, EXIT_NOTHING_JUDGED, EXIT_INCOMPLETE = 0, 1, 3, 4


def failures_at_or_above(report: Report, threshold: Severity) -> list[Finding]:
    """Unwaived FAIL findings whose severity is at least `threshold` (the exit-code test).

    With a baseline comparison in the report, FAIL findings already in the baseline do not
    count: only regressions fail CI.
    """
    known = set(report.baseline.unchanged) if report.baseline is not None else set()
    return [
        f
        for f in report.findings
        if f.status is Status.FAIL
        and f.waiver is None
        and f.severity.rank >= threshold.rank
        and not (known and fingerprint(f) in known)
    ]


def errors_at_or_above(report: Report, threshold: Severity) -> list[Finding]:
    """Unwaived ERROR findings whose severity is at least `threshold` (`--strict` counts them)."""
    return [
        f
        for f in report.findings
        if f.status is Status.ERROR and f.waiver is None and f.severity.rank >= threshold.rank
    ]


def gate(report: Report, fail_on: Severity = DEFAULT_FAIL_ON, strict: bool = False) -> Gate:
    """The one count of what fails a run, for the exit code, the terminal and the Markdown.

    Exit 1 on a failure (with `strict`: or an ERROR) at or above `fail_on`; exit 3 when no
    account could be judged at all (every finding ERROR): a scan that saw nothing is not a pass.
    """
    failures = failures_at_or_above(report, fail_on)
    errors = errors_at_or_above(report, fail_on)
    seen: dict[str, set[Status]] = {}
    for f in report.findings:
        seen.setdefault(f.account_id, set()).add(f.status)
    accounts = report.metadata.accounts
    not_judged = sorted(a for a in accounts if seen.get(a) == {Status.ERROR})
    with_errors = sorted({f.account_id for f in report.findings if f.status is Status.ERROR})
    if accounts and len(not_judged) == len(accounts):
        code = EXIT_NOTHING_JUDGED
    elif failures or (strict and errors):
        code = EXIT_FAILED
    elif report.metadata.api_calls_lost:
        code = EXIT_INCOMPLETE
    else:
        code = EXIT_OK
    return Gate(
        fail_on=fail_on,
        strict=strict,
        failures=len(failures),
        errors=len(errors),
        accounts_not_judged=not_judged,
        accounts_with_errors=with_errors,
        rules_with_errors=sorted({f.rule_id for f in report.findings if f.status is Status.ERROR}),
        exit_code=code,
    )


def gate_verdict(report: Report) -> str:
    """The verdict line, the same on the terminal and in Markdown: `3 failure(s) at or above
    low`, `2 new failure(s) at or above low since the baseline`, `no failure at or above low`,
    `nothing could be judged …`."""
    g = report.gate or gate(report)
    if g.exit_code == EXIT_NOTHING_JUDGED:
        accounts = len(g.accounts_not_judged)
        return f"nothing could be judged: every finding of the {accounts} account(s) is ERROR"
    new = "new " if report.baseline is not None else ""
    since = " since the baseline" if report.baseline is not None else ""
    level = g.fail_on.value
    parts = [f"{g.failures} {new}failure(s) at or above {level}{since}"] if g.failures else []
    if g.strict and g.errors:
        parts.append(f"{g.errors} ERROR finding(s) at or above {level} (--strict)")
    if parts:
        return ", ".join(parts)
    strict = " and no ERROR (--strict)" if g.strict else ""
    verdict = f"no {new}failure at or above {level}{since}{strict}"
    if g.exit_code == EXIT_INCOMPLETE:
        lost = sum(report.metadata.api_calls_lost.values())
        verdict += f", but the scan was incomplete: {lost} API call(s) failed after every retry"
    return verdict


def unjudged_text(report: Report) -> str | None:
    """`could not judge (ERROR): 4 rule(s) in 2 of 6 account(s); not at all: 333333333333 …`,
    or None when every rule judged every account."""
    g = report.gate or gate(report)
    if not g.accounts_with_errors:
        return None
    total = len(report.metadata.accounts)
    text = (
        f"could not judge (ERROR): {len(g.rules_with_errors)} rule(s) in "
        f"{len(g.accounts_with_errors)} of {total} account(s)"
    )
    if g.accounts_not_judged:
        shown = ", ".join(g.accounts_not_judged[:10])
        more = f" (+{len(g.accounts_not_judged) - 10})" if len(g.accounts_not_judged) > 10 else ""
        text += f"; not at all: {shown}{more}"
    if not g.strict:
        text += " (--strict makes ERROR fail the run)"
    return text
