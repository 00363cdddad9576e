"""Small hand-built inventories for rule tests: sensible, compliant defaults, override anything."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from trailcheck.model import (
    Account,
    AclGrant,
    BasicEventSelector,
    Bucket,
    BucketAcl,
    BucketEncryption,
    DataResource,
    EventDataStore,
    EventSelectors,
    IamAuthorization,
    Inventory,
    KeyMetadata,
    KmsKey,
    LifecycleRule,
    LifecycleTransition,
    LoggingTarget,
    LogGroup,
    Notifications,
    ObjectLock,
    PublicAccessBlock,
    ScanMetadata,
    Trail,
    TrailStatus,
    Unknown,
    Versioning,
)

# All management events plus S3 object and Lambda data events of every resource.
ALL_DATA_SELECTORS = EventSelectors(
    basic=(
        BasicEventSelector(
            data_resources=(
                DataResource(type="AWS::S3::Object", values=("arn:aws:s3",)),
                DataResource(type="AWS::Lambda::Function", values=("arn:aws:lambda",)),
            )
        ),
    )
)
SCAN_TIME = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ACCOUNT = "111111111111"
REGION = "us-east-1"


def denied(operation: str) -> Unknown:
    return Unknown(operation=operation, error_code="AccessDenied", message="not authorized")


def make_status(**overrides: Any) -> TrailStatus:
    values: dict[str, Any] = {
        "is_logging": True,
        "latest_delivery_time": SCAN_TIME - timedelta(minutes=5),
        "latest_digest_delivery_time": SCAN_TIME - timedelta(minutes=30),
        "latest_cloudwatch_logs_delivery_time": SCAN_TIME - timedelta(minutes=2),
    }
    return TrailStatus(**(values | overrides))


def make_trail(name: str = "main", account_id: str = ACCOUNT, **overrides: Any) -> Trail:
    region = overrides.pop("home_region", REGION)
    arn = f"arn:aws:cloudtrail:{region}:{account_id}:trail/{name}"
    values: dict[str, Any] = {
        "arn": arn,
        "name": name,
        "account_id": account_id,
        "home_region": region,
        "is_multi_region": True,
        "s3_bucket_name": f"logs-{account_id}",
        "log_file_validation_enabled": True,
        "kms_key_id": f"arn:aws:kms:{region}:{account_id}:key/k-{name}",
        "cloudwatch_logs_log_group_arn": (
            f"arn:aws:logs:{region}:{account_id}:log-group:ct-{name}:*"
        ),
        "status": make_status(),
        # every management event, S3 object and Lambda data events; both Insights; a tag
        "event_selectors": ALL_DATA_SELECTORS,
        "has_insight_selectors": True,
        "insight_selectors": ("ApiCallRateInsight", "ApiErrorRateInsight"),
        "tags": {"owner": "security"},
    }
    return Trail(**(values | overrides))


def make_key(arn: str, **overrides: Any) -> KmsKey:
    parts = arn.split(":")
    values: dict[str, Any] = {
        "arn": arn,
        "account_id": parts[4],
        "region": parts[3],
        "metadata": KeyMetadata(key_state="Enabled", enabled=True, key_manager="CUSTOMER"),
        "rotation_enabled": True,
        # the default key policy: the account's IAM policies decide
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{parts[4]}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
    }
    return KmsKey(**(values | overrides))


def make_log_group(arn: str, **overrides: Any) -> LogGroup:
    parts = arn.split(":")
    name = arn.split(":log-group:", 1)[1].removesuffix(":*")
    values: dict[str, Any] = {
        "arn": arn,
        "name": name,
        "account_id": parts[4],
        "region": parts[3],
        "exists": True,
    }
    return LogGroup(**(values | overrides))


def make_bucket(name: str, owner: str = ACCOUNT, **overrides: Any) -> Bucket:
    values: dict[str, Any] = {
        "name": name,
        "owner_account_id": owner,
        "region": REGION,
        "versioning": Versioning(status="Enabled", mfa_delete="Enabled"),
        "encryption": BucketEncryption(algorithm="aws:kms", kms_key_id="k"),
        "object_lock": ObjectLock(enabled=True, mode="COMPLIANCE", days=365),
        "policy": None,
        "public_access_block": PublicAccessBlock(
            block_public_acls=True,
            ignore_public_acls=True,
            block_public_policy=True,
            restrict_public_buckets=True,
        ),
        "policy_is_public": None,
        "acl": BucketAcl(
            owner_id="owner-canonical-id",
            grants=(
                AclGrant(
                    grantee_type="CanonicalUser",
                    grantee="owner-canonical-id",
                    permission="FULL_CONTROL",
                ),
            ),
        ),
        "lifecycle": None,
        "logging": LoggingTarget(target_bucket=f"access-logs-{owner}", target_prefix=f"{name}/"),
        "notifications": Notifications(eventbridge=True),
        "account_public_access_block": None,
    }
    return Bucket(**(values | overrides))


def make_account(account_id: str = ACCOUNT, **overrides: Any) -> Account:
    values: dict[str, Any] = {"account_id": account_id, "regions": (REGION, "eu-west-1")}
    return Account(**(values | overrides))


def make_inventory(
    trails: list[Trail] | None = None,
    accounts: list[Account] | None = None,
    *,
    with_resources: bool = True,
    buckets: list[Bucket] | None = None,
    keys: list[KmsKey] | None = None,
    log_groups: list[LogGroup] | None = None,
) -> Inventory:
    """An inventory of `accounts` (default: one) owning `trails` (default: one good trail).

    With `with_resources`, every KMS key and log group the trails name is added in a good
    state unless given explicitly.
    """
    trails = [make_trail()] if trails is None else trails
    if accounts is None:
        ids = sorted({t.account_id for t in trails} or {ACCOUNT})
        accounts = [make_account(a) for a in ids]
    accounts = [
        a
        if a.trail_arns
        else a.model_copy(
            update={"trail_arns": tuple(t.arn for t in trails if t.account_id == a.account_id)}
        )
        for a in accounts
    ]
    key_map = {k.arn: k for k in keys or []}
    group_map = {g.arn: g for g in log_groups or []}
    if with_resources:
        for t in trails:
            if t.kms_key_arn and t.kms_key_arn not in key_map:
                key_map[t.kms_key_arn] = make_key(t.kms_key_arn)
            arn = t.cloudwatch_logs_log_group_arn
            if arn and arn not in group_map:
                group_map[arn] = make_log_group(arn)
    return Inventory(
        metadata=ScanMetadata(
            tool_version="test", started_at=SCAN_TIME, finished_at=SCAN_TIME + timedelta(seconds=3)
        ),
        accounts={a.account_id: a for a in accounts},
        trails={t.arn: t for t in trails},
        buckets={b.name: b for b in buckets or []},
        kms_keys=key_map,
        log_groups=group_map,
    )


# ----------------------------------------------------------------------------- monitoring

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:security-alerts"


def make_filter(name: str, pattern: str, *, metric: str | None = None, **overrides: Any):
    from trailcheck.model import MetricFilter, MetricTransformation

    transformation = MetricTransformation(
        metric_name=metric or name, metric_namespace=overrides.pop("namespace", "CISBenchmark")
    )
    values: dict[str, Any] = {
        "name": name,
        "pattern": pattern,
        "transformations": (transformation,),
    }
    return MetricFilter(**(values | overrides))


def make_alarm(metric: str, *, account_id: str = ACCOUNT, region: str = REGION, **overrides: Any):
    from trailcheck.model import Alarm, AlarmMetric

    name = overrides.pop("name", f"{metric}-alarm")
    values: dict[str, Any] = {
        "arn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}",
        "name": name,
        "account_id": account_id,
        "region": region,
        "actions_enabled": True,
        "alarm_actions": (TOPIC.replace(ACCOUNT, account_id).replace(REGION, region),),
        "metrics": (
            AlarmMetric(namespace=overrides.pop("namespace", "CISBenchmark"), name=metric),
        ),
    }
    return Alarm(**(values | overrides))


def make_topic(arn: str = TOPIC, *, confirmed: bool = True, **overrides: Any):
    from trailcheck.model import SnsSubscription, SnsTopic

    parts = arn.split(":")
    subscription = SnsSubscription(
        arn=f"{arn}:0f6e6c1e" if confirmed else "PendingConfirmation",
        protocol="sqs" if confirmed else "email",
        endpoint="arn:aws:sqs:us-east-1:111111111111:alerts" if confirmed else "sec@example.com",
    )
    values: dict[str, Any] = {
        "arn": arn,
        "account_id": parts[4],
        "region": parts[3],
        "exists": True,
        "subscriptions": (subscription,),
        # the default topic policy: the owner account (AWS:SourceOwner) only
        "policy": {
            "Version": "2008-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["SNS:DeleteTopic", "SNS:SetTopicAttributes", "SNS:Publish"],
                    "Resource": arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": parts[4]}},
                }
            ],
        },
    }
    return SnsTopic(**(values | overrides))


def make_event_rule(name: str, pattern: str, *, account_id: str = ACCOUNT, **overrides: Any):
    from trailcheck.model import EventRule, EventTarget

    region = overrides.pop("region", REGION)
    values: dict[str, Any] = {
        "arn": f"arn:aws:events:{region}:{account_id}:rule/{name}",
        "name": name,
        "account_id": account_id,
        "region": region,
        "state": "ENABLED",
        "event_pattern": pattern,
        "targets": (EventTarget(id="1", arn=TOPIC),),
    }
    return EventRule(**(values | overrides))


def with_monitoring(
    inventory: Inventory,
    *,
    filters: dict[str, list[Any]] | None = None,
    alarms: Sequence[Any] = (),
    topics: Sequence[Any] = (),
    event_rules: Sequence[Any] = (),
    listings: list[Any] | None = None,
) -> Inventory:
    """A copy of `inventory` with metric filters on its log groups (log group ARN → filters),
    alarms, topics and event rules; each (account, region) of a log group or a scanned account
    gets a listing of the alarms / rules given (override with `listings`)."""
    from trailcheck.model import RegionalListing

    groups = {
        arn: g.model_copy(update={"metric_filters": tuple((filters or {}).get(arn, ()))})
        for arn, g in inventory.log_groups.items()
    }
    if listings is None:
        scopes = {(g.account_id, g.region) for g in groups.values()}
        for account in inventory.accounts.values():
            if isinstance(account.regions, tuple):
                scopes |= {(account.account_id, r) for r in account.regions}
        alarm_scopes = {(g.account_id, g.region) for g in groups.values()}
        listings = [
            RegionalListing(
                account_id=a,
                region=r,
                alarms=tuple(x.arn for x in alarms if (x.account_id, x.region) == (a, r))
                if (a, r) in alarm_scopes
                else None,
                event_rules=tuple(x.arn for x in event_rules if (x.account_id, x.region) == (a, r)),
                event_data_stores=tuple(
                    s.arn
                    for s in inventory.event_data_stores.values()
                    if (s.account_id, s.region) == (a, r)
                ),
            )
            for a, r in sorted(scopes)
        ]
    return inventory.model_copy(
        update={
            "log_groups": groups,
            "alarms": {a.arn: a for a in alarms},
            "sns_topics": {t.arn: t for t in topics},
            "event_rules": {e.arn: e for e in event_rules},
            "regional_listings": {f"{x.account_id}/{x.region}": x for x in listings},
        }
    )


def compliant(**trail: Any) -> Inventory:
    """One account on which every rule passes (CT.BUCKET.SEPARATE_ACCOUNT, CT.ORG.TAMPER_GUARDRAIL
    and, unless filter tests are added, CT.MON.FILTER_CONFIRMED_BY_AWS: N/A; no IAM principal
    can tamper, there is none): the default trail (with `trail`
    overrides), its bucket with the CloudTrail policy, its key and log group, the CIS filter
    set with an alarm each and a topic with a confirmed subscription."""
    import json

    from trailcheck.demo.organization import cloudtrail_bucket_policy
    from trailcheck.rules._monitoring import controls

    main = make_trail(**trail)
    bucket = f"logs-{ACCOUNT}"
    policy = json.loads(cloudtrail_bucket_policy(bucket, [f"AWSLogs/{ACCOUNT}"], [main.arn]))
    every_block = PublicAccessBlock(
        block_public_acls=True,
        ignore_public_acls=True,
        block_public_policy=True,
        restrict_public_buckets=True,
    )
    archive = LifecycleRule(
        id="archive", transitions=(LifecycleTransition(storage_class="GLACIER", days=90),)
    )
    log_bucket = make_bucket(
        bucket, policy=policy, account_public_access_block=every_block, lifecycle=(archive,)
    )
    store = EventDataStore(
        arn=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:eventdatastore/lake",
        name="lake",
        account_id=ACCOUNT,
        region=REGION,
        status="ENABLED",
        kms_key_id=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/lake",
        retention_days=2557,
        termination_protection=True,
    )
    inventory = make_inventory([main], buckets=[log_bucket])
    inventory = inventory.model_copy(update={"event_data_stores": {store.arn: store}})
    account = inventory.accounts[ACCOUNT].model_copy(
        update={"bucket_names": (bucket,), "public_access_block": every_block}
    )
    inventory = inventory.model_copy(update={"accounts": {ACCOUNT: account}})
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:ct-main:*"
    return with_monitoring(
        inventory,
        filters={group: [make_filter(k, c.recommended_pattern) for k, c in controls().items()]},
        alarms=[make_alarm(k) for k in controls()],
        topics=[make_topic()],
    ).model_copy(update={"iam": {ACCOUNT: IamAuthorization(account_id=ACCOUNT)}})


def html_findings_strings(html: str) -> list[str]:
    """The texts of the scan report's findings island (`#findings-data`), decoded: what the page
    renders (as text) when an account's findings are opened."""
    start = html.index('<script type="application/json" id="findings-data">')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return list(json.loads(body)["strings"])
