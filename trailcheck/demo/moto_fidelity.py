"""Make moto answer like real AWS where trailcheck depends on the difference.

moto (the simulator behind the demo, the tests and the benchmarks) differs from AWS in a few
CloudTrail answers (see shared/reference/moto-notes.md). trailcheck must follow AWS, so the
simulated organization is made faithful here — in moto's backend, below boto3 and the HTTP
layer — rather than by bending trailcheck's own code:

* ListTrails lists every trail of the account in every region, with its home region (moto: only
  trails homed in, or shadowed into, the region called), plus the organization trails of the
  account's organization (AWS lists them in every member).
* DescribeTrails honours trailNameList, and finds organization trails by ARN from members.
* GetTrailStatus / GetEventSelectors accept an organization trail's ARN from a member account.
* DescribeTrails says HasCustomEventSelectors and HasInsightSelectors when selectors were put
  (moto: always false).
* AssumeRole fails with AccessDenied when the role does not exist (moto: always succeeds).
* GetTrailStatus reports LatestCloudWatchLogsDeliveryTime for a logging trail that delivers to
  CloudWatch Logs, and LatestDigestDeliveryTime when validation is on (moto: never).
* PutBucketVersioning stores MFADelete and GetBucketVersioning returns it (moto: dropped).
* GetBucketNotificationConfiguration returns EventBridgeConfiguration when it was put (moto:
  stored but not returned).
* ListBuckets gives each bucket's BucketRegion, as AWS does since 2024 (moto: left out).
* GetBucketEncryption of a bucket with no explicit configuration returns SSE-S3, as every S3
  bucket has had default encryption since January 2023 (moto: not found).
* ListSubscriptionsByTopic shows e-mail and HTTP(S) subscriptions as "PendingConfirmation"
  (moto: confirmed at once; AWS waits for the recipient to confirm). SQS, Lambda and the other
  AWS-endpoint protocols are confirmed at once, as in AWS.
* CloudTrail ListPublicKeys (moto: not implemented) answers with the digest-signing public keys
  registered for the region through `faithful_moto(public_keys=...)`, whose validity overlaps the
  requested [StartTime, EndTime] (both default to now, as in AWS): `Value` is the DER key,
  `Fingerprint` the hex MD5 of those bytes. AWS holds the private half; a simulation has to be
  told which key "CloudTrail" signs with, so the test or demo that writes signed digests
  registers its public key here. A region with no registered key answers an empty list (AWS
  always has one; this is how a test simulates a key that cannot be found).

* CloudTrail Lake (moto: not implemented): CreateEventDataStore, ListEventDataStores and
  GetEventDataStore keep event data stores on moto's CloudTrail backend of the (account,
  region), with AWS's defaults (multi-Region, termination protection on, 2557 days of
  retention, no KMS key: encrypted with a key AWS owns). See `_lake_patches`.

* CloudTrail event history (moto: none): every call moto serves, in-process or in the moto
  server, successful or failed, is recorded as a real-shaped CloudTrail record and LookupEvents
  answers from them (see `moto_event_history`); the
  `EventHistory` is what the `with` block yields.

Not patched: CloudWatch Logs TestMetricFilter, which moto does not implement (it raises
NotImplementedError in-process). trailcheck records that as an unknown answer; it never fakes
AWS's evaluator with its own.

`faithful_moto()` applies the patches for the duration of a `with` block and undoes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from trailcheck.demo.moto_event_history import EventHistory, recorded_event_history

# Subscription protocols AWS leaves PendingConfirmation until the recipient confirms.
_CONFIRMED_BY_RECIPIENT = frozenset({"email", "email-json", "http", "https"})


def _all_trails(account_id: str) -> list[Any]:
    from moto.cloudtrail.models import cloudtrail_backends

    return [
        trail
        for backend in cloudtrail_backends[account_id].values()
        for trail in backend.trails.values()
    ]


def _org_trails_for(account_id: str) -> list[Any]:
    """Organization trails of the management account of `account_id`'s organization."""
    from moto.organizations.models import organizations_backends

    for backends in organizations_backends.values():
        for backend in backends.values():
            org = backend.org
            if org is None:
                continue
            members = {a.id for a in backend.accounts}
            if account_id in members and org.master_account_id != account_id:
                return [t for t in _all_trails(org.master_account_id) if t.is_org_trail]
    return []


