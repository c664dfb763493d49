"""`python -m bench.naive a|b --hubspot URL --qbo URL`: the naive peer, a user's hand-written
sync script with the official clients (hubspot-api-client, python-quickbooks): one request
per record and per association, one at a time, retrying on 429 as the clients' docs show
(urllib3 `Retry`). It runs on the same seeded data as the engine (bench/README.md) and
prints `{"seconds": …}` as JSON on its last line.

(a) QBO → HubSpot: read customers, items and invoices (query pages of 1,000); create each
contact and product; per invoice: create it (a draft), associate its contact, create each
line item (`hs_product_id` set) and associate it, then set the status to open.
(b) HubSpot → QBO: list contacts and invoices (pages of 100, associations inline), read
each line item, read the items (by SKU); create each customer, then each invoice."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from types import SimpleNamespace
from typing import Any

from urllib3.util.retry import Retry

REALM = "1000000001"  # ledgerbridge.commands._demo_stack.DEMO_REALM
TOKEN = "sandbox"  # ledgerbridge.commands._demo_stack.DEMO_TOKEN
PAGE = 1000


def _retry() -> Retry:
    """Retry on 429 (after Retry-After when given, else backing off), any method."""
    return Retry(
        total=30,
        status_forcelist=[429],
        allowed_methods=None,
        backoff_factor=0.5,
        backoff_max=10,
        respect_retry_after_header=True,
    )


def hubspot_client(url: str) -> Any:
    from hubspot import HubSpot

    return HubSpot(access_token=TOKEN, host=url.rstrip("/"), retry=_retry())


def qbo_client(url: str) -> Any:
    from quickbooks import QuickBooks
    from requests.adapters import HTTPAdapter

    class Local(QuickBooks):  # type: ignore[misc]
        @property
        def api_url(self) -> str:
            return f"{url.rstrip('/')}/v3"

    # intuitlib's AuthClient fetches Intuit's discovery document when it is made (no
    # network here); python-quickbooks only reads these four attributes of it.
    auth = SimpleNamespace(
        access_token=TOKEN, refresh_token="-", client_id="bench", environment="production"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qb = Local(auth_client=auth, refresh_token="-", company_id=REALM, minorversion=75)
    qb.session.mount("http://", HTTPAdapter(max_retries=_retry()))
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the sandbox is plain http on loopback
    return qb


def _all(kind: Any, qb: Any) -> list[Any]:
    found, start = [], 1
    while True:
        page = kind.all(start_position=start, max_results=PAGE, qb=qb)
        found += page
        if len(page) < PAGE:
            return found
        start += PAGE


def peer_a(hubspot: Any, qb: Any) -> None:
    from hubspot.crm.objects import SimplePublicObjectInput, SimplePublicObjectInputForCreate
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.invoice import Invoice
    from quickbooks.objects.item import Item

    def create(kind: str, properties: dict[str, str]) -> str:
        made = hubspot.crm.objects.basic_api.create(
            kind, SimplePublicObjectInputForCreate(properties=properties)
        )
        return str(made.id)

    def associate(kind: str, one: str, other: str, two: str) -> None:
        hubspot.crm.associations.v4.basic_api.create_default(kind, one, other, two)

    contacts = {}
    for c in _all(Customer, qb):
        email = c.PrimaryEmailAddr.Address if c.PrimaryEmailAddr else ""
        props = {"email": email, "firstname": c.GivenName or "", "lastname": c.FamilyName or ""}
        contacts[str(c.Id)] = create("contacts", props)
    products = {}
    for i in _all(Item, qb):
        props = {"name": i.Name, "price": str(i.UnitPrice), "hs_sku": i.Sku or ""}
        products[str(i.Id)] = create("products", props)
    for invoice in _all(Invoice, qb):
        made = create("invoices", {"hs_currency": "USD"})
        associate("invoices", made, "contacts", contacts[str(invoice.CustomerRef.value)])
        for line in invoice.Line:
            detail = getattr(line, "SalesItemLineDetail", None)
            if detail is None:
                continue
            props = {
                "name": line.Description or "",
                "quantity": str(detail.Qty),
                "price": str(detail.UnitPrice),
                "hs_product_id": products[str(detail.ItemRef.value)],
            }
            associate("invoices", made, "line_items", create("line_items", props))
        status = SimplePublicObjectInput(properties={"hs_invoice_status": "open"})
        hubspot.crm.objects.basic_api.update("invoices", made, status)


def _pages(hubspot: Any, kind: str, properties: list[str], associations: list[str]) -> list[Any]:
    found, after = [], None
    while True:
        page = hubspot.crm.objects.basic_api.get_page(
            kind, limit=100, after=after, properties=properties, associations=associations
        )
        found += page.results
        if page.paging is None or page.paging.next is None:
            return found
        after = page.paging.next.after


def _ids(record: Any, kind: str) -> list[str]:
    associations = (record.associations or {}).get(kind)
    return [str(a.id) for a in associations.results] if associations else []


def peer_b(hubspot: Any, qb: Any) -> None:
    from quickbooks.objects.base import EmailAddress
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
    from quickbooks.objects.invoice import Invoice
    from quickbooks.objects.item import Item

    items = {i.Sku: i for i in _all(Item, qb)}
    customers = {}
    for contact in _pages(hubspot, "contacts", ["email", "firstname", "lastname"], []):
        p = contact.properties
        customer = Customer()
        customer.GivenName, customer.FamilyName = p.get("firstname"), p.get("lastname")
        customer.DisplayName = f"{p.get('firstname')} {p.get('lastname')} ({p.get('email')})"
        customer.PrimaryEmailAddr = EmailAddress()
        customer.PrimaryEmailAddr.Address = p.get("email")
        customers[str(contact.id)] = customer.save(qb=qb)
    wanted = ["name", "quantity", "price", "hs_sku"]
    for record in _pages(hubspot, "invoices", ["hs_invoice_status"], ["contacts", "line_items"]):
        invoice = Invoice()
        invoice.CustomerRef = customers[_ids(record, "contacts")[0]].to_ref()
        for line_id in _ids(record, "line_items"):
            p = hubspot.crm.line_items.basic_api.get_by_id(line_id, properties=wanted).properties
            line = SalesItemLine()
            line.SalesItemLineDetail = SalesItemLineDetail()
            line.SalesItemLineDetail.ItemRef = items[p["hs_sku"]].to_ref()
            line.SalesItemLineDetail.Qty = float(p["quantity"])
            line.SalesItemLineDetail.UnitPrice = float(p["price"])
            line.Amount = float(p["quantity"]) * float(p["price"])
            line.Description = p.get("name")
            invoice.Line.append(line)
        invoice.save(qb=qb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.naive", description=__doc__)
    parser.add_argument("scenario", choices=["a", "b"])
    parser.add_argument("--hubspot", required=True, help="the HubSpot sandbox's URL")
    parser.add_argument("--qbo", required=True, help="the QBO sandbox's URL")
    args = parser.parse_args(argv)
    began = time.monotonic()
    hubspot, qb = hubspot_client(args.hubspot), qbo_client(args.qbo)
    (peer_a if args.scenario == "a" else peer_b)(hubspot, qb)
    print(json.dumps({"seconds": time.monotonic() - began}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
