"""CloudTrail digest-signing public keys: loading, fingerprints and a key ring.

CloudTrail's ListPublicKeys returns each key as DER bytes (documented as PKCS#1 RSAPublicKey;
one AWS sample is X.509 SubjectPublicKeyInfo) with a fingerprint that is the hex MD5 of those
bytes. A digest names its key by that fingerprint. A key loaded here is known under the MD5 of
both DER encodings, so the digest's fingerprint finds it whichever form AWS served it in; the
fingerprint only selects the key, the RSA signature is what proves the digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

# Digests for a window's last hour are delivered up to an hour after it; the AWS CLI asks
# ListPublicKeys for keys valid up to two hours past the window end. We do the same.
KEY_LOOKUP_SLACK = timedelta(hours=2)


@dataclass(frozen=True)
class PublicKey:
    """One RSA public key that CloudTrail signs digests with."""

    fingerprint: str
    """Hex MD5 of the PKCS#1 DER encoding (the canonical name)."""
    rsa_key: RSAPublicKey
    aliases: frozenset[str]
    """Every fingerprint this key answers to (PKCS#1 and SubjectPublicKeyInfo MD5s)."""
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    @property
    def pkcs1_der(self) -> bytes:
        """The key as PKCS#1 RSAPublicKey DER, the form CloudTrail documents."""
        return self.rsa_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )


def fingerprint(der: bytes) -> str:
    """Return CloudTrail's fingerprint of a DER-encoded key: the hex MD5 of the bytes."""
    return hashlib.md5(der, usedforsecurity=False).hexdigest()


def _from_rsa(
    key: Any, *, valid_from: datetime | None = None, valid_to: datetime | None = None
) -> PublicKey:
    if not isinstance(key, RSAPublicKey):
        raise ValueError(f"not an RSA public key: {type(key).__name__}")
    pkcs1 = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey(
        fingerprint=fingerprint(pkcs1),
        rsa_key=key,
        aliases=frozenset({fingerprint(pkcs1), fingerprint(spki)}),
        valid_from=valid_from,
        valid_to=valid_to,
    )


def load_der_key(
    der: bytes, *, valid_from: datetime | None = None, valid_to: datetime | None = None
) -> PublicKey:
    """Load a DER public key: PKCS#1 RSAPublicKey (as ListPublicKeys returns) or SPKI."""
    try:
        key = serialization.load_der_public_key(der)
    except ValueError as exc:
        raise ValueError(f"cannot load DER public key: {exc}") from exc
    return _from_rsa(key, valid_from=valid_from, valid_to=valid_to)


def load_pem_key(pem: bytes) -> PublicKey:
    """Load a PEM public key: "RSA PUBLIC KEY" (PKCS#1) or "PUBLIC KEY" (SPKI)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise ValueError(f"cannot load PEM public key: {exc}") from exc
    return _from_rsa(key)


def load_key_bytes(data: bytes) -> PublicKey:
    """Load a public key from PEM or DER bytes, telling the two apart by the PEM armour."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return load_pem_key(data)
    return load_der_key(data)


def load_key_file(path: str | Path) -> PublicKey:
    """Load a public key file (PEM or DER)."""
    return load_key_bytes(Path(path).read_bytes())


class KeyRing(Mapping[str, PublicKey]):
    """Read-only mapping from fingerprint (any alias of a key) to its `PublicKey`."""

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        by_fingerprint: dict[str, PublicKey] = {}
        for key in keys:
            for alias in key.aliases:
                by_fingerprint[alias] = key
        self._keys = by_fingerprint

    def __getitem__(self, fingerprint: str) -> PublicKey:
        return self._keys[fingerprint.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._keys))

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys_loaded(self) -> tuple[PublicKey, ...]:
        """The distinct keys, ordered by canonical fingerprint."""
        distinct = {key.fingerprint: key for key in self._keys.values()}
        return tuple(distinct[fp] for fp in sorted(distinct))

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> KeyRing:
        """Build a key ring from PEM or DER key files."""
        return cls(load_key_file(path) for path in paths)


def _key_from_listing(entry: Mapping[str, Any]) -> PublicKey:
    value = entry["Value"]
    der = bytes(value)
    key = load_der_key(
        der, valid_from=entry.get("ValidityStartTime"), valid_to=entry.get("ValidityEndTime")
    )
    stated = str(entry.get("Fingerprint", "")).lower()
    if stated and stated != fingerprint(der):
        raise ValueError(
            f"ListPublicKeys fingerprint {stated} is not the MD5 of the key bytes "
            f"({fingerprint(der)})"
        )
    return key


def list_public_keys(client: Any, start: datetime, end: datetime) -> list[PublicKey]:
    """Return the CloudTrail public keys valid in [start, end + 2 h] (ListPublicKeys, paginated).

    `client` is a boto3 CloudTrail client for the region that delivered the digests.
    """
    paginator = client.get_paginator("list_public_keys")
    keys: list[PublicKey] = []
    for page in paginator.paginate(StartTime=start, EndTime=end + KEY_LOOKUP_SLACK):
        keys.extend(_key_from_listing(entry) for entry in page.get("PublicKeyList", []))
    return keys


def key_ring_from_cloudtrail(client: Any, start: datetime, end: datetime) -> KeyRing:
    """Build a key ring from ListPublicKeys for the window [start, end]."""
    return KeyRing(list_public_keys(client, start, end))
