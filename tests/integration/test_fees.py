"""`ledgerbridge fees` over the HubSpot sandbox (R-PAY-4): known fees, known sums."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.runtime.clients import sandbox_options
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.hubspot.config import HubSpotSandboxConfig
from ledgerbridge.sandbox.qbo.config import DEFAULT_REALM
from ledgerbridge.store import Store, TokenCipher, generate_key
from tests.support.servers import serve_in_thread

PAYMENTS = [
    # (date, amount, currency, status, processing fee, platform fee)
    ("2026-01-01T00:00:00Z", "100.00", "USD", "succeeded", "3.20", "1.00"),
    ("2026-01-15T10:30:00Z", "250.00", "USD", "partially_refunded", "7.55", "2.50"),
    ("2026-01-31T23:59:59Z", "40.00", "USD", "refunded", "1.46", None),
    ("2026-01-20T08:00:00Z", "80.00", "EUR", "succeeded", "2.12", "0.80"),
    ("2026-01-21T08:00:00Z", "60.00", "USD", "failed", "0.00", None),  # did not settle
    ("2026-01-22T08:00:00Z", "70.00", "USD", "processing", None, None),  # did not settle
    ("2025-12-31T23:59:59Z", "500.00", "USD", "succeeded", "15.00", "5.00"),  # before
    ("2026-02-01T00:00:00Z", "500.00", "USD", "succeeded", "15.00", "5.00"),  # after
]


@pytest.fixture
def hubspot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    key = generate_key()
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("LEDGERBRIDGE_SECRET_KEY", key)
    monkeypatch.setenv("LEDGERBRIDGE_CONFIG", "")
    monkeypatch.chdir(tmp_path)
    with serve_in_thread(hubspot_app(HubSpotSandboxConfig())) as hs_url:
        store = Store.open(url, TokenCipher(key.encode()))
        with store.begin() as tx:
            tx.create_connection(
                name="sandboxes",
                hubspot_base_url=hs_url,
                qbo_base_url="http://127.0.0.1:9",  # never called
                qbo_realm_id=DEFAULT_REALM,
                options=sandbox_options("sandbox"),
            )
        store.close()
        with httpx.Client(timeout=10) as http:
            for date, amount, currency, status, processing, platform in PAYMENTS:
                props = {
                    "hs_initiated_date": date,
                    "hs_initial_amount": amount,
                    "hs_currency_code": currency,
                    "hs_latest_status": status,
                    "hs_processor_type": "hubspot_payments",
                }
                if processing is not None:
                    props["hs_processing_fee"] = processing
                if platform is not None:
                    props["hs_platform_fee"] = platform
                http.post(
                    f"{hs_url}/_sandbox/objects/commerce_payments", json={"properties": props}
                ).raise_for_status()
        yield hs_url


def test_R_PAY_4_fee_sums_by_currency_json(hubspot: str) -> None:
    result = CliRunner().invoke(
        app, ["fees", "--since", "2026-01-01", "--until", "2026-01-31", "--json"]
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["since"] == "2026-01-01" and report["until"] == "2026-01-31"
    assert report["currencies"] == [
        {
            "currency": "EUR",
            "payments": 1,
            "amount": "80.00",
            "processing_fees": "2.12",
            "platform_fees": "0.80",
            "total_fees": "2.92",
        },
        {
            "currency": "USD",
            "payments": 3,
            "amount": "390.00",
            "processing_fees": "12.21",
            "platform_fees": "3.50",
            "total_fees": "15.71",
        },
    ]
    assert report["not_settled"] == 2 and report["unreadable"] == []


def test_R_PAY_4_fee_table_and_one_day_period(hubspot: str) -> None:
    result = CliRunner().invoke(app, ["fees", "--since", "2026-01-20", "--until", "2026-01-20"])

    assert result.exit_code == 0, result.output
    assert "EUR" in result.output and "2.92" in result.output
    assert "USD" not in result.output


def test_R_PAY_4_bad_period_is_an_error(hubspot: str) -> None:
    backwards = CliRunner().invoke(app, ["fees", "--since", "2026-02-01", "--until", "2026-01-01"])
    assert backwards.exit_code == 2
    assert "after" in backwards.output
    not_a_date = CliRunner().invoke(app, ["fees", "--since", "January", "--until", "2026-01-01"])
    assert not_a_date.exit_code == 2
