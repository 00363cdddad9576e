"""Every reporter renders the sample report; each CI format is checked against its schema
(SARIF: the OASIS JSON schema; OCSF: py-ocsf-models; JUnit: a strict Surefire-structure check)."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ci_samples import NASTY, sample_report
from pydantic import BaseModel

from trailcheck.baseline import fingerprint
from trailcheck.model import Report, Status
from trailcheck.reports import builtin_reporters, get_reporters
from trailcheck.reports import markdown as md_module

SCHEMAS = Path(__file__).parent.parent / "schemas"
FILENAMES = {
    "json": "report.json",
    "html": "report.html",
    "sarif": "report.sarif",
    "junit": "report.junit.xml",
    "md": "report.md",
    "csv": "report.csv",
    "ocsf": "report.ocsf.json",
    "asff": "report.asff.json",
}


@pytest.fixture(scope="module")
def report() -> Report:
    return sample_report()


def render(name: str, report: Report) -> str:
    return builtin_reporters()[name]().render(report)


# ----------------------------------------------------------------------------- every reporter


@pytest.mark.parametrize("name", sorted(builtin_reporters()))
def test_every_reporter_renders_the_sample_deterministically(name: str, report: Report) -> None:
    first = render(name, report)
    assert first.strip()
    assert render(name, report) == first
    assert render(name, Report.model_validate_json(report.model_dump_json())) == first


def test_reporter_names_and_files() -> None:
    assert {n: cls.filename for n, cls in builtin_reporters().items()} == FILENAMES
    assert [r.name for r in get_reporters("sarif, junit,md,csv,ocsf,sarif")] == [
        "sarif",
        "junit",
        "md",
        "csv",
        "ocsf",
    ]


def test_json_report_carries_waivers_and_baseline(report: Report) -> None:
    data = json.loads(render("json", report))
    assert [w["state"] for w in data["waivers"]] == ["applied", "expired", "applied"]
    assert data["baseline"]["baseline"] == "baseline.json"
    assert Report.from_document(data) == report


# ----------------------------------------------------------------------------- SARIF


def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def test_sarif_is_valid_against_the_oasis_schema(report: Report) -> None:
    doc = json.loads(render("sarif", report))
    errors = sorted(sarif_validator().iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_sarif_schema_catches_a_broken_document(report: Report) -> None:
    doc = json.loads(render("sarif", report))
    doc["runs"][0]["results"][0]["level"] = "fatal"
    assert list(sarif_validator().iter_errors(doc))


def test_sarif_what_github_code_scanning_needs(report: Report) -> None:
    doc = json.loads(render("sarif", report))
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(report.rules)
    for r in rules:
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert r["help"]["text"] and r["help"]["markdown"]
        assert 0.0 <= float(r["properties"]["security-severity"]) <= 10.0
        assert "security" in r["properties"]["tags"]
    results = run["results"]
    expected = [f for f in report.findings if f.status in (Status.FAIL, Status.ERROR)]
    assert len(results) == len(expected)  # PASS and NOT_APPLICABLE are left out
    for result, finding in zip(results, expected, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding.rule_id
        assert result["partialFingerprints"] == {"trailcheckIdentity/v1": fingerprint(finding)}
        (location,) = result["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert ":" not in uri and not uri.startswith("/") and " " not in uri  # repo-relative
        assert location["logicalLocations"][0]["fullyQualifiedName"] == finding.resource_arn
        if finding.status is Status.FAIL:
            assert result["kind"] == "fail" and result["level"] in ("error", "warning", "note")
            assert result["baselineState"] in ("new", "unchanged")
        else:
            assert result["kind"] == "open" and result["level"] == "none"
            assert "baselineState" not in result
        if finding.waiver is not None:
            (suppression,) = result["suppressions"]
            assert suppression["kind"] == "external" and suppression["status"] == "accepted"
            assert finding.waiver.reason in suppression["justification"]
        else:
            assert "suppressions" not in result
    fps = [r["partialFingerprints"]["trailcheckIdentity/v1"] for r in results]
    assert len(set(fps)) == len(fps)


# ----------------------------------------------------------------------------- JUnit


def check_surefire(root: ET.Element) -> dict[str, int]:
    """A strict check of the Jenkins/Surefire JUnit structure; returns the totals."""
    assert root.tag == "testsuites"
    assert set(root.attrib) <= {"name", "tests", "failures", "errors", "skipped", "time"}
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root:
        assert suite.tag == "testsuite"
        assert {"name", "tests", "failures", "errors", "skipped", "time"} <= set(suite.attrib)
        assert set(suite.attrib) <= {
            "name",
            "tests",
            "failures",
            "errors",
            "skipped",
            "time",
            "timestamp",
        }
        counts = dict.fromkeys(totals, 0)
        for case in suite:
            assert case.tag == "testcase"
            assert set(case.attrib) == {"name", "classname", "time"}
            float(case.attrib["time"])
            counts["tests"] += 1
            children = list(case)
            assert len(children) <= 1
            for child in children:
                assert child.tag in ("failure", "error", "skipped")
                assert "message" in child.attrib
                if child.tag != "skipped":
                    assert child.attrib["type"] and (child.text or "").strip()
                counts[
                    {"failure": "failures", "error": "errors", "skipped": "skipped"}[child.tag]
                ] += 1
        for key, value in counts.items():
            assert int(suite.attrib[key]) == value, (suite.attrib["name"], key)
            totals[key] += value
        float(suite.attrib["time"])
    for key, value in totals.items():
        assert int(root.attrib[key]) == value
    return totals


def test_junit_structure_and_outcomes(report: Report) -> None:
    text = render("junit", report)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    totals = check_surefire(ET.fromstring(text.encode("utf-8")))
    f = report.findings
    unwaived = [x for x in f if x.waiver is None]
    assert totals == {
        "tests": len(f),
        "failures": sum(x.status is Status.FAIL for x in unwaived),
        "errors": sum(x.status is Status.ERROR for x in unwaived),
        "skipped": len(f)
        - len(unwaived)
        + sum(x.status is Status.NOT_APPLICABLE for x in unwaived),
    }


def test_junit_survives_markup_and_control_characters(report: Report) -> None:
    root = ET.fromstring(render("junit", report).encode("utf-8"))
    names = [c.attrib["name"] for c in root.iter("testcase")]
    assert any("<script>" in n for n in names)  # escaped, parsed back intact
    assert not any("\x07" in n for n in names)  # XML 1.0 cannot carry it


# ----------------------------------------------------------------------------- CSV


def test_csv_one_row_per_finding(report: Report) -> None:
    text = render("csv", report)
    assert "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(report.findings)
    for row, finding in zip(rows, report.findings, strict=True):
        assert row["fingerprint"] == fingerprint(finding)
        assert row["verdict"] == finding.status.value
        assert row["status"] == ("WAIVED" if finding.waiver else finding.status.value)
    nasty = [r for r in rows if NASTY[:4] in r["resource_arn"]]
    assert nasty and all(not r["reason"].startswith("=") for r in rows)
    waived = [r for r in rows if r["status"] == "WAIVED"]
    assert waived and all(r["waiver_owner"] == "platform" for r in waived)
    assert {r["baseline_state"] for r in rows if r["verdict"] == "FAIL"} <= {"new", "unchanged"}


def test_csv_neutralises_formulas() -> None:
    from trailcheck.reports.csv_report import _safe

    assert [_safe(v) for v in ("=1+1", "+x", "-x", "@x", "ok", "")] == [
        "'=1+1",
        "'+x",
        "'-x",
        "'@x",
        "ok",
        "",
    ]


# ----------------------------------------------------------------------------- OCSF


def unknown_keys(model: BaseModel, data: Any, path: str = "") -> list[str]:
    """Keys in `data` that the validated OCSF model does not define (pydantic ignores them)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        return problems
    fields = type(model).model_fields
    for key, value in data.items():
        if key not in fields:
            problems.append(f"{path}{key}")
            continue
        attr = getattr(model, key)
        if isinstance(attr, BaseModel):
            problems += unknown_keys(attr, value, f"{path}{key}.")
        elif isinstance(attr, list):
            for i, (item, raw) in enumerate(zip(attr, value, strict=True)):
                if isinstance(item, BaseModel):
                    problems += unknown_keys(item, raw, f"{path}{key}[{i}].")
    return problems


