"""The CloudTrail log bucket: exposure, delivery grant, readers, protection, retention, logging.

Every rule judges each bucket a trail writes to once, in the account that owns it, through
`RuleContext.per_log_bucket`; every trail that writes there is named in the evidence and
inherits the verdict. A bucket outside the scan gets ERROR with a hint, never PASS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from trailcheck.model import (
    Bucket,
    Finding,
    Inventory,
    LifecycleRule,
    LifecycleTransition,
    ObjectLock,
    PublicAccessBlock,
    Severity,
    Status,
    Trail,
    Unknown,
)
from trailcheck.rules._policy import (
    PolicyError,
    PublicAccessResult,
    cloudtrail_delivery,
    denies_insecure_transport,
    effective_public_access_block,
    public_access,
    readers,
)
from trailcheck.rules.base import Remediation, RuleContext, rule

T = TypeVar("T")
_PAB_KEYS = (
    ("BlockPublicAcls", "block_public_acls"),
    ("IgnorePublicAcls", "ignore_public_acls"),
    ("BlockPublicPolicy", "block_public_policy"),
    ("RestrictPublicBuckets", "restrict_public_buckets"),
)


# CIS 2.1.5 (1.4) / 2.1.4 (3.0, 5.0) pass a bucket whose Block Public Access is fully on at
# the bucket level *or* at the account level: none of the three Block Public Access rules
# applies that test (the effective rule mixes levels per switch), so all three only relate.
_PAB_FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "cis-aws-1.4": ("2.1.5",),
    "cis-aws-3.0": ("2.1.4",),
    "cis-aws-5.0": ("2.1.4",),
    "pci-dss-4.0": ("10.3.1",),
    "nist-800-53-r5": ("AU-9",),
}


def _pab(value: PublicAccessBlock | Unknown | None) -> dict[str, bool] | None:
    """A Public Access Block in the AWS key names the policy evaluator reads."""
    if not isinstance(value, PublicAccessBlock):
        return None
    return {aws: getattr(value, attr) for aws, attr in _PAB_KEYS}


def _policy_error(
    ctx: RuleContext, bucket: Bucket, writers: list[Trail], fn: Callable[[], T]
) -> T | Finding:
    """Run a policy question; an unparseable policy is an ERROR finding, not a crash."""
    try:
        return fn()
    except PolicyError as exc:
        return ctx.for_bucket(
            bucket, writers, Status.ERROR, f"the bucket policy cannot be evaluated: {exc}"
        )


def _unread(
    ctx: RuleContext, bucket: Bucket, writers: list[Trail], what: str, value: Unknown
) -> Finding:
    """ERROR for a fact that could not be read (``per_log_bucket(needs=...)`` screens these out
    first; this keeps each rule safe on its own instead of asserting)."""
    return ctx.for_bucket(
        bucket, writers, Status.ERROR, f"cannot read the bucket's {what}: {value.describe()}"
    )


def _refs(refs: Sequence[object]) -> list[str]:
    return [str(r) for r in refs]


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
    title="Block Public Access is fully on for the account that owns the CloudTrail log bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::::Account",
    # Decides S3.1: it fails an account whose account-level Block Public Access settings are
    # not all on. Judged for each account that owns a log bucket (read from there).
    controls={"aws-fsbp": ("S3.1",)},
    related_controls=_PAB_FRAMEWORKS,
    requires={"trails", "buckets"},
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
    ACL or policy. One finding per account that owns a CloudTrail log bucket."""
    done: set[str] = set()
    partition = inventory.metadata.partition

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        owner = str(bucket.owner_account_id)
        if owner in done:
            return
        done.add(owner)
        pab = _pab(bucket.account_public_access_block)
        off = [aws for aws, _ in _PAB_KEYS if not (pab or {}).get(aws)]
        buckets = sorted(
            b.name
            for b in inventory.buckets.values()
            if b.owner_account_id == owner and inventory.trails_writing_to(b.name)
        )
        evidence: dict[str, Any] = {
            "account_id": owner,
            "account_public_access_block": pab,
            "off": off,
            "log_buckets": buckets,
        }
        if not off:
            status, reason = (
                Status.PASS,
                "all four account-level Block Public Access settings are on",
            )
        elif pab is None:
            status, reason = Status.FAIL, "the account has no account-level Block Public Access"
        else:
            status, reason = Status.FAIL, f"{', '.join(off)} off at account level"
        yield ctx.finding(
            status,
            account_id=owner,
            region=None,
            resource_arn=f"arn:{partition}:iam::{owner}:root",
            reason=reason,
            evidence=evidence,
            problems=["bucket.account_public_access_block_off"] if status is Status.FAIL else [],
        )

    yield from ctx.per_log_bucket(inventory, judge, needs=("account_public_access_block",))


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


