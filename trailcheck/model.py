"""The two data types that join trailcheck's stages.

`Inventory` is what the scanner saw (a snapshot that can be saved and re-judged offline);
`Finding` and `Report` are what the rules decided. Every optional fact distinguishes
*absent* (`None`: AWS said there is none) from *unknown* (`Unknown`: we could not ask).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, JsonValue

SCHEMA_VERSION = 1
# Reports: 2 states each large evidence value once, in `shared_evidence` (see `iter_json`);
# version 1 reports (every value inline) are still read.
REPORT_SCHEMA_VERSION = 2
SHARED = "$shared"  # an evidence value {"$shared": id} stands for shared_evidence[id]
SHARE_FROM = 256  # compact JSON characters from which an evidence value is shared
INVENTORY_KIND = "trailcheck-inventory"
REPORT_KIND = "trailcheck-report"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Unknown(_Frozen):
    """A fact we could not read: the operation and the error AWS (or the network) gave."""

    kind: Literal["unknown"] = "unknown"
    operation: str
    error_code: str
    message: str = ""

    def describe(self) -> str:
        """One line for a finding's reason: `s3:GetBucketPolicy failed: AccessDenied`."""
        text = f"{self.operation} failed: {self.error_code}"
        return f"{text} ({self.message})" if self.message else text


def is_unknown(value: object) -> TypeGuard[Unknown]:
    """True when `value` is an `Unknown` fact."""
    return isinstance(value, Unknown)


# ----------------------------------------------------------------------------- verdicts


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Order for thresholds: info < low < medium < high < critical."""
        return list(Severity).index(self)


# ----------------------------------------------------------------------------- CloudTrail


class TrailStatus(_Frozen):
    """GetTrailStatus, the fields trailcheck judges."""

    is_logging: bool
    latest_delivery_time: datetime | None = None
    latest_delivery_error: str | None = None
    latest_digest_delivery_time: datetime | None = None
    latest_digest_delivery_error: str | None = None
    latest_cloudwatch_logs_delivery_time: datetime | None = None
    latest_cloudwatch_logs_delivery_error: str | None = None
    latest_notification_error: str | None = None
    start_logging_time: datetime | None = None
    stop_logging_time: datetime | None = None


class DataResource(_Frozen):
    type: str
    values: tuple[str, ...] = ()


class BasicEventSelector(_Frozen):
    read_write_type: Literal["ReadOnly", "WriteOnly", "All"] = "All"
    include_management_events: bool = True
    exclude_management_event_sources: tuple[str, ...] = ()
    data_resources: tuple[DataResource, ...] = ()


class FieldSelector(_Frozen):
    field: str
    equals: tuple[str, ...] = ()
    starts_with: tuple[str, ...] = ()
    ends_with: tuple[str, ...] = ()
    not_equals: tuple[str, ...] = ()
    not_starts_with: tuple[str, ...] = ()
    not_ends_with: tuple[str, ...] = ()


class AdvancedEventSelector(_Frozen):
    name: str | None = None
    field_selectors: tuple[FieldSelector, ...] = ()


class EventSelectors(_Frozen):
    """GetEventSelectors: a trail uses basic or advanced selectors, never both."""

    basic: tuple[BasicEventSelector, ...] = ()
    advanced: tuple[AdvancedEventSelector, ...] = ()


class Trail(_Frozen):
    """One trail, collected once however many regions and accounts show it."""

    arn: str
    name: str
    account_id: str  # the owner, from the ARN
    home_region: str
    is_multi_region: bool
    is_organization_trail: bool = False
    s3_bucket_name: str | None = None
    s3_key_prefix: str | None = None
    sns_topic_arn: str | None = None
    include_global_service_events: bool = True
    log_file_validation_enabled: bool = False
    kms_key_id: str | None = None
    cloudwatch_logs_log_group_arn: str | None = None
    cloudwatch_logs_role_arn: str | None = None
    has_custom_event_selectors: bool = False
    has_insight_selectors: bool = False
    status: TrailStatus | Unknown
    event_selectors: EventSelectors | Unknown
    insight_selectors: tuple[str, ...] | Unknown | None = None
    describe_error: Unknown | None = None  # DescribeTrails failed: the fields above are defaults
    # ListTags (collection `trail_tags`): key → value, system `aws:` tags included.
    tags: dict[str, str] | Unknown = Field(
        default_factory=lambda: not_collected("cloudtrail:ListTags")
    )

    @property
    def kms_key_arn(self) -> str | None:
        """The ARN of the trail's KMS key (DescribeTrails gives one; a bare id is completed)."""
        key = self.kms_key_id
        if not key or key.startswith("arn:"):
            return key
        partition = self.arn.split(":")[1]
        resource = key if key.startswith("alias/") else f"key/{key}"
        return f"arn:{partition}:kms:{self.home_region}:{self.account_id}:{resource}"


