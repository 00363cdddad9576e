"""Monitoring coverage by meaning: does each CIS control's chain work for one account?

A control is covered when every positive record of the catalogue (``_cis_controls``) is counted
by some metric filter whose whole chain works (SEMANTICS.md, "Monitoring"):

    trail (multi-region, logging, all management events)
      → its CloudWatch Logs log group (exists)
      → metric filter (matches the records, by meaning: ``_filter_pattern``)
      → alarm on the filter's metric (same name and namespace, same region; actions enabled)
      → SNS topic among the alarm actions
      → at least one confirmed subscription.

Several filters may share the work (the union of what they match counts). Every link is
three-valued: ``ok``, ``broken`` or ``unknown`` (a fact we could not read). The analysis here is
pure; ``monitoring.py`` turns it into findings. EventBridge rules on the default bus that match
the control's events and have a target are assessed separately ("another way").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trailcheck.model import (
    Alarm,
    AlarmMetric,
    EventRule,
    Inventory,
    LogGroup,
    MetricFilter,
    MetricTransformation,
    Trail,
    Unknown,
)
from trailcheck.rules import _event_pattern as eb
from trailcheck.rules import _filter_pattern as fp
from trailcheck.rules._cis_controls import MonitoringControl, SampleRecord, load_all_controls
from trailcheck.rules._trails import Qualification, assess_trail, trails_covering
from trailcheck.rules.base import Visibility

LinkState = Literal["ok", "broken", "unknown", "not_reached"]
LINKS = ("trail", "log_group", "metric_filter", "alarm", "subscriber")
# CloudTrail delivers these services' events in the partition's global region only.
GLOBAL_EVENT_SOURCES = frozenset({"iam.amazonaws.com", "organizations.amazonaws.com"})
GLOBAL_REGION = {"aws": "us-east-1", "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-northwest-1"}
ALL_MANAGEMENT_EVENTS_STATE = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
# EventBridge does not deliver read-only Get/Describe/List calls to rules in the plain ENABLED
# state (except these two STS calls).
_READ_ONLY_EB = ("Get", "Describe", "List")
_READ_ONLY_EB_EXCEPTIONS = frozenset({"GetFederationToken", "GetSessionToken"})
_MAX_LISTED = 3


@lru_cache(maxsize=1)
def controls() -> dict[str, MonitoringControl]:
    """The catalogue (CIS controls, then trailcheck's stronger ones), loaded once per process
    (it is immutable data)."""
    return {c.key: c for c in load_all_controls()}


def event_of(name: str) -> str:
    """The positive (event) a record name belongs to: a variant `base~profile` → `base`."""
    return name.split("~", 1)[0]


def fully_counted(control: MonitoringControl, matched: frozenset[str]) -> list[str]:
    """The control's events (positive names) counted in every variant (caller, region ...)."""
    missing = {event_of(s.name) for s in control.required if s.name not in matched}
    return [s.name for s in control.positives if s.name not in missing]


def collapse(control: MonitoringControl, names: Iterable[str]) -> list[str]:
    """Record names for people: an event missed in every variant is named once."""
    wanted = set(names)
    shown: list[str] = []
    for positive in control.positives:
        records = [s.name for s in control.required if event_of(s.name) == positive.name]
        missed = [n for n in records if n in wanted]
        if missed and len(missed) == len(records):
            shown.append(positive.name)
        else:
            shown.extend(missed)
    return shown


# ----------------------------------------------------------------------------- the JSON shape


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CoverageLink(_Shape):
    """One link of the chain, as the report shows it."""

    state: LinkState
    detail: str = ""
    arns: list[str] = Field(default_factory=list)


class FilterUse(_Shape):
    log_group_arn: str
    filter_name: str
    pattern: str
    matched: list[str]  # names of the positive records it counts
    positives: int


class EventBridgeCoverage(_Shape):
    state: Literal["covers", "partial", "none", "unknown"]
    detail: str = ""
    rules: list[dict[str, Any]] = Field(default_factory=list)  # {"arn", "region", "targets"}
    regions_required: list[str] = Field(default_factory=list)
    regions_covered: list[str] = Field(default_factory=list)


class Coverage(_Shape):
    """`evidence["coverage"]` of every CT.MON.<control> finding: one row of the matrix."""

    control: str
    cis: dict[str, str]
    verdict: Literal["covered", "not_covered", "unknown"]
    counted_via: Literal["metric_filter", "eventbridge"] | None = None
    path: str = ""
    broken_link: str | None = None
    links: dict[str, CoverageLink]
    filters: list[FilterUse] = Field(default_factory=list)
    missed_events: list[str] = Field(default_factory=list)
    eventbridge: EventBridgeCoverage
    aws_check: dict[str, Any] = Field(default_factory=dict)


# ----------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class MatchSets:
    """What one pattern counts of one control's records (by record name)."""

    positives: frozenset[str]
    negatives: frozenset[str]
    error: str | None = None  # trailcheck cannot parse the (AWS-accepted) pattern


@lru_cache(maxsize=16384)
def match_sets(pattern: str, control_key: str) -> MatchSets:
    tree = fp.parse(pattern)
    if isinstance(tree, fp.ParseError):
        return MatchSets(frozenset(), frozenset(), f"cannot parse the pattern ({tree})")
    control = controls()[control_key]
    counted = {s.name for s in control.positives if fp.matches(tree, s.record)}
    fields = _top_fields(tree)
    changed = _changed_fields(control_key)
    for variant in control.variants:
        base = variant.base or ""
        if fields is not None and not fields & changed[variant.name]:
            same = base in counted  # the pattern reads no field the variant changes
        else:
            same = fp.matches(tree, variant.record)
        if same:
            counted.add(variant.name)
    return MatchSets(
        frozenset(counted),
        frozenset(s.name for s in control.negatives if fp.matches(tree, s.record)),
    )


def _top_fields(tree: fp.Pattern) -> frozenset[str] | None:
    """The top-level record fields a JSON pattern reads; None when it may read any (a text
    pattern, or a selector starting with a wildcard or an index)."""
    if not isinstance(tree, fp.JsonPattern):
        return None
    fields: set[str] = set()
    for comparison in fp.comparisons(tree):
        target = comparison.target
        if not isinstance(target, fp.Selector) or not target.segments:
            return None
        first = target.segments[0]
        if not isinstance(first, fp.Key):
            return None
        fields.add(first.name)
    return frozenset(fields)


@lru_cache(maxsize=64)
def _changed_fields(control_key: str) -> dict[str, frozenset[str]]:
    """variant name → the top-level fields where it differs from the record it varies."""
    control = controls()[control_key]
    bases = {s.name: s.record for s in control.positives}
    changed: dict[str, frozenset[str]] = {}
    for variant in control.variants:
        base = bases.get(variant.base or "", {})
        keys = set(base) | set(variant.record)
        changed[variant.name] = frozenset(
            k
            for k in keys
            if k not in base or k not in variant.record or base[k] != variant.record[k]
        )
    return changed


@lru_cache(maxsize=64)
def _vocabulary(control_key: str) -> frozenset[str]:
    """Values the CIS texts compare against, lower-cased: a filter using them is "related"."""
    control = controls()[control_key]
    words: set[str] = set()
    for text in (control.recommended_pattern, *control.accepted_patterns):
        tree = fp.parse(text)
        if not isinstance(tree, fp.ParseError):
            for c in fp.comparisons(tree):
                if isinstance(c.value, fp.StringValue):
                    words.add(c.value.text.strip("*").lower())
    return frozenset(w for w in words if w)


def relatedness(pattern: str, control_key: str) -> int:
    """How many of the pattern's compared values appear, in any case, in the CIS texts."""
    tree = fp.parse(pattern)
    if isinstance(tree, fp.ParseError):
        return 0
    vocabulary = _vocabulary(control_key)
    return sum(
        1
        for c in fp.comparisons(tree)
        if isinstance(c.value, fp.StringValue) and c.value.text.strip("*").lower() in vocabulary
    )


def _clause(comparison: fp.Comparison) -> str:
    return fp.to_text(fp.JsonPattern(comparison)).removeprefix("{ ").removesuffix(" }")


def _holds(expr: fp.Expr, record: dict[str, Any]) -> bool:
    if isinstance(expr, fp.Comparison):
        return fp.comparison_matches(expr, record)
    if isinstance(expr, fp.And):
        return all(_holds(item, record) for item in expr.items)
    return any(_holds(item, record) for item in expr.items)


def _blame(expr: fp.Expr, record: dict[str, Any]) -> list[str]:
    """The clauses that make a false expression false (an && names its false parts)."""
    if isinstance(expr, fp.Comparison):
        return [f"`{_clause(expr)}`"]
    if isinstance(expr, fp.And):
        return [b for item in expr.items if not _holds(item, record) for b in _blame(item, record)]
    if len(expr.items) > 2:
        return [f"none of {len(expr.items)} alternatives"]
    return [b for item in expr.items for b in _blame(item, record)]


def why_missed(pattern: str, sample: SampleRecord) -> str:
    """A short, human explanation of why `pattern` does not count `sample`."""
    tree = fp.parse(pattern)
    if isinstance(tree, fp.ParseError):
        return f"the pattern does not parse ({tree})"
    if (
        isinstance(tree, fp.JsonPattern)
        and isinstance(tree.expr, fp.Or)
        and len(tree.expr.items) > 2
    ):
        return f"none of the pattern's {len(tree.expr.items)} alternatives holds"
    if isinstance(tree, fp.JsonPattern):
        if _holds(tree.expr, sample.record):
            return "every clause holds on its own, but the &&/|| logic rejects the record"
        false = _blame(tree.expr, sample.record)
        shown = ", ".join(false[:2])
        more = f" (+{len(false) - 2} more)" if len(false) > 2 else ""
        return f"false: {shown}{more}"
    return "the text pattern does not occur in the record"


def describe_sample(sample: SampleRecord) -> str:
    record = sample.record
    who = f": {sample.note}" if sample.base is not None and sample.note else ""
    return f"{record.get('eventName')} ({sample.name}{who})"


# ----------------------------------------------------------------------------- the chain


@dataclass(frozen=True)
class Link:
    state: LinkState
    detail: str = ""
    arns: tuple[str, ...] = ()

    def shape(self) -> CoverageLink:
        return CoverageLink(state=self.state, detail=self.detail, arns=list(self.arns))


NOT_REACHED = Link("not_reached")


@dataclass(frozen=True)
class Chain:
    """One candidate path for a control: a trail, its log group, one filter (or none) onward."""

    trail: Trail
    via_org: bool
    links: dict[str, Link]
    group: LogGroup | None = None
    filter: MetricFilter | None = None
    matched: frozenset[str] = frozenset()
    unknown_filters: bool = False  # the filter list itself is unknown: could cover anything

    @property
    def state(self) -> LinkState:
        states = [self.links[name].state for name in LINKS]
        if "broken" in states:
            return "broken"
        if "unknown" in states:
            return "unknown"
        return "ok"

    def first(self, state: LinkState) -> tuple[str, Link] | None:
        for name in LINKS:
            if self.links[name].state == state:
                return name, self.links[name]
        return None

    @property
    def progress(self) -> int:
        """How far the chain gets before its first broken link (higher is closer to working)."""
        broken = self.first("broken")
        return len(LINKS) if broken is None else LINKS.index(broken[0])

    def filter_use(self, control: MonitoringControl) -> FilterUse | None:
        """The filter's row in the evidence: the events it counts in every variant."""
        if self.filter is None or self.group is None:
            return None
        return FilterUse(
            log_group_arn=self.group.arn,
            filter_name=self.filter.name,
            pattern=self.filter.pattern,
            matched=sorted(fully_counted(control, self.matched)),
            positives=len(control.positives),
        )

    def path(self) -> str:
        """`organization trail X (account M) → log group G → filter F → alarm A → topic T`."""
        kind = "organization trail" if self.trail.is_organization_trail else "trail"
        owner = f" (account {self.trail.account_id})" if self.via_org else ""
        parts = [f"{kind} {self.trail.name}{owner}"]
        if self.group is not None:
            parts.append(f"log group {self.group.name}")
        if self.filter is not None:
            parts.append(f"filter {self.filter.name}")
        for name, label in (("alarm", "alarm"), ("subscriber", "topic")):
            link = self.links[name]
            if link.state == "ok" and link.arns:
                parts.append(f"{label} {link.arns[0].split(':')[-1]}")
        return " → ".join(parts)


def _trail_link(trail: Trail) -> Link:
    assessment = assess_trail(trail)
    kind = "organization trail" if trail.is_organization_trail else "trail"
    label = f"{kind} {trail.name} (account {trail.account_id}, {trail.home_region})"
    if assessment.verdict is Qualification.QUALIFIES:
        return Link("ok", f"{label}: multi-region, logging, all management events", (trail.arn,))
    if assessment.verdict is Qualification.UNKNOWN:
        return Link("unknown", f"{label}: {'; '.join(assessment.unknowns)}", (trail.arn,))
    return Link("broken", f"{label}: {', '.join(assessment.problems)}", (trail.arn,))


def _group_link(inventory: Inventory, arn: str) -> tuple[Link, LogGroup | None]:
    group = inventory.log_groups.get(arn)
    unseen = Visibility(inventory).log_group(arn)
    if unseen is not None or group is None:
        return Link("unknown", unseen.reason if unseen else arn, (arn,)), group
    if group.exists is False:
        return Link("broken", f"log group {group.name} does not exist", (arn,)), group
    return Link("ok", f"log group {group.name} ({group.region})", (arn,)), group


_COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
_PERCENTILE = re.compile(r"p(\d{1,2}(\.\d+)?|100)")


def _number(text: str) -> float | None:
    """A metric value as a number; None for a `$.field` reference (any number) or junk."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _reachable(statistic: str, value: float, default: float | None) -> tuple[float, float] | None:
    """The range (lowest, highest) of `statistic` over a period in which at least one event
    matched: each match publishes `value`; batches without a match may publish `default`.
    None when trailcheck does not model the statistic (then nothing is claimed)."""
    values = [value] if default is None else [value, default]
    low, high = min(values), max(values)
    if statistic == "SampleCount":
        return 1.0, math.inf
    if statistic == "Sum":  # any number of matches (and defaults) in one period
        return (-math.inf if low < 0 else value, math.inf if high > 0 else value)
    if statistic == "Minimum":
        return low, value
    if statistic == "Maximum":
        return value, high
    if statistic == "Average" or _PERCENTILE.fullmatch(statistic):
        return low, high
    return None


def _say(number: float) -> str:
    return f"{number:g}"


def never_fires(alarm: Alarm, transformation: MetricTransformation) -> str | None:
    """Why `alarm` provably never fires on the events its filter counts; None when it can fire
    (or trailcheck cannot tell: a metric-math alarm, a `$.field` value, an unknown statistic)."""
    op = _COMPARISONS.get(alarm.comparison_operator or "")
    value = _number(transformation.metric_value)
    if alarm.expression is not None or op is None or alarm.threshold is None or value is None:
        return None
    default = transformation.default_value
    statistic = alarm.statistic or ""
    reach = _reachable(statistic, value, default)
    if reach is None:
        return None
    low, high = reach
    threshold = alarm.threshold
    can = {">=": high >= threshold, ">": high > threshold, "<": low < threshold}.get(
        op, low <= threshold
    )
    if can:
        return None
    if low == high:
        shape = f"always {_say(low)}"
    elif high == math.inf:
        shape = f"at least {_say(low)}"
    elif low == -math.inf:
        shape = f"at most {_say(high)}"
    else:
        shape = f"between {_say(low)} and {_say(high)}"
    published = f"metricValue {transformation.metric_value}"
    if default is not None:
        published += f" (defaultValue {_say(default)})"
    return (
        f"the filter publishes {published}, so the metric's {statistic} in a period with "
        f"events is {shape}, never {op} {_say(threshold)}"
    )


def alarm_reads(alarm: Alarm, transformation: MetricTransformation) -> AlarmMetric | None:
    """The alarm's metric entry that is the filter's metric (same namespace and name)."""
    for metric in alarm.metrics:
        if (
            metric.name == transformation.metric_name
            and metric.namespace == transformation.metric_namespace
        ):
            return metric
    return None


def _uses(alarm: Alarm, metric: AlarmMetric) -> bool:
    """Whether the alarm's evaluated value depends on `metric` (metric-math understood)."""
    if metric.query_id is None or metric.return_data:
        return True
    expression = alarm.expression or ""
    if "METRICS(" in expression.upper():
        return True
    return re.search(rf"(?<![\w]){re.escape(metric.query_id)}(?![\w])", expression) is not None


def _alarm_links(inventory: Inventory, group: LogGroup, flt: MetricFilter) -> tuple[Link, Link]:
    """(alarm link, subscriber link) for one filter."""
    listing = inventory.regional_listing(group.account_id, group.region)
    where = f"account {group.account_id} {group.region}"
    if listing is None or listing.alarms is None:
        return Link("unknown", f"alarms of {where} were not read (account not scanned?)"), (
            NOT_REACHED
        )
    if isinstance(listing.alarms, Unknown):
        return Link("unknown", f"alarms of {where}: {listing.alarms.describe()}"), NOT_REACHED
    if not flt.transformations:
        return Link("broken", f"filter {flt.name} publishes no metric"), NOT_REACHED
    alarms = [inventory.alarms[a] for a in listing.alarms if a in inventory.alarms]
    best: tuple[int, Link, Link] | None = None

    def consider(rank: int, alarm_link: Link, sub_link: Link) -> None:
        nonlocal best
        if best is None or rank > best[0]:
            best = (rank, alarm_link, sub_link)

    for t in flt.transformations:
        metric = f"{t.metric_namespace}/{t.metric_name}"
        same_name = [a for a in alarms if any(m.name == t.metric_name for m in a.metrics)]
        exact = [(a, alarm_reads(a, t)) for a in same_name]
        watching = [(a, m) for a, m in exact if m is not None]
        if not watching:
            if same_name:
                other = sorted({m.namespace for a in same_name for m in a.metrics})
                consider(
                    0,
                    Link(
                        "broken",
                        f"alarm {same_name[0].name} watches {t.metric_name} in namespace "
                        f"{', '.join(other)}, but the filter publishes to {t.metric_namespace}",
                        (same_name[0].arn,),
                    ),
                    NOT_REACHED,
                )
            else:
                consider(
                    0, Link("broken", f"no alarm watches metric {metric} ({where})"), NOT_REACHED
                )
            continue
        for alarm, m in watching:
            if not _uses(alarm, m):
                consider(
                    1,
                    Link(
                        "broken",
                        f"metric-math alarm {alarm.name} reads {metric} but its expression "
                        f"{alarm.expression!r} does not use it",
                        (alarm.arn,),
                    ),
                    NOT_REACHED,
                )
                continue
            if m.dimensions or t.dimensions:
                consider(
                    1,
                    Link(
                        "broken",
                        f"alarm {alarm.name} watches {metric} with dimensions "
                        f"{m.dimensions or '{}'}; the filter publishes dimensions "
                        f"{dict(t.dimensions) or '{}'}",
                        (alarm.arn,),
                    ),
                    NOT_REACHED,
                )
                continue
            why = never_fires(alarm, t)
            if why is not None:
                consider(
                    1,
                    Link("broken", f"alarm {alarm.name} can never fire: {why}", (alarm.arn,)),
                    NOT_REACHED,
                )
                continue
            if not alarm.actions_enabled:
                consider(
                    2,
                    Link("broken", f"alarm {alarm.name} has its actions disabled", (alarm.arn,)),
                    NOT_REACHED,
                )
                continue
            topics = [a for a in alarm.alarm_actions if a.split(":")[2:3] == ["sns"]]
            if not topics:
                detail = (
                    f"alarm {alarm.name} has no SNS topic among its alarm actions "
                    f"({', '.join(alarm.alarm_actions)})"
                    if alarm.alarm_actions
                    else f"alarm {alarm.name} has no alarm actions"
                )
                consider(3, Link("broken", detail, (alarm.arn,)), NOT_REACHED)
                continue
            alarm_ok = Link("ok", f"alarm {alarm.name} on {metric}, actions enabled", (alarm.arn,))
            for topic_arn in topics:
                sub = _subscriber_link(inventory, topic_arn)
                rank = {"ok": 6, "unknown": 5, "broken": 4}[sub.state]
                consider(rank, alarm_ok, sub)
    if best is None:  # every transformation was considered above; kept explicit, not asserted
        return Link("broken", f"filter {flt.name} publishes no metric an alarm reads"), NOT_REACHED
    return best[1], best[2]


def _subscriber_link(inventory: Inventory, arn: str) -> Link:
    name = arn.split(":")[-1]
    topic = inventory.sns_topics.get(arn)
    visibility = Visibility(inventory)
    unseen = visibility.sns_topic(arn, needs=("exists",))
    if unseen is not None or topic is None:
        return Link("unknown", unseen.reason if unseen else arn, (arn,))
    if topic.exists is False:
        return Link("broken", f"topic {arn} does not exist", (arn,))
    unseen = visibility.sns_topic(arn)
    if unseen is not None or isinstance(topic.subscriptions, Unknown):
        return Link("unknown", unseen.reason if unseen else arn, (arn,))
    confirmed = [s for s in topic.subscriptions if s.confirmed]
    if confirmed:
        kinds = ", ".join(sorted({s.protocol for s in confirmed}))
        return Link(
            "ok",
            f"topic {name}: {len(confirmed)} confirmed subscription(s) ({kinds})",
            (arn, *(s.arn for s in confirmed)),
        )
    pending = len(topic.subscriptions)
    if pending:
        return Link(
            "broken",
            f"topic {name} has no confirmed subscription ({pending} PendingConfirmation)",
            (arn,),
        )
    return Link("broken", f"topic {name} has no subscription", (arn,))


def _match_text(name: str, control: MonitoringControl, sets: MatchSets) -> str:
    full = fully_counted(control, sets.positives)
    some = {event_of(n) for n in sets.positives} - set(full)
    text = f"filter {name} matches {len(full)} of {len(control.positives)} events"
    if some:
        text += f" (and {len(some)} more only for some callers or regions)"
    return text


def chains_for(inventory: Inventory, account_id: str, control_key: str) -> list[Chain] | Unknown:
    """Every candidate chain for `control_key` in `account_id`, own trails first."""
    trails = trails_covering(inventory, account_id)
    if isinstance(trails, Unknown):
        return trails
    chains: list[Chain] = []
    visibility = Visibility(inventory)
    for trail in sorted(trails, key=lambda t: (t.account_id != account_id, t.arn)):
        via_org = trail.account_id != account_id
        trail_link = _trail_link(trail)
        arn = trail.cloudwatch_logs_log_group_arn
        base = {"trail": trail_link, "alarm": NOT_REACHED, "subscriber": NOT_REACHED}
        undescribed = visibility.trail(trail)
        if undescribed is not None:
            links = base | {
                "log_group": Link("unknown", undescribed.reason, (trail.arn,)),
                "metric_filter": NOT_REACHED,
            }
            chains.append(Chain(trail, via_org, links, unknown_filters=True))
            continue
        if not arn:
            chains.append(
                Chain(
                    trail,
                    via_org,
                    base
                    | {
                        "log_group": Link(
                            "broken", f"trail {trail.name} does not deliver to CloudWatch Logs"
                        ),
                        "metric_filter": NOT_REACHED,
                    },
                )
            )
            continue
        group_link, group = _group_link(inventory, arn)
        filters = group.metric_filters if group is not None else None
        if group_link.state == "unknown":
            links = base | {"log_group": group_link, "metric_filter": NOT_REACHED}
            chains.append(Chain(trail, via_org, links, group=group, unknown_filters=True))
            continue
        if group is None or filters is None or isinstance(filters, Unknown):
            if isinstance(filters, Unknown):
                detail = f"metric filters of log group {group.name if group else arn}: " + (
                    filters.describe()
                )
            else:
                detail = f"metric filters of log group {arn} were not collected"
            chains.append(
                Chain(
                    trail,
                    via_org,
                    base | {"log_group": group_link, "metric_filter": Link("unknown", detail)},
                    group=group,
                    unknown_filters=True,
                )
            )
            continue
        if not filters:
            chains.append(
                Chain(
                    trail,
                    via_org,
                    base
                    | {
                        "log_group": group_link,
                        "metric_filter": Link(
                            "broken", f"log group {group.name} has no metric filter"
                        ),
                    },
                    group=group,
                )
            )
            continue
        for flt in filters:
            sets = match_sets(flt.pattern, control_key)
            if sets.error is not None:
                filter_link = Link("unknown", f"filter {flt.name}: trailcheck {sets.error}")
                links = base | {"log_group": group_link, "metric_filter": filter_link}
                chains.append(Chain(trail, via_org, links, group, flt, unknown_filters=True))
                continue
            if not sets.positives:
                filter_link = Link("broken", f"filter {flt.name} matches none of the events")
                links = base | {"log_group": group_link, "metric_filter": filter_link}
                chains.append(Chain(trail, via_org, links, group, flt))
                continue
            filter_link = Link("ok", _match_text(flt.name, controls()[control_key], sets))
            alarm_link, sub_link = _alarm_links(inventory, group, flt)
            links = base | {
                "log_group": group_link,
                "metric_filter": filter_link,
                "alarm": alarm_link,
                "subscriber": sub_link,
            }
            chains.append(Chain(trail, via_org, links, group, flt, sets.positives))
    return chains


# ----------------------------------------------------------------------------- EventBridge


@dataclass(frozen=True)
class EventBridgeResult:
    state: Literal["covers", "partial", "none", "unknown"]
    detail: str
    rules: tuple[EventRule, ...] = ()
    required: tuple[str, ...] = ()
    covered: tuple[str, ...] = ()

    def shape(self) -> EventBridgeCoverage:
        return EventBridgeCoverage(
            state=self.state,
            detail=self.detail,
            rules=[
                {
                    "arn": r.arn,
                    "region": r.region,
                    "state": r.state,
                    "targets": [t.arn for t in r.targets] if isinstance(r.targets, tuple) else [],
                }
                for r in self.rules
            ],
            regions_required=list(self.required),
            regions_covered=list(self.covered),
        )


@lru_cache(maxsize=65536)
def _rule_counts(
    pattern: str, control_key: str, region: str, account: str, state: str
) -> frozenset[str]:
    parsed = eb.parse_event_pattern(pattern)
    if isinstance(parsed, eb.ParseError):
        return frozenset()
    counted = set()
    all_events = state == ALL_MANAGEMENT_EVENTS_STATE
    for sample in controls()[control_key].required:
        record = sample.record
        name = str(record.get("eventName", ""))
        if (
            not all_events
            and record.get("readOnly") is True
            and name.startswith(_READ_ONLY_EB)
            and name not in _READ_ONLY_EB_EXCEPTIONS
        ):
            continue  # read-only calls reach only rules that ask for all management events
        record = {**record, "awsRegion": region or record.get("awsRegion")}
        if account:
            record["recipientAccountId"] = account
        if eb.matches_cloudtrail_record(
            parsed, record, region or "us-east-1", account or "000000000000"
        ):
            counted.add(sample.name)
    return frozenset(counted)


def _counts(rule: EventRule, control_key: str) -> frozenset[str]:
    pattern = rule.event_pattern or ""
    # Most patterns ignore the account and region: share the work across accounts and regions.
    account = rule.account_id if re.search(r'"account"|ccountId', pattern) else ""
    region = rule.region if re.search(r'"region"|awsRegion', pattern) else ""
    return _rule_counts(pattern, control_key, region, account, rule.state)


def eventbridge_coverage(
    inventory: Inventory, account_id: str, control_key: str
) -> EventBridgeResult:
    """Whether enabled default-bus rules with targets count every positive event, per region."""
    control = controls()[control_key]
    names = frozenset(s.name for s in control.required)
    account = inventory.accounts[account_id]
    partition = inventory.metadata.partition
    if all(s.record.get("eventSource") in GLOBAL_EVENT_SOURCES for s in control.positives):
        required: tuple[str, ...] = (GLOBAL_REGION.get(partition, "us-east-1"),)
    elif isinstance(account.regions, tuple):
        required = account.regions
    else:
        required = tuple(
            sorted(
                x.region for x in inventory.regional_listings.values() if x.account_id == account_id
            )
        )
    covered: list[str] = []
    used: list[EventRule] = []
    unknown: list[str] = []
    unknown_regions: set[str] = set()
    any_match = False
    for region in required:
        listing = inventory.regional_listing(account_id, region)
        if listing is None or listing.event_rules is None:
            unknown.append(f"EventBridge rules of {region} were not read")
            unknown_regions.add(region)
            continue
        if isinstance(listing.event_rules, Unknown):
            unknown.append(f"{region}: {listing.event_rules.describe()}")
            unknown_regions.add(region)
            continue
        counted: set[str] = set()
        region_rules: list[EventRule] = []
        for arn in listing.event_rules:
            rule = inventory.event_rules.get(arn)
            if rule is None or not rule.state.startswith("ENABLED") or not rule.event_pattern:
                continue
            hits = _counts(rule, control_key)
            if not hits:
                continue
            if rule.targets is None or isinstance(rule.targets, Unknown):
                why = rule.targets.describe() if rule.targets else "not read"
                unknown.append(f"targets of {rule.name}: {why}")
                unknown_regions.add(region)
                continue
            if not rule.targets:
                continue
            counted |= hits
            region_rules.append(rule)
        any_match = any_match or bool(counted)
        if counted >= names:
            covered.append(region)
            used.extend(region_rules)
        elif counted:
            used.extend(region_rules)
    rules = tuple(sorted({r.arn: r for r in used}.values(), key=lambda r: r.arn))
    listed = ", ".join(f"{r.name} ({r.region})" for r in rules[:_MAX_LISTED])
    if required and len(covered) == len(required):
        return EventBridgeResult(
            "covers", f"EventBridge rule(s) {listed}", rules, required, tuple(covered)
        )
    # Unknown when the regions not covered are exactly those we could not read.
    if unknown and (not any_match or set(required) - set(covered) <= unknown_regions):
        return EventBridgeResult("unknown", "; ".join(unknown[:2]), rules, required, tuple(covered))
    if any_match:
        missing = [r for r in required if r not in covered]
        text = f"EventBridge rule(s) {listed} count some events, but not in " + ", ".join(
            missing[:_MAX_LISTED]
        )
        if len(missing) > _MAX_LISTED:
            text += f" (+{len(missing) - _MAX_LISTED} regions)"
        return EventBridgeResult("partial", text, rules, required, tuple(covered))
    return EventBridgeResult(
        "none", "no EventBridge rule with a target counts these events", (), required
    )


# ----------------------------------------------------------------------------- AWS's answer


def aws_disagreements(
    inventory: Inventory, patterns: Iterable[str], control_key: str | None = None
) -> list[dict[str, Any]] | Unknown | None:
    """Where AWS's TestMetricFilter answer differs from the engine (None: not requested).

    Unknown when AWS could not answer for one of the patterns.
    """
    if inventory.filter_tests is None:
        return None
    catalogue = controls()
    found: list[dict[str, Any]] = []
    for pattern in sorted(set(patterns)):
        test = inventory.filter_tests.get(pattern)
        if test is None:
            return Unknown(
                operation="logs:TestMetricFilter",
                error_code="NotTested",
                message=f"pattern {pattern[:60]!r} was not sent",
            )
        if isinstance(test.matched, Unknown):
            return test.matched
        tree = fp.parse(pattern)
        aws_matched = set(test.matched)
        for sample_id in test.tested:
            key, kind, name = sample_id.split("/", 2)
            if control_key is not None and key != control_key:
                continue
            control = catalogue.get(key)
            if control is None:
                continue
            samples = {
                "positive": control.positives,
                "negative": control.negatives,
                "neutral": control.neutrals,
            }.get(kind, ())
            sample = next((s for s in samples if s.name == name), None)
            if sample is None:
                continue
            ours = not isinstance(tree, fp.ParseError) and fp.matches(tree, sample.record)
            theirs = sample_id in aws_matched
            if ours != theirs:
                found.append(
                    {"pattern": pattern, "record": sample_id, "aws": theirs, "trailcheck": ours}
                )
    return found


# ----------------------------------------------------------------------------- verdict


@dataclass(frozen=True)
class Analysis:
    """The metric-filter verdict of one control for one account, with what to show."""

    verdict: Literal["covered", "not_covered", "unknown"]
    reason: str
    shown: Chain | None = None  # the chain whose links the matrix shows
    used: tuple[Chain, ...] = ()  # chains that together cover (or would cover) the control
    missed: tuple[str, ...] = ()
    trails: tuple[str, ...] = field(default_factory=tuple)


def _greedy(chains: Sequence[Chain], needed: frozenset[str]) -> list[Chain]:
    """A few chains whose matches together cover `needed` (largest first)."""
    chosen: list[Chain] = []
    left = set(needed)
    for chain in sorted(chains, key=lambda c: (-len(c.matched & left), c.via_org)):
        if not left:
            break
        if chain.matched & left:
            chosen.append(chain)
            left -= chain.matched
    return chosen


def _union(chains: Iterable[Chain]) -> frozenset[str]:
    return frozenset().union(*(c.matched for c in chains))


def analyse(inventory: Inventory, account_id: str, control_key: str) -> Analysis | Unknown:
    """Judge the metric-filter chain of one control for one account."""
    control = controls()[control_key]
    needed = frozenset(s.name for s in control.required)
    chains = chains_for(inventory, account_id, control_key)
    if isinstance(chains, Unknown):
        return chains
    if not chains:
        return Analysis("not_covered", "no trail records this account's events")
    ok = [c for c in chains if c.state == "ok" and c.matched]
    if _union(ok) >= needed:
        used = _greedy(ok, needed)
        via = "; ".join(c.path() for c in used)
        split = f" (together, {len(used)} filters)" if len(used) > 1 else ""
        return Analysis("covered", f"covered{split}: {via}", used[0], tuple(used))
    possible = [c for c in chains if c.state != "broken" and (c.matched or c.unknown_filters)]
    blind = [c for c in possible if c.unknown_filters]
    if blind or (_union(possible) >= needed and any(c.state == "unknown" for c in possible)):
        shown = blind[0] if blind else next(c for c in possible if c.state == "unknown")
        _, link = shown.first("unknown") or ("", Link("unknown"))
        return Analysis(
            "unknown",
            f"cannot tell whether the control is covered: {link.detail}",
            shown,
            (shown,),
        )
    relevant = [c for c in chains if c.matched]
    if relevant and _union(relevant) >= needed:
        broken_analysis = _broken_link(relevant, needed)
        if broken_analysis is not None:
            return broken_analysis
    return _no_filter_covers(chains, control, needed)


def _broken_link(relevant: list[Chain], needed: frozenset[str]) -> Analysis | None:
    """Filters together match every event, but a chain some events depend on is broken.

    Working chains may count part of the events (split coverage): the broken chain shown is one
    that counts events no working chain counts.
    """
    working = [c for c in relevant if c.state != "broken"]
    left = needed - _union(working)
    broken = [c for c in relevant if c.first("broken") is not None and c.matched & left]
    if not broken:
        return None
    best = sorted(broken, key=lambda c: (-c.progress, -len(c.matched & left), c.via_org))[0]
    first = best.first("broken")
    if first is None:
        return None
    name, link = first
    what = "the control's events"
    if working:
        events = len({event_of(n) for n in left})
        what = f"{events} of the control's events that no working filter counts"
    used = _greedy([*working, best, *broken], needed)
    return Analysis(
        "not_covered",
        f"filter {best.filter.name if best.filter else '?'} on log group "
        f"{best.group.name if best.group else '?'} matches {what}, "
        f"but the {name.replace('_', ' ')} link is broken: {link.detail}",
        best,
        tuple(used),
    )


def _no_filter_covers(
    chains: list[Chain], control: MonitoringControl, needed: frozenset[str]
) -> Analysis:
    missed = collapse(control, needed - _union(chains))
    by_name = {s.name: s for s in control.required}
    total = len(control.positives)
    candidates = [c for c in chains if c.filter is not None]
    # Related: counts one of the control's events as the catalogue records it (a filter for
    # another control may still count a variant, e.g. the root filter counts root's CreateVpc)
    # or compares against the CIS text's values.
    events = frozenset(s.name for s in control.positives)
    scored = [
        (len(c.matched & events), relatedness(c.filter.pattern, control.key), c)
        for c in candidates
        if c.filter is not None
    ]
    scored = [s for s in scored if s[0] or s[1]]
    with_group = [c for c in chains if c.group is not None]
    if not with_group:
        detail = "; ".join(
            c.links["log_group"].detail for c in chains if c.links["log_group"].detail
        )
        return Analysis(
            "not_covered",
            f"no trail covering the account delivers to a CloudWatch Logs log group ({detail})",
            chains[0],
            missed=tuple(missed),
        )
    if not scored:
        groups = sorted({c.group.name for c in with_group if c.group is not None})
        shown = with_group[0]
        return Analysis(
            "not_covered",
            f"no metric filter on log group {', '.join(groups)} matches any "
            f"{control.key.replace('_', ' ')} event",
            _with_filter_link(shown, Link("broken", "no filter matches the control's events")),
            missed=tuple(missed),
        )
    scored.sort(key=lambda s: (-s[0], -s[1], s[2].via_org, s[2].filter.name if s[2].filter else ""))
    _, _, closest = scored[0]
    if closest.filter is None or closest.group is None:  # scored chains all have both
        return Analysis("not_covered", "no metric filter counts every event", closest)
    # per missed event, the first record of it the filter misses (the event itself, else a
    # variant: the filter is narrower than the control, e.g. one region or identity type)
    first_missed: dict[str, str] = {}
    for sample in control.required:
        if sample.name not in closest.matched:
            first_missed.setdefault(event_of(sample.name), sample.name)
    own_missed = [first_missed[s.name] for s in control.positives if s.name in first_missed]
    union_missed = {event_of(n) for n in needed - _union(chains)}
    examples = "; ".join(
        f"{describe_sample(by_name[n])}: {why_missed(closest.filter.pattern, by_name[n])}"
        for n in own_missed[:2]
    )
    more = f" and {len(own_missed) - 2} more" if len(own_missed) > 2 else ""
    union_note = ""
    if len(union_missed) < len(own_missed):
        union_note = f" (all filters together still miss {len(union_missed)} of {total})"
    reason = (
        f"no metric filter counts every event: closest is filter {closest.filter.name} on log "
        f"group {closest.group.name}, which misses {len(own_missed)} of {total}: "
        f"{examples}{more}{union_note}"
    )
    link = Link(
        "broken",
        f"closest filter {closest.filter.name} misses {len(own_missed)} of {total} events",
    )
    return Analysis("not_covered", reason, _with_filter_link(closest, link), missed=tuple(missed))


def _with_filter_link(chain: Chain, link: Link) -> Chain:
    links = dict(chain.links) | {
        "metric_filter": link,
        "alarm": NOT_REACHED,
        "subscriber": NOT_REACHED,
    }
    return Chain(chain.trail, chain.via_org, links, chain.group, chain.filter, chain.matched)
