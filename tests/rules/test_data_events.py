"""Data events: S3.22/S3.23 (Security Hub's test), the CIS per-bucket audit, trailcheck's strict
rule and Lambda invoke events, over selector set-ups judged field by field."""

from __future__ import annotations

import itertools

import boto3
import pytest
from factories import ACCOUNT, REGION, make_account, make_bucket, make_inventory, make_trail
from hypothesis import given, settings
from hypothesis import strategies as st

from trailcheck.engine import evaluate
from trailcheck.model import (
    AdvancedEventSelector,
    BasicEventSelector,
    DataResource,
    EventSelectors,
    FieldSelector,
    Inventory,
    Status,
    Trail,
)
from trailcheck.reports._util import control_rollup
from trailcheck.rules import data_events
from trailcheck.rules._selectors import covers_prefix, matches
from trailcheck.rules._trails import management_events
from trailcheck.rules.base import Rule
from trailcheck.scanner.accounts import current_account
from trailcheck.scanner.scan import ScanOptions, collect
from trailcheck.scanner.session import AwsSession

MEMBER = "222222222222"
BUCKETS = ("app-data", "app-logs")
WRITE = data_events.s3_write_data_events
READ = data_events.s3_read_data_events
STRICT = data_events.s3_data_events
CIS_WRITE = data_events.s3_object_write_logging
CIS_READ = data_events.s3_object_read_logging
LAMBDA = data_events.lambda_data_events
ALL = (WRITE, READ, STRICT, CIS_WRITE, CIS_READ, LAMBDA)


def basic(rw: str = "All", *resources: tuple[str, tuple[str, ...]]) -> EventSelectors:
    return EventSelectors(
        basic=(
            BasicEventSelector(
                read_write_type=rw,  # type: ignore[arg-type]
                data_resources=tuple(DataResource(type=t, values=v) for t, v in resources),
            ),
        )
    )


def field(name: str, **ops: tuple[str, ...]) -> FieldSelector:
    return FieldSelector(field=name, **ops)


def advanced(*selectors: tuple[FieldSelector, ...]) -> EventSelectors:
    mgmt = AdvancedEventSelector(
        name="Management", field_selectors=(field("eventCategory", equals=("Management",)),)
    )
    data = tuple(
        AdvancedEventSelector(name=f"data{i}", field_selectors=fs)
        for i, fs in enumerate(selectors, 1)
    )
    return EventSelectors(advanced=(mgmt, *data))


def s3_fields(*extra: FieldSelector) -> tuple[FieldSelector, ...]:
    return (
        field("eventCategory", equals=("Data",)),
        field("resources.type", equals=("AWS::S3::Object",)),
        *extra,
    )


def world(
    trail: Trail, *, buckets: tuple[str, ...] = BUCKETS, regions_known: bool = True
) -> Inventory:
    """One account owning `buckets` (in the trail's home region when `regions_known`)."""
    inventory = make_inventory([trail], with_resources=False)
    account = inventory.accounts[trail.account_id].model_copy(update={"bucket_names": buckets})
    read = {b: make_bucket(b, region=REGION) for b in buckets} if regions_known else {}
    return inventory.model_copy(update={"accounts": {trail.account_id: account}, "buckets": read})


def statuses(inventory: Inventory) -> dict[str, dict[str, Status]]:
    """rule id → account → status."""
    report = evaluate(inventory, list(ALL))
    found: dict[str, dict[str, Status]] = {}
    for f in report.findings:
        found.setdefault(f.rule_id, {})[f.account_id] = f.status
    return found


