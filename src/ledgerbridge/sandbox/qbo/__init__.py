"""QuickBooks Online sandbox: a local emulator of the QBO Accounting API v3.

Public API: `QboSandboxConfig` (every knob), `create_app(config)` (FastAPI app; the live state is
`app.state.sandbox`), `FakeClock`, and `cli.register` / `cli.build_config`.
Imports nothing of the engine.
"""

from ledgerbridge.sandbox.qbo.app import create_app
from ledgerbridge.sandbox.qbo.config import (
    CompanySettings,
    FakeClock,
    FaultSettings,
    QboSandboxConfig,
    RateLimitSettings,
    SystemClock,
    WebhookSettings,
)
from ledgerbridge.sandbox.qbo.core import Sandbox

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
