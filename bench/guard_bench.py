"""The cost of judging who can tamper with the logs: CT.ORG.TAMPER_GUARDRAIL and
CT.IAM.WHO_CAN_TAMPER on a generated organization inventory (no AWS, no moto: the rules
are pure, so this measures the evaluator alone).

The organization: N accounts under the root and two OUs; the management account owns an
organization trail, its bucket (with a policy granting one member DeleteObject) and its key;
every member has R roles (one BreakGlass, one admin, the rest with narrow policies, every 4th
with a permissions boundary); a guardrail SCP with a break-glass exception on the root, an
RCP on the root. Run: `python -m bench.guard_bench --accounts 50,200 --roles 10`.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

from trailcheck.engine import evaluate
from trailcheck.model import (
    Account,
    Bucket,
    EventSelectors,
    IamAuthorization,
    IamManagedPolicy,
    IamPrincipal,
    InlinePolicy,
    Inventory,
    KeyMetadata,
    KmsKey,
    OrgPolicies,
    OrgPolicy,
    ScanMetadata,
    Trail,
    TrailStatus,
    Versioning,
)
from trailcheck.rules import load_rules

REGION = "us-east-1"
MANAGEMENT = "100000000000"
ROOT = "r-root"
OUS = ("ou-root-work0001", "ou-root-sand0001")
RULE_IDS = ("CT.ORG.TAMPER_GUARDRAIL", "CT.IAM.WHO_CAN_TAMPER")
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def build(accounts: int, roles: int) -> Inventory:
    ids = [MANAGEMENT] + [f"{200000000000 + i}" for i in range(1, accounts)]
    bucket = "org-trail-logs"
    key_arn = f"arn:aws:kms:{REGION}:{MANAGEMENT}:key/k1"
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{MANAGEMENT}:trail/org"
    trail = Trail(
        arn=trail_arn,
        name="org",
        account_id=MANAGEMENT,
        home_region=REGION,
        is_multi_region=True,
        is_organization_trail=True,
        s3_bucket_name=bucket,
        kms_key_id=key_arn,
        status=TrailStatus(is_logging=True),
        event_selectors=EventSelectors(),
    )
    bucket_policy = _doc(
        {
            "Sid": "Cleanup",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ids[1]}:root"},
            "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
    )
    key_policy = _doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    guard = _doc(
        {
            "Effect": "Deny",
            "Action": [
                "cloudtrail:StopLogging",
                "cloudtrail:DeleteTrail",
                "cloudtrail:UpdateTrail",
                "cloudtrail:Put*",
                "s3:Delete*",
                "s3:Put*",
                "s3:BypassGovernanceRetention",
                "kms:*",
            ],
            "Resource": "*",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/BreakGlass"}},
        }
    )
    policies = {
        "p-FullAWSAccess": OrgPolicy(
            id="p-FullAWSAccess",
            name="FullAWSAccess",
            type="SERVICE_CONTROL_POLICY",
            aws_managed=True,
            content=ALLOW_ALL,
            targets=(ROOT, *OUS, *ids),
        ),
        "p-guard": OrgPolicy(
            id="p-guard",
            name="guard",
            type="SERVICE_CONTROL_POLICY",
            content=guard,
            targets=(ROOT,),
        ),
        "p-RCPFullAWSAccess": OrgPolicy(
            id="p-RCPFullAWSAccess",
            name="RCPFullAWSAccess",
            type="RESOURCE_CONTROL_POLICY",
            aws_managed=True,
            content=_doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}),
            targets=(ROOT, *OUS, *ids),
        ),
    }
    narrow = _doc(
        {"Effect": "Allow", "Action": ["s3:GetObject", "logs:PutLogEvents"], "Resource": "*"}
    )
    boundary_arn = "arn:aws:iam::{}:policy/boundary"
    iam: dict[str, IamAuthorization] = {}
    account_models: dict[str, Account] = {}
    for n, account_id in enumerate(ids):
        parents = (ROOT,) if n == 0 else (ROOT, OUS[n % 2])
        account_models[account_id] = Account(
            account_id=account_id,
            organization_id="o-bench",
            parent_ids=parents,
            ou_path="Root" if n == 0 else f"Root/{'Workloads' if n % 2 == 0 else 'Sandbox'}",
            regions=(REGION,),
            trail_arns=(trail_arn,),
            bucket_names=(bucket,) if n == 0 else (),
        )
        principals = []
        for r in range(roles):
            name = "BreakGlass" if r == 0 else ("Admin" if r == 1 else f"app-{r}")
            principals.append(
                IamPrincipal(
                    arn=f"arn:aws:iam::{account_id}:role/{name}",
                    kind="role",
                    inline=(InlinePolicy(name="access", document=ALLOW_ALL if r < 2 else narrow),),
                    boundary=boundary_arn.format(account_id) if r % 4 == 3 else None,
                )
            )
        iam[account_id] = IamAuthorization(
            account_id=account_id,
            principals=tuple(principals),
            policies={
                boundary_arn.format(account_id): IamManagedPolicy(
                    arn=boundary_arn.format(account_id), document=narrow
                )
            },
        )
    now = datetime.now(UTC)
    return Inventory(
        metadata=ScanMetadata(
            tool_version="bench",
            started_at=now,
            finished_at=now,
            organization_id="o-bench",
            management_account_id=MANAGEMENT,
        ),
        accounts=account_models,
        trails={trail_arn: trail},
        buckets={
            bucket: Bucket(
                name=bucket,
                owner_account_id=MANAGEMENT,
                region=REGION,
                versioning=Versioning(status="Enabled"),
                encryption=None,
                object_lock=None,
                policy=bucket_policy,
                public_access_block=None,
            )
        },
        kms_keys={
            key_arn: KmsKey(
                arn=key_arn,
                account_id=MANAGEMENT,
                region=REGION,
                metadata=KeyMetadata(key_state="Enabled", enabled=True, key_manager="CUSTOMER"),
                rotation_enabled=True,
                policy=key_policy,
            )
        },
        org_policies=OrgPolicies(policies=policies),
        iam=dict(iam),
    )


def run(accounts: int, roles: int) -> dict[str, Any]:
    inventory = build(accounts, roles)
    rules = [r for r in load_rules(include_plugins=False) if r.id in RULE_IDS]
    params = {
        "CT.ORG.TAMPER_GUARDRAIL": {"break_glass_principals": ["arn:aws:iam::*:role/BreakGlass"]}
    }
    started = time.perf_counter()
    report = evaluate(inventory, rules, params)
    seconds = time.perf_counter() - started
    tracemalloc.start()  # a second, traced run: tracing slows it, so it is not timed
    evaluate(inventory, rules, params)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    statuses: dict[str, int] = {}
    for finding in report.findings:
        statuses[f"{finding.rule_id}:{finding.status}"] = (
            statuses.get(f"{finding.rule_id}:{finding.status}", 0) + 1
        )
    return {
        "accounts": accounts,
        "roles": roles,
        "seconds": seconds,
        "ms_per_account": 1000 * seconds / accounts,
        "peak_mb": peak / 2**20,
        "findings": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.guard_bench", description=__doc__)
    parser.add_argument("--accounts", default="50,200")
    parser.add_argument("--roles", type=int, default=10)
    args = parser.parse_args()
    print("| accounts | roles per account | evaluate s | ms/account | peak traced MB |")
    print("|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.accounts.split(",")):
        result = run(size, args.roles)
        print(
            f"| {size} | {args.roles} | {result['seconds']:.2f} | {result['ms_per_account']:.1f} "
            f"| {result['peak_mb']:.1f} |"
        )
        print(f"<!-- {result['findings']} -->")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
