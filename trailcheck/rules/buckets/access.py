"""Bucket rules about who can reach the logs: exposure, Block Public Access, TLS, the
delivery grant, readers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trailcheck.model import (
    Bucket,
    Finding,
    Inventory,
    PublicAccessBlock,
    Severity,
    Status,
    Trail,
    Unknown,
)
from trailcheck.rules._policy import (
    PublicAccessResult,
    cloudtrail_delivery,
    denies_insecure_transport,
    effective_public_access_block,
    public_access,
    readers,
)
from trailcheck.rules.base import Remediation, RuleContext, rule
from trailcheck.rules.buckets._common import (
    _PAB_FRAMEWORKS,
    _PAB_KEYS,
    Verdict,
    _pab,
    _policy_error,
    _refs,
    _unread,
    judge_each_bucket,
)

# ----------------------------------------------------------------------------- exposure


@rule(
    id="CT.BUCKET.NOT_PUBLIC",
    change_events=(
        "PutBucketPolicy",
        "DeleteBucketPolicy",
        "PutBucketAcl",
        "PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
    ),
    title="The CloudTrail log bucket is not publicly accessible",
    severity=Severity.CRITICAL,
    resource_type="AWS::S3::Bucket",
    # Decides CloudTrail.6: Security Hub asks whether the trail's bucket is publicly accessible
    # (effective access: policy, ACL and Block Public Access), judged in the bucket owner.
    # Relates to CIS 1.4 3.3, whose audit fails any Allow to Principal "*" or ACL grant to
    # AllUsers/AuthenticatedUsers even when a condition or Block Public Access neutralises it.
    controls={"aws-fsbp": ("CloudTrail.6",)},
    related_controls={
        "cis-aws-1.4": ("3.3",),
        "pci-dss-4.0": ("10.3.1",),
        "nist-800-53-r5": ("AU-9",),
        "iso-27001-2022": ("A.8.15",),
    },
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Remove ACL grants to AllUsers/AuthenticatedUsers and Allow statements open to "
        "everyone (or narrow them to your accounts or organization), then turn on Block Public "
        "Access for the bucket and the account.",
        cli="aws s3api put-bucket-acl --bucket {bucket} --acl private && "
        "aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration "
        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,"
        "RestrictPublicBuckets=true",
        terraform='resource "aws_s3_bucket_public_access_block" "logs" {\n'
        "  bucket                  = aws_s3_bucket.logs.id\n"
        "  block_public_acls       = true\n  ignore_public_acls      = true\n"
        "  block_public_policy     = true\n  restrict_public_buckets = true\n}",
    ),
)
def not_public(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Public CloudTrail logs hand an attacker a map of the organization: every account,
    role, IP address and API call. Judged as effective exposure: the bucket policy evaluated
    with its conditions (an Allow narrowed to known accounts or the organization is not
    public), the bucket ACL, and the bucket's and account's Public Access Block (which can
    neutralise both); S3's own GetBucketPolicyStatus verdict is checked too."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        if isinstance(bucket.acl, Unknown):
            yield _unread(ctx, bucket, writers, "ACL", bucket.acl)
            return
        grants = [g.as_aws() for g in bucket.acl.grants]
        bucket_pab = _pab(bucket.public_access_block)
        account_pab = _pab(bucket.account_public_access_block)
        result = _policy_error(
            ctx,
            bucket,
            writers,
            lambda: public_access(
                bucket.policy,  # type: ignore[arg-type]
                grants,
                bucket_pab,
                account_pab,
                bucket_name=bucket.name,
                partition=inventory.metadata.partition,
            ),
        )
        if isinstance(result, Finding):
            yield result
            return
        restricted = effective_public_access_block(bucket_pab, account_pab).restrict_public_buckets
        aws_public = bucket.policy_is_public is True and not restricted
        evidence: dict[str, Any] = {
            "public_kinds": list(result.kinds),
            "policy_public_statements": _refs(result.policy_statements),
            "acl_public_grants": list(result.acl_grants),
            "neutralised_by": list(result.neutralised_by),
            "PolicyStatus.IsPublic": bucket.policy_is_public,
            "bucket_public_access_block": bucket_pab,
            "account_public_access_block": account_pab,
            "explanation": result.explanation,
        }
        if result.is_public:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"the log bucket is public: {result.explanation}",
                evidence=evidence,
                remediation=_public_fix(result, restricted),
                problems=(["bucket.acl_public"] if result.acl_grants else [])
                + (["bucket.policy_public"] if result.policy_statements else []),
            )
        elif aws_public:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "S3 reports the bucket policy as public (GetBucketPolicyStatus IsPublic) and "
                "RestrictPublicBuckets is off",
                evidence=evidence,
                problems=["bucket.policy_public"],
            )
        else:
            yield ctx.for_bucket(
                bucket, writers, Status.PASS, result.explanation, evidence=evidence
            )

    yield from ctx.per_log_bucket(
        inventory,
        judge,
        needs=(
            "policy",
            "policy_is_public",
            "acl",
            "public_access_block",
            "account_public_access_block",
        ),
    )


def _public_fix(result: PublicAccessResult, restricted: bool) -> Remediation:
    """The fix for a public log bucket, naming the policy statements and ACL grants to remove."""
    steps: list[str] = []
    cli: list[str] = []
    if result.policy_public and not restricted:
        which = ", ".join(
            f"Statement[{r.index}]" + (f' (Sid "{r.sid}")' if r.sid else "")
            for r in result.policy_statements
        )
        steps.append(
            f"remove bucket policy {which} (or narrow its Principal with aws:PrincipalOrgID or "
            "to your account ids)"
        )
        cli.append(
            "aws s3api get-bucket-policy --bucket {bucket} --query Policy --output text > "
            f"policy.json  # delete {which} from the Statement list (counted from 0)\n"
            "aws s3api put-bucket-policy --bucket {bucket} --policy file://policy.json"
        )
    if result.acl_public and "IgnorePublicAcls" not in result.neutralised_by:
        steps.append(f"remove the ACL grants to {', '.join(result.acl_grants)}")
        cli.append("aws s3api put-bucket-acl --bucket {bucket} --acl private")
    cli.append(
        "aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration "
        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,"
        "RestrictPublicBuckets=true"
    )
    return Remediation(
        summary=f"On bucket {{bucket}}: {'; '.join(steps)}; then turn on Block Public Access "
        "for the bucket and the account so it cannot become public again.",
        cli="\n".join(cli),
        terraform=not_public.remediation.terraform,
    )


@rule(
    id="CT.BUCKET.PUBLIC_ACCESS_BLOCK_BUCKET_LEVEL",
    change_events=("PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"),
    title="Block Public Access is fully on at the CloudTrail log bucket's own level",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Decides S3.8: it fails a bucket whose own Block Public Access settings are not all on,
    # whatever the account level says.
    controls={"aws-fsbp": ("S3.8",)},
    related_controls=_PAB_FRAMEWORKS,
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Turn on all four Block Public Access settings on the log bucket itself.",
        cli="aws s3api put-public-access-block --bucket {bucket} "
        "--public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,"
        "BlockPublicPolicy=true,RestrictPublicBuckets=true",
        terraform='resource "aws_s3_bucket_public_access_block" "logs" {\n'
        "  bucket                  = aws_s3_bucket.logs.id\n"
        "  block_public_acls       = true\n  ignore_public_acls      = true\n"
        "  block_public_policy     = true\n  restrict_public_buckets = true\n}",
    ),
)
def public_access_block_bucket_level(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """The framework reading of bucket-level Block Public Access (Security Hub S3.8): all four
    settings on the bucket's own configuration. The account-level settings are judged by
    CT.BUCKET.PUBLIC_ACCESS_BLOCK_ACCOUNT_LEVEL, their combined effect by
    CT.BUCKET.PUBLIC_ACCESS_BLOCK."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        pab = _pab(bucket.public_access_block)
        off = [aws for aws, _ in _PAB_KEYS if not (pab or {}).get(aws)]
        evidence: dict[str, Any] = {"bucket_public_access_block": pab, "off": off}
        if not off:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                "all four Block Public Access settings are on at bucket level",
                evidence=evidence,
            )
        else:
            what = (
                "the bucket has no Block Public Access configuration"
                if pab is None
                else (f"{', '.join(off)} off at bucket level")
            )
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                what,
                evidence=evidence,
                problems=["bucket.public_access_block_off"],
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("public_access_block",))


