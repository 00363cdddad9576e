"""Verify a trail's digest chain and log files for a time window (`trailcheck verify-logs`).

Steps:

1. List only the digest day-folders the window needs; keep this trail's digests whose end time
   (from the key) lies in [start, end + 1 h] (the last hour's digest arrives after the window).
2. Read each digest once: gunzip, parse, check it was not moved, verify its SHA256withRSA
   signature (S3 metadata) with the key its `digestPublicKeyFingerprint` names.
3. Check the chain, stricter than `aws cloudtrail validate-logs`: for each digest whose signature
   verified, the previous digest it names must be in the bucket, its metadata signature must equal
   `previousDigestSignature` and the SHA-256 of its content must equal `previousDigestHashValue`.
   A previous digest that fails this is invalid; one that is absent is missing. Stretches of the
   window no digest covers are gaps (a digest deleted, logging stopped, validation disabled).
4. Hash every log file the digests list (streamed, in a bounded thread pool). Files listed by a
   digest whose signature did not verify are unverified, never valid.
5. List the log day-folders of the window: files no digest lists are reported as not listed.

Where this differs from `aws cloudtrail validate-logs` (see facts.md section 4):

- The CLI never compares `previousDigestHashValue` or `previousDigestSignature` with the previous
  digest; we do, so a correctly re-signed digest with a broken link is caught. A link failure
  marks the *previous* digest invalid (the successor's signed statement says it is not the file
  CloudTrail chained); log files are still checked for any digest whose own signature verified.
- The CLI prints "No digests found" and exits 0 for a window without digests; we report one
  missing digest and a gap, so `.ok` is false.
- Stretches no digest covers (chain restarts, deleted digests, an overdue next digest) are gaps
  and make `.ok` false; the CLI only prints a line for a restart.
- Keys are accepted in PKCS#1 or SubjectPublicKeyInfo form (the CLI loads only PKCS#1).
- Trailing data after a digest's gzip stream makes it invalid, as it does for log files in
  newer CLIs. A digest whose metadata lacks the signature is invalid, as in the CLI.
- One bucket only: a previous digest in another bucket (the trail moved) is reported missing,
  where the CLI follows it. Backfill digests are not verified.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from trailcheck.verify.digest import (
    HASH_ALGORITHM,
    METADATA_SIGNATURE,
    METADATA_SIGNATURE_ALGORITHM,
    Digest,
    DigestFormatError,
    content_sha256,
    gunzip,
    parse_digest,
    signing_string,
    verify_signature,
)
from trailcheck.verify.keys import KeyRing
from trailcheck.verify.layout import TrailLocation, days, digest_key_time, log_key_time
from trailcheck.verify.logfile import LogFormatError, hash_gzip_stream
from trailcheck.verify.results import (
    DigestResult,
    DigestStatus,
    Gap,
    LogFileStatus,
    Problem,
    TrailVerification,
    Window,
)
from trailcheck.verify.store import ObjectNotFound, ObjectStore, StoreError

T = TypeVar("T")
RecordSink = Callable[[str, list[Any]], None]
"""Receives (log file key, its records) for each verified log file."""
R = TypeVar("R")

DEFAULT_MAX_WORKERS = 16
DIGEST_PERIOD = timedelta(hours=1)
"""CloudTrail delivers a digest about every hour, even when no log file was delivered."""
DELIVERY_GRACE = timedelta(minutes=30)
"""How late the next digest may be before the stretch after the newest digest is a gap."""


@dataclass(frozen=True)
class _ListedDigest:
    key: str
    end: datetime


@dataclass
class _DigestState:
    """One digest as read; `reasons` collects every way it failed (empty means valid)."""

    key: str
    key_end: datetime
    status: DigestStatus = DigestStatus.VALID
    reasons: list[str] = field(default_factory=list)
    digest: Digest | None = None
    content_hash: str | None = None
    signature: str | None = None
    signature_ok: bool = False
    log_file_count: int = 0

    def drop_log_list(self) -> None:
        """Forget the digest's log list once its files are planned (a segment stays small)."""
        if self.digest is not None:
            self.log_file_count = len(self.digest.log_files)
            self.digest = self.digest.model_copy(update={"log_files": ()})

    def fail(self, status: DigestStatus, reason: str) -> None:
        # INVALID outranks UNVERIFIABLE: a digest proven wrong is reported as such.
        if self.status is not DigestStatus.INVALID:
            self.status = status
        self.reasons.append(reason)