def test_ocsf_events_are_valid_compliance_findings(report: Report) -> None:
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
    from py_ocsf_models.objects.cloud import Cloud

    events = json.loads(render("ocsf", report))
    assert len(events) == len(report.findings)
    for event, finding in zip(events, report.findings, strict=True):
        model = ComplianceFinding.model_validate(event)
        # `cloud` is the OCSF cloud profile, which the class model leaves out: check it apart
        Cloud.model_validate(event["cloud"])
        assert unknown_keys(model, {k: v for k, v in event.items() if k != "cloud"}) == []
        assert unknown_keys(Cloud.model_validate(event["cloud"]), event["cloud"]) == []
        assert (event["class_uid"], event["category_uid"], event["type_uid"]) == (
            2003,
            2,
            200301,
        )
        assert event["finding_info"]["uid"] == fingerprint(finding)
        assert (
            event["compliance"]["status_id"]
            == {
                Status.PASS: 1,
                Status.FAIL: 3,
                Status.ERROR: 2,
                Status.NOT_APPLICABLE: 99,
            }[finding.status]
        )
        assert event["status_id"] == (3 if finding.waiver else 1)
        assert event["cloud"]["account"]["uid"] == finding.account_id
        assert event["time"] == int(report.metadata.scan_started_at.timestamp() * 1000)


