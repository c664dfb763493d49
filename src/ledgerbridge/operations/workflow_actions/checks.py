"""The checks before anything is written (R-WF-6, R-WF-8, R-WF-9 and the double-post guard).

Each raises `ActionFailed` with the category and a reason a workflow user can act on.
"""

from __future__ import annotations

from decimal import Decimal

from ledgerbridge.domain.refs import System
from ledgerbridge.hubspot.actions import OBJECT_TYPES, ActionKind, ExecutionRequest
from ledgerbridge.operations.workflow_actions.gather import ENROLLED_TYPES
from ledgerbridge.operations.workflow_actions.model import ActionFailed, Enrolled, Lookups, yes
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.sync.errors import ErrorCategory

__all__ = [
    "DOUBLE_POST",
    "fits",
    "fully_refunded",
    "has_fees",
    "non_taxable",
    "not_posted_by_invoice_sync",
    "us_company",
]

DOUBLE_POST = "this payment is already in QuickBooks through invoice sync"


async def us_company(qbo: QboClient, request: ExecutionRequest) -> None:
    """R-WF-9: only US companies, and only the connection's company."""
    wanted = request.input("qbo_company")
    if wanted and wanted != qbo.realm_id:
        raise ActionFailed(
            ErrorCategory.VALIDATION,
            f"QuickBooks company {wanted} is not connected (the connected company is "
            f"{qbo.realm_id}); correct the action's QuickBooks company input.",
        )
    info = await qbo.company_info()
    country = str(info.get("Country") or "").upper()
    if country != "US":
        raise ActionFailed(
            ErrorCategory.UNSUPPORTED_COMPANY,
            "QuickBooks workflow actions are offered only for US QuickBooks companies; "
            f"this company is in {country or 'an unknown country'}. Nothing was created.",
        )


def fits(kind: ActionKind, enrolled: Enrolled) -> None:
    """The action runs on this kind of record (a deal-or-quote action on a deal …)."""
    allowed = {ENROLLED_TYPES[t] for t in OBJECT_TYPES[kind] if t in ENROLLED_TYPES}
    if enrolled.object_type not in allowed:
        kinds = ", ".join(sorted(a.replace("commerce_payments", "payments") for a in allowed))
        raise ActionFailed(
            ErrorCategory.VALIDATION,
            f"This action runs on {kinds}, not on a {enrolled.noun}.",
        )


def non_taxable(enrolled: Enrolled) -> None:
    """R-WF-6: a paid invoice only for non-taxable line items."""
    taxable = [line.label for line in enrolled.lines if line.taxable]
    if taxable:
        raise ActionFailed(
            ErrorCategory.VALIDATION,
            "A paid invoice can only be created for non-taxable line items; these are "
            f"taxable: {', '.join(taxable)}. Use 'Create QuickBooks sales receipt' instead.",
        )


def fully_refunded(enrolled: Enrolled) -> None:
    """R-WF-8: a refund receipt posts a full refund."""
    status = (enrolled.prop("hs_latest_status") or "").lower()
    amount = enrolled.amount("hs_initial_amount")
    refunded = enrolled.amount("hs_refunds_amount")
    if status != "refunded" or (refunded and refunded < amount):
        raise ActionFailed(
            ErrorCategory.VALIDATION,
            f"Payment {enrolled.object_id} is not fully refunded (status {status or 'unknown'}"
            f", refunded {refunded} of {amount}); a refund receipt posts full refunds only.",
        )


def has_fees(enrolled: Enrolled) -> None:
    """R-WF-7: an expense needs a processing or platform fee."""
    fees = enrolled.amount("hs_processing_fee") + enrolled.amount("hs_platform_fee")
    if fees <= Decimal(0):
        raise ActionFailed(
            ErrorCategory.VALIDATION,
            f"Payment {enrolled.object_id} has no processing or platform fee to post.",
        )


async def not_posted_by_invoice_sync(
    lookups: Lookups, request: ExecutionRequest, enrolled: Enrolled
) -> None:
    """R-WF-6 (beyond): refuse a payment that invoice sync posts (one payment, two invoices),
    unless the action allows it. Invoice sync posts it when the payment is linked, or its
    invoice is linked, or an invoice rule syncs HubSpot invoices to QuickBooks."""
    if yes(request.input("allow_invoice_payments", "false")):
        return
    posted = await lookups.payment_is_synced(enrolled.object_id)
    from_invoice = bool(enrolled.invoice_ids) or enrolled.prop("hs_payment_source") == "invoice"
    if not from_invoice and not posted:
        return
    posted = posted or bool(await lookups.synced_invoices(list(enrolled.invoice_ids)))
    if not posted:
        rule = (await lookups.rules()).invoices
        posted = rule is not None and rule.enabled and System.HUBSPOT in rule.direction.sources
    if posted:
        raise ActionFailed(
            ErrorCategory.DOUBLE_POST,
            f"Payment {enrolled.object_id}: {DOUBLE_POST}. Exclude payments whose source is "
            "an invoice from the workflow's enrollment trigger.",
        )
