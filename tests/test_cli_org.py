"""`trailcheck scan --org` / `collect --org`: flags, errors, and an end-to-end run in moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto import mock_aws
from org_world import build_org_world

from trailcheck.cli import main
from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.errors import UserError
from trailcheck.scanner.org import RoleSpec


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scan", "--accounts", "123456789012"], "--accounts: only meaningful with --org"),
        (["collect", "-o", "x.json", "--ou", "Prod"], "--ou: only meaningful with --org"),
        (["scan", "--org", "--accounts", "12345"], "'12345' is not a 12-digit AWS account id"),
        (["scan", "--org", "--exclude-accounts", "abc"], "--exclude-accounts: 'abc'"),
        (["scan", "--org", "--role-name", "a b"], "--role-name: 'a b' is not a valid IAM role"),
        (["scan", "--org", "--external-id", "x"], "--external-id: 2 to 1224 characters"),
        (["scan", "--org", "--role-arn-template", "arn:aws:iam::1:role/R"], "{account_id}"),
        (
            ["scan", "--org", "--role-arn-template", "arn:aws:iam::{account_id}:role/{x}"],
            "unknown placeholder 'x'",
        ),
        (
            ["scan", "--org", "--role-arn-template", "{account_id}", "--role-name", "R"],
            "give it instead of --role-name",
        ),
        (["scan", "--org", "--role-arn-template", "role-{account_id}"], "does not make an IAM"),
        (["scan", "--org", "--max-workers", "0"], "--max-workers"),
    ],
)
def test_bad_org_flags_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_role_spec_normalises_the_path() -> None:
    assert RoleSpec.parse("R", "audit").arn("111111111111", "aws") == (
        "arn:aws:iam::111111111111:role/audit/R"
    )
    assert RoleSpec.parse(path="/").arn("111111111111", "aws-cn") == (
        "arn:aws-cn:iam::111111111111:role/OrganizationAccountAccessRole"
    )
    template = RoleSpec.parse(arn_template="arn:{partition}:iam::{account_id}:role/{role_name}")
    assert template.arn("111111111111", "aws") == (
        "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"
    )
    with pytest.raises(UserError, match="--role-path"):
        RoleSpec.parse(path="/a b/")


def test_scan_org_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws(), faithful_moto():
        world = build_org_world()
        out = tmp_path / "out"
        code = main(["scan", "--org", "--region", "us-east-1", "--output-dir", str(out), "-q"])
        snapshot = tmp_path / "snap.json"
        argv = ["collect", "--org", "--ou", "Workloads/Prod", "-o", str(snapshot)]
        collected = main([*argv, "--max-workers", "2"])
    assert code == 1  # dev-a's trail fails validation; the orphan is an ERROR
    assert collected == 0
    report = json.loads((out / "report.json").read_text())
    meta = report["metadata"]
    assert meta["organization_id"] == world.organization_id
    assert meta["management_account_id"] == world.management
    assert meta["skipped_accounts"] == [
        {"account_id": world.accounts["closed"], "name": "closed", "status": "SUSPENDED"}
    ]
    assert meta["account_info"][world.accounts["dev-a"]] == {
        "name": "dev-a",
        "ou_path": "Root/Workloads/Dev",
    }
    assert meta["unreachable_accounts"] == [world.accounts["orphan"]]
    html = (out / "report.html").read_text()
    assert 'id="organization"' in html and "Root/Workloads/Prod" in html
    inventory = json.loads(snapshot.read_text())
    assert sorted(inventory["accounts"]) == sorted(
        [world.accounts["prod-a"], world.accounts["prod-b"]]
    )
