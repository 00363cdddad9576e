"""Meta-test: every registered rule reaches PASS, FAIL and ERROR somewhere.

A rule that can never FAIL checks nothing; one that can never PASS cannot be satisfied; one
that can never say ERROR turns what it could not see into a verdict. The inventories: the demo
organization (scanned in moto through the real scanner, one region), an inventory on which
every rule passes (`compliant`), one on which everything is wrong, and the same with the
trail list unreadable. Rules that genuinely cannot reach a status are listed with the reason.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterator

import pytest
from factories import (
    ACCOUNT,
    compliant,
    denied,
    make_account,
    make_bucket,
    make_inventory,
    make_status,
    make_trail,
    with_monitoring,
)
from moto import mock_aws

from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.demo.organization import DEMO_RULE_PARAMS
from trailcheck.demo.run import scan_demo_organization
from trailcheck.engine import evaluate
from trailcheck.model import FilterPatternTest, Inventory, Status, Versioning
from trailcheck.rules import _filter_pattern as fp
from trailcheck.rules import load_rules
from trailcheck.rules._monitoring import controls
from trailcheck.scanner.collectors.cloudtrail import DEFAULT_SELECTORS

RULES = load_rules(include_plugins=False)
VERDICTS = (Status.PASS, Status.FAIL, Status.ERROR)
# Keep this short; each entry says why the status is out of the rule's reach.
UNREACHABLE: dict[str, dict[Status, str]] = {
    "CT.MON.FILTER_CONFIRMED_BY_AWS": {
        Status.FAIL: "a disagreement between AWS's TestMetricFilter and trailcheck is doubt "
        "about trailcheck's evaluator, not a fault of the account: it is ERROR",
    },
}


@pytest.fixture(scope="module")
def demo() -> Iterator[Inventory]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        with mock_aws(), faithful_moto(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Exception\(STSClientError\)")
            yield scan_demo_organization(regions=("us-east-1",))


def confirmed_by_aws(inventory: Inventory) -> Inventory:
    """`inventory` with AWS's TestMetricFilter answer, agreeing, for every filter pattern."""
    samples = [
        (f"{c.key}/{kind}/{s.name}", s.record)
        for c in controls().values()
        for kind, items in (("positive", c.positives), ("negative", c.negatives))
        for s in items
    ]
    tests = {}
    for group in inventory.log_groups.values():
        for flt in group.metric_filters or ():
            tree = fp.parse(flt.pattern)
            tests[flt.pattern] = FilterPatternTest(
                pattern=flt.pattern,
                account_id=group.account_id,
                region=group.region,
                tested=tuple(i for i, _ in samples),
                matched=tuple(i for i, r in samples if fp.matches(tree, r)),
            )
    return inventory.model_copy(update={"filter_tests": tests})


def all_wrong() -> Inventory:
    """Two accounts; a stopped single-region trail failing delivery, no validation, no KMS, no
    CloudWatch Logs, writing to a bucket of its own account with nothing protecting it."""
    trail = make_trail(
        is_multi_region=False,
        log_file_validation_enabled=False,
        kms_key_id=None,
        cloudwatch_logs_log_group_arn=None,
        status=make_status(is_logging=False, latest_delivery_error="AccessDenied"),
        event_selectors=DEFAULT_SELECTORS,  # management events only: no data events
        has_insight_selectors=False,
        insight_selectors=None,
        tags={},
    )
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
        ],
    }
    bucket = make_bucket(
        f"logs-{ACCOUNT}",
        versioning=Versioning(),
        encryption=None,
        object_lock=None,
        policy=public,
        policy_is_public=True,
        public_access_block=None,
        logging=None,
        notifications=denied("s3:GetBucketNotificationConfiguration"),
    )
    # The account lists its bucket, which no trail records data events of.
    accounts = [make_account(bucket_names=(f"logs-{ACCOUNT}",)), make_account("222222222222")]
    return with_monitoring(make_inventory([trail], accounts, buckets=[bucket]))


def unlisted(inventory: Inventory) -> Inventory:
    """`inventory` as a scan that could not list any account's trails sees it."""
    accounts = {
        a: account.model_copy(update={"trail_arns": denied("cloudtrail:ListTrails")})
        for a, account in inventory.accounts.items()
    }
    return inventory.model_copy(
        update={"accounts": accounts, "trails": {}, "buckets": {}, "kms_keys": {}}
    )


def test_every_rule_reaches_pass_fail_and_error(demo: Inventory) -> None:
    reached: dict[str, set[Status]] = defaultdict(set)
    good = confirmed_by_aws(compliant())
    for inventory in (demo, good, all_wrong(), unlisted(good)):
        for finding in evaluate(inventory, RULES, DEMO_RULE_PARAMS).findings:
            reached[finding.rule_id].add(finding.status)
    missing = {
        rule.id: sorted(set(VERDICTS) - reached[rule.id] - set(UNREACHABLE.get(rule.id, {})))
        for rule in RULES
    }
    assert {k: v for k, v in missing.items() if v} == {}
    for rule_id, statuses in UNREACHABLE.items():  # the exceptions stay true and few
        assert not set(statuses) & reached[rule_id], rule_id
    assert len(UNREACHABLE) <= 3
