from __future__ import annotations

import pytest
from pydantic import ValidationError

from ledgerbridge.sync.defaults import OUTBOUND_INVOICE_FILTERS, wizard_defaults
from ledgerbridge.sync.rules import (
    ConflictPolicy,
    Direction,
    DisplayNamePolicy,
    FieldMapping,
    FieldType,
    Filter,
    FilterOperator,
    FilterScope,
    InvoiceSettings,
    ObjectPair,
    SyncRule,
)

CONTACTS = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
PRODUCTS = wizard_defaults(ObjectPair.PRODUCTS_ITEMS)


def invoice_rule(**changes: object) -> SyncRule:
    rule = wizard_defaults(ObjectPair.INVOICES_INVOICES).model_copy(
        update={"invoice": InvoiceSettings(custom_line_item_income_account="79")}
    )
    return rule.model_copy(update=changes) if changes else rule


def with_mapping(rule: SyncRule, mapping: FieldMapping) -> SyncRule:
    return rule.model_copy(update={"mappings": (*rule.mappings, mapping)})


def test_R_CON_2_one_rule_per_pair_with_a_direction() -> None:
    assert {r.object_pair for r in (CONTACTS, PRODUCTS, invoice_rule())} == set(ObjectPair)
    assert CONTACTS.direction is Direction.TWO_WAY
    duplicate = CONTACTS.model_copy(update={"id": "new"})
    errors = duplicate.validate_for_save([CONTACTS.model_copy(update={"id": "old"})])
    assert any("already a contact sync rule" in e for e in errors)
    # Editing the saved rule itself is fine (R-CON-4: edit = same steps as creating).
    saved = CONTACTS.model_copy(update={"id": "old"})
    assert saved.validate_for_save([saved]) == []


def test_rules_round_trip_through_json() -> None:
    rule = invoice_rule()
    assert SyncRule.model_validate_json(rule.model_dump_json()) == rule


def test_R_CON_3_invoice_sync_needs_contact_and_product_sync_first() -> None:
    errors = invoice_rule().validate_for_save([])
    assert any("Set up contact sync before invoice sync" in e for e in errors)
    assert any("Set up product sync before invoice sync" in e for e in errors)
    off = PRODUCTS.model_copy(update={"enabled": False})
    assert any("product sync" in e for e in invoice_rule().validate_for_save([CONTACTS, off]))
    assert invoice_rule().validate_for_save([CONTACTS, PRODUCTS]) == []


def test_R_CON_5_conflict_policy_names_the_winner() -> None:
    assert ConflictPolicy.HUBSPOT_WINS.winner.value == "hubspot"
    assert ConflictPolicy.QBO_WINS.winner.value == "quickbooks"


def test_R_CON_6_default_mappings_can_be_toggled_but_not_redirected() -> None:
    toggled = CONTACTS.model_copy(
        update={
            "mappings": tuple(
                m.model_copy(update={"enabled": m.name != "phone"}) for m in CONTACTS.mappings
            )
        }
    )
    assert "phone" not in {m.name for m in toggled.active_mappings()}
    assert toggled.validate_for_save([]) == []
    redirected = CONTACTS.model_copy(
        update={
            "mappings": tuple(
                m.model_copy(update={"qbo": "Notes"}) if m.name == "phone" else m
                for m in CONTACTS.mappings
            )
        }
    )
    assert any("can only be turned on or off" in e for e in redirected.validate_for_save([]))


def test_R_CON_6_match_field_cannot_be_turned_off() -> None:
    rule = CONTACTS.model_copy(
        update={
            "mappings": tuple(
                m.model_copy(update={"enabled": m.name != "email"}) for m in CONTACTS.mappings
            )
        }
    )
    assert any("'email' mapping cannot be turned off" in e for e in rule.validate_for_save([]))


def test_R_CON_6_custom_mappings_po_number_tracking_ship_method() -> None:
    rule = invoice_rule()
    for mapping in (
        FieldMapping(name="po", hubspot="hs_purchase_order_number", qbo="CustomField:PO number"),
        FieldMapping(name="tracking", hubspot="tracking_number", qbo="TrackingNum"),
        FieldMapping(name="ship", hubspot="ship_method", qbo="ShipMethodRef.value"),
    ):
        rule = with_mapping(rule, mapping)
    assert rule.validate_for_save([CONTACTS, PRODUCTS]) == []


def test_R_CON_6_refuses_a_mapping_between_incompatible_types() -> None:
    rule = with_mapping(
        invoice_rule(),
        FieldMapping(name="x", hubspot="hs_amount_billed", qbo="ShipDate", type=FieldType.MONEY),
    )
    errors = rule.validate_for_save([CONTACTS, PRODUCTS])
    assert errors == [
        "Custom mapping 'x': the quickbooks field 'ShipDate' is date, which cannot be mapped "
        "as money."
    ]


@pytest.mark.parametrize(
    ("mapping", "fragment"),
    [
        (FieldMapping(name="x", hubspot="a", qbo="lower.case"), "not a QuickBooks field path"),
        (FieldMapping(name="x", hubspot="a", qbo="Notes", type=FieldType.LINES), "default fields"),
        (
            FieldMapping(name="x", hubspot="a", qbo="Notes", value_map={"a": "b"}),
            "value map needs the enumeration type",
        ),
        (FieldMapping(name="x", hubspot="a", qbo="CustomField:Colour"), "on transactions"),
        (FieldMapping(name="email", hubspot="a", qbo="Notes"), "mapping names must be unique"),
        (FieldMapping(name="y", hubspot="email", qbo="Notes"), "same hubspot field 'email'"),
    ],
)
def test_R_CON_6_custom_mapping_errors_are_clear(mapping: FieldMapping, fragment: str) -> None:
    errors = with_mapping(CONTACTS, mapping).validate_for_save([])
    assert any(fragment in e for e in errors), errors


