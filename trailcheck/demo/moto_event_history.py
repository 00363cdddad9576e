"""CloudTrail event history for moto: record the calls moto serves, answer LookupEvents.

moto does not implement LookupEvents. In AWS, every management call is recorded by CloudTrail
and kept 90 days in the event history of the account and region it was made in. This module
records each call moto serves — in-process (below boto3: botocore's `before-send` hook, where
moto's own stubber answers) and in the moto server (its WSGI dispatcher) — as a real-shaped
CloudTrail record, successful or failed (`errorCode`/`errorMessage`, as AWS keeps them), and
answers LookupEvents from those records as AWS does:

* the caller's identity from the signing credentials: the root user (moto's account keys),
  an IAM user (an access key created for the user), or an assumed role with its session name;
* `eventVersion`, `eventTime`, `eventSource` (the signing service), `eventName` (the S3 event
  names where they differ from the API: PutBucketLifecycleConfiguration is recorded as
  PutBucketLifecycle), `awsRegion` (global services in us-east-1), `sourceIPAddress`,
  `userAgent`, `requestParameters`, `resources`, `readOnly`, `eventID`, `managementEvent`;
* S3 object-level calls are data events: not in the event history (as in AWS);
* LookupEvents: per account and region, at most one lookup attribute (EventId, EventName,
  ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId), StartTime/EndTime
  (default: the last 90 days), newest first, MaxResults up to 50 with NextToken paging, and
  2 requests per second per account and region (a token bucket; ThrottlingException when empty).

`ResourceName` holds what the service records: the ARN for KMS keys and SNS topics, the short
name for buckets, log groups, alarms and EventBridge rules, and for CloudTrail trails the name
or ARN exactly as the caller passed it (so a lookup must try both forms).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

EVENT_VERSION = "1.09"
HISTORY_DAYS = 90
PAGE_SIZE = 50
LOOKUP_RATE = 2.0  # requests per second per account and region
GLOBAL_SOURCES = frozenset({"iam", "sts", "organizations", "cloudfront", "route53"})
SOURCE_IP = "127.0.0.1"  # in-process moto: the caller is this machine
_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_READ = ("Get", "List", "Describe", "Head", "Lookup")
# botocore S3 operation → CloudTrail event name, where they differ
_S3_EVENT_NAMES = {
    "PutBucketLifecycleConfiguration": "PutBucketLifecycle",
    "GetBucketLifecycleConfiguration": "GetBucketLifecycle",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "DeleteBucketPublicAccessBlock",
}
_S3_DATA = re.compile(r"Object(s|sV2|Version|Versions|Tagging|Acl|Retention|LegalHold)?$|Upload")
_LOOKUP_KEYS = {
    "EventId": lambda r: [r["eventID"]],
    "EventName": lambda r: [r["eventName"]],
    "ReadOnly": lambda r: [str(r["readOnly"]).lower()],
    "Username": lambda r: [_username(r)],
    "EventSource": lambda r: [r["eventSource"]],
    "AccessKeyId": lambda r: [r["userIdentity"].get("accessKeyId", "")],
    "ResourceType": lambda r: [x["type"] for x in r.get("resources", [])],
    "ResourceName": lambda r: [x["ARN"] for x in r.get("resources", [])],
}
# requestParameters key → CloudFormation resource type, for resource names
_RESOURCE_KEYS: dict[str, dict[str, str]] = {
    "cloudtrail": {
        "name": "AWS::CloudTrail::Trail",
        "trailName": "AWS::CloudTrail::Trail",
        "resourceId": "AWS::CloudTrail::Trail",  # AddTags / RemoveTags: the trail's ARN
    },
    "s3": {"bucketName": "AWS::S3::Bucket"},
    "kms": {"keyId": "AWS::KMS::Key"},
    "logs": {"logGroupName": "AWS::Logs::LogGroup"},
    "monitoring": {"alarmName": "AWS::CloudWatch::Alarm", "alarmNames": "AWS::CloudWatch::Alarm"},
    "sns": {"topicArn": "AWS::SNS::Topic", "subscriptionArn": "AWS::SNS::Subscription"},
    "events": {"name": "AWS::Events::Rule", "rule": "AWS::Events::Rule"},
}


@dataclass
class EventHistory:
    """The recorded events (per account and region) and the LookupEvents throttle state."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    lookup_rate: float = LOOKUP_RATE
    records: dict[tuple[str, str], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    throttled: int = 0
    lookups: int = 0
    # when each LookupEvents attempt arrived (monotonic seconds), per account and region
    lookup_times: dict[tuple[str, str], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    identities: dict[str, dict[str, Any]] = field(default_factory=dict)  # access key → identity
    _buckets: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: dict[str, Any]) -> None:
        """Keep `record` in its account's and region's history."""
        key = (record["recipientAccountId"], record["awsRegion"])
        with self._lock:
            self.records[key].append(record)

    def all_records(self) -> list[dict[str, Any]]:
        """Every recorded event, oldest first."""
        with self._lock:
            found = [r for rs in self.records.values() for r in rs]
        return sorted(found, key=lambda r: r["eventTime"])

    def allow_lookup(self, account_id: str, region: str) -> bool:
        """False when the account-region's token bucket (`lookup_rate` per second, as many in
        store) is empty: AWS throttles that call."""
        now = time.monotonic()
        with self._lock:
            self.lookups += 1
            self.lookup_times[(account_id, region)].append(now)
            tokens, last = self._buckets.get((account_id, region), (self.lookup_rate, now))
            tokens = min(self.lookup_rate, tokens + (now - last) * self.lookup_rate)
            if tokens < 1:
                self._buckets[(account_id, region)] = (tokens, now)
                self.throttled += 1
                return False
            self._buckets[(account_id, region)] = (tokens - 1, now)
            return True

    def lookup(
        self,
        account_id: str,
        region: str,
        attributes: list[dict[str, str]],
        start: datetime,
        end: datetime,
    ) -> list[dict[str, Any]]:
        """The matching records of one account and region, newest first."""
        with self._lock:
            candidates = list(self.records.get((account_id, region), ()))
        found = []
        for record in candidates:
            when = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
            if not start <= when <= end:
                continue
            if attributes:
                attr = attributes[0]
                values = _LOOKUP_KEYS[attr["AttributeKey"]](record)
                if attr["AttributeValue"] not in values:
                    continue
            found.append(record)
        found.sort(key=lambda r: (r["eventTime"], r["_sequence"]), reverse=True)
        return found


def _username(record: Mapping[str, Any]) -> str:
    identity = record["userIdentity"]
    if identity["type"] == "AssumedRole":
        return identity["arn"].rsplit("/", 1)[-1]
    if identity["type"] == "Root":
        return "root"
    return str(identity.get("userName", ""))


def _identity(access_key: str, account_hint: str) -> dict[str, Any]:
    """userIdentity of the caller who signed with `access_key` (moto's IAM and STS state)."""
    from moto.iam.models import get_account_id_from, iam_backends
    from moto.sts.models import sts_backends

    for backends in list(sts_backends.values()):
        for backend in list(backends.values()):
            for role in list(backend.assumed_roles):
                if role.access_key_id != access_key:
                    continue
                role_account = role.role_arn.split(":")[4]
                role_name = role.role_arn.rsplit("/", 1)[-1]
                role_id = role.user_id.split(":")[0]
                return {
                    "type": "AssumedRole",
                    "principalId": role.user_id,
                    "arn": f"arn:aws:sts::{role_account}:assumed-role/{role_name}/"
                    f"{role.session_name}",
                    "accountId": role_account,
                    "accessKeyId": access_key,
                    "sessionContext": {
                        "sessionIssuer": {
                            "type": "Role",
                            "principalId": role_id,
                            "arn": role.role_arn,
                            "accountId": role_account,
                            "userName": role_name,
                        },
                        "attributes": {
                            "creationDate": _iso(role.expiration - timedelta(hours=1)),
                            "mfaAuthenticated": "false",
                        },
                    },
                }
    for account_id, backends in list(iam_backends.items()):
        for backend in list(backends.values()):
            for user in list(backend.users.values()):
                if any(k.access_key_id == access_key for k in user.access_keys):
                    return {
                        "type": "IAMUser",
                        "principalId": user.id,
                        "arn": user.arn,
                        "accountId": account_id,
                        "accessKeyId": access_key,
                        "userName": user.name,
                    }
    account_id = get_account_id_from(access_key) or account_hint
    return {
        "type": "Root",
        "principalId": account_id,
        "arn": f"arn:aws:iam::{account_id}:root",
        "accountId": account_id,
        "accessKeyId": access_key,
    }


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if moment.tzinfo
        else (moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    )


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _query_params(body: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, values in sorted(parse_qs(body, keep_blank_values=True).items()):
        if key in ("Action", "Version"):
            continue
        parts = key.split(".")
        name = _lower_camel(parts[0])
        if len(parts) >= 3 and parts[1] == "member":
            params.setdefault(name, []).append(values[0])
        elif len(parts) == 1:
            params[name] = values[0]
    return params


def _request_parameters(service: str, request: Any) -> dict[str, Any]:
    body = request.body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    if not isinstance(text, str):
        text = ""
    url = urlsplit(request.url)
    if service == "s3":
        host = url.netloc.split(":")[0]
        path = url.path.lstrip("/")
        bucket = host.split(".s3")[0] if ".s3" in host else path.split("/")[0]
        params: dict[str, Any] = {"bucketName": bucket, "Host": host}
        for key in parse_qs(url.query, keep_blank_values=True):
            params[key] = ""
        return params
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return {_lower_camel(k): v for k, v in data.items()} if isinstance(data, dict) else {}
    return _query_params(text)


def _resources(
    service: str, params: Mapping[str, Any], account_id: str, region: str
) -> list[dict[str, str]]:
    found = []
    for key, kind in _RESOURCE_KEYS.get(service, {}).items():
        value = params.get(key)
        for name in value if isinstance(value, list) else [value]:
            if not isinstance(name, str) or not name:
                continue
            if service == "kms" and not name.startswith(("arn:", "alias/")):
                name = f"arn:aws:kms:{region}:{account_id}:key/{name}"
            found.append({"ARN": name, "accountId": account_id, "type": kind})
    return found


def _event_name(service: str, operation: str) -> str:
    return _S3_EVENT_NAMES.get(operation, operation) if service == "s3" else operation


def make_record(
    history: EventHistory,
    operation: str,
    request: Any,
    sequence: int,
    error: tuple[str, str] | None = None,
) -> dict[str, Any] | None:
    """The CloudTrail record of a call moto served, or None when CloudTrail would not keep it
    in the event history (unsigned calls, S3 data events). `error`: the (code, message) of a
    call that failed; AWS keeps those too, with `errorCode`/`errorMessage`."""
    headers = request.headers
    auth = headers.get("Authorization", "")
    auth = auth.decode() if isinstance(auth, bytes) else str(auth)
    found = _CREDENTIAL.search(auth)
    if found is None:
        return None
    access_key, region, service = found.groups()
    if service == "s3" and _S3_DATA.search(operation) and "ObjectLock" not in operation:
        return None
    identity = history.identities.get(access_key)
    if identity is None:
        identity = history.identities.setdefault(access_key, _identity(access_key, ""))
    account_id = identity["accountId"]
    if service in GLOBAL_SOURCES:
        region = "us-east-1"
    params = _request_parameters(service, request)
    agent = headers.get("User-Agent", "")
    agent = agent.decode() if isinstance(agent, bytes) else str(agent)
    record = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": _iso(history.clock()),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": _event_name(service, operation),
        "awsRegion": region,
        "sourceIPAddress": SOURCE_IP,
        "userAgent": agent,
        "requestParameters": params or None,
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": operation.startswith(_READ),
        "resources": _resources(service, params, account_id, region),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
        "_sequence": sequence,  # arrival order among equal times (not part of the record)
    }
    if error is not None:
        record["errorCode"], record["errorMessage"] = error
    if not record["resources"]:
        del record["resources"]
    return record


def public(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as CloudTrail shows it (without the simulator's bookkeeping)."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _time(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value)
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _error(code: str, message: str) -> tuple[str, dict[str, Any]]:
    return json.dumps({"__type": code, "message": message}), {"status": 400}


def _lookup_answer(history: EventHistory, response: Any) -> Any:
    params = json.loads(response.body or "{}")
    account_id, region = response.current_account, response.region
    if not history.allow_lookup(account_id, region):
        return _error("ThrottlingException", "Rate exceeded")
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        return _error(
            "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."
        )
    if attributes and attributes[0].get("AttributeKey") not in _LOOKUP_KEYS:
        return _error("InvalidLookupAttributesException", "Invalid attribute key.")
    max_results = int(params.get("MaxResults") or PAGE_SIZE)
    if not 1 <= max_results <= PAGE_SIZE:
        return _error("InvalidMaxResultsException", "MaxResults must be 1 to 50.")
    now = history.clock()
    start = _time(params.get("StartTime"), now - timedelta(days=HISTORY_DAYS))
    start = max(start, now - timedelta(days=HISTORY_DAYS))
    end = _time(params.get("EndTime"), now)
    found = history.lookup(account_id, region, attributes, start, end)
    offset = int(params.get("NextToken") or 0)
    page = found[offset : offset + max_results]
    answer: dict[str, Any] = {
        "Events": [
            {
                "EventId": r["eventID"],
                "EventName": r["eventName"],
                "ReadOnly": str(r["readOnly"]).lower(),
                "AccessKeyId": r["userIdentity"].get("accessKeyId"),
                "EventTime": datetime.fromisoformat(
                    r["eventTime"].replace("Z", "+00:00")
                ).timestamp(),
                "EventSource": r["eventSource"],
                "Username": _username(r),
                "Resources": [
                    {"ResourceType": x["type"], "ResourceName": x["ARN"]}
                    for x in r.get("resources", [])
                ],
                "CloudTrailEvent": json.dumps(public(r)),
            }
            for r in page
        ]
    }
    if offset + max_results < len(found):
        answer["NextToken"] = str(offset + max_results)
    return json.dumps(answer)


def error_of(status: int, body: bytes | str | None) -> tuple[str, str] | None:
    """(errorCode, errorMessage) of a failed response (None when it succeeded), read from
    the JSON (`__type`), XML (`<Code>`) or CBOR body, as CloudTrail records it."""
    if status < 300:
        return None
    raw = body.encode() if isinstance(body, str) else (body or b"")
    code = message = ""
    text = raw.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        if isinstance(data, dict):
            code = str(data.get("__type") or data.get("code") or "")
            message = str(data.get("message") or data.get("Message") or "")
    elif "<Code>" in text:
        found = re.search(r"<Code>([^<]*)</Code>", text)
        said = re.search(r"<Message>([^<]*)</Message>", text)
        code, message = (found.group(1) if found else ""), (said.group(1) if said else "")
    else:
        data = _cbor_map(raw)
        code = str(data.get("__type") or "")
        message = str(data.get("message") or data.get("Message") or "")
    code = code.rsplit("#", 1)[-1].split(":", 1)[0] or f"HTTP{status}"
    return code, message


def _cbor_map(raw: bytes) -> dict[str, Any]:
    """A CBOR error body (smithy-rpc-v2-cbor: CloudWatch) read with botocore's own decoder."""
    try:
        from botocore.parsers import RpcV2CBORParser

        data = RpcV2CBORParser()._initial_body_parse(raw)
    except (ValueError, TypeError, KeyError, IndexError):  # unreadable: the code is lost
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class ServedRequest:
    """A request as the moto server received it (what `make_record` reads)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


# request signing name → botocore service (where they differ)
_SIGNING_SERVICE = {"monitoring": "cloudwatch"}


def operation_of(request: ServedRequest) -> str | None:
    """The API operation of a request the moto server received: from `X-Amz-Target` (JSON),
    the `Action` parameter (query), the `/operation/` path (CBOR), or the REST routes of the
    botocore model of the signing service (S3, S3 Control)."""
    target = request.headers.get("X-Amz-Target") or request.headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1]
    url = urlsplit(request.url)
    if "/operation/" in url.path:
        return url.path.rsplit("/operation/", 1)[1]
    query = parse_qs(url.query, keep_blank_values=True)
    if "Action" in query:
        return query["Action"][0]
    if request.method == "POST" and request.body[:7] in (b"Action=", b"Version"):
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    found = _CREDENTIAL.search(str(request.headers.get("Authorization", "")))
    if found is None:
        return None
    service = _SIGNING_SERVICE.get(found.group(3), found.group(3))
    if service == "s3" and "s3-control" in url.netloc:
        service = "s3control"
    return _rest_operation(service, request.method, url.path, set(query))


def _rest_operation(service: str, method: str, path: str, query: set[str]) -> str | None:
    """The operation of a REST request: the model route with this method whose path matches
    and whose literal query keys are all present (the most specific such route)."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    try:
        model = botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:  # a service botocore does not know: not recorded
        return None
    segments = [p for p in path.split("/") if p]
    best: tuple[int, str] | None = None
    for name in model.operation_names:
        http = model.operation_model(name).http
        if http.get("method") != method:
            continue
        route, _, route_query = str(http.get("requestUri", "/")).partition("?")
        keys = {k.split("=")[0] for k in route_query.split("&") if k}
        if not keys <= query:
            continue
        parts = [p for p in route.split("/") if p]
        greedy = bool(parts) and parts[-1].endswith("+}")
        if len(parts) != len(segments) and not (greedy and len(segments) >= len(parts)):
            continue
        if any(not p.startswith("{") and p != q for p, q in zip(parts, segments, strict=False)):
            continue
        score = len(keys) * 10 + sum(1 for p in parts if not p.startswith("{"))
        if best is None or score > best[0]:
            best = (score, name)
    return best[1] if best else None


def _served_request(environ: dict[str, Any]) -> ServedRequest:
    """Read the WSGI request's body once and put it back for the app."""
    import io

    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH")
    body = b""
    if stream is not None and length:
        body = stream.read(int(length))
    elif stream is not None and environ.get("wsgi.input_terminated"):
        body = stream.read()
    environ["wsgi.input"] = io.BytesIO(body)
    headers = {
        key[5:].replace("_", "-").title(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    host = environ.get("HTTP_HOST", "localhost")
    query = environ.get("QUERY_STRING", "")
    url = f"http://{host}{environ.get('PATH_INFO', '')}" + (f"?{query}" if query else "")
    return ServedRequest(environ.get("REQUEST_METHOD", "GET"), url, headers, body)


@contextmanager
def recorded_event_history(history: EventHistory) -> Iterator[EventHistory]:
    """Record every call moto serves into `history` (successful and failed, as AWS does) and
    answer LookupEvents from it: in-process (botocore's stubber) and in the moto server (its
    WSGI dispatcher: server requests never pass the stubber)."""
    from moto.cloudtrail import responses as ct_responses
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original_call = BotocoreStubber.__call__
    original_app = DomainDispatcherApplication.__call__
    counter = iter(range(1 << 62))
    counter_lock = threading.Lock()

    def record(operation: str | None, request: Any, status: int, body: Any) -> None:
        if not operation:
            return
        with counter_lock:
            sequence = next(counter)
        made = make_record(history, operation, request, sequence, error_of(status, body))
        if made is not None:
            history.add(made)

    def stub_call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        response = original_call(self, event_name, request, **kwargs)
        if response is not None:
            failed = response.status_code >= 300  # read a body only then: a success may stream
            body = response.content if failed else None
            record(event_name.rsplit(".", 1)[-1], request, response.status_code, body)
        return response

    def app_call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        request = _served_request(environ)
        status: list[int] = []

        def respond(line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(int(line.split(" ", 1)[0]))
            return start_response(line, headers, exc_info)

        chunks = list(original_app(self, environ, respond))
        record(operation_of(request), request, status[0] if status else 500, b"".join(chunks))
        return chunks

    def lookup_events(self: Any) -> Any:
        return _lookup_answer(history, self)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(BotocoreStubber, "__call__", stub_call))
        stack.enter_context(mock.patch.object(DomainDispatcherApplication, "__call__", app_call))
        stack.enter_context(
            mock.patch.object(
                ct_responses.CloudTrailResponse, "lookup_events", lookup_events, create=True
            )
        )
        yield history
