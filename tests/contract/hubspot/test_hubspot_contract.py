"""Contract tests of the HubSpot connector against the HubSpot sandbox.

Every test runs in-process (ASGI transport) and, unless marked `asgi` only, over real
HTTP. Request counts are asserted, never durations.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledgerbridge.domain import Line, Money
from ledgerbridge.hubspot.changes import read_changes
from ledgerbridge.hubspot.codec import encode_line_item, writable
from ledgerbridge.hubspot.objects import HubSpotRecord
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory
from ledgerbridge.transport.oauth import OAuthTokenManager
from ledgerbridge.transport.tokens import TokenSet

from .harness import FileTokenStore, Lab, RotatingRefreshTokens, lab

asgi_only = pytest.mark.parametrize("hubspot", ["asgi"], indirect=True)


@pytest.fixture(params=["asgi", "http"])
def hubspot(request: pytest.FixtureRequest) -> Iterator[Lab]:
    yield from lab(request.param)


def line_props(i: int) -> dict[str, str]:
    line = Line(name=f"Line {i}", quantity=i % 5 + 1, unit_price=Money.of(f"{i}.50", "USD"))
    return writable("line_items", encode_line_item(line))


class TestHubSpotConnector:
    async def test_crud_and_after_paging(self, hubspot: Lab) -> None:
        sb = hubspot.connector()
        async with sb.client(page_size=2) as client:
            made = [
                await client.create("products", {"name": f"P{i}", "price": "5"}) for i in range(5)
            ]
            got = await client.get("products", made[0].id, ["name", "price"])
            assert got.properties["name"] == "P0"
            assert got.updated_at is not None and got.updated_at.tzinfo is not None
            updated = await client.update("products", made[1].id, {"price": "6.25"})
            assert updated.id == made[1].id
            await client.archive("products", made[2].id)
            live = [r.id async for r in client.list_all("products", ["name"])]
            gone = [r async for r in client.list_all("products", archived=True)]
        assert live == [m.id for m in made if m.id != made[2].id]
        assert [(r.id, r.deleted) for r in gone] == [(made[2].id, True)]
        assert (
            sb.traffic.count("GET", "/crm/v3/objects/products") == 2 + 1
        )  # 4 live / 2, 1 archived

    async def test_batch_partial_failure_is_mapped_to_its_input(self, hubspot: Lab) -> None:
        sb = hubspot.connector()
        inputs = [line_props(i) for i in range(5)]
        inputs[3] = {**inputs[3], "price": "not a number"}
        async with sb.client() as client:
            result = await client.batch_create("line_items", inputs)
            reread = await client.batch_read(
                "line_items", [r.id for r in result.records] + ["999999"], ["name"]
            )
        assert [item.ok for item in result.items] == [True, True, True, False, True]
        error = result[3].error
        assert error is not None and error.category is ErrorCategory.VALIDATION
        for i in (0, 1, 2, 4):
            record = result[i].record
            assert record is not None and record.properties["name"] == f"Line {i}"
        assert [item.ok for item in reread.items] == [True, True, True, True, False]
        missing = reread[4].error
        assert missing is not None and missing.category is ErrorCategory.NOT_FOUND

    async def test_upsert_by_unique_never_creates_twice(self, hubspot: Lab) -> None:
        sb = hubspot.connector()
        async with sb.client() as client:
            prop = await client.ensure_unique_property("invoices")
            assert prop["hasUniqueValue"] is True
            again = await client.ensure_unique_property("invoices")
            assert again["name"] == "ledgerbridge_qbo_id"
            first = await client.upsert_by_unique(
                "invoices", [("qbo-1", {"hs_currency": "USD"}), ("qbo-2", {"hs_currency": "EUR"})]
            )
            second = await client.upsert_by_unique(
                "invoices", [("qbo-2", {"hs_comments": "x"}), ("qbo-1", {"hs_comments": "y"})]
            )
        assert [i.created for i in first.items] == [True, True]
        assert [i.created for i in second.items] == [False, False]
        assert [r.id for r in second.records] == [r.id for r in first.records][::-1]
        assert len(sb.sandbox.state.live("invoices")) == 2

    async def test_read_changes_reads_edits_and_deletions(self, hubspot: Lab) -> None:
        sb = hubspot.connector()
        async with sb.client() as client:
            made = await client.batch_create("deals", [{"dealname": f"D{i}"} for i in range(5)])
            sb.time.now += 1
            ids = [r.id for r in made.records] + [(await client.create("deals", {})).id]
            first = await read_changes(client, "deals", None, ["dealname"])
            assert [r.id for r in first.records] == ids
            sb.time.now += 60
            await client.update("deals", ids[1], {"dealname": "renamed"})
            await client.archive("deals", ids[3])
            second = await read_changes(client, "deals", first.next_cursor, ["dealname"])
        changed = {r.id: r for r in second.records}
        assert changed[ids[1]].properties["dealname"] == "renamed"
        assert changed[ids[3]].deleted
        assert set(changed) == {ids[1], ids[3], ids[5]}  # ids[5]: the cursor's millisecond
        assert second.next_cursor is not None and first.next_cursor is not None
        assert second.next_cursor > first.next_cursor

    async def test_associations(self, hubspot: Lab) -> None:
        sb = hubspot.connector()
        async with sb.client() as client:
            contact = await client.create("contacts", {"email": "ada@example.com"})
            invoice = await client.create("invoices", {"hs_currency": "USD"})
            lines = (
                await client.batch_create("line_items", [line_props(i) for i in range(3)])
            ).records
            await client.associate_default("invoices", invoice.id, "contacts", contact.id)
            outcome = await client.batch_associate(
                "invoices",
                "line_items",
                [(invoice.id, li.id) for li in lines] + [(invoice.id, "1")],
            )
            typed = await client.batch_associate(
                "contacts", "companies", [(contact.id, "424242")], type_id=279
            )
            links = await client.batch_read_associations(
                "invoices", "line_items", [invoice.id, "5"]
            )
            read = await client.get(
                "invoices", invoice.id, ["hs_currency"], ["contacts", "line_items"]
            )
            opened = await client.update("invoices", invoice.id, {"hs_invoice_status": "open"})
        assert outcome[:3] == [None, None, None]
        assert outcome[3] is not None and outcome[3].category is ErrorCategory.NOT_FOUND
        assert typed[0] is not None
        assert links == {invoice.id: [li.id for li in lines], "5": []}
        assert read.associated("contacts") == (contact.id,)
        assert read.associated("line_items") == tuple(li.id for li in lines)
        assert opened.id == invoice.id

    async def test_a_rotated_refresh_token_keeps_working_after_a_restart(
        self, hubspot: Lab, tmp_path: Path
    ) -> None:
        sb = hubspot.connector()
        store = FileTokenStore(tmp_path / "hubspot-tokens.json")
        async with httpx.AsyncClient(transport=sb.transport(), base_url=sb.base_url) as plain:
            code = (
                await plain.get("/oauth/authorize", params={"client_id": sb.config.oauth_client_id})
            ).json()["code"]
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": sb.config.oauth_client_id,
                "client_secret": sb.config.oauth_client_secret,
            }
            grant = (await plain.post("/oauth/v1/token", data=form)).json()
        await store.save(
            TokenSet(
                grant["access_token"],
                grant["refresh_token"],
                sb.time.wall() + dt.timedelta(seconds=1800),
            )
        )

        async def run_once() -> tuple[str, int]:
            rotating = RotatingRefreshTokens(sb.transport(), sb.sandbox)
            async with httpx.AsyncClient(transport=rotating, base_url=sb.base_url) as http:
                tokens = OAuthTokenManager(
                    http=http,
                    token_url=f"{sb.base_url}/oauth/v1/token",
                    client_id=sb.config.oauth_client_id,
                    client_secret=sb.config.oauth_client_secret,
                    store=store,
                    client_auth="body",
                    clock=sb.time.wall,
                )
                async with sb.client(tokens=tokens, transport=rotating) as client:
                    made = await client.create("contacts", {"email": f"r{sb.time.now}@x.io"})
                return made.id, rotating.rotations

        await run_once()
        sb.time.now += 3600  # the access token expired: the next call refreshes (and rotates)
        _, rotations = await run_once()
        assert rotations == 1
        saved = await store.load()
        assert saved is not None and saved.refresh_token == "rotated-1"
        assert grant["refresh_token"] not in sb.sandbox.tokens.refresh  # the old one is dead
        sb.time.now += 3600  # "restart": a new process, same store, expired access token
        made, rotations = await run_once()
        assert made and rotations == 1
        saved = await store.load()
        assert saved is not None and saved.refresh_token == "rotated-1"  # new wrapper numbering
        sb.sandbox.tokens.refresh.clear()  # revoked grant: an authentication error
        sb.time.now += 3600
        with pytest.raises(AuthenticationError):
            await run_once()

    @asgi_only
    async def test_1000_invoices_under_faults_are_created_exactly_once(self, hubspot: Lab) -> None:
        sb = hubspot.connector(
            fault_429_rate=0.05,
            fault_500_rate=0.02,
            timeout_after_commit_rate=0.01,
            hang_seconds=30.0,
            random_seed=20240501,
        )
        async with sb.client(batch_size=10) as client:
            await client.ensure_unique_property("invoices")
            inputs = [
                (f"qbo-{i}", {"hs_currency": "USD", "hs_comments": f"#{i}"}) for i in range(1000)
            ]
            result = await client.upsert_by_unique("invoices", inputs)
            listed = [r async for r in client.list_all("invoices", ["ledgerbridge_qbo_id"])]
        assert result.all_ok
        assert len({r.id for r in result.records}) == 1000
        keys = Counter(r.properties["ledgerbridge_qbo_id"] for r in listed)
        assert len(listed) == 1000
        assert set(keys) == {key for key, _ in inputs} and max(keys.values()) == 1
        # the faults really happened, and each was survived by a retry
        assert sb.traffic.statuses[429] >= 1
        assert sb.traffic.statuses[500] >= 1
        assert sb.traffic.timeouts >= 1
        answered = Counter(s for _, p, s in sb.traffic.calls if p.endswith("/batch/upsert"))
        assert answered[200] == 100  # each chunk of 10 succeeded exactly once
        assert answered[429] + answered[500] >= 1  # and some of them had to be retried

    @asgi_only
    async def test_1000_line_items_take_10_batch_requests(self, hubspot: Lab) -> None:
        sb = hubspot.connector()
        async with sb.client() as client:
            result = await client.batch_create("line_items", [line_props(i) for i in range(1000)])
        assert result.all_ok and len(result.records) == 1000
        assert [r.properties["name"] for r in result.records] == [f"Line {i}" for i in range(1000)]
        assert sb.traffic.count("POST", "/crm/v3/objects/line_items/batch/create") == 10
        assert len(sb.traffic.calls) == 10
        assert len(sb.sandbox.state.live("line_items")) == 1000

    @asgi_only
    async def test_read_changes_walks_a_crowded_millisecond_by_id(self, hubspot: Lab) -> None:
        sb = hubspot.connector()
        state = sb.sandbox.state
        for i in range(450):  # one bulk import: every record in the same millisecond
            state.create("deals", {"dealname": f"bulk {i}"})
        async with sb.client() as client:
            changes = await read_changes(client, "deals", None, ["dealname"], include_deleted=False)
        ids = [r.id for r in changes.records]
        assert len(ids) == len(set(ids)) == 450
        # one full page of one timestamp, 3 by id (200+200+50), one past the millisecond
        assert changes.searches == 1 + 3 + 1
        assert isinstance(changes.records[0], HubSpotRecord)


class _Receiver(httpx.AsyncBaseTransport):
    """Stands in for ledgerbridge's webhook endpoint: keeps what the sandbox sends."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return httpx.Response(204)


