"""Pure facts about trails that several rules share: management-event coverage, qualification.

A trail *qualifies* (CIS 3.1 / CloudTrail.1, and as the trail behind a CIS monitoring filter)
when it is multi-region, logging, and records all management events, read and write, with no
excluded event sources. `assess_trail` says whether it does, does not, or cannot be known.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from trailcheck.model import EventSelectors, Inventory, Trail, Unknown
from trailcheck.rules._selectors import scopes


@dataclass(frozen=True)
class ManagementEvents:
    """What a trail's selectors record of management events."""

    read: bool
    write: bool
    excluded_sources: tuple[str, ...] = ()
    restricted_to: tuple[str, ...] = ()  # advanced selectors that keep only some sources/fields

    @property
    def all(self) -> bool:
        return self.read and self.write and not self.excluded_sources and not self.restricted_to

    @property
    def all_but_exclusions(self) -> bool:
        return self.read and self.write and not self.restricted_to

    def describe(self) -> str:
        if not self.read and not self.write:
            return "records no management events"
        kinds = "read and write" if self.read and self.write else ("read" if self.read else "write")
        text = f"records {kinds} management events"
        if kinds != "read and write":
            text = f"records only {kinds} management events"
        if self.excluded_sources:
            text += f" but excludes {', '.join(self.excluded_sources)}"
        if self.restricted_to:
            text += f" but only where {'; '.join(self.restricted_to)}"
        return text


def management_events(selectors: EventSelectors) -> ManagementEvents:
    """The management events recorded by a trail's basic or advanced selectors (their union),
    read through the one selector evaluator (`_selectors.scopes`)."""
    read_exclusions: list[set[str]] = []
    write_exclusions: list[set[str]] = []
    restrictions: list[str] = []
    for scope in scopes(selectors):
        if "Management" not in scope.categories:
            continue
        if scope.narrowed_by or scope.arn or scope.resource_types or scope.event_source:
            restrictions.append(f"{scope.label} filters on more fields")
            continue
        if scope.read:
            read_exclusions.append(set(scope.excluded_sources))
        if scope.write:
            write_exclusions.append(set(scope.excluded_sources))
    # A source is missing only if every selector that records that kind excludes it.
    missing = _common(read_exclusions) | _common(write_exclusions)
    full = bool(read_exclusions) and bool(write_exclusions)
    return ManagementEvents(
        read=bool(read_exclusions),
        write=bool(write_exclusions),
        excluded_sources=tuple(sorted(missing)),
        restricted_to=() if full else tuple(restrictions),
    )


def _common(sets: list[set[str]]) -> set[str]:
    return set.intersection(*sets) if sets else set()


class Qualification(StrEnum):
    QUALIFIES = "qualifies"
    EXCLUSIONS_ONLY = "qualifies but for excluded event sources"
    FAILS = "does not qualify"
    UNKNOWN = "cannot be judged"


@dataclass(frozen=True)
class TrailAssessment:
    """Whether a trail is multi-region, logging and records all management events."""

    trail: Trail
    verdict: Qualification
    problems: tuple[str, ...]
    unknowns: tuple[str, ...]
    management: ManagementEvents | None

    @property
    def codes(self) -> list[str]:
        """The problem codes of a trail that does not qualify (changes/catalog.py)."""
        found = []
        if self.trail.describe_error is None and not self.trail.is_multi_region:
            found.append("trail.single_region")
        if not isinstance(self.trail.status, Unknown) and not self.trail.status.is_logging:
            found.append("trail.not_logging")
        if self.management is not None and not self.management.all:
            if self.management.all_but_exclusions:
                found.append("trail.selectors_exclude_sources")
            else:
                found.append("trail.selectors_exclude_management")
        return found

    def evidence(self) -> dict[str, object]:
        return {
            "trail_arn": self.trail.arn,
            "home_region": self.trail.home_region,
            "is_multi_region": self.trail.is_multi_region,
            "is_organization_trail": self.trail.is_organization_trail,
            "is_logging": None
            if isinstance(self.trail.status, Unknown)
            else self.trail.status.is_logging,
            "management_events": self.management.describe() if self.management else None,
            "problems": list(self.problems),
            "unknowns": list(self.unknowns),
        }


def assess_trail(trail: Trail) -> TrailAssessment:
    """Judge one trail against the multi-region / logging / management-events bar."""
    problems: list[str] = []
    unknowns: list[str] = []
    management: ManagementEvents | None = None
    if trail.describe_error is not None:
        unknowns.append(trail.describe_error.describe())
    elif not trail.is_multi_region:
        problems.append(f"single-region (home {trail.home_region})")
    if isinstance(trail.status, Unknown):
        unknowns.append(trail.status.describe())
    elif not trail.status.is_logging:
        problems.append("not logging")
    if isinstance(trail.event_selectors, Unknown):
        unknowns.append(trail.event_selectors.describe())
    else:
        management = management_events(trail.event_selectors)
        if not management.all:
            problems.append(management.describe())
    exclusions_only = (
        management is not None
        and management.all_but_exclusions
        and bool(management.excluded_sources)
        and problems == [management.describe()]
        and not unknowns
    )
    if exclusions_only:
        verdict = Qualification.EXCLUSIONS_ONLY
    elif problems:
        verdict = Qualification.FAILS
    elif unknowns:
        verdict = Qualification.UNKNOWN
    else:
        verdict = Qualification.QUALIFIES
    return TrailAssessment(trail, verdict, tuple(problems), tuple(unknowns), management)


def trails_covering(inventory: Inventory, account_id: str) -> list[Trail] | Unknown:
    """Every trail that records events of `account_id`, each once, sorted by ARN.

    That is: trails the account's ListTrails showed, trails it owns, and organization trails
    owned by a scanned account of the same organization (a member's events go to them even
    where a simulator does not list them in the member). Unknown when the account's trail list
    could not be read and nothing else is known to cover it.
    """
    account = inventory.accounts[account_id]
    arns: set[str] = {t.arn for t in inventory.trails_owned_by(account_id)}
    if isinstance(account.trail_arns, tuple):
        arns |= set(account.trail_arns)
    if account.organization_id:
        for trail in inventory.trails.values():
            owner = inventory.accounts.get(trail.account_id)
            if (
                trail.is_organization_trail
                and owner is not None
                and owner.organization_id == account.organization_id
            ):
                arns.add(trail.arn)
    if not arns and isinstance(account.trail_arns, Unknown):
        return account.trail_arns
    return [inventory.trails[a] for a in sorted(arns) if a in inventory.trails]
