"""Who can still stop the logs, end to end on moto: SCPs, RCPs, IAM and resource policies are
built in moto, read by trailcheck's real scanner (organization scan) and judged by the
guardrail and who-can rules.

The organization: the management account owns the organization trail, its bucket and its KMS
key; member `prod` sits in OU Workloads, member `dev` in OU Sandbox. Every member has the roles
BreakGlass (the named break-glass role), DevOpsAdmin and AppRole, each allowed `*` by an inline
policy (AppRole: only s3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from trailcheck.demo.organization import cloudtrail_bucket_policy, member_session
from trailcheck.engine import evaluate
from trailcheck.model import Finding, Status
from trailcheck.rules import load_rules
from trailcheck.scanner.org import organization_targets
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession

REGION = "us-east-1"
RULES = load_rules(include_plugins=False, modules=("trailcheck.rules.guardrails",))
GUARDRAIL = "CT.ORG.TAMPER_GUARDRAIL"
WHO = "CT.IAM.WHO_CAN_TAMPER"
BREAK_GLASS = "arn:aws:iam::*:role/BreakGlass"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
TAMPER = [
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:PutInsightSelectors",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketObjectLockConfiguration",
    "s3:BypassGovernanceRetention",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:DeleteBucket",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
]


@dataclass
class Org:
    base: boto3.Session
    management: str
    root: str
    ous: dict[str, str]
    members: dict[str, str]  # name → account id
    bucket: str
    key: str
    trail: str
    sessions: dict[str, boto3.Session] = field(default_factory=dict)

    def member(self, name: str) -> boto3.Session:
        if name not in self.sessions:
            self.sessions[name] = member_session(self.base, self.members[name])
        return self.sessions[name]

    def scp(self, name: str, document: dict[str, Any], *targets: str, kind: str = "SCP") -> str:
        org = self.base.client("organizations")
        policy_type = "SERVICE_CONTROL_POLICY" if kind == "SCP" else "RESOURCE_CONTROL_POLICY"
        policy_id = org.create_policy(
            Content=json.dumps(document), Description=name, Name=name, Type=policy_type
        )["Policy"]["PolicySummary"]["Id"]
        for target in targets:
            org.attach_policy(PolicyId=policy_id, TargetId=target)
        return policy_id

    def role(
        self,
        session: boto3.Session,
        name: str,
        policy: dict[str, Any] | None = None,
        boundary: dict[str, Any] | None = None,
    ) -> str:
        iam = session.client("iam")
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        if policy is not None:
            iam.put_role_policy(
                RoleName=name, PolicyName="access", PolicyDocument=json.dumps(policy)
            )
        if boundary is not None:
            boundary_arn = iam.create_policy(
                PolicyName=f"{name}-boundary", PolicyDocument=json.dumps(boundary)
            )["Policy"]["Arn"]
            iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary_arn)
        return arn


@pytest.fixture
def org(moto: None) -> Org:
    base = boto3.Session(region_name=REGION)
    organizations = base.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    management = base.client("sts").get_caller_identity()["Account"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    ous = {
        name: organizations.create_organizational_unit(ParentId=root, Name=name)[
            "OrganizationalUnit"
        ]["Id"]
        for name in ("Workloads", "Sandbox")
    }
    members = {}
    for name, ou in (("prod", "Workloads"), ("dev", "Sandbox")):
        account = organizations.create_account(Email=f"{name}@example.com", AccountName=name)[
            "CreateAccountStatus"
        ]["AccountId"]
        organizations.move_account(
            AccountId=account, SourceParentId=root, DestinationParentId=ous[ou]
        )
        members[name] = account
    bucket = f"org-trail-{management}"
    s3 = base.client("s3")
    s3.create_bucket(Bucket=bucket)
    trail = f"arn:aws:cloudtrail:{REGION}:{management}:trail/org-trail"
    s3.put_bucket_policy(
        Bucket=bucket, Policy=cloudtrail_bucket_policy(bucket, [f"AWSLogs/{management}"], [trail])
    )
    key = base.client("kms").create_key(Description="org trail")["KeyMetadata"]["Arn"]
    cloudtrail = base.client("cloudtrail")
    cloudtrail.create_trail(
        Name="org-trail",
        S3BucketName=bucket,
        IsMultiRegionTrail=True,
        IsOrganizationTrail=True,
        KmsKeyId=key,
    )
    cloudtrail.start_logging(Name="org-trail")
    world = Org(base, management, root, ous, members, bucket, key, trail)
    for name in members:
        session = world.member(name)
        world.role(session, "BreakGlass", ALLOW_ALL)
        world.role(session, "DevOpsAdmin", ALLOW_ALL)
        world.role(
            session,
            "AppRole",
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            },
        )
    return world


def guardrail_scp(
    condition: dict[str, Any] | None = None, *, not_action: bool = False
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "ProtectOrgTrail",
        "Effect": "Deny",
        "Resource": "*",
        "Condition": condition
        if condition is not None
        else {"ArnNotLike": {"aws:PrincipalArn": BREAK_GLASS}},
    }
    statement["NotAction" if not_action else "Action"] = (
        [
            "cloudtrail:Describe*",
            "cloudtrail:Get*",
            "cloudtrail:List*",
            "cloudtrail:LookupEvents",
            "s3:Get*",
            "s3:List*",
            "kms:Describe*",
            "kms:Get*",
            "kms:List*",
            "cloudtrail:*",
        ]
        if not_action
        else TAMPER
    )
    return {"Version": "2012-10-17", "Statement": [statement]}


def scan(aws: AwsSession, **params: Any) -> dict[tuple[str, str], Finding]:
    scope = organization_targets(aws, REGION, max_workers=2)
    options = ScanOptions(
        regions=(REGION,),
        api_region=REGION,
        max_workers=2,
        collections=RULES.requires() | {"regions"},
    )
    inventory = collect(
        scope.targets,
        aws,
        options,
        organization_id=scope.organization.organization_id,
        management_account_id=scope.organization.management_account_id,
    )
    rule_params = {GUARDRAIL: {"break_glass_principals": [BREAK_GLASS]}} | params
    report = evaluate(inventory, RULES, rule_params)
    return {(f.rule_id, f.account_id): f for f in report.findings}


def test_no_scp_means_no_guardrail_in_any_member(org: Org, aws: AwsSession) -> None:
    found = scan(aws)
    for name, account in org.members.items():
        finding = found[(GUARDRAIL, account)]
        assert finding.status is Status.FAIL, name
        assert finding.problems == ["guardrail.scp_missing"]
        gaps = finding.evidence["gaps"]
        assert any(
            g["action"] == "cloudtrail:StopLogging" and g["resource"] == org.trail for g in gaps
        )
        # the break-glass role is never a probe; ordinary roles and the probe role are
        principals = {p for g in gaps for p in g["principals"]}
        assert not any(p.endswith("role/BreakGlass") for p in principals)
        assert any(p.endswith("role/DevOpsAdmin") for p in principals)
        assert any(p.endswith("role/trailcheck-probe-ordinary-role") for p in principals)
    # The management account is bound by no SCP: not applicable here, judged by who-can.
    assert found[(GUARDRAIL, org.management)].status is Status.NOT_APPLICABLE


def test_root_scp_with_exact_break_glass_exception_holds_everywhere(
    org: Org, aws: AwsSession
) -> None:
    org.scp("trail-guardrail", guardrail_scp(), org.root)
    found = scan(aws)
    for account in org.members.values():
        finding = found[(GUARDRAIL, account)]
        assert finding.status is Status.PASS, finding.reason
        assert finding.evidence["requests_checked"] > 0


def test_scp_on_one_ou_only_leaves_the_other_ou_unguarded(org: Org, aws: AwsSession) -> None:
    policy = org.scp("trail-guardrail", guardrail_scp(), org.ous["Workloads"])
    found = scan(aws)
    assert found[(GUARDRAIL, org.members["prod"])].status is Status.PASS
    dev = found[(GUARDRAIL, org.members["dev"])]
    assert dev.status is Status.FAIL
    assert dev.problems == ["guardrail.not_attached"]
    assert "Root/Sandbox" in dev.reason
    assert policy in dev.evidence["gaps"][0]["detail"]
    assert org.ous["Workloads"] in dev.evidence["gaps"][0]["detail"]


def test_arnlike_exception_with_a_wide_wildcard_exempts_ordinary_roles(
    org: Org, aws: AwsSession
) -> None:
    org.scp(
        "trail-guardrail",
        guardrail_scp({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*Admin*"}}),
        org.root,
    )
    found = scan(aws, **{GUARDRAIL: {"break_glass_principals": ["arn:aws:iam::*:role/*Admin*"]}})
    # Named as break-glass, *Admin* matches DevOpsAdmin: it is then not probed. With the real
    # break-glass role named instead, the exception is too wide.
    assert found[(GUARDRAIL, org.members["prod"])].status is Status.PASS
    found = scan(aws)
    prod = found[(GUARDRAIL, org.members["prod"])]
    assert prod.status is Status.FAIL
    assert prod.problems == ["guardrail.exception_too_wide"]
    leaking = {p for g in prod.evidence["gaps"] for p in g["principals"]}
    assert leaking == {f"arn:aws:iam::{org.members['prod']}:role/DevOpsAdmin"}


def test_notaction_scp_that_spares_cloudtrail_guards_the_bucket_and_key_only(
    org: Org, aws: AwsSession
) -> None:
    org.scp("deny-writes", guardrail_scp(not_action=True), org.root)
    found = scan(aws)
    prod = found[(GUARDRAIL, org.members["prod"])]
    assert prod.status is Status.FAIL
    actions = {g["action"] for g in prod.evidence["gaps"]}
    assert actions == {
        "cloudtrail:StopLogging",
        "cloudtrail:DeleteTrail",
        "cloudtrail:UpdateTrail",
        "cloudtrail:PutEventSelectors",
        "cloudtrail:PutInsightSelectors",
    }
    assert prod.problems == ["guardrail.scp_missing"]


def test_rcp_guards_resources_of_member_accounts_only(org: Org, aws: AwsSession) -> None:
    """RCPs bind resources of member accounts; the org trail's bucket and key are in the
    management account, so an RCP alone is no guardrail for them."""
    rcp = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:*", "kms:*"],
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": BREAK_GLASS}},
            }
        ],
    }
    org.scp("rcp-guard", rcp, org.root, kind="RCP")
    prod = scan(aws)[(GUARDRAIL, org.members["prod"])]
    assert prod.status is Status.FAIL
    assert any(g["action"] == "s3:DeleteObject" for g in prod.evidence["gaps"])


def test_management_account_is_bound_by_no_scp(org: Org, aws: AwsSession) -> None:
    org.scp("trail-guardrail", guardrail_scp(), org.root)
    admin = org.role(org.base, "Admin", ALLOW_ALL)
    found = scan(aws)
    who = found[(WHO, org.management)]
    assert who.status is Status.FAIL
    assert admin in who.evidence["holders"]
    assert "permissions.can_stop_logging" in who.problems
    assert "role/Admin inline policy access statement #0" in str(who.evidence["holders"][admin])
    assert "role/Admin inline policy access" in who.evidence["full_access_policies"][0]


def test_permission_boundary_removes_stop_logging_from_an_admin_role(
    org: Org, aws: AwsSession
) -> None:
    tamper_free = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "NotAction": TAMPER, "Resource": "*"}],
    }
    bounded = org.role(org.base, "BoundedAdmin", ALLOW_ALL, boundary=tamper_free)
    free = org.role(org.base, "FreeAdmin", ALLOW_ALL)
    who = scan(aws)[(WHO, org.management)]
    assert who.status is Status.FAIL
    assert free in who.evidence["holders"]
    assert bounded not in who.evidence["holders"]
    allowed = scan(aws, **{WHO: {"allowed_principals": [free]}})[(WHO, org.management)]
    assert allowed.status is Status.PASS, allowed.reason
    assert allowed.evidence["allowed_holders"] == [free]


def test_bucket_policy_granting_delete_object_to_another_account(org: Org, aws: AwsSession) -> None:
    prod = org.members["prod"]
    policy = json.loads(org.base.client("s3").get_bucket_policy(Bucket=org.bucket)["Policy"])
    policy["Statement"].append(
        {
            "Sid": "ProdCleanup",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{prod}:root"},
            "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{org.bucket}/*",
        }
    )
    org.base.client("s3").put_bucket_policy(Bucket=org.bucket, Policy=json.dumps(policy))
    who = scan(aws)[(WHO, org.management)]
    assert who.status is Status.FAIL
    for role in ("DevOpsAdmin", "AppRole", "BreakGlass"):
        grants = who.evidence["holders"][f"arn:aws:iam::{prod}:role/{role}"]
        assert {g["action"] for g in grants} == {"s3:DeleteObject"}
        assert any("ProdCleanup" in s for s in grants[0]["granted_by"])
    # dev is not named by the bucket policy: none of its roles can reach the bucket
    assert not any(org.members["dev"] in arn for arn in who.evidence["holders"])


def test_key_policy_grant_leaks_in_the_keys_account_not_across(org: Org, aws: AwsSession) -> None:
    operator = org.role(org.base, "KeyOperator")  # no identity policy at all
    prod = org.members["prod"]
    kms = org.base.client("kms")
    policy = json.loads(kms.get_key_policy(KeyId=org.key, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "Operators",
            "Effect": "Allow",
            "Principal": {"AWS": [operator, f"arn:aws:iam::{prod}:role/DevOpsAdmin"]},
            "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"],
            "Resource": "*",
        }
    )
    kms.put_key_policy(KeyId=org.key, PolicyName="default", Policy=json.dumps(policy))
    who = scan(aws)[(WHO, org.management)]
    assert who.status is Status.FAIL
    grants = who.evidence["holders"][operator]
    assert {g["action"] for g in grants} == {
        "kms:ScheduleKeyDeletion",
        "kms:DisableKey",
        "kms:PutKeyPolicy",
    }
    assert all("Operators" in g["granted_by"][0] for g in grants)
    # KMS refuses these three across accounts, whatever the key policy says
    assert f"arn:aws:iam::{prod}:role/DevOpsAdmin" not in who.evidence["holders"]


def test_unreadable_policies_are_errors_never_pass(org: Org, aws: AwsSession) -> None:
    org.scp("trail-guardrail", guardrail_scp(), org.root)
    _refuse("ListPolicies", aws, "organizations")
    found = scan(aws)
    for account in org.members.values():
        assert found[(GUARDRAIL, account)].status is Status.ERROR
        assert found[(WHO, account)].status is Status.ERROR


def _refuse(operation: str, aws: AwsSession, service: str) -> None:
    from botocore.exceptions import ClientError

    def refuse(**_: object) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, operation)

    aws.client(service, REGION).meta.events.register(f"before-call.{service}.{operation}", refuse)


def test_unreadable_principals_fail_on_a_new_role_but_never_pass(org: Org, aws: AwsSession) -> None:
    """Without the account's principals only a role anyone could create is tried: a gap is
    still a FAIL; no gap is an ERROR (its own principals may be exempted), never a PASS."""
    _refuse("GetAccountAuthorizationDetails", aws, "iam")
    found = scan(aws)
    for account in org.members.values():
        unguarded = found[(GUARDRAIL, account)]
        assert unguarded.status is Status.FAIL
        principals = {p for g in unguarded.evidence["gaps"] for p in g["principals"]}
        assert principals == {f"arn:aws:iam::{account}:role/trailcheck-probe-ordinary-role"}
        assert found[(WHO, account)].status is Status.ERROR
    org.scp("trail-guardrail", guardrail_scp(), org.root)
    found = scan(aws)
    for account in org.members.values():
        assert found[(GUARDRAIL, account)].status is Status.ERROR
        assert "GetAccountAuthorizationDetails" in found[(GUARDRAIL, account)].reason