@rule(
    id="CT.BUCKET.PUBLIC_ACCESS_BLOCK_ACCOUNT_LEVEL",
    title="Block Public Access is fully on at account level",
    severity=Severity.MEDIUM,
    resource_type="AWS::::Account",
    # Decides S3.1: it fails an account whose account-level Block Public Access settings are
    # not all on. Judged in every scanned account (one s3control read each).
    controls={"aws-fsbp": ("S3.1",)},
    related_controls=_PAB_FRAMEWORKS,
    requires={"buckets"},
    remediation=Remediation(
        summary="Turn on all four account-level Block Public Access settings of account "
        "{account_id} (check first that no bucket of the account must stay public).",
        cli="aws s3control put-public-access-block --account-id {account_id} "
        "--public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,"
        "BlockPublicPolicy=true,RestrictPublicBuckets=true",
        terraform='resource "aws_s3_account_public_access_block" "this" {\n'
        "  block_public_acls       = true\n  ignore_public_acls      = true\n"
        "  block_public_policy     = true\n  restrict_public_buckets = true\n}",
    ),
)
def public_access_block_account_level(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """The framework reading of account-level Block Public Access (Security Hub S3.1): all
    four settings on for the whole account, so no bucket of it can be made public by a later
    ACL or policy. One finding per scanned account, whether or not it owns a log bucket."""
    for account in inventory.reachable_accounts():
        owner = account.account_id
        value = _account_pab(inventory, owner)
        log_buckets = sorted(
            b.name
            for b in inventory.buckets.values()
            if b.owner_account_id == owner and inventory.trails_writing_to(b.name)
        )
        base = {
            "account_id": owner,
            "region": None,
            "resource_arn": f"arn:{inventory.metadata.partition}:iam::{owner}:root",
        }
        if isinstance(value, Unknown):
            yield ctx.error(
                **base,
                reason=f"cannot read the account-level Block Public Access: {value.describe()}",
                evidence={"account_id": owner, "log_buckets": log_buckets},
            )
            continue
        pab = _pab(value)
        off = [aws for aws, _ in _PAB_KEYS if not (pab or {}).get(aws)]
        evidence: dict[str, Any] = {
            "account_id": owner,
            "account_public_access_block": pab,
            "off": off,
            "log_buckets": log_buckets,
        }
        if not off:
            yield ctx.passed(
                **base,
                reason="all four account-level Block Public Access settings are on",
                evidence=evidence,
            )
        elif pab is None:
            yield ctx.failed(
                **base,
                reason="the account has no account-level Block Public Access",
                evidence=evidence,
                problems=["account.public_access_block_off"],
            )
        else:
            yield ctx.failed(
                **base,
                reason=f"{', '.join(off)} off at account level",
                evidence=evidence,
                problems=["account.public_access_block_off"],
            )


def _account_pab(inventory: Inventory, account_id: str) -> PublicAccessBlock | Unknown | None:
    """The account's own read; an older snapshot has it only on the buckets it owns."""
    value = inventory.accounts[account_id].public_access_block
    if isinstance(value, Unknown) and value.error_code == "NotCollected":
        for bucket in inventory.buckets.values():
            if bucket.owner_account_id == account_id:
                return bucket.account_public_access_block
    return value


@rule(
    id="CT.BUCKET.PUBLIC_ACCESS_BLOCK",
    change_events=("PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"),
    title="Block Public Access is fully on for the CloudTrail log bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Relates only: trailcheck counts each switch on at either level (the effective setting).
    # S3.8 tests the bucket level alone (CT.BUCKET.PUBLIC_ACCESS_BLOCK_BUCKET_LEVEL), S3.1 the
    # account level alone (CT.BUCKET.PUBLIC_ACCESS_BLOCK_ACCOUNT_LEVEL), and CIS 2.1.5/2.1.4
    # want all four on at one level (bucket or account), not a mix of the two.
    controls={},
    related_controls={**_PAB_FRAMEWORKS, "aws-fsbp": ("S3.1", "S3.8")},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Turn on all four Block Public Access settings on the log bucket (or for the "
        "whole owner account).",
        cli="aws s3api put-public-access-block --bucket {bucket} "
        "--public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,"
        "BlockPublicPolicy=true,RestrictPublicBuckets=true",
        terraform='resource "aws_s3_bucket_public_access_block" "logs" {\n'
        "  bucket                  = aws_s3_bucket.logs.id\n"
        "  block_public_acls       = true\n  ignore_public_acls      = true\n"
        "  block_public_policy     = true\n  restrict_public_buckets = true\n}",
    ),
)
def public_access_block(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Block Public Access is the guard rail that keeps a later mistake (a public ACL or
    policy statement) from exposing the logs. Each switch counts when set on the bucket or on
    its owner account."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        levels = {
            "bucket": bucket.public_access_block,
            "account": bucket.account_public_access_block,
        }
        known = {k: _pab(v) or {} for k, v in levels.items() if not isinstance(v, Unknown)}
        missing = [aws for aws, _ in _PAB_KEYS if not any(pab.get(aws) for pab in known.values())]
        evidence: dict[str, Any] = {
            "bucket_public_access_block": _pab(bucket.public_access_block),
            "account_public_access_block": _pab(bucket.account_public_access_block),
            "missing": missing,
        }
        unknown = [v for v in levels.values() if isinstance(v, Unknown)]
        if not missing:
            where = " and ".join(k for k, v in known.items() if any(v.values())) or "bucket"
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"all four Block Public Access settings are on ({where} level)",
                evidence=evidence,
            )
        elif unknown:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.ERROR,
                f"{', '.join(missing)} off at the readable level and cannot read the other: "
                f"{unknown[0].describe()}",
                evidence=evidence,
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"Block Public Access is not fully on: {', '.join(missing)} off on both the "
                "bucket and the account",
                evidence=evidence,
                problems=["bucket.public_access_block_off"],
            )

    yield from ctx.per_log_bucket(inventory, judge)


