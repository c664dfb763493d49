from __future__ import annotations

from ledgerbridge.sync.actions import (
    Create,
    Deactivate,
    Exclude,
    Fail,
    LinkRecords,
    Skip,
    SkipReason,
    Update,
)
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.plan import plan
from ledgerbridge.sync.rules import (
    ConflictPolicy,
    Direction,
    DisplayNamePolicy,
    ObjectPair,
    SyncRule,
)

from .factories import H, Q, contact, ctx, customer, item, link_for, product

CONTACTS = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
PRODUCTS = wizard_defaults(ObjectPair.PRODUCTS_ITEMS)


def snap(rule: SyncRule, record: object) -> dict[str, object]:
    return dict(snapshot(rule, record, RefIndex()))  # type: ignore[arg-type]


def linked_jane(rule: SyncRule = CONTACTS):  # type: ignore[no-untyped-def]
    hs = contact("1", "jane@x.io", "Jane", "Doe", "Acme")
    qb = customer("7", "jane@x.io", "Jane", "Doe", "Acme")
    link = link_for(ObjectPair.CONTACTS_CUSTOMERS, hs, qb, snap(rule, hs), rule=rule)
    return hs, qb, link


def test_echo_of_our_own_write_is_skipped() -> None:
    hs, qb, link = linked_jane()
    actions = plan(CONTACTS, [link], [hs], [qb], ctx())
    assert actions == [Skip(hs.ref, SkipReason.UNCHANGED), Skip(qb.ref, SkipReason.UNCHANGED)]


def test_change_on_one_side_is_copied_to_the_other() -> None:
    _hs, qb, link = linked_jane()
    edited = contact("1", "jane@x.io", "Janet", "Doe", "Acme", version="2")
    (update,) = plan(CONTACTS, [link], [edited], [], ctx())
    assert isinstance(update, Update)
    assert (update.target, update.target_ref, update.base_version) == (Q, qb.ref, "0")
    assert update.fields == {"first_name": "Janet"}
    assert update.link_after.base["first_name"] == "Janet"


def test_R_CON_5_fields_changed_on_both_sides_follow_the_conflict_policy() -> None:
    _hs, _qb, link = linked_jane()
    h_edit = contact("1", "jane@x.io", "Janet", "Doe", "Acme Ltd", version="2")
    q_edit = customer("7", "jane@x.io", "Jenny", "Doe", "Acme", version="1")
    for policy, winner in (
        (ConflictPolicy.HUBSPOT_WINS, "Janet"),
        (ConflictPolicy.QBO_WINS, "Jenny"),
    ):
        rule = CONTACTS.model_copy(update={"conflict_policy": policy})
        actions = plan(rule, [link], [h_edit], [q_edit], ctx())
        writes = {a.target: dict(a.fields) for a in actions if isinstance(a, Update)}
        merged = {**snap(rule, h_edit), "first_name": winner, "company": "Acme Ltd"}
        # The non-conflicting change (company, made in HubSpot) always flows.
        assert writes[Q]["company"] == "Acme Ltd"
        for side, current in ((H, h_edit), (Q, q_edit)):
            assert {**snap(rule, current), **writes.get(side, {})} == merged


def test_R_CON_4_a_rule_turned_off_plans_nothing() -> None:
    _hs, qb, link = linked_jane()
    off = CONTACTS.model_copy(update={"enabled": False})
    edited = contact("1", "jane@x.io", "Janet", version="2")
    assert plan(off, [link], [edited], [qb], ctx()) == []


def test_one_way_rule_does_not_take_target_side_changes() -> None:
    rule = CONTACTS.model_copy(update={"direction": Direction.HUBSPOT_TO_QBO})
    _hs, _qb, link = linked_jane(rule)
    q_edit = customer("7", "jane@x.io", "Jenny", "Doe", "Acme", version="1")
    (skip,) = plan(rule, [link], [], [q_edit], ctx())
    assert isinstance(skip, Skip)
    assert skip.reason == SkipReason.ONE_WAY_TARGET
    assert skip.link_after is not None and skip.link_after.base == link.base


def test_R_CUS_1_existing_customer_is_linked_not_duplicated() -> None:
    hs = contact("1", " Jane@X.io", "Jane", "Doe")
    qb = customer("7", "jane@x.io", "Jane", "Doe", "Acme")
    actions = plan(CONTACTS, [], [hs], [], ctx(qbo_candidates=[qb]))
    assert not any(isinstance(a, Create) for a in actions)
    link, update = actions
    assert isinstance(link, LinkRecords)
    assert (link.hubspot_ref, link.qbo_ref, link.matched_on) == (hs.ref, qb.ref, "email=jane@x.io")
    # The company only QBO knew flows into HubSpot.
    assert isinstance(update, Update)
    assert (update.target, dict(update.fields)) == (H, {"company": "Acme"})


def test_ambiguous_email_fails_with_its_own_category() -> None:
    hs = contact("1", "jane@x.io")
    twins = [customer("7", "jane@x.io"), customer("8", "JANE@x.io")]
    (fail,) = plan(CONTACTS, [], [hs], [], ctx(qbo_candidates=twins))
    assert isinstance(fail, Fail)
    assert fail.category is ErrorCategory.AMBIGUOUS_MATCH
    assert "quickbooks:7" in fail.detail and "quickbooks:8" in fail.detail


