"""`ledgerbridge demo` (a placeholder until the runtime wires the engine to the sandboxes)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo() -> None:
        """Run the sandboxes, the engine and the dashboard in one process (not built yet)."""
        typer.echo(
            "The demo is not built yet. Try `ledgerbridge sandbox --seed 1` to run the "
            "HubSpot and QuickBooks Online emulators.",
            err=True,
        )
        raise typer.Exit(code=2)
