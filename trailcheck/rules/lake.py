"""CloudTrail Lake event data stores: CloudTrail.10 (encrypted with a customer managed key),
retention and termination protection. Each store is judged once, in the account that owns it;
an account whose store list could not be read in some scanned region gets ERROR."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from trailcheck.model import EventDataStore, Finding, Inventory, Severity, Status, Unknown
from trailcheck.rules.base import Remediation, RuleContext, rule

Judge = Callable[[EventDataStore], tuple[Status, str, dict[str, JsonValue], tuple[str, ...]]]


def per_event_data_store(inventory: Inventory, ctx: RuleContext, judge: Judge) -> Iterator[Finding]:
    """`judge` each store a reachable account owns; ERROR in each scanned region whose list
    could not be read; NOT_APPLICABLE for an account that owns none in the regions read."""
    for account in inventory.reachable_accounts():
        owned = sorted(
            (s for s in inventory.event_data_stores.values() if s.account_id == account.account_id),
            key=lambda s: s.arn,
        )
        for store in owned:
            status, reason, evidence, problems = judge(store)
            yield ctx.finding(
                status,
                account_id=store.account_id,
                region=store.region,
                resource_arn=store.arn,
                reason=reason,
                evidence={"event_data_store": store.arn, **evidence},
                problems=problems,
            )
        if isinstance(account.regions, Unknown):
            yield ctx.for_account(
                inventory,
                account.account_id,
                Status.ERROR,
                f"cannot tell which regions hold stores: {account.regions.describe()}",
            )
            continue
        unread = _unread_regions(inventory, account.account_id, account.regions)
        for region, why in unread.items():  # an ERROR where the list is unknown, never N/A
            yield ctx.finding(
                Status.ERROR,
                account_id=account.account_id,
                region=region,
                resource_arn=f"arn:{inventory.metadata.partition}:iam::{account.account_id}:root",
                resource_type="AWS::::Account",
                reason=f"cannot list the event data stores in {region}: {why}",
            )
        read = [r for r in account.regions if r not in unread]
        if not owned and read:
            yield ctx.for_account(
                inventory,
                account.account_id,
                Status.NOT_APPLICABLE,
                "the account owns no CloudTrail Lake event data store in the regions read",
                evidence={"regions_read": read, "regions_unread": sorted(unread)},
            )


def _unread_regions(
    inventory: Inventory, account_id: str, regions: tuple[str, ...]
) -> dict[str, str]:
    """Scanned region → why its store list is unknown."""
    unread = {}
    for region in regions:
        listing = inventory.regional_listing(account_id, region)
        stores = listing.event_data_stores if listing else None
        if isinstance(stores, Unknown):
            unread[region] = stores.describe()
        elif stores is None:
            unread[region] = "cloudtrail:ListEventDataStores not read"
    return unread


def _unknown(value: object) -> str | None:
    return value.describe() if isinstance(value, Unknown) else None


def _cmk(store: EventDataStore) -> tuple[Status, str, dict[str, JsonValue], tuple[str, ...]]:
    if (why := _unknown(store.kms_key_id)) is not None:
        return Status.ERROR, f"cannot read the store's encryption: {why}", {}, ()
    evidence: dict[str, JsonValue] = {"KmsKeyId": store.kms_key_id}
    if store.kms_key_id:
        return Status.PASS, "encrypted with a customer managed KMS key", evidence, ()
    return (
        Status.FAIL,
        "encrypted with a key AWS owns, not a customer managed KMS key",
        evidence,
        ("lake.not_cmk_encrypted",),
    )


@rule(
    id="CT.LAKE.CMK_ENCRYPTED",
    change_events=("UpdateEventDataStore", "CreateEventDataStore"),
    title="CloudTrail Lake event data stores are encrypted with a customer managed KMS key",
    severity=Severity.MEDIUM,
    resource_type="AWS::CloudTrail::EventDataStore",
    # Decides CloudTrail.10 (Config's cloudtrail-event-data-store-cmk-encryption-enabled): the
    # store has a KmsKeyId (any customer managed key).
    controls={"aws-fsbp": ("CloudTrail.10",)},
    related_controls={"nist-800-53-r5": ("AU-9",)},
    requires={"event_data_stores"},
    remediation=Remediation(
        summary="Encrypt the event data store with a customer managed KMS key (a one-way "
        "change: the store cannot go back to an AWS owned key).",
        cli="aws cloudtrail update-event-data-store --event-data-store {event_data_store} "
        "--kms-key-id KEY_ARN",
        terraform="kms_key_id = aws_kms_key.lake.arn  # in the aws_cloudtrail_event_data_store",
    ),
)
def lake_cmk_encrypted(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """With a customer managed key the organization controls who can decrypt the stored
    events and can revoke access; an AWS owned key gives it neither."""
    yield from per_event_data_store(inventory, ctx, _cmk)


class LakeRetentionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_days: int = Field(
        default=365, ge=7, description="How long the store must keep events (days)."
    )


@rule(
    id="CT.LAKE.RETENTION",
    change_events=("UpdateEventDataStore",),
    title="CloudTrail Lake event data stores keep events for the required time",
    severity=Severity.MEDIUM,
    resource_type="AWS::CloudTrail::EventDataStore",
    # Relates only: frameworks ask for log retention in general (PCI 10.5.1: 12 months).
    controls={},
    related_controls={"pci-dss-4.0": ("10.5.1",), "nist-800-53-r5": ("AU-11",)},
    requires={"event_data_stores"},
    params=LakeRetentionParams,
    remediation=Remediation(
        summary="Raise the store's retention period to the required number of days.",
        cli="aws cloudtrail update-event-data-store --event-data-store {event_data_store} "
        "--retention-period 365",
        terraform="retention_period = 365  # in the aws_cloudtrail_event_data_store",
    ),
)
def lake_retention(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Events older than the store's retention are deleted: an investigation that starts
    late finds nothing."""
    required: int = ctx.params.retention_days

    def judge(store: EventDataStore) -> tuple[Status, str, dict[str, JsonValue], tuple[str, ...]]:
        if (why := _unknown(store.retention_days)) is not None:
            return Status.ERROR, f"cannot read the store's retention: {why}", {}, ()
        days = store.retention_days
        evidence: dict[str, JsonValue] = {"RetentionPeriod": days, "required_days": required}
        if isinstance(days, int) and days >= required:
            return Status.PASS, f"keeps events for {days} days", evidence, ()
        return (
            Status.FAIL,
            f"keeps events for {days} days, less than the required {required}",
            evidence,
            ("lake.short_retention",),
        )

    yield from per_event_data_store(inventory, ctx, judge)