# ----------------------------------------------------------------------------- S3


class Versioning(_Frozen):
    """GetBucketVersioning. `None` status: versioning never enabled."""

    status: Literal["Enabled", "Suspended"] | None = None
    mfa_delete: Literal["Enabled", "Disabled"] | None = None


class BucketEncryption(_Frozen):
    """The default encryption rule of a bucket (the first rule, as S3 applies it)."""

    algorithm: str  # "AES256", "aws:kms", "aws:kms:dsse"
    kms_key_id: str | None = None
    bucket_key_enabled: bool = False


class ObjectLock(_Frozen):
    enabled: bool
    mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = None
    days: int | None = None
    years: int | None = None

    @property
    def retention_days(self) -> int | None:
        """The default retention in days (years counted as 365 days), or None."""
        if self.days is not None:
            return self.days
        return self.years * 365 if self.years is not None else None


class PublicAccessBlock(_Frozen):
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False


class AclGrant(_Frozen):
    """One grant of a bucket ACL (GetBucketAcl)."""

    grantee_type: str  # CanonicalUser, Group, AmazonCustomerByEmail
    grantee: str  # canonical id, group URI or e-mail address
    permission: str  # READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL
    display_name: str | None = None

    def as_aws(self) -> dict[str, Any]:
        """The grant in GetBucketAcl's shape (what the policy evaluator reads)."""
        key = {"Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}.get(self.grantee_type, "ID")
        return {
            "Grantee": {"Type": self.grantee_type, key: self.grantee},
            "Permission": self.permission,
        }


class BucketAcl(_Frozen):
    owner_id: str | None = None  # the owner's canonical user id
    grants: tuple[AclGrant, ...] = ()


class LifecycleTransition(_Frozen):
    storage_class: str
    days: int | None = None
    date: str | None = None  # ISO date of a date-based transition


class LifecycleRule(_Frozen):
    """One lifecycle rule: which objects it applies to and what it does to them."""

    id: str | None = None
    enabled: bool = True
    prefix: str = ""  # "" applies to every key
    tags: tuple[str, ...] = ()  # "key=value" filters (an object must carry all of them)
    object_size_greater_than: int | None = None
    object_size_less_than: int | None = None
    expiration_days: int | None = None
    expiration_date: str | None = None
    expired_object_delete_marker: bool = False
    noncurrent_expiration_days: int | None = None
    newer_noncurrent_versions: int | None = None
    transitions: tuple[LifecycleTransition, ...] = ()
    noncurrent_transitions: tuple[LifecycleTransition, ...] = ()


class LoggingTarget(_Frozen):
    """Where the bucket's server access logs go (GetBucketLogging's LoggingEnabled)."""

    target_bucket: str
    target_prefix: str = ""


class NotificationTarget(_Frozen):
    kind: Literal["SNS", "SQS", "Lambda"]
    arn: str
    events: tuple[str, ...] = ()
    prefix: str | None = None
    suffix: str | None = None


class Notifications(_Frozen):
    """GetBucketNotificationConfiguration: the targets told about new objects."""

    targets: tuple[NotificationTarget, ...] = ()
    eventbridge: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.targets) or self.eventbridge


def not_collected(operation: str) -> Unknown:
    """The default of a fact older snapshots (or other collectors) do not carry."""
    return Unknown(operation=operation, error_code="NotCollected")


