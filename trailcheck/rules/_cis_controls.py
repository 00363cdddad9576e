"""The CIS AWS Foundations monitoring controls as data (``data/cis_monitoring.json``).

Each control carries its ids by CIS version, its Security Hub id, the recommended (newest) CIS
filter pattern, other texts CIS accepts, historic texts with how they behave, and CloudTrail
records that a covering filter must count (``positives``), should not count (``negatives``; a
filter that counts them is over-broad but still covers) and may count either way
(``neutrals``). Records are stored compactly and expanded here from a shared template.
"""

from __future__ import annotations

import copy
import json
import uuid
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_DATA_PACKAGE = "trailcheck.rules"
_DATA_PATH = ("data", "cis_monitoring.json")
_READ_ONLY_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup")
_ID_NAMESPACE = uuid.UUID("6f1c3c8e-3d5b-4a53-9a0e-5b0c1d2e3f40")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _RecordSpec(_Frozen):
    """A record as stored: a few fields, expanded by ``_build_record``."""

    name: str
    eventSource: str  # CloudTrail field name
    eventName: str  # CloudTrail field name
    identity: str = "iam_user"
    preset: str | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    unset: tuple[str, ...] = ()
    basis: Literal["look_alike", "cis_exclusion"] = "look_alike"
    note: str = ""


class _Preset(_Frozen):
    set: dict[str, Any] = Field(default_factory=dict)
    unset: tuple[str, ...] = ()


class HistoricPattern(_Frozen):
    """A pattern text some CIS version or Security Hub prescribed, and how it behaves on the
    control's records: covers exactly (``equivalent``), covers but also counts negatives
    (``over_broad``) or misses positives (``incomplete``)."""

    label: str
    versions: tuple[str, ...]
    pattern: str
    behaviour: Literal["equivalent", "over_broad", "incomplete"]
    note: str = ""


class SampleRecord(_Frozen):
    """One CloudTrail record of a control's test set."""

    name: str
    record: dict[str, Any]
    note: str = ""
    basis: Literal["look_alike", "cis_exclusion"] = "look_alike"


class _ControlSpec(_Frozen):
    key: str
    title: str
    cis_ids: dict[str, str]
    security_hub_id: str | None
    recommended_pattern: str
    accepted_patterns: tuple[str, ...] = ()
    historic_patterns: tuple[HistoricPattern, ...] = ()
    event_source: str | None = None
    event_names: tuple[str, ...] = ()
    notes: str = ""
    positive: tuple[_RecordSpec, ...]
    negative: tuple[_RecordSpec, ...]
    neutral: tuple[_RecordSpec, ...] = ()


class _Catalogue(_Frozen):
    schema_version: Literal[1]
    description: str
    decisions: dict[str, str]
    record_template: dict[str, Any]
    identities: dict[str, dict[str, Any]]
    presets: dict[str, _Preset] = Field(default_factory=dict)
    controls: tuple[_ControlSpec, ...]


class MonitoringControl(_Frozen):
    """A CIS monitoring control (metric filter + alarm) with its patterns and test records."""

    key: str
    title: str
    cis_ids: dict[str, str]
    security_hub_id: str | None
    recommended_pattern: str
    accepted_patterns: tuple[str, ...]
    historic_patterns: tuple[HistoricPattern, ...]
    event_source: str | None
    event_names: tuple[str, ...]
    notes: str
    positives: tuple[SampleRecord, ...]
    negatives: tuple[SampleRecord, ...]
    neutrals: tuple[SampleRecord, ...]


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _remove(record: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    node: Any = record
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


def _build_record(catalogue: _Catalogue, control: str, spec: _RecordSpec) -> dict[str, Any]:
    if spec.identity not in catalogue.identities:
        raise ValueError(f"{control}/{spec.name}: unknown identity {spec.identity!r}")
    seed = f"{control}/{spec.name}"
    record: dict[str, Any] = {
        **copy.deepcopy(catalogue.record_template),
        "userIdentity": copy.deepcopy(catalogue.identities[spec.identity]),
        "eventSource": spec.eventSource,
        "eventName": spec.eventName,
        "readOnly": spec.eventName.startswith(_READ_ONLY_PREFIXES),
        "requestID": str(uuid.uuid5(_ID_NAMESPACE, "request/" + seed)),
        "eventID": str(uuid.uuid5(_ID_NAMESPACE, "event/" + seed)),
    }
    unset: list[str] = []
    if spec.preset is not None:
        preset = catalogue.presets.get(spec.preset)
        if preset is None:
            raise ValueError(f"{control}/{spec.name}: unknown preset {spec.preset!r}")
        record = _deep_merge(record, preset.set)
        unset.extend(preset.unset)
    record = _deep_merge(record, spec.set)
    for dotted in (*unset, *spec.unset):
        _remove(record, dotted)
    return record


def _samples(
    catalogue: _Catalogue, control: str, specs: tuple[_RecordSpec, ...]
) -> tuple[SampleRecord, ...]:
    return tuple(
        SampleRecord(
            name=spec.name,
            record=_build_record(catalogue, control, spec),
            note=spec.note,
            basis=spec.basis,
        )
        for spec in specs
    )


def load_catalogue_json() -> dict[str, Any]:
    """The raw catalogue document (for documentation and tooling)."""
    text = resources.files(_DATA_PACKAGE).joinpath(*_DATA_PATH).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def load_controls() -> tuple[MonitoringControl, ...]:
    """Read and expand the catalogue; every call returns fresh records (callers may cache)."""
    catalogue = _Catalogue.model_validate(load_catalogue_json())
    controls = []
    for spec in catalogue.controls:
        controls.append(
            MonitoringControl(
                key=spec.key,
                title=spec.title,
                cis_ids=spec.cis_ids,
                security_hub_id=spec.security_hub_id,
                recommended_pattern=spec.recommended_pattern,
                accepted_patterns=spec.accepted_patterns,
                historic_patterns=spec.historic_patterns,
                event_source=spec.event_source,
                event_names=spec.event_names,
                notes=spec.notes,
                positives=_samples(catalogue, spec.key, spec.positive),
                negatives=_samples(catalogue, spec.key, spec.negative),
                neutrals=_samples(catalogue, spec.key, spec.neutral),
            )
        )
    keys = [c.key for c in controls]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate control keys in the CIS catalogue")
    return tuple(controls)
