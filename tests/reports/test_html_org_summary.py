"""The organization summary of the HTML report: only for several accounts, worst verdict
per cell, accounts grouped by OU, skipped accounts listed."""

from __future__ import annotations

from factories import make_account, make_inventory, make_trail

from trailcheck.engine import evaluate
from trailcheck.model import ScanMetadata, SkippedAccount
from trailcheck.reports.html_report import HtmlReporter, org_summary
from trailcheck.rules import load_rules

MGMT, MEMBER, BROKEN = "111111111111", "222222222222", "333333333333"


def org_report():  # type: ignore[no-untyped-def]
    org_trail = make_trail("org", MGMT, is_organization_trail=True)
    broken = make_trail("own", BROKEN, log_file_validation_enabled=False)
    accounts = [
        make_account(MGMT, name="management", organization_id="o-1", ou_path="Root"),
        make_account(MEMBER, name="prod", organization_id="o-1", ou_path="Root/Prod"),
        make_account(BROKEN, name="dev", organization_id="o-1", ou_path="Root/Dev"),
    ]
    inventory = make_inventory([org_trail, broken], accounts)
    meta: ScanMetadata = inventory.metadata.model_copy(
        update={
            "organization_id": "o-1",
            "skipped_accounts": (
                SkippedAccount(account_id="444444444444", name="old", status="SUSPENDED"),
            ),
        }
    )
    return evaluate(inventory.model_copy(update={"metadata": meta}), load_rules())


def test_matrix_shows_the_worst_verdict_per_account_and_rule() -> None:
    report = org_report()
    summary = org_summary(report)
    assert summary is not None
    rows = {r.account_id: r for r in summary.rows}
    column = summary.rule_ids.index("CT.TRAIL.LOG_VALIDATION")
    assert rows[BROKEN].cells[column].status == "FAIL"
    assert rows[MGMT].cells[column].status == "PASS"
    assert rows[MEMBER].cells[column].status == "NOT_APPLICABLE"
    coverage = summary.rule_ids.index("CT.ACCOUNT.MULTI_REGION_TRAIL")
    assert rows[MEMBER].cells[coverage].status == "PASS"  # through the org trail
    assert rows[BROKEN].worst == "FAIL"
    assert [ou for ou, _ in summary.by_ou] == ["Root", "Root/Dev", "Root/Prod"]
    html = HtmlReporter().render(report)
    assert html.index('id="organization"') < html.index(f'id="account-{MGMT}"')
    assert "Skipped accounts" in html and "444444444444" in html and "SUSPENDED" in html


def test_no_organization_summary_for_one_account() -> None:
    report = evaluate(make_inventory(), load_rules())
    assert org_summary(report) is None
    assert 'id="organization"' not in HtmlReporter().render(report)
