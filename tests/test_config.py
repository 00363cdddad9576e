"""The config file: a table of bad files → the exact one-line message; resolution; `init`."""
# ruff: noqa: E501  (the table of exact messages reads best one case per line)

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from trailcheck.config import (
    Config,
    find_config,
    load_config,
    resolve,
    starter_config,
)
from trailcheck.errors import UserError
from trailcheck.model import Severity
from trailcheck.rules import load_rules

WAIVER = """
[[waivers]]
rule = "CT.TRAIL.LOGGING"
accounts = ["111111111111"]
reason = "r"
owner = "o"
expires = 2026-12-31
"""

BAD_FILES = [
    ("fail_on = 3", "fail_on: expected one of info, low, medium, high, critical, got 3"),
    (
        'fail_on = "severe"',
        "fail_on: expected one of info, low, medium, high, critical, got 'severe'",
    ),
    (
        'colour = "red"',
        "colour: unknown key (expected one of: fail_on, formats, output_dir, params, rules, strict, "
        "waivers)",
    ),
    (
        "[rules]\nenabel = []",
        "rules.enabel: unknown key (expected one of: disable, enable, severity)",
    ),
    ('[rules]\nenable = "CT.*"', 'rules.enable: expected a list, e.g. ["a", "b"], got \'CT.*\''),
    (
        '[rules]\ndisable = ["CT.NOPE.RULE"]',
        "rules.disable[0]: unknown rule id 'CT.NOPE.RULE' (see `trailcheck rules`)",
    ),
    (
        '[rules]\nenable = ["XX.*"]',
        "rules.enable[0]: pattern 'XX.*' matches no rule (see `trailcheck rules`)",
    ),
    (
        '[rules.severity]\n"CT.TRAIL.LOGGING" = "urgent"',
        "rules.severity.\"CT.TRAIL.LOGGING\": expected one of info, low, medium, high, critical, got 'urgent'",
    ),
    (
        '[rules.severity]\n"CT.NOPE.X" = "low"',
        "rules.severity.\"CT.NOPE.X\": unknown rule id 'CT.NOPE.X' (see `trailcheck rules`)",
    ),
    (
        '[params."CT.TRAIL.CLOUDWATCH_LOGS"]\nmax_delivery_age_hours = "soon"',
        "params.\"CT.TRAIL.CLOUDWATCH_LOGS\".max_delivery_age_hours: expected an integer, got 'soon'",
    ),
    (
        '[params."CT.TRAIL.CLOUDWATCH_LOGS"]\nmax_delivery_age_hours = 0',
        'params."CT.TRAIL.CLOUDWATCH_LOGS".max_delivery_age_hours: input should be greater than or equal to 1, got 0',
    ),
    (
        '[params."CT.TRAIL.CLOUDWATCH_LOGS"]\nmax_age = 3',
        'params."CT.TRAIL.CLOUDWATCH_LOGS".max_age: unknown parameter (expected max_delivery_age_hours)',
    ),
    (
        '[params."CT.TRAIL.LOGGING"]\ndays = 3',
        'params."CT.TRAIL.LOGGING".days: unknown parameter (expected none: the rule has no parameters)',
    ),
    (
        '[params."CT.NOPE.X"]\ndays = 3',
        "params.\"CT.NOPE.X\": unknown rule id 'CT.NOPE.X' (see `trailcheck rules`)",
    ),
    (
        '[params."CT.TRAIL.*"]\ndays = 3',
        'params."CT.TRAIL.*": expected an exact rule id (parameters differ from rule to rule)',
    ),
    (
        'formats = ["json", "pdf"]',
        "formats[1]: unknown format 'pdf' (expected one of: asff, csv, html, json, junit, md, ocsf, sarif)",
    ),
    (
        WAIVER.replace("2026-12-31", '"soon"'),
        "waivers[0].expires: expected a date (YYYY-MM-DD), got 'soon'",
    ),
    (WAIVER.replace("expires = 2026-12-31", ""), "waivers[0].expires: missing required key"),
    (WAIVER.replace('owner = "o"', 'owner = " "'), "waivers[0].owner: expected a non-empty text"),
    (
        WAIVER.replace('reason = "r"', 'reason = ""'),
        "waivers[0].reason: string should have at least 1 character, got ''",
    ),
    (
        WAIVER.replace('"111111111111"', '"1111"'),
        "waivers[0].accounts: expected a 12-digit account id or \"*\", got '1111'",
    ),
    (
        WAIVER.replace('accounts = ["111111111111"]', ""),
        'waivers[0]: expected a scope: accounts, ous, regions or resources (accounts = ["*"] for every account)',
    ),
    (
        WAIVER.replace('rule = "CT.TRAIL.LOGGING"', 'rule = "CT.NOPE.*"'),
        "waivers[0].rule: pattern 'CT.NOPE.*' matches no rule (see `trailcheck rules`)",
    ),
    (
        WAIVER + 'team = "x"\n',
        "waivers[0].team: unknown key (expected one of: accounts, expires, ous, owner, reason, regions, resources, rule)",
    ),
    ("fail_on = \n", "not valid TOML: Invalid value (at line 1, column 11)"),
    ('waivers = "none"', 'waivers: expected a list, e.g. ["a", "b"], got \'none\''),
]


