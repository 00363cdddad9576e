"""The CIS AWS Foundations monitoring controls as data (``data/cis_monitoring.json``).

Each control carries its ids by CIS version, its Security Hub id, the recommended (newest) CIS
filter pattern, other texts CIS accepts, historic texts with how they behave, and CloudTrail
records that a covering filter must count (``positives``), should not count (``negatives``; a
filter that counts them is over-broad but still covers) and may count either way
(``neutrals``). Records are stored compactly and expanded here from a shared template.

A real event comes from any caller, region and client, so each positive is also required in
``variants``: the record as made by each caller profile (root from the console, an IAM Identity
Center user over IPv6, a federated user with boto3, a role running Terraform or acting through
CloudFormation ...), along the axes the control varies. A filter narrowed to one region or
identity type misses a variant and does not cover. ``stronger_controls`` are trailcheck's own
judgements built on a CIS control (its records plus some of its neutrals made positive); they
decide no framework control.
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
# CloudTrail delivers these services' events in the partition's global region only: their
# records are never varied by region.
_GLOBAL_SOURCES = frozenset({"iam.amazonaws.com", "organizations.amazonaws.com"})
Axis = Literal["identity", "region", "client"]
_ALL_AXES: tuple[Axis, ...] = ("identity", "region", "client")


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


class _Profile(_Frozen):
    """Who calls, from where, with what: applied to a positive record to make a variant."""

    identity: str
    who: str  # the caller, for people: "the root user"
    client: str  # how it calls: "from the console"
    only: tuple[str, ...] = ()  # the controls it applies to (empty: every control)
    set: dict[str, Any] = Field(default_factory=dict)


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
    base: str | None = None  # for a variant: the name of the positive it varies


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
    vary: tuple[Axis, ...] = _ALL_AXES
    positive: tuple[_RecordSpec, ...]
    negative: tuple[_RecordSpec, ...]
    neutral: tuple[_RecordSpec, ...] = ()


class _StrongerSpec(_Frozen):
    """trailcheck's own control built on a CIS control: some of its neutrals become required."""

    key: str
    extends: str
    title: str
    recommended_pattern: str
    also_required: tuple[str, ...]
    cis_versions: tuple[str, ...] = ()  # CIS versions whose exact test is this control's
    notes: str = ""


class _Catalogue(_Frozen):
    schema_version: Literal[1]
    description: str
    decisions: dict[str, str]
    record_template: dict[str, Any]
    identities: dict[str, dict[str, Any]]
    presets: dict[str, _Preset] = Field(default_factory=dict)
    profiles: dict[str, _Profile] = Field(default_factory=dict)
    controls: tuple[_ControlSpec, ...]
    stronger_controls: tuple[_StrongerSpec, ...] = ()


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
    variants: tuple[SampleRecord, ...] = ()  # each positive as other callers make it
    vary: tuple[Axis, ...] = _ALL_AXES  # what the variants change
    extends: str | None = None  # a stronger control: the CIS control it builds on
    # CIS versions whose exact test a stronger control built on this one applies instead
    superseded_in: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[SampleRecord, ...]:
        """Every record a covering filter must count: the positives and their variants."""
        return (*self.positives, *self.variants)


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


def _profile_part(profile: _Profile, axes: tuple[Axis, ...], global_source: bool) -> dict:
    """The fields of `profile` along `axes` (identity, awsRegion, client fields)."""
    part: dict[str, Any] = {}
    for key, value in profile.set.items():
        axis = "identity" if key == "userIdentity" else "region" if key == "awsRegion" else "client"
        if axis in axes and not (axis == "region" and global_source):
            part[key] = value
    return part


def _variants(
    catalogue: _Catalogue, spec: _ControlSpec, positives: tuple[SampleRecord, ...]
) -> tuple[SampleRecord, ...]:
    """Each positive as made by each caller profile, along the control's axes (deduplicated)."""
    made: list[SampleRecord] = []
    for sample in positives:
        seen = [_comparable(sample.record)]
        for name, profile in sorted(catalogue.profiles.items()):
            if profile.only and spec.key not in profile.only:
                continue
            record = copy.deepcopy(sample.record)
            if "identity" in spec.vary:
                record["userIdentity"] = copy.deepcopy(catalogue.identities[profile.identity])
            global_source = record.get("eventSource") in _GLOBAL_SOURCES
            part = _profile_part(profile, spec.vary, global_source)
            record = _deep_merge(record, part)
            if _comparable(record) in seen:
                continue
            seen.append(_comparable(record))
            seed = f"{spec.key}/{sample.name}~{name}"
            record["eventID"] = str(uuid.uuid5(_ID_NAMESPACE, "event/" + seed))
            if "requestID" in record:
                record["requestID"] = str(uuid.uuid5(_ID_NAMESPACE, "request/" + seed))
            made.append(
                SampleRecord(
                    name=f"{sample.name}~{name}",
                    record=record,
                    note=_variant_note(profile, spec.vary, part),
                    base=sample.name,
                )
            )
    return tuple(made)


