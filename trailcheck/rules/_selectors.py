"""One reading of a trail's event selectors, field by field, for every rule that asks what a
trail records: management events (`_trails.management_events`) and data events (S3 objects,
Lambda invocations).

Each basic or advanced selector becomes one or more `Scope`s: the event category, resource
type, read/write kinds, the condition on `resources.ARN`, excluded event sources, and the
other fields that narrow it. Within a field, positive operators (Equals, StartsWith, EndsWith)
are or'ed and negative ones (NotEquals, NotStartsWith, NotEndsWith) must all hold; the fields
of one selector are and'ed; the selectors of a trail are or'ed (CloudTrail's own semantics).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from trailcheck.model import AdvancedEventSelector, EventSelectors, FieldSelector

S3_OBJECT = "AWS::S3::Object"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
EVENT_SOURCES = {S3_OBJECT: "s3.amazonaws.com", LAMBDA_FUNCTION: "lambda.amazonaws.com"}


def matches(condition: FieldSelector, value: str) -> bool:
    """Whether `value` satisfies one field selector."""
    positive = condition.equals or condition.starts_with or condition.ends_with
    if positive and not (
        value in condition.equals
        or any(value.startswith(p) for p in condition.starts_with)
        or any(value.endswith(s) for s in condition.ends_with)
    ):
        return False
    return not (
        value in condition.not_equals
        or any(value.startswith(p) for p in condition.not_starts_with)
        or any(value.endswith(s) for s in condition.not_ends_with)
    )


def covers_prefix(condition: FieldSelector, prefix: str) -> bool:
    """Whether every string that starts with `prefix` satisfies `condition`.

    `prefix` stands for an unbounded set (every object of a bucket: `arn:aws:s3:::b/`; every
    current and future bucket: `arn:aws:s3:::`). Equals and EndsWith name finitely many or a
    sparse subset, so only a StartsWith that is a prefix of `prefix` (or an empty EndsWith)
    admits them all; any negative operator that some such string meets excludes part of it.
    """
    positive = condition.equals or condition.starts_with or condition.ends_with
    if positive and not (
        any(prefix.startswith(p) for p in condition.starts_with) or "" in condition.ends_with
    ):
        return False
    if any(e.startswith(prefix) for e in condition.not_equals):
        return False
    if any(q.startswith(prefix) or prefix.startswith(q) for q in condition.not_starts_with):
        return False
    return not condition.not_ends_with


def describe_condition(condition: FieldSelector) -> str:
    """`resources.ARN StartsWith [..] NotStartsWith [..]`: the operators that are set."""
    parts = [
        f"{label} {list(values)}"
        for label, values in (
            ("Equals", condition.equals),
            ("StartsWith", condition.starts_with),
            ("EndsWith", condition.ends_with),
            ("NotEquals", condition.not_equals),
            ("NotStartsWith", condition.not_starts_with),
            ("NotEndsWith", condition.not_ends_with),
        )
        if values
    ]
    return f"{condition.field} {' '.join(parts)}"


@dataclass(frozen=True)
class Scope:
    """What one selector (or one data resource of a basic selector) records."""

    label: str
    categories: frozenset[str]  # Management, Data, ...
    resource_types: frozenset[str] | None  # None: any (management events have none)
    read: bool
    write: bool
    arn: FieldSelector | None = None  # None: every resource of the type
    excluded_sources: frozenset[str] = frozenset()
    narrowed_by: tuple[str, ...] = ()  # other fields that keep only some events
    event_source: FieldSelector | None = None  # a positive eventSource condition


def scopes(selectors: EventSelectors) -> list[Scope]:
    """Every scope of a trail's selectors (advanced ones when set, else the basic ones)."""
    if selectors.advanced:
        return [_advanced(i, s) for i, s in enumerate(selectors.advanced, 1)]
    return list(_basic(selectors))


