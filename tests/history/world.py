"""Reports of a small organization over a quarter, judged by the real rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from factories import make_account, make_inventory, make_status, make_trail

from trailcheck.engine import evaluate
from trailcheck.model import Report, ScanMetadata
from trailcheck.rules import load_rules

PROD = "111111111111"
DEV = "222222222222"


def report_at(when: datetime, *, logging: dict[str, bool] | None = None, **meta: Any) -> Report:
    """A scan at `when` of accounts (default PROD and DEV) whose trail logs unless told not."""
    logging = logging if logging is not None else {PROD: True, DEV: True}
    trails = [
        make_trail(f"main-{a}", a, status=make_status(is_logging=on)) for a, on in logging.items()
    ]
    accounts = [
        make_account(a, name=f"acct-{a[:3]}", ou_path="Root/Prod" if a == PROD else "Root/Dev")
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
    return evaluate(inventory, load_rules(include_plugins=False))
