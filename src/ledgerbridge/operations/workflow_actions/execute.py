"""One execution of a workflow action, from the checks to the QBO document.

Every check runs before the first write (R-WF-2, R-WF-3, R-WF-6, R-WF-9): the company is a
US company and the one asked for; the action fits the enrolled object; a payment that
invoice sync posts is refused (unless the action allows it); a paid invoice has no taxable
line; a refund receipt needs a fully refunded payment; every line matches a QBO item (or
may create one); the contact passes (legacy match or the contact rule's filters); named
accounts and terms exist. Then the writes: customer, items, the document (and for a paid
invoice its payment), each with a `requestid` derived from the callbackId, so running the
same execution twice writes each of them once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ledgerbridge.hubspot.actions import ActionKind, ExecutionRequest
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.operations.workflow_actions import checks
from ledgerbridge.operations.workflow_actions.customers import plan_customer
from ledgerbridge.operations.workflow_actions.documents import (
    expense_body,
    payment_body,
    sales_body,
    txn_date,
)
from ledgerbridge.operations.workflow_actions.gather import read_enrolled
from ledgerbridge.operations.workflow_actions.items import plan_items
from ledgerbridge.operations.workflow_actions.model import ActionFailed, Enrolled, Lookups
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.workflow_docs import (
    create_for_callback,
    document_url,
    find_account,
    find_term,
)
from ledgerbridge.sync.errors import ErrorCategory

__all__ = ["ENTITIES", "Written", "execute"]

ENTITIES: dict[ActionKind, str] = {
    ActionKind.INVOICE: "Invoice",
    ActionKind.ESTIMATE: "Estimate",
    ActionKind.SALES_RECEIPT: "SalesReceipt",
    ActionKind.PAID_INVOICE: "Invoice",
    ActionKind.EXPENSE: "Purchase",
    ActionKind.REFUND_RECEIPT: "RefundReceipt",
}
BANK = ("Bank",)
DEPOSIT = ("Bank", "Other Current Asset")
EXPENSE = ("Expense", "Other Expense")


@dataclass(frozen=True, slots=True)
class Written:
    """The document an execution created."""

    entity: str
    id: str
    doc_number: str | None
    url: str


@dataclass(frozen=True, slots=True)
class Context:
    request: ExecutionRequest
    hubspot: HubSpotClient
    qbo: QboClient
    lookups: Lookups
    now: dt.datetime

    @property
    def memo(self) -> str:
        return f"HubSpot workflow action (callback {self.request.callback_id})"

    async def create(self, entity: str, body: dict[str, Any], step: str) -> dict[str, Any]:
        return await create_for_callback(
            self.qbo, entity, body, callback_id=self.request.callback_id, step=step
        )


async def _account(
    ctx: Context, input_name: str, kinds: tuple[str, ...], *, required: bool
) -> str | None:
    wanted = ctx.request.input(input_name) or None
    if wanted is None and not required:
        return None
    found = await find_account(ctx.qbo, wanted, kinds)
    if found is None:
        what = f"'{wanted}'" if wanted else f"of type {' or '.join(kinds)}"
        raise ActionFailed(
            ErrorCategory.VALIDATION, f"The QuickBooks company has no active account {what}."
        )
    return str(found["Id"])


async def _expense(ctx: Context, enrolled: Enrolled) -> dict[str, Any]:
    checks.has_fees(enrolled)
    bank = await _account(ctx, "paid_from_account", BANK, required=True)
    fees = await _account(ctx, "fee_account", EXPENSE, required=True)
    assert bank is not None and fees is not None
    body = expense_body(
        enrolled,
        bank_account=bank,
        fee_account=fees,
        date=txn_date(enrolled, ctx.now.date()),
        memo=ctx.memo,
    )
    return await ctx.create("Purchase", body, "document")


async def _sales(ctx: Context, kind: ActionKind, enrolled: Enrolled) -> dict[str, Any]:
    request = ctx.request
    if enrolled.is_payment and kind in (ActionKind.PAID_INVOICE, ActionKind.SALES_RECEIPT):
        await checks.not_posted_by_invoice_sync(ctx.lookups, request, enrolled)
    if kind is ActionKind.PAID_INVOICE:
        checks.non_taxable(enrolled)
    if kind is ActionKind.REFUND_RECEIPT:
        checks.fully_refunded(enrolled)
    items = await plan_items(ctx.qbo, ctx.lookups, request, enrolled)
    customer = await plan_customer(ctx.hubspot, ctx.qbo, ctx.lookups, request, enrolled, ctx.now)
    terms_id: str | None = None
    if kind is ActionKind.INVOICE and request.input("payment_terms"):
        term = await find_term(ctx.qbo, request.input("payment_terms"))
        if term is None:
            raise ActionFailed(
                ErrorCategory.VALIDATION,
                f"QuickBooks has no payment terms named '{request.input('payment_terms')}'.",
            )
        terms_id = str(term["Id"])
    deposit: str | None = None
    if kind in (ActionKind.SALES_RECEIPT, ActionKind.PAID_INVOICE):
        deposit = await _account(ctx, "deposit_account", DEPOSIT, required=False)
    elif kind is ActionKind.REFUND_RECEIPT:
        deposit = await _account(ctx, "refund_from_account", BANK, required=True)
    # ---- every check passed: write
    customer_id = customer.customer_id
    if customer_id is None:
        assert customer.create is not None
        made = await ctx.create("Customer", customer.create.body, customer.create.step)
        customer_id = str(made["Id"])
    resolved = dict(items.items)
    for line_id, pending in items.creates.items():
        resolved[line_id] = str((await ctx.create("Item", pending.body, pending.step))["Id"])
    date = txn_date(enrolled, ctx.now.date())
    body = sales_body(
        enrolled,
        customer_id,
        resolved,
        date=date,
        memo=ctx.memo,
        terms_id=terms_id,
        deposit_account=deposit if kind is not ActionKind.PAID_INVOICE else None,
    )
    document = await ctx.create(ENTITIES[kind], body, "document")
    if kind is ActionKind.PAID_INVOICE:
        payment = payment_body(
            customer_id, document, date=date, deposit_account=deposit, memo=ctx.memo
        )
        await ctx.create("Payment", payment, "payment")
    return document


async def execute(
    kind: ActionKind,
    request: ExecutionRequest,
    *,
    hubspot: HubSpotClient,
    qbo: QboClient,
    lookups: Lookups,
    now: dt.datetime,
) -> Written:
    """Run action `kind` for `request`; `ActionFailed` (nothing written) when a check fails."""
    await checks.us_company(qbo, request)
    enrolled = await read_enrolled(hubspot, request)
    checks.fits(kind, enrolled)
    ctx = Context(request, hubspot, qbo, lookups, now)
    if kind is ActionKind.EXPENSE:
        document = await _expense(ctx, enrolled)
    else:
        document = await _sales(ctx, kind, enrolled)
    entity = ENTITIES[kind]
    doc_id = str(document["Id"])
    number = document.get("DocNumber")
    return Written(
        entity=entity,
        id=doc_id,
        doc_number=str(number) if number else None,
        url=document_url(qbo.base_url, entity, doc_id),
    )