@dataclass(frozen=True)
class _LogCheck:
    key: str
    status: LogFileStatus
    reason: str | None = None
    digest_key: str | None = None
    fingerprint: str | None = None


def verify_trail_logs(
    store: ObjectStore,
    trail: TrailLocation,
    keys: KeyRing,
    start: datetime,
    end: datetime,
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
    now: datetime | None = None,
    on_records: RecordSink | None = None,
) -> TrailVerification:
    """Verify the digests and log files of `trail` delivered in [start, end] (aware datetimes).

    Only read calls are made on `store`. `now` (default: the current time) decides whether the
    digest after the newest one found is overdue (a gap) or simply not delivered yet.
    `on_records(key, records)` receives the records of each log file whose hash verified, read
    in the same pass that hashed it (one download).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if start > end:
        raise ValueError("start is after end")
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        segments = [
            _read_segment(pool, 4 * max_workers, store, trail, keys, start, end, day, on_records)
            for day in segment_days(start, end)
        ]
    return merge_segments(store.bucket, trail, start, end, now, segments)


@dataclass(frozen=True)
class Segment:
    """One day-folder of a chain, read and checked: plain data, no log file contents.

    The digests delivered that day (signatures checked, their log lists dropped once planned),
    the log files they list (hashed), the log files of that day's log folder that none of them
    lists (candidates for "not listed": a digest of another day may list them), and the
    listing errors. Links between digests, gaps and "not listed" need the whole window: they
    are decided by `merge_segments`, so a chain split across shards is checked across the
    shard boundaries exactly as in one piece.
    """

    day: date
    states: tuple[_DigestState, ...]
    log_checks: tuple[_LogCheck, ...]
    unlisted: tuple[tuple[str, datetime], ...]
    digest_listing_problems: tuple[Problem, ...]
    log_listing_problems: tuple[Problem, ...]


def segment_days(start: datetime, end: datetime) -> list[date]:
    """The day-folders a window's verification reads: one segment each."""
    return days(start, end + DIGEST_PERIOD)


def verify_segments(
    store: ObjectStore,
    trail: TrailLocation,
    keys: KeyRing,
    start: datetime,
    end: datetime,
    folders: Iterable[date],
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
    on_records: RecordSink | None = None,
) -> list[Segment]:
    """Read and check the digests and log files of some days of the window [start, end], one
    `Segment` per day, with one pool of `max_workers` readers (`on_records`: as in
    `verify_trail_logs`, called where the shard runs)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return [
            _read_segment(pool, 4 * max_workers, store, trail, keys, start, end, day, on_records)
            for day in folders
        ]


def _read_segment(
    pool: ThreadPoolExecutor,
    in_flight: int,
    store: ObjectStore,
    trail: TrailLocation,
    keys: KeyRing,
    start: datetime,
    end: datetime,
    day: date,
    on_records: RecordSink | None = None,
) -> Segment:
    digest_problems: list[Problem] = []
    log_problems: list[Problem] = []
    listed = _list_digests(store, trail, start, end, [day], digest_problems)
    read = partial(_read_digest, store, keys)
    states = list(_bounded_map(pool, read, listed, in_flight))
    to_hash, log_checks = _plan_log_checks(states, store.bucket)
    hash_one = partial(_hash_log_file, store, on_records=on_records)
    log_checks += _bounded_map(pool, lambda item: hash_one(*item), to_hash, in_flight)
    for state in states:
        state.drop_log_list()
    in_digests = {check.key for check in log_checks}
    unlisted: list[tuple[str, datetime]] = []
    if day <= end.date():
        found = log_files_in_window(store, trail, start, end, [day], log_problems)
        unlisted = [(key, delivered) for key, delivered in found if key not in in_digests]
    return Segment(
        day=day,
        states=tuple(states),
        log_checks=tuple(log_checks),
        unlisted=tuple(unlisted),
        digest_listing_problems=tuple(digest_problems),
        log_listing_problems=tuple(log_problems),
    )


def merge_segments(
    bucket: str,
    trail: TrailLocation,
    start: datetime,
    end: datetime,
    now: datetime,
    segments: Iterable[Segment],
) -> TrailVerification:
    """Join the day segments of one chain (any order) into the window's verification.

    Checks each digest's link to its predecessor wherever the predecessor was read (the chain
    across segment boundaries included), finds the gaps, and decides which log files no digest
    lists. A log file listed by two digests counts once, for the oldest.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    now = now.astimezone(UTC)
    ordered = sorted(segments, key=lambda segment: segment.day)
    states = [copy(state) for segment in ordered for state in segment.states]
    for state in states:
        state.reasons = list(state.reasons)
    states.sort(key=lambda state: (state.key_end, state.key))
    missing = _check_links(states, bucket, trail, start)
    log_checks: list[_LogCheck] = []
    in_digests: set[str] = set()
    for segment in ordered:
        for check in segment.log_checks:
            if check.key not in in_digests:
                in_digests.add(check.key)
                log_checks.append(check)
    gaps = _find_gaps(states, missing, start, end, now)
    newest_end = max((state.digest.end for state in states if state.digest), default=None)
    for segment in ordered:
        for key, delivered in segment.unlisted:
            if key not in in_digests:
                reason = _unlisted_reason(delivered, gaps, newest_end, now)
                log_checks.append(_LogCheck(key, LogFileStatus.NOT_LISTED, reason))
    listing_problems = [p for segment in ordered for p in segment.digest_listing_problems]
    listing_problems += [p for segment in ordered for p in segment.log_listing_problems]
    digest_results = _digest_results(states, missing, trail, start, end)
    return _summarise(bucket, trail, start, end, digest_results, log_checks, gaps, listing_problems)


