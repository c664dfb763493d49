"""`ledgerbridge run`: the engine against real accounts (or sandboxes given by URL)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ledgerbridge.runtime.embedded import EmbeddedRuntime
    from ledgerbridge.runtime.runner import EngineRunner
    from ledgerbridge.settings import Settings
    from ledgerbridge.store import Store
    from ledgerbridge.web.pages.common import DashboardContext

NOTHING_CONFIGURED = "no connection is set up yet"
PORT_SETTING = "`port` in ledgerbridge.toml or LEDGERBRIDGE_PORT"
RECONNECT = "run `ledgerbridge connect hubspot` and `ledgerbridge connect qbo` to (re)connect"


def refuse_exposure(store: Store, host: str) -> None:
    """`UsageError` when `run` would listen on `host`, an address other machines can reach,
    while no admin password is set: every visitor would see the sync data."""
    from ledgerbridge.errors import UsageError
    from ledgerbridge.store.accounts import admin_account
    from ledgerbridge.web.auth import is_loopback

    if is_loopback(host):
        return
    with store.begin() as tx:
        account = admin_account(tx)
    if account.password_hash is None:
        raise UsageError(
            f"refusing to listen on {host}, which other machines can reach, while no dashboard "
            "password is set: anyone reaching the port would see customers' names and e-mails",
            fix="run `ledgerbridge admin set-password` first, or listen on 127.0.0.1 "
            "(`--host 127.0.0.1` or the `host` setting)",
        )


def dashboard_context(
    store: Store, settings: Settings, runtime: EmbeddedRuntime, runner: EngineRunner
) -> DashboardContext:
    """The web app's view of the running engine: settings, wake-ups, reconcile, security."""
    from ledgerbridge.web.api_rules import settings_accounts
    from ledgerbridge.web.auth import WebSecurity, allowed_host_names
    from ledgerbridge.web.pages.common import DashboardContext

    names = allowed_host_names(
        settings.host,
        settings.allowed_hosts,
        [settings.hubspot.redirect_uri, settings.qbo.redirect_uri, settings.public_url or ""],
    )
    context = DashboardContext(
        store,
        settings,
        wake=runtime.wake,
        reconcile=runner.reconcile,
        security=WebSecurity(allowed_hosts=names),
        accounts_for=settings_accounts(store, settings),
    )
    runtime.add_listener(context.on_pass)
    return context


def notifications(
    store: Store, settings: Settings, runtime: EmbeddedRuntime
) -> list[Callable[[], Coroutine[Any, Any, None]]]:
    """The failure digest beside the runtime, when `[notifications]` names a destination."""
    from ledgerbridge.operations.notifications import Notifier, senders_from

    wanted = settings.notifications
    if not wanted.enabled:
        return []
    notifier = Notifier(
        store,
        senders_from(wanted),
        digest_minutes=wanted.digest_minutes,
        failed_passes=wanted.failed_passes,
    )
    runtime.add_listener(notifier.on_pass)
    return [notifier.run]


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
        host: Annotated[
            str | None,
            typer.Option("--host", help="Listen on this address (default: the `host` setting)."),
        ] = None,
        port: Annotated[
            int | None, typer.Option("--port", help="Listen on this port (default: `port`).")
        ] = None,
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
        from ledgerbridge.operations.rules.service import NoRuleError, require_rules
        from ledgerbridge.runtime.embedded import EmbeddedRuntime, RuntimeOptions
        from ledgerbridge.runtime.runner import EngineRunner
        from ledgerbridge.runtime.workflow_actions import register_at_start, wire_actions
        from ledgerbridge.serving import Served, serve_all
        from ledgerbridge.settings import load_settings
        from ledgerbridge.store import ConnectionStatus
        from ledgerbridge.store.configured import open_store
        from ledgerbridge.store.directory import StoreDirectory
        from ledgerbridge.web.api_rules import rules_router
        from ledgerbridge.web.app import create_web_app
        from ledgerbridge.web.webhooks import WebhookSecrets, webhook_router

        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)
        if not verbose:  # Alembic logs each migration step at INFO
            logging.getLogger("alembic").setLevel(logging.WARNING)
        settings = load_settings(config)
        settings = settings.model_copy(
            update={"host": host or settings.host, "port": port or settings.port}
        )
        store = open_store(settings)
        try:
            refuse_exposure(store, settings.host)
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
            for c in active:
                try:
                    require_rules(store, c.id)
                except NoRuleError as exc:
                    typer.echo(f"note: {exc} The running engine picks it up.", err=True)
            ensure_port_free(
                settings.host, settings.port, "`port` in ledgerbridge.toml or LEDGERBRIDGE_PORT"
            )
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
            dashboard = dashboard_context(store, settings, runtime, runner)
            rules_api = rules_router(store, dashboard.accounts_for)
            background = [*notifications(store, settings, runtime)]
            web = create_web_app(store, routers=[router, actions, rules_api], dashboard=dashboard)

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
                names = ", ".join(sorted(dashboard.security.allowed_hosts))
                typer.echo(
                    f"Answering to the host names: {names} (`allowed_hosts` adds more)", err=True
                )

            try:
                asyncio.run(
                    serve_all(
                        [Served(web, settings.host, settings.port, "web")],
                        also=[run_runtime, register_actions, *background],
                        started=started,
                    )
                )
            except RuntimeError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(code=1) from exc
        finally:
            store.close()
        typer.echo("Stopped.", err=True)
