"""Absence only from complete listings: "owns no log bucket", "owns no KMS key used by a trail"
(NOT_APPLICABLE) may be concluded only when every listing upstream was read — every entered
account's trail list, every trail's description, the account's own bucket list. A listing lost
anywhere (in another account too: a trail's owner vs its bucket's owner) makes the dependent
rules ERROR in the account that may own the resource.

The property test degrades a random inventory the way a scan loses calls (trails undescribed,
trail lists and bucket lists lost) and checks against the full inventory that only verdicts
turned into ERROR (trailcheck/demo/verdict_change.py).
"""

from __future__ import annotations

from factories import REGION, make_account, make_bucket, make_inventory, make_trail
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailcheck.demo.verdict_change import duplicate_identities, verdict_violations
from trailcheck.engine import evaluate
from trailcheck.model import Finding, Inventory, Status, Trail, Unknown
from trailcheck.rules import buckets, kms, load_rules

RULES = load_rules(include_plugins=False)
MANAGEMENT, ARCHIVE, MEMBER = "111111111111", "222222222222", "333333333333"
CENTRAL = f"central-{ARCHIVE}"
LOST = Unknown(operation="cloudtrail:DescribeTrails", error_code="ThrottlingException")
# the log-bucket rules (the bucket rules live in submodules of `buckets`; the account-level
# Block Public Access rule judges every account, bucket or not)
BUCKET_RULES = {
    r.id
    for r in RULES
    if r.evaluate.__module__.startswith(buckets.__name__) and r.resource_type == "AWS::S3::Bucket"
}


def undescribed(trail: Trail, error: Unknown = LOST) -> Trail:
    """`trail` as a scan sees it when DescribeTrails was lost: listed, every setting unknown."""
    return Trail(
        arn=trail.arn,
        name=trail.name,
        account_id=trail.account_id,
        home_region=trail.home_region,
        is_multi_region=False,
        status=error,
        event_selectors=error,
        insight_selectors=error,
        describe_error=error,
    )


def organization(*, lost: bool, archive_buckets: tuple[str, ...] = (CENTRAL,)) -> Inventory:
    """The management account's organization trail writes to log-archive's central bucket;
    with `lost`, its DescribeTrails was throttled past the retries (the bucket never read)."""
    trail = make_trail("org", MANAGEMENT, s3_bucket_name=CENTRAL, is_organization_trail=True)
    accounts = [
        make_account(MANAGEMENT, bucket_names=()),
        make_account(ARCHIVE, bucket_names=archive_buckets),
        make_account(MEMBER, bucket_names=()),
    ]
    if lost:
        return make_inventory([undescribed(trail)], accounts)
    return make_inventory([trail], accounts, buckets=[make_bucket(CENTRAL, ARCHIVE)])


def of(findings: list[Finding], account: str, rules: set[str]) -> list[Finding]:
    return [f for f in findings if f.account_id == account and f.rule_id in rules]


def test_a_lost_trail_description_makes_the_bucket_owners_rules_error_never_not_applicable():
    findings = evaluate(organization(lost=True), RULES).findings
    archive = of(findings, ARCHIVE, BUCKET_RULES)
    assert archive and {f.status for f in archive} == {Status.ERROR}
    assert all("org" in f.reason and "ThrottlingException" in f.reason for f in archive)
    assert all("rerun the scan" in f.reason for f in archive)
    # the trail's owner says which trail could not be described
    management = of(findings, MANAGEMENT, BUCKET_RULES)
    assert management and {f.status for f in management} == {Status.ERROR}
    assert verdict_violations(evaluate(organization(lost=False), RULES).findings, findings) == []


def test_an_account_that_owns_no_bucket_at_all_stays_not_applicable_despite_the_gap():
    findings = evaluate(organization(lost=True), RULES).findings
    member = of(findings, MEMBER, BUCKET_RULES)
    assert member and {f.status for f in member} == {Status.NOT_APPLICABLE}


def test_an_owner_whose_every_bucket_is_judged_gets_no_doubt():
    """log-archive owns the central bucket and a bucket of the member's lost trail list could
    not name: its other bucket is unused by any described trail, so the gap concerns it."""
    full = organization(lost=False, archive_buckets=(CENTRAL,))
    gone = full.model_copy(
        update={
            "accounts": full.accounts
            | {MEMBER: full.accounts[MEMBER].model_copy(update={"trail_arns": LOST})}
        }
    )
    findings = of(evaluate(gone, RULES).findings, ARCHIVE, {"CT.BUCKET.VERSIONING"})
    assert [f.status for f in findings] == [Status.PASS]  # its one bucket is judged: no doubt
    two = organization(lost=False, archive_buckets=(CENTRAL, "other"))
    two = two.model_copy(
        update={
            "accounts": two.accounts
            | {MEMBER: two.accounts[MEMBER].model_copy(update={"trail_arns": LOST})}
        }
    )
    findings = of(evaluate(two, RULES).findings, ARCHIVE, {"CT.BUCKET.VERSIONING"})
    assert sorted(f.status.value for f in findings) == ["ERROR", "PASS"]
    [doubt] = [f for f in findings if f.status is Status.ERROR]
    assert doubt.resource_type == "AWS::::Account" and MEMBER in doubt.reason


def test_key_rules_cannot_say_owns_no_key_while_a_trail_is_undescribed():
    rotation = {"CT.KMS.ROTATION"}  # the other kms rules judge trails the member does not own
    clean = evaluate(organization(lost=False), RULES).findings
    assert {f.status for f in of(clean, MEMBER, rotation)} == {Status.NOT_APPLICABLE}
    lost = evaluate(organization(lost=True), RULES).findings
    assert {f.status for f in of(lost, MEMBER, rotation)} == {Status.ERROR}


