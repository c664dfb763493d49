"""Failures that heal (issue 19, finding 1), over both sandboxes and the real store:
a failed record is planned again when its cause may have gone: when a side of it
changes back, when the record it depends on gets linked, on a visible retry schedule
(backoff with a cap, then "needs attention"), and on request."""

from __future__ import annotations

import datetime as dt

from ledgerbridge.store import RecordStatus, retries
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.rules import Direction, ObjectPair
from tests.integration.conftest import contacts_rule
from tests.integration.harness import Lab
from tests.integration.invoicing import (
    INVOICES,
    customer_and_contact,
    hs_invoice,
    product_and_item,
    qbo_get,
    set_up,
)


def failed(lab: Lab) -> list[tuple[str, str, str | None]]:
    return [
        (r.side, r.record_id, r.error_category) for r in lab.records(INVOICES, RecordStatus.FAILED)
    ]


def schedule(lab: Lab) -> list[retries.ScheduledRecord]:
    with lab.store.begin() as tx:
        return retries.schedule_of(tx, lab.connection_id)


async def test_an_r_inv_7_failure_clears_when_the_qbo_edit_is_reverted(lab: Lab) -> None:
    await set_up(lab, Direction.TWO_WAY)
    contact, _ = await customer_and_contact(lab)
    product, _ = await product_and_item(lab, "W-1", "50")
    invoice_id = await hs_invoice(lab, contact, [("Widget", "2x50", product)])
    await lab.engine().run_pass()
    (link,) = lab.links(INVOICES)
    original = await qbo_get(lab, "Invoice", link.qbo_id)
    edited = [dict(line) for line in original["Line"] if line["DetailType"] != "SubTotalLineDetail"]
    edited[0] = {**edited[0], "Amount": 250}
    edited[0]["SalesItemLineDetail"] = {**edited[0]["SalesItemLineDetail"], "Qty": 5}
    await lab.qbo_update("Invoice", link.qbo_id, {"Line": edited})
    await lab.engine().run_pass()
    assert failed(lab) == [
        ("quickbooks", link.qbo_id, ErrorCategory.HUBSPOT_INVOICE_EDITED_IN_QBO.value)
    ]

    # Reverted in QBO, nothing else changed: the pair is "unchanged" to the planner.
    restored = [
        dict(line) for line in original["Line"] if line["DetailType"] != "SubTotalLineDetail"
    ]
    await lab.qbo_update("Invoice", link.qbo_id, {"Line": restored})
    report = await lab.engine().run_pass()

    assert report.writes == 0, report.as_dict()
    assert failed(lab) == []
    assert invoice_id == link.hubspot_id
    assert schedule(lab) == []


async def test_an_invoice_missing_its_customer_retries_once_the_customer_is_linked(
    lab: Lab,
) -> None:
    await set_up(lab)
    known, _ = await customer_and_contact(lab)
    lab.save_rule(contacts_rule(enabled=False))
    stranger = await lab.hs_create("contacts", email="late@example.com", firstname="Lee")
    invoice_id = await hs_invoice(lab, stranger, [("Thing", "1x10", None)])
    await lab.engine().run_pass()
    assert failed(lab) == [("hubspot", invoice_id, ErrorCategory.MISSING_CUSTOMER.value)]
    # Later invoices move the change cursor well past the failed one (as under load).
    lab.time.advance(40)
    await hs_invoice(lab, known, [("Other", "1x5", None)])
    await lab.engine().run_pass()
    await lab.engine().run_pass()

    # The contact rule is turned on: one pass links the customer, and the invoice (which
    # has not changed since) is planned again in the same pass.
    lab.save_rule(contacts_rule())
    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].created == 1, report.as_dict()
    assert failed(lab) == []
    assert invoice_id in {x.hubspot_id for x in lab.links(INVOICES)}
    (record,) = [r for r in lab.records(INVOICES) if r.record_id == invoice_id]
    assert record.status is RecordStatus.SYNCED  # the status no longer blames the customer
    assert len(await lab.qbo_all("Invoice")) == 2


