"""Optional side capabilities are said explicitly (`SidePort.capabilities`), never found by
`isinstance`: a wrapper around a side keeps them by forwarding them, and a wrapper that
takes one away says so (the backfill's `WindowedSide`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.side.port import HubSpotSide
from ledgerbridge.hubspot.side.window import HubSpotWindow
from ledgerbridge.operations.backfill import Position, WindowedSide
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.side.port import QboSide
from ledgerbridge.qbo.side.window import QboWindow
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.payments_pass import run_payment_pass
from ledgerbridge.sync.ports import Capabilities
from ledgerbridge.sync.report import PairReport
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.transport.oauth import StaticToken
from tests.support.forwarding import ForwardingSide
from tests.unit.engine.fakes import Clock, FakeSide, FakeState

H, Q = System.HUBSPOT, System.QUICKBOOKS
INVOICES = ObjectPair.INVOICES_INVOICES


class Forwarding(ForwardingSide):
    """A wrapper as a test or a runtime would write one: it forwards the side's calls and
    its capabilities."""


@pytest.fixture
async def sides() -> AsyncIterator[tuple[HubSpotSide, QboSide]]:
    async with httpx.AsyncClient() as http:
        token = StaticToken("t")
        hubspot = HubSpotSide(HubSpotClient(http, tokens=token, base_url="http://hubspot.test"))
        qbo = QboSide(QboClient(http, realm_id="1", tokens=token, base_url="http://qbo.test"))
        yield hubspot, qbo


async def test_the_connector_sides_offer_their_window_payments_and_custom_line_item(
    sides: tuple[HubSpotSide, QboSide],
) -> None:
    hubspot, qbo = sides
    assert isinstance(hubspot.capabilities.window, HubSpotWindow)
    assert hubspot.capabilities.payments is hubspot.payments
    assert hubspot.capabilities.custom_line_item is None
    assert isinstance(qbo.capabilities.window, QboWindow)
    assert qbo.capabilities.payments is qbo.payments
    assert qbo.capabilities.custom_line_item is qbo


async def test_a_wrapper_keeps_every_capability_of_the_side_it_wraps(
    sides: tuple[HubSpotSide, QboSide],
) -> None:
    for side in sides:
        assert Forwarding(Forwarding(side)).capabilities == side.capabilities


async def test_the_backfill_window_keeps_the_custom_line_item_and_journal_and_drops_the_rest(
    sides: tuple[HubSpotSide, QboSide],
) -> None:
    _, qbo = sides
    windowed = WindowedSide(
        Forwarding(qbo),
        QboWindow(qbo),
        Position(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        until=None,
        batch_size=10,
    )
    assert windowed.capabilities == Capabilities(custom_line_item=qbo, sent_creates=qbo)


async def test_without_payments_on_a_side_the_payment_pass_reads_nothing() -> None:
    clock = Clock()
    hubspot, qbo = FakeSide(H, clock), FakeSide(Q, clock)
    rule = wizard_defaults(INVOICES)
    assert rule.payments_enabled
    state = FakeState([rule])
    report = PairReport(INVOICES)

    await run_payment_pass(rule, {H: hubspot, Q: qbo}, state, report)

    assert state.commits == [] and hubspot.reads == qbo.reads == 0
