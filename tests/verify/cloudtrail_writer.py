"""Test helper: write log files and signed, chained digest files as CloudTrail lays them out.

Independent of trailcheck's verifier on purpose: the key names, the digest JSON and the
data-signing string are built here from the CloudTrail documentation (see
../shared/reference/facts.md section 4), so a mistake in trailcheck is not mirrored here.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

Put = Callable[[str, bytes, Mapping[str, str]], None]


def new_private_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key, as CloudTrail uses."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pkcs1_der(key: rsa.RSAPrivateKey) -> bytes:
    """The public half as PKCS#1 DER: the bytes ListPublicKeys returns."""
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )


def key_fingerprint(key: rsa.RSAPrivateKey) -> str:
    """CloudTrail's fingerprint: hex MD5 of the PKCS#1 DER public key."""
    return hashlib.md5(pkcs1_der(key)).hexdigest()


def s3_put(client: Any, bucket: str) -> Put:
    """A `Put` that writes with a boto3 S3 client (metadata becomes x-amz-meta-*)."""

    def put(key: str, body: bytes, metadata: Mapping[str, str]) -> None:
        client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=dict(metadata))

    return put


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WrittenLog:
    """A log file as written: its key and the SHA-256 of its uncompressed content."""

    key: str
    sha256: str
    newest: datetime
    oldest: datetime


@dataclass(frozen=True)
class WrittenDigest:
    """A digest as written."""

    key: str
    start: datetime
    end: datetime
    content: bytes
    signature: str
    logs: tuple[WrittenLog, ...]