# ----------------------------------------------------------------------------- protection


@rule(
    id="CT.BUCKET.VERSIONING",
    change_events=("PutBucketVersioning",),
    title="Versioning is enabled on the CloudTrail log bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Decides S3.14: it fails a bucket whose versioning is not Enabled (never enabled or
    # suspended).
    controls={"aws-fsbp": ("S3.14",)},
    related_controls={"pci-dss-4.0": ("10.3.2",), "nist-800-53-r5": ("AU-9",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Enable versioning so an overwritten or deleted log file keeps its earlier "
        "version.",
        cli="aws s3api put-bucket-versioning --bucket {bucket} "
        "--versioning-configuration Status=Enabled",
        terraform='resource "aws_s3_bucket_versioning" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n"
        '  versioning_configuration {\n    status = "Enabled"\n  }\n}',
    ),
)
def versioning(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Without versioning, deleting or overwriting a log file destroys it: one s3:DeleteObject
    erases the evidence. Versioning keeps every earlier version (and is required for MFA
    Delete and Object Lock)."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        if isinstance(bucket.versioning, Unknown):
            yield _unread(ctx, bucket, writers, "versioning", bucket.versioning)
            return
        status = bucket.versioning.status
        evidence = {"Status": status}
        if status == "Enabled":
            yield ctx.for_bucket(
                bucket, writers, Status.PASS, "versioning is enabled", evidence=evidence
            )
        else:
            state = "suspended" if status == "Suspended" else "never enabled"
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"versioning is {state}",
                evidence=evidence,
                problems=["bucket.versioning_off"],
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("versioning",))


class RetentionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_days: int = Field(
        default=365, ge=1, description="How long log files must be kept and protected."
    )


class MfaDeleteParams(RetentionParams):
    accept_object_lock: Literal[False] = Field(
        default=False,
        description="Deprecated, always false: this rule applies the CIS / S3.20 test (MFA "
        "Delete) literally. Object Lock COMPLIANCE in its place is judged by "
        "CT.BUCKET.DELETE_PROTECTION.",
    )


_MFA_DELETE_CONTROLS = {
    "cis-aws-1.4": ("2.1.3",),
    "cis-aws-3.0": ("2.1.2",),
    "cis-aws-5.0": ("2.1.2",),
    "aws-fsbp": ("S3.20",),
}
_DELETE_RELATED = {"pci-dss-4.0": ("10.3.2",), "nist-800-53-r5": ("AU-9",)}


@rule(
    id="CT.BUCKET.MFA_DELETE",
    change_events=("PutBucketVersioning",),
    title="MFA Delete is enabled on the CloudTrail log bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Decides: CIS 2.1.3/2.1.2 and S3.20 test GetBucketVersioning's MFADelete = Enabled, and
    # nothing else (Object Lock does not count there; CT.BUCKET.DELETE_PROTECTION accepts it).
    controls=_MFA_DELETE_CONTROLS,
    related_controls=_DELETE_RELATED,
    requires={"trails", "buckets"},
    params=MfaDeleteParams,
    remediation=Remediation(
        summary="As the root user with an MFA device, enable MFA Delete (a lifecycle "
        "configuration must be removed first: S3 does not support both).",
        cli="aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration "
        'Status=Enabled,MFADelete=Enabled --mfa "arn:aws:iam::{bucket_owner}:mfa/'
        'root-account-mfa-device CODE"',
        terraform="# Terraform cannot enable MFA Delete without the root user's MFA code; use the "
        "CLI as root",
    ),
)
def mfa_delete(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """With MFA Delete, permanently deleting a log version or suspending versioning needs the
    root user and an MFA code: stolen administrator keys cannot erase the logs. The literal
    framework test: a bucket protected by Object Lock COMPLIANCE instead still fails here (at
    low severity, saying so) and passes CT.BUCKET.DELETE_PROTECTION."""
    params: MfaDeleteParams = ctx.params

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        versioning = bucket.versioning
        if isinstance(versioning, Unknown):
            yield _unread(ctx, bucket, writers, "versioning", versioning)
            return
        evidence: dict[str, Any] = {
            "MFADelete": versioning.mfa_delete,
            "versioning": versioning.status,
        }
        if versioning.mfa_delete == "Enabled":
            yield ctx.for_bucket(
                bucket, writers, Status.PASS, "MFA Delete is enabled", evidence=evidence
            )
            return
        reason = "MFA Delete is not enabled"
        if bucket.lifecycle and not isinstance(bucket.lifecycle, Unknown):
            reason += " (S3 does not support MFA Delete together with the lifecycle configuration)"
        lock = bucket.object_lock
        severity = None
        if not isinstance(lock, Unknown) and _locked(lock, "COMPLIANCE", params.retention_days):
            evidence["object_lock"] = lock.model_dump(mode="json") if lock else None
            reason += (
                "; Object Lock COMPLIANCE protects the log versions instead "
                "(CT.BUCKET.DELETE_PROTECTION), which this framework test does not count"
            )
            severity = Severity.LOW
        yield ctx.for_bucket(
            bucket,
            writers,
            Status.FAIL,
            reason,
            evidence=evidence,
            severity=severity,
            problems=["bucket.mfa_delete_off"],
        )

    yield from ctx.per_log_bucket(inventory, judge, needs=("versioning",))


@rule(
    id="CT.BUCKET.DELETE_PROTECTION",
    change_events=("PutBucketVersioning", "PutObjectLockConfiguration"),
    title="Log versions cannot be permanently deleted with administrator keys alone",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Relates only: trailcheck's own judgement accepts Object Lock COMPLIANCE in place of MFA
    # Delete, which CIS 2.1.3/2.1.2 and S3.20 do not (CT.BUCKET.MFA_DELETE decides them).
    controls={},
    related_controls={**_MFA_DELETE_CONTROLS, **_DELETE_RELATED},
    requires={"trails", "buckets"},
    params=RetentionParams,
    remediation=Remediation(
        summary="Protect log versions from deletion: Object Lock in COMPLIANCE mode with a "
        "default retention of at least the required days, or MFA Delete (as the root user; a "
        "lifecycle configuration must be removed first).",
        cli="aws s3api put-object-lock-configuration --bucket {bucket} "
        "--object-lock-configuration "
        "'ObjectLockEnabled=Enabled,Rule={DefaultRetention={Mode=COMPLIANCE,Days=365}}'",
        terraform='resource "aws_s3_bucket_object_lock_configuration" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n  rule {\n    default_retention {\n"
        '      mode = "COMPLIANCE"\n      days = 365\n    }\n  }\n}',
    ),
)
def delete_protection(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Stolen administrator keys must not be enough to erase the logs: MFA Delete (root user
    and an MFA code to delete a version or suspend versioning) or Object Lock in COMPLIANCE
    mode with at least the required default retention (nobody can delete a locked version)
    protects them. GOVERNANCE mode does not count: s3:BypassGovernanceRetention defeats it."""
    params: RetentionParams = ctx.params

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        versioning = bucket.versioning
        if isinstance(versioning, Unknown):  # per_log_bucket's `needs` already answered
            return
        lock = bucket.object_lock
        evidence: dict[str, Any] = {
            "MFADelete": versioning.mfa_delete,
            "object_lock": None
            if isinstance(lock, Unknown) or lock is None
            else lock.model_dump(mode="json"),
            "required_days": params.retention_days,
        }
        if versioning.mfa_delete == "Enabled":
            yield ctx.for_bucket(
                bucket, writers, Status.PASS, "MFA Delete is enabled", evidence=evidence
            )
        elif isinstance(lock, Unknown):
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.ERROR,
                f"MFA Delete is disabled and Object Lock is unknown: {lock.describe()}",
                evidence=evidence,
            )
        elif _locked(lock, "COMPLIANCE", params.retention_days) and lock is not None:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"Object Lock COMPLIANCE with {lock.retention_days} days of default retention "
                "keeps log versions from deletion (MFA Delete is disabled)",
                evidence=evidence,
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "neither MFA Delete nor Object Lock COMPLIANCE with at least "
                f"{params.retention_days} days of default retention protects the log versions",
                evidence=evidence,
                problems=["bucket.delete_unprotected"],
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("versioning",))


def _locked(lock: ObjectLock | None, mode: str, days: int) -> bool:
    if lock is None or not lock.enabled or lock.mode is None:
        return False
    mode_ok = lock.mode == "COMPLIANCE" or mode == "GOVERNANCE"
    return mode_ok and (lock.retention_days or 0) >= days


class ObjectLockParams(RetentionParams):
    mode: Literal["COMPLIANCE", "GOVERNANCE"] = Field(
        default="COMPLIANCE",
        description="The Object Lock mode required (GOVERNANCE can be bypassed by anyone with "
        "s3:BypassGovernanceRetention).",
    )


@rule(
    id="CT.BUCKET.OBJECT_LOCK",
    change_events=("PutObjectLockConfiguration",),
    title="Object Lock protects the logs for the required retention",
    severity=Severity.HIGH,
    resource_type="AWS::S3::Bucket",
    # Relates only: S3.15 passes any Object Lock (GOVERNANCE, no default retention, a short
    # one); this rule wants COMPLIANCE mode and the required retention.
    controls={},
    related_controls={
        "aws-fsbp": ("S3.15",),
        "pci-dss-4.0": ("10.3.2", "10.5.1"),
        "nist-800-53-r5": ("AU-9", "AU-11"),
    },
    requires={"trails", "buckets"},
    params=ObjectLockParams,
    remediation=Remediation(
        summary="Enable Object Lock (new buckets: at creation; existing ones: "
        "put-object-lock-configuration after enabling versioning) with a default retention in "
        "COMPLIANCE mode of at least the required days.",
        cli="aws s3api put-object-lock-configuration --bucket {bucket} "
        "--object-lock-configuration "
        "'ObjectLockEnabled=Enabled,Rule={DefaultRetention={Mode=COMPLIANCE,Days=365}}'",
        terraform='resource "aws_s3_bucket_object_lock_configuration" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n  rule {\n    default_retention {\n"
        '      mode = "COMPLIANCE"\n      days = 365\n    }\n  }\n}',
    ),
)
def object_lock(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Object Lock makes log versions immutable: in COMPLIANCE mode nobody, not even the root
    user, can delete or shorten them until the retention ends. GOVERNANCE mode can be bypassed
    by anyone holding s3:BypassGovernanceRetention and a short default retention leaves older
    logs unprotected: both fail, at a lower severity than no Object Lock at all."""
    params: ObjectLockParams = ctx.params

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        lock = bucket.object_lock
        if isinstance(lock, Unknown):
            yield _unread(ctx, bucket, writers, "Object Lock configuration", lock)
            return
        evidence: dict[str, Any] = {
            "object_lock": lock.model_dump(mode="json") if lock else None,
            "required_mode": params.mode,
            "required_days": params.retention_days,
        }
        if lock is None or not lock.enabled:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "Object Lock is not enabled",
                evidence=evidence,
                problems=["bucket.object_lock_off"],
            )
            return
        problems = []
        if lock.mode is None or lock.retention_days is None:
            problems.append("no default retention: new log files are not locked")
        else:
            if lock.mode == "GOVERNANCE" and params.mode == "COMPLIANCE":
                problems.append("GOVERNANCE mode can be bypassed with s3:BypassGovernanceRetention")
            if lock.retention_days < params.retention_days:
                problems.append(
                    f"default retention {lock.retention_days} days is shorter than "
                    f"{params.retention_days}"
                )
        if problems:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "Object Lock is enabled but " + "; ".join(problems),
                evidence=evidence,
                severity=Severity.MEDIUM,
                problems=["bucket.object_lock_off"],
            )
            return
        yield ctx.for_bucket(
            bucket,
            writers,
            Status.PASS,
            f"Object Lock {lock.mode} with {lock.retention_days} days of default retention",
            evidence=evidence,
        )

    yield from ctx.per_log_bucket(inventory, judge, needs=("object_lock",))


# ----------------------------------------------------------------------------- retention


def _log_root(trail: Trail) -> str:
    prefix = (trail.s3_key_prefix or "").strip("/")
    return f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"


def _applies_to_logs(lifecycle_rule: LifecycleRule, roots: Sequence[str]) -> bool:
    """Whether the rule can act on some log file (CloudTrail writes untagged objects)."""
    if not lifecycle_rule.enabled or lifecycle_rule.tags:
        return False
    prefix = lifecycle_rule.prefix
    return any(root.startswith(prefix) or prefix.startswith(root) for root in roots)


def _transition_text(t: LifecycleTransition, noncurrent: bool = False) -> str:
    when = f"after {t.days} days" if t.days is not None else f"on {t.date}"
    return f"{'noncurrent versions ' if noncurrent else ''}{t.storage_class} {when}"


@rule(
    id="CT.BUCKET.LIFECYCLE",
    change_events=("PutBucketLifecycle", "DeleteBucketLifecycle"),
    title="Lifecycle rules keep the logs for the required retention",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    controls={},
    related_controls={
        "pci-dss-4.0": ("10.5.1",),
        "nist-800-53-r5": ("AU-11",),
        "iso-27001-2022": ("A.8.15",),
    },
    requires={"trails", "buckets"},
    params=RetentionParams,
    remediation=Remediation(
        summary="Make every lifecycle rule that applies to AWSLogs/ expire current and "
        "noncurrent log versions only after the required retention (and after the Object Lock "
        "retention); transitions to cheaper storage classes are fine.",
        cli="aws s3api put-bucket-lifecycle-configuration --bucket {bucket} "
        "--lifecycle-configuration file://lifecycle.json",
        terraform='rule {\n  id     = "cloudtrail-retention"\n  status = "Enabled"\n'
        '  filter {\n    prefix = "AWSLogs/"\n  }\n'
        '  transition {\n    days          = 90\n    storage_class = "GLACIER"\n  }\n'
        "  expiration {\n    days = 2555\n  }\n"
        "  noncurrent_version_expiration {\n    noncurrent_days = 365\n  }\n}",
    ),
)
def lifecycle(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """A lifecycle rule that expires log files (or their noncurrent versions, which is what an
    overwritten or deleted log becomes) before the required retention destroys evidence on a
    schedule. Transitions to cheaper storage classes are reported, not judged. A lifecycle
    that expires logs before the Object Lock retention ends contradicts it: S3 keeps the
    locked versions, but someone expected them gone or locked for less."""
    params: RetentionParams = ctx.params

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        rules = bucket.lifecycle
        if isinstance(rules, Unknown):
            yield _unread(ctx, bucket, writers, "lifecycle configuration", rules)
            return
        if not rules:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                "no lifecycle configuration: log files are kept until someone deletes them",
                evidence={"lifecycle_rules": []},
            )
            return
        roots = sorted({_log_root(t) for t in writers})
        applying = [r for r in rules if _applies_to_logs(r, roots)]
        lock = bucket.object_lock if isinstance(bucket.object_lock, ObjectLock) else None
        lock_days = lock.retention_days if lock and lock.enabled else None
        problems: list[str] = []
        contradictions: list[str] = []
        transitions: list[str] = []
        for r in applying:
            name = f"rule '{r.id or 'unnamed'}'"
            expirations = [("log files", r.expiration_days)]
            expirations.append(("noncurrent log versions", r.noncurrent_expiration_days))
            for what, days in expirations:
                if days is None:
                    continue
                if days < params.retention_days:
                    problems.append(f"{name} expires {what} after {days} days")
                if lock_days is not None and days < lock_days:
                    contradictions.append(
                        f"{name} expires {what} after {days} days, before the Object Lock "
                        f"retention of {lock_days} days ends"
                    )
            if r.expiration_date:
                problems.append(f"{name} expires log files on {r.expiration_date}, whatever age")
            transitions += [_transition_text(t) for t in r.transitions]
            transitions += [_transition_text(t, True) for t in r.noncurrent_transitions]
        evidence: dict[str, Any] = {
            "log_prefixes": roots,
            "lifecycle_rules": [r.model_dump(mode="json") for r in rules],
            "rules_applying_to_logs": [r.id for r in applying],
            "transitions": transitions,
            "object_lock_retention_days": lock_days,
            "required_days": params.retention_days,
        }
        moves = f"; transitions: {', '.join(transitions)}" if transitions else ""
        if problems:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"logs are not kept {params.retention_days} days: {'; '.join(problems)}"
                + (
                    f" (it also contradicts Object Lock: {contradictions[0]})"
                    if contradictions
                    else ""
                ),
                evidence=evidence | {"contradictions": contradictions},
                problems=["bucket.lifecycle_expires"],
            )
        elif contradictions:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"the lifecycle contradicts Object Lock: {'; '.join(contradictions)}",
                evidence=evidence | {"contradictions": contradictions},
                severity=Severity.LOW,
                problems=["bucket.lifecycle_expires"],
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"no lifecycle rule expires logs before {params.retention_days} days{moves}",
                evidence=evidence,
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("lifecycle",))


