"""`rules`, `diff` and `events` output: 80 columns and pipes. Ids, times and ARNs are never cut;
piped output is csv with a header row (or json when asked)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from factories import make_inventory, make_trail
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from trailcheck.baseline import diff_reports
from trailcheck.changes.model import ChangeEvent
from trailcheck.cli import main
from trailcheck.engine import evaluate
from trailcheck.reports.diff import diff_listing, print_diff
from trailcheck.reports.listing import Listing, print_table, render_csv, render_json
from trailcheck.reports.timeline import print_timeline
from trailcheck.rules import load_rules


def _narrow(width: int = 80) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=width, color_system=None, highlight=False), buffer


def _assert_fits(text: str, width: int = 80) -> None:
    assert "…" not in text
    assert all(len(line) <= width for line in text.splitlines()), text


def test_rules_piped_is_csv_with_a_header_and_every_id_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rules"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in rows] == [r.id for r in load_rules()]
    assert set(rows[0]) == {"id", "severity", "title", "decides", "relates_to"}
    assert all(r["title"] for r in rows)


def test_rules_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in data} == {r.id for r in load_rules()}


def test_rules_table_at_80_columns_keeps_every_id_and_wraps_titles(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["rules", "--format", "table"]) == 0
    out = capsys.readouterr().out
    _assert_fits(out)
    lines = out.splitlines()
    for r in load_rules():
        assert any(line.startswith(f"{r.id}  ") for line in lines), r.id
        # the title is all there, wrapped over lines
        assert " ".join(r.title.split()) in " ".join(" ".join(lines).split())


def test_a_bad_listing_format_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--format", "xml"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("trailcheck: error: --format: unknown format 'xml'")


def _diff_of_two_scans() -> object:
    rules = load_rules()
    old = evaluate(make_inventory([make_trail("a", log_file_validation_enabled=False)]), rules)
    new = evaluate(
        make_inventory(
            [
                make_trail("b", log_file_validation_enabled=False),
                make_trail("a-very-long-trail-name-" + "x" * 60, log_file_validation_enabled=False),
            ]
        ),
        rules,
    )
    return diff_reports(old, new)


def test_diff_at_80_columns_keeps_ids_and_the_whole_reason() -> None:
    diff = _diff_of_two_scans()
    listing = diff_listing(diff)  # type: ignore[arg-type]
    console, buffer = _narrow()
    print_diff(diff, console)  # type: ignore[arg-type]
    text = buffer.getvalue()
    _assert_fits(text)
    flat = " ".join(text.split())
    for row in listing.rows:
        assert row[2] in text  # the rule id, on one line
        assert " ".join(row[6].split()) in flat  # the reason, wrapped but whole


def test_diff_csv_has_one_row_per_finding_and_the_header(tmp_path: Path) -> None:
    diff = _diff_of_two_scans()
    text = render_csv(diff_listing(diff))  # type: ignore[arg-type]
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "change",
        "severity",
        "rule",
        "account",
        "region",
        "resource",
        "reason",
        "note",
    ]
    assert len(rows) - 1 == len(diff_listing(diff).rows)  # type: ignore[arg-type]


def test_events_at_80_columns_keep_times_and_arns_whole() -> None:
    arn = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/organization-trail"  # 66 chars
    event = ChangeEvent(
        event_id="e1",
        event_time="2026-11-03T10:15:00Z",
        event_name="StopLogging",
        event_source="cloudtrail.amazonaws.com",
        account_id="111122223333",
        region="eu-west-1",
        principal_arn="arn:aws:sts::111122223333:assumed-role/Admin/alice",
        identity_type="AssumedRole",
        source_ip="203.0.113.9",
        user_agent="aws-cli/2",
        is_root=False,
        is_aws_service=False,
        resources=[arn],
    )
    console, buffer = _narrow()
    print_timeline([event], "Change events", console)
    text = buffer.getvalue()
    _assert_fits(text)
    assert "2026-11-03T10:15:00Z" in text
    assert arn in text  # on one line, never cut


cells = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cells, cells, cells), max_size=8))
def test_csv_and_json_give_back_every_cell(rows: list[tuple[str, str, str]]) -> None:
    # Reference: the rows themselves, as printable text (control characters made visible).
    from trailcheck.reports._util import printable

    listing = Listing(columns=("a", "b", "c"), rows=rows, keys=frozenset({"a"}))
    parsed = list(csv.reader(io.StringIO(render_csv(listing), newline="")))
    assert parsed[0] == ["a", "b", "c"]
    assert parsed[1:] == [[printable(v) for v in row] for row in rows]
    assert json.loads(render_json(listing)) == [dict(zip("abc", row, strict=True)) for row in rows]
    console, buffer = _narrow(60)
    print_table(listing, console)
    assert all(len(line) <= 60 for line in buffer.getvalue().splitlines())


def test_formats_piped_is_csv_with_a_header(capsys: pytest.CaptureFixture[str]) -> None:
    from trailcheck.reports import available

    assert main(["formats"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["format"]: r["file"] for r in rows} == {
        name: cls.filename for name, cls in available().items()
    }
