"""What peers check of trails beyond coverage: CloudTrail.3 (some trail enabled in every
region), CloudTrail Insights, CloudTrail.9 (trails tagged)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from trailcheck.model import Finding, Inventory, Severity, Status, Trail, Unknown
from trailcheck.rules._trails import trails_covering
from trailcheck.rules.base import Remediation, RuleContext, Unseen, Visibility, rule

INSIGHT_TYPES = ("ApiCallRateInsight", "ApiErrorRateInsight")


def _records_in(trail: Trail, region: str) -> bool:
    return trail.is_multi_region or trail.home_region == region


@rule(
    id="CT.ACCOUNT.TRAIL_ENABLED",
    change_events=("StopLogging", "DeleteTrail"),
    title="At least one trail is logging in every region of the account",
    severity=Severity.HIGH,
    resource_type="AWS::::Account",
    # Decides CloudTrail.3 (Config's cloudtrail-enabled, evaluated per region): in each region
    # some trail that records there (multi-region or homed there) is logging, whatever its
    # selectors. CT.ACCOUNT.MULTI_REGION_TRAIL asks much more (CloudTrail.1).
    controls={"aws-fsbp": ("CloudTrail.3",)},
    related_controls={"nist-800-53-r5": ("AU-12",)},
    requires={"trails", "regions"},
    remediation=Remediation(
        summary="Create a multi-region trail and start logging (or start the stopped trail).",
        cli="aws cloudtrail create-trail --name main --s3-bucket-name BUCKET "
        "--is-multi-region-trail && aws cloudtrail start-logging --name main",
        terraform='resource "aws_cloudtrail" "main" {\n  name = "main"\n'
        "  s3_bucket_name = aws_s3_bucket.logs.id\n  is_multi_region_trail = true\n"
        "  enable_logging = true\n}",
    ),
)
def trail_enabled(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Security Hub's reading of CloudTrail.3: in a region where no trail is logging, API
    activity leaves no record beyond the 90-day event history."""
    visibility = Visibility(inventory)
    for account in inventory.reachable_accounts():
        trails = trails_covering(inventory, account.account_id)
        unlisted = visibility.trail_list(account.account_id)
        if isinstance(trails, Unknown):
            unseen = unlisted or Unseen(f"cannot list trails: {trails.describe()}")
            yield ctx.unseen(
                unseen,
                account_id=account.account_id,
                region=None,
                resource_arn=f"arn:{inventory.metadata.partition}:iam::{account.account_id}:root",
                resource_type="AWS::::Account",
            )
            continue
        if isinstance(account.regions, Unknown):
            yield ctx.for_account(
                inventory,
                account.account_id,
                Status.ERROR,
                f"cannot tell which regions to check: {account.regions.describe()}",
            )
            continue
        by_region: dict[str, list[str]] = {}
        unknown: dict[str, list[str]] = {}
        # a trail whose description was lost may record in any region
        undescribed = [u.reason for t in trails if (u := visibility.trail(t))]
        described = [t for t in trails if visibility.trail(t) is None]
        for region in account.regions:
            here = [t for t in described if _records_in(t, region)]
            by_region[region] = [
                t.arn for t in here if not isinstance(t.status, Unknown) and t.status.is_logging
            ]
            unknown[region] = [
                f"{t.arn}: {t.status.describe()}" for t in here if isinstance(t.status, Unknown)
            ] + undescribed
        dark = [r for r, logging in by_region.items() if not logging]
        evidence = {"logging_trails_by_region": by_region, "regions_without": dark}
        if not dark and unlisted is None:
            yield ctx.for_account(
                inventory,
                account.account_id,
                Status.PASS,
                f"a trail is logging in each of the {len(by_region)} regions",
                evidence=evidence,
            )
        elif dark and not any(unknown[r] for r in dark) and unlisted is None:
            yield ctx.for_account(
                inventory,
                account.account_id,
                Status.FAIL,
                f"no trail is logging in {len(dark)} region(s): {', '.join(dark)}",
                evidence=evidence,
                problems=["trail.none_enabled"],
            )
        else:
            why = unlisted.reason if unlisted else next(u for r in dark for u in unknown[r])
            yield ctx.for_account(
                inventory,
                account.account_id,
                Status.ERROR,
                f"cannot tell whether a trail is logging everywhere: {why}",
                evidence=evidence,
            )


