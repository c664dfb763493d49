"""Settings: environment variables `LEDGERBRIDGE_*` and an optional TOML file.

Nested settings use a double underscore in the environment
(`LEDGERBRIDGE_QBO__CLIENT_ID`) and a table in TOML (`[qbo] client_id = …`).
Secrets are `SecretStr`: they never appear in a repr, a log line or an error.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "LEDGERBRIDGE_CONFIG"
DEFAULT_CONFIG_FILE = Path("ledgerbridge.toml")
_explicit_file: ContextVar[Path | None] = ContextVar("ledgerbridge_config_file", default=None)


class HubSpotSettings(BaseModel):
    base_url: str = "https://api.hubapi.com"
    app_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    redirect_uri: str = "http://127.0.0.1:8700/oauth/hubspot/callback"
    scopes: list[str] = ["crm.objects.contacts.write", "crm.objects.contacts.read", "e-commerce"]


class QboSettings(BaseModel):
    base_url: str = "https://quickbooks.api.intuit.com"
    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    authorize_url: str = "https://appcenter.intuit.com/connect/oauth2"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    redirect_uri: str = "http://127.0.0.1:8700/oauth/qbo/callback"
    webhook_verifier_token: SecretStr | None = None


class DistributedSettings(BaseModel):
    """The distributed runtime (`runtime = "distributed"`): procrastinate workers on PostgreSQL."""

    concurrency: int = 4
    """Passes one `ledgerbridge worker` process runs at the same time (`--concurrency`)."""
    reconcile_cron: str = "0 3 * * *"
    """When the daily full reconciliation of every connection is queued (UTC, cron)."""
    webhook_delay_seconds: float = 1.0
    """A webhook's pass is queued this long after it: a burst of webhooks is one pass."""
    stalled_after_seconds: float = 30.0
    """A worker silent (no heartbeat) this long is dead: its jobs are queued again."""


RUNTIME_NEEDS_POSTGRES = (
    'runtime = "distributed" needs a PostgreSQL database: set database_url to a '
    "postgresql://user:password@host/dbname URL (the workers share it), or use "
    'runtime = "embedded"'
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGERBRIDGE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: str = "sqlite:///./ledgerbridge.db"
    # A Fernet key (url-safe base64 of 32 bytes) that encrypts OAuth tokens at rest.
    # When unset, a key is created once in `key_file` (readable by its owner only).
    secret_key: SecretStr | None = None
    key_file: Path = Path("ledgerbridge.key")
    host: str = "127.0.0.1"
    port: int = 8700
    poll_interval_seconds: float = 60.0
    runtime: Literal["embedded", "distributed"] = "embedded"
    distributed: DistributedSettings = DistributedSettings()
    hubspot: HubSpotSettings = HubSpotSettings()
    qbo: QboSettings = QboSettings()

    @model_validator(mode="after")
    def _distributed_needs_postgres(self) -> Settings:
        if self.runtime == "distributed" and not self.database_url.startswith("postgresql"):
            raise ValueError(RUNTIME_NEEDS_POSTGRES)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        explicit = _explicit_file.get()
        config_file = str(explicit) if explicit else os.environ.get(CONFIG_ENV)
        path = Path(config_file) if config_file else DEFAULT_CONFIG_FILE
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        elif config_file:
            raise FileNotFoundError(f"{CONFIG_ENV} names {path}, which does not exist")
        return tuple(sources)


def load_settings(config_file: Path | None = None) -> Settings:
    """Settings from the environment and the TOML file (`config_file`, `$LEDGERBRIDGE_CONFIG`
    or `./ledgerbridge.toml`); the environment wins over the file."""
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"configuration file {config_file} does not exist")
    token = _explicit_file.set(config_file)
    try:
        return Settings()
    finally:
        _explicit_file.reset(token)
