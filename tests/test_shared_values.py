"""The engine holds equal evidence values once (`SharedValues`): memory per member account
stays small, and no report changes by a byte."""

from __future__ import annotations

import json

from factories import ACCOUNT, make_account, make_inventory, make_trail
from hypothesis import given, settings
from hypothesis import strategies as st

from trailcheck.engine import SharedValues, evaluate
from trailcheck.model import Finding, dump_json
from trailcheck.rules import load_rules

MEMBERS = [f"{n:012d}" for n in range(100000000001, 100000000006)]


def org_inventory():  # type: ignore[no-untyped-def]
    org_trail = make_trail("org", is_organization_trail=True)
    accounts = [make_account(ACCOUNT, organization_id="o-test")]
    accounts += [
        make_account(m, organization_id="o-test", trail_arns=(org_trail.arn,)) for m in MEMBERS
    ]
    return make_inventory([org_trail], accounts=accounts)


def test_members_share_one_copy_of_the_org_trail_coverage() -> None:
    report = evaluate(org_inventory(), load_rules())
    coverage: dict[str, list[object]] = {}
    for f in report.findings:
        if f.account_id in MEMBERS and "coverage" in f.evidence:
            coverage.setdefault(f.rule_id, []).append(f.evidence["coverage"])
    assert coverage, "the monitoring rules judged the members"
    for rule_id, values in coverage.items():
        assert len(values) == len(MEMBERS), rule_id
        assert all(v is values[0] for v in values), rule_id  # one object, not five
    by_rule: dict[str, list[object]] = {}
    for f in report.findings:
        if f.controls:
            by_rule.setdefault(f.rule_id, []).append(f.controls)
    assert all(all(c is cs[0] for c in cs) for cs in by_rule.values())


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(values, max_size=8))
def test_a_shared_value_is_always_equal_to_the_one_it_replaces(items: list[object]) -> None:
    """Brute-force reference: the value handed back dumps to the same JSON text (so `1`,
    `1.0` and `true`, equal in Python, are never merged)."""
    pool = SharedValues()
    for item in items:
        shared = pool.one(item)
        assert json.dumps(shared, sort_keys=True) == json.dumps(item, sort_keys=True)


def test_sharing_changes_no_byte_of_the_report() -> None:
    report = evaluate(org_inventory(), load_rules())
    fresh = [Finding.model_validate(f.model_dump()) for f in report.findings]  # own copies
    assert fresh[0].controls is not report.findings[0].controls
    assert dump_json(report) == dump_json(report.model_copy(update={"findings": fresh}))