def test_the_account_itself_judged_is_its_one_account_level_finding():
    """The owner of the central bucket cannot list its own trails: its account-level Block
    Public Access is still judged (from the bucket another trail uses) — once, never also as
    an ERROR with the same identity."""
    full = organization(lost=False)
    gone = full.model_copy(
        update={
            "accounts": full.accounts
            | {ARCHIVE: full.accounts[ARCHIVE].model_copy(update={"trail_arns": LOST})}
        }
    )
    findings = evaluate(gone, RULES).findings
    assert duplicate_identities(findings) == []
    [account_level] = of(findings, ARCHIVE, {"CT.BUCKET.PUBLIC_ACCESS_BLOCK_ACCOUNT_LEVEL"})
    assert account_level.status is Status.FAIL  # the factory's bucket has no account-level PAB


# ----------------------------------------------------------------------------- property

ACCOUNTS = ("111111111111", "222222222222", "333333333333", "444444444444")


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Inventory, Inventory]:
    """(full, degraded): trails in random accounts writing to random accounts' buckets with
    random keys; then some trail descriptions, trail lists and bucket lists lost."""
    owned = {a: [f"b{i}-{a}" for i in range(draw(st.integers(0, 2)))] for a in ACCOUNTS}
    all_buckets = sorted(b for names in owned.values() for b in names)
    trails = []
    for i in range(draw(st.integers(0, 4))):
        account = draw(st.sampled_from(ACCOUNTS))
        key_owner = draw(st.sampled_from(ACCOUNTS))
        trails.append(
            make_trail(
                f"t{i}",
                account,
                s3_bucket_name=draw(st.sampled_from(all_buckets)) if all_buckets else None,
                kms_key_id=f"arn:aws:kms:{REGION}:{key_owner}:key/k{i}",
            )
        )
    owner = {b: a for a, names in owned.items() for b in names}
    used = {t.s3_bucket_name for t in trails if t.s3_bucket_name}
    accounts = [make_account(a, bucket_names=tuple(owned[a])) for a in ACCOUNTS]
    made = [make_bucket(b, owner[b]) for b in sorted(used)]
    full = make_inventory(trails, accounts, buckets=made)

    lost_trails = draw(st.sets(st.sampled_from([t.arn for t in trails]))) if trails else set()
    lost_lists = draw(st.sets(st.sampled_from(ACCOUNTS), max_size=2))
    lost_buckets = draw(st.sets(st.sampled_from(ACCOUNTS), max_size=2))
    kept = [
        undescribed(t) if t.arn in lost_trails else t
        for t in trails
        if t.account_id not in lost_lists
    ]
    still_used = {t.s3_bucket_name for t in kept if t.describe_error is None and t.s3_bucket_name}
    keys_used = {t.kms_key_arn for t in kept if t.describe_error is None}
    listing = Unknown(operation="s3:ListBuckets", error_code="ThrottlingException")
    degraded_buckets = {
        b.name: b.model_copy(update={"owner_account_id": listing})
        if owner[b.name] in lost_buckets
        else b
        for b in made
        if b.name in still_used
    }
    degraded = full.model_copy(
        update={
            "accounts": {
                a: acc.model_copy(
                    update={
                        "trail_arns": LOST if a in lost_lists else acc.trail_arns,
                        "bucket_names": listing if a in lost_buckets else acc.bucket_names,
                    }
                )
                for a, acc in full.accounts.items()
            },
            "trails": {t.arn: t for t in kept},
            "buckets": degraded_buckets,
            "kms_keys": {k: v for k, v in full.kms_keys.items() if k in keys_used},
        }
    )
    return full, degraded


PROPERTY_RULES = [r for r in RULES if r.id in BUCKET_RULES or r.evaluate.__module__ == kms.__name__]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_losing_listings_turns_only_verdicts_into_error(world: tuple[Inventory, Inventory]):
    full, degraded = world
    before = evaluate(full, PROPERTY_RULES).findings
    after = evaluate(degraded, PROPERTY_RULES).findings
    assert duplicate_identities(before) == []
    assert verdict_violations(before, after) == []
    said = {f.account_id for f in after if f.rule_id == "CT.BUCKET.VERSIONING"}
    not_applicable = {
        f.account_id
        for f in after
        if f.rule_id == "CT.BUCKET.VERSIONING" and f.status is Status.NOT_APPLICABLE
    }
    assert said == set(ACCOUNTS)
    # sound: never "owns no log bucket" unless provable; complete: the full scan says it
    # wherever it is provable and the account has no trail of its own writing elsewhere
    assert not_applicable <= may_say_owns_no_log_bucket(degraded)
    full_na = {
        f.account_id
        for f in before
        if f.rule_id == "CT.BUCKET.VERSIONING" and f.status is Status.NOT_APPLICABLE
    }
    assert full_na == may_say_owns_no_log_bucket(full)


def may_say_owns_no_log_bucket(inventory: Inventory) -> set[str]:
    """The reference: "owns no log bucket" is provable for an account when its own trail and
    bucket lists were read and either it owns no bucket at all, or every trail list and
    trail description in the scan was read and no trail writes to a bucket it owns."""
    lists_read = all(isinstance(a.trail_arns, tuple) for a in inventory.accounts.values())
    all_described = all(t.describe_error is None for t in inventory.trails.values())
    written = {t.s3_bucket_name for t in inventory.trails.values()}
    answer = set()
    for account_id, account in inventory.accounts.items():
        names = account.bucket_names
        if not isinstance(names, tuple) or not isinstance(account.trail_arns, tuple):
            continue
        if not names or (lists_read and all_described and not written & set(names)):
            answer.add(account_id)
    return answer
