"""Settings: environment variables `LEDGERBRIDGE_*` and an optional TOML file.

Nested settings use a double underscore in the environment
(`LEDGERBRIDGE_QBO__CLIENT_ID`) and a table in TOML (`[qbo] client_id = …`).
Secrets are `SecretStr`: they never appear in a repr, a log line or an error.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ledgerbridge.errors import ConfigError, ConfigFileError

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


class NotificationSettings(BaseModel):
    """Off unless a webhook URL or an SMTP host is set: a digest of new failures at most
    every `digest_minutes`, and a warning when a connection's passes fail
    `failed_passes` times in a row."""

    webhook_url: SecretStr | None = None  # Slack-compatible incoming webhook: {"text": …}
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "ledgerbridge@localhost"
    smtp_to: list[str] = []
    digest_minutes: float = 15.0
    failed_passes: int = 3

    @property
    def enabled(self) -> bool:
        return self.webhook_url is not None or (self.smtp_host is not None and bool(self.smtp_to))


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
    poll: bool = True
    """Queue a pass of every connection every `poll_interval_seconds` (off: passes only
    when webhooks ask, e.g. while testing)."""
    kept_connections: int = 200
    """Connections a worker keeps open between passes (clients, budgets, tokens)."""


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
    # Host names the web app answers to, besides the loopback names, `host` and the OAuth
    # redirect URIs' host (a request naming any other host gets 400: DNS rebinding).
    allowed_hosts: list[str] = []
    poll_interval_seconds: float = 60.0
    # `run`: a webhook's pass starts this long after the oldest webhook it serves, so the
    # webhooks of a burst (and of both services) make one pass; the latency target bounds it.
    wake_coalesce_seconds: float = Field(default=0.6, ge=0, le=10)
    # While QBO writes keep coming, `run` lengthens that wait (up to
    # `wake_coalesce_max_seconds`) so that live passes spend at most this share of QBO's
    # 500 requests a minute: more writes ride in each batch instead of going one by one
    # (0 turns this off).
    live_qbo_share: float = Field(default=0.6, ge=0, le=1)
    wake_coalesce_max_seconds: float = Field(default=2.0, ge=0, le=10)
    # How long a call to HubSpot or QBO may take before the engine gives up and retries it
    # (with the same idempotency key).
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    # The URL HubSpot reaches this service at (workflow action URLs are
    # `{public_url}/actions/hubspot/{action}`); default http://{host}:{port}.
    public_url: str | None = None
    runtime: Literal["embedded", "distributed"] = "embedded"
    distributed: DistributedSettings = DistributedSettings()
    hubspot: HubSpotSettings = HubSpotSettings()
    qbo: QboSettings = QboSettings()
    notifications: NotificationSettings = NotificationSettings()

    @field_validator("runtime")
    @classmethod
    def _distributed_needs_postgres(cls, runtime: str, info: ValidationInfo) -> str:
        url = str(info.data.get("database_url", ""))
        if runtime == "distributed" and not url.startswith("postgresql"):
            raise ValueError(RUNTIME_NEEDS_POSTGRES)
        return runtime

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
            raise ConfigFileError(
                f"{CONFIG_ENV} names {path}, which does not exist",
                fix=f"create {path}, or point {CONFIG_ENV} at an existing settings file",
            )
        return tuple(sources)


def load_settings(config_file: Path | None = None) -> Settings:
    """Settings from the environment and the TOML file (`config_file`, `$LEDGERBRIDGE_CONFIG`
    or `./ledgerbridge.toml`); the environment wins over the file. `ConfigError` (or
    `ConfigFileError`) says what is wrong with them, naming the file and the setting."""
    if config_file is not None and not config_file.is_file():
        raise ConfigFileError(
            f"configuration file {config_file} does not exist",
            fix="create it, or pass the path of an existing settings file to --config",
        )
    token = _explicit_file.set(config_file)
    try:
        return Settings()
    except tomllib.TOMLDecodeError as exc:
        path = _config_path(config_file)
        raise ConfigFileError(
            f"{path} is not valid TOML: {exc}",
            fix=f"correct the syntax at that line of {path} (the format is described at toml.io)",
        ) from exc
    except ValidationError as exc:
        raise _config_error(exc, _config_path(config_file)) from exc
    finally:
        _explicit_file.reset(token)


def _config_path(config_file: Path | None) -> Path:
    """The settings file in use (it may not exist when only the environment is used)."""
    explicit = config_file or os.environ.get(CONFIG_ENV)
    return Path(explicit) if explicit else DEFAULT_CONFIG_FILE


def _known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys.extend(_known_keys(field.annotation, f"{prefix}{name}."))
    return keys


def _config_error(exc: ValidationError, path: Path) -> ConfigError:
    """One message for every bad setting: unknown keys (with the likely meant one) and
    values of the wrong type (with the value given, unless it is a secret)."""
    source = f"{path} or the environment" if path.is_file() else "the environment"
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            guess = difflib.get_close_matches(key, _known_keys(Settings), n=1)
            meant = f" (did you mean `{guess[0]}`?)" if guess else ""
            problems.append(f"unknown setting `{key}`{meant}")
            continue
        env = "LEDGERBRIDGE_" + key.upper().replace(".", "__")
        secret = "secret" in key or "token" in key
        given = "" if secret else f" (got {error.get('input')!r})"
        problems.append(f"`{key}` (or {env}): {error['msg']}{given}")
    return ConfigError(
        f"bad settings in {source}: " + "; ".join(problems),
        fix=f"correct the value, or remove the unknown key, in {path} or the environment; "
        "README.md (Configuration) lists the settings",
    )
