"""The sandbox's runtime object (`app.state.sandbox`): realms, tokens, limits, webhooks."""

from __future__ import annotations

import random
from datetime import datetime

import httpx

from ledgerbridge.sandbox.qbo.config import CompanySettings, QboSandboxConfig
from ledgerbridge.sandbox.qbo.entities import Ctx
from ledgerbridge.sandbox.qbo.oauth import OAuthServer
from ledgerbridge.sandbox.qbo.operations import refresh_preferences
from ledgerbridge.sandbox.qbo.ratelimit import RateLimiter
from ledgerbridge.sandbox.qbo.state import (
    RealmState,
    load_state,
    new_realm,
    save_state,
    seed_tax_codes,
)
from ledgerbridge.sandbox.qbo.webhooks import WebhookDispatcher


class Sandbox:
    """Everything the app holds. In-process tests may inspect and tweak it freely."""

    def __init__(
        self, config: QboSandboxConfig, webhook_client: httpx.AsyncClient | None = None
    ) -> None:
        self.config = config
        self.realms: dict[str, RealmState] = {}
        self.oauth = OAuthServer(config)
        self.limiter = RateLimiter(config.rate_limits)
        self.webhooks = WebhookDispatcher(config.webhook, self.now, webhook_client)
        self.rng = random.Random(config.faults.seed)
        if config.state_file is not None and config.state_file.exists():
            self.realms, _extra = load_state(config.state_file)
        for realm_id, settings in config.realms.items():
            if realm_id not in self.realms:
                self.reset_realm(realm_id, settings, seed=config.seed)

    def now(self) -> datetime:
        return self.config.clock.now()

    def ctx(self, realm: RealmState, include: set[str] | None = None) -> Ctx:
        return Ctx(realm=realm, now=self.now(), include=include or set())

    def reset_realm(
        self, realm_id: str, settings: CompanySettings | None = None, seed: int | None = None
    ) -> RealmState:
        """Replace a realm by a fresh company (optionally seeded with realistic data)."""
        if settings is None:
            old = self.realms.get(realm_id)
            settings = old.settings if old else CompanySettings()
        realm = new_realm(realm_id, settings, self.now())
        self.realms[realm_id] = realm
        if seed is not None:
            from ledgerbridge.sandbox.qbo.seed import seed_realm

            seed_realm(self, realm, seed)
        self.limiter.reset(realm_id)
        return realm

    def apply_settings(self, realm: RealmState) -> None:
        """Reflect changed company settings in Preferences, CompanyInfo and tax codes."""
        realm.objects["TaxCode"] = {}
        seed_tax_codes(realm, self.now())
        refresh_preferences(self.ctx(realm), bump=True)
        info = realm.get("CompanyInfo", "1")
        if info is not None:
            info["Country"] = realm.settings.country
            info["CompanyName"] = realm.settings.company_name

    def roll(self, rate: float) -> bool:
        """A seeded coin flip for fault injection."""
        return rate > 0 and self.rng.random() < rate

    def persist(self) -> None:
        if self.config.state_file is not None:
            save_state(self.config.state_file, self.realms, {})
