"""Change events (JSON Lines, one CloudTrail management event per line, as `trailcheck events`
writes them) read as plain validated dicts, and what each kind of event can affect."""

from __future__ import annotations

import fnmatch
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trailcheck.changes.model import ChangeEvent
from trailcheck.errors import UserError

FIELDS = tuple(ChangeEvent.model_fields)  # the record `trailcheck events` writes
_REQUIRED = ("event_time", "event_name", "account_id", "event_id")

# Events that stop (or restore) the recording itself: they open (close) an interruption of the
# controls those rules decide, whatever the scans saw on their days.
STOPS = {"StopLogging": "restores with StartLogging", "DeleteTrail": "restores with CreateTrail"}
RESTORES = {"StartLogging", "CreateTrail"}

# Event name (glob) -> the rule ids (globs) whose verdict the change can alter.
AFFECTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("StopLogging", ("CT.TRAIL.LOGGING", "CT.ACCOUNT.*", "CT.MON.*")),
    ("StartLogging", ("CT.TRAIL.LOGGING", "CT.ACCOUNT.*", "CT.MON.*")),
    ("*Trail", ("CT.TRAIL.*", "CT.ACCOUNT.*", "CT.MON.*")),
    ("Put*Selectors", ("CT.TRAIL.*", "CT.ACCOUNT.*", "CT.MON.*")),
    ("*Bucket*", ("CT.BUCKET.*",)),
    ("PutObjectLockConfiguration", ("CT.BUCKET.*",)),
    ("*Key*", ("CT.KMS.*", "CT.TRAIL.KMS_ENCRYPTION")),
    ("*Key", ("CT.KMS.*", "CT.TRAIL.KMS_ENCRYPTION")),
    ("*MetricFilter*", ("CT.MON.*",)),
    ("*Alarm*", ("CT.MON.*",)),
    ("*Topic*", ("CT.MON.*",)),
    ("*Subscri*", ("CT.MON.*",)),
    ("*LogGroup*", ("CT.TRAIL.CLOUDWATCH_LOGS", "CT.MON.*")),
    ("PutRetentionPolicy", ("CT.TRAIL.CLOUDWATCH_LOGS",)),
)


def affected_rules(event_name: str, rule_ids: list[str]) -> list[str]:
    """The rules (of `rule_ids`) whose verdict an event of this name can change."""
    patterns = [p for glob, ps in AFFECTS if fnmatch.fnmatchcase(event_name, glob) for p in ps]
    return [r for r in rule_ids if any(fnmatch.fnmatchcase(r, p) for p in patterns)]


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise UserError(f"{where}: event_time must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"{where}: event_time {value!r} is not an ISO 8601 time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def validate_event(record: Any, where: str) -> dict[str, Any]:
    """One record checked against `ChangeEvent` (the record `trailcheck events` and `scan --who`
    write) and normalised: absent optional fields are None/False/[], `event_time` aware."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: not a JSON object")
    missing = [f for f in _REQUIRED if not record.get(f)]
    if missing:
        raise UserError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise UserError(f"{where}: unknown field {unknown[0]!r}")
    defaults = {"is_root": False, "is_aws_service": False, "resources": []}
    filled = {name: record.get(name, defaults.get(name)) for name in FIELDS}
    try:
        event = ChangeEvent.model_validate(filled)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "record"
        raise UserError(f"{where}: {field}: {first['msg']}") from None
    data = event.model_dump()
    data["event_time"] = _time(event.event_time, where)
    return data


def load_events(paths: list[Path]) -> list[dict[str, Any]]:
    """Every event of the files, each once (by event_id), in time order."""
    seen: dict[str, dict[str, Any]] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UserError(f"--events: cannot read {path}: {exc.strerror or exc}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{where}: not valid JSON: {exc.msg}") from None
            event = validate_event(record, where)
            seen.setdefault(event["event_id"], event)
    return sorted(seen.values(), key=lambda e: (e["event_time"], e["event_id"]))


def resource_names(event: dict[str, Any]) -> list[str]:
    """The resource names/ARNs an event names."""
    return [item for item in event["resources"] if isinstance(item, str)]
