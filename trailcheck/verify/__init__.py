"""Log file integrity verification: prove a trail's CloudTrail logs were not touched.

The library behind `trailcheck verify-logs`: public keys (`keys`), digest files (`digest`),
where files live (`layout`), object stores (`store`), log hashing (`logfile`), the chain
verifier (`chain`) and its result models (`results`).
"""

from trailcheck.verify.chain import DEFAULT_MAX_WORKERS, verify_trail_logs
from trailcheck.verify.digest import (
    Digest,
    DigestFormatError,
    DigestLogFile,
    parse_digest,
    signing_string,
    verify_signature,
)
from trailcheck.verify.keys import (
    KeyRing,
    PublicKey,
    fingerprint,
    key_ring_from_cloudtrail,
    list_public_keys,
    load_der_key,
    load_key_bytes,
    load_key_file,
    load_pem_key,
)
from trailcheck.verify.layout import TrailLocation
from trailcheck.verify.results import (
    DigestResult,
    DigestStatus,
    Gap,
    LogFileStatus,
    Problem,
    TrailVerification,
    Window,
)
from trailcheck.verify.store import (
    FetchedObject,
    ListedObject,
    MemoryObjectStore,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
    StoreError,
)

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "Digest",
    "DigestFormatError",
    "DigestLogFile",
    "DigestResult",
    "DigestStatus",
    "FetchedObject",
    "Gap",
    "KeyRing",
    "ListedObject",
    "LogFileStatus",
    "MemoryObjectStore",
    "ObjectNotFound",
    "ObjectStore",
    "Problem",
    "PublicKey",
    "S3ObjectStore",
    "StoreError",
    "TrailLocation",
    "TrailVerification",
    "Window",
    "fingerprint",
    "key_ring_from_cloudtrail",
    "list_public_keys",
    "load_der_key",
    "load_key_bytes",
    "load_key_file",
    "load_pem_key",
    "parse_digest",
    "signing_string",
    "verify_signature",
    "verify_trail_logs",
]