def _basic(selectors: EventSelectors) -> Iterator[Scope]:
    for i, s in enumerate(selectors.basic, 1):
        read = s.read_write_type in ("All", "ReadOnly")
        write = s.read_write_type in ("All", "WriteOnly")
        label = f"basic selector {i} (ReadWriteType {s.read_write_type})"
        if s.include_management_events:
            yield Scope(
                label=label,
                categories=frozenset({"Management"}),
                resource_types=None,
                read=read,
                write=write,
                excluded_sources=frozenset(s.exclude_management_event_sources),
            )
        for resource in s.data_resources:
            yield Scope(
                label=f"{label}: {resource.type} {list(resource.values)}",
                categories=frozenset({"Data"}),
                resource_types=frozenset({resource.type}),
                read=read,
                write=write,
                arn=FieldSelector(field="resources.ARN", starts_with=resource.values),
            )


def _advanced(index: int, selector: AdvancedEventSelector) -> Scope:
    fields = {f.field: f for f in selector.field_selectors}
    label = f"advanced selector '{selector.name or index}'"
    category = fields.get("eventCategory")
    kinds = fields.get("resources.type")
    read, write = True, True
    readonly = fields.get("readOnly")
    if readonly is not None:
        values = {v.lower() for v in readonly.equals}
        not_values = {v.lower() for v in readonly.not_equals}
        read = ("true" in values or not values) and "true" not in not_values
        write = ("false" in values or not values) and "false" not in not_values
    excluded: set[str] = set()
    narrowed: list[str] = []
    source: FieldSelector | None = None
    for name, f in fields.items():
        if name in ("eventCategory", "resources.type", "readOnly", "resources.ARN"):
            continue
        if name == "eventSource" and not (f.equals or f.starts_with or f.ends_with):
            excluded |= set(f.not_equals)
            if f.not_starts_with or f.not_ends_with:
                narrowed.append(describe_condition(f))
        elif name == "eventSource":
            source = f
        else:
            narrowed.append(describe_condition(f))
    return Scope(
        label=label,
        categories=frozenset(category.equals) if category else frozenset(),
        resource_types=frozenset(kinds.equals) if kinds else None,
        read=read,
        write=write,
        arn=fields.get("resources.ARN"),
        excluded_sources=frozenset(excluded),
        narrowed_by=tuple(narrowed),
        event_source=source,
    )


@dataclass(frozen=True)
class DataCoverage:
    """Which selectors record read and write data events of one resource type over a set of
    resources (an ARN prefix), and which record only part of them (and why)."""

    read: tuple[str, ...]
    write: tuple[str, ...]
    partial: tuple[str, ...]

    def covers(self, kind: str) -> bool:
        """`kind` is "read" or "write"."""
        return bool(self.read if kind == "read" else self.write)

    def evidence(self) -> dict[str, list[str]]:
        return {"read": list(self.read), "write": list(self.write), "partial": list(self.partial)}


def data_events(selectors: EventSelectors, resource_type: str, prefix: str) -> DataCoverage:
    """The data events of `resource_type` recorded for every resource whose ARN starts with
    `prefix` (every object of one bucket, or of every current and future bucket)."""
    read: list[str] = []
    write: list[str] = []
    partial: list[str] = []
    for scope in scopes(selectors):
        if "Data" not in scope.categories or (
            scope.resource_types is not None and resource_type not in scope.resource_types
        ):
            continue
        gaps = list(scope.narrowed_by)
        if scope.resource_types is None:
            gaps.append("no resources.type")
        if scope.arn is not None and not covers_prefix(scope.arn, prefix):
            gaps.append(f"only where {describe_condition(scope.arn)}")
        expected = EVENT_SOURCES.get(resource_type, "")
        if scope.event_source is not None and not matches(scope.event_source, expected):
            gaps.append(f"only where {describe_condition(scope.event_source)}")
        if expected in scope.excluded_sources:
            gaps.append(f"excludes {expected}")
        if gaps:
            partial.append(f"{scope.label}: {'; '.join(gaps)}")
            continue
        if scope.read:
            read.append(scope.label)
        if scope.write:
            write.append(scope.label)
        if not (scope.read and scope.write):
            partial.append(f"{scope.label}: only {'read' if scope.read else 'write'} events")
    return DataCoverage(tuple(read), tuple(write), tuple(partial))