P, F = Status.PASS, Status.FAIL
# (set-up, selectors and trail fields) → expected (S3.22, S3.23, strict, CIS write, CIS read)
CASES: list[tuple[str, dict, tuple[Status, ...]]] = [
    (
        "basic arn:aws:s3 All",
        {"event_selectors": basic("All", ("AWS::S3::Object", ("arn:aws:s3",)))},
        (P, P, P, P, P),
    ),
    (
        "basic arn:aws:s3::: All",
        {"event_selectors": basic("All", ("AWS::S3::Object", ("arn:aws:s3:::",)))},
        (P, P, P, P, P),
    ),
    (
        "basic WriteOnly",
        {"event_selectors": basic("WriteOnly", ("AWS::S3::Object", ("arn:aws:s3",)))},
        (P, F, F, P, F),
    ),
    (
        "basic ReadOnly",
        {"event_selectors": basic("ReadOnly", ("AWS::S3::Object", ("arn:aws:s3",)))},
        (F, P, F, F, P),
    ),
    (
        "basic bucket prefixes naming every bucket",
        {
            "event_selectors": basic(
                "All", ("AWS::S3::Object", tuple(f"arn:aws:s3:::{b}/" for b in BUCKETS))
            )
        },
        (F, F, F, P, P),
    ),
    (
        "basic one bucket prefix",
        {"event_selectors": basic("All", ("AWS::S3::Object", ("arn:aws:s3:::app-data/",)))},
        (F, F, F, F, F),
    ),
    ("advanced all objects", {"event_selectors": advanced(s3_fields())}, (P, P, P, P, P)),
    (
        "advanced readOnly=true",
        {"event_selectors": advanced(s3_fields(field("readOnly", equals=("true",))))},
        (F, P, F, F, P),
    ),
    (
        "advanced readOnly=false",
        {"event_selectors": advanced(s3_fields(field("readOnly", equals=("false",))))},
        (P, F, F, P, F),
    ),
    (
        "advanced NotStartsWith excludes one bucket",
        {
            "event_selectors": advanced(
                s3_fields(field("resources.ARN", not_starts_with=("arn:aws:s3:::app-logs/",)))
            )
        },
        (F, F, F, F, F),  # CIS too: app-logs has no selector
    ),
    (
        "advanced StartsWith arn:aws:s3:::app (every bucket named app*)",
        {
            "event_selectors": advanced(
                s3_fields(field("resources.ARN", starts_with=("arn:aws:s3:::app",)))
            )
        },
        (F, F, F, P, P),
    ),
    (
        "advanced eventName PutObject only",
        {"event_selectors": advanced(s3_fields(field("eventName", equals=("PutObject",))))},
        (F, F, F, F, F),
    ),
    (
        "advanced eventSource s3.amazonaws.com",
        {
            "event_selectors": advanced(
                s3_fields(field("eventSource", equals=("s3.amazonaws.com",)))
            )
        },
        (P, P, P, P, P),
    ),
    (
        "advanced Lambda only",
        {
            "event_selectors": advanced(
                (
                    field("eventCategory", equals=("Data",)),
                    field("resources.type", equals=("AWS::Lambda::Function",)),
                )
            )
        },
        (F, F, F, F, F),
    ),
    (
        "single-region trail, all buckets",
        {
            "is_multi_region": False,
            "event_selectors": basic("All", ("AWS::S3::Object", ("arn:aws:s3",))),
        },
        (F, F, F, P, P),
    ),
]


@pytest.mark.parametrize(("name", "trail", "expected"), CASES, ids=[c[0] for c in CASES])
def test_selector_set_ups(name: str, trail: dict, expected: tuple[Status, ...]) -> None:
    found = statuses(world(make_trail(**trail)))
    got = tuple(found[r.id][ACCOUNT] for r in (WRITE, READ, STRICT, CIS_WRITE, CIS_READ))
    assert got == expected, name


def test_a_stopped_trail_counts_for_cis_but_not_for_security_hub_or_strict() -> None:
    from factories import make_status

    trail = make_trail(
        status=make_status(is_logging=False),
        event_selectors=basic("All", ("AWS::S3::Object", ("arn:aws:s3",))),
    )
    found = statuses(world(trail))
    assert found[WRITE.id][ACCOUNT] is F and found[STRICT.id][ACCOUNT] is F
    assert found[CIS_WRITE.id][ACCOUNT] is P and found[CIS_READ.id][ACCOUNT] is P


def test_single_region_trail_covers_cis_only_for_buckets_in_its_region() -> None:
    trail = make_trail(
        is_multi_region=False, event_selectors=basic("All", ("AWS::S3::Object", ("arn:aws:s3",)))
    )
    inventory = world(trail)
    other = make_bucket("app-logs", region="eu-west-1")
    here = make_bucket("app-data", region=REGION)
    inventory = inventory.model_copy(update={"buckets": {"app-logs": other, "app-data": here}})
    report = evaluate(inventory, [CIS_WRITE])
    (finding,) = report.findings
    assert finding.status is F
    assert finding.evidence["not_covered"] == ["app-logs"]
    assert finding.problems == ["trail.no_s3_write_data_events"]


def test_single_region_trail_and_unknown_bucket_region_is_error_never_pass() -> None:
    trail = make_trail(
        is_multi_region=False, event_selectors=basic("All", ("AWS::S3::Object", ("arn:aws:s3",)))
    )
    inventory = world(trail, buckets=("elsewhere",), regions_known=False)
    (finding,) = evaluate(inventory, [CIS_WRITE]).findings
    assert finding.status is Status.ERROR and "region unknown" in finding.reason


