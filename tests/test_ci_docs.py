"""docs/configuration.md and docs/ci.md stay true: the example config validates, the CI
examples parse and use only options `trailcheck scan` has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from trailcheck.cli import main
from trailcheck.config import load_config, resolve
from trailcheck.rules import load_rules

DOCS = Path(__file__).parent.parent / "docs"


def blocks(name: str, language: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_configuration_example_is_valid(tmp_path: Path) -> None:
    example = blocks("configuration.md", "toml")[0]
    path = tmp_path / "trailcheck.toml"
    path.write_text(example, encoding="utf-8")
    policy = resolve(load_config(path), load_rules(), path)
    assert policy.waivers and policy.severity and policy.params


def test_ci_examples_parse_and_use_real_options(capsys: pytest.CaptureFixture[str]) -> None:
    yaml = pytest.importorskip("yaml")
    main(["scan", "--help"])
    scan_help = capsys.readouterr().out
    examples = blocks("ci.md", "yaml")
    assert len(examples) == 2
    for example in examples:
        yaml.safe_load(example)
        for command in re.findall(r"trailcheck scan[^\n]*(?:\n\s+--[^\n]*)*", example):
            options = [w for w in shlex.split(command) if w.startswith("--")]
            assert options
            for option in options:
                assert option in scan_help, option