def _visible_trails(account_id: str) -> list[Any]:
    return _all_trails(account_id) + _org_trails_for(account_id)


def _find_trail(account_id: str, name_or_arn: str) -> Any | None:
    for trail in _visible_trails(account_id):
        if name_or_arn in (trail.arn, trail.trail_name):
            return trail
    return None


def _description(trail: Any, original: Any) -> dict[str, Any]:
    desc: dict[str, Any] = original(trail, include_region=True)
    desc["HasCustomEventSelectors"] = bool(trail.event_selectors or trail.advanced_event_selectors)
    desc["HasInsightSelectors"] = bool(getattr(trail, "insight_selectors", None))
    desc["HomeRegion"] = trail.region_name
    return desc


@dataclass(frozen=True)
class SigningPublicKey:
    """A CloudTrail digest-signing public key of a simulated region (for ListPublicKeys)."""

    der: bytes
    """The public key as DER (PKCS#1 RSAPublicKey, the form ListPublicKeys returns)."""
    valid_from: datetime
    valid_to: datetime


def _epoch(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _public_keys_answer(
    keys: Sequence[SigningPublicKey], start: datetime, end: datetime
) -> dict[str, Any]:
    return {
        "PublicKeyList": [
            {
                "Value": base64.b64encode(key.der).decode(),
                "ValidityStartTime": key.valid_from.timestamp(),
                "ValidityEndTime": key.valid_to.timestamp(),
                "Fingerprint": hashlib.md5(key.der, usedforsecurity=False).hexdigest(),
            }
            for key in keys
            if key.valid_from <= end and key.valid_to >= start
        ]
    }


_LAKE_DEFAULTS: dict[str, Any] = {
    "MultiRegionEnabled": True,
    "OrganizationEnabled": False,
    "RetentionPeriod": 2557,
    "TerminationProtectionEnabled": True,
    "BillingMode": "EXTENDABLE_RETENTION_PRICING",
}


def _lake_patches(stack: ExitStack, cls: Any) -> None:
    """CloudTrail Lake's event data stores (moto has none), kept per CloudTrail backend."""

    def stores(response: Any) -> dict[str, dict[str, Any]]:
        backend = response.cloudtrail_backend
        if not hasattr(backend, "trailcheck_event_data_stores"):
            backend.trailcheck_event_data_stores = {}
        found: dict[str, dict[str, Any]] = backend.trailcheck_event_data_stores
        return found

    def create_event_data_store(self: Any) -> str:
        params = json.loads(self.body)
        name = params["Name"]
        arn = f"arn:aws:cloudtrail:{self.region}:{self.current_account}:eventdatastore/{name}"
        now = datetime.now(UTC).timestamp()
        store = {
            "EventDataStoreArn": arn,
            "Name": name,
            "Status": "ENABLED",
            "AdvancedEventSelectors": params.get("AdvancedEventSelectors", []),
            "CreatedTimestamp": now,
            "UpdatedTimestamp": now,
        }
        store |= {k: params.get(k, v) for k, v in _LAKE_DEFAULTS.items()}
        if params.get("KmsKeyId"):
            store["KmsKeyId"] = params["KmsKeyId"]
        stores(self)[arn] = store
        return json.dumps(store)

    def list_event_data_stores(self: Any) -> str:
        listed = [
            {k: s[k] for k in ("EventDataStoreArn", "Name", "CreatedTimestamp", "UpdatedTimestamp")}
            for s in stores(self).values()
        ]
        return json.dumps({"EventDataStores": listed})

    def get_event_data_store(self: Any) -> str:
        wanted = json.loads(self.body).get("EventDataStore", "")
        for arn, store in stores(self).items():
            if wanted in (arn, store["Name"], arn.rsplit("/", 1)[-1]):
                return json.dumps(store)
        from moto.core.exceptions import JsonRESTError

        raise JsonRESTError("EventDataStoreNotFoundException", f"{wanted} not found")

    for name, fn in (
        ("create_event_data_store", create_event_data_store),
        ("list_event_data_stores", list_event_data_stores),
        ("get_event_data_store", get_event_data_store),
    ):
        stack.enter_context(mock.patch.object(cls, name, fn, create=True))


@contextmanager
def faithful_moto(
    public_keys: Mapping[str, Sequence[SigningPublicKey]] | None = None,
    event_history: EventHistory | None = None,
) -> Iterator[EventHistory]:
    """Make moto's CloudTrail, STS and S3 answers match AWS (see the module doc).

    `public_keys`: region -> the digest-signing public keys CloudTrail ListPublicKeys returns
    there (none: an empty list in every region). `event_history`: where the served calls are
    recorded (a test may pass one with its own clock or rate); yielded.
    """
    registered = {region: tuple(keys) for region, keys in (public_keys or {}).items()}
    from moto.cloudtrail import models as ct_models
    from moto.cloudtrail import responses as ct_responses

    original_description = ct_models.Trail.description
    original_status_description = ct_models.TrailStatus.description

    def list_trails(self: Any) -> str:
        trails = _visible_trails(self.current_account)
        return json.dumps({"Trails": [t.short() for t in trails]})

    def describe_trails(self: Any) -> str:
        names = self._get_param("trailNameList")
        include_shadow = self._get_bool_param("includeShadowTrails", True)
        backend = self.cloudtrail_backend
        if names:
            found = [_find_trail(self.current_account, n) for n in names]
            trails = [t for t in found if t is not None]
        else:
            trails = list(backend.describe_trails(include_shadow))
        return json.dumps({"trailList": [_description(t, original_description) for t in trails]})

    def trail_status(self: Any) -> str:
        name = self._get_param("Name")
        trail = _find_trail(self.current_account, name)
        if trail is None:
            return original_get_status(self)
        desc = original_status_description(trail.status)
        if trail.status.is_logging:
            if trail.cw_log_group_arn:
                desc["LatestCloudWatchLogsDeliveryTime"] = desc.get("LatestDeliveryTime")
            if trail.log_validation:
                desc["LatestDigestDeliveryTime"] = desc.get("LatestDeliveryTime")
        return json.dumps(desc)

    def event_selectors(self: Any) -> str:
        params = json.loads(self.body)
        trail = _find_trail(self.current_account, params.get("TrailName", ""))
        if trail is None:
            return original_get_selectors(self)
        return json.dumps(
            {
                "TrailARN": trail.arn,
                "EventSelectors": trail.event_selectors,
                "AdvancedEventSelectors": trail.advanced_event_selectors,
            }
        )

    from moto.sts import models as sts_models

    original_assume = sts_models.STSBackend.assume_role

    def assume_role(self: Any, *args: Any, **kwargs: Any) -> Any:
        from moto.iam.models import iam_backends
        from moto.sts.exceptions import STSClientError

        role_arn = kwargs.get("role_arn", "")
        account_id, partition = role_arn.split(":")[4], role_arn.split(":")[1]
        try:
            iam_backends[account_id][partition].get_role_by_arn(role_arn)
        except Exception:
            raise STSClientError(
                "AccessDenied",
                f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            ) from None
        return original_assume(self, *args, **kwargs)

    from moto.s3 import responses as s3_responses

    s3_cls = s3_responses.S3Response
    original_bucket_put = s3_cls._bucket_response_put
    original_get_versioning = s3_cls.get_bucket_versioning
    original_get_notification = s3_cls.get_bucket_notification
    original_get_encryption = s3_cls.get_bucket_encryption

    def bucket_put(self: Any, request: Any, bucket_name: str, querystring: Any) -> Any:
        result = original_bucket_put(self, request, bucket_name, querystring)
        if querystring and "versioning" in querystring:
            body = self.body.decode("utf-8") if isinstance(self.body, bytes) else self.body
            found = re.search(r"<MfaDelete>(Enabled|Disabled)</MfaDelete>", body or "")
            if found:
                self.backend.get_bucket(bucket_name).trailcheck_mfa_delete = found.group(1)
        return result

    def get_versioning(self: Any) -> Any:
        bucket = self.backend.get_bucket(self.bucket_name)
        mfa_delete = getattr(bucket, "trailcheck_mfa_delete", None)
        if mfa_delete is None:
            return original_get_versioning(self)
        result = {"Status": bucket.versioning_status, "MFADelete": mfa_delete}
        self.data["Action"] = "GetBucketVersioning"
        return self.serialized(s3_responses.ActionResult(result))

    def get_notification(self: Any) -> Any:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        response = original_get_notification(self)
        if config is None or config.event_bridge is None:
            return response
        # Rebuild the answer with the EventBridge switch AWS returns.
        status, headers, body = response if isinstance(response, tuple) else (200, {}, response)
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        end = "</NotificationConfiguration>"
        text = re.sub(
            r"<NotificationConfiguration([^>]*?)/>", rf"<NotificationConfiguration\1>{end}", text
        )
        text = text.replace(end, f"<EventBridgeConfiguration></EventBridgeConfiguration>{end}")
        return status, headers, text

    def all_buckets(self: Any) -> Any:
        self.data["Action"] = "ListAllMyBuckets"
        self._authenticate_and_authorize_s3_action()
        listed = self.backend.list_buckets(
            prefix=self._get_param("prefix"),
            bucket_region=self._get_param("bucket-region"),
            max_buckets=self._get_param("max-buckets"),
        )
        self.data["Action"] = "ListBuckets"
        return self.serialized(
            s3_responses.ActionResult(
                {
                    "Owner": {"ID": "bcaf1ffd86f41161ca5fb16fd081034f", "DisplayName": "webfile"},
                    "Buckets": [
                        {
                            "Name": b.name,
                            "CreationDate": b.creation_date_ISO8601,
                            "BucketRegion": b.region_name,
                        }
                        for b in listed
                    ],
                }
            )
        )

    def get_encryption(self: Any) -> Any:
        if self.backend.get_bucket_encryption(self.bucket_name):
            return original_get_encryption(self)
        self.data["Action"] = "GetBucketEncryption"
        default = {"SSEAlgorithm": "AES256"}
        rule = {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": False}
        return self.serialized(
            s3_responses.ActionResult({"ServerSideEncryptionConfiguration": {"Rules": [rule]}})
        )

    from moto.sns import responses as sns_responses

    def list_subscriptions_by_topic(self: Any) -> Any:
        from moto.core.responses import ActionResult

        subscriptions, next_token = self.backend.list_subscriptions_by_topic(
            self._get_param("TopicArn"), next_token=self._get_param("NextToken")
        )
        return ActionResult(
            {
                "Subscriptions": [
                    {
                        "SubscriptionArn": "PendingConfirmation"
                        if s.protocol in _CONFIRMED_BY_RECIPIENT
                        else s.arn,
                        "Owner": s.account_id,
                        "Protocol": s.protocol,
                        "Endpoint": s.endpoint,
                        "TopicArn": s.topic.arn,
                    }
                    for s in subscriptions
                ],
                "NextToken": next_token,
            }
        )

    def list_public_keys(self: Any) -> str:
        now = datetime.now(UTC)
        start = _epoch(self._get_param("StartTime"), now)
        end = _epoch(self._get_param("EndTime"), now)
        return json.dumps(_public_keys_answer(registered.get(self.region, ()), start, end))

    original_get_status = ct_responses.CloudTrailResponse.get_trail_status
    original_get_selectors = ct_responses.CloudTrailResponse.get_event_selectors

    with ExitStack() as stack:
        patch = stack.enter_context
        cls = ct_responses.CloudTrailResponse
        patch(mock.patch.object(cls, "list_trails", list_trails))
        patch(mock.patch.object(cls, "describe_trails", describe_trails))
        patch(mock.patch.object(cls, "get_trail_status", trail_status))
        patch(mock.patch.object(cls, "get_event_selectors", event_selectors))
        patch(mock.patch.object(cls, "list_public_keys", list_public_keys, create=True))
        _lake_patches(stack, cls)
        patch(mock.patch.object(sts_models.STSBackend, "assume_role", assume_role))
        patch(mock.patch.object(s3_cls, "_bucket_response_put", bucket_put))
        patch(mock.patch.object(s3_cls, "get_bucket_versioning", get_versioning))
        patch(mock.patch.object(s3_cls, "get_bucket_notification", get_notification))
        patch(mock.patch.object(s3_cls, "get_bucket_encryption", get_encryption))
        patch(mock.patch.object(s3_cls, "all_buckets", all_buckets))
        patch(
            mock.patch.object(
                sns_responses.SNSResponse,
                "list_subscriptions_by_topic",
                list_subscriptions_by_topic,
            )
        )
        yield patch(recorded_event_history(event_history or EventHistory()))