# ----------------------------------------------------------------------------- encryption


@rule(
    id="CT.BUCKET.ENCRYPTION",
    change_events=("PutBucketEncryption", "DeleteBucketEncryption"),
    title="The CloudTrail log bucket has default encryption",
    severity=Severity.LOW,
    resource_type="AWS::S3::Bucket",
    # Decides CIS 1.4 2.1.1: default encryption (SSE-S3 or SSE-KMS) configured on the bucket.
    controls={"cis-aws-1.4": ("2.1.1",)},
    related_controls={"nist-800-53-r5": ("AU-9",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Set default encryption on the bucket (SSE-KMS with a customer-managed key, "
        "bucket key on), and encrypt the trail itself with SSE-KMS (CT.TRAIL.KMS_ENCRYPTION).",
        cli="aws s3api put-bucket-encryption --bucket {bucket} "
        '--server-side-encryption-configuration \'{"Rules":[{"ApplyServerSideEncryptionBy'
        'Default":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"KEY_ARN"},'
        '"BucketKeyEnabled":true}]}\'',
        terraform='resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {\n'
        "  bucket = aws_s3_bucket.logs.id\n  rule {\n"
        "    apply_server_side_encryption_by_default {\n"
        '      sse_algorithm     = "aws:kms"\n      kms_master_key_id = aws_kms_key.logs.arn\n'
        "    }\n    bucket_key_enabled = true\n  }\n}",
    ),
)
def encryption(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Reports how log files end up encrypted: a trail with a KMS key encrypts its own files
    (SSE-KMS) whatever the bucket default; otherwise the bucket's default encryption (SSE-S3 or
    SSE-KMS) applies. Every bucket has had SSE-S3 by default since January 2023, so a bucket
    without default encryption is old and unmanaged."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        enc = bucket.encryption
        if isinstance(enc, Unknown):
            yield _unread(ctx, bucket, writers, "default encryption", enc)
            return
        if enc is None:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "the bucket has no default encryption",
                evidence={"default_encryption": None},
                problems=["bucket.encryption_weak"],
            )
            return
        kind = "SSE-S3" if enc.algorithm == "AES256" else f"SSE-KMS ({enc.algorithm})"
        default = kind + (f" with key {enc.kms_key_id}" if enc.kms_key_id else "")
        default += ", bucket key on" if enc.bucket_key_enabled else ""
        effective = {
            t.arn: f"SSE-KMS with the trail's key {t.kms_key_arn}"
            if t.kms_key_arn
            else f"bucket default {kind}"
            for t in writers
        }
        notes = [
            f"{t.name} uses its own key"
            for t in writers
            if t.kms_key_arn and enc.kms_key_id and not _same_key(t.kms_key_arn, enc.kms_key_id)
        ]
        reason = f"default encryption {default}"
        if notes:
            reason += f"; {', '.join(notes)} (the bucket default does not apply to its logs)"
        yield ctx.for_bucket(
            bucket,
            writers,
            Status.PASS,
            reason,
            evidence={
                "default_encryption": enc.model_dump(mode="json"),
                "log_encryption": effective,
            },
        )

    yield from ctx.per_log_bucket(inventory, judge, needs=("encryption",))


def _same_key(a: str, b: str) -> bool:
    return a == b or a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]


