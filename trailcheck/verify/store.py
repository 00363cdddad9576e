"""Read-only object stores the verifier reads digests and log files from.

`S3ObjectStore` wraps any boto3 S3 client and calls only ListObjectsV2 and GetObject.
`MemoryObjectStore` holds objects in a dict, for unit tests and offline copies.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class ObjectNotFound(Exception):
    """The object does not exist (S3 NoSuchKey)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"not found: {key}")
        self.key = key


class StoreError(Exception):
    """The store refused or failed a read (for example AccessDenied); `code` names why."""

    def __init__(self, key: str, code: str) -> None:
        super().__init__(f"{code}: {key}")
        self.key = key
        self.code = code


class Readable(Protocol):
    """A binary stream: `read(size)` and `close()`."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ListedObject:
    """A key found by listing, with its last-modified time."""

    key: str
    last_modified: datetime


@dataclass
class FetchedObject:
    """An object being read: a binary stream plus its user metadata. Close it when done."""

    body: Readable
    metadata: Mapping[str, str] = field(default_factory=dict)

    def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes (all remaining bytes when negative)."""
        return self.body.read(size)

    def close(self) -> None:
        """Release the underlying stream (the HTTP connection for S3)."""
        self.body.close()

    def __enter__(self) -> FetchedObject:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ObjectStore(Protocol):
    """What the verifier needs from a bucket: list a prefix and open one object."""

    @property
    def bucket(self) -> str:
        """The bucket name the digests' `s3Bucket` fields must name."""
        ...

    def list(self, prefix: str) -> Iterator[ListedObject]:
        """Yield the objects whose key starts with `prefix`, in key order.

        Raises StoreError if the listing is refused.
        """
        ...

    def open(self, key: str) -> FetchedObject:
        """Open one object for reading. Raises ObjectNotFound or StoreError."""
        ...


class S3ObjectStore:
    """An `ObjectStore` over a boto3 S3 client (ListObjectsV2 paginator and GetObject only).

    boto3 clients are thread-safe, so one store may serve many reader threads.
    """

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    def list(self, prefix: str) -> Iterator[ListedObject]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ListedObject(key=item["Key"], last_modified=item["LastModified"])
        except ClientError as exc:
            raise StoreError(prefix, _error_code(exc)) from exc

    def open(self, key: str) -> FetchedObject:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            code = _error_code(exc)
            if code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from exc
            raise StoreError(key, code) from exc
        return FetchedObject(
            body=_S3Body(key, response["Body"]), metadata=response.get("Metadata", {})
        )


class _S3Body(io.RawIOBase):
    """A GetObject body whose read errors (timeouts, broken connections) become StoreError."""

    def __init__(self, key: str, body: Any) -> None:
        super().__init__()
        self._key = key
        self._body = body

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._body.read(None if size < 0 else size)
        except (BotoCoreError, OSError) as exc:
            raise StoreError(self._key, type(exc).__name__) from exc

    def close(self) -> None:
        self._body.close()
        super().close()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


@dataclass(frozen=True)
class MemoryObject:
    """One object of a `MemoryObjectStore`."""

    data: bytes
    metadata: Mapping[str, str] = field(default_factory=dict)
    last_modified: datetime = field(default_factory=lambda: datetime.now(UTC))


class MemoryObjectStore:
    """An `ObjectStore` over a dict of key -> `MemoryObject` (tests, offline copies)."""

    def __init__(self, bucket: str, objects: Mapping[str, MemoryObject] | None = None) -> None:
        self._bucket = bucket
        self._objects = dict(objects or {})

    @property
    def bucket(self) -> str:
        return self._bucket

    def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Store (or replace) an object."""
        self._objects[key] = MemoryObject(data=data, metadata=dict(metadata or {}))

    def delete(self, key: str) -> None:
        """Remove an object if present."""
        self._objects.pop(key, None)

    def list(self, prefix: str) -> Iterator[ListedObject]:
        for key in sorted(self._objects):
            if key.startswith(prefix):
                yield ListedObject(key=key, last_modified=self._objects[key].last_modified)

    def open(self, key: str) -> FetchedObject:
        try:
            obj = self._objects[key]
        except KeyError:
            raise ObjectNotFound(key) from None
        return FetchedObject(body=io.BytesIO(obj.data), metadata=dict(obj.metadata))
