"""SNS: the subscriptions of each topic an alarm notifies, read once per topic.

Calls: ListSubscriptionsByTopic once per topic (paginated), with the topic owner's access when
the owner is scanned (otherwise with the alarm owner's, which the topic policy may refuse).
"""

from __future__ import annotations

from trailcheck.model import SnsSubscription, SnsTopic, Unknown
from trailcheck.scanner.collectors.base import AccountAccess, CollectorSpec
from trailcheck.scanner.session import paginate

SPEC = CollectorSpec(
    name="sns",
    provides=frozenset({"sns_topics"}),
    permissions=("sns:ListSubscriptionsByTopic",),
)


def collect_topic(access: AccountAccess, arn: str) -> SnsTopic:
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
