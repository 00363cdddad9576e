"""Reports of a small organization over a quarter, judged by the real rules (history, audit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from factories import make_account, make_inventory, make_status, make_trail

from trailcheck.config import WaiverConfig
from trailcheck.engine import evaluate
from trailcheck.model import Report, ScanMetadata
from trailcheck.rules import load_rules

PROD = "111111111111"
DEV = "222222222222"
T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def report_at(
    when: datetime,
    *,
    logging: dict[str, bool] | None = None,
    trail_name: str = "main-{account}",
    account_name: str = "acct-{account}",
    waivers: Sequence[WaiverConfig] = (),
    **meta: Any,
) -> Report:
    """A scan at `when` of accounts (default PROD and DEV) whose trail logs unless told not."""
    logging = logging if logging is not None else {PROD: True, DEV: True}
    trails = [
        make_trail(trail_name.format(account=a), a, status=make_status(is_logging=on))
        for a, on in logging.items()
    ]
    accounts = [
        make_account(
            a,
            name=account_name.format(account=a),
            ou_path="Root/Prod" if a == PROD else "Root/Dev",
        )
        for a in logging
    ]
    inventory = make_inventory(trails, accounts)
    inventory = inventory.model_copy(
        update={
            "metadata": ScanMetadata(
                tool_version="test",
                started_at=when,
                finished_at=when + timedelta(minutes=2),
                **meta,
            )
        }
    )
    return evaluate(inventory, load_rules(include_plugins=False), waivers=waivers)


def daily(days: range, **kwargs: Any) -> list[Report]:
    """One report a day at 06:00 UTC from T0; `logging_for(day)` may vary the trails."""
    logging_for = kwargs.pop("logging_for", None)
    return [
        report_at(T0 + day * DAY, logging=logging_for(day) if logging_for else None, **kwargs)
        for day in days
    ]
