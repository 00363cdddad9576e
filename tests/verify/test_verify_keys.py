"""Public keys: DER and both PEM forms, fingerprints, the key ring, ListPublicKeys."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from cloudtrail_writer import key_fingerprint, pkcs1_der
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto import mock_aws

from trailcheck.verify import (
    KeyRing,
    fingerprint,
    key_ring_from_cloudtrail,
    list_public_keys,
    load_der_key,
    load_key_bytes,
    load_key_file,
    load_pem_key,
)

WINDOW_START = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 3, 2, tzinfo=UTC)


def _encode(key: rsa.RSAPrivateKey, encoding: str, form: str) -> bytes:
    return key.public_key().public_bytes(
        getattr(serialization.Encoding, encoding), getattr(serialization.PublicFormat, form)
    )


def test_fingerprint_is_md5_of_der() -> None:
    assert fingerprint(b"abc") == hashlib.md5(b"abc").hexdigest()


def test_der_pkcs1_as_list_public_keys_returns_it(signing_key: rsa.RSAPrivateKey) -> None:
    der = pkcs1_der(signing_key)

    key = load_der_key(der)

    assert key.fingerprint == fingerprint(der) == key_fingerprint(signing_key)
    assert key.pkcs1_der == der
    assert key.rsa_key.public_numbers() == signing_key.public_key().public_numbers()


@pytest.mark.parametrize(
    ("encoding", "form", "marker"),
    [
        ("PEM", "PKCS1", b"-----BEGIN RSA PUBLIC KEY-----"),
        ("PEM", "SubjectPublicKeyInfo", b"-----BEGIN PUBLIC KEY-----"),
        ("DER", "SubjectPublicKeyInfo", b""),
    ],
)
def test_other_forms_give_the_same_fingerprint(
    signing_key: rsa.RSAPrivateKey, encoding: str, form: str, marker: bytes
) -> None:
    data = _encode(signing_key, encoding, form)
    assert data.startswith(marker)

    key = load_key_bytes(data)

    assert key.fingerprint == key_fingerprint(signing_key)
    spki_fingerprint = fingerprint(_encode(signing_key, "DER", "SubjectPublicKeyInfo"))
    assert key.aliases == {key.fingerprint, spki_fingerprint}


def test_pem_loader_rejects_garbage_and_non_rsa_keys() -> None:
    with pytest.raises(ValueError, match="cannot load PEM"):
        load_pem_key(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ValueError, match="cannot load DER"):
        load_der_key(b"\x30\x03\x02\x01\x01")
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="not an RSA public key"):
        load_pem_key(ec_pem)


def test_key_ring_from_files(
    tmp_path: Path, signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    pem = tmp_path / "signing.pem"
    pem.write_bytes(_encode(signing_key, "PEM", "PKCS1"))
    der = tmp_path / "other.der"
    der.write_bytes(pkcs1_der(other_key))

    ring = KeyRing.from_files([pem, der])

    assert ring[key_fingerprint(signing_key)] == load_key_file(pem)
    assert ring[key_fingerprint(other_key).upper()].fingerprint == key_fingerprint(other_key)
    spki = fingerprint(_encode(other_key, "DER", "SubjectPublicKeyInfo"))
    assert ring[spki].fingerprint == key_fingerprint(other_key)
    assert [k.fingerprint for k in ring.keys_loaded] == sorted(
        [key_fingerprint(signing_key), key_fingerprint(other_key)]
    )
    assert ring.get("0" * 32) is None


def _listing_entry(key: rsa.RSAPrivateKey, der: bytes, days: int) -> dict[str, object]:
    return {
        "Value": der,
        "ValidityStartTime": WINDOW_START - timedelta(days=days),
        "ValidityEndTime": WINDOW_START + timedelta(days=days),
        "Fingerprint": fingerprint(der),
    }


def test_list_public_keys_paginates(
    signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    # moto (5.2) does not implement ListPublicKeys: the responses of this one call are
    # supplied by botocore's Stubber on the CloudTrail client (it answers in `before-call`
    # and validates both the request parameters and the response against the API model).
    # The second key is served as SubjectPublicKeyInfo, as one AWS documentation sample is.
    spki = _encode(other_key, "DER", "SubjectPublicKeyInfo")
    params = {"StartTime": WINDOW_START, "EndTime": WINDOW_END + timedelta(hours=2)}
    with mock_aws():
        client = boto3.client("cloudtrail", region_name="us-east-1")
        with Stubber(client) as stubber:
            stubber.add_response(
                "list_public_keys",
                {
                    "PublicKeyList": [_listing_entry(signing_key, pkcs1_der(signing_key), 30)],
                    "NextToken": "page-2",
                },
                params,
            )
            stubber.add_response(
                "list_public_keys",
                {"PublicKeyList": [_listing_entry(other_key, spki, 10)]},
                {**params, "NextToken": "page-2"},
            )

            keys = list_public_keys(client, WINDOW_START, WINDOW_END)

            stubber.assert_no_pending_responses()
    assert [key.fingerprint for key in keys] == [
        key_fingerprint(signing_key),
        key_fingerprint(other_key),
    ]
    assert keys[0].valid_to == WINDOW_START + timedelta(days=30)
    assert fingerprint(spki) in keys[1].aliases  # the fingerprint AWS states finds it


def test_list_public_keys_rejects_a_wrong_fingerprint(signing_key: rsa.RSAPrivateKey) -> None:
    entry = _listing_entry(signing_key, pkcs1_der(signing_key), 1)
    entry["Fingerprint"] = "0" * 32
    with mock_aws():
        client = boto3.client("cloudtrail", region_name="us-east-1")
        with Stubber(client) as stubber:
            stubber.add_response("list_public_keys", {"PublicKeyList": [entry]})
            with pytest.raises(ValueError, match="not the MD5"):
                key_ring_from_cloudtrail(client, WINDOW_START, WINDOW_END)
