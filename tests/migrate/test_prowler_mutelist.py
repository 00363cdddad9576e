"""`trailcheck waivers import mutelist.yaml`: a Prowler mutelist becomes trailcheck waivers that
load, resolve against the rules and waive the findings the mutes covered; what cannot be carried
over is listed with why."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from factories import make_inventory, make_trail
from hypothesis import given, settings
from hypothesis import strategies as st

from trailcheck.cli import main
from trailcheck.config import load_config, resolve
from trailcheck.engine import evaluate
from trailcheck.migrate.prowler import convert, load_check_map, resource_glob
from trailcheck.regions import known_regions
from trailcheck.rules import load_rules

PROD, DEV = "111111111111", "222222222222"

MUTELIST = f"""
Mutelist:
  Accounts:
    "{PROD}":
      Checks:
        "cloudtrail_log_file_validation_enabled":
          Regions:
            - "us-east-1"
          Resources:
            - "legacy-trail"
          Description: "Legacy trail, replaced in Q1"
        "cloudtrail_insights_exist":
          Regions: ["*"]
          Resources: ["*"]
        "ec2_instance_public_ip":
          Regions: ["*"]
          Resources: ["*"]
    "*":
      Checks:
        "s3_*":
          Regions: ["*"]
          Resources: ["^arn:aws:s3:::logs-.*$"]
          Exceptions:
            Accounts: ["{DEV}"]
        "cloudwatch_log_metric_filter_root_usage":
          Regions: ["*"]
          Resources: ["*"]
          Tags: ["environment=dev"]
        "kms_cmk_rotation_enabled":
          Regions: ["*"]
          Resources: ["(alias|key)/[0-9]+"]
          Exceptions:
            Regions: ["eu-west-1"]
"""


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "mutelist.yaml"
    path.write_text(MUTELIST)
    code = main(["waivers", "import", str(path), "--expires", "2027-03-31", *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_mutelist_becomes_waivers_that_load_and_resolve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "waivers.toml"
    code, _, err = _run(tmp_path, capsys, "--owner", "platform-team", "-o", str(target))
    assert code == 0
    policy = resolve(load_config(target), load_rules(include_plugins=False), target)
    by_rule = {w.rule: w for w in policy.waivers}
    validation = by_rule["CT.TRAIL.LOG_VALIDATION"]
    assert validation.accounts == [PROD] and validation.regions == ["us-east-1"]
    assert validation.resources == ["*legacy-trail*"]
    assert validation.reason.startswith("Legacy trail, replaced in Q1")
    assert validation.owner == "platform-team" and validation.expires == date(2027, 3, 31)
    # s3_* → every bucket rule Prowler's S3 checks map to, with the anchored pattern as a glob
    assert by_rule["CT.BUCKET.VERSIONING"].resources == ["arn:aws:s3:::logs-*"]
    assert by_rule["CT.BUCKET.VERSIONING"].accounts == ["*"]
    lines = err.splitlines()

    def said(where: str, why: str) -> bool:
        return any(line.startswith(f"not mapped: {where}") and why in line for line in lines)

    assert said(
        f"Accounts.{PROD}.Checks.cloudtrail_insights_exist", "no rule on CloudTrail Insights"
    )
    assert said(f"Accounts.{PROD}.Checks.ec2_instance_public_ip", "no trailcheck rule tests")
    assert said("Accounts.*.Checks.s3_*.Exceptions.Accounts", "a waiver has no exceptions")
    assert said(
        "Accounts.*.Checks.cloudwatch_log_metric_filter_root_usage.Tags", "do not match tags"
    )
    assert said("Accounts.*.Checks.kms_cmk_rotation_enabled.Resources", "no glob expresses")
    assert "CT.MON.ROOT_USAGE" not in by_rule  # a tag-scoped mute is never widened to all
    assert "CT.KMS.ROTATION" not in by_rule  # nor a resource pattern no glob expresses
    assert lines[-1].startswith(f"{len(policy.waivers)} waiver(s) made (expire 2027-03-31")


def test_region_exceptions_become_every_other_region() -> None:
    document = {
        "Mutelist": {
            "Accounts": {
                PROD: {
                    "Checks": {
                        "cloudtrail_multi_region_enabled": {
                            "Regions": ["*"],
                            "Resources": ["*"],
                            "Exceptions": {"Regions": ["eu-west-1"]},
                        }
                    }
                }
            }
        }
    }
    result = convert(document, owner="o", expires=date(2027, 1, 1), known_regions=known_regions())
    (waiver,) = result.waivers
    assert "eu-west-1" not in waiver.regions
    assert set(waiver.regions) == known_regions() - {"eu-west-1"}


def test_converted_waivers_waive_what_the_mute_covered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "waivers.toml"
    assert _run(tmp_path, capsys, "-o", str(target))[0] == 0
    policy = resolve(load_config(target), load_rules(include_plugins=False), target)
    trails = [
        make_trail("legacy-trail", PROD, log_file_validation_enabled=False),
        make_trail("main", PROD, log_file_validation_enabled=False),
        make_trail("legacy-trail", DEV, log_file_validation_enabled=False),
    ]
    report = evaluate(make_inventory(trails), policy.rules, waivers=policy.waivers)
    validation = {
        (f.account_id, f.resource_arn.rsplit("/", 1)[-1]): f.waiver is not None
        for f in report.findings
        if f.rule_id == "CT.TRAIL.LOG_VALIDATION" and f.status == "FAIL"
    }
    assert validation == {
        (PROD, "legacy-trail"): True,
        (PROD, "main"): False,
        (DEV, "legacy-trail"): False,
    }


def test_every_mapped_rule_exists() -> None:
    ids = {r.id for r in load_rules(include_plugins=False)}
    for check, rules in load_check_map().mapped.items():
        assert rules and set(rules) <= ids, check


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Mutelist: [unclosed\n", "not valid YAML (line 2)"),
        ("- a list\n", "not a Prowler mutelist"),
    ],
)
def test_bad_mutelist_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(content)
    assert main(["waivers", "import", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("trailcheck: error:") and message in line


def test_an_existing_output_file_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "trailcheck.toml"
    target.write_text("fail_on = 'high'\n")
    code, _, err = _run(tmp_path, capsys, "-o", str(target))
    assert code == 2 and "never overwritten" in err
    assert target.read_text() == "fail_on = 'high'\n"


# A Prowler resource pattern built from literal pieces, `.*` gaps and optional anchors.
literal = st.text(alphabet="abc-:/.", min_size=1, max_size=5)
pieces = st.lists(st.one_of(literal, st.just(".*"), st.just(".")), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(pieces, st.booleans(), st.booleans(), st.text(alphabet="abc-:/.x", max_size=14))
def test_resource_glob_matches_what_prowlers_search_matches(
    parts: list[str], start: bool, end: bool, subject: str
) -> None:
    import fnmatch

    body = "".join(p if p in (".*", ".") else re.escape(p).replace("\\-", "-") for p in parts)
    pattern = ("^" if start else "") + body + ("$" if end else "")
    glob = resource_glob(pattern)
    if glob is None:
        return  # said to be unmappable: listed, never guessed
    # Reference: Prowler's own test, re.search of the pattern in the resource id.
    assert fnmatch.fnmatchcase(subject, glob) == bool(re.search(pattern, subject)), (pattern, glob)
