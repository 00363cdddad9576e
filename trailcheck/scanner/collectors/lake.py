"""CloudTrail Lake: the event data stores of one (account, region).

Calls: ListEventDataStores once per (account, region), paginated; GetEventDataStore once per
store (the list leaves out the KMS key, and its retention and termination-protection fields
are deprecated there).
"""

from __future__ import annotations

from typing import Any

from trailcheck.model import EventDataStore, Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call

SPEC = CollectorSpec(
    name="cloudtrail-lake",
    provides=frozenset({"event_data_stores"}),
    permissions=("cloudtrail:ListEventDataStores", "cloudtrail:GetEventDataStore"),
)


def collect_event_data_stores(access: AccountAccess, region: str) -> list[EventDataStore] | Unknown:
    """The stores the account owns in `region`, each with its details."""
    client = access.client("cloudtrail", region)
    items = _list_stores(client)
    if isinstance(items, Unknown):
        return items
    stores = []
    for item in items:
        arn = item["EventDataStoreArn"]
        if arn.split(":")[4] != access.account_id:
            continue  # judged in its owner
        details = call(client, "GetEventDataStore", EventDataStore=arn)
        stores.append(_store(arn, region, item, details))
    return stores


def _list_stores(client: Any) -> list[dict[str, Any]] | Unknown:
    """ListEventDataStores, page by page (botocore has no paginator for it)."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        response = call(client, "ListEventDataStores", **({"NextToken": token} if token else {}))
        if isinstance(response, Unknown):
            return response
        items.extend((response or {}).get("EventDataStores", []))
        token = (response or {}).get("NextToken")
        if not token:
            return items


def _store(
    arn: str, region: str, item: dict[str, Any], details: dict[str, Any] | Unknown | None
) -> EventDataStore:
    known = details if isinstance(details, dict) else {}
    missing = details if isinstance(details, Unknown) else None
    retention = known.get("RetentionPeriod")
    return EventDataStore(
        arn=arn,
        name=str(known.get("Name") or item.get("Name") or arn.rsplit("/", 1)[-1]),
        account_id=arn.split(":")[4],
        region=region,
        status=known.get("Status") or item.get("Status"),
        kms_key_id=missing or known.get("KmsKeyId") or None,
        retention_days=missing or (int(retention) if retention is not None else None),
        termination_protection=missing or bool(known.get("TerminationProtectionEnabled")),
        multi_region=known.get("MultiRegionEnabled"),
        organization_enabled=known.get("OrganizationEnabled"),
    )
