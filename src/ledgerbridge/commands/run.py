"""`ledgerbridge run`: the engine against real accounts (or sandboxes given by URL)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ledgerbridge.runtime.embedded import EmbeddedRuntime
    from ledgerbridge.runtime.runner import EngineRunner
    from ledgerbridge.settings import Settings
    from ledgerbridge.store import Store
    from ledgerbridge.store.rows import ConnectionRow
    from ledgerbridge.web.webhooks import WebhookSecrets

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


def notifications(
    store: Store, settings: Settings, runtime: EmbeddedRuntime, runner: EngineRunner
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

    def listen(connection_id: int, error: BaseException | None) -> None:
        report = runner.last_reports.get(connection_id) if error is None else None
        notifier.on_pass(connection_id, error, report)

    runtime.add_listener(listen)
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
        """Serve the dashboard and webhooks, and sync every active connection (Ctrl-C stops).

        Webhook URLs to register: `{public_url}/webhooks/hubspot` (HubSpot app, signed
        with its client secret) and `{public_url}/webhooks/qbo` (Intuit app, with the
        verifier token in `[qbo] webhook_verifier_token`). HubSpot workflow actions are
        registered on the app in `[hubspot] app_id` at start, at
        `{public_url}/actions/hubspot/…`.
        """
        import asyncio

        from ledgerbridge.commands._compose import compose
        from ledgerbridge.commands._options import ensure_port_free
        from ledgerbridge.errors import NoConnectionError
        from ledgerbridge.runtime.workflow_actions import register_at_start
        from ledgerbridge.serving import Served, serve_all
        from ledgerbridge.settings import load_settings
        from ledgerbridge.store import ConnectionStatus
        from ledgerbridge.store.configured import open_store

        _logging(verbose)
        settings = load_settings(config).model_copy(update=_address(host, port))
        store = open_store(settings)
        try:
            refuse_exposure(store, settings.host)
            with store.begin() as tx:
                connections = tx.list_connections()
            if not connections:
                raise NoConnectionError(NOTHING_CONFIGURED, fix=RECONNECT)
            active = [c for c in connections if c.status is ConnectionStatus.ACTIVE]
            _note_inactive(connections)
            if not active:
                raise NoConnectionError("no connection is active", fix=RECONNECT)
            ensure_port_free(settings.host, settings.port, PORT_SETTING)
            _note_missing_rules(store, [c.id for c in active])
            secrets = _webhook_secrets(settings)
            public_url = settings.public_url or f"http://{settings.host}:{settings.port}"
            if settings.runtime == "distributed":
                store.close()  # the distributed web process opens its own
                _run_distributed(settings, secrets, len(active), public_url)
                return
            stack = compose(store, settings, secrets, public_url=public_url)
            background = notifications(store, settings, stack.runtime, stack.runner)

            async def register_actions() -> None:
                note = await register_at_start(store, settings, settings.hubspot.app_id, public_url)
                typer.echo(note, err=True)
                await asyncio.Event().wait()  # serve_all stops when a background task ends

            def started() -> None:
                _started(settings, len(active), stack.dashboard.security.allowed_hosts)

            try:
                asyncio.run(
                    serve_all(
                        [Served(stack.web, settings.host, settings.port, "web")],
                        also=[stack.run_runtime(), register_actions, *background],
                        started=started,
                    )
                )
            except RuntimeError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(code=1) from exc
        finally:
            store.close()
        typer.echo("Stopped.", err=True)


def _logging(verbose: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not verbose:  # Alembic logs each migration step at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _started(settings: Settings, active: int, host_names: Collection[str]) -> None:
    """What `run` says once it listens: where, the webhook URLs, the host names answered."""
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(f"ledgerbridge on {base} — syncing {active} connection(s)", err=True)
    typer.echo(f"Webhooks: {base}/webhooks/hubspot and {base}/webhooks/qbo", err=True)
    names = ", ".join(sorted(host_names))
    typer.echo(f"Answering to the host names: {names} (`allowed_hosts` adds more)", err=True)


def _note_inactive(connections: Sequence[ConnectionRow]) -> None:
    """Say which connections are not synced, and why."""
    from ledgerbridge.store import ConnectionStatus

    for c in connections:
        if c.status is not ConnectionStatus.ACTIVE:
            detail = f": {c.status_detail}" if c.status_detail else ""
            typer.echo(f"connection {c.id} ({c.name}) is {c.status.value}{detail}", err=True)


def _address(host: str | None, port: int | None) -> dict[str, object]:
    """The `--host` / `--port` options over the settings."""
    return {k: v for k, v in (("host", host), ("port", port)) if v is not None}


def _webhook_secrets(settings: Settings) -> WebhookSecrets:
    """The webhooks' secrets, saying which webhooks will be refused for want of theirs."""
    from ledgerbridge.web.webhooks import WebhookSecrets

    secrets = WebhookSecrets(settings.hubspot.client_secret, settings.qbo.webhook_verifier_token)
    _note_missing_secrets(secrets)
    return secrets


def _note_missing_secrets(secrets: WebhookSecrets) -> None:
    """Say which webhooks will be refused for want of their secret."""
    if secrets.hubspot_client_secret is None:
        typer.echo(
            "note: [hubspot] client_secret is not set: HubSpot webhooks are refused", err=True
        )
    if secrets.qbo_verifier_token is None:
        typer.echo(
            "note: [qbo] webhook_verifier_token is not set: QBO webhooks are refused", err=True
        )


def _run_distributed(
    settings: Settings, secrets: WebhookSecrets, active: int, public_url: str
) -> None:
    """`run` with runtime = "distributed": the web app, webhooks and workflow actions;
    the passes are queued for `ledgerbridge worker` processes."""
    import asyncio

    from ledgerbridge.runtime.distributed.web import serve_web

    def started() -> None:
        base = f"http://{settings.host}:{settings.port}"
        typer.echo(
            f"ledgerbridge on {base} — {active} connection(s); passes run by "
            "`ledgerbridge worker` processes",
            err=True,
        )
        typer.echo(f"Webhooks: {base}/webhooks/hubspot and {base}/webhooks/qbo", err=True)

    try:
        asyncio.run(
            serve_web(
                settings,
                secrets,
                public_url=public_url,
                started=started,
                note=lambda line: typer.echo(line, err=True),
            )
        )
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo("Stopped.", err=True)
