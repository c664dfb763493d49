"""Invoice set-up checks and the invoice PDF (R-INV-8, R-INV-12, R-INV-13).

- `invoice_rule_problems(rule, existing, qbo)`: what stops an invoice rule from
  being saved. Outbound (or two-way) invoice sync is refused for a QBO company
  outside the US (`CompanyInfo.Country`): most require tax on every invoice line
  and HubSpot invoices carry none (R-INV-8).
- `invoice_setup_warnings(qbo)`: what the user should change in QBO (R-INV-12):
  "custom transaction numbers" on (QBO invoices would take HubSpot's numbers and
  collide), and no "close the books" date (`AccountingInfoPrefs.BookCloseDate`).
  Warnings never stop a rule; the CLI and the dashboard show them.
- `invoice_pdf(store, connection_id, ref)`: QBO's own PDF of a synced invoice,
  named by its HubSpot id, its QBO id, or `hubspot:<id>` / `quickbooks:<id>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledgerbridge.domain import System
from ledgerbridge.errors import InvoiceNotSyncedError as InvoiceNotSyncedError
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store
from ledgerbridge.sync.rules import ObjectPair, SyncRule
from ledgerbridge.transport.http import HttpClient

US = "US"
CUSTOM_TXN_NUMBERS_WARNING = (
    "QuickBooks 'custom transaction numbers' is on: invoices from HubSpot keep HubSpot's "
    "number and may collide with QuickBooks' own. Turn it off in QuickBooks (Account and "
    "settings → Sales → Custom transaction numbers)."
)
CLOSE_BOOKS_WARNING = (
    "QuickBooks 'close the books' is off: synced invoices in closed periods could still be "
    "changed. Turn it on in QuickBooks (Account and settings → Advanced → Accounting)."
)


def requires_tax(company_info: dict[str, Any]) -> bool:
    """Whether the company is outside the US (where QBO requires tax on invoices)."""
    country = str(company_info.get("Country") or US).strip().upper()
    return country not in (US, "USA", "UNITED STATES")


async def invoice_rule_problems(
    rule: SyncRule, existing: Sequence[SyncRule], qbo: QboClient
) -> list[str]:
    """`rule.validate_for_save(...)`, knowing whether the QBO company requires tax."""
    needs_tax = False
    if rule.object_pair is ObjectPair.INVOICES_INVOICES and rule.allows(System.HUBSPOT):
        needs_tax = requires_tax(await qbo.company_info())
    return rule.validate_for_save(existing, qbo_requires_tax=needs_tax)


async def invoice_setup_warnings(qbo: QboClient) -> list[str]:
    """QBO settings that work against invoice sync (R-INV-12)."""
    preferences = await qbo.preferences()
    warnings: list[str] = []
    sales = preferences.get("SalesFormsPrefs") or {}
    if sales.get("CustomTxnNumbers"):
        warnings.append(CUSTOM_TXN_NUMBERS_WARNING)
    accounting = preferences.get("AccountingInfoPrefs") or {}
    if not accounting.get("BookCloseDate"):
        warnings.append(CLOSE_BOOKS_WARNING)
    return warnings


def linked_qbo_invoice(store: Store, connection_id: int, ref: str) -> str:
    """The QBO id of the synced invoice `ref` names (a HubSpot or a QBO id)."""
    system, _, bare = ref.rpartition(":")
    with store.begin() as tx:
        links = tx.list_links(connection_id, ObjectPair.INVOICES_INVOICES.value)
    for link in links:
        if system in ("", System.HUBSPOT.value) and link.hubspot_id == bare:
            return link.qbo_id
        if system in ("", System.QUICKBOOKS.value, "qbo") and link.qbo_id == bare:
            return link.qbo_id
    raise InvoiceNotSyncedError(f"{ref} is not a synced invoice of connection {connection_id}")


async def invoice_pdf(
    store: Store,
    connection_id: int,
    ref: str,
    *,
    qbo: QboClient | None = None,
    settings: Settings | None = None,
    http: HttpClient | None = None,
) -> bytes:
    """QBO's own PDF of the synced invoice `ref` (R-INV-13), through the connector.

    `qbo`: a ready client (tests, the web app); else one is built for the stored
    connection from `settings` (its tokens come from the store).
    """
    qbo_id = linked_qbo_invoice(store, connection_id, ref)
    if qbo is not None:
        return await qbo.pdf("Invoice", qbo_id)
    from ledgerbridge.runtime.clients import build_clients
    from ledgerbridge.runtime.connection import load_connection
    from ledgerbridge.settings import load_settings

    row = load_connection(store, connection_id)
    clients = build_clients(row, settings=settings or load_settings(None), store=store, http=http)
    try:
        return await clients.qbo.pdf("Invoice", qbo_id)
    finally:
        await clients.aclose()