async def test_a_lasting_failure_backs_off_then_needs_attention_until_asked(lab: Lab) -> None:
    await set_up(lab)
    known, _ = await customer_and_contact(lab)
    lab.save_rule(contacts_rule(enabled=False))
    stranger = await lab.hs_create("contacts", email="nobody@example.com")
    invoice_id = await hs_invoice(lab, stranger, [("Thing", "1x10", None)])
    await lab.engine().run_pass()
    # A later invoice moves the change cursor well past the failed one.
    lab.time.advance(40)
    await hs_invoice(lab, known, [("Other", "1x5", None)])
    await lab.engine().run_pass()
    (entry,) = schedule(lab)
    assert entry.retries >= 1
    await lab.engine().run_pass()  # not due yet: not read again
    assert schedule(lab) == [entry]

    first = entry.retries
    waits: list[dt.timedelta] = []
    for _ in range(retries.ATTENTION_AFTER + 2):
        (entry,) = schedule(lab)
        if entry.next_attempt_at is None:
            break
        wait = entry.next_attempt_at - lab.time.now()
        waits.append(wait)
        lab.time.advance(wait.total_seconds())
        report = await lab.engine().run_pass()
        assert report.pairs[INVOICES].failed == 1, report.as_dict()

    (entry,) = schedule(lab)
    assert entry.needs_attention and entry.retries == retries.ATTENTION_AFTER
    # 1 min after the 1st failure, doubling, capped at 1 h
    expected = [min(dt.timedelta(minutes=2 ** (n - 1)), retries.RETRY_CAP) for n in range(first, 8)]
    assert waits[1:] == expected[1:] and retries.ATTENTION_AFTER == 8
    assert dt.timedelta(0) < waits[0] <= expected[0]  # time moved during the passes
    assert max(waits) == retries.RETRY_CAP
    lab.time.advance(86_400)
    await lab.engine().run_pass()
    assert schedule(lab)[0].retries == retries.ATTENTION_AFTER  # no longer tried by itself

    # On request (the dashboard's "retry"): due at the next pass, which heals it once the
    # cause is gone.
    lab.save_rule(contacts_rule())
    with lab.store.begin() as tx:
        asked = retries.request_retry(tx, lab.connection_id, record_keys=[("hubspot", invoice_id)])
    assert asked == 1
    with lab.store.begin() as tx:
        assert retries.request_retry(tx, lab.connection_id, object_type="contacts_customers") == 0
    report = await lab.engine().run_pass()
    assert report.pairs[INVOICES].created == 1, report.as_dict()
    assert failed(lab) == [] and schedule(lab) == []


async def test_passes_that_read_a_failed_record_again_before_it_is_due_keep_its_schedule(
    lab: Lab,
) -> None:
    """Two QBO customers share an e-mail address (ambiguous: never guessed). QBO's change
    read re-reads the last 5 minutes every pass, so every pass plans them again and they
    fail again: that is not a retry. Counted, a pass a second burnt the whole schedule
    (1 min doubling to 1 h, then "needs attention") in a few seconds."""
    lab.save_rule(contacts_rule())
    for name in ("Twin One", "Twin Two"):
        body = {"DisplayName": name, "PrimaryEmailAddr": {"Address": "twin@example.com"}}
        await lab.qbo_create("Customer", body)
    for _ in range(5):
        await lab.engine().run_pass()
        lab.time.advance(5)
    entries = schedule(lab)
    assert len(entries) == 2
    assert {(e.object_type, e.retries) for e in entries} == {("contacts_customers", 1)}
    assert {
        (r.record_id, r.error_category)
        for r in lab.records(ObjectPair.CONTACTS_CUSTOMERS, RecordStatus.FAILED)
    } == {(e.record_id, ErrorCategory.AMBIGUOUS_MATCH.value) for e in entries}

    lab.time.advance(60)  # due: the retry counts
    await lab.engine().run_pass()
    assert {e.retries for e in schedule(lab)} == {2}
