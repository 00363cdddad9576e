"""The bad-input corpus (tests/bad_inputs/cases.toml): each case exits 2 with exactly one line
on stderr, never a traceback, and leaves its input untouched. Hostile AWS values (markup,
escape sequences, bidi overrides, megabyte policies, undecodable bytes) render inert in every
format and on the terminal."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from factories import html_findings_strings, make_bucket, make_inventory, make_trail

from trailcheck.baseline import create_baseline
from trailcheck.cli import main
from trailcheck.engine import evaluate
from trailcheck.model import Inventory, Report, dump_json
from trailcheck.rules import load_rules

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["case"]


def _snapshot_text() -> str:
    return dump_json(make_inventory([make_trail(log_file_validation_enabled=False)]))


def _report() -> Report:
    inventory = make_inventory([make_trail(log_file_validation_enabled=False)])
    return evaluate(inventory, load_rules())


def _report_text() -> str:
    return dump_json(_report())


def _deep_evidence_snapshot() -> str:
    """A snapshot of the right shape whose trail carries a 5,000-deep value."""
    data = json.loads(_snapshot_text())
    trail = next(iter(data["trails"].values()))
    trail["event_selectors"] = "DEEP"
    return json.dumps(data).replace('"DEEP"', "[" * 5000 + "]" * 5000)


def _baseline_text() -> str:
    return dump_json(create_baseline(_report()))


def _edited(text: Callable[[], str], edit: Callable[[dict[str, Any]], object]) -> str:
    """`text()` (a valid document) with one value changed by `edit`."""
    data = json.loads(text())
    edit(data)
    return json.dumps(data)


def _first_trail(data: dict[str, Any]) -> dict[str, Any]:
    return next(iter(data["trails"].values()))


GENERATORS: dict[str, Callable[[], str | bytes]] = {
    "deep_json": lambda: "[" * 100_000 + "]" * 100_000,
    "deep_json_object": lambda: '{"a": ' * 50_000 + "1" + "}" * 50_000,
    "deep_toml": lambda: "fail_on = " + "[" * 50_000 + "]" * 50_000 + "\n",
    "deep_evidence_snapshot": _deep_evidence_snapshot,
    "huge_json": lambda: "[" + "0," * 5_000_000 + "0]",  # 10 MB
    "binary": lambda: bytes(range(256)) * 64,
    "nul_bytes": lambda: "\x00" * 1024,
    "long_integer": lambda: (
        '{"kind": "trailcheck-inventory", "schema_version": ' + "9" * 5000 + "}"
    ),
    "truncated_snapshot": lambda: _snapshot_text()[: len(_snapshot_text()) // 2],
    "truncated_report": lambda: _report_text()[:2000],
    "truncated_baseline": lambda: '{"kind": "trailcheck-baseline", "schema_version": 1, "entr',
    "snapshot_version_true": lambda: _edited(
        _snapshot_text, lambda d: d.update(schema_version=True)
    ),
    "snapshot_bool_for_int": lambda: _edited(
        _snapshot_text, lambda d: d["metadata"].update(api_calls={"cloudtrail:ListTrails": True})
    ),
    "snapshot_int_for_bool": lambda: _edited(
        _snapshot_text, lambda d: _first_trail(d).update(is_multi_region=1)
    ),
    "report_bool_for_int": lambda: _edited(_report_text, lambda d: d["summary"].update(total=True)),
    "report_version_true": lambda: _edited(_report_text, lambda d: d.update(schema_version=True)),
    "baseline_version_true": lambda: _edited(
        _baseline_text, lambda d: d.update(schema_version=True)
    ),
    "baseline_text_for_bool": lambda: _edited(
        _baseline_text, lambda d: d["entries"][0].update(waived="yes")
    ),
    "valid_snapshot": _snapshot_text,
    "valid_report": _report_text,
}


def _fingerprint(path: Path) -> str:
    """Bytes of a file, or names and bytes of a directory's files; '' when absent."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if path.is_dir():
        return json.dumps(sorted(str(p.relative_to(path)) for p in path.rglob("*")))
    return ""