def _variant_note(profile: _Profile, axes: tuple[Axis, ...], part: dict[str, Any]) -> str:
    """What the variant changes, for people: "the root user, in eu-central-1, from the console"."""
    said = [profile.who] if "identity" in axes else []
    if "awsRegion" in part:
        said.append(f"in {part['awsRegion']}")
    if "client" in axes:
        said.append(profile.client)
    return ", ".join(said)


def _comparable(record: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in record.items() if k not in ("eventID", "requestID")}, sort_keys=True
    )


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


def _catalogue() -> _Catalogue:
    catalogue = _Catalogue.model_validate(load_catalogue_json())
    for name, profile in catalogue.profiles.items():
        if profile.identity not in catalogue.identities:
            raise ValueError(f"profile {name}: unknown identity {profile.identity!r}")
    return catalogue


def _cis_controls(catalogue: _Catalogue) -> tuple[MonitoringControl, ...]:
    controls = []
    for spec in catalogue.controls:
        positives = _samples(catalogue, spec.key, spec.positive)
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
                positives=positives,
                negatives=_samples(catalogue, spec.key, spec.negative),
                neutrals=_samples(catalogue, spec.key, spec.neutral),
                variants=_variants(catalogue, spec, positives),
                vary=spec.vary,
            )
        )
    keys = [c.key for c in controls]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate control keys in the CIS catalogue")
    return tuple(controls)


def _stronger(catalogue: _Catalogue, cis: tuple[MonitoringControl, ...]) -> list[MonitoringControl]:
    by_key = {c.key: c for c in cis}
    specs = {c.key: c for c in catalogue.controls}
    stronger = []
    for spec in catalogue.stronger_controls:
        base = by_key.get(spec.extends)
        if base is None or spec.key in by_key:
            raise ValueError(f"stronger control {spec.key}: bad key or unknown {spec.extends!r}")
        neutrals = {s.name: s for s in base.neutrals}
        missing = [n for n in spec.also_required if n not in neutrals]
        if missing:
            raise ValueError(f"stronger control {spec.key}: no neutral record {missing}")
        added = tuple(neutrals[n] for n in spec.also_required)
        stronger.append(
            MonitoringControl(
                key=spec.key,
                title=spec.title,
                cis_ids={v: base.cis_ids[v] for v in spec.cis_versions if v in base.cis_ids},
                security_hub_id=None,
                recommended_pattern=spec.recommended_pattern,
                accepted_patterns=(),
                historic_patterns=(),
                event_source=base.event_source,
                event_names=(*base.event_names, *(str(s.record["eventName"]) for s in added)),
                notes=spec.notes,
                positives=(*base.positives, *added),
                negatives=base.negatives,
                neutrals=tuple(s for s in base.neutrals if s.name not in spec.also_required),
                variants=(*base.variants, *_variants(catalogue, specs[spec.extends], added)),
                extends=spec.extends,
                vary=base.vary,
            )
        )
    return stronger


def load_controls() -> tuple[MonitoringControl, ...]:
    """Read and expand the CIS controls; every call returns fresh records (callers may cache)."""
    return _cis_controls(_catalogue())


def load_all_controls() -> tuple[MonitoringControl, ...]:
    """The CIS controls followed by trailcheck's stronger controls built on them."""
    catalogue = _catalogue()
    cis = _cis_controls(catalogue)
    stronger = _stronger(catalogue, cis)
    claimed: dict[str, tuple[str, ...]] = {}
    for control in stronger:
        if control.extends is not None:
            claimed[control.extends] = (*claimed.get(control.extends, ()), *control.cis_ids)
    cis = tuple(
        c.model_copy(update={"superseded_in": claimed[c.key]}) if c.key in claimed else c
        for c in cis
    )
    return (*cis, *stronger)
