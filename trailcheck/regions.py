"""--region values checked against botocore's partition data, and the requested regions an
account has not enabled (opt-in regions), found after the scan from what it collected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from trailcheck.errors import UserError
from trailcheck.model import Inventory, Unknown


def known_regions() -> frozenset[str]:
    """Every region of every partition in the installed botocore's endpoint data."""
    import botocore.session

    data = botocore.session.get_session().get_data("endpoints")
    return frozenset(region for p in data["partitions"] for region in p["regions"])


def parse_regions(values: Iterable[str] | None, flag: str = "--region") -> tuple[str, ...] | None:
    """The requested regions in order without repeats (None when none were given); a name
    botocore does not know is a `UserError` naming the nearest known ones."""
    given = tuple(dict.fromkeys(v.strip() for v in values or () if v.strip()))
    if not given:
        return None
    known = known_regions()
    for value in given:
        if value not in known:
            near = difflib.get_close_matches(value, sorted(known), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(near)}?" if near else "e.g. us-east-1, eu-west-1"
            raise UserError(f"{flag}: {value!r} is not an AWS region ({hint})")
    return given


def not_enabled(inventory: Inventory) -> dict[str, list[str]]:
    """Requested region -> the accounts (readable, regions known) that have not enabled it:
    an opt-in region those accounts never turned on, so nothing there was scanned."""
    requested = inventory.metadata.requested_regions or ()
    missing: dict[str, list[str]] = {}
    for account_id, account in sorted(inventory.accounts.items()):
        if account.access_error is not None or isinstance(account.regions, Unknown):
            continue
        for region in requested:
            if region not in account.regions:
                missing.setdefault(region, []).append(account_id)
    return missing


def not_enabled_warnings(inventory: Inventory) -> list[str]:
    """One line per requested region that some accounts have not enabled."""
    total = sum(1 for a in inventory.accounts.values() if a.access_error is None)
    lines = []
    for region, accounts in not_enabled(inventory).items():
        shown = ", ".join(accounts[:5]) + (
            f" and {len(accounts) - 5} more" if len(accounts) > 5 else ""
        )
        lines.append(
            f"--region {region}: not enabled in {len(accounts)} of {total} account(s) "
            f"({shown}; an opt-in region): not scanned there"
        )
    return lines