@rule(
    id="CT.ACCOUNT.INSIGHTS",
    change_events=("PutInsightSelectors", "StopLogging", "DeleteTrail"),
    title="CloudTrail Insights (API call rate and error rate) run on a logging multi-region trail",
    severity=Severity.LOW,
    resource_type="AWS::::Account",
    # Relates only: no framework control asks it (Prowler's cloudtrail_insights_exist accepts
    # any insight selector on any trail; this rule asks both kinds on a multi-region trail
    # that is logging).
    controls={},
    related_controls={"nist-800-53-r5": ("SI-4",)},
    requires={"trails"},
    remediation=Remediation(
        summary="Turn on both Insights types on the multi-region trail that is logging.",
        cli="aws cloudtrail put-insight-selectors --trail-name TRAIL --insight-selectors "
        '\'[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight"}]\'',
        terraform='insight_selector {\n  insight_type = "ApiCallRateInsight"\n}\n'
        'insight_selector {\n  insight_type = "ApiErrorRateInsight"\n}',
    ),
)
def insights(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Insights flag unusual bursts of write calls or errors (a script enumerating
    permissions, a runaway deletion) without a hand-written alarm for each."""
    visibility = Visibility(inventory)
    for account in inventory.reachable_accounts():
        resource = f"arn:{inventory.metadata.partition}:iam::{account.account_id}:root"
        base = {"account_id": account.account_id, "region": None, "resource_arn": resource}
        trails = trails_covering(inventory, account.account_id)
        unlisted = visibility.trail_list(account.account_id)
        if isinstance(trails, Unknown):
            yield ctx.unseen(unlisted or Unseen(f"cannot list trails: {trails.describe()}"), **base)
            continue
        seen: list[dict[str, object]] = []
        unknowns: list[str] = []
        best: tuple[str, ...] = ()
        for trail in trails:
            kinds = trail.insight_selectors
            logging = None if isinstance(trail.status, Unknown) else trail.status.is_logging
            seen.append(
                {
                    "trail_arn": trail.arn,
                    "insight_types": list(kinds) if isinstance(kinds, tuple) else None,
                    "is_logging": logging,
                    "is_multi_region": trail.is_multi_region,
                }
            )
            if isinstance(kinds, Unknown):
                unknowns.append(f"{trail.arn}: {kinds.describe()}")
                continue
            if isinstance(trail.status, Unknown) and kinds:
                unknowns.append(f"{trail.arn}: {trail.status.describe()}")
                continue
            if logging and trail.is_multi_region and kinds:
                if set(INSIGHT_TYPES) <= set(kinds):
                    best = tuple(kinds)
                    yield ctx.passed(
                        **base,
                        reason=f"{trail.arn} runs {' and '.join(INSIGHT_TYPES)}",
                        evidence={"trails": seen},
                    )
                    break
                best = best or tuple(kinds)
        else:
            if unknowns or unlisted is not None:
                why = unlisted.reason if unlisted else unknowns[0]
                yield ctx.error(
                    **base,
                    reason=f"cannot tell whether Insights run: {why}",
                    evidence={"trails": seen},
                )
            else:
                missing = [k for k in INSIGHT_TYPES if k not in best]
                yield ctx.failed(
                    **base,
                    reason=f"no multi-region, logging trail runs {' and '.join(missing)}",
                    evidence={"trails": seen, "missing": missing},
                    problems=["trail.no_insights"],
                )


class TagParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    required_tag_keys: tuple[str, ...] = Field(
        default=(),
        max_length=6,
        description="Tag keys every trail must carry (Security Hub's requiredTagKeys, up to 6). "
        "Empty: at least one tag other than aws: system tags.",
    )


@rule(
    id="CT.TRAIL.TAGGED",
    change_events=("AddTags", "RemoveTags"),
    title="Each trail is tagged",
    severity=Severity.LOW,
    resource_type="AWS::CloudTrail::Trail",
    # Decides CloudTrail.9 (Config's tagged-cloudtrail-trail): without required keys, some
    # user tag (aws: system tags do not count); with them, every required key present.
    controls={"aws-fsbp": ("CloudTrail.9",)},
    related_controls={},
    requires={"trails", "trail_tags"},
    params=TagParams,
    remediation=Remediation(
        summary="Tag the trail with the keys your organization requires (owner, purpose...).",
        cli="aws cloudtrail add-tags --resource-id {trail_arn} "
        "--tags-list Key=owner,Value=security",
        terraform='tags = {\n  owner = "security"\n}  # in the aws_cloudtrail resource',
    ),
)
def trail_tagged(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Tags say who owns a trail and why it exists; an untagged trail is the one nobody
    notices being stopped or deleted, and tag-based access policies cannot protect it."""
    required: list[str] = list(ctx.params.required_tag_keys)

    def judge(trail: Trail) -> Iterator[Finding]:
        if isinstance(trail.tags, Unknown):
            yield ctx.for_trail(
                trail, Status.ERROR, f"cannot read the trail's tags: {trail.tags.describe()}"
            )
            return
        user = sorted(k for k in trail.tags if not k.startswith("aws:"))
        evidence = {"trail_arn": trail.arn, "tag_keys": user, "required_tag_keys": required}
        missing = [k for k in required if k not in trail.tags]
        if required and missing:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                f"the trail lacks the required tag key(s) {', '.join(missing)}",
                evidence=evidence,
                problems=["trail.untagged"],
            )
        elif not required and not user:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                "the trail has no tags",
                evidence=evidence,
                problems=["trail.untagged"],
            )
        else:
            yield ctx.for_trail(
                trail, Status.PASS, f"the trail is tagged ({', '.join(user)})", evidence=evidence
            )

    yield from ctx.per_owned_trail(inventory, judge)