def _bounded_map(
    pool: ThreadPoolExecutor, function: Callable[[T], R], items: Iterable[T], in_flight: int
) -> Iterator[R]:
    """Like `pool.map`, in order, but with at most `in_flight` tasks submitted at a time
    (`pool.map` would create every future up front: memory grows with the file count)."""
    pending: deque[Future[R]] = deque()
    for item in items:
        if len(pending) >= in_flight:
            yield pending.popleft().result()
        # Each task runs in a copy of the caller's context (a worker's per-shard API meter).
        pending.append(pool.submit(copy_context().run, function, item))
    while pending:
        yield pending.popleft().result()


def _list_digests(
    store: ObjectStore,
    trail: TrailLocation,
    start: datetime,
    end: datetime,
    folders: Iterable[date],
    problems: list[Problem],
) -> list[_ListedDigest]:
    """This trail's digest keys in the day `folders` with an end time in [start, end + 1 h],
    oldest first."""
    pattern = trail.digest_key_pattern()
    last = end + DIGEST_PERIOD
    found: list[_ListedDigest] = []
    for day in folders:
        prefix = trail.digest_day_prefix(day)
        try:
            for obj in store.list(prefix):
                match = pattern.match(obj.key)
                if match and start <= digest_key_time(match) <= last:
                    found.append(_ListedDigest(obj.key, digest_key_time(match)))
        except StoreError as exc:
            problems.append(_listing_problem(prefix, exc))
    return sorted(found, key=lambda item: (item.end, item.key))


def _listing_problem(prefix: str, exc: StoreError) -> Problem:
    return Problem(
        kind="listing",
        status="error",
        s3_key=prefix,
        reason=f"could not list: {exc.code}; files under this prefix were not checked",
    )


