"""Meta-tests of blame by cause (issue 17): every FAIL of every rule names problem codes the
catalogue knows, and, for every rule and each of its problem codes, `--who` names the causing
event — never an unrelated later write to the same resource, never a failed call.

The FAIL findings come from the inventories the verdict-reach meta-test uses (the demo
organization scanned in moto, an inventory where everything is wrong, ...), so every rule's
reachable FAILs are walked; the histories are built per finding from the catalogue itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from factories import compliant
from moto import mock_aws
from test_verdict_reach import UNREACHABLE, all_wrong, confirmed_by_aws, unlisted

from trailcheck.changes.catalog import (
    CHANGE_EVENTS,
    PROBLEMS,
    SOURCE_OF_EVENT,
    SOURCE_OF_SERVICE,
    Cause,
    arn_service,
    causes_of,
)
from trailcheck.changes.enrich import EVENT_SUBJECT, attach_changes, history_key, subjects
from trailcheck.changes.model import ChangeEvent
from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.demo.run import scan_demo_organization
from trailcheck.engine import evaluate
from trailcheck.model import ChangeHistory, Finding, Inventory, Status
from trailcheck.rules import load_rules
from trailcheck.rules._monitoring import controls

RULES = {r.id: r for r in load_rules(include_plugins=False)}
# Request parameters to try when a cause (or an unrelated write) needs particular ones.
CANDIDATE_PARAMS: tuple[dict[str, Any], ...] = (
    {},
    {"isMultiRegionTrail": False},
    {"isMultiRegionTrail": True},
    {"enableLogFileValidation": False},
    {"enableLogFileValidation": True},
    {"kmsKeyId": ""},
    {"kmsKeyId": "arn:aws:kms:us-east-1:111111111111:key/k"},
    {"cloudWatchLogsLogGroupArn": ""},
    {"cloudWatchLogsLogGroupArn": "arn:aws:logs:us-east-1:111111111111:log-group:g:*"},
    {"isOrganizationTrail": False},
    {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": "k"},
    {"eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": True}]},
    {"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": True}]},
    {
        "eventSelectors": [
            {
                "readWriteType": "All",
                "includeManagementEvents": True,
                "excludeManagementEventSources": ["kms.amazonaws.com"],
            }
        ]
    },
)


@pytest.fixture(scope="module")
def fails() -> Iterator[list[tuple[Inventory, Finding]]]:
    """Every FAIL finding of every rule, with the inventory it was judged from."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        with mock_aws(), faithful_moto(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Exception\(STSClientError\)")
            demo = scan_demo_organization(regions=("us-east-1",))
    good = confirmed_by_aws(compliant())
    yield [
        (inventory, f)
        for inventory in (demo, good, all_wrong(), unlisted(good))
        for f in evaluate(inventory, list(RULES.values())).findings
        if f.status is Status.FAIL
    ]


def test_every_fail_of_every_rule_names_problems_the_catalogue_knows(
    fails: list[tuple[Inventory, Finding]],
) -> None:
    wrong = {
        (f.rule_id, tuple(f.problems))
        for _, f in fails
        if not f.problems or not set(f.problems) <= set(PROBLEMS)
    }
    assert wrong == set()
    failing = {f.rule_id for _, f in fails}
    never = {r for r in RULES if Status.FAIL in UNREACHABLE.get(r, {})}
    assert set(RULES) - never - failing == set()  # every rule's FAILs were walked


def test_every_event_of_the_catalogue_is_a_followed_change_event() -> None:
    events = {c.event for p in PROBLEMS.values() for c in (*p.causes, *p.restores)}
    assert events <= CHANGE_EVENTS
    assert {"StartLogging", "CreateTrail", "PutEventSelectors"} <= CHANGE_EVENTS


def _params(event: str, wanted: bool, code: str) -> dict[str, Any] | None:
    """Request parameters with which `event` causes (`wanted`) or does not cause `code`."""
    for params in CANDIDATE_PARAMS:
        caused = code in causes_of({"eventName": event, "requestParameters": params})
        if caused == wanted:
            return params
    return None


def _record(event: str, when: str, who: str, params: dict[str, Any], **over: Any) -> Any:
    return {
        "eventTime": when,
        "eventName": event,
        "eventSource": SOURCE_OF_EVENT[event],
        "awsRegion": "us-east-1",
        "eventID": f"{event}-{who}-{when}",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111111111111:user/{who}"},
        "requestParameters": params,
        **over,
    }


def _serves(subject: str, cause: Cause) -> bool:
    if subject.startswith(EVENT_SUBJECT):
        return subject == f"{EVENT_SUBJECT}{cause.event}"
    service = arn_service(subject)
    return SOURCE_OF_SERVICE.get(service or "") == SOURCE_OF_EVENT[cause.event]


