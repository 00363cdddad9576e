"""Trail rules: account coverage by a qualifying trail, logging on, log file validation."""

from __future__ import annotations

from collections.abc import Iterator

from trailcheck.model import Finding, Inventory, Severity, Status, Trail, Unknown
from trailcheck.rules._trails import Qualification, assess_trail, trails_covering
from trailcheck.rules.base import Remediation, RuleContext, Unseen, Visibility, rule


@rule(
    id="CT.ACCOUNT.MULTI_REGION_TRAIL",
    change_events=("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"),
    title="The account is covered by a multi-region trail that logs all management events",
    severity=Severity.HIGH,
    resource_type="AWS::::Account",
    # Decides: CIS 3.1 and CloudTrail.1 test exactly this: at least one multi-region trail,
    # logging, recording read and write management events with no excluded sources. Where
    # an organization trail covers a member, the evidence names it (Security Hub does not see
    # an organization trail from the member).
    controls={
        "cis-aws-1.4": ("3.1",),
        "cis-aws-3.0": ("3.1",),
        "cis-aws-5.0": ("3.1",),
        "cis-aws-6.0": ("4.1",),
        "cis-aws-7.0": ("4.1",),
        "aws-fsbp": ("CloudTrail.1",),
    },
    # Relates to CloudTrail.3 ("at least one trail enabled", evaluated per region by the
    # cloudtrail-enabled Config rule): any logging trail passes it, multi-region or not.
    related_controls={
        "aws-fsbp": ("CloudTrail.3",),
        "pci-dss-4.0": (
            "10.2.1",
            "10.2.1.2",
            "10.2.1.4",
            "10.2.1.5",
            "10.2.1.6",
            "10.2.1.7",
            "10.2.2",
        ),
        "nist-800-53-r5": ("AU-2", "AU-3", "AU-12"),
        "soc2": ("CC7.2",),
        "iso-27001-2022": ("A.8.15",),
    },
    requires={"trails"},
    remediation=Remediation(
        summary="Create (or fix) one multi-region trail that is logging and records all "
        "management events, read and write, with no excluded event sources; an organization "
        "trail in the management account covers every member.",
        cli="aws cloudtrail create-trail --name org-trail --s3-bucket-name BUCKET "
        "--is-multi-region-trail --enable-log-file-validation && "
        "aws cloudtrail start-logging --name org-trail && "
        "aws cloudtrail put-event-selectors --trail-name org-trail --event-selectors "
        '\'[{"ReadWriteType":"All","IncludeManagementEvents":true}]\'',
        terraform='resource "aws_cloudtrail" "main" {\n  name = "org-trail"\n'
        "  s3_bucket_name = aws_s3_bucket.logs.id\n  is_multi_region_trail = true\n"
        "  enable_logging = true\n  enable_log_file_validation = true\n"
        '  event_selector {\n    read_write_type = "All"\n'
        "    include_management_events = true\n  }\n}",
    ),
)
def multi_region_trail(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Without a multi-region trail that is logging and records every management event, API
    activity in some region or of some kind leaves no record: incidents cannot be
    investigated. An organization trail covers member accounts; excluded event sources (for
    example KMS or RDS Data API) are a deliberate cost choice but still leave a gap."""
    partition = inventory.metadata.partition
    visibility = Visibility(inventory)
    for account in inventory.reachable_accounts():
        resource = f"arn:{partition}:iam::{account.account_id}:root"
        base = {"account_id": account.account_id, "region": None, "resource_arn": resource}
        trails = trails_covering(inventory, account.account_id)
        unlisted = visibility.trail_list(account.account_id)
        if isinstance(trails, Unknown):
            yield ctx.unseen(unlisted or Unseen(f"cannot list trails: {trails.describe()}"), **base)
            continue
        if not trails:
            yield ctx.failed(
                **base,
                reason="no CloudTrail trail records this account's API activity",
                evidence={"trails": []},
                problems=["trail.no_trail"],
            )
            continue
        assessments = [assess_trail(t) for t in trails]
        evidence = {"trails": [a.evidence() for a in assessments]}
        qualifying = [a for a in assessments if a.verdict is Qualification.QUALIFIES]
        if qualifying:
            best = min(
                qualifying, key=lambda a: (a.trail.account_id != account.account_id, a.trail.arn)
            )
            via = (
                "its own trail"
                if best.trail.account_id == account.account_id
                else f"organization trail of account {best.trail.account_id}"
            )
            yield ctx.passed(
                **base,
                reason=f"covered by {via} {best.trail.arn} (multi-region, logging, "
                "all management events)",
                evidence={"covering_trail": best.trail.arn, **evidence},
            )
            continue
        undecided = [a for a in assessments if a.verdict is Qualification.UNKNOWN]
        if unlisted is not None:  # a trail of its own that qualifies may be unseen
            yield ctx.unseen(
                Unseen(f"no trail seen qualifies, and {unlisted.reason}"),
                **base,
                evidence=evidence,
            )
            continue
        if undecided:
            yield ctx.error(
                **base,
                reason=f"cannot tell whether {undecided[0].trail.arn} qualifies: "
                f"{'; '.join(undecided[0].unknowns)}",
                evidence=evidence,
            )
            continue
        near = [a for a in assessments if a.verdict is Qualification.EXCLUSIONS_ONLY]
        if near and near[0].management is not None:
            management = near[0].management
            yield ctx.failed(
                **base,
                severity=Severity.MEDIUM,
                reason=f"{near[0].trail.arn} {management.describe()} "
                "(CIS 3.1 / CloudTrail.1 require no exclusions)",
                evidence={"excluded_sources": list(management.excluded_sources), **evidence},
                problems=near[0].codes,
            )
            continue
        summary = "; ".join(f"{a.trail.name}: {', '.join(a.problems)}" for a in assessments)
        yield ctx.failed(
            **base,
            reason="no trail is multi-region, logging and records all management events "
            f"({summary})",
            evidence=evidence,
            problems=sorted({c for a in assessments for c in a.codes}),
        )


@rule(
    id="CT.TRAIL.LOGGING",
    change_events=("StopLogging",),
    title="Each trail is logging",
    severity=Severity.HIGH,
    resource_type="AWS::CloudTrail::Trail",
    # Relates only: a stopped extra trail does not fail CIS 3.1 / CloudTrail.1 and a logging
    # single-region trail does not pass them; CT.ACCOUNT.MULTI_REGION_TRAIL decides them.
    controls={},
    related_controls={
        "cis-aws-1.4": ("3.1",),
        "cis-aws-3.0": ("3.1",),
        "cis-aws-5.0": ("3.1",),
        "cis-aws-6.0": ("4.1",),
        "cis-aws-7.0": ("4.1",),
        "aws-fsbp": ("CloudTrail.1",),
        "pci-dss-4.0": ("10.2.1",),
        "nist-800-53-r5": ("AU-12",),
        "iso-27001-2022": ("A.8.15",),
    },
    requires={"trails"},
    remediation=Remediation(
        summary="Start logging on the trail (and find out who stopped it: StopLogging is a "
        "classic step of an attacker covering their tracks).",
        cli="aws cloudtrail start-logging --name {trail_arn}",
        terraform="enable_logging = true  # in the aws_cloudtrail resource",
    ),
)
def trail_logging(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """A trail that exists but is not logging records nothing, while dashboards that only list
    trails show it as present. Stopping a trail is a common first move of an intruder."""

    def judge(trail: Trail) -> Iterator[Finding]:
        if isinstance(trail.status, Unknown):
            yield ctx.for_trail(
                trail, Status.ERROR, f"cannot read status: {trail.status.describe()}"
            )
            return
        evidence = {
            "trail_arn": trail.arn,
            "is_logging": trail.status.is_logging,
            "stop_logging_time": _iso(trail.status.stop_logging_time),
        }
        if trail.status.is_logging:
            yield ctx.for_trail(trail, Status.PASS, "the trail is logging", evidence=evidence)
        else:
            since = trail.status.stop_logging_time
            when = f" since {since.isoformat()}" if since else ""
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                f"the trail is not logging{when}",
                evidence=evidence,
                problems=["trail.not_logging"],
            )

    yield from ctx.per_owned_trail(inventory, judge)


@rule(
    id="CT.TRAIL.LOG_VALIDATION",
    change_events=("UpdateTrail",),
    title="Log file integrity validation is enabled",
    severity=Severity.MEDIUM,
    resource_type="AWS::CloudTrail::Trail",
    # Decides: CIS 3.2 and CloudTrail.4 test LogFileValidationEnabled on each trail.
    controls={
        "cis-aws-1.4": ("3.2",),
        "cis-aws-3.0": ("3.2",),
        "cis-aws-5.0": ("3.2",),
        "cis-aws-6.0": ("4.2",),
        "cis-aws-7.0": ("4.2",),
        "aws-fsbp": ("CloudTrail.4",),
    },
    related_controls={
        "pci-dss-4.0": ("10.3.4",),
        "nist-800-53-r5": ("AU-9",),
        "iso-27001-2022": ("A.8.15",),
    },
    requires={"trails"},
    remediation=Remediation(
        summary="Enable log file validation so CloudTrail writes signed, chained digest files; "
        "then verify them regularly (trailcheck verify-logs).",
        cli="aws cloudtrail update-trail --name {trail_arn} --enable-log-file-validation",
        terraform="enable_log_file_validation = true  # in the aws_cloudtrail resource",
    ),
)
def log_validation(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Without digest files nobody can prove that a log file was not changed or deleted after
    CloudTrail delivered it."""

    def judge(trail: Trail) -> Iterator[Finding]:
        evidence = {
            "trail_arn": trail.arn,
            "LogFileValidationEnabled": trail.log_file_validation_enabled,
        }
        if trail.log_file_validation_enabled:
            yield ctx.for_trail(
                trail, Status.PASS, "log file validation is enabled", evidence=evidence
            )
        else:
            yield ctx.for_trail(
                trail,
                Status.FAIL,
                "log file validation is disabled",
                evidence=evidence,
                problems=["trail.validation_off"],
            )

    yield from ctx.per_owned_trail(inventory, judge)


def _iso(value: object) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else None  # type: ignore[union-attr]
