"""`ledgerbridge run`: the engine against real accounts (or sandboxes given by URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

NOTHING_CONFIGURED = (
    "No connection is set up yet: run `ledgerbridge connect hubspot` and "
    "`ledgerbridge connect qbo` first."
)


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        config: Annotated[
            Path | None,
            typer.Option("--config", help="Settings file (default ./ledgerbridge.toml)."),
        ] = None,
    ) -> None:
        """Serve the status page and webhooks, and sync every active connection (Ctrl-C stops).

        Webhook URLs to register: <your public URL>/webhooks/hubspot (HubSpot app, signed
        with its client secret) and <your public URL>/webhooks/qbo (Intuit app, with the
        verifier token in [qbo] webhook_verifier_token).
        """
        import asyncio
        import logging

        from ledgerbridge.runtime.embedded import EmbeddedRuntime, RuntimeOptions
        from ledgerbridge.runtime.runner import EngineRunner
        from ledgerbridge.serving import Served, serve_all
        from ledgerbridge.settings import load_settings
        from ledgerbridge.store import ConnectionStatus
        from ledgerbridge.store.configured import open_store
        from ledgerbridge.store.directory import StoreDirectory
        from ledgerbridge.web.app import create_web_app
        from ledgerbridge.web.webhooks import WebhookSecrets, webhook_router

        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)
        try:
            settings = load_settings(config)
        except (FileNotFoundError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        store = open_store(settings)
        try:
            with store.begin() as tx:
                connections = tx.list_connections()
            if not connections:
                typer.echo(f"error: {NOTHING_CONFIGURED}", err=True)
                raise typer.Exit(code=2)
            active = [c for c in connections if c.status is ConnectionStatus.ACTIVE]
            for c in connections:
                if c.status is not ConnectionStatus.ACTIVE:
                    detail = f": {c.status_detail}" if c.status_detail else ""
                    typer.echo(
                        f"connection {c.id} ({c.name}) is {c.status.value}{detail}", err=True
                    )
            if not active:
                typer.echo(
                    "error: no connection is active. Run `ledgerbridge connect hubspot` and "
                    "`ledgerbridge connect qbo` to (re)connect.",
                    err=True,
                )
                raise typer.Exit(code=2)
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

            if settings.runtime == "distributed":
                store.close()  # the distributed web process opens its own
                _run_distributed(settings, secrets, len(active))
                return
            runner = EngineRunner(store, settings)
            directory = StoreDirectory(store)
            runtime = EmbeddedRuntime(
                runner,
                directory,
                options=RuntimeOptions(poll_interval=settings.poll_interval_seconds),
                reconcile=runner.reconcile,
            )
            router = webhook_router(directory=directory, wake=runtime.wake, secrets=secrets)
            web = create_web_app(store, routers=[router])

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
                        also=[run_runtime],
                        started=started,
                    )
                )
            except RuntimeError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(code=1) from exc
        finally:
            store.close()
        typer.echo("Stopped.", err=True)


def _run_distributed(settings: Any, secrets: Any, active: int) -> None:
    """`run` with runtime = "distributed": web app and webhooks; `ledgerbridge worker`s pass."""
    import asyncio

    from ledgerbridge.runtime.distributed.web import serve_web
    from ledgerbridge.runtime.distributed.worker import DistributedSetupError

    def started() -> None:
        base = f"http://{settings.host}:{settings.port}"
        typer.echo(
            f"ledgerbridge on {base} — {active} connection(s); passes run by "
            "`ledgerbridge worker` processes",
            err=True,
        )
        typer.echo(f"Webhooks: {base}/webhooks/hubspot and {base}/webhooks/qbo", err=True)

    try:
        asyncio.run(serve_web(settings, secrets, started=started))
    except DistributedSetupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo("Stopped.", err=True)
