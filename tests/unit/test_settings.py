from pathlib import Path

import pytest

from ledgerbridge.errors import ConfigError, ConfigFileError
from ledgerbridge.settings import load_settings


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == "sqlite:///./ledgerbridge.db"
    assert settings.port == 8700
    assert settings.qbo.base_url == "https://quickbooks.api.intuit.com"


def test_toml_file_then_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "ledgerbridge.toml"
    config.write_text(
        'database_url = "postgresql://db.internal/ledgerbridge"\n'
        "port = 9000\n"
        "[qbo]\n"
        'client_id = "file-client"\n'
        'client_secret = "file-secret-value"\n'
    )
    monkeypatch.setenv("LEDGERBRIDGE_PORT", "9100")
    monkeypatch.setenv("LEDGERBRIDGE_HUBSPOT__APP_ID", "4242")
    settings = load_settings(config)
    assert settings.database_url == "postgresql://db.internal/ledgerbridge"
    assert settings.port == 9100
    assert settings.hubspot.app_id == "4242"
    assert settings.qbo.client_id == "file-client"
    assert settings.qbo.client_secret is not None
    assert settings.qbo.client_secret.get_secret_value() == "file-secret-value"
    assert "file-secret-value" not in repr(settings)
    assert "file-secret-value" not in str(settings.model_dump())


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_unknown_settings_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "ledgerbridge.toml"
    config.write_text("databse_url = 'typo'\n")
    with pytest.raises(
        ConfigError, match=r"unknown setting `databse_url` \(did you mean `database_url`\?\)"
    ):
        load_settings(config)