class Bucket(_Frozen):
    """An S3 bucket a trail writes to, collected once from the account that owns it.

    Facts added after schema 1 default to `Unknown(NotCollected)`, so an older snapshot makes
    the rules that need them say ERROR, never PASS.
    """

    name: str
    owner_account_id: str | Unknown
    region: str | Unknown
    versioning: Versioning | Unknown
    encryption: BucketEncryption | Unknown | None
    object_lock: ObjectLock | Unknown | None
    policy: dict[str, JsonValue] | Unknown | None
    public_access_block: PublicAccessBlock | Unknown | None
    # None: there is no policy (GetBucketPolicyStatus answers NoSuchBucketPolicy)
    policy_is_public: bool | Unknown | None = Field(
        default_factory=lambda: not_collected("s3:GetBucketPolicyStatus")
    )
    acl: BucketAcl | Unknown = Field(default_factory=lambda: not_collected("s3:GetBucketAcl"))
    lifecycle: tuple[LifecycleRule, ...] | Unknown | None = Field(
        default_factory=lambda: not_collected("s3:GetBucketLifecycleConfiguration")
    )
    logging: LoggingTarget | Unknown | None = Field(
        default_factory=lambda: not_collected("s3:GetBucketLogging")
    )
    notifications: Notifications | Unknown = Field(
        default_factory=lambda: not_collected("s3:GetBucketNotificationConfiguration")
    )
    # The owner account's account-level Public Access Block (s3control, read once per owner).
    account_public_access_block: PublicAccessBlock | Unknown | None = Field(
        default_factory=lambda: not_collected("s3control:GetPublicAccessBlock")
    )

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


# ----------------------------------------------------------------------------- KMS, logs


class KeyMetadata(_Frozen):
    key_state: str  # Enabled, Disabled, PendingDeletion, PendingImport, Unavailable, ...
    enabled: bool
    key_manager: Literal["CUSTOMER", "AWS"]
    key_spec: str = "SYMMETRIC_DEFAULT"
    deletion_date: datetime | None = None
    multi_region: bool | None = None


class KmsKey(_Frozen):
    """A KMS key a trail encrypts with, keyed by its ARN."""

    arn: str
    account_id: str
    region: str
    metadata: KeyMetadata | Unknown
    rotation_enabled: bool | Unknown | None  # None: not applicable (AWS-managed, asymmetric)
    # GetKeyPolicy (the "default" policy); every key has one.
    policy: dict[str, JsonValue] | Unknown = Field(
        default_factory=lambda: not_collected("kms:GetKeyPolicy")
    )


class MetricTransformation(_Frozen):
    """Where a metric filter publishes: the metric (namespace + name) an alarm must watch."""

    metric_name: str
    metric_namespace: str
    metric_value: str = "1"
    default_value: float | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)


class MetricFilter(_Frozen):
    """DescribeMetricFilters: one filter of a log group."""

    name: str
    pattern: str
    transformations: tuple[MetricTransformation, ...] = ()


class LogGroup(_Frozen):
    """A CloudWatch Logs log group a trail delivers to."""

    arn: str
    name: str
    account_id: str
    region: str
    exists: bool | Unknown
    retention_in_days: int | None = None
    # DescribeMetricFilters; () when AWS says there are none, None when not collected.
    metric_filters: tuple[MetricFilter, ...] | Unknown | None = None


# ----------------------------------------------------------------------------- monitoring


class AlarmMetric(_Frozen):
    """A metric an alarm reads: the alarm's own metric, or a MetricStat of a metric-math alarm."""

    namespace: str
    name: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    query_id: str | None = None  # the MetricDataQuery id (metric-math alarms only)
    return_data: bool = True


class Alarm(_Frozen):
    """A CloudWatch metric alarm (DescribeAlarms), keyed by its ARN."""

    arn: str
    name: str
    account_id: str
    region: str
    actions_enabled: bool
    alarm_actions: tuple[str, ...] = ()
    metrics: tuple[AlarmMetric, ...] = ()
    expression: str | None = None  # the returned expression of a metric-math alarm
    statistic: str | None = None
    threshold: float | None = None
    comparison_operator: str | None = None
    state_value: str | None = None


class SnsSubscription(_Frozen):
    """One subscription of a topic; `arn` is "PendingConfirmation" until the endpoint confirms."""

    arn: str
    protocol: str
    endpoint: str = ""

    @property
    def confirmed(self) -> bool:
        return self.arn.startswith("arn:")


class SnsTopic(_Frozen):
    """An SNS topic an alarm notifies, read once (from its owner when scanned)."""

    arn: str
    account_id: str
    region: str
    exists: bool | Unknown
    subscriptions: tuple[SnsSubscription, ...] | Unknown = ()
    # GetTopicAttributes' Policy (who may delete or re-point the topic); read for who-can.
    policy: dict[str, JsonValue] | Unknown = Field(
        default_factory=lambda: not_collected("sns:GetTopicAttributes")
    )


