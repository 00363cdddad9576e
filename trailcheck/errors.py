"""Errors a user can cause or fix; the CLI turns each into one line on stderr."""


class UserError(Exception):
    """Bad input (flag, config, baseline, snapshot): exit code 2."""

    exit_code = 2


class ScanError(Exception):
    """The scan itself could not run (no credentials, no reachable account): exit code 3."""

    exit_code = 3


class InternalError(Exception):
    """A state trailcheck's own code should never reach (a bug, not bad input).

    Raised instead of ``assert`` so the check survives ``python -O``; the engine turns a rule
    that raises it into an ERROR finding.
    """


class Interrupted(Exception):
    """The user interrupted the scan (Ctrl-C): no report is written; exit code 130."""

    exit_code = 130
