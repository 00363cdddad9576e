"""S3.13, S3.15, S3.17: Security Hub's own test decides each control, trailcheck's stricter
rule only relates; a bucket where the two disagree shows both verdicts."""

from __future__ import annotations

from factories import ACCOUNT, make_bucket, make_inventory, make_trail

from trailcheck.engine import evaluate
from trailcheck.model import BucketEncryption, Inventory, LifecycleRule, ObjectLock, Status
from trailcheck.reports._util import control_rollup
from trailcheck.rules import buckets
from trailcheck.rules.base import Rule

BUCKET = f"logs-{ACCOUNT}"


def one(**bucket: object) -> Inventory:
    return make_inventory([make_trail()], buckets=[make_bucket(BUCKET, **bucket)])


def both(inventory: Inventory, exact: Rule, strict: Rule, control: str) -> tuple[str, Status]:
    report = evaluate(inventory, [exact, strict])
    rolled = {(r.framework, r.control): r.status for r in control_rollup(report)}
    (finding,) = [f for f in report.findings if f.rule_id == strict.id]
    assert strict.controls.get("aws-fsbp") is None or control not in strict.controls["aws-fsbp"]
    return rolled[("aws-fsbp", control)], finding.status


def test_s3_13_passes_a_lifecycle_that_deletes_logs_too_early() -> None:
    early = (LifecycleRule(id="purge", expiration_days=30),)
    control, strict = both(
        one(lifecycle=early), buckets.lifecycle_configured, buckets.lifecycle, "S3.13"
    )
    assert (control, strict) == ("PASS", Status.FAIL)


def test_s3_15_passes_a_governance_lock_the_strict_rule_fails() -> None:
    lock = ObjectLock(enabled=True, mode="GOVERNANCE", days=1)
    control, strict = both(
        one(object_lock=lock), buckets.object_lock_enabled, buckets.object_lock, "S3.15"
    )
    assert (control, strict) == ("PASS", Status.FAIL)


def test_s3_17_fails_sse_s3_although_the_trail_encrypts_its_logs_with_kms() -> None:
    sse_s3 = BucketEncryption(algorithm="AES256")
    report = evaluate(one(encryption=sse_s3), [buckets.default_encryption_kms, buckets.encryption])
    rolled = {(r.framework, r.control): r.status for r in control_rollup(report)}
    strict = next(f for f in report.findings if f.rule_id == buckets.encryption.id)
    exact = next(f for f in report.findings if f.rule_id == buckets.default_encryption_kms.id)
    assert rolled[("aws-fsbp", "S3.17")] == "FAIL" and exact.problems == [
        "bucket.not_kms_encrypted"
    ]
    assert strict.status is Status.PASS, strict.reason  # the trail's SSE-KMS covers the logs


def test_s3_5_passes_the_cis_objects_only_deny_the_strict_rule_fails() -> None:
    deny_objects = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyHttpObjects",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    control, strict = both(
        one(policy=deny_objects), buckets.ssl_requests_only, buckets.tls_only, "S3.5"
    )
    assert (control, strict) == ("PASS", Status.FAIL)


def test_s3_5_fails_a_deny_of_some_actions_only() -> None:
    some = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": ["s3:GetObject"],
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"BoolIfExists": {"aws:SecureTransport": ["false"]}},
            }
        ]
    }
    (finding,) = evaluate(one(policy=some), [buckets.ssl_requests_only]).findings
    assert finding.status is Status.FAIL and finding.problems == ["bucket.policy_no_tls"]