# ----------------------------------------------------------------------------- logging, events


_ACCESS_LOGGING_CONTROLS = {
    "cis-aws-1.4": ("3.6",),
    "cis-aws-3.0": ("3.4",),
    "cis-aws-5.0": ("3.4",),
    "aws-fsbp": ("CloudTrail.7", "S3.9"),
}
_ACCESS_LOGGING_RELATED = {"pci-dss-4.0": ("10.2.1.3",), "nist-800-53-r5": ("AU-9",)}
_ACCESS_LOGGING_FIX = Remediation(
    summary="Send the log bucket's server access logs to a separate bucket (which grants "
    "logging.s3.amazonaws.com PutObject).",
    cli="aws s3api put-bucket-logging --bucket {bucket} --bucket-logging-status "
    '\'{"LoggingEnabled":{"TargetBucket":"ACCESS_LOG_BUCKET","TargetPrefix":"{bucket}/"}}\'',
    terraform='resource "aws_s3_bucket_logging" "logs" {\n'
    "  bucket        = aws_s3_bucket.logs.id\n"
    "  target_bucket = aws_s3_bucket.access_logs.id\n"
    '  target_prefix = "cloudtrail-bucket/"\n}',
)


@rule(
    id="CT.BUCKET.ACCESS_LOGGING_ENABLED",
    change_events=("PutBucketLogging",),
    title="Server access logging is enabled on the CloudTrail log bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Decides: CIS 3.6/3.4, CloudTrail.7 and S3.9 test that GetBucketLogging returns a
    # LoggingEnabled block, whatever its target.
    controls=_ACCESS_LOGGING_CONTROLS,
    related_controls=_ACCESS_LOGGING_RELATED,
    requires={"trails", "buckets"},
    remediation=_ACCESS_LOGGING_FIX,
)
def access_logging_enabled(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """The framework reading of server access logging on the CloudTrail bucket: logging is
    on. Where the access logs go (another bucket, not the log bucket itself) is judged by
    CT.BUCKET.ACCESS_LOGGING."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        target = bucket.logging
        evidence = {"logging": target.model_dump(mode="json") if target else None}  # type: ignore[union-attr]
        if target is None:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "server access logging is disabled",
                evidence=evidence,
                problems=["bucket.access_logging_off"],
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"server access logging is enabled (to {target.target_bucket})",  # type: ignore[union-attr]
                evidence=evidence,
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("logging",))


@rule(
    id="CT.BUCKET.ACCESS_LOGGING",
    change_events=("PutBucketLogging",),
    title="Server access logging is enabled on the CloudTrail log bucket, to another bucket",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    # Relates only: CIS 3.6/3.4, CloudTrail.7 and S3.9 pass a bucket that logs into itself;
    # CT.BUCKET.ACCESS_LOGGING_ENABLED decides them.
    controls={},
    related_controls={**_ACCESS_LOGGING_CONTROLS, **_ACCESS_LOGGING_RELATED},
    requires={"trails", "buckets"},
    remediation=_ACCESS_LOGGING_FIX,
)
def access_logging(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Server access logs record who read, listed or deleted log files (CloudTrail data events
    on the log bucket are rarely on). Logging a bucket into itself loops: every log delivery
    writes a new access-log object."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        target = bucket.logging
        if isinstance(target, Unknown):
            yield _unread(ctx, bucket, writers, "access logging", target)
            return
        evidence = {"logging": target.model_dump(mode="json") if target else None}
        if target is None:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "server access logging is disabled",
                evidence=evidence,
                problems=["bucket.access_logging_off"],
            )
        elif target.target_bucket == bucket.name:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "server access logs are written into the log bucket itself (use another bucket)",
                evidence=evidence,
                problems=["bucket.access_logging_off"],
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"server access logs go to {target.target_bucket}/{target.target_prefix}",
                evidence=evidence,
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("logging",))


@rule(
    id="CT.BUCKET.NOTIFICATIONS",
    change_events=("PutBucketNotification",),
    title="New log files are announced (S3 event notifications or the trail's SNS topic)",
    severity=Severity.INFO,
    resource_type="AWS::S3::Bucket",
    # Relates only: S3.11 looks at the bucket's event notifications alone; this rule also
    # passes a trail that announces each log file on its SNS topic.
    controls={},
    related_controls={"aws-fsbp": ("S3.11",), "nist-800-53-r5": ("AU-6",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="Tell a SIEM or pipeline about new log files: an SNS topic on the trail, or S3 "
        "event notifications (SNS, SQS, Lambda or EventBridge) on the bucket.",
        cli="aws s3api put-bucket-notification-configuration --bucket {bucket} "
        "--notification-configuration '{\"EventBridgeConfiguration\":{}}'",
        terraform='resource "aws_s3_bucket_notification" "logs" {\n'
        "  bucket      = aws_s3_bucket.logs.id\n  eventbridge = true\n}",
    ),
)
def notifications(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Informational: a notification on each new log file lets a SIEM ingest logs within
    minutes and lets a missing delivery be noticed. Reported with the targets."""

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        config = bucket.notifications
        if isinstance(config, Unknown):
            yield _unread(ctx, bucket, writers, "notification configuration", config)
            return
        targets = [f"{t.kind} {t.arn}" for t in config.targets]
        if config.eventbridge:
            targets.append("EventBridge")
        topics = [f"SNS {t.sns_topic_arn} (trail {t.name})" for t in writers if t.sns_topic_arn]
        evidence = {"s3_event_targets": targets, "trail_sns_topics": topics}
        if targets or topics:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"new log files are announced to {', '.join(targets + topics)}",
                evidence=evidence,
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                "no S3 event notification on the bucket and no SNS topic on its trails",
                evidence=evidence,
                problems=["bucket.notifications_off"],
            )

    yield from ctx.per_log_bucket(inventory, judge, needs=("notifications",))


