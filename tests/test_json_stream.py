"""Streamed JSON (`iter_json`) and streamed atomic files (`write_files_atomic`).

The streamed report and snapshot must be the very bytes the in-memory path writes: a reference
here dumps the whole model at once (`json.dumps` of `model_dump`), written independently of the
streaming code, and hypothesis varies what the documents hold (empty and non-empty collections,
text with newlines, quotes and non-ASCII characters, nested evidence).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from factories import make_account, make_bucket, make_inventory, make_status, make_trail
from hypothesis import given, settings
from hypothesis import strategies as st

from trailcheck.engine import evaluate
from trailcheck.errors import UserError
from trailcheck.model import Finding, Inventory, Report, Severity, Status, dump_json, iter_json
from trailcheck.reports import builtin_reporters
from trailcheck.reports._stream import hole, json_pieces
from trailcheck.reports.json_report import JsonReporter
from trailcheck.rules import load_rules
from trailcheck.snapshot import load_inventory, load_report, write_files_atomic


def whole(model: Any) -> str:
    """The in-memory reference: the whole model as one dict, one json.dumps."""
    return (
        json.dumps(model.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False)
        + "\n"
    )


text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
BIG = [{"coverage": ["x" * 40] * 8}, ["é\n" * 200], {"trail": {"arn": "a" * 300}}]
evidence_values = json_values | st.sampled_from(BIG) | st.just({"$shared": "not a reference"})
findings = st.builds(
    Finding,
    rule_id=st.sampled_from(["CT.A", "CT.B\n", "CT.ü"]),
    title=text,
    status=st.sampled_from(list(Status)),
    severity=st.sampled_from(list(Severity)),
    account_id=st.sampled_from(["111111111111", "222222222222"]),
    region=st.none() | st.sampled_from(["us-east-1", "eu-west-1"]),
    resource_arn=text,
    resource_type=text,
    reason=text,
    evidence=st.dictionaries(text, evidence_values, max_size=4),
    problems=st.lists(text, max_size=2),
)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=60, deadline=None)
@given(found=st.lists(findings, max_size=6))
def test_a_version_1_report_streams_to_the_in_memory_bytes(found: list[Finding]) -> None:
    base = evaluate(make_inventory(), load_rules())
    report = base.model_copy(update={"findings": found, "schema_version": 1})
    assert "".join(iter_json(report)) == whole(report)
    assert "".join(JsonReporter().chunks(report)) == JsonReporter().render(report) == whole(report)


@settings(max_examples=80, deadline=None)
@given(found=st.lists(findings, max_size=6))
def test_a_version_2_report_states_each_repeated_large_value_once(found: list[Finding]) -> None:
    """Brute force: a value is shared exactly when it is large (256+ compact characters) and
    two or more findings carry it, or when it looks like a reference; everything else is the
    in-memory document unchanged, and reading the file back gives the same report."""
    base = evaluate(make_inventory(), load_rules())
    report = base.model_copy(update={"findings": found})
    assert report.schema_version == 2
    streamed = "".join(iter_json(report))
    assert streamed == dump_json(report) == JsonReporter().render(report)
    written, expected = json.loads(streamed), json.loads(whole(report))
    table = written.pop("shared_evidence")
    uses: dict[str, int] = {}
    for f in expected["findings"]:
        for value in f["evidence"].values():
            if value and isinstance(value, dict | list) and len(canonical(value)) >= 256:
                uses[canonical(value)] = uses.get(canonical(value), 0) + 1
    for got, want in zip(written["findings"], expected["findings"], strict=True):
        for key, value in want["evidence"].items():
            looks_shared = isinstance(value, dict) and list(value) == ["$shared"]
            if uses.get(canonical(value), 0) >= 2 or looks_shared:
                assert list(got["evidence"][key]) == ["$shared"]
                assert table[got["evidence"][key]["$shared"]] == value
            else:
                assert got["evidence"][key] == value
        assert {k: v for k, v in got.items() if k != "evidence"} == {
            k: v for k, v in want.items() if k != "evidence"
        }
    assert {k: v for k, v in written.items() if k != "findings"} == {
        k: v for k, v in expected.items() if k != "findings"
    }
    assert len(table) == len({canonical(v) for v in table.values()})  # each value once
    assert Report.from_document(json.loads(streamed)) == report


def test_a_reference_to_nothing_is_a_clear_error(tmp_path: Path) -> None:
    report = evaluate(make_inventory(), load_rules())
    data = json.loads(dump_json(report))
    data["findings"][0]["evidence"]["x"] = {"$shared": "missing"}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="invalid report"):
        load_report(path)


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.sampled_from(["a", "b", "c", "é", "d\n"]), unique=True, max_size=4),
    members=st.lists(st.sampled_from(["111111111111", "222222222222"]), unique=True, max_size=2),
)
def test_a_streamed_snapshot_is_the_in_memory_snapshot_byte_for_byte(
    names: list[str], members: list[str]
) -> None:
    trails = [make_trail(name) for name in names]
    inventory = make_inventory(
        trails,
        accounts=[make_account(m) for m in members] or None,
        buckets=[make_bucket(f"bucket-{i}") for i in range(len(names))],
    )
    assert "".join(iter_json(inventory)) == whole(inventory)


def test_empty_collections_stay_inline() -> None:
    inventory = Inventory.model_validate(json.loads(dump_json(make_inventory([]))))
    assert "".join(iter_json(inventory)) == whole(inventory)
    assert '"trails": {}' in dump_json(inventory)


def test_streamed_files_round_trip_through_the_loaders(tmp_path: Path) -> None:
    """Snapshot and report written in pieces load back to equal models (the offline path)."""
    inventory = make_inventory(
        [make_trail("a"), make_trail("b", status=make_status(is_logging=False))]
    )
    report = evaluate(inventory, load_rules())
    snap, out = tmp_path / "snap.json", tmp_path / "report.json"
    write_files_atomic([(snap, iter_json(inventory)), (out, JsonReporter().chunks(report))])
    assert load_inventory(snap) == inventory
    assert load_report(out) == report
    again = evaluate(load_inventory(snap), load_rules())
    assert "".join(iter_json(again)).encode() == out.read_bytes()


def test_a_failure_while_streaming_leaves_every_previous_file_whole(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text("old json\n")
    (tmp_path / "report.html").write_text("old html\n")

    def broken() -> Any:
        yield "<html>"
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_files_atomic(
            [(tmp_path / "report.json", iter("new json\n")), (tmp_path / "report.html", broken())]
        )
    assert (tmp_path / "report.json").read_text() == "old json\n"
    assert (tmp_path / "report.html").read_text() == "old html\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json"]


@settings(max_examples=100, deadline=None)
@given(
    before=json_values,
    after=json_values,
    items=st.lists(json_values, max_size=4),
    sort_keys=st.booleans(),
)
def test_a_streamed_list_is_the_dumped_document_byte_for_byte(
    before: Any, after: Any, items: list[Any], sort_keys: bool
) -> None:
    """Brute force: the whole document with the items in place, dumped at once."""
    streamed_doc = {"z": before, "runs": [{"results": hole(), "b": after}], "a": []}
    reference = {"z": before, "runs": [{"results": items, "b": after}], "a": []}
    text = "".join(json_pieces(streamed_doc, iter(items), sort_keys=sort_keys))
    dumped = json.dumps(reference, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n"
    assert text == dumped
    top = "".join(json_pieces(hole(), iter(items), sort_keys=sort_keys))
    assert top == json.dumps(items, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n"


@settings(max_examples=30, deadline=None)
@given(found=st.lists(findings, max_size=5))
def test_every_streaming_reporter_writes_its_render(found: list[Finding]) -> None:
    report = evaluate(make_inventory(), load_rules())
    report = report.model_copy(update={"findings": report.findings + found})
    for name, cls in builtin_reporters().items():
        reporter = cls()
        if hasattr(reporter, "chunks"):
            assert "".join(reporter.chunks(report)) == reporter.render(report), name
