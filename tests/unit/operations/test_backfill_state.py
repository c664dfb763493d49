"""The backfill's state port loads the links of the three object pairs only: payment
links (object type `payments`) live in the same table and must not break it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ledgerbridge.operations.backfill import BackfillState
from ledgerbridge.store import LinkRow, Store, TokenCipher, generate_key
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import ObjectPair


async def test_payment_links_are_not_loaded_as_pair_links(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        cid = tx.create_connection(name="c", hubspot_base_url="h", qbo_base_url="q")
        for object_type, hubspot_id, qbo_id in (
            ("invoices_invoices", "11", "21"),
            ("payments", "12", "22"),
        ):
            tx.save_link(LinkRow(cid, object_type, hubspot_id, qbo_id, None, None, "h", "q", {}))
    rule = wizard_defaults(ObjectPair.INVOICES_INVOICES)
    state = BackfillState(store, cid, rule, "invoices", dt.date(2026, 1, 1))

    links = await state.load_links()

    assert [(x.object_type, x.hubspot_id) for x in links] == [(ObjectPair.INVOICES_INVOICES, "11")]
    store.close()
