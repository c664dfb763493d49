"""hubspot-api-client (unchanged, only `host` pointed at the sandbox) over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException
from hubspot.crm.line_items.exceptions import NotFoundException as LineItemNotFound
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import PropertyCreate
from hubspot.utils.signature import Signature

from ledgerbridge.sandbox.hubspot import HubSpotSandboxConfig, create_app
from tests.support.servers import serve_in_thread

SECRET = "fidelity-secret"


@pytest.fixture(scope="module")
def received() -> list[dict[str, Any]]:
    return []


@pytest.fixture(scope="module")
def receiver_url(received: list[dict[str, Any]]) -> Iterator[str]:
    receiver = FastAPI()

    @receiver.post("/hooks")
    async def hooks(request: Request) -> Response:
        received.append(
            {
                "method": request.method,
                "url": str(request.url),
                "body": (await request.body()).decode(),
                "headers": dict(request.headers),
            }
        )
        return Response(status_code=204)

    with serve_in_thread(receiver) as url:
        yield url


@pytest.fixture(scope="module")
def base_url(receiver_url: str) -> Iterator[str]:
    config = HubSpotSandboxConfig(
        app_client_secret=SECRET,
        search_rate_per_second=0,
        webhook_target_url=f"{receiver_url}/hooks",
        webhook_retry_schedule=(),
    )
    with serve_in_thread(create_app(config)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> hubspot.Client:
    return hubspot.Client.create(access_token="sandbox", host=base_url)


def test_contacts_create_read_update_archive(client: hubspot.Client) -> None:
    api = client.crm.contacts.basic_api
    created = api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace"}
        )
    )
    assert created.id.isdigit()
    assert created.properties["email"] == "ada@example.com"
    read = api.get_by_id(created.id, properties=["email", "firstname"])
    assert read.properties["firstname"] == "Ada"
    by_email = api.get_by_id("ada@example.com", id_property="email")
    assert by_email.id == created.id
    updated = api.update(created.id, SimplePublicObjectInput(properties={"lastname": "King"}))
    assert updated.properties["lastname"] == "King"
    assert updated.updated_at >= created.created_at
    with pytest.raises(ApiException) as bad:
        api.update(created.id, SimplePublicObjectInput(properties={"no_such_prop": "x"}))
    assert bad.value.status == 400
    assert json.loads(bad.value.body)["category"] == "VALIDATION_ERROR"
    api.archive(created.id)
    with pytest.raises(NotFoundException):
        api.get_by_id(created.id)


def test_products_list_paging(client: hubspot.Client) -> None:
    api = client.crm.products.basic_api
    ids = {
        api.create(SimplePublicObjectInputForCreate(properties={"name": f"P{i}"})).id
        for i in range(5)
    }
    seen: set[str] = set()
    after = None
    pages = 0
    while True:
        page = api.get_page(limit=2, after=after, properties=["name"])
        seen.update(r.id for r in page.results)
        pages += 1
        if page.paging is None:
            break
        after = page.paging.next.after
    assert ids <= seen
    assert pages >= 3
    everything = client.crm.products.get_all()
    assert ids <= {p.id for p in everything}


def test_custom_unique_property_and_batch_upsert(client: hubspot.Client) -> None:
    client.crm.properties.core_api.create(
        "products",
        PropertyCreate(
            name="ledgerbridge_qbo_id",
            label="QBO id",
            type="string",
            field_type="text",
            group_name="productinformation",
            has_unique_value=True,
        ),
    )
    prop = client.crm.properties.core_api.get_by_name("products", "ledgerbridge_qbo_id")
    assert prop.has_unique_value is True
    batch = client.crm.products.batch_api
    body = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(
                id=f"qbo-{i}", id_property="ledgerbridge_qbo_id", properties={"name": f"Item {i}"}
            )
            for i in range(3)
        ]
    )
    first = batch.upsert(body)
    assert sorted(r.new for r in first.results) == [True, True, True]
    second = batch.upsert(body)
    assert [r.new for r in second.results] == [False, False, False]
    assert {r.id for r in first.results} == {r.id for r in second.results}
    read = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="qbo-1")],
            id_property="ledgerbridge_qbo_id",
            properties=["name", "ledgerbridge_qbo_id"],
            properties_with_history=[],
        )
    )
    assert [r.properties["name"] for r in read.results] == ["Item 1"]


def test_line_items_and_invoices_with_associations(client: hubspot.Client) -> None:
    contact = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "buyer@example.com"})
    )
    line = client.crm.line_items.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"name": "Widget", "quantity": "2", "price": "10.50"}
        )
    )
    assert line.properties["amount"] == "21.00"
    invoices = client.crm.objects.basic_api
    invoice = invoices.create(
        "invoices", SimplePublicObjectInputForCreate(properties={"hs_currency": "USD"})
    )
    assert invoice.properties["hs_invoice_status"] == "draft"
    assoc = client.crm.associations.v4.basic_api
    assoc.create_default("invoices", invoice.id, "contacts", contact.id)
    labelled = assoc.create(
        "invoices",
        invoice.id,
        "line_items",
        line.id,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=409)],
    )
    assert str(labelled.to_object_id) == line.id
    listed = assoc.get_page("invoices", invoice.id, "line_items")
    assert [str(r.to_object_id) for r in listed.results] == [line.id]
    assert listed.results[0].association_types[0].type_id == 409
    reverse = assoc.get_page("line_items", line.id, "invoices")
    assert reverse.results[0].association_types[0].type_id == 410
    opened = invoices.update(
        "invoices", invoice.id, SimplePublicObjectInput(properties={"hs_invoice_status": "open"})
    )
    assert opened.properties["hs_invoice_status"] == "open"
    read = invoices.get_by_id(
        "invoices", invoice.id, properties=["hs_amount_billed", "hs_balance_due", "hs_number"]
    )
    assert read.properties["hs_amount_billed"] == "21.00"
    assert read.properties["hs_balance_due"] == "21.00"
    assert read.properties["hs_number"]
    client.crm.line_items.basic_api.archive(line.id)
    with pytest.raises(LineItemNotFound):
        client.crm.line_items.basic_api.get_by_id(line.id)


def test_search_with_filters_and_paging(client: hubspot.Client) -> None:
    api = client.crm.contacts
    for i in range(7):
        api.basic_api.create(
            SimplePublicObjectInputForCreate(
                properties={"email": f"search{i}@corp.example", "lastname": "Searchable"}
            )
        )
    request = PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(
                filters=[Filter(property_name="lastname", operator="EQ", value="searchable")]
            )
        ],
        properties=["email"],
        limit=3,
        sorts=["email"],
    )
    first = api.search_api.do_search(request)
    assert first.total == 7
    assert len(first.results) == 3
    emails = [r.properties["email"] for r in first.results]
    while first.paging is not None:
        request.after = first.paging.next.after
        first = api.search_api.do_search(request)
        emails.extend(r.properties["email"] for r in first.results)
    assert emails == [f"search{i}@corp.example" for i in range(7)]


def test_signature_helper_validates_a_sandbox_webhook(
    client: hubspot.Client, received: list[dict[str, Any]]
) -> None:
    client.crm.companies.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"name": "Signed Inc"})
    )
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert received, "the sandbox delivered no webhook"
    hook = received[-1]
    headers = hook["headers"]
    assert Signature.is_valid(
        signature=headers["x-hubspot-signature-v3"],
        client_secret=SECRET,
        request_body=hook["body"],
        http_uri=hook["url"],
        http_method="POST",
        signature_version="v3",
        timestamp=headers["x-hubspot-request-timestamp"],
    )
    events = json.loads(hook["body"])
    assert all("objectTypeId" in e for e in events)