def test_ocsf_check_catches_a_misspelled_key(report: Report) -> None:
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

    event = json.loads(render("ocsf", report))[0]
    event["finding_info"]["titel"] = "x"
    assert unknown_keys(ComplianceFinding.model_validate(event), event) == [
        "cloud",  # the profile, checked apart in the test above
        "finding_info.titel",
    ]


# ----------------------------------------------------------------------------- Markdown


def test_markdown_summary(report: Report) -> None:
    text = render("md", report)
    assert text.startswith("## trailcheck: ❌ ")
    assert "new failure(s) at or above low since the baseline" in text.splitlines()[0]
    for heading in (
        "### Failures",
        "### Could not decide (ERROR)",
        "Waived findings (",
        "### Waivers that need attention",
        "### Resolved since the baseline",
    ):
        assert heading in text
    # markup is inert: escaped in text, literal (never HTML) inside code spans
    outside_code = re.sub(r"``.*?``|`[^`]*`", "", text)
    assert "<script>" not in outside_code and "<script>" in text
    header_pipes = 0
    for line in text.splitlines():
        if line.startswith("|---") or line.startswith("| ---"):
            continue
        if line.startswith("| ") and NASTY[:4] not in line:
            header_pipes = line.replace("\\|", "").count("|")
        elif line.startswith("| "):
            # pipes inside cells are escaped: the row keeps its table's column count
            assert line.replace("\\|", "").count("|") == header_pipes


def test_markdown_caps_long_tables(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(md_module, "ROW_LIMIT", 1)
    text = render("md", report)
    assert "more in the full report." in text


def test_markdown_all_clear() -> None:
    clean = sample_report(with_baseline=False).model_copy(update={"findings": []})
    assert render("md", clean).startswith("## trailcheck: ✅ no failure at or above low")


def test_html_shows_baseline_and_waivers_needing_attention(report: Report) -> None:
    html = render("html", report)
    assert "Resolved since the baseline (1)" in html
    assert "Waivers that need attention" in html and "waivers[1]" in html
    assert "<script>alert(1)</script>" not in html  # autoescaped