def test_org_trail_is_credited_to_members() -> None:
    org = make_trail(
        "org",
        is_organization_trail=True,
        event_selectors=basic("All", ("AWS::S3::Object", ("arn:aws:s3",))),
    )
    accounts = [
        make_account(ACCOUNT, organization_id="o-1", bucket_names=()),
        make_account(MEMBER, organization_id="o-1", bucket_names=("member-bucket",)),
    ]
    inventory = make_inventory([org], accounts, with_resources=False)
    found = statuses(inventory)
    assert found[WRITE.id] == {ACCOUNT: P, MEMBER: P}
    assert found[STRICT.id][MEMBER] is P
    assert found[CIS_WRITE.id] == {ACCOUNT: Status.NOT_APPLICABLE, MEMBER: P}


def test_evidence_lists_which_selector_covers_what() -> None:
    selectors = advanced(
        s3_fields(field("readOnly", equals=("true",))),
        s3_fields(field("resources.ARN", starts_with=("arn:aws:s3:::app-data/",))),
    )
    (finding,) = evaluate(world(make_trail(event_selectors=selectors)), [STRICT]).findings
    assert finding.status is F and finding.problems == ["trail.no_s3_write_data_events"]
    (trail,) = finding.evidence["trails"]
    assert trail["selectors"]["read"] == ["advanced selector 'data1'"]
    assert trail["selectors"]["write"] == []
    assert any("data2" in p and "StartsWith" in p for p in trail["selectors"]["partial"])


def test_lambda_invoke_events() -> None:
    lam = basic("All", ("AWS::Lambda::Function", ("arn:aws:lambda",)))
    assert statuses(world(make_trail(event_selectors=lam)))[LAMBDA.id][ACCOUNT] is P
    one = basic("All", ("AWS::Lambda::Function", ("arn:aws:lambda:us-east-1:1:function:f",)))
    assert statuses(world(make_trail(event_selectors=one)))[LAMBDA.id][ACCOUNT] is F
    read_only = basic("ReadOnly", ("AWS::Lambda::Function", ("arn:aws:lambda",)))
    assert statuses(world(make_trail(event_selectors=read_only)))[LAMBDA.id][ACCOUNT] is F


def test_unreadable_selectors_are_error_never_pass() -> None:
    from factories import denied

    trail = make_trail(event_selectors=denied("cloudtrail:GetEventSelectors"))
    found = statuses(world(trail))
    for rule in ALL:
        assert found[rule.id][ACCOUNT] is Status.ERROR, rule.id


# ----------------------------------------------------------------------------- crosswalk


def rollup(inventory: Inventory, *rules: Rule) -> dict[tuple[str, str], str]:
    report = evaluate(inventory, list(rules))
    return {(r.framework, r.control): r.status for r in control_rollup(report)}


def test_s3_22_passes_a_write_only_trail_the_strict_rule_fails() -> None:
    inventory = world(
        make_trail(event_selectors=basic("WriteOnly", ("AWS::S3::Object", ("arn:aws:s3",))))
    )
    controls = rollup(inventory, WRITE, STRICT)
    assert controls[("aws-fsbp", "S3.22")] == "PASS"
    assert statuses(inventory)[STRICT.id][ACCOUNT] is F


def test_s3_23_passes_a_read_only_trail_the_strict_rule_fails() -> None:
    inventory = world(
        make_trail(event_selectors=basic("ReadOnly", ("AWS::S3::Object", ("arn:aws:s3",))))
    )
    assert rollup(inventory, READ, STRICT)[("aws-fsbp", "S3.23")] == "PASS"
    assert statuses(inventory)[STRICT.id][ACCOUNT] is F


@pytest.mark.parametrize(
    ("framework", "write", "read"),
    [
        ("cis-aws-1.4", "3.10", "3.11"),
        ("cis-aws-3.0", "3.8", "3.9"),
        ("cis-aws-5.0", "3.8", "3.9"),
        ("cis-aws-6.0", "4.8", "4.9"),
        ("cis-aws-7.0", "4.8", "4.9"),
    ],
)
def test_cis_passes_named_buckets_on_a_single_region_trail_the_strict_rule_fails(
    framework: str, write: str, read: str
) -> None:
    prefixes = tuple(f"arn:aws:s3:::{b}/" for b in BUCKETS)
    trail = make_trail(
        is_multi_region=False, event_selectors=basic("All", ("AWS::S3::Object", prefixes))
    )
    inventory = world(trail)
    controls = rollup(inventory, CIS_WRITE, CIS_READ, STRICT, WRITE)
    assert controls[(framework, write)] == "PASS" and controls[(framework, read)] == "PASS"
    assert controls[("aws-fsbp", "S3.22")] == "FAIL"
    assert statuses(inventory)[STRICT.id][ACCOUNT] is F