class EventTarget(_Frozen):
    id: str
    arn: str


class EventRule(_Frozen):
    """An EventBridge rule on the default bus (ListRules), with its targets when relevant."""

    arn: str
    name: str
    account_id: str
    region: str
    state: str
    event_bus_name: str = "default"
    event_pattern: str | None = None
    # ListTargetsByRule; None: not read (no pattern, or one that cannot match CloudTrail events)
    targets: tuple[EventTarget, ...] | Unknown | None = None


class EventDataStore(_Frozen):
    """A CloudTrail Lake event data store (ListEventDataStores + GetEventDataStore), keyed by
    ARN and judged in the account that owns it. Facts GetEventDataStore could not give are
    Unknown."""

    arn: str
    name: str
    account_id: str
    region: str
    status: str | None = None  # ENABLED, PENDING_DELETION, STOPPED_INGESTION, ...
    kms_key_id: str | Unknown | None = None  # None: encrypted with a key AWS owns
    retention_days: int | Unknown | None = None
    termination_protection: bool | Unknown = False
    multi_region: bool | None = None
    organization_enabled: bool | None = None


class RegionalListing(_Frozen):
    """Region-wide lists read in one (account, region): the ARNs kept, or why they are unknown.

    `alarms` holds the alarms that watch a metric published by a trail log group's metric filter
    in that account and region; `event_rules` every rule of the default event bus. None: the
    list was not read for this (account, region).
    """

    account_id: str
    region: str
    alarms: tuple[str, ...] | Unknown | None = None
    event_rules: tuple[str, ...] | Unknown | None = None
    # CloudTrail Lake event data stores the account owns in the region (ListEventDataStores).
    event_data_stores: tuple[str, ...] | Unknown | None = None


class FilterPatternTest(_Frozen):
    """AWS's own answer (logs:TestMetricFilter) for one pattern over trailcheck's sample records.

    `tested` and `matched` hold sample ids `control/positive|negative|neutral/name`.
    """

    pattern: str
    account_id: str  # whose access asked
    region: str
    tested: tuple[str, ...]
    matched: tuple[str, ...] | Unknown


# ----------------------------------------------------------------------------- who can tamper
# Organization policies (SCPs, RCPs) and each account's IAM authorization details: what the
# guardrail and who-can rules (rules/guardrails.py) evaluate offline.


class OrgPolicy(_Frozen):
    """One SCP or RCP: its document and the roots, OUs and accounts it is attached to."""

    id: str
    name: str
    type: Literal["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"]
    aws_managed: bool = False
    content: dict[str, JsonValue] | Unknown
    targets: tuple[str, ...] | Unknown  # root, OU and account ids


class OrgPolicies(_Frozen):
    """The organization's SCPs and RCPs (ListPolicies per type, DescribePolicy and
    ListTargetsForPolicy per policy). A type whose listing failed is `Unknown` there."""

    policies: dict[str, OrgPolicy] = Field(default_factory=dict)  # by policy id
    scp_listing: Unknown | None = None
    rcp_listing: Unknown | None = None


class InlinePolicy(_Frozen):
    name: str
    document: dict[str, JsonValue]


class IamManagedPolicy(_Frozen):
    """A managed policy's default version, keyed by ARN (moto omits PolicyName/PolicyId)."""

    arn: str
    document: dict[str, JsonValue] | None  # None: the default version was not returned
    aws_managed: bool = False


class IamGroup(_Frozen):
    arn: str
    name: str
    inline: tuple[InlinePolicy, ...] = ()
    managed: tuple[str, ...] = ()  # policy ARNs


class IamPrincipal(_Frozen):
    """An IAM user or role with what grants and limits it."""

    arn: str
    kind: Literal["user", "role"]
    inline: tuple[InlinePolicy, ...] = ()
    managed: tuple[str, ...] = ()  # policy ARNs
    groups: tuple[str, ...] = ()  # group names (users)
    boundary: str | None = None  # permissions boundary policy ARN


class IamAuthorization(_Frozen):
    """GetAccountAuthorizationDetails of one account."""

    account_id: str
    principals: tuple[IamPrincipal, ...] = ()
    groups: dict[str, IamGroup] = Field(default_factory=dict)  # by name
    policies: dict[str, IamManagedPolicy] = Field(default_factory=dict)  # by ARN


