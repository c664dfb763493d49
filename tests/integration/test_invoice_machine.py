"""Hypothesis state machine for invoices and payments over both sandboxes (ASGI).

Users on both sides create invoices, edit their lines, pay them (in part or in full)
and void them, in any order, with sync passes in between, under a two-way invoice
rule (so payments sync both ways). After every pass:

- a second pass writes nothing;
- linked invoices agree: lines, customer, currency, discount, status, and the
  balance due; the payments recorded on each side add up to the same amount;
- no invoice exists twice: every invoice made by a user on one side has at most one
  counterpart on the other, and nothing else exists.

Users only do what the services and the rules allow (R-INV-7: an invoice's lines
are edited on the side that made it; an invoice with payments is not voided).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from ledgerbridge.domain import System
from ledgerbridge.hubspot.codec_commerce import INVOICE_PROPERTIES
from ledgerbridge.store import RecordStatus
from ledgerbridge.store.state import StoreState
from ledgerbridge.sync.defaults import sku_filter
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.rules import Direction, SyncRule
from tests.integration.conftest import contacts_rule, products_rule
from tests.integration.harness import Lab, open_lab
from tests.integration.invoicing import (
    INVOICES,
    hs_associate,
    hs_finalize,
    hs_payment,
    invoice_rule,
    qbo_invoice,
    qbo_item,
    qbo_payment,
)
from tests.support.profiles import machine_settings

H, Q = System.HUBSPOT, System.QUICKBOOKS
AGREE = ("lines", "customer", "currency", "order_discount", "status")
QUANTITIES = ["1", "2", "3"]


def _dec(value: Any) -> Decimal:
    return Decimal(str(value if value not in (None, "") else "0"))


class InvoiceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.stack = contextlib.AsyncExitStack()
        self.lab: Lab = self.run(self.stack.enter_async_context(open_lab("asgi")))
        self.hs_made: list[str] = []
        self.qbo_made: list[str] = []

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            if hasattr(self, "rule"):
                self.sync()
        finally:
            self.run(self.stack.aclose())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    @initialize()
    def setup(self) -> None:
        lab = self.lab
        skus = (sku_filter(Direction.HUBSPOT_TO_QBO), sku_filter(Direction.QBO_TO_HUBSPOT))
        self.rule: SyncRule = invoice_rule(Direction.TWO_WAY)
        lab.save_rule(contacts_rule())
        lab.save_rule(products_rule(direction=Direction.TWO_WAY, filters=skus))
        lab.save_rule(self.rule)
        self.contact = self.run(lab.hs_create("contacts", email="ann@x.io", firstname="Ann"))
        self.item = self.run(qbo_item(lab, "Widget", "W-1", "50"))
        self.run(lab.engine().run_pass())
        self.customer = next(x.qbo_id for x in lab.links(contacts_rule().object_pair))
        self.product = next(x.hubspot_id for x in lab.links(products_rule().object_pair))
        # One synced invoice from each side, so that every user action has a target.
        self.hubspot_user_invoices("2", custom=True)
        self.qbo_user_invoices("1")
        self.run(lab.engine().run_pass())

    # ---- reading both sides ----

    def hs_invoices(self) -> dict[str, Any]:
        client = self.lab.hubspot_client()

        async def read() -> dict[str, Any]:
            props = [*INVOICE_PROPERTIES, "hs_amount_billed"]
            return {r.id: r async for r in client.list_all("invoices", props)}

        found: dict[str, Any] = self.run(read())
        return found

    def qbo_invoices(self) -> dict[str, Any]:
        return {str(r["Id"]): r for r in self.run(self.lab.qbo_all("Invoice"))}

    def linked(self) -> dict[str, str]:
        return {x.hubspot_id: x.qbo_id for x in self.lab.links(INVOICES)}

    def unpaid(self, hs_id: str | None, qbo_id: str | None) -> bool:
        """No payment on either side, and not voided."""
        if hs_id is not None:
            hs = self.hs_invoices()[hs_id]
            if hs.get("hs_invoice_status") == "voided" or _dec(hs.get("hs_amount_paid")) != 0:
                return False
        if qbo_id is not None:
            qbo = self.qbo_invoices()[qbo_id]
            if _dec(qbo.get("Balance")) != _dec(qbo.get("TotalAmt")) or _dec(qbo["TotalAmt"]) == 0:
                return False
        return True

    def settled(self, hs_id: str | None, qbo_id: str | None) -> bool:
        """Both sides show the same total and payments (no change waits for a pass):
        a payment made now cannot conflict with one made on the other side."""
        if hs_id is None or qbo_id is None:
            return True
        hs, qbo = self.hs_invoices()[hs_id], self.qbo_invoices()[qbo_id]
        if hs.get("hs_invoice_status") == "voided":
            return False  # voided in HubSpot, not yet in QBO: a payment would conflict
        paid = _dec(qbo.get("TotalAmt")) - _dec(qbo.get("Balance"))
        return _dec(hs.get("hs_amount_paid")) == paid and _dec(hs.get("hs_balance_due")) == _dec(
            qbo.get("Balance")
        )

    # ---- users ----

    @precondition(lambda self: hasattr(self, "rule"))
    @rule(quantity=st.sampled_from(QUANTITIES), custom=st.booleans())
    def hubspot_user_invoices(self, quantity: str, custom: bool) -> None:
        lab = self.lab
        invoice_id = self.run(lab.hs_create("invoices", hs_currency="USD"))
        props = {"name": "Widget", "quantity": quantity, "price": "50"}
        if custom:
            props = {"name": "Consulting", "quantity": quantity, "price": "30"}
        else:
            props["hs_product_id"] = self.product
        line = self.run(lab.hs_create("line_items", **props))
        self.run(hs_associate(lab, "invoices", invoice_id, "line_items", line, 409))
        self.run(hs_associate(lab, "invoices", invoice_id, "contacts", self.contact, 177))
        self.run(hs_finalize(lab, invoice_id))
        self.hs_made.append(invoice_id)

    @precondition(lambda self: hasattr(self, "rule"))
    @rule(quantity=st.sampled_from(QUANTITIES))
    def qbo_user_invoices(self, quantity: str) -> None:
        made = self.run(qbo_invoice(self.lab, self.customer, [(self.item, quantity, "50")]))
        self.qbo_made.append(str(made["Id"]))

    @rule(data=st.data(), quantity=st.sampled_from(QUANTITIES))
    def hubspot_user_edits_lines(self, data: st.DataObject, quantity: str) -> None:
        if not self.hs_made:
            return
        invoice_id = data.draw(st.sampled_from(self.hs_made))
        if not self.unpaid(invoice_id, self.linked().get(invoice_id)):
            return
        client = self.lab.hubspot_client()
        record = self.run(client.get("invoices", invoice_id, (), ("line_items",)))
        for line_id in record.associated("line_items"):
            self.run(self.lab.hs_update("line_items", line_id, quantity=quantity))
        event("HubSpot line edit")

    @rule(data=st.data(), quantity=st.sampled_from(QUANTITIES))
    def qbo_user_edits_lines(self, data: st.DataObject, quantity: str) -> None:
        if not self.qbo_made:
            return
        qbo_id = data.draw(st.sampled_from(self.qbo_made))
        hs_id = next((h for h, q in self.linked().items() if q == qbo_id), None)
        if not self.unpaid(hs_id, qbo_id):
            return
        line = {
            "DetailType": "SalesItemLineDetail",
            "Amount": int(quantity) * 50,
            "SalesItemLineDetail": {
                "ItemRef": {"value": self.item},
                "Qty": int(quantity),
                "UnitPrice": 50,
            },
        }
        self.run(self.lab.qbo_update("Invoice", qbo_id, {"Line": [line]}))
        event("QBO line edit")

    @rule(data=st.data(), full=st.booleans())
    def hubspot_user_pays(self, data: st.DataObject, full: bool) -> None:
        invoices = self.hs_invoices()
        open_ = sorted(i for i, r in invoices.items() if r.get("hs_invoice_status") == "open")
        if not open_:
            return
        invoice_id = data.draw(st.sampled_from(open_))
        balance = _dec(invoices[invoice_id].get("hs_balance_due"))
        if not self.settled(invoice_id, self.linked().get(invoice_id)):
            return
        amount = balance if full else (balance / 2).quantize(Decimal("0.01"))
        if amount > 0:
            self.run(hs_payment(self.lab, invoice_id, str(amount)))
            event("HubSpot payment")

    @rule(data=st.data(), full=st.booleans())
    def qbo_user_pays(self, data: st.DataObject, full: bool) -> None:
        invoices = self.qbo_invoices()
        open_ = sorted(i for i, r in invoices.items() if _dec(r.get("Balance")) > 0)
        if not open_:
            return
        qbo_id = data.draw(st.sampled_from(open_))
        balance = _dec(invoices[qbo_id]["Balance"])
        hs_id = next((h for h, q in self.linked().items() if q == qbo_id), None)
        if not self.settled(hs_id, qbo_id):
            return
        amount = balance if full else (balance / 2).quantize(Decimal("0.01"))
        if amount > 0:
            self.run(qbo_payment(self.lab, self.customer, qbo_id, str(amount)))
            event("QBO payment")

    @rule(data=st.data())
    def hubspot_user_voids(self, data: st.DataObject) -> None:
        if not self.hs_made:
            return
        invoice_id = data.draw(st.sampled_from(self.hs_made))
        if self.unpaid(invoice_id, self.linked().get(invoice_id)):
            self.run(self.lab.hs_update("invoices", invoice_id, hs_invoice_status="voided"))
            event("HubSpot void")

    @rule(data=st.data())
    def qbo_user_voids(self, data: st.DataObject) -> None:
        if not self.qbo_made:
            return
        qbo_id = data.draw(st.sampled_from(self.qbo_made))
        hs_id = next((h for h, q in self.linked().items() if q == qbo_id), None)
        if not self.unpaid(hs_id, qbo_id):
            return
        client = self.lab.qbo_client()
        token = self.qbo_invoices()[qbo_id]["SyncToken"]
        self.lab.time.advance(1)
        self.run(client.void("Invoice", qbo_id, token, request_id=f"void-{qbo_id}-{token}"))
        event("QBO void")

    # ---- passes and invariants ----

    @precondition(lambda self: hasattr(self, "rule"))
    @rule()
    def sync(self) -> None:
        report = self.run(self.lab.engine().run_pass())
        assert report.stopped is None, report.as_dict()
        assert all(p.error is None and p.payment_error is None for p in report.pairs.values())
        event(f"pass wrote {min(report.writes, 3)}+ records")
        again = self.run(self.lab.engine().run_pass())
        assert again.writes == 0, again.as_dict()
        self.check_no_duplicates()
        self.check_linked_agree()

    def check_no_duplicates(self) -> None:
        links = self.lab.links(INVOICES)
        origins = {x.origin for x in links}
        assert origins <= {"hubspot", "quickbooks"}
        from_hs = sum(1 for x in links if x.origin == "hubspot")
        from_qbo = sum(1 for x in links if x.origin == "quickbooks")
        assert len(self.qbo_invoices()) == len(self.qbo_made) + from_hs
        assert len(self.hs_invoices()) == len(self.hs_made) + from_qbo
        assert from_hs <= len(self.hs_made) and from_qbo <= len(self.qbo_made)

    def check_linked_agree(self) -> None:
        blocked = {
            (r.side, r.record_id)
            for r in self.lab.records(INVOICES)
            if r.status is not RecordStatus.SYNCED
        }
        assert not blocked, sorted(blocked)
        engine = self.lab.engine()
        state = StoreState(self.lab.store, self.lab.connection_id)
        all_links = self.run(state.load_links())
        custom = self.run(engine.sides[Q].custom_line_item(self.rule))  # type: ignore[attr-defined]
        refs = RefIndex.from_links(all_links, custom)
        links = self.linked()
        hs = {
            r.ref.id: r
            for r in self.run(engine.sides[H].read_records(self.rule, list(links), refs))
        }
        qbo = {
            r.ref.id: r
            for r in self.run(engine.sides[Q].read_records(self.rule, list(links.values()), refs))
        }
        raw_hs, raw_qbo = self.hs_invoices(), self.qbo_invoices()
        for hs_id, qbo_id in links.items():
            a = snapshot(self.rule, hs[hs_id], refs)
            b = snapshot(self.rule, qbo[qbo_id], refs)
            assert {k: a[k] for k in AGREE} == {k: b[k] for k in AGREE}, (hs_id, qbo_id, a, b)
            left, right = raw_hs[hs_id], raw_qbo[qbo_id]
            if a["status"] == "voided":
                continue  # HubSpot keeps a voided invoice's amounts; QBO zeroes them
            assert _dec(left.get("hs_balance_due")) == _dec(right.get("Balance")), (left, right)
            paid_qbo = _dec(right.get("TotalAmt")) - _dec(right.get("Balance"))
            assert _dec(left.get("hs_amount_paid")) == paid_qbo, (left, right)


_PHASES = (
    [Phase.explicit, Phase.reuse, Phase.generate]
    if os.environ.get("INVOICE_MACHINE_NO_SHRINK")
    else list(Phase)
)
InvoiceMachine.TestCase.settings = machine_settings(
    int(os.environ.get("INVOICE_MACHINE_EXAMPLES", "20")),
    phases=_PHASES,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_invoice_machine = InvoiceMachine.TestCase
