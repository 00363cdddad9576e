"""Scan history: each scan's metadata and each finding's status intervals, in SQL.

SQLite (a file) is the default, PostgreSQL a shared team store; both go through one code path
(SQLAlchemy 2 Core) and Alembic migrations. The libraries come with the optional extra
`trailcheck[history]`: `require_history()` turns their absence into one clear error.
"""

from __future__ import annotations

import re

from trailcheck.errors import UserError
from trailcheck.extras import install_hint, require_extra

EXTRA_HINT = install_hint("history")
_URL = re.compile(r"^(sqlite:///.+|postgresql(\+psycopg)?://.+)$")


def check_url(url: str, flag: str = "--history") -> str:
    """The URL if it names a store trailcheck can open (`sqlite:///path`, `postgresql://...`)."""
    if not _URL.match(url):
        raise UserError(
            f"{flag}: {url!r} is not a history URL (use sqlite:///path/history.db or "
            "postgresql://user@host/db)"
        )
    return url


def require_history(flag: str = "--history") -> None:
    """Raise a one-line `UserError` when the `history` extra is not installed."""
    require_extra("history", flag)