@rule(
    id="CT.BUCKET.TLS_ONLY",
    change_events=("PutBucketPolicy", "DeleteBucketPolicy"),
    title="The CloudTrail log bucket denies requests without TLS",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Relates only: the CIS remediation's Deny covers the objects (".../*") alone, which CIS
    # passes and this rule does not (the bucket itself stays reachable over HTTP); S3.5 asks
    # whether the policy *allows* plain HTTP, so an Allow limited to TLS passes there.
    controls={},
    related_controls={
        "cis-aws-1.4": ("2.1.2",),
        "cis-aws-3.0": ("2.1.1",),
        "cis-aws-5.0": ("2.1.1",),
        "aws-fsbp": ("S3.5",),
        "nist-800-53-r5": ("AU-9",),
    },
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Add a Deny statement for every principal, every S3 action, the bucket and its "
        "objects when aws:SecureTransport is false.",
        cli="aws s3api put-bucket-policy --bucket {bucket} --policy file://policy.json  "
        '# with {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":'
        '["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"],'
        '"Condition":{"Bool":{"aws:SecureTransport":"false"}}}',
        terraform='statement {\n  sid     = "DenyInsecureTransport"\n  effect  = "Deny"\n'
        '  actions = ["s3:*"]\n'
        '  resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]\n'
        '  principals {\n    type        = "*"\n    identifiers = ["*"]\n  }\n'
        '  condition {\n    test     = "Bool"\n    variable = "aws:SecureTransport"\n'
        '    values   = ["false"]\n  }\n}',
    ),
)
def tls_only(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """S3 accepts plain HTTP unless the bucket policy denies it; log files and credentials
    in requests can then cross the network unencrypted. Only an explicit Deny on
    aws:SecureTransport=false that covers every principal, action, the bucket and its objects
    counts (an Allow restricted to TLS does not deny anything)."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        if bucket.policy is None:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "the bucket has no policy, so requests without TLS are not denied",
                evidence={"policy": None},
                problems=["bucket.policy_no_tls"],
            )
            return
        result = _policy_error(
            ctx,
            bucket,
            writers,
            lambda: denies_insecure_transport(
                bucket.policy,  # type: ignore[arg-type]
                bucket.name,
                partition=inventory.metadata.partition,
            ),
        )
        if isinstance(result, Finding):
            yield result
            return
        evidence = {
            "deny_statements": _refs(result.statements),
            "gaps": list(result.gaps[:5]),
            "tls_version_statements": _refs(result.tls_version_statements),
        }
        status = Status.PASS if result.enforced else Status.FAIL
        yield ctx.for_bucket(
            bucket,
            writers,
            status,
            result.explanation,
            evidence=evidence,
            problems=[] if result.enforced else ["bucket.policy_no_tls"],
        )

    yield from ctx.per_log_bucket(inventory, judge, needs=("policy",))


# ----------------------------------------------------------------------------- delivery


@rule(
    id="CT.BUCKET.DELIVERY_SCOPED",
    change_events=("PutBucketPolicy", "DeleteBucketPolicy"),
    title="CloudTrail may deliver to the log bucket, and only for your trails",
    severity=Severity.HIGH,
    resource_type="AWS::S3::Bucket",
    controls={},
    related_controls={"pci-dss-4.0": ("10.3.2",), "nist-800-53-r5": ("AU-9",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Use the bucket policy AWS documents for CloudTrail: GetBucketAcl and PutObject "
        "(with s3:x-amz-acl bucket-owner-full-control) for cloudtrail.amazonaws.com on each "
        "trail's AWSLogs/<account-id>/ (or AWSLogs/<org-id>/) path, with an aws:SourceArn "
        "condition naming your trails.",
        cli="aws s3api put-bucket-policy --bucket {bucket} --policy file://cloudtrail-policy.json",
        terraform='statement {\n  sid     = "AWSCloudTrailWrite"\n  actions = ["s3:PutObject"]\n'
        '  resources = ["${aws_s3_bucket.logs.arn}/AWSLogs/${data.aws_caller_identity.current'
        '.account_id}/*"]\n'
        '  principals {\n    type        = "Service"\n'
        '    identifiers = ["cloudtrail.amazonaws.com"]\n  }\n'
        '  condition {\n    test     = "StringEquals"\n    variable = "aws:SourceArn"\n'
        "    values   = [aws_cloudtrail.main.arn]\n  }\n}",
    ),
)
def delivery_scoped(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """CloudTrail writes only what the bucket policy lets cloudtrail.amazonaws.com write: a
    policy that misses a trail's path silently drops its logs. A grant without aws:SourceArn,
    aws:SourceAccount or aws:SourceOrgID lets a trail in any account write into your log paths
    (the confused-deputy problem): forged log files can then sit beside real ones. Each trail
    that writes to the bucket is checked, organization trails on AWSLogs/<org-id>/."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        if bucket.policy is None:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "the bucket has no policy: CloudTrail cannot deliver to it",
                evidence={"policy": None},
                problems=["bucket.delivery_unscoped"],
            )
            return
        per_trail: list[dict[str, Any]] = []
        denied, undecided, open_to_any = [], [], []
        for trail in writers:
            owner = inventory.accounts.get(trail.account_id)
            org_id = owner.organization_id if owner and trail.is_organization_trail else None
            result = _policy_error(
                ctx,
                bucket,
                writers,
                lambda trail=trail, org_id=org_id: cloudtrail_delivery(  # type: ignore[misc]
                    bucket.policy,  # type: ignore[arg-type]
                    bucket.name,
                    trail.s3_key_prefix,
                    trail.account_id,
                    trail.arn,
                    org_id=org_id,
                    trail_region=trail.home_region,
                ),
            )
            if isinstance(result, Finding):
                yield result
                return
            per_trail.append(
                {
                    "trail_arn": trail.arn,
                    "organization_id": org_id,
                    "allowed": result.allowed,
                    "open_to_any_trail": result.open_to_any_trail,
                    "scoped_by": list(result.scoped_by),
                    "statements": _refs(result.statements),
                    "explanation": result.explanation,
                }
            )
            if result.allowed is False:
                denied.append(trail.arn)
            elif result.allowed is None:
                undecided.append(f"{trail.arn} (depends on {', '.join(result.unknown_keys)})")
            if result.open_to_any_trail:
                open_to_any.append(trail.arn)
        evidence = {"trails": per_trail}
        if denied:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "the bucket policy does not let CloudTrail deliver the logs of "
                + ", ".join(denied),
                evidence=evidence,
                problems=["bucket.delivery_unscoped"],
            )
        elif open_to_any:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "the CloudTrail grant is not scoped with aws:SourceArn, aws:SourceAccount or "
                f"aws:SourceOrgID: a trail in any account could write where {open_to_any[0]} "
                "writes",
                evidence=evidence,
                severity=Severity.MEDIUM,
                problems=["bucket.delivery_unscoped"],
            )
        elif undecided:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.ERROR,
                f"cannot tell whether CloudTrail may deliver for {'; '.join(undecided)}",
                evidence=evidence,
            )
        else:
            scoped = sorted({k for t in per_trail for k in t["scoped_by"]})
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"CloudTrail may deliver for all {len(writers)} trail(s) writing here, scoped by "
                f"{', '.join(scoped) or 'the policy'}",
                evidence=evidence,
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("policy",), needs_writers=True)