def _materialise(case: dict[str, Any], tmp: Path) -> dict[str, str]:
    """The placeholder values for a case: its input and the valid files, in `tmp`."""
    (tmp / "valid").mkdir()
    places = {
        "tmp": str(tmp),
        "dir": str(tmp / "a-directory"),
        "file": str(tmp / "a-file.txt"),
        "snapshot": str(tmp / "valid" / "snapshot.json"),
        "report": str(tmp / "valid" / "report.json"),
    }
    Path(places["dir"]).mkdir()
    Path(places["file"]).write_text("keep me\n", encoding="utf-8")
    Path(places["snapshot"]).write_text(_snapshot_text(), encoding="utf-8")
    Path(places["report"]).write_text(_report_text(), encoding="utf-8")
    source = case.get("input")
    if source is None:
        return places
    target = tmp / "input" / (source.removeprefix("gen:") + ".in")
    target.parent.mkdir()
    name = source.removeprefix("gen:")
    if name == "directory":
        target.mkdir()
    elif name == "missing":
        pass
    elif source.startswith("gen:"):
        content = GENERATORS[name]()
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
    else:
        shutil.copyfile(CORPUS / "files" / source, target)
    places["input"] = str(target)
    return places


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any case that reached AWS would fail fast here (and the case would then not exit 2)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(
    case: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_aws: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    places = _materialise(case, tmp_path)
    args = [arg.format(**places) for arg in case["args"]]
    watched = [
        Path(places[k]) for k in ("input", "dir", "file", "snapshot", "report") if k in places
    ]
    before = [_fingerprint(p) for p in watched]
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("trailcheck: error:"), lines[0]
    assert case["message"] in lines[0], lines[0]
    assert len(lines[0]) < 600  # one readable line, even for a 10 MB input
    assert code == 2
    assert [_fingerprint(p) for p in watched] == before


def test_the_corpus_files_are_all_used() -> None:
    used = {c.get("input") for c in CASES}
    assert {p.name for p in (CORPUS / "files").iterdir()} <= used
    assert {c["input"][4:] for c in CASES if c.get("input", "").startswith("gen:")} <= set(
        GENERATORS
    ) | {"directory", "missing"}


# ----------------------------------------------------------------------------- hostile values

SCRIPT = "<script>alert(1)</script>"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b1m"  # set the title, clear, colour, C1 CSI
BIDI = "\u202egnp.exe"
UNDECODABLE = "\udcff\udcfe"  # bytes that were not UTF-8, as Python's surrogateescape keeps them
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_inventory() -> Inventory:
    name = f"t{SCRIPT}{ESCAPES}{BIDI}{UNDECODABLE}"
    bucket = f"logs{ESCAPES}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"{SCRIPT}{ESCAPES}" + "x" * 1_000_000,
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    trail = make_trail(
        name,
        s3_bucket_name=bucket,
        log_file_validation_enabled=False,
        s3_key_prefix=f"{UNDECODABLE}{ESCAPES}",
    )
    return make_inventory([trail], buckets=[make_bucket(bucket, policy=policy)])


def test_hostile_aws_values_are_inert_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = tmp_path / "hostile.json"
    # ASCII JSON: the undecodable bytes travel as the escapes "\udcff\udcfe"
    data = hostile_inventory().model_dump(mode="json")
    snap.write_text(json.dumps(data, ensure_ascii=True), encoding="utf-8")
    before = _fingerprint(snap)
    out_dir = tmp_path / "out"
    formats = "json,html,md,csv,sarif,junit,ocsf"
    code = main(["evaluate", str(snap), "--format", formats, "--output-dir", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 1  # judged: the trail fails, nothing crashed
    assert "Traceback" not in out + err
    assert _fingerprint(snap) == before
    terminal = out + err
    assert "\\x1b]0;pwned" in terminal  # shown, escaped
    assert not RAW_CONTROL.search(terminal)
    for name in ("report.md", "report.csv"):
        text = (out_dir / name).read_text(encoding="utf-8")
        assert not RAW_CONTROL.search(text), name
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert SCRIPT not in html and any(SCRIPT in s for s in html_findings_strings(html))
    markdown = (out_dir / "report.md").read_text(encoding="utf-8")
    assert SCRIPT not in re.sub(r"``.*?``|`[^`]*`", "", markdown)
    for name in ("report.json", "report.sarif", "report.ocsf.json"):
        json.loads((out_dir / name).read_text(encoding="utf-8"))  # still valid JSON
    assert "<script>" not in (out_dir / "report.junit.xml").read_text(encoding="utf-8")
