"""HubSpot custom workflow actions: the protocol (R-WF).

* **Definitions** (`/automation/v4/actions/{appId}`): `definition_body(kind, url)` is the
  definition of one action (object types, input and output fields, labels);
  `ensure_definitions` creates the missing ones and updates the ones that differ, so it
  can run at every start (idempotent: it matches existing definitions by `actionUrl`).
* **Execution requests**: HubSpot POSTs `{callbackId, origin, context, object,
  inputFields}` to the action URL, signed like webhooks (signature v3: `verify_execution`
  reuses `hubspot.webhooks.verify_signature_v3`). `parse_execution` reads the body.
* **Callbacks** (`/automation/v4/actions/callbacks/{callbackId}/complete`): an action that
  answered `{"outputFields": {"hs_execution_state": "BLOCK"}}` finishes later with
  `complete_callback(client, callback_id, outputs)`.

Output fields of every action: `qbo_id`, `qbo_doc_number`, `qbo_url` and, on failure,
`error_message` (with `hs_execution_state` `FAIL_CONTINUE`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.webhooks import verify_signature_v3

__all__ = [
    "NAMES",
    "OBJECT_TYPES",
    "OUTPUT_FIELDS",
    "ActionKind",
    "ExecutionRequest",
    "InvalidExecution",
    "block_response",
    "complete_callback",
    "definition_body",
    "ensure_definitions",
    "failure_outputs",
    "parse_execution",
    "success_outputs",
    "verify_execution",
]


class ActionKind(StrEnum):
    """The actions; the value is the last part of the action URL (`/actions/hubspot/…`)."""

    INVOICE = "invoice"
    ESTIMATE = "estimate"
    SALES_RECEIPT = "sales-receipt"
    PAID_INVOICE = "paid-invoice"
    EXPENSE = "expense"
    REFUND_RECEIPT = "refund-receipt"


DEAL_OR_QUOTE = ("DEAL", "QUOTE")
PAYMENT = ("COMMERCE_PAYMENT",)

OBJECT_TYPES: dict[ActionKind, tuple[str, ...]] = {
    ActionKind.INVOICE: DEAL_OR_QUOTE,
    ActionKind.ESTIMATE: DEAL_OR_QUOTE,
    ActionKind.SALES_RECEIPT: (*DEAL_OR_QUOTE, *PAYMENT),  # R-WF-1 and R-WF-6
    ActionKind.PAID_INVOICE: PAYMENT,
    ActionKind.EXPENSE: PAYMENT,
    ActionKind.REFUND_RECEIPT: PAYMENT,
}

NAMES: dict[ActionKind, tuple[str, str]] = {
    ActionKind.INVOICE: (
        "Create QuickBooks invoice",
        "Creates a QuickBooks invoice from the line items of the deal or quote.",
    ),
    ActionKind.ESTIMATE: (
        "Create QuickBooks estimate",
        "Creates a QuickBooks estimate from the line items of the deal or quote.",
    ),
    ActionKind.SALES_RECEIPT: (
        "Create QuickBooks sales receipt",
        "Creates a QuickBooks sales receipt from the line items of the deal, quote or payment.",
    ),
    ActionKind.PAID_INVOICE: (
        "Create QuickBooks paid invoice",
        "Creates a QuickBooks invoice and its payment from the payment (non-taxable lines only).",
    ),
    ActionKind.EXPENSE: (
        "Create QuickBooks expense",
        "Posts the processing and platform fees of the payment as a QuickBooks expense.",
    ),
    ActionKind.REFUND_RECEIPT: (
        "Create QuickBooks refund receipt",
        "Posts a fully refunded payment as a QuickBooks refund receipt.",
    ),
}

# (name, label, description, options or None for free text)
Field = tuple[str, str, str, tuple[tuple[str, str], ...] | None]
YES_NO = (("false", "No"), ("true", "Yes"))
COMPANY: Field = (
    "qbo_company",
    "QuickBooks company",
    "The company (realm id) to write to; empty: the connection's only company.",
    None,
)
MATCHING: Field = (
    "contact_matching",
    "Contact matching",
    "Contact rule: the contact must meet the contact sync rule's filters. Legacy: match a "
    "customer by first name, last name and email, and create it when none matches.",
    (("sync_rule", "Contact sync rule"), ("legacy", "Legacy (name and email)")),
)
CUSTOMER: Field = (
    "customer_contact_id",
    "Customer",
    "The HubSpot contact id of the customer; empty: the first associated contact.",
    None,
)
PRODUCT: Field = (
    "product",
    "Product",
    "A QuickBooks item (name or id) for line items that match no QuickBooks item.",
    None,
)
CREATE_PRODUCT: Field = (
    "create_product_if_missing",
    "Create the product in QuickBooks if it doesn't exist",
    "Yes: a line item that matches no QuickBooks item creates one. No: the action fails.",
    YES_NO,
)
TERMS: Field = (
    "payment_terms",
    "Payment terms",
    "QuickBooks terms of the invoice, e.g. 'Net 30'; empty: the customer's terms.",
    None,
)
ALLOW_INVOICE_PAYMENTS: Field = (
    "allow_invoice_payments",
    "Allow payments of synced invoices",
    "No (recommended): a payment of an invoice that invoice sync posts is refused, so it "
    "is not posted twice.",
    YES_NO,
)
DEPOSIT: Field = (
    "deposit_account",
    "Deposit account",
    "QuickBooks account (name or id) the money goes to; empty: Undeposited Funds.",
    None,
)
REFUND_FROM: Field = (
    "refund_from_account",
    "Refund from account",
    "QuickBooks bank account (name or id) the refund is paid from; empty: the first bank account.",
    None,
)
PAID_FROM: Field = (
    "paid_from_account",
    "Paid from account",
    "QuickBooks bank account (name or id) the fees were paid from; empty: the first bank account.",
    None,
)
FEE_ACCOUNT: Field = (
    "fee_account",
    "Fee expense account",
    "QuickBooks expense account (name or id) for the fees; empty: the first expense account.",
    None,
)

_SALES = (COMPANY, MATCHING, CUSTOMER, PRODUCT, CREATE_PRODUCT)
INPUTS: dict[ActionKind, tuple[Field, ...]] = {
    ActionKind.INVOICE: (*_SALES, TERMS),
    ActionKind.ESTIMATE: _SALES,
    ActionKind.SALES_RECEIPT: (*_SALES, DEPOSIT, ALLOW_INVOICE_PAYMENTS),
    ActionKind.PAID_INVOICE: (*_SALES, DEPOSIT, ALLOW_INVOICE_PAYMENTS),
    ActionKind.EXPENSE: (COMPANY, PAID_FROM, FEE_ACCOUNT),
    ActionKind.REFUND_RECEIPT: (*_SALES, REFUND_FROM),
}

OUTPUT_FIELDS: tuple[tuple[str, str], ...] = (
    ("qbo_id", "QuickBooks id"),
    ("qbo_doc_number", "QuickBooks document number"),
    ("qbo_url", "Link in QuickBooks"),
    ("error_message", "Why the action failed"),
)

REQUESTED_PROPERTIES: dict[str, tuple[str, ...]] = {
    "DEAL": ("dealname", "amount", "hs_payment_link"),
    "QUOTE": ("hs_title", "hs_esign_completed"),
    "COMMERCE_PAYMENT": (
        "hs_initial_amount",
        "hs_currency_code",
        "hs_latest_status",
        "hs_payment_source",
        "hs_processing_fee",
        "hs_platform_fee",
        "hs_refunds_amount",
        "hs_initiated_date",
    ),
}


def _input_field(spec: Field) -> dict[str, Any]:
    name, _label, _description, options = spec
    type_definition: dict[str, Any] = {"name": name, "type": "string", "fieldType": "text"}
    if options is not None:
        type_definition = {
            "name": name,
            "type": "enumeration",
            "fieldType": "select",
            "options": [{"value": v, "label": label} for v, label in options],
        }
    return {
        "typeDefinition": type_definition,
        "supportedValueTypes": ["STATIC_VALUE", "OBJECT_PROPERTY"],
        "isRequired": False,
    }


def definition_body(kind: ActionKind, action_url: str) -> dict[str, Any]:
    """The definition of action `kind`, executed at `action_url`."""
    name, description = NAMES[kind]
    inputs = INPUTS[kind]
    wanted = sorted({p for t in OBJECT_TYPES[kind] for p in REQUESTED_PROPERTIES.get(t, ())})
    return {
        "actionUrl": action_url,
        "published": True,
        "objectTypes": list(OBJECT_TYPES[kind]),
        "objectRequestOptions": {"properties": wanted},
        "inputFields": [_input_field(spec) for spec in inputs],
        "outputFields": [
            {"typeDefinition": {"name": n, "type": "string", "fieldType": "text"}}
            for n, _ in OUTPUT_FIELDS
        ],
        "labels": {
            "en": {
                "actionName": name,
                "actionDescription": description,
                "actionCardContent": name,
                "inputFieldLabels": {spec[0]: spec[1] for spec in inputs},
                "inputFieldDescriptions": {spec[0]: spec[2] for spec in inputs},
                "outputFieldLabels": dict(OUTPUT_FIELDS),
            }
        },
    }


_COMPARED = ("actionUrl", "published", "objectTypes", "objectRequestOptions", "inputFields")
_COMPARED_TOO = ("outputFields", "labels")


def _differs(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return any(current.get(k) != wanted[k] for k in (*_COMPARED, *_COMPARED_TOO))


async def ensure_definitions(
    client: HubSpotClient,
    app_id: str,
    base_url: str,
    kinds: Sequence[ActionKind] = tuple(ActionKind),
) -> dict[ActionKind, str]:
    """Create or update the definitions of `kinds` on app `app_id`, whose actions are
    executed under `base_url` (`{base_url}/actions/hubspot/{kind}`); {kind: definition id}.
    Existing definitions are found by their action URL; unchanged ones are left alone."""
    path = f"/automation/v4/actions/{app_id}"
    listing = await client.session.request("GET", path) or {}
    by_url = {
        str(d.get("actionUrl")): d
        for d in listing.get("results") or []
        if isinstance(d, Mapping) and not d.get("archivedAt")
    }
    ids: dict[ActionKind, str] = {}
    for kind in kinds:
        url = f"{base_url.rstrip('/')}/actions/hubspot/{kind.value}"
        wanted = definition_body(kind, url)
        current = by_url.get(url)
        if current is None:
            created = await client.session.request("POST", path, json=wanted)
            ids[kind] = str(created["id"])
            continue
        ids[kind] = str(current["id"])
        if _differs(current, wanted):
            await client.session.request("PATCH", f"{path}/{current['id']}", json=wanted)
    return ids


class InvalidExecution(ValueError):
    """The body is not a workflow action execution request."""


@dataclass(frozen=True, slots=True)
class ExecutionRequest:
    """One execution of an action for one enrolled record."""

    callback_id: str
    portal_id: str
    definition_id: str | None
    object_type: str  # "DEAL", "QUOTE", "COMMERCE_PAYMENT", …
    object_id: str
    properties: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)
    workflow_id: str | None = None

    def input(self, name: str, default: str = "") -> str:
        value = self.inputs.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else default


def _strings(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def parse_execution(body: bytes) -> ExecutionRequest:
    """The execution request in `body`; `InvalidExecution` when it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidExecution(f"the body is not JSON: {exc}") from exc
    except RecursionError as exc:  # nested deeper than the parser goes: not a real request
        raise InvalidExecution("the body's JSON is nested too deeply") from exc
    if not isinstance(data, Mapping):
        raise InvalidExecution("an execution request is a JSON object")
    callback_id = data.get("callbackId")
    origin = data.get("origin") if isinstance(data.get("origin"), Mapping) else {}
    obj = data.get("object") if isinstance(data.get("object"), Mapping) else {}
    context = data.get("context") if isinstance(data.get("context"), Mapping) else {}
    assert isinstance(origin, Mapping) and isinstance(obj, Mapping)
    assert isinstance(context, Mapping)
    if not isinstance(callback_id, str) or not callback_id:
        raise InvalidExecution("the execution request has no callbackId")
    if origin.get("portalId") is None or obj.get("objectId") is None or not obj.get("objectType"):
        raise InvalidExecution("the execution request lacks origin.portalId or the object")
    inputs = data.get("inputFields")
    definition = origin.get("actionDefinitionId")
    workflow = context.get("workflowId")
    return ExecutionRequest(
        callback_id=callback_id,
        portal_id=str(origin["portalId"]),
        definition_id=None if definition is None else str(definition),
        object_type=str(obj["objectType"]).upper(),
        object_id=str(obj["objectId"]),
        properties=_strings(obj.get("properties")),
        inputs=_strings(inputs if isinstance(inputs, Mapping) else data.get("fields")),
        workflow_id=None if workflow is None else str(workflow),
    )


