"""Source 2: the trail's own log files in S3 (`trailcheck events`, `verify-logs --extract-events`).

LookupEvents keeps 90 days and answers per account and region; the log files keep what the
bucket keeps, and an organization trail's bucket holds every member's events. The same key
layout and reading code as verify-logs (`verify.layout`, `verify.chain.log_files_in_window`,
`verify.logfile.hash_gzip_stream`) find and inflate the files: each file is streamed through
gunzip once, its inflated bytes parsed once, and only the change events kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trailcheck.changes.catalog import CHANGE_EVENTS, short_name
from trailcheck.changes.model import ChangeEvent
from trailcheck.verify.chain import log_files_in_window
from trailcheck.verify.layout import TrailLocation, days
from trailcheck.verify.logfile import LogFormatError, hash_gzip_stream
from trailcheck.verify.results import Problem
from trailcheck.verify.store import ObjectNotFound, ObjectStore, StoreError


@dataclass(frozen=True)
class EventFilter:
    """Which change events to keep: every criterion given must match (empty: any)."""

    accounts: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()  # ARNs or names; an ARN also matches its short name
    event_names: frozenset[str] = CHANGE_EVENTS
    principals: frozenset[str] = frozenset()  # principal ARNs, or a role/user/session name

    def matches(self, event: ChangeEvent) -> bool:
        if self.accounts and event.account_id not in self.accounts:
            return False
        if self.event_names and event.event_name not in self.event_names:
            return False
        if self.resources and not (_resource_names(self.resources) & set(event.resources)):
            return False
        if self.principals:
            arn = event.principal_arn or ""
            names = {arn, event.role_name, event.session_name, arn.rsplit("/", 1)[-1]}
            if not (self.principals & names):
                return False
        return True


def _resource_names(resources: Iterable[str]) -> set[str]:
    names = set()
    for value in resources:
        names.add(value)
        if value.startswith("arn:"):
            names.add(short_name(value))
            names.add(value.removesuffix(":*"))
    return names


def change_events_in(records: Iterable[Any], keep: EventFilter) -> Iterator[ChangeEvent]:
    """The write events of `records` that `keep` accepts (read-only records never)."""
    for record in records:
        if not isinstance(record, Mapping) or record.get("readOnly") is True:
            continue
        event = ChangeEvent.from_record(record)
        if keep.matches(event):
            yield event


def parse_records(content: bytes | bytearray) -> list[Any]:
    """The `Records` of an inflated log file. Raises LogFormatError when it is not one."""
    try:
        document = json.loads(content)
    except ValueError as exc:
        raise LogFormatError(f"not JSON: {exc}") from exc
    records = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise LogFormatError("no Records list")
    return records


def read_log_records(read: Callable[[int], bytes]) -> list[Any]:
    """Stream one gzip log file through gunzip (verify-logs' reader) and parse it once."""
    content = bytearray()
    hash_gzip_stream(read, sink=content.extend)
    return parse_records(content)


@dataclass
class Extraction:
    """What a pass over log files found."""

    events: list[ChangeEvent] = field(default_factory=list)
    files_read: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, other: Extraction) -> None:
        self.events.extend(other.events)
        self.files_read += other.files_read
        self.problems.extend(other.problems)

    def sorted_events(self) -> list[ChangeEvent]:
        """Events oldest first, each event id once (log files may repeat an event)."""
        seen: set[str] = set()
        unique = []
        for event in sorted(self.events, key=lambda e: (e.event_time, e.event_id or "")):
            if event.event_id and event.event_id in seen:
                continue
            if event.event_id:
                seen.add(event.event_id)
            unique.append(event)
        return unique


def _problem(key: str, reason: str) -> Problem:
    return Problem(kind="log_file", status="unreadable", s3_key=key, reason=reason)


def _read_one(store: ObjectStore, key: str, keep: EventFilter) -> Extraction:
    found = Extraction()
    try:
        with store.open(key) as obj:
            records = read_log_records(obj.read)
    except ObjectNotFound:
        found.problems.append(_problem(key, "log file not found"))
        return found
    except StoreError as exc:
        found.problems.append(_problem(key, f"could not read: {exc.code}"))
        return found
    except LogFormatError as exc:
        found.problems.append(_problem(key, f"unreadable log file: {exc}"))
        return found
    found.files_read = 1
    found.events.extend(change_events_in(records, keep))
    return found


def extract_events(
    store: ObjectStore,
    locations: Sequence[TrailLocation],
    start: datetime,
    end: datetime,
    keep: EventFilter,
    *,
    max_workers: int = 8,
) -> Extraction:
    """The change events in the log files delivered in [start, end] for each location
    (account and region of a trail), filtered by `keep`, oldest first; unreadable files are
    problems. The window is the files' delivery time, as in verify-logs."""
    result = Extraction()
    keys: list[str] = []
    for location in locations:
        for key, _ in log_files_in_window(
            store, location, start, end, days(start, end), result.problems
        ):
            keys.append(key)
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        for found in pool.map(lambda k: _read_one(store, k, keep), keys):
            result.add(found)
    result.events = result.sorted_events()
    return result


def jsonl(events: Iterable[ChangeEvent]) -> str:
    """One JSON object per line (sorted keys), the agreed ChangeEvent fields."""
    return "".join(
        json.dumps(e.model_dump(mode="json"), sort_keys=True, ensure_ascii=False) + "\n"
        for e in events
    )
