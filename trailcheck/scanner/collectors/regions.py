"""The regions enabled for an account (opt-in regions included only when opted in)."""

from __future__ import annotations

from trailcheck.model import Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call

SPEC = CollectorSpec(
    name="regions",
    provides=frozenset({"regions"}),
    permissions=("ec2:DescribeRegions",),
)


def enabled_regions(access: AccountAccess, api_region: str) -> tuple[str, ...] | Unknown:
    """DescribeRegions without AllRegions lists exactly the regions enabled for the account."""
    response = call(access.client("ec2", api_region), "DescribeRegions")
    if response is None or isinstance(response, Unknown):
        return response or Unknown(operation="ec2:DescribeRegions", error_code="Empty")
    return tuple(sorted(r["RegionName"] for r in response.get("Regions", [])))
