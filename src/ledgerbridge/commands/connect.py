"""`ledgerbridge connect hubspot|qbo`: authorize ledgerbridge on an account (OAuth 2.0)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Service(StrEnum):
    hubspot = "hubspot"
    qbo = "qbo"


def next_step(status_detail: str | None, has_rules: bool) -> str:
    """What `connect` prints last: what is missing, or the next command to run."""
    if status_detail:
        return status_detail[:1].upper() + status_detail[1:] + "."
    if has_rules:
        return "Both services are connected: `ledgerbridge run` syncs them."
    return (
        "Both services are connected. Next step: `ledgerbridge rules setup` chooses what "
        "syncs (or `ledgerbridge rules setup --defaults --yes` for HubSpot's defaults); "
        "then `ledgerbridge run`."
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def connect(
        service: Annotated[Service, typer.Argument(help="hubspot or qbo.")],
        config: Annotated[
            Path | None, typer.Option("--config", help="Settings file (TOML).")
        ] = None,
        connection: Annotated[
            int | None, typer.Option(help="Connect this connection (when there are several).")
        ] = None,
        new: Annotated[bool, typer.Option("--new", help="Create another connection.")] = False,
        name: Annotated[str, typer.Option(help="Name of a connection created now.")] = "default",
        authorize_url: Annotated[
            str | None, typer.Option(help="Override the service's authorize page URL.")
        ] = None,
        browser: Annotated[
            bool, typer.Option("--browser/--no-browser", help="Open the authorize page.")
        ] = True,
        timeout: Annotated[float, typer.Option(help="Seconds to wait for the approval.")] = 300,
    ) -> None:
        """Authorize ledgerbridge on your HubSpot portal or QuickBooks company (OAuth 2.0).

        Listens on the redirect URI of the settings
        (`http://127.0.0.1:8700/oauth/{service}/callback` by default; register it in your
        app), prints the authorize URL, and stores the tokens encrypted in the connection.
        """
        import asyncio
        import webbrowser

        from ledgerbridge.domain.refs import System
        from ledgerbridge.errors import LedgerbridgeError
        from ledgerbridge.operations.connect import connect as run_flow
        from ledgerbridge.operations.connect import oauth_app
        from ledgerbridge.settings import load_settings
        from ledgerbridge.store.accounts import record_audit
        from ledgerbridge.store.configured import open_store

        settings = load_settings(config)
        system = System.HUBSPOT if service is Service.hubspot else System.QUICKBOOKS
        oauth = oauth_app(system, settings, authorize_url)

        def show(url: str) -> None:
            typer.echo(f"Open this URL to authorize ledgerbridge on {service.value}:", err=True)
            typer.echo(url, err=True)
            if browser:
                webbrowser.open(url)

        store = open_store(settings)
        try:
            cid = asyncio.run(
                run_flow(
                    oauth,
                    store,
                    settings=settings,
                    show=show,
                    connection_id=connection,
                    new=new,
                    name=name,
                    wait_seconds=timeout,
                )
            )
            with store.begin() as tx:
                row = tx.get_connection(cid)
                has_rules = any(r.enabled for r in tx.list_rules(cid))
                record_audit(tx, "command line", "connect", connection_id=cid, target=service.value)
        except LedgerbridgeError:
            raise  # rendered by the command line: `error: <what> — <fix>`, exit 2
        except Exception as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from exc
        finally:
            store.close()
        assert row is not None
        account = row.hubspot_portal_id if system is System.HUBSPOT else row.qbo_realm_id
        typer.echo(f"Connected {service.value} account {account} to connection {cid}.", err=True)
        typer.echo(next_step(row.status_detail, has_rules), err=True)
