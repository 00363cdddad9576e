"""From the inventory to the evaluator's inputs: the tamper actions, the resources of a trail
set-up, the principals of an account, and the SCP/RCP levels that bind an account.

Pure: reads the inventory only. Each builder returns an `Unseen` when a fact it needs is
unknown, so the rules say ERROR instead of judging on a guess.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from trailcheck.model import IamAuthorization, Inventory, OrgPolicy, Unknown
from trailcheck.rules._iam_eval import Doc, Level, Subject
from trailcheck.rules._policy import PolicyError
from trailcheck.rules.base import Unseen

TargetKind = Literal[
    "trail", "bucket", "bucket_object", "key", "log_group", "alarm", "topic", "event_rule"
]
GUARDED_KINDS: tuple[TargetKind, ...] = ("trail", "bucket", "bucket_object", "key")
SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
_PROBE_OBJECT = "AWSLogs/trailcheck-probe.json.gz"


def tamper_actions() -> dict[str, tuple[str, ...]]:
    """Resource kind → the actions that stop, weaken or erase logging (rules/data)."""
    path = resources.files("trailcheck.rules") / "data" / "tamper_actions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {kind: tuple(actions) for kind, actions in data.items() if kind != "note"}


@dataclass(frozen=True)
class Target:
    """A resource of a trail set-up, and its resource policy (None: it has none we read)."""

    kind: TargetKind
    arn: str
    account_id: str
    policy: tuple[Doc, ...] | None = None


def _resource_docs(source: str, document: object) -> tuple[Doc, ...] | Unseen | None:
    if document is None:
        return None
    if isinstance(document, Unknown):
        return Unseen(f"the policy of {source} is unknown ({document.describe()})")
    try:
        return (Doc.resource(source, document),)  # type: ignore[arg-type]  # a JSON object
    except PolicyError as error:
        return Unseen(f"the policy of {source} cannot be read: {error}")


def trail_targets(
    inventory: Inventory, trail_arns: list[str], owner: str | None = None
) -> list[Target] | Unseen:
    """The trails named, their buckets (and a log object), keys and log groups — those owned
    by `owner` when given. Unseen when a bucket or key policy needed is unknown."""
    partition = inventory.metadata.partition
    found: dict[tuple[str, str], Target] = {}

    def add(target: Target) -> None:
        if owner is None or target.account_id == owner:
            found.setdefault((target.kind, target.arn), target)

    for arn in trail_arns:
        trail = inventory.trails[arn]
        if trail.describe_error is not None:
            return Unseen(f"trail {arn} is unknown ({trail.describe_error.describe()})")
        add(Target("trail", trail.arn, trail.account_id))
        bucket = inventory.buckets.get(trail.s3_bucket_name or "")
        if (
            owner is None
            and trail.s3_bucket_name
            and (bucket is None or isinstance(bucket.owner_account_id, Unknown))
        ):
            return Unseen(f"the owner and policy of bucket {trail.s3_bucket_name} are unknown")
        if (
            owner is not None
            and trail.s3_bucket_name
            and (bucket is None or isinstance(bucket.owner_account_id, Unknown))
            and not isinstance(getattr(inventory.accounts.get(owner), "bucket_names", None), tuple)
        ):
            return Unseen(
                f"whether account {owner} owns bucket {trail.s3_bucket_name} is unknown "
                "(its bucket list was not read)"
            )
        if owner is None and trail.kms_key_arn and trail.kms_key_arn not in inventory.kms_keys:
            return Unseen(f"the policy of key {trail.kms_key_arn} is unknown")
        if (
            bucket is not None
            and isinstance(bucket.owner_account_id, str)
            and (owner is None or bucket.owner_account_id == owner)
        ):
            docs = _resource_docs(f"bucket {bucket.name}", bucket.policy)
            if isinstance(docs, Unseen):
                return docs
            prefix = f"{trail.s3_key_prefix.strip('/')}/" if trail.s3_key_prefix else ""
            base = f"arn:{partition}:s3:::{bucket.name}"
            add(Target("bucket", base, bucket.owner_account_id, docs))
            add(
                Target(
                    "bucket_object",
                    f"{base}/{prefix}{_PROBE_OBJECT}",
                    bucket.owner_account_id,
                    docs,
                )
            )
        key = inventory.kms_keys.get(trail.kms_key_arn or "")
        if key is not None and (owner is None or key.account_id == owner):
            docs = _resource_docs(f"key {key.arn}", key.policy)
            if isinstance(docs, Unseen):
                return docs
            add(Target("key", key.arn, key.account_id, docs or ()))
        group = trail.cloudwatch_logs_log_group_arn
        if group:
            add(Target("log_group", group, group.split(":")[4]))
    return sorted(found.values(), key=lambda t: (t.kind, t.arn))


def monitoring_targets(inventory: Inventory, owner: str) -> list[Target] | Unseen:
    """The alarms, topics (with their policies) and EventBridge rules `owner` holds that the
    monitoring rules read."""
    targets = [
        Target("alarm", a.arn, owner) for a in inventory.alarms.values() if a.account_id == owner
    ]
    for topic in sorted(inventory.sns_topics.values(), key=lambda t: t.arn):
        if topic.account_id != owner or topic.exists is False:
            continue
        docs = _resource_docs(f"topic {topic.arn}", topic.policy)
        if isinstance(docs, Unseen):
            return docs
        targets.append(Target("topic", topic.arn, owner, docs))
    targets += [
        Target("event_rule", r.arn, owner)
        for r in inventory.event_rules.values()
        if r.account_id == owner and isinstance(r.targets, tuple) and r.targets
    ]
    return sorted(targets, key=lambda t: (t.kind, t.arn))


def unseen_trails(inventory: Inventory, account_ids: list[str]) -> Unseen | None:
    """Why the trails (and so the resources they use) are not all known: a trail list of
    these accounts that could not be read, or any trail that could not be described."""
    for account_id in account_ids:
        account = inventory.accounts.get(account_id)
        if account is not None and isinstance(account.trail_arns, Unknown):
            return Unseen(
                f"the trails of account {account_id} are unknown ({account.trail_arns.describe()})"
            )
    for arn, trail in sorted(inventory.trails.items()):
        if trail.describe_error is not None:
            return Unseen(
                f"trail {arn} could not be described ({trail.describe_error.describe()}): "
                "which resources it uses is unknown"
            )
    return None


def organization_trails(inventory: Inventory) -> list[str]:
    """ARNs of the organization trails the scan saw (owned by the management account)."""
    management = inventory.metadata.management_account_id
    return [
        arn
        for arn, trail in sorted(inventory.trails.items())
        if trail.is_organization_trail and (management is None or trail.account_id == management)
    ]


# -- principals -------------------------------------------------------------------------------


def subjects(auth: IamAuthorization) -> list[Subject] | Unseen:
    """Every user and role of an account with its identity policies and boundary (Unseen when
    one of their documents is missing or cannot be parsed)."""
    try:
        return _subjects(auth)
    except PolicyError as error:
        return Unseen(f"an IAM policy of account {auth.account_id} cannot be read: {error}")


def _subjects(auth: IamAuthorization) -> list[Subject] | Unseen:
    result = []
    for principal in auth.principals:
        docs: list[Doc] = []
        managed = list(principal.managed)
        name = principal.arn.split(":", 5)[5]
        for inline in principal.inline:
            docs.append(Doc.attached(f"{name} inline policy {inline.name}", inline.document))
        for group_name in principal.groups:
            group = auth.groups.get(group_name)
            if group is None:
                return Unseen(f"group {group_name} of {principal.arn} was not returned")
            for inline in group.inline:
                docs.append(
                    Doc.attached(f"group/{group_name} inline policy {inline.name}", inline.document)
                )
            managed.extend(group.managed)
        for arn in managed:
            document = _managed(auth, arn)
            if isinstance(document, Unseen):
                return document
            docs.append(Doc.attached(arn, document))
        boundary = None
        if principal.boundary:
            document = _managed(auth, principal.boundary)
            if isinstance(document, Unseen):
                return document
            boundary = (Doc.attached(f"boundary {principal.boundary}", document),)
        result.append(Subject(principal.arn, principal.kind, tuple(docs), boundary))
    return result


def _managed(auth: IamAuthorization, arn: str) -> dict[str, object] | Unseen:
    policy = auth.policies.get(arn)
    if policy is None or policy.document is None:
        return Unseen(f"the default version of managed policy {arn} was not returned")
    return policy.document  # type: ignore[return-value]  # a JSON object


def full_access_policies(auth: IamAuthorization) -> list[str]:
    """Customer-managed and inline policies that Allow `*` or `cloudtrail:*` (Prowler's
    iam_policy_no_full_access_to_cloudtrail), named by ARN or holder and name."""
    named: list[tuple[str, dict[str, object]]] = [
        (p.arn, p.document)
        for p in auth.policies.values()
        if not p.aws_managed and p.document  # type: ignore[misc]
    ]
    for principal in auth.principals:
        holder = principal.arn.split(":", 5)[5]
        named += [(f"{holder} inline policy {i.name}", i.document) for i in principal.inline]  # type: ignore[misc]
    for group in auth.groups.values():
        named += [(f"group/{group.name} inline policy {i.name}", i.document) for i in group.inline]  # type: ignore[misc]
    found = []
    for source, document in named:
        try:
            statements = Doc.attached(source, document).statements  # type: ignore[arg-type]
        except PolicyError:
            continue
        if any(
            s.ref.effect == "Allow"
            and not s.not_action
            and {a.lower() for a in s.actions} & {"*", "cloudtrail:*"}
            for s in statements
        ):
            found.append(source)
    return sorted(found)


# -- organization policies ---------------------------------------------------------------------


@dataclass(frozen=True)
class OrgView:
    """The organization's policies of one type, ready to make levels (None: type not enabled)."""

    policies: tuple[OrgPolicy, ...]
    enabled: bool