@rule(
    id="CT.BUCKET.SEPARATE_ACCOUNT",
    title="Logs land in a separate log-archive account",
    severity=Severity.INFO,
    resource_type="AWS::S3::Bucket",
    controls={},
    related_controls={"pci-dss-4.0": ("10.3.3",), "nist-800-53-r5": ("AU-9(2)",)},
    requires={"trails", "buckets"},
    remediation=Remediation(
        summary="In a multi-account set-up, deliver the trails to a bucket in a dedicated "
        "log-archive account that workload administrators cannot change.",
        cli="aws cloudtrail update-trail --name TRAIL --s3-bucket-name LOG_ARCHIVE_BUCKET",
        terraform="s3_bucket_name = var.log_archive_bucket  # in the aws_cloudtrail resource",
    ),
)
def separate_account(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Informational: when the logs live in the account that produces them, an administrator
    of that account can change the bucket that holds the evidence of what they did. The
    security/log-archive account pattern keeps them apart; the owner account is the evidence."""
    multi_account = len(inventory.reachable_accounts()) > 1

    def judge(bucket: Bucket, writers: list[Trail]) -> Iterator[Finding]:
        owner = bucket.owner_account_id
        same = [t.arn for t in writers if t.account_id == owner]
        evidence = {"writers_in_owner_account": same}
        if not same:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.PASS,
                f"the logs land in account {owner}, apart from the accounts whose trails write "
                "there",
                evidence=evidence,
            )
        elif not multi_account and not any(t.is_organization_trail for t in writers):
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.NOT_APPLICABLE,
                "single-account scan: the log-archive account pattern applies to "
                "multi-account set-ups",
                evidence=evidence,
            )
        else:
            yield ctx.for_bucket(
                bucket,
                writers,
                Status.FAIL,
                f"the bucket is in account {owner}, the same account as trail(s) {', '.join(same)}",
                evidence=evidence,
                problems=["bucket.same_account"],
            )

    yield from ctx.per_log_bucket(inventory, judge, needs_writers=True)
