"""`ledgerbridge sandbox hubspot`: serve the HubSpot sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from .config import HubSpotSandboxConfig

DEFAULT_PORT = 8701


def build_config(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str = "sandbox",  # noqa: S107 - the documented sandbox token, not a secret
    seed: int | None = None,
    state_file: Path | None = None,
    webhook_url: str | None = None,
    webhook_delay: float = 0.0,
    latency_ms: float = 0.0,
    fault_429_rate: float = 0.0,
    fault_500_rate: float = 0.0,
    timeout_after_commit_rate: float = 0.0,
    rate_limit_burst: int = 190,
    rate_limit_daily: int = 650_000,
    random_seed: int | None = None,
) -> HubSpotSandboxConfig:
    """The sandbox configuration for the given CLI options (reused by `ledgerbridge sandbox`)."""
    from .config import HubSpotSandboxConfig

    return HubSpotSandboxConfig(
        static_token=token,
        seed=seed,
        state_file=state_file,
        webhook_target_url=webhook_url,
        webhook_delivery_delay=webhook_delay,
        latency_ms=latency_ms,
        fault_429_rate=fault_429_rate,
        fault_500_rate=fault_500_rate,
        timeout_after_commit_rate=timeout_after_commit_rate,
        rate_limit_burst=rate_limit_burst,
        rate_limit_daily=rate_limit_daily,
        random_seed=random_seed,
        base_url=f"http://{host}:{port}",
    )


def register(group: typer.Typer) -> None:
    """Add `hubspot` to the `ledgerbridge sandbox` group."""

    @group.command("hubspot")
    def hubspot(
        port: int = typer.Option(DEFAULT_PORT, help="Port to listen on."),
        host: str = typer.Option("127.0.0.1", help="Interface to bind."),
        token: str = typer.Option("sandbox", help="Static bearer token accepted by the API."),
        seed: int | None = typer.Option(None, help="Fill a realistic portal from this seed."),
        state_file: Annotated[
            Path | None, typer.Option(help="Load and save the state here (JSON).")
        ] = None,
        webhook_url: str | None = typer.Option(None, help="Deliver webhooks to this URL."),
        webhook_delay: float = typer.Option(0.0, help="Seconds before events are delivered."),
        latency_ms: float = typer.Option(0.0, help="Added latency per API request."),
        fault_429_rate: float = typer.Option(0.0, help="Share of requests answered 429."),
        fault_500_rate: float = typer.Option(0.0, help="Share of requests answered 500."),
        timeout_after_commit_rate: float = typer.Option(
            0.0, help="Share of writes that commit, then hang (client times out)."
        ),
        rate_limit_burst: int = typer.Option(190, help="Requests per rolling 10 s (0 = off)."),
        rate_limit_daily: int = typer.Option(650_000, help="Requests per day (0 = off)."),
        random_seed: int | None = typer.Option(None, help="Seed for fault injection."),
    ) -> None:
        """Run the HubSpot sandbox (CRM, associations, webhooks, OAuth, workflow actions)."""
        import uvicorn

        from .app import create_app

        config = build_config(
            host=host,
            port=port,
            token=token,
            seed=seed,
            state_file=state_file,
            webhook_url=webhook_url,
            webhook_delay=webhook_delay,
            latency_ms=latency_ms,
            fault_429_rate=fault_429_rate,
            fault_500_rate=fault_500_rate,
            timeout_after_commit_rate=timeout_after_commit_rate,
            rate_limit_burst=rate_limit_burst,
            rate_limit_daily=rate_limit_daily,
            random_seed=random_seed,
        )
        typer.echo(f"HubSpot sandbox on http://{host}:{port} (token: {token})", err=True)
        uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
