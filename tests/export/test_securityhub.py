"""AWS Security Hub: the `asff` format against the BatchImportFindings input shape of botocore's
service model, and `trailcheck export securityhub` against moto's Security Hub (import, update
instead of duplicate, PASS archived, other accounts through a role, --dry-run sends nothing)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from factories import make_bucket, make_inventory, make_trail

from trailcheck import docgen
from trailcheck.cli import main
from trailcheck.engine import evaluate
from trailcheck.export import securityhub
from trailcheck.model import Report, Status, Waiver, dump_json
from trailcheck.reports.asff import AsffReporter, asff_findings
from trailcheck.rules import load_rules

CALLER = "123456789012"  # moto's default account
OTHER = "111111111111"
ROOT = Path(__file__).resolve().parents[2]


def _report(*accounts: str) -> Report:
    """FAIL, PASS, ERROR and NOT_APPLICABLE findings in `accounts`, one FAIL waived."""
    trails = [
        make_trail(f"main-{a}", a, log_file_validation_enabled=False, kms_key_id=None)
        for a in accounts
    ]
    buckets = [make_bucket(t.s3_bucket_name, owner=t.account_id) for t in trails]
    report = evaluate(make_inventory(trails, buckets=buckets), load_rules(include_plugins=False))
    waived = next(i for i, f in enumerate(report.findings) if f.status is Status.FAIL)
    findings = list(report.findings)
    findings[waived] = findings[waived].model_copy(
        update={"waiver": Waiver(reason="accepted until the migration", owner="sec")}
    )
    return report.model_copy(update={"findings": findings})


# --------------------------------------------------------------------------- the ASFF shape


def _check(value: Any, shape: Any, path: str, problems: list[str]) -> None:
    """An independent walk of botocore's shape: required members, types, enums, lengths."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: not an object")
            return
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}.{name}: required")
        for name, item in value.items():
            if name not in shape.members:
                problems.append(f"{path}.{name}: not in the shape")
            else:
                _check(item, shape.members[name], f"{path}.{name}", problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: not a list")
            return
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            problems.append(f"{path}: more than {shape.metadata['max']} items")
        for i, item in enumerate(value):
            _check(item, shape.member, f"{path}[{i}]", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: not a map")
            return
        for k, v in value.items():
            _check(k, shape.key, f"{path} key", problems)
            _check(v, shape.value, f"{path}[{k}]", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: not a string")
            return
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not one of {shape.enum}")
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            problems.append(f"{path}: longer than {shape.metadata['max']}")
        if "min" in shape.metadata and len(value) < shape.metadata["min"]:
            problems.append(f"{path}: shorter than {shape.metadata['min']}")
    elif kind in ("integer", "long", "double", "float"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{path}: not a number")
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(f"{path}: not a boolean")


def test_asff_findings_match_the_batch_import_findings_input_shape() -> None:
    model = botocore.session.get_session().get_service_model("securityhub")
    shape = model.operation_model("BatchImportFindings").input_shape
    findings = asff_findings(_report(CALLER), "eu-west-1")
    statuses = {f["ProductFields"]["trailcheck/Status"] for f in findings}
    assert statuses >= {"FAIL", "PASS"}
    problems: list[str] = []
    _check({"Findings": findings}, shape, "input", problems)
    assert not problems, problems[:10]
    # also what botocore itself checks before sending
    from botocore.validate import ParamValidator

    report = ParamValidator().validate({"Findings": findings[:100]}, shape)
    assert not report.has_errors(), report.generate_report()


def test_asff_maps_every_verdict_and_keeps_ids_stable() -> None:
    report = _report(CALLER)
    first = {f["Id"]: f for f in asff_findings(report, "us-east-1")}
    assert len(first) == len(report.findings)  # one Id per finding
    again = {f["Id"] for f in asff_findings(_report(CALLER), "us-east-1")}
    assert again == set(first)  # the next scan's findings update these
    by_status = {
        (f["ProductFields"]["trailcheck/Status"], f["Compliance"]["Status"], f["RecordState"])
        for f in first.values()
    }
    assert ("FAIL", "FAILED", "ACTIVE") in by_status
    assert ("PASS", "PASSED", "ARCHIVED") in by_status
    waived = [f for f in first.values() if f.get("Workflow", {}).get("Status") == "SUPPRESSED"]
    assert len(waived) == 1 and waived[0]["Compliance"]["Status"] == "FAILED"
    assert "accepted until the migration" in waived[0]["Note"]["Text"]
    fail = next(f for f in first.values() if f["Compliance"]["Status"] == "FAILED")
    assert fail["Remediation"]["Recommendation"]["Text"]
    assert fail["ProductArn"] == f"arn:aws:securityhub:us-east-1:{CALLER}:product/{CALLER}/default"
    assert json.loads(AsffReporter().render(report)) == asff_findings(report)


# --------------------------------------------------------------------------- the export


def _hub_findings(boto: boto3.Session, **creds: str) -> list[dict[str, Any]]:
    client = boto.client("securityhub", region_name="us-east-1", **creds)
    return client.get_findings(MaxResults=100)["Findings"]


def test_export_imports_every_finding_and_the_next_run_updates_them(
    boto: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _report(CALLER)
    path = tmp_path / "report.json"
    path.write_text(dump_json(report))
    args = ["export", "securityhub", str(path), "--region", "us-east-1"]
    assert main(args) == 0
    assert f"{CALLER}: {len(report.findings)}/{len(report.findings)} finding(s) imported" in (
        capsys.readouterr().out
    )
    stored = _hub_findings(boto)
    assert len(stored) == len(report.findings)
    assert {f["Compliance"]["Status"] for f in stored} >= {"FAILED", "PASSED"}
    assert main(args) == 0  # the next run: the same Ids, updated, not duplicated
    assert len(_hub_findings(boto)) == len(report.findings)


def test_findings_of_another_account_need_a_role_and_are_listed_as_not_sent(
    boto: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _report(CALLER, OTHER)
    path = tmp_path / "report.json"
    path.write_text(dump_json(report))
    assert main(["export", "securityhub", str(path), "--region", "us-east-1"]) == 3
    captured = capsys.readouterr()
    assert f"{OTHER}: " in captured.out and "give --role-name" in captured.out
    mine = sum(1 for f in report.findings if f.account_id == CALLER)
    assert len(_hub_findings(boto)) == mine  # the caller's own were imported
    assert captured.err.startswith("trailcheck: error: ")
    assert len(captured.err.strip().splitlines()) == 1


def test_other_accounts_are_imported_through_the_role_given(
    boto: boto3.Session, tmp_path: Path
) -> None:
    org = boto.client("organizations")
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(Email="m@example.com", AccountName="member")["CreateAccountStatus"][
        "AccountId"
    ]
    report = _report(CALLER, member)
    path = tmp_path / "report.json"
    path.write_text(dump_json(report))
    args = ["export", "securityhub", str(path), "--region", "us-east-1", "-q"]
    assert main([*args, "--role-name", "OrganizationAccountAccessRole"]) == 0
    creds = boto.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="test"
    )["Credentials"]
    theirs = _hub_findings(
        boto,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert {f["AwsAccountId"] for f in theirs} == {member}
    assert len(theirs) == sum(1 for f in report.findings if f.account_id == member)


def test_dry_run_shows_the_requests_and_sends_nothing(
    boto: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _report(CALLER, OTHER)
    path = tmp_path / "report.json"
    path.write_text(dump_json(report))
    assert main(["export", "securityhub", str(path), "--dry-run", "--region", "eu-west-1"]) == 0
    captured = capsys.readouterr()
    requests = json.loads(captured.out)
    assert sum(len(r["Findings"]) for r in requests) == len(report.findings)
    assert {r["account"] for r in requests} == {CALLER, OTHER}
    assert all(len(r["Findings"]) <= securityhub.BATCH_SIZE for r in requests)
    assert "nothing sent" in captured.err
    assert _hub_findings(boto) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "eu-wset-1"], "--region: 'eu-wset-1' is not an AWS region"),
        (["--profile", "nope"], "--profile"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "report.json"
    path.write_text(dump_json(_report(CALLER)))
    assert main(["export", "securityhub", str(path), *args]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line


def test_the_export_has_its_own_client_path_and_policy() -> None:
    """Never the scanner's read-only session; exactly the calls its generated policy allows."""
    source = (ROOT / "trailcheck" / "export" / "securityhub.py").read_text()
    tree = ast.parse(source)
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not any(m.startswith("trailcheck.scanner") for m in imported)
    operations = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"get_caller_identity", "assume_role", "batch_import_findings"}
    }
    actions = {
        "get_caller_identity": "sts:GetCallerIdentity",
        "assume_role": "sts:AssumeRole",
        "batch_import_findings": "securityhub:BatchImportFindings",
    }
    assert {actions[o] for o in operations} == set(securityhub.EXPORT_ACTIONS)
    policy = json.loads((ROOT / "docs" / "iam-policy-securityhub-export.json").read_text())
    allowed = {a for s in policy["Statement"] for a in s["Action"]}
    assert allowed == set(securityhub.EXPORT_ACTIONS)
    assert policy == docgen.securityhub_export_policy()
    scan_policy = json.loads((ROOT / "docs" / "iam-policy.json").read_text())
    assert not any(
        a.startswith("securityhub:") for s in scan_policy["Statement"] for a in s["Action"]
    )


def test_a_fixed_finding_is_updated_to_passed_and_archived(
    boto: boto3.Session, tmp_path: Path
) -> None:
    rules = load_rules(include_plugins=False)

    def report_with(validation: bool) -> Path:
        trail = make_trail("main", CALLER, log_file_validation_enabled=validation)
        inventory = make_inventory([trail], buckets=[make_bucket(trail.s3_bucket_name, CALLER)])
        path = tmp_path / f"report-{validation}.json"
        path.write_text(dump_json(evaluate(inventory, rules)))
        return path

    args = ["export", "securityhub", "--region", "us-east-1", "-q"]
    assert main([*args[:2], str(report_with(False)), *args[2:]]) == 0
    before = {f["Id"]: f for f in _hub_findings(boto)}
    (failing,) = [
        f for f in before.values() if f["GeneratorId"] == "trailcheck/CT.TRAIL.LOG_VALIDATION"
    ]
    assert (failing["Compliance"]["Status"], failing["RecordState"]) == ("FAILED", "ACTIVE")
    assert main([*args[:2], str(report_with(True)), *args[2:]]) == 0
    after = {f["Id"]: f for f in _hub_findings(boto)}
    assert set(after) == set(before)  # the same findings, updated
    fixed = after[failing["Id"]]
    assert (fixed["Compliance"]["Status"], fixed["RecordState"]) == ("PASSED", "ARCHIVED")
