"""Hash a CloudTrail log file the way its digest does: SHA-256 of the uncompressed content.

The object is inflated and hashed in fixed-size chunks as it streams in, so memory use per file
is a few chunks however large the log file is. A valid log file is exactly one gzip stream.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

CHUNK_SIZE = 64 * 1024


class LogFormatError(ValueError):
    """The object is not exactly one complete gzip stream."""


def hash_gzip_stream(
    read: Callable[[int], bytes],
    chunk_size: int = CHUNK_SIZE,
    sink: Callable[[bytes], object] | None = None,
) -> str:
    """Return the hex SHA-256 of the inflated content of a gzip stream read via `read(n)`.

    `sink`, when given, also receives each inflated chunk (to read the records in the same
    pass). Raises LogFormatError for invalid gzip, a truncated stream or data after its end.
    """
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    sha256 = hashlib.sha256()
    try:
        while chunk := read(chunk_size):
            if inflater.eof:
                raise LogFormatError("unexpected data after end of compressed stream")
            pending = chunk
            while True:
                # Bounded output per call: a small compressed chunk can inflate a lot.
                out = inflater.decompress(pending, chunk_size)
                sha256.update(out)
                if sink is not None:
                    sink(out)
                pending = inflater.unconsumed_tail
                if not pending and len(out) < chunk_size:
                    break
            if inflater.unused_data:
                raise LogFormatError("unexpected data after end of compressed stream")
    except zlib.error as exc:
        raise LogFormatError(f"invalid gzip: {exc}") from exc
    if not inflater.eof:
        raise LogFormatError("gzip stream is truncated")
    return sha256.hexdigest()