@rule(
    id="CT.BUCKET.READERS",
    change_events=("PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl"),
    title="No wildcard principal can read the logs; cross-account readers are listed",
    severity=Severity.HIGH,
    resource_type="AWS::S3::Bucket",
    controls={},
    related_controls={"pci-dss-4.0": ("10.3.1",), "nist-800-53-r5": ("AU-9",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Replace wildcard principals that can s3:GetObject the logs with the accounts "
        "or roles that need them (or narrow them with aws:PrincipalOrgID); review every "
        "cross-account reader the finding lists.",
        cli="aws s3api get-bucket-policy --bucket {bucket} --query Policy --output text",
        terraform='principals {\n  type        = "AWS"\n'
        '  identifiers = ["arn:aws:iam::SECURITY_ACCOUNT:role/LogReader"]\n}',
    ),
)
def log_readers(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Who can read the logs decides who can learn everything the organization does. Every
    principal outside the owner account that the bucket policy lets s3:GetObject log files is
    listed as evidence (with the conditions it must meet); a wildcard principal that no
    condition narrows to known callers fails."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        owner = str(bucket.owner_account_id)
        grants = _policy_error(
            ctx,
            bucket,
            writers,
            lambda: readers(
                bucket.policy,  # type: ignore[arg-type]
                bucket.name,
                owner,
                bucket_pab=_pab(bucket.public_access_block),
                account_pab=_pab(bucket.account_public_access_block),
                partition=inventory.metadata.partition,
            ),
        )
        if isinstance(grants, Finding):
            yield grants
            return
        listed = [
            {
                "principal": g.principal,
                "principal_type": g.principal_type,
                "account_id": g.account_id,
                "wildcard": g.wildcard,
                "public": g.public,
                "condition_keys": list(g.condition_keys),
                "statements": _refs(g.statements),
                "neutralised_by_public_access_block": g.neutralised_by_pab,
                "explanation": g.explanation,
            }
            for g in grants
        ]
        evidence = {"readers": listed}
        wild = [
            g
            for g in grants
            if g.wildcard and (g.public or not g.conditional) and not g.neutralised_by_pab
        ]
        if wild:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"a wildcard principal can read the logs: {wild[0].explanation}",
                evidence=evidence,
                problems=["bucket.readers"],
            )
            return
        active = [g for g in grants if not g.neutralised_by_pab]
        if not active:
            text = "no principal outside the owner account can read the logs through the policy"
        else:
            names = ", ".join(g.principal for g in active[:5])
            more = f" and {len(active) - 5} more" if len(active) > 5 else ""
            text = (
                f"{len(active)} principal(s) outside the owner account can read the logs: "
                f"{names}{more}"
            )
        yield ctx.for_bucket(bucket, writers, Status.PASS, text, evidence=evidence)

    yield from ctx.per_log_bucket(
        inventory, judge, needs=("policy", "public_access_block", "account_public_access_block")
    )


# ----------------------------------------------------------------------------- exact tests


def _listed(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _ssl_deny_statement(statement: dict[str, Any]) -> bool:
    """Config's s3-bucket-ssl-requests-only reading: Deny, every principal, every S3 action,
    when `aws:SecureTransport` is false (Bool or BoolIfExists)."""
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (
        isinstance(principal, dict) and "*" in _listed(principal.get("AWS"))
    ):
        return False
    if not {"s3:*", "*"} & {str(a).lower() for a in _listed(statement.get("Action"))}:
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    for operator in ("Bool", "BoolIfExists"):
        block = condition.get(operator)
        if isinstance(block, dict):
            for key, value in block.items():
                if key.lower() == "aws:securetransport" and any(
                    str(v).lower() == "false" for v in _listed(value)
                ):
                    return True
    return False


def _ssl_requests_only(bucket: Bucket) -> Verdict:
    policy = bucket.policy if isinstance(bucket.policy, dict) else None
    if policy is None:
        return Verdict(Status.FAIL, "no bucket policy", {"policy": None}, ("bucket.policy_no_tls",))
    statements = [s for s in _listed(policy.get("Statement")) if isinstance(s, dict)]
    denying = [str(s.get("Sid") or i) for i, s in enumerate(statements) if _ssl_deny_statement(s)]
    if denying:
        return Verdict(
            Status.PASS,
            "the policy denies every principal all S3 actions without TLS",
            {"ssl_deny_statements": list(denying)},
        )
    return Verdict(
        Status.FAIL,
        "no policy statement denies all S3 actions to every principal when "
        "aws:SecureTransport is false",
        {"ssl_deny_statements": []},
        ("bucket.policy_no_tls",),
    )


@rule(
    id="CT.BUCKET.SSL_REQUESTS_ONLY",
    change_events=("PutBucketPolicy", "DeleteBucketPolicy"),
    title="The CloudTrail log bucket's policy denies HTTP requests (Security Hub test)",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Decides S3.5 (s3-bucket-ssl-requests-only): a Deny statement for principal "*", action
    # s3:* (or *), conditioned on aws:SecureTransport false, whatever its Resource. The CIS
    # remediation's objects-only Deny passes here; CT.BUCKET.TLS_ONLY also wants the bucket.
    controls={"aws-fsbp": ("S3.5",)},
    related_controls={
        "cis-aws-1.4": ("2.1.2",),
        "cis-aws-3.0": ("2.1.1",),
        "cis-aws-5.0": ("2.1.1",),
        "nist-800-53-r5": ("AU-9",),
    },
    requires={"trails", "buckets"},
    remediation=tls_only.remediation,
)
def ssl_requests_only(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Security Hub's reading of S3.5: the bucket policy explicitly denies plain-HTTP requests.
    Whether that Deny covers the bucket as well as its objects is CT.BUCKET.TLS_ONLY's."""
    yield from judge_each_bucket(inventory, ctx, ("policy",), _ssl_requests_only)
