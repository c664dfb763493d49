"""`ledgerbridge keygen`: print a new secret key for encrypting tokens at rest."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def keygen() -> None:
        """Print a new key for LEDGERBRIDGE_SECRET_KEY (encrypts OAuth tokens at rest)."""
        from ledgerbridge.store.crypto import generate_key

        typer.echo(generate_key())
