"""--region against botocore's partition data: a typo is exit 2 with the nearest names (never a
region silently dropped); a requested opt-in region an account has not enabled is said once."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from factories import make_account, make_inventory
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

from trailcheck.cli import main
from trailcheck.errors import UserError
from trailcheck.regions import known_regions, not_enabled_warnings, parse_regions


def test_a_mistyped_region_among_good_ones_is_exit_2_with_the_nearest_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["scan", "--region", "us-east-1", "--region", "us-east-9", "--output-dir", str(tmp_path)]
    assert main(args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("trailcheck: error: --region: 'us-east-9' is not an AWS region")
    assert "did you mean" in line and "us-east-1" in line
    assert not list(tmp_path.iterdir())  # refused before any AWS call, nothing written


@pytest.mark.parametrize("command", [["collect", "-o", "snap.json"], ["verify-logs"]])
def test_every_command_with_region_refuses_a_typo(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--region", "eu-wset-1"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "'eu-wset-1' is not an AWS region (did you mean eu-west-1" in line


def test_regions_of_every_partition_are_accepted() -> None:
    for region in ("us-east-1", "cn-north-1", "us-gov-west-1", "af-south-1"):
        assert region in known_regions()
    assert parse_regions(["eu-west-1", "us-east-1", "eu-west-1"]) == ("eu-west-1", "us-east-1")
    assert parse_regions(None) is None


@settings(deadline=None, max_examples=50)
@given(st.lists(st.sampled_from(sorted(known_regions())), min_size=1), st.text(max_size=12))
def test_parse_regions_accepts_exactly_the_known_names(regions: list[str], extra: str) -> None:
    # Reference: a name is accepted iff it is (stripped) one of botocore's regions.
    values = [*regions, extra]
    expected_ok = extra.strip() == "" or extra.strip() in known_regions()
    try:
        parsed = parse_regions(values)
    except UserError:
        assert not expected_ok
        return
    assert expected_ok
    assert parsed is not None and set(parsed) == {v.strip() for v in values if v.strip()}


def test_not_enabled_regions_are_said_once_per_region() -> None:
    accounts = [
        make_account("111111111111", regions=("us-east-1",)),
        make_account("222222222222", regions=("us-east-1", "af-south-1")),
        make_account("333333333333", regions=("us-east-1",)),
    ]
    inventory = make_inventory(trails=[], accounts=accounts)
    inventory = inventory.model_copy(
        update={
            "metadata": inventory.metadata.model_copy(
                update={"requested_regions": ("us-east-1", "af-south-1")}
            )
        }
    )
    assert not_enabled_warnings(inventory) == [
        "--region af-south-1: not enabled in 2 of 3 account(s) (111111111111, 333333333333; "
        "an opt-in region): not scanned there"
    ]


def test_scan_says_once_that_a_requested_opt_in_region_is_not_enabled(
    boto: boto3.Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # AWS's DescribeRegions (without AllRegions) omits the opt-in regions an account has not
    # enabled; moto lists them all, marked not-opted-in. Make moto answer as AWS does.
    enabled = [r for r in RegionsAndZonesBackend.regions if r.opt_in_status != "not-opted-in"]
    monkeypatch.setattr(RegionsAndZonesBackend, "regions", enabled)
    args = ["scan", "--region", "us-east-1", "--region", "me-south-1", "--output-dir"]
    main([*args, str(tmp_path)])
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if "me-south-1" in line]
    assert warned == [
        "warning: --region me-south-1: not enabled in 1 of 1 account(s) (123456789012; "
        "an opt-in region): not scanned there"
    ]
