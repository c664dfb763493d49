"""`ledgerbridge sandbox …` commands. Each emulator package registers its own command."""

from __future__ import annotations

import typer


def register(group: typer.Typer) -> None:
    """Add the sandbox commands to the `sandbox` group."""
    for module_name in ("ledgerbridge.sandbox.qbo.cli", "ledgerbridge.sandbox.hubspot.cli"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError:
            continue
        module.register(group)
