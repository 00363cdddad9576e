"""Strict types in every loader: a boolean is never read as a number, nor a number as a boolean
(pydantic's lax mode would read `"schema_version": true` as 1 and `max_delivery_age_hours =
true` as one hour). Snapshots, reports and baselines are refused field by field — every number
and boolean of a real document, flipped to the other type, is refused, outside free-form JSON
(evidence, bucket policies) — while every document trailcheck writes still loads as it was.
The config file's cases are in the bad-input corpus (tests/bad_inputs/cases.toml).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import compliant, make_bucket, make_inventory, make_trail
from pydantic import BaseModel

from trailcheck.baseline import create_baseline, load_baseline
from trailcheck.config import load_config, resolve
from trailcheck.engine import evaluate, rule_context
from trailcheck.errors import UserError
from trailcheck.model import ObjectLock, dump_json
from trailcheck.rules import load_rules
from trailcheck.snapshot import load_inventory, load_report

RULES = load_rules(include_plugins=False)
FREE_FORM = {"evidence", "policy", "shared_evidence"}  # any JSON value is allowed below these
Where = tuple[str | int, ...]


def rich_inventory():  # type: ignore[no-untyped-def]
    """compliant() plus a bucket with Object Lock days and a failing trail (a baseline entry)."""
    inventory = compliant()
    extra = make_inventory(
        [make_trail("second", log_file_validation_enabled=False)],
        buckets=[make_bucket("locked", object_lock=ObjectLock(enabled=True, days=30))],
    )
    return inventory.model_copy(
        update={
            "trails": inventory.trails | extra.trails,
            "buckets": inventory.buckets | extra.buckets,
        }
    )


def documents() -> dict[str, tuple[str, Callable[[Path], BaseModel]]]:
    inventory = rich_inventory()
    report = evaluate(inventory, RULES)
    return {
        "snapshot": (dump_json(inventory), load_inventory),
        "report": (dump_json(report), load_report),
        "baseline": (dump_json(create_baseline(report)), load_baseline),
    }


def typed_leaves(node: Any, path: Where = ()) -> Iterator[tuple[Where, bool | int]]:
    """Every boolean and integer of a JSON document, outside free-form values."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in FREE_FORM:
                yield from typed_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from typed_leaves(value, (*path, i))
    elif isinstance(node, bool | int):
        yield path, node


def flipped(value: bool | int) -> bool | int:
    """The value in the other type: a boolean as a number, a number as a boolean."""
    return int(value) if isinstance(value, bool) else value != 0


@pytest.mark.parametrize("kind", ["snapshot", "report", "baseline"])
def test_every_number_and_boolean_given_in_the_other_type_is_refused(
    kind: str, tmp_path: Path
) -> None:
    text, load = documents()[kind]
    leaves = list(typed_leaves(json.loads(text)))
    assert leaves  # the document has typed fields to test
    accepted = []
    for path, value in leaves:
        data = json.loads(text)
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = flipped(value)
        target = tmp_path / f"{kind}.json"
        target.write_text(json.dumps(data), encoding="utf-8")
        try:
            load(target)
        except UserError as exc:
            assert "\n" not in str(exc)
        else:
            accepted.append(path)
    assert accepted == []


@pytest.mark.parametrize("kind", ["snapshot", "report", "baseline"])
def test_what_trailcheck_writes_loads_as_it_was(kind: str, tmp_path: Path) -> None:
    text, load = documents()[kind]
    target = tmp_path / f"{kind}.json"
    target.write_text(text, encoding="utf-8")
    assert dump_json(load(target)) == text


def test_a_snapshot_with_bytes_that_were_not_utf8_still_loads(tmp_path: Path) -> None:
    """AWS names that were not UTF-8 travel as lone surrogates (`\\udcff` escapes), which
    pydantic's own JSON parser refuses; they are checked and kept as read. (Mapping *keys*
    holding them come back altered by pydantic-core, as before strict loading.)"""
    inventory = make_inventory([make_trail("t\udcff\udcfe", s3_key_prefix="p\udcff")])
    target = tmp_path / "snapshot.json"
    target.write_text(
        json.dumps(inventory.model_dump(mode="json"), ensure_ascii=True), encoding="utf-8"
    )
    loaded = load_inventory(target)
    assert list(loaded.trails.values()) == list(inventory.trails.values())
    assert next(iter(loaded.trails.values())).name == "t\udcff\udcfe"


def test_schema_version_true_is_not_version_1(tmp_path: Path) -> None:
    data = json.loads(dump_json(compliant()))
    data["schema_version"] = True
    target = tmp_path / "snapshot.json"
    target.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UserError, match="has no integer schema_version"):
        load_inventory(target)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[params."CT.TRAIL.CLOUDWATCH_LOGS"]\nmax_delivery_age_hours = true\n',
            "max_delivery_age_hours: expected an integer, got true",
        ),
        (
            '[params."CT.BUCKET.OBJECT_LOCK"]\nretention_days = 365.0\n',
            "retention_days: expected an integer, got 365.0",
        ),
        (
            '[params."CT.MON.CLOUDTRAIL_CONFIG_CHANGES"]\neventbridge_counts = 1\n',
            "eventbridge_counts: expected true or false, got 1",
        ),
        (
            '[[waivers]]\nrule = "*"\naccounts = ["*"]\nreason = "r"\nowner = "o"\n'
            "expires = 86400\n",  # a Unix time of an exact day: lax pydantic reads 1970-01-02
            "waivers[0].expires: expected a date",
        ),
    ],
)
def test_config_values_of_the_wrong_type_are_refused(
    toml: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "trailcheck.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(UserError) as raised:
        resolve(load_config(path), RULES, path)
    assert message in str(raised.value)


def test_rule_parameters_given_in_code_are_strict_too() -> None:
    """engine.rule_context (what `evaluate(rule_params=...)` uses) reads them the same way."""
    rule = next(r for r in RULES if r.id == "CT.TRAIL.CLOUDWATCH_LOGS")
    assert rule_context(rule, {"max_delivery_age_hours": 6}).params.max_delivery_age_hours == 6
    with pytest.raises(UserError, match="max_delivery_age_hours"):
        rule_context(rule, {"max_delivery_age_hours": True})
