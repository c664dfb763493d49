"""`ledgerbridge run`: the engine against real accounts (or sandboxes given by URL)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ledgerbridge.store import Store

NOTHING_CONFIGURED = "no connection is set up yet"
PORT_SETTING = "`port` in ledgerbridge.toml or LEDGERBRIDGE_PORT"
RECONNECT = "run `ledgerbridge connect hubspot` and `ledgerbridge connect qbo` to (re)connect"


def _note_missing_rules(store: Store, connection_ids: list[int]) -> None:
    """Say which connections sync nothing yet, and the command that fixes it."""
    from ledgerbridge.operations.rules.service import NoRuleError, require_rules

    for cid in connection_ids:
        try:
            require_rules(store, cid)
        except NoRuleError as exc:
            typer.echo(
                f"note: {exc.what} — {exc.fix}; the running engine uses new rules at its next pass",
                err=True,
            )


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        config: Annotated[
            Path | None,
            typer.Option("--config", help="Settings file (default ./ledgerbridge.toml)."),
        ] = None,
        verbose: Annotated[
            bool, typer.Option("--verbose", "-v", help="Also log database migrations.")
        ] = False,
    ) -> None:
        """Serve the status page and webhooks, and sync every active connection (Ctrl-C stops).

        Webhook URLs to register: <your public URL>/webhooks/hubspot (HubSpot app, signed
        with its client secret) and <your public URL>/webhooks/qbo (Intuit app, with the
        verifier token in [qbo] webhook_verifier_token). HubSpot workflow actions are
        registered on the app in [hubspot] app_id at start, at <public_url>/actions/hubspot/….
        """
        import asyncio
        import logging

        from ledgerbridge.commands._options import ensure_port_free
        from ledgerbridge.errors import NoConnectionError
        from ledgerbridge.runtime.embedded import EmbeddedRuntime, RuntimeOptions
        from ledgerbridge.runtime.runner import EngineRunner
        from ledgerbridge.runtime.workflow_actions import register_at_start, wire_actions
        from ledgerbridge.serving import Served, serve_all
        from ledgerbridge.settings import load_settings
        from ledgerbridge.store import ConnectionStatus
        from ledgerbridge.store.configured import open_store
        from ledgerbridge.store.directory import StoreDirectory
        from ledgerbridge.web.api_rules import rules_router, settings_accounts
        from ledgerbridge.web.app import create_web_app
        from ledgerbridge.web.webhooks import WebhookSecrets, webhook_router

        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)
        if not verbose:  # Alembic logs each migration step at INFO
            logging.getLogger("alembic").setLevel(logging.WARNING)
        settings = load_settings(config)
        store = open_store(settings)
        try:
            with store.begin() as tx:
                connections = tx.list_connections()
            if not connections:
                raise NoConnectionError(NOTHING_CONFIGURED, fix=RECONNECT)
            active = [c for c in connections if c.status is ConnectionStatus.ACTIVE]
            for c in connections:
                if c.status is not ConnectionStatus.ACTIVE:
                    detail = f": {c.status_detail}" if c.status_detail else ""
                    typer.echo(
                        f"connection {c.id} ({c.name}) is {c.status.value}{detail}", err=True
                    )
            if not active:
                raise NoConnectionError("no connection is active", fix=RECONNECT)
            ensure_port_free(
                settings.host, settings.port, "`port` in ledgerbridge.toml or LEDGERBRIDGE_PORT"
            )
            _note_missing_rules(store, [c.id for c in active])
            secrets = WebhookSecrets(
                settings.hubspot.client_secret, settings.qbo.webhook_verifier_token
            )
            if secrets.hubspot_client_secret is None:
                typer.echo(
                    "note: [hubspot] client_secret is not set: HubSpot webhooks are refused",
                    err=True,
                )
            if secrets.qbo_verifier_token is None:
                typer.echo(
                    "note: [qbo] webhook_verifier_token is not set: QBO webhooks are refused",
                    err=True,
                )

            runner = EngineRunner(store, settings)
            directory = StoreDirectory(store)
            runtime = EmbeddedRuntime(
                runner,
                directory,
                options=RuntimeOptions(poll_interval=settings.poll_interval_seconds),
                reconcile=runner.reconcile,
            )
            router = webhook_router(directory=directory, wake=runtime.wake, secrets=secrets)
            public_url = settings.public_url or f"http://{settings.host}:{settings.port}"
            actions = wire_actions(
                store, settings, runtime, settings.hubspot.client_secret, public_url
            )
            rules_api = rules_router(store, settings_accounts(store, settings))
            web = create_web_app(store, routers=[router, actions, rules_api])

            async def register_actions() -> None:
                note = await register_at_start(store, settings, settings.hubspot.app_id, public_url)
                typer.echo(note, err=True)
                await asyncio.Event().wait()  # serve_all stops when a background task ends

            async def run_runtime() -> None:
                try:
                    await runtime.run()
                finally:
                    await runner.aclose()

            def started() -> None:
                base = f"http://{settings.host}:{settings.port}"
                typer.echo(
                    f"ledgerbridge on {base} — syncing {len(active)} connection(s)", err=True
                )
                typer.echo(f"Webhooks: {base}/webhooks/hubspot and {base}/webhooks/qbo", err=True)

            try:
                asyncio.run(
                    serve_all(
                        [Served(web, settings.host, settings.port, "web")],
                        also=[run_runtime, register_actions],
                        started=started,
                    )
                )
            except RuntimeError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(code=1) from exc
        finally:
            store.close()
        typer.echo("Stopped.", err=True)
