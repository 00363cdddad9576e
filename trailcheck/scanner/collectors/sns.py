"""SNS: the subscriptions of each topic an alarm notifies, read once per topic.

Calls: ListSubscriptionsByTopic once per topic (paginated), with the topic owner's access when
the owner is scanned (otherwise with the alarm owner's, which the topic policy may refuse).
"""

from __future__ import annotations

import json
from typing import Any

from trailcheck.model import SnsSubscription, SnsTopic, Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import call, paginate

SPEC = CollectorSpec(
    name="sns",
    provides=frozenset({"sns_topics"}),
    permissions=("sns:ListSubscriptionsByTopic",),
)
# The topic policy (who can delete the topic or change where alarms go): for the who-can rules.
POLICY_SPEC = CollectorSpec(
    name="sns-topic-policy",
    provides=frozenset({"topic_policies"}),
    permissions=("sns:GetTopicAttributes",),
)


def collect_topic(access: AccountAccess, arn: str, *, policy: bool = False) -> SnsTopic:
    """The topic's subscriptions, and its policy (GetTopicAttributes) when `policy`."""
    topic = _subscriptions(access, arn)
    if not policy or topic.exists is False:
        return topic
    return topic.model_copy(
        update={"policy": topic_policy(access.client("sns", topic.region), arn)}
    )


def topic_policy(client: Any, arn: str) -> dict[str, Any] | Unknown:
    """The topic's access policy, or why it could not be read."""
    response = call(client, "GetTopicAttributes", TopicArn=arn)
    if response is None or isinstance(response, Unknown):
        return response or Unknown(operation="sns:GetTopicAttributes", error_code="EmptyResponse")
    try:
        document = json.loads(response.get("Attributes", {}).get("Policy") or "")
    except json.JSONDecodeError as error:
        return Unknown(
            operation="sns:GetTopicAttributes", error_code="InvalidPolicy", message=str(error)
        )
    if not isinstance(document, dict):
        return Unknown(operation="sns:GetTopicAttributes", error_code="InvalidPolicy")
    return document


def _subscriptions(access: AccountAccess, arn: str) -> SnsTopic:
    parts = arn.split(":")
    region, account_id = parts[3], parts[4]
    items = paginate(
        access.client("sns", region), "ListSubscriptionsByTopic", "Subscriptions", TopicArn=arn
    )
    if isinstance(items, Unknown):
        if items.error_code == "NotFound":
            return SnsTopic(arn=arn, account_id=account_id, region=region, exists=False)
        return SnsTopic(
            arn=arn, account_id=account_id, region=region, exists=items, subscriptions=items
        )
    return SnsTopic(
        arn=arn,
        account_id=account_id,
        region=region,
        exists=True,
        subscriptions=tuple(
            SnsSubscription(
                arn=s.get("SubscriptionArn", ""),
                protocol=s.get("Protocol", ""),
                endpoint=s.get("Endpoint", ""),
            )
            for s in items
        ),
    )