@dataclass
class CloudTrailWriter:
    """Writes one trail's files for one account and region into a bucket.

    `put` stores an object (see `s3_put`). Log files and digests follow CloudTrail's key layout;
    each digest is signed with `private_key` (SHA256withRSA over CloudTrail's data-signing
    string) and chained to the previous digest written, unless told otherwise.
    """

    put: Put
    bucket: str
    account_id: str
    region: str
    trail_name: str
    private_key: rsa.RSAPrivateKey
    home_region: str | None = None
    prefix: str | None = None
    organization_id: str | None = None
    seed: int = 7
    previous: WrittenDigest | None = None
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def trail_arn(self) -> str:
        """The trail's ARN (owned by `account_id`, homed in `home_region`)."""
        home = self.home_region or self.region
        return f"arn:aws:cloudtrail:{home}:{self.account_id}:trail/{self.trail_name}"

    def _folder(self, kind: str, when: datetime) -> str:
        parts = [self.prefix] if self.prefix else []
        parts.append("AWSLogs")
        if self.organization_id:
            parts.append(self.organization_id)
        parts += [self.account_id, kind, self.region, when.strftime("%Y/%m/%d")]
        return "/".join(parts) + "/"

    def log_key(self, delivered: datetime) -> str:
        """A log file key for a delivery time (16-character unique suffix)."""
        unique = "".join(self._random.choices(string.ascii_letters + string.digits, k=16))
        name = (
            f"{self.account_id}_CloudTrail_{self.region}_{delivered:%Y%m%dT%H%MZ}_{unique}.json.gz"
        )
        return self._folder("CloudTrail", delivered) + name

    def digest_key(self, end: datetime) -> str:
        """The digest key for a digest end time."""
        home = self.home_region or self.region
        name = (
            f"{self.account_id}_CloudTrail-Digest_{self.region}_{self.trail_name}_{home}_"
            f"{end:%Y%m%dT%H%M%SZ}.json.gz"
        )
        return self._folder("CloudTrail-Digest", end) + name

    def write_log(
        self,
        delivered: datetime,
        events: int = 2,
        records: list[dict[str, Any]] | None = None,
        *,
        truncate: bool = False,
    ) -> WrittenLog:
        """Write one small log file delivered at `delivered` (`records`: these records instead
        of `events` GetObject ones; `truncate`: cut the gzip stream short, as a torn upload)."""
        newest = delivered - timedelta(minutes=1)
        oldest = newest - timedelta(minutes=events)
        records = (
            records
            if records is not None
            else [
                {
                    "eventVersion": "1.09",
                    "eventTime": _time(oldest + timedelta(minutes=n)),
                    "eventSource": "s3.amazonaws.com",
                    "eventName": "GetObject",
                    "awsRegion": self.region,
                    "recipientAccountId": self.account_id,
                    "eventID": f"{self._random.getrandbits(64):016x}",
                }
                for n in range(events)
            ]
        )
        content = json.dumps({"Records": records}).encode()
        key = self.log_key(delivered)
        data = gzip.compress(content, mtime=0)
        self.put(key, data[: len(data) // 2] if truncate else data, {})
        return WrittenLog(key, hashlib.sha256(content).hexdigest(), newest, oldest)

    def write_digest(
        self,
        start: datetime,
        end: datetime,
        logs: list[WrittenLog],
        *,
        sign_with: rsa.RSAPrivateKey | None = None,
        fingerprint: str | None = None,
        previous_hash: str | None = None,
        chain: bool = True,
    ) -> WrittenDigest:
        """Write and sign the digest for [start, end] listing `logs`.

        Overrides for tests: `sign_with` another key, state another `fingerprint`, record a
        wrong `previous_hash`, or start a new chain (`chain=False`: previous fields null).
        """
        key = self.digest_key(end)
        previous = self.previous if chain else None
        signer = sign_with or self.private_key
        document = {
            "awsAccountId": self.account_id,
            "digestStartTime": _time(start),
            "digestEndTime": _time(end),
            "digestS3Bucket": self.bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint or key_fingerprint(self.private_key),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": _time(max(log.newest for log in logs)) if logs else None,
            "oldestEventTime": _time(min(log.oldest for log in logs)) if logs else None,
            "previousDigestS3Bucket": self.bucket if previous else None,
            "previousDigestS3Object": previous.key if previous else None,
            "previousDigestHashValue": (
                previous_hash or hashlib.sha256(previous.content).hexdigest() if previous else None
            ),
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous.signature if previous else None,
            "logFiles": [
                {
                    "s3Bucket": self.bucket,
                    "s3Object": log.key,
                    "hashValue": log.sha256,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": _time(log.newest),
                    "oldestEventTime": _time(log.oldest),
                }
                for log in logs
            ],
        }
        content = json.dumps(document, indent=2).encode()
        signature = sign(signer, document, content)
        metadata = {"signature": signature, "signature-algorithm": "SHA256withRSA"}
        self.put(key, gzip.compress(content, mtime=0), metadata)
        written = WrittenDigest(key, start, end, content, signature, tuple(logs))
        self.previous = written
        return written

    def write_hours(
        self, first_end: datetime, hours: int, logs_per_hour: int
    ) -> list[WrittenDigest]:
        """Write `hours` hourly digests ending at `first_end`, `first_end + 1 h`, ... each
        listing `logs_per_hour` log files delivered within its hour."""
        digests = []
        for hour in range(hours):
            end = first_end + timedelta(hours=hour)
            start = self.previous.end if self.previous else end - timedelta(hours=1)
            step = (end - start) / (logs_per_hour + 1)
            logs = [self.write_log(start + step * (n + 1)) for n in range(logs_per_hour)]
            digests.append(self.write_digest(start, end, logs))
        return digests


def signing_string(document: Mapping[str, Any], content: bytes) -> bytes:
    """CloudTrail's data-signing string, written out from the documentation."""
    previous_signature = document["previousDigestSignature"]
    lines = [
        document["digestEndTime"],
        f"{document['digestS3Bucket']}/{document['digestS3Object']}",
        hashlib.sha256(content).hexdigest(),
        "null" if previous_signature is None else previous_signature,
    ]
    return "\n".join(lines).encode("utf-8")


def sign(key: rsa.RSAPrivateKey, document: Mapping[str, Any], content: bytes) -> str:
    """Sign a digest as CloudTrail does; returns the hex signature for the S3 metadata."""
    message = signing_string(document, content)
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256()).hex()
