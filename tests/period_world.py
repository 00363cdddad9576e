"""Hand-built scan reports of a small organization, rule outcome by rule outcome (history and
audit property tests): a management account whose organization trail covers member A, and
member B with a trail of its own. The reports go through the real store and the real audit;
only the findings are written by hand, as the rules would word them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from trailcheck.engine import build_report
from trailcheck.model import (
    Account,
    Finding,
    Inventory,
    Report,
    ScanMetadata,
    Severity,
    Status,
    Unknown,
)
from trailcheck.rules import load_rules

MGMT = "999999999999"
A = "111111111111"  # covered by the organization trail only
B = "222222222222"  # its own trail
ACCOUNTS = (MGMT, A, B)
ORG = "o-world00001"
ORG_TRAIL = f"arn:aws:cloudtrail:us-east-1:{MGMT}:trail/org"
OWN_TRAIL = f"arn:aws:cloudtrail:us-east-1:{B}:trail/own"
DECIDES = "CT.ACCOUNT.MULTI_REGION_TRAIL"  # decides cis-aws-3.0 3.1
LOGGING = "CT.TRAIL.LOGGING"  # relates to it (and to pci-dss-4.0 10.2.1)
RULES = (DECIDES, LOGGING)
START = datetime(2026, 7, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def trail_of(account: str) -> str:
    return OWN_TRAIL if account == B else ORG_TRAIL


@dataclass(frozen=True)
class Scan:
    hour: int  # hours after START
    listed: tuple[str, ...]
    unreachable: tuple[str, ...] = ()
    ran: tuple[str, ...] = RULES
    # (account, rule) -> status; absent: the rule reported nothing there
    outcomes: Mapping[tuple[str, str], Status] = field(default_factory=dict)
    organization_id: str | None = ORG

    @property
    def time(self) -> datetime:
        return START + self.hour * HOUR


_REASONS = {
    Status.PASS: "covered by {trail} (multi-region, logging, all management events)",
    Status.FAIL: "{trail} is not logging",
    Status.ERROR: "cannot tell whether {trail} qualifies: cloudtrail:GetTrailStatus AccessDenied",
    Status.NOT_APPLICABLE: "{trail} is judged in its owner account",
}


def finding(account: str, rule: str, status: Status) -> Finding:
    """A finding as the rule words it: it names the trail that covers the account."""
    trail = trail_of(account)
    resource = f"arn:aws:iam::{account}:root" if rule == DECIDES else trail
    return Finding(
        rule_id=rule,
        title=rule,
        status=status,
        severity=Severity.HIGH,
        account_id=account,
        region=None,
        resource_arn=resource,
        resource_type="AWS::::Account" if rule == DECIDES else "AWS::CloudTrail::Trail",
        reason=_REASONS[status].format(trail=trail),
    )


def report(scan: Scan) -> Report:
    rules = [r for r in load_rules(include_plugins=False) if r.id in scan.ran]
    denied = Unknown(operation="sts:AssumeRole", error_code="AccessDenied")
    accounts = {
        a: Account(account_id=a, access_error=denied if a in scan.unreachable else None)
        for a in scan.listed
    }
    inventory = Inventory(
        metadata=ScanMetadata(
            tool_version="test",
            started_at=scan.time,
            finished_at=scan.time + timedelta(minutes=5),
            organization_id=scan.organization_id,
            management_account_id=MGMT if scan.organization_id else None,
        ),
        accounts=accounts,
    )
    findings = sorted(
        (
            finding(account, rule, status)
            for (account, rule), status in scan.outcomes.items()
            if account in scan.listed and account not in scan.unreachable and rule in scan.ran
        ),
        key=Finding.sort_key,
    )
    return build_report(inventory, rules, findings)
