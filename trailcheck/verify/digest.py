"""CloudTrail digest files: parse, build the data-signing string, verify the signature.

A digest is a gzip JSON object in S3; its RSA signature is in the object's metadata
(`x-amz-meta-signature`, hex; `x-amz-meta-signature-algorithm`, `SHA256withRSA`). CloudTrail
signs this UTF-8 string (CloudTrail user guide, "custom implementations of validation"; AWS CLI
`validate-logs`):

    digestEndTime "\\n" digestS3Bucket "/" digestS3Object "\\n"
    hex(SHA-256(the gunzipped digest bytes, exactly as stored)) "\\n" previousDigestSignature

with the literal `null` for the first digest of a chain (previousDigestSignature is null).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SIGNATURE_ALGORITHM = "SHA256withRSA"
HASH_ALGORITHM = "SHA-256"
METADATA_SIGNATURE = "signature"
METADATA_SIGNATURE_ALGORITHM = "signature-algorithm"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class DigestFormatError(ValueError):
    """The digest object is not a gzip JSON document with the fields CloudTrail writes."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class DigestLogFile(_Frozen):
    """One `logFiles[]` entry: a log file and the SHA-256 of its uncompressed content."""

    s3_bucket: str = Field(alias="s3Bucket")
    s3_object: str = Field(alias="s3Object")
    hash_value: str = Field(alias="hashValue")
    hash_algorithm: str = Field(alias="hashAlgorithm")
    newest_event_time: str | None = Field(default=None, alias="newestEventTime")
    oldest_event_time: str | None = Field(default=None, alias="oldestEventTime")


class Digest(_Frozen):
    """A parsed digest file. Times are kept as written: the signing string needs them verbatim.

    Fields without a default must be present in the JSON (the `previousDigest*` ones may be null,
    which marks the first digest of a chain).
    """

    aws_account_id: str = Field(alias="awsAccountId")
    digest_start_time: str = Field(alias="digestStartTime")
    digest_end_time: str = Field(alias="digestEndTime")
    digest_s3_bucket: str = Field(alias="digestS3Bucket")
    digest_s3_object: str = Field(alias="digestS3Object")
    digest_public_key_fingerprint: str = Field(alias="digestPublicKeyFingerprint")
    digest_signature_algorithm: str = Field(alias="digestSignatureAlgorithm")
    newest_event_time: str | None = Field(default=None, alias="newestEventTime")
    oldest_event_time: str | None = Field(default=None, alias="oldestEventTime")
    previous_digest_s3_bucket: str | None = Field(alias="previousDigestS3Bucket")
    previous_digest_s3_object: str | None = Field(alias="previousDigestS3Object")
    previous_digest_hash_value: str | None = Field(alias="previousDigestHashValue")
    previous_digest_hash_algorithm: str | None = Field(alias="previousDigestHashAlgorithm")
    previous_digest_signature: str | None = Field(alias="previousDigestSignature")
    log_files: tuple[DigestLogFile, ...] = Field(alias="logFiles")

    @field_validator("digest_start_time", "digest_end_time")
    @classmethod
    def _check_time(cls, value: str) -> str:
        parse_time(value)
        return value

    @property
    def start(self) -> datetime:
        """digestStartTime as an aware UTC datetime."""
        return parse_time(self.digest_start_time)

    @property
    def end(self) -> datetime:
        """digestEndTime as an aware UTC datetime."""
        return parse_time(self.digest_end_time)

    @property
    def is_chain_start(self) -> bool:
        """True for the first digest of a chain (no previous digest recorded)."""
        return self.previous_digest_s3_object is None


def parse_time(value: str) -> datetime:
    """Parse a CloudTrail digest time (`YYYY-MM-DDTHH:MM:SSZ`) as aware UTC."""
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


def gunzip(data: bytes) -> bytes:
    """Inflate one complete gzip stream; trailing bytes or truncation are a format error."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        content = inflater.decompress(data) + inflater.flush()
    except zlib.error as exc:
        raise DigestFormatError(f"not gzip: {exc}") from exc
    if not inflater.eof:
        raise DigestFormatError("gzip stream is truncated")
    if inflater.unused_data:
        raise DigestFormatError("unexpected data after end of compressed stream")
    return content


def parse_digest(content: bytes) -> Digest:
    """Parse the uncompressed JSON content of a digest file."""
    try:
        document = json.loads(content)
    except ValueError as exc:
        raise DigestFormatError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise DigestFormatError("digest JSON is not an object")
    try:
        return Digest.model_validate(document)
    except ValidationError as exc:
        raise DigestFormatError(f"missing or malformed fields: {exc}") from exc


def content_sha256(content: bytes) -> str:
    """Hex SHA-256 of a digest's uncompressed content, as its signing string and successor use."""
    return hashlib.sha256(content).hexdigest()


def signing_string(digest: Digest, content_hash: str) -> bytes:
    """Build CloudTrail's data-signing string for a digest (UTF-8 bytes).

    `content_hash` is `content_sha256()` of the gunzipped digest bytes.
    """
    previous_signature = digest.previous_digest_signature
    if previous_signature is None:
        previous_signature = "null"  # as CloudTrail's Java signer writes it
    text = (
        f"{digest.digest_end_time}\n"
        f"{digest.digest_s3_bucket}/{digest.digest_s3_object}\n"
        f"{content_hash}\n"
        f"{previous_signature}"
    )
    return text.encode("utf-8")


def verify_signature(
    public_key: RSAPublicKey, message: bytes, signature_hex: str, algorithm: str
) -> bool:
    """Verify a SHA256withRSA (RSASSA-PKCS1-v1_5, SHA-256) signature given in hex.

    Raises ValueError for any other algorithm; returns False for a bad or malformed signature.
    """
    if algorithm != SIGNATURE_ALGORITHM:
        raise ValueError(f"unsupported signature algorithm {algorithm!r}")
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
