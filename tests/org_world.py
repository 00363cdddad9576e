"""A small organization built in moto for the organization-scan tests.

Root
├── management (caller)   organization trail → central bucket in log-archive, KMS key, log group
├── closed                SUSPENDED: skipped
├── Security
│   └── log-archive       owns the central bucket
└── Workloads
    ├── Prod
    │   ├── prod-a        covered by the organization trail only
    │   └── prod-b        covered by the organization trail only
    └── Dev
        ├── dev-a         plus its own single-region trail, own bucket, validation off
        └── orphan        its access role was deleted: cannot be entered
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3

from trailcheck.demo.organization import cloudtrail_bucket_policy, member_session

REGION = "us-east-1"
ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True)
class OrgWorld:
    organization_id: str
    root_id: str
    ou_ids: dict[str, str]  # path → id
    accounts: dict[str, str]  # name → id
    org_trail_arn: str
    central_bucket: str
    dev_trail_arn: str
    dev_bucket: str

    @property
    def management(self) -> str:
        return self.accounts["management"]


member = member_session  # enter a member account through its access role


def build_org_world() -> OrgWorld:
    """Inside an active moto mock (with faithful_moto), build the organization above."""
    base = boto3.Session(region_name=REGION)
    org = base.client("organizations")
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    ous: dict[str, str] = {}
    for path in ("Security", "Workloads", "Workloads/Prod", "Workloads/Dev"):
        parent = ous.get(path.rsplit("/", 1)[0], root) if "/" in path else root
        ous[path] = org.create_organizational_unit(ParentId=parent, Name=path.split("/")[-1])[
            "OrganizationalUnit"
        ]["Id"]
    accounts = {"management": base.client("sts").get_caller_identity()["Account"]}
    placement = {
        "closed": None,
        "log-archive": "Security",
        "prod-a": "Workloads/Prod",
        "prod-b": "Workloads/Prod",
        "dev-a": "Workloads/Dev",
        "orphan": "Workloads/Dev",
    }
    for name, ou in placement.items():
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)
        account_id = status["CreateAccountStatus"]["AccountId"]
        accounts[name] = account_id
        if ou:
            org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ous[ou])
    org.close_account(AccountId=accounts["closed"])

    management = accounts["management"]
    archive = member(base, accounts["log-archive"])
    central = f"org-trail-logs-{accounts['log-archive']}"
    s3 = archive.client("s3")
    s3.create_bucket(Bucket=central)
    s3.put_bucket_versioning(Bucket=central, VersioningConfiguration={"Status": "Enabled"})
    org_trail_arn = f"arn:aws:cloudtrail:{REGION}:{management}:trail/org-trail"
    s3.put_bucket_policy(
        Bucket=central,
        Policy=cloudtrail_bucket_policy(
            central, [f"AWSLogs/{management}", f"AWSLogs/{org_id}"], [org_trail_arn]
        ),
    )
    key = base.client("kms").create_key(Description="org trail")["KeyMetadata"]["Arn"]
    base.client("kms").enable_key_rotation(KeyId=key)
    base.client("logs").create_log_group(logGroupName="org-trail")
    ct = base.client("cloudtrail")
    ct.create_trail(
        Name="org-trail",
        S3BucketName=central,
        IsMultiRegionTrail=True,
        IsOrganizationTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{management}:log-group:org-trail:*",
        CloudWatchLogsRoleArn=f"arn:aws:iam::{management}:role/CloudTrailToLogs",
    )
    ct.start_logging(Name="org-trail")

    dev = member(base, accounts["dev-a"])
    dev_bucket = f"dev-trail-{accounts['dev-a']}"
    dev.client("s3").create_bucket(Bucket=dev_bucket)
    dev_trail = dev.client("cloudtrail").create_trail(Name="dev-trail", S3BucketName=dev_bucket)
    dev.client("cloudtrail").start_logging(Name="dev-trail")

    member(base, accounts["orphan"]).client("iam").delete_role(RoleName=ROLE)
    return OrgWorld(
        organization_id=org_id,
        root_id=root,
        ou_ids=ous,
        accounts=accounts,
        org_trail_arn=org_trail_arn,
        central_bucket=central,
        dev_trail_arn=dev_trail["TrailARN"],
        dev_bucket=dev_bucket,
    )
