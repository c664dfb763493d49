"""`ledgerbridge invoice-pdf ID --out file.pdf`: QBO's own PDF of a synced invoice (R-INV-13)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("invoice-pdf")
    def invoice_pdf(
        invoice: Annotated[
            str,
            typer.Argument(
                help="The invoice: a HubSpot or QuickBooks id, or hubspot:ID / quickbooks:ID."
            ),
        ],
        out: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
        connection: Annotated[
            int | None, typer.Option(help="Connection id (default: the first one).")
        ] = None,
        config: Annotated[
            Path | None, typer.Option("--config", help="Settings file (TOML).")
        ] = None,
    ) -> None:
        """Download QuickBooks' PDF of a synced invoice."""
        import asyncio

        from ledgerbridge.runtime import invoices
        from ledgerbridge.runtime.connection import (
            ConnectionNotFoundError,
            NoConnectionError,
            pick_connection,
        )
        from ledgerbridge.runtime.setup import open_store
        from ledgerbridge.settings import load_settings
        from ledgerbridge.sync.errors import SyncError

        try:
            settings = load_settings(config)
            store = open_store(settings)
        except FileNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        try:
            connection_id = pick_connection(store, connection)
            pdf = asyncio.run(
                invoices.invoice_pdf(store, connection_id, invoice, settings=settings)
            )
        except (
            invoices.InvoiceNotSyncedError,
            NoConnectionError,
            ConnectionNotFoundError,
            SyncError,
            ValueError,
        ) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        finally:
            store.close()
        out.write_bytes(pdf)
        typer.echo(f"wrote {out} ({len(pdf)} bytes)")
