"""Shared fixtures: fake AWS credentials (never a real account), moto, and our session layer."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from trailcheck.demo.moto_fidelity import faithful_moto
from trailcheck.scanner.session import AwsSession

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real AWS account, whatever the developer's environment holds."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/trailcheck-test-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/trailcheck-test-credentials")
    # moto would build ~1,300 AMIs per account on the first EC2 call; trailcheck reads none.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def moto() -> Iterator[None]:
    """An in-process moto AWS, made faithful where trailcheck depends on AWS's behaviour."""
    with mock_aws(), faithful_moto():
        yield


@pytest.fixture
def boto(moto: None) -> boto3.Session:
    """A plain boto3 session for building state in moto (not trailcheck's session layer)."""
    return boto3.Session(region_name=REGION)


@pytest.fixture
def aws(moto: None) -> AwsSession:
    """trailcheck's own session layer, pointed at moto."""
    return AwsSession()
