"""People working in HubSpot and QuickBooks while the engine syncs (the process chaos run).

A HubSpot user writes through the sandbox's user endpoints (`/_sandbox/objects/…`: the CRM
UI, no API faults). A QBO user writes through the QBO API, which injects the same faults
the engine sees: each write carries a `requestid`, so retrying after a 429, a 500 or a
time-out never makes a second record (the sandbox answers a repeated requestid with the
first answer). Every record a user makes is kept in `made` (kind → side → ids), so the
checks can tell users' records from the engine's.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import httpx

TOKEN = {"Authorization": "Bearer sandbox"}
USER_AGENT = "chaos-user"  # tells users' requests from the engine's
REALM = "1000000001"
Obj = dict[str, Any]
INVOICE = {"TxnType": "Invoice"}


class GaveUp(Exception):
    """A user's request failed for good (a validation fault, or faults every time)."""


class Users:
    def __init__(self, hubspot: str, qbo: str, rng: random.Random, seed: int) -> None:
        self.hubspot, self.qbo, self.rng, self.seed = hubspot, qbo, rng, seed
        self.http = httpx.Client(timeout=2.0, headers={**TOKEN, "User-Agent": USER_AGENT})
        self.ids = itertools.count(1)
        self.made: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        self.emails: dict[str, set[str]] = {"hubspot": set(), "qbo": set()}
        self.paid: set[str] = set()  # invoices (either side) with a payment: never voided
        self.voided: dict[str, set[str]] = {"hubspot": set(), "qbo": set()}
        self.income: str | None = None
        self.given_up = 0
        # People on both sides share emails only before the engine starts: once it syncs,
        # a person made on one side may have been copied to the other already, and a user
        # making them again there would make the duplicate, not the engine.
        self.sharing = True

    def close(self) -> None:
        self.http.close()

    def record(self, kind: str, side: str, record_id: str) -> str:
        self.made[kind][side].append(record_id)
        return record_id

    # ---- HubSpot (the CRM UI) ----

    def hs_create(self, obj: str, **props: str) -> str:
        response = self.http.post(
            f"{self.hubspot}/_sandbox/objects/{obj}", json={"properties": props}
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def hs_update(self, obj: str, record_id: str, **props: str) -> None:
        url = f"{self.hubspot}/_sandbox/objects/{obj}/{record_id}"
        self.http.patch(url, json={"properties": props}).raise_for_status()

    def hs_associate(self, obj: str, oid: str, to: str, to_id: str, type_id: int) -> None:
        url = f"{self.hubspot}/_sandbox/associations/{obj}/{oid}/{to}/{to_id}/{type_id}"
        self.http.put(url).raise_for_status()

    def hs_list(self, obj: str, *props: str) -> list[Obj]:
        """Every record of `obj` through the CRM API (retrying injected faults)."""
        rows: list[Obj] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "properties": ",".join(props)}
            if after:
                params["after"] = after
            url = f"{self.hubspot}/crm/v3/objects/{obj}"
            body = self._retry(partial(self.http.get, url, params=params))
            rows += body["results"]
            after = body.get("paging", {}).get("next", {}).get("after")
            if not after:
                return rows

    # ---- QBO (the API, with faults) ----

    def _retry(self, send: Callable[[], httpx.Response], attempts: int = 12) -> Obj:
        for attempt in range(attempts):
            try:
                response = send()
            except httpx.TimeoutException:
                continue
            if response.status_code in (429, 500, 502, 503):
                time.sleep(min(0.05 * 2**attempt, 0.5))
                continue
            if response.status_code >= 400:
                raise GaveUp(f"{response.status_code}: {response.text[:300]}")
            body: Obj = response.json()
            return body
        raise GaveUp("faults every time")

    def qbo_write(self, entity: str, body: Obj, operation: str | None = None) -> Obj:
        request_id = f"u{self.seed}-{next(self.ids)}"
        params = {"requestid": request_id, "minorversion": "75"}
        if operation:
            params["operation"] = operation
        url = f"{self.qbo}/v3/company/{REALM}/{entity.lower()}"
        result = self._retry(partial(self.http.post, url, params=params, json=body))
        row: Obj = result[entity]
        return row

    def qbo_get(self, entity: str, entity_id: str) -> Obj:
        url = f"{self.qbo}/v3/company/{REALM}/{entity.lower()}/{entity_id}"
        row: Obj = self._retry(partial(self.http.get, url))[entity]
        return row

    def qbo_query(self, entity: str, where: str = "") -> list[Obj]:
        rows: list[Obj] = []
        while True:
            text = f"select * from {entity}{where} startposition {len(rows) + 1} maxresults 1000"
            url = f"{self.qbo}/v3/company/{REALM}/query"
            body = self._retry(partial(self.http.get, url, params={"query": text}))
            page = body["QueryResponse"].get(entity, [])
            rows += page
            if len(page) < 1000:
                return rows

    def qbo_update(self, entity: str, entity_id: str, fields: Obj) -> Obj:
        for _ in range(5):  # the engine may write it in between: stale SyncToken, read again
            current = self.qbo_get(entity, entity_id)
            body = {**fields, "Id": entity_id, "SyncToken": current["SyncToken"], "sparse": True}
            try:
                return self.qbo_write(entity, body)
            except GaveUp as exc:
                if "5010" not in str(exc):
                    raise
        raise GaveUp(f"{entity} {entity_id}: stale every time")

    def income_account(self) -> str:
        if self.income is None:
            rows = self.qbo_query("Account", " where AccountType = 'Income'")
            self.income = str(rows[0]["Id"])
        return self.income

    # ---- what people do ----

    def email_for(self, side: str) -> str:
        """Now and then the email of a person the other side's users made (the same person
        on both sides: the engine must link them, not copy them); else a new one."""
        other = "qbo" if side == "hubspot" else "hubspot"
        shared = sorted(self.emails[other] - self.emails[side])
        if self.sharing and shared and self.rng.random() < 0.4:
            email = self.rng.choice(shared)
        else:
            email = f"p{next(self.ids)}.s{self.seed}@chaos.test"
        self.emails[side].add(email)
        return email

    def hs_contact(self) -> None:
        email = self.email_for("hubspot")
        contact = self.hs_create("contacts", email=email, firstname="Pat", lastname=email[:6])
        self.record("contacts", "hubspot", contact)

    def qbo_customer(self) -> None:
        email = self.email_for("qbo")
        body = {"DisplayName": f"Customer {email}", "PrimaryEmailAddr": {"Address": email}}
        self.record("contacts", "qbo", str(self.qbo_write("Customer", body)["Id"]))

    def qbo_item(self) -> None:
        n = next(self.ids)
        body = {
            "Name": f"Item {n} s{self.seed}",
            "Sku": f"SKU-{n}-{self.seed}",
            "Type": "Service",
            "UnitPrice": 10 + n % 7,
            "IncomeAccountRef": {"value": self.income_account()},
        }
        self.record("products", "qbo", str(self.qbo_write("Item", body)["Id"]))

    def hs_edit(self) -> None:
        if self.made["contacts"]["hubspot"]:
            contact = self.rng.choice(self.made["contacts"]["hubspot"])
            self.hs_update("contacts", contact, lastname=f"Edit{self.rng.randrange(10**6)}")

    def qbo_edit(self) -> None:
        if self.made["contacts"]["qbo"]:
            customer = self.rng.choice(self.made["contacts"]["qbo"])
            phone = {"FreeFormNumber": f"555-{self.rng.randrange(10**4):04d}"}
            self.qbo_update("Customer", customer, {"PrimaryPhone": phone})

    def hs_invoice(self) -> None:
        contacts = self.made["contacts"]["hubspot"]
        if not contacts:
            return
        invoice = self.hs_create("invoices", hs_currency="USD")
        for _ in range(self.rng.randrange(1, 3)):
            qty, price = self.rng.randrange(1, 4), self.rng.randrange(5, 60)
            line = self.hs_create("line_items", name="Work", quantity=str(qty), price=str(price))
            self.hs_associate("invoices", invoice, "line_items", line, 409)
        self.hs_associate("invoices", invoice, "contacts", self.rng.choice(contacts), 177)
        self.http.post(f"{self.hubspot}/_sandbox/invoices/{invoice}/finalize").raise_for_status()
        self.record("invoices", "hubspot", invoice)

    def qbo_invoice(self) -> None:
        customers, items = self.made["contacts"]["qbo"], self.made["products"]["qbo"]
        if not customers or not items:
            return
        qty, price = self.rng.randrange(1, 4), Decimal(self.rng.randrange(5, 60))
        line = {
            "DetailType": "SalesItemLineDetail",
            "Amount": str(qty * price),
            "SalesItemLineDetail": {
                "ItemRef": {"value": self.rng.choice(items)},
                "Qty": qty,
                "UnitPrice": str(price),
            },
        }
        body = {"CustomerRef": {"value": self.rng.choice(customers)}, "Line": [line]}
        self.record("invoices", "qbo", str(self.qbo_write("Invoice", body)["Id"]))

    def _unpaid(self, side: str) -> list[str]:
        done = self.paid | self.voided[side]
        return [i for i in self.made["invoices"][side] if i not in done]

    def _older_unpaid(self, side: str) -> list[str]:
        """The older half of the unpaid invoices: most of them synced by now, so a void
        usually has to be carried to the other side (a void of a fresh one is kept too)."""
        unpaid = self._unpaid(side)
        return unpaid[: max(1, len(unpaid) // 2)]

    def hs_payment(self) -> None:
        invoices = self._unpaid("hubspot")
        if invoices:
            invoice = self.rng.choice(invoices)
            payment = self.hs_create(
                "commerce_payments",
                hs_initial_amount="1.00",
                hs_currency_code="USD",
                hs_latest_status="succeeded",
                hs_processor_type="hubspot_payments",
                hs_payment_source="invoice",
            )
            self.hs_associate("invoices", invoice, "commerce_payments", payment, 541)
            self.paid.add(invoice)
            self.record("payments", "hubspot", payment)

    def qbo_payment(self) -> None:
        invoices = self._unpaid("qbo")
        if invoices:
            invoice = self.qbo_get("Invoice", self.rng.choice(invoices))
            amount = "1.00"
            body = {
                "CustomerRef": invoice["CustomerRef"],
                "TotalAmt": amount,
                "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], **INVOICE}]}],
            }
            self.paid.add(str(invoice["Id"]))
            self.record("payments", "qbo", str(self.qbo_write("Payment", body)["Id"]))

    def hs_void(self) -> None:
        invoices = self._older_unpaid("hubspot")
        if invoices:
            invoice = self.rng.choice(invoices)
            self.hs_update("invoices", invoice, hs_invoice_status="voided")
            self.voided["hubspot"].add(invoice)

    def qbo_void(self) -> None:
        invoices = self._older_unpaid("qbo")
        if invoices:
            invoice = self.qbo_get("Invoice", self.rng.choice(invoices))
            body = {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}
            self.qbo_write("Invoice", body, operation="void")
            self.voided["qbo"].add(str(invoice["Id"]))

    def act(self) -> None:
        """One user action on either side, weighted like a working day; a request that
        fails for good is given up (a person would try something else)."""
        actions = [
            (self.hs_contact, 4),
            (self.qbo_customer, 3),
            (self.qbo_item, 1),
            (self.hs_edit, 2),
            (self.qbo_edit, 2),
            (self.hs_invoice, 3),
            (self.qbo_invoice, 3),
            (self.hs_payment, 1),
            (self.qbo_payment, 1),
            (self.hs_void, 1),
            (self.qbo_void, 1),
        ]
        action = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
        try:
            action()
        except (GaveUp, httpx.HTTPError):
            self.given_up += 1
