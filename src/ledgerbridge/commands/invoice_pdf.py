"""`ledgerbridge invoice-pdf ID --out file.pdf`: QBO's own PDF of a synced invoice (R-INV-13)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledgerbridge.commands._options import ConfigOption, ConnectionOption, configured_store


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
        connection: ConnectionOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Download QuickBooks' PDF of a synced invoice."""
        import asyncio

        from ledgerbridge.errors import UsageError
        from ledgerbridge.operations import invoices
        from ledgerbridge.runtime.connection import pick_connection

        folder = out.parent
        if not folder.is_dir():
            raise UsageError(
                f"cannot write {out}: the folder {folder} does not exist",
                fix=f"create it first (mkdir -p {folder}) or choose another --out path",
            )
        with configured_store(config, invoices.InvoiceNotSyncedError, existing=True) as (
            settings,
            store,
        ):
            connection_id = pick_connection(store, connection)
            pdf = asyncio.run(
                invoices.invoice_pdf(store, connection_id, invoice, settings=settings)
            )
        try:
            out.write_bytes(pdf)
        except OSError as exc:
            raise UsageError(
                f"cannot write {out}: {exc.strerror or exc}", fix="choose another --out path"
            ) from exc
        typer.echo(f"wrote {out} ({len(pdf)} bytes)")