def test_R_BEY_1_creates_carry_deterministic_idempotency_keys() -> None:
    hs = contact("1", "jane@x.io", "Jane", "Doe", "Acme")
    first = plan(CONTACTS, [], [hs], [], ctx())
    again = plan(CONTACTS, [], [hs], [], ctx())
    (create,) = first
    assert isinstance(create, Create)
    assert first == again
    # Keyed by what it creates, not by the source's version: a create retried after a
    # crash, once the source changed, must send the same key (or QBO makes a 2nd copy).
    newer = plan(CONTACTS, [], [contact("1", "jane@x.io", version="2")], [], ctx())[0]
    assert isinstance(newer, Create)
    assert newer.idempotency_key == create.idempotency_key
    other = plan(CONTACTS, [], [contact("2", "jo@x.io", "Jo")], [], ctx())[0]
    assert isinstance(other, Create)
    assert other.idempotency_key != create.idempotency_key
    assert len(create.idempotency_key) <= 36


def test_R_CUS_3_new_customer_gets_a_disambiguated_display_name() -> None:
    hs = contact("1", "jane@x.io", "Jane", "Doe", "Acme Inc")
    (create,) = plan(CONTACTS, [], [hs], [], ctx(qbo_display_names=frozenset({"Acme Inc"})))
    assert isinstance(create, Create)
    assert create.display_name == "Acme Inc (Jane Doe)"


def test_R_CUS_3_strict_policy_fails_with_duplicate_display_name() -> None:
    rule = CONTACTS.model_copy(update={"display_name_policy": DisplayNamePolicy.STRICT})
    hs = [
        contact("1", "jane@x.io", "Jane", "Doe", "Acme"),
        contact("2", "bob@x.io", "Bob", "Ray", "Acme"),
    ]
    first, second = plan(rule, [], hs, [], ctx())
    assert isinstance(first, Create) and first.display_name == "Acme"
    assert isinstance(second, Fail)
    assert second.category is ErrorCategory.DUPLICATE_DISPLAY_NAME


def test_R_CUS_4_qbo_customers_are_created_as_contacts() -> None:
    qb = customer("7", "jane@x.io", "Jane", "Doe")
    (create,) = plan(CONTACTS, [], [], [qb], ctx())
    assert isinstance(create, Create)
    assert (create.target, create.source_ref) == (H, qb.ref)
    assert create.display_name is None


def test_archiving_in_hubspot_is_not_propagated_unless_the_rule_says_so() -> None:
    _hs, qb, link = linked_jane()
    archived = contact("1", "jane@x.io", "Jane", "Doe", "Acme", version="3", deleted=True)
    assert plan(CONTACTS, [link], [archived], [], ctx()) == [
        Skip(archived.ref, SkipReason.ARCHIVED)
    ]
    rule = CONTACTS.model_copy(update={"propagate_archive": True})
    (deactivate,) = plan(rule, [link], [archived], [], ctx())
    # QBO customers are never deleted: they are made inactive.
    assert isinstance(deactivate, Deactivate)
    assert deactivate.target_ref == qb.ref


def test_R_PRD_1_products_without_sku_are_excluded_by_default() -> None:
    (excluded,) = plan(PRODUCTS, [], [], [item("5", None)], ctx())
    assert excluded == Exclude(item("5", None).ref, "Product has a SKU")


def test_R_PRD_1_items_match_hubspot_products_by_sku() -> None:
    actions = plan(
        PRODUCTS,
        [],
        [],
        [item("5", "S-1", price="12")],
        ctx(hubspot_candidates=[product("3", "S-1")]),
    )
    assert isinstance(actions[0], LinkRecords)
    update = actions[1]
    assert isinstance(update, Update)
    assert (update.target, dict(update.fields)) == (H, {"price": "12"})  # QBO → HubSpot wins


def test_R_PRD_2_one_way_products_do_not_create_in_qbo() -> None:
    (skip,) = plan(PRODUCTS, [], [product("3", "S-9")], [], ctx())
    assert skip == Skip(product("3", "S-9").ref, SkipReason.DIRECTION)


def test_sku_already_held_by_a_linked_record_is_not_created_again() -> None:
    rule = PRODUCTS.model_copy(update={"direction": Direction.TWO_WAY, "filters": ()})
    hs, qb = product("1", "S-1"), item("9", "S-1")
    link = link_for(ObjectPair.PRODUCTS_ITEMS, hs, qb, snap(rule, hs), rule=rule)
    (fail,) = plan(rule, [link], [product("2", "S-1")], [], ctx())
    assert isinstance(fail, Fail) and fail.category is ErrorCategory.AMBIGUOUS_MATCH


def test_R_BEY_3_planning_is_a_dry_run() -> None:
    _hs, qb, link = linked_jane()
    inputs = ([link], [contact("1", "jane@x.io", "Janet", version="2")], [qb])
    before = repr(inputs)
    assert plan(CONTACTS, *inputs, ctx()) == plan(CONTACTS, *inputs, ctx())
    assert repr(inputs) == before
