"""The simulator the tests run on is a release whose quirks trailcheck maps, in one place.

moto renames IAM actions between releases (5.2.6 checks ListBuckets as `s3:ListBuckets`, AWS
evaluates `s3:ListAllMyBuckets`). When pip resolves a new moto, this module fails first and
names the mapping to extend, instead of a dozen least-privilege findings turning ERROR.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from trailcheck.demo.moto_server import (
    MOTO_ACTION_RENAMES,
    UnprovenMotoError,
    aws_iam_action,
    proven_moto_renames,
)

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _moto_requirements() -> dict[str, Requirement]:
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    found = {}
    for extra, requirements in extras.items():
        for text in requirements:
            requirement = Requirement(text)
            if requirement.name == "moto":
                found[extra] = requirement
    return found


def test_the_installed_moto_is_a_proven_release() -> None:
    installed = metadata.version("moto")
    assert installed in MOTO_ACTION_RENAMES, (
        f"moto {installed} is installed; extend MOTO_ACTION_RENAMES in "
        "trailcheck/demo/moto_server.py after probing it, or pin a proven release"
    )


def test_every_extra_allows_only_proven_moto_releases() -> None:
    requirements = _moto_requirements()
    assert set(requirements) == {"demo", "dev"}
    candidates = ["5.0.20", "5.1.22", "5.2.4", "5.2.5", "5.2.6", "5.2.7", "5.3.0", "6.0.0"]
    for extra, requirement in requirements.items():
        allowed = set(requirement.specifier.filter(candidates))
        assert allowed, extra
        assert allowed <= set(MOTO_ACTION_RENAMES), (extra, allowed)
    # the dev environment (what `make test` installs) is exactly one release
    assert str(requirements["dev"].specifier).startswith("==")


def test_an_unproven_release_is_refused_with_the_place_to_change() -> None:
    with pytest.raises(UnprovenMotoError, match=r"moto 9\.9\.9 .*MOTO_ACTION_RENAMES"):
        proven_moto_renames("9.9.9")


@pytest.mark.parametrize(
    ("version", "moto_action", "method", "path", "aws_action"),
    [
        ("5.2.6", "s3:ListBuckets", "GET", "/", "s3:ListAllMyBuckets"),
        ("5.2.5", "s3:ListAllMyBuckets", "GET", "/", "s3:ListAllMyBuckets"),
        ("5.2.6", "monitoring:DescribeAlarms", "POST", "/", "cloudwatch:DescribeAlarms"),
        (
            "5.2.6",
            "s3:GetPublicAccessBlock",
            "GET",
            "/v20180820/configuration/publicAccessBlock",
            "s3:GetAccountPublicAccessBlock",
        ),
        ("5.2.5", "s3:ListBucket", "GET", "/b?encryption", "s3:GetEncryptionConfiguration"),
        ("5.2.5", "s3:ListBucket", "GET", "/b?list-type=2", "s3:ListBucket"),
        (
            "5.2.6",
            "s3:GetBucketEncryption",
            "GET",
            "/b?encryption",
            "s3:GetEncryptionConfiguration",
        ),
        ("5.2.6", "s3:ListObjectsV2", "GET", "/b?list-type=2", "s3:ListBucket"),
        (
            "5.2.6",
            "s3:GetPublicAccessBlock",
            "GET",
            "/b?publicAccessBlock",
            "s3:GetBucketPublicAccessBlock",
        ),
    ],
)
def test_moto_action_names_map_to_aws_names(
    version: str, moto_action: str, method: str, path: str, aws_action: str
) -> None:
    renames = proven_moto_renames(version)
    assert aws_iam_action(moto_action, method, path, renames) == aws_action
