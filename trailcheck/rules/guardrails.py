"""Who can still stop the logs: organization guardrails (SCPs/RCPs) and effective permissions
on the resources of the trail set-up, judged by evaluating the policies the scan read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, JsonValue

from trailcheck.model import Finding, IamAuthorization, Inventory, Severity, Status, Unknown
from trailcheck.rules._iam_eval import (
    Doc,
    OrgControls,
    Subject,
    Verdict,
    deny_candidates,
    evaluate_access,
    org_allows,
    principal_context,
)
from trailcheck.rules._policy import Principal, Request
from trailcheck.rules._policy_conditions import all3, evaluate_condition, glob_match
from trailcheck.rules._tamper import (
    GUARDED_KINDS,
    RCP,
    SCP,
    OrgView,
    Target,
    all_docs,
    full_access_policies,
    levels,
    monitoring_targets,
    org_view,
    organization_trails,
    subjects,
    tamper_actions,
    trail_targets,
    unseen_trails,
)
from trailcheck.rules.base import Remediation, RuleContext, Unseen, rule

RELATED = {
    "nist-800-53-r5": ("AC-6", "AU-9(4)"),
    "pci-dss-4.0": ("10.3.2",),
    "iso-27001-2022": ("A.8.15",),
}
# Condition keys that say who calls: a Deny exempting a principal through them is an exception.
_WHO_KEYS = frozenset(
    {"aws:principalarn", "aws:principalaccount", "aws:userid", "aws:username", "aws:principaltype"}
)
_PROBE_ROLE = "trailcheck-probe-ordinary-role"  # any role someone could create in the account
_MAX_SHOWN = 50
_STOPPERS = frozenset({"cloudtrail:StopLogging", "cloudtrail:DeleteTrail"})


class GuardrailParams(BaseModel):
    """`break_glass_principals`: ARN patterns (`*`, `?`) the guardrail may exempt."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    break_glass_principals: tuple[str, ...] = ()