def _read_digest(store: ObjectStore, keys: KeyRing, listed: _ListedDigest) -> _DigestState:
    """Read, parse and signature-check one digest."""
    state = _DigestState(key=listed.key, key_end=listed.end)
    try:
        with store.open(listed.key) as obj:
            raw = obj.read()
            metadata = dict(obj.metadata)
    except ObjectNotFound:
        state.fail(DigestStatus.MISSING, "listed, but gone when read")
        return state
    except StoreError as exc:
        state.fail(DigestStatus.UNVERIFIABLE, f"could not read: {exc.code}")
        return state
    try:
        content = gunzip(raw)
        digest = parse_digest(content)
    except DigestFormatError as exc:
        state.fail(DigestStatus.INVALID, f"invalid format: {exc}")
        return state
    state.digest = digest
    state.content_hash = content_sha256(content)
    state.signature = metadata.get(METADATA_SIGNATURE)
    algorithm = metadata.get(METADATA_SIGNATURE_ALGORITHM)

    if digest.digest_s3_bucket != store.bucket or digest.digest_s3_object != listed.key:
        state.fail(
            DigestStatus.INVALID,
            "has been moved from its original location "
            f"s3://{digest.digest_s3_bucket}/{digest.digest_s3_object}",
        )
    elif not state.signature or not algorithm:
        state.fail(DigestStatus.INVALID, "no signature or signature algorithm in the metadata")
    elif (public_key := keys.get(digest.digest_public_key_fingerprint)) is None:
        state.fail(
            DigestStatus.UNVERIFIABLE,
            f"public key not found for fingerprint {digest.digest_public_key_fingerprint}",
        )
    else:
        message = signing_string(digest, state.content_hash)
        try:
            state.signature_ok = verify_signature(
                public_key.rsa_key, message, state.signature, algorithm
            )
        except ValueError as exc:
            state.fail(DigestStatus.INVALID, str(exc))
        else:
            if not state.signature_ok:
                state.fail(DigestStatus.INVALID, "signature verification failed")
    return state


def _check_links(
    states: list[_DigestState], bucket: str, trail: TrailLocation, start: datetime
) -> dict[str, str]:
    """Check each verified digest's link to its predecessor.

    Marks predecessors that contradict the link invalid; returns the predecessors that should be
    in the window's listing but are absent (key -> reason).
    """
    by_key = {state.key: state for state in states}
    pattern = trail.digest_key_pattern()
    missing: dict[str, str] = {}
    for state in states:
        digest = state.digest
        if digest is None or not state.signature_ok or digest.is_chain_start:
            continue
        previous_key = digest.previous_digest_s3_object or ""
        previous = by_key.get(previous_key) if digest.previous_digest_s3_bucket == bucket else None
        if previous is None:
            match = pattern.match(previous_key)
            if match is None or digest_key_time(match) >= start:
                where = f"s3://{digest.previous_digest_s3_bucket}/{previous_key}"
                missing[previous_key] = (
                    f"{state.key} names {where} as its previous digest; it is not in the bucket"
                )
            continue
        if previous.digest is None:
            continue  # already reported as unreadable or invalid
        recorded_hash = (digest.previous_digest_hash_value or "").lower()
        if digest.previous_digest_hash_algorithm != HASH_ALGORITHM:
            previous.fail(
                DigestStatus.INVALID,
                f"{state.key} records an unsupported previousDigestHashAlgorithm "
                f"{digest.previous_digest_hash_algorithm!r}",
            )
        elif recorded_hash != previous.content_hash:
            previous.fail(
                DigestStatus.INVALID,
                f"SHA-256 of its content {previous.content_hash} differs from the "
                f"previousDigestHashValue {recorded_hash} that {state.key} records",
            )
        if (digest.previous_digest_signature or "").lower() != (previous.signature or "").lower():
            previous.fail(
                DigestStatus.INVALID,
                f"its signature differs from the previousDigestSignature that {state.key} records",
            )
    return missing


def _plan_log_checks(
    states: list[_DigestState], bucket: str
) -> tuple[list[tuple[str, str, str, str]], list[_LogCheck]]:
    """Split listed log files into those to hash and those already decided (unverified)."""
    to_hash: list[tuple[str, str, str, str]] = []
    decided: list[_LogCheck] = []
    seen: set[str] = set()
    for state in states:
        if state.digest is None:
            continue
        fingerprint = state.digest.digest_public_key_fingerprint
        for log_file in state.digest.log_files:
            if log_file.s3_object in seen:
                continue
            seen.add(log_file.s3_object)
            reason = None
            if not state.signature_ok:
                reason = f"listed by digest whose signature could not be verified ({state.status})"
            elif log_file.s3_bucket != bucket:
                reason = f"listed in bucket {log_file.s3_bucket}, not checked"
            elif log_file.hash_algorithm != HASH_ALGORITHM:
                reason = f"unsupported hash algorithm {log_file.hash_algorithm!r}"
            if reason is None:
                to_hash.append((log_file.s3_object, log_file.hash_value, state.key, fingerprint))
            else:
                decided.append(
                    _LogCheck(
                        log_file.s3_object, LogFileStatus.UNVERIFIED, reason, state.key, fingerprint
                    )
                )
    return to_hash, decided