# ----------------------------------------------------------------------------- inventory


class Account(_Frozen):
    """One scanned account and what the scanner learned at account level."""

    account_id: str
    name: str | None = None
    organization_id: str | None = None
    ou_path: str | None = None
    access_error: Unknown | None = None  # set when the account could not be entered at all
    regions: tuple[str, ...] | Unknown = ()
    trail_arns: tuple[str, ...] | Unknown = ()  # trails this account's ListTrails shows
    bucket_names: tuple[str, ...] | Unknown | None = None  # ListBuckets; None: not collected
    # The organization root id, then each OU id down to the account's direct parent (None:
    # not an organization scan, or the OU tree was not read). Which SCPs/RCPs bind it.
    parent_ids: tuple[str, ...] | None = None
    # ListBuckets' BucketRegion, where the endpoint gives it (name → region)
    bucket_regions: dict[str, str] = Field(default_factory=dict)
    # The account-level S3 Public Access Block (s3control), read once in every scanned account
    # when bucket facts are collected; None: the account has none.
    public_access_block: PublicAccessBlock | Unknown | None = Field(
        default_factory=lambda: not_collected("s3control:GetPublicAccessBlock")
    )


class SkippedAccount(_Frozen):
    """An account of the organization the scan left out because it is not ACTIVE."""

    account_id: str
    name: str | None = None
    status: str  # SUSPENDED, PENDING_CLOSURE, ...


class ScanMetadata(_Frozen):
    tool_version: str
    started_at: datetime
    finished_at: datetime
    partition: str = "aws"
    requested_regions: tuple[str, ...] | None = None
    api_calls: dict[str, int] = Field(default_factory=dict)
    # Extra attempts per operation (throttling, 5xx, connection errors), and calls that still
    # failed with such an error when the retries were spent: their facts are unknown.
    api_retries: dict[str, int] = Field(default_factory=dict)
    api_calls_lost: dict[str, int] = Field(default_factory=dict)
    organization_id: str | None = None  # set by an organization scan (--org)
    management_account_id: str | None = None
    skipped_accounts: tuple[SkippedAccount, ...] = ()
    # A stage cut short after collection (Ctrl-C during the --who lookup): what it was
    interrupted: str | None = None


class Inventory(_Frozen):
    """Everything a scan saw. Collections are keyed by ARN (bucket: name), each item once."""

    kind: Literal["trailcheck-inventory"] = INVENTORY_KIND
    schema_version: int = SCHEMA_VERSION
    metadata: ScanMetadata
    accounts: dict[str, Account]
    trails: dict[str, Trail] = Field(default_factory=dict)
    buckets: dict[str, Bucket] = Field(default_factory=dict)
    kms_keys: dict[str, KmsKey] = Field(default_factory=dict)
    log_groups: dict[str, LogGroup] = Field(default_factory=dict)
    alarms: dict[str, Alarm] = Field(default_factory=dict)
    sns_topics: dict[str, SnsTopic] = Field(default_factory=dict)
    event_rules: dict[str, EventRule] = Field(default_factory=dict)
    event_data_stores: dict[str, EventDataStore] = Field(default_factory=dict)
    regional_listings: dict[str, RegionalListing] = Field(default_factory=dict)  # "acct/region"
    # --confirm-filters-with-aws: pattern text → AWS's answer; None when not requested
    filter_tests: dict[str, FilterPatternTest] | None = None
    # scan --who: "account/region/resource ARN" → what LookupEvents found; None: not asked
    change_history: dict[str, ChangeHistory] | None = None
    # The organization's SCPs/RCPs (organization scans; None: not collected) and each scanned
    # account's IAM authorization details (account id → details or why unknown).
    org_policies: OrgPolicies | Unknown | None = None
    iam: dict[str, IamAuthorization | Unknown] = Field(default_factory=dict)

    @property
    def scan_time(self) -> datetime:
        """The reference time for every freshness judgement (never the wall clock)."""
        return self.metadata.started_at

    def reachable_accounts(self) -> list[Account]:
        """Accounts the scanner could enter, sorted by id."""
        return [a for _, a in sorted(self.accounts.items()) if a.access_error is None]

    def regional_listing(self, account_id: str, region: str) -> RegionalListing | None:
        """The region-wide lists read in (account, region), if any were read."""
        return self.regional_listings.get(f"{account_id}/{region}")

    def trails_owned_by(self, account_id: str) -> list[Trail]:
        """Trails whose owner is `account_id`, each once (never a shadow copy), sorted by ARN."""
        return [t for _, t in sorted(self.trails.items()) if t.account_id == account_id]

    def trails_writing_to(self, bucket_name: str) -> list[Trail]:
        """Trails that deliver their log files to `bucket_name`, sorted by ARN."""
        return [t for _, t in sorted(self.trails.items()) if t.s3_bucket_name == bucket_name]


