"""The state's look-up indexes (associations by record, unique values such as email) and
the search's set look-ups answer what a scan of everything answers, after changes too."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerbridge.sandbox.hubspot import HubSpotSandboxConfig
from ledgerbridge.sandbox.hubspot.errors import HubSpotError
from ledgerbridge.sandbox.hubspot.search import search
from ledgerbridge.sandbox.hubspot.state import SandboxState


@pytest.fixture
def state(config: HubSpotSandboxConfig) -> SandboxState:
    return SandboxState(config)


def _contact(state: SandboxState, email: str, **extra: str) -> str:
    return state.create("contacts", {"email": email, "firstname": "F", **extra}).id


def test_find_by_email_follows_updates_and_archives(state: SandboxState) -> None:
    ada = _contact(state, "Ada@Example.com")
    assert state.find("contacts", "ada@example.COM", "email").id == ada  # type: ignore[union-attr]
    state.update("contacts", ada, {"email": "ada@new.example"})
    assert state.find("contacts", "ada@example.com", "email") is None
    assert state.find("contacts", "ADA@new.example", "email").id == ada  # type: ignore[union-attr]
    # The old email is free again; the new one is taken.
    other = _contact(state, "ada@example.com")
    with pytest.raises(HubSpotError):
        _contact(state, "ada@new.example")
    state.archive("contacts", ada)
    assert state.find("contacts", "ada@new.example", "email") is None
    assert state.find("contacts", "ada@example.com", "email").id == other  # type: ignore[union-attr]
    assert state.find("contacts", "", "email") is None


def test_indexes_are_rebuilt_after_a_reload(state: SandboxState, tmp_path: Path) -> None:
    ada = _contact(state, "ada@example.com")
    invoice = state.create("invoices", {"hs_currency": "USD"}).id
    state.associate("invoices", invoice, "contacts", ada, 177)
    state.save(tmp_path / "state.json")
    state.reset()
    assert state.find("contacts", "ada@example.com", "email") is None
    assert state.associated("contacts", ada, "invoices") == {}
    state.load(tmp_path / "state.json")
    assert state.find("contacts", "ada@example.com", "email").id == ada  # type: ignore[union-attr]
    assert list(state.associated("contacts", ada, "invoices")) == [invoice]


def test_associated_in_id_order_and_after_removal(state: SandboxState) -> None:
    invoice = state.create("invoices", {"hs_currency": "USD"}).id
    lines = [state.create("line_items", {"name": f"L{i}", "price": "1"}).id for i in range(12)]
    for line in reversed(lines):
        state.associate("invoices", invoice, "line_items", line, 409)
    assert list(state.associated("invoices", invoice, "line_items")) == lines
    assert list(state.associated("line_items", lines[3], "invoices")) == [invoice]
    state.disassociate("invoices", invoice, "line_items", lines[3])
    assert lines[3] not in state.associated("invoices", invoice, "line_items")
    assert state.associated("line_items", lines[3], "invoices") == {}
    state.archive("invoices", invoice)  # a draft: archiving drops its associations
    assert state.associated("invoices", invoice, "line_items") == {}
    assert state.associated("line_items", lines[0], "invoices") == {}
    assert not any(k[1] == invoice or k[3] == invoice for k in state.associations)


def _emails(answer: dict[str, object]) -> list[str]:
    return [r["properties"]["email"] for r in answer["results"]]  # type: ignore[attr-defined, index]


def test_search_in_eq_and_not_in_on_text(state: SandboxState) -> None:
    for email, name in [("a@x.io", "Ann"), ("B@x.io", "Bob"), ("c@x.io", ""), ("d@x.io", "bob")]:
        _contact(state, email, lastname=name)

    def run(op: str, **flt: object) -> list[str]:
        body = {
            "filterGroups": [{"filters": [{"propertyName": "lastname", "operator": op, **flt}]}],
            "properties": ["email"],
        }
        return _emails(search(state, "contacts", body))

    assert run("IN", values=["BOB", "nobody"]) == ["B@x.io", "d@x.io"]
    assert run("EQ", value="ann") == ["a@x.io"]
    # NOT_IN also matches a record without the value; IN and EQ never do.
    assert run("NOT_IN", values=["bob"]) == ["a@x.io", "c@x.io"]
    assert run("IN", values=[""]) == []
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "IN", "values": ["A@X.IO"]}]},
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": "d@x.io"}]},
        ],
        "properties": ["email"],
    }
    assert _emails(search(state, "contacts", body)) == ["a@x.io", "d@x.io"]
