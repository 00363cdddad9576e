"""Property: `--who` names the newest successful event that can cause one of the finding's
problems — compared with a brute-force reference written here, independently of the catalogue,
for the trail problems (hypothesis generates the histories: event names, requests, failed
calls, times)."""

from __future__ import annotations

from typing import Any

from factories import ACCOUNT, REGION, make_inventory, make_trail
from hypothesis import given, settings
from hypothesis import strategies as st

from trailcheck.changes.enrich import attach_changes, history_key
from trailcheck.changes.model import ChangeEvent
from trailcheck.model import ChangeHistory, Finding, Severity, Status
from trailcheck.rules import load_rules

RULES = {r.id: r for r in load_rules(include_plugins=False)}
TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"
CODES = ("trail.not_logging", "trail.single_region", "trail.validation_off", "trail.no_kms")
NAMES = ("StopLogging", "StartLogging", "CreateTrail", "UpdateTrail", "PutEventSelectors")
FLAGS = ("isMultiRegionTrail", "enableLogFileValidation")


def reference_causes(name: str, params: dict[str, Any], failed: bool) -> set[str]:
    """What each event does to the trail, read off the AWS API reference by hand."""
    if failed:
        return set()
    if name == "StopLogging":
        return {"trail.not_logging"}
    if name == "CreateTrail":  # a new trail: not logging, and only what the request asks
        found = {"trail.not_logging"}
        if params.get("isMultiRegionTrail") is not True:
            found.add("trail.single_region")
        if params.get("enableLogFileValidation") is not True:
            found.add("trail.validation_off")
        if not params.get("kmsKeyId"):
            found.add("trail.no_kms")
        return found
    if name == "UpdateTrail":
        found = set()
        if params.get("isMultiRegionTrail") is False:
            found.add("trail.single_region")
        if params.get("enableLogFileValidation") is False:
            found.add("trail.validation_off")
        if "kmsKeyId" in params and params["kmsKeyId"] == "":
            found.add("trail.no_kms")
        return found
    return set()


events = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.fixed_dictionaries(
            {},
            optional={
                **{flag: st.booleans() for flag in FLAGS},
                "kmsKeyId": st.sampled_from(["", "alias/logs"]),
            },
        ),
        st.booleans(),  # failed (errorCode AccessDenied)
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(events, st.sets(st.sampled_from(CODES), min_size=1))
def test_newest_successful_causing_event_is_named(
    story: list[tuple[str, dict[str, Any], bool]], problems: set[str]
) -> None:
    records = [
        {
            "eventTime": f"2026-11-20T10:{i:02d}:00Z",
            "eventName": name,
            "eventSource": "cloudtrail.amazonaws.com",
            "awsRegion": REGION,
            "recipientAccountId": ACCOUNT,
            "eventID": f"e{i}",
            "requestParameters": {"name": "main", **params},
            **({"errorCode": "AccessDenied"} if failed else {}),
        }
        for i, (name, params, failed) in enumerate(story)
    ]
    expected = None
    for r, (name, params, failed) in zip(records, story, strict=True):
        if reference_causes(name, params, failed) & problems:
            expected = r["eventID"]  # later records are newer
    history = ChangeHistory(
        resource_arn=TRAIL,
        account_id=ACCOUNT,
        region=REGION,
        names=["main"],
        event_names=list(NAMES),
        start_time="2026-08-22T00:00:00Z",
        end_time="2026-11-21T00:00:00Z",
        calls=1,
        complete=True,
        events=[ChangeEvent.from_record(r) for r in reversed(records)],
    )
    inventory = make_inventory([make_trail(arn=TRAIL)]).model_copy(
        update={"change_history": {history_key(ACCOUNT, REGION, TRAIL): history}}
    )
    finding = Finding(
        rule_id="CT.TRAIL.LOGGING",
        title="t",
        status=Status.FAIL,
        severity=Severity.HIGH,
        account_id=ACCOUNT,
        region=REGION,
        resource_arn=TRAIL,
        resource_type="AWS::CloudTrail::Trail",
        reason="failing",
        problems=sorted(problems),
    )
    (got,) = attach_changes([finding], RULES, inventory)
    named = (got.evidence["last_change"] or {}).get("event_id")
    assert named == expected
    state = got.evidence["change_lookup"]["state"]
    assert state == ("found" if expected else "none_in_90_days")