def test_R_CON_6_at_most_three_qbo_custom_fields() -> None:
    rule = invoice_rule()
    for n in range(4):
        rule = with_mapping(
            rule, FieldMapping(name=f"c{n}", hubspot=f"p{n}", qbo=f"CustomField:F{n}")
        )
    assert any("at most 3 custom fields" in e for e in rule.validate_for_save([CONTACTS, PRODUCTS]))


def test_R_CON_7_filters_per_direction_are_validated() -> None:
    def errors_for(flt: Filter) -> list[str]:
        return CONTACTS.model_copy(update={"filters": (flt,)}).validate_for_save([])

    h2q = Direction.HUBSPOT_TO_QBO
    assert (
        errors_for(
            Filter(
                flow=h2q,
                property="lifecyclestage",
                operator=FilterOperator.EQUALS,
                value="customer",
            )
        )
        == []
    )
    assert any(
        "enter a value" in e
        for e in errors_for(Filter(flow=h2q, property="x", operator=FilterOperator.CONTAINS))
    )
    assert any(
        "not a date" in e
        for e in errors_for(
            Filter(flow=h2q, property="x", operator=FilterOperator.AFTER, value="soon")
        )
    )
    assert any(
        "not a number" in e
        for e in errors_for(
            Filter(flow=h2q, property="x", operator=FilterOperator.LESS_THAN, value="ten")
        )
    )
    assert any(
        "associated record type" in e
        for e in errors_for(
            Filter(
                flow=h2q,
                scope=FilterScope.ASSOCIATED,
                property="x",
                operator=FilterOperator.IS_KNOWN,
            )
        )
    )
    assert any(
        "only the built-in filters can be fixed" in e
        for e in errors_for(
            Filter(flow=h2q, property="x", operator=FilterOperator.IS_KNOWN, fixed=True)
        )
    )
    one_way = PRODUCTS.model_copy(
        update={"filters": (Filter(flow=h2q, property="hs_sku", operator=FilterOperator.IS_KNOWN),)}
    )
    assert any("does not sync from hubspot" in e for e in one_way.validate_for_save([]))
    with pytest.raises(ValidationError):
        Filter(flow=Direction.TWO_WAY, property="x", operator=FilterOperator.IS_KNOWN)


def test_R_INV_2_outbound_invoice_rules_carry_three_fixed_filters() -> None:
    rule = invoice_rule()
    fixed = [f for f in rule.filters if f.fixed]
    assert fixed == list(OUTBOUND_INVOICE_FILTERS)
    assert [f.describe() for f in fixed] == [
        "Invoice source is HubSpot",
        "Invoice is not a draft",
        "Created or modified after the sync started",
    ]
    inbound = rule.model_copy(update={"direction": Direction.QBO_TO_HUBSPOT, "filters": ()})
    assert inbound.with_fixed_filters().filters == ()


def test_R_INV_2_fixed_filters_cannot_be_removed() -> None:
    rule = invoice_rule()
    removed = rule.model_copy(update={"filters": rule.filters[1:]})
    errors = removed.validate_for_save([CONTACTS, PRODUCTS])
    assert errors == ["The filter 'Invoice source is HubSpot' is fixed and cannot be removed."]
    assert removed.with_fixed_filters().validate_for_save([CONTACTS, PRODUCTS]) == []


def test_R_PRD_1_R_PRD_2_product_wizard_defaults_qbo_to_hubspot_with_sku_only() -> None:
    assert PRODUCTS.direction is Direction.QBO_TO_HUBSPOT
    (flt,) = PRODUCTS.filters
    assert (flt.property, flt.operator, flt.fixed) == ("Sku", FilterOperator.IS_KNOWN, False)


def test_R_PRD_3_outbound_invoices_need_the_custom_line_item_income_account() -> None:
    rule = invoice_rule(invoice=InvoiceSettings())
    assert any("'Custom line item'" in e for e in rule.validate_for_save([CONTACTS, PRODUCTS]))


def test_R_INV_8_outbound_invoices_refused_when_qbo_requires_tax() -> None:
    errors = invoice_rule().validate_for_save([CONTACTS, PRODUCTS], qbo_requires_tax=True)
    assert any("requires tax" in e for e in errors)
    inbound = invoice_rule(direction=Direction.QBO_TO_HUBSPOT, filters=())
    assert inbound.validate_for_save([CONTACTS, PRODUCTS], qbo_requires_tax=True) == []


def test_R_PAY_1_payments_follow_outbound_and_two_way_invoice_sync() -> None:
    assert invoice_rule().payments_enabled
    assert invoice_rule(direction=Direction.TWO_WAY).payments_enabled
    assert not invoice_rule(direction=Direction.QBO_TO_HUBSPOT).payments_enabled
    assert not CONTACTS.payments_enabled


def test_R_CUS_3_display_name_policy_defaults_to_disambiguate() -> None:
    assert CONTACTS.display_name_policy is DisplayNamePolicy.DISAMBIGUATE