def _hash_log_file(
    store: ObjectStore,
    key: str,
    expected: str,
    digest_key: str,
    fingerprint: str,
    on_records: RecordSink | None = None,
) -> _LogCheck:
    """Stream one log file through gunzip and SHA-256 and compare with its digest entry
    (and, with `on_records`, hand its records over when the hash matches)."""
    content = bytearray() if on_records is not None else None
    try:
        with store.open(key) as obj:
            actual = hash_gzip_stream(
                obj.read, sink=content.extend if content is not None else None
            )
    except ObjectNotFound:
        status, reason = LogFileStatus.DELETED, "not found"
    except StoreError as exc:
        status, reason = LogFileStatus.UNVERIFIED, f"could not read: {exc.code}"
    except LogFormatError as exc:
        status, reason = LogFileStatus.MODIFIED, f"invalid format: {exc}"
    else:
        if actual == expected.lower():
            if on_records is not None and content is not None:
                _hand_over(on_records, key, content)
            return _LogCheck(key, LogFileStatus.VALID, None, digest_key, fingerprint)
        status = LogFileStatus.MODIFIED
        reason = f"hash value doesn't match: SHA-256 {actual}, digest lists {expected.lower()}"
    return _LogCheck(key, status, reason, digest_key, fingerprint)


def _hand_over(on_records: RecordSink, key: str, content: bytearray) -> None:
    try:
        records = json.loads(content).get("Records")
    except (ValueError, AttributeError):
        return  # hashed fine but not a records document: nothing to extract
    if isinstance(records, list):
        on_records(key, records)


def log_files_in_window(
    store: ObjectStore,
    trail: TrailLocation,
    start: datetime,
    end: datetime,
    folders: Iterable[date],
    problems: list[Problem],
) -> list[tuple[str, datetime]]:
    """The trail's log files in the day `folders` delivered in [start, end] (to the minute)."""
    pattern = trail.log_key_pattern()
    first_minute = start.replace(second=0, microsecond=0)
    found: list[tuple[str, datetime]] = []
    for day in folders:
        prefix = trail.log_day_prefix(day)
        try:
            for obj in store.list(prefix):
                match = pattern.match(obj.key)
                if match and first_minute <= log_key_time(match) <= end:
                    found.append((obj.key, log_key_time(match)))
        except StoreError as exc:
            problems.append(_listing_problem(prefix, exc))
    return found


def _unlisted_reason(
    delivered: datetime, gaps: list[Gap], newest_end: datetime | None, now: datetime
) -> str:
    """Why a log file in the bucket may be listed by no digest read."""
    for gap in gaps:
        if gap.start.replace(second=0) <= delivered <= gap.end:
            return f"listed by no digest: delivered in a gap ({gap.reason})"
    if newest_end is not None and delivered >= newest_end.replace(second=0):
        if now < newest_end + DIGEST_PERIOD + DELIVERY_GRACE:
            return "delivered after the newest digest; not yet listed"
        return "delivered after the newest digest, and the next digest is overdue"
    return (
        "listed by no digest covering its delivery time: added by someone other than "
        "CloudTrail, or written by another trail to the same prefix"
    )


