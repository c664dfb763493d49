"""The set-up wizard's steps, in HubSpot's order (R-CON-3): contacts and products before
invoices. The terminal (`ledgerbridge rules setup`) and the dashboard ask the questions;
this module proposes the answers and checks them.

`propose(service, today=...)` is HubSpot's defaults: contacts ↔ customers two-way,
products QBO → HubSpot with a SKU only (R-PRD-1/2), invoices two-way (payments follow)
with the inbound filter "created after today" (R-INV-3: every invoice created from the
moment of set-up on, today's included; older ones come by `backfill`) and the fixed
outbound filters (R-INV-2). For a QBO company outside the US it proposes invoices
QuickBooks → HubSpot only and says why (R-INV-8). It also gathers the QBO settings
warnings (R-INV-12) and the income accounts the "Custom line item" can use (R-PRD-3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ledgerbridge.operations.rules.service import RulesService
from ledgerbridge.sync.defaults import wizard_defaults, wizard_invoice_rule
from ledgerbridge.sync.rules import Direction, InvoiceSettings, ObjectPair, SyncRule

PREFERRED_INCOME_ACCOUNTS = ("Sales of Product Income", "Services", "Sales")
NON_US_INVOICES = (
    "Invoices sync from QuickBooks to HubSpot only: this QuickBooks company is outside the "
    "US, where QuickBooks requires tax on every invoice, and HubSpot invoices carry none "
    "(R-INV-8)."
)


@dataclass
class SetupProposal:
    """The rules the wizard proposes, and what the user should know before saving them."""

    rules: list[SyncRule]
    income_accounts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outbound_invoices_allowed: bool = True


def choose_income_account(choices: list[str], wanted: str | None = None) -> str | None:
    """`wanted` when given; else the usual product income account, else the first one."""
    if wanted:
        return wanted
    for name in PREFERRED_INCOME_ACCOUNTS:
        if name in choices:
            return name
    return choices[0] if choices else None


def invoice_rule(direction: Direction, today: dt.date, income_account: str | None) -> SyncRule:
    rule = wizard_invoice_rule(direction, today)
    return rule.model_copy(
        update={"invoice": InvoiceSettings(custom_line_item_income_account=income_account)}
    )


async def propose(
    service: RulesService,
    *,
    today: dt.date,
    invoice_direction: Direction = Direction.TWO_WAY,
    income_account: str | None = None,
) -> SetupProposal:
    """HubSpot's defaults for this connection (see the module docstring)."""
    accounts = service.accounts
    proposal = SetupProposal(rules=[])
    if accounts is not None:
        proposal.income_accounts = await accounts.income_accounts()
        proposal.warnings = await accounts.setup_warnings()
        if await accounts.requires_tax():
            proposal.outbound_invoices_allowed = False
            proposal.notes.append(NON_US_INVOICES)
            invoice_direction = Direction.QBO_TO_HUBSPOT
    account = choose_income_account(proposal.income_accounts, income_account)
    proposal.rules = [
        wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS),
        wizard_defaults(ObjectPair.PRODUCTS_ITEMS),
        invoice_rule(invoice_direction, today, account),
    ]
    return proposal