@pytest.mark.parametrize(
    ("text", "message"), BAD_FILES, ids=[m.split(":")[0] for _, m in BAD_FILES]
)
def test_bad_config_is_one_exact_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "trailcheck.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        resolve(load_config(path), load_rules(), path)
    assert str(caught.value) == f"{path}: {message}"
    assert "\n" not in str(caught.value)
    assert path.read_text(encoding="utf-8") == text  # never modified


def test_several_problems_are_counted_on_the_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('fail_on = "x"\nformats = 3\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"\(and 1 more problem\(s\)\)$"):
        load_config(path)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p.mkdir(), "is a directory, not a config file"),
        (lambda p: p.write_bytes(b"\xff\xfe"), "cannot read config"),
    ],
)
def test_unreadable_config(tmp_path: Path, setup: object, message: str) -> None:
    path = tmp_path / "trailcheck.toml"
    setup(path)  # type: ignore[operator]
    with pytest.raises(UserError, match=message):
        load_config(path)


def test_find_config(tmp_path: Path) -> None:
    assert find_config(None, tmp_path) is None
    (tmp_path / "trailcheck.toml").write_text("")
    assert find_config(None, tmp_path) == tmp_path / "trailcheck.toml"
    assert find_config(tmp_path / "trailcheck.toml") == tmp_path / "trailcheck.toml"
    with pytest.raises(UserError, match=r"^--config: .*missing\.toml: no such file$"):
        find_config(tmp_path / "missing.toml", tmp_path)


def test_resolve_selection_severity_and_params(tmp_path: Path) -> None:
    path = tmp_path / "trailcheck.toml"
    path.write_text(
        """
fail_on = "high"
formats = ["sarif", "md"]
output_dir = "out"
[rules]
enable = ["CT.TRAIL.*", "CT.KMS.ROTATION"]
disable = ["CT.TRAIL.DELIVERY_HEALTH"]
[rules.severity]
"CT.TRAIL.LOGGING" = "critical"
"CT.TRAIL.*" = "low"
[params."CT.TRAIL.CLOUDWATCH_LOGS"]
max_delivery_age_hours = 48
""",
        encoding="utf-8",
    )
    policy = resolve(load_config(path), load_rules(), path)
    ids = [r.id for r in policy.rules]
    assert "CT.TRAIL.DELIVERY_HEALTH" not in ids
    assert "CT.ACCOUNT.MULTI_REGION_TRAIL" not in ids
    assert {"CT.TRAIL.LOGGING", "CT.KMS.ROTATION"} <= set(ids)
    # the exact id wins over the glob whatever the order
    assert policy.severity["CT.TRAIL.LOGGING"] is Severity.CRITICAL
    assert policy.severity["CT.TRAIL.LOG_VALIDATION"] is Severity.LOW
    assert policy.params == {"CT.TRAIL.CLOUDWATCH_LOGS": {"max_delivery_age_hours": 48}}
    assert (policy.fail_on, policy.formats, str(policy.output_dir)) == (
        Severity.HIGH,
        "sarif,md",
        "out",
    )


def test_empty_config_changes_nothing() -> None:
    rules = load_rules()
    policy = resolve(Config(), rules)
    assert [r.id for r in policy.rules] == [r.id for r in rules]
    assert (policy.severity, policy.params, policy.waivers) == ({}, {}, ())


def test_starter_config_is_valid_toml_with_every_parameterised_rule(tmp_path: Path) -> None:
    rules = load_rules()
    text = starter_config(rules)
    assert tomllib.loads(text)["fail_on"] == "low"
    path = tmp_path / "trailcheck.toml"
    path.write_text(text, encoding="utf-8")
    resolve(load_config(path), rules, path)  # the starter file validates as written
    for rule in rules:
        if rule.params.model_fields:
            assert f'# [params."{rule.id}"]' in text
    # and uncommenting the sample waiver and parameters gives a valid file too
    uncommented = "\n".join(
        line[2:] if line.startswith("# ") and ("=" in line or line.startswith("# [")) else line
        for line in text.splitlines()
    )
    path.write_text(uncommented.replace("123456789012", "111111111111"), encoding="utf-8")
    policy = resolve(load_config(path), rules, path)
    assert len(policy.waivers) == 1