def _find_gaps(
    states: list[_DigestState],
    missing: dict[str, str],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[Gap]:
    """Stretches of [start, end] that no digest read covers."""
    parsed = sorted(
        ((state.digest, state) for state in states if state.digest is not None),
        key=lambda pair: (pair[0].end, pair[1].key),
    )
    gaps: list[Gap] = []
    cursor = start
    for digest, state in parsed:
        if digest.start > cursor and cursor < end:
            reason = _gap_reason(digest, state.key, missing)
            gaps.append(Gap(start=cursor, end=min(digest.start, end), reason=reason))
        cursor = max(cursor, digest.end)
    if not parsed:
        gaps.append(Gap(start=start, end=end, reason="no readable digest file in the window"))
    elif cursor < end and now >= cursor + DIGEST_PERIOD + DELIVERY_GRACE:
        gaps.append(
            Gap(
                start=cursor,
                end=end,
                reason="no digest after the newest one although it is overdue: logging stopped, "
                "validation disabled, or digests deleted",
            )
        )
    return gaps


def _gap_reason(digest: Digest, key: str, missing: dict[str, str]) -> str:
    if digest.is_chain_start:
        return (
            f"no digest covers this time; the chain restarts at {key} (logging stopped, "
            "log file validation disabled, or the trail did not exist before it)"
        )
    previous = digest.previous_digest_s3_object or ""
    if previous in missing:
        return f"the digest covering this time, {previous}, is missing (deleted)"
    return f"digests covering this time are missing; the chain continues at {key}"


def _digest_results(
    states: list[_DigestState],
    missing: dict[str, str],
    trail: TrailLocation,
    start: datetime,
    end: datetime,
) -> list[DigestResult]:
    """One result per digest read or missing, oldest first."""
    results = [
        DigestResult(
            s3_key=state.key,
            status=state.status,
            start=state.digest.start if state.digest else None,
            end=state.digest.end if state.digest else state.key_end,
            fingerprint=state.digest.digest_public_key_fingerprint if state.digest else None,
            log_files=state.log_file_count,
            reason="; ".join(state.reasons) or None,
        )
        for state in states
    ]
    pattern = trail.digest_key_pattern()
    for key, reason in missing.items():
        match = pattern.match(key)
        results.append(
            DigestResult(
                s3_key=key,
                status=DigestStatus.MISSING,
                end=digest_key_time(match) if match else None,
                reason=reason,
            )
        )
    if not states:
        results.append(
            DigestResult(
                s3_key=trail.digest_day_prefix(start.date()),
                status=DigestStatus.MISSING,
                reason=f"no digest file found for {start:%Y-%m-%dT%H:%M:%SZ} to "
                f"{end + DIGEST_PERIOD:%Y-%m-%dT%H:%M:%SZ}",
            )
        )
    return sorted(results, key=lambda r: (r.end or start, r.s3_key))


def _summarise(
    bucket: str,
    trail: TrailLocation,
    start: datetime,
    end: datetime,
    digests: list[DigestResult],
    logs: Iterable[_LogCheck],
    gaps: list[Gap],
    listing_problems: list[Problem],
) -> TrailVerification:
    logs = sorted(logs, key=lambda check: check.key)
    digest_counts = {status: 0 for status in DigestStatus}
    for result in digests:
        digest_counts[result.status] += 1
    log_counts = {status: 0 for status in LogFileStatus}
    for check in logs:
        log_counts[check.status] += 1
    problems = [
        Problem(
            kind="digest",
            status=result.status,
            s3_key=result.s3_key,
            reason=result.reason or "",
            fingerprint=result.fingerprint,
        )
        for result in digests
        if result.status is not DigestStatus.VALID
    ]
    problems += [
        Problem(
            kind="log_file",
            status=check.status,
            s3_key=check.key,
            reason=check.reason or "",
            fingerprint=check.fingerprint,
            digest_key=check.digest_key,
        )
        for check in logs
        if check.status is not LogFileStatus.VALID
    ]
    problems += listing_problems
    return TrailVerification(
        trail_arn=trail.trail_arn,
        bucket=bucket,
        account_id=trail.log_account,
        region=trail.source_region,
        organization_id=trail.organization_id,
        window=Window(start=start, end=end),
        digests_valid=digest_counts[DigestStatus.VALID],
        digests_invalid=digest_counts[DigestStatus.INVALID],
        digests_missing=digest_counts[DigestStatus.MISSING],
        digests_unverifiable=digest_counts[DigestStatus.UNVERIFIABLE],
        log_files_valid=log_counts[LogFileStatus.VALID],
        log_files_modified=log_counts[LogFileStatus.MODIFIED],
        log_files_deleted=log_counts[LogFileStatus.DELETED],
        log_files_unverified=log_counts[LogFileStatus.UNVERIFIED],
        log_files_not_listed=log_counts[LogFileStatus.NOT_LISTED],
        gaps=tuple(gaps),
        digests=tuple(digests),
        problems=tuple(sorted(problems, key=lambda p: (p.kind, p.s3_key))),
    )
