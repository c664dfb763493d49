from __future__ import annotations

import datetime as dt

import pytest

from ledgerbridge.domain import Party, RecordRef
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.filters import first_failing, passes
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.match import (
    MatchKind,
    find_match,
    index_by_key,
    legacy_match,
    lookup_keys,
    match_key,
    resolve_display_name,
)
from ledgerbridge.sync.model import RefIndex, SideRecord, Snapshot
from ledgerbridge.sync.rules import (
    SYNC_STARTED,
    Direction,
    DisplayNamePolicy,
    Filter,
    FilterOperator,
    FilterScope,
    ObjectPair,
    SyncRule,
)

from .factories import LATER, T0, H, customer, item

Op = FilterOperator
H2Q = Direction.HUBSPOT_TO_QBO


def rec(**props: str) -> SideRecord:
    return SideRecord(RecordRef(H, "1"), "1", LATER, None, props)


@pytest.mark.parametrize(
    ("operator", "value", "props", "expected"),
    [
        (Op.EQUALS, "Customer", {"stage": " customer "}, True),
        (Op.NOT_EQUALS, "lead", {"stage": "customer"}, True),
        (Op.CONTAINS, "ACME", {"company": "Acme Inc"}, True),
        (Op.NOT_CONTAINS, "acme", {"company": "Acme Inc"}, False),
        (Op.IS_KNOWN, None, {"phone": "  "}, False),
        (Op.IS_UNKNOWN, None, {}, True),
        (Op.AFTER, "2025-01-01", {"closed": "2025-02-01"}, True),
        (Op.BEFORE, "2025-01-01", {"closed": "1738368000000"}, False),
        (Op.GREATER_THAN, "100", {"amount": "100.01"}, True),
        (Op.LESS_THAN, "100", {"amount": "oops"}, False),
        (Op.IN, ("a", "B"), {"tier": "b"}, True),
    ],
)
def test_R_CON_7_filter_operators(
    operator: FilterOperator, value: object, props: dict[str, str], expected: bool
) -> None:
    prop = next(iter(props), "phone")
    flt = Filter(flow=H2Q, property=prop, operator=operator, value=value)
    assert passes(flt, rec(**props)) is expected


def test_R_CON_7_associated_filters_pass_when_any_associated_record_passes() -> None:
    flt = Filter(
        flow=H2Q,
        scope=FilterScope.ASSOCIATED,
        association="company",
        property="industry",
        operator=Op.EQUALS,
        value="retail",
    )
    companies = [rec(industry="tech"), rec(industry="Retail")]
    assert passes(flt, rec(), {"company": companies})
    assert not passes(flt, rec(), {"company": companies[:1]})
    assert not passes(flt, rec(), {})


def test_R_INV_2_modified_after_sync_start_uses_the_rules_start_time() -> None:
    flt = Filter(flow=H2Q, property="@updated_at", operator=Op.AFTER, value=SYNC_STARTED)
    assert passes(flt, rec(), sync_started_at=T0)
    assert not passes(flt, rec(), sync_started_at=LATER + dt.timedelta(days=1))
    assert first_failing([flt], rec(), sync_started_at=LATER + dt.timedelta(days=1)) is flt


# ---- matching ----


def test_R_CUS_1_email_match_is_trimmed_and_case_insensitive() -> None:
    rule = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
    customers = [customer("7", " Jane@Example.COM "), customer("8", "bob@example.com")]
    index = index_by_key(
        ObjectPair.CONTACTS_CUSTOMERS, ((c, rule_snap(rule, c)) for c in customers)
    )
    result = find_match("jane@example.com", index)
    assert result.kind is MatchKind.MATCHED
    assert result.ref == customers[0].ref


def test_ambiguous_matches_never_guess() -> None:
    rule = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
    twins = [customer("7", "jane@example.com"), customer("8", "JANE@example.com")]
    index = index_by_key(ObjectPair.CONTACTS_CUSTOMERS, ((c, rule_snap(rule, c)) for c in twins))
    result = find_match("jane@example.com", index)
    assert result.kind is MatchKind.AMBIGUOUS
    assert result.ref is None
    assert len(result.refs) == 2


def test_R_PRD_1_products_match_by_sku() -> None:
    assert match_key(ObjectPair.PRODUCTS_ITEMS, {"sku": " S-1 "}) == "S-1"
    assert match_key(ObjectPair.PRODUCTS_ITEMS, {"sku": None}) is None
    assert match_key(ObjectPair.INVOICES_INVOICES, {"number": "1"}) is None
    rule = wizard_defaults(ObjectPair.PRODUCTS_ITEMS)
    assert lookup_keys(rule, [item("1", "S-1"), item("2", None)], RefIndex()) == {"S-1"}


def test_R_CUS_2_legacy_matching_by_first_last_and_email() -> None:
    jane = Party(given_name="Jane", family_name="Doe", emails=("jane@example.com",))
    same = customer("7", "JANE@example.com", " jane ", "DOE")
    other_name = customer("8", "jane@example.com", "Janet", "Doe")
    assert legacy_match(jane, [same, other_name]).ref == same.ref
    assert legacy_match(jane, [other_name]).kind is MatchKind.NONE  # → create a customer
    twin = customer("9", "jane@example.com", "Jane", "Doe")
    assert legacy_match(jane, [same, twin]).kind is MatchKind.AMBIGUOUS


# ---- DisplayName policy ----

JANE = Party(given_name="Jane", family_name="Doe", company_name="Acme Inc", emails=("jane@x.io",))


def test_R_CUS_3_first_contact_of_a_company_gets_the_company_name() -> None:
    assert resolve_display_name(JANE, set(), DisplayNamePolicy.STRICT) == "Acme Inc"
    assert resolve_display_name(JANE, set(), DisplayNamePolicy.DISAMBIGUATE) == "Acme Inc"


def test_R_CUS_3_strict_policy_fails_on_a_duplicate() -> None:
    assert resolve_display_name(JANE, {"ACME INC"}, DisplayNamePolicy.STRICT) is None


def test_R_CUS_3_disambiguates_display_name() -> None:
    policy = DisplayNamePolicy.DISAMBIGUATE
    assert resolve_display_name(JANE, {"Acme Inc"}, policy) == "Acme Inc (Jane Doe)"
    taken = {"Acme Inc", "Acme Inc (Jane Doe)"}
    assert resolve_display_name(JANE, taken, policy) == "Acme Inc (Jane Doe) (jane@x.io)"
    taken |= {"Acme Inc (Jane Doe) (jane@x.io)"}
    third = resolve_display_name(JANE, taken, policy)
    assert third == "Acme Inc (Jane Doe) (jane@x.io) (2)"
    assert resolve_display_name(JANE, taken, policy) == third  # deterministic
    colon = Party(company_name="A:B")
    assert resolve_display_name(colon, set(), policy) == "A-B"


def rule_snap(rule: SyncRule, record: SideRecord) -> Snapshot:
    return snapshot(rule, record, RefIndex())
