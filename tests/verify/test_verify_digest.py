"""Digest files: parsing, CloudTrail's data-signing string, SHA256withRSA verification."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from cloudtrail_writer import sign
from cryptography.hazmat.primitives.asymmetric import rsa

from trailcheck.verify import DigestFormatError, parse_digest, signing_string, verify_signature
from trailcheck.verify.digest import gunzip

EXAMPLE = Path(__file__).parent / "data" / "awsdocs_digest_example.json"


def test_parse_the_documentation_example() -> None:
    digest = parse_digest(EXAMPLE.read_bytes())

    assert digest.digest_end_time == "2015-08-17T15:01:31Z"
    assert digest.end.isoformat() == "2015-08-17T15:01:31+00:00"
    assert digest.digest_public_key_fingerprint == "31e8b5433410dfb61a9dc45cc65b22ff"
    assert not digest.is_chain_start
    (log_file,) = digest.log_files
    assert log_file.hash_value.startswith("9bb6196f")


def test_signing_string_of_the_documentation_example() -> None:
    content = EXAMPLE.read_bytes()
    document = json.loads(content)
    content_hash = hashlib.sha256(content).hexdigest()

    message = signing_string(parse_digest(content), content_hash)

    assert (
        message
        == (
            "2015-08-17T15:01:31Z\n"
            "S3-bucket-name/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/"
            "111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z"
            f".json.gz\n{content_hash}\n{document['previousDigestSignature']}"
        ).encode()
    )


def _chain_start(content: bytes) -> bytes:
    document = json.loads(content)
    for field in document:
        if field.startswith("previousDigest"):
            document[field] = None
    return json.dumps(document).encode()


def test_signing_string_of_a_chain_start_ends_in_null() -> None:
    content = _chain_start(EXAMPLE.read_bytes())
    digest = parse_digest(content)

    assert digest.is_chain_start
    assert signing_string(digest, "h").endswith(b"\nh\nnull")


def test_signature_round_trip(signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey) -> None:
    content = _chain_start(EXAMPLE.read_bytes())
    signature = sign(signing_key, json.loads(content), content)
    message = signing_string(parse_digest(content), hashlib.sha256(content).hexdigest())
    public_key = signing_key.public_key()

    assert verify_signature(public_key, message, signature, "SHA256withRSA")
    assert verify_signature(public_key, message, signature.upper(), "SHA256withRSA")
    assert not verify_signature(public_key, message + b" ", signature, "SHA256withRSA")
    assert not verify_signature(other_key.public_key(), message, signature, "SHA256withRSA")
    assert not verify_signature(public_key, message, "not hex", "SHA256withRSA")
    with pytest.raises(ValueError, match="unsupported signature algorithm"):
        verify_signature(public_key, message, signature, "SHA1withRSA")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not an object"),
        (b'{"digestEndTime": "2015-08-17T15:01:31Z"}', "missing or malformed"),
    ],
)
def test_malformed_digest(content: bytes, message: str) -> None:
    with pytest.raises(DigestFormatError, match=message):
        parse_digest(content)


def test_malformed_time_and_missing_previous_signature_field() -> None:
    document = json.loads(EXAMPLE.read_bytes())
    with pytest.raises(DigestFormatError):
        parse_digest(json.dumps({**document, "digestEndTime": "yesterday"}).encode())
    del document["previousDigestSignature"]  # must be present, even when null
    with pytest.raises(DigestFormatError):
        parse_digest(json.dumps(document).encode())


def test_gunzip_is_strict() -> None:
    assert gunzip(gzip.compress(b"abc")) == b"abc"
    for bad in (b"abc", gzip.compress(b"abc")[:-4], gzip.compress(b"abc") + b"x"):
        with pytest.raises(DigestFormatError):
            gunzip(bad)