def _story(finding: Finding, code: str, subject: str, cause: Cause) -> list[dict[str, Any]]:
    """The causing event (blamed), then an unrelated successful write to the same resource
    and a failed causing call (neither blamed)."""
    params = _params(cause.event, True, code) or {}
    records = []
    if cause.event in ("DeleteMetricFilter", "PutMetricFilter"):
        control = finding.evidence.get("coverage", {}).get("control")
        pattern = controls()[control].recommended_pattern if control else "{ $.x = 1 }"
        name = "Gone" if cause.event == "DeleteMetricFilter" else finding.evidence["filter_name"]
        group = {"logGroupName": "trail-logs", "filterName": name}
        made = group | {"filterPattern": pattern}
        records.append(_record("PutMetricFilter", "2026-11-19T09:00:00Z", "maker", made))
        other = {"logGroupName": "trail-logs", "filterName": "Other", "filterPattern": pattern}
        records.append(_record("PutMetricFilter", "2026-11-20T11:30:00Z", "bystander", other))
        params = made if cause.event == "PutMetricFilter" else group
    records.append(_record(cause.event, "2026-11-20T10:00:00Z", "culprit", params))
    source = SOURCE_OF_EVENT[cause.event]
    unrelated = next(
        (
            (name, p)
            for name in [
                cause.event,
                *sorted(n for n in CHANGE_EVENTS if SOURCE_OF_EVENT[n] == source),
            ]
            if (p := _params(name, False, code)) is not None
            and (not subject.startswith(EVENT_SUBJECT) or name == cause.event)
        ),
        None,
    )
    if unrelated is not None:
        name, p = unrelated
        records.append(_record(name, "2026-11-20T11:00:00Z", "bystander", p))
    records.append(
        _record(cause.event, "2026-11-20T12:00:00Z", "denied", params, errorCode="AccessDenied")
    )
    return records


def test_for_every_rule_and_problem_the_cause_is_blamed_not_a_later_write_or_failed_call(
    fails: list[tuple[Inventory, Finding]],
) -> None:
    rules = RULES
    seen: set[tuple[str, str]] = set()
    wrong: list[str] = []
    for inventory, finding in fails:
        for code in finding.problems:
            if (finding.rule_id, code) in seen:
                continue
            seen.add((finding.rule_id, code))
            one = finding.model_copy(update={"problems": [code]})
            rule = rules[finding.rule_id]
            where = subjects(one, rule.change_events, inventory)
            problem = PROBLEMS[code]
            if not problem.causes:
                (got,) = attach_changes(
                    [one], rules, inventory.model_copy(update={"change_history": {}})
                )
                if got.evidence["change_lookup"]["state"] != "no_causing_event":
                    wrong.append(f"{finding.rule_id} {code}: {got.reason}")
                continue
            pairs = [(s, c) for c in problem.causes for s in where if _serves(s[2], c)]
            if not pairs:
                wrong.append(f"{finding.rule_id} {code}: no resource to look up")
                continue
            (account, region, subject), cause = pairs[0]
            events = [ChangeEvent.from_record(r) for r in _story(one, code, subject, cause)]
            history = ChangeHistory(
                resource_arn=subject,
                account_id=account,
                region=region,
                names=[subject],
                event_names=sorted({e.event_name for e in events}),
                start_time="2026-08-22T00:00:00Z",
                end_time="2026-11-21T00:00:00Z",
                calls=1,
                complete=True,
                events=sorted(events, key=lambda e: e.event_time, reverse=True),
            )
            histories = {history_key(account, region, subject): history}
            for other in where:  # the finding's other resources: looked up, nothing there
                if other[2] != subject:
                    histories[history_key(*other)] = history.model_copy(
                        update={"resource_arn": other[2], "events": []}
                    )
            judged = inventory.model_copy(update={"change_history": histories})
            (got,) = attach_changes([one], rules, judged)
            change = got.evidence["last_change"] or {}
            if not str(change.get("principal_arn", "")).endswith("/culprit"):
                wrong.append(
                    f"{finding.rule_id} {code}: blamed {change.get('principal_arn')} ({got.reason})"
                )
    assert wrong == [], "\n".join(wrong)
    assert len(seen) >= 30


def test_every_problem_code_the_rules_name_is_in_the_catalogue_and_back() -> None:
    """Also the FAIL sites no test inventory reaches: every code written in the rules is known
    to the catalogue, and every catalogued code is written in some rule."""
    import re
    from pathlib import Path

    import trailcheck.rules

    package = Path(trailcheck.rules.__file__).parent
    text = "\n".join(p.read_text() for p in sorted(package.rglob("*.py")))
    prefixes = "trail|bucket|kms|monitoring|account|lake|guardrail|permissions"
    written = set(re.findall(rf'"((?:{prefixes})\.[a-z_0-9]+)"', text))
    # codes built from parts: the data-event rules name the event kind
    written |= {f"trail.no_s3_{kind}_data_events" for kind in ("read", "write")}
    assert written == set(PROBLEMS)
