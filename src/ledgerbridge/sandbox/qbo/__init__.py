"""QuickBooks Online sandbox: a local emulator of the QBO Accounting API v3.

Public API: `QboSandboxConfig` (every knob), `create_app(config)` (FastAPI app; the live state is
`app.state.sandbox`), `FakeClock`, and `cli.register` / `cli.build_config`.
Imports nothing of the engine.
"""

from typing import TYPE_CHECKING, Any

from ledgerbridge.sandbox.qbo.config import (
    CompanySettings,
    FakeClock,
    FaultSettings,
    QboSandboxConfig,
    RateLimitSettings,
    SystemClock,
    WebhookSettings,
)

if TYPE_CHECKING:
    from ledgerbridge.sandbox.qbo.app import create_app
    from ledgerbridge.sandbox.qbo.core import Sandbox


def __getattr__(name: str) -> Any:
    """`create_app` and `Sandbox` are imported on first use: the engine's commands import
    this package (for `ledgerbridge sandbox`) and must not pay for the web app."""
    if name == "create_app":
        from ledgerbridge.sandbox.qbo.app import create_app

        return create_app
    if name == "Sandbox":
        from ledgerbridge.sandbox.qbo.core import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CompanySettings",
    "FakeClock",
    "FaultSettings",
    "QboSandboxConfig",
    "RateLimitSettings",
    "Sandbox",
    "SystemClock",
    "WebhookSettings",
    "create_app",
]
