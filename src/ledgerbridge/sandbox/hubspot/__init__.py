"""A local emulator of HubSpot (CRM v3 objects, properties, associations v4, webhooks,
OAuth, custom workflow actions). Imports nothing of the engine.

Public API: `HubSpotSandboxConfig`, `create_app(config) -> FastAPI` (state at
`app.state.sandbox`), and `cli.register` / `cli.build_config`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import HubSpotSandboxConfig

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(config: HubSpotSandboxConfig, **kwargs: Any) -> FastAPI:
    from .app import create_app as _create_app

    return _create_app(config, **kwargs)


__all__ = ["HubSpotSandboxConfig", "create_app"]