# ----------------------------------------------------------------------------- findings


class Waiver(_Frozen):
    """A documented acceptance of a finding; it never replaces the finding's status."""

    reason: str
    owner: str | None = None
    expires: str | None = None  # ISO date
    expired: bool = False


class RemediationInfo(_Frozen):
    summary: str
    console: str | None = None
    cli: str | None = None
    terraform: str | None = None


class Finding(_Frozen):
    rule_id: str
    title: str
    status: Status
    severity: Severity
    account_id: str
    region: str | None
    resource_arn: str
    resource_type: str
    reason: str
    evidence: dict[str, JsonValue] = Field(default_factory=dict)
    # Framework controls this finding *decides* (its verdict is the control's verdict under
    # that framework's exact test): the only ones a control roll-up counts.
    controls: dict[str, list[str]] = Field(default_factory=dict)
    # Controls it only relates to (trailcheck's own or a partial test): shown, never rolled up.
    related_controls: dict[str, list[str]] = Field(default_factory=dict)
    # The fix for this finding's state with its known names filled in, when it differs from
    # the rule's general remediation (None: the rule's remediation applies).
    remediation: RemediationInfo | None = None
    waiver: Waiver | None = None
    # The named part of the resource judged, when one resource holds several judged parts
    # without ARNs of their own (`metric-filter/NAME` on a log group). Part of the identity.
    sub_resource: str | None = None
    # Machine-readable causes of a FAIL (`trail.not_logging`, `bucket.acl_public`, ...): what
    # `--who` looks up the causing change events by (trailcheck/changes/catalog.py). Empty for
    # other statuses.
    problems: list[str] = Field(default_factory=list)

    def sort_key(self) -> tuple[str, str, str, str, str, str]:
        return (
            self.account_id,
            self.region or "",
            self.rule_id,
            self.resource_arn,
            self.sub_resource or "",
            self.reason,
        )


class RuleInfo(_Frozen):
    """What a report carries about each rule it ran, so renderers need no registry."""

    id: str
    title: str
    severity: Severity
    resource_type: str
    rationale: str
    remediation: RemediationInfo
    controls: dict[str, list[str]]  # decides
    related_controls: dict[str, list[str]] = Field(default_factory=dict)  # relates to only


class Summary(_Frozen):
    total: int
    by_status: dict[str, int]
    failures_by_severity: dict[str, int]
    waived: int = 0


class AccountInfo(_Frozen):
    """What a report shows about an account besides its id."""

    name: str | None = None
    ou_path: str | None = None


class ReportMetadata(_Frozen):
    tool_version: str
    scan_started_at: datetime
    scan_finished_at: datetime
    partition: str
    accounts: list[str]
    unreachable_accounts: list[str]
    regions: list[str]
    api_calls: dict[str, int]
    api_calls_total: int
    api_retries: dict[str, int] = Field(default_factory=dict)
    # Calls that failed with a transient error after every retry: the scan is incomplete.
    api_calls_lost: dict[str, int] = Field(default_factory=dict)
    organization_id: str | None = None
    management_account_id: str | None = None
    account_info: dict[str, AccountInfo] = Field(default_factory=dict)  # accounts with a name/OU
    skipped_accounts: list[SkippedAccount] = Field(default_factory=list)
    # The report is incomplete: a stage after collection was interrupted (what, in words)
    interrupted: str | None = None


class WaiverUse(_Frozen):
    """A configured waiver and what it did in this evaluation (stale waivers rot: report them).

    `state`: `applied` (not expired, waived `matched` FAIL/ERROR findings), `unused` (not
    expired, matched nothing: remove it), `expired` (past `expires` at the scan time; the
    `matched` findings it would have covered count again).
    """

    index: int  # position in the config file's [[waivers]] list
    rule: str  # rule id or glob
    accounts: list[str] = Field(default_factory=list)
    ous: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    reason: str
    owner: str
    expires: str  # ISO date, inclusive
    state: Literal["applied", "unused", "expired"]
    matched: int