async def test_webhooks_signed_by_the_sandbox_verify_and_parse() -> None:
    from ledgerbridge.hubspot.webhooks import parse_events, verify_signature_v3
    from ledgerbridge.sandbox.hubspot.app import create_app

    from .harness import FakeTime, sandbox_config

    time = FakeTime()
    receiver = _Receiver()
    config = sandbox_config(time, webhook_target_url="https://ledgerbridge.test/hooks/hubspot?c=1")
    app = create_app(config, transport=receiver)
    app.state.sandbox.state.create("invoices", {"hs_currency": "USD"})
    await app.state.sandbox.settle()
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    headers = request.headers
    assert verify_signature_v3(
        "POST",
        str(request.url),
        request.content,
        headers["X-HubSpot-Request-Timestamp"],
        headers["X-HubSpot-Signature-v3"],
        config.app_client_secret,
        time.wall(),
    )
    assert not verify_signature_v3(
        "POST",
        str(request.url),
        request.content,
        headers["X-HubSpot-Request-Timestamp"],
        headers["X-HubSpot-Signature-v3"],
        "wrong-secret",
        time.wall(),
    )
    events = parse_events(request.content)
    assert {e.object_type for e in events} == {"invoices"}
    assert events[0].action == "creation"
    assert events[0].object_id is not None
