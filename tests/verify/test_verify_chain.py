"""The chain verifier against moto S3, with files written as CloudTrail lays them out."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from cloudtrail_writer import CloudTrailWriter, WrittenDigest, key_fingerprint, pkcs1_der, s3_put
from cryptography.hazmat.primitives.asymmetric import rsa
from verify_scenario import ACCOUNT, BUCKET, FIRST_END, REGION, TRAIL

from trailcheck.verify import (
    DigestStatus,
    KeyRing,
    LogFileStatus,
    MemoryObjectStore,
    S3ObjectStore,
    StoreError,
    TrailLocation,
    TrailVerification,
    load_der_key,
    verify_trail_logs,
)
from trailcheck.verify.chain import merge_segments, segment_days, verify_segments
from trailcheck.verify.store import FetchedObject, ListedObject

HOURS = 4
LOGS_PER_HOUR = 3
START = FIRST_END - timedelta(hours=1)  # the first digest's start
END = FIRST_END + timedelta(hours=HOURS - 1)  # the last digest's end


def _trail(writer: CloudTrailWriter, **extra: Any) -> TrailLocation:
    return TrailLocation(
        trail_arn=writer.trail_arn,
        account_id=writer.account_id,
        organization_id=writer.organization_id,
        prefix=writer.prefix,
        **extra,
    )


def _verify(
    s3: Any,
    writer: CloudTrailWriter,
    key: rsa.RSAPrivateKey,
    start: datetime = START,
    end: datetime = END,
    **kwargs: Any,
) -> TrailVerification:
    keys = KeyRing([load_der_key(pkcs1_der(key))])
    return verify_trail_logs(S3ObjectStore(s3, BUCKET), _trail(writer), keys, start, end, **kwargs)


def _problems(result: TrailVerification, status: str) -> list[str]:
    return [p.s3_key for p in result.problems if p.status == status]


def _rewrite(s3: Any, key: str, change: Any) -> None:
    """Replace an object's uncompressed content, keeping its metadata (a tamperer's edit)."""
    obj = s3.get_object(Bucket=BUCKET, Key=key)
    content = change(gzip.decompress(obj["Body"].read()))
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(content), Metadata=obj["Metadata"])


def test_all_valid_over_several_hours(s3: Any, writer: CloudTrailWriter, signing_key: Any) -> None:
    digests = writer.write_hours(FIRST_END, HOURS, LOGS_PER_HOUR)

    result = _verify(s3, writer, signing_key)

    assert result.ok
    assert (result.digests_valid, result.log_files_valid) == (HOURS, HOURS * LOGS_PER_HOUR)
    assert result.problems == () and result.gaps == ()
    assert [d.s3_key for d in result.digests] == [d.key for d in digests]
    assert all(d.fingerprint == key_fingerprint(signing_key) for d in result.digests)


def test_same_result_with_one_worker(s3: Any, writer: CloudTrailWriter, signing_key: Any) -> None:
    digests = writer.write_hours(FIRST_END, HOURS, LOGS_PER_HOUR)
    s3.delete_object(Bucket=BUCKET, Key=digests[1].logs[0].key)

    assert _verify(s3, writer, signing_key, max_workers=1) == _verify(s3, writer, signing_key)


def test_log_file_with_one_byte_changed(
    s3: Any, writer: CloudTrailWriter, signing_key: Any
) -> None:
    digests = writer.write_hours(FIRST_END, HOURS, LOGS_PER_HOUR)
    tampered = digests[2].logs[1].key
    _rewrite(s3, tampered, lambda content: content.replace(b"GetObject", b"GetObjecT", 1))

    result = _verify(s3, writer, signing_key)

    assert not result.ok
    assert result.log_files_modified == 1
    assert result.log_files_valid == HOURS * LOGS_PER_HOUR - 1
    (problem,) = result.problems
    assert (problem.s3_key, problem.digest_key) == (tampered, digests[2].key)
    assert "hash value doesn't match" in problem.reason


def test_log_file_not_gzip(s3: Any, writer: CloudTrailWriter, signing_key: Any) -> None:
    digests = writer.write_hours(FIRST_END, 1, 1)
    s3.put_object(Bucket=BUCKET, Key=digests[0].logs[0].key, Body=b'{"Records": []}')

    result = _verify(s3, writer, signing_key, end=FIRST_END)

    assert result.log_files_modified == 1
    assert "invalid format" in result.problems[0].reason


def test_log_file_deleted(s3: Any, writer: CloudTrailWriter, signing_key: Any) -> None:
    digests = writer.write_hours(FIRST_END, HOURS, LOGS_PER_HOUR)
    s3.delete_object(Bucket=BUCKET, Key=digests[0].logs[0].key)

    result = _verify(s3, writer, signing_key)

    assert not result.ok
    assert result.log_files_deleted == 1
    assert _problems(result, LogFileStatus.DELETED) == [digests[0].logs[0].key]


def test_digest_deleted_is_missing_and_a_gap(
    s3: Any, writer: CloudTrailWriter, signing_key: Any
) -> None:
    digests = writer.write_hours(FIRST_END, HOURS, LOGS_PER_HOUR)
    s3.delete_object(Bucket=BUCKET, Key=digests[1].key)

    result = _verify(s3, writer, signing_key)

    assert not result.ok
    assert (result.digests_valid, result.digests_missing) == (HOURS - 1, 1)
    assert _problems(result, DigestStatus.MISSING) == [digests[1].key]
    (gap,) = result.gaps
    assert (gap.start, gap.end) == (digests[0].end, digests[2].start)
    assert digests[1].key in gap.reason
    # Its log files are still in the bucket, but nothing vouches for them any more.
    assert result.log_files_not_listed == LOGS_PER_HOUR
    assert all("delivered in a gap" in p.reason for p in result.problems if p.kind == "log_file")
    assert result.log_files_valid == (HOURS - 1) * LOGS_PER_HOUR


def test_digest_signed_with_another_key(
    s3: Any, writer: CloudTrailWriter, signing_key: Any, other_key: rsa.RSAPrivateKey
) -> None:
    writer.write_hours(FIRST_END, 2, LOGS_PER_HOUR)
    logs = [writer.write_log(FIRST_END + timedelta(minutes=70))]
    forged = writer.write_digest(writer.previous.end, FIRST_END + timedelta(hours=2), logs,
                                 sign_with=other_key)  # fmt: skip
    writer.write_hours(FIRST_END + timedelta(hours=3), 1, LOGS_PER_HOUR)

    result = _verify(s3, writer, signing_key)

    assert not result.ok
    assert result.digests_invalid == 1
    (problem,) = [p for p in result.problems if p.kind == "digest"]
    assert problem.s3_key == forged.key
    assert problem.reason == "signature verification failed"
    assert problem.fingerprint == key_fingerprint(signing_key)
    assert _problems(result, LogFileStatus.UNVERIFIED) == [logs[0].key]
    assert result.log_files_valid == 3 * LOGS_PER_HOUR


def test_broken_previous_hash_link(s3: Any, writer: CloudTrailWriter, signing_key: Any) -> None:
    first = writer.write_hours(FIRST_END, 2, LOGS_PER_HOUR)
    # Correctly signed, but records a hash of its predecessor that the predecessor does not have:
    # `aws cloudtrail validate-logs` never compares it and would call this chain valid.
    writer.write_digest(first[-1].end, first[-1].end + timedelta(hours=1), [],
                        previous_hash="ab" * 32)  # fmt: skip

    result = _verify(s3, writer, signing_key, end=first[-1].end + timedelta(hours=1))

    assert not result.ok
    assert (result.digests_valid, result.digests_invalid) == (2, 1)
    (problem,) = result.problems
    assert problem.s3_key == first[-1].key
    assert "previousDigestHashValue" in problem.reason
    assert result.log_files_valid == 2 * LOGS_PER_HOUR  # the signatures themselves are good


def test_unknown_key_fingerprint(
    s3: Any, writer: CloudTrailWriter, signing_key: Any, other_key: rsa.RSAPrivateKey
) -> None:
    writer.write_hours(FIRST_END, 1, LOGS_PER_HOUR)
    logs = [writer.write_log(FIRST_END + timedelta(minutes=10))]
    unknown = writer.write_digest(
        FIRST_END,
        FIRST_END + timedelta(hours=1),
        logs,
        sign_with=other_key,
        fingerprint=key_fingerprint(other_key),
    )

    result = _verify(s3, writer, signing_key, end=unknown.end)

    assert not result.ok
    assert result.digests_unverifiable == 1
    (problem,) = [p for p in result.problems if p.kind == "digest"]
    assert problem.fingerprint == key_fingerprint(other_key)
    assert key_fingerprint(other_key) in problem.reason
    assert result.log_files_unverified == 1


def test_empty_window_is_missing_not_ok(
    s3: Any, writer: CloudTrailWriter, signing_key: Any
) -> None:
    writer.write_hours(FIRST_END, HOURS, LOGS_PER_HOUR)
    later = END + timedelta(days=3)

    result = _verify(s3, writer, signing_key, start=later, end=later + timedelta(hours=5))

    assert not result.ok
    assert result.digests_missing == 1
    assert "no digest file found" in result.problems[0].reason
    assert [(g.start, g.end) for g in result.gaps] == [(later, later + timedelta(hours=5))]


def test_organization_trail_layout(s3: Any, signing_key: rsa.RSAPrivateKey) -> None:
    member = "444455556666"
    writer = CloudTrailWriter(
        put=s3_put(s3, BUCKET),
        bucket=BUCKET,
        account_id=member,
        region="eu-west-1",
        home_region=REGION,
        trail_name=TRAIL,
        private_key=signing_key,
        organization_id="o-abc123def4",
        prefix="org/logs",
    )
    digests = writer.write_hours(FIRST_END, 2, LOGS_PER_HOUR)
    assert digests[0].key.startswith(
        f"org/logs/AWSLogs/o-abc123def4/{member}/CloudTrail-Digest/eu-west-1/2026/02/28/"
        f"{member}_CloudTrail-Digest_eu-west-1_{TRAIL}_{REGION}_20260228T220131Z"
    )
    management_arn = f"arn:aws:cloudtrail:{REGION}:999988887777:trail/{TRAIL}"
    trail = TrailLocation(
        trail_arn=management_arn,
        account_id=member,
        organization_id="o-abc123def4",
        prefix="org/logs",
        region="eu-west-1",
    )
    keys = KeyRing([load_der_key(pkcs1_der(signing_key))])

    result = verify_trail_logs(
        S3ObjectStore(s3, BUCKET), trail, keys, START, FIRST_END + timedelta(hours=1)
    )

    assert result.ok, result.problems
    assert (result.digests_valid, result.log_files_valid) == (2, 2 * LOGS_PER_HOUR)
    assert (result.account_id, result.region) == (member, "eu-west-1")


def test_digest_content_tampered(s3: Any, writer: CloudTrailWriter, signing_key: Any) -> None:
    digests = writer.write_hours(FIRST_END, HOURS, LOGS_PER_HOUR)

    def drop_first_log(content: bytes) -> bytes:
        document = json.loads(content)
        del document["logFiles"][0]
        return json.dumps(document).encode()

    _rewrite(s3, digests[1].key, drop_first_log)

    result = _verify(s3, writer, signing_key)

    assert not result.ok
    assert result.digests_invalid == 1
    (problem,) = [p for p in result.problems if p.kind == "digest"]
    assert problem.s3_key == digests[1].key
    assert "signature verification failed" in problem.reason
    assert "previousDigestHashValue" in problem.reason  # its successor says so too
    assert result.log_files_unverified == LOGS_PER_HOUR - 1
    assert result.log_files_not_listed == 1


def test_digest_moved_from_its_location(
    s3: Any, writer: CloudTrailWriter, signing_key: Any
) -> None:
    digests = writer.write_hours(FIRST_END, 1, 0)
    copy_key = writer.digest_key(FIRST_END + timedelta(minutes=1))
    s3.copy_object(
        Bucket=BUCKET, Key=copy_key, CopySource={"Bucket": BUCKET, "Key": digests[0].key}
    )

    result = _verify(s3, writer, signing_key, end=FIRST_END)

    assert result.digests_invalid == 1
    assert "moved from its original location" in _reason(result, copy_key)


def _reason(result: TrailVerification, key: str) -> str:
    return next(p.reason for p in result.problems if p.s3_key == key)


def test_logging_stopped_is_a_gap(s3: Any, writer: CloudTrailWriter, signing_key: Any) -> None:
    writer.write_hours(FIRST_END, 2, 1)
    restart_end = FIRST_END + timedelta(hours=5)
    restarted = writer.write_digest(restart_end - timedelta(hours=1), restart_end, [], chain=False)

    result = _verify(s3, writer, signing_key, end=restart_end)

    assert not result.ok
    assert result.digests_valid == 3 and not result.digests_missing
    (gap,) = result.gaps
    assert (gap.start, gap.end) == (FIRST_END + timedelta(hours=1), restarted.start)
    assert "chain restarts" in gap.reason


def test_files_after_the_newest_digest_are_not_yet_listed(
    s3: Any, writer: CloudTrailWriter, signing_key: Any
) -> None:
    writer.write_hours(FIRST_END, 2, 1)
    newest_end = FIRST_END + timedelta(hours=1)
    late = writer.write_log(newest_end + timedelta(minutes=20))
    window_end = newest_end + timedelta(minutes=30)

    soon = _verify(s3, writer, signing_key, end=window_end, now=window_end)
    much_later = _verify(
        s3, writer, signing_key, end=window_end, now=window_end + timedelta(days=1)
    )

    assert soon.ok  # informational only: the next digest is not due yet
    assert _problems(soon, LogFileStatus.NOT_LISTED) == [late.key]
    assert "not yet listed" in _reason(soon, late.key)
    assert not much_later.ok
    assert [(g.start, g.end) for g in much_later.gaps] == [(newest_end, window_end)]


def test_only_read_calls_and_only_the_needed_day_folders(
    s3: Any, writer: CloudTrailWriter, signing_key: Any
) -> None:
    writer.write_hours(FIRST_END, HOURS, LOGS_PER_HOUR)
    # Files of another day that must not be listed.
    writer.write_hours(FIRST_END + timedelta(days=5), 1, 1)
    operations: list[str] = []  # every request sent (before-call)
    calls: list[tuple[str, dict[str, Any]]] = []  # with API parameters (before-parameter-build)
    client = boto3.client("s3", region_name=REGION)

    def record_operation(model: Any, **_: Any) -> None:
        operations.append(model.name)

    def record_params(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, dict(params)))

    client.meta.events.register("before-call.s3", record_operation)
    client.meta.events.register("before-parameter-build.s3", record_params)

    result = _verify(client, writer, signing_key)

    assert result.ok
    assert operations and all(name.startswith(("List", "Get", "Head")) for name in operations)
    assert set(operations) == {"ListObjectsV2", "GetObject"}
    listed = sorted(params["Prefix"] for name, params in calls if name == "ListObjectsV2")
    base = f"AWSLogs/{ACCOUNT}"
    assert listed == [
        f"{base}/CloudTrail-Digest/{REGION}/2026/02/28/",
        f"{base}/CloudTrail-Digest/{REGION}/2026/03/01/",
        f"{base}/CloudTrail/{REGION}/2026/02/28/",
        f"{base}/CloudTrail/{REGION}/2026/03/01/",
    ]
    gets = [params["Key"] for name, params in calls if name == "GetObject"]
    assert len(gets) == len(set(gets)) == HOURS + HOURS * LOGS_PER_HOUR  # each object once


class _DenyingStore(MemoryObjectStore):
    """A store that refuses to read one key, as S3 does without kms:Decrypt."""

    def __init__(self, bucket: str, denied: str) -> None:
        super().__init__(bucket)
        self.denied = denied

    def open(self, key: str) -> FetchedObject:
        if key == self.denied:
            raise StoreError(key, "AccessDenied")
        return super().open(key)


def test_in_memory_store_and_unreadable_log_file(signing_key: rsa.RSAPrivateKey) -> None:
    store = _DenyingStore(BUCKET, denied="")
    writer = CloudTrailWriter(
        put=store.put,
        bucket=BUCKET,
        account_id=ACCOUNT,
        region=REGION,
        trail_name=TRAIL,
        private_key=signing_key,
    )
    digests: list[WrittenDigest] = writer.write_hours(FIRST_END, 2, 2)
    keys = KeyRing([load_der_key(pkcs1_der(signing_key))])
    trail = _trail(writer)
    end = FIRST_END + timedelta(hours=1)

    assert verify_trail_logs(store, trail, keys, START, end).ok
    store.denied = digests[1].logs[0].key
    result = verify_trail_logs(store, trail, keys, START, end)

    assert not result.ok
    assert result.log_files_unverified == 1
    assert _reason(result, store.denied) == "could not read: AccessDenied"


def test_window_must_be_timezone_aware(s3: Any, writer: CloudTrailWriter, signing_key: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _verify(s3, writer, signing_key, start=datetime(2026, 1, 1), end=END)
    with pytest.raises(ValueError, match="after end"):
        _verify(s3, writer, signing_key, start=END, end=START)


def test_window_in_another_timezone(s3: Any, writer: CloudTrailWriter, signing_key: Any) -> None:
    writer.write_hours(FIRST_END, 1, 1)
    plus_two = timezone(timedelta(hours=2))

    result = _verify(s3, writer, signing_key, start=START.astimezone(plus_two), end=FIRST_END)

    assert result.ok
    assert result.window.start == START and result.window.start.utcoffset() == timedelta(0)


class _NoListingStore(MemoryObjectStore):
    """A store whose ListBucket permission is missing, as S3 answers AccessDenied."""

    def list(self, prefix: str) -> Iterator[ListedObject]:
        raise StoreError(prefix, "AccessDenied")
        yield  # pragma: no cover - makes this a generator like the real one


def test_listing_refused_is_never_ok(signing_key: rsa.RSAPrivateKey) -> None:
    store = _NoListingStore(BUCKET)
    trail = TrailLocation(trail_arn=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}")
    keys = KeyRing([load_der_key(pkcs1_der(signing_key))])

    result = verify_trail_logs(store, trail, keys, START, FIRST_END)

    assert not result.ok
    listing = [p for p in result.problems if p.kind == "listing"]
    assert listing and all("AccessDenied" in p.reason for p in listing)


def test_day_segments_merged_in_any_order_equal_one_pass(
    s3: Any, writer: CloudTrailWriter, signing_key: Any
) -> None:
    """Shards verify one day-folder each; the merge checks the chain across midnight."""
    first = writer.write_hours(FIRST_END, 2, LOGS_PER_HOUR)
    late = writer.write_log(first[-1].end + timedelta(minutes=20))  # 23:21, listed after midnight
    writer.write_digest(first[-1].end, first[-1].end + timedelta(hours=1), [late],
                        previous_hash="ab" * 32)  # fmt: skip
    end = first[-1].end + timedelta(hours=1)
    keys = KeyRing([load_der_key(pkcs1_der(signing_key))])
    store = S3ObjectStore(s3, BUCKET)

    days = segment_days(START, end)
    segments = [
        s for day in days for s in verify_segments(store, _trail(writer), keys, START, end, [day])
    ]
    merged = merge_segments(BUCKET, _trail(writer), START, end, end, reversed(segments))

    assert len(days) == 2
    assert merged == _verify(s3, writer, signing_key, end=end, now=end)
    (problem,) = merged.problems  # the link broken across midnight, seen by neither day alone
    assert problem.s3_key == first[-1].key and "previousDigestHashValue" in problem.reason
    assert merged.log_files_valid == 2 * LOGS_PER_HOUR + 1  # the 23:21 file, listed next day
    assert merged.log_files_not_listed == 0
    # The day folder alone could not tell: its digests do not list the file, the next day's do.
    assert [[key for key, _ in s.unlisted] for s in segments] == [[late.key], []]