def org_view(inventory: Inventory, policy_type: str) -> OrgView | Unseen | None:
    """The SCPs (or RCPs) of the organization; None when this is not an organization scan."""
    if inventory.metadata.organization_id is None:
        return None
    policies = inventory.org_policies
    label = "SCPs" if policy_type == SCP else "RCPs"
    if policies is None:
        return Unseen(f"the organization's {label} were not collected")
    if isinstance(policies, Unknown):
        return Unseen(f"the organization's {label} are unknown ({policies.describe()})")
    listing = policies.scp_listing if policy_type == SCP else policies.rcp_listing
    if listing is not None:
        return Unseen(f"the organization's {label} could not be listed ({listing.describe()})")
    of_type = tuple(p for p in policies.policies.values() if p.type == policy_type)
    for policy in of_type:
        if not isinstance(policy.content, Unknown):
            try:
                policy_doc(policy)
            except PolicyError as error:
                return Unseen(f"{label[:-1]} {policy.name} ({policy.id}) cannot be read: {error}")
        for fact in (policy.content, policy.targets):
            if isinstance(fact, Unknown):
                return Unseen(
                    f"{label[:-1]} {policy.name} ({policy.id}) is unknown ({fact.describe()})"
                )
    root = _root_id(inventory)
    enabled = any(root in p.targets for p in of_type)  # type: ignore[operator]  # known above
    return OrgView(of_type, enabled)


