"""Streamed gunzip + SHA-256 of log files."""

from __future__ import annotations

import gzip
import hashlib
import io
import random

import pytest

from trailcheck.verify.logfile import LogFormatError, hash_gzip_stream


@pytest.mark.parametrize("size", [0, 1, 1000, 64 * 1024, 64 * 1024 + 1, 3_000_000])
@pytest.mark.parametrize("chunk_size", [7, 4096, 64 * 1024])
def test_hash_of_uncompressed_content(size: int, chunk_size: int) -> None:
    rng = random.Random(size)
    content = rng.randbytes(size // 2) + b"a" * (size - size // 2)

    digest = hash_gzip_stream(io.BytesIO(gzip.compress(content)).read, chunk_size)

    assert digest == hashlib.sha256(content).hexdigest()


def test_highly_compressible_content_is_inflated_in_bounded_steps() -> None:
    content = b"\0" * 20_000_000  # ~20 KB compressed
    digest = hash_gzip_stream(io.BytesIO(gzip.compress(content)).read)
    assert digest == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"plain text", "invalid gzip"),
        (gzip.compress(b"records", mtime=0)[:-5], "truncated"),
        (gzip.compress(b"records", mtime=0) + b"junk", "after end"),
        (gzip.compress(b"records", mtime=0) + gzip.compress(b"more", mtime=0), "after end"),
    ],
    # Fixed ids: ids made from the bytes (which held the gzip time) differed between xdist
    # workers that collected in different seconds.
    ids=["not-gzip", "truncated", "junk-after-end", "second-stream"],
)
def test_not_exactly_one_gzip_stream(data: bytes, message: str) -> None:
    with pytest.raises(LogFormatError, match=message):
        hash_gzip_stream(io.BytesIO(data).read, 3)