class FindingRef(_Frozen):
    """A finding by its stable identity (rule, account, region, resource, sub-resource), for
    baselines/diffs."""

    fingerprint: str
    rule_id: str
    account_id: str
    region: str | None
    resource_arn: str
    severity: Severity
    reason: str
    waived: bool = False
    sub_resource: str | None = None


class BaselineComparison(_Frozen):
    """How this report's FAIL findings compare with a baseline (`scan --baseline`)."""

    baseline: str  # the baseline file as given
    baseline_scan_started_at: datetime | None = None
    new: list[str]  # fingerprints of FAIL findings not in the baseline: regressions
    unchanged: list[str]  # fingerprints of FAIL findings already in the baseline
    resolved: list[FindingRef]  # baseline entries that no longer FAIL


class Gate(_Frozen):
    """What decided the exit code, and what could not be judged (built by `engine.gate`).

    `failures`: unwaived FAIL findings at or above `fail_on` (with a baseline: only those not
    in it). `errors`: unwaived ERROR findings at or above `fail_on`; with `strict` they count
    like failures. An account is *not judged* when every finding about it is ERROR.
    """

    fail_on: Severity
    strict: bool = False
    failures: int
    errors: int
    accounts_not_judged: list[str] = Field(default_factory=list)
    accounts_with_errors: list[str] = Field(default_factory=list)
    rules_with_errors: list[str] = Field(default_factory=list)
    exit_code: int


class Report(_Frozen):
    """Findings plus what a reader needs to trust them. Same inventory → same bytes."""

    kind: Literal["trailcheck-report"] = REPORT_KIND
    schema_version: int = REPORT_SCHEMA_VERSION
    metadata: ReportMetadata
    summary: Summary
    rules: dict[str, RuleInfo]
    findings: list[Finding]
    waivers: list[WaiverUse] = Field(default_factory=list)
    baseline: BaselineComparison | None = None
    gate: Gate | None = None  # set by the CLI from --fail-on / --strict before rendering

    @classmethod
    def from_document(cls, data: Any) -> Report:
        """A report from its JSON document, either version: a version 2 document's
        `{"$shared": id}` references become their values first. (Not a model validator: one
        would make pydantic check a JSON document as Python objects, refusing the strict
        JSON check `snapshot.load_report` makes.)"""
        if isinstance(data, dict) and "shared_evidence" in data:
            data = expand_shared_evidence(data)
        return cls.model_validate(data)


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and SHARED in value


def expand_shared_evidence(data: dict[str, Any]) -> dict[str, Any]:
    """A report document with every `{"$shared": id}` evidence value replaced by the table's
    value (findings that shared a value share one object) and the table removed."""
    table = data["shared_evidence"]
    if not isinstance(table, dict):
        raise ValueError("shared_evidence must be an object")
    findings = data.get("findings")
    if not isinstance(findings, list):
        return {k: v for k, v in data.items() if k != "shared_evidence"}
    expanded = []
    for finding in findings:
        evidence = finding.get("evidence") if isinstance(finding, dict) else None
        if isinstance(evidence, dict):
            values = {}
            for key, value in evidence.items():
                if _is_reference(value):
                    if value[SHARED] not in table:
                        raise ValueError(f"evidence {key!r} names unknown shared evidence")
                    value = table[value[SHARED]]
                values[key] = value
            finding = {**finding, "evidence": values}
        expanded.append(finding)
    return {k: v for k, v in data.items() if k != "shared_evidence"} | {"findings": expanded}


