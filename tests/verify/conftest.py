"""Fixtures for the log-integrity tests: signing keys, a moto S3 bucket, a CloudTrail writer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cloudtrail_writer import CloudTrailWriter, new_private_key, s3_put
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws
from verify_scenario import ACCOUNT, BUCKET, REGION, TRAIL


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    """The key 'CloudTrail' signs with in these tests."""
    return new_private_key()


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    """A key CloudTrail does not use (an attacker's, or an unknown one)."""
    return new_private_key()


@pytest.fixture
def s3() -> Iterator[Any]:
    """A moto S3 client with the trail bucket created."""
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def writer(s3: Any, signing_key: rsa.RSAPrivateKey) -> CloudTrailWriter:
    """Writes the trail's files into the moto bucket."""
    return CloudTrailWriter(
        put=s3_put(s3, BUCKET),
        bucket=BUCKET,
        account_id=ACCOUNT,
        region=REGION,
        trail_name=TRAIL,
        private_key=signing_key,
    )
