"""The workflow action protocol (hubspot.actions): definitions, execution requests, signatures,
outputs (R-WF-1)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ledgerbridge.hubspot.actions import (
    ActionKind,
    InvalidExecution,
    block_response,
    definition_body,
    failure_outputs,
    parse_execution,
    success_outputs,
    verify_execution,
)
from ledgerbridge.hubspot.webhooks import sign_v3

NOW = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)
URL = "https://lb.example/actions/hubspot/invoice"


def _inputs(kind: ActionKind) -> list[str]:
    body = definition_body(kind, URL)
    return [f["typeDefinition"]["name"] for f in body["inputFields"]]


def test_r_wf_1_deal_and_quote_actions_take_company_customer_product_and_create_flag() -> None:
    for kind in (ActionKind.INVOICE, ActionKind.ESTIMATE, ActionKind.SALES_RECEIPT):
        inputs = _inputs(kind)
        assert {"qbo_company", "customer_contact_id", "product"} <= set(inputs)
        assert "create_product_if_missing" in inputs
        assert {"DEAL", "QUOTE"} <= set(definition_body(kind, URL)["objectTypes"])
    # payment terms: the invoice only
    assert "payment_terms" in _inputs(ActionKind.INVOICE)
    assert "payment_terms" not in _inputs(ActionKind.ESTIMATE)
    assert "payment_terms" not in _inputs(ActionKind.SALES_RECEIPT)


def test_r_wf_6_to_8_payment_actions_run_on_payments() -> None:
    for kind in (ActionKind.PAID_INVOICE, ActionKind.EXPENSE, ActionKind.REFUND_RECEIPT):
        assert definition_body(kind, URL)["objectTypes"] == ["COMMERCE_PAYMENT"]
    assert "COMMERCE_PAYMENT" in definition_body(ActionKind.SALES_RECEIPT, URL)["objectTypes"]
    assert "allow_invoice_payments" in _inputs(ActionKind.PAID_INVOICE)


def test_definitions_carry_labels_and_the_three_outputs() -> None:
    body = definition_body(ActionKind.EXPENSE, URL)
    labels = body["labels"]["en"]
    assert labels["actionName"] == "Create QuickBooks expense"
    assert set(labels["inputFieldLabels"]) == set(_inputs(ActionKind.EXPENSE))
    outputs = [f["typeDefinition"]["name"] for f in body["outputFields"]]
    assert outputs[:3] == ["qbo_id", "qbo_doc_number", "qbo_url"]
    assert body["actionUrl"] == URL and body["published"] is True


def _body(**changes: object) -> bytes:
    payload: dict[str, object] = {
        "callbackId": "ap-1-2-3-0",
        "origin": {"portalId": 62515, "actionDefinitionId": 77},
        "context": {"source": "WORKFLOWS", "workflowId": 9},
        "object": {"objectId": 1234, "objectType": "DEAL", "properties": {"dealname": "D"}},
        "inputFields": {"payment_terms": " Net 30 ", "product": None},
    }
    payload.update(changes)
    return json.dumps(payload).encode()


def test_parse_execution_reads_the_request() -> None:
    request = parse_execution(_body())
    assert request.callback_id == "ap-1-2-3-0"
    assert (request.portal_id, request.definition_id, request.workflow_id) == ("62515", "77", "9")
    assert (request.object_type, request.object_id) == ("DEAL", "1234")
    assert request.properties == {"dealname": "D"}
    assert request.input("payment_terms") == "Net 30"
    assert request.input("product", "fallback") == "fallback"


def test_parse_execution_accepts_the_older_fields_key() -> None:
    body = json.loads(_body())
    body["fields"] = body.pop("inputFields")
    assert parse_execution(json.dumps(body).encode()).input("payment_terms") == "Net 30"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        _body(callbackId=""),
        _body(object={"objectType": "DEAL"}),
        _body(origin={}),
    ],
)
def test_parse_execution_refuses_what_is_not_an_execution(body: bytes) -> None:
    with pytest.raises(InvalidExecution):
        parse_execution(body)


def _headers(secret: str, body: bytes, at: dt.datetime) -> dict[str, str]:
    timestamp = str(int(at.timestamp() * 1000))
    return {
        "x-hubspot-request-timestamp": timestamp,
        "x-hubspot-signature-v3": sign_v3("POST", URL, body, timestamp, secret),
    }


def test_signature_v3_is_checked_like_webhooks() -> None:
    body = _body()
    good = _headers("secret", body, NOW)
    assert verify_execution("POST", URL, body, good, "secret", NOW)
    assert not verify_execution("POST", URL, body, _headers("forged", body, NOW), "secret", NOW)
    assert not verify_execution("POST", URL, body + b" ", good, "secret", NOW)
    stale = _headers("secret", body, NOW - dt.timedelta(minutes=6))
    assert not verify_execution("POST", URL, body, stale, "secret", NOW)
    assert not verify_execution("POST", URL, body, {}, "secret", NOW)


def test_outputs() -> None:
    assert block_response() == {"outputFields": {"hs_execution_state": "BLOCK"}}
    assert success_outputs("12", None, "u") == {
        "hs_execution_state": "SUCCESS",
        "qbo_id": "12",
        "qbo_doc_number": "",
        "qbo_url": "u",
    }
    assert failure_outputs("why") == {"hs_execution_state": "FAIL_CONTINUE", "error_message": "why"}
