"""`ledgerbridge sandbox qbo`: serve the QBO sandbox on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ledgerbridge.sandbox.qbo.config import QboSandboxConfig


def build_config(
    *,
    realms: list[str] | None = None,
    token: str | None = "sandbox",  # noqa: S107 - the documented sandbox token
    seed: int | None = None,
    state_file: Path | None = None,
    country: str = "US",
    custom_txn_numbers: bool = False,
    revenue_recognition: bool = False,
    multi_currency: bool = False,
    webhook_url: str | None = None,
    webhook_verifier: str = "sandbox-verifier",
    webhook_format: str = "legacy",
    latency: float = 0.0,
    rate_429: float = 0.0,
    rate_500: float = 0.0,
    timeout_after_commit: float = 0.0,
    hang_seconds: float = 30.0,
    requests_per_minute: int = 500,
    concurrent: int = 10,
    batch_per_minute: int = 40,
) -> QboSandboxConfig:
    """The config the CLI options describe (also used by the combined `sandbox` command)."""
    from ledgerbridge.sandbox.qbo.config import (
        DEFAULT_REALM,
        CompanySettings,
        FaultSettings,
        QboSandboxConfig,
        RateLimitSettings,
        WebhookSettings,
    )

    settings = CompanySettings(
        country=country.upper(),
        custom_txn_numbers=custom_txn_numbers,
        revenue_recognition=revenue_recognition,
        multi_currency=multi_currency,
        home_currency={
            "US": "USD",
            "CA": "CAD",
            "GB": "GBP",
            "UK": "GBP",
            "AU": "AUD",
            "IN": "INR",
            "FR": "EUR",
        }.get(country.upper(), "USD"),
    )
    return QboSandboxConfig(
        realms={rid: settings.model_copy() for rid in (realms or [DEFAULT_REALM])},
        static_token=token or None,
        seed=seed,
        state_file=state_file,
        webhook=WebhookSettings.model_validate(
            {"url": webhook_url, "verifier_token": webhook_verifier, "format": webhook_format}
        ),
        faults=FaultSettings(
            latency_seconds=latency,
            rate_429=rate_429,
            rate_500=rate_500,
            timeout_after_commit_rate=timeout_after_commit,
            hang_seconds=hang_seconds,
        ),
        rate_limits=RateLimitSettings(
            requests_per_minute=requests_per_minute,
            concurrent=concurrent,
            batch_per_minute=batch_per_minute,
        ),
    )


def register(group: typer.Typer) -> None:
    """Add `qbo` to the `ledgerbridge sandbox` group."""

    @group.command("qbo")
    def qbo(
        port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8702,
        realm: Annotated[
            list[str] | None, typer.Option(help="Realm id (repeat for several).")
        ] = None,
        token: Annotated[
            str, typer.Option(help="Static bearer token ('' to require OAuth).")
        ] = "sandbox",  # noqa: S107 - the documented sandbox token
        seed: Annotated[
            int | None, typer.Option(help="Fill each realm with a realistic company.")
        ] = None,
        state_file: Annotated[
            Path | None, typer.Option(help="Persist state to this JSON file.")
        ] = None,
        country: Annotated[
            str, typer.Option(help="Company country (non-US requires tax codes).")
        ] = "US",
        custom_txn_numbers: Annotated[
            bool, typer.Option(help="Custom transaction numbers.")
        ] = False,
        revenue_recognition: Annotated[bool, typer.Option(help="Revenue recognition.")] = False,
        multi_currency: Annotated[bool, typer.Option(help="Multi-currency.")] = False,
        webhook_url: Annotated[
            str | None, typer.Option(help="POST change notifications here.")
        ] = None,
        webhook_verifier: Annotated[
            str, typer.Option(help="Webhook verifier token.")
        ] = "sandbox-verifier",
        webhook_format: Annotated[str, typer.Option(help="legacy or cloudevents.")] = "legacy",
        latency: Annotated[float, typer.Option(help="Added latency per request, seconds.")] = 0.0,
        rate_429: Annotated[
            float, typer.Option(help="Share of requests answered 429 (0..1).")
        ] = 0.0,
        rate_500: Annotated[
            float, typer.Option(help="Share of requests answered 500 (0..1).")
        ] = 0.0,
        timeout_after_commit: Annotated[
            float, typer.Option(help="Share of writes whose response never comes (0..1).")
        ] = 0.0,
        hang_seconds: Annotated[
            float, typer.Option(help="How long a 'timeout after commit' hangs.")
        ] = 30.0,
        requests_per_minute: Annotated[int, typer.Option(help="Per-realm limit; 0 = off.")] = 500,
        concurrent: Annotated[
            int, typer.Option(help="Concurrent requests per realm; 0 = off.")
        ] = 10,
        batch_per_minute: Annotated[
            int, typer.Option(help="Batch requests per realm; 0 = off.")
        ] = 40,
    ) -> None:
        """Serve the QuickBooks Online sandbox (Accounting API v3) on 127.0.0.1."""
        import uvicorn

        from ledgerbridge.sandbox.qbo.app import create_app

        config = build_config(
            realms=realm,
            token=token,
            seed=seed,
            state_file=state_file,
            country=country,
            custom_txn_numbers=custom_txn_numbers,
            revenue_recognition=revenue_recognition,
            multi_currency=multi_currency,
            webhook_url=webhook_url,
            webhook_verifier=webhook_verifier,
            webhook_format=webhook_format,
            latency=latency,
            rate_429=rate_429,
            rate_500=rate_500,
            timeout_after_commit=timeout_after_commit,
            hang_seconds=hang_seconds,
            requests_per_minute=requests_per_minute,
            concurrent=concurrent,
            batch_per_minute=batch_per_minute,
        )
        realm = realm or ["1000000001"]
        typer.echo(
            f"QBO sandbox on http://127.0.0.1:{port}/v3/company/{realm[0]} "
            f"(token {token or 'OAuth only'})",
            err=True,
        )
        uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="warning")