@rule(
    id="CT.LAKE.TERMINATION_PROTECTION",
    change_events=("UpdateEventDataStore",),
    title="CloudTrail Lake event data stores have termination protection on",
    severity=Severity.LOW,
    resource_type="AWS::CloudTrail::EventDataStore",
    controls={},
    related_controls={"nist-800-53-r5": ("AU-9",)},
    requires={"event_data_stores"},
    remediation=Remediation(
        summary="Turn termination protection on for the event data store.",
        cli="aws cloudtrail update-event-data-store --event-data-store {event_data_store} "
        "--termination-protection-enabled",
        terraform="termination_protection_enabled = true  # in the event data store",
    ),
)
def lake_termination_protection(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Without termination protection one DeleteEventDataStore call starts erasing every
    stored event (after the 7-day wait)."""

    def judge(store: EventDataStore) -> tuple[Status, str, dict[str, JsonValue], tuple[str, ...]]:
        if (why := _unknown(store.termination_protection)) is not None:
            return Status.ERROR, f"cannot read termination protection: {why}", {}, ()
        evidence: dict[str, JsonValue] = {
            "TerminationProtectionEnabled": store.termination_protection
        }
        if store.termination_protection:
            return Status.PASS, "termination protection is on", evidence, ()
        return (
            Status.FAIL,
            "termination protection is off",
            evidence,
            ("lake.no_termination_protection",),
        )

    yield from per_event_data_store(inventory, ctx, judge)
