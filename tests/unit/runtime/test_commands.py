"""`ledgerbridge run` and `ledgerbridge connect` refuse clearly when nothing is configured."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionStatus
from ledgerbridge.store.configured import open_store

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    values = {
        "LEDGERBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "LEDGERBRIDGE_KEY_FILE": str(tmp_path / "ledgerbridge.key"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_run_without_connections_says_to_connect_first(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "ledgerbridge connect hubspot" in result.output
    assert "ledgerbridge connect qbo" in result.output


def test_run_with_only_a_half_connected_connection_says_what_is_missing(
    env: dict[str, str], tmp_path: Path
) -> None:
    store = open_store(Settings())
    with store.begin() as tx:
        cid = tx.create_connection(
            name="default", hubspot_base_url="http://h.test", qbo_base_url="http://q.test"
        )
        tx.update_connection(
            cid,
            status=ConnectionStatus.NEEDS_REAUTH,
            status_detail="run `ledgerbridge connect qbo` to finish the set-up",
        )
    store.close()
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "needs_reauth: run `ledgerbridge connect qbo`" in result.output
    assert "no connection is active" in result.output


def test_run_with_a_missing_config_file_fails_clearly(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["run", "--config", "nope.toml"])
    assert result.exit_code == 2 and "nope.toml" in result.output


def test_connect_without_an_oauth_app_names_the_settings(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["connect", "qbo", "--no-browser"])
    assert result.exit_code == 2
    assert "LEDGERBRIDGE_QBO__CLIENT_ID" in result.output


def test_the_commands_are_listed() -> None:
    result = runner.invoke(app, ["--help"])
    for command in ("demo", "run", "connect"):
        assert command in result.output
    demo_help = runner.invoke(app, ["demo", "--help"])
    for option in ("--port", "--hubspot-port", "--qbo-port", "--no-seed", "--db"):
        assert option in demo_help.output
