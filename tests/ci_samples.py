"""Sample inventories, configs and reports for the CI-gate tests (config, waivers, baselines,
reporters, exit codes). Built on `factories`; every status, a waiver, an expired waiver, an
unreachable account, and strings that break naive renderers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from factories import ACCOUNT, denied, make_account, make_inventory, make_status, make_trail

from trailcheck.baseline import compare_with_baseline, create_baseline
from trailcheck.config import Config, WaiverConfig, resolve
from trailcheck.engine import evaluate
from trailcheck.model import Inventory, Report, Unknown
from trailcheck.rules import load_rules

OTHER = "222222222222"
UNREACHABLE = "333333333333"
NO_TRAIL = "444444444444"
OU_PATH = "r-ab12/ou-ab12-11111111/ou-ab12-22222222"
# Names no real trail may have, but renderers must survive: markup, pipes, formulas, control
# characters, non-ASCII.
NASTY = "=cmd|'/c calc'!A0<script>alert(1)</script>|é\x07"


def sample_inventory() -> Inventory:
    trails = [
        make_trail(),
        make_trail("stopped", status=make_status(is_logging=False)),
        make_trail("novalid", log_file_validation_enabled=False),
        make_trail(
            "denied",
            account_id=OTHER,
            event_selectors=denied("cloudtrail:GetEventSelectors"),
            log_file_validation_enabled=False,
        ),
        make_trail(NASTY, account_id=OTHER, log_file_validation_enabled=False),
    ]
    accounts = [
        make_account(ACCOUNT, ou_path=OU_PATH, name="prod"),
        make_account(OTHER, ou_path="r-ab12/ou-ab12-33333333"),
        make_account(
            UNREACHABLE,
            access_error=Unknown(operation="sts:AssumeRole", error_code="AccessDenied"),
        ),
        make_account(NO_TRAIL),
    ]
    return make_inventory(trails, accounts)


def waiver(**overrides: Any) -> WaiverConfig:
    values: dict[str, Any] = {
        "rule": "CT.TRAIL.LOGGING",
        "accounts": [ACCOUNT],
        "reason": "decommissioning (CHG-1)",
        "owner": "platform",
        "expires": date(2026, 12, 31),
    }
    return WaiverConfig(**(values | overrides))


def sample_report(*, with_baseline: bool = True) -> Report:
    """Every status, a waived FAIL, an expired and an unused waiver, and a baseline."""
    config = Config(
        waivers=[
            waiver(resources=["*:trail/stopped"]),
            waiver(rule="CT.TRAIL.LOG_VALIDATION", accounts=[OTHER], expires=date(2026, 1, 1)),
            waiver(rule="CT.KMS.*", accounts=["*"]),
        ]
    )
    policy = resolve(config, load_rules())
    inventory = sample_inventory()
    report = evaluate(inventory, policy.rules, waivers=policy.waivers)
    if not with_baseline:
        return report
    # A baseline from an earlier scan: one finding since fixed, one still failing.
    earlier = evaluate(
        make_inventory(
            [
                make_trail("novalid", log_file_validation_enabled=False),
                make_trail("gone", log_file_validation_enabled=False),
            ]
        ),
        load_rules(),
    )
    return compare_with_baseline(report, create_baseline(earlier), "baseline.json")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