def verify_execution(
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    client_secret: str,
    now: dt.datetime,
) -> bool:
    """Whether the request carries HubSpot's fresh v3 signature (the webhook scheme)."""
    return verify_signature_v3(
        method,
        uri,
        body,
        headers.get("x-hubspot-request-timestamp"),
        headers.get("x-hubspot-signature-v3"),
        client_secret,
        now,
    )


def block_response() -> dict[str, Any]:
    """The immediate answer: the action finishes later through the callbacks API."""
    return {"outputFields": {"hs_execution_state": "BLOCK"}}


def success_outputs(qbo_id: str, doc_number: str | None, url: str) -> dict[str, str]:
    return {
        "hs_execution_state": "SUCCESS",
        "qbo_id": qbo_id,
        "qbo_doc_number": doc_number or "",
        "qbo_url": url,
    }


def failure_outputs(message: str) -> dict[str, str]:
    """A failed action: the workflow goes on, and the history shows `message`."""
    return {"hs_execution_state": "FAIL_CONTINUE", "error_message": message}


async def complete_callback(
    client: HubSpotClient, callback_id: str, outputs: Mapping[str, str]
) -> None:
    """Finish a blocked execution (`POST …/callbacks/{callbackId}/complete`)."""
    await client.session.request(
        "POST",
        f"/automation/v4/actions/callbacks/{callback_id}/complete",
        json={"outputFields": dict(outputs)},
    )
