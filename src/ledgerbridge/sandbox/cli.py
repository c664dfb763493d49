"""`ledgerbridge sandbox …` commands. Each emulator package registers its own command;
`ledgerbridge sandbox` alone serves both (HubSpot on 8701, QBO on 8702)."""

from __future__ import annotations

import typer

from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.qbo import cli as qbo_cli


def register(group: typer.Typer) -> None:
    """Add the sandbox commands to the `sandbox` group."""
    qbo_cli.register(group)
    hubspot_cli.register(group)

    @group.callback(invoke_without_command=True)
    def both(
        ctx: typer.Context,
        hubspot_port: int = typer.Option(hubspot_cli.DEFAULT_PORT, help="HubSpot sandbox port."),
        qbo_port: int = typer.Option(8702, help="QBO sandbox port."),
        host: str = typer.Option("127.0.0.1", help="Interface to bind."),
        token: str = typer.Option("sandbox", help="Static bearer token both sandboxes accept."),
        realm: str = typer.Option("1000000001", help="The QBO company (realm) id."),
        seed: int | None = typer.Option(None, help="Fill both sandboxes from this seed."),
    ) -> None:
        """Run both sandboxes; `sandbox hubspot` or `sandbox qbo` runs one with all its knobs."""
        if ctx.invoked_subcommand is not None:
            return
        import asyncio

        from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
        from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
        from ledgerbridge.serving import Served, serve_all

        hubspot = hubspot_cli.build_config(host=host, port=hubspot_port, token=token, seed=seed)
        qbo = qbo_cli.build_config(realms=[realm], token=token, seed=seed)

        def started() -> None:
            typer.echo(f"HubSpot sandbox on http://{host}:{hubspot_port}", err=True)
            typer.echo(f"QBO sandbox on http://{host}:{qbo_port} (realm {realm})", err=True)
            typer.echo(f"Both accept the bearer token '{token}'. Ctrl-C stops.", err=True)

        asyncio.run(
            serve_all(
                [
                    Served(hubspot_app(hubspot), host, hubspot_port, "hubspot"),
                    Served(qbo_app(qbo), host, qbo_port, "qbo"),
                ],
                started=started,
            )
        )
