"""The README stays true: what `make test` installs and how, the extras table, the Action's
example inputs, and every `trailcheck ...` command in it uses options the command has."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from trailcheck.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_says_what_make_test_installs_and_how() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    debs = re.search(r"^TEST_DEBS := (.+)$", makefile, flags=re.M)
    assert debs is not None
    section = README[README.index("`make test`") : README.index("### Extras")]
    for package in debs.group(1).split():
        assert f"`{package}`" in section, package
    assert "root" in section and "apt-get" in section and "skipped" in section
    assert "Both commands need only" not in README


def test_the_extras_table_lists_every_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    table = README[README.index("### Extras") :].split("\n\n")[1]
    for extra in project["project"]["optional-dependencies"]:
        assert f"'trailcheck[{extra}]'" in table, extra


def test_the_action_example_uses_real_inputs() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    (example,) = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    steps = yaml.safe_load(example)["jobs"]["trailcheck"]["steps"]
    ours = next(s for s in steps if "trailcheck@" in s["uses"])
    assert set(ours["with"]) <= set(action["inputs"])


def _commands() -> list[list[str]]:
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if "trailcheck " not in line:
                continue
            words = shlex.split(line[line.index("trailcheck ") :])
            found.append(words[1:])
    return found


@pytest.mark.parametrize("words", _commands(), ids=lambda w: " ".join(w)[:60])
def test_every_readme_command_uses_options_the_command_has(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = [w for w in words if not w.startswith("-")][:2]
    for length in (2, 1):  # the longest command path that has help
        capsys.readouterr()
        if main([*path[:length], "--help"]) == 0:
            help_text = capsys.readouterr().out
            break
    else:
        pytest.fail(f"no such command: {words}")
    for flag in (w.split("=")[0] for w in words if w.startswith("--")):
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text), (flag, words)