class WhoCanParams(BaseModel):
    """`allowed_principals`: ARN patterns (`*`, `?`) that may hold the tamper actions."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    allowed_principals: tuple[str, ...] = ()


def _matches_any(arn: str, patterns: tuple[str, ...]) -> bool:
    return any(glob_match(p, arn) is True for p in patterns)


@dataclass(frozen=True)
class _Gap:
    principal: str
    action: str
    resource: str
    problem: str
    detail: str


def _grouped(gaps: list[_Gap]) -> list[JsonValue]:
    """One entry per (resource, action, problem) with the principals it lets through."""
    groups: dict[tuple[str, str, str], list[_Gap]] = {}
    for gap in gaps:
        groups.setdefault((gap.resource, gap.action, gap.problem), []).append(gap)
    return [
        {
            "resource": resource,
            "action": action,
            "problem": problem,
            "principals": [g.principal for g in members],
            "detail": members[0].detail,
        }
        for (resource, action, problem), members in sorted(groups.items())
    ]


@rule(
    id="CT.ORG.TAMPER_GUARDRAIL",
    change_events=("AttachPolicy", "DetachPolicy", "UpdatePolicy", "DeletePolicy"),
    title="An SCP or RCP stops every member account from tampering with the organization trail, "
    "its bucket and its key",
    severity=Severity.HIGH,
    resource_type="AWS::::Account",
    controls={},
    related_controls=RELATED,
    requires={"trails", "buckets", "kms_keys", "key_policies", "iam", "org_policies"},
    params=GuardrailParams,
    remediation=Remediation(
        summary="Attach to the organization root an SCP that denies the tamper actions "
        "(cloudtrail:StopLogging, DeleteTrail, UpdateTrail, PutEventSelectors, s3:PutBucketPolicy, "
        "DeleteObject, kms:ScheduleKeyDeletion, ...) on the organization trail, its bucket and "
        "key to everyone but the named break-glass roles (an exact aws:PrincipalArn "
        "exception), and an RCP doing the same for the bucket and key.",
        cli="aws organizations attach-policy --policy-id <guardrail-scp-id> --target-id <root-id>",
        terraform='resource "aws_organizations_policy_attachment" "guardrail" { policy_id = '
        "aws_organizations_policy.trail_guardrail.id  target_id = <root id> }",
    ),
)
def tamper_guardrail(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """A trail that is right today is one API call from wrong. An SCP denying StopLogging,
    DeleteTrail, bucket-policy and key changes on the organization trail's set-up keeps it
    right whatever IAM grants inside a member account — but only when it is attached above
    every account and its break-glass exception names only the break-glass roles. The rule
    evaluates the SCPs and RCPs for every principal the scan found in each member account, and
    for a role anyone could create there."""
    params: GuardrailParams = ctx.params
    accounts = inventory.reachable_accounts()
    if inventory.metadata.organization_id is None:
        for account in accounts:
            # which trail the account relies on is unknown: not even "not applicable" is known
            hidden = unseen_trails(inventory, [account.account_id])
            if hidden is not None:
                yield ctx.unseen(
                    hidden,
                    account_id=account.account_id,
                    region=None,
                    resource_arn=_root(inventory, account.account_id),
                )
                continue
            yield ctx.for_account(
                inventory,
                account.account_id,
                Status.NOT_APPLICABLE,
                "not an organization scan: SCPs and RCPs are judged with --org",
            )
        return
    scp_view = org_view(inventory, SCP)
    rcp_view = org_view(inventory, RCP)
    management = inventory.metadata.management_account_id
    trails = organization_trails(inventory)
    hidden = unseen_trails(inventory, [management] if management else [])
    targets = hidden or trail_targets(inventory, trails)
    for account in accounts:
        account_id = account.account_id
        if account_id == management:
            yield ctx.for_account(
                inventory,
                account_id,
                Status.NOT_APPLICABLE,
                "no SCP or RCP binds the management account: who can tamper there is judged "
                "by CT.IAM.WHO_CAN_TAMPER",
            )
            continue
        if not trails and hidden is None:
            yield ctx.for_account(
                inventory,
                account_id,
                Status.NOT_APPLICABLE,
                "the scan found no organization trail to guard",
            )
            continue
        unseen = next((u for u in (scp_view, rcp_view, targets) if isinstance(u, Unseen)), None)
        if unseen is not None:
            yield ctx.unseen(
                unseen,
                account_id=account_id,
                region=None,
                resource_arn=_root(inventory, account_id),
            )
            continue
        yield _judge_guardrail(
            inventory,
            ctx,
            params,
            account_id,
            targets,  # type: ignore[arg-type]  # not Unseen: checked above
            (scp_view, rcp_view),  # type: ignore[arg-type]
        )


def _root(inventory: Inventory, account_id: str) -> str:
    return f"arn:{inventory.metadata.partition}:iam::{account_id}:root"


def _unseen_iam(inventory: Inventory, account_id: str) -> Unseen | None:
    auth = inventory.iam.get(account_id)
    if auth is None:
        return Unseen(f"the IAM principals of account {account_id} were not collected")
    if isinstance(auth, Unknown):
        return Unseen(f"the IAM principals of account {account_id} are unknown ({auth.describe()})")
    return None


def _judge_guardrail(
    inventory: Inventory,
    ctx: RuleContext,
    params: GuardrailParams,
    account_id: str,
    targets: list[Target],
    views: tuple[OrgView | None, OrgView | None],
) -> Finding:
    """Every probe principal x tamper action x guarded resource through the SCPs/RCPs. When
    the account's principals are unknown only the probe role is tried: a gap is still a FAIL,
    but no gap is not a PASS."""
    scp_view, rcp_view = views
    auth = inventory.iam.get(account_id)
    partition = inventory.metadata.partition
    probes = [p.arn for p in auth.principals] if isinstance(auth, IamAuthorization) else []
    probes.append(f"arn:{partition}:iam::{account_id}:role/{_PROBE_ROLE}")
    probes = [p for p in probes if not _matches_any(p, params.break_glass_principals)]
    scp_levels = levels(inventory, scp_view, account_id)
    if isinstance(scp_levels, Unseen):
        return ctx.unseen(
            scp_levels,
            account_id=account_id,
            region=None,
            resource_arn=_root(inventory, account_id),
        )
    actions = tamper_actions()
    gaps: list[_Gap] = []
    checked = 0
    for target in (t for t in targets if t.kind in GUARDED_KINDS):
        rcp_levels = levels(inventory, rcp_view, target.account_id)
        if isinstance(rcp_levels, Unseen):
            return ctx.unseen(
                rcp_levels,
                account_id=account_id,
                region=None,
                resource_arn=_root(inventory, account_id),
            )
        org = OrgControls(scp_levels, rcp_levels)
        chain = [d for _, docs in (*(scp_levels or ()), *(rcp_levels or ())) for d in docs]
        for action in actions[target.kind]:
            for probe in probes:
                checked += 1
                request = Request(
                    Principal.aws(probe),
                    action,
                    target.arn,
                    principal_context(probe, inventory.metadata.organization_id),
                )
                verdict = org_allows(request, org)
                if verdict.allowed is not False:
                    gaps.append(_gap(inventory, request, verdict, chain, scp_view, rcp_view))
    ou = inventory.accounts[account_id].ou_path or "an unknown OU"
    evidence: dict[str, JsonValue] = {
        "ou_path": ou,
        "guarded_resources": sorted({t.arn for t in targets if t.kind in GUARDED_KINDS}),
        "break_glass_principals": list(params.break_glass_principals),
        "requests_checked": checked,
    }
    unknown_principals = _unseen_iam(inventory, account_id)
    if not gaps and unknown_principals is not None:
        return ctx.unseen(
            Unseen(
                f"{unknown_principals.reason}: the guardrail denies a new role every tamper "
                "action, but the account's own principals cannot be checked"
            ),
            account_id=account_id,
            region=None,
            resource_arn=_root(inventory, account_id),
            evidence=evidence,
        )
    if not gaps:
        return ctx.for_account(
            inventory,
            account_id,
            Status.PASS,
            f"SCPs/RCPs deny every tamper action on the organization trail's set-up to every "
            f"principal of the account but the break-glass ones ({checked} requests, {ou})",
            evidence=evidence,
        )
    problems = sorted({g.problem for g in gaps})
    first = gaps[0]
    evidence["gaps"] = _grouped(gaps)[:_MAX_SHOWN]
    evidence["requests_not_denied"] = len(gaps)
    principals = sorted({g.principal for g in gaps})
    more = f" and {len(principals) - 3} more" if len(principals) > 3 else ""
    return ctx.for_account(
        inventory,
        account_id,
        Status.FAIL,
        f"the guardrail does not hold in {ou}: {len(gaps)} tamper requests are not denied for "
        f"{', '.join(principals[:3])}{more} (e.g. {first.action} on {first.resource}: "
        f"{first.detail})",
        evidence=evidence,
        problems=problems,
    )


def _gap(
    inventory: Inventory,
    request: Request,
    verdict: Verdict,
    chain: list[Doc],
    scp_view: OrgView | None,
    rcp_view: OrgView | None,
) -> _Gap:
    """Why the guardrail lets this request through: missing, not attached, or an exception."""

    def gap(problem: str, detail: str) -> _Gap:
        return _Gap(request.principal.value, request.action, request.resource, problem, detail)

    candidates = deny_candidates(chain, request)
    if not candidates:
        attached = {d.source for d in chain}
        elsewhere = [
            (policy, grant)
            for view in (scp_view, rcp_view)
            for policy, doc in all_docs(view)
            if doc.source not in attached
            for grant, _ in deny_candidates([doc], request)
        ]
        if elsewhere:
            policy, grant = elsewhere[0]
            where = ", ".join(policy.targets) if isinstance(policy.targets, tuple) else "?"
            return gap(
                "guardrail.not_attached",
                f"{grant} would deny it but is attached to {where}, not above this account",
            )
        suffix = f" ({verdict.blocked_by})" if verdict.blocked_by else ""
        return gap("guardrail.scp_missing", f"no SCP or RCP denies it{suffix}")
    context = {k.lower(): v for k, v in request.context.items()}
    for grant, statement in candidates:
        results = [(c, evaluate_condition(c, context)) for c in statement.conditions]
        outcome = all3(r for _, r in results)
        if outcome is None:
            keys = sorted({c.key for c, r in results if r is None})
            return gap(
                "guardrail.condition_unknown",
                f"{grant} denies it only depending on {', '.join(keys)}",
            )
        failing = [c for c, r in results if r is False]
        if any(c.key.lower() in _WHO_KEYS for c in failing):
            shown = "; ".join(f"{c.operator} {c.key} {list(c.values)}" for c in failing)
            return gap(
                "guardrail.exception_too_wide",
                f"{grant} exempts this principal through its exception ({shown})",
            )
        if failing:
            shown = "; ".join(f"{c.operator} {c.key} {list(c.values)}" for c in failing)
            return gap(
                "guardrail.condition_never_matches",
                f"{grant} has a condition that does not match this request ({shown})",
            )
    return gap("guardrail.scp_missing", verdict.blocked_by or "not denied")


@rule(
    id="CT.IAM.WHO_CAN_TAMPER",
    change_events=(
        "AttachRolePolicy",
        "PutRolePolicy",
        "AttachUserPolicy",
        "PutUserPolicy",
        "AttachGroupPolicy",
        "PutGroupPolicy",
        "CreatePolicyVersion",
        "DeleteRolePermissionsBoundary",
        "PutBucketPolicy",
        "PutKeyPolicy",
    ),
    title="Only the allowed principals can stop, weaken or erase the account's logging",
    severity=Severity.HIGH,
    resource_type="AWS::::Account",
    controls={},
    related_controls=RELATED,
    requires={
        "trails",
        "buckets",
        "kms_keys",
        "key_policies",
        "iam",
        "org_policies",
        "alarms",
        "sns_topics",
        "topic_policies",
        "event_rules",
    },
    params=WhoCanParams,
    remediation=Remediation(
        summary="Remove the tamper actions (cloudtrail:StopLogging, DeleteTrail, ..., "
        "s3:DeleteObject on the log bucket, kms:ScheduleKeyDeletion on its key) from the "
        "granting statements named in the evidence, narrow the bucket and key policies, or "
        "deny the actions with an SCP; list deliberate holders in allowed_principals.",
        cli="aws iam detach-role-policy --role-name <role> --policy-arn <granting policy>",
        terraform="# remove cloudtrail:* / * from the granting aws_iam_policy, or add a Deny "
        "for the tamper actions on the trail, bucket and key",
    ),
)
def who_can_tamper(inventory: Inventory, ctx: RuleContext) -> Iterator[Finding]:
    """Security teams answer "who can stop our logging" by hand, one principal at a time in
    the IAM policy simulator. The rule evaluates, for each account, every IAM user and role
    of the scanned accounts against each tamper action on the account's trails, log buckets,
    keys, log groups, alarms, topics and EventBridge rules, after SCPs, RCPs, permission
    boundaries and resource policies (a principal of another account needs the resource
    policy's grant; KMS refuses key deletion, disabling and policy changes across accounts)."""
    params: WhoCanParams = ctx.params
    scp_view = org_view(inventory, SCP)
    rcp_view = org_view(inventory, RCP)
    all_subjects: dict[str, list[Subject]] = {}
    unreadable: dict[str, Unseen] = {}
    for account_id, auth in sorted(inventory.iam.items()):
        found = subjects(auth) if not isinstance(auth, Unknown) else None
        if isinstance(found, list):
            all_subjects[account_id] = found
        else:
            unreadable[account_id] = found or _unseen_iam(inventory, account_id)  # type: ignore[assignment]
    for account in inventory.reachable_accounts():
        account_id = account.account_id
        # the account's own trails, and the buckets, keys and log groups it owns of any trail
        targets = unseen_trails(inventory, [account_id]) or trail_targets(
            inventory, sorted(inventory.trails), owner=account_id
        )
        unseen = next((u for u in (scp_view, rcp_view, targets) if isinstance(u, Unseen)), None)
        unseen = unseen or unreadable.get(account_id) or _unseen_iam(inventory, account_id)
        if unseen is not None:
            yield ctx.unseen(
                unseen,
                account_id=account_id,
                region=None,
                resource_arn=_root(inventory, account_id),
            )
            continue
        monitoring = monitoring_targets(inventory, account_id)
        if isinstance(monitoring, Unseen):
            yield ctx.unseen(
                monitoring,
                account_id=account_id,
                region=None,
                resource_arn=_root(inventory, account_id),
            )
            continue
        targets = [*targets, *monitoring]  # type: ignore[misc]
        if not targets:
            yield ctx.for_account(
                inventory,
                account_id,
                Status.NOT_APPLICABLE,
                "the account holds no resource of a trail set-up",
            )
            continue
        yield _judge_who(
            inventory, ctx, params, account_id, targets, all_subjects, scp_view, rcp_view
        )


def _named_accounts(docs: tuple[Doc, ...] | None) -> set[str] | None:
    """Accounts a resource policy may admit (None: any, it names "*")."""
    found: set[str] = set()
    for doc in docs or ():
        for statement in doc.statements:
            if statement.ref.effect != "Allow":
                continue
            if statement.not_principal:
                return None
            for kind, value in statement.principals:
                if kind == "*" or value == "*":
                    return None
                if kind == "AWS":
                    parts = value.split(":")
                    found.add(value if value.isdigit() else (parts[4] if len(parts) > 5 else value))
    return found


def _judge_who(
    inventory: Inventory,
    ctx: RuleContext,
    params: WhoCanParams,
    account_id: str,
    targets: list[Target],
    all_subjects: dict[str, list[Subject]],
    scp_view: object,
    rcp_view: object,
) -> Finding:
    actions = tamper_actions()
    org_id = inventory.metadata.organization_id
    holders: dict[str, list[dict[str, JsonValue]]] = {}
    allowed_holders: set[str] = set()
    outside: set[str] = set()
    for target in targets:
        named = _named_accounts(target.policy)
        candidates = list(all_subjects.get(account_id, ()))
        for other, found in all_subjects.items():
            if other != account_id and (named is None or other in named):
                candidates.extend(found)
        for other in sorted((named or set()) - set(all_subjects) - {account_id}):
            outside.add(other)
            candidates.append(
                Subject(
                    f"arn:{inventory.metadata.partition}:iam::{other}:root",
                    "role",
                    (
                        Doc.attached(
                            "its own account's policies (not read)",
                            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                        ),
                    ),
                )
            )
        rcp_levels = levels(inventory, rcp_view, target.account_id)  # type: ignore[arg-type]
        for subject in candidates:
            scp_levels = levels(inventory, scp_view, subject.account_id)  # type: ignore[arg-type]
            if isinstance(scp_levels, Unseen) or isinstance(rcp_levels, Unseen):
                return ctx.unseen(
                    scp_levels if isinstance(scp_levels, Unseen) else rcp_levels,  # type: ignore[arg-type]
                    account_id=account_id,
                    region=None,
                    resource_arn=_root(inventory, account_id),
                )
            org = OrgControls(scp_levels, rcp_levels)
            for action in actions[target.kind]:
                request = Request(
                    Principal.aws(subject.arn),
                    action,
                    target.arn,
                    principal_context(subject.arn, org_id),
                )
                verdict = evaluate_access(
                    request,
                    subject,
                    resource_account=target.account_id,
                    resource_policy=target.policy,
                    org=org,
                    kms_key=target.kind == "key",
                )
                if verdict.allowed is False:
                    continue
                if _matches_any(subject.arn, params.allowed_principals):
                    allowed_holders.add(subject.arn)
                    continue
                holders.setdefault(subject.arn, []).append(
                    {
                        "action": action,
                        "resource": target.arn,
                        "granted_by": [str(g) for g in verdict.granted_by],
                        "depends_on": list(verdict.unknown_keys),
                    }
                )
    auth = inventory.iam[account_id]
    evidence: dict[str, JsonValue] = {
        "resources": [t.arn for t in targets],
        "allowed_principals": list(params.allowed_principals),
        "allowed_holders": sorted(allowed_holders),
        "full_access_policies": full_access_policies(auth),  # type: ignore[arg-type]
    }
    if org_id is None:
        evidence["note"] = "not an organization scan: SCPs and RCPs were not read"
    if outside:
        evidence["accounts_outside_scan"] = sorted(outside)
    if not holders:
        return ctx.for_account(
            inventory,
            account_id,
            Status.PASS,
            f"no principal beyond the allowed list can perform a tamper action on the "
            f"account's {len(targets)} trail set-up resources",
            evidence=evidence,
        )
    evidence["holders"] = {arn: grants[:_MAX_SHOWN] for arn, grants in sorted(holders.items())}
    shown = []
    for arn, grants in sorted(holders.items())[:3]:
        # the most telling grant first: stopping or deleting the trail
        first = min(grants, key=lambda g: (g["action"] not in _STOPPERS, str(g["action"])))
        via = ", ".join(first["granted_by"]) or "its account's policies"  # type: ignore[arg-type]
        others = f" and {len(grants) - 1} more" if len(grants) > 1 else ""
        shown.append(f"{arn} ({first['action']} on {first['resource']}{others}, granted by {via})")
    acts = {g["action"] for grants in holders.values() for g in grants}
    problems = ["permissions.can_tamper"]
    if acts & _STOPPERS:
        problems.append("permissions.can_stop_logging")
    more = f" and {len(holders) - 3} more" if len(holders) > 3 else ""
    return ctx.for_account(
        inventory,
        account_id,
        Status.FAIL,
        f"{len(holders)} principal(s) beyond the allowed list can tamper with the account's "
        f"logging: {'; '.join(shown)}{more}",
        evidence=evidence,
        problems=sorted(problems),
    )
