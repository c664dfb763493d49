"""Products ↔ items over both sandboxes (R-PRD)."""

from __future__ import annotations

from ledgerbridge.store import RecordStatus
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.rules import Direction, ObjectPair
from tests.integration.conftest import products_rule
from tests.integration.harness import Lab

PAIR = ObjectPair.PRODUCTS_ITEMS


async def _item(lab: Lab, name: str, sku: str | None, price: str = "10") -> str:
    body = {
        "Name": name,
        "Type": "Service",
        "UnitPrice": price,
        "IncomeAccountRef": {"value": await lab.income_account()},
    }
    if sku is not None:
        body["Sku"] = sku
    return str((await lab.qbo_create("Item", body))["Id"])


async def test_R_PRD_1_only_products_with_sku(lab: Lab) -> None:
    lab.save_rule(products_rule())  # wizard default: QBO → HubSpot, only with a SKU
    with_sku = await _item(lab, "Widget", "W-1", "12.50")
    without = await _item(lab, "Labour", None)
    matched = await _item(lab, "Gadget", "G-1", "99")
    hs_gadget = await lab.hs_create("products", name="Gadget (HubSpot)", hs_sku="G-1", price="99")

    report = await lab.engine().run_pass()

    counts = report.pairs[PAIR]
    assert (counts.created, counts.linked, counts.excluded) == (1, 1, 1), report.as_dict()
    products = await lab.hs_all("products", "name", "hs_sku", "price")
    assert sorted((p.get("hs_sku"), p.get("name")) for p in products) == [
        ("G-1", "Gadget"),  # matched by SKU; QBO wins the name (rule direction)
        ("W-1", "Widget"),
    ]
    widget = next(p for p in products if p.get("hs_sku") == "W-1")
    assert widget.get("price") in ("12.5", "12.50")
    links = {(x.hubspot_id, x.qbo_id) for x in lab.links(PAIR)}
    assert (hs_gadget, matched) in links and any(q == with_sku for _, q in links)
    (excluded,) = lab.records(PAIR, RecordStatus.EXCLUDED)
    assert (excluded.record_id, excluded.excluded_by) == (without, "Product has a SKU")
    assert (await lab.engine().run_pass()).writes == 0


async def test_R_PRD_2_recommended_direction_is_qbo_to_hubspot(lab: Lab) -> None:
    lab.save_rule(products_rule())
    item_id = await _item(lab, "Widget", "W-1")
    await lab.engine().run_pass()
    (link,) = lab.links(PAIR)

    await lab.hs_update("products", link.hubspot_id, name="Renamed in HubSpot")
    await lab.engine().run_pass()
    (item,) = await lab.qbo_all("Item")
    assert item["Name"] == "Widget"  # not propagated back to QBO

    await lab.qbo_update("Item", item_id, {"UnitPrice": 15})
    await lab.engine().run_pass()
    (product,) = await lab.hs_all("products", "price")
    assert product.get("price") == "15"


async def test_R_PRD_1_hubspot_products_create_items(lab: Lab) -> None:
    lab.save_rule(products_rule(direction=Direction.TWO_WAY))
    await lab.hs_create("products", name="Plan", hs_sku="P-1", price="30", description="Monthly")

    report = await lab.engine().run_pass()

    assert report.pairs[PAIR].created == 1
    (item,) = await lab.qbo_all("Item")
    assert (item["Name"], item["Sku"], str(item["UnitPrice"])) == ("Plan", "P-1", "30")
    assert item["Description"] == "Monthly"
    assert (await lab.engine().run_pass()).writes == 0


async def test_a_taken_item_name_fails_as_a_product_name_with_the_products_fix(lab: Lab) -> None:
    lab.save_rule(products_rule(direction=Direction.TWO_WAY))
    await _item(lab, "Plan", None)  # no SKU: the product below cannot be linked to it
    hs_id = await lab.hs_create("products", name="Plan", hs_sku="P-1", price="30")

    report = await lab.engine().run_pass()

    assert report.pairs[PAIR].failed == 1
    (failed,) = lab.records(PAIR, RecordStatus.FAILED)
    assert failed.record_id == hs_id
    assert failed.error_category == ErrorCategory.DUPLICATE_ITEM_NAME.value
    assert "SKU" in ErrorCategory.DUPLICATE_ITEM_NAME.fix
    assert "display-name policy" not in ErrorCategory.DUPLICATE_ITEM_NAME.fix