class _SharedEvidence:
    """A version 2 report's evidence table: each evidence value of `SHARE_FROM` characters or
    more that two or more findings carry (and any value that looks like a reference) is
    written once, named by the hash of its content, and the findings name it. Content, not
    identity: the same report gives the same bytes however it was built (a scan, a snapshot,
    a loaded report). Memory: one digest per distinct large value object."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.table: dict[str, Any] = {}
        self._digest: dict[int, str] = {}  # id of a large value held by a finding -> digest
        uses: Counter[str] = Counter()
        for finding in findings:
            for value in finding.evidence.values():
                digest = self._digest.get(id(value)) or self._large(value)
                if digest:
                    uses[digest] += 2 if _is_reference(value) else 1
        self._shared = {d for d, n in uses.items() if n >= 2}

    def _large(self, value: Any) -> str | None:
        if not isinstance(value, dict | list) or not value:
            return None
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        if len(text) < SHARE_FROM and not _is_reference(value):
            return None
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        self._digest[id(value)] = digest
        return digest

    def refer(self, finding: Finding, data: dict[str, Any]) -> None:
        """Replace, in `data` (the finding's JSON), each shared evidence value by its name."""
        for key, value in finding.evidence.items():
            digest = self._digest.get(id(value))
            if digest in self._shared:
                self.table.setdefault(digest, data["evidence"][key])
                data["evidence"][key] = {SHARED: digest}


def dump_json(model: BaseModel) -> str:
    """Deterministic JSON text of a model: sorted keys, two-space indent, newline at the end."""
    return "".join(iter_json(model))


def _json_text(value: Any, depth: int) -> str:
    """`value` as `json.dumps(indent=2)` writes it `depth` levels deep (strings hold no raw
    newline, so indenting every line break is exact)."""
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n" + "  " * depth) if depth else text


def _streamable(model: BaseModel, name: str) -> bool:
    """A top-level field written item by item: a non-empty list or dict of models, no alias."""
    info = type(model).model_fields[name]
    if info.exclude or info.serialization_alias or info.alias:
        return False
    value = getattr(model, name)
    if isinstance(value, dict):
        return bool(value) and all(
            isinstance(k, str) and isinstance(v, BaseModel) for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return bool(value) and all(isinstance(v, BaseModel) for v in value)
    return False


def iter_json(model: BaseModel) -> Iterator[str]:
    """`dump_json(model)` in pieces, the same bytes: the model's big top-level collections
    (a report's findings, an inventory's accounts) are dumped one item at a time, so no
    piece and no intermediate holds more than one item (a 10,000-account report is never
    one dict or one string). A version 2 report states large evidence values once, in
    `shared_evidence` (written after the findings, as its key sorts after theirs)."""
    streamed = [name for name in type(model).model_fields if _streamable(model, name)]
    rest: dict[str, Any] = model.model_dump(mode="json", exclude=set(streamed))
    shared = (
        _SharedEvidence(model.findings)
        if isinstance(model, Report) and model.schema_version >= 2
        else None
    )
    keys = sorted(set(rest) | set(streamed) | ({"shared_evidence"} if shared else set()))
    if not keys:
        yield "{}\n"
        return
    yield "{"
    for index, key in enumerate(keys):
        yield ("\n  " if index == 0 else ",\n  ") + json.dumps(key, ensure_ascii=False) + ": "
        if key == "shared_evidence" and shared is not None:  # after "findings" (sorted)
            yield _json_text(shared.table, 1)
            continue
        if key not in streamed:
            yield _json_text(rest[key], 1)
            continue
        value = getattr(model, key)
        if isinstance(value, dict):
            yield "{"
            for i, item_key in enumerate(sorted(value)):
                yield "\n    " if i == 0 else ",\n    "
                yield json.dumps(item_key, ensure_ascii=False) + ": "
                yield _json_text(value[item_key].model_dump(mode="json"), 2)
            yield "\n  }"
        else:
            yield "["
            for i, item in enumerate(value):
                yield "\n    " if i == 0 else ",\n    "
                data = item.model_dump(mode="json")
                if shared is not None and key == "findings":
                    shared.refer(item, data)
                yield _json_text(data, 2)
            yield "\n  ]"
    yield "\n}\n"


# ----------------------------------------------------------------------------- who changed it

from trailcheck.changes.model import ChangeEvent  # noqa: E402  (no import back into this module)


class ChangeHistory(_Frozen):
    """What LookupEvents returned for one resource in its account and region.

    `events` holds the relevant write events found, newest first. `complete` is True when the
    whole 90-day history of every name form was read (or a match was found for every event
    name asked); False when the budget stopped the lookup or a call failed (`error`).
    """

    resource_arn: str
    account_id: str
    region: str
    names: list[str]  # ResourceName forms asked, in order
    event_names: list[str]  # the write events asked for (union over the failing rules)
    source: Literal["lookup_events"] = "lookup_events"
    start_time: str  # ISO Z: the oldest time asked (scan time - 90 days)
    end_time: str
    calls: int = 0
    complete: bool = False
    error: Unknown | None = None
    events: list[ChangeEvent] = Field(default_factory=list)


Inventory.model_rebuild()
