"""Organization scans in moto: discovery, role assumption, selection, org-trail coverage, the
central bucket, and the number of API calls (the economy the scanner promises)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from org_world import REGION, OrgWorld, build_org_world

from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.engine import evaluate
from trailcheck.errors import UserError
from trailcheck.model import Inventory, Status, Unknown
from trailcheck.rules import load_rules
from trailcheck.scanner.org import AccountSelection, OrgScope, RoleSpec, organization_targets
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession, ReadOnlyViolation


@pytest.fixture(scope="module")
def world() -> Iterator[OrgWorld]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # moto builds AMIs per account: slow
        with mock_aws(), faithful_moto():
            yield build_org_world()


@pytest.fixture(autouse=True)
def _fast_ec2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def targets(
    aws: AwsSession, selection: AccountSelection | None = None, role: RoleSpec | None = None
) -> OrgScope:
    return organization_targets(aws, REGION, selection=selection, role=role, max_workers=4)


def scan(aws: AwsSession, scope: OrgScope) -> Inventory:
    options = ScanOptions(regions=(REGION, "eu-west-1"), api_region=REGION, max_workers=4)
    return collect(
        scope.targets,
        aws,
        options,
        organization_id=scope.organization.organization_id,
        management_account_id=scope.organization.management_account_id,
        skipped=scope.skipped,
    )


def test_discovery_gives_ou_paths_and_skips_suspended_accounts(world: OrgWorld) -> None:
    scope = targets(AwsSession())
    by_id = {t.account_id: t for t in scope.targets}
    ids = world.accounts
    assert set(by_id) == {a for name, a in ids.items() if name != "closed"}
    assert by_id[ids["management"]].ou_path == "Root"
    assert by_id[ids["log-archive"]].ou_path == "Root/Security"
    assert by_id[ids["prod-a"]].ou_path == "Root/Workloads/Prod"
    assert by_id[ids["dev-a"]].name == "dev-a"
    assert {t.organization_id for t in scope.targets} == {world.organization_id}
    [skipped] = scope.skipped
    assert (skipped.account_id, skipped.name) == (ids["closed"], "closed")
    assert skipped.status == "SUSPENDED"


def test_members_are_entered_with_their_own_credentials(world: OrgWorld) -> None:
    aws = AwsSession()
    scope = targets(aws)
    for target in scope.targets:
        if target.access_error is not None:
            continue
        sts = aws.client("sts", REGION, target.credentials)
        assert sts.get_caller_identity()["Account"] == target.account_id
    management = next(t for t in scope.targets if t.account_id == world.management)
    assert management.credentials is None  # the caller's own credentials
    # The shared per-(region, service) clients still refuse writes, whoever they sign for.
    member_creds = next(t.credentials for t in scope.targets if t.credentials is not None)
    with pytest.raises(ReadOnlyViolation):
        aws.client("cloudtrail", REGION, member_creds).create_trail(Name="x", S3BucketName="y")


def test_an_account_whose_role_is_missing_is_an_error_and_the_scan_goes_on(
    world: OrgWorld,
) -> None:
    aws = AwsSession()
    scope = targets(aws)
    orphan = next(t for t in scope.targets if t.account_id == world.accounts["orphan"])
    assert isinstance(orphan.access_error, Unknown)
    assert orphan.access_error.operation == "sts:AssumeRole"
    assert orphan.access_error.error_code == "AccessDenied"
    assert f"{world.accounts['orphan']}:role/OrganizationAccountAccessRole" in (
        orphan.access_error.message
    )
    report = evaluate(scan(aws, scope), load_rules())
    orphan_findings = [f for f in report.findings if f.account_id == world.accounts["orphan"]]
    assert orphan_findings and {f.status for f in orphan_findings} == {Status.ERROR}
    assert all("AssumeRole failed: AccessDenied" in f.reason for f in orphan_findings)
    assert report.metadata.unreachable_accounts == [world.accounts["orphan"]]


def test_role_path_and_template_choose_the_role_arn(world: OrgWorld) -> None:
    # No member has these roles: every member fails, naming the ARN that was tried.
    prod = world.accounts["prod-a"]
    selection = AccountSelection.parse([prod])
    by_path = targets(AwsSession(), selection, RoleSpec.parse("Auditor", "security/"))
    [target] = by_path.targets
    assert target.access_error is not None
    assert f"arn:aws:iam::{prod}:role/security/Auditor" in target.access_error.message
    by_template = targets(
        AwsSession(),
        selection,
        RoleSpec.parse(arn_template="arn:{partition}:iam::{account_id}:role/ro/Reader"),
    )
    assert f"arn:aws:iam::{prod}:role/ro/Reader" in by_template.targets[0].access_error.message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("accounts", "exclude", "ous", "expected"),
    [
        ((), (), ("Workloads/Prod",), {"prod-a", "prod-b"}),
        ((), (), ("Root/Workloads",), {"prod-a", "prod-b", "dev-a", "orphan"}),
        ((), (), ("workloads/dev",), {"dev-a", "orphan"}),  # case-insensitive when unique
        ((), ("dev-a", "orphan"), ("Workloads",), {"prod-a", "prod-b"}),
        (("prod-a", "log-archive"), (), ("Workloads",), {"prod-a"}),
        (("prod-a,log-archive",), ("log-archive",), (), {"prod-a"}),
    ],
)
def test_selection(
    world: OrgWorld,
    accounts: tuple[str, ...],
    exclude: tuple[str, ...],
    ous: tuple[str, ...],
    expected: set[str],
) -> None:
    ids = world.accounts

    def resolve(values: tuple[str, ...]) -> list[str]:
        return [",".join(ids[n] for n in v.split(",")) for v in values]

    selection = AccountSelection.parse(resolve(accounts), resolve(exclude), ous)
    scope = targets(AwsSession(), selection)
    assert {t.account_id for t in scope.targets} == {ids[n] for n in expected}


def test_selection_by_ou_id_and_unknown_values(world: OrgWorld) -> None:
    aws = AwsSession()
    scope = targets(aws, AccountSelection(ous=(world.ou_ids["Security"],)))
    assert [t.account_id for t in scope.targets] == [world.accounts["log-archive"]]
    with pytest.raises(UserError, match="--ou: no OU 'Nowhere'"):
        targets(aws, AccountSelection(ous=("Nowhere",)))
    with pytest.raises(UserError, match="--accounts: 999999999999 is not an account"):
        targets(aws, AccountSelection(accounts=frozenset({"999999999999"})))


def test_org_trail_covers_members_and_is_judged_once(world: OrgWorld) -> None:
    aws = AwsSession()
    inventory = scan(aws, targets(aws))
    report = evaluate(inventory, load_rules())
    coverage = {
        f.account_id: f for f in report.findings if f.rule_id == "CT.ACCOUNT.MULTI_REGION_TRAIL"
    }
    for name in ("prod-a", "prod-b", "log-archive", "dev-a"):
        finding = coverage[world.accounts[name]]
        assert finding.status is Status.PASS, finding.reason
        assert finding.evidence["covering_trail"] == world.org_trail_arn
    # The org trail's own rules: one finding each, in the management account.
    for rule_id in ("CT.TRAIL.LOGGING", "CT.TRAIL.LOG_VALIDATION"):
        on_org_trail = [
            f
            for f in report.findings
            if f.rule_id == rule_id and f.resource_arn == world.org_trail_arn
        ]
        assert [(f.account_id, f.status) for f in on_org_trail] == [(world.management, Status.PASS)]
    # A member's own trail is judged too.
    [dev_validation] = [
        f
        for f in report.findings
        if f.rule_id == "CT.TRAIL.LOG_VALIDATION" and f.resource_arn == world.dev_trail_arn
    ]
    assert (dev_validation.account_id, dev_validation.status) == (
        world.accounts["dev-a"],
        Status.FAIL,
    )
    assert report.metadata.organization_id == world.organization_id
    assert report.metadata.account_info[world.accounts["prod-a"]].ou_path == "Root/Workloads/Prod"
    assert [s.account_id for s in report.metadata.skipped_accounts] == [world.accounts["closed"]]


def test_central_bucket_is_read_once_from_its_owner(world: OrgWorld) -> None:
    aws = AwsSession()
    inventory = scan(aws, targets(aws))
    central = inventory.buckets[world.central_bucket]
    assert central.owner_account_id == world.accounts["log-archive"]
    # Read with the owner's access: management's credentials could not have seen these.
    assert not isinstance(central.versioning, Unknown)
    assert central.versioning.status == "Enabled"
    assert not isinstance(central.policy, Unknown) and central.policy is not None
    assert set(inventory.buckets) == {world.central_bucket, world.dev_bucket}
    assert inventory.metadata.api_calls["s3:GetBucketPolicy"] == 2  # once per bucket


def test_call_count_economy(world: OrgWorld) -> None:
    """The exact calls for this organization: the lower bound of docs/org-scanning.md.

    5 parents (root + 4 OUs), 6 ACTIVE accounts (the caller's + 5 entered, 1 of them
    unreachable),
    2 trails (org trail, dev trail) each read once by its owner, 2 buckets, 1 KMS key,
    1 log group.
    """
    aws = AwsSession()
    scan(aws, targets(aws))
    reachable = 5  # 6 ACTIVE accounts minus the orphan
    assert aws.meter.snapshot() == {
        # discovery: 1 + 1 + 1 + 2 per parent
        "sts:GetCallerIdentity": 1,
        "organizations:DescribeOrganization": 1,
        "organizations:ListRoots": 1,
        "organizations:ListOrganizationalUnitsForParent": 5,
        "organizations:ListAccountsForParent": 5,
        # one AssumeRole per ACTIVE account except the caller's own
        "sts:AssumeRole": 5,
        # per reachable account
        "ec2:DescribeRegions": reachable,
        "cloudtrail:ListTrails": reachable,
        "s3:ListBuckets": reachable,
        # per (owner, home region) with trails; per trail
        "cloudtrail:DescribeTrails": 2,
        "cloudtrail:ListTags": 2,  # with DescribeTrails: per (reader, home region), 20 a call
        "cloudtrail:GetTrailStatus": 2,
        "cloudtrail:GetEventSelectors": 2,
        # per bucket (10 reads, +1 policy status when it has a policy), per bucket owner
        # account (1), per customer key (2), per log group (1)
        "s3:GetBucketLocation": 2,
        "s3:GetBucketAcl": 2,
        "s3:GetBucketLifecycleConfiguration": 2,
        "s3:GetBucketLogging": 2,
        "s3:GetBucketNotificationConfiguration": 2,
        "s3:GetBucketPolicyStatus": 1,
        "s3control:GetPublicAccessBlock": reachable,
        "s3:GetBucketVersioning": 2,
        "s3:GetBucketEncryption": 2,
        "s3:GetObjectLockConfiguration": 2,
        "s3:GetBucketPolicy": 2,
        "s3:GetPublicAccessBlock": 2,
        "kms:DescribeKey": 1,
        "kms:GetKeyRotationStatus": 1,
        "logs:DescribeLogGroups": 1,
        # monitoring: metric filters per trail log group; EventBridge rules per reachable
        # (account, scanned region), 5 x 2; no filter publishes a metric, so no alarm read
        "logs:DescribeMetricFilters": 1,
        "events:ListRules": reachable * 2,
        # who can tamper: the key policy per key; IAM authorization details per reachable
        # account; per policy type one listing, per SCP/RCP (FullAWSAccess, RCPFullAWSAccess)
        # its document and its targets
        "kms:GetKeyPolicy": 1,
        "iam:GetAccountAuthorizationDetails": reachable,
        "organizations:ListPolicies": 2,
        "organizations:DescribePolicy": 2,
        "organizations:ListTargetsForPolicy": 2,
        # CloudTrail Lake: ListEventDataStores per reachable (account, scanned region); no
        # store, so no GetEventDataStore
        "cloudtrail:ListEventDataStores": reachable * 2,
    }
    assert aws.client_count <= 12  # one client per (region, service), not per account


def test_an_unexpected_error_in_one_account_is_an_error_for_it_alone(world: OrgWorld) -> None:
    """A bug or an unforeseen response while collecting one account (here: an exception
    raised in botocore's after-call hook when dev-a's ListTrails answers) makes that account
    ERROR, naming the exception type; the other accounts are judged as before."""
    aws = AwsSession()

    def unexpected(parsed: dict, **_: object) -> None:
        if any(t.get("TrailARN") == world.dev_trail_arn for t in parsed.get("Trails", [])):
            raise RuntimeError("an answer no collector expected")

    aws.client("cloudtrail", REGION).meta.events.register(
        "after-call.cloudtrail.ListTrails", unexpected
    )
    inventory = scan(aws, targets(aws))
    dev = world.accounts["dev-a"]
    error = inventory.accounts[dev].access_error
    # The account's own view failed for good, as a lost Dask shard would: the exception named.
    assert error is not None and error.error_code == "ShardFailed"
    assert "RuntimeError: an answer no collector expected" in error.message
    report = evaluate(inventory, load_rules())
    for finding in (f for f in report.findings if f.account_id == dev):
        assert finding.status is Status.ERROR and "RuntimeError" in finding.reason
    coverage = {
        f.account_id: f.status
        for f in report.findings
        if f.rule_id == "CT.ACCOUNT.MULTI_REGION_TRAIL"
    }
    assert coverage[world.accounts["prod-a"]] is Status.PASS
    assert dev in report.metadata.unreachable_accounts