def _root_id(inventory: Inventory) -> str | None:
    return next((a.parent_ids[0] for a in inventory.accounts.values() if a.parent_ids), None)


def policy_doc(policy: OrgPolicy) -> Doc:
    kind = "SCP" if policy.type == SCP else "RCP"
    return Doc.attached(f"{kind} {policy.name} ({policy.id})", policy.content)  # type: ignore[arg-type]


def levels(
    inventory: Inventory, view: OrgView | None, account_id: str
) -> tuple[Level, ...] | Unseen | None:
    """The levels (root, each OU, the account) and the policies attached at each, for an
    account bound by this policy type; None when nothing binds it (management account, type
    not enabled, not an organization scan)."""
    if view is None or not view.enabled or account_id == inventory.metadata.management_account_id:
        return None
    account = inventory.accounts.get(account_id)
    if account is None:
        return None  # outside the scan: its SCPs are not known to bind it (over-reports)
    if account.parent_ids is None:
        return Unseen(f"the OU path of account {account_id} is unknown (OU tree not read)")
    return tuple(
        (target, tuple(policy_doc(p) for p in view.policies if target in p.targets))  # type: ignore[operator]
        for target in (*account.parent_ids, account_id)
    )


def all_docs(view: OrgView | None) -> Iterator[tuple[OrgPolicy, Doc]]:
    """Every policy of the view with its parsed document."""
    for policy in view.policies if view else ():
        yield policy, policy_doc(policy)
