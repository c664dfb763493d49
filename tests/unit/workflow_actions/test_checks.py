"""The checks before writing (R-WF-6, R-WF-7, R-WF-8 and the double-post guard), with a fake
view of the sync state."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from ledgerbridge.hubspot.actions import ActionKind, ExecutionRequest
from ledgerbridge.operations.workflow_actions import checks
from ledgerbridge.operations.workflow_actions.model import (
    ActionFailed,
    Enrolled,
    RuleView,
    SourceLine,
)
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.rules import Direction, ObjectPair


@dataclass
class FakeLookups:
    synced_payments: set[str] = field(default_factory=set)
    linked_invoices: set[str] = field(default_factory=set)
    view: RuleView = field(default_factory=RuleView)

    async def customer_for_contact(self, contact_id: str) -> str | None:
        return None

    async def item_for_product(self, product_id: str) -> str | None:
        return None

    async def payment_is_synced(self, payment_id: str) -> bool:
        return payment_id in self.synced_payments

    async def synced_invoices(self, invoice_ids: list[str]) -> set[str]:
        return self.linked_invoices & set(invoice_ids)

    async def rules(self) -> RuleView:
        return self.view


def _request(**inputs: str) -> ExecutionRequest:
    return ExecutionRequest("cb", "1", None, "COMMERCE_PAYMENT", "55", {}, inputs)


def _payment(*lines: SourceLine, invoices: tuple[str, ...] = (), **props: str) -> Enrolled:
    return Enrolled(
        object_type="commerce_payments",
        object_id="55",
        properties=props,
        currency="USD",
        lines=lines,
        invoice_ids=invoices,
    )


def _line(name: str, *, taxable: bool = False) -> SourceLine:
    return SourceLine(id=name, name=name, quantity=Decimal(1), price=Decimal(5), taxable=taxable)


def _category(error: pytest.ExceptionInfo[ActionFailed]) -> ErrorCategory:
    return error.value.category


def test_r_wf_6_paid_invoice_refuses_taxable_lines_naming_them() -> None:
    checks.non_taxable(_payment(_line("A"), _line("B")))
    with pytest.raises(ActionFailed, match="'B'") as error:
        checks.non_taxable(_payment(_line("A"), _line("B", taxable=True)))
    assert "'A'" not in error.value.detail


def test_r_wf_8_refund_receipt_needs_a_full_refund() -> None:
    checks.fully_refunded(
        _payment(hs_latest_status="refunded", hs_initial_amount="80", hs_refunds_amount="80")
    )
    for props in (
        {"hs_latest_status": "partially_refunded", "hs_initial_amount": "80"},
        {"hs_latest_status": "refunded", "hs_initial_amount": "80", "hs_refunds_amount": "20"},
        {"hs_latest_status": "succeeded", "hs_initial_amount": "80"},
    ):
        with pytest.raises(ActionFailed, match="not fully refunded"):
            checks.fully_refunded(_payment(**props))


def test_r_wf_7_expense_needs_a_fee() -> None:
    checks.has_fees(_payment(hs_platform_fee="0.10"))
    with pytest.raises(ActionFailed, match="no processing or platform fee"):
        checks.has_fees(_payment(hs_processing_fee="0", hs_platform_fee=""))


def test_actions_fit_their_object_types() -> None:
    deal = Enrolled(object_type="deals", object_id="1", properties={}, currency="USD")
    checks.fits(ActionKind.INVOICE, deal)
    checks.fits(ActionKind.SALES_RECEIPT, _payment())
    with pytest.raises(ActionFailed, match="not on a deal"):
        checks.fits(ActionKind.EXPENSE, deal)
    with pytest.raises(ActionFailed, match="not on a payment"):
        checks.fits(ActionKind.ESTIMATE, _payment())


async def test_r_wf_6_double_post_guard() -> None:
    outbound = wizard_defaults(ObjectPair.INVOICES_INVOICES).model_copy(
        update={"direction": Direction.TWO_WAY, "enabled": True}
    )
    inbound = outbound.model_copy(update={"direction": Direction.QBO_TO_HUBSPOT})
    from_invoice = _payment(invoices=("9",), hs_payment_source="invoice")
    link = _payment(hs_payment_source="payment_link")

    # a payment-link payment: nothing to refuse
    await checks.not_posted_by_invoice_sync(FakeLookups(), _request(), link)
    # an invoice payment that no sync posts: allowed
    view = RuleView(invoices=inbound)
    await checks.not_posted_by_invoice_sync(FakeLookups(view=view), _request(), from_invoice)
    refusals = [
        FakeLookups(linked_invoices={"9"}),
        FakeLookups(synced_payments={"55"}),
        FakeLookups(view=RuleView(invoices=outbound)),
    ]
    for lookups in refusals:
        with pytest.raises(ActionFailed, match=checks.DOUBLE_POST) as error:
            await checks.not_posted_by_invoice_sync(lookups, _request(), from_invoice)
        assert _category(error) is ErrorCategory.DOUBLE_POST
    # ... unless the action allows it
    await checks.not_posted_by_invoice_sync(
        refusals[0], _request(allow_invoice_payments="true"), from_invoice
    )
