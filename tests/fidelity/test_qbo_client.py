"""python-quickbooks (unchanged; only its base URL pointed at the sandbox) over real HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from quickbooks import QuickBooks
from quickbooks.batch import batch_create
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import (
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    ValidationException,
)
from quickbooks.objects.base import EmailAddress, LinkedTxn, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment, PaymentLine
from requests_oauthlib import OAuth2Session

from ledgerbridge.sandbox.qbo import CompanySettings, QboSandboxConfig, create_app
from tests.support.servers import serve_in_thread

REALM = "1000000001"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    config = QboSandboxConfig(realms={REALM: CompanySettings()})
    with pytest.MonkeyPatch.context() as mp:
        # requests-oauthlib refuses plain http unless told this is a local test server.
        mp.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
        with serve_in_thread(create_app(config)) as url:
            yield url


def client(base_url: str, token: str = "sandbox") -> QuickBooks:
    qb = QuickBooks(company_id=REALM, minorversion=75)
    qb.session = OAuth2Session("client-id", token={"access_token": token, "token_type": "Bearer"})
    qb.sandbox = True
    qb.sandbox_api_url_v3 = f"{base_url}/v3"  # the only change: the base URL
    return qb


@pytest.fixture
def qb(base_url: str) -> QuickBooks:
    assert os.environ.get("OAUTHLIB_INSECURE_TRANSPORT") == "1"
    return client(base_url)


def _item(qb: QuickBooks, name: str, price: str = "25") -> Item:
    item = Item()
    item.Name = name
    item.Type = "Service"
    item.UnitPrice = Decimal(price)
    income = Ref()
    income.value = "1"
    item.IncomeAccountRef = income
    return item.save(qb=qb)


def _customer(qb: QuickBooks, name: str) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    customer.GivenName = name.split()[0]
    email = EmailAddress()
    email.Address = f"{name.split()[0].lower()}@example.com"
    customer.PrimaryEmailAddr = email
    return customer.save(qb=qb)


def _invoice(qb: QuickBooks, customer: Customer, item: Item, qty: int = 2) -> Invoice:
    invoice = Invoice()
    line = SalesItemLine()
    line.Amount = Decimal(qty) * Decimal(str(item.UnitPrice))
    line.Description = "Work"
    detail = SalesItemLineDetail()
    detail.ItemRef = item.to_ref()
    detail.Qty = qty
    detail.UnitPrice = item.UnitPrice
    line.SalesItemLineDetail = detail
    invoice.Line.append(line)
    invoice.CustomerRef = customer.to_ref()
    return invoice.save(qb=qb)


def test_customers_create_read_query_sparse_update_deactivate(qb: QuickBooks) -> None:
    created = _customer(qb, "Grace Hopper")
    assert int(created.Id) > 0 and created.SyncToken == "0"
    read = Customer.get(created.Id, qb=qb)
    assert read.DisplayName == "Grace Hopper"
    assert read.PrimaryEmailAddr.Address == "grace@example.com"
    found = Customer.filter(DisplayName="Grace Hopper", qb=qb)
    assert [c.Id for c in found] == [created.Id]
    assert Customer.count("DisplayName LIKE 'Grace%'", qb=qb) == 1
    read.sparse = True
    read.Notes = "Admiral"
    updated = read.save(qb=qb)
    assert updated.Notes == "Admiral" and updated.SyncToken == "1"
    updated.sparse = True
    updated.Active = False
    gone = updated.save(qb=qb)
    assert gone.Active is False
    assert Customer.filter(DisplayName="Grace Hopper", qb=qb) == []


def test_items_create_query_batch_create(qb: QuickBooks) -> None:
    item = _item(qb, "Fidelity consulting")
    assert Item.get(item.Id, qb=qb).UnitPrice == 25
    names = [f"Batch item {n}" for n in range(3)]
    fresh = []
    for name in names:
        obj = Item()
        obj.Name = name
        obj.Type = "Service"
        obj.UnitPrice = 10
        ref = Ref()
        ref.value = "1"
        obj.IncomeAccountRef = ref
        fresh.append(obj)
    result = batch_create(fresh, qb=qb)
    assert result.faults == []
    assert sorted(i.Name for i in result.successes) == names
    listed = Item.where("Name LIKE 'Batch item%'", order_by="Name", qb=qb)
    assert [i.Name for i in listed] == names
    everything = Item.all(qb=qb)
    assert {i.Name for i in everything} >= {*names, "Fidelity consulting"}


def test_invoices_and_payments_full_cycle(qb: QuickBooks) -> None:
    customer = _customer(qb, "Alan Turing")
    item = _item(qb, "Enigma service", price="40")
    invoice = _invoice(qb, customer, item, qty=3)
    assert invoice.TotalAmt == 120 and invoice.Balance == 120
    assert Invoice.get(invoice.Id, qb=qb).DocNumber == invoice.DocNumber
    assert [i.Id for i in Invoice.filter(CustomerRef=customer.Id, qb=qb)] == [invoice.Id]

    invoice.sparse = True
    invoice.PrivateNote = "sparse note"
    invoice = invoice.save(qb=qb)
    assert invoice.PrivateNote == "sparse note" and invoice.TotalAmt == 120

    payment = Payment()
    payment.TotalAmt = 50
    payment.CustomerRef = customer.to_ref()
    line = PaymentLine()
    line.Amount = 50
    link = LinkedTxn()
    link.TxnId = invoice.Id
    link.TxnType = "Invoice"
    line.LinkedTxn.append(link)
    payment.Line.append(line)
    payment = payment.save(qb=qb)
    assert Invoice.get(invoice.Id, qb=qb).Balance == 70

    payment.void(qb=qb)
    voided_payment = Payment.get(payment.Id, qb=qb)
    assert voided_payment.TotalAmt == 0
    assert Invoice.get(invoice.Id, qb=qb).Balance == 120

    fresh = Payment.get(payment.Id, qb=qb)
    fresh.delete(qb=qb)
    with pytest.raises(ObjectNotFoundException) as missing:
        Payment.get(payment.Id, qb=qb)
    assert missing.value.error_code == 610

    current = Invoice.get(invoice.Id, qb=qb)
    current.void(qb=qb)
    voided = Invoice.get(invoice.Id, qb=qb)
    assert voided.TotalAmt == 0 and len(voided.Line) == len(current.Line)

    other = _invoice(qb, customer, item)
    other.delete(qb=qb)
    with pytest.raises(ObjectNotFoundException):
        Invoice.get(other.Id, qb=qb)


def test_pdf_download(qb: QuickBooks) -> None:
    customer = _customer(qb, "Ada PDF")
    item = _item(qb, "PDF work", price="12.5")
    invoice = _invoice(qb, customer, item, qty=4)
    content = invoice.download_pdf(qb=qb)
    assert content.startswith(b"%PDF-")
    assert invoice.DocNumber.encode() in content
    assert b"Ada PDF" in content
    assert b"50.00" in content


def test_cdc(qb: QuickBooks) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    customer = _customer(qb, "Claude Shannon")
    item = _item(qb, "CDC item")
    invoice = _invoice(qb, customer, item)
    doomed = _invoice(qb, customer, item)
    doomed.delete(qb=qb)
    response = change_data_capture([Invoice, Customer], since, qb=qb)
    invoice_ids = {i.Id for i in response.Invoice}
    assert invoice.Id in invoice_ids and doomed.Id in invoice_ids
    deleted = next(i for i in response.Invoice if i.Id == doomed.Id)
    assert deleted.status == "Deleted"
    assert customer.Id in {c.Id for c in response.Customer}


def test_stale_sync_token_raises_the_clients_exception(qb: QuickBooks) -> None:
    customer = _customer(qb, "Stale Sam")
    first = Customer.get(customer.Id, qb=qb)
    second = Customer.get(customer.Id, qb=qb)
    first.sparse = True
    first.Notes = "one"
    first.save(qb=qb)
    second.sparse = True
    second.Notes = "two"
    with pytest.raises(QuickbooksException) as caught:
        second.save(qb=qb)
    # python-quickbooks has no dedicated stale-object class: codes 5000-9999 raise the base class.
    assert type(caught.value) is QuickbooksException
    assert caught.value.error_code == 5010
    assert caught.value.message == "Stale Object Error"


def test_duplicate_display_name_raises_6240(qb: QuickBooks) -> None:
    _customer(qb, "Dup Name")
    with pytest.raises(QuickbooksException) as caught:
        _customer(qb, "Dup Name")
    assert caught.value.error_code == 6240
    assert caught.value.message == "Duplicate Name Exists Error"
    # The client maps only codes 2000-4999 to ValidationException; 6240 raises the base class.
    assert not isinstance(caught.value, ValidationException)


def test_invalid_reference_is_a_validation_exception(qb: QuickBooks) -> None:
    customer = _customer(qb, "Ref Rita")
    item = Item()
    item.Id = "99999"
    item.Name = "ghost"
    item.UnitPrice = 1
    with pytest.raises(ValidationException) as caught:
        _invoice(qb, customer, item)
    assert caught.value.error_code == 2500


def test_bad_token_raises_authorization_exception(base_url: str) -> None:
    with pytest.raises(AuthorizationException) as caught:
        Customer.all(qb=client(base_url, token="wrong"))
    assert caught.value.error_code == 401
    assert "AuthenticationFailed" in caught.value.detail


def test_full_updates_round_trip(qb: QuickBooks) -> None:
    customer = _customer(qb, "Full Fred")
    item = _item(qb, "Full item", price="30")
    invoice = Invoice.get(_invoice(qb, customer, item).Id, qb=qb)
    invoice.PrivateNote = "full update"
    saved = invoice.save(qb=qb)  # sends every field back, SubTotal line included
    assert saved.PrivateNote == "full update" and saved.TotalAmt == 60
    assert saved.SyncToken == "1" and len(saved.Line) == 2
    read = Customer.get(customer.Id, qb=qb)
    read.CompanyName = "Fred Inc"
    assert read.save(qb=qb).CompanyName == "Fred Inc"
