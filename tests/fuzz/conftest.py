"""Shared fixtures for the fuzz tests."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPublicKey:
    """A public key to verify (always failing) digest signatures against."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
