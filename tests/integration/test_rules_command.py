"""`ledgerbridge rules …` in the terminal against both sandboxes over HTTP: the
interactive set-up wizard, `show`, `apply` errors. (The whole journey, with processes,
is tests/e2e/test_rules_e2e.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.sandbox.qbo.config import DEFAULT_REALM
from tests.integration.conftest import configured_sandboxes


@pytest.fixture
def qbo_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with configured_sandboxes(tmp_path, monkeypatch, []) as (_, _, qbo):
        yield qbo


def _rules() -> dict[str, dict[str, object]]:
    listed = CliRunner().invoke(app, ["rules", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    return {r["object_pair"]: r for r in json.loads(listed.output)}


def test_the_wizard_asks_in_hubspots_order_and_saves(qbo_url: str) -> None:
    # contacts: default direction, QBO wins conflicts; products: default; invoices: one
    # way out; income account: default; save.
    answers = "\nqbo_wins\n\nhubspot_to_qbo\n\ny\n"
    done = CliRunner().invoke(app, ["rules", "setup"], input=answers)
    assert done.exit_code == 0, done.output
    out = done.output
    assert out.index("Contact sync: direction") < out.index("Product sync: direction")
    assert out.index("Product sync: direction") < out.index("Invoice sync: direction")
    assert "Income accounts:" in out and "Sales of Product Income" in out
    assert "'close the books' is off" in out  # R-INV-12 warning
    rules = _rules()
    assert [(p, r["direction"]) for p, r in rules.items()] == [
        ("contacts_customers", "two_way"),
        ("products_items", "qbo_to_hubspot"),
        ("invoices_invoices", "hubspot_to_qbo"),
    ]
    assert rules["contacts_customers"]["conflict_policy"] == "qbo_wins"
    invoice = rules["invoices_invoices"]["invoice"]
    assert isinstance(invoice, dict)
    assert invoice["custom_line_item_income_account"] == "Sales of Product Income"
    shown = CliRunner().invoke(app, ["rules", "show", "invoices_invoices"])
    assert shown.exit_code == 0
    assert shown.output.count("locked") == 1 + 3  # the column, and the three fixed filters


def test_the_wizard_offers_only_inbound_invoices_outside_the_us(qbo_url: str) -> None:
    httpx.patch(
        f"{qbo_url}/_sandbox/realms/{DEFAULT_REALM}/settings", json={"country": "GB"}, timeout=5
    ).raise_for_status()
    answers = "\n\n\ntwo_way\n\ny\n"  # two_way is not offered: asked again, default taken
    done = CliRunner().invoke(app, ["rules", "setup"], input=answers)
    assert done.exit_code == 0, done.output
    assert "outside the US, where QuickBooks requires tax" in done.output
    assert "Invoice sync: direction (qbo_to_hubspot)" in done.output
    assert _rules()["invoices_invoices"]["direction"] == "qbo_to_hubspot"


def test_declining_saves_nothing(qbo_url: str) -> None:
    done = CliRunner().invoke(app, ["rules", "setup", "--defaults"], input="n\n")
    assert done.exit_code == 0 and "Nothing saved." in done.output
    assert _rules() == {}


def test_apply_refuses_a_broken_or_missing_file(qbo_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "rules.toml"
    broken.write_text('version = 1\n[[rules]]\nobject_pair = "contacts_customers"\n')
    done = CliRunner().invoke(app, ["rules", "apply", str(broken)])
    assert done.exit_code == 2
    assert "rule 1 (contacts_customers): direction: Field required" in done.output
    missing = CliRunner().invoke(app, ["rules", "apply", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    assert _rules() == {}


def test_fields_are_read_live_from_each_side(qbo_url: str) -> None:
    httpx.patch(
        f"{qbo_url}/_sandbox/realms/{DEFAULT_REALM}/settings",
        json={"custom_fields": ["PO number", "Crew"]},
        timeout=5,
    ).raise_for_status()
    qbo = CliRunner().invoke(
        app, ["rules", "fields", "invoices_invoices", "--side", "qbo", "--json"]
    )
    assert qbo.exit_code == 0, qbo.output
    custom = [f["name"] for f in json.loads(qbo.output) if f["custom"]]
    assert custom == ["CustomField:PO number", "CustomField:Crew"]
    hubspot = CliRunner().invoke(
        app, ["rules", "fields", "invoices_invoices", "--side", "hubspot", "--json"]
    )
    assert hubspot.exit_code == 0, hubspot.output
    fields = {f["name"]: f for f in json.loads(hubspot.output)}
    assert fields["hs_number"]["read_only"] is True
    assert fields["hs_invoice_date"]["type"] == "date"
    assert fields["hs_comments"] == {
        "name": "hs_comments",
        "label": fields["hs_comments"]["label"],
        "type": "text",
        "read_only": False,
        "custom": False,
    }


@pytest.mark.parametrize(
    "args",
    [
        ["dry-run"],
        ["reconcile"],
        ["backfill", "--object", "all", "--since", "2026-01-01"],
        ["backfill", "--object", "invoices", "--since", "2026-01-01"],
    ],
)
def test_commands_that_sync_say_there_is_no_rule_and_name_the_fix(
    qbo_url: str, args: list[str]
) -> None:
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 2, done.output
    assert "run `ledgerbridge rules setup`" in done.output


def test_run_notes_a_connection_without_rules(
    qbo_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledgerbridge.commands.run import _note_missing_rules
    from ledgerbridge.settings import load_settings
    from ledgerbridge.store.configured import open_store

    store = open_store(load_settings(None))
    try:
        _note_missing_rules(store, [1])
    finally:
        store.close()
    err = capsys.readouterr().err
    assert "no sync rule is turned on for connection 1" in err
    assert "ledgerbridge rules setup" in err