# ----------------------------------------------------------------------------- properties

ALPHABET = "ab/:"
texts = st.text(alphabet=ALPHABET, max_size=4)
value_lists = st.lists(texts, max_size=2).map(tuple)
conditions = st.builds(
    lambda eq, sw, ew, ne, nsw, new: FieldSelector(
        field="resources.ARN",
        equals=eq,
        starts_with=sw,
        ends_with=ew,
        not_equals=ne,
        not_starts_with=nsw,
        not_ends_with=new,
    ),
    value_lists,
    value_lists,
    value_lists,
    value_lists,
    value_lists,
    value_lists,
)


def brute_covers(condition: FieldSelector, prefix: str, depth: int) -> bool:
    """Every `prefix + w` for every w over the alphabet (and one letter no operand uses) up to
    `depth` letters, tested one by one with the operators' plain definitions."""
    letters = ALPHABET + "z"
    for n in range(depth + 1):
        for word in itertools.product(letters, repeat=n):
            value = prefix + "".join(word)
            pos = condition.equals or condition.starts_with or condition.ends_with
            ok = not pos or (
                any(value == e for e in condition.equals)
                or any(value[: len(p)] == p for p in condition.starts_with)
                or any(value[len(value) - len(s) :] == s for s in condition.ends_with)
            )
            ok = ok and not any(value == e for e in condition.not_equals)
            ok = ok and not any(value[: len(q)] == q for q in condition.not_starts_with)
            ok = ok and not any(
                len(value) >= len(s) and value[len(value) - len(s) :] == s
                for s in condition.not_ends_with
            )
            if not ok:
                return False
    return True


@settings(max_examples=300, deadline=None)
@given(conditions, texts)
def test_covers_prefix_agrees_with_brute_force(condition: FieldSelector, prefix: str) -> None:
    # Every operand is at most 4 letters: words up to 5 letters past the prefix reach them all.
    assert covers_prefix(condition, prefix) == brute_covers(condition, prefix, 5)


@settings(max_examples=300, deadline=None)
@given(conditions, texts)
def test_matches_agrees_with_brute_force_on_one_value(condition: FieldSelector, value: str) -> None:
    # With no letters added, the brute force tests the value itself.
    assert matches(condition, value) == brute_covers(condition, value, 0)


def test_management_events_still_read_through_the_same_evaluator() -> None:
    selectors = advanced(s3_fields())
    management = management_events(selectors)
    assert management.read and management.write and management.all
    read_only = EventSelectors(
        advanced=(
            AdvancedEventSelector(
                field_selectors=(
                    field("eventCategory", equals=("Management",)),
                    field("readOnly", equals=("true",)),
                )
            ),
        )
    )
    assert management_events(read_only).describe() == "records only read management events"


def test_bucket_regions_from_list_buckets_decide_single_region_trails() -> None:
    trail = make_trail(
        is_multi_region=False, event_selectors=basic("All", ("AWS::S3::Object", ("arn:aws:s3",)))
    )
    inventory = world(trail, buckets=("east", "west"), regions_known=False)
    account = inventory.accounts[ACCOUNT].model_copy(
        update={"bucket_regions": {"east": REGION, "west": "eu-west-1"}}
    )
    inventory = inventory.model_copy(update={"accounts": {ACCOUNT: account}})
    (finding,) = evaluate(inventory, [CIS_WRITE]).findings
    assert finding.status is F and finding.evidence["not_covered"] == ["west"]


def test_scanned_from_moto_single_region_trail_misses_the_other_regions_bucket(
    aws: AwsSession, boto: boto3.Session
) -> None:
    s3 = boto.client("s3")
    s3.create_bucket(Bucket="east-data")
    boto.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="west-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    ct = boto.client("cloudtrail")
    ct.create_trail(Name="regional", S3BucketName="east-data")
    ct.put_event_selectors(
        TrailName="regional",
        EventSelectors=[
            {
                "ReadWriteType": "WriteOnly",
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            }
        ],
    )
    ct.start_logging(Name="regional")
    targets, _ = current_account(aws, REGION)
    inventory = collect(targets, aws, ScanOptions(regions=(REGION,), max_workers=1))
    report = evaluate(inventory, [CIS_WRITE, WRITE])
    found = {f.rule_id: f for f in report.findings}
    assert found[CIS_WRITE.id].status is F
    assert found[CIS_WRITE.id].evidence["not_covered"] == ["west-data"]
    assert found[WRITE.id].status is F  # single-region: never S3.22
