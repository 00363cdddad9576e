"""`trailcheck demo`: build the sample organization in moto and scan it like a real one.

Everything above boto3 is the real code path: the same session layer, organization discovery,
role assumption, collectors, rules and reporters as `trailcheck scan --org`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from trailcheck.changes.lookup import with_change_history
from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.demo.organization import (
    DEMO_KEY,
    DEMO_RULE_PARAMS,
    REGION,
    build_demo_organization,
)
from trailcheck.engine import evaluate
from trailcheck.model import Inventory, Report
from trailcheck.rules import load_rules
from trailcheck.scanner.collectors.base import AccountAccess
from trailcheck.scanner.org import organization_targets
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession

DEMO_REGIONS = ("us-east-1", "eu-west-1")


def scan_demo_organization(
    regions: tuple[str, ...] = DEMO_REGIONS, *, who: bool = False
) -> Inventory:
    """Inside an active moto mock: build the organization, then collect it through boto3
    (with `who`: and look up who made each failing change, as `scan --who`)."""
    import boto3

    build_demo_organization()
    boto = boto3.Session(
        aws_access_key_id=DEMO_KEY, aws_secret_access_key=DEMO_KEY, region_name=REGION
    )
    session = AwsSession(boto_session=boto)
    scope = organization_targets(session, REGION, max_workers=4)
    options = ScanOptions(
        regions=regions, api_region=REGION, max_workers=4, partition=scope.partition
    )
    inventory = collect(
        scope.targets,
        session,
        options,
        organization_id=scope.organization.organization_id,
        management_account_id=scope.organization.management_account_id,
        skipped=scope.skipped,
    )
    if not who:
        return inventory
    rules = load_rules()
    access = {
        t.account_id: AccountAccess(t.account_id, session, t.credentials)
        for t in scope.targets
        if t.access_error is None
    }
    findings = evaluate(inventory, rules).findings
    events = {r.id: r.change_events for r in rules}
    return with_change_history(inventory, findings, events, access).inventory


@contextmanager
def _moto_settings() -> Iterator[None]:
    """moto would build ~1,300 EC2 AMIs per account on first use; the scan reads none."""
    name = "MOTO_EC2_LOAD_DEFAULT_AMIS"
    previous = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def run_demo() -> Report:
    """Build, scan (with --who) and judge the sample organization; return the report."""
    from moto import mock_aws

    with _moto_settings(), mock_aws(), faithful_moto(), warnings.catch_warnings():
        # moto warns that its STS model lacks an AccessDenied shape (the faithful refusal).
        warnings.filterwarnings("ignore", message=r"Exception\(STSClientError\)")
        inventory = scan_demo_organization(who=True)
    return evaluate(inventory, load_rules(), DEMO_RULE_PARAMS)
